package workers_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/workers"
)

const (
	host   = "lab1"
	commit = "0123456789abcdef0123456789abcdef01234567"
)

// env is a hub and a lab host's data dir.
type env struct {
	t    testing.TB
	hub  *hub.Hub
	js   jetstream.JetStream
	data string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	h := hubtest.RunServer(t, func(o *hub.Options) { o.Resources.ReceiverAckWait = 3 * time.Second })
	_, js := hubtest.Connect(t, h.ClientURL())
	return &env{t: t, hub: h, js: js, data: t.TempDir()}
}

// receive runs a receiver until stop or the end of the test.
func (e *env) receive(w receiver.Window) (stop func()) {
	e.t.Helper()
	r, err := receiver.New(e.t.Context(), e.js, receiver.Options{Window: w, FetchWait: 200 * time.Millisecond, Logger: hubtest.Logger(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	return stop
}

// publisher returns a publisher on env's data dir, settle time 0.
func (e *env) publisher(opts workers.Options) *workers.Publisher {
	e.t.Helper()
	opts.Host, opts.DataDir = host, e.data
	if opts.Settle == 0 {
		opts.Settle = time.Nanosecond
	}
	if opts.SegmentSize == 0 {
		opts.SegmentSize = objectstore.MinSegmentSize
	}
	opts.Logger = hubtest.Logger(e.t)
	p, err := workers.New(e.t.Context(), e.js, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := p.Recover(); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// episode writes data/episodes/<id> with meta (commit "" = unstamped) and files.
func (e *env) episode(id, commit string, files map[string]string) string {
	e.t.Helper()
	dir := filepath.Join(e.data, "episodes", id)
	os.MkdirAll(dir, 0o755)
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(data), 0o644)
	}
	meta := map[string]any{"episode_id": id, "recorded_at": "2026-11-20T14:03:11Z"}
	if commit != "" {
		meta["code_version"] = map[string]any{"commit": commit}
	}
	b, _ := json.Marshal(meta)
	os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o644)
	return dir
}

// reason reads quarantine/<id>/quarantine_reason.json.
func (e *env) reason(id string) workers.Outcome {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.data, "quarantine", id, workers.ReasonFile))
	if err != nil {
		e.t.Fatalf("quarantine reason of %s: %v", id, err)
	}
	var o workers.Outcome
	if err := json.Unmarshal(b, &o); err != nil {
		e.t.Fatal(err)
	}
	return o
}

// exists reports whether data/<rel> exists.
func (e *env) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(e.data, rel))
	return err == nil
}

// noise is n bytes that do not compress.
func noise(n int) string {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return string(b)
}
