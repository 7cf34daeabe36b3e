package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/cis490/cis490/config"
	"github.com/cis490/cis490/housekeep"
	"github.com/cis490/cis490/metrics"
	"github.com/cis490/cis490/natsconn"
	"github.com/cis490/cis490/notify"
	"github.com/cis490/cis490/progress"
	"github.com/cis490/cis490/ratelimit"
	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/window"
	"github.com/cis490/cis490/workers"
)

func newPublishCmd(g *globals) *cobra.Command {
	var cfgPath, hostID, dataDir string
	var once, ping bool
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Run the lab-host publisher: ship every ready episode to the hub exactly once",
		Long: `publish is the lab host's daemon (systemd unit cis490-publisher). It ships
every ready episode in <data_dir>/episodes/ and retires it to shipped/ or
quarantine/ on the hub's verdict. Settings come from lab-host.toml (see
'cis490 config default --role publisher'), then CIS490_* environment
variables, then flags.

  --once   ship the backlog as it stands, print a summary, exit 0 if nothing failed
  --ping   check the link, the credentials and this host's permissions, writing nothing`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Defaults, then the file, then the environment, then flags;
			// validated once all are in.
			cfg := config.DefaultPublisher()
			if cfgPath != "" {
				if err := config.DecodeFile(cfgPath, &cfg); err != nil {
					return usageError{err}
				}
			}
			if err := config.EnvOverride(&cfg, os.Getenv); err != nil {
				return usageError{err}
			}
			f := cmd.Flags()
			if f.Changed("host-id") {
				cfg.HostID = hostID
			}
			if f.Changed("data-dir") {
				cfg.DataDir = dataDir
			}
			cfg.NATS = mergeConn(cmd, cfg.NATS, g.connOptions())
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			logger, err := g.logger()
			if err != nil {
				return err
			}
			switch {
			case ping:
				return runPing(cmd.Context(), cfg, cmd.OutOrStdout())
			case once:
				return runOnce(cmd.Context(), cfg, logger, cmd.OutOrStdout())
			}
			return runPublish(cmd.Context(), cfg, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "lab-host.toml")
	f.StringVar(&hostID, "host-id", "", "this lab host's id (overrides host_id)")
	f.StringVar(&dataDir, "data-dir", "", "directory holding episodes/ outbox/ shipped/ quarantine/ (overrides data_dir)")
	f.BoolVar(&once, "once", false, "ship the backlog once, print a summary and exit")
	f.BoolVar(&ping, "ping", false, "check the link and this host's permissions without writing anything")
	cmd.MarkFlagsMutuallyExclusive("once", "ping")
	return cmd
}

// connectPublisher connects and builds the Publisher for cfg.
func connectPublisher(ctx context.Context, cfg config.Publisher, logger *slog.Logger, extra workers.Options) (*nats.Conn, *workers.Publisher, error) {
	o := cfg.NATS
	o.Name = "cis490 publish " + cfg.HostID
	nc, err := natsconn.Connect(ctx, o, natsconn.LogEvents(logger.With("component", "nats")))
	if errors.Is(err, natsconn.ErrConfig) {
		return nil, nil, usageError{err}
	}
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	if w, err := window.Open(ctx, js, window.WithEmptyFor(time.Second)); err == nil {
		extra.Window = w
	} else {
		logger.Warn("commit window unreadable; pre-flight skips it and the receiver decides", "error", err)
	}
	lim := ratelimit.New(int64(cfg.Ship.MaxRate))
	extra.Host, extra.DataDir = cfg.HostID, cfg.DataDir
	extra.SegmentSize = int64(cfg.Ship.SegmentSize)
	extra.Settle = cfg.Ship.Settle.Duration()
	if extra.Settle == 0 {
		extra.Settle = time.Nanosecond // the file's 0 means at once; the Options' 0 means the default
	}
	extra.Concurrency = cfg.Ship.Concurrency
	extra.VerdictTimeout = cfg.Ship.VerdictTimeout.Duration()
	extra.CorruptRetries = cfg.Ship.CorruptRetries
	if extra.CorruptRetries == 0 {
		extra.CorruptRetries = -1 // the file's 0 means none; the Options' 0 means the default
	}
	extra.Interval = cfg.Ship.ScanInterval.Duration()
	extra.Throttle = lim.Reader
	extra.Logger = logger
	p, err := workers.New(ctx, js, extra)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, p, nil
}

// armPublisherFault arms the fault-injection seams: CIS490_FAULT_CRASH_AT
// (SIGKILL after a step) and CIS490_FAULT_PASS=panic:N or stall:N (the Nth
// scan pass panics, or hangs for good). Unset, they do nothing.
func armPublisherFault(log *slog.Logger) {
	if f := os.Getenv("CIS490_FAULT_PASS"); f != "" {
		kind, num, _ := strings.Cut(f, ":")
		n, _ := strconv.Atoi(num)
		log.Warn("fault injection armed: a scan pass misbehaves", "fault", f)
		workers.SetPassHook(func(pass int) {
			if pass != n {
				return
			}
			switch kind {
			case "panic":
				panic("fault injection: scan pass " + num)
			case "stall":
				log.Warn("fault injection: scan pass hangs", "pass", pass)
				select {}
			}
		})
	}
	if step := os.Getenv(faultEnv); step != "" {
		log.Warn("fault injection armed: the process kills itself at a step", "step", step)
		workers.SetCrashHook(func(s string) {
			if s == step {
				log.Warn("fault injection: SIGKILL", "step", s)
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		})
	}
}

func runPublish(ctx context.Context, cfg config.Publisher, logger *slog.Logger) error {
	log := logger.With("component", "publish", "host", cfg.HostID)
	sd := notify.New(logger.With("component", "systemd"))
	if err := sd.Open(ctx); err != nil {
		return err
	}
	defer sd.Close(context.WithoutCancel(ctx))
	reg := metrics.NewRegistry()
	m := workers.NewMetrics(reg)
	srv := metrics.NewServer(cfg.Metrics.Listen, reg, logger.With("component", "metrics"))
	if err := srv.Open(ctx); err != nil {
		return err
	}
	defer srv.Close(context.WithoutCancel(ctx))
	armPublisherFault(log)

	nc, p, err := connectPublisher(ctx, cfg, logger, workers.Options{Metrics: m, OnPass: sd.Heartbeat})
	if err != nil {
		return err
	}
	defer nc.Close()
	resumed, err := p.Recover()
	if err != nil {
		return err
	}
	cleaners := newCleaners(cfg, logger)
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			for _, c := range cleaners {
				if _, _, err := c.MaybeRun(); err != nil {
					log.Warn("cleanup", "error", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	sd.Ready(fmt.Sprintf("publishing; %d episodes resumed", resumed))
	log.Info("publisher ready", "url", nc.ConnectedUrlRedacted(), "data_dir", cfg.DataDir, "resumed", resumed,
		"concurrency", cfg.Ship.Concurrency, "max_rate", cfg.Ship.MaxRate, "metrics", srv.Addr())
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				sd.Status("publishing; backlog %d episodes", p.Backlog())
			}
		}
	}()
	err = p.Run(ctx)
	sd.Stopping()
	log.Info("publisher stopped")
	return err
}

func runOnce(ctx context.Context, cfg config.Publisher, logger *slog.Logger, out io.Writer) error {
	tty := false
	if f, ok := out.(*os.File); ok {
		tty = progress.IsTerminal(f)
	}
	d := progress.New(out, tty)
	armPublisherFault(logger)
	nc, p, err := connectPublisher(ctx, cfg, logger, workers.Options{Progress: displayProgress{d}, Once: true})
	if err != nil {
		return err
	}
	defer nc.Close()
	if _, err := p.Recover(); err != nil {
		return err
	}
	sum, err := p.RunOnce(ctx)
	d.Close()
	fmt.Fprintf(out, "shipped %d, quarantined %d, failed %d, still being written %d\n",
		len(sum.Shipped), len(sum.Quarantined), len(sum.Failed), sum.Unsettled)
	for _, q := range sum.Quarantined {
		fmt.Fprintf(out, "  quarantined %s\n", q)
	}
	ids := make([]string, 0, len(sum.Failed))
	for id := range sum.Failed {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		fmt.Fprintf(out, "  failed %s: %s\n", id, sum.Failed[id])
	}
	return err
}

// displayProgress adapts progress.Display to workers.Progress.
type displayProgress struct{ d *progress.Display }

func (p displayProgress) Start(id string, total int64) workers.Task { return p.d.Start(id, total) }

// newCleaners returns the housekeepers of quarantine/ and shipped/.
func newCleaners(cfg config.Publisher, logger *slog.Logger) []*housekeep.Cleaner {
	_, _, shipped, quarantine := cfg.Dirs()
	logger = logger.With("component", "cleanup")
	every := cfg.Quarantine.CleanupInterval.Duration()
	return []*housekeep.Cleaner{
		housekeep.NewCleaner(quarantine, cfg.Quarantine.KeepDays, every, logger),
		housekeep.NewCleaner(shipped, cfg.Shipped.KeepDays, every, logger),
	}
}

// runPing checks the link and this host's rights without writing: connect,
// JetStream, the host's bucket, its verdicts, its submit subject's stream.
// Each check has its own short deadline: a request denied by permissions
// does not fail fast, it waits for its deadline.
func runPing(ctx context.Context, cfg config.Publisher, out io.Writer) error {
	o := cfg.NATS
	o.Name = "cis490 publish --ping " + cfg.HostID
	t0 := time.Now()
	nc, err := natsconn.Connect(ctx, o)
	if errors.Is(err, natsconn.ErrConfig) {
		return usageError{err}
	}
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	defer nc.Close()
	fmt.Fprintf(out, "connected to %s in %v\n", nc.ConnectedUrlRedacted(), time.Since(t0).Round(time.Millisecond))
	rtt, err := nc.RTT()
	if err != nil {
		return fmt.Errorf("ping: round trip: %w", err)
	}
	fmt.Fprintf(out, "round trip %v\n", rtt.Round(time.Microsecond))
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	check := func(what string, f func(ctx context.Context) error) error {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := f(c); err != nil {
			return fmt.Errorf("ping: %s: %w", what, err)
		}
		fmt.Fprintf(out, "ok  %s\n", what)
		return nil
	}
	bucket := subjects.EpisodeBucket(cfg.HostID)
	steps := []struct {
		what string
		f    func(context.Context) error
	}{
		{"JetStream available", func(c context.Context) error { _, err := js.AccountInfo(c); return err }},
		{"bucket " + bucket + " readable", func(c context.Context) error {
			obs, err := js.ObjectStore(c, bucket)
			if err != nil {
				return err
			}
			_, err = obs.Status(c)
			return err
		}},
		{"verdicts " + subjects.VerdictHostFilter(cfg.HostID) + " readable", func(c context.Context) error {
			kv, err := js.KeyValue(c, subjects.VerdictsBucket)
			if err != nil {
				return err
			}
			_, err = kv.Get(c, subjects.VerdictKey(cfg.HostID, "cis490-ping"))
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				return nil
			}
			return err
		}},
		{"submissions stream " + subjects.SubmissionsStream + " present", func(c context.Context) error {
			_, err := js.Stream(c, subjects.SubmissionsStream)
			return err
		}},
	}
	for _, s := range steps {
		if err := check(s.what, s.f); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "host %s can reach the hub\n", cfg.HostID)
	return nil
}
