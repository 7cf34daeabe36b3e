package receiver_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

// TestHostBudget: lab1 floods the hub with 50 submissions against a
// budget of 3 (the bucket refills once in 100 s, so none comes back during
// the test). Three are judged; the 47 others are dropped unjudged, counted,
// recorded once and warned about once, while lab2's episode, submitted in
// the middle of the flood, is accepted.
func TestHostBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var logs hubtest.Buffer
	reg := prometheus.NewRegistry()
	m := receiver.NewMetrics(reg)
	e.run(receiver.Options{HostRate: 0.01, HostBurst: 3, Metrics: m,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})

	m2 := e.uploadAs("lab2", episode(t, "ep-lab2", commit, map[string]string{"x": "2"}))
	for i := range 50 {
		if i == 25 {
			e.submitAs("lab2", m2.EpisodeID, m2.ArchiveSHA256, 1, m2)
		}
		e.submit(fmt.Sprintf("ep-%02d", i), strings.Repeat("0", 64), 1, "not a manifest")
	}

	kv, err := e.js.KeyValue(t.Context(), subjects.VerdictsBucket)
	if err != nil {
		t.Fatal(err)
	}
	hubtest.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		ent, err := kv.Get(t.Context(), subjects.VerdictKey("lab2", m2.EpisodeID))
		if err != nil {
			return fmt.Errorf("lab2's verdict: %w", err)
		}
		if v, err := objectstore.ParseVerdict(ent.Value()); err != nil || !v.Done || v.Reason != subjects.Accepted {
			return fmt.Errorf("lab2's verdict: %+v, %v; want accepted and done", v, err)
		}
		if n := testutil.ToFloat64(m.RateLimited.WithLabelValues(host)); n != 47 {
			return fmt.Errorf("%v submissions of %s rate limited, want 47", n, host)
		}
		return nil
	})
	keys, err := kv.ListKeysFiltered(t.Context(), subjects.VerdictHostFilter(host))
	if err != nil {
		t.Fatal(err)
	}
	var judged []string
	for k := range keys.Keys() {
		judged = append(judged, k)
	}
	if len(judged) != 3 {
		t.Errorf("%d verdicts of %s: %v; want 3, its burst", len(judged), host, judged)
	}
	if recs := e.records(subjects.NackSubject(host, subjects.RateLimited)); len(recs) != 1 {
		t.Errorf("%d rate-limited records, want 1 for the burst", len(recs))
	} else if rec, err := objectstore.ParseRecord(recs[0].Data); err != nil || rec.Verdict.Reason != subjects.RateLimited || rec.Verdict.Host != host {
		t.Errorf("rate-limited record = %+v, %v", rec.Verdict, err)
	}
	if n := strings.Count(logs.String(), "over the host's budget"); n != 1 {
		t.Errorf("%d warnings about the budget, want 1 for the burst:\n%s", n, logs.String())
	}
}
