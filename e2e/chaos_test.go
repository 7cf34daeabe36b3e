package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestChaos runs the whole deployment (a `cis490 hub`, two receivers, three
// publishers under a max_rate, so that uploads are long) while recorders
// keep adding episodes, and SIGKILLs the hub, a receiver or a publisher at
// random moments, restarting each after a random pause. The schedule and
// the episodes come from the seed (CIS490_E2E_SEED, else the clock), which
// is logged at the start and in every failure. Then the ledger: every
// episode exactly once where it belongs, nothing lost, no orphan left.
//
// Short profile: 8 kills, 3 hosts × 8 episodes of 256 KiB to 6 MiB.
// Full profile (CIS490_E2E=full): 24 kills, 3 hosts × 40 episodes of
// 1 KiB to 96 MiB.
func TestChaos(t *testing.T) {
	t.Parallel()
	start := time.Now()
	h := newHarness(t)
	per, bad, minSize, maxSize, kills, rate := 8, 2, int64(256<<10), int64(6<<20), 8, "2MiB"
	pause, down, settle := 1200*time.Millisecond, 1500*time.Millisecond, 3*time.Minute
	if h.full {
		per, bad, minSize, maxSize, kills, rate = 40, 4, 1<<10, 96<<20, 24, "8MiB"
		pause, down, settle = 5*time.Second, 3*time.Second, 30*time.Minute
	}
	h.startHub()
	h.windowAdd(ledgerCommit)
	l := newLedger(h)
	eps := l.mix(harnessHosts, per, bad, minSize, maxSize, h.rand(1))
	// A third is waiting when the daemons start; the recorders add the
	// rest while the kills go on.
	backlog := len(eps) / 3
	for _, ep := range eps[:backlog] {
		if err := l.release(ep); err != nil {
			h.fatalf("%v", err)
		}
	}
	h.startReceivers(2)
	for _, host := range harnessHosts {
		h.startPublisher(host, "CIS490_SHIP_MAX_RATE="+rate)
	}
	js := h.connect()
	for _, host := range harnessHosts {
		l.plantOrphans(js, host)
	}

	victims := append([]*harnessProc{h.hub}, h.receivers...)
	for _, host := range harnessHosts {
		victims = append(victims, h.publishers[host])
	}
	sched := h.rand(2)
	next := backlog
	var log []string
	busy := 0
	for k := 0; k < kills; {
		time.Sleep(200*time.Millisecond + time.Duration(sched.Int64N(int64(pause))))
		for range 1 + sched.IntN(3) {
			if next < len(eps) {
				if err := l.release(eps[next]); err != nil {
					h.fatalf("%v", err)
				}
				next++
			}
		}
		v := victims[sched.IntN(len(victims))]
		inFlight := len(l.unsettled()) - (len(eps) - next)
		if !v.Kill() {
			continue // down already, restarting on its own
		}
		k++
		if inFlight > 0 {
			busy++
		}
		d := time.Duration(sched.Int64N(int64(down)))
		log = append(log, fmt.Sprintf("%2d %6.1fs %-14s down %5s, %d episodes in flight", k, time.Since(start).Seconds(), v.name, d.Round(time.Millisecond), inFlight))
		time.Sleep(d)
		v.Start()
	}
	for ; next < len(eps); next++ {
		if err := l.release(eps[next]); err != nil {
			h.fatalf("%v", err)
		}
	}
	t.Logf("seed %d: kills (%d of %d with episodes in flight):\n%s", h.seed, busy, kills, strings.Join(log, "\n"))
	if busy == 0 {
		h.errorf("no kill found an episode in flight: the scenario tested nothing")
	}
	if h.hub.Kills() == 0 {
		// The seed's schedule spared the hub; kill it once more, mid-run.
		h.hub.Kill()
		h.hub.Start()
		t.Logf("seed %d: the schedule spared the hub: killed it once after the schedule", h.seed)
	}

	l.waitSettled(js, settle)
	f := l.check(js)
	h.stopDaemons()
	ledgerLogFigures(t, "chaos", h, f, time.Since(start))
	var byVictim []string
	total, restarts := 0, 0
	for _, v := range victims {
		byVictim = append(byVictim, fmt.Sprintf("%s %d", v.name, v.Kills()))
		total += v.Kills()
		restarts += v.Restarts()
	}
	sort.Strings(byVictim)
	t.Logf("FIGURES chaos seed=%d kills=%d (%s), %d of the scheduled with episodes in flight; %d restarts by the supervisor after a process ended on its own",
		h.seed, total, strings.Join(byVictim, ", "), busy, restarts)
}
