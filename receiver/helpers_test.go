package receiver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

const (
	host   = "lab1"
	commit = "0123456789abcdef0123456789abcdef01234567"
)

// env is a hub with a receiver running on it.
type env struct {
	t       testing.TB
	hub     *hub.Hub
	nc      *nats.Conn
	js      jetstream.JetStream
	store   *objectstore.Store
	obs     jetstream.ObjectStore
	archive string
}

// newEnv starts a hub (ack wait shortened so redelivery is quick) without a receiver.
func newEnv(t testing.TB) *env {
	t.Helper()
	h := hubtest.RunServer(t, func(o *hub.Options) { o.Resources.ReceiverAckWait = 3 * time.Second })
	nc, js := hubtest.Connect(t, h.ClientURL())
	obs, err := hub.EnsureHostBucket(t.Context(), js, host, h.Resources())
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, hub: h, nc: nc, js: js, obs: obs, store: objectstore.NewStore(js, obs), archive: t.TempDir()}
}

// run starts a receiver with opts (ArchiveDir defaults to env's) until the test ends.
func (e *env) run(opts receiver.Options) *receiver.Receiver {
	e.t.Helper()
	r, _ := e.start(opts)
	return r
}

// start starts a receiver and returns it with a function that stops it.
// Its logger is the test's unless opts has one.
func (e *env) start(opts receiver.Options) (*receiver.Receiver, func()) {
	e.t.Helper()
	if opts.ArchiveDir == "" {
		opts.ArchiveDir = e.archive
	}
	opts.FetchWait = 500 * time.Millisecond
	if opts.Logger == nil {
		opts.Logger = hubtest.Logger(e.t)
	}
	r, err := receiver.New(e.t.Context(), e.js, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	return r, stop
}

// episode writes an episode directory and returns it.
func episode(t testing.TB, id, commit string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), id)
	os.MkdirAll(dir, 0o755)
	meta := map[string]any{"episode_id": id, "recorded_at": "2026-11-20T14:03:11Z"}
	if commit != "" {
		meta["code_version"] = map[string]any{"commit": commit, "branch": "main"}
	}
	b, _ := json.Marshal(meta)
	os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o644)
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(data), 0o644)
	}
	return dir
}

// upload stores an episode's segments and returns its manifest.
func (e *env) upload(dir string) objectstore.Manifest {
	e.t.Helper()
	return e.uploadAs(host, dir)
}

// uploadAs is upload into host h's bucket.
func (e *env) uploadAs(h, dir string) objectstore.Manifest {
	e.t.Helper()
	m, err := objectstore.Upload(e.t.Context(), e.storeOf(h), dir, objectstore.UploadOptions{
		Host: h, SegmentSize: objectstore.MinSegmentSize, SpoolDir: e.t.TempDir(),
	})
	if err != nil {
		e.t.Fatalf("Upload(%s) = %v", dir, err)
	}
	return m
}

// submit publishes a manifest (any JSON value) and returns its Nats-Msg-Id.
func (e *env) submit(episodeID, digest string, attempt int, body any) string {
	e.t.Helper()
	return e.submitAs(host, episodeID, digest, attempt, body)
}

// submitAs is submit on host h's subject.
func (e *env) submitAs(h, episodeID, digest string, attempt int, body any) string {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	msg := nats.NewMsg(subjects.SubmitSubject(h))
	msg.Data = b
	id := subjects.MsgID(h, episodeID, digest, attempt)
	msg.Header.Set(subjects.HeaderMsgID, id)
	msg.Header.Set(subjects.HeaderEpisode, episodeID)
	// A host has at most hub.ResourceOptions.SubmissionsPerHost waiting:
	// past it the stream refuses the next, and a publisher submits again
	// later, as this does.
	hubtest.CheckFor(e.t, 30*time.Second, 10*time.Millisecond, func() error {
		_, err := e.js.PublishMsg(e.t.Context(), msg)
		if err != nil && !strings.Contains(err.Error(), "maximum messages per subject exceeded") {
			e.t.Fatalf("submit: %v", err)
		}
		return err
	})
	return id
}

// ship uploads and submits an episode directory.
func (e *env) ship(dir string, attempt int) (objectstore.Manifest, string) {
	e.t.Helper()
	m := e.upload(dir)
	return m, e.submit(m.EpisodeID, m.ArchiveSHA256, attempt, m)
}

// verdict waits for the Done verdict of submission id.
func (e *env) verdict(episodeID, id string) objectstore.Verdict {
	e.t.Helper()
	kv, err := e.js.KeyValue(e.t.Context(), subjects.VerdictsBucket)
	if err != nil {
		e.t.Fatal(err)
	}
	var v objectstore.Verdict
	hubtest.CheckFor(e.t, 30*time.Second, 20*time.Millisecond, func() error {
		ent, err := kv.Get(context.Background(), subjects.VerdictKey(host, episodeID))
		if err != nil {
			return err
		}
		if v, err = objectstore.ParseVerdict(ent.Value()); err != nil {
			return err
		}
		if v.Submission != id || !v.Done {
			return fmt.Errorf("verdict is for %s done=%v, want %s done", v.Submission, v.Done, id)
		}
		return nil
	})
	return v
}

// records returns every record on subject filter, in order.
func (e *env) records(filter string) []*jetstream.RawStreamMsg {
	e.t.Helper()
	stream := subjects.QuarantineStream
	if filter == subjects.AcceptedAll || len(filter) > len(subjects.AcceptedPrefix) && filter[:len(subjects.AcceptedPrefix)] == subjects.AcceptedPrefix {
		stream = subjects.AcceptedStream
	}
	s, err := e.js.Stream(e.t.Context(), stream)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	info, err := s.Info(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(e.t.Context(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		if matchSubject(filter, m.Subject) {
			out = append(out, m)
		}
	}
	return out
}

// matchSubject is NATS subject matching: '*' one token, '>' the rest.
func matchSubject(filter, subject string) bool {
	ft, st := split(filter), split(subject)
	for i, f := range ft {
		if f == ">" {
			return len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}

func split(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// storeOf returns the segment store of host h's bucket, made if need be.
func (e *env) storeOf(h string) *objectstore.Store {
	e.t.Helper()
	if h == host {
		return e.store
	}
	obs, err := hub.EnsureHostBucket(e.t.Context(), e.js, h, e.hub.Resources())
	if err != nil {
		e.t.Fatal(err)
	}
	return objectstore.NewStore(e.js, obs)
}

// stored reports how many of m's segments are in its host's bucket.
func (e *env) stored(m objectstore.Manifest) int {
	e.t.Helper()
	n := 0
	st := e.storeOf(m.Host)
	for _, seg := range m.Segments {
		ok, err := st.Has(e.t.Context(), m.EpisodeID, seg)
		if err != nil {
			e.t.Fatal(err)
		}
		if ok {
			n++
		}
	}
	return n
}
