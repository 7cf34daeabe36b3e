package doctor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestClassifyDisk(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	tests := []struct {
		name        string
		free, total uint64
		want        Status
	}{
		{"plenty", 50 * gib, 100 * gib, Green},
		{"exactly 10%", 10 * gib, 100 * gib, Green},
		{"under 10%", 9 * gib, 100 * gib, Yellow},
		{"under 2%", 19 * gib, 1000 * gib, Red},
		{"under 1 GiB", gib - 1, 4 * gib, Red},
		{"empty filesystem report", 0, 0, Red},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := classifyDisk(tt.free, tt.total); got != tt.want {
				t.Errorf("classifyDisk(%d, %d) = %s, want %s", tt.free, tt.total, got, tt.want)
			}
		})
	}
}

func TestDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, path, measured string
	}{
		{"data dir", dir, dir},
		{"not created yet: its parent", filepath.Join(dir, "data", "deeper"), dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Disk(tt.path)
			if r.Status == Skip {
				t.Skipf("no statfs here: %s", r.Summary)
			}
			free, _ := r.Details["free_bytes"].(uint64)
			total, _ := r.Details["total_bytes"].(uint64)
			if total == 0 || free > total {
				t.Fatalf("Disk(%s): free %d of %d", tt.path, free, total)
			}
			if want := classifyDisk(free, total); r.Status != want {
				t.Errorf("Disk(%s) = %s, want %s for %d free of %d", tt.path, r.Status, want, free, total)
			}
			if r.Details["path"] != tt.measured || !strings.Contains(r.Summary, "free of") {
				t.Errorf("Disk(%s): path %v, summary %q; want %s", tt.path, r.Details["path"], r.Summary, tt.measured)
			}
			if r.Status != Green && !strings.Contains(r.Fix, "keep_days") {
				t.Errorf("Disk(%s) is %s with fix %q", tt.path, r.Status, r.Fix)
			}
		})
	}
}

// fakeSystemctl writes a systemctl that prints state and exits with code.
func fakeSystemctl(t *testing.T, state string, code int) string {
	t.Helper()
	return writeSystemctl(t, "#!/bin/sh\n[ \"$1\" = is-active ] && [ \"$2\" = cis490-publisher ] || exit 64\necho "+state+"\nexit "+strconv.Itoa(code)+"\n")
}

// writeSystemctl writes script as an executable named systemctl and
// returns its path.
func writeSystemctl(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "systemctl")
	// Under ForkLock: a parallel test's fork must not inherit the
	// descriptor, or running the script fails with "text file busy".
	syscall.ForkLock.Lock()
	err := os.WriteFile(p, []byte(script), 0o755)
	syscall.ForkLock.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSystemd(t *testing.T) {
	t.Parallel()
	booted := t.TempDir()
	tests := []struct {
		name       string
		systemctl  func(t *testing.T) string
		booted     string
		want       Status
		summary    string
		fix        string
		wantDetail string
	}{
		{"active", func(t *testing.T) string { return fakeSystemctl(t, "active", 0) }, booted, Green, "cis490-publisher is active", "", "active"},
		{"failed", func(t *testing.T) string { return fakeSystemctl(t, "failed", 3) }, booted, Red, "cis490-publisher is failed", "sudo systemctl restart cis490-publisher", "failed"},
		{"inactive", func(t *testing.T) string { return fakeSystemctl(t, "inactive", 3) }, booted, Red, "is inactive", "sudo systemctl enable --now cis490-publisher", "inactive"},
		{"activating", func(t *testing.T) string { return fakeSystemctl(t, "activating", 3) }, booted, Yellow, "is activating", "journalctl -u cis490-publisher", "activating"},
		{"no systemctl", func(t *testing.T) string { return "cis490-test-no-systemctl" }, booted, Skip, "no systemctl", "", ""},
		{"systemd not PID 1", func(t *testing.T) string { return fakeSystemctl(t, "active", 0) }, filepath.Join(booted, "missing"), Skip, "not PID 1", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := systemd(t.Context(), PublisherUnit, tt.systemctl(t), tt.booted)
			if r.Status != tt.want || !strings.Contains(r.Summary, tt.summary) || !strings.Contains(r.Fix, tt.fix) {
				t.Errorf("systemd = %s %q fix %q; want %s %q fix %q", r.Status, r.Summary, r.Fix, tt.want, tt.summary, tt.fix)
			}
			if tt.wantDetail != "" && r.Details["state"] != tt.wantDetail {
				t.Errorf("systemd: state %v, want %s", r.Details["state"], tt.wantDetail)
			}
		})
	}
}

func TestQuarantineUnknownReason(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	layout(t, data)
	if err := os.MkdirAll(filepath.Join(data, "quarantine", "ep-9"), 0o755); err != nil {
		t.Fatal(err)
	}
	quarantined(t, data, "ep-8", "malformed", "")
	r := Quarantine(data, "--config f")
	if r.Status != Yellow || r.Summary != "2 quarantined: 1 malformed, 1 unknown" ||
		!strings.Contains(r.Fix, "cis490 quarantine show ep-8 --config f") {
		t.Errorf("Quarantine = %s %q fix %q", r.Status, r.Summary, r.Fix)
	}
}

func TestBacklogUnreadableJournal(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	layout(t, data)
	if err := os.WriteFile(filepath.Join(data, "outbox", "ep-1.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A temp file of an interrupted write is not a journal.
	if err := os.WriteFile(filepath.Join(data, "outbox", "ep-2.json.tmp-123"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := Backlog(data, time.Now(), 0, "--config f")
	if r.Status != Yellow || !strings.Contains(r.Summary, "ep-1.json is unreadable") || !strings.Contains(r.Summary, "1 journal in outbox/: 1 unreadable") {
		t.Errorf("Backlog = %s %q", r.Status, r.Summary)
	}
}
