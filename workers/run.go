package workers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// passHook runs at the start of every scan pass, numbered from 1: the seam
// of the watchdog tests, which make a pass panic or hang.
var passHook = func(n int) {}

// SetPassHook sets the function run at the start of each scan pass. For
// watchdog tests only (`cis490 publish` arms it from CIS490_FAULT_PASS).
func SetPassHook(f func(n int)) { passHook = f }

// backoff is one episode's transient-failure state.
type backoff struct {
	failures int
	next     time.Time
	err      string
}

// delay is capped exponential backoff with full jitter: 1 s, 2 s, … 5 min.
func delay(failures int) time.Duration {
	d := time.Second << min(failures-1, 9)
	d = min(d, 5*time.Minute)
	return d/2 + rand.N(d/2+1)
}

// candidates lists the episodes to work on now: every journal, then every
// ready episode in episodes/, oldest first.
func (p *Publisher) candidates() (ids []string, backlog int, err error) {
	journaled, err := p.journals()
	if err != nil {
		return nil, 0, err
	}
	seen := map[string]bool{}
	for _, id := range journaled {
		seen[id] = true
		ids = append(ids, id)
	}
	entries, err := os.ReadDir(p.dirs.episodes)
	if err != nil {
		return nil, 0, fmt.Errorf("scan episodes: %w", err)
	}
	type ready struct {
		id  string
		mod time.Time
	}
	var fresh []ready
	cutoff := p.now().Add(-p.o.Settle)
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") || seen[name] {
			continue
		}
		backlog++
		dir := filepath.Join(p.dirs.episodes, name)
		if _, err := os.Lstat(filepath.Join(dir, objectstore.MetaFile)); err != nil {
			continue // still recording: meta.json is written last
		}
		if last := lastChange(dir); last.Before(cutoff) {
			fresh = append(fresh, ready{name, last})
		}
	}
	slices.SortFunc(fresh, func(a, b ready) int { return a.mod.Compare(b.mod) })
	for _, r := range fresh {
		ids = append(ids, r.id)
	}
	return ids, backlog + len(journaled), nil
}

// lastChange is the latest mtime of dir and everything under it.
func lastChange(dir string) time.Time {
	var last time.Time
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.ModTime().After(last) {
			last = fi.ModTime()
		}
		return nil
	})
	return last
}

// claim marks id as held by a worker, unless it is held or backing off.
func (p *Publisher) claim(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.busy[id] {
		return false
	}
	if b := p.retries[id]; b != nil && p.now().Before(b.next) {
		return false
	}
	p.busy[id] = true
	return true
}

// handle runs one episode and keeps its backoff state. It logs a failure
// when it starts or changes, and the recovery, not every retry.
func (p *Publisher) handle(ctx context.Context, id string) error {
	_, err := p.process(ctx, id)
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.busy, id)
	b := p.retries[id]
	switch {
	case err == nil:
		if b != nil {
			p.log.Info("episode recovered after transient failures", "episode", id, "failures", b.failures)
			delete(p.retries, id)
		}
	case ctx.Err() != nil:
		// Stopping: the journal holds the state to resume.
	default:
		if b == nil {
			b = &backoff{}
			p.retries[id] = b
		}
		b.failures++
		b.next = p.now().Add(delay(b.failures))
		if msg := err.Error(); msg != b.err {
			b.err = msg
			if errors.Is(err, objectstore.ErrBucketFull) {
				// Not the episode's fault and not the link's: say whose.
				bucket := subjects.EpisodeBucket(p.o.Host)
				p.log.Warn("episode held up: host bucket full; retrying with backoff", "episode", id, "bucket", bucket,
					"error", err, "failures", b.failures, "retry_in", b.next.Sub(p.now()).Round(time.Second),
					"fix", "ask the hub admin to grow the quota (nats stream edit "+subjects.ObjectStream(bucket)+" --max-bytes <more>) or free space; cis490 doctor shows the bucket's fill")
			} else {
				p.log.Warn("episode held up; retrying with backoff", "episode", id, "error", err, "failures", b.failures)
			}
		} else {
			p.log.Debug("episode still held up", "episode", id, "error", err, "failures", b.failures)
		}
	}
	return err
}

// Run ships episodes until ctx is done: a scan every Interval hands ready
// episodes to Concurrency workers. On return every episode is in a state
// the next Run resumes from.
func (p *Publisher) Run(ctx context.Context) error {
	defer p.vw.stop()
	work := make(chan string)
	slots := make(chan struct{}, p.o.Concurrency) // one per idle-or-busy worker
	var wg sync.WaitGroup
	for range p.o.Concurrency {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case id := <-work:
					p.handle(ctx, id)
					<-slots
				}
			}
		})
	}
	defer wg.Wait()
	t := time.NewTicker(p.o.Interval)
	defer t.Stop()
	for {
		// A pass runs on its own goroutine so that one that hangs (a stuck
		// file system) cannot hold up a stop: the watchdog restarts the
		// daemon for it, and SIGTERM still ends it.
		passed := make(chan struct{})
		go func() {
			defer close(passed)
			p.pass(ctx, work, slots)
		}()
		select {
		case <-ctx.Done():
			return nil
		case <-passed:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// pass is one scan. It never blocks on busy workers, so that it ends, and
// proves to the watchdog that the loop is alive, whatever the uploads do.
func (p *Publisher) pass(ctx context.Context, work chan<- string, slots chan struct{}) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("scan pass panicked", "panic", r)
		}
		if p.o.OnPass != nil {
			p.o.OnPass()
		}
	}()
	p.passes++
	passHook(p.passes)
	ids, backlog, err := p.candidates()
	if err != nil {
		p.log.Warn("scan failed", "error", err)
		return
	}
	p.o.Metrics.backlog(backlog)
	p.backlog.Store(int64(backlog))
	for _, id := range ids {
		if !p.claim(id) {
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			p.unclaim(id) // every worker busy: the next pass comes back
			return
		}
		// A slot is ours, so a worker is free or about to be: this send
		// waits at most for it to finish its previous episode's bookkeeping.
		select {
		case work <- id:
		case <-ctx.Done():
			<-slots
			p.unclaim(id)
			return
		}
	}
}

func (p *Publisher) unclaim(id string) {
	p.mu.Lock()
	delete(p.busy, id)
	p.mu.Unlock()
}

// Summary is what RunOnce did.
type Summary struct {
	Shipped     []string
	Quarantined []string
	// Failed maps an episode that could not be finished to its error.
	Failed map[string]string
	// Unsettled counts episodes skipped because still being written.
	Unsettled int
}

// RunOnce ships the backlog as it stands, every episode once, with no
// retry of transient failures, and reports what happened to each.
func (p *Publisher) RunOnce(ctx context.Context) (Summary, error) {
	defer p.vw.stop()
	s := Summary{Failed: map[string]string{}}
	ids, backlog, err := p.candidates()
	if err != nil {
		return s, err
	}
	s.Unsettled = backlog - len(ids)
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	for range p.o.Concurrency {
		wg.Go(func() {
			for id := range work {
				out, err := p.process(ctx, id)
				mu.Lock()
				switch {
				case err != nil:
					s.Failed[id] = err.Error()
				case out.Shipped:
					s.Shipped = append(s.Shipped, id)
				default:
					s.Quarantined = append(s.Quarantined, id+": "+string(out.Reason))
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		select {
		case work <- id:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	slices.Sort(s.Shipped)
	slices.Sort(s.Quarantined)
	if ctx.Err() != nil {
		return s, ctx.Err()
	}
	if len(s.Failed) > 0 {
		return s, errors.New("some episodes could not be shipped")
	}
	return s, nil
}

// Backlog is the number of episodes in episodes/ and outbox/ not yet
// retired, as of the last scan.
func (p *Publisher) Backlog() int { return int(p.backlog.Load()) }
