package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/subjects"
)

// TestHubCommand runs the real binary, built into the test's temp dir.
func TestHubCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cis490 binary: skipped with -short")
	}
	bin := buildHubTestBinary(t)

	t.Run("SIGTERM exits 0", func(t *testing.T) {
		t.Parallel()
		url := "nats://127.0.0.1:" + strconv.Itoa(hubTestFreePort(t))
		p := startHubProcess(t, bin, "hub", "--store", t.TempDir(), "--listen", strings.TrimPrefix(url, "nats://"))

		hubtest.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
			if p.exited() {
				return nil // reported below with the log
			}
			nc, err := nats.Connect(url, nats.Timeout(time.Second), nats.MaxReconnects(0))
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			if _, err = js.Stream(ctx, subjects.SubmissionsStream); err != nil {
				return err
			}
			// "hub ready" is logged just after the resources exist.
			if !strings.Contains(p.stderr.String(), "client_url="+url) {
				return fmt.Errorf("log has no client_url=%s line yet", url)
			}
			return nil
		})
		if p.exited() {
			t.Fatalf("cis490 hub exited early: %v\n%s", p.err, p.stderr.String())
		}
		if log := p.stderr.String(); !strings.Contains(log, "client_url="+url) {
			t.Errorf("log has no client_url=%s line:\n%s", url, log)
		}

		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("send SIGTERM: %v", err)
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("cis490 hub still running 10s after SIGTERM\n%s", p.stderr.String())
		}
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("exit code after SIGTERM = %d, want 0\n%s", code, p.stderr.String())
		}
	})

	for _, tt := range []struct {
		name string
		args []string
		want string // in the output
	}{
		{"bad log format", []string{"hub", "--log-format", "bogus"}, `--log-format "bogus"`},
		{"bad listen", []string{"hub", "--listen", "nope"}, `listen address "nope"`},
		{"unknown flag", []string{"hub", "--bogus"}, "unknown flag: --bogus"},
		{"missing config", []string{"hub", "--config", "/nonexistent/nats-server.conf"}, "read nats-server config"},
	} {
		t.Run(tt.name+" exits 78", func(t *testing.T) {
			t.Parallel()
			// A store of its own, in case the command got as far as starting.
			args := append(tt.args, "--store", t.TempDir())
			cmd := exec.CommandContext(t.Context(), bin, args...)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitConfig {
				t.Errorf("cis490 %s: %v, want exit status %d\n%s", strings.Join(args, " "), err, exitConfig, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("cis490 %s output = %q, want it to contain %q", strings.Join(args, " "), out, tt.want)
			}
		})
	}
}

// buildHubTestBinary builds cis490 into t's temp dir. Only TestHubCommand
// calls it, so it runs once per test binary (per -count iteration; the go
// build cache makes the repeats cheap), and the binary outlives its subtests.
func buildHubTestBinary(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build cis490: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "cis490")
	out, err := exec.CommandContext(t.Context(), gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build cis490: %v\n%s", err, out)
	}
	return bin
}

// hubTestFreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func hubTestFreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// hubProcess is a running cis490 process.
type hubProcess struct {
	cmd    *exec.Cmd
	stderr *hubtest.Buffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, set before done is closed
}

func (p *hubProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startHubProcess starts bin with args; it is killed in t.Cleanup if still running.
func startHubProcess(t testing.TB, bin string, args ...string) *hubProcess {
	t.Helper()
	p := &hubProcess{cmd: exec.Command(bin, args...), stderr: &hubtest.Buffer{}, done: make(chan struct{})}
	p.cmd.Dir = t.TempDir()
	p.cmd.Env = append(os.Environ(), "NATS_URL=", "NATS_CONTEXT=")
	p.cmd.Stdout = p.stderr
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}
