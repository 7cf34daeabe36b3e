package notify_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cis490/cis490/notify"
)

// The watchdog tests run in a synctest bubble: the ticker runs on the fake
// clock, so "no WATCHDOG=1 for three intervals" is checked exactly and at
// once. The notify socket is real. Within the bubble it is only written by
// the Notifier (a datagram write to a socket with room never waits) and read
// with MSG_DONTWAIT, and synctest.Wait returns once the watchdog loop is
// back on its ticker, so every datagram of a tick is queued by then.

// watchdogSec is the unit's WatchdogSec in these tests; the Notifier ticks
// every watchdogSec/2.
const watchdogSec = 10 * time.Second

// openWatchdog returns an opened Notifier with a watchdog of watchdogSec on a
// fresh notify socket. Call it inside the bubble; the Notifier is closed when
// the bubble's test ends.
func openWatchdog(t *testing.T) (*notify.Notifier, *logBuffer) {
	t.Helper()
	logger, logs := newLogger(t)
	n := notify.New(logger)
	if got := n.WatchdogInterval(); got != watchdogSec {
		t.Fatalf("WatchdogInterval() = %v, want %v", got, watchdogSec)
	}
	if err := n.Open(t.Context()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		// Not t.Context(): it is canceled before cleanups run.
		if err := n.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n, logs
}

// tick advances the fake clock by one watchdog tick and waits until the
// watchdog loop has handled it.
func tick() {
	time.Sleep(watchdogSec / 2)
	synctest.Wait()
}

func TestWatchdogPetsOnlyAfterHeartbeat(t *testing.T) {
	conn := listenNotify(t)
	setWatchdog(t, watchdogSec)
	synctest.Test(t, func(t *testing.T) {
		n, logs := openWatchdog(t)
		time.Sleep(time.Second) // stay off the tick instants: t = 1s + k*5s

		n.Heartbeat()
		synctest.Wait()
		requireDatagrams(t, conn, "a heartbeat between ticks") // waits for the tick
		tick()
		requireDatagrams(t, conn, "one heartbeat, one tick", "WATCHDOG=1")

		for range 50 {
			n.Heartbeat()
		}
		tick()
		requireDatagrams(t, conn, "fifty heartbeats, one tick", "WATCHDOG=1")

		tick()
		tick()
		tick()
		requireDatagrams(t, conn, "three ticks without a heartbeat (the loop stalled)")
		if c := logs.count("level=WARN", "watchdog not petted"); c != 1 {
			t.Errorf("%d stall warnings over three silent ticks, want 1", c)
		}

		n.Heartbeat()
		synctest.Wait()
		requireDatagrams(t, conn, "the first heartbeat after a stall", "WATCHDOG=1") // at once
		if c := logs.count("level=INFO", "watchdog petting resumed"); c != 1 {
			t.Errorf("%d resume lines logged, want 1", c)
		}
		n.Heartbeat()
		synctest.Wait()
		requireDatagrams(t, conn, "the second heartbeat after a stall") // back to ticks
		tick()
		requireDatagrams(t, conn, "the tick after", "WATCHDOG=1")
	})
}

func TestWatchdogStopsAtClose(t *testing.T) {
	conn := listenNotify(t)
	setWatchdog(t, watchdogSec)
	synctest.Test(t, func(t *testing.T) {
		n, _ := openWatchdog(t)
		time.Sleep(time.Second)
		if err := n.Close(t.Context()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		n.Heartbeat()
		tick()
		tick()
		requireDatagrams(t, conn, "heartbeats after Close")
	})
}

func TestPassHeartbeats(t *testing.T) {
	errPass := errors.New("put segment: connection refused")
	errPanic := errors.New("index out of range")
	tests := []struct {
		name    string
		fn      func() error
		wantErr []error  // errors.Is must hold for each
		wantMsg string   // substring of the error
		logged  []string // substrings of one ERROR line
	}{
		{name: "ok", fn: func() error { return nil }},
		{name: "error", fn: func() error { return errPass }, wantErr: []error{errPass}, wantMsg: errPass.Error()},
		{name: "panic with a string", fn: func() error { panic("boom") },
			wantErr: []error{notify.ErrPanic}, wantMsg: "run pass: panic: boom",
			logged: []string{`msg="pass panicked"`, "panic=boom", "watchdog_test.go"}},
		{name: "panic with an error", fn: func() error { panic(errPanic) },
			wantErr: []error{notify.ErrPanic, errPanic}, wantMsg: "index out of range",
			logged: []string{`msg="pass panicked"`, "watchdog_test.go"}},
		{name: "runtime error", fn: func() error { var m map[string]int; m["episode"]++; return nil },
			wantErr: []error{notify.ErrPanic}, wantMsg: "assignment to entry in nil map",
			logged: []string{`msg="pass panicked"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := listenNotify(t)
			setWatchdog(t, watchdogSec)
			synctest.Test(t, func(t *testing.T) {
				n, logs := openWatchdog(t)
				time.Sleep(time.Second)

				err := n.Pass(tt.fn)
				if tt.wantErr == nil && err != nil {
					t.Errorf("Pass = %v, want nil", err)
				}
				for _, want := range tt.wantErr {
					if !errors.Is(err, want) {
						t.Errorf("Pass = %v, want errors.Is %v", err, want)
					}
				}
				if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("Pass = %q, want it to contain %q", err, tt.wantMsg)
				}
				if tt.logged != nil {
					if c := logs.count(append([]string{"level=ERROR"}, tt.logged...)...); c != 1 {
						t.Errorf("%d ERROR lines contain %q, want 1", c, tt.logged)
					}
				}
				tick()
				requireDatagrams(t, conn, "the tick after the pass", "WATCHDOG=1")
			})
		})
	}
}

// TestPassHangs: a pass that never ends never heartbeats, so the watchdog
// stops being petted, and systemd would kill the daemon.
func TestPassHangs(t *testing.T) {
	conn := listenNotify(t)
	setWatchdog(t, watchdogSec)
	synctest.Test(t, func(t *testing.T) {
		n, logs := openWatchdog(t)
		time.Sleep(time.Second)
		n.Pass(func() error { return nil })
		tick()
		requireDatagrams(t, conn, "a pass that ended", "WATCHDOG=1")

		release := make(chan struct{})
		done := make(chan error)
		go func() {
			done <- n.Pass(func() error {
				<-release // a deadlock, a hung subprocess, blocked I/O
				return nil
			})
		}()
		for range 4 { // two full WatchdogSec: systemd would have killed it
			tick()
		}
		requireDatagrams(t, conn, "a pass that hangs")
		if c := logs.count("level=WARN", "watchdog not petted"); c != 1 {
			t.Errorf("%d stall warnings, want 1", c)
		}

		close(release)
		if err := <-done; err != nil {
			t.Errorf("Pass = %v, want nil", err)
		}
		synctest.Wait()
		requireDatagrams(t, conn, "the hung pass ended", "WATCHDOG=1")
	})
}

// TestWatchdogGap runs a loop with passes of a fixed length and measures the
// longest time without WATCHDOG=1, which systemd compares to WatchdogSec:
// a loop whose passes are shorter than WatchdogSec is never killed, one
// whose passes are longer is.
func TestWatchdogGap(t *testing.T) {
	const (
		run    = 120 * time.Second // fake time
		sample = 250 * time.Millisecond
	)
	tests := []struct {
		pass     time.Duration
		wantKill bool // the longest gap reaches WatchdogSec
	}{
		{pass: time.Second},
		{pass: 4 * time.Second},
		{pass: 6 * time.Second},
		{pass: 9 * time.Second},
		{pass: 11 * time.Second, wantKill: true},
		{pass: 30 * time.Second, wantKill: true},
	}
	for _, tt := range tests {
		t.Run(tt.pass.String(), func(t *testing.T) {
			conn := listenNotify(t)
			setWatchdog(t, watchdogSec)
			synctest.Test(t, func(t *testing.T) {
				n, _ := openWatchdog(t)
				start := time.Now()
				go func() { // the daemon's loop
					time.Sleep(300 * time.Millisecond) // off the tick instants
					for time.Since(start) < run {
						n.Heartbeat()
						time.Sleep(tt.pass)
					}
				}()
				last, longest, pets := start, time.Duration(0), 0
				for time.Since(start) < run+tt.pass {
					time.Sleep(sample)
					synctest.Wait()
					for _, d := range drain(t, conn) {
						if d != "WATCHDOG=1" {
							t.Fatalf("datagram = %q, want WATCHDOG=1", d)
						}
						pets++
						longest = max(longest, time.Since(last))
						last = time.Now()
					}
				}
				longest = max(longest, run-last.Sub(start)) // up to the end of the loop
				if kill := longest >= watchdogSec; kill != tt.wantKill {
					t.Errorf("passes of %v: longest gap without WATCHDOG=1 = %v (%d sent), so killed with WatchdogSec=%v = %v, want %v",
						tt.pass, longest, pets, watchdogSec, kill, tt.wantKill)
				}
			})
		})
	}
}
