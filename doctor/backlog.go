package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cis490/cis490/durable"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/workers"
)

// DefaultStuckAfter is how long an episode may sit in one state, or ready
// in episodes/ without being picked up, before the backlog row is yellow.
const DefaultStuckAfter = time.Hour

// PublisherUnit is the systemd unit of the lab-host publisher.
const PublisherUnit = "cis490-publisher"

// notPickedUp is the state of a stuck episode that has no journal.
const notPickedUp = "ready, not picked up"

// stuck is an episode that has not moved for too long.
type stuck struct {
	Episode string `json:"episode"`
	State   string `json:"state"`
	Since   string `json:"since"`
	AgeSec  int64  `json:"age_seconds"`
}

// Backlog is the "backlog" row: what waits in data_dir. It counts the
// directories of episodes/ (bytes, the oldest one's age, how many have no
// meta.json yet), and the journals of outbox/ by state with the oldest
// one's age. An episode whose journal has not changed for stuckAfter
// (DefaultStuckAfter if 0), or that has been ready in episodes/ that long
// without a journal, is stuck: the row is yellow and names it and its
// state. An unreadable journal or directory is yellow too. flags are the
// publisher's flags the fix repeats, such as "--config /etc/cis490/lab-host.toml".
func Backlog(dataDir string, now time.Time, stuckAfter time.Duration, flags string) Row {
	if stuckAfter <= 0 {
		stuckAfter = DefaultStuckAfter
	}
	episodesDir := filepath.Join(dataDir, "episodes")
	outboxDir := filepath.Join(dataDir, "outbox")
	if _, err := os.Stat(dataDir); errors.Is(err, fs.ErrNotExist) {
		r := row("backlog", Yellow, fmt.Sprintf("data_dir %s does not exist: the publisher has never run here", dataDir))
		r.Fix = "sudo systemctl enable --now " + PublisherUnit + " (or cis490 publish --once " + flags + ")"
		r.Details["data_dir"] = dataDir
		return r
	}
	var problems []string // unreadable things, each one line

	// outbox/: the journals.
	journals := map[string]*workers.Journal{}
	byState := map[string]int{}
	var oldestJournal *workers.Journal
	entries, err := os.ReadDir(outboxDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		problems = append(problems, fmt.Sprintf("cannot read %s: %v", outboxDir, err))
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".json") || strings.Contains(name, durable.TempMarker) {
			continue
		}
		id := strings.TrimSuffix(name, ".json")
		// ReadJournal, not json.Unmarshal: a journal is a series of records,
		// the last whole one current, as the publisher reads it.
		j, err := workers.ReadJournal(filepath.Join(outboxDir, name))
		if err != nil {
			problems = append(problems, err.Error())
			byState["unreadable"]++
			continue
		}
		if j.EpisodeID == "" {
			j.EpisodeID = id
		}
		journals[id] = j
		byState[string(j.State)]++
		if oldestJournal == nil || j.CreatedAt.Before(oldestJournal.CreatedAt) {
			oldestJournal = j
		}
	}

	// episodes/: the recorder's directories.
	var (
		count, recording, ready int
		bytes                   int64
		oldestID                string
		oldest                  time.Time
		stuckList               = []stuck{}
	)
	entries, err = os.ReadDir(episodesDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		problems = append(problems, fmt.Sprintf("cannot read %s: %v", episodesDir, err))
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		count++
		dir := filepath.Join(episodesDir, name)
		size, last := walk(dir)
		bytes += size
		if oldestID == "" || last.Before(oldest) {
			oldestID, oldest = name, last
		}
		if _, err := os.Lstat(filepath.Join(dir, objectstore.MetaFile)); err != nil {
			recording++
			continue
		}
		ready++
		if journals[name] == nil && now.Sub(last) > stuckAfter {
			stuckList = append(stuckList, stuck{Episode: name, State: notPickedUp,
				Since: last.UTC().Format(time.RFC3339), AgeSec: int64(now.Sub(last).Seconds())})
		}
	}
	for id, j := range journals {
		if now.Sub(j.UpdatedAt) > stuckAfter {
			stuckList = append(stuckList, stuck{Episode: id, State: string(j.State),
				Since: j.UpdatedAt.UTC().Format(time.RFC3339), AgeSec: int64(now.Sub(j.UpdatedAt).Seconds())})
		}
	}
	// Journals first (the state machine is held up), then ready episodes
	// nobody took; each longest first.
	slices.SortFunc(stuckList, func(a, b stuck) int {
		if ra, rb := a.State == notPickedUp, b.State == notPickedUp; ra != rb {
			if ra {
				return 1
			}
			return -1
		}
		if a.AgeSec != b.AgeSec {
			return int(b.AgeSec - a.AgeSec) // longest first
		}
		return strings.Compare(a.Episode, b.Episode)
	})

	d := map[string]any{
		"data_dir":       dataDir,
		"episodes":       count,
		"episodes_bytes": bytes,
		"recording":      recording,
		"ready":          ready,
		"journals":       len(journals),
		"by_state":       byState,
		"stuck":          stuckList,
	}
	if oldestID != "" {
		d["oldest_episode"] = oldestID
		d["oldest_episode_age_seconds"] = int64(now.Sub(oldest).Seconds())
	}
	if oldestJournal != nil {
		d["oldest_journal"] = oldestJournal.EpisodeID
		d["oldest_journal_age_seconds"] = int64(now.Sub(oldestJournal.CreatedAt).Seconds())
	}
	if len(problems) > 0 {
		d["problems"] = problems
	}

	summary := "episodes/ and outbox/ empty"
	if count > 0 || len(byState) > 0 {
		parts := []string{fmt.Sprintf("%s in episodes/ (%s", plural(count, "episode"), bytesString(bytes))}
		if count > 0 {
			parts[0] += ", oldest " + age(now.Sub(oldest))
		}
		if recording > 0 {
			parts[0] += fmt.Sprintf(", %d still recording", recording)
		}
		parts[0] += ")"
		if len(byState) > 0 {
			n := 0
			for _, v := range byState {
				n += v
			}
			parts = append(parts, fmt.Sprintf("%s in outbox/: %s", plural(n, "journal"), statesString(byState)))
		}
		summary = strings.Join(parts, "; ")
	}
	switch {
	case len(stuckList) > 0:
		s := stuckList[0]
		what := fmt.Sprintf("%s stuck in %s for %s", s.Episode, s.State, age(time.Duration(s.AgeSec)*time.Second))
		if s.State == notPickedUp {
			what = fmt.Sprintf("%s ready for %s but not picked up", s.Episode, age(time.Duration(s.AgeSec)*time.Second))
		}
		if len(stuckList) > 1 {
			what += fmt.Sprintf(" (and %d more)", len(stuckList)-1)
		}
		r := row("backlog", Yellow, what+"; "+summary)
		r.Fix = "journalctl -u " + PublisherUnit + " -n 200 (why it is held up), then cis490 publish --once " + flags
		r.Details = d
		return r
	case len(problems) > 0:
		r := row("backlog", Yellow, problems[0]+"; "+summary)
		r.Fix = "run doctor as the publisher's user (sudo -u cis490 cis490 doctor " + flags + "); a journal that stays unreadable: move it aside and run cis490 publish --once " + flags
		r.Details = d
		return r
	}
	r := row("backlog", Green, summary)
	r.Details = d
	return r
}

// statesString is "1 uploading, 2 waiting" in the order of the state machine.
func statesString(byState map[string]int) string {
	order := []string{string(workers.Uploading), string(workers.Submitting), string(workers.Waiting), string(workers.Retiring)}
	for s := range byState {
		if !slices.Contains(order, s) {
			order = append(order, s)
		}
	}
	slices.Sort(order[4:])
	var parts []string
	for _, s := range order {
		if n := byState[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ")
}

// walk returns the bytes of the regular files under dir and the latest
// modification time of dir and everything under it.
func walk(dir string) (int64, time.Time) {
	var size int64
	var last time.Time
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if fi.Mode().IsRegular() {
			size += fi.Size()
		}
		if fi.ModTime().After(last) {
			last = fi.ModTime()
		}
		return nil
	})
	return size, last
}
