package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/cis490/cis490/demo"
	"github.com/cis490/cis490/progress"
	"github.com/cis490/cis490/workers"
)

func newDemoCmd(g *globals) *cobra.Command {
	var keep string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole system on this machine: an embedded hub, a receiver and two lab hosts shipping sample episodes",
		Long: `demo starts an embedded hub in a temporary directory, a receiver, and
publishers for two lab hosts; generates sample episodes (mostly good, some
unstamped, one out-of-window, one malformed, one large enough to show
progress); ships them; and prints what became of each episode and how to
inspect it all with the stock nats CLI. Nothing is needed beyond Go.
--keep DIR leaves the hub store, the lab hosts' data and the export in DIR.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			tty := false
			if f, ok := out.(*os.File); ok {
				tty = progress.IsTerminal(f)
			}
			d := progress.New(out, tty)
			defer d.Close()
			o := demo.Options{Out: out, TTY: tty, Keep: keep,
				Color:    tty && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb",
				Progress: func(string) workers.Progress { return displayProgress{d} },
				Shipped:  d.Close,
			}
			if g.logLevel == "debug" {
				if l, err := g.logger(); err == nil {
					o.Logger = l
				}
			}
			return demo.Run(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&keep, "keep", "", "leave the hub store and the lab hosts' data in this directory")
	return cmd
}
