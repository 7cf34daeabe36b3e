package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/workers"
)

// slowSeq makes namespace and link names unique within this process.
var slowSeq atomic.Int32

// slowLink is two network namespaces joined by a veth pair whose both ends
// are rate-limited with tc tbf: the hub's side (10.249.0.1) and the lab
// host's (10.249.0.2). The addresses exist only inside the namespaces.
type slowLink struct {
	hubNS, labNS   string
	hubDev, labDev string
}

const (
	slowHubIP = "10.249.0.1"
	slowLabIP = "10.249.0.2"
	slowRate  = 100e6 / 8 // bytes per second of frames: tbf rate 100mbit
)

// slowRun runs a command and fails the test with its output if it fails.
func slowRun(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// newSlowLink builds the two namespaces and the link, or skips the test
// where that is not possible; t.Cleanup deletes them, also on failure.
func newSlowLink(t *testing.T) *slowLink {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: the slow-link scenario needs root (ip netns, tc)")
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipped: %s not found (install iproute2)", tool)
		}
	}
	tag := fmt.Sprintf("%d%d", os.Getpid()%100000, slowSeq.Add(1))
	l := &slowLink{hubNS: "c3hub" + tag, labNS: "c3lab" + tag, hubDev: "c3h" + tag, labDev: "c3l" + tag}
	if out, err := exec.Command("ip", "netns", "add", l.hubNS).CombinedOutput(); err != nil {
		t.Skipf("skipped: ip netns unavailable here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", l.hubNS).Run() })
	slowRun(t, "ip", "netns", "add", l.labNS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", l.labNS).Run() })
	slowRun(t, "ip", "link", "add", l.hubDev, "type", "veth", "peer", "name", l.labDev)
	slowRun(t, "ip", "link", "set", l.hubDev, "netns", l.hubNS)
	slowRun(t, "ip", "link", "set", l.labDev, "netns", l.labNS)
	for _, side := range []struct{ ns, dev, ip string }{{l.hubNS, l.hubDev, slowHubIP}, {l.labNS, l.labDev, slowLabIP}} {
		slowRun(t, "ip", "-n", side.ns, "addr", "add", side.ip+"/30", "dev", side.dev)
		slowRun(t, "ip", "-n", side.ns, "link", "set", "lo", "up")
		slowRun(t, "ip", "-n", side.ns, "link", "set", side.dev, "up")
		slowRun(t, "ip", "netns", "exec", side.ns, "tc", "qdisc", "add", "dev", side.dev, "root",
			"tbf", "rate", "100mbit", "burst", "256kb", "latency", "50ms")
	}
	return l
}

// cmd is name with args run inside the namespace ns.
func (l *slowLink) cmd(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// setLab brings the lab host's end of the link up or down.
func (l *slowLink) setLab(t testing.TB, up bool) {
	t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	slowRun(t, "ip", "-n", l.labNS, "link", "set", l.labDev, state)
}

// dial connects to addr from inside the namespace ns. The socket is made
// on a thread switched into ns and stays there; the thread is never given
// back to the scheduler (it exits with its goroutine), so no other
// goroutine runs in the wrong namespace.
func slowDial(ns, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/var/run/netns", ns))
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		c, err := net.DialTimeout(network, addr, 5*time.Second)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// metric reads one sample of the /metrics served on 127.0.0.1:port inside
// ns, -1 if it cannot.
func (l *slowLink) metric(ns string, port int, name string) float64 {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(_ context.Context, network, addr string) (net.Conn, error) { return slowDial(ns, network, addr) },
	}}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// startDaemon starts cmd with its output in a buffer; at cleanup it stops
// it (SIGTERM, then SIGKILL after 15 s) and logs the output if the test
// failed.
func startDaemon(t *testing.T, what string, cmd *exec.Cmd) *hubtest.Buffer {
	t.Helper()
	out := &hubtest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", what, out.String())
		}
	})
	return out
}

// TestSlowLink runs the hub and a receiver in one network namespace and
// the publisher in another, joined by a veth pair rate-limited to
// 100 Mbit/s with tc tbf, and ships one episode across it. Halfway through
// the lab host's end of the link is set down, then up again. It checks the
// rate before the cut (≥ 90 % of the link's 12.5 MB/s, in the full profile
// only: the short one logs it), that the episode
// ships after the cut, and that at most one segment was sent twice.
// Short profile: 96 MiB in 16 MiB segments, the link down for 5 s (a drop
// TCP rides out). Full (CIS490_E2E=full): 1 GiB in 64 MiB segments, the
// link down until the publisher has given the connection up.
func TestSlowLink(t *testing.T) {
	t.Parallel()
	l := newSlowLink(t)
	size, seg := int64(96<<20), int64(16<<20)
	if badFull() {
		size, seg = 1<<30, 64<<20
	}
	url := "nats://" + slowHubIP + ":4222"
	store := t.TempDir()
	hubOut := startDaemon(t, "hub", l.cmd(l.hubNS, bin, "hub", "--store", store, "--listen", slowHubIP+":4222", "--log-format", "json"))
	hubtest.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		if !strings.Contains(hubOut.String(), "hub ready") {
			return fmt.Errorf("hub not ready")
		}
		return nil
	})
	rcv := l.cmd(l.hubNS, bin, "receive", "--server", url, "--archive-dir", t.TempDir(), "--log-format", "json")
	rcv.Env = append(os.Environ(), "CIS490_RECEIVE_ACK_WAIT=10s")
	startDaemon(t, "receiver", rcv)

	data := t.TempDir()
	labEpisode(t, data, "ep-slow", badCommit, size)
	mport := 9090
	pub := l.cmd(l.labNS, bin, "publish", "--server", url, "--host-id", "lab1", "--data-dir", data, "--log-format", "json")
	pub.Env = append(os.Environ(), "CIS490_SHIP_SETTLE=1s", "CIS490_SHIP_SEGMENT_SIZE="+strconv.FormatInt(seg, 10)+"B",
		"CIS490_SHIP_SCAN_INTERVAL=200ms", "CIS490_METRICS_LISTEN=127.0.0.1:"+strconv.Itoa(mport))
	pubOut := startDaemon(t, "publisher", pub)
	sent := func() float64 { return l.metric(l.labNS, mport, "cis490_publisher_sent_bytes_total") }

	// The rate: from one segment sent, when the client's and the kernel's
	// buffers are full and stay so, to half the episode.
	var t0 time.Time
	var s0 float64
	hubtest.CheckFor(t, 2*time.Minute, 20*time.Millisecond, func() error {
		if s := sent(); s >= float64(seg) {
			t0, s0 = time.Now(), s
			return nil
		}
		return fmt.Errorf("nothing sent yet")
	})
	var t1 time.Time
	var s1 float64
	hubtest.CheckFor(t, 10*time.Minute, 20*time.Millisecond, func() error {
		if s := sent(); s >= float64(size)/2+float64(seg)/2 { // mid-segment
			t1, s1 = time.Now(), s
			return nil
		}
		return fmt.Errorf("sent %v bytes", sent())
	})
	rate := (s1 - s0) / t1.Sub(t0).Seconds()
	t.Logf("rate before the cut: %.0f bytes in %v: %.2f MB/s, %.1f%% of the link's %.1f MB/s",
		s1-s0, t1.Sub(t0).Round(time.Millisecond), rate/1e6, 100*rate/slowRate, slowRate/1e6)

	l.setLab(t, false)
	cut := time.Now()
	if badFull() {
		hubtest.CheckFor(t, 5*time.Minute, 100*time.Millisecond, func() error {
			if !strings.Contains(pubOut.String(), "episode held up; retrying with backoff") {
				return fmt.Errorf("publisher has not given the link up")
			}
			return nil
		})
	} else {
		time.Sleep(5 * time.Second)
	}
	l.setLab(t, true)
	t.Logf("link down for %v", time.Since(cut).Round(time.Millisecond))

	verdict := filepath.Join(data, "shipped", "ep-slow", workers.VerdictFile)
	hubtest.CheckFor(t, 15*time.Minute, 200*time.Millisecond, func() error {
		if !exists(verdict) {
			return fmt.Errorf("not shipped yet; sent %v", sent())
		}
		return nil
	})
	b, err := os.ReadFile(verdict)
	if err != nil {
		t.Fatal(err)
	}
	var v objectstore.Verdict
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	total := sent()
	t.Logf("archive %d bytes; sent %.0f in all; re-sent %.0f (one segment is %d)", v.ArchiveBytes, total, total-float64(v.ArchiveBytes), seg)
	if total > float64(v.ArchiveBytes+seg) {
		t.Errorf("sent %.0f bytes for a %d-byte archive: more than one segment re-sent", total, v.ArchiveBytes)
	}
	// The rate is asserted in the full profile only (make e2e, run on its
	// own): 90 % over a 1 GiB episode. In make test the packages run side
	// by side on the same cores and the short run's rate moved from 95.8 %
	// alone to 77.6 % beside them; a speed bar does not belong in a timed
	// test there (STYLE.md), so the short profile logs it and checks only
	// the resume and the bytes re-sent.
	if !badFull() {
		return
	}
	if want := 0.9; rate < want*slowRate {
		t.Errorf("rate before the cut %.2f MB/s, under %.0f%% of the link's %.1f MB/s", rate/1e6, want*100, slowRate/1e6)
	}
}
