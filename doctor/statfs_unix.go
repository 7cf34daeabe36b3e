//go:build linux || darwin

package doctor

import (
	"fmt"
	"syscall"
)

// statfs returns the bytes available to an unprivileged user and the size
// of the filesystem holding path.
func statfs(path string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), uint64(st.Blocks) * uint64(st.Bsize), nil
}
