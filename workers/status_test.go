package workers_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cis490/cis490/workers"
)

func TestReadStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.receive(nil)
	e.episode("ep-shipped", commit, map[string]string{"x": "1"})
	e.episode("ep-unstamped", "", nil)
	p := e.publisher(workers.Options{})
	if _, err := p.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.episode("ep-ready", commit, map[string]string{"d": noise(10 << 10)})
	os.MkdirAll(filepath.Join(e.data, "episodes", "ep-recording"), 0o755) // no meta.json: not counted
	e.episode("ep-uploading", commit, map[string]string{"d": noise(100 << 10)})
	j := workers.Journal{Version: 1, Host: host, EpisodeID: "ep-uploading", State: workers.Uploading, Attempt: 2,
		Stored: workers.Progressed{Segments: 1, Bytes: 65536}, UpdatedAt: time.Now().Add(-time.Minute)}
	b, _ := json.Marshal(j)
	os.WriteFile(filepath.Join(e.data, "outbox", "ep-uploading.json"), b, 0o644)

	st, err := workers.ReadStatus(host, e.data, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Backlog != 1 || st.BacklogBytes < 10<<10 {
		t.Fatalf("backlog = %d episodes, %d bytes; want 1 (ep-ready)", st.Backlog, st.BacklogBytes)
	}
	if len(st.InFlight) != 1 || st.InFlight[0].EpisodeID != "ep-uploading" || st.InFlight[0].Stored.Segments != 1 ||
		st.InFlight[0].Attempt != 2 || st.InFlight[0].Total < 100<<10 {
		t.Fatalf("in flight = %+v", st.InFlight)
	}
	if st.LastShipped == nil || st.LastShipped.EpisodeID != "ep-shipped" || st.Shipped != 1 {
		t.Fatalf("last shipped = %+v (%d)", st.LastShipped, st.Shipped)
	}
	if st.LastRejected == nil || st.LastRejected.EpisodeID != "ep-unstamped" || st.LastRejected.Reason != "unstamped" {
		t.Fatalf("last rejected = %+v", st.LastRejected)
	}
}

// TestJournalRecordsProgress: while uploading, the journal counts the
// segments stored, which is what status shows.
func TestJournalRecordsProgress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.episode("ep-p", commit, map[string]string{"d": noise(300 << 10)})
	seen := 0
	p := e.publisher(workers.Options{})
	done := make(chan error, 1)
	go func() { _, err := p.RunOnce(t.Context()); done <- err }()
	for {
		j, err := workers.ReadJournal(filepath.Join(e.data, "outbox", "ep-p.json"))
		if err == nil && j.Stored.Segments > seen {
			seen = j.Stored.Segments
		}
		if err == nil && j.State == workers.Waiting {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("RunOnce ended before the verdict wait: %v", err)
		case <-time.After(2 * time.Millisecond):
		}
	}
	if seen < 2 {
		t.Fatalf("journal showed %d segments stored during the upload, want several", seen)
	}
	e.receive(nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
