package doctor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cis490/cis490/subjects"
)

// unknownReason groups rejections whose reason could not be read.
const unknownReason = "unknown"

// rank orders rejection reasons for an operator: out-of-window first (the
// most actionable: widen the window or update the host), then unstamped,
// then the order of subjects.Reasons, then anything else.
func rank(reason string) int {
	if i := slices.Index(subjects.Reasons, subjects.Reason(reason)); i >= 0 {
		return i
	}
	return len(subjects.Reasons)
}

// byRank returns the keys of counts, best ranked first, ties by name.
func byRank[V any](counts map[string]V) []string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return keys
}

// severe reports whether a rejection for reason means every later
// episode of this host will be rejected too until someone acts: the red
// reasons.
func severe(reason string) bool {
	return reason == string(subjects.OutOfWindow) || reason == string(subjects.Unstamped)
}

// reasonFix is the one action that fixes rejections for reason, run on
// the lab host with its cis490 flags (see LabHost.Flags). commits are the
// out-of-window commits; episode is an example episode, for the commands
// that take one.
func reasonFix(reason string, commits []string, episode, flags string) string {
	if flags != "" {
		flags = " " + flags
	}
	requeue := "cis490 quarantine requeue --reason " + reason + flags
	show := "cis490 quarantine show " + shellQuote(episode) + flags
	switch subjects.Reason(reason) {
	case subjects.OutOfWindow:
		c := "<commit>"
		if len(commits) > 0 {
			c = strings.Join(commits, " ")
		}
		return fmt.Sprintf("on the hub: cis490 window add %s (or update this host to an accepted commit), then %s", c, requeue)
	case subjects.Unstamped:
		return "fix the recorder so meta.json carries code_version.commit (40 lowercase hex) and reinstall it; unstamped episodes cannot be accepted as they are (" + show + ")"
	case subjects.Conflict:
		return "give the recording a new episode id (directory and meta.json), then requeue it: " + show + " says how"
	case subjects.Corrupt:
		return "check this host's disk and the link, then " + requeue
	case subjects.Malformed:
		return show + " (fix what its detail names), then " + requeue
	case subjects.RateLimited:
		return "nothing, if it stopped: the hub dropped submissions this host sent faster than its budget, and the publisher " +
			"submits each again once ship.verdict_timeout passes without a verdict; if it goes on, find what submits so much " +
			"(journalctl -u cis490-publisher), or have the hub admin raise [receive] host_rate and host_burst"
	}
	return show
}
