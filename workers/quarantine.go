package workers

import (
	"cmp"
	"encoding/json"
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
	"github.com/cis490/cis490/subjects"
)

// This file is the lab host's quarantine seen from outside the daemon:
// what `cis490 quarantine` lists, shows, requeues and drains. Every
// function here is safe while the publisher runs: a move is one rename,
// and an episode the publisher holds (it has a journal) is never touched.

// UnknownReason is the reason ListQuarantine gives an entry of
// quarantine/ whose quarantine_reason.json is missing or unreadable: one
// moved in by hand, or left by a crash between the move and the marker.
const UnknownReason subjects.Reason = "unknown"

// Errors of the quarantine functions, checked with errors.Is.
var (
	// ErrNotQuarantined is returned by ShowQuarantine and Requeue for a
	// name that is not a directory directly in quarantine/.
	ErrNotQuarantined = errors.New("not in quarantine")
	// ErrRequeueBlocked is returned by Requeue when episodes/<id> or
	// outbox/<id>.json already exists: moving the entry back would meet an
	// episode of the same id. Nothing is moved.
	ErrRequeueBlocked = errors.New("cannot requeue")
)

// QuarantineEntry is one directory of quarantine/, as `cis490 quarantine
// ls --json` prints it. Its JSON form is stable.
type QuarantineEntry struct {
	// ID is the directory's name: the episode id, or <id>.N when
	// quarantine/<id> was taken (see OriginalID).
	ID string `json:"id"`
	// Dir is the directory's path.
	Dir string `json:"dir"`
	// Reason is the reason in quarantine_reason.json, or UnknownReason.
	Reason subjects.Reason `json:"reason"`
	// Source is "pre-flight" or "hub"; "" for an unknown reason.
	Source string `json:"source"`
	// Detail says what exactly is wrong; for an unreadable reason file, why
	// it could not be read.
	Detail string `json:"detail"`
	// Fix is the one line telling the operator what to do.
	Fix string `json:"fix"`
	// Time is when the episode was quarantined (the reason file's time),
	// or the directory's mtime for an unknown reason.
	Time time.Time `json:"time"`
	// Bytes is the size of the regular files under Dir.
	Bytes int64 `json:"bytes"`
}

// QuarantineFile is one file or directory under a quarantined episode.
type QuarantineFile struct {
	Path    string // relative to the episode's directory, slash-separated
	Mode    fs.FileMode
	Bytes   int64
	ModTime time.Time
}

// QuarantineDetail is everything `cis490 quarantine show` prints.
type QuarantineDetail struct {
	QuarantineEntry
	// Raw is quarantine_reason.json as stored; nil if there is none.
	Raw []byte
	// Files lists everything under the directory, in lexical order.
	Files []QuarantineFile
}

// Requeued is one entry Requeue moved back to episodes/.
type Requeued struct {
	Name      string // its name in quarantine/
	EpisodeID string // its name in episodes/
	From, To  string // the paths
}

// Drained is an episode DrainUnstamped quarantined, or would have with
// dryRun.
type Drained struct {
	ID     string
	Reason subjects.Reason // Unstamped or Malformed
	Detail string
	Dest   string
}

// DrainReport is what DrainUnstamped did.
type DrainReport struct {
	// Kept counts the episodes left in episodes/: stamped ones, InFlight
	// and Unsettled.
	Kept int
	// Quarantined lists the episodes moved to quarantine/, by id.
	Quarantined []Drained
	// InFlight lists the episodes skipped because the publisher holds them
	// (outbox/<id>.json exists).
	InFlight []string
	// Unsettled lists the episodes skipped because they may still be
	// being written: meta.json missing or unreadable, and something under
	// the directory changed within the settle time.
	Unsettled []string
}

// dataDirs returns the state directories under dataDir, as New does.
func dataDirs(dataDir string) dirs {
	return dirs{
		episodes: filepath.Join(dataDir, "episodes"), outbox: filepath.Join(dataDir, "outbox"),
		shipped: filepath.Join(dataDir, "shipped"), quarantine: filepath.Join(dataDir, "quarantine"),
	}
}

// OriginalID returns the episode id of the quarantine entry called name:
// name without the ".N" that freeName adds when quarantine/<id> is taken.
// Episode ids hold no dot, so only such a suffix is cut.
func OriginalID(name string) string {
	id, n, ok := strings.Cut(name, ".")
	if !ok || n == "" || strings.Trim(n, "0123456789") != "" || subjects.ValidateEpisode(id) != nil {
		return name
	}
	return id
}

// ListQuarantine lists the episodes in dataDir/quarantine/, oldest
// quarantined first. Entries that are not directories and temp names are
// left out; a directory without a readable reason file is listed with
// UnknownReason. A missing quarantine/ is an empty list.
func ListQuarantine(dataDir string) ([]QuarantineEntry, error) {
	d := dataDirs(dataDir)
	entries, err := os.ReadDir(d.quarantine)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	var out []QuarantineEntry
	for _, e := range entries {
		if !e.IsDir() || strings.Contains(e.Name(), durable.TempMarker) {
			continue
		}
		q, _, err := readQuarantined(d, e.Name())
		if errors.Is(err, ErrNotQuarantined) {
			continue // requeued or cleaned up meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	slices.SortFunc(out, func(a, b QuarantineEntry) int {
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// ShowQuarantine returns the entry called name (its directory name in
// quarantine/), its reason file as stored, and the files under it.
func ShowQuarantine(dataDir, name string) (QuarantineDetail, error) {
	d := dataDirs(dataDir)
	q, raw, err := readQuarantined(d, name)
	if err != nil {
		return QuarantineDetail{}, err
	}
	qd := QuarantineDetail{QuarantineEntry: q, Raw: raw}
	err = filepath.WalkDir(q.Dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == q.Dir {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(q.Dir, p)
		if err != nil {
			return err
		}
		f := QuarantineFile{Path: filepath.ToSlash(rel), Mode: fi.Mode(), ModTime: fi.ModTime()}
		if fi.Mode().IsRegular() {
			f.Bytes = fi.Size()
		}
		qd.Files = append(qd.Files, f)
		return nil
	})
	if err != nil {
		return QuarantineDetail{}, fmt.Errorf("show %s: %w", name, err)
	}
	return qd, nil
}

// readQuarantined reads the entry quarantine/<name> and its reason file,
// returned as stored (nil if absent).
func readQuarantined(d dirs, name string) (QuarantineEntry, []byte, error) {
	if err := checkEntryName(name); err != nil {
		return QuarantineEntry{}, nil, err
	}
	dir := filepath.Join(d.quarantine, name)
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.IsDir() {
		return QuarantineEntry{}, nil, fmt.Errorf("%s: %w", dir, ErrNotQuarantined)
	}
	if err != nil {
		return QuarantineEntry{}, nil, fmt.Errorf("read quarantine entry: %w", err)
	}
	q := QuarantineEntry{ID: name, Dir: dir, Reason: UnknownReason, Time: fi.ModTime().UTC(), Bytes: dirSize(dir)}
	raw, err := os.ReadFile(filepath.Join(dir, ReasonFile))
	var out Outcome
	switch {
	case errors.Is(err, fs.ErrNotExist):
		raw = nil
		q.Detail = "no " + ReasonFile
	case err != nil:
		raw = nil
		q.Detail = ReasonFile + " unreadable: " + err.Error()
	default:
		if err := json.Unmarshal(raw, &out); err != nil {
			q.Detail = ReasonFile + " unreadable: " + err.Error()
			break
		}
		if out.Reason != "" {
			q.Reason = out.Reason
		}
		q.Source, q.Detail, q.Fix = out.Source, out.Detail, out.Fix
		if !out.Time.IsZero() {
			q.Time = out.Time
		}
	}
	if q.Fix == "" {
		q.Fix = fmt.Sprintf("look at the files and fix what is wrong, then cis490 quarantine requeue %s", name)
	}
	return q, raw, nil
}

// checkEntryName refuses a name that is not one directory entry: "", ".",
// "..", anything with a separator.
func checkEntryName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || filepath.Base(name) != name {
		return fmt.Errorf("%q: %w: want a directory name in quarantine/", name, ErrNotQuarantined)
	}
	return nil
}

// Requeue moves each named entry of quarantine/ back to
// episodes/<OriginalID(name)>, so that the publisher ships it again. It
// first removes quarantine_reason.json and any temp of a marker file an
// older cis490 left, so that neither ships inside the archive (the reason
// file is put back if the move fails), then renames the directory durably. It refuses an entry whose episodes/<id> or
// outbox/<id>.json exists (ErrRequeueBlocked) or that is not in quarantine
// (ErrNotQuarantined). An entry that fails does not stop the others: the
// moves made are returned with every failure joined.
func Requeue(dataDir string, names ...string) ([]Requeued, error) {
	d := dataDirs(dataDir)
	var done []Requeued
	var errs []error
	for _, name := range names {
		r, err := requeue(d, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, r)
	}
	return done, errors.Join(errs...)
}

// RequeueReason requeues every entry of quarantine/ whose reason is r,
// oldest first, as Requeue does.
func RequeueReason(dataDir string, r subjects.Reason) ([]Requeued, error) {
	list, err := ListQuarantine(dataDir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, q := range list {
		if q.Reason == r {
			names = append(names, q.ID)
		}
	}
	return Requeue(dataDir, names...)
}

func requeue(d dirs, name string) (Requeued, error) {
	if err := checkEntryName(name); err != nil {
		return Requeued{}, fmt.Errorf("requeue: %w", err)
	}
	src := filepath.Join(d.quarantine, name)
	if fi, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) || err == nil && !fi.IsDir() {
		return Requeued{}, fmt.Errorf("requeue %s: %w", src, ErrNotQuarantined)
	} else if err != nil {
		return Requeued{}, fmt.Errorf("requeue %s: %w", name, err)
	}
	id := OriginalID(name)
	dest := filepath.Join(d.episodes, id)
	for _, p := range []string{dest, filepath.Join(d.outbox, id+".json")} {
		if _, err := os.Lstat(p); err == nil {
			return Requeued{}, fmt.Errorf("requeue %s: %w: %s exists", name, ErrRequeueBlocked, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return Requeued{}, fmt.Errorf("requeue %s: %w", name, err)
		}
	}
	if err := os.MkdirAll(d.episodes, 0o755); err != nil {
		return Requeued{}, fmt.Errorf("requeue %s: %w", name, err)
	}
	// A marker temp an older cis490 left must not ship inside the archive.
	if _, err := staleMarkerTemps(src); err != nil {
		return Requeued{}, fmt.Errorf("requeue %s: %w", name, err)
	}
	reason := filepath.Join(src, ReasonFile)
	saved, err := os.ReadFile(reason)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		saved = nil
	case err != nil:
		return Requeued{}, fmt.Errorf("requeue %s: %w", name, err)
	default:
		if err := os.Remove(reason); err != nil {
			return Requeued{}, fmt.Errorf("requeue %s: %w", name, err)
		}
		if err := durable.SyncDir(src); err != nil {
			return Requeued{}, fmt.Errorf("requeue %s: %w", name, err)
		}
	}
	if err := durable.Rename(src, dest); err != nil {
		if saved != nil {
			if _, serr := os.Lstat(src); serr == nil {
				if werr := writeMarker(d, src, ReasonFile, saved); werr != nil {
					err = errors.Join(err, fmt.Errorf("restore %s: %w", reason, werr))
				}
			}
		}
		return Requeued{}, fmt.Errorf("requeue %s: %w", name, err)
	}
	return Requeued{Name: name, EpisodeID: id, From: src, To: dest}, nil
}

// DrainUnstamped quarantines, from dataDir/episodes/, every episode whose
// meta.json is not stamped with a code commit (reason unstamped), or is
// missing or unreadable (reason malformed), each with a
// quarantine_reason.json as the publisher's pre-flight writes it (source
// "pre-flight", a fix). It is the one-shot drain of a pre-stamp backlog.
//
// It leaves alone:
//   - a stamped episode, whatever else may be wrong with it: the publisher
//     judges it;
//   - an episode the publisher holds, one with outbox/<id>.json, checked
//     again right before the move;
//   - an episode whose meta.json is missing or unreadable and under which
//     something changed within settle (the publisher's ship.settle): the
//     recorder may still be writing it, meta.json last. An unstamped
//     meta.json parsed whole is final and is quarantined at once.
//
// Each move is one rename to quarantine/<id>, or quarantine/<id>.N if that
// is taken, then the reason file: safe while the publisher runs, and
// idempotent, since a second run finds nothing left to move. With dryRun
// nothing changes and the report says what would have been done. An
// episode that cannot be moved does not stop the others; the errors are
// joined.
func DrainUnstamped(dataDir string, settle time.Duration, dryRun bool) (DrainReport, error) {
	d := dataDirs(dataDir)
	var rep DrainReport
	entries, err := os.ReadDir(d.episodes)
	if errors.Is(err, fs.ErrNotExist) {
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("drain: scan episodes: %w", err)
	}
	now := time.Now()
	var errs []error
	for _, e := range entries {
		id := e.Name()
		if !e.IsDir() || strings.HasPrefix(id, ".") {
			continue // what the publisher's scan skips too
		}
		if journaled(d, id) {
			rep.InFlight = append(rep.InFlight, id)
			rep.Kept++
			continue
		}
		src := filepath.Join(d.episodes, id)
		meta, err := objectstore.ReadMeta(src)
		dr := Drained{ID: id, Detail: errString(err)}
		var cv objectstore.CodeVersion
		switch {
		case err == nil:
			rep.Kept++
			continue
		case errors.Is(err, objectstore.ErrNotStamped):
			dr.Reason, cv = subjects.Unstamped, meta.CodeVersion
		default:
			if settle > 0 && now.Sub(lastChange(src)) < settle {
				rep.Unsettled = append(rep.Unsettled, id)
				rep.Kept++
				continue
			}
			dr.Reason = subjects.Malformed
		}
		dr.Dest = freeName(d.quarantine, id)
		if dryRun {
			rep.Quarantined = append(rep.Quarantined, dr)
			continue
		}
		moved, err := drainOne(d, dr, cv, now)
		if err != nil {
			errs = append(errs, err)
		}
		switch {
		case moved:
			rep.Quarantined = append(rep.Quarantined, dr)
		case err != nil:
			rep.Kept++
		default:
			rep.InFlight = append(rep.InFlight, id)
			rep.Kept++
		}
	}
	return rep, errors.Join(errs...)
}

// drainOne moves one episode to dr.Dest and writes its reason file. It
// returns false, having done nothing, if the publisher took the episode
// meanwhile.
func drainOne(d dirs, dr Drained, cv objectstore.CodeVersion, now time.Time) (bool, error) {
	if journaled(d, dr.ID) {
		return false, nil
	}
	for _, dir := range []string{d.quarantine, d.outbox} { // outbox/ for the marker's temp
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("drain %s: %w", dr.ID, err)
		}
	}
	src := filepath.Join(d.episodes, dr.ID)
	if err := durable.Rename(src, dr.Dest); err != nil {
		if _, serr := os.Lstat(src); errors.Is(serr, fs.ErrNotExist) {
			return false, nil // the publisher retired it first
		}
		return false, fmt.Errorf("drain %s: %w", dr.ID, err)
	}
	out := Outcome{
		Reason: dr.Reason, Detail: dr.Detail, Source: sourcePreflite, CodeVersion: cv,
		// The publisher's own fix line; it needs only the directories.
		Fix:  (&Publisher{dirs: d}).fix(dr.ID, dr.Dest, dr.Reason),
		Dest: dr.Dest, Time: now.UTC(),
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return true, fmt.Errorf("drain %s: %w", dr.ID, err)
	}
	if err := writeMarker(d, dr.Dest, ReasonFile, b); err != nil {
		return true, fmt.Errorf("drain %s: moved to %s, but: %w", dr.ID, dr.Dest, err)
	}
	return true, nil
}

// journaled reports whether the publisher holds id: outbox/<id>.json
// exists (or cannot be checked, which counts as held).
func journaled(d dirs, id string) bool {
	_, err := os.Lstat(filepath.Join(d.outbox, id+".json"))
	return !errors.Is(err, fs.ErrNotExist)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
