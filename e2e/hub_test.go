package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// bin is the cis490 binary built once by TestMain for every test.
var bin string

// natsServerBin is the stock nats-server, built by TestMain from the
// version this module requires, for the cluster of real server processes.
var natsServerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cis490-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "cis490")
	natsServerBin = filepath.Join(dir, "nats-server")
	for _, b := range []struct{ out, pkg string }{
		{bin, "../cmd/cis490"},
		{natsServerBin, "github.com/nats-io/nats-server/v2"},
	} {
		if out, err := exec.Command("go", "build", "-o", b.out, b.pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", b.pkg, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// hubProc is a `cis490 hub` process.
type hubProc struct {
	cmd *exec.Cmd
	url string
}

func startHub(t testing.TB, store string, port int) *hubProc {
	t.Helper()
	listen := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "hub", "--store", store, "--listen", listen, "--log-format", "json")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &hubProc{cmd: cmd, url: "nats://" + listen}
	t.Cleanup(func() { h.kill() })
	hubtest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		nc, err := nats.Connect(h.url)
		if err != nil {
			return err
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		// The receiver consumer is the last resource the hub ensures at
		// start; a receiver started before the window bucket exists exits.
		_, err = js.Consumer(context.Background(), subjects.SubmissionsStream, subjects.ReceiverConsumer)
		return err
	})
	return h
}

func (h *hubProc) kill() {
	if h.cmd.ProcessState == nil {
		h.cmd.Process.Kill()
		h.cmd.Wait()
	}
}

// TestHubSurvivesKill stores an episode through a `cis490 hub` process,
// kills the hub with SIGKILL, starts it again on the same store, and reads
// the episode back byte for byte; then stops it with SIGTERM and expects a
// clean exit.
func TestHubSurvivesKill(t *testing.T) {
	t.Parallel()
	store, port := t.TempDir(), freePort(t)
	h := startHub(t, store, port)

	episode := filepath.Join(t.TempDir(), "ep-kill")
	if err := os.MkdirAll(filepath.Join(episode, "cam"), 0o755); err != nil {
		t.Fatal(err)
	}
	meta := `{"episode_id":"ep-kill","recorded_at":"2026-11-20T14:03:11Z","code_version":{"commit":"0123456789abcdef0123456789abcdef01234567"}}`
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i * 7 / 5)
	}
	os.WriteFile(filepath.Join(episode, "meta.json"), []byte(meta), 0o644)
	os.WriteFile(filepath.Join(episode, "cam", "frames.bin"), data, 0o644)

	ctx := t.Context()
	nc, js := hubtest.Connect(t, h.url)
	obs, err := hub.EnsureHostBucket(ctx, js, "lab1", hub.DefaultResourceOptions())
	if err != nil {
		t.Fatal(err)
	}
	m, err := objectstore.Upload(ctx, objectstore.NewStore(js, obs), episode, objectstore.UploadOptions{
		Host: "lab1", SegmentSize: 1 << 20, SpoolDir: t.TempDir(),
	})
	if err != nil {
		t.Fatalf("Upload = %v", err)
	}
	nc.Close()

	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.cmd.Wait()
	h = startHub(t, store, port)

	_, js = hubtest.Connect(t, h.url)
	obs, err = js.ObjectStore(ctx, subjects.EpisodeBucket("lab1"))
	if err != nil {
		t.Fatalf("bucket after restart: %v", err)
	}
	var got []byte
	_, err = objectstore.ReadArchive(ctx, objectstore.NewStore(js, obs), &m, objectstore.Limits{}, func(e objectstore.Entry, r io.Reader) error {
		if e.Name == "cam/frames.bin" {
			got, err = io.ReadAll(r)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ReadArchive after SIGKILL and restart = %v", err)
	}
	if string(got) != string(data) {
		t.Fatalf("frames.bin after restart: %d bytes, differ from the %d sent", len(got), len(data))
	}

	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("hub exit after SIGTERM: %v, want 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("hub did not exit within 15 s of SIGTERM")
	}
}
