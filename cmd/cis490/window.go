package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/window"
)

func newWindowCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "window",
		Short: "List and change the commit window: the code commits whose episodes the hub accepts",
		Long: `List and change the commit window, the CIS490_WINDOW key-value bucket on
the hub: one key per full git commit (40 lowercase hex digits). The receiver
accepts an episode only if the commit stamped in its meta.json is in the
window, and lab hosts check the same before uploading.

An empty window accepts any stamped commit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newWindowListCmd(g), newWindowAddCmd(g), newWindowRemoveCmd(g), newWindowSyncCmd(g))
	return cmd
}

func newWindowListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--json]",
		Aliases: []string{"list"},
		Short:   "List the commits in the window, oldest added first",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withWindow(cmd.Context(), g, func(w *window.Window) error {
				return runWindowList(cmd.Context(), w, cmd.OutOrStdout(), cmd.ErrOrStderr(), asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {commit, added_at, added_by, note}")
	return cmd
}

func newWindowAddCmd(g *globals) *cobra.Command {
	var note string
	cmd := &cobra.Command{
		Use:   "add COMMIT... [--note TEXT]",
		Short: "Add full commits to the window",
		Long: `Add full commits (40 lowercase hex digits, as git rev-parse prints them) to
the window. Every commit is checked before any is added. A commit already in
the window keeps its first note.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkCommits(args); err != nil {
				return err
			}
			return withWindow(cmd.Context(), g, func(w *window.Window) error {
				return runWindowAdd(cmd.Context(), w, cmd.OutOrStdout(), note, args)
			})
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "why these commits are accepted, e.g. the release")
	return cmd
}

func newWindowRemoveCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rm COMMIT...",
		Aliases: []string{"remove"},
		Short:   "Remove commits from the window",
		Long: `Remove commits from the window. Episodes of a removed commit are rejected as
out-of-window from then on, unless the window becomes empty.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkCommits(args); err != nil {
				return err
			}
			return withWindow(cmd.Context(), g, func(w *window.Window) error {
				return runWindowRemove(cmd.Context(), w, cmd.OutOrStdout(), args)
			})
		},
	}
	return cmd
}

// windowSyncOptions are the flags of window sync.
type windowSyncOptions struct {
	dir         string
	last        int
	firstParent bool
	dryRun      bool
	note        string
}

func newWindowSyncCmd(g *globals) *cobra.Command {
	var o windowSyncOptions
	cmd := &cobra.Command{
		Use:   "sync --git DIR --last N [--dry-run]",
		Short: "Add the last N commits of a git repository to the window",
		Long: `Add the last N commits of the git repository in DIR (git log -n N) to the
window, oldest first, and print each. With --dry-run, print what would be
added and change nothing. Commits already in the window are kept as they are.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.last < 1 {
				return usageErrorf("--last %d: want at least 1", o.last)
			}
			if o.note == "" {
				o.note = "window sync --git " + o.dir
				if abs, err := filepath.Abs(o.dir); err == nil {
					o.note = "window sync --git " + abs
				}
			}
			commits, err := window.GitLog(cmd.Context(), o.dir, o.last, o.firstParent)
			if err != nil {
				return windowUsage(err)
			}
			return withWindow(cmd.Context(), g, func(w *window.Window) error {
				return runWindowSync(cmd.Context(), w, cmd.OutOrStdout(), commits, o)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "git", "", "git repository (or work tree) to read commits from (required)")
	f.IntVar(&o.last, "last", 1, "number of commits to add, newest first as git log lists them")
	f.BoolVar(&o.firstParent, "first-parent", false, "follow only the first parent of merges (the main line)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would be added; change nothing")
	f.StringVar(&o.note, "note", "", `note stored with each commit (default "window sync --git <abs DIR>")`)
	_ = cmd.MarkFlagRequired("git")
	return cmd
}

// checkCommits returns a usage error naming the first argument that is not
// a full commit.
func checkCommits(commits []string) error {
	for _, c := range commits {
		if err := subjects.ValidateCommit(c); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// windowUsage makes the errors that are the caller's fault usage errors:
// a bad commit, a directory that is no git repository.
func windowUsage(err error) error {
	if errors.Is(err, subjects.ErrBadCommit) || errors.Is(err, window.ErrGit) {
		return usageError{err}
	}
	return err
}

// withWindow connects with the global flags, opens the window and calls fn.
func withWindow(ctx context.Context, g *globals, fn func(*window.Window) error) error {
	nc, err := g.connect(ctx, "window")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	w, err := window.Open(ctx, js)
	if err != nil {
		return err
	}
	return windowUsage(fn(w))
}

// runWindowList prints the window: one line per commit, or a JSON array.
// An empty window is said so on errOut, since it accepts every stamped commit.
func runWindowList(ctx context.Context, w *window.Window, out, errOut io.Writer, asJSON bool) error {
	list, err := w.List(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		if list == nil {
			list = []window.Entry{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	if len(list) == 0 {
		fmt.Fprintln(errOut, "the window is empty: every stamped commit is accepted")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, e := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Commit, e.AddedAt.UTC().Format(time.RFC3339), e.AddedBy, e.Note)
	}
	return tw.Flush()
}

// runWindowAdd adds commits and prints one line for each.
func runWindowAdd(ctx context.Context, w *window.Window, out io.Writer, note string, commits []string) error {
	changes, err := w.Add(ctx, note, commits...)
	printChanges(out, changes, "added", "kept", "(already in the window)")
	return err
}

// runWindowRemove removes commits and prints one line for each.
func runWindowRemove(ctx context.Context, w *window.Window, out io.Writer, commits []string) error {
	changes, err := w.Remove(ctx, commits...)
	printChanges(out, changes, "removed", "absent", "(was not in the window)")
	return err
}

// runWindowSync adds commits, newest first as git log lists them, to the
// window oldest first, so that the window lists them in history order.
func runWindowSync(ctx context.Context, w *window.Window, out io.Writer, commits []string, o windowSyncOptions) error {
	commits = slices.Clone(commits)
	slices.Reverse(commits)
	if o.dryRun {
		list, err := w.List(ctx)
		if err != nil {
			return err
		}
		for _, c := range commits {
			if slices.ContainsFunc(list, func(e window.Entry) bool { return e.Commit == c }) {
				fmt.Fprintf(out, "kept %s (already in the window)\n", c)
			} else {
				fmt.Fprintf(out, "would add %s\n", c)
			}
		}
		return nil
	}
	for _, c := range commits {
		changes, err := w.Add(ctx, o.note, c) // one at a time: added_at follows history
		printChanges(out, changes, "added", "kept", "(already in the window)")
		if err != nil {
			return err
		}
	}
	return nil
}

// printChanges prints "done COMMIT" for each change made and
// "same COMMIT why" for each that was not.
func printChanges(out io.Writer, changes []window.Change, done, same, why string) {
	for _, c := range changes {
		if c.Changed {
			fmt.Fprintf(out, "%s %s\n", done, c.Commit)
		} else {
			fmt.Fprintf(out, "%s %s %s\n", same, c.Commit, why)
		}
	}
}
