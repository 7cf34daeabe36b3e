package workers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cis490/cis490/durable"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// retirePublisher is a Publisher that can only recover and retire, on a
// temp data dir; it logs JSON lines into the buffer returned.
func retirePublisher(t testing.TB) (*Publisher, *bytes.Buffer) {
	t.Helper()
	logs := &bytes.Buffer{}
	p := &Publisher{
		dirs: dataDirs(t.TempDir()), o: Options{Now: time.Now},
		log: slog.New(slog.NewJSONHandler(logs, nil)).With("component", "publisher", "host", "lab1"),
	}
	for _, d := range []string{p.dirs.episodes, p.dirs.outbox, p.dirs.shipped, p.dirs.quarantine} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return p, logs
}

// retiringEpisode puts episode id, with one data file, in episodes/ and
// journals it as retiring to shipped/ (accepted) or quarantine/ (malformed).
func retiringEpisode(t testing.TB, p *Publisher, id string, shipped bool) *Journal {
	t.Helper()
	dir := filepath.Join(p.dirs.episodes, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.bin"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := p.localOutcome(id, subjects.Malformed, "bad meta.json", objectstore.CodeVersion{})
	if shipped {
		out = p.hubOutcome(id, objectstore.Verdict{Host: "lab1", EpisodeID: id, Reason: subjects.Accepted, Done: true})
	}
	j := &Journal{Version: journalVersion, Host: "lab1", EpisodeID: id, Attempt: 1, CreatedAt: p.now()}
	if err := p.toRetiring(j, out); err != nil {
		t.Fatal(err)
	}
	return j
}

// tempsUnder lists the paths under root, relative to it, whose names hold
// durable.TempMarker.
func tempsUnder(t testing.TB, root string) []string {
	t.Helper()
	var temps []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(d.Name(), durable.TempMarker) {
			rel, _ := filepath.Rel(root, p)
			temps = append(temps, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return temps
}

// errCrash is what the crash hook of these tests panics with.
var errCrash = errors.New("crash")

// crashRetire runs retire with crashAt armed to panic at step, as a kill
// there would stop it, and fails the test unless it stopped there.
func crashRetire(t testing.TB, p *Publisher, j *Journal, step string) {
	t.Helper()
	crashAt = func(s string) {
		if s == step {
			panic(errCrash)
		}
	}
	defer func() {
		crashAt = func(string) {}
		if r := recover(); r != errCrash {
			t.Fatalf("retire armed to crash at %s: recovered %v, want the crash", step, r)
		}
	}()
	_, err := p.retire(j)
	t.Fatalf("retire armed to crash at %s returned %v", step, err)
}

// TestRetireCrashLeavesNoTempInEntry kills a retirement at each of its
// steps and starts again: at no moment does the retired entry hold a temp
// file, and the replay ends with the marker in place and outbox/ empty.
// Not parallel: it sets the package's crash hook.
func TestRetireCrashLeavesNoTempInEntry(t *testing.T) {
	for _, shipped := range []bool{true, false} {
		for _, step := range []string{StepMoved, StepMarkerTemp, StepMarked} {
			name := "quarantined-" + step
			if shipped {
				name = "shipped-" + step
			}
			t.Run(name, func(t *testing.T) {
				p, _ := retirePublisher(t)
				j := retiringEpisode(t, p, "ep-1", shipped)
				dest, marker := j.Outcome.Dest, ReasonFile
				if shipped {
					marker = VerdictFile
				}
				crashRetire(t, p, j, step)
				if temps := tempsUnder(t, dest); len(temps) != 0 {
					t.Fatalf("after a crash at %s the entry holds %q", step, temps)
				}

				if _, err := p.Recover(); err != nil {
					t.Fatal(err)
				}
				if _, err := p.retire(mustLoad(t, p, "ep-1")); err != nil {
					t.Fatalf("retire after the crash = %v", err)
				}
				if temps := tempsUnder(t, dest); len(temps) != 0 {
					t.Errorf("after the replay the entry holds %q", temps)
				}
				var got map[string]any
				if b, err := os.ReadFile(filepath.Join(dest, marker)); err != nil || json.Unmarshal(b, &got) != nil {
					t.Errorf("%s after the replay: %q, %v", marker, b, err)
				}
				if b, err := os.ReadFile(filepath.Join(dest, "data.bin")); err != nil || string(b) != "0123456789" {
					t.Errorf("data.bin after the replay = %q, %v", b, err)
				}
				if entries, _ := os.ReadDir(p.dirs.outbox); len(entries) != 0 {
					t.Errorf("outbox/ holds %d entries after the replay", len(entries))
				}
			})
		}
	}
}

// TestRecoverRemovesStaleMarkerTemps: the marker temps an older cis490
// left inside retired entries when killed mid-write are removed at start,
// one log line each, and replaying a retiring journal leaves none; files
// that merely look like temps are kept.
func TestRecoverRemovesStaleMarkerTemps(t *testing.T) {
	t.Parallel()
	p, logs := retirePublisher(t)
	// ep-r was moved to shipped/ and killed while writing verdict.json.
	j := retiringEpisode(t, p, "ep-r", true)
	if err := os.Rename(filepath.Join(p.dirs.episodes, "ep-r"), j.Outcome.Dest); err != nil {
		t.Fatal(err)
	}
	data := filepath.Dir(p.dirs.shipped)
	tests := []struct {
		path  string // under the data dir; a trailing / makes a directory
		stale bool
	}{
		{path: "shipped/ep-r/verdict.json.tmp-77", stale: true},
		{path: "shipped/ep-a/verdict.json"},
		{path: "shipped/ep-a/verdict.json.tmp-123", stale: true},
		{path: "quarantine/ep-b.1/quarantine_reason.json"},
		{path: "quarantine/ep-b.1/quarantine_reason.json.tmp-9", stale: true},
		{path: "shipped/ep-c/verdict.json.tmp-notes"},
		{path: "shipped/ep-c/verdict.json.tmp-"},
		{path: "shipped/ep-c/notes.json.tmp-1"},
		{path: "shipped/ep-c/sub/verdict.json.tmp-2"},
		{path: "shipped/ep-c/verdict.json.tmp-5/"},
		{path: "quarantine/ep-d/meta.json.tmp-3"},
	}
	var want []string
	for _, tt := range tests {
		path := filepath.Join(data, filepath.FromSlash(tt.path))
		if strings.HasSuffix(tt.path, "/") {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if tt.stale {
			want = append(want, filepath.Base(tt.path))
		}
	}

	if _, err := p.Recover(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.retire(mustLoad(t, p, "ep-r")); err != nil {
		t.Fatalf("retire of the retiring journal = %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := os.Lstat(filepath.Join(data, filepath.FromSlash(tt.path)))
			if gone := errors.Is(err, fs.ErrNotExist); gone != tt.stale {
				t.Errorf("after Recover and the replay: gone = %v, want %v", gone, tt.stale)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(j.Outcome.Dest, VerdictFile)); err != nil {
		t.Errorf("the replay wrote no verdict.json: %v", err)
	}

	var logged []string
	for line := range strings.Lines(logs.String()) {
		var rec struct{ Msg, Component, Name string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Msg == "removed stale temp" {
			if rec.Component != "publisher" {
				t.Errorf("log line %q has component %q, want publisher", line, rec.Component)
			}
			logged = append(logged, rec.Name)
		}
	}
	slices.Sort(logged)
	slices.Sort(want)
	if !slices.Equal(logged, want) {
		t.Errorf("logged removals of %q, want one line each for %q", logged, want)
	}
}
