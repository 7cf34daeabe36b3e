package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/workers"
)

// This file is the ledger of the load, chaos and cluster scenarios: every
// episode a scenario records, what must become of it, and the check that
// it did, exactly once, with nothing lost and nothing left behind.

// Commits of the scenarios' recording code.
const (
	// ledgerCommit is in the window.
	ledgerCommit = "0123456789abcdef0123456789abcdef01234567"
	// ledgerOldCommit is stamped but not in the window.
	ledgerOldCommit = "fedcba9876543210fedcba9876543210fedcba98"
	// ledgerMaxFiles is the receivers' max_files; a crowded episode has more.
	ledgerMaxFiles = 64
)

// ledgerKind is what an episode is made to be.
type ledgerKind string

// The kinds of episode and the verdicts they must get.
const (
	ledgerGood        ledgerKind = "good"          // accepted by the hub
	ledgerUnstamped   ledgerKind = "unstamped"     // no commit: unstamped, at pre-flight
	ledgerOutOfWindow ledgerKind = "out-of-window" // commit not in the window: out-of-window, at pre-flight
	ledgerBadMeta     ledgerKind = "bad-meta"      // meta.json cut short: malformed, at pre-flight
	ledgerSymlink     ledgerKind = "symlink"       // a symlink inside: malformed, the packer refuses it
	ledgerCrowded     ledgerKind = "crowded"       // more entries than max_files: malformed, at the hub
)

// ledgerBadKinds are the kinds of the bad episodes a scenario mixes in.
var ledgerBadKinds = []ledgerKind{ledgerUnstamped, ledgerOutOfWindow, ledgerBadMeta, ledgerSymlink, ledgerCrowded}

// want returns the reason an episode of kind k must end with and who
// decides it: "hub" or "pre-flight".
func (k ledgerKind) want() (subjects.Reason, string) {
	switch k {
	case ledgerGood:
		return subjects.Accepted, "hub"
	case ledgerUnstamped:
		return subjects.Unstamped, "pre-flight"
	case ledgerOutOfWindow:
		return subjects.OutOfWindow, "pre-flight"
	case ledgerBadMeta, ledgerSymlink:
		return subjects.Malformed, "pre-flight"
	case ledgerCrowded:
		return subjects.Malformed, "hub"
	}
	panic("unknown ledger kind " + string(k))
}

// ledgerEpisode is one recorded episode.
type ledgerEpisode struct {
	Host, ID string
	Kind     ledgerKind
	Want     subjects.Reason
	By       string // "hub" or "pre-flight"
	Bytes    int64  // data bytes, meta.json included
	// Files maps each regular file's slash path to its SHA-256, as recorded.
	Files map[string]string
}

// mix records per episodes for each host, round robin: bad of them (1 to
// per) bad, spread out, of every bad kind in turn, of 1 to 64 KiB; the good
// ones log-uniform from minSize to maxSize, plus one of each bound when per
// is 10 or more. It returns them in recording order.
func (l *ledger) mix(hosts []string, per, bad int, minSize, maxSize int64, rng *rand.Rand) []*ledgerEpisode {
	l.h.t.Helper()
	logUniform := func(lo, hi int64) int64 {
		a, b := math.Log(float64(lo)), math.Log(float64(hi))
		return int64(math.Exp(a + rng.Float64()*(b-a)))
	}
	var out []*ledgerEpisode
	nBad := 0
	for i := range per {
		for _, host := range hosts {
			kind, size := ledgerGood, logUniform(minSize, maxSize)
			switch {
			case i%(per/bad) == per/bad-1 && i/(per/bad) < bad:
				kind, size = ledgerBadKinds[nBad%len(ledgerBadKinds)], logUniform(1<<10, 64<<10)
				nBad++
			case per >= 10 && i == 0:
				size = minSize
			case per >= 10 && i == 1:
				size = maxSize
			}
			out = append(out, l.record(host, kind, size, rng))
		}
	}
	return out
}

// eitherSide reports whether the episode may be judged by pre-flight or by
// the hub: an out-of-window episode ships when the host cannot read the
// window at pre-flight (a hub or cluster node down, say), and the
// receiver's gate rejects it instead.
func (ep *ledgerEpisode) eitherSide() bool { return ep.Kind == ledgerOutOfWindow }

// ledger is every episode of a scenario.
type ledger struct {
	h   *harness
	eps []*ledgerEpisode
	// planted orphans, for the figures: segment objects and chunk subjects.
	plantedSegments, plantedChunks int
}

func newLedger(h *harness) *ledger { return &ledger{h: h} }

// record writes an episode of kind with about size data bytes into the
// staging area of host, from rng; release hands it to the publisher.
func (l *ledger) record(host string, kind ledgerKind, size int64, rng *rand.Rand) *ledgerEpisode {
	l.h.t.Helper()
	n := len(l.eps)
	ep := &ledgerEpisode{
		Host: host, Kind: kind, Files: map[string]string{},
		ID: fmt.Sprintf("2026-11-%02d-%02d-%02d_%s_%04d", 1+n/3600%28, n/60%60, n%60, host, n),
	}
	ep.Want, ep.By = kind.want()
	if err := ledgerWrite(filepath.Join(l.staging(host), ep.ID), ep, size, rng); err != nil {
		l.h.fatalf("record %s: %v", ep.ID, err)
	}
	l.eps = append(l.eps, ep)
	return ep
}

func (l *ledger) staging(host string) string { return filepath.Join(l.h.dir, "staging", host) }

// release moves a recorded episode into its host's episodes/ in one
// rename, as a recorder that finishes an episode elsewhere does.
func (l *ledger) release(ep *ledgerEpisode) error {
	return os.Rename(filepath.Join(l.staging(ep.Host), ep.ID), filepath.Join(l.h.dataDir(ep.Host), "episodes", ep.ID))
}

// ledgerWrite writes ep's directory: data files of size bytes in all,
// random or CSV-like, then meta.json last.
func ledgerWrite(dir string, ep *ledgerEpisode, size int64, rng *rand.Rand) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	text := rng.IntN(2) == 0
	write := func(name string, n int64) error {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		sum, err := ledgerFill(p, n, rng.Uint64(), text)
		if err != nil {
			return err
		}
		ep.Files[name], ep.Bytes = sum, ep.Bytes+n
		return nil
	}
	if ep.Kind == ledgerCrowded {
		for i := range ledgerMaxFiles + 16 {
			if err := write(fmt.Sprintf("many/f%03d.csv", i), max(size/int64(ledgerMaxFiles+16), 1)); err != nil {
				return err
			}
		}
	} else {
		others := rng.IntN(3)
		rest := size
		for i := range others {
			n := size / 8
			if err := write(fmt.Sprintf("cam/frames-%d.bin", i), n); err != nil {
				return err
			}
			rest -= n
		}
		if err := write("data.bin", rest); err != nil {
			return err
		}
	}
	if ep.Kind == ledgerSymlink {
		if err := os.Symlink("data.bin", filepath.Join(dir, "zz-link")); err != nil {
			return err
		}
	}
	meta := `{"episode_id":"` + ep.ID + `","recorded_at":"2026-11-20T14:03:11Z"`
	switch ep.Kind {
	case ledgerUnstamped:
		meta += "}"
	case ledgerOutOfWindow:
		meta += `,"code_version":{"commit":"` + ledgerOldCommit + `","branch":"main","dirty":false}}`
	case ledgerBadMeta:
		meta += `,"code_version":{"commit":` // cut short, as by a crash of the recorder
	default:
		meta += `,"code_version":{"commit":"` + ledgerCommit + `","branch":"main","dirty":false}}`
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), []byte(meta), 0o644); err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(meta))
	ep.Files["meta.json"], ep.Bytes = hex.EncodeToString(sum[:]), ep.Bytes+int64(len(meta))
	return nil
}

// ledgerFill writes n bytes to path from a ChaCha8 stream of seed: random
// bytes, or digits and commas as in a CSV when text is set (zstd packs
// those to about half). It returns their SHA-256 in hex.
func ledgerFill(path string, n int64, seed uint64, text bool) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	src := rand.NewChaCha8(key)
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	buf := make([]byte, 1<<20)
	const csv = "0123456789,\n"
	for left := n; left > 0; {
		chunk := buf[:min(int64(len(buf)), left)]
		src.Read(chunk)
		if text {
			for i, b := range chunk {
				chunk[i] = csv[int(b)%len(csv)]
			}
		}
		if _, err := w.Write(chunk); err != nil {
			return "", err
		}
		left -= int64(len(chunk))
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// plantOrphans leaves in host's bucket what a lab host that died mid-way
// leaves: the segments of an upload never submitted, and the chunks of a
// put cut off before its metadata (List cannot see those). The GC must
// remove both; the bucket check fails if it does not.
func (l *ledger) plantOrphans(js jetstream.JetStream, host string) {
	l.h.t.Helper()
	ctx := l.h.t.Context()
	bucket := subjects.EpisodeBucket(host)
	var obs jetstream.ObjectStore
	l.h.waitFor("bucket "+bucket, 60*time.Second, 100*time.Millisecond, func() error {
		var err error
		obs, err = js.ObjectStore(ctx, bucket)
		return err
	})
	dir := filepath.Join(l.h.dir, "orphans", host, "abandoned-"+host)
	ep := &ledgerEpisode{ID: "abandoned-" + host, Kind: ledgerGood, Files: map[string]string{}}
	if err := ledgerWrite(dir, ep, 300<<10, l.h.rand(99)); err != nil {
		l.h.fatalf("%v", err)
	}
	m, err := objectstore.Upload(ctx, objectstore.NewStore(js, obs), dir, objectstore.UploadOptions{
		Host: host, SegmentSize: objectstore.MinSegmentSize, SpoolDir: l.h.t.TempDir(),
	})
	if err != nil {
		l.h.fatalf("upload the abandoned episode: %v", err)
	}
	l.plantedSegments += len(m.Segments)
	nuid := strings.TrimPrefix(nats.NewInbox(), nats.InboxPrefix)
	for i := range 3 {
		if _, err := js.Publish(ctx, subjects.ObjectChunkSubject(bucket, nuid), []byte(fmt.Sprintf("chunk %d of a put cut off", i))); err != nil {
			l.h.fatalf("plant orphan chunk: %v", err)
		}
	}
	l.plantedChunks++
}

// unsettled returns the ids of the episodes not yet retired.
func (l *ledger) unsettled() []string {
	var ids []string
	for _, ep := range l.eps {
		d := l.h.dataDirs[ep.Host]
		done := exists(filepath.Join(d, "shipped", ep.ID, workers.VerdictFile)) ||
			exists(filepath.Join(d, "quarantine", ep.ID, workers.ReasonFile))
		if !done || exists(filepath.Join(d, "outbox", ep.ID+".json")) || exists(filepath.Join(d, "episodes", ep.ID)) {
			ids = append(ids, ep.ID)
		}
	}
	return ids
}

// waitSettled waits until every released episode is retired on its host
// and the hub's queue is empty and acknowledged.
func (l *ledger) waitSettled(js jetstream.JetStream, total time.Duration) {
	l.h.t.Helper()
	l.h.waitFor("every episode retired", total, 250*time.Millisecond, func() error {
		if u := l.unsettled(); len(u) > 0 {
			return fmt.Errorf("%d of %d episodes not retired, first %s", len(u), len(l.eps), u[0])
		}
		return nil
	})
	l.h.waitFor("submissions queue drained", 2*time.Minute, 250*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(l.h.t.Context(), 5*time.Second)
		defer cancel()
		c, err := js.Consumer(ctx, subjects.SubmissionsStream, subjects.ReceiverConsumer)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumPending+uint64(info.NumAckPending) != 0 {
			return fmt.Errorf("%d submissions pending, %d unacknowledged", info.NumPending, info.NumAckPending)
		}
		return nil
	})
}

// ledgerFigures sums up a scenario's run.
type ledgerFigures struct {
	Episodes, Shipped, Quarantined int
	Bytes                          int64
	ByReason                       map[subjects.Reason]int
	// Lost: episodes in neither shipped/ nor quarantine/. Duplicates:
	// episodes retired, accepted, recorded or decided more than once.
	// Wrong: episodes that ended with another verdict than they must.
	Lost, Duplicates, Wrong int
	// OrphansSwept: segment objects deleted and chunk subjects purged by
	// the GC; Objects: segment objects left, all of accepted episodes.
	OrphanSegments, OrphanChunks, Objects int
}

func (f ledgerFigures) String() string {
	var reasons []string
	for r, n := range f.ByReason {
		reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
	}
	sort.Strings(reasons)
	return fmt.Sprintf("episodes %d (%s), shipped %d, quarantined %d (%s); lost %d, duplicates %d, wrong verdicts %d; gc swept %d orphan segments and %d orphan chunk subjects, %d segments left, all of accepted episodes",
		f.Episodes, ledgerSize(f.Bytes), f.Shipped, f.Quarantined, strings.Join(reasons, ", "), f.Lost, f.Duplicates, f.Wrong,
		f.OrphanSegments, f.OrphanChunks, f.Objects)
}

func ledgerSize(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", b>>10)
}

// check verifies the ledger once every episode has settled and the
// daemons are stopped; each finding fails the test with the seed. It then
// collects the orphans (with the receiver's GC: in process with no grace
// in the short profile, by the receiver processes with their 1 m grace in
// the full one) and checks every host bucket holds exactly the segments
// of its accepted episodes.
func (l *ledger) check(js jetstream.JetStream) ledgerFigures {
	l.h.t.Helper()
	ctx := l.h.t.Context()
	f := ledgerFigures{Episodes: len(l.eps), ByReason: map[subjects.Reason]int{}}
	accepted, err := ledgerRecords(ctx, js, subjects.AcceptedStream)
	if err != nil {
		l.h.fatalf("%v", err)
	}
	nacks, err := ledgerRecords(ctx, js, subjects.QuarantineStream)
	if err != nil {
		l.h.fatalf("%v", err)
	}
	kv, err := js.KeyValue(ctx, subjects.VerdictsBucket)
	if err != nil {
		l.h.fatalf("%v", err)
	}
	known := map[string]bool{}
	for _, ep := range l.eps {
		key := subjects.VerdictKey(ep.Host, ep.ID)
		known[key] = true
		f.Bytes += ep.Bytes
		lost, dup, wrong := l.checkEpisode(ctx, kv, ep, len(accepted[key]), len(nacks[key]))
		if lost {
			f.Lost++
		}
		if dup {
			f.Duplicates++
		}
		if wrong {
			f.Wrong++
		}
		if !lost && !wrong {
			f.ByReason[ep.Want]++
			if ep.Want == subjects.Accepted {
				f.Shipped++
			} else {
				f.Quarantined++
			}
		}
	}
	for key := range accepted {
		if !known[key] {
			l.h.errorf("CIS490_ACCEPTED announces %s, which no host recorded", key)
		}
	}
	l.checkArchiveDir()

	// Orphans, then the buckets.
	manifests := map[string][]objectstore.Manifest{}
	for _, recs := range accepted {
		for _, r := range recs {
			manifests[r.Verdict.Host] = append(manifests[r.Verdict.Host], r.Manifest)
		}
	}
	if l.h.full {
		l.h.waitFor("receivers' GC leaves only accepted segments", 4*time.Minute, 2*time.Second, func() error {
			n, err := l.checkBuckets(ctx, js, manifests)
			f.Objects = n
			return err
		})
	} else {
		r, err := receiver.New(ctx, js, receiver.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			l.h.fatalf("%v", err)
		}
		res, err := r.SweepOrphans(ctx, 0)
		if err != nil {
			l.h.fatalf("GC: %v", err)
		}
		f.OrphanSegments, f.OrphanChunks = res.Segments, res.Chunks
		if f.Objects, err = l.checkBuckets(ctx, js, manifests); err != nil {
			l.h.errorf("after the GC: %v", err)
		}
	}
	// What the receivers' own GC swept (a long short run lets it).
	for _, p := range l.h.receivers {
		f.OrphanSegments += p.Count(`"msg":"deleted orphan segment"`)
		f.OrphanChunks += p.Count(`"msg":"purged orphan chunks"`)
	}
	if f.OrphanSegments < l.plantedSegments || f.OrphanChunks < l.plantedChunks {
		l.h.errorf("GC swept %d segments and %d chunk subjects, fewer than the %d and %d planted", f.OrphanSegments, f.OrphanChunks, l.plantedSegments, l.plantedChunks)
	}
	return f
}

// checkEpisode checks one episode on its host, in the verdicts, in the
// records and in the export; it reports whether the episode is lost,
// duplicated or wrongly judged.
func (l *ledger) checkEpisode(ctx context.Context, kv jetstream.KeyValue, ep *ledgerEpisode, nAccepted, nNacks int) (lost, dup, wrong bool) {
	h := l.h
	h.t.Helper()
	d := h.dataDirs[ep.Host]
	where := func(root string) []string {
		m, _ := filepath.Glob(filepath.Join(d, root, ep.ID))
		more, _ := filepath.Glob(filepath.Join(d, root, ep.ID+".*"))
		return append(m, more...)
	}
	shipped, quarantined := where("shipped"), where("quarantine")
	switch n := len(shipped) + len(quarantined); {
	case n == 0:
		h.errorf("%s/%s (%s) is lost: in neither shipped/ nor quarantine/", ep.Host, ep.ID, ep.Kind)
		return true, false, false
	case n > 1:
		h.errorf("%s/%s (%s) retired %d times: %q %q", ep.Host, ep.ID, ep.Kind, n, shipped, quarantined)
		dup = true
	}
	for _, left := range []string{filepath.Join(d, "episodes", ep.ID), filepath.Join(d, "outbox", ep.ID+".json")} {
		if exists(left) {
			h.errorf("%s/%s: %s still there after it retired", ep.Host, ep.ID, left)
		}
	}

	// Where it is, and why.
	var final, marker string
	by := ep.By
	if ep.Want == subjects.Accepted {
		final, marker = filepath.Join(d, "shipped", ep.ID), workers.VerdictFile
		if !exists(filepath.Join(final, marker)) {
			h.errorf("%s/%s (%s) must ship; shipped %q, quarantined %q", ep.Host, ep.ID, ep.Kind, shipped, quarantined)
			wrong = true
		}
	} else {
		final, marker = filepath.Join(d, "quarantine", ep.ID), workers.ReasonFile
		var out workers.Outcome
		if err := ledgerReadJSON(filepath.Join(final, marker), &out); err != nil {
			h.errorf("%s/%s (%s) must be quarantined as %s by %s: %v; shipped %q", ep.Host, ep.ID, ep.Kind, ep.Want, ep.By, err, shipped)
			wrong = true
		} else if out.Reason != ep.Want || (out.Source != ep.By && !ep.eitherSide()) {
			h.errorf("%s/%s (%s) quarantined as %s by %s (%s), want %s by %s", ep.Host, ep.ID, ep.Kind, out.Reason, out.Source, out.Detail, ep.Want, ep.By)
			wrong = true
		} else {
			by = out.Source
		}
	}
	if !wrong {
		if err := ledgerSameFiles(final, marker, ep.Files); err != nil {
			h.errorf("%s/%s in %s: %v", ep.Host, ep.ID, final, err)
			wrong = true
		}
	}

	// The hub's verdict: one decision, done, the same reason; none at all
	// for a pre-flight rejection, which never left the host.
	key := subjects.VerdictKey(ep.Host, ep.ID)
	e, err := kv.Get(ctx, key)
	switch {
	case by == "pre-flight":
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			h.errorf("%s: rejected at pre-flight, yet the hub has a verdict (%v)", key, err)
			wrong = true
		}
	case err != nil:
		h.errorf("%s: no verdict in %s: %v", key, subjects.VerdictsBucket, err)
		wrong = true
	default:
		v, err := objectstore.ParseVerdict(e.Value())
		if err != nil || v.Reason != ep.Want || !v.Done {
			h.errorf("%s: verdict %q done=%v (%v), want %q done", key, v.Reason, v.Done, err, ep.Want)
			wrong = true
		}
		hist, err := kv.History(ctx, key)
		if err != nil {
			h.errorf("%s: history: %v", key, err)
		}
		decisions := 0
		var which []string
		for _, e := range hist {
			if d, err := objectstore.ParseVerdict(e.Value()); err == nil && !d.Done {
				decisions++
				which = append(which, fmt.Sprintf("%s by %s at %s for %s (%s)", d.Reason, d.Receiver, d.Time.Format(time.RFC3339Nano), d.Submission, d.Detail))
			}
		}
		if decisions != 1 {
			h.errorf("%s: %d decisions in the verdict history, want 1: %s", key, decisions, strings.Join(which, "; "))
			dup = true
		}
	}

	// One announcement for an accepted episode, one reject record for a
	// hub rejection, nothing else.
	wantAcc, wantNack := 0, 0
	switch {
	case ep.Want == subjects.Accepted:
		wantAcc = 1
	case by == "hub":
		wantNack = 1
	}
	if nAccepted != wantAcc || nNacks != wantNack {
		h.errorf("%s: %d in %s and %d in %s, want %d and %d", key, nAccepted, subjects.AcceptedStream, nNacks, subjects.QuarantineStream, wantAcc, wantNack)
		if nAccepted > 1 || nNacks > 1 {
			dup = true
		} else {
			wrong = true
		}
	}

	// The hub's export: byte for byte the recorded files, or nothing.
	export := filepath.Join(h.archive, ep.Host, ep.ID)
	if ep.Want == subjects.Accepted {
		if err := ledgerSameFiles(export, "", ep.Files); err != nil {
			h.errorf("%s: export %s: %v", key, export, err)
			wrong = true
		}
	} else if exists(export) {
		h.errorf("%s: rejected (%s), yet exported to %s", key, ep.Want, export)
		wrong = true
	}
	return false, dup, wrong
}

// checkArchiveDir waits until the archive dir holds nothing but the
// exports and sidecars of accepted episodes, and fails if a temp stays. A
// receiver may still be reading a submission the server gave to another
// receiver meanwhile (its ack wait ran out during a failover), with its
// temp open, until that read's deadline; a temp that outlives it leaked.
func (l *ledger) checkArchiveDir() {
	l.h.t.Helper()
	l.h.waitFor("archive dir holds only exports", 3*time.Minute, time.Second, l.archiveDirClean)
}

func (l *ledger) archiveDirClean() error {
	want := map[string]bool{}
	for _, ep := range l.eps {
		if ep.Want == subjects.Accepted {
			want[filepath.Join(ep.Host, ep.ID)] = true
			want[filepath.Join(ep.Host, "."+ep.ID+".json")] = true
		}
	}
	hosts, _ := os.ReadDir(l.h.archive)
	for _, host := range hosts {
		entries, _ := os.ReadDir(filepath.Join(l.h.archive, host.Name()))
		for _, e := range entries {
			if p := filepath.Join(host.Name(), e.Name()); !want[p] {
				return fmt.Errorf("archive dir holds %s, which is no accepted episode's export or sidecar", p)
			}
		}
	}
	return nil
}

// checkBuckets returns an error unless every host bucket holds exactly the
// segment objects of its accepted manifests, with no chunk subject that
// no object owns. It returns the number of objects.
func (l *ledger) checkBuckets(ctx context.Context, js jetstream.JetStream, manifests map[string][]objectstore.Manifest) (int, error) {
	var hosts []string
	for host := range l.h.dataDirs {
		hosts = append(hosts, host)
	}
	slices.Sort(hosts)
	total := 0
	for _, host := range hosts {
		bucket := subjects.EpisodeBucket(host)
		obs, err := js.ObjectStore(ctx, bucket)
		if err != nil {
			return 0, fmt.Errorf("open %s: %w", bucket, err)
		}
		infos, err := obs.List(ctx)
		if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
			return 0, fmt.Errorf("list %s: %w", bucket, err)
		}
		want := map[string]bool{}
		for _, m := range manifests[host] {
			for _, s := range m.Segments {
				want[subjects.SegmentObject(m.EpisodeID, s.SHA256)] = true
			}
		}
		live := map[string]bool{}
		var extra []string
		for _, info := range infos {
			live[info.NUID] = true
			if !want[info.Name] {
				extra = append(extra, info.Name)
			}
			delete(want, info.Name)
		}
		total += len(infos)
		if len(extra) > 0 {
			return total, fmt.Errorf("%s holds %d objects of no accepted episode, first %s", bucket, len(extra), extra[0])
		}
		for name := range want {
			return total, fmt.Errorf("%s misses %s, a segment of an accepted episode", bucket, name)
		}
		s, err := js.Stream(ctx, subjects.ObjectStream(bucket))
		if err != nil {
			return total, err
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(subjects.ObjectChunksAll(bucket)))
		if err != nil {
			return total, err
		}
		for subj := range info.State.Subjects {
			nuid, err := subjects.ParseObjectChunkSubject(bucket, subj)
			if err != nil || !live[nuid] {
				return total, fmt.Errorf("%s holds chunks on %s that no object owns", bucket, subj)
			}
		}
	}
	return total, nil
}

// ledgerRecords reads every record of stream, keyed <host>.<episode-id>.
func ledgerRecords(ctx context.Context, js jetstream.JetStream, stream string) (map[string][]objectstore.Record, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("info %s: %w", stream, err)
	}
	out := map[string][]objectstore.Record{}
	if info.State.Msgs == 0 {
		return out, nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s #%d: %w", stream, seq, err)
		}
		r, err := objectstore.ParseRecord(msg.Data)
		if err != nil {
			return nil, fmt.Errorf("%s #%d: %w", stream, seq, err)
		}
		key := subjects.VerdictKey(r.Verdict.Host, r.Verdict.EpisodeID)
		out[key] = append(out[key], r)
	}
	return out, nil
}

// ledgerSameFiles returns an error unless the regular files under root,
// but for the marker file at its top, are exactly files, byte for byte.
func ledgerSameFiles(root, marker string, files map[string]string) error {
	got := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == marker {
			return nil
		}
		sum, err := ledgerHashFile(p)
		got[filepath.ToSlash(rel)] = sum
		return err
	})
	if err != nil {
		return err
	}
	for name, sum := range files {
		switch g, ok := got[name]; {
		case !ok:
			return fmt.Errorf("%s missing", name)
		case g != sum:
			return fmt.Errorf("%s differs from the recorded file (sha256 %s, want %s)", name, g[:12], sum[:12])
		}
		delete(got, name)
	}
	for name := range got {
		return fmt.Errorf("%s was never recorded", name)
	}
	return nil
}

func ledgerHashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func ledgerReadJSON(p string, v any) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// ledgerLogFigures logs the figures in one line for docs/reliability.md.
func ledgerLogFigures(t testing.TB, scenario string, h *harness, f ledgerFigures, took time.Duration) {
	t.Helper()
	t.Logf("FIGURES %s seed=%d profile=%s took=%s: %s", scenario, h.seed, map[bool]string{true: "full", false: "short"}[h.full], took.Round(time.Second), f)
}
