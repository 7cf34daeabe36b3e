package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cis490/cis490/durable"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/progress"
)

// export is an accepted episode being unpacked into ArchiveDir/<host>/.
// Files go into a temp directory as the validator reads them; commit syncs
// the tree, writes the sidecar ArchiveDir/<host>/.<episode>.json naming the
// archive digest, and renames the directory into place. An existing export
// whose sidecar names the same digest is identical and is kept.
type export struct {
	hostDir, tmp, final, sidecar string
	digest                       string
	identical                    bool
	// limit is the room the export had when it began (Receiver.room):
	// written, the file bytes written so far, may not pass it.
	limit, written int64
	// lock holds an exclusive flock on tmp while it is being written:
	// cleanExports of another receiver sharing ArchiveDir leaves a locked
	// temp alone. Closing it releases the lock; a crash releases it too.
	lock *os.File
}

// sidecar is the provenance file written beside each export.
type sidecar struct {
	ArchiveSHA256 string `json:"archive_sha256"`
	Host          string `json:"host"`
	EpisodeID     string `json:"episode_id"`
}

func (r *Receiver) exportPaths(host, episode string) (hostDir, final, side string) {
	hostDir = filepath.Join(r.o.ArchiveDir, host)
	return hostDir, filepath.Join(hostDir, episode), filepath.Join(hostDir, "."+episode+".json")
}

// newExport prepares the export of m, or notes that an identical one
// exists. It checks first that m.RawBytes fit (Receiver.room): a shortfall
// is a transient error, an episode larger than its host's whole quota
// wraps errNeverFits.
func (r *Receiver) newExport(host string, m *objectstore.Manifest) (*export, error) {
	hostDir, final, side := r.exportPaths(host, m.EpisodeID)
	ex := &export{hostDir: hostDir, final: final, sidecar: side, digest: m.ArchiveSHA256}
	if exportIdentical(final, side, m.ArchiveSHA256) {
		ex.identical = true
		return ex, nil
	}
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		return nil, transient("export: %w", err)
	}
	limit, err := r.room(host, hostDir, m.RawBytes)
	if err != nil {
		return nil, err
	}
	ex.limit = limit
	tmp, err := os.MkdirTemp(hostDir, m.EpisodeID+durable.TempMarker+"*")
	if err != nil {
		return nil, transient("export: %w", err)
	}
	ex.tmp = tmp
	if ex.lock, err = lockDir(tmp, true); err != nil {
		os.RemoveAll(tmp)
		return nil, transient("export: lock %s: %w", tmp, err)
	}
	return ex, nil
}

// errLocked is returned by lockDir when another process holds the lock.
var errLocked = errors.New("locked by another process")

// lockDir opens dir and takes an exclusive flock on it: blocking, or
// failing with errLocked. The lock lasts until the file is closed or the
// process ends.
func lockDir(dir string, wait bool) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return f, nil
}

func exportIdentical(final, side, digest string) bool {
	b, err := os.ReadFile(side)
	if err != nil {
		return false
	}
	var s sidecar
	if json.Unmarshal(b, &s) != nil || s.ArchiveSHA256 != digest {
		return false
	}
	fi, err := os.Stat(final)
	return err == nil && fi.IsDir()
}

// visitFunc returns the validator's visit function: nil when there is
// nothing to write.
func (ex *export) visitFunc() func(objectstore.Entry, io.Reader) error {
	if ex == nil || ex.identical {
		return nil
	}
	return func(e objectstore.Entry, r io.Reader) error {
		// Names are validated clean and relative before visit sees them.
		p := filepath.Join(ex.tmp, filepath.FromSlash(e.Name))
		if e.Dir {
			return os.Mkdir(p, e.Mode|0o700)
		}
		if ex.written+e.Size > ex.limit {
			// An early read's export, begun before the episode's size was
			// known: it gives up, and the archive is read again once
			// submitted, when room is checked for its size.
			return transient("export: %s more would pass the %s of room it had at its start",
				progress.FormatSize(e.Size), progress.FormatSize(ex.limit))
		}
		ex.written += e.Size
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, e.Mode|0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Chtimes(p, e.ModTime, e.ModTime)
	}
}

// commit makes the export durable and visible. Receivers sharing
// ArchiveDir (and one receiver's workers) may hold the same submission at
// once, a redelivery while the first delivery is still committing: commits
// into one host directory take turns under an flock on it, and the second
// finds the first's export identical and drops its own.
func (ex *export) commit() error {
	if ex.identical {
		return nil
	}
	if err := durable.SyncTree(ex.tmp); err != nil {
		return transient("export: %w", err)
	}
	lock, err := lockDir(ex.hostDir, true)
	if err != nil {
		return transient("export: lock %s: %w", ex.hostDir, err)
	}
	defer lock.Close()
	if exportIdentical(ex.final, ex.sidecar, ex.digest) {
		ex.identical = true
		ex.abort()
		return nil
	}
	if _, err := os.Stat(ex.final); err == nil {
		// A different earlier export of this id (only a conflict could make
		// one, and conflicts are not exported): keep it aside, never delete.
		// Aside before the sidecar, so that no crash leaves the old tree
		// under a sidecar naming the new digest.
		aside := fmt.Sprintf("%s.replaced-%d", ex.final, time.Now().UnixNano())
		if err := durable.Rename(ex.final, aside); err != nil {
			return transient("export: %w", err)
		}
	}
	side, _ := json.Marshal(sidecar{ArchiveSHA256: ex.digest, Host: filepath.Base(ex.hostDir), EpisodeID: filepath.Base(ex.final)})
	if err := durable.WriteFile(ex.sidecar, side, 0o644); err != nil {
		return transient("export: %w", err)
	}
	if err := durable.Rename(ex.tmp, ex.final); err != nil {
		return transient("export: %w", err)
	}
	ex.tmp = ""
	ex.unlock()
	return nil
}

// abort removes the temp directory, if any. It is safe on a nil export.
func (ex *export) abort() {
	if ex != nil && ex.tmp != "" {
		os.RemoveAll(ex.tmp)
		ex.tmp = ""
	}
	if ex != nil {
		ex.unlock()
	}
}

func (ex *export) unlock() {
	if ex.lock != nil {
		ex.lock.Close()
		ex.lock = nil
	}
}

// exportAccepted commits ex, or, when the decision was written by an earlier
// delivery that died before exporting, unpacks the episode again.
func (r *Receiver) exportAccepted(ctx context.Context, host string, m *objectstore.Manifest, ex *export) (string, error) {
	if ex == nil {
		var err error
		if ex, err = r.newExport(host, m); errors.Is(err, errNeverFits) {
			return "", transient("export: %w", err) // a quota lowered since the decision
		} else if err != nil {
			return "", err
		}
		defer ex.abort()
		if !ex.identical {
			st, err := r.store(ctx, host)
			if err != nil {
				return "", transient("open bucket of %s: %w", host, err)
			}
			if _, err := objectstore.ReadArchive(ctx, countingSource{st}, m, r.o.Limits, ex.visitFunc()); err != nil {
				return "", transient("unpack accepted episode again: %w", err)
			}
		}
	}
	if err := ex.commit(); err != nil {
		return "", err
	}
	r.usage.add(host, ex.written)
	return ex.final, nil
}

// staleTempFile is the age past which a temp file in ArchiveDir (a sidecar
// being written, which takes milliseconds) is left over from a crash.
const staleTempFile = time.Minute

// cleanExports removes the temp directories and files a crash left in
// ArchiveDir. Receivers may share ArchiveDir: an export temp another
// running receiver is writing is flock'ed, and is left alone.
func (r *Receiver) cleanExports() error {
	if r.o.ArchiveDir == "" {
		return nil
	}
	hosts, err := os.ReadDir(r.o.ArchiveDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clean archive dir: %w", err)
	}
	for _, h := range hosts {
		if !h.IsDir() {
			continue
		}
		hostDir := filepath.Join(r.o.ArchiveDir, h.Name())
		entries, err := os.ReadDir(hostDir)
		if err != nil {
			return fmt.Errorf("clean archive dir: %w", err)
		}
		for _, e := range entries {
			if !strings.Contains(e.Name(), durable.TempMarker) {
				continue
			}
			p := filepath.Join(hostDir, e.Name())
			if !e.IsDir() {
				if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < staleTempFile {
					continue
				}
				if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("clean archive dir: %w", err)
				}
				r.log.Info("removed stale export temp", "host", h.Name(), "name", e.Name())
				continue
			}
			lock, err := lockDir(p, false)
			if errors.Is(err, errLocked) || errors.Is(err, os.ErrNotExist) {
				continue // another receiver is exporting into it, or has just finished
			}
			if err != nil {
				return fmt.Errorf("clean archive dir: lock %s: %w", p, err)
			}
			err = os.RemoveAll(p)
			lock.Close()
			if err != nil {
				return fmt.Errorf("clean archive dir: %w", err)
			}
			r.log.Info("removed stale export temp", "host", h.Name(), "name", e.Name())
		}
	}
	return nil
}
