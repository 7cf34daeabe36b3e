//go:build !linux && !darwin

package doctor

import "errors"

// statfs is not implemented here: the disk row is skipped.
func statfs(string) (free, total uint64, err error) {
	return 0, 0, errors.ErrUnsupported
}
