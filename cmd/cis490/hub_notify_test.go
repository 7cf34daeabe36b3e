package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/notify"
	"github.com/cis490/cis490/notify/notifytest"
)

// hubNotifyStart starts an embedded hub on a free loopback port, with the
// config file conf if not empty, and shuts it down when the test ends.
func hubNotifyStart(t testing.TB, conf string) *hub.Hub {
	t.Helper()
	o := hub.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if conf != "" {
		o.ConfigFile = filepath.Join(t.TempDir(), "nats-server.conf")
		if err := os.WriteFile(o.ConfigFile, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h, err := hub.Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Shutdown(t.Context()) })
	return h
}

// TestCheckHub: a running hub passes with its resources counted in the
// STATUS= line; a hub whose server stopped fails; a hub whose config
// refuses its in-process client is checked by healthz alone.
func TestCheckHub(t *testing.T) {
	t.Parallel()
	t.Run("open", func(t *testing.T) {
		t.Parallel()
		h := hubNotifyStart(t, "")
		status, err := checkHub(t.Context(), h)
		if err != nil {
			t.Fatalf("checkHub on a running hub: %v", err)
		}
		// 3 streams and the 2 key-value buckets' streams; the receiver consumer.
		if want := "serving " + h.ClientURL() + "; 5 streams, 1 consumers, "; !strings.HasPrefix(status, want) {
			t.Errorf("checkHub = %q, want it to start with %q", status, want)
		}
		h.Server().Shutdown()
		h.Server().WaitForShutdown()
		if status, err := checkHub(t.Context(), h); err == nil {
			t.Fatalf("checkHub after the server stopped = %q, nil; want an error", status)
		}
	})
	t.Run("authorization", func(t *testing.T) {
		t.Parallel()
		h := hubNotifyStart(t, "authorization { users = [ { user: admin, password: s3cret } ] }\n")
		status, err := checkHub(t.Context(), h)
		if err != nil {
			t.Fatalf("checkHub on a hub with users: %v", err)
		}
		if want := "serving " + h.ClientURL() + "; healthz ok"; status != want {
			t.Errorf("checkHub = %q, want %q", status, want)
		}
	})
}

// hubNotifyListen starts a fake systemd notify socket and points this
// process's NOTIFY_SOCKET and watchdog at it (tests calling it set the
// environment, so they cannot run in parallel).
func hubNotifyListen(t *testing.T, watchdog time.Duration) *notifytest.Socket {
	t.Helper()
	s := notifytest.Listen(t)
	t.Setenv("NOTIFY_SOCKET", s.Path)
	t.Setenv("WATCHDOG_USEC", strconv.FormatInt(watchdog.Microseconds(), 10))
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	return s
}

// TestWatchHubPetsOnlyWhenHealthy runs the hub's health loop under a fake
// systemd with a 400 ms watchdog: WATCHDOG=1 flows while the server is
// healthy and stops once it is not, while STATUS= says why.
func TestWatchHubPetsOnlyWhenHealthy(t *testing.T) {
	sock := hubNotifyListen(t, 400*time.Millisecond) // sets the environment: not parallel
	h := hubNotifyStart(t, "")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sd := notify.New(log)
	if err := sd.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sd.Close(t.Context()) })
	if got := hubHealthInterval(sd); got != 100*time.Millisecond {
		t.Fatalf("hubHealthInterval = %v, want a quarter of the watchdog, 100ms", got)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchHub(t.Context(), h, sd, hubHealthInterval(sd), log)
	}()
	t.Cleanup(func() { <-done })

	count := func(msgs []string, prefix string) int {
		n := 0
		for _, m := range msgs {
			if strings.HasPrefix(m, prefix) {
				n++
			}
		}
		return n
	}
	hubtest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if msgs := sock.Messages(); count(msgs, "WATCHDOG=1") < 3 || count(msgs, "STATUS=serving ") < 3 {
			return fmt.Errorf("healthy hub: notify socket got %q", msgs)
		}
		return nil
	})

	h.Server().Shutdown()
	h.Server().WaitForShutdown()
	// Ten failed checks span a second, two and a half watchdog ticks. The
	// last heartbeat of the healthy hub may still be petted at the first
	// tick after the failure, so look only after the fifth failed check.
	var msgs []string
	hubtest.CheckFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		if msgs = sock.Messages(); count(msgs, "STATUS=unhealthy: ") < 10 {
			return fmt.Errorf("stopped server: notify socket got %q", msgs)
		}
		return nil
	})
	failed := 0
	for _, m := range msgs {
		switch {
		case strings.HasPrefix(m, "STATUS=unhealthy: server healthz"):
			failed++
		case strings.HasPrefix(m, "STATUS=unhealthy: jetstream round trip") && failed == 0:
			// The check in flight at the shutdown: healthz passed just
			// before, its round trip could not.
		case strings.HasPrefix(m, "STATUS=unhealthy: "):
			t.Fatalf("unhealthy status %q, want it to name the server's healthz", m)
		case m == "WATCHDOG=1" && failed >= 5:
			t.Fatalf("WATCHDOG=1 after %d failed checks; notify socket got %q", failed, msgs)
		}
	}
}
