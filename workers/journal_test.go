package workers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cis490/cis490/objectstore"
)

// journalPublisher is a Publisher that can only save and load journals,
// in a temp outbox/.
func journalPublisher(t testing.TB) *Publisher {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "outbox")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &Publisher{dirs: dirs{outbox: dir}, o: Options{Now: time.Now}}
}

// mustSave saves j or fails the test.
func mustSave(t testing.TB, p *Publisher, j *Journal) {
	t.Helper()
	if err := p.save(j); err != nil {
		t.Fatalf("save(%s, %s) = %v", j.EpisodeID, j.State, err)
	}
}

// mustLoad loads the journal of id, which must exist.
func mustLoad(t testing.TB, p *Publisher, id string) *Journal {
	t.Helper()
	j, err := p.load(id)
	if err != nil || j == nil {
		t.Fatalf("load(%s) = %v, %v", id, j, err)
	}
	return j
}

// inode is the inode number of path.
func inode(t testing.TB, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestJournalSavesAppend: only the first save creates the file; the later
// ones append to it, and the last record is the journal.
func TestJournalSavesAppend(t *testing.T) {
	t.Parallel()
	p := journalPublisher(t)
	j := &Journal{Host: "lab1", EpisodeID: "ep-1", State: Uploading, Attempt: 1, CreatedAt: time.Now().UTC()}
	mustSave(t, p, j)
	path := p.journalPath("ep-1")
	ino := inode(t, path)
	// Checked after every save: a file system may hand a freed inode
	// number out again, so new files could alternate back to the first.
	for i := 1; i <= 4; i++ {
		j.Stored = Progressed{Segments: i, Bytes: int64(i) << 16}
		if i == 4 {
			j.State, j.MsgID, j.Stored.Segments = Submitting, "lab1.ep-1.abc.1", 3
		}
		mustSave(t, p, j)
		if got := inode(t, path); got != ino {
			t.Fatalf("inode after save %d = %d, want %d: the save created a new file", i+1, got, ino)
		}
	}
	got := mustLoad(t, p, "ep-1")
	if got.State != Submitting || got.MsgID != "lab1.ep-1.abc.1" || got.Stored.Segments != 3 || got.Version != journalVersion {
		t.Errorf("load = %+v, want the last save (submitting, 3 segments)", got)
	}
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte("\n{")); n != 5 {
		t.Errorf("journal holds %d records, want 5:\n%s", n, b)
	}
}

// TestJournalTornTail: a crash mid-append leaves garbage and NULs without
// a newline; the last whole record is read, and the next save is read
// after them.
func TestJournalTornTail(t *testing.T) {
	t.Parallel()
	p := journalPublisher(t)
	j := &Journal{Host: "lab1", EpisodeID: "ep-1", State: Uploading, Attempt: 1}
	mustSave(t, p, j)
	j.Stored = Progressed{Segments: 1, Bytes: 1 << 16}
	mustSave(t, p, j)
	path := p.journalPath("ep-1")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"version":1,"host":"lab1","episode_id":"ep-1","state":"wai`)
	f.Write(make([]byte, 300))
	f.Close()

	if got := mustLoad(t, p, "ep-1"); got.State != Uploading || got.Stored.Segments != 1 {
		t.Errorf("load after a torn tail = %+v, want uploading with 1 segment", got)
	}
	j.State = Waiting
	mustSave(t, p, j)
	if got := mustLoad(t, p, "ep-1"); got.State != Waiting || got.Stored.Segments != 1 {
		t.Errorf("load after a save past a torn tail = %+v, want waiting", got)
	}
}

// TestJournalCompacts: once the file passes compactAbove, a save rewrites
// it with its record alone, so a long upload's journal stays small.
func TestJournalCompacts(t *testing.T) {
	t.Parallel()
	p := journalPublisher(t)
	m := &objectstore.Manifest{Version: 1, Host: "lab1", EpisodeID: "ep-1"}
	for i := range 40 {
		m.Segments = append(m.Segments, objectstore.Segment{Size: 1 << 26, SHA256: fmt.Sprintf("%064x", i)})
	}
	j := &Journal{Host: "lab1", EpisodeID: "ep-1", State: Submitting, Attempt: 1, Manifest: m}
	path := p.journalPath("ep-1")
	b, _ := json.Marshal(j)
	rec := int64(len(b)) + 200 // a record, with room for the fields save sets
	compacted := false
	var prev int64
	for i := range 3 * compactAbove / int(rec) {
		j.Attempt = i + 1
		mustSave(t, p, j)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > compactAbove+rec {
			t.Fatalf("save %d: journal is %d bytes, want at most %d", i, fi.Size(), compactAbove+rec)
		}
		if fi.Size() < prev {
			compacted = true
		}
		prev = fi.Size()
	}
	if !compacted {
		t.Fatalf("journal never compacted; %d bytes", prev)
	}
	want := 3 * compactAbove / int(rec)
	if got := mustLoad(t, p, "ep-1"); got.Attempt != want || len(got.Manifest.Segments) != 40 {
		t.Errorf("load = attempt %d, %d segments; want attempt %d, 40 segments", got.Attempt, len(got.Manifest.Segments), want)
	}
}

// TestJournalOldFormat: a journal written whole with MarshalIndent, before
// journals had records, is read, and a save appends to it.
func TestJournalOldFormat(t *testing.T) {
	t.Parallel()
	p := journalPublisher(t)
	j := &Journal{Version: 1, Host: "lab1", EpisodeID: "ep-1", State: Waiting, Attempt: 2, MsgID: "lab1.ep-1.abc.2",
		Manifest: &objectstore.Manifest{Version: 1, EpisodeID: "ep-1", Segments: []objectstore.Segment{{Size: 5, SHA256: "ab"}}}}
	b, _ := json.MarshalIndent(j, "", "  ")
	path := p.journalPath("ep-1")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := mustLoad(t, p, "ep-1"); got.State != Waiting || got.Attempt != 2 || got.MsgID != j.MsgID || len(got.Manifest.Segments) != 1 {
		t.Errorf("load of an old journal = %+v", got)
	}
	ino := inode(t, path)
	j.State = Retiring
	mustSave(t, p, j)
	if got := mustLoad(t, p, "ep-1"); got.State != Retiring || got.Attempt != 2 {
		t.Errorf("load after a save on an old journal = %+v, want retiring", got)
	}
	if got := inode(t, path); got != ino {
		t.Errorf("a save on an old journal created a new file")
	}
}

func TestReadJournalErrors(t *testing.T) {
	t.Parallel()
	p := journalPublisher(t)
	if j, err := p.load("none"); j != nil || err != nil {
		t.Errorf("load(none) = %v, %v, want nil, nil", j, err)
	}
	for name, data := range map[string]string{
		"empty":   "",
		"garbage": "{not json",
		"torn":    "\n{\"version\":1,\"episode_id\":\"x\"\n\x00\x00\x00",
		"no id":   "\n{\"version\":1}\n{\"version\":1}\n",
	} {
		path := filepath.Join(p.dirs.outbox, "bad.json")
		os.WriteFile(path, []byte(data), 0o644)
		j, err := ReadJournal(path)
		if err == nil || !strings.Contains(err.Error(), "journal "+path+" is unreadable") {
			t.Errorf("%s: ReadJournal = %+v, %v; want an error naming the file", name, j, err)
		}
	}
}

// FuzzReadJournalTornTail: whatever a crash leaves after the last record,
// as long as that line holds a NUL (a line of a record never does), the
// last record is read.
func FuzzReadJournalTornTail(f *testing.F) {
	f.Add([]byte(`{"version":1,"host":"lab1","episode_id":"ep-2"`))
	f.Add([]byte(`{"version":1,"episode_id":"ep-2"}`))
	f.Add([]byte("\xff\xfe}"))
	f.Add([]byte{})
	recs := "\n" + `{"version":1,"episode_id":"ep-1","state":"uploading"}` + "\n" +
		"\n" + `{"version":1,"episode_id":"ep-1","state":"waiting"}` + "\n"
	f.Fuzz(func(t *testing.T, tail []byte) {
		tail = append(bytes.ReplaceAll(tail, []byte{'\n'}, nil), 0)
		path := filepath.Join(t.TempDir(), "ep-1.json")
		if err := os.WriteFile(path, append([]byte(recs), tail...), 0o644); err != nil {
			t.Fatal(err)
		}
		j, err := ReadJournal(path)
		if err != nil || j.State != Waiting {
			t.Fatalf("ReadJournal with tail %q = %+v, %v; want the waiting record", tail, j, err)
		}
	})
}
