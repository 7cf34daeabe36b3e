package workers

import (
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
	Stored      Progressed `json:"stored,omitzero"`
	MsgID       string     `json:"msg_id,omitempty"`
	SubmittedAt time.Time  `json:"submitted_at,omitzero"`
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

// save writes j durably.
func (p *Publisher) save(j *Journal) error {
	j.Version = journalVersion
	j.UpdatedAt = p.now().UTC()
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("encode journal %s: %w", j.EpisodeID, err)
	}
	if err := durable.WriteFile(p.journalPath(j.EpisodeID), b, 0o644); err != nil {
		return fmt.Errorf("save journal: %w", err)
	}
	return nil
}

// load reads the journal of id; it returns nil, nil if there is none.
func (p *Publisher) load(id string) (*Journal, error) {
	b, err := os.ReadFile(p.journalPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal %s: %w", id, err)
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("journal %s is unreadable: %w", p.journalPath(id), err)
	}
	if j.Version != journalVersion || j.EpisodeID != id {
		return nil, fmt.Errorf("journal %s: version %d, episode %q", p.journalPath(id), j.Version, j.EpisodeID)
	}
	return &j, nil
}

// remove deletes the journal of id, durably.
func (p *Publisher) remove(id string) error {
	if err := os.Remove(p.journalPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove journal: %w", err)
	}
	return durable.SyncDir(p.dirs.outbox)
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
