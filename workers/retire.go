package workers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/cis490/cis490/durable"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// errVanished is returned for an episode whose directory disappeared
// before it could be retired; its journal is dropped.
var errVanished = errors.New("episode directory vanished")

// Marker files written into a retired episode's directory.
const (
	VerdictFile    = "verdict.json"
	ReasonFile     = "quarantine_reason.json"
	sourceHub      = "hub"
	sourcePreflite = "pre-flight"
)

// localOutcome is a rejection decided on the lab host.
func (p *Publisher) localOutcome(id string, r subjects.Reason, detail string, cv objectstore.CodeVersion) *Outcome {
	return &Outcome{Reason: r, Detail: detail, Source: sourcePreflite, CodeVersion: cv, Time: p.now().UTC()}
}

// hubOutcome is the hub's verdict.
func (p *Publisher) hubOutcome(id string, v objectstore.Verdict) *Outcome {
	return &Outcome{Shipped: v.Reason == subjects.Accepted, Reason: v.Reason, Detail: v.Detail, Source: sourceHub,
		CodeVersion: v.CodeVersion, Verdict: &v, Time: p.now().UTC()}
}

// fix is the one line that tells the operator what to do about a
// rejection retired to dest.
func (p *Publisher) fix(id, dest string, r subjects.Reason) string {
	dataDir := filepath.Dir(p.dirs.quarantine)
	requeue := fmt.Sprintf("cis490 quarantine requeue --data-dir %s %s", dataDir, filepath.Base(dest))
	switch r {
	case subjects.Unstamped:
		return "the recorder did not stamp code_version.commit: update and reinstall the recording code so meta.json carries the 40-hex commit; this episode cannot be accepted as it is"
	case subjects.OutOfWindow:
		return "the commit is not accepted by the hub: update this host to an accepted commit, or ask the hub admin to run 'cis490 window add <commit>', then " + requeue
	case subjects.Conflict:
		return "the hub already accepted another episode with this id: give this recording a new episode id (directory and meta.json), then requeue it"
	case subjects.Corrupt:
		return "every upload arrived corrupt: check this host's disk and the link, then " + requeue
	default:
		return "fix what the detail names, then " + requeue
	}
}

// toRetiring records the outcome and its destination, then Retiring.
func (p *Publisher) toRetiring(j *Journal, out *Outcome) error {
	root := p.dirs.quarantine
	if out.Shipped {
		root = p.dirs.shipped
	}
	out.Dest = freeName(root, j.EpisodeID)
	if !out.Shipped {
		out.Fix = p.fix(j.EpisodeID, out.Dest, out.Reason)
	}
	j.Outcome, j.State = out, Retiring
	return p.save(j)
}

// freeName is root/id, or root/id.N for the first N free, so that an
// episode retired twice (requeued, say) never overwrites the first.
func freeName(root, id string) string {
	dest := filepath.Join(root, id)
	for n := 1; ; n++ {
		if _, err := os.Lstat(dest); errors.Is(err, os.ErrNotExist) {
			return dest
		}
		dest = filepath.Join(root, id+"."+strconv.Itoa(n))
	}
}

// retire moves the episode to its destination, writes the marker file,
// and removes the journal. Each step is idempotent, so a retirement cut
// short by a crash is finished by the next run.
func (p *Publisher) retire(j *Journal) (*Outcome, error) {
	out := j.Outcome
	src := filepath.Join(p.dirs.episodes, j.EpisodeID)
	log := p.log.With("episode", j.EpisodeID)
	if _, err := os.Lstat(src); err == nil {
		if err := durable.Rename(src, out.Dest); err != nil {
			return nil, fmt.Errorf("retire: %w", err)
		}
		crashAt(StepMoved)
	} else if _, err := os.Lstat(out.Dest); err != nil {
		log.Error("episode is neither in episodes/ nor at its destination; dropping its journal", "dest", out.Dest)
		if err := p.remove(j.EpisodeID); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s", errVanished, j.EpisodeID)
	}
	name, body := ReasonFile, any(out)
	if out.Shipped {
		name, body = VerdictFile, out.Verdict
	}
	b, err := json.MarshalIndent(body, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("retire: %w", err)
	}
	if err := writeMarker(p.dirs, out.Dest, name, b); err != nil {
		return nil, fmt.Errorf("retire: %w", err)
	}
	crashAt(StepMarked)
	if err := p.remove(j.EpisodeID); err != nil {
		return nil, err
	}
	crashAt(StepRetired)
	if out.Shipped {
		p.o.Metrics.outcome("shipped", p.now())
		log.Info("shipped", "dest", out.Dest, "attempt", j.Attempt)
	} else {
		p.o.Metrics.outcome("quarantined", p.now())
		log.Warn("quarantined", "reason", out.Reason, "detail", out.Detail, "source", out.Source, "dest", out.Dest, "fix", out.Fix)
	}
	return out, nil
}

// markers are the files cis490 writes into a retired entry.
var markers = []string{VerdictFile, ReasonFile}

// writeMarker writes the marker file name into the retired entry dir. Its
// temp file is made in outbox/, never in dir: an entry of shipped/ or
// quarantine/ is final and read whole downstream, so a crash before the
// rename must leave nothing inside it. Recover removes such a temp from
// outbox/. outbox/ and the entry are on one file system, as the move of
// the episode from episodes/ already requires.
func writeMarker(d dirs, dir, name string, data []byte) error {
	tmp, err := durable.WriteTemp(d.outbox, filepath.Base(dir)+"."+name, data, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	crashAt(StepMarkerTemp)
	if err := durable.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// staleMarkerTemps removes from the entry dir the temp files of its marker
// files that an older cis490 left there when killed mid-write (it made
// them inside the entry), and returns their names. Only those names are
// touched (durable.IsTemp), never the episode's own files.
func staleMarkerTemps(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("clean %s: %w", dir, err)
	}
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !slices.ContainsFunc(markers, func(m string) bool { return durable.IsTemp(e.Name(), m) }) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("clean %s: %w", dir, err)
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}

// cleanMarkerTemps removes, from every entry of shipped/ and quarantine/,
// the marker temps staleMarkerTemps finds, logging each. An entry that
// cannot be read is logged and skipped: it must not keep the publisher
// from starting.
func (p *Publisher) cleanMarkerTemps() error {
	for _, root := range []string{p.dirs.shipped, p.dirs.quarantine} {
		entries, err := os.ReadDir(root)
		if err != nil {
			return fmt.Errorf("clean %s: %w", root, err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			dir := filepath.Join(root, e.Name())
			removed, err := staleMarkerTemps(dir)
			for _, name := range removed {
				p.log.Info("removed stale temp", "dir", dir, "name", name)
			}
			if err != nil {
				p.log.Warn("cannot clean stale temps of a retired episode", "dir", dir, "error", err)
			}
		}
	}
	return nil
}
