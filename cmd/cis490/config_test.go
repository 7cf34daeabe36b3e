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
		{"publisher role", []string{"config", "check", "--config", good, "--role", "publisher"},
			2, []string{"--role publisher: not supported yet", "only --role receiver"}},
		{"unknown role", []string{"config", "check", "--config", good, "--role", "hub"},
			2, []string{`--role "hub": want receiver`}},
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
	if _, code, err := runCommand(t, "config", "default", "--role", "publisher"); code != 2 {
		t.Errorf("config default --role publisher: exit %d (%v), want 2", code, err)
	}
}
