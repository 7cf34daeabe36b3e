package doctor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// ANSI colours of the status column on a terminal.
const (
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiDim    = "\x1b[2m"
	ansiReset  = "\x1b[0m"
)

// WriteJSON writes r as indented JSON and a newline, in the schema of
// docs/doctor.md.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // subjects hold '>'
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteText writes r as a table: a header line, one line per row (check,
// status, summary) with the fix under every row that has one, and the
// overall status last. With color the status words are coloured with ANSI
// escapes; the caller decides (a terminal, NO_COLOR unset). The columns
// are aligned either way.
func WriteText(w io.Writer, r Report, color bool) error {
	bw := bufio.NewWriter(w)
	host := r.Host
	if host == "" {
		host = "(no host id)"
	}
	fmt.Fprintf(bw, "cis490 doctor: %s at %s\n\n", host, r.Time.Format(time.RFC3339))
	width := len("CHECK")
	for _, row := range r.Rows {
		width = max(width, len(row.Check))
	}
	const statusWidth = len("yellow")
	fmt.Fprintf(bw, "%-*s  %-*s  %s\n", width, "CHECK", statusWidth, "STATUS", "SUMMARY")
	indent := strings.Repeat(" ", width+2+statusWidth+2)
	for _, row := range r.Rows {
		status := fmt.Sprintf("%-*s", statusWidth, row.Status)
		if color {
			status = colorize(row.Status, status)
		}
		fmt.Fprintf(bw, "%-*s  %s  %s\n", width, row.Check, status, oneLine(row.Summary))
		if row.Fix != "" && row.Status != Green && row.Status != Skip {
			fmt.Fprintf(bw, "%sfix: %s\n", indent, oneLine(row.Fix))
		}
	}
	overall := string(r.Status)
	if color {
		overall = colorize(r.Status, overall)
	}
	fmt.Fprintf(bw, "\nstatus: %s (%s)\n", overall, r.Tally())
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// colorize wraps s in the colour of status.
func colorize(s Status, text string) string {
	c := ansiDim
	switch s {
	case Green:
		c = ansiGreen
	case Yellow:
		c = ansiYellow
	case Red:
		c = ansiRed
	}
	return c + text + ansiReset
}

// oneLine joins the lines of s with "; ", so a row stays one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	var parts []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}
