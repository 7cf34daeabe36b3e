package notify

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// ErrPanic is wrapped by the error Pass returns when the pass panicked. The
// panic value follows it in the message; when the value is an error, it is
// wrapped too. A loop treats it as a failed pass.
var ErrPanic = errors.New("panic")

// Heartbeat records that the daemon's loop completed a pass, successful or
// not. The watchdog loop started by Open sends WATCHDOG=1 at its next tick
// only if Heartbeat was called since the last WATCHDOG=1; many heartbeats
// between two ticks send one. After a tick that found no heartbeat, the next
// heartbeat pets at once instead of waiting for the following tick. Call it
// where the loop proves it is alive (at the end of each pass, or per unit of
// progress inside a long one), never from a timer of its own. It does no
// I/O and never blocks.
func (n *Notifier) Heartbeat() {
	n.lastBeat.Store(time.Now().UnixNano())
	n.beat.Store(true)
	if n.overdue.Load() {
		select {
		case n.wake <- struct{}{}:
		default: // a wake is already pending
		}
	}
}

// Pass runs one pass of a daemon loop and then calls Heartbeat, whether fn
// returned nil, an error or panicked: a pass that ends proves the loop is
// alive; a pass that hangs does not end and so never heartbeats. A panic is
// recovered, logged at error level with its stack, and returned as an error
// wrapping ErrPanic.
func (n *Notifier) Pass(fn func() error) (err error) {
	defer n.Heartbeat()
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		n.logger.Error("pass panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		if e, ok := r.(error); ok {
			err = fmt.Errorf("run pass: %w: %w", ErrPanic, e)
			return
		}
		err = fmt.Errorf("run pass: %w: %v", ErrPanic, r)
	}()
	return fn()
}

// Open starts the watchdog loop when the watchdog is enabled; otherwise it
// does nothing. Until ctx is done or Close is called, the loop ticks at half
// of WatchdogSec and sends WATCHDOG=1 on a tick only if Heartbeat was called
// since the last WATCHDOG=1; once a tick found none, it sends at the next
// Heartbeat. Two WATCHDOG=1 are thus at most max(WatchdogSec/2, the longest
// gap between heartbeats) apart, and systemd kills the daemon once a gap
// between heartbeats exceeds WatchdogSec. Open before start-up recovery, and
// heartbeat while recovering. Open returns an error if called twice.
func (n *Notifier) Open(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.opened {
		return errors.New("open notifier: already open")
	}
	n.opened = true
	if n.watchdog == 0 {
		n.logger.Debug("watchdog loop not started: watchdog disabled")
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	n.cancel = cancel
	every := n.watchdog / 2
	n.logger.Debug("watchdog loop started", "watchdog", n.watchdog, "every", every)
	n.wg.Go(func() { n.watch(ctx, every) })
	return nil
}

// Close stops the watchdog loop and waits for it, until ctx is done. It
// sends nothing: call Stopping when shutdown begins. Close without Open,
// or a second Close, returns nil.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	cancel := n.cancel
	n.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		select {
		case <-done: // finished as ctx ended
			return nil
		default:
		}
		return fmt.Errorf("close notifier: wait for watchdog loop: %w", ctx.Err())
	}
}

// watch is the watchdog loop: one tick every interval, petting only after a
// heartbeat.
func (n *Notifier) watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	stalled := false // a tick found no heartbeat; logged once per stall
	for {
		ticked := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ticked = true
		case <-n.wake: // a heartbeat after a tick that found none
		}
		if !n.beat.Swap(false) {
			if !ticked {
				continue // a stale wake: a tick already took that heartbeat
			}
			n.overdue.Store(true)
			if !stalled {
				stalled = true
				n.logger.Warn("watchdog not petted: no pass completed since the last WATCHDOG=1",
					"last_pass", n.lastPass(), "watchdog", n.watchdog)
			}
			continue
		}
		n.overdue.Store(false)
		if stalled {
			stalled = false
			n.logger.Info("watchdog petting resumed", "last_pass", n.lastPass())
		}
		n.send(daemon.SdNotifyWatchdog)
	}
}

// lastPass returns the time of the last Heartbeat, or the zero time.
func (n *Notifier) lastPass() time.Time {
	ns := n.lastBeat.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
