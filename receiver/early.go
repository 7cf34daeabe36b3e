package receiver

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/cis490/cis490/natsconn"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// Early reads: a publisher announces each segment of a multi-segment
// episode as it stores it (subjects.AnnounceSubject). The first
// announcement is a request to the receivers' queue group; the receiver
// that answers starts an objectstore.EarlyRead and gets the next ones on
// its own subject, so that it verifies, decompresses and validates the
// archive while the rest is still uploading. When the submission comes,
// judge finishes the early read instead of reading the archive again;
// when the early read cannot stand for a full read (another receiver
// took the submission, a lost announcement, any finding against the
// archive), judge reads it as always. The verdict is the same either way.

// earlyIdle is how long an early read waits for its next announcement or
// for its submission before it is given up. A publisher submits as soon
// as its upload ends; with several receivers, the submission often goes
// to another, and the early read (its goroutines, buffers and export
// temp) must not outlive that by long. A submission that waited in a
// backlog for longer is read again: slower, not wrong.
const earlyIdle = time.Minute

// earlyReads is the receiver's table of episodes being read early.
type earlyReads struct {
	r     *Receiver
	token string // this receiver's subject token in subjects.AnnounceTo
	max   int
	idle  time.Duration

	mu   sync.Mutex
	ctx  context.Context // Run's; nil when not running
	open map[string]*earlyRead
}

// earlyRead is one episode being read early.
type earlyRead struct {
	*objectstore.EarlyRead
	key string
	ex  *export
	// progress is the counter of the submission that took the read, for
	// its heartbeat; bytes counts what was read, before and after.
	progress atomic.Pointer[atomic.Int64]
	bytes    atomic.Int64
	last     atomic.Int64 // unix nanoseconds of the last announcement or byte read
	gap      atomic.Int64 // the longest wait between two announcements, ns
}

// touch notes activity: an announcement (which also measures the wait
// since the one before), or bytes read.
func (er *earlyRead) touch(announced bool) {
	now := time.Now().UnixNano()
	if prev := er.last.Swap(now); announced && now-prev > er.gap.Load() {
		er.gap.Store(now - prev)
	}
}

// idleFor is how long er may go without activity: earlyIdle, or twice the
// longest wait between its announcements on a link slower than that.
func (er *earlyRead) idleFor(idle time.Duration) time.Duration {
	return max(idle, 2*time.Duration(er.gap.Load()))
}

func newEarlyReads(r *Receiver, max int) *earlyReads {
	return &earlyReads{r: r, token: nuid.Next(), max: max, idle: earlyIdle, open: map[string]*earlyRead{}}
}

// run answers announcements until ctx is done, then gives up the early
// reads still open.
func (e *earlyReads) run(ctx context.Context) {
	if e.max <= 0 {
		return
	}
	nc := e.r.js.Conn()
	first, err := nc.QueueSubscribe(subjects.AnnounceFirstAll, subjects.ReceiversQueue, e.onFirst)
	if err != nil {
		e.r.log.Warn("early reads off: subscribe to announcements", "error", err)
		return
	}
	defer first.Unsubscribe()
	next, err := nc.Subscribe(subjects.AnnounceToAll(e.token), e.onNext)
	if err != nil {
		e.r.log.Warn("early reads off: subscribe to announcements", "error", err)
		return
	}
	defer next.Unsubscribe()
	e.mu.Lock()
	e.ctx = ctx
	e.mu.Unlock()
	t := time.NewTicker(e.idle / 6)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			e.mu.Lock()
			e.ctx = nil
			open := e.open
			e.open = map[string]*earlyRead{}
			e.mu.Unlock()
			for _, er := range open {
				er.drop()
			}
			return
		case <-t.C:
			e.expire()
		}
	}
}

// expire gives up the early reads idle for longer than e.idle.
func (e *earlyReads) expire() {
	now := time.Now()
	var idle []*earlyRead
	e.mu.Lock()
	for k, er := range e.open {
		if er.last.Load() < now.Add(-er.idleFor(e.idle)).UnixNano() {
			delete(e.open, k)
			idle = append(idle, er)
		}
	}
	e.mu.Unlock()
	for _, er := range idle {
		e.r.log.Info("early read given up: no submission", "key", er.key, "segments", er.Segments())
		er.drop()
	}
}

// onFirst answers the first announcement of an episode: with the subject
// of the next ones if this receiver starts reading it, else with "".
func (e *earlyReads) onFirst(msg *nats.Msg) {
	host, a, ok := parseAnnouncement(msg)
	if !ok || !e.isInbox(msg.Reply, host) {
		// The answer goes where the request says, with the receiver's
		// right to respond: only ever to the host's own inbox.
		return
	}
	to := ""
	if a.Index == 0 && msg.Subject == subjects.AnnounceSubject(host) && e.start(host, a) {
		to = subjects.AnnounceTo(host, e.token)
	}
	b, _ := json.Marshal(objectstore.AnnounceReply{To: to})
	_ = msg.Respond(b)
}

// onNext adds an announced segment to its early read; one out of order,
// or for no read, ends that read.
func (e *earlyReads) onNext(msg *nats.Msg) {
	host, a, ok := parseAnnouncement(msg)
	if !ok {
		return
	}
	key := subjects.VerdictKey(host, a.EpisodeID)
	e.mu.Lock()
	er := e.open[key]
	e.mu.Unlock()
	if er == nil {
		return
	}
	if er.Add(a.Index, a.Segment) {
		er.touch(true)
		return
	}
	// Refused: the read ends here, unless a submission has just taken it
	// (then it is the submission's, and Add refused because it closed).
	e.mu.Lock()
	owned := e.open[key] == er
	if owned {
		delete(e.open, key)
	}
	e.mu.Unlock()
	if !owned {
		return
	}
	e.r.log.Info("early read given up: announcement refused", "key", key, "index", a.Index, "segments", er.Segments())
	er.drop()
}

// isInbox reports whether reply is a reply subject of host's own: below
// its inbox prefix (natsconn.InboxPrefix). The default "_INBOX." is taken
// too, but only when this receiver uses it itself: a hub without per-user
// inboxes. Under per-user permissions every host replies below its own
// prefix, and an answer on "_INBOX." could reach another user's requests.
func (e *earlyReads) isInbox(reply, host string) bool {
	if strings.HasPrefix(reply, natsconn.InboxPrefix(host)+".") {
		return true
	}
	own := e.r.js.Conn().Opts.InboxPrefix
	return (own == "" || own+"." == nats.InboxPrefix) && strings.HasPrefix(reply, nats.InboxPrefix)
}

func parseAnnouncement(msg *nats.Msg) (string, objectstore.Announcement, bool) {
	var a objectstore.Announcement
	host, err := subjects.ParseAnnounceSubject(msg.Subject)
	if err != nil || json.Unmarshal(msg.Data, &a) != nil || subjects.ValidateEpisode(a.EpisodeID) != nil {
		return "", a, false
	}
	return host, a, true
}

// start opens an early read of the announced episode, replacing one of an
// earlier attempt, if there is room.
func (e *earlyReads) start(host string, a objectstore.Announcement) bool {
	key := subjects.VerdictKey(host, a.EpisodeID)
	e.mu.Lock()
	ctx := e.ctx
	old := e.open[key]
	delete(e.open, key)
	room := len(e.open) < e.max
	e.mu.Unlock()
	if old != nil {
		old.drop()
	}
	if ctx == nil || !room {
		return false
	}
	st, err := e.r.store(ctx, host)
	if err != nil {
		return false
	}
	er := &earlyRead{key: key}
	if e.r.o.ArchiveDir != "" {
		// Its digest is known once the manifest is (judge).
		if er.ex, err = e.r.newExport(host, &objectstore.Manifest{EpisodeID: a.EpisodeID}); err != nil {
			return false
		}
	}
	er.EarlyRead = objectstore.StartEarlyRead(ctx, earlySource{st, er}, a.EpisodeID, e.r.o.Limits, er.ex.visitFunc())
	er.last.Store(time.Now().UnixNano())
	if !er.Add(0, a.Segment) {
		er.drop()
		return false
	}
	e.mu.Lock()
	if e.ctx == nil || e.open[key] != nil || len(e.open) >= e.max {
		e.mu.Unlock()
		er.drop()
		return false
	}
	e.open[key] = er
	e.mu.Unlock()
	e.r.log.Debug("early read started", "key", key)
	return true
}

// take removes the early read of host's episode from the table, for the
// submission that names it. It is nil if there is none.
func (e *earlyReads) take(host, episode string) *earlyRead {
	if e == nil {
		return nil
	}
	key := subjects.VerdictKey(host, episode)
	e.mu.Lock()
	defer e.mu.Unlock()
	er := e.open[key]
	delete(e.open, key)
	return er
}

// finish finishes er with the submitted manifest m: true, with the
// result and er's export (for the caller to commit or abort), when the
// early read stands for ReadArchive(m). Either way er is over.
func (er *earlyRead) finish(ctx context.Context, st *objectstore.Store, m *objectstore.Manifest, r *Receiver) (objectstore.ReadResult, *export, bool) {
	before := er.bytes.Load()
	if n, _ := ctx.Value(progressKey{}).(*atomic.Int64); n != nil {
		n.Add(before)
		er.progress.Store(n)
	}
	res, ok := er.Finish(ctx, m)
	// The segments were checked as they were read, perhaps minutes ago: a
	// sweep or a reject of the same id may have deleted one since, and
	// ReadArchive now would find it missing. Still there, all of them?
	for _, seg := range m.Segments {
		if !ok {
			break
		}
		has, err := st.Has(ctx, m.EpisodeID, seg)
		ok = has && err == nil
	}
	r.o.Metrics.earlyRead(ok, before)
	if !ok {
		er.ex.abort()
		r.log.Info("archive read early is read again", "key", er.key, "bytes_read_before_submission", before)
		return res, nil, false
	}
	r.log.Info("archive read during its upload", "key", er.key, "bytes_read_before_submission", before)
	ex := er.ex
	er.ex = nil // the caller's now
	if ex != nil {
		ex.digest = m.ArchiveSHA256
		if exportIdentical(ex.final, ex.sidecar, m.ArchiveSHA256) {
			ex.abort()
			ex.identical = true
		}
	}
	return res, ex, true
}

// drop ends an early read that will not be used.
func (er *earlyRead) drop() {
	if er == nil {
		return
	}
	er.Abort()
	er.ex.abort()
}

// earlySource reads segments for an early read, counting the bytes.
type earlySource struct {
	st *objectstore.Store
	er *earlyRead
}

func (s earlySource) Open(ctx context.Context, episode string, seg objectstore.Segment) (io.ReadCloser, error) {
	rc, err := s.st.Open(ctx, episode, seg)
	if err != nil {
		return nil, err
	}
	return countingReader{rc, s.er.count}, nil
}

// count adds k bytes read to the early read's count and, once a
// submission has taken it, to the submission's progress.
func (er *earlyRead) count(k int64) {
	er.bytes.Add(k)
	er.last.Store(time.Now().UnixNano())
	if n := er.progress.Load(); n != nil {
		n.Add(k)
	}
}
