package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/cis490/cis490/config"
	"github.com/cis490/cis490/durable"
	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/subjects"
)

// provisionFlags are the flags of cis490 hub provision.
type provisionFlags struct {
	hosts          []string
	out            string
	noApply        bool
	quota          string
	quotaSet       bool // --quota given: it applies to existing buckets too
	replicas       int
	receiverConfig string
}

func newHubProvisionCmd(g *globals) *cobra.Command {
	var f provisionFlags
	cmd := &cobra.Command{
		Use:   "provision --host NAME...",
		Short: "Write the hub's users and permissions and create or update every resource",
		Long: `Provision a hub with per-user permissions (deploy/hub/nats-server.conf).

It writes the authorization block for the given lab hosts, the receiver and
the admin (users.conf: each user is the subject CN=<name>,O=cis490 of a client
certificate) to --out, or to standard output without --out. With --out, the
hosts already in that file are kept: adding a lab host is

  cis490 hub provision --host lab3 --out /etc/cis490/users.conf

Then, unless --no-apply, it connects with the global connection flags (or
--context) as the admin and creates or updates the streams, key-value buckets,
the receiver consumer and one object bucket per host with its quota, so a
stock nats-server works as the hub. It is idempotent. Reload the hub
afterwards to apply the new users.conf (systemctl reload cis490-hub; a
stock nats-server: nats-server --signal reload). docs/security.md has the
whole procedure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.quotaSet = cmd.Flags().Changed("quota")
			return runProvision(cmd.Context(), g, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.hosts, "host", nil, "lab host id (repeat, or comma separated)")
	fl.StringVar(&f.out, "out", "", "write users.conf here, keeping the hosts it lists (default: standard output)")
	fl.BoolVar(&f.noApply, "no-apply", false, "only write users.conf; do not connect to the hub")
	fl.StringVar(&f.quota, "quota", config.Size(hub.DefaultResourceOptions().HostQuota).String(),
		"MaxBytes of a new host's bucket; given, of every named host's bucket (an existing one keeps its own otherwise)")
	fl.IntVar(&f.replicas, "replicas", 1, "replicas of every stream and bucket (3 on a cluster)")
	fl.StringVar(&f.receiverConfig, "receiver-config", "",
		"receiver.toml whose [quarantine] limits and [receive] ack_wait to apply (a receiver under least privilege cannot); without it the hub's current ones are kept")
	return cmd
}

// runProvision writes users.conf, then applies the resources.
func runProvision(ctx context.Context, g *globals, f provisionFlags, stdout, stderr io.Writer) error {
	res := hub.DefaultResourceOptions()
	quota, err := config.ParseSize(f.quota)
	if err != nil {
		return usageErrorf("--quota %q: %v", f.quota, err)
	}
	res.HostQuota, res.Replicas = int64(quota), f.replicas
	var rc *config.Receiver
	if f.receiverConfig != "" {
		c, err := config.LoadReceiver(f.receiverConfig)
		if err != nil {
			return usageError{err}
		}
		rc = &c
		res.QuarantineMaxAge, res.QuarantineMaxBytes, res.QuarantineMaxMsgs = c.Quarantine.MaxAge.Duration(), int64(c.Quarantine.MaxBytes), c.Quarantine.MaxMsgs
		res.ReceiverAckWait = c.Receive.AckWait.Duration()
	}
	if err := res.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	hosts := f.hosts
	if f.out != "" {
		kept, err := hostsInFile(f.out)
		if err != nil {
			return usageError{err}
		}
		hosts = append(kept, hosts...)
	}
	if len(hosts) == 0 {
		return usageErrorf("no host: give --host NAME (or --out a users.conf that lists some)")
	}
	conf, err := hub.UsersConf(hosts)
	if errors.Is(err, subjects.ErrBadHost) {
		return usageErrorf("--host: %v", err)
	}
	if err != nil {
		return err
	}
	users, _ := hub.HostsOfUsersConf(conf)
	report := stdout
	if f.out == "" {
		if _, err := stdout.Write(conf); err != nil {
			return err
		}
		report = stderr
	} else {
		if err := durable.WriteFile(f.out, conf, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.out, err)
		}
		fmt.Fprintf(report, "wrote %s: users admin, receiver, %s\n", f.out, strings.Join(users, ", "))
	}
	if f.noApply {
		return nil
	}
	nc, err := g.connect(ctx, "hub provision")
	if err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	defer nc.Close()
	if rc == nil {
		// Keep what receivers applied from their receiver.toml.
		js, err := jetstream.New(nc)
		if err != nil {
			return fmt.Errorf("provision: %w", err)
		}
		kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		res, err = hub.KeepReceiverSettings(kctx, js, res)
		cancel()
		if err != nil {
			return fmt.Errorf("provision: %w", err)
		}
	}
	var opts []hub.ProvisionOption
	quotas := fmt.Sprintf("quota %s each", config.Size(res.HostQuota))
	if !f.quotaSet {
		opts = append(opts, hub.KeepQuotas())
		quotas = fmt.Sprintf("a new bucket's quota %s; existing buckets keep theirs", config.Size(res.HostQuota))
	}
	err = hub.Provision(ctx, nc, users, res, func(p hub.Provisioned) {
		fmt.Fprintf(report, "ok  %s %s\n", p.Kind, p.Name)
	}, opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(report, "hub %s provisioned for %s (%s)\n", nc.ConnectedUrlRedacted(), strings.Join(users, ", "), quotas)
	return nil
}

// hostsInFile returns the hosts of a users.conf written by provision, or
// none if path does not exist yet. A file provision did not write is an
// error: it is not overwritten.
func hostsInFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("--out %s: %w", path, err)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", path, err)
	}
	hosts, err := hub.HostsOfUsersConf(data)
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w; refusing to overwrite it", path, err)
	}
	return hosts, nil
}
