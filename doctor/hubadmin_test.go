package doctor

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/subjects"
)

func TestHubAdmin(t *testing.T) {
	t.Parallel()
	resources := []string{"CIS490_SUBMISSIONS", "CIS490_QUARANTINE", "CIS490_ACCEPTED", "CIS490_VERDICTS", "CIS490_WINDOW", "consumer receiver"}
	updateStream := func(t *testing.T, e *env, name string, f func(*jetstream.StreamConfig)) {
		t.Helper()
		s, err := e.js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		f(&cfg)
		if _, err := e.js.UpdateStream(t.Context(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, e *env)
		grace   time.Duration // HubAdmin.OrphanGrace
		rows    map[string]want
		overall Status
	}{
		{
			name: "clean",
			rows: map[string]want{
				"hub":                {status: Green},
				"CIS490_SUBMISSIONS": {status: Green, summary: []string{"as configured: cis490.submit.*, workqueue"}},
				"CIS490_QUARANTINE":  {status: Green, summary: []string{"cis490.nack.>, limits"}},
				"consumer receiver":  {status: Green, summary: []string{"0 pending, 0 awaiting ack, 0 redelivered"}},
				"quarantine fill":    {status: Green, summary: []string{"0% of 1.0 GiB used; 0 records"}},
				"hosts":              {status: Green, summary: []string{"no host bucket yet"}},
			},
			overall: Green,
		},
		{
			name: "host activity",
			setup: func(t *testing.T, e *env) {
				e.bucket(host)
				e.bucket("lab2")
				e.accepted(host, "ep-1")
				e.accepted(host, "ep-2")
				e.nack(host, subjects.OutOfWindow, "ep-3", commitB)
				e.nack("lab2", subjects.Malformed, "ep-9", commitA)
			},
			rows: map[string]want{
				"host lab1": {status: Red,
					summary: []string{"EPISODES_LAB1 0% full", "last submission ", "in the last 10m: 2 accepted, 1 episode rejected as out-of-window"},
					fix:     []string{"cis490 window add " + commitB, "then on lab1: cis490 quarantine requeue --reason out-of-window"}},
				"host lab2":       {status: Yellow, summary: []string{"0 accepted, 1 episode rejected as malformed"}, fix: []string{"on lab2: cis490 quarantine show ep-9"}},
				"quarantine fill": {status: Green, summary: []string{"2 records"}},
			},
			overall: Red,
		},
		{
			name:  "orphans",
			grace: time.Nanosecond,
			setup: func(t *testing.T, e *env) {
				// An abandoned segment (no verdict, no submission) of 1000 bytes
				// and a put cut off after two chunks of 500: List sees only the first.
				obs := e.bucket(host)
				if _, err := obs.PutBytes(t.Context(), subjects.SegmentObject("ep-gone", strings.Repeat("ab", 32)), make([]byte, 1000)); err != nil {
					t.Fatal(err)
				}
				for range 2 {
					if _, err := e.js.Publish(t.Context(), subjects.ObjectChunkSubject(subjects.EpisodeBucket(host), "CUTOFFPUT0001"), make([]byte, 500)); err != nil {
						t.Fatal(err)
					}
				}
			},
			rows: map[string]want{
				"host lab1": {status: Green, summary: []string{"2.0 KiB of orphans older than", "(1 segment, 1 cut-off put) for the receiver's next sweep"}},
			},
			overall: Green,
		},
		{
			// lab1 writes what its permissions allow on its own metadata
			// subjects: bytes that are not object info (seq 1), then a
			// roll-up of its whole bucket (seq 3, leaving 2 and 3); lab2
			// only the bytes.
			name: "host-written metadata",
			setup: func(t *testing.T, e *env) {
				e.bucket(host)
				e.bucket("lab2")
				e.hostMeta(host, "x", jetstream.MsgRollupSubject, "not json")
				e.hostMeta(host, "y", jetstream.MsgRollupSubject, "not json")
				e.hostMeta(host, "z", jetstream.MsgRollupAll, "{}")
				e.hostMeta("lab2", "x", jetstream.MsgRollupSubject, "not json")
			},
			rows: map[string]want{
				"host lab1": {status: Red, summary: []string{"host lab1 rolled up its whole bucket at seq 3: segments of pending episodes are gone"},
					fix: []string{"as the hub admin: nats stream rmm OBJ_EPISODES_LAB1 3; then find out why lab1 emptied its bucket"}},
				"host lab2": {status: Yellow, summary: []string{"1 message on its metadata subjects that is not object metadata"},
					fix: []string{"as the hub admin: nats stream rmm OBJ_EPISODES_LAB2 1"}},
			},
			overall: Red,
		},
		{
			name: "option changed",
			setup: func(t *testing.T, e *env) {
				updateStream(t, e, subjects.AcceptedStream, func(c *jetstream.StreamConfig) { c.MaxBytes = 2 << 30 })
			},
			rows: map[string]want{"CIS490_ACCEPTED": {status: Yellow, summary: []string{"differs from hub/resources.go: max_bytes 2147483648, want 1073741824"},
				fix: []string{"sudo systemctl restart cis490-hub"}}},
			overall: Yellow,
		},
		{
			name: "a hub provisioned before the per-host limits",
			setup: func(t *testing.T, e *env) {
				updateStream(t, e, subjects.SubmissionsStream, func(c *jetstream.StreamConfig) {
					c.Discard, c.DiscardNewPerSubject, c.MaxMsgsPerSubject = jetstream.DiscardOld, false, 0
				})
			},
			rows: map[string]want{"CIS490_SUBMISSIONS": {status: Yellow,
				summary: []string{"max_msgs_per_subject -1, want 100", "discard_new_per_subject false, want true"}}},
			overall: Yellow,
		},
		{
			name: "verdicts nearly full",
			setup: func(t *testing.T, e *env) {
				updateStream(t, e, "KV_"+subjects.VerdictsBucket, func(c *jetstream.StreamConfig) { c.MaxBytes = 8 << 10 })
				kv, err := e.js.KeyValue(t.Context(), subjects.VerdictsBucket)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 7 {
					if _, err := kv.Put(t.Context(), subjects.VerdictKey(host, fmt.Sprintf("ep-%d", i)), make([]byte, 900)); err != nil {
						t.Fatal(err)
					}
				}
			},
			rows: map[string]want{subjects.VerdictsBucket: {status: Yellow,
				summary: []string{"% full (", "of 8.0 KiB): past it the receiver can write no verdict"}, fix: []string{"nats kv ls CIS490_VERDICTS"}}},
			overall: Yellow,
		},
		{
			name: "quarantine limits set by receiver.toml",
			setup: func(t *testing.T, e *env) {
				updateStream(t, e, subjects.QuarantineStream, func(c *jetstream.StreamConfig) { c.MaxBytes, c.MaxMsgs = 2<<30, 10 })
				for i := range 9 {
					e.nack(host, subjects.Corrupt, fmt.Sprintf("ep-%d", i), commitA)
				}
			},
			rows: map[string]want{
				"CIS490_QUARANTINE": {status: Green},
				"quarantine fill": {status: Yellow, summary: []string{"9 records (90% of 10)", "the oldest records are being dropped"},
					fix: []string{"[quarantine] max_bytes (or max_msgs) in receiver.toml"}},
			},
		},
		{
			name: "resource missing",
			setup: func(t *testing.T, e *env) {
				if err := e.js.DeleteKeyValue(t.Context(), subjects.WindowBucket); err != nil {
					t.Fatal(err)
				}
			},
			rows:    map[string]want{"CIS490_WINDOW": {status: Red, summary: []string{"CIS490_WINDOW is missing"}, fix: []string{"restart cis490-hub"}}},
			overall: Red,
		},
		{
			name: "no receiver pulling",
			setup: func(t *testing.T, e *env) {
				e.bucket(host)
				if _, err := e.js.Publish(t.Context(), subjects.SubmitSubject(host), []byte(`{}`)); err != nil {
					t.Fatal(err)
				}
			},
			rows: map[string]want{
				"consumer receiver": {status: Yellow, summary: []string{"1 submissions pending and no receiver pulling"}, fix: []string{"systemctl status cis490-receiver"}},
				"host lab1":         {status: Green, summary: []string{"last submission ", "none rejected"}},
			},
			overall: Yellow,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			rep := HubAdmin{NATS: natsOptions(e.url), OrphanGrace: tt.grace, Recheck: "cis490 doctor --hub -s " + e.url}.Run(t.Context())
			if tt.grace == 0 {
				for _, r := range rep.Rows {
					if strings.Contains(r.Summary, "orphans") {
						t.Errorf("row %s counts orphans younger than the default grace: %s", r.Check, r.Summary)
					}
				}
			}
			for _, name := range resources {
				rowOf(t, rep, name)
			}
			for check, w := range tt.rows {
				checkRow(t, rep, check, w)
			}
			if tt.overall != "" && rep.Status != tt.overall {
				t.Errorf("report status %s, want %s: %+v", rep.Status, tt.overall, rep.Rows)
			}
			if rep.Host == "" {
				t.Errorf("report host is empty, want the server's name")
			}
		})
	}
}

func TestHubAdminUnreachable(t *testing.T) {
	t.Parallel()
	url := closedURL(t)
	// On the hub, whose cis490-hub unit failed: the systemd row says so.
	systemctl := fakeUnits(t, map[string]string{HubUnit: "failed", ReceiverUnit: "active"})
	rep := HubAdmin{NATS: natsOptions(url), Recheck: "cis490 doctor --hub -s " + url, systemctl: systemctl, bootedDir: t.TempDir()}.Run(t.Context())
	if len(rep.Rows) != 2 || rep.Status != Red || rep.Host != url {
		t.Fatalf("host %q rows %+v status %s, want %s and only the hub and systemd rows", rep.Host, rep.Rows, rep.Status, url)
	}
	checkRow(t, rep, "hub", want{status: Red, summary: []string{"hub unreachable at " + url}, fix: []string{"systemctl status cis490-hub", "cis490 doctor --hub -s " + url}})
	checkRow(t, rep, "systemd", want{status: Red, summary: []string{"cis490-hub is failed", "cis490-receiver is active"}, fix: []string{"sudo systemctl restart cis490-hub"}})
}

// fakeUnits writes a systemctl that knows the units in states (show
// --property=LoadState --value, is-active) and no other.
func fakeUnits(t *testing.T, states map[string]string) string {
	t.Helper()
	script := "#!/bin/sh\ncase \"$1 $*\" in\n"
	for u, s := range states {
		script += fmt.Sprintf("\"show show --property=LoadState --value %s\") echo loaded;;\n", u)
		code := 3
		if s == "active" {
			code = 0
		}
		script += fmt.Sprintf("\"is-active is-active %s\") echo %s; exit %d;;\n", u, s, code)
	}
	return writeSystemctl(t, script+"show*) echo not-found;;\n*) echo inactive; exit 3;;\nesac\n")
}

func TestHubSystemd(t *testing.T) {
	t.Parallel()
	booted := t.TempDir()
	units := []string{HubUnit, ReceiverUnit}
	for _, tt := range []struct {
		name   string
		states map[string]string
		want   want
	}{
		{"both active", map[string]string{HubUnit: "active", ReceiverUnit: "active"}, want{status: Green, summary: []string{"cis490-hub is active; cis490-receiver is active"}}},
		{"receiver activating", map[string]string{HubUnit: "active", ReceiverUnit: "activating"}, want{status: Yellow, summary: []string{"cis490-receiver is activating"}, fix: []string{"journalctl -u cis490-receiver"}}},
		{"receiver only, hub elsewhere", map[string]string{ReceiverUnit: "failed"}, want{status: Red, summary: []string{"cis490-receiver is failed"}, fix: []string{"sudo systemctl restart cis490-receiver"}}},
		{"away from the hub", map[string]string{}, want{status: Skip, summary: []string{"not installed on this machine"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := hubSystemd(t.Context(), units, fakeUnits(t, tt.states), booted)
			checkRow(t, NewReport("hub", time.Now(), []Row{r}), "systemd", tt.want)
		})
	}
}

func TestCompareStream(t *testing.T) {
	t.Parallel()
	o := hub.DefaultResourceOptions()
	base := hub.SubmissionsConfig(o)
	tests := []struct {
		name     string
		change   func(*jetstream.StreamConfig)
		tolerate []string
		diffs    string
		severe   bool
		ignored  string
	}{
		{"same", func(*jetstream.StreamConfig) {}, nil, "", false, ""},
		{"server spells no limit -1", func(c *jetstream.StreamConfig) { c.MaxMsgs, c.MaxBytes = 0, 0 }, nil, "", false, ""},
		{"subjects", func(c *jetstream.StreamConfig) { c.Subjects = []string{"x.>"} }, nil, "subjects [x.>], want [cis490.submit.*]", true, ""},
		{"retention", func(c *jetstream.StreamConfig) { c.Retention = jetstream.LimitsPolicy }, nil, "retention Limits, want WorkQueue", true, ""},
		{"duplicates", func(c *jetstream.StreamConfig) { c.Duplicates = 2 * time.Minute }, nil, "duplicates 2m0s, want 20m0s", false, ""},
		{"tolerated", func(c *jetstream.StreamConfig) { c.MaxAge = time.Hour }, []string{"max_age"}, "", false, "max_age 1h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := base
			got.Subjects = append([]string(nil), base.Subjects...)
			tt.change(&got)
			diffs, tolerated := compareStream(got, base, tt.tolerate...)
			var s []string
			severe := false
			for _, d := range diffs {
				s = append(s, d.String())
				severe = severe || d.severe
			}
			if strings.Join(s, "; ") != tt.diffs || severe != tt.severe {
				t.Errorf("compareStream: %q severe %v, want %q severe %v", s, severe, tt.diffs, tt.severe)
			}
			if tt.ignored != "" && (len(tolerated) != 1 || !strings.HasPrefix(tolerated[0].String(), tt.ignored)) {
				t.Errorf("compareStream tolerated %v, want %q", tolerated, tt.ignored)
			}
		})
	}
}
