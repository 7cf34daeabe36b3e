package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/subjects"
)

// TestCluster runs the deployment on a 3-node JetStream cluster of stock
// nats-server processes built from this module, every resource with
// Replicas: 3, and the same receiver and publisher configuration as on a
// single hub but for the URLs (all three nodes). Mid-run the node leading
// CIS490_SUBMISSIONS is SIGKILLed; shipping must go on with two nodes, and
// the node, brought back, must catch up. Then the ledger, and every stream
// and consumer with three current replicas.
//
// Short profile: 3 hosts × 6 episodes of 64 KiB to 4 MiB under a max_rate.
// Full profile (CIS490_E2E=full): 3 hosts × 30 episodes of 1 KiB to
// 256 MiB.
func TestCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	h := newHarness(t)
	per, bad, minSize, maxSize, rate, settle := 6, 1, int64(64<<10), int64(4<<20), "4MiB", 3*time.Minute
	if h.full {
		per, bad, minSize, maxSize, rate, settle = 30, 3, 1<<10, 256<<20, "0", 30*time.Minute
	}
	h.startCluster(3, harnessHosts)
	h.windowAdd(ledgerCommit)
	l := newLedger(h)
	for _, ep := range l.mix(harnessHosts, per, bad, minSize, maxSize, h.rand(1)) {
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
	retired := func() int { return len(l.eps) - len(l.unsettled()) }

	// Mid-run: once a third has retired, kill the submissions leader.
	h.waitFor("a third of the episodes retired", settle, 100*time.Millisecond, func() error {
		if n := retired(); n < len(l.eps)/3 {
			return fmt.Errorf("%d of %d retired", n, len(l.eps))
		}
		return nil
	})
	victim := h.streamLeader(js, subjects.SubmissionsStream)
	before := retired()
	h.nodes[victim].Kill()
	killedAt := time.Since(start)
	// Two nodes of three keep quorum: episodes go on retiring.
	h.waitFor("episodes retire with a node down", 2*time.Minute, 100*time.Millisecond, func() error {
		if n := retired(); n < before+2 && n < len(l.eps) {
			return fmt.Errorf("%d retired before the kill, %d now", before, n)
		}
		return nil
	})
	during := retired() - before
	downFor := time.Since(start) - killedAt
	h.nodes[victim].Start()
	t.Logf("seed %d: SIGKILLed node n%d, leader of %s, at %.1fs with %d of %d retired; %d more retired in the %.1fs it was down",
		h.seed, victim, subjects.SubmissionsStream, killedAt.Seconds(), before, len(l.eps), during, downFor.Seconds())

	l.waitSettled(js, settle)
	settled := time.Since(start)
	h.checkReplicas(js, 3)
	t.Logf("seed %d: every episode retired at %.1fs, every replica current at %.1fs", h.seed, settled.Seconds(), time.Since(start).Seconds())
	if c, err := js.Consumer(t.Context(), subjects.SubmissionsStream, subjects.ReceiverConsumer); err == nil {
		ci := c.CachedInfo()
		t.Logf("seed %d: consumer %s delivered %d submissions, %d of them again", h.seed, ci.Name, ci.Delivered.Consumer, ci.NumRedelivered)
	}
	f := l.check(js)
	h.stopDaemons()
	ledgerLogFigures(t, "cluster", h, f, time.Since(start))
}

// streamLeader returns the index of the node leading stream.
func (h *harness) streamLeader(js jetstream.JetStream, stream string) int {
	h.t.Helper()
	leader := -1
	h.waitFor("leader of "+stream, 30*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(h.t.Context(), 5*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		info := s.CachedInfo()
		if info.Cluster == nil || !strings.HasPrefix(info.Cluster.Leader, "n") {
			return fmt.Errorf("%s has no leader", stream)
		}
		leader, err = strconv.Atoi(strings.TrimPrefix(info.Cluster.Leader, "n"))
		return err
	})
	return leader
}

// checkReplicas waits until every stream (the object buckets and
// key-value buckets included) and the receiver consumer have replicas
// replicas, all current, and fails if one is configured with fewer.
func (h *harness) checkReplicas(js jetstream.JetStream, replicas int) {
	h.t.Helper()
	h.waitFor("every replica current", 2*time.Minute, 250*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(h.t.Context(), 10*time.Second)
		defer cancel()
		n := 0
		streams := js.ListStreams(ctx)
		for info := range streams.Info() {
			n++
			if info.Config.Replicas != replicas {
				h.fatalf("stream %s has Replicas %d, want %d", info.Config.Name, info.Config.Replicas, replicas)
			}
			if err := clusterCurrent(info.Config.Name, info.Cluster, replicas); err != nil {
				return err
			}
		}
		if err := streams.Err(); err != nil {
			return err
		}
		// Three streams, two key-value buckets and one bucket per host.
		if want := 5 + len(h.dataDirs); n != want {
			return fmt.Errorf("%d streams, want %d", n, want)
		}
		c, err := js.Consumer(ctx, subjects.SubmissionsStream, subjects.ReceiverConsumer)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if r := info.Config.Replicas; r != 0 && r != replicas {
			h.fatalf("consumer %s has Replicas %d, want %d (or the stream's)", subjects.ReceiverConsumer, r, replicas)
		}
		return clusterCurrent("consumer "+subjects.ReceiverConsumer, info.Cluster, replicas)
	})
}

// clusterCurrent returns an error unless ci shows a leader and replicas-1
// current followers.
func clusterCurrent(what string, ci *jetstream.ClusterInfo, replicas int) error {
	if ci == nil || ci.Leader == "" {
		return fmt.Errorf("%s has no leader", what)
	}
	current := 0
	for _, p := range ci.Replicas {
		if p.Current && !p.Offline {
			current++
		}
	}
	if current != replicas-1 {
		return fmt.Errorf("%s: %d of %d followers current", what, current, replicas-1)
	}
	return nil
}
