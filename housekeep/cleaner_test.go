package housekeep

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cis490/cis490/durable"
	"github.com/cis490/cis490/hub/hubtest"
)

const day = 24 * time.Hour

// clock is a settable clock for SetClock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)         { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// newTestCleaner returns a Cleaner of dir on a clock set to start, whose
// directory reads are counted in *reads, logging JSON to the returned buffer.
func newTestCleaner(t testing.TB, dir string, keepDays int, interval time.Duration, start time.Time) (*Cleaner, *clock, *int, *hubtest.Buffer) {
	t.Helper()
	logs := &hubtest.Buffer{}
	c := NewCleaner(dir, keepDays, interval, slog.New(slog.NewJSONHandler(logs, nil)))
	clk := &clock{t: start}
	c.SetClock(clk.Now)
	reads := new(int)
	c.readDir = func(d string) ([]os.DirEntry, error) {
		*reads++ // under c.mu
		return os.ReadDir(d)
	}
	return c, clk, reads, logs
}

// makeEntry creates dir/name as a directory holding a file, with marker
// (if not "") written into it with mtime markerTime.
func makeEntry(t testing.TB, dir, name, marker string, markerTime time.Time) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(p, "data.bin"), "x")
	if marker != "" {
		m := filepath.Join(p, marker)
		writeFile(t, m, "{}")
		setMtime(t, m, markerTime)
	}
	return p
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func setMtime(t testing.TB, path string, mtime time.Time) {
	t.Helper()
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// TestMaybeRunKeepDays dates entries by their marker files: with keep_days
// 30, an entry quarantined 29 days ago stays and one of 31 days goes, what
// ever the mtime of the directory itself.
func TestMaybeRunKeepDays(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	makeEntry(t, dir, "q-29d", QuarantineMarker, now.Add(-29*day))
	makeEntry(t, dir, "q-30d", QuarantineMarker, now.Add(-30*day)) // not older than 30 days
	makeEntry(t, dir, "q-31d", QuarantineMarker, now.Add(-31*day))
	makeEntry(t, dir, "v-29d", VerdictMarker, now.Add(-29*day))
	makeEntry(t, dir, "v-31d", VerdictMarker, now.Add(-31*day))
	// Recorded long ago, quarantined yesterday: the marker dates it.
	setMtime(t, makeEntry(t, dir, "old-dir-new-marker", QuarantineMarker, now.Add(-1*day)), now.Add(-90*day))
	// Both markers: the later one dates it.
	both := makeEntry(t, dir, "both", QuarantineMarker, now.Add(-40*day))
	writeFile(t, filepath.Join(both, VerdictMarker), "{}")
	setMtime(t, filepath.Join(both, VerdictMarker), now.Add(-2*day))

	c, _, _, logs := newTestCleaner(t, dir, 30, time.Hour, now)
	removed, ran, err := c.MaybeRun()
	if err != nil || !ran {
		t.Fatalf("MaybeRun() = %v, %v, %v; want ran, no error", removed, ran, err)
	}
	if want := []string{"q-31d", "v-31d"}; !slices.Equal(removed, want) {
		t.Errorf("MaybeRun() removed %q, want %q", removed, want)
	}
	if got, want := hubtest.Names(t, dir), []string{"both", "old-dir-new-marker", "q-29d", "q-30d", "v-29d"}; !slices.Equal(got, want) {
		t.Errorf("after MaybeRun, %s holds %q, want %q", dir, got, want)
	}

	// Each removal is logged with dir, entry and age.
	var logged []string
	for line := range strings.Lines(logs.String()) {
		var rec struct {
			Level, Msg, Dir, Entry string
			Age                    time.Duration
			KeepDays               int `json:"keep_days"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Level != "INFO" || rec.Dir != dir || rec.Age < 31*day || rec.Age > 31*day+time.Minute || rec.KeepDays != 30 {
			t.Errorf("log line %s: want level INFO, dir %s, age about 31d, keep_days 30", line, dir)
		}
		logged = append(logged, rec.Entry)
	}
	if want := []string{"q-31d", "v-31d"}; !slices.Equal(logged, want) {
		t.Errorf("logged removals of %q, want %q", logged, want)
	}
}

// TestMaybeRunNoMarker dates an entry without a marker, a file or a
// directory, by its own mtime and ctime; the clock moves instead of the
// files, since no call backdates a ctime.
func TestMaybeRunNoMarker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		after time.Duration
		want  []string // removed
	}{
		{"29 days", 29 * day, nil},
		{"31 days", 31 * day, []string{"loose.json", "plain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			start := time.Now().Add(time.Second) // at or after every time of the files
			makeEntry(t, dir, "plain", "", time.Time{})
			writeFile(t, filepath.Join(dir, "loose.json"), "{}")
			c, _, _, _ := newTestCleaner(t, dir, 30, time.Hour, start.Add(tt.after))
			removed, ran, err := c.MaybeRun()
			if err != nil || !ran || !slices.Equal(removed, tt.want) {
				t.Errorf("MaybeRun() %s later = %q, %v, %v; want %q, ran, no error", tt.after, removed, ran, err, tt.want)
			}
		})
	}
}

// TestMaybeRunMovedInByHand: a directory renamed in keeps its old mtime, but
// its ctime is the move, so it is not removed at once.
func TestMaybeRunMovedInByHand(t *testing.T) {
	t.Parallel()
	src, dir := t.TempDir(), t.TempDir()
	now := time.Now()
	old := makeEntry(t, src, "ep", "", time.Time{})
	setMtime(t, old, now.Add(-90*day))
	if err := os.Rename(old, filepath.Join(dir, "ep")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "ep"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Before(now.Add(-89 * day)) {
		t.Fatalf("rename changed the mtime of the moved directory to %v", fi.ModTime())
	}
	if _, ok := changeTime(fi); !ok {
		t.Skip("no ctime on this platform: an entry without a marker is dated by its mtime")
	}
	c, clk, _, _ := newTestCleaner(t, dir, 30, 0, now.Add(time.Second))
	if removed, ran, err := c.MaybeRun(); err != nil || !ran || removed != nil {
		t.Errorf("MaybeRun() just after the move = %q, %v, %v; want nothing removed", removed, ran, err)
	}
	clk.Advance(31 * day)
	if removed, ran, err := c.MaybeRun(); err != nil || !ran || !slices.Equal(removed, []string{"ep"}) {
		t.Errorf("MaybeRun() 31 days after the move = %q, %v, %v; want [ep] removed", removed, ran, err)
	}
}

// TestMaybeRunInterval: the first call runs, a call within interval of the
// last run neither reads the directory nor removes anything.
func TestMaybeRunInterval(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	c, clk, reads, _ := newTestCleaner(t, dir, 30, time.Hour, now)

	step := func(label string, wantRan bool, wantReads int, wantRemoved []string) {
		t.Helper()
		removed, ran, err := c.MaybeRun()
		if err != nil || ran != wantRan || !slices.Equal(removed, wantRemoved) {
			t.Errorf("%s: MaybeRun() = %q, %v, %v; want %q, ran %v", label, removed, ran, err, wantRemoved, wantRan)
		}
		if *reads != wantReads {
			t.Errorf("%s: %d directory reads so far, want %d", label, *reads, wantReads)
		}
	}
	step("first call", true, 1, nil)
	makeEntry(t, dir, "old", QuarantineMarker, now.Add(-60*day))
	step("same instant", false, 1, nil)
	clk.Advance(59 * time.Minute)
	step("after 59m", false, 1, nil)
	if got := hubtest.Names(t, dir); !slices.Equal(got, []string{"old"}) {
		t.Errorf("within the interval, %s holds %q, want [old]", dir, got)
	}
	clk.Advance(time.Minute)
	step("after 1h", true, 2, []string{"old"})
	clk.Advance(time.Second)
	step("1s after the second run", false, 2, nil)
	clk.Advance(-2 * time.Hour) // an injected clock stepped back: run
	step("clock stepped back", true, 3, nil)
}

// TestMaybeRunIntervalAfterError: a failed run also waits for the interval.
func TestMaybeRunIntervalAfterError(t *testing.T) {
	t.Parallel()
	notDir := filepath.Join(t.TempDir(), "quarantine")
	writeFile(t, notDir, "a file where a directory belongs")
	c, clk, reads, _ := newTestCleaner(t, notDir, 30, time.Hour, time.Now())
	removed, ran, err := c.MaybeRun()
	if err == nil || !ran || !strings.HasPrefix(err.Error(), "clean "+notDir+": ") {
		t.Errorf("MaybeRun() on a file = %q, %v, %v; want ran and an error starting \"clean %s: \"", removed, ran, err, notDir)
	}
	clk.Advance(time.Minute)
	if _, ran, err := c.MaybeRun(); ran || err != nil || *reads != 1 {
		t.Errorf("MaybeRun() 1m after a failed run: ran %v, %v, %d reads; want not run, 1 read", ran, err, *reads)
	}
}

// TestMaybeRunDisabled: keep_days 0 (or less) never reads or removes.
func TestMaybeRunDisabled(t *testing.T) {
	t.Parallel()
	for _, keepDays := range []int{0, -1} {
		dir := t.TempDir()
		now := time.Now()
		makeEntry(t, dir, "ancient", QuarantineMarker, now.Add(-3650*day))
		c, clk, reads, _ := newTestCleaner(t, dir, keepDays, 0, now)
		for range 3 {
			if removed, ran, err := c.MaybeRun(); removed != nil || ran || err != nil {
				t.Errorf("keep_days %d: MaybeRun() = %q, %v, %v; want nil, false, nil", keepDays, removed, ran, err)
			}
			clk.Advance(400 * day)
		}
		if *reads != 0 {
			t.Errorf("keep_days %d: %d directory reads, want 0", keepDays, *reads)
		}
		if got := hubtest.Names(t, dir); !slices.Equal(got, []string{"ancient"}) {
			t.Errorf("keep_days %d: %s holds %q, want [ancient]", keepDays, dir, got)
		}
	}
}

func TestMaybeRunMissingDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "quarantine")
	c, clk, _, _ := newTestCleaner(t, dir, 30, time.Hour, time.Now())
	if removed, ran, err := c.MaybeRun(); removed != nil || !ran || err != nil {
		t.Errorf("MaybeRun() of a missing dir = %q, %v, %v; want nil, true, nil", removed, ran, err)
	}
	// Created later, it is cleaned on the next run.
	makeEntry(t, dir, "old", VerdictMarker, time.Now().Add(-31*day))
	clk.Advance(time.Hour)
	if removed, ran, err := c.MaybeRun(); !slices.Equal(removed, []string{"old"}) || !ran || err != nil {
		t.Errorf("MaybeRun() once the dir exists = %q, %v, %v; want [old], true, nil", removed, ran, err)
	}
}

// TestMaybeRunSkipsTemp: names holding durable.TempMarker belong to a write
// or move in progress and are never removed, however old.
func TestMaybeRunSkipsTemp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	tmpDir := "ep" + durable.TempMarker + "123"
	tmpFile := "verdict.json" + durable.TempMarker + "456"
	makeEntry(t, dir, tmpDir, QuarantineMarker, now.Add(-60*day))
	writeFile(t, filepath.Join(dir, tmpFile), "{}")
	makeEntry(t, dir, "ep", QuarantineMarker, now.Add(-60*day))
	c, _, _, _ := newTestCleaner(t, dir, 30, time.Hour, now.Add(365*day))
	removed, ran, err := c.MaybeRun()
	if err != nil || !ran || !slices.Equal(removed, []string{"ep"}) {
		t.Errorf("MaybeRun() = %q, %v, %v; want [ep], ran, no error", removed, ran, err)
	}
	if got, want := hubtest.Names(t, dir), []string{tmpDir, tmpFile}; !slices.Equal(got, want) {
		t.Errorf("after MaybeRun, %s holds %q, want %q", dir, got, want)
	}
}

// TestMaybeRunSymlink: a symbolic link is dated and removed itself; its
// target is left alone.
func TestMaybeRunSymlink(t *testing.T) {
	t.Parallel()
	dir, elsewhere := t.TempDir(), t.TempDir()
	now := time.Now()
	target := makeEntry(t, elsewhere, "target", QuarantineMarker, now.Add(-60*day))
	if err := os.Symlink(target, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	c, clk, _, _ := newTestCleaner(t, dir, 30, 0, now.Add(time.Second))
	if removed, _, err := c.MaybeRun(); removed != nil || err != nil {
		t.Errorf("MaybeRun() = %q, %v; want a new link kept, whatever its target's marker says", removed, err)
	}
	clk.Advance(31 * day)
	if removed, _, err := c.MaybeRun(); !slices.Equal(removed, []string{"link"}) || err != nil {
		t.Errorf("MaybeRun() 31 days later = %q, %v; want [link]", removed, err)
	}
	if _, err := os.Stat(filepath.Join(target, QuarantineMarker)); err != nil {
		t.Errorf("removing the link touched its target: %v", err)
	}
}

// TestMaybeRunConcurrent: runs are serialized, so concurrent callers share
// one run per interval (run with -race).
func TestMaybeRunConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	makeEntry(t, dir, "old", QuarantineMarker, time.Now().Add(-31*day))
	c, _, reads, _ := newTestCleaner(t, dir, 30, time.Hour, time.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	runs, removed := 0, 0
	for range 8 {
		wg.Go(func() {
			r, ran, err := c.MaybeRun()
			if err != nil {
				t.Errorf("MaybeRun() = %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if ran {
				runs++
			}
			removed += len(r)
		})
	}
	wg.Wait()
	if runs != 1 || removed != 1 || *reads != 1 {
		t.Errorf("8 concurrent MaybeRun: %d runs, %d removed, %d reads; want 1 each", runs, removed, *reads)
	}
}

func TestNewCleanerHugeKeepDays(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	makeEntry(t, dir, "old", QuarantineMarker, time.Unix(0, 0))
	c, _, _, _ := newTestCleaner(t, dir, 1<<40, 0, time.Now())
	if removed, ran, err := c.MaybeRun(); removed != nil || !ran || err != nil {
		t.Errorf("MaybeRun() with keep_days 2^40 = %q, %v, %v; want nothing removed", removed, ran, err)
	}
}

func TestSetClockNil(t *testing.T) {
	t.Parallel()
	c := NewCleaner(t.TempDir(), 30, time.Hour, nil)
	c.SetClock(func() time.Time { return time.Unix(0, 0) })
	c.SetClock(nil)
	if got := c.now(); time.Since(got) > time.Minute || got.Year() < 2000 {
		t.Errorf("after SetClock(nil), now() = %v, want time.Now", got)
	}
	if _, ran, err := c.MaybeRun(); !ran || err != nil {
		t.Errorf("MaybeRun() with a nil logger = %v, %v; want ran", ran, err)
	}
}

// TestEnteredAtMissing: an entry gone between the read of its directory and
// its dating is reported as missing, which run skips.
func TestEnteredAtMissing(t *testing.T) {
	t.Parallel()
	_, err := enteredAt(filepath.Join(t.TempDir(), "gone"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("enteredAt(missing) = %v, want ErrNotExist", err)
	}
}
