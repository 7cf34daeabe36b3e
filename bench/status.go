package bench

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// status prints a line per finished measurement and, on a terminal, a live
// line saying what runs now, for how long, and how many episodes arrived.
type status struct {
	mu   sync.Mutex
	w    io.Writer
	tty  bool
	cur  string // what runs now
	live string // the live line as last drawn
}

func newStatus(w io.Writer, tty bool) *status { return &status{w: w, tty: tty} }

// set says what runs now.
func (s *status) set(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = fmt.Sprintf(format, a...)
	s.draw(s.cur)
}

// line prints a finished measurement above the live line.
func (s *status) line(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty {
		fmt.Fprint(s.w, "\r\033[K")
	}
	fmt.Fprintln(s.w, text)
	s.live = ""
}

func (s *status) draw(text string) {
	if !s.tty {
		return
	}
	fmt.Fprint(s.w, "\r\033[K"+text)
	s.live = text
}

// watch redraws the live line every half second with the time since t0
// and, when total > 0, the episodes in dir, until the returned func is
// called. In a pipe it does nothing.
func (s *status) watch(t0 time.Time, total int, dir string) (stop func()) {
	if !s.tty {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			text := fmt.Sprintf("%s: %.0f s", s.cur, time.Since(t0).Seconds())
			if total > 0 {
				text += fmt.Sprintf(", %d/%d episodes arrived", countDir(filepath.Clean(dir)), total)
			}
			s.mu.Lock()
			s.draw(text)
			s.mu.Unlock()
		}
	})
	return func() { close(done); wg.Wait() }
}

// close ends the live line.
func (s *status) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty && s.live != "" {
		fmt.Fprint(s.w, "\r\033[K")
	}
}

// resultLine is the plain line of one measurement.
func resultLine(r Result) string {
	line := fmt.Sprintf("  %-6s %-13s run %d: %7.1f MB/s %8.1f episodes/s  %d/%d arrived  sender %s  receiver %s  CPU s sender %.1f receiver %.1f hub %.1f",
		r.System, r.Workload.Label(), r.Run, r.MBps(), r.EpisodesPerSec(), r.Done, r.Workload.Count, mib(r.PubRSS), mib(r.RecvRSS),
		r.PubCPU.Seconds(), r.RecvCPU.Seconds(), r.HubCPU.Seconds())
	if r.Err != "" {
		line += "\n    error: " + lastLines(r.Err, 6)
	}
	return line
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// lastLines is the last n lines of s, indented to follow an error line.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n    ")
}
