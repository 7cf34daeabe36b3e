package workers_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
