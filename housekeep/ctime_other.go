//go:build !linux && !darwin

package housekeep

import (
	"io/fs"
	"time"
)

// changeTime reports no ctime: this platform's FileInfo does not carry one.
func changeTime(fs.FileInfo) (time.Time, bool) { return time.Time{}, false }
