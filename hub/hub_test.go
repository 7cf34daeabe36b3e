package hub_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/subjects"
)

// start starts a hub and shuts it down in t.Cleanup.
func start(t testing.TB, o hub.Options) *hub.Hub {
	t.Helper()
	if o.Logger == nil {
		o.Logger = hubtest.Logger(t)
	}
	h, err := hub.Start(t.Context(), o)
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() { stop(t, h) })
	return h
}

func stop(t testing.TB, h *hub.Hub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
}

func requireStream(t testing.TB, js jetstream.JetStream, name string) {
	t.Helper()
	if _, err := js.Stream(t.Context(), name); err != nil {
		t.Fatalf("Stream(%q) = %v, want it to exist", name, err)
	}
}

func TestStartShutdown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := start(t, hub.Options{StoreDir: dir, Listen: "127.0.0.1:0"})
	if want := filepath.Join(dir, "jetstream"); h.StoreDir() != want {
		t.Errorf("StoreDir() = %q, want %q", h.StoreDir(), want)
	}
	u, err := url.Parse(h.ClientURL())
	if err != nil || u.Scheme != "nats" || u.Hostname() != "127.0.0.1" || u.Port() == "0" || u.Port() == "4222" {
		t.Errorf("ClientURL() = %q, want nats://127.0.0.1:<random port>", h.ClientURL())
	}
	_, js := hubtest.Connect(t, h.ClientURL())
	for _, name := range []string{subjects.SubmissionsStream, subjects.QuarantineStream, subjects.AcceptedStream} {
		requireStream(t, js, name)
	}
	for _, b := range []string{subjects.VerdictsBucket, subjects.WindowBucket} {
		if _, err := js.KeyValue(t.Context(), b); err != nil {
			t.Errorf("KeyValue(%q) = %v", b, err)
		}
	}
	if _, err := js.Consumer(t.Context(), subjects.SubmissionsStream, subjects.ReceiverConsumer); err != nil {
		t.Errorf("Consumer(%q) = %v", subjects.ReceiverConsumer, err)
	}

	stop(t, h)
	if h.Server().Running() {
		t.Error("Server().Running() = true after Shutdown")
	}
}

func TestShutdownHonoursContext(t *testing.T) {
	t.Parallel()
	h := start(t, hub.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The server may or may not finish before the select sees ctx: either
	// nil or ctx's error is right, anything else is not.
	if err := h.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown(canceled) = %v, want nil or %v", err, context.Canceled)
	}
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const commit = "0123456789abcdef0123456789abcdef01234567"

	h := start(t, hub.Options{StoreDir: dir, Listen: "127.0.0.1:-1"})
	nc, js := hubtest.Connect(t, h.ClientURL())
	kv, err := js.KeyValue(t.Context(), subjects.WindowBucket)
	if err != nil {
		t.Fatalf("KeyValue(%q) = %v", subjects.WindowBucket, err)
	}
	if _, err := kv.Put(t.Context(), subjects.WindowKey(commit), []byte("v1.2.0")); err != nil {
		t.Fatalf("Put = %v", err)
	}
	nc.Close()
	stop(t, h)

	h = start(t, hub.Options{StoreDir: dir, Listen: "127.0.0.1:-1"})
	_, js = hubtest.Connect(t, h.ClientURL())
	kv, err = js.KeyValue(t.Context(), subjects.WindowBucket)
	if err != nil {
		t.Fatalf("KeyValue(%q) after restart = %v", subjects.WindowBucket, err)
	}
	e, err := kv.Get(t.Context(), subjects.WindowKey(commit))
	if err != nil {
		t.Fatalf("Get(%q) after restart = %v", commit, err)
	}
	if string(e.Value()) != "v1.2.0" {
		t.Errorf("Get(%q) after restart = %q, want %q", commit, e.Value(), "v1.2.0")
	}
}

// TestRestartKeepsReceiverSettings checks that a restart of the hub keeps
// the quarantine limits and the ack wait a receiver applied from its
// receiver.toml, instead of resetting them to the defaults.
func TestRestartKeepsReceiverSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := start(t, hub.Options{StoreDir: dir, Listen: "127.0.0.1:-1"})
	nc, js := hubtest.Connect(t, h.ClientURL())
	// What cis490 receive applies at start.
	st, err := js.Stream(t.Context(), subjects.QuarantineStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxAge, cfg.MaxBytes, cfg.MaxMsgs = 7*24*time.Hour, 64<<20, 500
	if _, err := js.UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(t.Context(), subjects.SubmissionsStream, subjects.ReceiverConsumer)
	if err != nil {
		t.Fatal(err)
	}
	cc := cons.CachedInfo().Config
	cc.AckWait = 9 * time.Minute
	if _, err := js.UpdateConsumer(t.Context(), subjects.SubmissionsStream, cc); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	stop(t, h)

	h = start(t, hub.Options{StoreDir: dir, Listen: "127.0.0.1:-1"})
	_, js = hubtest.Connect(t, h.ClientURL())
	st, err = js.Stream(t.Context(), subjects.QuarantineStream)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().Config; c.MaxAge != 7*24*time.Hour || c.MaxBytes != 64<<20 || c.MaxMsgs != 500 {
		t.Errorf("quarantine limits after a hub restart: max_age %s max_bytes %d max_msgs %d, want 168h 67108864 500", c.MaxAge, c.MaxBytes, c.MaxMsgs)
	}
	cons, err = js.Consumer(t.Context(), subjects.SubmissionsStream, subjects.ReceiverConsumer)
	if err != nil {
		t.Fatal(err)
	}
	if got := cons.CachedInfo().Config.AckWait; got != 9*time.Minute {
		t.Errorf("ack wait after a hub restart = %s, want 9m", got)
	}
}

// writeConf writes a nats-server.conf into a new temp dir and returns its path.
func writeConf(t testing.TB, format string, a ...any) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nats-server.conf")
	if err := os.WriteFile(p, fmt.Appendf(nil, format, a...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStartConfigFile(t *testing.T) {
	t.Parallel()
	confStore := t.TempDir()
	conf := writeConf(t, "listen: \"127.0.0.1:-1\"\njetstream {\n  store_dir: %q\n}\n", confStore)

	t.Run("from file", func(t *testing.T) {
		t.Parallel()
		h := start(t, hub.Options{ConfigFile: conf})
		if want := filepath.Join(confStore, "jetstream"); h.StoreDir() != want {
			t.Errorf("StoreDir() = %q, want %q from the config file", h.StoreDir(), want)
		}
		_, js := hubtest.Connect(t, h.ClientURL())
		requireStream(t, js, subjects.SubmissionsStream)
	})
	t.Run("options override", func(t *testing.T) {
		t.Parallel()
		store := t.TempDir()
		h := start(t, hub.Options{ConfigFile: conf, StoreDir: store, Listen: "127.0.0.1:0"})
		if want := filepath.Join(store, "jetstream"); h.StoreDir() != want {
			t.Errorf("StoreDir() = %q, want %q from Options", h.StoreDir(), want)
		}
		_, js := hubtest.Connect(t, h.ClientURL())
		requireStream(t, js, subjects.SubmissionsStream)
	})
}

func TestStartWithAuthorizationSkipsResources(t *testing.T) {
	t.Parallel()
	conf := writeConf(t, "authorization {\n  user: admin\n  password: s3cret\n}\n")
	var logs hubtest.Buffer
	h := start(t, hub.Options{
		ConfigFile: conf,
		StoreDir:   t.TempDir(),
		Listen:     "127.0.0.1:-1",
		Logger:     slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if got := logs.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "provisioned by an admin") || !strings.Contains(got, "component=hub") {
		t.Errorf("log = %q, want a component=hub warning that an admin must provision resources", got)
	}
	if _, err := h.EnsureHostBucket(t.Context(), "lab1"); !errors.Is(err, hub.ErrNotConnected) {
		t.Errorf("EnsureHostBucket = %v, want %v", err, hub.ErrNotConnected)
	}

	nc, err := nats.Connect(h.ClientURL(), nats.UserInfo("admin", "s3cret"))
	if err != nil {
		t.Fatalf("connect as admin = %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(t.Context(), subjects.SubmissionsStream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("Stream(%q) = %v, want %v", subjects.SubmissionsStream, err, jetstream.ErrStreamNotFound)
	}
	// The admin provisions them.
	if err := hub.EnsureResources(t.Context(), js, hub.DefaultResourceOptions()); err != nil {
		t.Fatalf("EnsureResources as admin = %v", err)
	}
	requireStream(t, js, subjects.SubmissionsStream)
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	busy := hubtest.RunServer(t)
	busyAddr := strings.TrimPrefix(busy.ClientURL(), "nats://")
	badRes := hub.DefaultResourceOptions()
	badRes.SubmissionsDuplicates = time.Minute

	tests := []struct {
		name string
		o    hub.Options
		want string
	}{
		{"no store dir", hub.Options{Listen: "127.0.0.1:-1"}, "store dir not set"},
		{"bad listen", hub.Options{StoreDir: t.TempDir(), Listen: "localhost"}, `listen address "localhost"`},
		{"bad port", hub.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:http"}, `port "http"`},
		{"port in use", hub.Options{StoreDir: t.TempDir(), Listen: busyAddr}, "Error listening on port"},
		{"missing config", hub.Options{StoreDir: t.TempDir(), ConfigFile: filepath.Join(t.TempDir(), "nope.conf")}, "read nats-server config"},
		{"bad config", hub.Options{StoreDir: t.TempDir(), ConfigFile: writeConf(t, "listen: {{{")}, "read nats-server config"},
		{"bad resources", hub.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1", Resources: badRes}, "SubmissionsDuplicates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Logger = hubtest.Logger(t)
			h, err := hub.Start(t.Context(), tt.o)
			if err == nil {
				stop(t, h)
				t.Fatalf("Start() = nil error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start() = %q, want it to contain %q", err, tt.want)
			}
			if invalid := tt.name != "port in use"; errors.Is(err, hub.ErrInvalidOptions) != invalid {
				t.Errorf("errors.Is(%q, ErrInvalidOptions) = %v, want %v", err, !invalid, invalid)
			}
		})
	}
}

func TestClientURLWildcardIsLoopback(t *testing.T) {
	t.Parallel()
	h := start(t, hub.Options{StoreDir: t.TempDir(), Listen: "0.0.0.0:0", NoResources: true})
	u, err := url.Parse(h.ClientURL())
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("ClientURL() = %q, want host 127.0.0.1", h.ClientURL())
	}
	_, js := hubtest.Connect(t, h.ClientURL())
	// NoResources: nothing provisioned.
	if _, err := js.Stream(t.Context(), subjects.SubmissionsStream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("Stream(%q) with NoResources = %v, want %v", subjects.SubmissionsStream, err, jetstream.ErrStreamNotFound)
	}
}

func TestStartWithNoAuthUserProvisions(t *testing.T) {
	t.Parallel()
	conf := writeConf(t, `accounts {
  LAB {
    jetstream: enabled
    users: [{user: hubadmin, password: s3cret}]
  }
}
no_auth_user: hubadmin
`)
	h := start(t, hub.Options{ConfigFile: conf, StoreDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	nc, err := nats.Connect(h.ClientURL(), nats.UserInfo("hubadmin", "s3cret"))
	if err != nil {
		t.Fatalf("connect as hubadmin = %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	requireStream(t, js, subjects.SubmissionsStream)
	if _, err := h.EnsureHostBucket(t.Context(), "lab1"); err != nil {
		t.Errorf("EnsureHostBucket(lab1) = %v", err)
	}
}

// TestReload checks that Reload applies a user added to the config file
// while the server runs, and that a hub without a file says so.
func TestReload(t *testing.T) {
	t.Parallel()
	users := func(names ...string) string {
		s := "authorization {\n  users: [\n"
		for _, n := range names {
			s += "    {user: " + n + ", password: pw-" + n + "}\n"
		}
		return s + "  ]\n}\n"
	}
	conf := writeConf(t, "%s", users("admin"))
	h := start(t, hub.Options{ConfigFile: conf, StoreDir: t.TempDir(), Listen: "127.0.0.1:-1", Logger: hubtest.Logger(t)})
	connect := func() error {
		nc, err := nats.Connect(h.ClientURL(), nats.UserInfo("lab3", "pw-lab3"), nats.MaxReconnects(0))
		if err == nil {
			nc.Close()
		}
		return err
	}
	if err := connect(); err == nil {
		t.Fatal("lab3 connected before it was added")
	}
	if err := os.WriteFile(conf, []byte(users("admin", "lab3")), 0o644); err != nil {
		t.Fatal(err)
	}
	url := h.ClientURL()
	if err := h.Reload(); err != nil {
		t.Fatalf("Reload = %v", err)
	}
	if h.ClientURL() != url {
		t.Errorf("Reload moved the hub from %s to %s", url, h.ClientURL())
	}
	if err := connect(); err != nil {
		t.Fatalf("lab3 after Reload: %v", err)
	}

	plain := start(t, hub.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1", Logger: hubtest.Logger(t)})
	if err := plain.Reload(); !errors.Is(err, hub.ErrNoConfigFile) {
		t.Errorf("Reload without a config file = %v, want %v", err, hub.ErrNoConfigFile)
	}
}
