package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is one child process of a measurement, with its output kept.
type proc struct {
	name  string
	cmd   *exec.Cmd
	mu    sync.Mutex
	out   bytes.Buffer // stdout and stderr, interleaved
	lines chan string  // stdout lines, as they come (dropped when full)
	done  chan struct{}
	err   error // of Wait, once done is closed
	peak  atomic.Int64
	cpu   time.Duration // user + system time, once done is closed
}

// samplePeriod is how often a process's VmHWM is read while it runs.
const samplePeriod = 20 * time.Millisecond

// sample keeps p.peak at the process's VmHWM until it exits. The
// high-water mark only grows, so the last reading is the peak but for what
// the process adds in its last samplePeriod, while it exits. (The
// ru_maxrss that wait4 reports would be simpler, and wrong: Linux counts
// in it the parent's resident set at the fork that started the child, so a
// child of the bench, whose hub holds hundreds of MiB, would seem as big.)
func (p *proc) sample() {
	t := time.NewTicker(samplePeriod)
	defer t.Stop()
	for {
		if n, err := p.hwm(); err == nil && n > p.peak.Load() {
			p.peak.Store(n)
		}
		select {
		case <-p.done:
			return
		case <-t.C:
		}
	}
}

// startProc starts bin with args and env (added to the environment).
func startProc(name, bin string, args, env []string) (*proc, error) {
	p := &proc{name: name, lines: make(chan string, 64), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = lockedWriter{p}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go p.sample()
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- line:
			default:
			}
		}
		io.Copy(io.Discard, stdout)
		p.err = p.cmd.Wait()
		if ps := p.cmd.ProcessState; ps != nil {
			p.cpu = ps.UserTime() + ps.SystemTime()
		}
		close(p.done)
	}()
	return p, nil
}

type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

// output is what the process printed so far, its last 2 KiB.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.out.Bytes()
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return strings.TrimSpace(string(b))
}

// wait waits for the process to exit, or kills it when ctx is done, and
// returns its peak RSS: its VmHWM, as last sampled.
func (p *proc) wait(ctx context.Context) (int64, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		p.cmd.Process.Kill()
		<-p.done
		return 0, fmt.Errorf("%s: %w", p.name, ctx.Err())
	}
	rss := p.peak.Load()
	if p.err != nil {
		return rss, fmt.Errorf("%s: %w: %s", p.name, p.err, p.output())
	}
	return rss, nil
}

// firstLine returns the first stdout line with prefix, waiting up to d.
func (p *proc) firstLine(prefix string, d time.Duration) (string, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case line := <-p.lines:
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				return rest, nil
			}
		case <-p.done:
			// The reader closes done after its last line: what is
			// buffered is all there is.
			for len(p.lines) > 0 {
				if rest, ok := strings.CutPrefix(<-p.lines, prefix); ok {
					return rest, nil
				}
			}
			return "", fmt.Errorf("%s exited before printing %q: %v: %s", p.name, prefix, p.err, p.output())
		case <-t.C:
			return "", fmt.Errorf("%s printed no %q within %v: %s", p.name, prefix, d, p.output())
		}
	}
}

// hwm reads the running process's peak RSS.
func (p *proc) hwm() (int64, error) {
	n, err := PeakRSS(p.cmd.Process.Pid)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p.name, err)
	}
	return n, nil
}

// peakPrefix starts the line on which a process the bench runs reports
// its own peak RSS as it ends (PrintPeakRSS): one that ends within the
// sampling period would otherwise go unmeasured.
const peakPrefix = "peak-rss "

// PrintPeakRSS writes this process's peak RSS on the line the bench reads.
// The bench's own processes (the stock client, the old HTTP shipper) call
// it last.
func PrintPeakRSS(w io.Writer) {
	if n, err := PeakRSS(os.Getpid()); err == nil {
		fmt.Fprintf(w, "%s%d\n", peakPrefix, n)
	}
}

// reportedRSS is the peak RSS the process printed, 0 if none. Call it
// after wait.
func (p *proc) reportedRSS() int64 {
	line, err := p.firstLine(peakPrefix, time.Second)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(line, 10, 64)
	return n
}

// PeakRSS reads a running process's peak RSS in bytes: VmHWM in
// /proc/<pid>/status, the high-water mark of its own address space since
// its exec.
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// stop sends SIGTERM and waits up to 30 s, then kills. A server stopped
// this way is expected to exit 0.
func (p *proc) stop() error {
	select {
	case <-p.done:
		return p.exitErr()
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitErr()
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within 30 s of SIGTERM: %s", p.name, p.output())
	}
}

func (p *proc) exitErr() error {
	if p.err != nil && !errors.Is(p.err, context.Canceled) {
		return fmt.Errorf("%s: %w: %s", p.name, p.err, p.output())
	}
	return nil
}

// selfCPU is the user and system time of this process so far: the
// embedded hub's, with the bench's own sampling.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
