package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cis490/cis490/doctor"
	"github.com/cis490/cis490/hub/hubtest"
)

// labHostToml writes a lab-host.toml for host lab1 on url with its own data dir.
func labHostToml(t *testing.T, url, extra string) (path, dataDir string) {
	t.Helper()
	dir := t.TempDir()
	dataDir = filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "lab-host.toml")
	body := fmt.Sprintf("host_id = \"lab1\"\ndata_dir = %q\n%s[nats]\nurl = %q\n", dataDir, extra, url)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, dataDir
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + l.Addr().String()
	l.Close()
	return url
}

// statusCode is the exit code doctor gives a report of status s.
var statusCode = map[string]int{"green": 0, "yellow": 1, "red": 2}

func TestDoctorExitCode(t *testing.T) {
	t.Parallel()
	rows := func(s ...doctor.Status) doctor.Report {
		var r []doctor.Row
		for i, x := range s {
			r = append(r, doctor.Row{Check: fmt.Sprintf("c%d", i), Status: x})
		}
		return doctor.NewReport("lab1", time.Now(), r)
	}
	tests := []struct {
		name string
		rep  doctor.Report
		want int
		msg  string
	}{
		{"all green", rows(doctor.Green, doctor.Green), 0, ""},
		{"skips allowed", rows(doctor.Green, doctor.Skip), 0, ""},
		{"yellow", rows(doctor.Green, doctor.Yellow), 1, "doctor: yellow: c1"},
		{"red", rows(doctor.Yellow, doctor.Red, doctor.Red), 2, "doctor: red: c1, c2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := doctorResult(tt.rep)
			if got := exitCode(context.Background(), err); got != tt.want {
				t.Errorf("exitCode(doctorResult(%s)) = %d, want %d", tt.rep.Status, got, tt.want)
			}
			if err != nil && err.Error() != tt.msg {
				t.Errorf("doctorResult = %q, want %q", err, tt.msg)
			}
			// Wrapped, the code survives.
			if got := exitCode(context.Background(), fmt.Errorf("run: %w", err)); err != nil && got != tt.want {
				t.Errorf("exitCode(wrapped) = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDoctorHubUnreachable(t *testing.T) {
	t.Parallel()
	cfg, _ := labHostToml(t, closedPort(t), "")
	out, _, code := execute(t, "doctor", "--config", cfg)
	if code != 2 {
		t.Errorf("doctor with the hub down: exit %d, want 2\n%s", code, out)
	}
	for _, line := range []string{"config      green", "hub         red     hub unreachable at nats://127.0.0.1:",
		"bucket      skip    no connection to the hub", "backlog     green", "quarantine  green", "nacks       skip    no connection to the hub",
		"fix: check the WireGuard link (wg show) and that the hub runs, then cis490 publish --ping --config " + cfg} {
		if !strings.Contains(out, line) {
			t.Errorf("doctor output lacks %q:\n%s", line, out)
		}
	}
	if !strings.Contains(out, "\ndisk ") || strings.Contains(out, "\x1b[") {
		t.Errorf("doctor output: no disk row, or colour in a pipe:\n%s", out)
	}
}

func TestDoctorJSON(t *testing.T) {
	t.Parallel()
	h := hubtest.RunServer(t)
	if _, err := h.EnsureHostBucket(t.Context(), "lab1"); err != nil {
		t.Fatal(err)
	}
	cfg, _ := labHostToml(t, h.ClientURL(), "")
	out, _, code := execute(t, "doctor", "--config", cfg, "--json", "--since", "1d")
	var rep doctor.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	if rep.Version != 1 || rep.Host != "lab1" || len(rep.Rows) != 8 {
		t.Errorf("doctor --json: version %d host %q %d rows, want 1, lab1, 8", rep.Version, rep.Host, len(rep.Rows))
	}
	if want := statusCode[string(rep.Status)]; code != want {
		t.Errorf("doctor --json: status %s but exit %d, want %d", rep.Status, code, want)
	}
	for _, r := range rep.Rows {
		if r.Check == "hub" || r.Check == "bucket" || r.Check == "nacks" || r.Check == "backlog" {
			if r.Status != doctor.Green {
				t.Errorf("row %s: %s %q, want green", r.Check, r.Status, r.Summary)
			}
		}
		if r.Check == "nacks" && !strings.Contains(r.Summary, "in the last 24h") {
			t.Errorf("--since 1d: nacks summary %q", r.Summary)
		}
	}
}

func TestDoctorBadConfig(t *testing.T) {
	t.Parallel()
	cfg, _ := labHostToml(t, closedPort(t), "[ship]\nconcurency = 2\n")
	out, _, code := execute(t, "doctor", "--config", cfg)
	if code != 2 {
		t.Errorf("doctor with a bad config: exit %d, want 2", code)
	}
	for _, s := range []string{"config      red", `unknown key "ship.concurency"`, "fix: cis490 config check --config " + cfg, "backlog     green"} {
		if !strings.Contains(out, s) {
			t.Errorf("doctor output lacks %q:\n%s", s, out)
		}
	}
}

func TestDoctorHubMode(t *testing.T) {
	t.Parallel()
	h := hubtest.RunServer(t)
	out, _, code := execute(t, "doctor", "--hub", "-s", h.ClientURL(), "--json")
	var rep doctor.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor --hub --json: %v\n%s", err, out)
	}
	if code != 0 || rep.Status != doctor.Green || rep.Host == "" {
		t.Errorf("doctor --hub on a fresh hub: exit %d, status %s, host %q; want 0 green and the server name\n%s", code, rep.Status, rep.Host, out)
	}
}

func TestDoctorUsage(t *testing.T) {
	t.Parallel()
	tests := [][]string{
		{"doctor", "--since", "soon"},
		{"doctor", "--since", "-5m"},
		{"doctor", "--hub", "--host-id", "lab1"},
		{"doctor", "extra"},
		{"doctor", "--hub", "--config", "/nonexistent/receiver.toml"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			if _, _, code := execute(t, args...); code != 2 {
				t.Errorf("cis490 %s: exit %d, want 2", strings.Join(args, " "), code)
			}
		})
	}
}
