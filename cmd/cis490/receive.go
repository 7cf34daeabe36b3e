package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/cis490/cis490/config"
	"github.com/cis490/cis490/metrics"
	"github.com/cis490/cis490/natsconn"
	"github.com/cis490/cis490/notify"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/window"
)

// faultEnv names the receive step at which the process kills itself with
// SIGKILL: the seam of the crash tests in e2e/. Unset, it does nothing.
const faultEnv = "CIS490_FAULT_CRASH_AT"

func newReceiveCmd(g *globals) *cobra.Command {
	var cfgPath, archiveDir, metricsListen string
	var concurrency int
	cmd := &cobra.Command{
		Use:   "receive",
		Short: "Run the hub receiver: validate submissions, gate on code_version, record verdicts",
		Long: `receive is the hub's judge (systemd unit cis490-receiver). It consumes the
submissions work queue on the shared durable consumer, validates each
episode's stored archive, applies the commit window, and records the
verdict in CIS490_VERDICTS, the quarantine or accepted stream, and
archive_dir. Settings come from receiver.toml (see 'cis490 config default
--role receiver'), then CIS490_* environment variables, then flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadReceiver(cfgPath)
			if err != nil {
				return usageError{err}
			}
			f := cmd.Flags()
			if f.Changed("archive-dir") {
				cfg.Receive.ArchiveDir = archiveDir
			}
			if f.Changed("concurrency") {
				cfg.Receive.Concurrency = concurrency
			}
			if f.Changed("metrics-listen") {
				cfg.Metrics.Listen = metricsListen
			}
			cfg.NATS = mergeConn(cmd, cfg.NATS, g.connOptions())
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			logger, err := g.logger()
			if err != nil {
				return err
			}
			return runReceive(cmd.Context(), cfg, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "receiver.toml (default: built-in defaults)")
	f.StringVar(&archiveDir, "archive-dir", "", "export accepted episodes under this absolute directory (overrides [receive] archive_dir)")
	f.IntVar(&concurrency, "concurrency", 0, "episodes validated at once (overrides [receive] concurrency)")
	f.StringVar(&metricsListen, "metrics-listen", "", "serve /metrics on host:port (overrides [metrics] listen)")
	return cmd
}

// mergeConn lays the global connection flags given on the command line over
// the config's [nats] table, which already holds the file and then the
// environment (NATS_* and CIS490_NATS_*): a flag given wins, a flag's
// environment default does not jump the config's own order.
func mergeConn(cmd *cobra.Command, file, flags natsconn.Options) natsconn.Options {
	set := func(name string, dst *string, v string) {
		if cmd.Flags().Changed(name) {
			*dst = v
		}
	}
	set("server", &file.URL, flags.URL)
	set("creds", &file.Creds, flags.Creds)
	set("context", &file.Context, flags.Context)
	set("tls-cert", &file.TLSCert, flags.TLSCert)
	set("tls-key", &file.TLSKey, flags.TLSKey)
	set("tls-ca", &file.TLSCA, flags.TLSCA)
	return file
}

func runReceive(ctx context.Context, cfg config.Receiver, logger *slog.Logger) error {
	log := logger.With("component", "receive")
	sd := notify.New(logger.With("component", "systemd"))
	if err := sd.Open(ctx); err != nil {
		return err
	}
	defer sd.Close(context.WithoutCancel(ctx))

	o := cfg.NATS
	o.Name = "cis490 receive"
	nc, err := natsconn.Connect(ctx, o, natsconn.LogEvents(logger.With("component", "nats")))
	if errors.Is(err, natsconn.ErrConfig) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	reg := metrics.NewRegistry()
	m := receiver.NewMetrics(reg)
	srv := metrics.NewServer(cfg.Metrics.Listen, reg, logger.With("component", "metrics"))
	if err := srv.Open(ctx); err != nil {
		return err
	}
	defer srv.Close(context.WithoutCancel(ctx))

	if changed, err := receiver.ApplyQuarantineLimits(ctx, js, receiver.QuarantineLimits{
		MaxAge: cfg.Quarantine.MaxAge.Duration(), MaxBytes: int64(cfg.Quarantine.MaxBytes), MaxMsgs: cfg.Quarantine.MaxMsgs,
	}); err != nil {
		log.Warn("quarantine limits not applied; the hub admin applies them", "error", err)
	} else if changed {
		log.Info("quarantine limits applied", "max_age", cfg.Quarantine.MaxAge, "max_bytes", cfg.Quarantine.MaxBytes, "max_msgs", cfg.Quarantine.MaxMsgs)
	}
	if changed, err := receiver.ApplyAckWait(ctx, js, cfg.Receive.AckWait.Duration()); err != nil {
		log.Warn("ack wait not applied; the hub admin applies it", "error", err)
	} else if changed {
		log.Info("consumer ack wait applied", "ack_wait", cfg.Receive.AckWait)
	}
	win, err := window.Open(ctx, js, window.WithEmptyFor(time.Second))
	if err != nil {
		return err
	}
	if step := os.Getenv(faultEnv); step != "" {
		log.Warn("fault injection armed: the process kills itself at a step", "step", step)
		receiver.SetCrashHook(func(s string) {
			if s == step {
				log.Warn("fault injection: SIGKILL", "step", s)
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		})
	}
	r, err := receiver.New(ctx, js, receiver.Options{
		Concurrency: cfg.Receive.Concurrency,
		EarlyReads:  cmp.Or(cfg.Receive.EarlyReads, -1), // 0 in the file: none
		ArchiveDir:  cfg.Receive.ArchiveDir,
		Limits: objectstore.Limits{
			MaxBytes: int64(cfg.Receive.MaxEpisodeBytes), MaxFiles: cfg.Receive.MaxFiles, MaxNameLen: cfg.Receive.MaxNameLen,
			MaxExpansion: cfg.Receive.MaxExpansion,
		},
		ArchiveHostQuota:      int64(cfg.Receive.ArchiveHostQuota),
		ArchiveMinFree:        int64(cfg.Receive.ArchiveMinFree.Size),
		ArchiveMinFreePercent: cfg.Receive.ArchiveMinFree.Percent,
		Window:                win,
		Logger:                logger,
		Metrics:               m,
		OnPass:                sd.Heartbeat,
		AcceptedKeep:          cfg.GC.AcceptedKeep.Duration(),
		HostRate:              cfg.Receive.HostRate,
		HostBurst:             cfg.Receive.HostBurst,
	})
	if err != nil {
		return err
	}
	go r.RunGC(ctx, cfg.GC.Interval.Duration(), cfg.GC.Grace.Duration())
	go reportLag(ctx, r, sd, log)
	sd.Ready("receiving")
	log.Info("receiver ready", "url", nc.ConnectedUrlRedacted(), "concurrency", cfg.Receive.Concurrency,
		"archive_dir", cfg.Receive.ArchiveDir, "metrics", srv.Addr())
	err = r.Run(ctx)
	sd.Stopping()
	log.Info("receiver stopped")
	return err
}

// reportLag keeps systemd's STATUS= and the lag gauges current.
func reportLag(ctx context.Context, r *receiver.Receiver, sd *notify.Notifier, log *slog.Logger) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		pending, inFlight, err := r.Lag(ctx)
		if err == nil {
			sd.Status("receiving: %d submissions pending, %d in flight", pending, inFlight)
		} else if ctx.Err() == nil {
			log.Debug("read consumer lag", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
