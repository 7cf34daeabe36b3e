package notify_test

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cis490/cis490/notify"
)

func TestMessages(t *testing.T) {
	tests := []struct {
		name string
		send func(n *notify.Notifier)
		want string // regular expression for the whole datagram
	}{
		{"ready with status", func(n *notify.Notifier) { n.Ready("recovered 3 episodes, backlog 7") },
			regexp.QuoteMeta("READY=1\nSTATUS=recovered 3 episodes, backlog 7")},
		{"ready without status", func(n *notify.Notifier) { n.Ready("") }, "READY=1"},
		{"status", func(n *notify.Notifier) { n.Status("backlog %d episodes, %s", 12, "3.1 GiB") },
			regexp.QuoteMeta("STATUS=backlog 12 episodes, 3.1 GiB")},
		{"status keeps to one line", func(n *notify.Notifier) { n.Status("a\nREADY=1\r\nb") },
			regexp.QuoteMeta("STATUS=a READY=1 b")},
		{"stopping", func(n *notify.Notifier) { n.Stopping() }, "STOPPING=1"},
		{"reloading", func(n *notify.Notifier) { n.Reloading() }, "RELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := listenNotify(t)
			logger, logs := newLogger(t)
			n := notify.New(logger)
			if !n.Enabled() {
				t.Fatal("Enabled() = false with NOTIFY_SOCKET set, want true")
			}
			tt.send(n)
			got := recv(t, conn, 5*time.Second)
			if !regexp.MustCompile(`\A(?:` + tt.want + `)\z`).MatchString(got) {
				t.Errorf("datagram = %q, want match for %q", got, tt.want)
			}
			requireDatagrams(t, conn, "after the one message")
			if c := logs.count("level=WARN"); c != 0 {
				t.Errorf("%d warnings logged, want 0", c)
			}
		})
	}
}

func TestNew(t *testing.T) {
	const unset = "<unset>"
	tests := []struct {
		name         string
		socket       bool // NOTIFY_SOCKET points at a listening socket
		usec, pid    string
		wantInterval time.Duration
		wantWarn     bool
	}{
		{name: "no socket, watchdog env set", usec: "180000000", pid: "self"},
		{name: "socket, no watchdog", socket: true, usec: unset, pid: unset},
		{name: "socket and watchdog", socket: true, usec: "180000000", pid: "self", wantInterval: 180 * time.Second},
		{name: "socket and watchdog without pid", socket: true, usec: "10000000", pid: unset, wantInterval: 10 * time.Second},
		{name: "watchdog for another pid", socket: true, usec: "180000000", pid: "1"},
		{name: "malformed WATCHDOG_USEC", socket: true, usec: "3min", pid: "self", wantWarn: true},
		{name: "zero WATCHDOG_USEC", socket: true, usec: "0", pid: "self", wantWarn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.socket {
				listenNotify(t)
			} else {
				unsetenv(t, "NOTIFY_SOCKET")
			}
			for key, v := range map[string]string{"WATCHDOG_USEC": tt.usec, "WATCHDOG_PID": tt.pid} {
				switch v {
				case unset:
					unsetenv(t, key)
				case "self":
					t.Setenv(key, strconv.Itoa(os.Getpid()))
				default:
					t.Setenv(key, v)
				}
			}
			logger, logs := newLogger(t)
			n := notify.New(logger)
			if n.Enabled() != tt.socket {
				t.Errorf("Enabled() = %v, want %v", n.Enabled(), tt.socket)
			}
			if got := n.WatchdogInterval(); got != tt.wantInterval {
				t.Errorf("WatchdogInterval() = %v, want %v", got, tt.wantInterval)
			}
			if got := logs.count("level=WARN", "systemd watchdog disabled") == 1; got != tt.wantWarn {
				t.Errorf("warning about the watchdog environment logged = %v, want %v", got, tt.wantWarn)
			}
		})
	}
}

// TestNoSocket runs every method outside systemd: nothing is sent, nothing
// fails, and Pass still runs the pass.
func TestNoSocket(t *testing.T) {
	unsetenv(t, "NOTIFY_SOCKET")
	setWatchdog(t, 100*time.Millisecond) // ignored without a socket
	logger, logs := newLogger(t)
	n := notify.New(logger)
	if err := n.Open(t.Context()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	n.Ready("ready")
	n.Status("backlog %d", 1)
	n.Reloading()
	n.Stopping()
	n.Heartbeat()
	ran := false
	errPass := errors.New("pass failed")
	if err := n.Pass(func() error { ran = true; return errPass }); !errors.Is(err, errPass) || !ran {
		t.Errorf("Pass = %v (ran %v), want %v (ran true)", err, ran, errPass)
	}
	if err := n.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
	if c := logs.count("level=DEBUG", "sd_notify skipped"); c != 4 {
		t.Errorf("%d sends logged as skipped at debug, want 4", c)
	}
	if c := logs.count("level=WARN") + logs.count("level=ERROR"); c != 0 {
		t.Errorf("%d warnings or errors logged, want 0", c)
	}
}

// TestSendFailureLoggedOnce: a socket nobody listens on is a warning once,
// not once per message, and the recovery is logged when it listens again.
func TestSendFailureLoggedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	t.Setenv("NOTIFY_SOCKET", path)
	unsetenv(t, "WATCHDOG_USEC")
	logger, logs := newLogger(t)
	n := notify.New(logger)

	n.Ready("ready")
	n.Status("backlog %d", 1)
	n.Status("backlog %d", 2)
	if c := logs.count("level=WARN", "sd_notify failed"); c != 1 {
		t.Errorf("%d send failures logged at warn, want 1", c)
	}
	if c := logs.count("level=DEBUG", "sd_notify failed"); c != 2 {
		t.Errorf("%d send failures logged at debug, want 2", c)
	}

	conn := listenAt(t, path)
	n.Status("backlog %d", 3)
	if got, want := recv(t, conn, 5*time.Second), "STATUS=backlog 3"; got != want {
		t.Errorf("datagram = %q, want %q", got, want)
	}
	if c := logs.count("level=INFO", "sd_notify recovered"); c != 1 {
		t.Errorf("%d recoveries logged, want 1", c)
	}
}

func TestOpenTwice(t *testing.T) {
	listenNotify(t)
	setWatchdog(t, time.Hour)
	n := notify.New(nil)
	if err := n.Open(t.Context()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	if err := n.Open(t.Context()); err == nil {
		t.Error("second Open = nil, want an error")
	}
}

// TestWatchdogRealClock pets a short real-time watchdog from a live loop,
// then checks that Close stops the loop.
func TestWatchdogRealClock(t *testing.T) {
	conn := listenNotify(t)
	setWatchdog(t, 20*time.Millisecond)
	n := notify.New(nil)
	if err := n.Open(t.Context()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the daemon's loop: a pass every millisecond
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				n.Pass(func() error { return nil })
			}
		}
	}()
	for range 3 {
		if got := recv(t, conn, 5*time.Second); got != "WATCHDOG=1" {
			t.Fatalf("datagram = %q, want %q", got, "WATCHDOG=1")
		}
	}
	close(stop)
	<-done
	if err := n.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// requirePackageDoc fails unless a non-test Go file in the current
// directory has a doc comment starting "Package name ".
func requirePackageDoc(t testing.TB, name string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatalf("parse %s: %v", file, err)
		}
		if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+name+" ") {
			return
		}
	}
	t.Errorf("package has no doc comment starting %q", "Package "+name+" ")
}
