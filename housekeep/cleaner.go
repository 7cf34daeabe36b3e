package housekeep

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cis490/cis490/durable"
)

// Marker files the publisher writes into an entry when it moves it into
// quarantine/ or shipped/; their mtime is when the entry entered.
const (
	QuarantineMarker = "quarantine_reason.json"
	VerdictMarker    = "verdict.json"
)

// markers are looked for in every directory entry; the latest one dates it.
var markers = []string{QuarantineMarker, VerdictMarker}

// Cleaner removes old entries of a directory (quarantine/ or shipped/), at
// most once per interval. Its methods are safe for concurrent use; runs are
// serialized.
type Cleaner struct {
	dir      string
	keep     time.Duration // 0: disabled
	keepDays int
	interval time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	now     func() time.Time
	last    time.Time // when the last run started
	hasRun  bool
	readDir func(string) ([]os.DirEntry, error) // a seam: tests count reads
}

// NewCleaner returns a Cleaner of dir that removes the entries that entered
// it more than keepDays*24h ago (see the package doc for how that time is
// found). keepDays 0 or less disables it: MaybeRun then never touches dir.
// interval is the least time between two runs; 0 or less runs on every
// call. A nil logger logs to slog.Default().
func NewCleaner(dir string, keepDays int, interval time.Duration, logger *slog.Logger) *Cleaner {
	if logger == nil {
		logger = slog.Default()
	}
	c := &Cleaner{
		dir:      dir,
		keepDays: max(keepDays, 0),
		interval: interval,
		log:      logger,
		now:      time.Now,
		readDir:  os.ReadDir,
	}
	switch {
	case keepDays <= 0:
	case int64(keepDays) > math.MaxInt64/int64(24*time.Hour):
		c.keep = math.MaxInt64 // longer than a time.Duration holds: forever, in effect
	default:
		c.keep = time.Duration(keepDays) * 24 * time.Hour
	}
	return c
}

// SetClock replaces the clock (time.Now) that ages entries and gates runs,
// for tests; nil restores time.Now.
func (c *Cleaner) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	c.mu.Lock()
	c.now = now
	c.mu.Unlock()
}

// MaybeRun removes the old entries of the directory, unless the Cleaner is
// disabled (keepDays 0) or its last run started less than interval ago:
// then it returns ran false without reading the directory. The first call
// runs. It returns the names of the entries removed, each also logged at
// info with dir, entry and age.
//
// A missing directory is not an error. An entry that cannot be dated or
// removed does not stop the others; err then names every one. A run that
// failed counts as a run: it is tried again after interval, not on the next
// call, so a broken directory costs one error per interval.
func (c *Cleaner) MaybeRun() (removed []string, ran bool, err error) {
	if c.keep == 0 {
		return nil, false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	// A clock stepped back (only an injected one: time.Now is monotonic)
	// runs at once rather than waiting for it to catch up.
	if c.hasRun {
		if d := now.Sub(c.last); d >= 0 && d < c.interval {
			return nil, false, nil
		}
	}
	c.hasRun, c.last = true, now
	removed, err = c.run(now)
	return removed, true, err
}

// run removes the entries of c.dir that entered it more than c.keep before now.
func (c *Cleaner) run(now time.Time) ([]string, error) {
	entries, err := c.readDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clean %s: %w", c.dir, err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if strings.Contains(name, durable.TempMarker) {
			continue // another process's temp: not ours to judge
		}
		path := filepath.Join(c.dir, name)
		entered, err := enteredAt(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed or moved out meanwhile
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("date %s: %w", name, err))
			continue
		}
		age := now.Sub(entered)
		if age <= c.keep {
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, err) // *fs.PathError names the path
			continue
		}
		c.log.Info("removed old entry", "dir", c.dir, "entry", name,
			"age", age.Round(time.Second), "keep_days", c.keepDays)
		removed = append(removed, name)
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("clean %s: %w", c.dir, errors.Join(errs...))
	}
	return removed, nil
}

// enteredAt returns when the entry at path entered its directory: the
// latest mtime of its marker files if it is a directory holding one, else
// the later of its own mtime and ctime. Symbolic links are not followed.
func enteredAt(path string) (time.Time, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return time.Time{}, err
	}
	if fi.IsDir() {
		var marked time.Time
		for _, m := range markers {
			mi, err := os.Lstat(filepath.Join(path, m))
			if err == nil && mi.Mode().IsRegular() && mi.ModTime().After(marked) {
				marked = mi.ModTime()
			}
		}
		if !marked.IsZero() {
			return marked, nil
		}
	}
	t := fi.ModTime()
	if ct, ok := changeTime(fi); ok && ct.After(t) {
		t = ct
	}
	return t, nil
}
