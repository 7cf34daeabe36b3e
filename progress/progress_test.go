package progress

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the output")

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// output is a goroutine-safe writer that keeps what was written and counts
// the writes.
type output struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writes++
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func (o *output) Writes() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.writes
}

// screen replays what a terminal Display wrote on an endless screen and
// returns its lines, as a terminal would show them: it moves the cursor
// with \r, \n and ESC[nA, erases with ESC[2K and ESC[J, and drops colours
// (ESC[...m). It fails on any other escape sequence.
func screen(t testing.TB, out string) []string {
	t.Helper()
	var lines [][]rune
	row, col := 0, 0
	put := func(r rune) {
		for len(lines) <= row {
			lines = append(lines, nil)
		}
		for len(lines[row]) < col {
			lines[row] = append(lines[row], ' ')
		}
		if col < len(lines[row]) {
			lines[row][col] = r
		} else {
			lines[row] = append(lines[row], r)
		}
		col++
	}
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '\r':
			col = 0
		case '\n':
			row, col = row+1, 0
		case '\x1b':
			if i+1 >= len(rs) || rs[i+1] != '[' {
				t.Fatalf("screen: lone ESC at rune %d", i)
			}
			j := i + 2
			for j < len(rs) && (rs[j] >= '0' && rs[j] <= '9' || rs[j] == ';') {
				j++
			}
			if j >= len(rs) {
				t.Fatalf("screen: unterminated escape at rune %d", i)
			}
			param := string(rs[i+2 : j])
			switch rs[j] {
			case 'A':
				n, err := strconv.Atoi(param)
				if err != nil {
					t.Fatalf("screen: cursor up %q: %v", param, err)
				}
				row = max(row-n, 0)
			case 'K':
				if param != "2" {
					t.Fatalf("screen: erase in line %q, want 2", param)
				}
				if row < len(lines) {
					lines[row] = nil
				}
			case 'J':
				if param != "" || col != 0 {
					t.Fatalf("screen: erase below %q at column %d, want no parameter at column 0", param, col)
				}
				if row < len(lines) {
					lines = lines[:row]
				}
			case 'm':
			default:
				t.Fatalf("screen: unexpected escape %q", string(rs[i:j+1]))
			}
			i = j
		default:
			put(r)
		}
	}
	s := make([]string, 0, len(lines))
	for _, l := range lines {
		s = append(s, strings.TrimRight(string(l), " "))
	}
	return s
}

// noColor makes the Displays of this test colourless, whatever the
// environment of the test run.
func noColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
}

// upload adds size bytes to task at bytesPerSecond, in steps of 100 ms of
// fake time half way between the redraws of a Display made at a multiple
// of 100 ms, so that what a redraw sees does not depend on which of two
// goroutines woken at the same instant runs first.
func upload(task *Task, size, bytesPerSecond int64) {
	step := bytesPerSecond / 10
	time.Sleep(RedrawInterval / 2)
	for sent := int64(0); sent < size; sent += step {
		task.Add(min(step, size-sent))
		time.Sleep(RedrawInterval)
	}
}

func TestPlainLines(t *testing.T) {
	noColor(t)
	tests := []struct {
		name    string
		total   int64
		adds    []int64 // one a second
		outcome string
		want    []string
	}{
		{
			name:    "0 to 100% in 20 equal steps",
			total:   100 * mib,
			adds:    repeat(5*mib, 20),
			outcome: "shipped",
			want: []string{
				"ep-0042 started, 100 MiB",
				"ep-0042 10%  10 MiB / 100 MiB  5.2 MB/s  ETA 18s",
				"ep-0042 20%  20 MiB / 100 MiB  5.2 MB/s  ETA 16s",
				"ep-0042 30%  30 MiB / 100 MiB  5.2 MB/s  ETA 14s",
				"ep-0042 40%  40 MiB / 100 MiB  5.2 MB/s  ETA 12s",
				"ep-0042 50%  50 MiB / 100 MiB  5.2 MB/s  ETA 10s",
				"ep-0042 60%  60 MiB / 100 MiB  5.2 MB/s  ETA 8s",
				"ep-0042 70%  70 MiB / 100 MiB  5.2 MB/s  ETA 6s",
				"ep-0042 80%  80 MiB / 100 MiB  5.2 MB/s  ETA 4s",
				"ep-0042 90%  90 MiB / 100 MiB  5.2 MB/s  ETA 2s",
				"ep-0042 100%  100 MiB / 100 MiB  5.2 MB/s",
				"shipped ep-0042 (100 MiB, 5.2 MB/s)",
				"episodes: 1/1 done  bytes: 100 MiB / 100 MiB  5.2 MB/s",
			},
		},
		{
			name:    "1000 small steps make 10 lines",
			total:   1000 * kib,
			adds:    repeat(kib, 1000),
			outcome: "shipped",
			want: []string{
				"ep-0042 started, 1000 KiB",
				"ep-0042 10%  100 KiB / 1000 KiB  1.0 kB/s  ETA 15m00s",
				"ep-0042 20%  200 KiB / 1000 KiB  1.0 kB/s  ETA 13m20s",
				"ep-0042 30%  300 KiB / 1000 KiB  1.0 kB/s  ETA 11m40s",
				"ep-0042 40%  400 KiB / 1000 KiB  1.0 kB/s  ETA 10m00s",
				"ep-0042 50%  500 KiB / 1000 KiB  1.0 kB/s  ETA 8m20s",
				"ep-0042 60%  600 KiB / 1000 KiB  1.0 kB/s  ETA 6m40s",
				"ep-0042 70%  700 KiB / 1000 KiB  1.0 kB/s  ETA 5m00s",
				"ep-0042 80%  800 KiB / 1000 KiB  1.0 kB/s  ETA 3m20s",
				"ep-0042 90%  900 KiB / 1000 KiB  1.0 kB/s  ETA 1m40s",
				"ep-0042 100%  1000 KiB / 1000 KiB  1.0 kB/s",
				"shipped ep-0042 (1000 KiB, 1.0 kB/s)",
				"episodes: 1/1 done  bytes: 1000 KiB / 1000 KiB  1.0 kB/s",
			},
		},
		{
			name:    "big steps skip tenths",
			total:   100 * mib,
			adds:    []int64{35 * mib, 5 * mib, 60 * mib},
			outcome: "shipped",
			want: []string{
				"ep-0042 started, 100 MiB",
				"ep-0042 35%  35 MiB / 100 MiB  37 MB/s  ETA 2s",
				"ep-0042 40%  40 MiB / 100 MiB  21 MB/s  ETA 3s",
				"ep-0042 100%  100 MiB / 100 MiB  35 MB/s",
				"shipped ep-0042 (100 MiB, 35 MB/s)",
				"episodes: 1/1 done  bytes: 100 MiB / 100 MiB  35 MB/s",
			},
		},
		{
			name:    "quarantined before upload",
			total:   1288490189,
			outcome: "quarantined: unstamped",
			want: []string{
				"ep-0042 started, 1.2 GiB",
				"quarantined ep-0042: unstamped",
				"episodes: 1/1 done  bytes: 0 B",
			},
		},
		{
			name:    "size not known",
			adds:    []int64{mib, mib},
			outcome: "shipped",
			want: []string{
				"ep-0042 started",
				"shipped ep-0042 (2.0 MiB, 1.0 MB/s)",
				"episodes: 1/1 done  bytes: 2.0 MiB / 2.0 MiB  1.0 MB/s",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var out output
				d := New(&out, false)
				d.SetTotals(1)
				task := d.Start("ep-0042", tt.total)
				for _, n := range tt.adds {
					time.Sleep(time.Second)
					task.Add(n)
				}
				task.Done(tt.outcome)
				d.Close()

				got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
				if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
					t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
				}
				if strings.Contains(out.String(), "\x1b") {
					t.Errorf("plain output has escape sequences: %q", out.String())
				}
				progress := 0
				for _, l := range got {
					if strings.HasPrefix(l, "ep-0042 ") && strings.Contains(l, "%") {
						progress++
					}
				}
				if progress > 10 {
					t.Errorf("%d progress lines, want at most 10", progress)
				}
			})
		})
	}
}

func repeat(n int64, times int) []int64 {
	s := make([]int64, times)
	for i := range s {
		s[i] = n
	}
	return s
}

func TestTerminal(t *testing.T) {
	noColor(t)
	synctest.Test(t, func(t *testing.T) {
		var out output
		d := New(&out, true)
		d.SetTotals(3)
		a := d.Start("ep-0042", 300*mib)
		b := d.Start("ep-0043", 100*mib)

		// Two seconds in, both bars are on the screen under nothing.
		uploaded := make(chan struct{})
		go func() {
			upload(a, 300*mib, 40*mib)
			close(uploaded)
		}()
		time.Sleep(2*time.Second + 50*time.Millisecond)
		want := []string{
			"ep-0042  [=====>              ]   26%  80 MiB / 300 MiB  42 MB/s  ETA 6s",
			"ep-0043  [                    ]    0%  0 B / 100 MiB  0 B/s",
			"episodes: 0/3 done, 2 in flight  bytes: 80 MiB / 400 MiB  42 MB/s",
		}
		requireScreen(t, &out, want)

		// ep-0043 is quarantined: its outcome goes above the block, its
		// bar goes.
		b.Done("quarantined: unstamped")
		time.Sleep(RedrawInterval)
		want = []string{
			"quarantined ep-0043: unstamped",
			"ep-0042  [=====>              ]   28%  84 MiB / 300 MiB  42 MB/s  ETA 5s",
			"episodes: 1/3 done, 1 in flight  bytes: 84 MiB / 300 MiB  42 MB/s",
		}
		requireScreen(t, &out, want)

		<-uploaded
		a.Done("shipped")
		c := d.Start("ep-0044", 0)
		c.Add(512 * kib)
		time.Sleep(RedrawInterval)
		c.Done("shipped")
		d.Close()
		want = []string{
			"quarantined ep-0043: unstamped",
			"shipped ep-0042 (300 MiB, 42 MB/s)",
			"shipped ep-0044 (512 KiB, 5.2 MB/s)",
			"episodes: 3/3 done  bytes: 300 MiB / 300 MiB  41 MB/s",
		}
		requireScreen(t, &out, want)

		raw := out.String()
		for _, seq := range []string{"\x1b[2K", "\x1b[3A", "\x1b[J"} {
			if !strings.Contains(raw, seq) {
				t.Errorf("terminal output has no %q", seq)
			}
		}

		// After Close nothing more is written, and the ticker has
		// stopped (synctest.Test fails if its goroutine is still there).
		n := out.Writes()
		late := d.Start("ep-0045", 10)
		late.Add(5)
		time.Sleep(time.Second)
		late.Done("shipped")
		d.SetTotals(4)
		d.Close()
		if got := out.Writes(); got != n {
			t.Errorf("%d writes after Close, want none", got-n)
		}
	})
}

// requireScreen fails unless out, replayed on a screen, shows want.
func requireScreen(t testing.TB, out *output, want []string) {
	t.Helper()
	got := screen(t, out.String())
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTerminalRedrawsAtMostTenTimesASecond(t *testing.T) {
	noColor(t)
	synctest.Test(t, func(t *testing.T) {
		var out output
		d := New(&out, true)
		task := d.Start("ep-0042", 100*mib)
		// An Add every millisecond for ten seconds.
		for range 10_000 {
			time.Sleep(time.Millisecond)
			task.Add(10 * kib)
		}
		if got, limit := out.Writes(), 10*int(time.Second/RedrawInterval); got > limit {
			t.Errorf("%d redraws in 10s, want at most %d", got, limit)
		}
		if got := out.Writes(); got == 0 {
			t.Error("no redraw in 10s")
		}
		d.Close()
	})
}

func TestTerminalIdleDoesNotRedraw(t *testing.T) {
	noColor(t)
	synctest.Test(t, func(t *testing.T) {
		var out output
		d := New(&out, true)
		defer d.Close()
		time.Sleep(10 * time.Second)
		if got := out.Writes(); got != 0 {
			t.Errorf("%d writes with nothing to show, want 0", got)
		}
		d.SetTotals(2)
		time.Sleep(10 * time.Second)
		if got := out.Writes(); got != 1 {
			t.Errorf("%d writes for one change with nothing in flight, want 1", got)
		}
	})
}

func TestNoWritesAfterClose(t *testing.T) {
	noColor(t)
	for _, tty := range []bool{false, true} {
		t.Run(fmt.Sprintf("tty=%v", tty), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var out output
				d := New(&out, tty)
				inFlight := d.Start("ep-0042", 100)
				inFlight.Add(10)
				time.Sleep(time.Second)
				d.Close()
				n := out.Writes()
				if n == 0 {
					t.Fatal("nothing written before Close")
				}

				inFlight.Add(90)
				late := d.Start("ep-0043", 100)
				late.Add(100)
				time.Sleep(time.Second)
				late.Done("shipped")
				inFlight.Done("shipped")
				d.SetTotals(2)
				d.Close()
				if got := out.Writes(); got != n {
					t.Errorf("%d writes after Close, want none: %q", got-n, out.String())
				}
			})
		})
	}
}

func TestColor(t *testing.T) {
	tests := []struct {
		name      string
		tty       bool
		noColor   string
		term      string
		wantColor bool
	}{
		{name: "terminal", tty: true, term: "xterm-256color", wantColor: true},
		{name: "terminal, NO_COLOR", tty: true, noColor: "1", term: "xterm-256color"},
		{name: "terminal, empty NO_COLOR", tty: true, noColor: "", term: "xterm", wantColor: true},
		{name: "terminal, TERM=dumb", tty: true, term: "dumb"},
		{name: "pipe", tty: false, term: "xterm-256color"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NO_COLOR", tt.noColor)
			t.Setenv("TERM", tt.term)
			synctest.Test(t, func(t *testing.T) {
				var out output
				d := New(&out, tt.tty)
				a := d.Start("ep-0042", 10)
				a.Add(10)
				time.Sleep(time.Second)
				a.Done("shipped")
				d.Start("ep-0043", 10).Done("quarantined: unstamped")
				d.Close()

				raw := out.String()
				gotColor := strings.Contains(raw, colorGreen+"shipped"+colorReset) &&
					strings.Contains(raw, colorRed+"quarantined"+colorReset)
				if gotColor != tt.wantColor {
					t.Errorf("coloured outcomes = %v, want %v; output %q", gotColor, tt.wantColor, raw)
				}
				if !tt.wantColor && (strings.Contains(raw, "\x1b[3") || strings.Contains(raw, colorReset)) {
					t.Errorf("colour in output %q", raw)
				}
				// Colour never changes the redrawing.
				if redrawn := strings.Contains(raw, "\x1b[2K"); redrawn != tt.tty {
					t.Errorf("redrawn = %v, want %v (tty)", redrawn, tt.tty)
				}
			})
		})
	}
}

func TestConcurrentAdd(t *testing.T) {
	noColor(t)
	for _, tty := range []bool{false, true} {
		t.Run(fmt.Sprintf("tty=%v", tty), func(t *testing.T) {
			const (
				goroutines = 8
				adds       = 2000
				chunk      = 4 * kib
				total      = goroutines * adds * chunk
			)
			var out output
			d := New(&out, tty)
			d.SetTotals(2)
			shared := d.Start("ep-shared", total)
			var wg sync.WaitGroup
			for i := range goroutines {
				wg.Go(func() {
					own := d.Start(fmt.Sprintf("ep-%04d", i), chunk*adds)
					for range adds {
						shared.Add(chunk)
						own.Add(chunk)
					}
					own.Done("shipped")
				})
			}
			wg.Wait()
			shared.Done("shipped")
			d.Close()

			raw := out.String()
			if want := "shipped ep-shared (" + formatSize(total); !strings.Contains(raw, want) {
				t.Errorf("output has no %q:\n%s", want, raw)
			}
			if want := fmt.Sprintf("episodes: %d/2 done  bytes: %s / %s", goroutines+1, formatSize(2*total), formatSize(2*total)); !strings.Contains(raw, want) {
				t.Errorf("output has no %q:\n%s", want, raw)
			}
			if !tty {
				// Lines are whole: every one names an episode or is the
				// overall line.
				for _, l := range strings.Split(strings.TrimSuffix(raw, "\n"), "\n") {
					if !strings.HasPrefix(l, "ep-") && !strings.HasPrefix(l, "shipped ep-") && !strings.HasPrefix(l, "episodes: ") {
						t.Errorf("torn line %q", l)
					}
				}
			}
		})
	}
}

func TestNil(t *testing.T) {
	var d *Display
	task := d.Start("ep-0042", 10)
	if task != nil {
		t.Fatalf("nil Display: Start = %v, want nil", task)
	}
	d.SetTotals(1)
	task.Add(5)
	task.Done("shipped")
	d.Close()
}

func TestLongIDIsCutOnTerminal(t *testing.T) {
	noColor(t)
	synctest.Test(t, func(t *testing.T) {
		var out output
		d := New(&out, true)
		id := "ep-" + strings.Repeat("x", 40)
		d.Start(id, 100).Add(50)
		time.Sleep(RedrawInterval)
		synctest.Wait() // for the redraw
		lines := screen(t, out.String())
		if want := "ep-" + strings.Repeat("x", 20) + "…  ["; !strings.HasPrefix(lines[0], want) {
			t.Errorf("line %q, want it to start %q", lines[0], want)
		}
		d.Close()
	})
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, tt := range []struct {
		name string
		f    *os.File
	}{
		{"nil", nil},
		{"file", f},
		{"pipe", w},
	} {
		if IsTerminal(tt.f) {
			t.Errorf("IsTerminal(%s) = true, want false", tt.name)
		}
	}
}

// TestDocOutput runs the run shown in docs/terminal.md, in a pipe and on a
// terminal, and compares the output with testdata/pipe.golden and
// testdata/terminal.golden (screens at a few moments); -update rewrites
// them.
func TestDocOutput(t *testing.T) {
	noColor(t)
	for _, tt := range []struct {
		golden string
		tty    bool
	}{
		{"pipe.golden", false},
		{"terminal.golden", true},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			var got string
			synctest.Test(t, func(t *testing.T) {
				got = docRun(t, tt.tty)
			})
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (go test -run TestDocOutput -update writes it): %v", err)
			}
			if got != string(want) {
				t.Errorf("output:\n%s\nwant (%s):\n%s", got, path, want)
			}

			// docs/terminal.md shows the same, a block per screen.
			doc, err := os.ReadFile(filepath.Join("..", "docs", "terminal.md"))
			if err != nil {
				t.Fatal(err)
			}
			for _, block := range strings.Split(got, "--- ") {
				if _, body, ok := strings.Cut(block, "\n"); ok && tt.tty {
					block = body
				}
				if block = strings.TrimSpace(block); block != "" && !strings.Contains(string(doc), "```\n"+block+"\n```") {
					t.Errorf("docs/terminal.md does not show, in a block of its own:\n%s", block)
				}
			}
		})
	}
}

// docRun publishes four episodes, at most two at a time, sharing a
// 40 MiB/s cap, and returns the pipe output, or on a terminal the screen at
// a few moments.
func docRun(t *testing.T, tty bool) string {
	const capacity = 40 * mib // bytes per second, shared
	var out output
	var shots strings.Builder
	shot := func(label string) {
		synctest.Wait() // the redraw of this instant is done
		fmt.Fprintf(&shots, "--- %s\n%s\n", label, strings.Join(screen(t, out.String()), "\n"))
	}
	type episode struct {
		id      string
		size    int64
		outcome string
		task    *Task
		sent    int64
	}
	queue := []*episode{
		{id: "ep-0042", size: 1288490189, outcome: "shipped"}, // 1.2 GiB
		{id: "ep-0043", size: 300 * mib, outcome: "shipped"},
		{id: "ep-0044", size: 2 * gib, outcome: "quarantined: unstamped"}, // fails pre-flight
		{id: "ep-0045", size: 180 * mib, outcome: "shipped"},
	}
	shots2 := map[time.Duration]string{
		10 * time.Second: "10 s in: ep-0042 and ep-0043 share the cap",
		20 * time.Second: "20 s in: ep-0043 shipped, ep-0044 quarantined, ep-0045 started",
	}

	d := New(&out, tty)
	d.SetTotals(len(queue))
	start := time.Now()
	var active []*episode
	time.Sleep(RedrawInterval / 2) // act half way between redraws
	for len(queue) > 0 || len(active) > 0 {
		for len(active) < 2 && len(queue) > 0 {
			e := queue[0]
			queue = queue[1:]
			e.task = d.Start(e.id, e.size)
			if strings.HasPrefix(e.outcome, "quarantined") {
				e.task.Done(e.outcome)
				continue
			}
			active = append(active, e)
		}
		share := capacity / 10 / int64(len(active))
		still := active[:0]
		for _, e := range active {
			n := min(share, e.size-e.sent)
			e.sent += n
			e.task.Add(n)
			if e.sent == e.size {
				e.task.Done(e.outcome)
				continue
			}
			still = append(still, e)
		}
		active = still
		time.Sleep(RedrawInterval)
		if label, ok := shots2[time.Since(start)+RedrawInterval/2]; ok && tty {
			time.Sleep(RedrawInterval / 2)
			shot(label)
			time.Sleep(RedrawInterval / 2)
		}
	}
	d.Close()
	if !tty {
		return out.String()
	}
	shot("the end")
	return shots.String()
}
