// Package progress holds what `cis490 publish --once` shows while it
// uploads: a Display of the episodes in flight, each a Task that counts the
// bytes sent and ends with a one-line outcome.
//
// On a terminal the Display keeps a block at the bottom of the screen, one
// line per episode in flight (a bar, bytes sent of total, rate, time left)
// and an overall line, redrawn in place at most ten times a second; when an
// episode ends its line gives way to its outcome, which stays above the
// block:
//
//	shipped ep-0042 (1.2 GiB, 38 MB/s)
//	quarantined ep-0043: unstamped
//
// Anywhere else (a pipe, a file, the journal) it writes plain lines that
// suit a log: one when an episode starts, at most one per tenth of it, one
// when it ends, and the overall line on Close. The outcome words shipped
// and quarantined are coloured on a terminal unless NO_COLOR is set or TERM
// is dumb; that changes only the colour, never the redrawing.
//
// docs/terminal.md shows both.
package progress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// RedrawInterval is how often a terminal Display redraws its block.
const RedrawInterval = 100 * time.Millisecond

const (
	barWidth   = 20 // cells inside the brackets
	maxIDWidth = 24 // longer ids are cut on a terminal, so lines do not wrap

	// minRateElapsed is how long an episode (or the run) must have been
	// going before its line shows a rate and time left: over the first
	// moments the average says little ("139 GB/s" after one read).
	minRateElapsed = time.Second
)

// ANSI sequences a terminal Display writes.
const (
	clearLine   = "\r\x1b[2K" // to column 0, erase the line
	clearBelow  = "\x1b[J"    // erase from the cursor to the end of the screen
	colorGreen  = "\x1b[32m"
	colorRed    = "\x1b[31m"
	colorReset  = "\x1b[0m"
	cursorUpFmt = "\x1b[%dA" // cursor up n lines
)

// IsTerminal reports whether f is a terminal, for New's tty argument.
func IsTerminal(f *os.File) bool {
	return f != nil && term.IsTerminal(int(f.Fd()))
}

// Display shows the progress of uploads on w. Its methods are safe for
// concurrent use, and safe on a nil *Display, which shows nothing. Writes
// to w are best effort: their errors are ignored.
type Display struct {
	w     io.Writer
	tty   bool
	color bool

	mu         sync.Mutex
	tasks      []*Task  // in flight, in the order they started
	outcomes   []string // terminal: outcome lines not drawn yet
	episodes   int      // from SetTotals; 0 when not set
	ended      int      // tasks Done
	started    int      // tasks started
	first      time.Time
	sent       int64 // bytes Added over all tasks
	known      int64 // sum of the totals of the tasks in flight and the bytes sent by those ended
	drawnLines int   // terminal: height of the block last drawn
	dirty      bool
	closed     bool

	stop    chan struct{} // terminal: closed by Close to end the ticker
	stopped chan struct{} // terminal: closed when the ticker has ended
}

// New returns a Display writing to w. When tty is set (the caller decides,
// usually with IsTerminal) it redraws a block in place every
// RedrawInterval from a goroutine that Close ends; otherwise it writes
// plain lines. Colour is used only when tty is set, NO_COLOR is unset or
// empty and TERM is not dumb. Call Close when done.
func New(w io.Writer, tty bool) *Display {
	d := &Display{
		w:     w,
		tty:   tty,
		color: tty && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb",
	}
	if tty {
		d.stop = make(chan struct{})
		d.stopped = make(chan struct{})
		go d.redraw()
	}
	return d
}

// SetTotals sets how many episodes this run publishes, for the overall
// line ("episodes: 3/10 done").
func (d *Display) SetTotals(episodes int) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.episodes = episodes
	d.dirty = true
}

// Start shows a new episode in flight, with id and its size in bytes
// (0 or less when not known), and returns its Task. On a nil Display it
// returns nil, whose methods do nothing.
func (d *Display) Start(id string, total int64) *Task {
	if d == nil {
		return nil
	}
	now := time.Now()
	t := &Task{d: d, id: id, total: max(total, 0), start: now}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started == 0 {
		d.first = now
	}
	d.started++
	d.known += t.total
	d.tasks = append(d.tasks, t)
	d.dirty = true
	if !d.tty {
		line := id + " started"
		if t.total > 0 {
			line += ", " + formatSize(t.total)
		}
		d.writeLocked(line + "\n")
	}
	return t
}

// Close draws the Display a last time, on a terminal leaving the final
// block on the screen and elsewhere writing the overall line, and stops
// the redrawing. After Close the Display writes nothing more; Tasks may
// still be called and count, unseen. Close may be called more than once.
func (d *Display) Close() {
	if d == nil {
		return
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	if d.tty {
		d.drawLocked(time.Now())
	} else if d.started > 0 || d.episodes > 0 {
		d.writeLocked(d.overallLocked(time.Now()) + "\n")
	}
	d.closed = true
	d.mu.Unlock()
	if d.tty {
		close(d.stop)
		<-d.stopped
	}
}

// redraw redraws the terminal block every RedrawInterval while something
// changed or an episode is in flight (its rate and time left move even when
// its bytes do not), until Close.
func (d *Display) redraw() {
	defer close(d.stopped)
	tick := time.NewTicker(RedrawInterval)
	defer tick.Stop()
	for {
		select {
		case <-d.stop:
			return
		case now := <-tick.C:
			d.mu.Lock()
			if !d.closed && (d.dirty || len(d.tasks) > 0) {
				d.drawLocked(now)
			}
			d.mu.Unlock()
		}
	}
}

// drawLocked redraws the terminal block in one write: cursor up over the
// block last drawn, the outcomes of episodes ended since (they stay, the
// block moves down under them), a line per episode in flight, the overall
// line, then erase whatever the old block had below.
func (d *Display) drawLocked(now time.Time) {
	d.dirty = false
	var b bytes.Buffer
	if d.drawnLines > 0 {
		fmt.Fprintf(&b, cursorUpFmt, d.drawnLines)
	}
	for _, s := range d.outcomes {
		b.WriteString(clearLine + s + "\n")
	}
	d.outcomes = d.outcomes[:0]

	lines := 0
	width := 0
	for _, t := range d.tasks {
		width = max(width, len([]rune(t.shortID())))
	}
	for _, t := range d.tasks {
		b.WriteString(clearLine + t.lineLocked(now, width) + "\n")
		lines++
	}
	if d.started > 0 || d.episodes > 0 {
		b.WriteString(clearLine + d.overallLocked(now) + "\n")
		lines++
	}
	if d.drawnLines > lines {
		b.WriteString(clearBelow)
	}
	d.drawnLines = lines
	if b.Len() > 0 {
		d.writeLocked(b.String())
	}
}

// overallLocked returns the overall line:
// "episodes: 3/10 done, 2 in flight  bytes: 4.2 GiB / 7.5 GiB  112 MB/s".
func (d *Display) overallLocked(now time.Time) string {
	var b strings.Builder
	if d.episodes > 0 {
		fmt.Fprintf(&b, "episodes: %d/%d done", d.ended, d.episodes)
	} else {
		fmt.Fprintf(&b, "episodes: %d done", d.ended)
	}
	if n := len(d.tasks); n > 0 {
		fmt.Fprintf(&b, ", %d in flight", n)
	}
	b.WriteString("  bytes: " + formatSize(d.sent))
	if d.known > 0 {
		b.WriteString(" / " + formatSize(d.known))
	}
	if d.started > 0 {
		if elapsed := now.Sub(d.first); elapsed >= minRateElapsed {
			b.WriteString("  " + formatRate(float64(d.sent)/elapsed.Seconds()))
		}
	}
	return b.String()
}

// writeLocked writes s unless the Display is closed.
func (d *Display) writeLocked(s string) {
	if d.closed {
		return
	}
	io.WriteString(d.w, s) // best effort: a broken terminal must not stop an upload
}

// Task is one episode in flight on a Display. Its methods are safe for
// concurrent use, and do nothing on a nil *Task.
type Task struct {
	d     *Display
	id    string
	total int64
	start time.Time

	// Guarded by d.mu.
	sent  int64
	tenth int64 // plain lines: the last tenth of total reported
	ended bool
}

// Add counts n more bytes of the episode sent. It ignores n <= 0 and calls
// after Done. Without a terminal it writes a line each time the episode
// passes into a new tenth of its total (several tenths at once make one
// line).
func (t *Task) Add(n int64) {
	if t == nil || n <= 0 {
		return
	}
	d := t.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if t.ended {
		return
	}
	t.sent += n
	d.sent += n
	d.dirty = true
	if d.tty || t.total <= 0 {
		return
	}
	if tenth := min(t.sent*10/t.total, 10); tenth > t.tenth {
		t.tenth = tenth
		d.writeLocked(t.lineLocked(time.Now(), -1) + "\n")
	}
}

// Done ends the episode with outcome: a word, optionally followed by ": "
// and a reason, such as "shipped" or "quarantined: unstamped". Its line
// becomes "shipped ep-0042 (1.2 GiB, 38 MB/s)" or
// "quarantined ep-0043: unstamped": the word, the id, the reason, and the
// bytes sent with their average rate when some were. The words shipped
// and quarantined are coloured on a colour terminal. Calls after the first
// do nothing.
func (t *Task) Done(outcome string) {
	if t == nil {
		return
	}
	d := t.d
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if t.ended {
		return
	}
	t.ended = true
	d.ended++
	d.known -= t.total - t.sent // what it will never send leaves the total
	for i, u := range d.tasks {
		if u == t {
			d.tasks = append(d.tasks[:i], d.tasks[i+1:]...)
			break
		}
	}
	d.dirty = true
	line := t.outcomeLocked(outcome, now, d.color)
	if d.tty {
		d.outcomes = append(d.outcomes, line)
	} else {
		d.writeLocked(line + "\n")
	}
}

// outcomeLocked returns the line Done shows.
func (t *Task) outcomeLocked(outcome string, now time.Time, color bool) string {
	outcome = strings.Join(strings.Fields(outcome), " ") // one line
	verb, reason, _ := strings.Cut(outcome, ": ")
	if verb == "" {
		verb = "done"
	}
	if color {
		switch verb {
		case "shipped":
			verb = colorGreen + verb + colorReset
		case "quarantined":
			verb = colorRed + verb + colorReset
		}
	}
	s := verb + " " + t.id
	if reason != "" {
		s += ": " + reason
	}
	if t.sent > 0 {
		s += " (" + formatSize(t.sent)
		if elapsed := now.Sub(t.start); elapsed > 0 {
			s += ", " + formatRate(float64(t.sent)/elapsed.Seconds())
		}
		s += ")"
	}
	return s
}

// lineLocked returns the episode's progress line. With width >= 0 it is
// the terminal's, id padded to width and a bar:
// "ep-0042  [=========>          ]  45%  540 MiB / 1.2 GiB  38 MB/s  ETA 17s";
// with width < 0 the plain one, without the padding and the bar:
// "ep-0042 45%  540 MiB / 1.2 GiB  38 MB/s  ETA 17s".
func (t *Task) lineLocked(now time.Time, width int) string {
	var b strings.Builder
	if width >= 0 {
		id := t.shortID()
		b.WriteString(id + strings.Repeat(" ", width-len([]rune(id))))
	} else {
		b.WriteString(t.id)
	}
	if t.total > 0 {
		pct := min(t.sent*100/t.total, 100)
		if width >= 0 {
			frac := float64(t.sent) / float64(t.total)
			fmt.Fprintf(&b, "  %s  %3d%%", bar(frac, barWidth), pct)
		} else {
			fmt.Fprintf(&b, " %d%%", pct)
		}
		fmt.Fprintf(&b, "  %s / %s", formatSize(t.sent), formatSize(t.total))
	} else {
		b.WriteString("  " + formatSize(t.sent))
	}
	elapsed := now.Sub(t.start)
	if elapsed < minRateElapsed {
		return b.String()
	}
	rate := float64(t.sent) / elapsed.Seconds()
	b.WriteString("  " + formatRate(rate))
	if left := t.total - t.sent; rate > 0 && left > 0 {
		b.WriteString("  ETA " + formatETA(time.Duration(float64(left)/rate*float64(time.Second))))
	}
	return b.String()
}

// shortID returns the id cut to maxIDWidth characters for the terminal.
func (t *Task) shortID() string {
	r := []rune(t.id)
	if len(r) <= maxIDWidth {
		return t.id
	}
	return string(r[:maxIDWidth-1]) + "…"
}
