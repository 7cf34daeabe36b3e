package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Disk thresholds of the data directory's filesystem.
const (
	// DiskYellowPercent is the free space, in percent, below which the disk row is yellow.
	DiskYellowPercent = 10.0
	// DiskRedPercent is the free space below which it is red.
	DiskRedPercent = 2.0
	// DiskRedBytes is the free space below which it is red whatever the percentage.
	DiskRedBytes = 1 << 30
)

// classifyDisk returns the status of a filesystem with free of total bytes
// available to an unprivileged user.
func classifyDisk(free, total uint64) Status {
	p := 100.0
	if total > 0 {
		p = 100 * float64(free) / float64(total)
	}
	switch {
	case p < DiskRedPercent || free < DiskRedBytes:
		return Red
	case p < DiskYellowPercent:
		return Yellow
	}
	return Green
}

// Disk is the "disk" row: the free space of the filesystem holding
// dataDir (or its nearest existing parent), as syscall.Statfs reports it
// to an unprivileged user. Below DiskYellowPercent free it is yellow,
// below DiskRedPercent or DiskRedBytes red: the recorder and the
// publisher's spool both write there.
func Disk(dataDir string) Row {
	dir := filepath.Clean(dataDir)
	for {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	free, total, err := statfs(dir)
	if errors.Is(err, errors.ErrUnsupported) {
		return skip("disk", "free space is not measured on this system")
	}
	if err != nil {
		r := row("disk", Yellow, fmt.Sprintf("cannot read the free space of %s: %v", dir, err))
		r.Fix = "df -h " + shellQuote(dir)
		return r
	}
	p := 0.0
	if total > 0 {
		p = 100 * float64(free) / float64(total)
	}
	s := classifyDisk(free, total)
	r := row("disk", s, fmt.Sprintf("%s free of %s (%.0f%%) on the filesystem of %s",
		bytesString(int64(free)), bytesString(int64(total)), p, dir))
	if s != Green {
		r.Fix = fmt.Sprintf("free space: lower [shipped] keep_days and [quarantine] keep_days in lab-host.toml (the publisher removes older entries), or see what fills it: du -xsh %s/*", shellQuote(dir))
	}
	r.Details["path"] = dir
	r.Details["free_bytes"] = free
	r.Details["total_bytes"] = total
	r.Details["free_percent"] = p
	return r
}
