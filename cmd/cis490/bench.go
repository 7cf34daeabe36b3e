package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/cis490/cis490/bench"
	"github.com/cis490/cis490/progress"
)

func newBenchCmd(g *globals) *cobra.Command {
	var runs int
	var workloads, dir, httpOld, doc string
	var only, noWarmup bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure cis490 on this machine against the stock object-store client, against one embedded hub",
		Long: `bench starts an embedded hub and measures, for each workload, Runs times:
cis490 end to end (the real 'cis490 publish --once' and 'cis490 receive'
processes: episode directory to accepted verdict to shipped/) and the stock
ceiling (the same packed bytes through one stock ObjectStore.Put and Get
per episode, each side its own process). Each run of a workload starts
with a cis490 run that is not counted (--no-warmup skips it): on a VM that
hands freed memory back to its host, the system measured right after the
episodes were generated, or after the last run deleted its copies, would
pay for getting it back. It prints a line per measurement, then the medians, each
process's peak RSS, cis490/stock and the targets.
Episodes are random bytes; the bench needs free disk of about three times
the largest workload under --dir.

--http-old adds the lab's old HTTP design, built from bench/cmd/httpold
(make bench does); it is not part of this binary.`,
		Example: `  cis490 bench --workloads 200x100KiB,4x64MiB --runs 1
  cis490 bench                       # 1000x100KiB,20x64MiB,2x1GiB,1x4GiB, 3 runs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := bench.ParseWorkloads(workloads)
			if err != nil {
				return usageErrorf("--workloads: %v", err)
			}
			if runs < 1 || runs > 100 {
				return usageErrorf("--runs %d: want 1 to 100", runs)
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: find this binary: %w", err)
			}
			out := cmd.OutOrStdout()
			tty := false
			if f, ok := out.(*os.File); ok {
				tty = progress.IsTerminal(f)
			}
			o := bench.Options{Binary: self, HTTPOld: httpOld, Workloads: ws, Runs: runs, Dir: dir, Out: out, TTY: tty, OnlyCis490: only, NoWarmup: noWarmup}
			if g.logLevel == "debug" {
				o.Logger, _ = g.logger()
			}
			rep, err := bench.Run(cmd.Context(), o)
			if rep != nil {
				rep.WriteTable(out)
			}
			if err != nil {
				return err
			}
			if doc != "" {
				if err := rep.WriteDoc(doc); err != nil {
					return err
				}
				fmt.Fprintf(out, "results written into %s\n", doc)
			}
			for _, r := range rep.Rows() {
				if r.System == bench.Cis490 && r.OK < r.Runs {
					return errors.New("bench: cis490 did not deliver every episode in every run")
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noWarmup, "no-warmup", false, "skip the unmeasured cis490 run that starts each run of a workload (it absorbs a VM's first-touch cost of memory freed before)")
	f.BoolVar(&only, "cis490-only", false, "measure cis490 alone, without the stock client or the old design (for comparing two builds of cis490)")
	f.IntVar(&runs, "runs", 3, "runs of each workload; the table shows medians")
	f.StringVar(&workloads, "workloads", "1000x100KiB,20x64MiB,2x1GiB,1x4GiB", "comma-separated COUNTxSIZE episode workloads")
	f.StringVar(&dir, "dir", "", "scratch directory for the hub store and the episodes (default: a temporary directory, removed)")
	f.StringVar(&httpOld, "http-old", "", "httpold binary (go build ./bench/cmd/httpold): also measure the old HTTP design")
	f.StringVar(&doc, "doc", "", "write the machine and the table into this markdown file, between its bench markers")
	cmd.AddCommand(newStockCmd(g, "stock-put", "Put every file of --dir into --bucket with the stock client (a bench process)"),
		newStockCmd(g, "stock-get", "Get every object of --bucket with the stock client (a bench process)"))
	return cmd
}

// newStockCmd is one side of the bench's stock ceiling, run as its own
// process so that its peak RSS is its own.
func newStockCmd(g *globals, name, short string) *cobra.Command {
	var bucket, dir string
	cmd := &cobra.Command{
		Use:    name,
		Short:  short,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			server := g.server
			if server == "" || bucket == "" || (name == "stock-put" && dir == "") {
				return usageErrorf("%s: --server, --bucket and, to put, --dir are required", name)
			}
			var r bench.StockResult
			var err error
			if name == "stock-put" {
				r, err = bench.StockPut(cmd.Context(), server, bucket, dir)
			} else {
				r, err = bench.StockGet(cmd.Context(), server, bucket)
			}
			bench.PrintStockResult(cmd.OutOrStdout(), r)
			return err
		},
	}
	cmd.Flags().StringVar(&bucket, "bucket", "", "object store bucket")
	cmd.Flags().StringVar(&dir, "dir", "", "directory of files to put")
	return cmd
}
