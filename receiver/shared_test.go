package receiver_test

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

// TestTwoReceiversShareTheWork submits 200 episodes to two receivers on the
// one durable consumer: every submission is judged exactly once.
func TestTwoReceiversShareTheWork(t *testing.T) {
	t.Parallel()
	const n = 200
	e := newEnv(t)
	// Upload everything first, then start both receivers, then submit.
	type sub struct {
		m      objectstore.Manifest
		stamp  string
		reason subjects.Reason
	}
	subs := make([]sub, n)
	for i := range subs {
		stamp, reason := commit, subjects.Accepted
		if i%5 == 0 {
			stamp, reason = "", subjects.Unstamped
		}
		dir := episode(t, fmt.Sprintf("ep-%03d", i), stamp, map[string]string{"d": fmt.Sprint(i)})
		subs[i] = sub{m: e.upload(dir), stamp: stamp, reason: reason}
	}
	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	metrics := []*receiver.Metrics{receiver.NewMetrics(regs[0]), receiver.NewMetrics(regs[1])}
	e.run(receiver.Options{ID: "r1", Concurrency: 3, Metrics: metrics[0]})
	e.run(receiver.Options{ID: "r2", Concurrency: 3, Metrics: metrics[1]})
	ids := make([]string, n)
	for i, s := range subs {
		ids[i] = e.submit(s.m.EpisodeID, s.m.ArchiveSHA256, 1, s.m)
	}
	kv, err := e.js.KeyValue(t.Context(), subjects.VerdictsBucket)
	if err != nil {
		t.Fatal(err)
	}
	byReceiver := map[string]int{}
	for i, s := range subs {
		v := e.verdict(s.m.EpisodeID, ids[i])
		if v.Reason != s.reason {
			t.Fatalf("%s: verdict %q %q, want %q", s.m.EpisodeID, v.Reason, v.Detail, s.reason)
		}
		byReceiver[v.Receiver]++
		// Exactly one decision: the history holds one write with Done false
		// and one with Done true, both by the same receiver.
		hist, err := kv.History(t.Context(), subjects.VerdictKey(host, s.m.EpisodeID))
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 2 {
			t.Fatalf("%s: %d verdict revisions, want 2 (decision, done)", s.m.EpisodeID, len(hist))
		}
		d, _ := objectstore.ParseVerdict(hist[0].Value())
		if d.Done || d.Receiver != v.Receiver || d.Reason != v.Reason {
			t.Fatalf("%s: decision %+v then done %+v", s.m.EpisodeID, d, v)
		}
	}
	total := 0.0
	for _, m := range metrics {
		for _, r := range subjects.Reasons {
			total += testutil.ToFloat64(m.Verdicts.WithLabelValues(string(r)))
		}
	}
	if total != n {
		t.Fatalf("receivers counted %v verdicts, want %d", total, n)
	}
	acc, nack := len(e.records(subjects.AcceptedAll)), len(e.records(subjects.NackAll))
	if acc+nack != n || nack != n/5 {
		t.Fatalf("%d accepted and %d quarantine records, want %d and %d", acc, nack, n-n/5, n/5)
	}
	t.Logf("judged per receiver: %v", byReceiver)
}
