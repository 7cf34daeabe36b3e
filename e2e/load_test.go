package e2e

import (
	"testing"
	"time"
)

// harnessHosts are the lab hosts of the scenarios.
var harnessHosts = []string{"lab1", "lab2", "lab3"}

// TestLoad ships a backlog from three lab hosts at once through a `cis490
// hub` process and two receivers sharing the consumer: good episodes of
// mixed sizes with bad ones among them (unstamped, out-of-window, meta.json
// cut short, a symlink inside, more entries than max_files). Every episode
// must end exactly once where its kind says, with its verdict, record and
// byte-identical export, and the GC must leave only accepted segments.
//
// Short profile: 3 hosts × 10 episodes of 1 KiB to 2 MiB, 9 of them bad.
// Full profile (CIS490_E2E=full): 3 hosts × 100 episodes of 1 KiB to
// 256 MiB, 24 of them bad.
func TestLoad(t *testing.T) {
	t.Parallel()
	start := time.Now()
	h := newHarness(t)
	per, bad, maxSize, settle := 10, 3, int64(2<<20), 2*time.Minute
	if h.full {
		per, bad, maxSize, settle = 100, 8, 256<<20, 45*time.Minute
	}
	h.startHub()
	h.windowAdd(ledgerCommit)
	l := newLedger(h)
	for _, ep := range l.mix(harnessHosts, per, bad, 1<<10, maxSize, h.rand(1)) {
		if err := l.release(ep); err != nil {
			h.fatalf("%v", err)
		}
	}
	t.Logf("recorded %d episodes in %s", len(l.eps), time.Since(start).Round(time.Millisecond))

	h.startReceivers(2)
	for _, host := range harnessHosts {
		h.startPublisher(host)
	}
	js := h.connect()
	for _, host := range harnessHosts {
		l.plantOrphans(js, host)
	}
	l.waitSettled(js, settle)
	f := l.check(js)
	h.stopDaemons()
	ledgerLogFigures(t, "load", h, f, time.Since(start))
}
