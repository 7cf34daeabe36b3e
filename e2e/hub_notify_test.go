package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/notify/notifytest"
	"github.com/cis490/cis490/subjects"
)

// hubNotifyIndex returns the index of the first datagram with a line
// starting with prefix, or -1.
func hubNotifyIndex(msgs []string, prefix string) int {
	for i, m := range msgs {
		for _, line := range strings.Split(m, "\n") {
			if strings.HasPrefix(line, prefix) {
				return i
			}
		}
	}
	return -1
}

// TestHubProcessNotify runs `cis490 hub` under a fake systemd, as the
// cis490-hub unit does: READY=1 comes once the resources exist, STATUS=
// counts them, WATCHDOG=1 keeps coming while the server is healthy, and
// SIGTERM sends STOPPING=1 and exits 0.
func TestHubProcessNotify(t *testing.T) {
	t.Parallel()
	sd := notifytest.Listen(t)
	listen := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(bin, "hub", "--store", t.TempDir(), "--listen", listen, "--log-format", "json")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sd.Path, "WATCHDOG_USEC=1000000")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("hub output:\n%s", out.String())
		}
	})

	hubtest.CheckFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		if !sd.Has("READY=1") {
			return fmt.Errorf("no READY=1 yet; notify socket got %q", sd.Messages())
		}
		return nil
	})
	// READY=1 is sent after the resources are ensured: they exist now,
	// without waiting.
	nc, err := nats.Connect("nats://"+listen, nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, s := range []string{subjects.SubmissionsStream, subjects.QuarantineStream, subjects.AcceptedStream} {
		if _, err := js.Stream(ctx, s); err != nil {
			t.Errorf("stream %s after READY=1: %v", s, err)
		}
	}
	if _, err := js.Consumer(ctx, subjects.SubmissionsStream, subjects.ReceiverConsumer); err != nil {
		t.Errorf("consumer %s after READY=1: %v", subjects.ReceiverConsumer, err)
	}

	// With WatchdogSec=1 the hub checks its server every 250 ms and pets
	// at every 500 ms tick: a few seconds of health are several WATCHDOG=1.
	hubtest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		pets := 0
		for _, m := range sd.Messages() {
			if m == "WATCHDOG=1" {
				pets++
			}
		}
		if pets < 4 || !sd.Has("STATUS=serving nats://"+listen+"; 5 streams, 1 consumers") {
			return fmt.Errorf("%d WATCHDOG=1; notify socket got %q", pets, sd.Messages())
		}
		return nil
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("hub after SIGTERM: %v, want exit 0", waitErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("hub did not exit within 30 s of SIGTERM")
	}
	msgs := sd.Messages()
	ready, stopping := hubNotifyIndex(msgs, "READY=1"), hubNotifyIndex(msgs, "STOPPING=1")
	if stopping < 0 || stopping < ready {
		t.Fatalf("STOPPING=1 at %d, READY=1 at %d: want STOPPING=1 after READY=1; notify socket got %q", stopping, ready, msgs)
	}
	if i := hubNotifyIndex(msgs, "WATCHDOG=1"); i < ready {
		t.Errorf("WATCHDOG=1 at %d, before READY=1 at %d", i, ready)
	}
}
