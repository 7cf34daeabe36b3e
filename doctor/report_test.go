package doctor

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cis490/cis490/subjects"
)

func TestWorst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		statuses []Status
		want     Status
	}{
		{"none", nil, Green},
		{"all green", []Status{Green, Green}, Green},
		{"skips count as green", []Status{Skip, Green, Skip}, Green},
		{"only skips", []Status{Skip}, Green},
		{"yellow", []Status{Green, Yellow, Skip}, Yellow},
		{"red beats yellow", []Status{Yellow, Red, Green}, Red},
		{"red first", []Status{Red, Yellow}, Red},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rows []Row
			for _, s := range tt.statuses {
				rows = append(rows, Row{Check: "c", Status: s})
			}
			if got := Worst(rows); got != tt.want {
				t.Errorf("Worst(%v) = %s, want %s", tt.statuses, got, tt.want)
			}
		})
	}
}

// fixedReport is a report with every status, for the renderers.
func fixedReport() Report {
	return NewReport("lab1", time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC), []Row{
		{Check: "config", Status: Green, Summary: "lab-host.toml: valid"},
		{Check: "hub", Status: Red, Summary: "hub unreachable at nats://hub:4222: no servers", Fix: "cis490 publish --ping --config lab-host.toml"},
		{Check: "quarantine", Status: Yellow, Summary: "2 quarantined: 2 unstamped", Fix: "fix the recorder"},
		{Check: "systemd", Status: Skip, Summary: "no systemctl on this host"},
	})
}

func TestWriteText(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteText(&b, fixedReport(), false); err != nil {
		t.Fatal(err)
	}
	want := `cis490 doctor: lab1 at 2026-11-23T09:30:00Z

CHECK       STATUS  SUMMARY
config      green   lab-host.toml: valid
hub         red     hub unreachable at nats://hub:4222: no servers
                    fix: cis490 publish --ping --config lab-host.toml
quarantine  yellow  2 quarantined: 2 unstamped
                    fix: fix the recorder
systemd     skip    no systemctl on this host

status: red (1 red, 1 yellow, 1 green, 1 skipped)
`
	if b.String() != want {
		t.Errorf("WriteText =\n%s\nwant\n%s", b.String(), want)
	}
	if strings.Contains(b.String(), "\x1b[") {
		t.Errorf("WriteText without color wrote escape codes")
	}
}

func TestWriteTextColor(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteText(&b, fixedReport(), true); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{ansiGreen + "green ", ansiRed + "red   ", ansiYellow + "yellow", "status: " + ansiRed + "red" + ansiReset} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("WriteText with color: %q missing in\n%q", s, b.String())
		}
	}
	plain := strings.NewReplacer(ansiGreen, "", ansiYellow, "", ansiRed, "", ansiDim, "", ansiReset, "").Replace(b.String())
	var nocolor bytes.Buffer
	WriteText(&nocolor, fixedReport(), false)
	if plain != nocolor.String() {
		t.Errorf("colour changed the layout:\n%s\nwant\n%s", plain, nocolor.String())
	}
}

// TestJSONSchema checks the documented schema on a real run: exactly the
// documented keys, statuses from the documented set, details an object.
func TestJSONSchema(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.bucket(host)
	layout(t, e.data)
	e.nack(host, subjects.OutOfWindow, "ep-1", commitB)
	quarantined(t, e.data, "ep-1", subjects.OutOfWindow, commitB)
	rep := labHost(e.url, e.data).Run(t.Context())
	var b bytes.Buffer
	if err := WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("WriteJSON wrote invalid JSON: %v\n%s", err, b.String())
	}
	keys := func(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
	if got, want := keys(doc), []string{"host", "rows", "status", "time", "version"}; !slices.Equal(got, want) {
		t.Errorf("top-level keys %v, want %v", got, want)
	}
	if doc["version"] != float64(1) || doc["host"] != host || doc["status"] != "red" {
		t.Errorf("version %v host %v status %v, want 1 %q red", doc["version"], doc["host"], doc["status"], host)
	}
	if _, err := time.Parse(time.RFC3339Nano, doc["time"].(string)); err != nil {
		t.Errorf("time %q: %v", doc["time"], err)
	}
	rows, ok := doc["rows"].([]any)
	if !ok || len(rows) != 8 {
		t.Fatalf("rows = %v, want 8 rows", doc["rows"])
	}
	for _, x := range rows {
		r := x.(map[string]any)
		if got, want := keys(r), []string{"check", "details", "fix", "status", "summary"}; !slices.Equal(got, want) {
			t.Errorf("row keys %v, want %v", got, want)
		}
		if !slices.Contains([]any{"green", "yellow", "red", "skip"}, r["status"]) {
			t.Errorf("row %v: status %v", r["check"], r["status"])
		}
		if _, ok := r["details"].(map[string]any); !ok {
			t.Errorf("row %v: details %v, want an object", r["check"], r["details"])
		}
		for _, k := range []string{"check", "summary", "fix"} {
			if _, ok := r[k].(string); !ok {
				t.Errorf("row %v: %s = %v, want a string", r["check"], k, r[k])
			}
		}
	}
	if !strings.Contains(b.String(), `"filter": "cis490.nack.lab1.>"`) {
		t.Errorf("JSON escapes '>' or lacks the nacks filter:\n%s", b.String())
	}
}

func TestReasonRanking(t *testing.T) {
	t.Parallel()
	got := byRank(map[string]int{"corrupt": 1, "unknown": 1, "unstamped": 5, "malformed": 1, "out-of-window": 1, "conflict": 1})
	want := []string{"out-of-window", "unstamped", "conflict", "malformed", "corrupt", "unknown"}
	if !slices.Equal(got, want) {
		t.Errorf("byRank = %v, want %v", got, want)
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct{ got, want string }{
		{bytesString(0), "0 B"},
		{bytesString(1023), "1023 B"},
		{bytesString(1536), "1.5 KiB"},
		{bytesString(10 << 30), "10 GiB"},
		{age(45 * time.Second), "45s"},
		{age(12 * time.Minute), "12m"},
		{age(3*time.Hour + 12*time.Minute), "3h12m"},
		{age(2 * time.Hour), "2h"},
		{age(50 * time.Hour), "2d2h"},
		{shellQuote("/etc/cis490/lab-host.toml"), "/etc/cis490/lab-host.toml"},
		{shellQuote("/tmp/my dir"), "'/tmp/my dir'"},
		{shellQuote("it's"), `'it'\''s'`},
		{redactURLs("nats://u:secret@hub:4222,nats://hub2:4222"), "nats://u:xxxxx@hub:4222,nats://hub2:4222"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
