package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/cis490/cis490/journald"
	"github.com/cis490/cis490/natsconn"
)

// globals holds the flags every command shares.
type globals struct {
	// NATS connection, from --server/--creds/--tls-*/--context and NATS_* env.
	server, creds, context string
	tlsCert, tlsKey, tlsCA string
	logLevel, logFormat    string
	stderr                 io.Writer
}

func newRootCmd() *cobra.Command {
	g := &globals{stderr: os.Stderr}
	root := &cobra.Command{
		Use:           "cis490",
		Short:         "Ship lab episodes to the hub over NATS JetStream, exactly once and intact",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Cobra's default, which SuggestionsFor does not apply by itself.
		SuggestionsMinimumDistance: 2,
		// Runnable, so that an unknown command reaches Args (a usage
		// error) instead of cobra's plain "unknown command" error.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := "unknown command %q for %q"
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += " (did you mean " + strings.Join(s, ", ") + "?)"
			}
			return usageErrorf(msg, args[0], cmd.CommandPath())
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g.stderr = cmd.ErrOrStderr()
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return usageError{err}
			}
			if err := cmd.ValidateFlagGroups(); err != nil {
				return usageError{err}
			}
			_, err := g.logger()
			return err
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	f := root.PersistentFlags()
	f.StringVarP(&g.server, "server", "s", os.Getenv("NATS_URL"), "NATS server URL(s), comma separated (env NATS_URL)")
	f.StringVar(&g.creds, "creds", os.Getenv("NATS_CREDS"), "NATS credentials file (env NATS_CREDS)")
	f.StringVar(&g.tlsCert, "tls-cert", os.Getenv("NATS_CERT"), "client certificate for mTLS (env NATS_CERT)")
	f.StringVar(&g.tlsKey, "tls-key", os.Getenv("NATS_KEY"), "client private key for mTLS (env NATS_KEY)")
	f.StringVar(&g.tlsCA, "tls-ca", os.Getenv("NATS_CA"), "CA certificate that signed the server's certificate (env NATS_CA)")
	f.StringVar(&g.context, "context", os.Getenv("NATS_CONTEXT"), "nats CLI context name, read from ~/.config/nats/context/<name>.json, or a path to one (env NATS_CONTEXT; default: the context chosen with 'nats context select' unless --server is set)")
	f.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&g.logFormat, "log-format", "", "log format: text, json or journal (default: journal when stderr is the journal, as under systemd, else text)")

	root.AddCommand(newVersionCmd())
	root.AddCommand(daemon(newHubCmd(g)))
	root.AddCommand(daemon(newReceiveCmd(g)))
	root.AddCommand(daemon(newPublishCmd(g)))
	root.AddCommand(newQuarantineCmd(g))
	root.AddCommand(newDemoCmd(g))
	root.AddCommand(newStatusCmd(g))
	root.AddCommand(newDoctorCmd(g))
	root.AddCommand(newWindowCmd(g))
	root.AddCommand(newConfigCmd(g))
	root.AddCommand(newBenchCmd(g))
	return root
}

// logger builds the process logger from --log-level and --log-format.
// Without --log-format, the logs go to the journal as structured fields
// (package journald) when stderr is the journal's stream, as for a systemd
// service, and its socket takes datagrams; otherwise they are text lines on
// stderr. `--log-format journal` asks for the journal, and is a usage error
// when its socket takes nothing.
func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, usageErrorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	format := strings.ToLower(g.logFormat)
	if format == "" {
		format = "text"
		if journald.IsJournalStream(g.stderr) && journald.Available() == nil {
			format = "journal"
		}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(g.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, opts)), nil
	case "journal":
		if err := journald.Available(); err != nil {
			return nil, usageErrorf("--log-format journal: %w", err)
		}
		return slog.New(journald.NewHandler(g.stderr, &journald.Options{Level: level})), nil
	default:
		return nil, usageErrorf("--log-format %q: want text, json or journal", g.logFormat)
	}
}

// connOptions returns the NATS connection settings given by the global
// flags and their environment variables. Empty fields are filled from the
// nats CLI context by natsconn.
func (g *globals) connOptions() natsconn.Options {
	return natsconn.Options{
		URL:     g.server,
		Creds:   g.creds,
		Context: g.context,
		TLSCert: g.tlsCert,
		TLSKey:  g.tlsKey,
		TLSCA:   g.tlsCA,
	}
}

// connect connects to NATS with the global flags. name is the command's
// name; the server shows the connection as "cis490 <name>". Connection
// events are logged. A configuration error (bad flags, missing context or
// creds file) is a usage error, exit status 2; ctx bounds only the first
// connection attempt.
func (g *globals) connect(ctx context.Context, name string) (*nats.Conn, error) {
	logger, err := g.logger()
	if err != nil {
		return nil, err
	}
	o := g.connOptions()
	o.Name = strings.TrimSpace("cis490 " + name)
	nc, err := natsconn.Connect(ctx, o, natsconn.LogEvents(logger.With("component", "nats")))
	if errors.Is(err, natsconn.ErrConfig) {
		return nil, usageError{err}
	}
	return nc, err
}

// markArgErrors makes the positional-argument errors of cmd and all its
// subcommands usage errors, so that `cis490 version extra` exits 2.
func markArgErrors(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			var ue usageError
			if err != nil && !errors.As(err, &ue) {
				return usageError{err}
			}
			return err
		}
	}
	for _, sub := range cmd.Commands() {
		markArgErrors(sub)
	}
}
