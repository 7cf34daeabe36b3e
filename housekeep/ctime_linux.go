package housekeep

import (
	"io/fs"
	"syscall"
	"time"
)

// changeTime returns fi's inode change time (ctime).
func changeTime(fi fs.FileInfo) (time.Time, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(st.Ctim.Unix()), true
}
