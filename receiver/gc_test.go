package receiver_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

func TestSweepOrphans(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, stop := e.start(receiver.Options{})
	mA, idA := e.ship(episode(t, "ep-accepted", commit, map[string]string{"d": noise(200 << 10)}), 1)
	e.verdict(mA.EpisodeID, idA)
	stop()

	mC := e.upload(episode(t, "ep-abandoned", commit, map[string]string{"d": noise(200 << 10)}))
	mP, idP := e.ship(episode(t, "ep-pending", commit, map[string]string{"d": noise(100 << 10)}), 1)
	// What a put cut off midway leaves: chunks with no metadata.
	bucket := subjects.EpisodeBucket(host)
	for range 3 {
		if _, err := e.js.Publish(t.Context(), subjects.ObjectChunkSubject(bucket, "CUTOFFPUT0001"), []byte(noise(128<<10))); err != nil {
			t.Fatal(err)
		}
	}

	gc := e.gc()
	res, err := gc.SweepOrphans(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if res.Segments != 0 || res.Chunks != 0 || res.Bytes != 0 {
		t.Fatalf("sweep with a 1h grace deleted %+v; everything is younger", res)
	}

	// Measuring finds exactly what the sweep will free, and deletes nothing.
	if res, err := receiver.Orphans(t.Context(), e.js, host, time.Hour); err != nil || res.Segments+res.Chunks != 0 || res.Bytes != 0 {
		t.Fatalf("Orphans(grace 1h) = %+v, %v; want nothing: everything is younger", res, err)
	}
	want := uint64(mC.ArchiveBytes) + 3*(128<<10)
	m, err := receiver.Orphans(t.Context(), e.js, host, 0)
	if err != nil || m.Segments != len(mC.Segments) || m.Chunks != 1 || m.Bytes != want {
		t.Fatalf("Orphans(grace 0) = %+v, %v; want %d segments, 1 chunk subject, %d bytes", m, err, len(mC.Segments), want)
	}
	if n := e.stored(mC); n != len(mC.Segments) {
		t.Fatalf("Orphans deleted: %d of %d abandoned segments left", n, len(mC.Segments))
	}

	res, err = gc.SweepOrphans(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Segments != len(mC.Segments) || res.Chunks != 1 || res.Bytes < uint64(mC.ArchiveBytes)+3*(128<<10) {
		t.Fatalf("sweep = %+v, want %d segments, 1 chunk subject, at least %d bytes", res, len(mC.Segments), mC.ArchiveBytes+3*(128<<10))
	}
	if n := e.stored(mC); n != 0 {
		t.Fatalf("abandoned upload: %d segments left", n)
	}
	if n := e.stored(mA); n != len(mA.Segments) {
		t.Fatalf("accepted episode: %d of %d segments left", n, len(mA.Segments))
	}
	if n := e.stored(mP); n != len(mP.Segments) {
		t.Fatalf("pending episode: %d of %d segments left", n, len(mP.Segments))
	}
	s, _ := e.js.Stream(t.Context(), subjects.ObjectStream(bucket))
	if _, err := s.GetLastMsgForSubject(t.Context(), subjects.ObjectChunkSubject(bucket, "CUTOFFPUT0001")); err != jetstream.ErrMsgNotFound {
		t.Fatalf("orphan chunks after sweep: %v", err)
	}

	if res, err := receiver.Orphans(t.Context(), e.js, host, 0); err != nil || res.Segments+res.Chunks != 0 || res.Bytes != 0 {
		t.Fatalf("Orphans after the sweep = %+v, %v; want nothing", res, err)
	}

	// The pending episode is still whole: a receiver accepts it.
	e.run(receiver.Options{})
	if v := e.verdict(mP.EpisodeID, idP); v.Reason != subjects.Accepted {
		t.Fatalf("pending episode after sweep: %q %q", v.Reason, v.Detail)
	}
}

// TestSweepAcceptedKeep checks that [gc] accepted_keep frees an accepted
// episode's segments once they are older than it, and that the verdict
// still holds: the same episode submitted again is accepted again.
func TestSweepAcceptedKeep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, stop := e.start(receiver.Options{})
	dir := episode(t, "ep-accepted", commit, map[string]string{"d": noise(200 << 10)})
	mA, idA := e.ship(dir, 1)
	if v := e.verdict(mA.EpisodeID, idA); v.Reason != subjects.Accepted {
		t.Fatalf("verdict %q %q, want accepted", v.Reason, v.Detail)
	}
	stop()

	for _, tc := range []struct {
		keep    time.Duration
		expired int
	}{{0, 0}, {time.Hour, 0}, {time.Nanosecond, len(mA.Segments)}} {
		gc, err := receiver.New(t.Context(), e.js, receiver.Options{Logger: hubtest.Logger(t), AcceptedKeep: tc.keep})
		if err != nil {
			t.Fatal(err)
		}
		res, err := gc.SweepOrphans(t.Context(), 0)
		if err != nil || res.Expired != tc.expired || res.Segments != tc.expired {
			t.Fatalf("SweepOrphans with accepted_keep %s = %+v, %v; want %d expired", tc.keep, res, err, tc.expired)
		}
		if n, want := e.stored(mA), len(mA.Segments)-tc.expired; n != want {
			t.Fatalf("accepted_keep %s: %d segments stored, want %d", tc.keep, n, want)
		}
	}

	// The segments are gone, the verdict is not: a resubmission is uploaded
	// again and accepted again.
	mB, idB := e.ship(dir, 2)
	e.run(receiver.Options{})
	if v := e.verdict(mB.EpisodeID, idB); v.Reason != subjects.Accepted {
		t.Fatalf("resubmission after accepted_keep: %q %q, want accepted", v.Reason, v.Detail)
	}
}

// TestSweepOnASilentLink: a sweep whose link goes silent (bytes dropped,
// the connection still open, as when a cluster node dies under a request)
// fails within its listing bound instead of waiting for good. nats.go's
// bucket lister waits as long as its context, and RunGC's context is the
// receiver's life: without the bound, no sweep ever ran again. Not
// parallel: it changes the bound for the package.
func TestSweepOnASilentLink(t *testing.T) {
	defer receiver.SetGCListTimeout(time.Second)()
	e := newEnv(t)
	px := hubtest.NewProxy(t, strings.TrimPrefix(e.hub.ClientURL(), "nats://"))
	_, js := hubtest.Connect(t, px.URL())
	r, err := receiver.New(t.Context(), js, receiver.Options{Logger: hubtest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	px.Silence()
	done := make(chan error, 1)
	go func() {
		_, err := r.SweepOrphans(t.Context(), 0)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "gc: list buckets") {
			t.Errorf("sweep on a silent link = %v; want the bucket listing's error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sweep still waiting 30 s after the link went silent; its listings are bounded by 1 s")
	}
}

// TestSweepKeepsAnEpisodeSubmittedMeanwhile: an upload that took longer
// than the grace has old segments when it is submitted. Submitted after
// the sweep first read the references and before it deleted (the full
// TestCluster hit it, and the episode was accepted), its segments stay:
// the sweep reads the references again right before deleting. Not
// parallel: it sets the package's seam.
func TestSweepKeepsAnEpisodeSubmittedMeanwhile(t *testing.T) {
	e := newEnv(t)
	m := e.upload(episode(t, "ep-slow", commit, map[string]string{"d": noise(200 << 10)}))
	defer receiver.SetGCBeforeDelete(func() { e.submit(m.EpisodeID, m.ArchiveSHA256, 1, m) })()
	gc := e.gc()
	res, err := gc.SweepOrphans(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.stored(m); n != len(m.Segments) || res.Segments != 0 {
		t.Fatalf("sweep deleted %d segments; %d of %d of the episode submitted during the sweep are left, want all",
			res.Segments, n, len(m.Segments))
	}
}

// TestSweepGraceRunsFromTheNewestSegment: an upload held up longer than
// the grace has old first segments and young last ones; none of them is
// an orphan until the newest is older than the grace.
func TestSweepGraceRunsFromTheNewestSegment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.upload(episode(t, "ep-held", commit, map[string]string{"d": noise(200 << 10)}))
	time.Sleep(1500 * time.Millisecond)
	// More of the same episode, stored later (other bytes, other segments).
	later := e.upload(episode(t, "ep-held", commit, map[string]string{"d": noise(300 << 10)}))
	gc := e.gc()
	res, err := gc.SweepOrphans(t.Context(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.stored(first); n != len(first.Segments) || res.Segments != 0 {
		t.Fatalf("sweep with a 1 s grace deleted %d segments, %d of the %d first ones left; want none deleted: the episode's newest segment is younger",
			res.Segments, n, len(first.Segments))
	}
	if n := e.stored(later); n != len(later.Segments) {
		t.Fatalf("%d of the %d later segments left", n, len(later.Segments))
	}
}

// gc returns a receiver on env's hub that is not running, for its sweeps.
func (e *env) gc() *receiver.Receiver {
	e.t.Helper()
	r, err := receiver.New(e.t.Context(), e.js, receiver.Options{Logger: hubtest.Logger(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// TestSweepSurvivesBadMetadata: lab1 publishes bytes that are not object
// info on its bucket's metadata subjects, as its permissions allow.
// nats.go's List then waited out its context, every sweep, and the sweep
// stopped before lab2's bucket. Now the message is skipped with one log
// line naming it, and both hosts' orphans are freed. Not parallel: it
// bounds the listings, so that without the fix it fails in seconds.
func TestSweepSurvivesBadMetadata(t *testing.T) {
	defer receiver.SetGCListTimeout(5 * time.Second)()
	e := newEnv(t)
	m1 := e.upload(episode(t, "ep-1", commit, map[string]string{"d": noise(100 << 10)}))
	m2 := e.uploadAs("lab2", episode(t, "ep-2", commit, map[string]string{"d": noise(100 << 10)}))
	seq := e.publishMeta(host, "x", jetstream.MsgRollupSubject, "not object info")

	gc, logs := e.gcLogged()
	res, err := gc.SweepOrphans(t.Context(), 0)
	if err != nil || res.Buckets != 2 || res.BadMeta != 1 || !slices.Equal(res.BadMetaSeqs, []uint64{seq}) {
		t.Fatalf("SweepOrphans = %+v, %v; want 2 buckets swept, 1 bad metadata message at seq %d", res, err, seq)
	}
	if n1, n2 := e.stored(m1), e.stored(m2); n1+n2 != 0 {
		t.Fatalf("after the sweep %d of lab1's and %d of lab2's orphan segments are left, want none", n1, n2)
	}
	lines := strings.Count(logs.String(), "not object info")
	if want := fmt.Sprintf("seq=%d", seq); lines != 1 || !strings.Contains(logs.String(), want) {
		t.Fatalf("%d log lines about the bad metadata, want 1 naming %s:\n%s", lines, want, logs.String())
	}
	if o, err := receiver.Orphans(t.Context(), e.js, host, 0); err != nil || o.BadMeta != 1 {
		t.Fatalf("Orphans(lab1) = %+v, %v; want the bad metadata message counted", o, err)
	}
}

// TestSweepReportsRollup: lab1 empties its own bucket with one message
// rolling up everything (Nats-Rollup: all), which no permission can stop.
// The sweep reports it, and the episode it destroyed is judged corrupt
// with a detail that says so.
func TestSweepReportsRollup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.upload(episode(t, "ep-gone", commit, map[string]string{"d": noise(100 << 10)}))
	seq := e.publishMeta(host, "x", jetstream.MsgRollupAll, "{}")

	gc, logs := e.gcLogged()
	res, err := gc.SweepOrphans(t.Context(), 0)
	if err != nil || !slices.Equal(res.Rollups, []uint64{seq}) {
		t.Fatalf("SweepOrphans = %+v, %v; want the roll-up at seq %d", res, err, seq)
	}
	if l := logs.String(); strings.Count(l, "rolled up its whole bucket") != 1 || !strings.Contains(l, fmt.Sprintf("seq=%d", seq)) {
		t.Fatalf("want one log line naming the roll-up at seq %d:\n%s", seq, l)
	}

	e.run(receiver.Options{})
	id := e.submit(m.EpisodeID, m.ArchiveSHA256, 1, m)
	v := e.verdict(m.EpisodeID, id)
	if want := fmt.Sprintf("host lab1 rolled up its whole bucket at seq %d", seq); v.Reason != subjects.Corrupt || !strings.Contains(v.Detail, want) {
		t.Fatalf("verdict %q %q, want corrupt saying %q", v.Reason, v.Detail, want)
	}
}

// gcLogged is gc with its log lines kept.
func (e *env) gcLogged() (*receiver.Receiver, *hubtest.Buffer) {
	e.t.Helper()
	var logs hubtest.Buffer
	r, err := receiver.New(e.t.Context(), e.js, receiver.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		e.t.Fatal(err)
	}
	return r, &logs
}

// publishMeta publishes body on $O.<bucket of h>.M.<token> with the
// roll-up header rollup, as host h may, and returns its sequence.
func (e *env) publishMeta(h, token, rollup, body string) uint64 {
	e.t.Helper()
	msg := nats.NewMsg(strings.TrimSuffix(subjects.ObjectMetaAll(subjects.EpisodeBucket(h)), ">") + token)
	msg.Data = []byte(body)
	msg.Header.Set(jetstream.MsgRollup, rollup)
	ack, err := e.js.PublishMsg(e.t.Context(), msg)
	if err != nil {
		e.t.Fatal(err)
	}
	return ack.Sequence
}
