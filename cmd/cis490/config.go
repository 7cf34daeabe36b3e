package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cis490/cis490/config"
)

// Roles whose configuration cis490 config knows.
const (
	roleReceiver  = "receiver"
	rolePublisher = "publisher"
	configRoles   = roleReceiver + " or " + rolePublisher
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check a daemon's TOML configuration, or print the default one",
		Long: `Check a daemon's TOML configuration file, or print the default one.

Two roles have one: the hub receiver (receiver.toml) and the lab-host
publisher (lab-host.toml, which must set host_id). A configuration is the
defaults, overridden by the file, overridden by the environment:
CIS490_<TABLE>_<KEY> (CIS490_RECEIVE_CONCURRENCY=4, CIS490_SHIP_MAX_RATE=2MiB),
CIS490_<KEY> for top-level keys (CIS490_HOST_ID), and NATS_URL, NATS_CREDS,
NATS_CONTEXT, NATS_CERT, NATS_KEY, NATS_CA for [nats]. Unknown keys are
errors. Exit status 2 means the configuration is invalid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newConfigCheckCmd(g), newConfigDefaultCmd(g))
	return cmd
}

func newConfigCheckCmd(_ *globals) *cobra.Command {
	var path, role string
	cmd := &cobra.Command{
		Use:   "check --config FILE [--role receiver|publisher]",
		Short: "Load and validate a configuration; print the effective one",
		Long: `Load FILE as the configuration of --role, apply the environment, validate
it, and print "ok: FILE (role)" and the effective configuration as TOML
(passwords and tokens in URLs redacted). Exit status 0 if it is valid, 2
with the reason if not.

Without --role, a file with a top-level host_id key is a publisher's
(lab-host.toml), any other file a receiver's (receiver.toml).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConfigCheck(cmd.OutOrStdout(), path, role)
		},
	}
	f := cmd.Flags()
	f.StringVar(&path, "config", "", "TOML file to check (required)")
	f.StringVar(&role, "role", "", "whose configuration it is: "+configRoles+" (default: publisher if the file sets host_id, else receiver)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

func newConfigDefaultCmd(_ *globals) *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "default [--role receiver|publisher]",
		Short: "Print the default configuration, every key commented",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConfigDefault(cmd.OutOrStdout(), role)
		},
	}
	cmd.Flags().StringVar(&role, "role", roleReceiver, "whose configuration: "+configRoles)
	return cmd
}

// checkRole returns a usage error unless role is one cis490 config knows.
func checkRole(role string) error {
	switch role {
	case roleReceiver, rolePublisher:
		return nil
	default:
		return usageErrorf("--role %q: want %s", role, configRoles)
	}
}

// runConfigCheck loads and validates the configuration of role at path and
// prints the effective configuration. An empty role is inferred from the
// file: publisher if it has a top-level host_id, else receiver. Every error
// is a usage error.
func runConfigCheck(out io.Writer, path, role string) error {
	if role == "" {
		role = roleReceiver
		if config.HasHostID(path) {
			role = rolePublisher
		}
	}
	if err := checkRole(role); err != nil {
		return err
	}
	var (
		effective any
		err       error
	)
	switch role {
	case rolePublisher:
		var p config.Publisher
		p, err = config.LoadPublisher(path)
		effective = p.Redacted()
	default:
		var r config.Receiver
		r, err = config.LoadReceiver(path)
		effective = r.Redacted()
	}
	if err != nil {
		if !errors.Is(err, config.ErrInvalid) {
			err = fmt.Errorf("check %s: %w", path, err)
		}
		return usageError{err}
	}
	fmt.Fprintf(out, "ok: %s (%s)\n", path, role)
	fmt.Fprintf(out, "# effective configuration: defaults, then %s, then the environment\n", path)
	return config.Encode(out, effective)
}

// runConfigDefault prints the commented default configuration of role.
func runConfigDefault(out io.Writer, role string) error {
	if err := checkRole(role); err != nil {
		return err
	}
	if role == rolePublisher {
		return config.WriteLabHostExample(out)
	}
	return config.WriteReceiverExample(out)
}
