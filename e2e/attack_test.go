package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/natsconn"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

// TestAttacks sets the hub up as deploy/ ships it (secStartHub: the
// shipped nats-server.conf with mutual TLS, users.conf written by `cis490
// hub provision`), runs `cis490 receive` and lab2's `cis490 publish` as
// daemons, and attacks the hub with nothing but lab1's certificate. Each
// attack of the hub review (issue 16) must be refused or contained, and
// lab2 must keep shipping through all of them: an episode lab2 records
// after each attack reaches its shipped/ with the hub's verdict, and the
// reject record lab2 had before stays.
//
// docs/security.md lists the attacks with what each now meets.
func TestAttacks(t *testing.T) {
	t.Parallel()
	a := newAttackEnv(t)
	for _, at := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"submission-flood", a.submissionFlood},
		{"consumer-slots", a.consumerSlots},
		{"quarantine-eviction", a.quarantineEviction},
		{"decompression-bomb", a.decompressionBomb},
		{"bad-metadata", a.badMetadata},
		{"rollup", a.rollup},
	} {
		if !t.Run(at.name, at.run) {
			t.Logf("receiver log (last 8 KiB):\n%s", tail(a.rlog.String(), 8<<10))
		}
		a.lab2Ships(t, at.name)
	}
	a.lab2RecordStays(t)
}

// attackEnv is one hub with a receiver and lab2's publisher running, and
// connections as lab1 (the attacker) and the admin (to look).
type attackEnv struct {
	h       *secHub
	dir     string
	archive string
	rlog    *hubtest.Buffer // the receiver's output
	plog    *hubtest.Buffer // lab2's publisher's

	lab1   *nats.Conn
	js1    jetstream.JetStream
	d1     *natsconn.Denials
	admin  jetstream.JetStream
	lab2js jetstream.JetStream

	lab2Data   string
	lab2Record uint64 // sequence of lab2's reject record
	shipped    atomic.Int32
}

// Limits the attacks are run under: the receiver's per-host budget, and a
// small quarantine stream so that a flood of large records would evict.
const (
	attackQuarantineBytes = 32 << 20
	attackHostRate        = 20
	attackHostBurst       = 60
)

func newAttackEnv(t *testing.T) *attackEnv {
	t.Helper()
	h := secStartHub(t, "cis490 hub")
	a := &attackEnv{h: h, dir: t.TempDir()}
	a.archive = filepath.Join(a.dir, "archive")
	rconf := filepath.Join(a.dir, "receiver.toml")
	secWriteTOML(t, rconf, h.opts("receiver"), fmt.Sprintf("[receive]\narchive_dir = %q\nhost_rate = %d\nhost_burst = %d\n[quarantine]\nmax_bytes = \"%dMiB\"\n",
		a.archive, attackHostRate, attackHostBurst, attackQuarantineBytes>>20))
	// The admin applies the receiver's quarantine limits (docs/security.md).
	args := []string{"hub", "provision", "--host", "lab1", "--host", "lab2", "--receiver-config", rconf, "--server", h.url,
		"--tls-cert", h.users["admin"].TLSCert, "--tls-key", h.users["admin"].TLSKey, "--tls-ca", h.pki.CAFile}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("cis490 hub provision --receiver-config: %v\n%s", err, out)
	}
	a.rlog = startDaemon(t, "receiver", exec.Command(bin, "receive", "--config", rconf, "--log-format", "json"))

	a.lab2Data = filepath.Join(a.dir, "lab2")
	lconf := filepath.Join(a.dir, "lab2.toml")
	secWriteTOML(t, lconf, h.opts("lab2"), "host_id = \"lab2\"\ndata_dir = "+strconv.Quote(a.lab2Data)+
		"\n[ship]\nsettle = \"1s\"\nsegment_size = \"64KiB\"\nverdict_timeout = \"2m\"\n")
	a.plog = startDaemon(t, "lab2 publisher", exec.Command(bin, "publish", "--config", lconf, "--log-format", "json"))

	a.lab1, a.js1, a.d1 = h.connect(t, "lab1")
	_, a.admin, _ = h.connect(t, "admin")
	_, a.lab2js, _ = h.connect(t, "lab2")
	a.lab2Ships(t, "start")

	// lab2 has a reject record: a submission whose manifest is not JSON.
	a.submit(t, a.lab2js, "lab2", "2026-12-04T00-00-00_lab2_9999", []byte("not a manifest"))
	hubtest.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		m, err := a.quarantine(t).GetLastMsgForSubject(t.Context(), subjects.NackSubject("lab2", subjects.Malformed))
		if err != nil {
			return fmt.Errorf("lab2's reject record: %w", err)
		}
		a.lab2Record = m.Sequence
		return nil
	})
	return a
}

// lab2Ships records an episode on lab2 and waits until its publisher has
// it in shipped/ with the hub's verdict.
func (a *attackEnv) lab2Ships(t *testing.T, after string) {
	t.Helper()
	n := a.shipped.Add(1)
	id := fmt.Sprintf("2026-12-04T00-00-%02d_lab2_%04d", n%60, n)
	labEpisode(t, a.lab2Data, id, strings.Repeat("c", 40), 100<<10)
	verdict := filepath.Join(a.lab2Data, "shipped", id, "verdict.json")
	deadline := time.Now().Add(90 * time.Second)
	for !exists(verdict) {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: lab2's episode %s not shipped within 90s\npublisher log:\n%s\nreceiver log:\n%s",
				after, id, tail(a.plog.String(), 8<<10), tail(a.rlog.String(), 8<<10))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lab2RecordStays checks that lab2's reject record is still stored.
func (a *attackEnv) lab2RecordStays(t *testing.T) {
	t.Helper()
	m, err := a.quarantine(t).GetMsg(t.Context(), a.lab2Record)
	if err != nil || m.Subject != subjects.NackSubject("lab2", subjects.Malformed) {
		t.Errorf("lab2's reject record (seq %d) after the attacks: %v, want it kept", a.lab2Record, err)
	}
}

func (a *attackEnv) quarantine(t testing.TB) jetstream.Stream {
	t.Helper()
	s, err := a.admin.Stream(t.Context(), subjects.QuarantineStream)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// submit publishes body as host's submission of episode through js and
// waits for the stream's acknowledgement.
func (a *attackEnv) submit(t testing.TB, js jetstream.JetStream, host, episode string, body []byte) error {
	t.Helper()
	m := nats.NewMsg(subjects.SubmitSubject(host))
	m.Data = body
	m.Header.Set(subjects.HeaderEpisode, episode)
	m.Header.Set(subjects.HeaderMsgID, fmt.Sprintf("attack-%s-%d", episode, time.Now().UnixNano()))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := js.PublishMsg(ctx, m)
	return err
}

// streamState returns the admin's view of stream, with the subject counts
// of filter.
func (a *attackEnv) streamState(t testing.TB, stream, filter string) jetstream.StreamState {
	t.Helper()
	s, err := a.admin.Stream(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	var opts []jetstream.StreamInfoOpt
	if filter != "" {
		opts = append(opts, jetstream.WithSubjectFilter(filter))
	}
	info, err := s.Info(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return info.State
}

// attackEpisode is the id of lab1's n-th forged episode in attack what.
func attackEpisode(what string, n int) string {
	return fmt.Sprintf("2026-12-04T01-%02d-00_lab1-%s_%05d", len(what)%60, what, n)
}

// submissionFlood: 1 MB garbage submissions, each naming a valid episode,
// as fast as lab1 can send them while the receiver is busy. The submissions
// stream keeps at most 100 of lab1's (the rest refused at once, lab2's
// still taken), the receiver judges at most its budget of them and drops
// the rest with one rate-limited record, every verdict stays small, and no
// log line repeats the garbage.
func (a *attackEnv) submissionFlood(t *testing.T) {
	// 1000 KiB, under the 1 MiB message size: a manifest whose one field
	// name a strict decoder's error repeats.
	garbage := []byte(`{"` + strings.Repeat("g", 1000<<10) + `":1}`)
	verdictsBefore := a.streamState(t, "KV_"+subjects.VerdictsBucket, "").Bytes
	logBefore := len(a.rlog.String())
	const n = 400
	var futures []jetstream.PubAckFuture
	for i := range n {
		m := nats.NewMsg(subjects.SubmitSubject("lab1"))
		m.Data = garbage
		m.Header.Set(subjects.HeaderEpisode, attackEpisode("flood", i))
		m.Header.Set(subjects.HeaderMsgID, "flood-"+strconv.Itoa(i))
		f, err := a.js1.PublishMsgAsync(m)
		if err != nil {
			t.Fatalf("publish async %d: %v", i, err)
		}
		futures = append(futures, f)
		if i == n/2 {
			// lab2 submits in the middle of the flood: its subject is its own.
			if err := a.submit(t, a.lab2js, "lab2", "2026-12-04T00-00-00_lab2_9998", []byte("not a manifest either")); err != nil {
				t.Errorf("lab2's submission during lab1's flood: %v, want it stored", err)
			}
		}
	}
	refused, stored := 0, 0
	for i, f := range futures {
		select {
		case <-f.Ok():
			stored++
		case err := <-f.Err():
			if !strings.Contains(err.Error(), "maximum messages per subject exceeded") {
				t.Errorf("submission %d: %v, want stored or refused for the per-host limit", i, err)
			}
			refused++
		case <-time.After(30 * time.Second):
			t.Fatalf("submission %d: no acknowledgement in 30s", i)
		}
	}
	t.Logf("lab1 flooded %d submissions of 1000 KiB: %d stored, %d refused by the per-host limit", n, stored, refused)
	if refused == 0 {
		t.Errorf("no submission refused: the per-host limit of the submissions stream did not hold")
	}
	// The receiver works through what was stored.
	hubtest.CheckFor(t, 2*time.Minute, 200*time.Millisecond, func() error {
		if st := a.streamState(t, subjects.SubmissionsStream, subjects.SubmitSubject("lab1")); st.Subjects[subjects.SubmitSubject("lab1")] > 0 {
			return fmt.Errorf("%d of lab1's submissions waiting", st.Subjects[subjects.SubmitSubject("lab1")])
		}
		return nil
	})
	// Verdicts: a few hundred bytes each, at most the budget's worth.
	kv, err := a.admin.KeyValue(t.Context(), subjects.VerdictsBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeysFiltered(t.Context(), subjects.VerdictHostFilter("lab1"))
	if err != nil {
		t.Fatal(err)
	}
	verdicts, largest := 0, 0
	for k := range keys.Keys() {
		e, err := kv.Get(t.Context(), k)
		if err != nil {
			continue
		}
		verdicts++
		largest = max(largest, len(e.Value()))
	}
	grown := a.streamState(t, "KV_"+subjects.VerdictsBucket, "").Bytes - verdictsBefore
	t.Logf("verdicts of lab1: %d keys, largest %d bytes; the verdict stream grew %d bytes", verdicts, largest, grown)
	if largest > 2<<10 {
		t.Errorf("largest verdict of lab1 %d bytes, want at most 2 KiB: a verdict must not repeat the submitter's bytes", largest)
	}
	if verdicts > attackHostBurst+attackHostRate*120 || grown > 8<<20 {
		t.Errorf("lab1's flood made %d verdicts, %d bytes: want at most its budget (burst %d, %d/s)", verdicts, grown, attackHostBurst, attackHostRate)
	}
	if verdicts > stored {
		t.Errorf("%d verdicts of lab1 for %d stored submissions", verdicts, stored)
	}
	// One rate-limited record per burst, not one per dropped submission.
	if stored > attackHostBurst+attackHostRate*120 {
		st := a.streamState(t, subjects.QuarantineStream, subjects.NackSubject("lab1", subjects.RateLimited))
		if got := st.Subjects[subjects.NackSubject("lab1", subjects.RateLimited)]; got < 1 || got > 10 {
			t.Errorf("lab1 has %d rate-limited records, want at least one and a few at most", got)
		}
	}
	// No log line carries the garbage.
	sc := bufio.NewScanner(strings.NewReader(a.rlog.String()[logBefore:]))
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	for sc.Scan() {
		if len(sc.Bytes()) > 4<<10 {
			t.Errorf("receiver log line of %d bytes, want at most 4 KiB: %.200s…", len(sc.Bytes()), sc.Bytes())
			break
		}
	}
}

// consumerSlots: lab1 tries to create consumers on the shared window and
// verdict streams and under any name on the quarantine stream, and to
// delete consumers of others. All are refused but its one nacks_lab1.
func (a *attackEnv) consumerSlots(t *testing.T) {
	window, verdicts, quarantine := "KV_"+subjects.WindowBucket, "KV_"+subjects.VerdictsBucket, subjects.QuarantineStream
	for _, c := range []struct {
		what, stream, subject string
		cfg                   jetstream.ConsumerConfig
	}{
		{"a durable on the window", window, "$JS.API.CONSUMER.CREATE." + window, jetstream.ConsumerConfig{Durable: "slot"}},
		{"a consumer on the window, filtered", window, "$JS.API.CONSUMER.CREATE." + window,
			jetstream.ConsumerConfig{Name: "slot", FilterSubject: "$KV." + subjects.WindowBucket + ".>"}},
		{"a consumer on its own verdicts", verdicts, "$JS.API.CONSUMER.CREATE." + verdicts,
			jetstream.ConsumerConfig{Name: "slot", FilterSubject: subjects.VerdictSubjects("lab1")}},
		{"a consumer of another name on its own nack records", quarantine, "$JS.API.CONSUMER.CREATE." + quarantine,
			jetstream.ConsumerConfig{Name: "slot", FilterSubject: subjects.NackHostFilter("lab1")}},
	} {
		secDenied(t, a.d1, "lab1 creates "+c.what, c.subject, func(ctx context.Context) error {
			_, err := a.js1.CreateConsumer(ctx, c.stream, c.cfg)
			return err
		})
	}
	// Its own reader, created again and again, is one slot.
	for i := range 50 {
		if _, err := a.js1.CreateOrUpdateConsumer(t.Context(), quarantine, jetstream.ConsumerConfig{
			Name: subjects.NackReaderConsumer("lab1"), FilterSubject: subjects.NackHostFilter("lab1"),
			AckPolicy: jetstream.AckNonePolicy, InactiveThreshold: time.Minute}); err != nil {
			t.Fatalf("lab1 creates its own nack reader (%d): %v", i, err)
		}
	}
	if n := a.streamState(t, quarantine, "").Consumers; n > 1 {
		t.Errorf("%s has %d consumers after lab1 made its reader 50 times, want 1", quarantine, n)
	}
	// Others' consumers cannot be deleted.
	if _, err := a.admin.CreateOrUpdateConsumer(t.Context(), window, jetstream.ConsumerConfig{Durable: "ops"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{window, "ops"}, {subjects.SubmissionsStream, subjects.ReceiverConsumer}, {quarantine, subjects.NackReaderConsumer("lab2")}} {
		secDenied(t, a.d1, "lab1 deletes consumer "+c[1]+" of "+c[0], "$JS.API.CONSUMER.DELETE."+c[0]+"."+c[1], func(ctx context.Context) error {
			return a.js1.DeleteConsumer(ctx, c[0], c[1])
		})
	}
	if _, err := a.admin.Consumer(t.Context(), window, "ops"); err != nil {
		t.Errorf("the admin's consumer ops on %s after lab1's attempts: %v", window, err)
	}
	// The window is read as before, by the admin's cis490 window ls.
	out, err := exec.Command(bin, "window", "ls", "--server", a.h.url, "--tls-cert", a.h.users["admin"].TLSCert,
		"--tls-key", a.h.users["admin"].TLSKey, "--tls-ca", a.h.pki.CAFile).CombinedOutput()
	if err != nil {
		t.Errorf("cis490 window ls as the admin: %v\n%s", err, out)
	}
}

// quarantineEviction: malformed submissions whose manifest has a 1000 KiB
// field name, more than the quarantine stream holds if each record kept
// it. Records are bounded, so nothing of lab2's is evicted.
func (a *attackEnv) quarantineEviction(t *testing.T) {
	body := []byte(`{"` + strings.Repeat("f", 1000<<10) + `":1}`)
	const n = 60 // 60 MB of names against a 32 MiB stream
	sent := 0
	for i := 0; sent < n; i++ {
		err := a.submit(t, a.js1, "lab1", attackEpisode("evict", i), body)
		switch {
		case err == nil:
			sent++
		case strings.Contains(err.Error(), "maximum messages per subject exceeded"):
			time.Sleep(20 * time.Millisecond)
		default:
			t.Fatalf("submission %d: %v", i, err)
		}
	}
	hubtest.CheckFor(t, 2*time.Minute, 200*time.Millisecond, func() error {
		if st := a.streamState(t, subjects.SubmissionsStream, subjects.SubmitSubject("lab1")); st.Subjects[subjects.SubmitSubject("lab1")] > 0 {
			return fmt.Errorf("%d of lab1's submissions waiting", st.Subjects[subjects.SubmitSubject("lab1")])
		}
		return nil
	})
	st := a.streamState(t, subjects.QuarantineStream, "")
	t.Logf("after %d malformed submissions with 1000 KiB names: quarantine holds %d records, %d bytes", n, st.Msgs, st.Bytes)
	if st.Bytes > 4<<20 {
		t.Errorf("quarantine holds %d bytes after lab1's flood, want records that do not repeat the names", st.Bytes)
	}
	a.lab2RecordStays(t)
}

// decompressionBomb: lab1's publisher ships an episode holding a 1 GiB
// file of zeros (sparse here, a few KiB once packed). The receiver stops
// reading it past the unpacked-to-packed limit: malformed, nothing
// exported.
func (a *attackEnv) decompressionBomb(t *testing.T) {
	data := filepath.Join(a.dir, "lab1")
	id := attackEpisode("bomb", 0)
	dir := labEpisode(t, data, id, strings.Repeat("c", 40), 0)
	zeros := filepath.Join(dir, "zeros.bin")
	if err := os.Truncate(filepath.Join(dir, "data.bin"), 0); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(zeros)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	old := time.Now().Add(-time.Hour) // settled
	filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error { return os.Chtimes(p, old, old) })
	conf := filepath.Join(a.dir, "lab1.toml")
	secWriteTOML(t, conf, a.h.opts("lab1"), "host_id = \"lab1\"\ndata_dir = "+strconv.Quote(data)+
		"\n[ship]\nsettle = \"1s\"\nverdict_timeout = \"2m\"\n")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "publish", "--config", conf, "--once", "--log-format", "json").CombinedOutput()
	if err != nil {
		t.Fatalf("cis490 publish --once as lab1: %v\n%s", err, tail(string(out), 4<<10))
	}
	raw, err := os.ReadFile(filepath.Join(data, "quarantine", id, "quarantine_reason.json"))
	if err != nil {
		t.Fatalf("the bomb was not rejected: %v\n%s", err, tail(string(out), 4<<10))
	}
	var reason struct{ Reason, Detail string }
	json.Unmarshal(raw, &reason)
	t.Logf("the bomb: %s: %s", reason.Reason, reason.Detail)
	if reason.Reason != string(subjects.Malformed) {
		t.Errorf("the bomb's verdict = %s (%s), want %s", reason.Reason, reason.Detail, subjects.Malformed)
	}
	var exported int64
	filepath.WalkDir(filepath.Join(a.archive, "lab1"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				exported += fi.Size()
			}
		}
		return nil
	})
	if exported > 0 {
		t.Errorf("archive_dir holds %d bytes of lab1's after the bomb, want none", exported)
	}
}

// badMetadata: a message on lab1's metadata subjects that is no object
// info. The receiver's sweep goes on to the other buckets: lab2's
// abandoned segment is freed.
func (a *attackEnv) badMetadata(t *testing.T) {
	a.publishMeta(t, "$O."+subjects.EpisodeBucket("lab1")+".M.x", "sub", []byte("not object info"))
	obs2, err := a.lab2js.ObjectStore(t.Context(), subjects.EpisodeBucket("lab2"))
	if err != nil {
		t.Fatal(err)
	}
	orphan := subjects.SegmentObject("2026-12-04T02-00-00_lab2_0001", strings.Repeat("0", 64))
	if _, err := obs2.PutBytes(t.Context(), orphan, make([]byte, 10<<10)); err != nil {
		t.Fatal(err)
	}
	a.sweep(t)
	if _, err := obs2.GetInfo(t.Context(), orphan); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Errorf("lab2's abandoned segment after a sweep past lab1's bad metadata: %v, want it deleted", err)
	}
	if out := a.doctorHub(t); !strings.Contains(out, "1 message on its metadata subjects that is not object metadata") ||
		!strings.Contains(out, "nats stream rmm "+subjects.ObjectStream(subjects.EpisodeBucket("lab1"))) {
		t.Errorf("cis490 doctor --hub does not name %s's bad metadata with its fix:\n%s", subjects.EpisodeBucket("lab1"), out)
	}
}

// rollup: lab1 empties its own bucket with a Nats-Rollup: all metadata
// message. Permissions cannot see headers and an object bucket must allow
// roll-ups, so it is not refused: the receiver's sweep notices and says
// so, and no other bucket is touched.
func (a *attackEnv) rollup(t *testing.T) {
	lab2Before := a.streamState(t, subjects.ObjectStream(subjects.EpisodeBucket("lab2")), "").Msgs
	a.publishMeta(t, "$O."+subjects.EpisodeBucket("lab1")+".M.y", "all", []byte("{}"))
	a.sweep(t)
	if got := a.streamState(t, subjects.ObjectStream(subjects.EpisodeBucket("lab2")), "").Msgs; got < lab2Before {
		t.Errorf("lab2's bucket went from %d to %d messages after lab1's roll-up", lab2Before, got)
	}
	if out := a.doctorHub(t); !strings.Contains(out, "host lab1 rolled up its whole bucket") {
		t.Errorf("cis490 doctor --hub does not report lab1's roll-up:\n%s", out)
	}
}

// publishMeta publishes body on subject as lab1, with a Nats-Rollup header.
func (a *attackEnv) publishMeta(t *testing.T, subject, rollup string, body []byte) {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = body
	m.Header.Set("Nats-Rollup", rollup)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := a.js1.PublishMsg(ctx, m); err != nil {
		t.Fatalf("lab1 publishes on %s with Nats-Rollup: %s: %v", subject, rollup, err)
	}
}

// sweep runs one orphan sweep of every bucket with the receiver's
// certificate, as the receiver's GC does, with no grace.
func (a *attackEnv) sweep(t *testing.T) {
	t.Helper()
	_, rjs, _ := a.h.connect(t, "receiver")
	r, err := receiver.New(t.Context(), rjs, receiver.Options{Logger: hubtest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.SweepOrphans(t.Context(), 0)
	t.Logf("sweep: %+v, %v", res, err)
}

// doctorHub runs cis490 doctor --hub as the admin and returns its output.
func (a *attackEnv) doctorHub(t *testing.T) string {
	t.Helper()
	out, _ := exec.Command(bin, "doctor", "--hub", "--server", a.h.url, "--tls-cert", a.h.users["admin"].TLSCert,
		"--tls-key", a.h.users["admin"].TLSKey, "--tls-ca", a.h.pki.CAFile).CombinedOutput()
	return string(out)
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
