package e2e

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/subjects"
)

// This file is the process-level harness of the load, chaos and cluster
// scenarios: a whole deployment on loopback (a `cis490 hub`, or a cluster
// of stock nats-server processes, receivers and one publisher per lab
// host), every process supervised the way its systemd unit is
// (Restart=on-failure, RestartPreventExitStatus=2), killed with SIGKILL
// and started again on demand. ledger_test.go checks what they did.

// Environment of the scenarios.
const (
	// harnessProfileEnv set to "full" runs the full profile of every
	// scenario (`make e2e`); anything else runs the short one (`make test`).
	harnessProfileEnv = "CIS490_E2E"
	// harnessSeedEnv fixes the seed of the scenarios' random choices.
	harnessSeedEnv = "CIS490_E2E_SEED"
	// harnessKeepLogsEnv names a directory the processes' logs are copied
	// to at the end of each scenario, one directory per test.
	harnessKeepLogsEnv = "CIS490_E2E_LOGS"
)

// harnessRestartSec is the supervisor's RestartSec: the pause before a
// process that ended on its own is started again.
const harnessRestartSec = 500 * time.Millisecond

// harnessFull reports whether the full profile is asked for.
func harnessFull() bool { return os.Getenv(harnessProfileEnv) == "full" }

// harness is one deployment under test.
type harness struct {
	t    testing.TB
	seed uint64
	full bool
	dir  string
	// url is the hub's client URL, comma separated for a cluster.
	url string
	// archive is the receivers' archive_dir, shared by all of them.
	archive string
	// segmentSize is the publishers' ship.segment_size.
	segmentSize string
	// resources are the options the hub's resources are made with.
	resources hub.ResourceOptions

	hub        *harnessProc   // `cis490 hub`; nil for a cluster
	nodes      []*harnessProc // nats-server cluster nodes
	receivers  []*harnessProc
	publishers map[string]*harnessProc
	dataDirs   map[string]string
	procs      []*harnessProc
}

// newHarness prepares a deployment in a temp dir. The seed comes from
// CIS490_E2E_SEED or the clock and is logged now and in every failure.
func newHarness(t testing.TB) *harness {
	t.Helper()
	var seed uint64
	if s := os.Getenv(harnessSeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", harnessSeedEnv, s)
		}
		seed = v
	} else {
		seed = uint64(time.Now().UnixNano())
	}
	full := harnessFull()
	profile := "short"
	if full {
		profile = "full"
	}
	t.Logf("seed %d, %s profile (rerun with %s=%d)", seed, profile, harnessSeedEnv, seed)
	h := &harness{
		t: t, seed: seed, full: full, dir: t.TempDir(),
		segmentSize: "64KiB",
		resources:   hub.DefaultResourceOptions(),
		publishers:  map[string]*harnessProc{},
		dataDirs:    map[string]string{},
	}
	if full {
		h.segmentSize = "8MiB"
	}
	h.archive = filepath.Join(h.dir, "archive")
	t.Cleanup(func() {
		for _, p := range h.procs {
			p.Kill()
		}
		if keep := os.Getenv(harnessKeepLogsEnv); keep != "" {
			dst := filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
			os.RemoveAll(dst)
			if err := os.CopyFS(dst, os.DirFS(filepath.Join(h.dir, "log"))); err != nil {
				t.Logf("keep logs: %v", err)
			}
		}
		if t.Failed() {
			for _, p := range h.procs {
				t.Logf("seed %d: last lines of %s (%d kills, %d restarts):\n%s", seed, p.name, p.Kills(), p.Restarts(), p.Tail(25))
			}
			t.Logf("seed %d: rerun with %s=%d", seed, harnessSeedEnv, seed)
		}
	})
	return h
}

// rand returns a generator for one stream of choices: the same seed and
// stream give the same sequence, whatever the other streams did.
func (h *harness) rand(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(h.seed, stream))
}

// fatalf fails the test with the seed in front of the message.
func (h *harness) fatalf(format string, args ...any) {
	h.t.Helper()
	h.t.Fatalf("seed %d: "+format, append([]any{h.seed}, args...)...)
}

// errorf records a failure with the seed in front of the message.
func (h *harness) errorf(format string, args ...any) {
	h.t.Helper()
	h.t.Errorf("seed %d: "+format, append([]any{h.seed}, args...)...)
}

// waitFor polls fn every step until it returns nil, failing with the seed
// and fn's last error after total. It also fails at once if a supervised
// process exited in a way systemd would not restart.
func (h *harness) waitFor(what string, total, step time.Duration, fn func() error) {
	h.t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if perr := h.procError(); perr != nil {
			h.fatalf("%s: %v", what, perr)
		}
		if time.Now().After(deadline) {
			h.fatalf("%s: not done after %s: %v", what, total, err)
		}
		select {
		case <-time.After(step):
		case <-h.t.Context().Done():
			h.fatalf("%s: test ended while waiting: %v", what, err)
		}
	}
}

// procError returns the first supervised process that ended for good.
func (h *harness) procError() error {
	for _, p := range h.procs {
		if err := p.Err(); err != nil {
			return err
		}
	}
	return nil
}

// proc registers a supervised process; Start runs it.
func (h *harness) proc(name string, argv []string, env ...string) *harnessProc {
	p := &harnessProc{name: name, argv: argv, env: env, logPath: filepath.Join(h.dir, "log", name+".log")}
	if err := os.MkdirAll(filepath.Dir(p.logPath), 0o755); err != nil {
		h.fatalf("%v", err)
	}
	h.procs = append(h.procs, p)
	return p
}

// startHub starts a `cis490 hub` process on a free loopback port and waits
// until its resources exist.
func (h *harness) startHub() {
	h.t.Helper()
	listen := "127.0.0.1:" + strconv.Itoa(freePort(h.t))
	h.url = "nats://" + listen
	h.hub = h.proc("hub", []string{bin, "hub", "--store", filepath.Join(h.dir, "hub"), "--listen", listen, "--log-format", "json"})
	h.hub.Start()
	h.waitHub()
}

// waitHub waits until the hub answers with its resources: the receiver
// consumer, which EnsureResources makes last.
func (h *harness) waitHub() {
	h.t.Helper()
	h.waitFor("hub ready", 30*time.Second, 50*time.Millisecond, func() error {
		nc, err := nats.Connect(h.url)
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(h.t.Context(), 5*time.Second)
		defer cancel()
		_, err = js.Consumer(ctx, subjects.SubmissionsStream, subjects.ReceiverConsumer)
		return err
	})
}

// startCluster starts n stock nats-server processes as one JetStream
// cluster on loopback and provisions it as the hub admin does: `cis490 hub
// provision --host ... --replicas n`, which makes every resource and the
// host buckets with the single hub's options but for Replicas.
func (h *harness) startCluster(n int, hosts []string) {
	h.t.Helper()
	ports := harnessPorts(h.t, 2*n)
	var clientURLs, routes []string
	for i := range n {
		clientURLs = append(clientURLs, "nats://127.0.0.1:"+strconv.Itoa(ports[i]))
		routes = append(routes, strconv.Quote("nats-route://127.0.0.1:"+strconv.Itoa(ports[n+i])))
	}
	for i := range n {
		name := "n" + strconv.Itoa(i)
		conf := filepath.Join(h.dir, name+".conf")
		body := fmt.Sprintf(`server_name: %q
listen: "127.0.0.1:%d"
jetstream {
  store_dir: %q
}
cluster {
  name: "cis490-e2e"
  listen: "127.0.0.1:%d"
  routes: [%s]
}
`, name, ports[i], filepath.Join(h.dir, name), ports[n+i], strings.Join(routes, ", "))
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			h.fatalf("%v", err)
		}
		p := h.proc("nats-server-"+name, []string{natsServerBin, "-c", conf})
		h.nodes = append(h.nodes, p)
		p.Start()
	}
	h.url = strings.Join(clientURLs, ",")
	h.resources.Replicas = n
	for _, host := range hosts {
		h.dataDir(host)
	}
	// Until every peer has joined the meta group, replicated streams fail
	// with insufficient resources: retry, provisioning is idempotent.
	h.waitFor("cluster provisioned", 90*time.Second, 500*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(h.t.Context(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "hub", "provision", "--server", h.url, "--replicas", strconv.Itoa(n),
			"--host", strings.Join(hosts, ","), "--out", filepath.Join(h.dir, "users.conf"))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("cis490 hub provision: %v\n%s", err, out)
		}
		return nil
	})
}

// harnessPorts returns n distinct free loopback ports.
func harnessPorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close() // held until all are picked, so they differ
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// connect returns a JetStream context on the hub that reconnects forever,
// closed in t.Cleanup.
func (h *harness) connect() jetstream.JetStream {
	h.t.Helper()
	nc, err := nats.Connect(h.url, nats.MaxReconnects(-1), nats.Name("e2e harness"))
	if err != nil {
		h.fatalf("connect %s: %v", h.url, err)
	}
	h.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		h.fatalf("%v", err)
	}
	return js
}

// windowAdd runs `cis490 window add`.
func (h *harness) windowAdd(commits ...string) {
	h.t.Helper()
	args := append([]string{"window", "add", "--server", h.url, "--note", "e2e"}, commits...)
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		h.fatalf("cis490 window add: %v\n%s", err, out)
	}
}

// harnessReceiverEnv is the receivers' configuration beyond the defaults:
// a short ack wait so that a killed receiver's submission comes back
// soon, a max_files the "crowded" episodes exceed, and a GC every 5 s with
// the shortest grace the configuration allows.
var harnessReceiverEnv = []string{
	"CIS490_RECEIVE_ACK_WAIT=5s",
	"CIS490_RECEIVE_MAX_FILES=" + strconv.Itoa(ledgerMaxFiles),
	"CIS490_GC_INTERVAL=5s",
	"CIS490_GC_GRACE=1m",
}

// startReceivers starts n `cis490 receive` processes sharing the one
// durable consumer and the one archive_dir.
func (h *harness) startReceivers(n int) {
	h.t.Helper()
	for i := range n {
		p := h.proc("receiver-"+strconv.Itoa(i),
			[]string{bin, "receive", "--server", h.url, "--archive-dir", h.archive, "--log-format", "json"},
			harnessReceiverEnv...)
		h.receivers = append(h.receivers, p)
		p.Start()
	}
}

// dataDir returns the data_dir of host, made on first use.
func (h *harness) dataDir(host string) string {
	d, ok := h.dataDirs[host]
	if !ok {
		d = filepath.Join(h.dir, host)
		if err := os.MkdirAll(filepath.Join(d, "episodes"), 0o755); err != nil {
			h.fatalf("%v", err)
		}
		h.dataDirs[host] = d
	}
	return d
}

// startPublisher starts the `cis490 publish` daemon of host; env adds
// CIS490_* settings (a max_rate, say).
func (h *harness) startPublisher(host string, env ...string) *harnessProc {
	h.t.Helper()
	base := []string{
		"CIS490_SHIP_SETTLE=1s",
		"CIS490_SHIP_SEGMENT_SIZE=" + h.segmentSize,
		"CIS490_SHIP_SCAN_INTERVAL=250ms",
		"CIS490_SHIP_VERDICT_TIMEOUT=30s",
	}
	p := h.proc("publish-"+host,
		[]string{bin, "publish", "--server", h.url, "--host-id", host, "--data-dir", h.dataDir(host), "--log-format", "json"},
		append(base, env...)...)
	h.publishers[host] = p
	p.Start()
	return p
}

// stopDaemons stops every publisher and receiver with SIGTERM and expects
// each to exit 0 promptly, as systemd's stop does.
func (h *harness) stopDaemons() {
	h.t.Helper()
	var ps []*harnessProc
	for _, p := range h.publishers {
		ps = append(ps, p)
	}
	ps = append(ps, h.receivers...)
	for _, p := range ps {
		if err := p.Stop(30 * time.Second); err != nil {
			h.errorf("%v", err)
		}
	}
}

// harnessProc is a supervised process: started again after
// harnessRestartSec when it ends on its own (Restart=on-failure), left down
// after exit status 78 (RestartPreventExitStatus=78), a panic's 2, or Kill.
type harnessProc struct {
	name    string
	argv    []string
	env     []string
	logPath string

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when cmd has exited
	up       bool          // should be running
	kills    int
	restarts int
	err      error // why it is down for good
}

// Start runs the process unless it runs already.
func (p *harnessProc) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = true
	if p.running() {
		return
	}
	p.spawn()
}

func (p *harnessProc) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// spawn starts the command; p.mu is held.
func (p *harnessProc) spawn() {
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.err, p.up = fmt.Errorf("%s: %w", p.name, err), false
		return
	}
	defer f.Close() // the child holds its own copy
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		p.err, p.up = fmt.Errorf("start %s: %w", p.name, err), false
		return
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go p.supervise(cmd, done)
}

// supervise waits for cmd and restarts it if it ended on its own.
func (p *harnessProc) supervise(cmd *exec.Cmd, done chan struct{}) {
	err := cmd.Wait()
	close(done)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != cmd || !p.up {
		return // killed or stopped on purpose
	}
	p.note("harness: %s ended on its own: %v", p.name, err)
	switch code := cmd.ProcessState.ExitCode(); code {
	case 0, 2, 78:
		// A daemon exits 0 only when told to stop, and 78 (EX_CONFIG) on
		// a configuration error: systemd would not restart either. 2 is
		// Go's status for a panic, which systemd would restart but a test
		// must report.
		p.err, p.up = fmt.Errorf("%s exited with status %d without being stopped; see %s", p.name, code, p.logPath), false
		return
	}
	p.restarts++
	time.AfterFunc(harnessRestartSec, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.up && p.cmd == cmd {
			p.spawn()
		}
	})
}

// note appends a line to the process's log file.
func (p *harnessProc) note(format string, args ...any) {
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}

// Kill sends SIGKILL, waits for the process to die and leaves it down. It
// reports whether a running process was killed.
func (p *harnessProc) Kill() bool {
	p.mu.Lock()
	p.up = false
	cmd, done, live := p.cmd, p.done, p.running()
	p.mu.Unlock()
	if !live {
		return false
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	p.mu.Lock()
	p.kills++
	p.mu.Unlock()
	p.note("harness: SIGKILL %s", p.name)
	return true
}

// Stop sends SIGTERM and expects exit status 0 within timeout; past it the
// process is killed and an error returned.
func (p *harnessProc) Stop(timeout time.Duration) error {
	p.mu.Lock()
	p.up = false
	cmd, done, live := p.cmd, p.done, p.running()
	p.mu.Unlock()
	if !live {
		return nil
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(timeout):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s did not exit within %s of SIGTERM", p.name, timeout)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("%s exited with %v after SIGTERM, want status 0", p.name, cmd.ProcessState)
	}
	return nil
}

// Err returns why the process is down for good, or nil.
func (p *harnessProc) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Kills returns how many times Kill killed the process.
func (p *harnessProc) Kills() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kills
}

// Restarts returns how many times the process ended on its own and was
// started again.
func (p *harnessProc) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// Tail returns the last n lines of the process's log.
func (p *harnessProc) Tail(n int) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// Count returns how many lines of the process's log contain s.
func (p *harnessProc) Count(s string) int {
	f, err := os.Open(p.logPath)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			n++
		}
	}
	return n
}
