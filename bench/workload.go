package bench

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cis490/cis490/config"
)

// Workload is Count episodes of Size bytes each.
type Workload struct {
	Count int
	Size  int64
}

// String is the workload as ParseWorkloads reads it, e.g. "20x64MiB".
func (w Workload) String() string { return fmt.Sprintf("%dx%s", w.Count, config.Size(w.Size)) }

// Label is the workload for a table, e.g. "20 × 64 MiB".
func (w Workload) Label() string {
	s := config.Size(w.Size).String()
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i > 0 {
		s = s[:i] + " " + s[i:]
	}
	return fmt.Sprintf("%d × %s", w.Count, s)
}

// Bytes is the workload's total of episode bytes.
func (w Workload) Bytes() int64 { return int64(w.Count) * w.Size }

// DefaultWorkloads are the issue's: 1,000 × 100 KiB, 20 × 64 MiB,
// 2 × 1 GiB and 1 × 4 GiB.
func DefaultWorkloads() []Workload {
	return []Workload{{1000, 100 << 10}, {20, 64 << 20}, {2, 1 << 30}, {1, 4 << 30}}
}

// ParseWorkloads reads a comma-separated list of COUNTxSIZE, e.g.
// "1000x100KiB,20x64MiB". Errors name the bad item.
func ParseWorkloads(s string) ([]Workload, error) {
	var ws []Workload
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		count, size, ok := strings.Cut(item, "x")
		if !ok {
			return nil, fmt.Errorf("workload %q: want COUNTxSIZE, like 20x64MiB", item)
		}
		n, err := strconv.Atoi(count)
		if err != nil || n < 1 || n > 1_000_000 {
			return nil, fmt.Errorf("workload %q: count %q: want a whole number from 1 to 1000000", item, count)
		}
		sz, err := config.ParseSize(size)
		if err != nil {
			return nil, fmt.Errorf("workload %q: %w", item, err)
		}
		if sz < 1<<10 {
			return nil, fmt.Errorf("workload %q: size %s: want at least 1KiB", item, sz)
		}
		ws = append(ws, Workload{n, int64(sz)})
	}
	return ws, nil
}
