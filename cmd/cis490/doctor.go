package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cis490/cis490/config"
	"github.com/cis490/cis490/doctor"
	"github.com/cis490/cis490/progress"
)

// exitError ends a command with an exact exit code, which exitCode
// returns as it is: doctor's 1 for yellow and 2 for red.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

func newDoctorCmd(g *globals) *cobra.Command {
	var cfgPath, hostID, dataDir, since string
	var asJSON, hubMode bool
	cmd := &cobra.Command{
		Use:   "doctor [--config F] [--host-id H] [--data-dir D] [--since 10m] [--json] [--hub]",
		Short: "Check this lab host (or, with --hub, the hub) and print the fix of every problem",
		Long: `doctor runs one check per row and prints each row's status, green, yellow
or red (skip where a check cannot apply), with one line saying what is
wrong and the command that fixes it.

On a lab host (the default) it checks lab-host.toml, the link to the hub,
this host's bucket, the backlog in data_dir, the local quarantine, free
disk, the hub's reject records about this host since --since, and the
cis490-publisher unit. It works with the hub down: the rows that need the
hub are skipped and the hub row is red.

--hub checks the hub with only a connection (--server, --creds, ..., or
--config receiver.toml): every stream, bucket and the receiver consumer
against hub/resources.go, the consumer's lag, the quarantine stream's fill,
and per host its bucket, last submission, accepts and rejects, and the
orphan bytes older than [gc] grace that the receiver's next sweep frees.

Exit status: 0 all green (skipped rows allowed), 1 any yellow, 2 any red.
--json prints the report in the schema of docs/doctor.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := config.ParseDuration(since)
			if err != nil || d <= 0 {
				return usageErrorf("--since %q: want a positive duration such as 10m, 2h or 1d", since)
			}
			f := cmd.Flags()
			var rep doctor.Report
			if hubMode {
				if f.Changed("host-id") || f.Changed("data-dir") {
					return usageErrorf("--host-id and --data-dir are for a lab host; --hub checks the hub")
				}
				o := g.connOptions()
				var grace time.Duration
				if cfgPath != "" {
					rc, err := config.LoadReceiver(cfgPath)
					if err != nil {
						return usageError{err}
					}
					o = mergeConn(cmd, rc.NATS, o)
					grace = rc.GC.Grace.Duration()
				}
				recheck := "cis490 doctor --hub"
				if cfgPath != "" {
					recheck += " --config " + cfgPath
				} else if f.Changed("server") && !strings.Contains(g.server, "@") { // no password in a fix
					recheck += " -s " + g.server
				}
				rep = doctor.HubAdmin{NATS: o, Since: d.Duration(), OrphanGrace: grace, Recheck: recheck}.Run(cmd.Context())
			} else {
				cfg, cfgErr := loadDoctorConfig(cmd, g, cfgPath, hostID, dataDir)
				rep = doctor.LabHost{ConfigPath: cfgPath, Config: cfg, ConfigErr: cfgErr, Since: d.Duration()}.Run(cmd.Context())
			}
			if err := cmd.Context().Err(); err != nil {
				return err // stopped by SIGINT/SIGTERM: the rows are cut short, print none
			}
			out := cmd.OutOrStdout()
			if asJSON {
				err = doctor.WriteJSON(out, rep)
			} else {
				color := false
				if file, ok := out.(*os.File); ok {
					color = progress.IsTerminal(file) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
				}
				err = doctor.WriteText(out, rep, color)
			}
			if err != nil {
				return err
			}
			return doctorResult(rep)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "lab-host.toml (with --hub: receiver.toml, for its [nats])")
	f.StringVar(&hostID, "host-id", "", "this lab host's id (overrides host_id)")
	f.StringVar(&dataDir, "data-dir", "", "the data directory (overrides data_dir)")
	f.StringVar(&since, "since", doctor.DefaultSince.String(), "how far back to read the hub's accept and reject records, e.g. 10m, 2h, 1d")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON (schema: docs/doctor.md)")
	f.BoolVar(&hubMode, "hub", false, "check the hub instead of this lab host")
	return cmd
}

// loadDoctorConfig loads the publisher's configuration as cis490 publish
// does: defaults, then the file, then the environment, then the flags,
// then validation. Unlike publish it returns what it could load along with
// the first error, so that doctor still checks what it can.
func loadDoctorConfig(cmd *cobra.Command, g *globals, path, hostID, dataDir string) (config.Publisher, error) {
	cfg := config.DefaultPublisher()
	var err error
	if path != "" {
		err = config.DecodeFile(path, &cfg) // keeps every value it could decode
	}
	if eerr := config.EnvOverride(&cfg, os.Getenv); eerr != nil && err == nil {
		err = eerr
	}
	f := cmd.Flags()
	if f.Changed("host-id") {
		cfg.HostID = hostID
	}
	if f.Changed("data-dir") {
		cfg.DataDir = dataDir
	}
	cfg.NATS = mergeConn(cmd, cfg.NATS, g.connOptions())
	if err == nil {
		err = cfg.Validate()
	}
	return cfg, err
}

// doctorResult maps the report's status to the exit code: nil for green,
// 1 for yellow, 2 for red, naming the rows at fault.
func doctorResult(rep doctor.Report) error {
	switch rep.Status {
	case doctor.Red:
		return exitError{2, fmt.Errorf("doctor: red: %s", strings.Join(rep.Problems(doctor.Red), ", "))}
	case doctor.Yellow:
		return exitError{1, fmt.Errorf("doctor: yellow: %s", strings.Join(rep.Problems(doctor.Yellow), ", "))}
	}
	return nil
}
