package journald_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/journald"
	"github.com/cis490/cis490/journald/journaldtest"
)

// The tests that send share the one redirected journal socket, so none of
// them runs in parallel.
func TestMain(m *testing.M) { journaldtest.Main(m) }

// newLogger returns a logger on a journald.Handler at debug level whose
// stderr is the returned buffer.
func newLogger(t testing.TB, opts *journald.Options) (*slog.Logger, *hubtest.Buffer) {
	t.Helper()
	if opts == nil {
		opts = &journald.Options{}
	}
	if opts.Level == nil {
		opts.Level = slog.LevelDebug
	}
	var stderr hubtest.Buffer
	return slog.New(journald.NewHandler(&stderr, opts)), &stderr
}

// requireEntry fails the test unless got has exactly the fields of want.
func requireEntry(t testing.TB, got, want journaldtest.Entry) {
	t.Helper()
	if maps.Equal(got, want) {
		return
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("field %s missing, want %q", k, w)
		} else if g != w {
			t.Errorf("field %s = %q, want %q", k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected field %s=%q", k, g)
		}
	}
}

func TestFields(t *testing.T) {
	j := journaldtest.Listen(t)
	logger, stderr := newLogger(t, nil)
	at := time.Date(2026, 11, 23, 8, 45, 45, 555_123_000, time.UTC)
	logger.With("component", "publisher", "host", "lab1").Info("shipped",
		"episode", "2026-11-21T09-00-00_lab1_0049",
		"attempt", 2,
		"took", 1500*time.Millisecond,
		"since", at,
		"error", fmt.Errorf("put segment 3: %w", errors.New("quota exceeded")),
		"ok", true,
		slog.Group("nats", "url", "nats://hub:4222", slog.Group("tls", "ca", "/etc/ca.pem")),
		"detail", "two words")
	requireEntry(t, j.Next(t), journaldtest.Entry{
		"MESSAGE": `shipped component=publisher host=lab1 episode=2026-11-21T09-00-00_lab1_0049 attempt=2 took=1.5s ` +
			`since=2026-11-23T08:45:45.555Z error="put segment 3: quota exceeded" ok=true ` +
			`nats.url=nats://hub:4222 nats.tls.ca=/etc/ca.pem detail="two words"`,
		"PRIORITY":          "6",
		"SYSLOG_IDENTIFIER": "cis490",
		"COMPONENT":         "publisher",
		"HOST":              "lab1",
		"EPISODE":           "2026-11-21T09-00-00_lab1_0049",
		"ATTEMPT":           "2",
		"TOOK":              "1.5s",
		"SINCE":             "2026-11-23T08:45:45.555Z",
		"ERROR":             "put segment 3: quota exceeded",
		"OK":                "true",
		"NATS_URL":          "nats://hub:4222",
		"NATS_TLS_CA":       "/etc/ca.pem",
		"DETAIL":            "two words",
	})
	if s := stderr.String(); s != "" {
		t.Errorf("stderr = %q, want nothing while the journal takes every record", s)
	}
}

func TestMessageWithoutAttributes(t *testing.T) {
	j := journaldtest.Listen(t)
	logger, _ := newLogger(t, nil)
	logger.Info("publisher ready")
	logger.WithGroup("empty").Info("group without attributes")
	requireEntry(t, j.Next(t), journaldtest.Entry{"MESSAGE": "publisher ready", "PRIORITY": "6", "SYSLOG_IDENTIFIER": "cis490"})
	requireEntry(t, j.Next(t), journaldtest.Entry{"MESSAGE": "group without attributes", "PRIORITY": "6", "SYSLOG_IDENTIFIER": "cis490"})
}

func TestGroups(t *testing.T) {
	j := journaldtest.Listen(t)
	logger, _ := newLogger(t, nil)
	logger.WithGroup("receiver").With("id", "r1").WithGroup("verdict").Warn("sent", "reason", "corrupt", slog.Group("", "inlined", 1))
	requireEntry(t, j.Next(t), journaldtest.Entry{
		"MESSAGE":                  "sent receiver.id=r1 receiver.verdict.reason=corrupt receiver.verdict.inlined=1",
		"PRIORITY":                 "4",
		"SYSLOG_IDENTIFIER":        "cis490",
		"RECEIVER_ID":              "r1",
		"RECEIVER_VERDICT_REASON":  "corrupt",
		"RECEIVER_VERDICT_INLINED": "1",
	})
}

func TestPriority(t *testing.T) {
	j := journaldtest.Listen(t)
	logger, _ := newLogger(t, &journald.Options{Level: slog.LevelDebug - 4})
	tests := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug - 4, "7"},
		{slog.LevelDebug, "7"},
		{slog.LevelInfo, "6"},
		{slog.LevelInfo + 2, "6"},
		{slog.LevelWarn, "4"},
		{slog.LevelError, "3"},
		{slog.LevelError + 4, "3"},
	}
	for _, tt := range tests {
		logger.Log(t.Context(), tt.level, "m")
		if got := j.Next(t)["PRIORITY"]; got != tt.want {
			t.Errorf("level %v: PRIORITY=%s, want %s", tt.level, got, tt.want)
		}
	}
}

func TestLevel(t *testing.T) {
	j := journaldtest.Listen(t)
	logger, _ := newLogger(t, &journald.Options{Level: slog.LevelWarn})
	logger.Info("dropped")
	logger.Warn("kept")
	if got := j.Next(t)["MESSAGE"]; got != "kept" {
		t.Errorf("first entry %q, want kept: info is below the handler's level", got)
	}
}

func TestFieldNames(t *testing.T) {
	j := journaldtest.Listen(t)
	logger, _ := newLogger(t, nil)
	logger.With("host", "from-with").Info("m",
		"host", "from-record", // the later value is kept
		"priority", "high", // must not make a second PRIORITY
		"message", "x",
		"syslog_identifier", "y",
		"code_file", "z",
		"object_pid", 1,
		"_private", "p",
		"2xx", "ok",
		"retry-in", "5s",
		"größe", "9",
		strings.Repeat("k", 70), "long",
		"time", time.Date(2026, 12, 4, 17, 2, 59, 0, time.UTC), // the text handler's own keys
		"level", "high",
		"msg", "inner",
	)
	e := j.Next(t)
	requireEntry(t, e, journaldtest.Entry{
		"MESSAGE":                e["MESSAGE"],
		"PRIORITY":               "6",
		"SYSLOG_IDENTIFIER":      "cis490",
		"HOST":                   "from-record",
		"ATTR_PRIORITY":          "high",
		"ATTR_MESSAGE":           "x",
		"ATTR_SYSLOG_IDENTIFIER": "y",
		"ATTR_CODE_FILE":         "z",
		"ATTR_OBJECT_PID":        "1",
		"ATTR__PRIVATE":          "p",
		"ATTR_2XX":               "ok",
		"RETRY_IN":               "5s",
		"GR__E":                  "9",
		strings.Repeat("K", 64):  "long",
		"TIME":                   "2026-12-04T17:02:59.000Z",
		"LEVEL":                  "high",
		"MSG":                    "inner",
	})
	if want := "m host=from-with host=from-record priority=high "; !strings.HasPrefix(e["MESSAGE"], want) {
		t.Errorf("MESSAGE = %q, want it to start with %q: both host values", e["MESSAGE"], want)
	}
	if want := " time=2026-12-04T17:02:59.000Z level=high msg=inner"; !strings.HasSuffix(e["MESSAGE"], want) {
		t.Errorf("MESSAGE = %q, want it to end with %q: attributes named as the text handler's own keys", e["MESSAGE"], want)
	}
}

func TestValuesAreBinarySafe(t *testing.T) {
	j := journaldtest.Listen(t)
	logger, _ := newLogger(t, nil)
	odd := "line one\nline two\n\x00\xff=end"
	logger.Error("two\nlines", "detail", odd, "raw", []byte("a\nb"))
	e := j.Next(t)
	requireEntry(t, e, journaldtest.Entry{
		"MESSAGE":           "two\nlines detail=\"line one\\nline two\\n\\x00\\xff=end\" raw=\"a\\nb\"",
		"PRIORITY":          "3",
		"SYSLOG_IDENTIFIER": "cis490",
		"DETAIL":            odd,
		"RAW":               "a\nb",
	})
}

func TestEntryLargerThanADatagram(t *testing.T) {
	j := journaldtest.Listen(t)
	logger, stderr := newLogger(t, nil)
	big := strings.Repeat("0123456789abcde\n", 1<<16) // 1 MiB, newlines included
	logger.Info("big", "blob", big)
	e := j.Next(t)
	if e["BLOB"] != big {
		t.Errorf("BLOB has %d bytes, want the %d sent", len(e["BLOB"]), len(big))
	}
	if s := stderr.String(); s != "" {
		t.Errorf("stderr = %.200q, want nothing: the entry goes to the journal as a sealed file", s)
	}
}

// TestConcurrent logs from many goroutines through derived handlers: each
// entry's MESSAGE must match its own fields, not another record's.
func TestConcurrent(t *testing.T) {
	j := journaldtest.Listen(t)
	logger, _ := newLogger(t, nil)
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			l := logger.With("worker", w)
			for n := range each {
				l.Info("m", "n", n)
			}
		})
	}
	seen := map[string]bool{}
	for range workers * each {
		e := j.Next(t)
		if want := fmt.Sprintf("m worker=%s n=%s", e["WORKER"], e["N"]); e["MESSAGE"] != want {
			t.Fatalf("MESSAGE = %q with WORKER=%s N=%s, want %q", e["MESSAGE"], e["WORKER"], e["N"], want)
		}
		seen[e["MESSAGE"]] = true
	}
	wg.Wait()
	if len(seen) != workers*each {
		t.Errorf("%d distinct entries, want %d", len(seen), workers*each)
	}
}

// textLine matches a line of slog's text handler and captures its level,
// message and attributes.
var textLine = regexp.MustCompile(`^(<\d>)?time=\S+ level=(\S+) msg=("[^"]*"|\S+)(.*)$`)

// stderrLines returns the lines written to stderr, each as prefix, level,
// message and attributes.
func stderrLines(t testing.TB, s string) [][]string {
	t.Helper()
	var lines [][]string
	for l := range strings.Lines(s) {
		m := textLine.FindStringSubmatch(strings.TrimSuffix(l, "\n"))
		if m == nil {
			t.Fatalf("stderr line %q is not slog's text line", l)
		}
		lines = append(lines, m[1:])
	}
	return lines
}

func TestNoJournalFallsBackToStderr(t *testing.T) {
	logger, stderr := newLogger(t, nil)
	logger.With("component", "publisher").Warn("held up", "episode", "ep-1")
	logger.Info("second", "episode", "ep-2")
	lines := stderrLines(t, stderr.String())
	if len(lines) != 3 {
		t.Fatalf("stderr has %d lines, want the announcement and both records:\n%s", len(lines), stderr)
	}
	if l := lines[0]; l[1] != "WARN" || !strings.Contains(l[2], "journal does not take log records") || !strings.Contains(l[3], "component=journald error=") {
		t.Errorf("first line %q, want the warning that the journal does not take records, with its error", l)
	}
	if l := lines[1]; l[1] != "WARN" || l[2] != `"held up"` || l[3] != " component=publisher episode=ep-1" {
		t.Errorf("second line %q, want the first record", l)
	}
	if l := lines[2]; l[1] != "INFO" || l[2] != "second" || l[3] != " episode=ep-2" {
		t.Errorf("third line %q, want the second record, and no second warning", l)
	}

	// The journal comes back: records go there again, and the next
	// outage is announced again.
	j := journaldtest.Listen(t)
	before := stderr.String()
	logger.Info("back")
	if got := j.Next(t)["MESSAGE"]; got != "back" {
		t.Errorf("journal got %q, want back", got)
	}
	if s := stderr.String(); s != before {
		t.Errorf("stderr grew by %q while the journal took the record", strings.TrimPrefix(s, before))
	}
	j.Close()
	logger.Info("gone again")
	lines = stderrLines(t, strings.TrimPrefix(stderr.String(), before))
	if len(lines) != 2 || !strings.Contains(lines[0][2], "journal does not take") || lines[1][2] != `"gone again"` {
		t.Errorf("after the second outage stderr has %q, want a new warning and the record", lines)
	}
}

func TestFallbackLinesCarryThePriorityOnTheJournalStream(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	journaldtest.SetStream(t, f)
	logger := slog.New(journald.NewHandler(f, nil))
	logger.Error("failed", "episode", "ep-1")
	logger.Info("note")
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	var prefixes []string
	for _, l := range stderrLines(t, string(b)) {
		prefixes = append(prefixes, l[0]+l[1])
	}
	if want := []string{"<4>WARN", "<3>ERROR", "<6>INFO"}; !slices.Equal(prefixes, want) {
		t.Errorf("stderr lines start %q, want %q:\n%s", prefixes, want, b)
	}
}

// TestHungJournal stands in for a journald that stops reading: its queue
// fills, and then a send blocks. The record waits SendTimeout at most, is
// written to stderr, and later records go straight to stderr while the send
// is stuck. When the journal reads again, the stuck record reaches it too
// (it shows twice, never zero times) and records go to the journal again.
func TestHungJournal(t *testing.T) {
	j := journaldtest.Listen(t)
	logger, stderr := newLogger(t, &journald.Options{SendTimeout: 50 * time.Millisecond})
	resume := j.Pause()
	defer resume()

	// Fill the queue until a record falls back: that one is stuck.
	stuck := -1
	for i := 0; i < 10000 && stuck < 0; i++ {
		logger.Info("queued", "i", i)
		if strings.Contains(stderr.String(), " i="+strconv.Itoa(i)+"\n") {
			stuck = i
		}
	}
	if stuck < 0 {
		t.Fatal("10000 records taken by a journal that reads nothing")
	}
	logger.Info("while stuck")
	lines := stderrLines(t, stderr.String())
	if len(lines) != 3 || lines[2][2] != `"while stuck"` {
		t.Fatalf("stderr has %q, want the warning, the stuck record and the one after it", lines)
	}
	if !strings.Contains(lines[0][3], "no return within 50ms") {
		t.Errorf("warning %q, want it to name the timeout", lines[0])
	}

	resume()
	for i := 0; i <= stuck; i++ {
		if got, want := j.Next(t)["MESSAGE"], "queued i="+strconv.Itoa(i); got != want {
			t.Fatalf("journal entry %d is %q, want %q", i, got, want)
		}
	}
	// The stuck send has returned; until the handler has seen it, a
	// record may still go to stderr. Log until one reaches the journal.
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; ; n++ {
		before := stderr.String()
		logger.Info("after", "n", n)
		if stderr.String() == before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("records still go to stderr 10s after the journal reads again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := j.Next(t)["MESSAGE"]
	if !strings.HasPrefix(got, "after n=") {
		t.Errorf("journal entry after the stuck one is %q, want the first record logged after it returned (the one logged while stuck went to stderr only)", got)
	}
	if n := j.Pending(); n != 0 {
		t.Errorf("journal has %d more entries, want none", n)
	}
}

func TestAvailable(t *testing.T) {
	if err := journald.Available(); !errors.Is(err, journald.ErrUnavailable) {
		t.Errorf("Available() with no journal = %v, want ErrUnavailable", err)
	}
	journaldtest.Listen(t)
	if err := journald.Available(); err != nil {
		t.Errorf("Available() with a journal = %v, want nil", err)
	}
}

func TestIsJournalStream(t *testing.T) {
	dir := t.TempDir()
	stream, err := os.Create(filepath.Join(dir, "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	other, err := os.Create(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	t.Setenv("JOURNAL_STREAM", "")
	if journald.IsJournalStream(stream) {
		t.Error("IsJournalStream without JOURNAL_STREAM = true, want false")
	}
	journaldtest.SetStream(t, stream)
	if !journald.IsJournalStream(stream) {
		t.Errorf("IsJournalStream(the file JOURNAL_STREAM=%s names) = false, want true", os.Getenv("JOURNAL_STREAM"))
	}
	if journald.IsJournalStream(other) {
		t.Error("IsJournalStream(another file) = true, want false")
	}
	if journald.IsJournalStream(&bytes.Buffer{}) {
		t.Error("IsJournalStream(a buffer) = true, want false")
	}
	for _, bad := range []string{"x", "1:", ":1", "1:2:3", "-1:5"} {
		t.Setenv("JOURNAL_STREAM", bad)
		if journald.IsJournalStream(stream) {
			t.Errorf("IsJournalStream with JOURNAL_STREAM=%q = true, want false", bad)
		}
	}
}
