package notify_test

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cis490/cis490/hub/hubtest"
)

// listenNotify opens a unixgram socket in a fresh temp dir, as systemd's
// notify socket, and points NOTIFY_SOCKET at it. WATCHDOG_USEC and
// WATCHDOG_PID are cleared; use setWatchdog to set them. Tests calling it
// cannot run in parallel (they set the environment).
func listenNotify(t testing.TB) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn := listenAt(t, path)
	t.Setenv("NOTIFY_SOCKET", path)
	unsetenv(t, "WATCHDOG_USEC")
	unsetenv(t, "WATCHDOG_PID")
	return conn
}

// listenAt binds a unixgram socket at path and closes it when the test ends.
func listenAt(t testing.TB, path string) *net.UnixConn {
	t.Helper()
	if len(path) >= 108 {
		t.Fatalf("socket path %q is %d bytes, longer than sun_path allows", path, len(path))
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", path, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// setWatchdog sets WATCHDOG_USEC to d and WATCHDOG_PID to this process, as
// systemd does for a unit with WatchdogSec=d.
func setWatchdog(t testing.TB, d time.Duration) {
	t.Helper()
	t.Setenv("WATCHDOG_USEC", strconv.FormatInt(d.Microseconds(), 10))
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
}

// unsetenv unsets key for the test and restores it afterwards.
func unsetenv(t testing.TB, key string) {
	t.Helper()
	t.Setenv(key, "") // registers the restore
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}

// recv waits up to timeout (real time) for one datagram and returns it.
func recv(t testing.TB, conn *net.UnixConn, timeout time.Duration) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read notify socket: %v (no datagram within %v)", err, timeout)
	}
	return string(buf[:n])
}

// drain returns every datagram already queued on conn, without waiting.
// It reads with MSG_DONTWAIT, so it works the same inside a synctest bubble,
// where read deadlines would mix the fake and the real clock.
func drain(t testing.TB, conn *net.UnixConn) []string {
	t.Helper()
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	buf := make([]byte, 4096)
	for {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
			return true // never wait for readiness
		}); err != nil {
			t.Fatal(err)
		}
		if errors.Is(rerr, syscall.EAGAIN) {
			return got
		}
		if rerr != nil {
			t.Fatalf("recvfrom notify socket: %v", rerr)
		}
		got = append(got, string(buf[:n]))
	}
}

// requireDatagrams drains conn and fails unless it held exactly want.
func requireDatagrams(t testing.TB, conn *net.UnixConn, step string, want ...string) {
	t.Helper()
	got := drain(t, conn)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("%s: datagrams = %q, want %q", step, got, want)
	}
}

// logBuffer collects a logger's text output; safe for concurrent use.
type logBuffer struct{ hubtest.Buffer }

// count returns how many log lines contain every one of parts.
func (b *logBuffer) count(parts ...string) int {
	c := 0
	for line := range strings.Lines(b.String()) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			c++
		}
	}
	return c
}

// newLogger returns a debug-level text logger writing to the returned buffer,
// which is printed if the test fails.
func newLogger(t testing.TB) (*slog.Logger, *logBuffer) {
	t.Helper()
	b := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", b)
		}
	})
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}
