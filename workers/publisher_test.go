package workers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/window"
	"github.com/cis490/cis490/workers"
)

func TestShipAndQuarantine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.receive(nil)
	e.episode("ep-good", commit, map[string]string{"cam/frames.bin": noise(200 << 10), "log.csv": "t\n0\n"})
	e.episode("ep-unstamped", "", map[string]string{"x": "1"})
	e.episode("ep-mismatch", commit, nil)
	os.WriteFile(filepath.Join(e.data, "episodes", "ep-mismatch", "meta.json"), []byte(`{"episode_id":"other","recorded_at":"2026-11-20T14:03:11Z","code_version":{"commit":"`+commit+`"}}`), 0o644)
	e.episode("bad.id", commit, nil)
	e.episode("ep-symlink", commit, nil)
	os.Symlink("/etc/passwd", filepath.Join(e.data, "episodes", "ep-symlink", "link"))
	os.MkdirAll(filepath.Join(e.data, "episodes", "ep-recording"), 0o755) // no meta.json yet

	p := e.publisher(workers.Options{})
	sum, err := p.RunOnce(t.Context())
	if err != nil {
		t.Fatalf("RunOnce = %v, %+v", err, sum)
	}
	if len(sum.Shipped) != 1 || len(sum.Quarantined) != 4 || sum.Unsettled != 1 {
		t.Fatalf("summary = %+v", sum)
	}
	// Shipped: moved whole, with the hub's verdict beside the data.
	if e.exists("episodes/ep-good") || !e.exists("shipped/ep-good/cam/frames.bin") {
		t.Fatal("ep-good not moved to shipped/")
	}
	var v objectstore.Verdict
	b, _ := os.ReadFile(filepath.Join(e.data, "shipped", "ep-good", workers.VerdictFile))
	if err := json.Unmarshal(b, &v); err != nil || v.Reason != subjects.Accepted || !v.Done {
		t.Fatalf("verdict.json = %s (%v)", b, err)
	}
	for id, want := range map[string]subjects.Reason{
		"ep-unstamped": subjects.Unstamped, "ep-mismatch": subjects.Malformed,
		"bad.id": subjects.Malformed, "ep-symlink": subjects.Malformed,
	} {
		o := e.reason(id)
		if o.Reason != want || o.Source != "pre-flight" || o.Fix == "" || o.Detail == "" {
			t.Errorf("%s: outcome %+v, want %s from pre-flight with detail and fix", id, o, want)
		}
		if e.exists("episodes/" + id) {
			t.Errorf("%s still in episodes/", id)
		}
	}
	if o := e.reason("ep-symlink"); !strings.Contains(o.Detail, "link") {
		t.Errorf("symlink detail %q does not name the file", o.Detail)
	}
	if !e.exists("episodes/ep-recording") {
		t.Fatal("an episode without meta.json was touched")
	}
	if entries, _ := os.ReadDir(filepath.Join(e.data, "outbox")); len(entries) != 0 {
		t.Fatalf("outbox holds %d entries after RunOnce", len(entries))
	}
	// Nothing of the unstamped episode reached the hub.
	obs, _ := e.js.ObjectStore(t.Context(), subjects.EpisodeBucket(host))
	infos, _ := obs.List(t.Context())
	for _, info := range infos {
		if !strings.HasPrefix(info.Name, "ep-good/") {
			t.Errorf("hub holds %s", info.Name)
		}
	}
}

func TestPreflightWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w, err := window.Open(t.Context(), e.js)
	if err != nil {
		t.Fatal(err)
	}
	w.Add(t.Context(), "", strings.Repeat("c", 40))
	e.receive(w)
	e.episode("ep-old", commit, nil)
	p := e.publisher(workers.Options{Window: w})
	if _, err := p.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if o := e.reason("ep-old"); o.Reason != subjects.OutOfWindow || o.Source != "pre-flight" || !strings.Contains(o.Fix, "cis490 window add") {
		t.Fatalf("outcome = %+v", o)
	}
}

// TestConflictFromHub: the second recording under an accepted id is
// quarantined on the hub's word, and the first stays shipped.
func TestConflictFromHub(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.receive(nil)
	p := e.publisher(workers.Options{})
	e.episode("ep-dup", commit, map[string]string{"x": "first"})
	if _, err := p.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.episode("ep-dup", commit, map[string]string{"x": "second"})
	if _, err := p.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if o := e.reason("ep-dup"); o.Reason != subjects.Conflict || o.Source != "hub" || o.Verdict == nil {
		t.Fatalf("outcome = %+v", o)
	}
	if b, _ := os.ReadFile(filepath.Join(e.data, "shipped", "ep-dup", "x")); string(b) != "first" {
		t.Fatalf("shipped/ep-dup/x = %q", b)
	}
}

// TestCorruptIsUploadedAgain: a segment lost on the hub makes the verdict
// corrupt; the publisher uploads again under a new attempt and ships.
func TestCorruptIsUploadedAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.episode("ep-c", commit, map[string]string{"d": noise(300 << 10)})
	p := e.publisher(workers.Options{})
	done := make(chan error, 1)
	go func() { _, err := p.RunOnce(t.Context()); done <- err }()
	// Wait for the submission, then lose a segment before any receiver runs.
	var j workers.Journal
	for {
		got, err := workers.ReadJournal(filepath.Join(e.data, "outbox", "ep-c.json"))
		if err == nil && got.State == workers.Waiting {
			j = *got
			break
		}
		select {
		case err := <-done:
			t.Fatalf("RunOnce ended early: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	obs, _ := e.js.ObjectStore(t.Context(), subjects.EpisodeBucket(host))
	if err := obs.Delete(t.Context(), subjects.SegmentObject("ep-c", j.Manifest.Segments[1].SHA256)); err != nil {
		t.Fatal(err)
	}
	e.receive(nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var v objectstore.Verdict
	b, _ := os.ReadFile(filepath.Join(e.data, "shipped", "ep-c", workers.VerdictFile))
	if err := json.Unmarshal(b, &v); err != nil || v.Reason != subjects.Accepted || !strings.HasSuffix(v.Submission, ".2") {
		t.Fatalf("verdict.json = %s, want accepted on attempt 2", b)
	}
}

// TestDroppedUploadResumes: a link that drops mid-upload leaves the
// segments stored so far in the journal; the next run looks them up
// instead of sending them, streams only the rest, and ships.
func TestDroppedUploadResumes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.episode("ep-r", commit, map[string]string{"d": noise(400 << 10)})
	var sent atomic.Int64
	const dropAt = 3*objectstore.MinSegmentSize + 1000
	p := e.publisher(workers.Options{Throttle: func(_ context.Context, r io.Reader) io.Reader {
		return dropReader{r, &sent, dropAt}
	}})
	if s, _ := p.RunOnce(t.Context()); !strings.Contains(s.Failed["ep-r"], "link dropped") {
		t.Fatalf("RunOnce with the link dropping = %+v; want ep-r failed on the drop", s)
	}
	j, err := workers.ReadJournal(filepath.Join(e.data, "outbox", "ep-r.json"))
	if err != nil {
		t.Fatal(err)
	}
	if j.State != workers.Uploading || len(j.StoredSegments) != 3 {
		t.Fatalf("journal after the drop: %s with %d segments stored, want uploading with 3", j.State, len(j.StoredSegments))
	}
	var known int64
	for _, s := range j.StoredSegments {
		known += s.Size
	}

	e.receive(nil)
	sent.Store(0)
	p = e.publisher(workers.Options{Throttle: func(_ context.Context, r io.Reader) io.Reader {
		return dropReader{r, &sent, 1 << 40}
	}})
	if s, err := p.RunOnce(t.Context()); err != nil || len(s.Shipped) != 1 {
		t.Fatalf("RunOnce after the drop = %+v, %v", s, err)
	}
	var v objectstore.Verdict
	b, _ := os.ReadFile(filepath.Join(e.data, "shipped", "ep-r", workers.VerdictFile))
	if err := json.Unmarshal(b, &v); err != nil || v.Reason != subjects.Accepted {
		t.Fatalf("verdict.json = %s, want accepted", b)
	}
	if want := v.ArchiveBytes - known; sent.Load() != want {
		t.Fatalf("resumed upload sent %d bytes, want %d (the archive's %d less the %d stored before the drop)", sent.Load(), want, v.ArchiveBytes, known)
	}
}

// dropReader fails once n bytes have gone through all dropReaders sharing
// it: a link that drops.
type dropReader struct {
	r     io.Reader
	total *atomic.Int64
	n     int64
}

func (d dropReader) Read(p []byte) (int, error) {
	left := d.n - d.total.Load()
	if left <= 0 {
		return 0, errors.New("link dropped")
	}
	n, err := d.r.Read(p[:min(int64(len(p)), left)])
	d.total.Add(int64(n))
	return n, err
}

// TestOneVerdictWatch: episodes awaiting their verdicts share one
// subscription to the host's verdict subjects and hold no consumer on the
// shared verdicts stream (a lab host may create none), and each gets its
// own verdict through it.
func TestOneVerdictWatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 8
	for i := range n {
		e.episode(fmt.Sprintf("ep-w%d", i), commit, map[string]string{"d": noise(10 << 10)})
	}
	p := e.publisher(workers.Options{Concurrency: n})
	done := make(chan workers.Summary, 1)
	go func() { s, _ := p.RunOnce(t.Context()); done <- s }()
	for waiting := 0; waiting < n; {
		waiting = 0
		for i := range n {
			j, err := workers.ReadJournal(filepath.Join(e.data, "outbox", fmt.Sprintf("ep-w%d.json", i)))
			if err == nil && j.State == workers.Waiting {
				waiting++
			}
		}
		select {
		case s := <-done:
			t.Fatalf("RunOnce ended before the verdicts: %+v", s)
		case <-time.After(5 * time.Millisecond):
		}
	}
	stream, err := e.js.Stream(t.Context(), "KV_"+subjects.VerdictsBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Fatalf("%d episodes awaiting their verdicts hold %d consumers on the verdicts stream, want 0", n, info.State.Consumers)
	}
	sz, err := e.hub.Server().Subsz(&server.SubszOptions{Subscriptions: true, Test: "$KV." + subjects.VerdictsBucket + "." + subjects.VerdictKey(host, "ep-w0")})
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, sub := range sz.Subs {
		if sub.Subject == subjects.VerdictSubjects(host) {
			got++
		}
	}
	if got != 1 {
		t.Fatalf("%d episodes awaiting their verdicts hold %d subscriptions to %s, want 1", n, got, subjects.VerdictSubjects(host))
	}
	e.receive(nil)
	if s := <-done; len(s.Shipped) != n {
		t.Fatalf("RunOnce = %+v, want %d shipped", s, n)
	}
}

// TestLargeEpisodesTakeTurns: however many episodes are in flight, at most
// LargeConcurrency large ones upload at once; small ones go beside them.
func TestLargeEpisodesTakeTurns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 3 {
		e.episode(fmt.Sprintf("ep-big%d", i), commit, map[string]string{"d": noise(300 << 10)})
	}
	e.episode("ep-small", commit, map[string]string{"d": noise(10 << 10)})
	var mu sync.Mutex
	active, most := map[*concurrentReader]bool{}, 0
	p := e.publisher(workers.Options{Concurrency: 4, LargeConcurrency: 1, LargeEpisode: 200 << 10,
		Throttle: func(_ context.Context, r io.Reader) io.Reader {
			return &concurrentReader{r: r, onRead: func(c *concurrentReader, n int, eof bool) {
				mu.Lock()
				defer mu.Unlock()
				c.n += int64(n)
				if eof {
					delete(active, c)
					return
				}
				active[c] = true
				big := 0
				for c := range active {
					if c.n > 20<<10 { // past the small episode's size: a big one
						big++
					}
				}
				most = max(most, big)
			}}
		}})
	e.receive(nil)
	if s, err := p.RunOnce(t.Context()); err != nil || len(s.Shipped) != 4 {
		t.Fatalf("RunOnce = %+v, %v", s, err)
	}
	if most != 1 {
		t.Fatalf("%d large episodes were uploading at once, want 1", most)
	}
}

// concurrentReader reports each read and its end to onRead.
type concurrentReader struct {
	r      io.Reader
	n      int64 // bytes read, kept by onRead
	onRead func(c *concurrentReader, n int, eof bool)
}

func (c *concurrentReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.onRead(c, n, err != nil)
	if n > 0 {
		time.Sleep(time.Millisecond) // a slow link: uploads overlap if allowed to
	}
	return n, err
}
