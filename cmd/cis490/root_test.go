package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// execute runs the command line args and returns its stdout, stderr and
// exit code as main would compute it.
func execute(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, &out, &errOut)
	return out.String(), errOut.String(), exitCode(t.Context(), err)
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out, _, code := execute(t, "version")
	want := fmt.Sprintf(" %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if code != 0 || !strings.HasPrefix(out, "cis490 ") || !strings.HasSuffix(out, want) {
		t.Errorf("cis490 version = %q, exit %d; want \"cis490 <version>%s\", exit 0", out, code, want)
	}
}

func TestCommandLineExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"version"}, 0},
		{[]string{}, 0},
		{[]string{"--help"}, 0},
		{[]string{"--log-format", "json", "--log-level", "debug", "version"}, 0},
		{[]string{"--log-format", "xml", "version"}, 2},
		{[]string{"--log-level", "loud", "version"}, 2},
		{[]string{"--bogus"}, 2},
		{[]string{"version", "--bogus"}, 2},
		{[]string{"bogus"}, 2},
		{[]string{"version", "extra"}, 2},
		// The daemons refuse the same errors with 78 (EX_CONFIG), the
		// one status their units do not restart on.
		{[]string{"publish", "--bogus"}, 78},
		{[]string{"--log-format", "xml", "publish"}, 78},
		{[]string{"publish", "--config", "/nonexistent/lab-host.toml"}, 78},
		{[]string{"receive", "--config", "/nonexistent/receiver.toml"}, 78},
		{[]string{"hub", "--config", "/nonexistent/nats-server.conf"}, 78},
		{[]string{"hub", "extra"}, 78},
		{[]string{"hub", "provision", "--bogus"}, 2},
	}
	for _, tt := range tests {
		name := strings.Join(tt.args, " ")
		if name == "" {
			name = "no args"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, _, code := execute(t, tt.args...); code != tt.want {
				t.Errorf("cis490 %s: exit %d, want %d", strings.Join(tt.args, " "), code, tt.want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	live := context.Background()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"nil", live, nil, 0},
		{"canceled by signal", done, context.Canceled, 0},
		{"wrapped canceled by signal", done, fmt.Errorf("fetch: %w", context.Canceled), 0},
		{"canceled without signal", live, context.Canceled, 1},
		{"usage error", live, usageErrorf("bad flag"), 2},
		{"wrapped usage error", live, fmt.Errorf("load config: %w", usageErrorf("bad key")), 2},
		{"usage error after signal", done, usageErrorf("bad flag"), 2},
		{"runtime error", live, errors.New("disk full"), 1},
		{"deadline", done, context.DeadlineExceeded, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := exitCode(tt.ctx, tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// testGlobals returns globals as the flag defaults would set them, with
// logs discarded.
func testGlobals() *globals {
	return &globals{logLevel: "info", logFormat: "text", stderr: io.Discard}
}

func TestConnect(t *testing.T) {
	t.Parallel()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready after 10s")
	}
	g := testGlobals()
	g.server = s.ClientURL()
	nc, err := g.connect(t.Context(), "test")
	if err != nil {
		t.Fatalf("connect(%s): %v", g.server, err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	cz, err := s.Connz(&server.ConnzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cz.Conns) != 1 || cz.Conns[0].Name != "cis490 test" {
		t.Errorf("server sees %+v, want one connection named \"cis490 test\"", cz.Conns)
	}
}

func TestConnectExitCodes(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "nats://" + l.Addr().String()
	l.Close()
	tests := []struct {
		name string
		set  func(g *globals)
		want int
	}{
		{"cert without key", func(g *globals) { g.server, g.tlsCert = closed, "client.pem" }, 2},
		{"missing creds", func(g *globals) { g.server, g.creds = closed, t.TempDir()+"/x.creds" }, 2},
		{"missing context", func(g *globals) { g.context = t.TempDir() + "/hub.json" }, 2},
		{"bad url", func(g *globals) { g.server = "http://hub:4222" }, 2},
		{"bad log format", func(g *globals) { g.server, g.logFormat = closed, "xml" }, 2},
		{"server down", func(g *globals) { g.server = closed }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := testGlobals()
			tt.set(g)
			nc, err := g.connect(t.Context(), "test")
			if nc != nil {
				nc.Close()
			}
			if got := exitCode(t.Context(), err); got != tt.want {
				t.Errorf("connect: %v: exit %d, want %d", err, got, tt.want)
			}
		})
	}
}
