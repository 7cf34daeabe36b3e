package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultListen is the client address of a hub started without Listen or ConfigFile.
const DefaultListen = "127.0.0.1:4222"

// readyTimeout bounds the wait for the server's listeners after it started.
var readyTimeout = 10 * time.Second

// ErrNotConnected is returned by Hub methods that need the hub's in-process
// admin connection when the server's authorization refused it. Resources
// must then be provisioned by an admin with credentials.
var ErrNotConnected = errors.New("hub has no in-process connection")

// ErrInvalidOptions is wrapped by Start's errors about its Options, the
// config file and the resource options: the caller's mistake, not a
// runtime failure.
var ErrInvalidOptions = errors.New("invalid hub options")

// Options configure Start.
type Options struct {
	// StoreDir is the JetStream store directory. Required unless ConfigFile
	// sets jetstream.store_dir; overrides it when set.
	StoreDir string
	// Listen is the client address, host:port. Port 0 or -1 picks a random
	// port. Empty means DefaultListen, or the config file's listen if
	// ConfigFile is set; when set it overrides the config file.
	Listen string
	// ConfigFile is an optional nats-server.conf (TLS, accounts, cluster,
	// limits). JetStream is always enabled, whatever the file says.
	ConfigFile string
	// Logger receives the hub's and the server's log lines, with
	// component=hub. Nil means slog.Default().
	Logger *slog.Logger
	// Resources are the options of the JetStream resources; the zero value
	// means DefaultResourceOptions().
	Resources ResourceOptions
	// NoResources skips EnsureResources at start (a cluster node whose
	// resources are provisioned once the cluster is up, for example).
	NoResources bool
}

// Hub is a running embedded nats-server with JetStream.
type Hub struct {
	o   Options // as started, for Reload
	srv *server.Server
	nc  *nats.Conn          // in-process admin connection; nil if refused
	js  jetstream.JetStream // on nc; nil if nc is
	res ResourceOptions
}

// Start starts the server, waits until it accepts connections, connects to
// it in-process and, unless o.NoResources, runs EnsureResources. If the
// server's authorization refuses the in-process connection, Start logs a
// warning and returns a running hub without provisioning resources.
// Call Shutdown to stop it.
func Start(ctx context.Context, o Options) (*Hub, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "hub")
	res := o.Resources
	if res == (ResourceOptions{}) {
		res = DefaultResourceOptions()
	}
	if !o.NoResources {
		if err := res.Validate(); err != nil {
			return nil, fmt.Errorf("start hub: %w: %w", ErrInvalidOptions, err)
		}
	}
	sopts, err := serverOptions(o)
	if err != nil {
		return nil, fmt.Errorf("start hub: %w: %w", ErrInvalidOptions, err)
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("start hub: create nats-server: %w", err)
	}
	fatal := make(chan string, 1)
	sl := newServerLogger(log, func(msg string) {
		select {
		case fatal <- msg:
		default: // the first fatal line is the one reported
		}
	})
	srv.SetLoggerV2(sl, sl.enabled(slog.LevelDebug), sl.enabled(LevelTrace), false)

	srv.Start() // returns once JetStream has recovered; listeners start in the background
	if err := waitReady(ctx, srv, fatal, net.JoinHostPort(sopts.Host, strconv.Itoa(sopts.Port))); err != nil {
		stopServer(srv)
		return nil, fmt.Errorf("start hub: %w", err)
	}
	if !srv.JetStreamEnabled() {
		stopServer(srv)
		return nil, errors.New("start hub: jetstream is not enabled (see the server log)")
	}
	h := &Hub{o: o, srv: srv, res: res}

	// An in-process connection without credentials is refused when the
	// config file requires authentication, and on a pipe the refusal only
	// shows after the server's write deadline: ask the server first.
	if authRequired(srv, sopts) {
		log.Warn("server requires authentication, so the hub has no in-process connection; resources must be provisioned by an admin",
			"config_file", o.ConfigFile)
		return h, nil
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.InProcessServer(srv), nats.Name("cis490-hub"))
	switch {
	case isAuthErr(err):
		log.Warn("in-process connection refused by the server's authorization; resources must be provisioned by an admin",
			"config_file", o.ConfigFile, "error", err)
		return h, nil
	case err != nil:
		stopServer(srv)
		return nil, fmt.Errorf("start hub: connect in-process: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		stopServer(srv)
		return nil, fmt.Errorf("start hub: open jetstream: %w", err)
	}
	h.nc, h.js = nc, js

	if o.NoResources {
		return h, nil
	}
	// What receiver.toml applied (quarantine limits, ack wait) outlives a
	// restart of the hub: only a new resource gets the defaults.
	if kept, err := KeepReceiverSettings(ctx, js, res); err == nil {
		res = kept
	} else {
		log.Warn("cannot read the receiver's settings; ensuring resources with the hub's", "error", err)
	}
	switch err := EnsureResources(ctx, js, res); {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		log.Warn("in-process connection has no jetstream account; resources must be provisioned by an admin",
			"config_file", o.ConfigFile, "error", err)
	case err != nil:
		nc.Close()
		stopServer(srv)
		return nil, fmt.Errorf("start hub: %w", err)
	default:
		log.Debug("resources ensured", "replicas", res.Replicas)
	}
	return h, nil
}

// serverOptions builds the nats-server options: the config file if any,
// then Listen and StoreDir over it, then JetStream on and signals off (the
// process handles SIGINT/SIGTERM itself).
func serverOptions(o Options) (*server.Options, error) {
	sopts := &server.Options{}
	if o.ConfigFile != "" {
		fo, err := server.ProcessConfigFile(o.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("read nats-server config %s: %w", o.ConfigFile, err)
		}
		sopts = fo
	}
	listen := o.Listen
	if listen == "" && o.ConfigFile == "" {
		listen = DefaultListen
	}
	if listen != "" {
		host, port, err := parseListen(listen)
		if err != nil {
			return nil, err
		}
		sopts.Host, sopts.Port = host, port
	}
	if o.StoreDir != "" {
		sopts.StoreDir = o.StoreDir
	}
	if sopts.StoreDir == "" {
		return nil, errors.New("store dir not set: set StoreDir (cis490 hub --store) or jetstream.store_dir in the config file")
	}
	abs, err := filepath.Abs(sopts.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("resolve store dir %s: %w", sopts.StoreDir, err)
	}
	sopts.StoreDir = abs
	sopts.JetStream = true
	sopts.NoSigs = true
	return sopts, nil
}

// ErrNoConfigFile is returned by Reload when the hub was started without
// a config file: there is nothing to read again.
var ErrNoConfigFile = errors.New("hub has no config file")

// Reload reads the config file again, with Listen and StoreDir laid over
// it as at start, and applies what the server can change while it runs:
// users, their permissions and TLS mappings above all, so that a lab host
// added with `cis490 hub provision --out` can connect without a restart
// (`systemctl reload cis490-hub` sends SIGHUP). A change the server
// cannot apply live (the store dir, cluster routes) is an error naming
// it, and the server keeps its running configuration.
func (h *Hub) Reload() error {
	if h.o.ConfigFile == "" {
		return fmt.Errorf("reload: %w", ErrNoConfigFile)
	}
	sopts, err := serverOptions(h.o)
	if err != nil {
		return fmt.Errorf("reload %s: %w", h.o.ConfigFile, err)
	}
	if sopts.Port == server.RANDOM_PORT || sopts.Port == 0 {
		if a, ok := h.srv.Addr().(*net.TCPAddr); ok {
			sopts.Port = a.Port // the port picked at start, not a new one
		}
	}
	if err := h.srv.ReloadOptions(sopts); err != nil {
		return fmt.Errorf("reload %s: %w", h.o.ConfigFile, err)
	}
	return nil
}

// parseListen splits host:port; port 0 or -1 becomes server.RANDOM_PORT.
func parseListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("parse listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("parse listen address %q: port %q: want 0 to 65535, or -1", listen, p)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// waitReady polls until srv accepts connections, a fatal line is logged,
// ctx ends, or readyTimeout passes.
func waitReady(ctx context.Context, srv *server.Server, fatal <-chan string, addr string) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case msg := <-fatal:
			return fmt.Errorf("nats-server: %s", msg)
		case <-ctx.Done():
			return fmt.Errorf("wait for nats-server on %s: %w", addr, ctx.Err())
		default:
		}
		if srv.ReadyForConnections(50 * time.Millisecond) {
			select {
			case msg := <-fatal: // e.g. JetStream failed during Start
				return fmt.Errorf("nats-server: %s", msg)
			default:
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nats-server not ready for connections on %s after %s", addr, readyTimeout)
		}
	}
}

// authRequired reports whether srv refuses a client without credentials.
func authRequired(srv *server.Server, sopts *server.Options) bool {
	v, err := srv.Varz(nil)
	if err != nil {
		return false // let the connection attempt decide
	}
	return v.AuthRequired && sopts.NoAuthUser == ""
}

func isAuthErr(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked)
}

func stopServer(srv *server.Server) {
	srv.Shutdown()
	srv.WaitForShutdown()
}

// ClientURL returns the URL clients connect to, such as nats://127.0.0.1:4222.
// A wildcard listen address (0.0.0.0, ::) is reported as loopback.
func (h *Hub) ClientURL() string {
	raw := h.srv.ClientURL()
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return raw
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		lo := "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			lo = "::1"
		}
		u.Host = net.JoinHostPort(lo, port)
	}
	return u.String()
}

// Server returns the embedded server.
func (h *Hub) Server() *server.Server { return h.srv }

// StoreDir returns the JetStream store directory in use.
func (h *Hub) StoreDir() string { return h.srv.StoreDir() }

// Resources returns the resource options the hub was started with.
func (h *Hub) Resources() ResourceOptions { return h.res }

// JetStream returns the hub's in-process JetStream context, or
// ErrNotConnected if the server's authorization refused it.
func (h *Hub) JetStream() (jetstream.JetStream, error) {
	if h.js == nil {
		return nil, ErrNotConnected
	}
	return h.js, nil
}

// EnsureHostBucket creates or updates the object bucket of host with the
// hub's resource options, over the in-process connection.
func (h *Hub) EnsureHostBucket(ctx context.Context, host string) (jetstream.ObjectStore, error) {
	if h.js == nil {
		return nil, fmt.Errorf("ensure host bucket %s: %w", host, ErrNotConnected)
	}
	return EnsureHostBucket(ctx, h.js, host, h.res)
}

// Shutdown closes the in-process connection, shuts the server down and
// waits for it to finish, or for ctx to end. It may be called more than once.
func (h *Hub) Shutdown(ctx context.Context) error {
	if h.nc != nil {
		h.nc.Close()
	}
	done := make(chan struct{})
	go func() {
		stopServer(h.srv)
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shut down hub: %w", ctx.Err())
	}
}
