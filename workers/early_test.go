package workers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/workers"
)

// slowReader sleeps before every read: a link slow enough that the
// receiver reads the first segments while the last are still uploading.
type slowReader struct{ r io.Reader }

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(20 * time.Millisecond)
	return s.r.Read(p[:min(len(p), 32<<10)])
}

// TestEarlyRead: the publisher announces each segment of a multi-segment
// episode as it stores it, and the receiver reads the archive during the
// upload; the verdict and the export are those of a read after the
// submission. With either side's announcements off, the archive is read
// once submitted.
func TestEarlyRead(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		earlyReads int
		noAnnounce bool
		used       float64
	}{
		{"announced", 0, false, 1},
		{"receiver reads no early", -1, false, 0},
		{"publisher announces nothing", 0, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			archive := t.TempDir()
			metrics := receiver.NewMetrics(prometheus.NewRegistry())
			r, err := receiver.New(t.Context(), e.js, receiver.Options{
				ArchiveDir: archive, Metrics: metrics, EarlyReads: tc.earlyReads,
				FetchWait: 200 * time.Millisecond, Logger: hubtest.Logger(t),
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { r.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			if tc.earlyReads >= 0 {
				awaitAnnounceAnswer(t, e)
			}

			data := noise(600 << 10)
			e.episode("ep-early", commit, map[string]string{"video/cam0.bin": data})
			p := e.publisher(workers.Options{NoAnnounce: tc.noAnnounce, Throttle: func(_ context.Context, r io.Reader) io.Reader {
				return slowReader{r}
			}})
			if s, err := p.RunOnce(t.Context()); err != nil || len(s.Shipped) != 1 {
				t.Fatalf("RunOnce = %+v, %v", s, err)
			}
			var v objectstore.Verdict
			b, _ := os.ReadFile(filepath.Join(e.data, "shipped", "ep-early", workers.VerdictFile))
			if err := json.Unmarshal(b, &v); err != nil || v.Reason != subjects.Accepted {
				t.Fatalf("verdict.json = %s, want accepted", b)
			}
			got, err := os.ReadFile(filepath.Join(archive, host, "ep-early", "video", "cam0.bin"))
			if err != nil || !bytes.Equal(got, []byte(data)) {
				t.Fatalf("export of the episode: %d bytes, %v; want the %d bytes recorded", len(got), err, len(data))
			}
			used := testutil.ToFloat64(metrics.Early.WithLabelValues("used"))
			unused := testutil.ToFloat64(metrics.Early.WithLabelValues("unused"))
			early := testutil.ToFloat64(metrics.EarlyBytes)
			if used != tc.used || unused != 0 {
				t.Fatalf("early reads used %v, unused %v; want %v, 0", used, unused, tc.used)
			}
			// Read during the upload: at least the first segment had been
			// read when the submission came.
			if tc.used == 1 && early < objectstore.MinSegmentSize {
				t.Fatalf("%v bytes read before the submission, want at least one segment (%d)", early, objectstore.MinSegmentSize)
			}
			if tc.used == 0 && early != 0 {
				t.Fatalf("%v bytes read early with no early read", early)
			}
		})
	}
}

// awaitAnnounceAnswer waits until a receiver answers announcements: it
// sends one the receivers decline (index 1 is never a first).
func awaitAnnounceAnswer(t *testing.T, e *env) {
	t.Helper()
	probe, _ := json.Marshal(objectstore.Announcement{EpisodeID: "probe", Index: 1})
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg, err := e.js.Conn().Request(subjects.AnnounceSubject(host), probe, time.Second)
		if err == nil {
			var rep objectstore.AnnounceReply
			if json.Unmarshal(msg.Data, &rep) != nil || rep.To != "" {
				t.Fatalf("answer to an announcement of index 1: %s, want a decline", msg.Data)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no receiver answers announcements: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
