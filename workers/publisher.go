package workers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/durable"
	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/natsconn"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// Window is the hub's commit window as pre-flight sees it. *window.Window is one.
type Window interface {
	Allows(ctx context.Context, commit string) (bool, error)
}

// Options configures a Publisher. Zero fields take defaults.
type Options struct {
	Host    string // required
	DataDir string // required: holds episodes/ outbox/ shipped/ quarantine/
	// SegmentSize defaults to objectstore.DefaultSegmentSize.
	SegmentSize int64
	// NoAnnounce stops the announcements of stored segments that let a
	// receiver read an episode while the rest of it uploads.
	NoAnnounce bool
	// Settle is how long an episode directory must be quiet before it is
	// shipped (default 30 s).
	Settle time.Duration
	// Concurrency is how many episodes are in flight at once (default 8).
	// Of them, at most LargeConcurrency episodes over LargeEpisode bytes
	// of files are uploaded at once (defaults 2 and 16 MiB).
	Concurrency      int
	LargeConcurrency int
	LargeEpisode     int64
	// VerdictTimeout is how long a submission waits for its verdict before
	// it is published again (same Nats-Msg-Id; default 10 min).
	VerdictTimeout time.Duration
	// CorruptRetries is how many times a corrupt episode is uploaded again
	// before it is quarantined (0: the default, 3; negative: none).
	CorruptRetries int
	// Throttle wraps every segment's reader: the bandwidth cap.
	Throttle func(context.Context, io.Reader) io.Reader
	// Window is pre-flight's view of the commit window; nil skips the check.
	Window Window
	// Interval is the time between two scans of episodes/ (default 5 s).
	Interval time.Duration
	Logger   *slog.Logger
	Metrics  *Metrics
	// OnPass is called after every scan pass, even one that failed or
	// panicked: the systemd watchdog's heartbeat.
	OnPass func()
	// Progress, if set, is told of each episode's upload (for --once).
	Progress Progress
	// Once makes a verdict timeout a failure rather than a resubmission:
	// RunOnce must end. The journal keeps the episode waiting for the
	// daemon or the next run.
	Once bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Default concurrency of a publisher. Small episodes are round trips and
// fsyncs more than bytes: eight in flight keep a two-core lab host busy
// (about 200 episodes of 100 KiB a second against 130 with two, in
// docs/benchmarks.md). Large ones are bytes: two at once fill the link
// and the CPU, and each more would cost the publisher about 4 MiB.
const (
	DefaultConcurrency      = 8
	DefaultLargeConcurrency = 2
	// DefaultLargeEpisode is the size, in bytes of files, above which an
	// episode takes one of the LargeConcurrency slots while it uploads.
	DefaultLargeEpisode = 16 << 20
)

// Progress receives upload progress; *progress.Display is one, adapted.
type Progress interface {
	Start(id string, total int64) Task
}

// Task is one episode's progress.
type Task interface {
	Add(n int64)
	Done(outcome string)
}

// Publisher ships a lab host's episodes. Create it with New, then call
// Recover before Run or RunOnce.
type Publisher struct {
	js       jetstream.JetStream
	store    *objectstore.Store
	verdicts jetstream.KeyValue
	vw       *verdictWatch // shared by the episodes awaiting their verdict
	o        Options
	log      *slog.Logger
	dirs     dirs

	mu      sync.Mutex
	backlog atomic.Int64
	// announceOff is set once the hub denied a first announcement.
	announceOff atomic.Bool
	// denials fails the first announcement of an episode fast when the
	// hub denies it.
	denials *natsconn.Denials
	passes  int                 // scan passes run, by Run's goroutine only
	large   chan struct{}       // a slot per large episode being uploaded
	busy    map[string]bool     // episodes a worker holds
	retries map[string]*backoff // episodes failing transiently
}

type dirs struct{ episodes, outbox, shipped, quarantine string }

// ErrNoBucket is returned by New when the host's bucket does not exist and
// cannot be created with this host's permissions.
var ErrNoBucket = errors.New("host bucket missing")

// New binds a Publisher to the hub. It opens the host's bucket, creating it
// if it is missing and the hub allows (a hub without authentication, as in
// the demo); with per-host permissions the admin provisions it.
func New(ctx context.Context, js jetstream.JetStream, o Options) (*Publisher, error) {
	if err := subjects.ValidateHost(o.Host); err != nil {
		return nil, err
	}
	if o.DataDir == "" {
		return nil, errors.New("new publisher: data dir not set")
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = objectstore.DefaultSegmentSize
	}
	if o.Settle == 0 {
		o.Settle = 30 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.LargeConcurrency <= 0 {
		o.LargeConcurrency = DefaultLargeConcurrency
	}
	if o.LargeEpisode <= 0 {
		o.LargeEpisode = DefaultLargeEpisode
	}
	if o.VerdictTimeout <= 0 {
		o.VerdictTimeout = 10 * time.Minute
	}
	switch {
	case o.CorruptRetries == 0:
		o.CorruptRetries = 3
	case o.CorruptRetries < 0:
		o.CorruptRetries = 0
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	bucket := subjects.EpisodeBucket(o.Host)
	obs, err := js.ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = hub.EnsureHostBucket(ctx, js, o.Host, hub.DefaultResourceOptions())
		if err != nil {
			return nil, fmt.Errorf("%w: %s does not exist and this host may not create it (%v): ask the hub admin to create the bucket for host %s", ErrNoBucket, bucket, err, o.Host)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	kv, err := js.KeyValue(ctx, subjects.VerdictsBucket)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", subjects.VerdictsBucket, err)
	}
	d := dirs{
		episodes: filepath.Join(o.DataDir, "episodes"), outbox: filepath.Join(o.DataDir, "outbox"),
		shipped: filepath.Join(o.DataDir, "shipped"), quarantine: filepath.Join(o.DataDir, "quarantine"),
	}
	return &Publisher{
		js: js, store: objectstore.NewStore(js, obs), verdicts: kv, o: o, dirs: d,
		vw:   newVerdictWatch(js.Conn(), o.Host),
		log:  o.Logger.With("component", "publisher", "host", o.Host),
		busy: map[string]bool{}, retries: map[string]*backoff{},
		denials: natsconn.WatchDenials(js.Conn()),
		large:   make(chan struct{}, o.LargeConcurrency),
	}, nil
}

func (p *Publisher) now() time.Time { return p.o.Now() }

// Recover prepares the data directory: it creates the four state
// directories, removes the temp files and spooled segments a crash left
// (among them the marker temps an older cis490 left inside entries of
// shipped/ and quarantine/), and reports the journals that Run will replay.
// It starts no goroutine.
func (p *Publisher) Recover() (int, error) {
	for _, d := range []string{p.dirs.episodes, p.dirs.outbox, p.dirs.shipped, p.dirs.quarantine} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, fmt.Errorf("recover: %w", err)
		}
	}
	for _, d := range []string{p.dirs.outbox, p.dirs.shipped, p.dirs.quarantine} {
		removed, err := durable.Clean(d)
		if err != nil {
			return 0, fmt.Errorf("recover: %w", err)
		}
		for _, name := range removed {
			p.log.Info("removed stale temp", "dir", d, "name", name)
		}
	}
	if err := p.cleanMarkerTemps(); err != nil {
		return 0, fmt.Errorf("recover: %w", err)
	}
	spool, _ := filepath.Glob(filepath.Join(p.dirs.outbox, objectstore.SpoolPattern))
	for _, f := range spool {
		os.Remove(f)
	}
	ids, err := p.journals()
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		j, err := p.load(id)
		if err != nil {
			return 0, err
		}
		p.log.Info("resuming episode", "episode", id, "state", j.State, "attempt", j.Attempt)
	}
	return len(ids), nil
}
