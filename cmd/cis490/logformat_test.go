package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cis490/cis490/journald"
	"github.com/cis490/cis490/journald/journaldtest"
)

// TestMain points the journal's socket at a path of this test binary's own,
// so that no test writes to the machine's journal.
func TestMain(m *testing.M) { journaldtest.Main(m) }

// handlerName names the kind of logger's handler.
func handlerName(l *slog.Logger) string {
	switch h := l.Handler().(type) {
	case *slog.TextHandler:
		return "text"
	case *slog.JSONHandler:
		return "json"
	case *journald.Handler:
		return "journal"
	default:
		return slog.AnyValue(h).String()
	}
}

// TestLogFormat checks which handler the process logger gets. It sets
// JOURNAL_STREAM and listens on the redirected journal socket, so it does
// not run in parallel.
func TestLogFormat(t *testing.T) {
	other, err := os.Create(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tests := []struct {
		name    string
		format  string
		stderr  io.Writer // the command's stderr
		stream  *os.File  // the file JOURNAL_STREAM names; nil: unset
		journal bool      // the journal's socket takes datagrams
		want    string    // text, json, journal, or "usage error"
	}{
		{"systemd service", "", os.Stderr, os.Stderr, true, "journal"},
		{"journal stream is another file", "", os.Stderr, other, true, "text"},
		{"no JOURNAL_STREAM", "", os.Stderr, nil, true, "text"},
		{"stderr is not the process's", "", &bytes.Buffer{}, os.Stderr, true, "text"},
		{"journal stream but no socket", "", os.Stderr, os.Stderr, false, "text"},
		{"text asked for under systemd", "text", os.Stderr, os.Stderr, true, "text"},
		{"json asked for under systemd", "json", os.Stderr, os.Stderr, true, "json"},
		{"journal asked for outside systemd", "journal", &bytes.Buffer{}, nil, true, "journal"},
		{"journal asked for, no socket", "journal", os.Stderr, os.Stderr, false, "usage error"},
		{"unknown format", "xml", os.Stderr, os.Stderr, true, "usage error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("JOURNAL_STREAM", "")
			if tt.stream != nil {
				journaldtest.SetStream(t, tt.stream)
			}
			if tt.journal {
				journaldtest.Listen(t)
			}
			g := testGlobals()
			g.logFormat, g.stderr = tt.format, tt.stderr
			l, err := g.logger()
			got := "usage error"
			var ue usageError
			if err == nil {
				got = handlerName(l)
			} else if !errors.As(err, &ue) {
				t.Errorf("logger() = %v, want a usageError", err)
			}
			if got != tt.want {
				t.Errorf("--log-format %q, JOURNAL_STREAM=%q, journal %v: %s (%v), want %s",
					tt.format, os.Getenv("JOURNAL_STREAM"), tt.journal, got, err, tt.want)
			}
		})
	}
}

// TestDaemonLogsToTheJournal runs the hub daemon as systemd would, stderr
// the journal's stream and no --log-format: its log lines reach the journal
// as fields.
func TestDaemonLogsToTheJournal(t *testing.T) {
	j := journaldtest.Listen(t)
	journaldtest.SetStream(t, os.Stderr)
	store := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"hub", "--store", store, "--listen", "127.0.0.1:-1"}, io.Discard, os.Stderr)
	}()
	var e journaldtest.Entry
	for e == nil || !strings.HasPrefix(e["MESSAGE"], "hub ready ") {
		select {
		case err := <-done:
			t.Fatalf("hub returned before it was ready: %v", err)
		default:
		}
		e = j.Next(t)
	}
	cancel()
	if err := <-done; exitCode(ctx, err) != 0 {
		t.Errorf("hub stopped with %v, want a clean stop", err)
	}
	url := e["CLIENT_URL"]
	want := journaldtest.Entry{
		"MESSAGE":           "hub ready component=hub client_url=" + url + " store_dir=" + store + "/jetstream",
		"PRIORITY":          "6",
		"SYSLOG_IDENTIFIER": "cis490",
		"COMPONENT":         "hub",
		"CLIENT_URL":        url,
		"STORE_DIR":         store + "/jetstream",
	}
	if !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Errorf("CLIENT_URL = %q, want the hub's nats://127.0.0.1:<port>", url)
	}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("field %s = %q, want %q", k, e[k], v)
		}
	}
	if len(e) != len(want) {
		t.Errorf("entry has %d fields, want %d: %q", len(e), len(want), e)
	}
}

// TestLogFormatJournalWithoutJournal checks that asking for the journal
// where there is none names the problem, and is a daemon's configuration
// error.
func TestLogFormatJournalWithoutJournal(t *testing.T) {
	for _, tt := range []struct {
		cmd  string
		want int
	}{{"version", 2}, {"publish", exitConfig}} {
		err := run(t.Context(), []string{"--log-format", "journal", tt.cmd}, io.Discard, io.Discard)
		if got := exitCode(t.Context(), err); got != tt.want {
			t.Errorf("cis490 --log-format journal %s: exit %d, want %d", tt.cmd, got, tt.want)
		}
		if err == nil || !strings.Contains(err.Error(), "--log-format journal: the journal's socket") {
			t.Errorf("cis490 --log-format journal %s: error %v, want it to name the journal's socket", tt.cmd, err)
		}
	}
}

// TestExitLine checks that the line of a failed run carries syslog's err
// priority when stderr is the journal's stream, and only then.
func TestExitLine(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fail := usageErrorf("load config: no such file")
	t.Setenv("JOURNAL_STREAM", "")
	if got, want := exitLine(f, fail), "cis490: load config: no such file\n"; got != want {
		t.Errorf("exitLine on a file = %q, want %q", got, want)
	}
	journaldtest.SetStream(t, f)
	if got, want := exitLine(f, fail), "<3>cis490: load config: no such file\n"; got != want {
		t.Errorf("exitLine on the journal's stream = %q, want %q", got, want)
	}
}
