package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cis490/cis490/hub"
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

// runHub starts the hub, runs until ctx is done, then shuts it down.
func runHub(ctx context.Context, o hub.Options) error {
	h, err := hub.Start(ctx, o)
	if errors.Is(err, hub.ErrInvalidOptions) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	log := o.Logger.With("component", "hub")
	log.Info("hub ready", "client_url", h.ClientURL(), "store_dir", h.StoreDir())

	<-ctx.Done()
	log.Info("hub stopping")
	sctx, cancel := context.WithTimeout(context.Background(), hubShutdownTimeout)
	defer cancel()
	if err := h.Shutdown(sctx); err != nil {
		return fmt.Errorf("stop hub: %w", err)
	}
	log.Info("hub stopped")
	return nil
}
