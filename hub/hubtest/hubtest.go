// Package hubtest starts embedded cis490 hubs and JetStream clusters for
// tests, each in its own t.TempDir() on random loopback ports, stopped in
// t.Cleanup. It also has the polling helper CheckFor, a Buffer safe for
// concurrent writers, and a Proxy that can silence a link.
//
// Server log lines go to t.Output() at warn level and above; set
// CIS490_TEST_LOG=debug (or info, error) to change the level.
package hubtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
)

// shutdownTimeout bounds each server shutdown in t.Cleanup.
const shutdownTimeout = 10 * time.Second

// RunServer starts a hub on a random loopback port with its store under
// t.TempDir() and the resources ensured with DefaultResourceOptions. opts
// may change the hub.Options before the start; o.Resources already holds
// the defaults, so an option may set a single field. The hub is shut down in
// t.Cleanup.
func RunServer(t testing.TB, opts ...func(*hub.Options)) *hub.Hub {
	t.Helper()
	o := hub.Options{
		StoreDir:  filepath.Join(t.TempDir(), "store"),
		Listen:    "127.0.0.1:-1",
		Logger:    Logger(t),
		Resources: hub.DefaultResourceOptions(),
	}
	for _, f := range opts {
		f(&o)
	}
	h, err := hub.Start(t.Context(), o)
	if err != nil {
		t.Fatalf("hubtest: %v", err)
	}
	t.Cleanup(func() { shutdown(t, h) })
	return h
}

func shutdown(t testing.TB, h *hub.Hub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Errorf("hubtest: %v", err)
	}
}

// Connect connects to url (comma-separated URLs allowed) and returns the
// connection and its JetStream context. The connection is closed in t.Cleanup.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("hubtest:"+t.Name()))
	if err != nil {
		t.Fatalf("hubtest: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("hubtest: open jetstream on %s: %v", url, err)
	}
	return nc, js
}

// CheckFor calls fn every step until it returns nil, and fails the test
// with fn's last error if that has not happened within total.
func CheckFor(t testing.TB, total, step time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	tick := time.NewTicker(step)
	defer tick.Stop()
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("hubtest: not true after %s: %v", total, err)
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatalf("hubtest: test ended while waiting: %v", err)
		}
	}
}

// Logger returns a logger writing text lines to t.Output() until the test's
// cleanup ends, at the level in CIS490_TEST_LOG (default warn).
func Logger(t testing.TB) *slog.Logger {
	t.Helper()
	level := slog.LevelWarn
	if s := os.Getenv("CIS490_TEST_LOG"); s != "" {
		if err := level.UnmarshalText([]byte(s)); err != nil {
			t.Fatalf("hubtest: CIS490_TEST_LOG=%q: %v", s, err)
		}
	}
	w := &testWriter{w: t.Output()}
	// Registered before any server's shutdown, so it runs after them: late
	// lines from server goroutines are dropped instead of panicking.
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// testWriter forwards to a test's output until closed.
type testWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return len(p), nil
	}
	return w.w.Write(p)
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// Cluster is a JetStream cluster of hubs on loopback, made by RunCluster.
// Each node is a hub started from a nats-server.conf holding its name and
// cluster block, as an operator would run it.
type Cluster struct {
	t     testing.TB
	log   *slog.Logger
	nodes []*node
}

type node struct {
	name     string
	listen   string // client host:port
	storeDir string
	conf     string
	hub      *hub.Hub // nil while killed
}

// RunCluster starts an n-node JetStream cluster (1 to 5 nodes) with random
// client and route ports and a store dir per node, waits for a meta leader,
// and ensures the resources with Replicas n. Every node is shut down in
// t.Cleanup.
func RunCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 || n > 5 {
		t.Fatalf("hubtest: cluster of %d nodes: want 1 to 5", n)
	}
	ports := freePorts(t, 2*n)
	clientPorts, routePorts := ports[:n], ports[n:]
	routes := make([]string, n)
	for i, p := range routePorts {
		routes[i] = strconv.Quote("nats-route://127.0.0.1:" + strconv.Itoa(p))
	}
	dir := t.TempDir()
	c := &Cluster{t: t, log: Logger(t)}
	for i := range n {
		nd := &node{
			name:     fmt.Sprintf("n%d", i),
			listen:   net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPorts[i])),
			storeDir: filepath.Join(dir, fmt.Sprintf("n%d", i), "store"),
			conf:     filepath.Join(dir, fmt.Sprintf("n%d", i), "nats-server.conf"),
		}
		conf := fmt.Sprintf("server_name: %q\ncluster {\n  name: \"cis490-test\"\n  listen: \"127.0.0.1:%d\"\n  routes: [%s]\n}\n",
			nd.name, routePorts[i], strings.Join(routes, ", "))
		if err := os.MkdirAll(filepath.Dir(nd.conf), 0o755); err != nil {
			t.Fatalf("hubtest: %v", err)
		}
		if err := os.WriteFile(nd.conf, []byte(conf), 0o644); err != nil {
			t.Fatalf("hubtest: write %s: %v", nd.conf, err)
		}
		c.nodes = append(c.nodes, nd)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Kill(i)
		}
	})
	for i := range c.nodes {
		c.Restart(i)
	}
	c.WaitForMetaLeader()

	_, js := Connect(t, c.URL())
	o := hub.DefaultResourceOptions()
	o.Replicas = n
	// Until every peer has registered with the meta leader, replicated
	// streams fail with insufficient resources: retry, it is idempotent.
	CheckFor(t, 30*time.Second, 250*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		return hub.EnsureResources(ctx, js, o)
	})
	return c
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. They are free
// when returned, not reserved: another process may still take one.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("hubtest: pick free port: %v", err)
		}
		defer l.Close() // hold every port until all are picked, so they differ
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// Len returns the number of nodes, running or killed.
func (c *Cluster) Len() int { return len(c.nodes) }

// Hub returns node i, or nil while it is killed.
func (c *Cluster) Hub(i int) *hub.Hub { return c.nodes[i].hub }

// Servers returns the servers of the running nodes.
func (c *Cluster) Servers() []*server.Server {
	var s []*server.Server
	for _, nd := range c.nodes {
		if nd.hub != nil {
			s = append(s, nd.hub.Server())
		}
	}
	return s
}

// URLs returns the client URL of every node, running or killed.
func (c *Cluster) URLs() []string {
	u := make([]string, len(c.nodes))
	for i, nd := range c.nodes {
		u[i] = "nats://" + nd.listen
	}
	return u
}

// URL returns URLs joined by commas, as nats.Connect takes them.
func (c *Cluster) URL() string { return strings.Join(c.URLs(), ",") }

// Kill shuts node i down; its store dir and ports are kept for Restart.
// Killing a killed node does nothing.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	if nd.hub == nil {
		return
	}
	shutdown(c.t, nd.hub)
	nd.hub = nil
}

// Restart starts node i again on its ports and store dir. Restarting a
// running node does nothing.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	if nd.hub != nil {
		return
	}
	h, err := hub.Start(c.t.Context(), hub.Options{
		StoreDir:    nd.storeDir,
		Listen:      nd.listen,
		ConfigFile:  nd.conf,
		Logger:      c.log.With("node", nd.name),
		NoResources: true,
	})
	if err != nil {
		c.t.Fatalf("hubtest: start node %s: %v", nd.name, err)
	}
	nd.hub = h
}

// WaitForMetaLeader waits until one running node is the JetStream meta
// leader and every running node is current with it, and returns the leader.
func (c *Cluster) WaitForMetaLeader() *server.Server {
	c.t.Helper()
	var leader *server.Server
	CheckFor(c.t, 30*time.Second, 100*time.Millisecond, func() error {
		leader = nil
		for _, s := range c.Servers() {
			if s.JetStreamIsLeader() {
				leader = s
			}
		}
		if leader == nil {
			return fmt.Errorf("no jetstream meta leader among %d running nodes", len(c.Servers()))
		}
		for _, s := range c.Servers() {
			if !s.JetStreamIsCurrent() {
				return fmt.Errorf("node %s is not current with meta leader %s", s.Name(), leader.Name())
			}
		}
		return nil
	})
	return leader
}
