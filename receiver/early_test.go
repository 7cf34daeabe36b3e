package receiver_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

// announce sends m's segments as announcements, the first as a request,
// and reports whether a receiver took the episode.
func (e *env) announce(m objectstore.Manifest) bool {
	e.t.Helper()
	b, _ := json.Marshal(objectstore.Announcement{EpisodeID: m.EpisodeID, Index: 0, Segment: m.Segments[0]})
	var rep objectstore.AnnounceReply
	hubtest.CheckFor(e.t, 10*time.Second, 20*time.Millisecond, func() error {
		msg, err := e.nc.Request(subjects.AnnounceSubject(host), b, time.Second)
		if err != nil {
			return err
		}
		return json.Unmarshal(msg.Data, &rep)
	})
	if rep.To == "" {
		return false
	}
	for i, seg := range m.Segments[1:] {
		b, _ := json.Marshal(objectstore.Announcement{EpisodeID: m.EpisodeID, Index: i + 1, Segment: seg})
		if err := e.nc.Publish(rep.To, b); err != nil {
			e.t.Fatal(err)
		}
	}
	return true
}

// TestEarlyReadSegmentDeletedSince: a segment read early, then deleted
// before the submission, makes the verdict the one a read at submission
// gives (corrupt, so the publisher uploads again), not an accept from
// bytes the bucket no longer holds.
func TestEarlyReadSegmentDeletedSince(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	metrics := receiver.NewMetrics(prometheus.NewRegistry())
	e.run(receiver.Options{Metrics: metrics})
	dir := episode(t, "ep-stale", commit, map[string]string{"v.bin": noise(300 << 10)})
	m := e.upload(dir)
	if len(m.Segments) < 3 {
		t.Fatalf("%d segments, want at least 3", len(m.Segments))
	}
	if !e.announce(m) {
		t.Fatal("no receiver took the announced episode")
	}
	time.Sleep(time.Second) // the early read reads the few segments meanwhile
	if err := e.store.Delete(t.Context(), m.EpisodeID, m.Segments[1:2]); err != nil {
		t.Fatal(err)
	}
	id := e.submit(m.EpisodeID, m.ArchiveSHA256, 1, m)
	if v := e.verdict(m.EpisodeID, id); v.Reason != subjects.Corrupt {
		t.Fatalf("verdict %s (%s), want corrupt: segment 1 was deleted after it was read early", v.Reason, v.Detail)
	}
	if used, unused := testutil.ToFloat64(metrics.Early.WithLabelValues("used")), testutil.ToFloat64(metrics.Early.WithLabelValues("unused")); used != 0 || unused != 1 {
		t.Fatalf("early reads used %v, unused %v; want 0, 1", used, unused)
	}
}
