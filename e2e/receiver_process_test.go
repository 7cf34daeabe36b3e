package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/notify/notifytest"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// TestReceiveProcess runs `cis490 receive` under a fake systemd: it must send
// READY=1, pet the watchdog, serve /metrics with its verdicts, and on SIGTERM
// in the middle of a large validation send STOPPING=1 and exit 0, leaving
// the submission to be judged exactly once by the next receiver.
func TestReceiveProcess(t *testing.T) {
	t.Parallel()
	h := startHub(t, t.TempDir(), freePort(t))
	ctx := t.Context()
	nc, js := hubtest.Connect(t, h.url)
	ro := hub.DefaultResourceOptions()
	ro.ReceiverAckWait = 3 * time.Second
	if err := hub.EnsureResources(ctx, js, ro); err != nil {
		t.Fatal(err)
	}
	obs, err := hub.EnsureHostBucket(ctx, js, "lab1", ro)
	if err != nil {
		t.Fatal(err)
	}
	st := objectstore.NewStore(js, obs)
	submit := func(id string, size int) objectstore.Manifest {
		dir := filepath.Join(t.TempDir(), id)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "meta.json"), []byte(`{"episode_id":"`+id+`","recorded_at":"2026-11-20T14:03:11Z","code_version":{"commit":"0123456789abcdef0123456789abcdef01234567"}}`), 0o644)
		f, _ := os.Create(filepath.Join(dir, "data.bin"))
		io.CopyN(f, rand.Reader, int64(size))
		f.Close()
		m, err := objectstore.Upload(ctx, st, dir, objectstore.UploadOptions{Host: "lab1", SegmentSize: 8 << 20, SpoolDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(m)
		msg := nats.NewMsg(subjects.SubmitSubject("lab1"))
		msg.Data = body
		msg.Header.Set(subjects.HeaderMsgID, subjects.MsgID("lab1", id, m.ArchiveSHA256, 1))
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
		return m
	}
	verdict := func(id string) objectstore.Verdict {
		kv, _ := js.KeyValue(ctx, subjects.VerdictsBucket)
		var v objectstore.Verdict
		hubtest.CheckFor(t, 90*time.Second, 50*time.Millisecond, func() error {
			e, err := kv.Get(ctx, subjects.VerdictKey("lab1", id))
			if err != nil {
				return err
			}
			v, _ = objectstore.ParseVerdict(e.Value())
			if !v.Done {
				return fmt.Errorf("not done")
			}
			return nil
		})
		return v
	}

	sd := notifytest.Listen(t)
	port := freePort(t)
	cmd := exec.Command(bin, "receive", "--server", h.url, "--metrics-listen", "127.0.0.1:"+strconv.Itoa(port), "--log-format", "json")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sd.Path, "WATCHDOG_USEC=1000000", "CIS490_RECEIVE_ACK_WAIT=3s")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("receiver output:\n%s", out.String())
		}
	})
	hubtest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if !sd.Has("READY=1") || !sd.Has("WATCHDOG=1") || !sd.Has("STATUS=") {
			return fmt.Errorf("notify socket got %q", sd.Messages())
		}
		return nil
	})

	submit("ep-small", 1000)
	if v := verdict("ep-small"); v.Reason != subjects.Accepted {
		t.Fatalf("ep-small: %q %q", v.Reason, v.Detail)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `cis490_receiver_verdicts_total{reason="accepted"} 1`) ||
		!strings.Contains(string(body), "cis490_receiver_validation_seconds_count 1") {
		t.Fatalf("/metrics lacks the verdict:\n%s", body)
	}

	// A large episode, and SIGTERM while the receiver reads it.
	big := submit("ep-big", 96<<20)
	hubtest.CheckFor(t, 30*time.Second, 5*time.Millisecond, func() error {
		c, err := js.Consumer(ctx, subjects.SubmissionsStream, subjects.ReceiverConsumer)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumAckPending != 1 {
			return fmt.Errorf("%d in flight", info.NumAckPending)
		}
		return nil
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("receive after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("receive did not exit within 30 s of SIGTERM")
	}
	if !sd.Has("STOPPING=1") {
		t.Fatalf("no STOPPING=1; notify socket got %q", sd.Messages())
	}
	// Whether it finished the big one or handed it back, the next receiver
	// settles it, and there is one decision.
	startReceiver(t, h.url, t.TempDir(), "")
	if v := verdict("ep-big"); v.Reason != subjects.Accepted || v.ArchiveSHA256 != big.ArchiveSHA256 {
		t.Fatalf("ep-big: %q %q", v.Reason, v.Detail)
	}
	kv, _ := js.KeyValue(ctx, subjects.VerdictsBucket)
	hist, _ := kv.History(ctx, subjects.VerdictKey("lab1", "ep-big"))
	decisions := 0
	for _, e := range hist {
		if d, _ := objectstore.ParseVerdict(e.Value()); !d.Done {
			decisions++
		}
	}
	if decisions != 1 {
		t.Fatalf("ep-big: %d decisions, want 1", decisions)
	}
	nc.Close()
}
