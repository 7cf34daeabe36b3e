package receiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// Window decides the commit gate. *window.Window is one.
type Window interface {
	Allows(ctx context.Context, commit string) (bool, error)
}

// Options configures a Receiver. Zero fields take defaults.
type Options struct {
	// ID names this receiver in verdicts and logs (default host-pid).
	ID string
	// Concurrency is how many submissions are judged at once (default 4).
	Concurrency int
	// ArchiveDir, if set, receives every accepted episode unpacked at
	// ArchiveDir/<host>/<episode-id>/.
	ArchiveDir string
	// ArchiveHostQuota, if more than 0, bounds the bytes of the files under
	// one host's ArchiveDir/<host>/: an export that would pass it waits
	// (the submission is retried), one larger than it is malformed.
	ArchiveHostQuota int64
	// ArchiveMinFree and ArchiveMinFreePercent (of the file system's size)
	// are the free space an export must leave on ArchiveDir's file system,
	// the larger of the two; an export that would leave less waits. Zero:
	// none.
	ArchiveMinFree        int64
	ArchiveMinFreePercent float64
	// Limits bound what an archive may unpack to.
	Limits objectstore.Limits
	// Window is the commit gate; nil accepts any stamped commit.
	Window Window
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// Metrics, if set, is updated as submissions are judged.
	Metrics *Metrics
	// FetchWait bounds one pull request (default 5 s).
	FetchWait time.Duration
	// Drain is how long submissions in hand may run on after Run's context
	// ends before they are abandoned and handed back for redelivery
	// (default 20 s, inside systemd's default stop timeout).
	Drain time.Duration
	// AcceptedKeep, if more than 0, lets SweepOrphans delete the segments
	// of an accepted episode once they are older than this. The verdict,
	// the accepted record and the export stay; a resubmission of the same
	// episode is uploaded again and accepted again without a second export.
	AcceptedKeep time.Duration
	// EarlyReads is how many announced episodes may be read at once ahead
	// of their submission, while the rest of them uploads (default 2;
	// negative: none, every archive is read once it is submitted).
	EarlyReads int
	// HostRate and HostBurst are each host's submission budget: a token
	// bucket of HostBurst submissions refilled at HostRate a second
	// (defaults DefaultHostRate and DefaultHostBurst; a negative HostRate:
	// no budget). A first delivery over it is dropped unjudged (overBudget).
	HostRate  float64
	HostBurst int
	// OnPass is called after every pull, whether it brought work or not: a
	// daemon's proof of life for the systemd watchdog.
	OnPass func()
}

// Receiver judges submissions. Create it with New, run it with Run.
type Receiver struct {
	js       jetstream.JetStream
	cons     jetstream.Consumer
	verdicts jetstream.KeyValue
	o        Options
	log      *slog.Logger
	ackWait  time.Duration

	early  *earlyReads
	budget *budget
	usage  exportUsage

	mu      sync.Mutex
	buckets map[string]*objectstore.Store
}

// ErrNotProvisioned is returned by New when the hub's resources do not exist.
var ErrNotProvisioned = errors.New("hub resources not provisioned")

// New binds a Receiver to the hub's consumer and verdicts bucket, which must exist.
func New(ctx context.Context, js jetstream.JetStream, o Options) (*Receiver, error) {
	if o.ID == "" {
		h, _ := os.Hostname()
		o.ID = h + "-" + strconv.Itoa(os.Getpid())
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Drain <= 0 {
		o.Drain = 20 * time.Second
	}
	if o.FetchWait <= 0 {
		o.FetchWait = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.EarlyReads == 0 {
		o.EarlyReads = 2
	}
	if o.HostRate == 0 {
		o.HostRate = DefaultHostRate
	}
	if o.HostBurst <= 0 {
		o.HostBurst = DefaultHostBurst
	}
	cons, err := js.Consumer(ctx, subjects.SubmissionsStream, subjects.ReceiverConsumer)
	if err != nil {
		return nil, fmt.Errorf("%w: consumer %s on %s: %w", ErrNotProvisioned, subjects.ReceiverConsumer, subjects.SubmissionsStream, err)
	}
	kv, err := js.KeyValue(ctx, subjects.VerdictsBucket)
	if err != nil {
		return nil, fmt.Errorf("%w: key-value %s: %w", ErrNotProvisioned, subjects.VerdictsBucket, err)
	}
	r := &Receiver{
		js: js, cons: cons, verdicts: kv, o: o,
		log:     o.Logger.With("component", "receiver", "receiver_id", o.ID),
		ackWait: cons.CachedInfo().Config.AckWait,
		buckets: map[string]*objectstore.Store{},
	}
	if r.ackWait <= 0 {
		r.ackWait = 30 * time.Second
	}
	r.early = newEarlyReads(r, o.EarlyReads)
	r.budget = newBudget(o.HostRate, o.HostBurst)
	return r, nil
}

// Run judges submissions until ctx is done, then lets the submissions in
// hand finish for up to Options.Drain before it abandons them: they are
// naked and redelivered, and a written decision is resumed, not re-judged.
func (r *Receiver) Run(ctx context.Context) error {
	if err := r.cleanExports(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { r.early.run(ctx) })
	for i := range r.o.Concurrency {
		wg.Go(func() { r.worker(ctx, i) })
	}
	wg.Wait()
	return nil
}

func (r *Receiver) worker(ctx context.Context, n int) {
	log := r.log.With("worker", n)
	failures := 0
	for ctx.Err() == nil {
		batch, err := r.cons.Fetch(1, jetstream.FetchMaxWait(r.o.FetchWait))
		if err != nil {
			failures++
			if failures == 1 || failures%60 == 0 {
				log.Warn("fetch submissions", "error", err, "failures", failures)
			}
			sleep(ctx, backoff(failures))
			continue
		}
		for msg := range batch.Messages() {
			// A submission in hand is finished even if ctx ends meanwhile:
			// handle uses its own context, bounded by the ack wait.
			r.handle(ctx, msg)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			failures++
			if failures == 1 || failures%60 == 0 {
				log.Warn("fetch submissions", "error", err, "failures", failures)
			}
			sleep(ctx, backoff(failures))
		} else {
			failures = 0
		}
		if r.o.OnPass != nil {
			r.o.OnPass()
		}
	}
}

// backoff is a capped exponential delay with full jitter.
func backoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 6) // 2 s .. 64 s
	return d/2 + rand.N(d/2)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// progressKey carries a submission's byte counter through its context.
type progressKey struct{}

func withProgress(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, progressKey{}, n)
}

// countingSource counts the bytes read from a store into the counter of
// the context a segment is opened with.
type countingSource struct{ st *objectstore.Store }

func (c countingSource) Open(ctx context.Context, episode string, seg objectstore.Segment) (io.ReadCloser, error) {
	rc, err := c.st.Open(ctx, episode, seg)
	if err != nil {
		return nil, err
	}
	n, _ := ctx.Value(progressKey{}).(*atomic.Int64)
	if n == nil {
		return rc, nil
	}
	return countingReader{rc, func(k int64) { n.Add(k) }}, nil
}

// countingReader tells add of every byte read.
type countingReader struct {
	io.ReadCloser
	add func(int64)
}

func (c countingReader) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.add(int64(k))
	return k, err
}

// store returns the segment store of host's bucket.
func (r *Receiver) store(ctx context.Context, host string) (*objectstore.Store, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.buckets[host]; ok {
		return s, nil
	}
	obs, err := r.js.ObjectStore(ctx, subjects.EpisodeBucket(host))
	if err != nil {
		return nil, err
	}
	s := objectstore.NewStore(r.js, obs)
	r.buckets[host] = s
	return s, nil
}
