package receiver_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

// TestHostileStringsAreBounded: a host puts strings of hundreds of
// kilobytes wherever it can (the submission's headers, the manifest's
// commit and branch, an unknown field's name, meta.json's branch). Every
// verdict, record and log line the receiver makes of them stays under
// 2 KiB: nothing the host sends is copied whole.
func TestHostileStringsAreBounded(t *testing.T) {
	t.Parallel()
	const limit = 2 << 10
	e := newEnv(t)
	var logs hubtest.Buffer
	e.run(receiver.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	big := func(c string) string { return strings.Repeat(c, 200<<10) }

	// meta.json with a huge branch: accepted, its branch cut.
	dir := episode(t, "ep-branch", commit, map[string]string{"x": "1"})
	meta, _ := json.Marshal(map[string]any{"episode_id": "ep-branch", "recorded_at": "2026-11-20T14:03:11Z",
		"code_version": map[string]any{"commit": commit, "branch": big("b")}})
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), meta, 0o644); err != nil {
		t.Fatal(err)
	}
	mB, idB := e.ship(dir, 1)

	// A manifest whose commit is huge and not the archive's: malformed.
	mC := e.upload(episode(t, "ep-commit", commit, map[string]string{"x": "2"}))
	mC.CodeVersion.Commit = big("c")
	idC := e.submit(mC.EpisodeID, mC.ArchiveSHA256, 1, mC)

	// A manifest with a huge unknown field: malformed, the json error names it.
	idF := e.submit("ep-field", strings.Repeat("0", 64), 1, map[string]any{"version": 2, big("f"): 1})

	// Garbage with huge headers (JetStream takes 64 KiB of them): a
	// record only, no key to hold a verdict.
	msg := nats.NewMsg(subjects.SubmitSubject(host))
	msg.Data = []byte(big("g"))
	msg.Header.Set(subjects.HeaderMsgID, strings.Repeat("i", 30<<10))
	msg.Header.Set(subjects.HeaderEpisode, strings.Repeat("e", 30<<10))
	if _, err := e.js.PublishMsg(t.Context(), msg); err != nil {
		t.Fatal(err)
	}

	kv, err := e.js.KeyValue(t.Context(), subjects.VerdictsBucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		episode, id string
		reason      subjects.Reason
	}{{mB.EpisodeID, idB, subjects.Accepted}, {mC.EpisodeID, idC, subjects.Malformed}, {"ep-field", idF, subjects.Malformed}} {
		v := e.verdict(s.episode, s.id)
		ent, err := kv.Get(t.Context(), subjects.VerdictKey(host, s.episode))
		if err != nil {
			t.Fatal(err)
		}
		if v.Reason != s.reason || len(ent.Value()) > limit {
			t.Errorf("verdict of %s: %q, %d bytes of JSON; want %q under %d", s.episode, v.Reason, len(ent.Value()), s.reason, limit)
		}
		if s.reason != subjects.Accepted && (v.Detail == "" || len(v.Detail) > subjects.MaxDetail) {
			t.Errorf("verdict of %s: detail of %d bytes, want 1 to %d: %q", s.episode, len(v.Detail), subjects.MaxDetail, v.Detail)
		}
	}
	var recs []string
	hubtest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		recs = recs[:0]
		for _, f := range []string{subjects.NackHostFilter(host), subjects.AcceptedSubject(host)} {
			for _, r := range e.records(f) {
				size := len(r.Data)
				for k, vs := range r.Header {
					size += len(k) + len(strings.Join(vs, ""))
				}
				recs = append(recs, fmt.Sprintf("%s %d", r.Subject, size))
				if size > limit {
					t.Errorf("record on %s holds %d bytes, want under %d: %.300s", r.Subject, size, limit, r.Data)
				}
			}
		}
		if len(recs) != 4 {
			return fmt.Errorf("%d records %v, want 4", len(recs), recs)
		}
		return nil
	})
	for l := range strings.Lines(logs.String()) {
		if len(l) > limit {
			t.Errorf("log line of %d bytes, want under %d: %.300s", len(l), limit, l)
		}
	}
	if !strings.Contains(logs.String(), "verdict on a submission that names no valid episode") {
		t.Errorf("no log line for the garbage submission:\n%s", logs.String())
	}
}

// TestRejectRecordOfALongManifest: a manifest may list thousands of
// segments; the record of its reject lists MaxRejectSegments of them and
// counts the rest, so that it fits the quarantine stream's record size
// (before, its publish failed and the submission was retried for ever).
func TestRejectRecordOfALongManifest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.run(receiver.Options{})
	const n = 4000
	m := objectstore.Manifest{Version: objectstore.ManifestVersion, Host: host, EpisodeID: "ep-long",
		RecordedAt: time.Now().UTC(), CodeVersion: objectstore.CodeVersion{Commit: commit},
		SegmentSize: objectstore.MinSegmentSize, ArchiveBytes: n * objectstore.MinSegmentSize, RawBytes: 1, Files: 1}
	for i := range n {
		m.Segments = append(m.Segments, objectstore.Segment{Size: objectstore.MinSegmentSize, SHA256: fmt.Sprintf("%064x", i+1)})
	}
	m.ArchiveSHA256 = objectstore.ArchiveDigest(m.Segments)
	id := e.submit(m.EpisodeID, m.ArchiveSHA256, 1, m)
	if v := e.verdict(m.EpisodeID, id); v.Reason != subjects.Corrupt {
		t.Fatalf("verdict of a manifest of %d segments none of which is stored = %s (%s), want %s", n, v.Reason, v.Detail, subjects.Corrupt)
	}
	var recs []*jetstream.RawStreamMsg
	hubtest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if recs = e.records(subjects.NackHostFilter(host)); len(recs) == 0 {
			return fmt.Errorf("no record yet")
		}
		return nil
	})
	rec, err := objectstore.ParseRecord(recs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Manifest.Segments) != objectstore.MaxRejectSegments || rec.SegmentsOmitted != n-objectstore.MaxRejectSegments || len(recs[0].Data) > 16<<10 {
		t.Errorf("record of %d bytes lists %d segments and omits %d, want %d listed, %d omitted, under 16 KiB",
			len(recs[0].Data), len(rec.Manifest.Segments), rec.SegmentsOmitted, objectstore.MaxRejectSegments, n-objectstore.MaxRejectSegments)
	}
}
