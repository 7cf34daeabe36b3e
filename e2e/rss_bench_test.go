package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// BenchmarkReceiverPeakRSS measures the peak resident memory (VmHWM) of a
// `cis490 receive` process that validates one 64 MiB episode, and of one
// that validates a 4 GiB episode, and reports both and their ratio: the
// validator streams, so the two should be within 10%.
//
//	go test -run '^$' -bench ReceiverPeakRSS -benchtime 1x -timeout 30m ./e2e
func BenchmarkReceiverPeakRSS(b *testing.B) {
	for b.Loop() {
		small := receiverPeakRSS(b, 64<<20)
		large := receiverPeakRSS(b, 4<<30)
		b.ReportMetric(float64(small)/(1<<20), "MiB-rss-64MiB")
		b.ReportMetric(float64(large)/(1<<20), "MiB-rss-4GiB")
		b.ReportMetric(float64(large)/float64(small), "ratio")
	}
}

// receiverPeakRSS ships one episode of size bytes to a fresh hub and
// returns the peak RSS of the receiver process that judged it.
func receiverPeakRSS(b *testing.B, size int64) int64 {
	b.Helper()
	h := startHub(b, b.TempDir(), freePort(b))
	ctx := b.Context()
	nc, js := hubtest.Connect(b, h.url)
	defer nc.Close()
	obs, err := hub.EnsureHostBucket(ctx, js, "lab1", hub.DefaultResourceOptions())
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(b.TempDir(), "ep-rss")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "meta.json"), []byte(`{"episode_id":"ep-rss","recorded_at":"2026-11-20T14:03:11Z","code_version":{"commit":"0123456789abcdef0123456789abcdef01234567"}}`), 0o644)
	writeNoise(b, filepath.Join(dir, "data.bin"), size)
	m, err := objectstore.Upload(ctx, objectstore.NewStore(js, obs), dir, objectstore.UploadOptions{Host: "lab1", SpoolDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(dir)

	cmd := exec.Command(bin, "receive", "--server", h.url, "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	body, _ := json.Marshal(m)
	msg := nats.NewMsg(subjects.SubmitSubject("lab1"))
	msg.Data = body
	msg.Header.Set(subjects.HeaderMsgID, subjects.MsgID("lab1", m.EpisodeID, m.ArchiveSHA256, 1))
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		b.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, subjects.VerdictsBucket)
	if err != nil {
		b.Fatal(err)
	}
	hubtest.CheckFor(b, 20*time.Minute, 100*time.Millisecond, func() error {
		e, err := kv.Get(ctx, subjects.VerdictKey("lab1", m.EpisodeID))
		if err != nil {
			return err
		}
		v, _ := objectstore.ParseVerdict(e.Value())
		if !v.Done {
			return fmt.Errorf("not done")
		}
		if v.Reason != subjects.Accepted {
			b.Fatalf("verdict %q %q", v.Reason, v.Detail)
		}
		return nil
	})
	return vmHWM(b, cmd.Process.Pid)
}

// vmHWM reads a process's peak resident set size from /proc.
func vmHWM(b testing.TB, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc status")
	return 0
}

// writeNoise writes size bytes that compress poorly, 8 MiB at a time.
func writeNoise(b testing.TB, p string, size int64) {
	b.Helper()
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 8<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		for i := 0; i < len(buf); i += 8 {
			v := r.Uint64()
			for j := 0; j < 8; j++ {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		if _, err := f.Write(buf[:min(int64(len(buf)), left)]); err != nil {
			b.Fatal(err)
		}
	}
}
