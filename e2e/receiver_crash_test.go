package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

// startReceiver starts `cis490 receive` against url, exporting to archive,
// with the fault-injection step armed if crashAt is set.
func startReceiver(t testing.TB, url, archive, crashAt string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "receive", "--server", url, "--archive-dir", archive, "--log-format", "json")
	cmd.Env = append(os.Environ(), "CIS490_FAULT_CRASH_AT="+crashAt, "CIS490_RECEIVE_ACK_WAIT=2s")
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
	return cmd
}

// TestReceiverCrashAtEveryStep kills `cis490 receive` with SIGKILL right
// after each step of a verdict's effects, starts it again, and checks that
// the episode ends with exactly one decision, one export and one record.
func TestReceiverCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	cases := []struct {
		step   string
		stamp  bool
		reason subjects.Reason
	}{
		{receiver.StepDecided, true, subjects.Accepted},
		{receiver.StepExported, true, subjects.Accepted},
		{receiver.StepRecorded, true, subjects.Accepted},
		{receiver.StepDone, true, subjects.Accepted},
		{receiver.StepAcked, true, subjects.Accepted},
		{receiver.StepDecided, false, subjects.Unstamped},
		{receiver.StepRecorded, false, subjects.Unstamped},
		{receiver.StepDeleted, false, subjects.Unstamped},
		{receiver.StepDone, false, subjects.Unstamped},
	}
	for _, tc := range cases {
		t.Run(string(tc.reason)+"-"+tc.step, func(t *testing.T) {
			t.Parallel()
			crashCase(t, tc.step, tc.stamp, tc.reason)
		})
	}
}

func crashCase(t *testing.T, step string, stamped bool, want subjects.Reason) {
	h := startHub(t, t.TempDir(), freePort(t))
	ctx := t.Context()
	nc, js := hubtest.Connect(t, h.url)
	// Redeliver after 2 s rather than the default 2 min.
	ro := hub.DefaultResourceOptions()
	ro.ReceiverAckWait = 2 * time.Second
	if err := hub.EnsureResources(ctx, js, ro); err != nil {
		t.Fatal(err)
	}
	obs, err := hub.EnsureHostBucket(ctx, js, "lab1", ro)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ep-crash")
	os.MkdirAll(filepath.Join(dir, "cam"), 0o755)
	meta := `{"episode_id":"ep-crash","recorded_at":"2026-11-20T14:03:11Z"`
	if stamped {
		meta += `,"code_version":{"commit":"0123456789abcdef0123456789abcdef01234567"}`
	}
	os.WriteFile(filepath.Join(dir, "meta.json"), []byte(meta+"}"), 0o644)
	frames := bytes.Repeat([]byte("frame-"), 50000)
	os.WriteFile(filepath.Join(dir, "cam", "frames.bin"), frames, 0o644)
	st := objectstore.NewStore(js, obs)
	m, err := objectstore.Upload(ctx, st, dir, objectstore.UploadOptions{Host: "lab1", SegmentSize: 64 << 10, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(m)
	msg := nats.NewMsg(subjects.SubmitSubject("lab1"))
	msg.Data = body
	msgID := subjects.MsgID("lab1", m.EpisodeID, m.ArchiveSHA256, 1)
	msg.Header.Set(subjects.HeaderMsgID, msgID)
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}

	archive := t.TempDir()
	first := startReceiver(t, h.url, archive, step)
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	select {
	case err := <-done:
		ws, _ := first.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("receiver armed to crash at %s exited with %v, want SIGKILL", step, err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("receiver armed to crash at %s never got there", step)
	}
	startReceiver(t, h.url, archive, "")

	kv, err := js.KeyValue(ctx, subjects.VerdictsBucket)
	if err != nil {
		t.Fatal(err)
	}
	key := subjects.VerdictKey("lab1", m.EpisodeID)
	var v objectstore.Verdict
	hubtest.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		e, err := kv.Get(context.Background(), key)
		if err != nil {
			return err
		}
		v, _ = objectstore.ParseVerdict(e.Value())
		if !v.Done {
			return fmt.Errorf("verdict not done yet")
		}
		// And the submission is acknowledged: nothing left to redeliver.
		c, err := js.Consumer(ctx, subjects.SubmissionsStream, subjects.ReceiverConsumer)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumPending+uint64(info.NumAckPending) != 0 {
			return fmt.Errorf("%d pending, %d unacked", info.NumPending, info.NumAckPending)
		}
		return nil
	})
	if v.Reason != want {
		t.Fatalf("verdict %q %q, want %q", v.Reason, v.Detail, want)
	}
	hist, err := kv.History(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	decisions := 0
	for _, e := range hist {
		d, _ := objectstore.ParseVerdict(e.Value())
		if d.Reason != want || d.Submission != msgID {
			t.Fatalf("history holds another verdict: %+v", d)
		}
		if !d.Done {
			decisions++
		}
	}
	if decisions != 1 {
		t.Fatalf("%d decisions in the verdict history, want 1", decisions)
	}

	stream := subjects.QuarantineStream
	if want == subjects.Accepted {
		stream = subjects.AcceptedStream
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("%s holds %d records, want 1", stream, info.State.Msgs)
	}

	exported := filepath.Join(archive, "lab1", m.EpisodeID)
	if want == subjects.Accepted {
		got, err := os.ReadFile(filepath.Join(exported, "cam", "frames.bin"))
		if err != nil || !bytes.Equal(got, frames) {
			t.Fatalf("export: %d bytes, %v; want the %d source bytes", len(got), err, len(frames))
		}
		entries, _ := os.ReadDir(filepath.Join(archive, "lab1"))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if len(names) != 2 { // the export and its sidecar, no temp left
			t.Fatalf("archive dir holds %q, want the export and its sidecar", names)
		}
	} else {
		if _, err := os.Stat(exported); !os.IsNotExist(err) {
			t.Fatalf("rejected episode exported: %v", err)
		}
		for _, seg := range m.Segments {
			if ok, err := st.Has(ctx, m.EpisodeID, seg); err != nil || ok {
				t.Fatalf("rejected segment still stored: %v %v", ok, err)
			}
		}
	}
	nc.Close()
}
