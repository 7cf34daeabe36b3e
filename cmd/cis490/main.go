// Command cis490 moves lab episodes to a central hub over NATS JetStream,
// exactly once, intact, and only if they were recorded by an accepted
// version of the code. One binary holds every role: the lab-host publisher,
// the hub receiver, the embedded hub, and the operator's tools.
//
// Exit codes: 0 success (or a clean stop on SIGTERM), 1 runtime failure,
// 2 usage or configuration error, but 78 (EX_CONFIG) for the same error in
// a daemon (publish, receive, hub): their units restart on any failure but
// 78, and Go itself exits 2 on an unrecovered panic and on SIGABRT, the
// signal of systemd's watchdog.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/spf13/cobra"

	"github.com/cis490/cis490/journald"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	stopProfile := startProfile(os.Getenv("CIS490_CPUPROFILE"))
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	stop()
	code := exitCode(ctx, err)
	if code != 0 {
		fmt.Fprint(os.Stderr, exitLine(os.Stderr, err))
	}
	os.Exit(code)
}

// exitLine is the line main writes to stderr when a run fails: "cis490:
// <err>", after "<3>" (syslog's err) when stderr is the journal's stream,
// which journald reads as the line's priority, so that `journalctl -p err`
// shows why a daemon exited.
func exitLine(stderr io.Writer, err error) string {
	line := fmt.Sprintln("cis490:", err)
	if journald.IsJournalStream(stderr) {
		line = "<" + strconv.Itoa(int(journal.PriErr)) + ">" + line
	}
	return line
}

// startProfile writes a CPU profile of the whole run to path (go tool
// pprof reads it) when path is not empty: CIS490_CPUPROFILE, for
// docs/benchmarks.md's "where the time goes" on a user's own hardware.
// "%p" in path is replaced by the process id, so that the processes of a
// bench each write their own.
func startProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	path = strings.ReplaceAll(path, "%p", strconv.Itoa(os.Getpid()))
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cis490: CIS490_CPUPROFILE:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// run builds the command tree and executes it with args.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd()
	markArgErrors(root)
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var ue usageError
	if cmd != nil && cmd.Annotations[daemonAnnotation] != "" && errors.As(err, &ue) {
		return exitError{exitConfig, err}
	}
	return err
}

// daemonAnnotation marks the commands that run as systemd services.
// A usage or configuration error in one of them exits exitConfig, not 2.
const daemonAnnotation = "cis490/daemon"

// exitConfig is sysexits.h's EX_CONFIG: a daemon refused its command line
// or its configuration, and starting it again cannot help. The units set
// RestartPreventExitStatus=78 and Restart=on-failure, so that a watchdog
// kill (SIGABRT, which Go answers with status 2) or a panic (also 2)
// restarts the daemon, while a bad lab-host.toml does not loop.
const exitConfig = 78

// daemon marks cmd as a daemon (see daemonAnnotation) and returns it.
func daemon(cmd *cobra.Command) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[daemonAnnotation] = "true"
	return cmd
}

// usageError marks an error as the caller's: bad flags, bad config. It maps to exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageErrorf returns an error that exits with status 2.
func usageErrorf(format string, a ...any) error {
	return usageError{fmt.Errorf(format, a...)}
}

// exitCode is the one place errors become exit codes: 0 for success or a
// stop by SIGINT/SIGTERM (err is context.Canceled and ctx is done), the
// code of an exitError (doctor's 1 for yellow, 2 for red; a daemon's
// exitConfig), 2 for a usageError, 1 for anything else.
func exitCode(ctx context.Context, err error) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return 0 // stopped by SIGINT/SIGTERM: a clean stop
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
