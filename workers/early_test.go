package workers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cis490/cis490/hub"
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

// TestAnnounceAnsweredOnlyToTheHostsInbox: the receiver answers a first
// announcement only on a reply subject of the announcing host's own, so
// that a host cannot make it publish, with its right to respond, on a
// subject of the host's choosing (the window, another host's records).
func TestAnnounceAnsweredOnlyToTheHostsInbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.hub.EnsureHostBucket(t.Context(), host); err != nil {
		t.Fatal(err)
	}
	e.receive(nil)
	awaitAnnounceAnswer(t, e)
	nc := e.js.Conn()
	evil, err := nc.SubscribeSync("evil.>")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := json.Marshal(objectstore.Announcement{EpisodeID: "ep-evil", Index: 0,
		Segment: objectstore.Segment{Size: 1, SHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}})
	for _, reply := range []string{"evil.window", "evil._INBOX.x", "_INBOX_lab2.x"} {
		if reply == "_INBOX_lab2.x" {
			// Another host's inbox: watched here under its own name.
			if evil, err = nc.SubscribeSync(reply); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.PublishRequest(subjects.AnnounceSubject(host), reply, first); err != nil {
			t.Fatal(err)
		}
		// Announcements are handled in order: once the probe is answered,
		// the one before it was handled.
		awaitAnnounceAnswer(t, e)
		if m, err := evil.NextMsg(100 * time.Millisecond); err == nil {
			t.Fatalf("the receiver answered on %s: %s", m.Subject, m.Data)
		}
	}
	// The host's own inbox gets its answer.
	msg, err := nc.Request(subjects.AnnounceSubject(host), first, 5*time.Second)
	if err != nil {
		t.Fatalf("first announcement on lab1's inbox: %v", err)
	}
	var rep objectstore.AnnounceReply
	if json.Unmarshal(msg.Data, &rep) != nil || rep.To == "" {
		t.Fatalf("answer = %s, want the subject of the next announcements", msg.Data)
	}
}

// TestAnnounceDenied: on a hub whose permissions predate announcements,
// the first one is denied; the publisher learns it from the hub at once
// (not after a request timeout), logs one warning and announces no more,
// and every episode ships as before.
func TestAnnounceDenied(t *testing.T) {
	t.Parallel()
	conf := filepath.Join(t.TempDir(), "hub.conf")
	os.WriteFile(conf, []byte(`authorization {
  users = [
    {user: admin, password: a}
    {user: lab1, password: l, permissions: {publish: {deny: ["cis490.announce.>"]}}}
  ]
}
no_auth_user: admin
`), 0o644)
	h := hubtest.RunServer(t, func(o *hub.Options) { o.ConfigFile = conf })
	_, ajs := hubtest.Connect(t, h.ClientURL())
	if _, err := h.EnsureHostBucket(t.Context(), host); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, hub: h, js: ajs, data: t.TempDir()}
	e.receive(nil)
	awaitAnnounceAnswer(t, e)

	lnc, err := nats.Connect(h.ClientURL(), nats.UserInfo("lab1", "l"))
	if err != nil {
		t.Fatal(err)
	}
	defer lnc.Close()
	ljs, err := jetstream.New(lnc)
	if err != nil {
		t.Fatal(err)
	}
	var logs hubtest.Buffer
	p, err := workers.New(t.Context(), ljs, workers.Options{Host: host, DataDir: e.data, Settle: time.Nanosecond,
		SegmentSize: objectstore.MinSegmentSize, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Recover(); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"ep-d1", "ep-d2"} {
		e.episode(id, commit, map[string]string{"d": noise(300 << 10)})
		start := time.Now()
		if s, err := p.RunOnce(t.Context()); err != nil || len(s.Shipped) != 1 {
			t.Fatalf("RunOnce %d = %+v, %v\n%s", i, s, err, logs.String())
		}
		if took := time.Since(start); took > 4*time.Second {
			t.Errorf("episode %s shipped in %v: the denied announcement was waited for", id, took.Round(time.Millisecond))
		}
	}
	if n := strings.Count(logs.String(), "segments not announced"); n != 1 {
		t.Fatalf("%d warnings of segments not announced over two episodes, want 1:\n%s", n, logs.String())
	}
}
