package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/cis490/cis490/config"
	"github.com/cis490/cis490/housekeep"
	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/workers"
)

// quarantineOptions are the flags every quarantine subcommand shares:
// where lab-host.toml and the data directory are.
type quarantineOptions struct {
	cfgPath, hostID, dataDir string
}

func newQuarantineCmd(g *globals) *cobra.Command {
	o := &quarantineOptions{}
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "List, inspect, requeue and clean up the lab host's quarantined episodes",
		Long: `quarantine works on <data_dir>/quarantine/ of a lab host, where the publisher
moves the episodes it may not ship, each with a quarantine_reason.json. It
reads lab-host.toml like 'cis490 publish' (defaults, then --config, then
CIS490_* variables, then --data-dir); host_id is not needed. It connects to
nothing, and is safe while the publisher runs.

  ls                   one row per quarantined episode, oldest first
  show ID              its reason file, its files, the fix
  requeue ID...        move entries back to episodes/ so they ship again
  drain-unstamped      quarantine every unstamped episode of episodes/
  cleanup              remove entries older than quarantine.keep_days now`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := cmd.PersistentFlags()
	f.StringVar(&o.cfgPath, "config", "", "lab-host.toml")
	f.StringVar(&o.hostID, "host-id", "", "this lab host's id (overrides host_id; not needed here)")
	f.StringVar(&o.dataDir, "data-dir", "", "directory holding episodes/ outbox/ shipped/ quarantine/ (overrides data_dir)")
	cmd.AddCommand(
		newQuarantineListCmd(g, o),
		newQuarantineShowCmd(g, o),
		newQuarantineRequeueCmd(g, o),
		newQuarantineDrainCmd(g, o),
		newQuarantineCleanupCmd(g, o),
	)
	return cmd
}

// load returns the lab host's configuration: defaults, the file, the
// environment, then the flags, validated. host_id may be left out: no
// command here names the host.
func (o *quarantineOptions) load(cmd *cobra.Command) (config.Publisher, error) {
	cfg := config.DefaultPublisher()
	if o.cfgPath != "" {
		if err := config.DecodeFile(o.cfgPath, &cfg); err != nil {
			return cfg, usageError{err}
		}
	}
	if err := config.EnvOverride(&cfg, os.Getenv); err != nil {
		return cfg, usageError{err}
	}
	f := cmd.Flags()
	if f.Changed("host-id") {
		cfg.HostID = o.hostID
	}
	if f.Changed("data-dir") {
		cfg.DataDir = o.dataDir
	}
	check := cfg
	if check.HostID == "" {
		check.HostID = config.ExampleHostID // required by Validate, unused here
	}
	if err := check.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

func newQuarantineListCmd(g *globals, o *quarantineOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--json]",
		Aliases: []string{"list"},
		Short:   "List the quarantined episodes, oldest quarantined first",
		Long: `List the entries of <data_dir>/quarantine/, oldest quarantined first: the
directory name (the episode id, or <id>.N), the reason, who decided it
(pre-flight on this host, or the hub), how long ago, the size and the
detail, shortened. An entry without a readable quarantine_reason.json has
reason "unknown". --json prints an array of objects
{id, dir, reason, source, detail, fix, time, bytes}, detail and fix whole.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.load(cmd)
			if err != nil {
				return err
			}
			return runQuarantineList(cfg.DataDir, cmd.OutOrStdout(), cmd.ErrOrStderr(), asJSON, time.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {id, dir, reason, source, detail, fix, time, bytes}")
	return cmd
}

func newQuarantineShowCmd(g *globals, o *quarantineOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a quarantined episode: its reason file, its files and the fix",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := o.load(cmd)
			if err != nil {
				return err
			}
			return runQuarantineShow(cfg.DataDir, args[0], cmd.OutOrStdout())
		},
	}
}

func newQuarantineRequeueCmd(g *globals, o *quarantineOptions) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "requeue ID... | --reason R",
		Short: "Move quarantined episodes back to episodes/ so that they ship again",
		Long: `Move each named entry of quarantine/ (a directory name, as 'ls' prints it),
or every entry with reason R, back to episodes/<id>, so that the publisher
ships it again once it has been quiet for ship.settle. An entry <id>.N goes
back as <id>. quarantine_reason.json is deleted first, so that it does not
ship inside the archive. An entry is refused, and named, when episodes/<id>
or outbox/<id>.json exists; the others are still moved. Fix what the reason
names before requeuing: an unstamped or conflicting episode comes straight
back.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			byReason := cmd.Flags().Changed("reason")
			switch {
			case byReason && len(args) > 0:
				return usageErrorf("give episode ids or --reason, not both")
			case !byReason && len(args) == 0:
				return usageErrorf("give the ids of quarantined episodes, or --reason R")
			}
			var r subjects.Reason
			if byReason {
				var err error
				if r, err = subjects.ParseReason(reason); err != nil {
					return usageError{fmt.Errorf("--reason: %w", err)}
				}
				if !r.Rejected() {
					return usageErrorf("--reason %s: quarantined episodes were rejected, not %s", r, r)
				}
			}
			cfg, err := o.load(cmd)
			if err != nil {
				return err
			}
			return runQuarantineRequeue(cfg.DataDir, r, args, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "requeue every entry with this reason: out-of-window, unstamped, conflict, malformed or corrupt")
	return cmd
}

func newQuarantineDrainCmd(g *globals, o *quarantineOptions) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "drain-unstamped [--dry-run]",
		Short: "Quarantine every episode of episodes/ that is not stamped with a code commit",
		Long: `Scan <data_dir>/episodes/ and quarantine every episode whose meta.json has no
40-hex code_version.commit (reason unstamped), or is missing or unreadable
(reason malformed), with the quarantine_reason.json the publisher's
pre-flight writes (source pre-flight). It drains a backlog recorded before
stamping, at once, instead of one episode per scan.

Left alone: stamped episodes (the publisher judges them), episodes the
publisher holds (outbox/<id>.json), and episodes whose meta.json is missing
or unreadable while something under them changed within ship.settle: the
recorder may still be writing them, meta.json last. An unstamped meta.json
that parses is final and is quarantined at once.

Safe while the publisher runs (each move is one rename, and the journal is
checked again just before it); a second run finds nothing to do. Prints
"kept N, quarantined M" and each episode moved; --dry-run changes nothing
and prints what it would do.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.load(cmd)
			if err != nil {
				return err
			}
			return runQuarantineDrain(cfg.DataDir, cfg.Ship.Settle.Duration(), dryRun, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be quarantined; change nothing")
	return cmd
}

func newQuarantineCleanupCmd(g *globals, o *quarantineOptions) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "cleanup [--dry-run]",
		Short: "Remove the quarantined episodes older than quarantine.keep_days now",
		Long: `Remove the entries of <data_dir>/quarantine/ that were quarantined more than
quarantine.keep_days ago, as the publisher's clean-up does, but now,
whatever quarantine.cleanup_interval says. An entry is dated by its
quarantine_reason.json (see 'go doc housekeep'). shipped/ is not touched.
--dry-run prints what would be removed and removes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.load(cmd)
			if err != nil {
				return err
			}
			logger, err := g.logger()
			if err != nil {
				return err
			}
			return runQuarantineCleanup(cfg, dryRun, logger, cmd.OutOrStdout(), time.Now())
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be removed; remove nothing")
	return cmd
}

// runQuarantineList prints the quarantine: a table, or a JSON array. An
// empty quarantine is said so on errOut.
func runQuarantineList(dataDir string, out, errOut io.Writer, asJSON bool, now time.Time) error {
	list, err := workers.ListQuarantine(dataDir)
	if err != nil {
		return err
	}
	if asJSON {
		if list == nil {
			list = []workers.QuarantineEntry{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	if len(list) == 0 {
		fmt.Fprintf(errOut, "no quarantined episodes in %s\n", filepath.Join(dataDir, "quarantine"))
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREASON\tSOURCE\tAGE\tSIZE\tDETAIL")
	for _, q := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", q.ID, q.Reason, orDash(q.Source),
			formatAge(now.Sub(q.Time)), formatBytes(q.Bytes), shorten(q.Detail, 72))
	}
	return tw.Flush()
}

// runQuarantineShow prints one entry: where it is, its reason file as
// stored, its files, and the fix.
func runQuarantineShow(dataDir, name string, out io.Writer) error {
	d, err := workers.ShowQuarantine(dataDir, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s (episode %s)\n", d.Dir, workers.OriginalID(d.ID))
	fmt.Fprintf(out, "reason %s, source %s, quarantined %s (%s)\n\n", d.Reason, orDash(d.Source),
		d.Time.UTC().Format(time.RFC3339), formatAge(time.Since(d.Time))+" ago")
	if d.Raw != nil {
		fmt.Fprintf(out, "%s:\n%s\n", workers.ReasonFile, strings.TrimRight(string(d.Raw), "\n"))
	} else {
		fmt.Fprintf(out, "%s: %s\n", workers.ReasonFile, d.Detail)
	}
	fmt.Fprintf(out, "\nfiles (%s):\n", formatBytes(d.Bytes))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, f := range d.Files {
		size := formatBytes(f.Bytes)
		if f.Mode.IsDir() {
			size = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Mode, size, f.ModTime.UTC().Format(time.RFC3339), f.Path)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nfix: %s\n", d.Fix)
	fmt.Fprintf(out, "requeue: cis490 quarantine requeue %s\n", d.ID)
	return nil
}

// runQuarantineRequeue requeues the named entries, or those with reason r
// when no name is given, and prints each move.
func runQuarantineRequeue(dataDir string, r subjects.Reason, names []string, out io.Writer) error {
	var moved []workers.Requeued
	var err error
	if len(names) > 0 {
		moved, err = workers.Requeue(dataDir, names...)
	} else {
		moved, err = workers.RequeueReason(dataDir, r)
		if len(moved) == 0 && err == nil {
			fmt.Fprintf(out, "no quarantined episode has reason %s\n", r)
			return nil
		}
	}
	for _, m := range moved {
		fmt.Fprintf(out, "requeued %s to %s\n", m.From, m.To)
	}
	return err
}

// runQuarantineDrain drains episodes/ of unstamped episodes and prints
// what it did, or with dryRun what it would do.
func runQuarantineDrain(dataDir string, settle time.Duration, dryRun bool, out io.Writer) error {
	rep, err := workers.DrainUnstamped(dataDir, settle, dryRun)
	verb := "quarantined"
	if dryRun {
		verb = "would quarantine"
	}
	fmt.Fprintf(out, "kept %d, %s %d\n", rep.Kept, verb, len(rep.Quarantined))
	for _, q := range rep.Quarantined {
		fmt.Fprintf(out, "  %s %s: %s -> %s\n", verb, q.ID, q.Reason, q.Dest)
	}
	for _, id := range rep.InFlight {
		fmt.Fprintf(out, "  kept %s: the publisher holds it (outbox/%s.json)\n", id, id)
	}
	for _, id := range rep.Unsettled {
		fmt.Fprintf(out, "  kept %s: no readable meta.json, changed within ship.settle (%v): may still be recording\n", id, settle)
	}
	return err
}

// runQuarantineCleanup removes, or with dryRun lists, the entries of
// quarantine/ older than quarantine.keep_days.
func runQuarantineCleanup(cfg config.Publisher, dryRun bool, logger *slog.Logger, out io.Writer, now time.Time) error {
	_, _, _, dir := cfg.Dirs()
	keep := cfg.Quarantine.KeepDays
	if keep <= 0 {
		fmt.Fprintf(out, "quarantine.keep_days = %d: quarantined episodes are kept forever; nothing removed\n", keep)
		return nil
	}
	expired, err := housekeep.Expired(dir, keep, now)
	if dryRun {
		for _, e := range expired {
			fmt.Fprintf(out, "would remove %s (quarantined %s ago)\n", filepath.Join(dir, e.Name), formatAge(e.Age))
		}
		fmt.Fprintf(out, "would remove %d, keep_days %d\n", len(expired), keep)
		return err
	}
	ages := map[string]time.Duration{}
	for _, e := range expired {
		ages[e.Name] = e.Age
	}
	c := housekeep.NewCleaner(dir, keep, 0, logger.With("component", "cleanup"))
	c.SetClock(func() time.Time { return now })
	removed, _, err := c.MaybeRun()
	for _, name := range removed {
		if age, ok := ages[name]; ok {
			fmt.Fprintf(out, "removed %s (quarantined %s ago)\n", filepath.Join(dir, name), formatAge(age))
		} else {
			fmt.Fprintf(out, "removed %s\n", filepath.Join(dir, name))
		}
	}
	fmt.Fprintf(out, "removed %d, keep_days %d\n", len(removed), keep)
	return err
}

// formatAge is d in its largest whole unit: "45s", "12m", "5h", "31d".
func formatAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// formatBytes is n in binary units: "512 B", "9.5 KiB", "540 MiB".
func formatBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, units := float64(n)/1024, []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for ; v >= 1024 && i < len(units)-1; i++ {
		v /= 1024
	}
	if v < 10 {
		return fmt.Sprintf("%.1f %s", v, units[i])
	}
	return fmt.Sprintf("%.0f %s", v, units[i])
}

// shorten is the first line of s, cut to max runes with "…".
func shorten(s string, max int) string {
	s, _, cut := strings.Cut(s, "\n")
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		return string(r[:max-1]) + "…"
	}
	if cut {
		return s + "…"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
