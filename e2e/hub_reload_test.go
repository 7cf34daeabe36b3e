package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cis490/cis490/hub/hubtest"
)

// TestHubReloadOnSIGHUP checks what `systemctl reload cis490-hub` does: a
// user added to the config file can connect after SIGHUP, and the hub
// keeps running (SIGHUP's default action would end the process). A file
// broken meanwhile is refused with a logged error, and the hub serves on.
func TestHubReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	users := func(names ...string) string {
		s := "authorization {\n  users: [\n"
		for _, n := range names {
			s += "    {user: " + n + ", password: pw-" + n + "}\n"
		}
		return s + "  ]\n}\n"
	}
	conf := filepath.Join(t.TempDir(), "nats-server.conf")
	if err := os.WriteFile(conf, []byte(users("admin")), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "nats://127.0.0.1:" + strconv.Itoa(freePort(t))
	var logs hubtest.Buffer
	cmd := exec.Command(bin, "hub", "--config", conf, "--store", t.TempDir(), "--listen", strings.TrimPrefix(url, "nats://"), "--log-format", "json")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	connect := func(user string) error {
		nc, err := nats.Connect(url, nats.UserInfo(user, "pw-"+user), nats.MaxReconnects(0))
		if err == nil {
			nc.Close()
		}
		return err
	}
	hubtest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error { return connect("admin") })
	if err := connect("lab3"); err == nil {
		t.Fatal("lab3 connected before it was added")
	}

	if err := os.WriteFile(conf, []byte(users("admin", "lab3")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	hubtest.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error { return connect("lab3") })
	// The server applies the new users before the hub logs that it did.
	hubtest.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if !strings.Contains(logs.String(), `"msg":"hub reloaded"`) {
			return fmt.Errorf("no reload line in the hub's log:\n%s", logs.String())
		}
		return nil
	})

	if err := os.WriteFile(conf, []byte("authorization { users: [ {user: "), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	hubtest.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if !strings.Contains(logs.String(), "reload failed") {
			return os.ErrNotExist
		}
		return nil
	})
	if err := connect("lab3"); err != nil {
		t.Fatalf("after a refused reload the hub no longer serves: %v", err)
	}
	if cmd.ProcessState != nil {
		t.Fatalf("hub exited: %v", cmd.ProcessState)
	}
}
