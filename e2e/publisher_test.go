package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cis490/cis490/durable"
	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/notify/notifytest"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/workers"
)

// labEpisode writes dataDir/episodes/<id> with a meta.json (stamped unless
// commit is "") and a data file of size bytes.
func labEpisode(t testing.TB, dataDir, id, commit string, size int64) string {
	t.Helper()
	dir := filepath.Join(dataDir, "episodes", id)
	os.MkdirAll(dir, 0o755)
	meta := `{"episode_id":"` + id + `","recorded_at":"2026-11-20T14:03:11Z"`
	if commit != "" {
		meta += `,"code_version":{"commit":"` + commit + `"}`
	}
	os.WriteFile(filepath.Join(dir, "meta.json"), []byte(meta+"}"), 0o644)
	writeNoise(t, filepath.Join(dir, "data.bin"), size)
	// Settled: older than any settle time.
	old := time.Now().Add(-time.Hour)
	filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error { return os.Chtimes(p, old, old) })
	return dir
}

// publishCmd runs `cis490 publish` for host lab1 on dataDir.
func publishCmd(url, dataDir string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, append([]string{"publish", "--server", url, "--host-id", "lab1", "--data-dir", dataDir, "--log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "CIS490_SHIP_SETTLE=1s", "CIS490_SHIP_SEGMENT_SIZE=64KiB")
	return cmd
}

// TestPublisherCrashAtEveryStep kills `cis490 publish --once` with SIGKILL
// right after each transition of the state machine, runs it again, and
// checks the episode ends exactly once in shipped/ or quarantine/, never
// both, never lost, with one accepted copy on the hub.
func TestPublisherCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	good := []string{workers.StepJournaled, workers.StepSegmentSent, workers.StepUploaded, workers.StepPublished,
		workers.StepSubmitted, workers.StepVerdict, workers.StepMoved, workers.StepMarkerTemp, workers.StepMarked, workers.StepRetired}
	bad := []string{workers.StepPreflightJournaled, workers.StepMoved, workers.StepMarkerTemp, workers.StepMarked, workers.StepRetired}
	for _, step := range good {
		t.Run("shipped-"+step, func(t *testing.T) { t.Parallel(); publisherCrashCase(t, step, true) })
	}
	for _, step := range bad {
		t.Run("quarantined-"+step, func(t *testing.T) { t.Parallel(); publisherCrashCase(t, step, false) })
	}
}

func publisherCrashCase(t *testing.T, step string, stamped bool) {
	h := startHub(t, t.TempDir(), freePort(t))
	startReceiver(t, h.url, t.TempDir(), "")
	data := t.TempDir()
	commit := ""
	if stamped {
		commit = "0123456789abcdef0123456789abcdef01234567"
	}
	labEpisode(t, data, "ep-x", commit, 300<<10)

	var out bytes.Buffer
	first := publishCmd(h.url, data, "--once")
	first.Env = append(first.Env, "CIS490_FAULT_CRASH_AT="+step)
	first.Stdout, first.Stderr = &out, &out
	err := first.Run()
	ws, _ := first.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("publisher armed to crash at %s ended with %v, want SIGKILL\n%s", step, err, out.String())
	}
	out.Reset()
	second := publishCmd(h.url, data, "--once")
	second.Stdout, second.Stderr = &out, &out
	if err := second.Run(); err != nil {
		t.Fatalf("publisher after the crash: %v\n%s", err, out.String())
	}

	shipped := exists(filepath.Join(data, "shipped", "ep-x", workers.VerdictFile))
	quarantined := exists(filepath.Join(data, "quarantine", "ep-x", workers.ReasonFile))
	if shipped == quarantined || shipped != stamped {
		t.Fatalf("shipped=%v quarantined=%v, want exactly one (stamped=%v)\n%s", shipped, quarantined, stamped, out.String())
	}
	for _, d := range []string{"episodes", "outbox"} {
		if entries, _ := os.ReadDir(filepath.Join(data, d)); len(entries) != 0 {
			t.Fatalf("%s/ holds %d entries after the episode retired", d, len(entries))
		}
	}
	for _, d := range []string{"shipped", "quarantine"} {
		entries, _ := os.ReadDir(filepath.Join(data, d))
		if len(entries) > 1 {
			t.Fatalf("%s/ holds %d copies", d, len(entries))
		}
		filepath.WalkDir(filepath.Join(data, d), func(p string, _ fs.DirEntry, err error) error {
			if err == nil && strings.Contains(filepath.Base(p), durable.TempMarker) {
				t.Errorf("temp file %s left after the crash at %s", p, step)
			}
			return err
		})
	}
	_, js := hubtest.Connect(t, h.url)
	s, err := js.Stream(t.Context(), subjects.AcceptedStream)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(t.Context())
	want := uint64(0)
	if stamped {
		want = 1
	}
	if info.State.Msgs != want {
		t.Fatalf("hub announced %d accepted copies, want %d", info.State.Msgs, want)
	}
	if !stamped {
		// Pre-flight rejected it: nothing was uploaded at all.
		obs, err := js.ObjectStore(t.Context(), subjects.EpisodeBucket("lab1"))
		if err == nil {
			if infos, _ := obs.List(t.Context()); len(infos) != 0 {
				t.Fatalf("unstamped episode left %d objects on the hub", len(infos))
			}
		}
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestResumeAfterHubStop ships a 1 GiB episode; when about half of it has
// been sent the hub is stopped, then started again on the same store. The
// publisher daemon resumes and re-sends at most one 64 MiB segment.
func TestResumeAfterHubStop(t *testing.T) {
	t.Parallel()
	store, port := t.TempDir(), freePort(t)
	h := startHub(t, store, port)
	startReceiver(t, h.url, t.TempDir(), "")
	data := t.TempDir()
	const size = 1 << 30
	labEpisode(t, data, "ep-big", "0123456789abcdef0123456789abcdef01234567", size)

	mport := freePort(t)
	pub := publishCmd(h.url, data)
	pub.Env = append(pub.Env, "CIS490_SHIP_SEGMENT_SIZE=64MiB", "CIS490_METRICS_LISTEN=127.0.0.1:"+strconv.Itoa(mport))
	var out hubtest.Buffer
	pub.Stdout, pub.Stderr = &out, &out
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pub.Process.Signal(syscall.SIGTERM)
		pub.Wait()
		if t.Failed() {
			t.Logf("publisher output:\n%s", out.String())
		}
	})
	sent := func() float64 {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", mport))
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "cis490_publisher_sent_bytes_total "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
		return -1
	}
	hubtest.CheckFor(t, 5*time.Minute, 20*time.Millisecond, func() error {
		if s := sent(); s < size/2+16<<20 { // mid-segment
			return fmt.Errorf("sent %v bytes", s)
		}
		return nil
	})
	atCut := sent()
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	h.cmd.Wait()
	// Keep the hub down until the upload has really failed (the client's
	// reconnect buffer absorbs a short outage), then bring it back.
	hubtest.CheckFor(t, 2*time.Minute, 20*time.Millisecond, func() error {
		if !strings.Contains(out.String(), "episode held up; retrying with backoff") {
			return fmt.Errorf("publisher has not noticed the hub is gone")
		}
		return nil
	})
	h = startHub(t, store, port)
	startReceiver(t, h.url, t.TempDir(), "")

	verdict := filepath.Join(data, "shipped", "ep-big", workers.VerdictFile)
	hubtest.CheckFor(t, 10*time.Minute, 100*time.Millisecond, func() error {
		if !exists(verdict) {
			return fmt.Errorf("not shipped yet; sent %v", sent())
		}
		return nil
	})
	_, js := hubtest.Connect(t, h.url)
	kv, _ := js.KeyValue(context.Background(), subjects.VerdictsBucket)
	e, err := kv.Get(context.Background(), subjects.VerdictKey("lab1", "ep-big"))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := objectstore.ParseVerdict(e.Value())
	total := sent()
	t.Logf("archive %d bytes; sent %.0f before the stop, %.0f in all; re-sent %.0f", v.ArchiveBytes, atCut, total, total-float64(v.ArchiveBytes))
	if v.Reason != subjects.Accepted || total > float64(v.ArchiveBytes+objectstore.DefaultSegmentSize) {
		t.Fatalf("verdict %q; sent %.0f bytes for a %d-byte archive: more than one segment re-sent", v.Reason, total, v.ArchiveBytes)
	}
}

// TestPublisherWatchdog runs `cis490 publish` under a fake systemd with a
// 1 s watchdog and a scan every 100 ms: READY=1 arrives and WATCHDOG=1 keeps
// coming, also after a scan pass that panics; once a pass hangs, no
// WATCHDOG=1 comes at all, so systemd would kill and restart the daemon.
func TestPublisherWatchdog(t *testing.T) {
	t.Parallel()
	h := startHub(t, t.TempDir(), freePort(t))
	procs := map[*notifytest.Socket]*exec.Cmd{}
	run := func(t *testing.T, fault string) (*notifytest.Socket, *hubtest.Buffer) {
		sd := notifytest.Listen(t)
		cmd := publishCmd(h.url, t.TempDir())
		cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+sd.Path, "WATCHDOG_USEC=1000000",
			"CIS490_SHIP_SCAN_INTERVAL=100ms", "CIS490_FAULT_PASS="+fault)
		out := &hubtest.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[sd] = cmd
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
			if t.Failed() {
				t.Logf("publisher output:\n%s", out.String())
			}
		})
		return sd, out
	}
	pets := func(sd *notifytest.Socket) int {
		n := 0
		for _, m := range sd.Messages() {
			if strings.Contains(m, "WATCHDOG=1") {
				n++
			}
		}
		return n
	}
	t.Run("panicking-pass", func(t *testing.T) {
		sd, out := run(t, "panic:3")
		hubtest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
			if !sd.Has("READY=1") || !strings.Contains(out.String(), "scan pass panicked") || pets(sd) < 4 {
				return fmt.Errorf("READY=%v, panicked=%v, %d pets", sd.Has("READY=1"), strings.Contains(out.String(), "scan pass panicked"), pets(sd))
			}
			return nil
		})
	})
	t.Run("stuck-pass", func(t *testing.T) {
		sd, out := run(t, "stall:15")
		hubtest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
			if !sd.Has("READY=1") || !strings.Contains(out.String(), "scan pass hangs") {
				return fmt.Errorf("not stuck yet")
			}
			return nil
		})
		if pets(sd) == 0 {
			t.Fatal("no WATCHDOG=1 before the stuck pass")
		}
		// One pet may still be due for the last pass before the hang;
		// after that, two full watchdog intervals bring none.
		time.Sleep(1200 * time.Millisecond)
		before := pets(sd)
		time.Sleep(2 * time.Second)
		if after := pets(sd); after != before {
			t.Fatalf("%d WATCHDOG=1 while the scan pass hung", after-before)
		}
		// And a hung pass does not hold up a stop.
		cmd := procs[sd]
		cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("publish with a hung pass exited with %v after SIGTERM, want 0", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("publish with a hung pass did not exit within 10 s of SIGTERM")
		}
	})
}

// TestPublisherSIGTERM stops the daemon with SIGTERM in the middle of an
// upload throttled by max_rate: it exits 0 within 10 s, and a later run
// ships the episode exactly once from where it stood.
func TestPublisherSIGTERM(t *testing.T) {
	t.Parallel()
	h := startHub(t, t.TempDir(), freePort(t))
	startReceiver(t, h.url, t.TempDir(), "")
	data := t.TempDir()
	labEpisode(t, data, "ep-slow", "0123456789abcdef0123456789abcdef01234567", 48<<20)
	mport := freePort(t)
	cmd := publishCmd(h.url, data)
	cmd.Env = append(cmd.Env, "CIS490_SHIP_SEGMENT_SIZE=4MiB", "CIS490_SHIP_MAX_RATE=8MiB",
		"CIS490_METRICS_LISTEN=127.0.0.1:"+strconv.Itoa(mport))
	out := &hubtest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("publisher output:\n%s", out.String())
		}
	})
	started := time.Now()
	hubtest.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if !strings.Contains(out.String(), `"msg":"shipping episode"`) {
			return fmt.Errorf("not shipping yet")
		}
		return nil
	})
	time.Sleep(time.Second) // let a few throttled segments go
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stop := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("publish after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("publish did not exit within 10 s of SIGTERM")
	}
	t.Logf("stopped %v after SIGTERM, %v after start", time.Since(stop).Round(time.Millisecond), stop.Sub(started).Round(time.Millisecond))
	if exists(filepath.Join(data, "shipped", "ep-slow")) {
		t.Fatal("48 MiB at 8 MiB/s shipped in under the time before SIGTERM: max_rate not applied")
	}
	if !exists(filepath.Join(data, "outbox", "ep-slow.json")) || !exists(filepath.Join(data, "episodes", "ep-slow", "meta.json")) {
		t.Fatal("SIGTERM left no resumable state: journal or episode missing")
	}
	again := publishCmd(h.url, data, "--once")
	var o2 bytes.Buffer
	again.Stdout, again.Stderr = &o2, &o2
	if err := again.Run(); err != nil {
		t.Fatalf("publish --once after SIGTERM: %v\n%s", err, o2.String())
	}
	if !exists(filepath.Join(data, "shipped", "ep-slow", workers.VerdictFile)) || exists(filepath.Join(data, "episodes", "ep-slow")) {
		t.Fatalf("episode not shipped after the restart:\n%s", o2.String())
	}
	if !strings.Contains(o2.String(), "shipped 1, quarantined 0, failed 0") {
		t.Fatalf("summary missing:\n%s", o2.String())
	}
}

// TestPublishPing: --ping reports the round trip and exits 0 when the link,
// JetStream and this host's bucket and verdicts are reachable, and exits
// non-zero naming the reason when they are not. It writes nothing.
func TestPublishPing(t *testing.T) {
	t.Parallel()
	h := startHub(t, t.TempDir(), freePort(t))
	run := func(url string) (string, error) {
		cmd := exec.Command(bin, "publish", "--ping", "--server", url, "--host-id", "lab1", "--data-dir", t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(h.url)
	if err == nil || !strings.Contains(out, "EPISODES_LAB1") {
		t.Fatalf("--ping before the bucket exists: %v\n%s", err, out)
	}
	_, js := hubtest.Connect(t, h.url)
	if _, err := hub.EnsureHostBucket(t.Context(), js, "lab1", hub.DefaultResourceOptions()); err != nil {
		t.Fatal(err)
	}
	out, err = run(h.url)
	if err != nil || !strings.Contains(out, "round trip") || !strings.Contains(out, "host lab1 can reach the hub") {
		t.Fatalf("--ping: %v\n%s", err, out)
	}
	out, err = run("nats://127.0.0.1:" + strconv.Itoa(freePort(t)))
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "connect") {
		t.Fatalf("--ping to nothing: %v\n%s", err, out)
	}
	// Nothing was written: no submission, no verdict.
	s, _ := js.Stream(t.Context(), subjects.SubmissionsStream)
	if info, _ := s.Info(t.Context()); info.State.Msgs != 0 {
		t.Fatalf("--ping left %d submissions", info.State.Msgs)
	}
}

// TestPublishSettleZero checks that ship.settle = 0 means what the config
// says, "ship at once": an episode whose meta.json was written a moment ago
// is taken by the first pass (here an unstamped one, which the pre-flight
// quarantines), not held back for the 30 s default.
func TestPublishSettleZero(t *testing.T) {
	t.Parallel()
	h := startHub(t, t.TempDir(), freePort(t))
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, "episodes", "ep-fresh")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), []byte(`{"episode_id":"ep-fresh","recorded_at":"2026-11-20T14:03:11Z"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := publishCmd(h.url, dataDir, "--once")
	cmd.Env = append(cmd.Env, "CIS490_SHIP_SETTLE=0s")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("publish --once: %v\n%s", err, out)
	}
	if !exists(filepath.Join(dataDir, "quarantine", "ep-fresh", "quarantine_reason.json")) {
		t.Fatalf("settle 0: the fresh unstamped episode was not taken at once (still in episodes/: %v)\n%s",
			exists(dir), out)
	}
}
