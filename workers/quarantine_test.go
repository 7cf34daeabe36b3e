package workers_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/workers"
)

const qSettle = 30 * time.Second

// qEpisode describes an episode directory for the quarantine tests.
type qEpisode struct {
	id string
	// meta is "stamped", "unstamped", "none" (no meta.json) or "bad" (not JSON).
	meta string
	// old backdates everything under the directory by an hour, past qSettle.
	old bool
	// journal writes outbox/<id>.json: the publisher holds the episode.
	journal bool
}

// qWriteEpisode writes data/episodes/<ep.id> with a data file and its meta.json.
func qWriteEpisode(t testing.TB, data string, ep qEpisode) string {
	t.Helper()
	dir := filepath.Join(data, "episodes", ep.id)
	qWrite(t, filepath.Join(dir, "frames", "0001.bin"), "frame data")
	m := map[string]any{"episode_id": ep.id, "recorded_at": "2026-11-20T14:03:11Z"}
	switch ep.meta {
	case "stamped":
		m["code_version"] = map[string]any{"commit": commit, "branch": "main"}
		qWrite(t, filepath.Join(dir, objectstore.MetaFile), qJSON(t, m))
	case "unstamped":
		qWrite(t, filepath.Join(dir, objectstore.MetaFile), qJSON(t, m))
	case "bad":
		qWrite(t, filepath.Join(dir, objectstore.MetaFile), `{"episode_id": `)
	case "none":
	default:
		t.Fatalf("qWriteEpisode: meta %q", ep.meta)
	}
	if ep.journal {
		qWrite(t, filepath.Join(data, "outbox", ep.id+".json"), `{"version":1}`)
	}
	if ep.old {
		qBackdate(t, dir, time.Hour)
	}
	return dir
}

func qWrite(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func qJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// qBackdate sets the mtime of root and everything under it to d ago.
func qBackdate(t testing.TB, root string, d time.Duration) {
	t.Helper()
	when := time.Now().Add(-d)
	var paths []string
	filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err == nil {
			paths = append(paths, p)
		}
		return nil
	})
	for _, p := range paths {
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
}

// qSnapshot describes every path under root: mode, size, mtime, content.
func qSnapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d %v", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(b)
		}
		snap[strings.TrimPrefix(p, root)] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// qReason reads quarantine/<name>/quarantine_reason.json.
func qReason(t testing.TB, data, name string) workers.Outcome {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "quarantine", name, workers.ReasonFile))
	if err != nil {
		t.Fatalf("reason file of %s: %v", name, err)
	}
	var o workers.Outcome
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("reason file of %s: %v", name, err)
	}
	return o
}

func qExists(data, rel string) bool {
	_, err := os.Lstat(filepath.Join(data, rel))
	return err == nil
}

// The episodes of the drain tests, and what becomes of each.
var qDrainEpisodes = []struct {
	ep qEpisode
	// want is "kept", "in-flight", "unsettled", or the reason it is
	// quarantined for.
	want string
	// dest is its name in quarantine/ when quarantined.
	dest string
}{
	{qEpisode{id: "ep-stamped", meta: "stamped", old: true}, "kept", ""},
	{qEpisode{id: "ep-stamped-fresh", meta: "stamped"}, "kept", ""},
	{qEpisode{id: "ep-unstamped", meta: "unstamped", old: true}, "unstamped", "ep-unstamped"},
	// Parsed whole, an unstamped meta.json is final: no settle wait.
	{qEpisode{id: "ep-unstamped-fresh", meta: "unstamped"}, "unstamped", "ep-unstamped-fresh"},
	// quarantine/ep-collide exists already: the next free name.
	{qEpisode{id: "ep-collide", meta: "unstamped", old: true}, "unstamped", "ep-collide.1"},
	{qEpisode{id: "ep-no-meta-old", meta: "none", old: true}, "malformed", "ep-no-meta-old"},
	{qEpisode{id: "ep-no-meta-fresh", meta: "none"}, "unsettled", ""},
	{qEpisode{id: "ep-bad-meta-old", meta: "bad", old: true}, "malformed", "ep-bad-meta-old"},
	{qEpisode{id: "ep-bad-meta-fresh", meta: "bad"}, "unsettled", ""},
	{qEpisode{id: "ep-journaled", meta: "unstamped", old: true, journal: true}, "in-flight", ""},
}

// qDrainSetup writes qDrainEpisodes, a quarantine/ep-collide already
// there, and things the scan must skip: a file, a dot directory.
func qDrainSetup(t testing.TB) string {
	t.Helper()
	data := t.TempDir()
	for _, d := range qDrainEpisodes {
		qWriteEpisode(t, data, d.ep)
	}
	qWrite(t, filepath.Join(data, "quarantine", "ep-collide", workers.ReasonFile), `{"reason":"unstamped"}`)
	qWrite(t, filepath.Join(data, "episodes", "loose-file"), "x")
	qWrite(t, filepath.Join(data, "episodes", ".hidden", "x"), "x")
	qBackdate(t, filepath.Join(data, "episodes", ".hidden"), time.Hour)
	return data
}

func TestDrainUnstamped(t *testing.T) {
	t.Parallel()
	data := qDrainSetup(t)
	rep, err := workers.DrainUnstamped(data, qSettle, false)
	if err != nil {
		t.Fatalf("DrainUnstamped: %v", err)
	}
	var quarantined []string
	for _, q := range rep.Quarantined {
		quarantined = append(quarantined, q.ID)
	}
	for _, d := range qDrainEpisodes {
		t.Run(d.ep.id, func(t *testing.T) {
			id := d.ep.id
			inEpisodes := qExists(data, filepath.Join("episodes", id))
			switch d.want {
			case "kept", "in-flight", "unsettled":
				if !inEpisodes || slices.Contains(quarantined, id) {
					t.Errorf("%s: in episodes/ %v, reported quarantined %v; want kept", id, inEpisodes, slices.Contains(quarantined, id))
				}
				if got := slices.Contains(rep.InFlight, id); got != (d.want == "in-flight") {
					t.Errorf("%s: in DrainReport.InFlight = %v, want %v", id, got, d.want == "in-flight")
				}
				if got := slices.Contains(rep.Unsettled, id); got != (d.want == "unsettled") {
					t.Errorf("%s: in DrainReport.Unsettled = %v, want %v", id, got, d.want == "unsettled")
				}
				return
			}
			i := slices.Index(quarantined, id)
			if inEpisodes || i < 0 {
				t.Fatalf("%s: in episodes/ %v, reported quarantined %v; want quarantined", id, inEpisodes, i >= 0)
			}
			dest := filepath.Join(data, "quarantine", d.dest)
			if got := rep.Quarantined[i]; got.Dest != dest || string(got.Reason) != d.want || got.Detail == "" {
				t.Errorf("%s: reported %+v, want dest %s, reason %s, a detail", id, got, dest, d.want)
			}
			if !qExists(data, filepath.Join("quarantine", d.dest, "frames", "0001.bin")) {
				t.Errorf("%s: its files are not in %s", id, dest)
			}
			o := qReason(t, data, d.dest)
			if string(o.Reason) != d.want || o.Source != "pre-flight" || o.Shipped || o.Dest != dest ||
				o.Detail == "" || o.Fix == "" || time.Since(o.Time) > time.Minute {
				t.Errorf("%s: reason file %+v; want reason %s, source pre-flight, dest %s, a detail, a fix, time now", id, o, d.want, dest)
			}
			if d.want == "malformed" && !strings.HasSuffix(o.Fix, "cis490 quarantine requeue --data-dir "+data+" "+d.dest) {
				t.Errorf("%s: fix %q does not give the requeue command for %s", id, o.Fix, d.dest)
			}
		})
	}
	// kept: 2 stamped, 1 journaled, 2 unsettled.
	if rep.Kept != 5 || len(rep.Quarantined) != 5 {
		t.Errorf("DrainUnstamped: kept %d, quarantined %d; want 5, 5", rep.Kept, len(rep.Quarantined))
	}
	if o := qReason(t, data, "ep-collide"); o.Source != "" {
		t.Errorf("the entry already at quarantine/ep-collide was rewritten: %+v", o)
	}
	if !qExists(data, "episodes/loose-file") || !qExists(data, "episodes/.hidden/x") {
		t.Errorf("DrainUnstamped moved a file or a dot directory of episodes/")
	}

	// A second run finds nothing to do, and changes nothing.
	before := qSnapshot(t, data)
	rep2, err := workers.DrainUnstamped(data, qSettle, false)
	if err != nil || rep2.Kept != 5 || len(rep2.Quarantined) != 0 {
		t.Errorf("second DrainUnstamped = kept %d, quarantined %v, %v; want kept 5, none, no error", rep2.Kept, rep2.Quarantined, err)
	}
	if after := qSnapshot(t, data); !maps.Equal(before, after) {
		t.Errorf("second DrainUnstamped changed the data dir")
	}
}

func TestDrainUnstampedDryRun(t *testing.T) {
	t.Parallel()
	data := qDrainSetup(t)
	before := qSnapshot(t, data)
	dry, err := workers.DrainUnstamped(data, qSettle, true)
	if err != nil {
		t.Fatalf("DrainUnstamped(dry run): %v", err)
	}
	if after := qSnapshot(t, data); !maps.Equal(before, after) {
		for k, v := range after {
			if before[k] != v {
				t.Errorf("dry run changed %s", k)
			}
		}
		t.Fatalf("DrainUnstamped(dry run) changed the data dir")
	}
	did, err := workers.DrainUnstamped(data, qSettle, false)
	if err != nil {
		t.Fatal(err)
	}
	// The dry run announced exactly what the real run did.
	if !slices.Equal(dry.Quarantined, did.Quarantined) || dry.Kept != did.Kept ||
		!slices.Equal(dry.InFlight, did.InFlight) || !slices.Equal(dry.Unsettled, did.Unsettled) {
		t.Errorf("dry run reported %+v, the real run did %+v", dry, did)
	}
	if len(did.Quarantined) != 5 {
		t.Errorf("the run after the dry run quarantined %d episodes, want 5", len(did.Quarantined))
	}
}

func TestDrainUnstampedSettleZero(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	qWriteEpisode(t, data, qEpisode{id: "ep-no-meta", meta: "none"})
	rep, err := workers.DrainUnstamped(data, 0, false)
	if err != nil || len(rep.Quarantined) != 1 || rep.Quarantined[0].Reason != subjects.Malformed {
		t.Errorf("DrainUnstamped(settle 0) of a fresh episode without meta.json = %+v, %v; want it quarantined as malformed", rep, err)
	}
	// No episodes/ at all: nothing to do.
	rep, err = workers.DrainUnstamped(t.TempDir(), qSettle, false)
	if err != nil || rep.Kept != 0 || len(rep.Quarantined) != 0 {
		t.Errorf("DrainUnstamped(empty data dir) = %+v, %v; want nothing, no error", rep, err)
	}
}

// qQuarantine writes quarantine/<name> with a data file and, unless o is
// nil, a reason file holding o.
func qQuarantine(t testing.TB, data, name string, o *workers.Outcome) string {
	t.Helper()
	dir := filepath.Join(data, "quarantine", name)
	qWrite(t, filepath.Join(dir, "data.bin"), "0123456789")
	if o != nil {
		qWrite(t, filepath.Join(dir, workers.ReasonFile), qJSON(t, o))
	}
	return dir
}

func TestRequeue(t *testing.T) {
	t.Parallel()
	const id = "2026-11-20T15-10-00_lab1_0043"
	out := &workers.Outcome{Reason: subjects.OutOfWindow, Source: "pre-flight", Detail: "not in the window", Fix: "fix it", Time: time.Now()}
	tests := []struct {
		name    string
		setup   func(t testing.TB, data string) // beyond quarantine/<entry>
		entry   string                          // created in quarantine/
		arg     string                          // given to Requeue
		reason  bool                            // the entry has a reason file
		wantErr error
	}{
		{name: "by id", entry: id, arg: id, reason: true},
		{name: "from id.1", entry: id + ".1", arg: id + ".1", reason: true},
		{name: "from id.12", entry: id + ".12", arg: id + ".12", reason: true},
		{name: "no reason file", entry: id, arg: id},
		{name: "a stale temp of the reason file", entry: id, arg: id, reason: true,
			setup: func(t testing.TB, data string) {
				qWrite(t, filepath.Join(data, "quarantine", id, workers.ReasonFile+".tmp-123"), "{")
			}},
		{name: "episodes/id exists", entry: id, arg: id, reason: true, wantErr: workers.ErrRequeueBlocked,
			setup: func(t testing.TB, data string) { qWrite(t, filepath.Join(data, "episodes", id, "x"), "x") }},
		{name: "journal exists", entry: id + ".1", arg: id + ".1", reason: true, wantErr: workers.ErrRequeueBlocked,
			setup: func(t testing.TB, data string) { qWrite(t, filepath.Join(data, "outbox", id+".json"), "{}") }},
		{name: "not in quarantine", entry: id, arg: id + ".2", reason: true, wantErr: workers.ErrNotQuarantined},
		{name: "a path", entry: id, arg: "../episodes/" + id, reason: true, wantErr: workers.ErrNotQuarantined},
		{name: "a file", entry: id, arg: workers.ReasonFile, reason: true, wantErr: workers.ErrNotQuarantined,
			setup: func(t testing.TB, data string) {
				qWrite(t, filepath.Join(data, "quarantine", workers.ReasonFile), "{}")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			o := out
			if !tt.reason {
				o = nil
			}
			src := qQuarantine(t, data, tt.entry, o)
			if tt.setup != nil {
				tt.setup(t, data)
			}
			before := qSnapshot(t, src)
			moved, err := workers.Requeue(data, tt.arg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || len(moved) != 0 {
					t.Fatalf("Requeue(%q) = %v, %v; want nothing moved and %v", tt.arg, moved, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.arg) {
					t.Errorf("Requeue(%q) error %q does not name it", tt.arg, err)
				}
				if after := qSnapshot(t, src); !maps.Equal(before, after) {
					t.Errorf("Requeue(%q) failed but changed %s", tt.arg, src)
				}
				return
			}
			dest := filepath.Join(data, "episodes", id)
			want := []workers.Requeued{{Name: tt.arg, EpisodeID: id, From: src, To: dest}}
			if err != nil || !slices.Equal(moved, want) {
				t.Fatalf("Requeue(%q) = %+v, %v; want %+v", tt.arg, moved, err, want)
			}
			if qExists(data, filepath.Join("quarantine", tt.entry)) {
				t.Errorf("quarantine/%s still exists after Requeue", tt.entry)
			}
			if b, err := os.ReadFile(filepath.Join(dest, "data.bin")); err != nil || string(b) != "0123456789" {
				t.Errorf("episodes/%s/data.bin = %q, %v; want the quarantined data", id, b, err)
			}
			if qExists(data, filepath.Join("episodes", id, workers.ReasonFile)) {
				t.Errorf("the requeued episode still holds %s: it would ship in the archive", workers.ReasonFile)
			}
			if qExists(data, filepath.Join("episodes", id, workers.ReasonFile+".tmp-123")) {
				t.Errorf("the requeued episode still holds a temp of %s: it would ship in the archive", workers.ReasonFile)
			}
		})
	}
}

func TestRequeueSeveral(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	qQuarantine(t, data, "ep-a", &workers.Outcome{Reason: subjects.Malformed, Time: time.Now().Add(-2 * time.Hour)})
	qQuarantine(t, data, "ep-b", &workers.Outcome{Reason: subjects.Unstamped, Time: time.Now().Add(-time.Hour)})
	qQuarantine(t, data, "ep-c", &workers.Outcome{Reason: subjects.Malformed, Time: time.Now().Add(-3 * time.Hour)})
	qQuarantine(t, data, "ep-c.1", &workers.Outcome{Reason: subjects.Malformed, Time: time.Now()})

	// By reason, oldest first. ep-c and ep-c.1 are one episode: the second
	// is refused, the others are still moved.
	moved, err := workers.RequeueReason(data, subjects.Malformed)
	var names []string
	for _, m := range moved {
		names = append(names, m.Name)
	}
	if want := []string{"ep-c", "ep-a"}; !slices.Equal(names, want) {
		t.Errorf("RequeueReason(malformed) moved %q, want %q", names, want)
	}
	if !errors.Is(err, workers.ErrRequeueBlocked) || !strings.Contains(err.Error(), "ep-c.1") {
		t.Errorf("RequeueReason(malformed) error = %v, want ErrRequeueBlocked naming ep-c.1", err)
	}
	for _, rel := range []string{"episodes/ep-a", "episodes/ep-c", "quarantine/ep-b", "quarantine/ep-c.1/" + workers.ReasonFile} {
		if !qExists(data, rel) {
			t.Errorf("after RequeueReason(malformed), %s is missing", rel)
		}
	}

	// Several ids at once.
	moved, err = workers.Requeue(data, "ep-b", "ep-x")
	if len(moved) != 1 || moved[0].Name != "ep-b" || !errors.Is(err, workers.ErrNotQuarantined) {
		t.Errorf("Requeue(ep-b, ep-x) = %+v, %v; want ep-b moved and ErrNotQuarantined for ep-x", moved, err)
	}
}

// TestDrainThenRequeue: a drained episode comes back whole, without its
// reason file, and a second drain of it lands in <id>.1.
func TestDrainThenRequeue(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	qWriteEpisode(t, data, qEpisode{id: "ep-1", meta: "unstamped"})
	if _, err := workers.DrainUnstamped(data, qSettle, false); err != nil {
		t.Fatal(err)
	}
	if _, err := workers.Requeue(data, "ep-1"); err != nil {
		t.Fatal(err)
	}
	if !qExists(data, "episodes/ep-1/meta.json") || qExists(data, "episodes/ep-1/"+workers.ReasonFile) {
		t.Fatalf("requeued episode: want meta.json and no reason file")
	}
	qQuarantine(t, data, "ep-1", nil) // quarantine/ep-1 taken again
	rep, err := workers.DrainUnstamped(data, qSettle, false)
	if err != nil || len(rep.Quarantined) != 1 || filepath.Base(rep.Quarantined[0].Dest) != "ep-1.1" {
		t.Errorf("drain after requeue = %+v, %v; want ep-1 moved to quarantine/ep-1.1", rep, err)
	}
}

func TestOriginalID(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, want string }{
		{"2026-11-20T15-10-00_lab1_0043", "2026-11-20T15-10-00_lab1_0043"},
		{"2026-11-20T15-10-00_lab1_0043.1", "2026-11-20T15-10-00_lab1_0043"},
		{"ep.27", "ep"},
		{"ep.", "ep."},
		{"ep.x", "ep.x"},
		{"ep.1.2", "ep.1.2"},
		{"bad name.1", "bad name.1"},
		{".1", ".1"},
	}
	for _, tt := range tests {
		if got := workers.OriginalID(tt.name); got != tt.want {
			t.Errorf("OriginalID(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestListAndShowQuarantine(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	now := time.Now().UTC()
	hub := &workers.Outcome{Reason: subjects.Conflict, Source: "hub", Detail: "accepted with another archive",
		Fix: "give this recording a new episode id", Time: now.Add(-2 * time.Hour)}
	pre := &workers.Outcome{Reason: subjects.Unstamped, Source: "pre-flight", Detail: "code_version missing",
		Fix: "update the recorder", Time: now.Add(-3 * time.Hour)}
	qQuarantine(t, data, "ep-hub", hub)
	qQuarantine(t, data, "ep-pre.1", pre)
	noReason := qQuarantine(t, data, "ep-none", nil)
	qBackdate(t, noReason, time.Hour)
	garbled := qQuarantine(t, data, "ep-garbled", nil)
	qWrite(t, filepath.Join(garbled, workers.ReasonFile), "{not json")
	qBackdate(t, garbled, 4*time.Hour)
	qWrite(t, filepath.Join(data, "quarantine", "stray-file"), "x")
	qWrite(t, filepath.Join(data, "quarantine", "ep-x.tmp-123", "a"), "x")

	list, err := workers.ListQuarantine(data)
	if err != nil {
		t.Fatalf("ListQuarantine: %v", err)
	}
	type row struct {
		id     string
		reason subjects.Reason
		source string
	}
	var got []row
	for _, q := range list {
		got = append(got, row{q.ID, q.Reason, q.Source})
		if q.Dir != filepath.Join(data, "quarantine", q.ID) || q.Fix == "" {
			t.Errorf("entry %s: dir %q, fix %q; want its path and a fix", q.ID, q.Dir, q.Fix)
		}
	}
	want := []row{ // oldest first
		{"ep-garbled", workers.UnknownReason, ""},
		{"ep-pre.1", subjects.Unstamped, "pre-flight"},
		{"ep-hub", subjects.Conflict, "hub"},
		{"ep-none", workers.UnknownReason, ""},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ListQuarantine = %+v, want %+v", got, want)
	}
	if !list[1].Time.Equal(pre.Time) || list[1].Detail != pre.Detail || list[1].Fix != pre.Fix {
		t.Errorf("entry ep-pre.1 = %+v, want time, detail and fix of its reason file", list[1])
	}
	if sz := int64(10 + len(qJSON(t, hub))); list[2].Bytes != sz {
		t.Errorf("entry ep-hub: %d bytes, want %d", list[2].Bytes, sz)
	}
	if !strings.Contains(list[0].Detail, "unreadable") || !strings.Contains(list[3].Detail, "no "+workers.ReasonFile) {
		t.Errorf("details of entries without a readable reason: %q, %q", list[0].Detail, list[3].Detail)
	}

	// The JSON form: exactly these keys.
	b, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	if err := json.Unmarshal(b, &objs); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"bytes", "detail", "dir", "fix", "id", "reason", "source", "time"}
	for _, o := range objs {
		if keys := slices.Sorted(maps.Keys(o)); !slices.Equal(keys, wantKeys) {
			t.Errorf("JSON entry has keys %q, want %q", keys, wantKeys)
		}
	}

	d, err := workers.ShowQuarantine(data, "ep-hub")
	if err != nil {
		t.Fatalf("ShowQuarantine: %v", err)
	}
	if string(d.Raw) != qJSON(t, hub) || d.Reason != subjects.Conflict {
		t.Errorf("ShowQuarantine(ep-hub): raw %s, reason %s; want the file as stored", d.Raw, d.Reason)
	}
	var files []string
	for _, f := range d.Files {
		files = append(files, f.Path)
	}
	if want := []string{"data.bin", workers.ReasonFile}; !slices.Equal(files, want) {
		t.Errorf("ShowQuarantine(ep-hub) files %q, want %q", files, want)
	}
	if _, err := workers.ShowQuarantine(data, "ep-absent"); !errors.Is(err, workers.ErrNotQuarantined) {
		t.Errorf("ShowQuarantine(ep-absent) error = %v, want ErrNotQuarantined", err)
	}

	if list, err := workers.ListQuarantine(t.TempDir()); err != nil || len(list) != 0 {
		t.Errorf("ListQuarantine(no quarantine/) = %v, %v; want empty", list, err)
	}
}
