package housekeep

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cis490/cis490/durable"
)

// Entry is an entry of a directory a Cleaner looks after, and how long ago
// it entered it (see the package doc for how that is found).
type Entry struct {
	Name string
	Age  time.Duration
}

// Expired lists, in name order, the entries of dir that a Cleaner of dir
// with keepDays would remove at now, and removes nothing: what
// `cis490 quarantine cleanup --dry-run` prints. It has no interval gate.
// keepDays 0 or less lists nothing, a missing dir is not an error, and an
// entry that cannot be dated is named in err without hiding the others.
func Expired(dir string, keepDays int, now time.Time) ([]Entry, error) {
	c := NewCleaner(dir, keepDays, 0, nil)
	if c.keep == 0 {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []Entry
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if strings.Contains(name, durable.TempMarker) {
			continue // as in run: another process's temp
		}
		entered, err := enteredAt(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("date %s: %w", name, err))
			continue
		}
		if age := now.Sub(entered); age > c.keep {
			out = append(out, Entry{Name: name, Age: age})
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("list %s: %w", dir, errors.Join(errs...))
	}
	return out, nil
}
