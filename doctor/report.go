package doctor

import (
	"fmt"
	"strings"
	"time"
)

// Status is the outcome of one check.
type Status string

// The statuses a Row can have. A report's own status is never Skip: a
// skipped row counts as green.
const (
	// Green: nothing to do.
	Green Status = "green"
	// Yellow: worth a look; cis490 still works, or will heal by itself.
	Yellow Status = "yellow"
	// Red: episodes are not shipping, or will stop shipping, until the fix is applied.
	Red Status = "red"
	// Skip: the check cannot apply here (no systemd, the hub unreachable, no valid host id).
	Skip Status = "skip"
)

// severity orders statuses for Worst: skip and green 0, yellow 1, red 2.
func (s Status) severity() int {
	switch s {
	case Red:
		return 2
	case Yellow:
		return 1
	}
	return 0
}

// Row is the result of one check.
type Row struct {
	// Check names the check: "config", "hub", "bucket", ...
	Check string `json:"check"`
	// Status is green, yellow, red or skip.
	Status Status `json:"status"`
	// Summary is one line: what was found, and for a problem what is wrong.
	Summary string `json:"summary"`
	// Fix is the command (or, where none exists, the one action) that
	// fixes the problem; empty for green and skip.
	Fix string `json:"fix"`
	// Details holds the numbers behind the summary, for scripts; never nil
	// in a Report. Keys are snake_case, sizes in bytes, ages in seconds,
	// times RFC 3339.
	Details map[string]any `json:"details"`
}

// SchemaVersion is the version of the JSON report. It changes only when a
// field is removed or changes meaning; fields and detail keys may be added.
const SchemaVersion = 1

// Report is every row of one run, as WriteJSON prints it.
type Report struct {
	// Version is SchemaVersion.
	Version int `json:"version"`
	// Host is the lab host's id; for a hub report the server's name, or
	// the URL tried when the hub could not be reached.
	Host string `json:"host"`
	// Time is when the run started, UTC.
	Time time.Time `json:"time"`
	// Status is the worst status of the rows: green, yellow or red.
	Status Status `json:"status"`
	// Rows are the checks in the order they are listed in docs/doctor.md.
	Rows []Row `json:"rows"`
}

// NewReport returns the report of rows, its Status the worst of them.
func NewReport(host string, t time.Time, rows []Row) Report {
	if rows == nil {
		rows = []Row{}
	}
	for i := range rows {
		if rows[i].Details == nil {
			rows[i].Details = map[string]any{}
		}
	}
	return Report{Version: SchemaVersion, Host: host, Time: t.UTC(), Status: Worst(rows), Rows: rows}
}

// Worst returns the worst status of rows: red, then yellow, else green.
// Skipped rows count as green.
func Worst(rows []Row) Status {
	worst := Green
	for _, r := range rows {
		if r.Status.severity() > worst.severity() {
			worst = r.Status
		}
	}
	return worst
}

// Problems returns the names of the rows whose status is s.
func (r Report) Problems(s Status) []string {
	var names []string
	for _, row := range r.Rows {
		if row.Status == s {
			names = append(names, row.Check)
		}
	}
	return names
}

// Tally is "1 red, 2 yellow, 4 green, 1 skipped", leaving out zeros.
func (r Report) Tally() string {
	var parts []string
	for _, s := range []Status{Red, Yellow, Green, Skip} {
		n := len(r.Problems(s))
		if n == 0 {
			continue
		}
		word := string(s)
		if s == Skip {
			word = "skipped"
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, word))
	}
	return strings.Join(parts, ", ")
}

// row starts a Row with empty details.
func row(check string, s Status, summary string) Row {
	return Row{Check: check, Status: s, Summary: summary, Details: map[string]any{}}
}

// skip is a skipped row saying why.
func skip(check, why string) Row { return row(check, Skip, why) }
