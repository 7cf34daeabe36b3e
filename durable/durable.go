// Package durable writes files and moves directories so that a crash at any
// instant leaves either the old state or the new one, never a torn file:
// every write goes to a temp file that is synced, closed, renamed into place,
// and followed by a sync of the directory that holds it.
package durable

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TempMarker is part of every temp name this package creates; Clean removes
// files and directories whose names hold it.
const TempMarker = ".tmp-"

// Seams for fault-injection tests.
var (
	rename = os.Rename
)

// WriteFile writes data to path durably: temp file beside it (WriteTemp),
// Rename, then Sync of the parent directory.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := WriteTemp(dir, base, data, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(dir)
}

// WriteTemp writes data to a new file in dir named base+TempMarker+digits
// (see IsTemp), synced and closed, and returns its path: the first half of
// WriteFile, for a file whose temp must not be beside it. The caller moves
// it into place with Rename, on the same file system, or removes it; a crash
// before that leaves it to Clean.
func WriteTemp(dir, base string, data []byte, perm fs.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, base+TempMarker+"*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	if err := f.Chmod(perm); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	ok = true
	return tmp, nil
}

// IsTemp reports whether name is a temp file this package made for a file
// called base: base, TempMarker, then the digits os.CreateTemp puts for its
// "*". It tells such a leftover from a file that merely looks like one.
func IsTemp(name, base string) bool {
	rand, ok := strings.CutPrefix(name, base+TempMarker)
	return ok && rand != "" && strings.Trim(rand, "0123456789") == ""
}

// SyncDir fsyncs a directory, making the names in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// Rename moves oldpath to newpath and syncs both parent directories (once if
// they are the same).
func Rename(oldpath, newpath string) error {
	if err := rename(oldpath, newpath); err != nil {
		return fmt.Errorf("move %s: %w", oldpath, err)
	}
	if err := SyncDir(filepath.Dir(newpath)); err != nil {
		return err
	}
	if filepath.Dir(oldpath) != filepath.Dir(newpath) {
		return SyncDir(filepath.Dir(oldpath))
	}
	return nil
}

// SyncTree fsyncs every regular file and directory under root, children
// before parents, so that a tree written without syncs becomes durable
// before it is renamed into place.
func SyncTree(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
	if err != nil {
		return fmt.Errorf("sync tree %s: %w", root, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := SyncDir(dirs[i]); err != nil {
			return err
		}
	}
	return nil
}

// Clean removes the stale temp files and directories directly in dir: those
// left by a crash between a temp's creation and its rename. It returns the
// names removed. A missing dir is not an error.
func Clean(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clean %s: %w", dir, err)
	}
	var removed []string
	for _, e := range entries {
		if !strings.Contains(e.Name(), TempMarker) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return removed, fmt.Errorf("clean %s: %w", dir, err)
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}
