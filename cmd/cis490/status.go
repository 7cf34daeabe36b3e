package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cis490/cis490/config"
	"github.com/cis490/cis490/progress"
	"github.com/cis490/cis490/workers"
)

func newStatusCmd(g *globals) *cobra.Command {
	var cfgPath, hostID, dataDir string
	var asJSON bool
	var watch time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show this lab host's backlog, episodes in flight with their progress, and the last outcomes",
		Long: `status reads the lab host's data directory (it needs no hub): the backlog
waiting in episodes/, every episode in the state machine with its state,
attempt and upload progress, and the last episode shipped and the last one
rejected. --watch 2s redraws it every two seconds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.DefaultPublisher()
			if cfgPath != "" {
				if err := config.DecodeFile(cfgPath, &cfg); err != nil {
					return usageError{err}
				}
			}
			if err := config.EnvOverride(&cfg, os.Getenv); err != nil {
				return usageError{err}
			}
			if cmd.Flags().Changed("host-id") {
				cfg.HostID = hostID
			}
			if cmd.Flags().Changed("data-dir") {
				cfg.DataDir = dataDir
			}
			return runStatus(cmd.Context(), cfg, cmd.OutOrStdout(), asJSON, watch)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "lab-host.toml")
	f.StringVar(&hostID, "host-id", "", "this lab host's id (overrides host_id)")
	f.StringVar(&dataDir, "data-dir", "", "the data directory (overrides data_dir)")
	f.BoolVar(&asJSON, "json", false, "print the status as JSON")
	f.DurationVar(&watch, "watch", 0, "redraw every interval (e.g. 2s) until interrupted")
	return cmd
}

func runStatus(ctx context.Context, cfg config.Publisher, out io.Writer, asJSON bool, watch time.Duration) error {
	tty := false
	if f, ok := out.(*os.File); ok {
		tty = progress.IsTerminal(f)
	}
	for {
		st, err := workers.ReadStatus(cfg.HostID, cfg.DataDir, time.Now())
		if err != nil {
			return err
		}
		if watch > 0 && tty {
			fmt.Fprint(out, "\x1b[H\x1b[2J") // home, clear screen
		}
		if asJSON {
			b, _ := json.MarshalIndent(st, "", "  ")
			fmt.Fprintln(out, string(b))
		} else {
			printStatus(out, st, cfg.DataDir)
		}
		if watch <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(watch):
		}
	}
}

func printStatus(out io.Writer, st workers.Status, dataDir string) {
	host := st.Host
	if host == "" {
		host = "(host_id not set)"
	}
	fmt.Fprintf(out, "host %s, data %s, %s\n", host, dataDir, st.Time.Local().Format(time.DateTime))
	backlog := fmt.Sprintf("backlog: %d episodes ready, %s", st.Backlog, humanBytes(st.BacklogBytes))
	if !st.OldestReady.IsZero() {
		backlog += fmt.Sprintf(", oldest %s", ago(st.Time, st.OldestReady))
	}
	fmt.Fprintln(out, backlog)
	if len(st.InFlight) == 0 {
		fmt.Fprintln(out, "in flight: none")
	} else {
		fmt.Fprintf(out, "in flight: %d\n", len(st.InFlight))
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, f := range st.InFlight {
			prog := ""
			if f.State == workers.Uploading && f.Total > 0 {
				pct := min(100, float64(f.Stored.Bytes)*100/float64(f.Total))
				prog = fmt.Sprintf("%3.0f%%  %s / %s, %d segments stored", pct, humanBytes(f.Stored.Bytes), humanBytes(f.Total), f.Stored.Segments)
			}
			fmt.Fprintf(tw, "  %s\t%s\tattempt %d\tfor %s\t%s\n", f.EpisodeID, f.State, f.Attempt, ago(st.Time, f.Since), prog)
		}
		tw.Flush()
	}
	last := func(label string, r *workers.Retired, n int) {
		if r == nil {
			fmt.Fprintf(out, "%s: none (%d in all)\n", label, n)
			return
		}
		line := fmt.Sprintf("%s: %s, %s, %s ago (%d in all)", label, r.EpisodeID, r.Reason, ago(st.Time, r.Time), n)
		if r.Detail != "" {
			line += "\n  " + r.Detail
		}
		fmt.Fprintln(out, line)
	}
	last("last shipped", st.LastShipped, st.Shipped)
	last("last rejected", st.LastRejected, st.Quarantined)
}

func ago(now, t time.Time) string {
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	for f /= unit; f >= unit && i < len(units)-1; i++ {
		f /= unit
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
