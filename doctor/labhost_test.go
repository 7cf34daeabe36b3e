package doctor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/workers"
)

// want is what a test expects of one row.
type want struct {
	status  Status
	summary []string // substrings of the summary
	fix     []string // substrings of the fix
}

func checkRow(t *testing.T, rep Report, check string, w want) {
	t.Helper()
	r := rowOf(t, rep, check)
	if r.Status != w.status {
		t.Errorf("row %s: status %s, want %s (summary %q, fix %q)", check, r.Status, w.status, r.Summary, r.Fix)
	}
	for _, s := range w.summary {
		if !strings.Contains(r.Summary, s) {
			t.Errorf("row %s: summary %q, want it to contain %q", check, r.Summary, s)
		}
	}
	for _, s := range w.fix {
		if !strings.Contains(r.Fix, s) {
			t.Errorf("row %s: fix %q, want it to contain %q", check, r.Fix, s)
		}
	}
	if (r.Status == Yellow || r.Status == Red) && r.Fix == "" {
		t.Errorf("row %s is %s with no fix", check, r.Status)
	}
	if strings.ContainsAny(r.Summary+r.Fix, "\n") {
		t.Errorf("row %s: summary or fix spans lines: %q / %q", check, r.Summary, r.Fix)
	}
}

func TestLabHost(t *testing.T) {
	t.Parallel()
	green := func(check string, summary ...string) want { return want{status: Green, summary: summary} }
	type tc struct {
		name    string
		setup   func(t *testing.T, e *env, l *LabHost)
		rows    map[string]want
		overall Status
	}
	tests := []tc{
		{
			name: "clean",
			rows: map[string]want{
				"config":     green("config", ": valid, host lab1"),
				"hub":        green("hub", "JetStream available"),
				"bucket":     green("bucket", "EPISODES_LAB1 0% full"),
				"backlog":    green("backlog", "episodes/ and outbox/ empty"),
				"quarantine": green("quarantine", "nothing quarantined"),
				"nacks":      green("nacks", "no episodes rejected in the last 10m"),
				"systemd":    {status: Skip, summary: []string{"no systemctl"}},
			},
		},
		{
			name: "empty data_dir",
			setup: func(t *testing.T, e *env, l *LabHost) {
				for _, d := range []string{"episodes", "outbox", "shipped", "quarantine"} {
					os.RemoveAll(filepath.Join(e.data, d))
				}
			},
			rows: map[string]want{
				"backlog":    green("backlog", "episodes/ and outbox/ empty"),
				"quarantine": green("quarantine", "nothing quarantined"),
			},
			overall: Green,
		},
		{
			name:    "data_dir missing",
			setup:   func(t *testing.T, e *env, l *LabHost) { l.Config.DataDir = filepath.Join(e.data, "never-created") },
			rows:    map[string]want{"backlog": {status: Yellow, summary: []string{"does not exist"}, fix: []string{"cis490-publisher"}}},
			overall: Yellow,
		},
		{
			name: "no nacks for this host",
			setup: func(t *testing.T, e *env, l *LabHost) {
				e.nack("lab2", subjects.OutOfWindow, "ep-other-host", commitB)
			},
			rows:    map[string]want{"nacks": green("nacks", "no episodes rejected")},
			overall: Green,
		},
		{
			name: "nacks older than since",
			setup: func(t *testing.T, e *env, l *LabHost) {
				e.nack(host, subjects.OutOfWindow, "ep-0001", commitB)
				l.Now = func() time.Time { return time.Now().Add(time.Hour) }
			},
			rows: map[string]want{"nacks": green("nacks", "no episodes rejected in the last 10m")},
		},
		{
			name: "out-of-window and unstamped, out-of-window first",
			setup: func(t *testing.T, e *env, l *LabHost) {
				for i := range 2 {
					e.nack(host, subjects.Unstamped, fmt.Sprintf("ep-u%d", i), "")
				}
				for i := range 3 {
					e.nack(host, subjects.OutOfWindow, fmt.Sprintf("ep-o%d", i), commitB)
				}
				e.nack(host, subjects.OutOfWindow, "ep-o0", commitB) // the same episode again: still 3 episodes
				e.nack(host, subjects.Malformed, "ep-m0", commitA)
			},
			rows: map[string]want{"nacks": {status: Red,
				summary: []string{"3 episodes rejected as out-of-window, 2 as unstamped, 1 as malformed in the last 10m"},
				fix:     []string{"cis490 window add " + commitB, "cis490 quarantine requeue --reason out-of-window"}}},
			overall: Red,
		},
		{
			name:  "hub unreachable",
			setup: func(t *testing.T, e *env, l *LabHost) { l.Config.NATS.URL = closedURL(t) },
			rows: map[string]want{
				"config":     green("config"),
				"hub":        {status: Red, summary: []string{"hub unreachable at nats://127.0.0.1:"}, fix: []string{"cis490 publish --ping"}},
				"bucket":     {status: Skip, summary: []string{"no connection to the hub"}},
				"nacks":      {status: Skip, summary: []string{"no connection to the hub"}},
				"backlog":    green("backlog"),
				"quarantine": green("quarantine"),
			},
			overall: Red,
		},
		{
			name: "bucket missing",
			setup: func(t *testing.T, e *env, l *LabHost) {
				if err := e.js.DeleteObjectStore(t.Context(), subjects.EpisodeBucket(host)); err != nil {
					t.Fatal(err)
				}
			},
			rows:    map[string]want{"bucket": {status: Red, summary: []string{"EPISODES_LAB1 is missing"}, fix: []string{"nats object add EPISODES_LAB1"}}},
			overall: Red,
		},
		{
			name: "backlog stuck",
			setup: func(t *testing.T, e *env, l *LabHost) {
				old := time.Now().Add(-3 * time.Hour)
				episode(t, e.data, "ep-0042", commitA, old)
				journal(t, e.data, "ep-0042", workers.Uploading, old)
				episode(t, e.data, "ep-0043", commitA, time.Now().Add(-time.Minute))
				journal(t, e.data, "ep-0043", workers.Waiting, time.Now().Add(-time.Minute))
				episode(t, e.data, "ep-0044", "", time.Now()) // still recording
			},
			rows: map[string]want{"backlog": {status: Yellow,
				summary: []string{"ep-0042 stuck in uploading for 3h", "3 episodes in episodes/", "1 still recording", "2 journals in outbox/: 1 uploading, 1 waiting"},
				fix:     []string{"journalctl -u cis490-publisher", "cis490 publish --once --host-id lab1 --data-dir "}}},
			overall: Yellow,
		},
		{
			name: "ready but not picked up",
			setup: func(t *testing.T, e *env, l *LabHost) {
				episode(t, e.data, "ep-0050", commitA, time.Now().Add(-2*time.Hour))
			},
			rows:    map[string]want{"backlog": {status: Yellow, summary: []string{"ep-0050 ready for 2h", "not picked up"}}},
			overall: Yellow,
		},
		{
			name: "backlog moving",
			setup: func(t *testing.T, e *env, l *LabHost) {
				episode(t, e.data, "ep-0060", commitA, time.Now().Add(-time.Minute))
				journal(t, e.data, "ep-0060", workers.Uploading, time.Now())
			},
			rows: map[string]want{"backlog": green("backlog", "1 episode in episodes/", "1 journal in outbox/: 1 uploading")},
		},
		{
			name: "local quarantine",
			setup: func(t *testing.T, e *env, l *LabHost) {
				quarantined(t, e.data, "ep-u1", subjects.Unstamped, "")
				quarantined(t, e.data, "ep-u2", subjects.Unstamped, "")
				for i := range 3 {
					quarantined(t, e.data, fmt.Sprintf("ep-o%d", i), subjects.OutOfWindow, commitB)
				}
			},
			rows: map[string]want{"quarantine": {status: Yellow,
				summary: []string{"5 quarantined: 3 out-of-window, 2 unstamped"},
				fix:     []string{"cis490 window add " + commitB, "cis490 quarantine requeue --reason out-of-window --host-id lab1"}}},
			overall: Yellow,
		},
		{
			name: "config invalid",
			setup: func(t *testing.T, e *env, l *LabHost) {
				l.ConfigPath = "/etc/cis490/lab-host.toml"
				l.Config.HostID = ""
				l.ConfigErr = errors.New("host_id: required (this lab host's id, e.g. \"lab1\")\nship.concurrency = 0: must be 1 to 16")
			},
			rows: map[string]want{
				"config": {status: Red, summary: []string{"host_id: required", "; ship.concurrency = 0"}, fix: []string{"cis490 config check --config /etc/cis490/lab-host.toml"}},
				"hub":    green("hub"),
				"bucket": {status: Skip, summary: []string{"no valid host_id"}},
				"nacks":  {status: Skip, summary: []string{"no valid host_id"}},
			},
			overall: Red,
		},
	}
	for _, r := range []subjects.Reason{subjects.OutOfWindow, subjects.Unstamped, subjects.Conflict, subjects.Malformed, subjects.Corrupt} {
		s, fix := Yellow, "cis490 quarantine show ep-1"
		if r == subjects.OutOfWindow || r == subjects.Unstamped {
			s = Red
		}
		if r == subjects.OutOfWindow {
			fix = "cis490 window add " + commitB
		}
		if r == subjects.Corrupt {
			fix = "cis490 quarantine requeue --reason corrupt"
		}
		tests = append(tests, tc{
			name:    "nack " + string(r),
			setup:   func(t *testing.T, e *env, l *LabHost) { e.nack(host, r, "ep-1", commitB) },
			rows:    map[string]want{"nacks": {status: s, summary: []string{"1 episode rejected as " + string(r) + " in the last 10m"}, fix: []string{fix}}},
			overall: s,
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.bucket(host)
			layout(t, e.data)
			l := labHost(e.url, e.data)
			if tt.setup != nil {
				tt.setup(t, e, &l)
			}
			rep := l.Run(t.Context())
			names := make([]string, len(rep.Rows))
			for i, r := range rep.Rows {
				names[i] = r.Check
			}
			if got, want := strings.Join(names, " "), "config hub bucket backlog quarantine disk nacks systemd"; got != want {
				t.Errorf("rows %q, want %q", got, want)
			}
			for check, w := range tt.rows {
				checkRow(t, rep, check, w)
			}
			if tt.overall != "" && rowOf(t, rep, "disk").Status == Green && rep.Status != tt.overall {
				t.Errorf("report status %s, want %s: %+v", rep.Status, tt.overall, rep.Rows)
			}
			if rep.Host != l.Config.HostID || rep.Version != SchemaVersion {
				t.Errorf("report host %q version %d, want %q %d", rep.Host, rep.Version, l.Config.HostID, SchemaVersion)
			}
		})
	}
}

// TestBucketQuota fills a small bucket past 80% of its quota.
func TestBucketQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *hub.Options) { o.Resources.HostQuota = 1 << 20 })
	obs := e.bucket(host)
	if _, err := obs.PutBytes(t.Context(), "ep-1/"+strings.Repeat("0", 64), make([]byte, 880<<10)); err != nil {
		t.Fatal(err)
	}
	c := connect(t, e.url)
	r := Bucket(t.Context(), c, host, 0)
	u := bucketUsage{Bucket: "EPISODES_LAB1", Bytes: r.Details["bytes"].(int64), MaxBytes: 1 << 20}
	if p := percent(u.Bytes, u.MaxBytes); p <= BucketYellow || p > BucketRed {
		t.Fatalf("bucket filled to %.1f%%, want between %v and %v for this test", p, BucketYellow, BucketRed)
	}
	checkRow(t, Report{Rows: []Row{r}}, "bucket", want{status: Yellow, summary: []string{"EPISODES_LAB1 8", "% full", "of 1.0 MiB"},
		fix: []string{"nats stream edit OBJ_EPISODES_LAB1 --max-bytes 2MiB"}})
}

func TestBucketClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		bytes, max int64
		want       Status
		segment    int64
	}{
		{0, 100, Green, 0},
		{80, 100, Green, 0},
		{81, 100, Yellow, 0},
		{95, 100, Yellow, 0},
		{96, 100, Red, 0},
		{150, 100, Red, 0},
		{1 << 40, -1, Green, 0},
		{1 << 40, 0, Green, 0},
		// Less room than one segment: red however low the percentage.
		{3 << 20, 4 << 20, Red, 1 << 20},
		{3 << 20, 5 << 20, Green, 1 << 20},
		{90 << 20, 100 << 20, Red, 64 << 20},
		{1 << 40, -1, Green, 64 << 20},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d of %d, segment %d", tt.bytes, tt.max, tt.segment), func(t *testing.T) {
			t.Parallel()
			if got, _ := (bucketUsage{Bucket: "EPISODES_LAB1", Bytes: tt.bytes, MaxBytes: tt.max, Segment: tt.segment}).classify(); got != tt.want {
				t.Errorf("classify(%d of %d, segment %d) = %s, want %s", tt.bytes, tt.max, tt.segment, got, tt.want)
			}
		})
	}
}

// TestPermissionDenied runs the lab host's checks as users the server
// restricts: one with no JetStream API at all, one that may use JetStream
// but not read reject records, and one with a wrong password.
func TestPermissionDenied(t *testing.T) {
	t.Parallel()
	conf := filepath.Join(t.TempDir(), "nats-server.conf")
	if err := os.WriteFile(conf, []byte(`authorization {
  users = [
    {user: admin, password: adminpw}
    {user: nojs, password: nojspw, permissions: {publish: {deny: ["$JS.API.>"]}}}
    {user: nonacks, password: nonackspw, permissions: {publish: {deny: ["$JS.API.CONSUMER.>"]}}}
  ]
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	h := hubtest.RunServer(t, func(o *hub.Options) { o.ConfigFile = conf })
	hostPort := strings.TrimPrefix(h.ClientURL(), "nats://")
	_, js := hubtest.Connect(t, "nats://admin:adminpw@"+hostPort)
	if err := hub.EnsureResources(t.Context(), js, hub.DefaultResourceOptions()); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.EnsureHostBucket(t.Context(), js, host, hub.DefaultResourceOptions()); err != nil {
		t.Fatal(err)
	}
	publishRecord(t, js, subjects.NackSubject(host, subjects.Unstamped), host, subjects.Unstamped, "ep-1", "")

	tests := []struct {
		name string
		user string
		rows map[string]want
	}{
		{"no jetstream", "nojs:nojspw", map[string]want{
			"hub":     {status: Yellow, summary: []string{"JetStream account info: permission denied", "$JS.API.INFO"}},
			"bucket":  {status: Yellow, summary: []string{"cannot read bucket EPISODES_LAB1: permission denied"}},
			"nacks":   {status: Yellow, summary: []string{"cannot read nack records (permission denied"}, fix: []string{"cis490.nack.lab1.>"}},
			"backlog": {status: Green},
		}},
		{"no nack records", "nonacks:nonackspw", map[string]want{
			"hub":    {status: Green},
			"bucket": {status: Green},
			"nacks":  {status: Yellow, summary: []string{"cannot read nack records (permission denied", "CIS490_QUARANTINE"}},
		}},
		{"wrong password", "nojs:wrong", map[string]want{
			"hub":    {status: Red, summary: []string{"refused the credentials", "uthorization"}, fix: []string{"cis490 publish --ping"}},
			"bucket": {status: Skip},
			"nacks":  {status: Skip},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			layout(t, data)
			l := labHost("nats://"+tt.user+"@"+hostPort, data)
			rep := l.Run(t.Context())
			for check, w := range tt.rows {
				checkRow(t, rep, check, w)
			}
			if strings.Contains(rowOf(t, rep, "hub").Summary, tt.user) {
				t.Errorf("hub row shows the password: %q", rowOf(t, rep, "hub").Summary)
			}
		})
	}
}

// TestNacksReadAll reads more records than one pull holds.
func TestNacksReadAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 600
	for i := range n {
		e.nack(host, subjects.Corrupt, fmt.Sprintf("ep-%04d", i), commitA)
	}
	c := connect(t, e.url)
	r := Nacks(t.Context(), c, host, time.Hour, time.Now(), "--config f")
	if r.Details["records"] != n || !strings.Contains(r.Summary, fmt.Sprintf("%d episodes rejected as corrupt in the last 1h", n)) {
		t.Errorf("Nacks: %d records, summary %q; want %d", r.Details["records"], r.Summary, n)
	}
}

// TestNacksRateLimited: the record of a burst of dropped submissions,
// whose reason is not a verdict, is counted under its own name and gets
// its own fix.
func TestNacksRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.nack(host, subjects.RateLimited, "ep-1", "")
	c := connect(t, e.url)
	r := Nacks(t.Context(), c, host, time.Hour, time.Now(), "")
	checkRow(t, Report{Rows: []Row{r}}, "nacks", want{status: Yellow, summary: []string{"1 episode rejected as rate-limited"}, fix: []string{"host_rate"}})
}

func TestNacksStreamMissing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.js.DeleteStream(t.Context(), subjects.QuarantineStream); err != nil {
		t.Fatal(err)
	}
	c := connect(t, e.url)
	r := Nacks(t.Context(), c, host, 0, time.Now(), "")
	checkRow(t, Report{Rows: []Row{r}}, "nacks", want{status: Yellow, summary: []string{"stream CIS490_QUARANTINE not found"}})
	if _, err := e.js.Stream(t.Context(), subjects.QuarantineStream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("doctor created %s: %v", subjects.QuarantineStream, err)
	}
}
