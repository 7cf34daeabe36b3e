package receiver

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/cis490/cis490/progress"
)

// errNeverFits is returned by room for an episode larger than its host's
// whole archive_host_quota: no wait makes room for it, so it is judged
// malformed, as an episode over max_episode_bytes is.
var errNeverFits = errors.New("episode larger than its host's archive quota")

// usageRefresh is how long a host's measured export usage is trusted,
// grown by this receiver's own exports, before it is measured again (other
// receivers sharing ArchiveDir export too, and operators prune). Before an
// export is refused for its quota, a measure older than usageRecheck is
// taken again, so that exports resume soon after an operator prunes.
const (
	usageRefresh = 10 * time.Minute
	usageRecheck = 30 * time.Second
)

// exportUsage is the bytes each host's export directory holds, measured
// by walking it, only where ArchiveHostQuota asks for it.
type exportUsage struct {
	mu    sync.Mutex
	hosts map[string]*hostUsage
}

type hostUsage struct {
	bytes int64
	at    time.Time
}

// room returns how many unpacked bytes an export of host may write into
// ArchiveDir, after checking that raw of them fit: within host's
// ArchiveHostQuota, and leaving the file system ArchiveMinFree. A
// shortfall is transient (the episode is not at fault; the submission
// waits until an operator makes room, logged and retried); an episode
// larger than the whole quota wraps errNeverFits.
func (r *Receiver) room(host, hostDir string, raw int64) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(hostDir, &st); err != nil {
		return 0, transient("export: free space of %s: %w", hostDir, err)
	}
	avail, total := int64(st.Bavail)*st.Bsize, int64(st.Blocks)*st.Bsize
	minFree := max(r.o.ArchiveMinFree, int64(r.o.ArchiveMinFreePercent/100*float64(total)))
	room := avail - minFree
	if raw > room {
		r.o.Metrics.exportRefused(host, "disk")
		return 0, transient("export refused: the file system of %s has %s free, and this episode unpacks to %s, which would leave less than archive_min_free (%s); free space there",
			r.o.ArchiveDir, progress.FormatSize(avail), progress.FormatSize(raw), progress.FormatSize(minFree))
	}
	quota := r.o.ArchiveHostQuota
	if quota <= 0 {
		return room, nil
	}
	if raw > quota {
		return 0, fmt.Errorf("%w: unpacks to %s, more than archive_host_quota (%s): %s's exports can never hold it",
			errNeverFits, progress.FormatSize(raw), progress.FormatSize(quota), host)
	}
	used, err := r.usage.of(host, hostDir, usageRefresh)
	if err == nil && raw > quota-used {
		used, err = r.usage.of(host, hostDir, usageRecheck)
	}
	if err != nil {
		return 0, transient("export: measure %s: %w", hostDir, err)
	}
	if raw > quota-used {
		r.o.Metrics.exportRefused(host, "quota")
		return 0, transient("export refused: host %s's exports hold %s of its archive_host_quota (%s), and this episode unpacks to %s; move or prune its old exports, or raise the quota",
			host, progress.FormatSize(used), progress.FormatSize(quota), progress.FormatSize(raw))
	}
	return min(room, quota-used), nil
}

// of returns the bytes of the regular files under hostDir, measured at
// most maxAge ago and grown by the exports added since.
func (u *exportUsage) of(host, hostDir string, maxAge time.Duration) (int64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if h := u.hosts[host]; h != nil && time.Since(h.at) < maxAge {
		return h.bytes, nil
	}
	var n int64
	err := filepath.WalkDir(hostDir, func(_ string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if u.hosts == nil {
		u.hosts = map[string]*hostUsage{}
	}
	u.hosts[host] = &hostUsage{bytes: n, at: time.Now()}
	return n, nil
}

// add counts n more bytes exported for host, if its usage is measured.
func (u *exportUsage) add(host string, n int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if h := u.hosts[host]; h != nil {
		h.bytes += n
	}
}
