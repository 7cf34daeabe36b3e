package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cis490/cis490/config"
)

// runCommand runs the command line args and returns its stdout, the exit
// code main would compute, and its error (which main would print).
func runCommand(t testing.TB, args ...string) (stdout string, code int, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), args, &out, &errOut)
	return out.String(), exitCode(t.Context(), err), err
}

// writeConfigFile writes content to receiver.toml in a temp dir.
func writeConfigFile(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "receiver.toml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	good := writeConfigFile(t, "[receive]\nconcurrency = 8\nmax_episode_bytes = \"10GB\"\n[nats]\nurl = \"nats://recv:s3cret@hub.lab:4222\"\n")
	tests := []struct {
		name string
		args []string
		code int
		want []string // in stdout when code is 0, in the error otherwise
	}{
		{"good file", []string{"config", "check", "--config", good},
			0, []string{"ok: " + good + " (receiver)\n", "concurrency = 8\n", `max_episode_bytes = "10GB"`, `url = "nats://recv:xxxxx@hub.lab:4222"`}},
		{"explicit role", []string{"config", "check", "--config", good, "--role", "receiver"},
			0, []string{"ok: " + good + " (receiver)\n"}},
		{"unknown key", []string{"config", "check", "--config", writeConfigFile(t, "[receive]\nconcurency = 4\n")},
			2, []string{`receiver.toml: unknown key "receive.concurency" (did you mean "receive.concurrency"?)`}},
		{"bad size", []string{"config", "check", "--config", writeConfigFile(t, "[quarantine]\nmax_bytes = \"1GiBs\"\n")},
			2, []string{`receiver.toml:2:14: quarantine.max_bytes: invalid size "1GiBs"`}},
		{"out of range", []string{"config", "check", "--config", writeConfigFile(t, "[gc]\ngrace = \"30s\"\n")},
			2, []string{`gc.grace = "30s": must be at least 1m`}},
		{"syntax", []string{"config", "check", "--config", writeConfigFile(t, "[receive\n")},
			2, []string{"receiver.toml:2:"}},
		{"missing file", []string{"config", "check", "--config", "/nonexistent/receiver.toml"},
			2, []string{"/nonexistent/receiver.toml", "no such file"}},
		{"no --config", []string{"config", "check"},
			2, []string{`required flag(s) "config" not set`}},
		{"receiver file as publisher", []string{"config", "check", "--config", good, "--role", "publisher"},
			2, []string{`receiver.toml: unknown key "receive"`}},
		{"unknown role", []string{"config", "check", "--config", good, "--role", "hub"},
			2, []string{`--role "hub": want receiver or publisher`}},
		{"extra argument", []string{"config", "check", "--config", good, "extra"}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, code, err := runCommand(t, tt.args...)
			if code != tt.code {
				t.Fatalf("cis490 %s: exit %d (%v), want %d\n%s", strings.Join(tt.args, " "), code, err, tt.code, out)
			}
			got := out
			if code != 0 {
				got = err.Error()
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("cis490 %s = %q, want it to contain %q", strings.Join(tt.args, " "), got, w)
				}
			}
		})
	}
}

// TestConfigCheckEnv cannot run in parallel: it sets the environment.
func TestConfigCheckEnv(t *testing.T) {
	path := writeConfigFile(t, "[receive]\nconcurrency = 8\n")
	t.Setenv("CIS490_RECEIVE_CONCURRENCY", "4")
	t.Setenv("CIS490_GC_GRACE", "36h")
	t.Setenv("NATS_URL", "nats://hub.lab:4222")
	out, code, err := runCommand(t, "config", "check", "--config", path)
	if code != 0 {
		t.Fatalf("config check with env: exit %d: %v", code, err)
	}
	for _, w := range []string{"concurrency = 4\n", "grace = \"36h\"\n", "url = \"nats://hub.lab:4222\"\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("config check with env = %q, want it to contain %q", out, w)
		}
	}

	t.Setenv("CIS490_RECEIVE_CONCURRENCY", "lots")
	_, code, err = runCommand(t, "config", "check", "--config", path)
	if want := `CIS490_RECEIVE_CONCURRENCY="lots"`; code != 2 || !strings.Contains(err.Error(), want) {
		t.Errorf("config check with a bad env value: exit %d, %v; want 2 naming %s", code, err, want)
	}
}

func TestConfigDefault(t *testing.T) {
	t.Parallel()
	out, code, err := runCommand(t, "config", "default", "--role", "receiver")
	if code != 0 {
		t.Fatalf("config default: exit %d: %v", code, err)
	}
	var want bytes.Buffer
	if err := config.WriteReceiverExample(&want); err != nil {
		t.Fatal(err)
	}
	if out != want.String() {
		t.Errorf("config default =\n%s\nwant config.WriteReceiverExample's output\n%s", out, want.String())
	}
	// What it prints passes config check.
	path := writeConfigFile(t, out)
	if _, code, err := runCommand(t, "config", "check", "--config", path); code != 0 {
		t.Errorf("config check of config default's output: exit %d: %v", code, err)
	}
	if _, code, err := runCommand(t, "config", "default", "--role", "hub"); code != 2 {
		t.Errorf("config default --role hub: exit %d (%v), want 2", code, err)
	}
}

// writeLabHostFile writes content to lab-host.toml in a temp dir.
func writeLabHostFile(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lab-host.toml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigCheckPublisher(t *testing.T) {
	t.Parallel()
	good := writeLabHostFile(t, "host_id = \"lab2\"\ndata_dir = \"/srv/lab\"\n[ship]\nmax_rate = \"2MiB\"\n[nats]\nurl = \"nats://lab2:s3cret@hub.lab:4222\"\n")
	receiver := writeConfigFile(t, "[receive]\nconcurrency = 8\n")
	tests := []struct {
		name string
		args []string
		code int
		want []string // in stdout when code is 0, in the error otherwise
	}{
		{"explicit role", []string{"config", "check", "--config", good, "--role", "publisher"},
			0, []string{"ok: " + good + " (publisher)\n", "host_id = \"lab2\"\n", "data_dir = \"/srv/lab\"\n", `max_rate = "2MiB"`, `url = "nats://lab2:xxxxx@hub.lab:4222"`, "keep_days = 30\n"}},
		{"inferred from host_id", []string{"config", "check", "--config", good},
			0, []string{"ok: " + good + " (publisher)\n", "[ship]\n"}},
		{"receiver file still inferred receiver", []string{"config", "check", "--config", receiver},
			0, []string{"ok: " + receiver + " (receiver)\n"}},
		{"publisher file as receiver", []string{"config", "check", "--config", good, "--role", "receiver"},
			2, []string{`unknown keys "host_id", "data_dir", "ship"`}},
		{"no host id", []string{"config", "check", "--config", writeLabHostFile(t, "[ship]\nconcurrency = 4\n"), "--role", "publisher"},
			2, []string{"host_id: required"}},
		{"bad host id", []string{"config", "check", "--config", writeLabHostFile(t, "host_id = \"Lab 1\"\n")},
			2, []string{`host_id = "Lab 1": want 1 to 32 characters`}},
		{"unknown key", []string{"config", "check", "--config", writeLabHostFile(t, "host_id = \"lab1\"\n[ship]\nconcurency = 4\n")},
			2, []string{`lab-host.toml: unknown key "ship.concurency" (did you mean "ship.concurrency"?)`}},
		{"out of range", []string{"config", "check", "--config", writeLabHostFile(t, "host_id = \"lab1\"\n[ship]\nsegment_size = \"4KiB\"\n")},
			2, []string{`ship.segment_size = "4KiB": must be 64KiB to 1GiB`}},
		{"bad duration", []string{"config", "check", "--config", writeLabHostFile(t, "host_id = \"lab1\"\n[quarantine]\ncleanup_interval = 3600\n")},
			2, []string{`quarantine.cleanup_interval: invalid duration "3600"`}},
		{"missing file", []string{"config", "check", "--config", "/nonexistent/lab-host.toml", "--role", "publisher"},
			2, []string{"/nonexistent/lab-host.toml", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, code, err := runCommand(t, tt.args...)
			if code != tt.code {
				t.Fatalf("cis490 %s: exit %d (%v), want %d\n%s", strings.Join(tt.args, " "), code, err, tt.code, out)
			}
			got := out
			if code != 0 {
				got = err.Error()
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("cis490 %s = %q, want it to contain %q", strings.Join(tt.args, " "), got, w)
				}
			}
		})
	}
}

// TestConfigCheckPublisherEnv cannot run in parallel: it sets the environment.
func TestConfigCheckPublisherEnv(t *testing.T) {
	path := writeLabHostFile(t, "[ship]\nconcurrency = 8\n")
	t.Setenv("CIS490_HOST_ID", "lab7")
	t.Setenv("CIS490_SHIP_CONCURRENCY", "4")
	t.Setenv("NATS_URL", "nats://hub.lab:4222")
	out, code, err := runCommand(t, "config", "check", "--config", path, "--role", "publisher")
	if code != 0 {
		t.Fatalf("config check --role publisher with env: exit %d: %v", code, err)
	}
	for _, w := range []string{"host_id = \"lab7\"\n", "concurrency = 4\n", "url = \"nats://hub.lab:4222\"\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("config check --role publisher with env = %q, want it to contain %q", out, w)
		}
	}

	t.Setenv("CIS490_QUARANTINE_KEEP_DAYS", "-1")
	_, code, err = runCommand(t, "config", "check", "--config", path, "--role", "publisher")
	if want := "quarantine.keep_days = -1"; code != 2 || !strings.Contains(err.Error(), want) {
		t.Errorf("config check with a bad env value: exit %d, %v; want 2 naming %s", code, err, want)
	}
}

func TestConfigDefaultPublisher(t *testing.T) {
	t.Parallel()
	out, code, err := runCommand(t, "config", "default", "--role", "publisher")
	if code != 0 {
		t.Fatalf("config default --role publisher: exit %d: %v", code, err)
	}
	var want bytes.Buffer
	if err := config.WriteLabHostExample(&want); err != nil {
		t.Fatal(err)
	}
	if out != want.String() {
		t.Errorf("config default --role publisher =\n%s\nwant config.WriteLabHostExample's output\n%s", out, want.String())
	}
	// What it prints passes config check, both with the role given and inferred.
	path := writeLabHostFile(t, out)
	for _, args := range [][]string{
		{"config", "check", "--config", path, "--role", "publisher"},
		{"config", "check", "--config", path},
	} {
		out, code, err := runCommand(t, args...)
		if code != 0 || !strings.Contains(out, "(publisher)") {
			t.Errorf("cis490 %s: exit %d (%v), want 0 and role publisher\n%s", strings.Join(args, " "), code, err, out)
		}
	}
}
