// Package notify tells systemd how a cis490 daemon (the lab-host publisher,
// the hub receiver) is doing, over the sd_notify protocol, with go-systemd's
// daemon package:
//
//   - READY=1 with a STATUS= line, once start-up recovery is done (Ready);
//   - STATUS= with the backlog, as often as it changes (Status);
//   - WATCHDOG=1, only when the daemon's loop really completed a pass since
//     the last one (Heartbeat, Pass, and the loop started by Open);
//   - STOPPING=1 when shutdown begins (Stopping).
//
// The watchdog is the point. Restart=on-failure only catches a process that
// dies; a loop stuck on a deadlock, a hung subprocess or blocked I/O leaves a
// live process whose backlog grows. A Notifier pets the watchdog at half of
// WatchdogSec only if Heartbeat was called since its last WATCHDOG=1 (and,
// after a tick that found none, at the next Heartbeat), so a stalled loop
// stops petting and systemd kills and restarts the daemon. A pass that fails
// or panics still proves the loop is alive and heartbeats; a pass that hangs
// does not. A loop must therefore heartbeat more often than WatchdogSec,
// with margin: budget WatchdogSec/2 for a pass, and heartbeat on progress
// inside a pass that can take longer.
//
// Outside systemd (NOTIFY_SOCKET unset) every method is a safe no-op that
// logs at debug level, so the daemons run the same by hand, in tests and
// under systemd. Notification failures are logged, once per outage, and never
// returned: systemd's own timeouts are the backstop when it cannot be told.
//
// docs/observability.md has the contract and the unit settings.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// Notifier sends sd_notify messages for one daemon and runs its watchdog.
// Create it with New; its methods are safe for concurrent use.
type Notifier struct {
	logger   *slog.Logger
	socket   string        // NOTIFY_SOCKET at New; "" when not under systemd
	watchdog time.Duration // the unit's WatchdogSec; 0 when disabled

	beat     atomic.Bool   // a pass completed since the last WATCHDOG=1
	overdue  atomic.Bool   // a tick found no heartbeat: the next one pets at once
	wake     chan struct{} // Heartbeat to the watchdog loop, when overdue
	lastBeat atomic.Int64  // unix nanoseconds of the last Heartbeat; 0 if none

	mu      sync.Mutex
	failing bool               // the last send failed: the next failure is logged at debug
	opened  bool               // Open was called
	cancel  context.CancelFunc // stops the watchdog loop; nil if it never started
	wg      sync.WaitGroup     // the watchdog loop
}

// New returns a Notifier for the current process. It reads NOTIFY_SOCKET,
// WATCHDOG_USEC and WATCHDOG_PID once and leaves them set. A nil logger
// means slog.Default().
//
// The watchdog is enabled when NOTIFY_SOCKET is set and WATCHDOG_USEC names
// a positive interval for this process (WATCHDOG_PID unset or equal to
// os.Getpid). A malformed WATCHDOG_USEC is logged as a warning and disables
// the watchdog: systemd then kills the silent daemon, which shows in the
// journal next to the warning.
func New(logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.Default()
	}
	n := &Notifier{logger: logger, socket: os.Getenv("NOTIFY_SOCKET"), wake: make(chan struct{}, 1)}
	if n.socket == "" {
		logger.Debug("sd_notify disabled: NOTIFY_SOCKET unset")
		return n
	}
	d, err := daemon.SdWatchdogEnabled(false)
	switch {
	case err != nil:
		logger.Warn("systemd watchdog disabled: bad environment",
			"watchdog_usec", os.Getenv("WATCHDOG_USEC"), "watchdog_pid", os.Getenv("WATCHDOG_PID"), "error", err)
	case d == 0:
		logger.Debug("systemd watchdog disabled", "socket", n.socket)
	default:
		n.watchdog = d
		logger.Debug("systemd watchdog enabled", "socket", n.socket, "watchdog", d)
	}
	return n
}

// Enabled reports whether the process runs under systemd with a notify
// socket (NOTIFY_SOCKET was set at New).
func (n *Notifier) Enabled() bool { return n.socket != "" }

// WatchdogInterval returns the unit's WatchdogSec, or 0 when the watchdog
// is disabled. The Notifier pets at half of it.
func (n *Notifier) WatchdogInterval() time.Duration { return n.watchdog }

// Ready tells systemd that start-up, including recovery of unfinished work,
// is done: it sends READY=1 and, when status is not empty, STATUS=status.
// For a Type=notify unit, systemd holds dependent units and `systemctl
// start` until this arrives.
func (n *Notifier) Ready(status string) {
	if status == "" {
		n.send(daemon.SdNotifyReady)
		return
	}
	n.send(daemon.SdNotifyReady + "\nSTATUS=" + oneLine(status))
}

// Status sends STATUS= with the formatted text, shown by `systemctl status`.
// Daemons report their backlog with it, as in
// Status("backlog %d episodes, last pass %s", n, d).
func (n *Notifier) Status(format string, args ...any) {
	n.send("STATUS=" + oneLine(fmt.Sprintf(format, args...)))
}

// Stopping tells systemd that shutdown has begun (STOPPING=1), so a slow
// drain is not mistaken for a hang. Send it as soon as the stop signal
// arrives, before draining.
func (n *Notifier) Stopping() {
	n.send(daemon.SdNotifyStopping)
}

// Reloading tells systemd that the daemon is reloading its configuration:
// RELOADING=1 with MONOTONIC_USEC, as Type=notify-reload units require.
// Call Ready again when the reload is done.
func (n *Notifier) Reloading() {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		n.logger.Warn("read monotonic clock for RELOADING=1", "error", err)
		n.send(daemon.SdNotifyReloading)
		return
	}
	usec := ts.Nano() / int64(time.Microsecond)
	n.send(daemon.SdNotifyReloading + "\nMONOTONIC_USEC=" + strconv.FormatInt(usec, 10))
}

// send writes one notification. Failures are logged at warn once per outage,
// then at debug until a send succeeds again.
func (n *Notifier) send(state string) {
	if n.socket == "" {
		n.logger.Debug("sd_notify skipped: not under systemd", "state", state)
		return
	}
	sent, err := daemon.SdNotify(false, state)
	n.mu.Lock()
	wasFailing := n.failing
	n.failing = err != nil
	n.mu.Unlock()
	switch {
	case err != nil && !wasFailing:
		n.logger.Warn("sd_notify failed", "socket", n.socket, "state", state, "error", err)
	case err != nil:
		n.logger.Debug("sd_notify failed", "socket", n.socket, "state", state, "error", err)
	case wasFailing:
		n.logger.Info("sd_notify recovered", "socket", n.socket, "state", state)
	case !sent:
		n.logger.Debug("sd_notify skipped: NOTIFY_SOCKET unset since start", "state", state)
	default:
		n.logger.Debug("sd_notify sent", "state", state)
	}
}

// oneLine keeps a STATUS= value on one line: a newline would start a new
// assignment, and text such as "x\nREADY=1" would send one.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
