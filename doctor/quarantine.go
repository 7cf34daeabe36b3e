package doctor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cis490/cis490/durable"
	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/workers"
)

// Quarantine is the "quarantine" row: the episodes in data_dir/quarantine/
// counted by the reason in their quarantine_reason.json (an entry without
// one counts as "unknown"). Any entry makes it yellow, with
// "5 quarantined: 3 out-of-window, 2 unstamped" and the fix of the top
// reason; out-of-window is ranked above unstamped. Entries stay until
// quarantine.keep_days removes them, so the row stays yellow until they are
// requeued or removed. flags are the cis490 flags the fix repeats (see
// LabHost.Flags).
func Quarantine(dataDir, flags string) Row {
	dir := filepath.Join(dataDir, "quarantine")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		entries, err = nil, nil
	}
	if err != nil {
		r := row("quarantine", Yellow, fmt.Sprintf("cannot read %s: %v", dir, err))
		r.Fix = "run doctor as the publisher's user: sudo -u cis490 cis490 doctor " + flags
		return r
	}
	counts := map[string]int{}
	newest := map[string]workers.Outcome{} // reason → its latest entry
	newestDir := map[string]string{}
	commits := map[string]bool{}
	total := 0
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") || strings.Contains(name, durable.TempMarker) {
			continue
		}
		total++
		var o workers.Outcome
		b, err := os.ReadFile(filepath.Join(dir, name, workers.ReasonFile))
		if err == nil {
			err = json.Unmarshal(b, &o)
		}
		reason := string(o.Reason)
		if err != nil || reason == "" {
			reason = unknownReason
		}
		counts[reason]++
		if prev, ok := newest[reason]; !ok || o.Time.After(prev.Time) {
			newest[reason], newestDir[reason] = o, name
		}
		if o.Reason == subjects.OutOfWindow && subjects.ValidCommit(o.CodeVersion.Commit) {
			commits[o.CodeVersion.Commit] = true
		}
	}
	if total == 0 {
		r := row("quarantine", Green, "nothing quarantined")
		r.Details["total"] = 0
		r.Details["by_reason"] = counts
		return r
	}
	order := byRank(counts)
	parts := make([]string, len(order))
	for i, reason := range order {
		parts[i] = fmt.Sprintf("%d %s", counts[reason], reason)
	}
	oow := make([]string, 0, len(commits))
	for c := range commits {
		oow = append(oow, c)
	}
	slices.Sort(oow)
	top := order[0]
	r := row("quarantine", Yellow, fmt.Sprintf("%d quarantined: %s", total, strings.Join(parts, ", ")))
	if top == unknownReason {
		r.Fix = fmt.Sprintf("%s has no %s: a retirement cut short, which the publisher finishes at start (sudo systemctl restart %s)",
			filepath.Join(dir, newestDir[top]), workers.ReasonFile, PublisherUnit)
	} else {
		r.Fix = reasonFix(top, oow, newestDir[top], flags)
	}
	r.Details["total"] = total
	r.Details["by_reason"] = counts
	r.Details["top_reason"] = top
	r.Details["example"] = map[string]any{"episode": newestDir[top], "detail": newest[top].Detail, "fix": newest[top].Fix}
	if len(oow) > 0 {
		r.Details["out_of_window_commits"] = oow
	}
	return r
}
