package receiver_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

// TestBombIsMalformed: 128 MiB of zeros packs into a few KiB. Submitted
// with its true raw_bytes it is malformed before a byte is read; with a
// manifest that lies, as soon as the tar header names the file. Either
// way the detail gives the figures and nothing reaches archive_dir.
func TestBombIsMalformed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.run(receiver.Options{})
	dir := episode(t, "ep-bomb", commit, nil)
	f, err := os.Create(filepath.Join(dir, "zeros.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(128 << 20); err != nil { // sparse: no disk, no memory
		t.Fatal(err)
	}
	f.Close()
	m := e.upload(dir)

	id := e.submit(m.EpisodeID, m.ArchiveSHA256, 1, m)
	v := e.verdict(m.EpisodeID, id)
	if want := "unpacks to 128 MiB from "; v.Reason != subjects.Malformed || !strings.Contains(v.Detail, want) || !strings.Contains(v.Detail, "over the limit of 200×") {
		t.Fatalf("verdict %q %q, want malformed saying %q and the limit", v.Reason, v.Detail, want)
	}

	m.RawBytes = 100 // the manifest lies: the header of zeros.bin says otherwise
	e.upload(dir)    // the reject deleted the segments
	id = e.submit(m.EpisodeID, m.ArchiveSHA256, 2, m)
	v = e.verdict(m.EpisodeID, id)
	if want := "unpacks to at least 128 MiB from "; v.Reason != subjects.Malformed || !strings.Contains(v.Detail, want) {
		t.Fatalf("verdict %q %q, want malformed saying %q", v.Reason, v.Detail, want)
	}
	if names := hubtest.Names(t, filepath.Join(e.archive, host)); len(names) != 0 {
		t.Fatalf("archive_dir/%s holds %q after two bombs, want nothing", host, names)
	}
}

// TestExportRoom: lab1 may keep 300 KiB in archive_dir. An episode larger
// than that is malformed; one that fits the quota but not what is left of
// it waits, with no verdict, until an operator moves old exports away;
// then it is accepted. An export that would leave the file system less
// than archive_min_free waits too.
func TestExportRoom(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	metrics := receiver.NewMetrics(reg)
	opts := receiver.Options{ArchiveHostQuota: 300 << 10, Metrics: metrics}
	_, stop := e.start(opts)

	mA, idA := e.ship(episode(t, "ep-a", commit, map[string]string{"d": noise(200 << 10)}), 1)
	if v := e.verdict(mA.EpisodeID, idA); v.Reason != subjects.Accepted {
		t.Fatalf("first episode: %q %q, want accepted", v.Reason, v.Detail)
	}
	mC, idC := e.ship(episode(t, "ep-c", commit, map[string]string{"d": noise(400 << 10)}), 1)
	if v := e.verdict(mC.EpisodeID, idC); v.Reason != subjects.Malformed || !strings.Contains(v.Detail, "more than archive_host_quota (300 KiB)") {
		t.Fatalf("episode larger than the quota: %q %q, want malformed naming the quota", v.Reason, v.Detail)
	}
	mB, idB := e.ship(episode(t, "ep-b", commit, map[string]string{"d": noise(200 << 10)}), 1)
	e.waitRefused(metrics, "quota", mB.EpisodeID)
	stop()

	// The operator moves the first export away; a receiver started again
	// measures the directory afresh and exports the waiting episode.
	for _, p := range []string{mA.EpisodeID, "." + mA.EpisodeID + ".json"} {
		if err := os.RemoveAll(filepath.Join(e.archive, host, p)); err != nil {
			t.Fatal(err)
		}
	}
	e.run(opts)
	if v := e.verdict(mB.EpisodeID, idB); v.Reason != subjects.Accepted {
		t.Fatalf("episode after room was made: %q %q, want accepted", v.Reason, v.Detail)
	}

	full := newEnv(t)
	fm := receiver.NewMetrics(prometheus.NewRegistry())
	full.run(receiver.Options{ArchiveMinFreePercent: 99.999, Metrics: fm})
	mD, _ := full.ship(episode(t, "ep-d", commit, map[string]string{"d": "x"}), 1)
	full.waitRefused(fm, "disk", mD.EpisodeID)
}

// waitRefused waits until an export was put off for why, and checks that
// episode, waiting for room, has no verdict.
func (e *env) waitRefused(m *receiver.Metrics, why, episode string) {
	e.t.Helper()
	hubtest.CheckFor(e.t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := testutil.ToFloat64(m.ExportRefused.WithLabelValues(host, why)); n < 1 {
			return fmt.Errorf("%v exports refused for %s, want at least 1", n, why)
		}
		return nil
	})
	kv, err := e.js.KeyValue(e.t.Context(), subjects.VerdictsBucket)
	if err != nil {
		e.t.Fatal(err)
	}
	if ent, err := kv.Get(e.t.Context(), subjects.VerdictKey(host, episode)); err == nil {
		e.t.Fatalf("episode waiting for room (%s) has a verdict: %s", why, ent.Value())
	}
}
