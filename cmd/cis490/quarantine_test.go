package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/workers"
)

const quarantineCommit = "0123456789abcdef0123456789abcdef01234567"

// quarantineWrite writes content to path, making its directory.
func quarantineWrite(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// quarantineEpisode writes data/episodes/<id>, stamped or not.
func quarantineEpisode(t testing.TB, data, id string, stamped bool) {
	t.Helper()
	m := map[string]any{"episode_id": id, "recorded_at": "2026-11-20T14:03:11Z"}
	if stamped {
		m["code_version"] = map[string]any{"commit": quarantineCommit}
	}
	b, _ := json.Marshal(m)
	dir := filepath.Join(data, "episodes", id)
	quarantineWrite(t, filepath.Join(dir, "data.bin"), "recording")
	quarantineWrite(t, filepath.Join(dir, "meta.json"), string(b))
}

// quarantineEntry writes data/quarantine/<name> with a reason file for r,
// quarantined at when.
func quarantineEntry(t testing.TB, data, name string, r subjects.Reason, when time.Time) string {
	t.Helper()
	dir := filepath.Join(data, "quarantine", name)
	quarantineWrite(t, filepath.Join(dir, "data.bin"), "recording")
	o := workers.Outcome{Reason: r, Source: "pre-flight", Detail: "detail of " + name, Fix: "fix of " + name,
		Dest: dir, Time: when.UTC()}
	b, _ := json.MarshalIndent(o, "", "  ")
	reason := filepath.Join(dir, workers.ReasonFile)
	quarantineWrite(t, reason, string(b))
	if err := os.Chtimes(reason, when, when); err != nil {
		t.Fatal(err)
	}
	return dir
}

func quarantineExists(data, rel string) bool {
	_, err := os.Lstat(filepath.Join(data, rel))
	return err == nil
}

// quarantineStep is one command line of a sequence run on one data dir.
type quarantineStep struct {
	args     []string // "DATA" is replaced by the data dir
	wantCode int
	wantOut  []string // substrings of stdout
	wantErr  string   // substring of the error, if any
	check    func(t *testing.T, data string)
}

func runQuarantineSteps(t *testing.T, data string, steps []quarantineStep) {
	t.Helper()
	for _, s := range steps {
		args := slices.Clone(s.args)
		for i, a := range args {
			args[i] = strings.ReplaceAll(a, "DATA", data)
		}
		out, code, err := runCommand(t, args...)
		line := "cis490 " + strings.Join(s.args, " ")
		if code != s.wantCode {
			t.Errorf("%s: exit %d (%v), want %d\nstdout:\n%s", line, code, err, s.wantCode, out)
		}
		for _, w := range s.wantOut {
			if !strings.Contains(out, strings.ReplaceAll(w, "DATA", data)) {
				t.Errorf("%s: stdout\n%s\nwant it to contain %q", line, out, w)
			}
		}
		if wantErr := strings.ReplaceAll(s.wantErr, "DATA", data); s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("%s: error %v, want it to contain %q", line, err, s.wantErr)
		}
		if s.check != nil {
			s.check(t, data)
		}
	}
}

func TestQuarantineDrainCommand(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	quarantineEpisode(t, data, "ep-good", true)
	quarantineEpisode(t, data, "ep-old", false)
	quarantineEpisode(t, data, "ep-held", false)
	quarantineWrite(t, filepath.Join(data, "outbox", "ep-held.json"), "{}")
	// host_id left out: not needed here.
	cfg := writeLabHostFile(t, "data_dir = \""+data+"\"\n[ship]\nsettle = \"1h\"\n")
	steps := []quarantineStep{
		{args: []string{"quarantine", "drain-unstamped", "--config", cfg, "--dry-run"}, wantCode: 0,
			wantOut: []string{"kept 2, would quarantine 1\n", "would quarantine ep-old: unstamped -> DATA/quarantine/ep-old\n",
				"kept ep-held: the publisher holds it"},
			check: func(t *testing.T, data string) {
				if !quarantineExists(data, "episodes/ep-old") || quarantineExists(data, "quarantine") {
					t.Errorf("drain-unstamped --dry-run moved something")
				}
			}},
		{args: []string{"quarantine", "drain-unstamped", "--config", cfg}, wantCode: 0,
			wantOut: []string{"kept 2, quarantined 1\n", "  quarantined ep-old: unstamped -> DATA/quarantine/ep-old\n"},
			check: func(t *testing.T, data string) {
				if quarantineExists(data, "episodes/ep-old") || !quarantineExists(data, "quarantine/ep-old/"+workers.ReasonFile) ||
					!quarantineExists(data, "episodes/ep-held") || !quarantineExists(data, "episodes/ep-good") {
					t.Errorf("after drain-unstamped: want ep-old quarantined with its reason, ep-held and ep-good kept")
				}
			}},
		{args: []string{"quarantine", "drain-unstamped", "--config", cfg}, wantCode: 0, wantOut: []string{"kept 2, quarantined 0\n"}},
		{args: []string{"quarantine", "--data-dir", "DATA", "drain-unstamped"}, wantCode: 0, wantOut: []string{"kept 2, quarantined 0\n"}},
		{args: []string{"quarantine", "drain-unstamped", "--data-dir", "relative"}, wantCode: 2, wantErr: "data_dir"},
		{args: []string{"quarantine", "drain-unstamped", "--config", writeLabHostFile(t, "bogus = 1\n")}, wantCode: 2, wantErr: "bogus"},
		{args: []string{"quarantine", "drain-unstamped", "--data-dir", "DATA", "extra"}, wantCode: 2},
		{args: []string{"quarantine", "drain-unstamped", "--data-dir", "DATA", "--bogus"}, wantCode: 2},
	}
	runQuarantineSteps(t, data, steps)
}

func TestQuarantineRequeueCommand(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	now := time.Now()
	quarantineEntry(t, data, "ep-a", subjects.Unstamped, now.Add(-2*time.Hour))
	quarantineEntry(t, data, "ep-b.1", subjects.OutOfWindow, now.Add(-time.Hour))
	quarantineEntry(t, data, "ep-c", subjects.Malformed, now)
	quarantineEpisode(t, data, "ep-c", true) // episodes/ep-c exists
	steps := []quarantineStep{
		{args: []string{"quarantine", "requeue", "--data-dir", "DATA"}, wantCode: 2},
		{args: []string{"quarantine", "requeue", "--data-dir", "DATA", "--reason", "bogus"}, wantCode: 2, wantErr: "bogus"},
		{args: []string{"quarantine", "requeue", "--data-dir", "DATA", "--reason", "accepted"}, wantCode: 2},
		{args: []string{"quarantine", "requeue", "--data-dir", "DATA", "--reason", "unstamped", "ep-a"}, wantCode: 2},
		{args: []string{"quarantine", "requeue", "--data-dir", "DATA", "nosuch"}, wantCode: 1, wantErr: "nosuch"},
		{args: []string{"quarantine", "requeue", "--data-dir", "DATA", "ep-c"}, wantCode: 1, wantErr: "DATA/episodes/ep-c exists"},
		{args: []string{"quarantine", "requeue", "--data-dir", "DATA", "--reason", "corrupt"}, wantCode: 0,
			wantOut: []string{"no quarantined episode has reason corrupt\n"}},
		{args: []string{"quarantine", "requeue", "--data-dir", "DATA", "--reason", "out-of-window"}, wantCode: 0,
			wantOut: []string{"requeued DATA/quarantine/ep-b.1 to DATA/episodes/ep-b\n"},
			check: func(t *testing.T, data string) {
				if !quarantineExists(data, "episodes/ep-b/data.bin") || quarantineExists(data, "episodes/ep-b/"+workers.ReasonFile) {
					t.Errorf("after requeue --reason out-of-window: want episodes/ep-b with its data and no reason file")
				}
			}},
		// One good, one refused: the good one moves, the exit is 1.
		{args: []string{"quarantine", "requeue", "--data-dir", "DATA", "ep-a", "ep-c"}, wantCode: 1,
			wantOut: []string{"requeued DATA/quarantine/ep-a to DATA/episodes/ep-a\n"}, wantErr: "ep-c"},
	}
	runQuarantineSteps(t, data, steps)
}

func TestQuarantineListShowCommand(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	now := time.Now()
	quarantineEntry(t, data, "ep-new", subjects.Conflict, now.Add(-5*time.Minute))
	quarantineEntry(t, data, "ep-old.1", subjects.Unstamped, now.Add(-3*24*time.Hour))
	quarantineWrite(t, filepath.Join(data, "quarantine", "ep-bare", "x.bin"), "x")
	if err := os.Chtimes(filepath.Join(data, "quarantine", "ep-bare"), now.Add(-time.Hour), now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}

	out, code, err := runCommand(t, "quarantine", "ls", "--data-dir", data)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 4 {
		t.Fatalf("quarantine ls: exit %d (%v), stdout\n%s\nwant a header and 3 rows", code, err, out)
	}
	wantRows := [][]string{
		{"ID", "REASON", "SOURCE", "AGE", "SIZE", "DETAIL"},
		{"ep-old.1", "unstamped", "pre-flight", "3d"},
		{"ep-bare", "unknown", "-", "1h", "1", "B", "no", workers.ReasonFile},
		{"ep-new", "conflict", "pre-flight", "5m"},
	}
	for i, want := range wantRows {
		if f := strings.Fields(lines[i]); len(f) < len(want) || !slices.Equal(f[:len(want)], want) {
			t.Errorf("quarantine ls line %d = %q, want it to start with %q", i, lines[i], want)
		}
	}
	if !strings.HasSuffix(lines[3], "detail of ep-new") {
		t.Errorf("quarantine ls row %q does not end with the detail", lines[3])
	}

	out, code, err = runCommand(t, "quarantine", "ls", "--json", "--data-dir", data)
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 3 {
		t.Fatalf("quarantine ls --json: exit %d (%v), stdout\n%s\nwant an array of 3", code, err, out)
	}
	wantKeys := []string{"bytes", "detail", "dir", "fix", "id", "reason", "source", "time"}
	for i, id := range []string{"ep-old.1", "ep-bare", "ep-new"} {
		e := list[i]
		if keys := slices.Sorted(maps.Keys(e)); !slices.Equal(keys, wantKeys) {
			t.Errorf("ls --json entry %d has keys %q, want %q", i, keys, wantKeys)
		}
		if e["id"] != id || e["dir"] != filepath.Join(data, "quarantine", id) {
			t.Errorf("ls --json entry %d = %v, want id %s and its dir", i, e, id)
		}
		if _, err := time.Parse(time.RFC3339Nano, e["time"].(string)); err != nil {
			t.Errorf("ls --json entry %d: time %v: %v", i, e["time"], err)
		}
	}
	if list[2]["fix"] != "fix of ep-new" || list[2]["bytes"] == 0.0 {
		t.Errorf("ls --json entry ep-new = %v, want its fix and a size", list[2])
	}

	out, code, err = runCommand(t, "quarantine", "show", "ep-old.1", "--data-dir", data)
	for _, want := range []string{
		filepath.Join(data, "quarantine", "ep-old.1") + " (episode ep-old)\n",
		"reason unstamped, source pre-flight, quarantined ",
		workers.ReasonFile + ":\n{\n  \"shipped\": false,\n  \"reason\": \"unstamped\",",
		"data.bin\n",
		"\nfix: fix of ep-old.1\n",
		"requeue: cis490 quarantine requeue ep-old.1\n",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("quarantine show ep-old.1: exit %d (%v), stdout\n%s\nwant it to contain %q", code, err, out, want)
		}
	}
	if _, code, err := runCommand(t, "quarantine", "show", "nosuch", "--data-dir", data); code != 1 {
		t.Errorf("quarantine show nosuch: exit %d (%v), want 1", code, err)
	}
	if _, code, _ := runCommand(t, "quarantine", "show", "--data-dir", data); code != 2 {
		t.Errorf("quarantine show without an id: exit %d, want 2", code)
	}

	empty := t.TempDir()
	if out, code, err := runCommand(t, "quarantine", "ls", "--json", "--data-dir", empty); code != 0 || out != "[]\n" {
		t.Errorf("quarantine ls --json of an empty quarantine = %q, exit %d (%v); want \"[]\\n\", 0", out, code, err)
	}
}

func TestQuarantineCleanupCommand(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	now := time.Now()
	quarantineEntry(t, data, "ep-40d", subjects.Unstamped, now.Add(-40*24*time.Hour))
	quarantineEntry(t, data, "ep-10d", subjects.Unstamped, now.Add(-10*24*time.Hour))
	keep30 := writeLabHostFile(t, "data_dir = \""+data+"\"\n[quarantine]\nkeep_days = 30\n")
	keep0 := writeLabHostFile(t, "data_dir = \""+data+"\"\n[quarantine]\nkeep_days = 0\n")
	both := func(old, recent bool) func(t *testing.T, data string) {
		return func(t *testing.T, data string) {
			if quarantineExists(data, "quarantine/ep-40d") != old || quarantineExists(data, "quarantine/ep-10d") != recent {
				t.Errorf("quarantine/ep-40d exists %v, ep-10d %v; want %v, %v",
					quarantineExists(data, "quarantine/ep-40d"), quarantineExists(data, "quarantine/ep-10d"), old, recent)
			}
		}
	}
	steps := []quarantineStep{
		{args: []string{"quarantine", "cleanup", "--config", keep0}, wantCode: 0,
			wantOut: []string{"quarantine.keep_days = 0: quarantined episodes are kept forever; nothing removed\n"}, check: both(true, true)},
		{args: []string{"quarantine", "cleanup", "--config", keep30, "--dry-run"}, wantCode: 0,
			wantOut: []string{"would remove DATA/quarantine/ep-40d (quarantined 40d ago)\n", "would remove 1, keep_days 30\n"}, check: both(true, true)},
		{args: []string{"quarantine", "cleanup", "--config", keep30}, wantCode: 0,
			wantOut: []string{"removed DATA/quarantine/ep-40d (quarantined 40d ago)\n", "removed 1, keep_days 30\n"}, check: both(false, true)},
		{args: []string{"quarantine", "cleanup", "--config", keep30}, wantCode: 0,
			wantOut: []string{"removed 0, keep_days 30\n"}, check: both(false, true)},
	}
	runQuarantineSteps(t, data, steps)
}

func TestQuarantineFormat(t *testing.T) {
	t.Parallel()
	ages := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"}, {45 * time.Second, "45s"}, {12 * time.Minute, "12m"},
		{5 * time.Hour, "5h"}, {47 * time.Hour, "47h"}, {31 * 24 * time.Hour, "31d"},
	}
	for _, tt := range ages {
		if got := formatAge(tt.d); got != tt.want {
			t.Errorf("formatAge(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	sizes := []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {9728, "9.5 KiB"}, {540 << 20, "540 MiB"}, {1288490189, "1.2 GiB"}}
	for _, tt := range sizes {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	cuts := []struct{ in, want string }{
		{"short", "short"}, {"two\nlines", "two…"}, {"abcdefghij", "abcd…"}, {"ééééé", "ééééé"}, {"éééééé", "éééé…"},
	}
	for _, tt := range cuts {
		if got := shorten(tt.in, 5); got != tt.want {
			t.Errorf("shorten(%q, 5) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
