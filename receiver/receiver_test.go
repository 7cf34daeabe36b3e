package receiver_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

// checkReject asserts a rejection's KV verdict, its one quarantine record
// and the deletion of its segments.
func checkReject(t *testing.T, e *env, m objectstore.Manifest, id string, want subjects.Reason, detail string, segmentsKept bool) {
	t.Helper()
	v := e.verdict(m.EpisodeID, id)
	if v.Reason != want || !strings.Contains(v.Detail, detail) {
		t.Fatalf("verdict = %q %q, want %q containing %q", v.Reason, v.Detail, want, detail)
	}
	recs := e.records(subjects.NackHostFilter(host))
	var mine []objectstore.Record
	for _, raw := range recs {
		rec, err := objectstore.ParseRecord(raw.Data)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Verdict.Submission == id {
			if raw.Subject != subjects.NackSubject(host, want) {
				t.Fatalf("record subject %s, want %s", raw.Subject, subjects.NackSubject(host, want))
			}
			mine = append(mine, rec)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("%d quarantine records for %s, want 1", len(mine), id)
	}
	if r := mine[0]; r.Verdict.Reason != want || r.Verdict.EpisodeID != m.EpisodeID || r.Bucket != subjects.EpisodeBucket(host) {
		t.Fatalf("record = %+v", r.Verdict)
	}
	if n := e.stored(m); segmentsKept != (n == len(m.Segments)) || (!segmentsKept && n != 0) {
		t.Fatalf("%d of %d segments still stored, want kept=%v", n, len(m.Segments), segmentsKept)
	}
	if _, err := os.Stat(filepath.Join(e.archive, host, m.EpisodeID)); !segmentsKept && !os.IsNotExist(err) {
		t.Fatalf("rejected episode exported: %v", err)
	}
}

func TestAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.run(receiver.Options{})
	big := strings.Repeat("frame data ", 30000)
	dir := episode(t, "ep-good", commit, map[string]string{"cam/frames.bin": big, "log.csv": "t,x\n"})
	m, id := e.ship(dir, 1)

	v := e.verdict(m.EpisodeID, id)
	if v.Reason != subjects.Accepted || v.AcceptedSHA256 != m.ArchiveSHA256 || v.CodeVersion.Commit != commit || v.Receiver == "" {
		t.Fatalf("verdict = %+v", v)
	}
	recs := e.records(subjects.AcceptedSubject(host))
	if len(recs) != 1 {
		t.Fatalf("%d accepted records, want 1", len(recs))
	}
	rec, _ := objectstore.ParseRecord(recs[0].Data)
	if rec.Manifest.ArchiveSHA256 != m.ArchiveSHA256 || len(rec.Manifest.Segments) != len(m.Segments) {
		t.Fatalf("accepted record manifest = %+v", rec.Manifest)
	}
	if n := e.stored(m); n != len(m.Segments) {
		t.Fatalf("accepted episode has %d of %d segments stored", n, len(m.Segments))
	}
	exp := filepath.Join(e.archive, host, m.EpisodeID)
	if v.Export != exp {
		t.Fatalf("verdict export %q, want %q", v.Export, exp)
	}
	for _, name := range []string{"meta.json", "cam/frames.bin", "log.csv"} {
		want, _ := os.ReadFile(filepath.Join(dir, name))
		got, err := os.ReadFile(filepath.Join(exp, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("export %s: %d bytes, %v; want %d source bytes", name, len(got), err, len(want))
		}
	}
	if q := e.records(subjects.NackAll); len(q) != 0 {
		t.Fatalf("%d quarantine records for an accepted episode", len(q))
	}

	// The same episode again (a publisher that lost the verdict) is
	// accepted again, with no second export or new files.
	m2, id2 := e.ship(dir, 2)
	if v := e.verdict(m2.EpisodeID, id2); v.Reason != subjects.Accepted || v.Export != exp {
		t.Fatalf("identical resubmission verdict = %+v", v)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.archive, host)); len(entries) != 2 { // the export and its sidecar
		t.Fatalf("archive dir holds %d entries, want the export and its sidecar", len(entries))
	}
}

func TestUnstamped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.run(receiver.Options{})
	m, id := e.ship(episode(t, "ep-unstamped", "", map[string]string{"x": "1"}), 1)
	checkReject(t, e, m, id, subjects.Unstamped, "commit", false)
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.run(receiver.Options{})
	t.Run("manifest-lies", func(t *testing.T) {
		m := e.upload(episode(t, "ep-lies", commit, map[string]string{"x": "1"}))
		m.Files = 7
		id := e.submit(m.EpisodeID, m.ArchiveSHA256, 1, m)
		checkReject(t, e, m, id, subjects.Malformed, "files is 2 in the archive, 7 in the manifest", false)
	})
	t.Run("over-limit", func(t *testing.T) {
		e2 := newEnv(t)
		e2.run(receiver.Options{Limits: objectstore.Limits{MaxFiles: 3}})
		m, id := e2.ship(episode(t, "ep-many", commit, map[string]string{"a": "1", "b": "2", "c": "3"}), 1)
		checkReject(t, e2, m, id, subjects.Malformed, "too many files", false)
	})
	t.Run("not-a-manifest", func(t *testing.T) {
		id := e.submit("ep-garbage", strings.Repeat("0", 64), 1, map[string]any{"version": 1, "surprise": true})
		v := e.verdict("ep-garbage", id)
		if v.Reason != subjects.Malformed || !strings.Contains(v.Detail, "bad manifest") {
			t.Fatalf("verdict = %q %q", v.Reason, v.Detail)
		}
	})
	t.Run("host-mismatch", func(t *testing.T) {
		m := e.upload(episode(t, "ep-host", commit, nil))
		m.Host = "lab2"
		id := e.submit(m.EpisodeID, m.ArchiveSHA256, 1, m)
		checkReject(t, e, m, id, subjects.Malformed, `manifest names host "lab2"`, false)
	})
}

func TestCorrupt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.run(receiver.Options{})
	dir := episode(t, "ep-corrupt", commit, map[string]string{"data": noise(300 << 10)})
	m := e.upload(dir)
	if len(m.Segments) < 2 {
		t.Fatalf("want several segments, got %d", len(m.Segments))
	}
	if err := e.obs.Delete(t.Context(), subjects.SegmentObject(m.EpisodeID, m.Segments[1].SHA256)); err != nil {
		t.Fatal(err)
	}
	id := e.submit(m.EpisodeID, m.ArchiveSHA256, 1, m)
	checkReject(t, e, m, id, subjects.Corrupt, "segment missing", false)

	// Re-upload and resubmit: now it is accepted.
	m2, id2 := e.ship(dir, 2)
	if v := e.verdict(m2.EpisodeID, id2); v.Reason != subjects.Accepted {
		t.Fatalf("after re-upload: verdict %q %q, want accepted", v.Reason, v.Detail)
	}
}

func TestConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.run(receiver.Options{})
	first := episode(t, "ep-twice", commit, map[string]string{"x": "first recording"})
	mA, idA := e.ship(first, 1)
	if v := e.verdict(mA.EpisodeID, idA); v.Reason != subjects.Accepted {
		t.Fatalf("first: %q %q", v.Reason, v.Detail)
	}
	second := episode(t, "ep-twice", commit, map[string]string{"x": "another recording, same id"})
	mB, idB := e.ship(second, 1)
	checkReject(t, e, mB, idB, subjects.Conflict, mA.ArchiveSHA256, true)
	// The accepted version is untouched: export and segments.
	if got, _ := os.ReadFile(filepath.Join(e.archive, host, "ep-twice", "x")); string(got) != "first recording" {
		t.Fatalf("export after conflict holds %q", got)
	}
	if n := e.stored(mA); n != len(mA.Segments) {
		t.Fatalf("accepted segments after conflict: %d of %d", n, len(mA.Segments))
	}
	// The verdict still remembers the accepted digest.
	if v := e.verdict(mB.EpisodeID, idB); v.AcceptedSHA256 != mA.ArchiveSHA256 {
		t.Fatalf("conflict verdict lost the accepted digest: %+v", v)
	}
}

// TestVerdictRecordsAreJSON pins the record format that doctor and
// downstream jobs read.
func TestVerdictRecordsAreJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.run(receiver.Options{})
	m, id := e.ship(episode(t, "ep-json", "", nil), 1)
	e.verdict(m.EpisodeID, id)
	raw := e.records(subjects.NackSubject(host, subjects.Unstamped))[0]
	var top map[string]json.RawMessage
	var verdict map[string]any
	if err := json.Unmarshal(raw.Data, &top); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(top["verdict"], &verdict); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"reason", "detail", "archive_sha256", "submission", "receiver", "time", "code_version"} {
		if _, ok := verdict[k]; !ok {
			t.Errorf("record verdict has no %q: %s", k, raw.Data)
		}
	}
	if raw.Header.Get(subjects.HeaderReason) != string(subjects.Unstamped) {
		t.Errorf("record header %s = %q", subjects.HeaderReason, raw.Header.Get(subjects.HeaderReason))
	}
}

// noise is n bytes that do not compress.
func noise(n int) string {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return string(b)
}
