// Package demo runs the whole of cis490 on one machine: an embedded hub in
// a temporary directory, a receiver, and publishers for two lab hosts
// shipping sample episodes, good and bad, then reports what happened to
// each and how to look at it with the stock nats CLI. It is what
// `cis490 demo` and `make demo` run; nothing is needed beyond Go.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/config"
	"github.com/cis490/cis490/doctor"
	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/window"
	"github.com/cis490/cis490/workers"
)

// Commits of the demo's "recording code": one the hub accepts, one it does not.
const (
	acceptedCommit = "3f2a7c1d9e8b4a6f0c5d2e1b7a9c8d4e6f1a2b3c"
	oldCommit      = "0badc0de0badc0de0badc0de0badc0de0badc0de"
)

// Options configures Run.
type Options struct {
	// Out receives the report.
	Out io.Writer
	// TTY shows live progress bars on Out.
	TTY bool
	// Keep, if set, is the directory the hub store, the lab hosts' data
	// dirs and the hub's export are left in; otherwise a temp dir is
	// removed at the end.
	Keep string
	// LargeSize is the size of the large episode (default 96 MiB).
	LargeSize int64
	// Logger receives the daemons' logs (default: discarded).
	Logger *slog.Logger
	// Progress is the per-host display; nil shows none.
	Progress func(host string) workers.Progress
	// Shipped, if set, is called when every episode is retired, before the
	// report is written: the caller closes its progress display there.
	Shipped func()
	// Color colours the doctor's rows (a TTY without NO_COLOR).
	Color bool
}

// doctorHost is the lab host whose doctor report the demo prints: lab2 has
// a reject decided by the hub, so its report shows the nack row at work.
const doctorHost = "lab2"

// sample is one generated episode and what should become of it.
type sample struct {
	host, id string
	commit   string // "" unstamped
	size     int64
	broken   string // "symlink": a symlink inside; "" none
	expect   string
}

func samples(large int64) []sample {
	var s []sample
	for i := 1; i <= 4; i++ {
		s = append(s, sample{host: "lab1", id: fmt.Sprintf("2026-11-20T14-0%d-00_lab1_00%02d", i, 40+i), commit: acceptedCommit, size: int64(200<<10) * int64(i), expect: "shipped"})
	}
	s = append(s,
		sample{host: "lab1", id: "2026-11-20T15-10-00_lab1_0050", size: 64 << 10, expect: "quarantined: unstamped"},
		sample{host: "lab1", id: "2026-11-20T15-20-00_lab1_0051", size: 64 << 10, expect: "quarantined: unstamped"},
		sample{host: "lab1", id: "2026-11-20T16-00-00_lab1_0052", commit: oldCommit, size: 64 << 10, expect: "quarantined: out-of-window"},
		sample{host: "lab1", id: "2026-11-20T16-30-00_lab1_0053", commit: acceptedCommit, size: 64 << 10, broken: "symlink", expect: "quarantined: malformed"},
	)
	for i := 1; i <= 3; i++ {
		s = append(s, sample{host: "lab2", id: fmt.Sprintf("2026-11-21T09-0%d-00_lab2_00%02d", i, 10+i), commit: acceptedCommit, size: int64(300<<10) * int64(i), expect: "shipped"})
	}
	s = append(s,
		sample{host: "lab2", id: "2026-11-21T10-00-00_lab2_0020", size: 64 << 10, expect: "quarantined: unstamped"},
		// lab2 cannot read the window (as when its permissions or the link
		// do not allow it): it ships, and the hub's gate rejects.
		sample{host: "lab2", id: "2026-11-21T10-30-00_lab2_0022", commit: oldCommit, size: 64 << 10, expect: "quarantined: out-of-window"},
		sample{host: "lab2", id: "2026-11-21T11-00-00_lab2_0021", commit: acceptedCommit, size: large, expect: "shipped"},
	)
	return s
}

// Run runs the demo. It returns an error if any episode did not end as
// expected, so `make demo` fails loudly if the system misbehaves.
func Run(ctx context.Context, o Options) error {
	t0 := time.Now()
	if o.LargeSize == 0 {
		o.LargeSize = 96 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	root := o.Keep
	if root == "" {
		tmp, err := os.MkdirTemp("", "cis490-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		root = tmp
	} else if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	out := o.Out
	fmt.Fprintf(out, "cis490 demo in %s\n\n", root)

	h, err := hub.Start(ctx, hub.Options{StoreDir: filepath.Join(root, "hub"), Listen: "127.0.0.1:-1", Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("demo: start hub: %w", err)
	}
	defer h.Shutdown(context.WithoutCancel(ctx))
	url := h.ClientURL()
	fmt.Fprintf(out, "hub        %s (embedded nats-server with JetStream, store %s)\n", url, filepath.Join(root, "hub"))

	nc, err := nats.Connect(url, nats.Name("cis490 demo"))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	win, err := window.Open(ctx, js, window.WithAddedBy("cis490 demo"))
	if err != nil {
		return err
	}
	if _, err := win.Add(ctx, "demo release", acceptedCommit); err != nil {
		return err
	}
	fmt.Fprintf(out, "window     %s (episodes recorded by any other commit are out-of-window)\n", acceptedCommit)

	archive := filepath.Join(root, "archive")
	rcv, err := receiver.New(ctx, js, receiver.Options{ID: "demo-receiver", ArchiveDir: archive, Window: win, Logger: o.Logger, FetchWait: 200 * time.Millisecond})
	if err != nil {
		return err
	}
	rctx, stopReceiver := context.WithCancel(ctx)
	rdone := make(chan struct{})
	go func() { rcv.Run(rctx); close(rdone) }()
	defer func() { stopReceiver(); <-rdone }()
	fmt.Fprintf(out, "receiver   exporting accepted episodes to %s\n", archive)

	all := samples(o.LargeSize)
	for _, s := range all {
		if err := writeSample(filepath.Join(root, s.host), s); err != nil {
			return fmt.Errorf("demo: write %s: %w", s.id, err)
		}
	}
	fmt.Fprintf(out, "lab hosts  lab1, lab2: %d episodes generated under %s/<host>/episodes/\n\n", len(all), root)

	outcomes := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, host := range []string{"lab1", "lab2"} {
		wg.Go(func() {
			opts := workers.Options{Host: host, DataDir: filepath.Join(root, host), Settle: time.Nanosecond,
				SegmentSize: 16 << 20, Logger: o.Logger, Once: true, VerdictTimeout: time.Minute}
			if host == "lab1" {
				opts.Window = win // lab1's pre-flight sees the window; lab2's does not
			}
			if o.Progress != nil {
				opts.Progress = o.Progress(host)
			}
			p, err := workers.New(ctx, js, opts)
			if err == nil {
				_, err = p.Recover()
			}
			if err != nil {
				errs <- err
				return
			}
			sum, err := p.RunOnce(ctx)
			mu.Lock()
			defer mu.Unlock()
			for _, id := range sum.Shipped {
				outcomes[host+"/"+id] = "shipped"
			}
			for _, q := range sum.Quarantined {
				id, reason, _ := strings.Cut(q, ": ")
				outcomes[host+"/"+id] = "quarantined: " + reason
			}
			for id, e := range sum.Failed {
				outcomes[host+"/"+id] = "failed: " + e
			}
			if err != nil {
				errs <- fmt.Errorf("%s: %w", host, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	if o.Shipped != nil {
		o.Shipped()
	}

	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tEPISODE\tSIZE\tOUTCOME\tDECIDED BY\tWHERE IT IS NOW")
	bad := 0
	for _, s := range all {
		got := outcomes[s.host+"/"+s.id]
		where, by := locate(root, s)
		mark := ""
		if got != s.expect {
			mark = "   <-- expected " + s.expect
			bad++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%s\n", s.host, s.id, human(s.size), got, by, where, mark)
	}
	tw.Flush()
	for err := range errs {
		fmt.Fprintf(out, "error: %v\n", err)
		bad++
	}

	dataDir := filepath.Join(root, doctorHost)
	fmt.Fprintf(out, "\n$ cis490 doctor -s %s --host-id %s --data-dir %s\n", url, doctorHost, dataDir)
	if err := writeDoctor(ctx, out, url, dataDir, o.Color); err != nil {
		fmt.Fprintf(out, "error: doctor: %v\n", err)
		bad++
	}

	fmt.Fprint(out, inspectHelp(o.Keep))
	fmt.Fprintf(out, "\n%d episodes in %.1f s", len(all), time.Since(t0).Seconds())
	if bad > 0 {
		fmt.Fprintf(out, ": %d did not end as expected\n", bad)
		return fmt.Errorf("demo: %d episodes did not end as expected", bad)
	}
	fmt.Fprintln(out, ": every one ended as expected.")
	return nil
}

// writeDoctor prints the lab-host doctor's report for doctorHost, as
// `cis490 doctor` would with --host-id and --data-dir. Its yellow and red
// rows are the demo's quarantined episodes, shown on purpose: only an
// error writing the report is an error.
func writeDoctor(ctx context.Context, out io.Writer, url, dataDir string, color bool) error {
	cfg := config.DefaultPublisher()
	cfg.HostID = doctorHost
	cfg.DataDir = dataDir
	cfg.NATS.URL = url
	rep := doctor.LabHost{Config: cfg, ConfigErr: cfg.Validate()}.Run(ctx)
	return doctor.WriteText(out, rep, color)
}

// inspectHelp tells how to look at what the demo made with the nats CLI.
func inspectHelp(keep string) string {
	store := "DIR/hub"
	intro := "\nTo look at what the demo made with the stock nats CLI, keep it and serve it:\n  cis490 demo --keep DIR\n"
	if keep != "" {
		store = filepath.Join(keep, "hub")
		intro = "\nThe hub store is kept. To look at it with the stock nats CLI:\n"
	}
	u := "nats://127.0.0.1:4222"
	return intro + "  cis490 hub --store " + store + " --listen 127.0.0.1:4222 &\n" + strings.Join([]string{
		"  nats -s " + u + " stream ls",
		"  nats -s " + u + " stream subjects CIS490_QUARANTINE",
		"  nats -s " + u + " stream get CIS490_QUARANTINE --last-for cis490.nack.lab2.out-of-window",
		"  nats -s " + u + " kv ls CIS490_VERDICTS",
		"  nats -s " + u + " kv get CIS490_VERDICTS lab2.2026-11-21T11-00-00_lab2_0021 --raw",
		"  nats -s " + u + " object ls EPISODES_LAB2",
		"  nats -s " + u + " consumer info CIS490_SUBMISSIONS receiver",
	}, "\n") + "\n"
}

// writeSample writes one episode, settled, under dataDir/episodes.
func writeSample(dataDir string, s sample) error {
	dir := filepath.Join(dataDir, "episodes", s.id)
	if err := os.MkdirAll(filepath.Join(dir, "cam0"), 0o755); err != nil {
		return err
	}
	meta := map[string]any{"episode_id": s.id, "recorded_at": "2026-11-20T14:03:11Z", "robot": s.host + "-arm"}
	if s.commit != "" {
		meta["code_version"] = map[string]any{"commit": s.commit, "branch": "main", "dirty": false}
	}
	b, _ := json.MarshalIndent(meta, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "joints.csv"), []byte("t,q0,q1,q2\n0.00,0.10,0.20,0.30\n0.01,0.11,0.21,0.31\n"), 0o644); err != nil {
		return err
	}
	if err := writeFrames(filepath.Join(dir, "cam0", "frames.bin"), s.size); err != nil {
		return err
	}
	if s.broken == "symlink" {
		if err := os.Symlink("/etc/hostname", filepath.Join(dir, "calibration.yaml")); err != nil {
			return err
		}
	}
	// meta.json last, as the recorder writes it.
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o644); err != nil {
		return err
	}
	return nil
}

// writeFrames writes size bytes that compress like camera data: poorly.
func writeFrames(p string, size int64) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(uint64(size), 7))
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		for i := 0; i+8 <= len(buf); i += 8 {
			v := r.Uint64()
			for j := range 8 {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		if _, err := f.Write(buf[:min(int64(len(buf)), left)]); err != nil {
			return err
		}
	}
	return nil
}

// locate says where an episode ended up, and who decided.
func locate(root string, s sample) (where, by string) {
	for _, d := range []string{"shipped", "quarantine", "episodes"} {
		p := filepath.Join(root, s.host, d, s.id)
		if _, err := os.Stat(p); err == nil {
			rel, _ := filepath.Rel(root, p)
			by = "hub"
			if b, err := os.ReadFile(filepath.Join(p, workers.ReasonFile)); err == nil {
				var o workers.Outcome
				if json.Unmarshal(b, &o) == nil {
					by = o.Source
				}
			}
			if d == "episodes" {
				by = "-"
			}
			return rel + "/", by
		}
	}
	return "(missing)", "-"
}

func human(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.0f %s", f, units[i])
}
