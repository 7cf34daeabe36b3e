package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/workers"
)

// The systems measured, in the order they run within a run.
const (
	Cis490 = "cis490"
	Stock  = "stock"
	HTTP   = "http"
)

// Options configures Run.
type Options struct {
	// Binary is the cis490 binary run as publisher, receiver and stock
	// client processes.
	Binary string
	// HTTPOld is the httpold binary (bench/cmd/httpold); "" leaves the old
	// HTTP design out.
	HTTPOld string
	// Workloads defaults to DefaultWorkloads.
	Workloads []Workload
	// Runs is how many times each workload runs (default 3).
	Runs int
	// Dir holds a new directory for the hub's store and the episodes,
	// removed at the end; default os.TempDir.
	Dir string
	// Out receives a line per measurement; nil discards them.
	Out io.Writer
	// TTY rewrites a live status line on Out while a measurement runs.
	TTY bool
	// OnlyCis490 measures cis490 alone: no stock client, no old design.
	OnlyCis490 bool
	// NoWarmup skips the unmeasured cis490 run that starts each run of a
	// workload. On a VM whose balloon reports freed memory to the host
	// (Firecracker, this project's CI), pages taken back after the
	// episodes are generated, or after the previous run's last system
	// deleted its copies, are faulted back in from the host, and whichever
	// system is measured next pays for it: one 4 GiB cis490 run took 63 s
	// of the hub's CPU, the next one 19.
	NoWarmup bool
	// Logger receives the hub's logs (default discarded).
	Logger *slog.Logger
}

// Result is one measurement: one system moving one workload once.
type Result struct {
	System   string        `json:"system"`
	Workload Workload      `json:"workload"`
	Run      int           `json:"run"`
	Elapsed  time.Duration `json:"elapsed"`
	// Done counts the episodes that arrived; Failed those that did not.
	Done, Failed int
	// PubRSS and RecvRSS are the peak RSS of the sending and receiving
	// processes, in bytes.
	PubRSS, RecvRSS int64
	// PubCPU, RecvCPU and HubCPU are the user and system time of the
	// sending and receiving processes and of the hub (the bench's own
	// process) during the measurement.
	PubCPU, RecvCPU, HubCPU time.Duration
	// Err is the first failure, "" when every episode arrived.
	Err string `json:"err,omitempty"`
}

// OK reports whether every episode arrived.
func (r Result) OK() bool { return r.Failed == 0 && r.Err == "" && r.Done == r.Workload.Count }

// MBps is episode bytes a second, 10^6 bytes.
func (r Result) MBps() float64 { return float64(r.Workload.Bytes()) / 1e6 / r.Elapsed.Seconds() }

// EpisodesPerSec is episodes a second.
func (r Result) EpisodesPerSec() float64 { return float64(r.Workload.Count) / r.Elapsed.Seconds() }

// Run measures every system on every workload Runs times against one
// embedded hub and returns the results. It fails only when the bench
// itself cannot run; a system that loses episodes is a result.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Binary == "" {
		return nil, errors.New("bench: no cis490 binary given")
	}
	if len(o.Workloads) == 0 {
		o.Workloads = DefaultWorkloads()
	}
	if o.Runs == 0 {
		o.Runs = 3
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// A fresh directory each time: a hub store left by an earlier bench
	// would hold verdicts for the same host and episode ids.
	d, err := os.MkdirTemp(o.Dir, "cis490-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(d)
	o.Dir = d
	rep := &Report{Machine: Describe(), Runs: o.Runs, Workloads: o.Workloads, Systems: []string{Cis490, Stock}}
	if o.HTTPOld != "" {
		rep.Systems = append(rep.Systems, HTTP)
	}
	if o.OnlyCis490 {
		rep.Systems = []string{Cis490}
	}
	h, err := hub.Start(ctx, hub.Options{StoreDir: filepath.Join(o.Dir, "hub"), Listen: "127.0.0.1:-1", Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("bench: start hub: %w", err)
	}
	defer h.Shutdown(context.WithoutCancel(ctx))
	nc, err := nats.Connect(h.ClientURL(), nats.Name("cis490 bench"))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	b := &runner{o: o, h: h, js: js, url: h.ClientURL(), st: newStatus(o.Out, o.TTY)}
	defer b.st.close()
	fmt.Fprintf(o.Out, "cis490 bench: %s; %d run(s) of %s against one embedded hub (%s)\n",
		rep.Machine.Short(), o.Runs, strings.Join(rep.Systems, ", "), filepath.Join(o.Dir, "hub"))
	for wi, w := range o.Workloads {
		res, err := b.workload(ctx, wi, w, rep.Systems)
		rep.Results = append(rep.Results, res...)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// runner holds what every measurement shares.
type runner struct {
	o   Options
	h   *hub.Hub
	js  jetstream.JetStream
	url string
	st  *status
}

// workload generates w's episodes once, packs them once for the stock
// client, and measures each system on them Runs times.
func (b *runner) workload(ctx context.Context, wi int, w Workload, systems []string) ([]Result, error) {
	root := filepath.Join(b.o.Dir, fmt.Sprintf("w%d", wi+1))
	defer os.RemoveAll(root)
	data := filepath.Join(root, "lab")
	packed := filepath.Join(root, "packed")
	b.st.set("generating %s", w.Label())
	if err := generate(ctx, filepath.Join(data, "episodes"), w, uint64(wi)); err != nil {
		return nil, fmt.Errorf("bench: generate %s: %w", w, err)
	}
	if slices.Contains(systems, Stock) {
		if err := packAll(ctx, filepath.Join(data, "episodes"), packed); err != nil {
			return nil, fmt.Errorf("bench: pack %s: %w", w, err)
		}
	}
	var out []Result
	for run := 1; run <= b.o.Runs; run++ {
		if !b.o.NoWarmup {
			m := measurement{runner: b, w: w, runNo: 0, sys: Cis490, data: data, packed: packed,
				host: fmt.Sprintf("b%d-warmup-r%d", wi+1, run), scratch: filepath.Join(root, "warmup")}
			b.st.set("warm-up: %s %s before run %d, not counted", Cis490, w.Label(), run)
			r, err := m.run(ctx)
			if err != nil {
				return out, err
			}
			b.st.line(resultLine(r) + "  (warm-up, not counted)")
		}
		for _, sys := range systems {
			m := measurement{runner: b, w: w, runNo: run, sys: sys, data: data, packed: packed,
				host: fmt.Sprintf("b%d-%s-r%d", wi+1, sys, run), scratch: filepath.Join(root, sys)}
			b.st.set("%s %s run %d/%d", sys, w.Label(), run, b.o.Runs)
			r, err := m.run(ctx)
			if err != nil {
				return out, err
			}
			out = append(out, r)
			b.st.line(resultLine(r))
		}
	}
	return out, nil
}

// generate writes w.Count episodes of w.Size bytes under dir: a stamped
// meta.json and one data file of random bytes, which compress like camera
// frames: not at all.
func generate(ctx context.Context, dir string, w Workload, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 490))
	buf := make([]byte, 4<<20)
	for i := range w.Count {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := fmt.Sprintf("bench_%06d", i+1)
		ep := filepath.Join(dir, id)
		if err := os.MkdirAll(ep, 0o755); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(ep, "frames.bin"))
		if err != nil {
			return err
		}
		for left := w.Size; left > 0; left -= int64(len(buf)) {
			n := min(int64(len(buf)), left)
			fillRandom(r, buf[:n])
			if _, err := f.Write(buf[:n]); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
		meta, _ := json.Marshal(map[string]any{"episode_id": id, "recorded_at": "2026-11-20T14:03:11Z",
			"code_version": map[string]any{"commit": benchCommit, "branch": "main", "dirty": false}})
		if err := os.WriteFile(filepath.Join(ep, objectstore.MetaFile), meta, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// benchCommit stamps the generated episodes; the hub's window is empty, so
// it accepts any stamped commit.
const benchCommit = "4900490049004900490049004900490049004900"

func fillRandom(r *rand.Rand, p []byte) {
	i := 0
	for ; i+8 <= len(p); i += 8 {
		v := r.Uint64()
		p[i], p[i+1], p[i+2], p[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		p[i+4], p[i+5], p[i+6], p[i+7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
	}
	for ; i < len(p); i++ {
		p[i] = byte(r.Uint32())
	}
}

// packAll packs every episode under episodes into packed/<id>.tar.zst with
// cis490's packer: the bytes the stock client sends.
func packAll(ctx context.Context, episodes, packed string) error {
	if err := os.MkdirAll(packed, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(episodes)
	if err != nil {
		return err
	}
	for _, e := range entries {
		f, err := os.Create(filepath.Join(packed, e.Name()+".tar.zst"))
		if err != nil {
			return err
		}
		_, err = objectstore.Pack(ctx, filepath.Join(episodes, e.Name()), f, objectstore.PackOptions{})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// measurement is one system moving one workload once.
type measurement struct {
	*runner
	w            Workload
	runNo        int
	sys, host    string
	data, packed string
	scratch      string
}

func (m *measurement) run(ctx context.Context) (Result, error) {
	r := Result{System: m.sys, Workload: m.w, Run: m.runNo}
	if err := os.MkdirAll(m.scratch, 0o755); err != nil {
		return r, err
	}
	defer os.RemoveAll(m.scratch)
	var err error
	hub0 := selfCPU()
	switch m.sys {
	case Cis490:
		err = m.cis490(ctx, &r)
	case Stock:
		err = m.stock(ctx, &r)
	case HTTP:
		err = m.http(ctx, &r)
	}
	r.HubCPU = selfCPU() - hub0
	if rerr := restore(m.data); err == nil {
		err = rerr
	}
	return r, err
}

// restore moves every episode back from shipped/ and quarantine/ to
// episodes/, as it was generated, and empties outbox/.
func restore(data string) error {
	eps := filepath.Join(data, "episodes")
	for _, d := range []string{"shipped", "quarantine"} {
		entries, err := os.ReadDir(filepath.Join(data, d))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := filepath.Join(data, d, e.Name())
			os.Remove(filepath.Join(p, workers.VerdictFile))
			os.Remove(filepath.Join(p, workers.ReasonFile))
			if err := os.Rename(p, filepath.Join(eps, e.Name())); err != nil {
				return fmt.Errorf("bench: restore %s: %w", e.Name(), err)
			}
		}
	}
	return os.RemoveAll(filepath.Join(data, "outbox"))
}

// countDir counts the entries of dir, 0 if it does not exist.
func countDir(dir string) int {
	entries, _ := os.ReadDir(dir)
	return len(entries)
}

// cis490 runs `cis490 receive` and then `cis490 publish --once`, timing
// the publisher from its start to its exit: every episode packed, sent,
// judged and moved to shipped/.
func (m *measurement) cis490(ctx context.Context, r *Result) error {
	if _, err := m.h.EnsureHostBucket(ctx, m.host); err != nil {
		return err
	}
	defer m.js.DeleteObjectStore(context.WithoutCancel(ctx), subjects.EpisodeBucket(m.host))
	common := []string{"--server", m.url, "--log-level", "warn"}
	rcv, err := startProc("cis490 receive", m.o.Binary, append([]string{"receive"}, common...), nil)
	if err != nil {
		return err
	}
	defer rcv.stop()
	if err := m.receiverReady(ctx, rcv); err != nil {
		return err
	}
	t0 := time.Now()
	pub, err := startProc("cis490 publish", m.o.Binary,
		append([]string{"publish", "--once", "--host-id", m.host, "--data-dir", m.data}, common...),
		[]string{"CIS490_SHIP_SETTLE=1ms"})
	if err != nil {
		return err
	}
	m.awaitSender(ctx, pub, t0, r)
	r.RecvRSS, err = rcv.hwm()
	if err != nil {
		return err
	}
	if err := rcv.stop(); err != nil && r.Err == "" {
		r.Err = err.Error()
	}
	r.RecvCPU = rcv.cpu
	return ctx.Err()
}

// receiverReady waits until the receiver pulls from the submissions
// consumer, so that its start-up is not timed.
// awaitSender waits for the sending process p, started at t0, showing the
// episodes reaching shipped/ meanwhile, and fills r's sender figures: its
// peak RSS, the elapsed time, the episodes done and failed, and the first
// error (the process's output when episodes failed without one).
func (m *measurement) awaitSender(ctx context.Context, p *proc, t0 time.Time, r *Result) {
	shipped := filepath.Join(m.data, "shipped")
	stopWatch := m.st.watch(t0, m.w.Count, shipped)
	rss, err := p.wait(ctx)
	r.PubRSS, r.Elapsed, r.PubCPU = rss, time.Since(t0), p.cpu
	stopWatch()
	if err != nil {
		r.Err = err.Error()
	}
	r.Done = countDir(shipped)
	r.Failed = m.w.Count - r.Done
	if r.Failed > 0 && r.Err == "" {
		r.Err = p.name + ": " + p.output()
	}
}

func (m *measurement) receiverReady(ctx context.Context, rcv *proc) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := m.js.Consumer(ctx, subjects.SubmissionsStream, subjects.ReceiverConsumer)
		if err == nil {
			if info, err := c.Info(ctx); err == nil && info.NumWaiting > 0 {
				return nil
			}
		}
		select {
		case <-rcv.done:
			return fmt.Errorf("bench: receiver exited at start: %s", rcv.output())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: receiver not pulling submissions after 30 s: %s", rcv.output())
		}
	}
}

// stock puts the packed episodes with one stock Put each, from one
// process, then gets them with one stock Get each, from another: the time
// is the sum of the two.
func (m *measurement) stock(ctx context.Context, r *Result) error {
	bucket := "BENCH_STOCK_" + strings.ToUpper(strings.ReplaceAll(m.host, "-", "_"))
	if _, err := m.js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: bucket}); err != nil {
		return fmt.Errorf("bench: create %s: %w", bucket, err)
	}
	defer m.js.DeleteObjectStore(context.WithoutCancel(ctx), bucket)
	var put, get StockResult
	for _, side := range []struct {
		name string
		args []string
		rss  *int64
		cpu  *time.Duration
		res  *StockResult
	}{
		{"stock put", []string{"bench", "stock-put", "--server", m.url, "--bucket", bucket, "--dir", m.packed}, &r.PubRSS, &r.PubCPU, &put},
		{"stock get", []string{"bench", "stock-get", "--server", m.url, "--bucket", bucket}, &r.RecvRSS, &r.RecvCPU, &get},
	} {
		t0 := time.Now()
		p, err := startProc(side.name, m.o.Binary, side.args, nil)
		if err != nil {
			return err
		}
		stopWatch := m.st.watch(t0, 0, "")
		rss, werr := p.wait(ctx)
		r.Elapsed += time.Since(t0)
		stopWatch()
		*side.rss, *side.cpu = rss, p.cpu
		if werr != nil {
			r.Err = werr.Error()
			return ctx.Err()
		}
		line, err := p.firstLine(stockPrefix, time.Second)
		if err != nil {
			return err
		}
		if *side.res, err = parseStockResult(line); err != nil {
			return err
		}
		*side.rss = max(*side.rss, p.reportedRSS())
	}
	r.Done = get.OK
	r.Failed = m.w.Count - get.OK
	if errs := append(put.Errors, get.Errors...); len(errs) > 0 {
		r.Err = errs[0]
	}
	return nil
}

// http runs the old design: `httpold serve`, then `httpold ship`, timing
// the shipper from its start to its exit.
func (m *measurement) http(ctx context.Context, r *Result) error {
	srv, err := startProc("httpold serve", m.o.HTTPOld, []string{"serve", "--listen", "127.0.0.1:0", "--dir", filepath.Join(m.scratch, "received")}, nil)
	if err != nil {
		return err
	}
	defer srv.stop()
	addr, err := srv.firstLine("listening ", 30*time.Second)
	if err != nil {
		return err
	}
	t0 := time.Now()
	ship, err := startProc("httpold ship", m.o.HTTPOld, []string{"ship", "--url", addr, "--host", m.host, "--data-dir", m.data}, nil)
	if err != nil {
		return err
	}
	m.awaitSender(ctx, ship, t0, r)
	r.PubRSS = max(r.PubRSS, ship.reportedRSS())
	if r.RecvRSS, err = srv.hwm(); err != nil {
		return err
	}
	if err := srv.stop(); err != nil && r.Err == "" {
		r.Err = err.Error()
	}
	r.RecvCPU = srv.cpu
	return ctx.Err()
}
