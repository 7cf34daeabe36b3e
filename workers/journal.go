package workers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cis490/cis490/durable"
	"github.com/cis490/cis490/objectstore"
)

// State is an episode's place in the state machine.
type State string

// The states a journal can hold.
const (
	Uploading  State = "uploading"
	Submitting State = "submitting"
	Waiting    State = "waiting"
	Retiring   State = "retiring"
)

// journalVersion is the version of the journal format.
const journalVersion = 1

// Journal is outbox/<id>.json: everything needed to resume one episode.
type Journal struct {
	Version   int    `json:"version"`
	Host      string `json:"host"`
	EpisodeID string `json:"episode_id"`
	State     State  `json:"state"`
	// Attempt numbers the submissions of this episode (the Nats-Msg-Id
	// suffix); CorruptRetries counts re-uploads after a corrupt verdict.
	Attempt        int                   `json:"attempt"`
	CorruptRetries int                   `json:"corrupt_retries"`
	Manifest       *objectstore.Manifest `json:"manifest,omitempty"`
	// Stored counts the segments and archive bytes of this attempt known
	// to be on the hub, updated as they are stored: the progress that
	// cis490 status shows.
	Stored Progressed `json:"stored,omitzero"`
	// StoredSegments lists those segments, in order: an upload resumed
	// after a crash or a dropped link looks them up instead of sending
	// them again (objectstore.UploadOptions.Known).
	StoredSegments []objectstore.Segment `json:"stored_segments,omitempty"`
	MsgID          string                `json:"msg_id,omitempty"`
	SubmittedAt    time.Time             `json:"submitted_at,omitzero"`
	// Outcome is set when the state is Retiring.
	Outcome   *Outcome  `json:"outcome,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Progressed counts an upload's segments and bytes.
type Progressed struct {
	Segments int   `json:"segments"`
	Bytes    int64 `json:"bytes"`
}

// journalPath is outbox/<id>.json.
func (p *Publisher) journalPath(id string) string {
	return filepath.Join(p.dirs.outbox, id+".json")
}

// compactAbove is the journal size past which a save rewrites the file
// with its new record alone instead of appending: appends keep a small
// episode at one file creation, and this bounds what a long upload, which
// saves its progress after every segment, leaves to read and to fsync.
const compactAbove = 64 << 10

// save writes j durably. The first save of an episode creates the journal
// (temp, fsync, rename, fsync dir); every later one appends a record and
// fsyncs the file. A new file per save, about five per episode, was half
// the publisher's CPU on small episodes (the inode allocator under create
// and delete churn), and an append is as safe: a crash mid-append leaves
// at worst a torn last line, which ReadJournal skips, after a record that
// was synced whole.
func (p *Publisher) save(j *Journal) error { return p.appendRecord(j, true) }

// saveLazy appends j's record without an fsync: for a record whose loss in
// a power cut costs only work done again, never an episode or a verdict.
// The record before it is read instead, and resuming from it is safe: an
// upload's progress lost means segments looked up or sent again; "waiting"
// lost is "submitting" with the same manifest, which submits the same
// Nats-Msg-Id again (the stream drops the duplicate, and a decided
// submission is never judged again). A process killed after the write
// keeps the record: the kernel has it. The next synced save makes it
// durable with everything before it. The records that must survive a
// power cut are synced: the first, "submitting" (the manifest, before it
// is published) and "retiring" (the destination, before the move).
func (p *Publisher) saveLazy(j *Journal) error { return p.appendRecord(j, false) }

func (p *Publisher) appendRecord(j *Journal, sync bool) error {
	j.Version = journalVersion
	j.UpdatedAt = p.now().UTC()
	b, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("encode journal %s: %w", j.EpisodeID, err)
	}
	// The leading newline starts the record on a line of its own even
	// after a torn tail that has none.
	rec := make([]byte, 0, len(b)+2)
	rec = append(append(append(rec, '\n'), b...), '\n')
	path := p.journalPath(j.EpisodeID)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if errors.Is(err, os.ErrNotExist) {
		return p.rewrite(path, rec)
	}
	if err != nil {
		return fmt.Errorf("save journal: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() > compactAbove {
		f.Close()
		return p.rewrite(path, rec)
	}
	if err == nil {
		_, err = f.Write(rec)
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("save journal: %w", err)
	}
	return nil
}

// rewrite replaces the journal at path with rec alone, durably.
func (p *Publisher) rewrite(path string, rec []byte) error {
	if err := durable.WriteFile(path, rec, 0o644); err != nil {
		return fmt.Errorf("save journal: %w", err)
	}
	return nil
}

// load reads the journal of id; it returns nil, nil if there is none.
func (p *Publisher) load(id string) (*Journal, error) {
	j, err := ReadJournal(p.journalPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if j.Version != journalVersion || j.EpisodeID != id {
		return nil, fmt.Errorf("journal %s: version %d, episode %q", p.journalPath(id), j.Version, j.EpisodeID)
	}
	return j, nil
}

// ReadJournal reads the journal at path: its last whole record. The
// publisher appends a record, one line of JSON, per save, so a crash can
// leave a torn or NUL-filled last line; such lines are skipped, as that
// save never returned. A file that is one JSON object, as written before
// journals had records, is read whole. The error wraps os.ErrNotExist if
// there is no file, and names the file if no record in it is whole.
func ReadJournal(path string) (*Journal, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	var j Journal
	whole := json.Unmarshal(b, &j)
	if whole == nil {
		return &j, nil
	}
	lines := bytes.Split(b, []byte{'\n'})
	var last error // the error of the last line that is not a record
	for i := len(lines) - 1; i >= 0; i-- {
		line := bytes.TrimSpace(lines[i])
		if len(line) == 0 {
			continue
		}
		var j Journal
		err := json.Unmarshal(line, &j)
		if err == nil && j.EpisodeID != "" {
			return &j, nil
		}
		if err == nil {
			err = errors.New("a record names no episode")
		}
		if last == nil {
			last = err
		}
	}
	if last == nil {
		last = whole // an empty file
	}
	return nil, fmt.Errorf("journal %s is unreadable: %w", path, last)
}

// remove deletes the journal of id. The directory is not synced: a
// journal that a power cut brings back is "retiring", and retiring again
// finds the episode at its destination, rewrites the marker file and
// removes the journal again.
func (p *Publisher) remove(id string) error {
	if err := os.Remove(p.journalPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove journal: %w", err)
	}
	return nil
}

// journals lists the ids with a journal in outbox/.
func (p *Publisher) journals() ([]string, error) {
	entries, err := os.ReadDir(p.dirs.outbox)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	var ids []string
	for _, e := range entries {
		name := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(name, ".json") && !strings.Contains(name, durable.TempMarker) {
			ids = append(ids, strings.TrimSuffix(name, ".json"))
		}
	}
	return ids, nil
}
