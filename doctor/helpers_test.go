package doctor

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/config"
	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/natsconn"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/workers"
)

const (
	host    = "lab1"
	commitA = "0123456789abcdef0123456789abcdef01234567"
	commitB = "fedcba9876543210fedcba9876543210fedcba98"
)

// env is a hub with an admin connection, and a lab host's data dir.
type env struct {
	t    testing.TB
	hub  *hub.Hub
	js   jetstream.JetStream
	url  string
	data string
}

// newEnv starts a hub with the resources, opts applied to its options.
func newEnv(t testing.TB, opts ...func(*hub.Options)) *env {
	t.Helper()
	h := hubtest.RunServer(t, opts...)
	_, js := hubtest.Connect(t, h.ClientURL())
	return &env{t: t, hub: h, js: js, url: h.ClientURL(), data: t.TempDir()}
}

// bucket creates the host's bucket.
func (e *env) bucket(host string) jetstream.ObjectStore {
	e.t.Helper()
	obs, err := e.hub.EnsureHostBucket(e.t.Context(), host)
	if err != nil {
		e.t.Fatal(err)
	}
	return obs
}

// hostMeta publishes body on host h's bucket metadata subject
// $O.<bucket>.M.<token> with the roll-up header rollup, as h may.
func (e *env) hostMeta(h, token, rollup, body string) {
	e.t.Helper()
	msg := nats.NewMsg(strings.TrimSuffix(subjects.ObjectMetaAll(subjects.EpisodeBucket(h)), ">") + token)
	msg.Data = []byte(body)
	msg.Header.Set(jetstream.MsgRollup, rollup)
	if _, err := e.js.PublishMsg(e.t.Context(), msg); err != nil {
		e.t.Fatal(err)
	}
}

// nack publishes a reject record as the receiver does.
func (e *env) nack(host string, r subjects.Reason, episode, commit string) {
	e.t.Helper()
	publishRecord(e.t, e.js, subjects.NackSubject(host, r), host, r, episode, commit)
}

// accepted publishes an accepted record as the receiver does.
func (e *env) accepted(host, episode string) {
	e.t.Helper()
	publishRecord(e.t, e.js, subjects.AcceptedSubject(host), host, subjects.Accepted, episode, commitA)
}

func publishRecord(t testing.TB, js jetstream.JetStream, subject, host string, r subjects.Reason, episode, commit string) {
	t.Helper()
	sha := strings.Repeat("ab", 32)
	rec := objectstore.Record{
		Verdict: objectstore.Verdict{Host: host, EpisodeID: episode, Reason: r, Detail: "detail of " + string(r),
			ArchiveSHA256: sha, CodeVersion: objectstore.CodeVersion{Commit: commit}, Done: true, Time: time.Now().UTC()},
		Manifest: objectstore.Manifest{Version: objectstore.ManifestVersion, Host: host, EpisodeID: episode, ArchiveSHA256: sha},
		Bucket:   subjects.EpisodeBucket(host),
	}
	body, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(subjects.HeaderMsgID, subjects.MsgID(host, episode, sha, 1)+"."+string(r))
	msg.Header.Set(subjects.HeaderHost, host)
	msg.Header.Set(subjects.HeaderEpisode, episode)
	msg.Header.Set(subjects.HeaderReason, string(r))
	if _, err := js.PublishMsg(t.Context(), msg); err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
}

// labHost returns the checks of host on url with dataDir, the systemd
// check made to skip.
func labHost(url, dataDir string) LabHost {
	cfg := config.DefaultPublisher()
	cfg.HostID, cfg.DataDir, cfg.NATS.URL = host, dataDir, url
	return LabHost{Config: cfg, systemctl: "cis490-test-no-systemctl"}
}

// layout creates the four state directories of dataDir.
func layout(t testing.TB, dataDir string) {
	t.Helper()
	for _, d := range []string{"episodes", "outbox", "shipped", "quarantine"} {
		if err := os.MkdirAll(filepath.Join(dataDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// episode writes episodes/<id> with a file, and meta.json when stamped
// is not "" ("-" for a meta.json without commit), all dated at mod.
func episode(t testing.TB, dataDir, id, commit string, mod time.Time) {
	t.Helper()
	dir := filepath.Join(dataDir, "episodes", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"joints.csv": "t,x\n0,1\n"}
	if commit != "" {
		files[objectstore.MetaFile] = fmt.Sprintf(`{"episode_id":%q,"recorded_at":"2026-11-20T14:03:11Z","code_version":{"commit":%q}}`, id, strings.TrimPrefix(commit, "-"))
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(dir, mod, mod); err != nil {
		t.Fatal(err)
	}
}

// journal writes outbox/<id>.json in state s, last updated at updated.
func journal(t testing.TB, dataDir, id string, s workers.State, updated time.Time) {
	t.Helper()
	j := workers.Journal{Version: 1, Host: host, EpisodeID: id, State: s, Attempt: 1, CreatedAt: updated, UpdatedAt: updated}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "outbox", id+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// quarantined writes quarantine/<id>/ with its quarantine_reason.json.
func quarantined(t testing.TB, dataDir, id string, r subjects.Reason, commit string) {
	t.Helper()
	dir := filepath.Join(dataDir, "quarantine", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	o := workers.Outcome{Reason: r, Detail: "detail of " + string(r), Source: "hub",
		CodeVersion: objectstore.CodeVersion{Commit: commit}, Fix: "fix of " + string(r), Dest: dir, Time: time.Now().UTC()}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, workers.ReasonFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rowOf returns the row named check of rep.
func rowOf(t testing.TB, rep Report, check string) Row {
	t.Helper()
	for _, r := range rep.Rows {
		if r.Check == check {
			return r
		}
	}
	t.Fatalf("report has no row %q: %+v", check, rep.Rows)
	return Row{}
}

// closedURL is the URL of a loopback port nothing listens on.
func closedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + l.Addr().String()
	l.Close()
	return url
}

// connect connects the doctor's way to url, closed at cleanup.
func connect(t testing.TB, url string) *Conn {
	t.Helper()
	c, r := Hub(t.Context(), natsOptions(url), HubFix{Recheck: "recheck", Config: "config"})
	if c == nil {
		t.Fatalf("Hub(%s) = %+v, want a connection", url, r)
	}
	t.Cleanup(c.Close)
	return c
}

// natsOptions are the connection settings of url.
func natsOptions(url string) natsconn.Options { return natsconn.Options{URL: url} }
