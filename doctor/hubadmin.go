package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/config"
	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/natsconn"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

// Units of the hub's daemons, named by fixes.
const (
	HubUnit      = "cis490-hub"
	ReceiverUnit = "cis490-receiver"
)

// QuarantineFillYellow is the fill of CIS490_QUARANTINE, in percent of
// MaxBytes or MaxMsgs, above which its row is yellow: past 100% the oldest
// records are dropped and the hosts' doctors lose them.
const QuarantineFillYellow = 80.0

// restartHub is the fix of a resource the hub recreates or updates at start.
const restartHub = "sudo systemctl restart " + HubUnit + " (cis490 hub creates or updates every resource to hub/resources.go at start)"

// HubAdmin runs the checks of the hub admin. It needs only a connection.
type HubAdmin struct {
	// NATS is the connection to the hub.
	NATS natsconn.Options
	// Since is how far back accepts and rejects are counted (DefaultSince if 0).
	Since time.Duration
	// Resources are the expected options (hub.DefaultResourceOptions() if zero).
	Resources hub.ResourceOptions
	// OrphanGrace is the receiver's [gc] grace: orphans younger than it may
	// belong to an upload in progress and are not counted
	// (config.DefaultReceiver's if 0).
	OrphanGrace time.Duration
	// Recheck is the command that runs these checks again, for fixes.
	Recheck string
	// Now is the clock (time.Now if nil).
	Now func() time.Time

	// systemctl and bootedDir replace "systemctl" and SystemdBootedDir in tests.
	systemctl, bootedDir string
}

// Run runs every hub check and returns the report, rows in this order:
// hub, the five resources and the receiver consumer, quarantine fill, one
// row per host bucket, then systemd (HubSystemd: the units on this
// machine). With the hub unreachable, only the hub row, red, and the
// systemd row are there. Report.Host is the server's name, or the URL tried
// when it could not be reached.
func (h HubAdmin) Run(ctx context.Context) Report {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	start := now()
	o := h.Resources
	if o == (hub.ResourceOptions{}) {
		o = hub.DefaultResourceOptions()
	}
	recheck := h.Recheck
	if recheck == "" {
		recheck = "cis490 doctor --hub"
	}
	units := func() Row {
		if h.systemctl != "" {
			return hubSystemd(ctx, []string{HubUnit, ReceiverUnit}, h.systemctl, h.bootedDir)
		}
		return HubSystemd(ctx)
	}
	conn, link := Hub(ctx, h.NATS, HubFix{
		Recheck: recheck,
		Config:  "fix the connection flags (--server, --creds, --context, --tls-*)",
	})
	if conn == nil {
		link.Fix = strings.Replace(link.Fix, "check the WireGuard link (wg show) and that the hub runs", "systemctl status "+HubUnit+" (is the hub running?)", 1)
		target, _ := link.Details["url"].(string)
		return NewReport(target, start, []Row{link, units()})
	}
	defer conn.Close()
	rows := []Row{link}
	rows = append(rows, Resources(ctx, conn, o)...)
	rows = append(rows, QuarantineFill(ctx, conn))
	grace := h.OrphanGrace
	if grace <= 0 {
		grace = config.DefaultReceiver().GC.Grace.Duration()
	}
	rows = append(rows, Hosts(ctx, conn, h.Since, grace, start)...)
	rows = append(rows, units())
	name := conn.NC.ConnectedServerName()
	return NewReport(name, start, rows)
}

// diff is one option of a resource that is not what hub/resources.go says.
type diff struct {
	field     string
	got, want any
	severe    bool // the resource does not do its job: red
}

func (d diff) String() string { return fmt.Sprintf("%s %v, want %v", d.field, d.got, d.want) }

// compareStream lists how got differs from want. Fields named in tolerate
// are reported apart: receiver.toml may set them.
func compareStream(got, want jetstream.StreamConfig, tolerate ...string) (diffs, tolerated []diff) {
	add := func(field string, g, w any, severe bool) {
		if fmt.Sprint(g) == fmt.Sprint(w) {
			return
		}
		d := diff{field, g, w, severe}
		if slices.Contains(tolerate, field) {
			tolerated = append(tolerated, d)
			return
		}
		diffs = append(diffs, d)
	}
	gs, ws := slices.Clone(got.Subjects), slices.Clone(want.Subjects)
	slices.Sort(gs)
	slices.Sort(ws)
	add("subjects", gs, ws, true)
	add("retention", got.Retention, want.Retention, true)
	add("discard", got.Discard, want.Discard, false)
	add("storage", got.Storage, want.Storage, false)
	add("replicas", got.Replicas, want.Replicas, false)
	add("max_msgs", unlimited(got.MaxMsgs), unlimited(want.MaxMsgs), false)
	add("max_bytes", unlimited(got.MaxBytes), unlimited(want.MaxBytes), false)
	add("max_age", got.MaxAge, want.MaxAge, false)
	add("max_msg_size", unlimited(int64(got.MaxMsgSize)), unlimited(int64(want.MaxMsgSize)), false)
	add("max_msgs_per_subject", unlimited(got.MaxMsgsPerSubject), unlimited(want.MaxMsgsPerSubject), false)
	add("discard_new_per_subject", got.DiscardNewPerSubject, want.DiscardNewPerSubject, false)
	if want.Duplicates > 0 { // 0 asks for the server's default
		add("duplicates", got.Duplicates, want.Duplicates, false)
	}
	return diffs, tolerated
}

// unlimited is n, or -1 for the server's "no limit", which a configuration
// spells 0 or -1.
func unlimited(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// resourceRow turns a comparison into a row named check.
func resourceRow(check, present string, diffs, tolerated []diff, d map[string]any) Row {
	r := row(check, Green, present)
	if len(tolerated) > 0 {
		var s []string
		for _, t := range tolerated {
			s = append(s, fmt.Sprintf("%s %v (default %v)", t.field, t.got, t.want))
		}
		d["set_by_receiver_toml"] = s
	}
	if len(diffs) > 0 {
		var s []string
		severe := false
		for _, x := range diffs {
			s = append(s, x.String())
			severe = severe || x.severe
		}
		d["differences"] = s
		r.Status, r.Summary = Yellow, "differs from hub/resources.go: "+strings.Join(s, "; ")
		r.Fix = restartHub
		if severe {
			r.Status = Red
			r.Fix = "the server cannot change this in place: nats stream backup, nats stream rm, then " + restartHub
		}
	}
	r.Details = d
	return r
}

// missingRow is the red row of a resource that does not exist, or the
// yellow one of a resource that could not be read.
func missingRow(c *Conn, check, name string, err error) Row {
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) ||
		errors.Is(err, jetstream.ErrConsumerNotFound) {
		r := row(check, Red, name+" is missing")
		r.Fix = restartHub
		return r
	}
	what, _ := c.failure(err, name)
	r := row(check, Yellow, "cannot read "+name+": "+what)
	r.Fix = "run doctor --hub with the hub admin's credentials (--creds)"
	r.Details["error"] = what
	return r
}

// Resources is one row per resource of the hub: the three streams, the two
// key-value buckets and the receiver consumer, each compared with the
// configuration hub/resources.go builds from o. A missing resource, or
// one whose subjects, retention, filter or ack policy differ, is red;
// other options that differ are yellow. Limits receiver.toml sets
// (quarantine age, bytes and messages, the consumer's ack wait) are shown
// in the details, not judged. The consumer's row also reports its lag:
// submissions pending with no receiver pulling, or redelivered, are yellow.
func Resources(ctx context.Context, c *Conn, o hub.ResourceOptions) []Row {
	var rows []Row
	for _, s := range []struct {
		want     jetstream.StreamConfig
		tolerate []string
	}{
		{hub.SubmissionsConfig(o), nil},
		{hub.QuarantineConfig(o), []string{"max_age", "max_bytes", "max_msgs", "duplicates"}},
		{hub.AcceptedConfig(o), nil},
	} {
		rctx, cancel := c.request(ctx)
		st, err := c.JS.Stream(rctx, s.want.Name)
		cancel()
		if err != nil {
			rows = append(rows, missingRow(c, s.want.Name, s.want.Name, err))
			continue
		}
		info := st.CachedInfo()
		diffs, tolerated := compareStream(info.Config, s.want, s.tolerate...)
		present := fmt.Sprintf("as configured: %s, %s; %s, %s", strings.Join(info.Config.Subjects, " "),
			strings.ToLower(info.Config.Retention.String()), plural(int(info.State.Msgs), "message"), bytesString(int64(info.State.Bytes)))
		rows = append(rows, resourceRow(s.want.Name, present, diffs, tolerated, map[string]any{
			"messages": info.State.Msgs, "bytes": info.State.Bytes, "max_bytes": info.Config.MaxBytes,
			"max_msgs": info.Config.MaxMsgs, "max_age_seconds": int64(info.Config.MaxAge.Seconds()),
		}))
	}
	for _, want := range []jetstream.KeyValueConfig{hub.VerdictsConfig(o), hub.WindowConfig(o)} {
		rows = append(rows, kvRow(ctx, c, want))
	}
	rows = append(rows, consumerRow(ctx, c, hub.ReceiverConsumerConfig(o)))
	return rows
}

// fillWarn is the percentage of a bucket's max_bytes past which its row is yellow.
const fillWarn = 80

// kvRow compares the key-value bucket want.Bucket with want.
func kvRow(ctx context.Context, c *Conn, want jetstream.KeyValueConfig) Row {
	rctx, cancel := c.request(ctx)
	defer cancel()
	kv, err := c.JS.KeyValue(rctx, want.Bucket)
	if err != nil {
		return missingRow(c, want.Bucket, want.Bucket, err)
	}
	st, err := kv.Status(rctx)
	if err != nil {
		return missingRow(c, want.Bucket, want.Bucket, err)
	}
	var diffs []diff
	if got := st.History(); got != int64(want.History) {
		diffs = append(diffs, diff{"history", got, want.History, false})
	}
	d := map[string]any{"values": st.Values(), "bytes": st.Bytes(), "history": st.History()}
	if ks, ok := st.(*jetstream.KeyValueBucketStatus); ok && ks.StreamInfo() != nil {
		cfg := ks.StreamInfo().Config
		if cfg.Storage != want.Storage {
			diffs = append(diffs, diff{"storage", cfg.Storage, want.Storage, false})
		}
		if cfg.Replicas != want.Replicas {
			diffs = append(diffs, diff{"replicas", cfg.Replicas, want.Replicas, false})
		}
		if g, w := unlimited(int64(cfg.MaxMsgSize)), unlimited(int64(want.MaxValueSize)); g != w {
			diffs = append(diffs, diff{"max_value_size", g, w, false})
		}
		if g, w := unlimited(cfg.MaxBytes), unlimited(want.MaxBytes); g != w {
			diffs = append(diffs, diff{"max_bytes", g, w, false})
		}
		d["max_bytes"] = cfg.MaxBytes
	}
	present := fmt.Sprintf("as configured: history %d; %s, %s", st.History(), plural(int(st.Values()), "revision"), bytesString(int64(st.Bytes())))
	r := resourceRow(want.Bucket, present, diffs, nil, d)
	// A full bucket refuses new keys: every host's verdicts stop.
	if max, ok := d["max_bytes"].(int64); ok && max > 0 && st.Bytes()*100 >= uint64(max)*fillWarn {
		full := fmt.Sprintf("%d%% full (%s of %s): past it the receiver can write no verdict", st.Bytes()*100/uint64(max), bytesString(int64(st.Bytes())), bytesString(max))
		if r.Status == Green {
			r.Status, r.Summary = Yellow, full
		} else {
			r.Summary = full + "; " + r.Summary
		}
		r.Fix = "find the host with the most keys (nats kv ls " + want.Bucket + "), then remove that host's old keys as the admin or give the bucket more max_bytes (nats kv edit)"
	}
	return r
}

// consumerRow compares the receiver consumer with want and reports its lag.
func consumerRow(ctx context.Context, c *Conn, want jetstream.ConsumerConfig) Row {
	check := "consumer " + want.Durable
	rctx, cancel := c.request(ctx)
	defer cancel()
	cons, err := c.JS.Consumer(rctx, subjects.SubmissionsStream, want.Durable)
	if err != nil {
		return missingRow(c, check, "consumer "+want.Durable+" on "+subjects.SubmissionsStream, err)
	}
	info, err := cons.Info(rctx)
	if err != nil {
		return missingRow(c, check, "consumer "+want.Durable+" on "+subjects.SubmissionsStream, err)
	}
	got := info.Config
	var diffs, tolerated []diff
	if got.FilterSubject != want.FilterSubject {
		diffs = append(diffs, diff{"filter_subject", got.FilterSubject, want.FilterSubject, true})
	}
	if got.AckPolicy != want.AckPolicy {
		diffs = append(diffs, diff{"ack_policy", got.AckPolicy, want.AckPolicy, true})
	}
	if got.DeliverPolicy != want.DeliverPolicy {
		diffs = append(diffs, diff{"deliver_policy", got.DeliverPolicy, want.DeliverPolicy, false})
	}
	if got.MaxDeliver != want.MaxDeliver {
		diffs = append(diffs, diff{"max_deliver", got.MaxDeliver, want.MaxDeliver, false})
	}
	if got.MaxAckPending != want.MaxAckPending {
		diffs = append(diffs, diff{"max_ack_pending", got.MaxAckPending, want.MaxAckPending, false})
	}
	if got.AckWait != want.AckWait {
		tolerated = append(tolerated, diff{"ack_wait", got.AckWait, want.AckWait, false})
	}
	lag := fmt.Sprintf("%d pending, %d awaiting ack, %d redelivered; %s waiting",
		info.NumPending, info.NumAckPending, info.NumRedelivered, plural(info.NumWaiting, "pull request"))
	d := map[string]any{
		"pending": info.NumPending, "ack_pending": info.NumAckPending,
		"redelivered": info.NumRedelivered, "waiting_pulls": info.NumWaiting,
		"ack_wait_seconds": got.AckWait.Seconds(),
	}
	r := resourceRow(check, lag, diffs, tolerated, d)
	if r.Status != Green {
		return r
	}
	switch {
	case info.NumPending > 0 && info.NumWaiting == 0 && info.NumAckPending == 0:
		r.Status, r.Summary = Yellow, fmt.Sprintf("%d submissions pending and no receiver pulling; %s", info.NumPending, lag)
		r.Fix = "systemctl status " + ReceiverUnit + "; journalctl -u " + ReceiverUnit + " -n 100"
	case info.NumRedelivered > 0:
		r.Status, r.Summary = Yellow, fmt.Sprintf("%d submissions redelivered (a receiver stopped or ran past the ack wait); %s", info.NumRedelivered, lag)
		r.Fix = "journalctl -u " + ReceiverUnit + " -n 100 (raise [receive] ack_wait in receiver.toml if validations run long)"
	}
	return r
}

// QuarantineFill is the "quarantine fill" row: CIS490_QUARANTINE's bytes
// and messages against its MaxBytes and MaxMsgs. Above
// QuarantineFillYellow percent it is yellow: the stream discards its
// oldest records, and the doctors of the lab hosts lose them.
func QuarantineFill(ctx context.Context, c *Conn) Row {
	rctx, cancel := c.request(ctx)
	defer cancel()
	st, err := c.JS.Stream(rctx, subjects.QuarantineStream)
	if err != nil {
		return missingRow(c, "quarantine fill", subjects.QuarantineStream, err)
	}
	info := st.CachedInfo()
	pb := percent(int64(info.State.Bytes), info.Config.MaxBytes)
	pm := percent(int64(info.State.Msgs), info.Config.MaxMsgs)
	limit := "no byte limit"
	if info.Config.MaxBytes > 0 {
		limit = fmt.Sprintf("%.0f%% of %s", pb, bytesString(info.Config.MaxBytes))
	}
	msgs := plural(int(info.State.Msgs), "record")
	if info.Config.MaxMsgs > 0 {
		msgs += fmt.Sprintf(" (%.0f%% of %d)", pm, info.Config.MaxMsgs)
	}
	summary := fmt.Sprintf("%s, %s used; %s", subjects.QuarantineStream, limit, msgs)
	if info.State.Msgs > 0 {
		summary += ", oldest " + age(time.Since(info.State.FirstTime))
	}
	r := row("quarantine fill", Green, summary)
	if max(pb, pm) > QuarantineFillYellow {
		r.Status = Yellow
		r.Summary += ": the oldest records are being dropped"
		r.Fix = "raise [quarantine] max_bytes (or max_msgs) in receiver.toml, then sudo systemctl restart " + ReceiverUnit + " (it applies the limits at start)"
	}
	r.Details = map[string]any{
		"bytes": info.State.Bytes, "max_bytes": info.Config.MaxBytes, "bytes_percent": pb,
		"messages": info.State.Msgs, "max_msgs": info.Config.MaxMsgs, "messages_percent": pm,
		"max_age_seconds": int64(info.Config.MaxAge.Seconds()),
	}
	if info.State.Msgs > 0 {
		r.Details["oldest"] = info.State.FirstTime.UTC().Format(time.RFC3339)
	}
	return r
}

// hostParallel bounds the hosts checked at once.
const hostParallel = 4

// Hosts is one "host <id>" row per EPISODES_<HOST> bucket on the hub; see
// HostRow.
func Hosts(ctx context.Context, c *Conn, since, grace time.Duration, now time.Time) []Row {
	rctx, cancel := c.request(ctx)
	names := c.JS.ObjectStoreNames(rctx)
	var hosts []string
	for name := range names.Name() {
		if host, err := subjects.ParseEpisodeBucket(name); err == nil {
			hosts = append(hosts, host)
		}
	}
	err := names.Error()
	cancel()
	if err != nil {
		what, _ := c.failure(err, "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST")
		r := row("hosts", Yellow, "cannot list the host buckets: "+what)
		r.Fix = "run doctor --hub with the hub admin's credentials (--creds)"
		return []Row{r}
	}
	if len(hosts) == 0 {
		return []Row{row("hosts", Green, "no host bucket yet (each publisher creates its own at start, or the admin does)")}
	}
	slices.Sort(hosts)
	rows := make([]Row, len(hosts))
	sem := make(chan struct{}, hostParallel)
	var wg sync.WaitGroup
	for i, host := range hosts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			rows[i] = HostRow(ctx, c, host, since, grace, now)
		})
	}
	wg.Wait()
	return rows
}

// HostRow is the "host <id>" row of the hub admin: the host's bucket usage
// against its quota (as the lab host's bucket row), the time of its last
// submission (the newest of its queued submissions, accepted and reject
// records), and the accepts and rejects recorded in the last since
// (DefaultSince if 0), rejects by reason, and the orphans older than grace
// that the receiver's next sweep frees (receiver.Orphans: abandoned segment
// objects and the chunks of cut-off puts, which List cannot see but which
// count against the quota). Rejects are judged as in Nacks; orphans are
// information, not a fault: the sweep runs every [gc] interval.
func HostRow(ctx context.Context, c *Conn, host string, since, grace time.Duration, now time.Time) Row {
	if since <= 0 {
		since = DefaultSince
	}
	check := "host " + host
	d := map[string]any{"host": host}

	u, err := readBucket(ctx, c, host)
	if err != nil {
		r := missingRow(c, check, u.Bucket, err)
		r.Details = d
		return r
	}
	u.details(d)
	bucketStatus, bucketSummary := u.classify()

	var accepted int
	var lastAccepted time.Time
	aerr := c.scan(ctx, subjects.AcceptedStream, subjects.AcceptedSubject(host), "", now.Add(-since), true, func(m jetstream.Msg) {
		accepted++
		if md, err := m.Metadata(); err == nil && md.Timestamp.After(lastAccepted) {
			lastAccepted = md.Timestamp
		}
	})
	rej := newRejects()
	nerr := c.scan(ctx, subjects.QuarantineStream, subjects.NackHostFilter(host), "", now.Add(-since), false, rej.add)
	var problems []string
	for _, e := range []struct {
		err  error
		what string
	}{{aerr, subjects.AcceptedStream}, {nerr, subjects.QuarantineStream}} {
		if e.err != nil && !errors.Is(e.err, errTooMany) {
			what, _ := c.failure(e.err, e.what)
			problems = append(problems, "cannot read "+e.what+": "+what)
		}
	}

	last := lastSubmission(ctx, c, host)
	d["accepted"] = accepted
	d["rejected"] = rej.Records
	d["rejects_by_reason"] = rej.details()
	d["since"] = now.Add(-since).UTC().Format(time.RFC3339)
	lastText := "no submission on record"
	if !last.IsZero() {
		d["last_submission"] = last.UTC().Format(time.RFC3339)
		lastText = "last submission " + age(now.Sub(last)) + " ago"
	}
	activity := fmt.Sprintf("in the last %s: %d accepted", age(since), accepted)
	if rej.Records > 0 {
		activity += ", " + rej.phrase()
	} else {
		activity += ", none rejected"
	}
	parts := []string{bucketSummary, lastText, activity}
	octx, cancel := c.request(ctx)
	orphans, oerr := receiver.Orphans(octx, c.JS, host, grace)
	cancel()
	metaStatus, metaFix := Green, ""
	if oerr == nil {
		d["orphan_bytes"], d["orphan_segments"], d["orphan_chunk_subjects"] = orphans.Bytes, orphans.Segments, orphans.Chunks
		if orphans.Segments+orphans.Chunks > 0 {
			parts = append(parts, fmt.Sprintf("%s of orphans older than %s (%s, %s) for the receiver's next sweep",
				bytesString(int64(orphans.Bytes)), age(grace), plural(orphans.Segments, "segment"), plural(orphans.Chunks, "cut-off put")))
		}
		var finding string
		metaStatus, finding, metaFix = metaFinding(host, u.Bucket, orphans, d)
		if finding != "" {
			parts = append(parts, finding)
		}
	} else {
		what, _ := c.failure(oerr, subjects.ObjectStream(u.Bucket))
		d["orphan_bytes"], d["orphan_note"] = nil, "not measured: "+what
		problems = append(problems, "cannot measure orphans: "+what)
	}
	r := row(check, bucketStatus, strings.Join(parts, "; "))
	r.Details = d
	if bucketStatus != Green {
		r.Fix = u.growFix()
	}
	if rs := rej.status(); rs.severity() > r.Status.severity() || (rs == r.Status && rs != Green) {
		r.Status = rs
		top := rej.order()[0]
		r.Fix = "on " + host + ": " + reasonFix(top, rej.commits(), rej.Example[top].EpisodeID, "")
		if cs := rej.commits(); subjects.Reason(top) == subjects.OutOfWindow && len(cs) > 0 {
			r.Fix = fmt.Sprintf("cis490 window add %s (or update %s to an accepted commit), then on %s: cis490 quarantine requeue --reason %s",
				strings.Join(cs, " "), host, host, top)
		}
		if cs := rej.commits(); len(cs) > 0 {
			d["out_of_window_commits"] = cs
		}
	}
	if metaStatus != Green && metaStatus.severity() >= r.Status.severity() {
		r.Status, r.Fix = metaStatus, metaFix
	}
	if len(problems) > 0 {
		d["problems"] = problems
		if r.Status == Green {
			r.Status = Yellow
			r.Summary += "; " + problems[0]
			r.Fix = "run doctor --hub with the hub admin's credentials (--creds)"
		}
	}
	return r
}

// metaFinding is what HostRow says of the messages on host's bucket's
// metadata subjects that the receiver's sweep skips or reports (o, from
// receiver.Orphans): bytes that are not object info, yellow (the sweep
// passes over them, the host's own episodes may be judged corrupt), and
// a roll-up of the whole bucket, red (every segment stored before it is
// gone). The host's permissions let it write both; the admin removes
// them. It fills d and returns the status, the summary's part and the fix.
func metaFinding(host, bucket string, o receiver.GCResult, d map[string]any) (Status, string, string) {
	var parts, fixes []string
	status := Green
	rmm := func(seqs []uint64) {
		for _, seq := range seqs {
			fixes = append(fixes, fmt.Sprintf("nats stream rmm %s %d", subjects.ObjectStream(bucket), seq))
		}
	}
	if n := len(o.Rollups); n > 0 {
		status = Red
		d["rollup_seqs"] = o.Rollups
		parts = append(parts, fmt.Sprintf("host %s rolled up its whole bucket at seq %d: segments of pending episodes are gone", host, o.Rollups[n-1]))
		rmm(o.Rollups)
	}
	if o.BadMeta > 0 {
		if status == Green {
			status = Yellow
		}
		d["bad_metadata_messages"], d["bad_metadata_seqs"] = o.BadMeta, o.BadMetaSeqs
		parts = append(parts, fmt.Sprintf("%s on its metadata subjects that %s not object metadata (written by the host; the sweep skips them)",
			plural(o.BadMeta, "message"), map[bool]string{true: "is", false: "are"}[o.BadMeta == 1]))
		rmm(o.BadMetaSeqs)
	}
	if status == Green {
		return Green, "", ""
	}
	fix := "as the hub admin: " + strings.Join(fixes, "; ")
	if len(o.Rollups) > 0 {
		fix += fmt.Sprintf("; then find out why %s emptied its bucket (is its certificate in other hands?): its publisher uploads again what is judged corrupt", host)
	}
	return status, strings.Join(parts, "; "), fix
}

// lastSubmission is the time of host's newest queued submission, accepted
// record or reject record; zero if it has none.
func lastSubmission(ctx context.Context, c *Conn, host string) time.Time {
	var last time.Time
	for _, q := range []struct{ stream, subject string }{
		{subjects.SubmissionsStream, subjects.SubmitSubject(host)},
		{subjects.AcceptedStream, subjects.AcceptedSubject(host)},
		{subjects.QuarantineStream, subjects.NackHostFilter(host)},
	} {
		rctx, cancel := c.request(ctx)
		st, err := c.JS.Stream(rctx, q.stream)
		if err == nil {
			var m *jetstream.RawStreamMsg
			if m, err = st.GetLastMsgForSubject(rctx, q.subject); err == nil && m.Time.After(last) {
				last = m.Time
			}
		}
		cancel()
	}
	return last
}
