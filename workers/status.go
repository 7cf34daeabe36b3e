package workers

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cis490/cis490/objectstore"
)

// Status is a lab host's state as its data directory shows it: what cis490
// status prints. It reads files only, so it works with the hub down.
type Status struct {
	Host string    `json:"host"`
	Time time.Time `json:"time"`
	// Backlog is the episodes in episodes/ that have no journal yet.
	Backlog      int       `json:"backlog"`
	BacklogBytes int64     `json:"backlog_bytes"`
	OldestReady  time.Time `json:"oldest,omitzero"`
	// InFlight is every journaled episode, oldest first.
	InFlight     []InFlight `json:"in_flight"`
	LastShipped  *Retired   `json:"last_shipped,omitempty"`
	LastRejected *Retired   `json:"last_rejected,omitempty"`
	Shipped      int        `json:"shipped"`
	Quarantined  int        `json:"quarantined"`
}

// InFlight is one episode in the state machine.
type InFlight struct {
	EpisodeID string     `json:"episode_id"`
	State     State      `json:"state"`
	Attempt   int        `json:"attempt"`
	Since     time.Time  `json:"since"`
	Stored    Progressed `json:"stored"`
	// Total is the episode's bytes on disk (the archive's once known).
	Total int64 `json:"total"`
}

// Retired is an episode that left: where to and why.
type Retired struct {
	EpisodeID string    `json:"episode_id"`
	Reason    string    `json:"reason"`
	Detail    string    `json:"detail,omitempty"`
	Time      time.Time `json:"time"`
}

// ReadStatus reads the state of the lab host whose data directory is dataDir.
func ReadStatus(host, dataDir string, now time.Time) (Status, error) {
	st := Status{Host: host, Time: now.UTC(), InFlight: []InFlight{}}
	d := dirs{episodes: filepath.Join(dataDir, "episodes"), outbox: filepath.Join(dataDir, "outbox"),
		shipped: filepath.Join(dataDir, "shipped"), quarantine: filepath.Join(dataDir, "quarantine")}
	p := &Publisher{dirs: d}
	journaled := map[string]bool{}
	if ids, err := p.journals(); err == nil {
		for _, id := range ids {
			j, err := p.load(id)
			if err != nil || j == nil {
				continue
			}
			journaled[id] = true
			f := InFlight{EpisodeID: id, State: j.State, Attempt: j.Attempt, Since: j.UpdatedAt, Stored: j.Stored}
			if j.Manifest != nil {
				f.Total = j.Manifest.ArchiveBytes
			} else {
				f.Total = dirSize(filepath.Join(d.episodes, id))
			}
			st.InFlight = append(st.InFlight, f)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return st, err
	}
	slices.SortFunc(st.InFlight, func(a, b InFlight) int { return a.Since.Compare(b.Since) })
	entries, _ := os.ReadDir(d.episodes)
	for _, e := range entries {
		if !e.IsDir() || journaled[e.Name()] {
			continue
		}
		dir := filepath.Join(d.episodes, e.Name())
		if _, err := os.Stat(filepath.Join(dir, objectstore.MetaFile)); err != nil {
			continue // still recording
		}
		st.Backlog++
		st.BacklogBytes += dirSize(dir)
		if t := lastChange(dir); st.OldestReady.IsZero() || t.Before(st.OldestReady) {
			st.OldestReady = t
		}
	}
	st.Shipped, st.LastShipped = lastRetired(d.shipped, VerdictFile, func(b []byte) (string, string) {
		var v objectstore.Verdict
		json.Unmarshal(b, &v)
		return string(v.Reason), v.Detail
	})
	st.Quarantined, st.LastRejected = lastRetired(d.quarantine, ReasonFile, func(b []byte) (string, string) {
		var o Outcome
		json.Unmarshal(b, &o)
		return string(o.Reason), o.Detail
	})
	return st, nil
}

// lastRetired counts the entries of root and returns the newest by its
// marker file's modification time.
func lastRetired(root, marker string, parse func([]byte) (reason, detail string)) (int, *Retired) {
	entries, _ := os.ReadDir(root)
	var last *Retired
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		p := filepath.Join(root, e.Name(), marker)
		fi, err := os.Stat(p)
		if err != nil || (last != nil && !fi.ModTime().After(last.Time)) {
			continue
		}
		b, _ := os.ReadFile(p)
		reason, detail := parse(b)
		last = &Retired{EpisodeID: e.Name(), Reason: reason, Detail: detail, Time: fi.ModTime().UTC()}
	}
	return n, last
}
