package natsconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// connect calls Connect with the test's context and closes the connection
// when the test ends.
func connect(t testing.TB, o Options, extra ...nats.Option) (*nats.Conn, error) {
	t.Helper()
	nc, err := Connect(t.Context(), o, extra...)
	if nc != nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

// requireRoundTrip fails the test unless nc can reach the server.
func requireRoundTrip(t testing.TB, nc *nats.Conn) {
	t.Helper()
	if err := nc.FlushTimeout(10 * time.Second); err != nil {
		t.Fatalf("flush to %s: %v", nc.ConnectedUrlRedacted(), err)
	}
}

func TestConnectAuthFromContext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	pub, _ := user.PublicKey()
	seedFile := writeFile(t, dir, "lab1.nk", seed)

	tests := []struct {
		name   string
		server server.Options
		ctx    Context
		ok     bool
	}{
		{"user password", server.Options{Username: "lab1", Password: "s3cret"}, Context{User: "lab1", Password: "s3cret"}, true},
		{"wrong password", server.Options{Username: "lab1", Password: "s3cret"}, Context{User: "lab1", Password: "guess"}, false},
		{"no credentials", server.Options{Username: "lab1", Password: "s3cret"}, Context{}, false},
		{"token", server.Options{Authorization: "t0ken"}, Context{Token: "t0ken"}, true},
		{"nkey", server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}}, Context{NKey: seedFile}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := runServer(t, &tt.server)
			tt.ctx.URL = s.ClientURL()
			file := writeContext(t, t.TempDir(), "hub", tt.ctx)
			nc, err := connect(t, Options{Context: file})
			if !tt.ok {
				wantErr(t, err, false, "connect "+s.ClientURL())
				if !errors.Is(err, nats.ErrAuthorization) {
					t.Errorf("Connect() = %v, want nats.ErrAuthorization", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Connect(context %+v): %v", tt.ctx, err)
			}
			requireRoundTrip(t, nc)
		})
	}
}

// TestConnectExplicitCredsBeatContextUser shows that --creds replaces the
// context's user and password rather than adding to them: the bad creds
// path is what fails.
func TestConnectExplicitCredsBeatContextUser(t *testing.T) {
	t.Parallel()
	s := runServer(t, &server.Options{Username: "lab1", Password: "s3cret"})
	file := writeContext(t, t.TempDir(), "hub", Context{URL: s.ClientURL(), User: "lab1", Password: "s3cret"})
	missing := filepath.Join(t.TempDir(), "lab1.creds")
	_, err := connect(t, Options{Context: file, Creds: missing})
	wantErr(t, err, true, "read creds file "+missing)
}

func TestConnectTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := runTLSServer(t, p)
	dir := t.TempDir()
	tests := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"flags", Options{URL: s.ClientURL(), TLSCert: p.ClientCert, TLSKey: p.ClientKey, TLSCA: p.CA}, true},
		{"context", Options{Context: writeContext(t, dir, "mtls", Context{
			URL: s.ClientURL(), Cert: p.ClientCert, Key: p.ClientKey, CA: p.CA,
		})}, true},
		{"flags beat context", Options{TLSCert: p.ClientCert, TLSKey: p.ClientKey, Context: writeContext(t, dir, "wrongcert", Context{
			URL: s.ClientURL(), Cert: p.ServerCert, Key: p.ServerKey, CA: p.CA,
		})}, true},
		{"no client certificate", Options{URL: s.ClientURL(), TLSCA: p.CA}, false},
		{"server cert as client cert", Options{URL: s.ClientURL(), TLSCert: p.ServerCert, TLSKey: p.ServerKey, TLSCA: p.CA}, false},
		{"unknown server CA", Options{URL: s.ClientURL(), TLSCert: p.ClientCert, TLSKey: p.ClientKey}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			nc, err := connect(t, tt.o)
			if !tt.ok {
				wantErr(t, err, false, "connect "+s.ClientURL())
				return
			}
			if err != nil {
				t.Fatalf("Connect(%+v): %v", tt.o, err)
			}
			requireRoundTrip(t, nc)
			if _, err := nc.TLSConnectionState(); err != nil {
				t.Errorf("TLSConnectionState() = %v, want a TLS connection", err)
			}
		})
	}
}

func TestConnectConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := writeFile(t, dir, "garbage", []byte("not a creds file, certificate or seed\n"))
	missing := filepath.Join(dir, "missing")
	p := newPKI(t)
	const url = "nats://127.0.0.1:1" // never dialled
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"creds missing", Options{URL: url, Creds: missing}, "read creds file " + missing},
		{"creds garbage", Options{URL: url, Creds: garbage}, "read creds file " + garbage},
		{"cert missing", Options{URL: url, TLSCert: missing, TLSKey: p.ClientKey}, "load tls_cert " + missing},
		{"key of another cert", Options{URL: url, TLSCert: p.ClientCert, TLSKey: p.ServerKey}, "load tls_cert " + p.ClientCert},
		{"ca garbage", Options{URL: url, TLSCA: garbage}, "load tls_ca " + garbage},
		{"nkey missing", Options{Context: writeContext(t, dir, "nkey", Context{URL: url, NKey: missing})}, "read nkey file " + missing},
		{"cert without key", Options{URL: url, TLSCert: p.ClientCert}, "tls_cert set without tls_key"},
		{"missing context", Options{Context: filepath.Join(dir, "nope.json")}, filepath.Join(dir, "nope.json")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := connect(t, tt.o)
			wantErr(t, err, true, tt.want)
		})
	}
}

func TestConnectRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + l.Addr().String()
	l.Close()
	_, err = connect(t, Options{URL: url})
	wantErr(t, err, false, "connect "+url)
}

func TestConnectRedactsPassword(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("nats://lab1:hunter2@%s", l.Addr())
	l.Close()
	_, err = connect(t, Options{URL: url})
	wantErr(t, err, false, "connect nats://lab1:xxxxx@")
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Connect() = %q, want the password redacted", err)
	}
}

func TestConnectHonoursContext(t *testing.T) {
	t.Parallel()
	t.Run("done before", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := Connect(ctx, Options{URL: "nats://127.0.0.1:1"})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Connect(cancelled ctx) = %v, want context.Canceled", err)
		}
	})
	t.Run("cancelled during handshake", func(t *testing.T) {
		t.Parallel()
		// A server that accepts and then says nothing: the client waits
		// for INFO until its timeout unless ctx ends the wait.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			cancel()
		}()
		start := time.Now()
		_, err = Connect(ctx, Options{URL: "nats://" + l.Addr().String()})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Connect() = %v, want context.Canceled", err)
		}
		if elapsed := time.Since(start); elapsed >= dialTimeout {
			t.Errorf("Connect() returned after %v, want before the %v dial timeout", elapsed, dialTimeout)
		}
	})
}

// TestConnectReconnectsAfterContextEnds restarts the server after the
// context that bounded the first connection is cancelled: the client must
// still reconnect, and log that it did.
func TestConnectReconnectsAfterContextEnds(t *testing.T) {
	t.Parallel()
	s1 := runServer(t, nil)
	url := s1.ClientURL()
	events := make(chan string, 100)
	logger := slog.New(chanHandler(events))

	ctx, cancel := context.WithCancel(t.Context())
	nc, err := Connect(ctx, Options{URL: url}, LogEvents(logger), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatalf("Connect(%s): %v", url, err)
	}
	t.Cleanup(nc.Close)
	cancel()

	port := s1.Addr().(*net.TCPAddr).Port
	s1.Shutdown()
	s1.WaitForShutdown()
	waitFor(t, events, "nats disconnected")
	runServer(t, &server.Options{Port: port})
	waitFor(t, events, "nats reconnected")
	requireRoundTrip(t, nc)
}

func TestConnectName(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, want string }{
		{"", "cis490"},
		{"cis490 publish", "cis490 publish"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			s := runServer(t, nil)
			nc, err := connect(t, Options{URL: s.ClientURL(), Name: tt.name})
			if err != nil {
				t.Fatal(err)
			}
			requireRoundTrip(t, nc)
			cz, err := s.Connz(&server.ConnzOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(cz.Conns) != 1 || cz.Conns[0].Name != tt.want {
				t.Errorf("server sees connections %+v, want one named %q", cz.Conns, tt.want)
			}
		})
	}
}

// waitFor waits up to 20s for msg to arrive on events.
func waitFor(t testing.TB, events <-chan string, msg string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case got := <-events:
			if got == msg {
				return
			}
		case <-timeout:
			t.Fatalf("no %q logged within 20s", msg)
		}
	}
}

// chanHandler is a slog.Handler that sends each record's message to a
// channel, dropping it if the channel is full.
type chanHandler chan<- string

func (h chanHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h chanHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h chanHandler) WithGroup(string) slog.Handler            { return h }
func (h chanHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h <- r.Message:
	default:
	}
	return nil
}
