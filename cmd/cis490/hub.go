package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/notify"
)

// hubShutdownTimeout bounds the server's shutdown after SIGINT/SIGTERM.
const hubShutdownTimeout = 10 * time.Second

func newHubCmd(g *globals) *cobra.Command {
	var o hub.Options
	cmd := &cobra.Command{
		Use:   "hub",
		Short: "Run the hub: an embedded NATS server with JetStream and the cis490 resources",
		Long: `Run the hub: an embedded nats-server with JetStream, storing in --store,
serving clients on --listen. On start it creates or updates the cis490 streams,
key-value buckets and the receiver consumer. It runs until SIGINT or SIGTERM.

--config reads a nats-server.conf (TLS, accounts, cluster, limits). With
--config, --store and --listen override the file only when given; the file
must then set jetstream.store_dir or --store must be given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if o.ConfigFile != "" {
				if !cmd.Flags().Changed("store") {
					o.StoreDir = ""
				}
				if !cmd.Flags().Changed("listen") {
					o.Listen = ""
				}
			}
			o.Logger = log
			return runHub(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.StoreDir, "store", "./cis490-hub", "JetStream store directory")
	f.StringVar(&o.Listen, "listen", hub.DefaultListen, "client listen address, host:port (port 0 picks a free one)")
	f.StringVar(&o.ConfigFile, "config", "", "nats-server.conf to read (optional)")
	cmd.AddCommand(newHubProvisionCmd(g))
	return cmd
}

// runHub starts the hub, tells systemd it is ready once the resources are
// ensured, and runs until ctx is done, petting the watchdog only after a
// health check of the server passed; then it shuts the hub down.
func runHub(ctx context.Context, o hub.Options) error {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	log := o.Logger.With("component", "hub")
	sd := notify.New(o.Logger.With("component", "systemd"))
	if err := sd.Open(ctx); err != nil {
		return err
	}
	defer sd.Close(context.WithoutCancel(ctx))

	// SIGHUP (systemctl reload cis490-hub) reads the config file again:
	// users added by cis490 hub provision --out can connect at once. It is
	// caught from before the server starts, so that a reload arriving
	// between READY=1 and the loop below cannot end the process (SIGHUP's
	// default action); one that arrives during start-up is applied after.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	h, err := hub.Start(ctx, o)
	if errors.Is(err, hub.ErrInvalidOptions) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	log.Info("hub ready", "client_url", h.ClientURL(), "store_dir", h.StoreDir())
	sd.Ready("serving " + h.ClientURL())

	hctx, stopHealth := context.WithCancel(ctx)
	health := make(chan struct{})
	go func() {
		defer close(health)
		watchHub(hctx, h, sd, hubHealthInterval(sd), log)
	}()

	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-hup:
			if err := h.Reload(); err != nil {
				log.Error("reload failed; serving with the configuration it had", "error", err)
			} else {
				log.Info("hub reloaded", "config_file", o.ConfigFile)
			}
		}
	}
	sd.Stopping()
	log.Info("hub stopping")
	stopHealth()
	sctx, cancel := context.WithTimeout(context.Background(), hubShutdownTimeout)
	defer cancel()
	if err := h.Shutdown(sctx); err != nil {
		return fmt.Errorf("stop hub: %w", err)
	}
	select {
	case <-health:
	case <-sctx.Done(): // a check hung on the server; it ends with the process
	}
	log.Info("hub stopped")
	return nil
}

// hubHealthInterval is the time between two health checks: four checks per
// WatchdogSec, so that one slow or failed check does not cost a restart;
// 30 s, for STATUS= alone, when the watchdog is off.
func hubHealthInterval(sd *notify.Notifier) time.Duration {
	if w := sd.WatchdogInterval(); w > 0 {
		return w / 4
	}
	return 30 * time.Second
}

// watchHub checks the hub every interval until ctx is done. A check that
// passes pets the watchdog and updates STATUS=; a check that fails or hangs
// does not, so systemd restarts a hub whose server stopped serving. Only
// changes of health are logged.
func watchHub(ctx context.Context, h *hub.Hub, sd *notify.Notifier, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	healthy := true
	for {
		cctx, cancel := context.WithTimeout(ctx, min(every, hubHealthTimeout))
		status, err := checkHub(cctx, h)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if healthy {
				log.Warn("hub health check failed; the watchdog is not petted", "error", err)
			}
			healthy = false
			sd.Status("unhealthy: %v", err)
		default:
			if !healthy {
				log.Info("hub health check passed again")
			}
			healthy = true
			sd.Heartbeat()
			sd.Status("%s", status)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// hubHealthTimeout bounds one health check.
const hubHealthTimeout = 10 * time.Second

// checkHub is one health check of the running hub: the server's own healthz
// (ready for connections, JetStream enabled, every stream in the store
// loaded) and, when the hub has its in-process connection, a JetStream API
// round trip through the server's client path. It returns the STATUS= line.
func checkHub(ctx context.Context, h *hub.Hub) (string, error) {
	hs := h.Server().Healthz(nil)
	if hs.StatusCode != http.StatusOK {
		return "", fmt.Errorf("server healthz %d %s: %s", hs.StatusCode, hs.Status, hs.Error)
	}
	js, err := h.JetStream()
	if errors.Is(err, hub.ErrNotConnected) {
		// Authorization refused the in-process client (a config with
		// users): healthz is the check.
		return "serving " + h.ClientURL() + "; healthz ok", nil
	}
	if err != nil {
		return "", err
	}
	ai, err := js.AccountInfo(ctx)
	if err != nil {
		return "", fmt.Errorf("jetstream round trip: %w", err)
	}
	return fmt.Sprintf("serving %s; %d streams, %d consumers, %s stored",
		h.ClientURL(), ai.Streams, ai.Consumers, humanBytes(int64(ai.Store))), nil
}
