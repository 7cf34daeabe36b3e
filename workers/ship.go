package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// Steps after which crashAt is called: the fault-injection points of the
// state machine, one per durable transition.
const (
	StepPreflightJournaled = "preflight-journaled" // local rejection recorded, nothing moved
	StepJournaled          = "journaled"           // outbox/<id>.json created, uploading
	StepSegmentSent        = "segment-sent"        // a segment stored, upload not finished
	StepUploaded           = "uploaded"            // manifest in the journal, submitting
	StepPublished          = "published"           // manifest published, journal not yet waiting
	StepSubmitted          = "submitted"           // journal waiting
	StepCorruptRetry       = "corrupt-retry"       // corrupt verdict: back to uploading
	StepVerdict            = "verdict"             // verdict in the journal, retiring
	StepMoved              = "moved"               // episode moved to shipped/ or quarantine/
	StepMarkerTemp         = "marker-temp"         // that file's temp written in outbox/, not yet renamed into place
	StepMarked             = "marked"              // verdict.json or quarantine_reason.json written
	StepRetired            = "retired"             // journal removed
)

// crashAt is the fault-injection seam; see SetCrashHook.
var crashAt = func(step string) {}

// SetCrashHook sets the function called after each step. For
// fault-injection tests only (`cis490 publish` arms it from
// CIS490_FAULT_CRASH_AT).
func SetCrashHook(f func(step string)) { crashAt = f }

// Outcome is how an episode leaves the publisher.
type Outcome struct {
	Shipped     bool                    `json:"shipped"`
	Reason      subjects.Reason         `json:"reason"`
	Detail      string                  `json:"detail,omitempty"`
	Source      string                  `json:"source"` // "hub" or "pre-flight"
	CodeVersion objectstore.CodeVersion `json:"code_version"`
	Verdict     *objectstore.Verdict    `json:"verdict,omitempty"`
	Fix         string                  `json:"fix,omitempty"`
	Dest        string                  `json:"dest"`
	Time        time.Time               `json:"time"`
}

// errPermanent marks an upload failure that retrying cannot fix: the
// episode goes to quarantine as malformed.
type errPermanent struct{ err error }

func (e errPermanent) Error() string { return e.err.Error() }
func (e errPermanent) Unwrap() error { return e.err }

// errVerdictTimeout means no verdict came within VerdictTimeout.
var errVerdictTimeout = errors.New("no verdict within the verdict timeout")

// process drives one episode through the state machine as far as it can
// go now. It returns nil once the episode is retired, or the transient
// error that stopped it; the journal says where to resume.
func (p *Publisher) process(ctx context.Context, id string) (*Outcome, error) {
	j, err := p.load(id)
	if err != nil {
		return nil, err
	}
	if j == nil {
		if j, err = p.begin(ctx, id); err != nil {
			return nil, err
		}
	}
	log := p.log.With("episode", id)
	for {
		switch j.State {
		case Uploading:
			m, err := p.upload(ctx, id, j)
			var perm errPermanent
			if errors.As(err, &perm) {
				if err := p.toRetiring(j, p.localOutcome(id, subjects.Malformed, perm.Error(), objectstore.CodeVersion{})); err != nil {
					return nil, err
				}
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("upload: %w", err)
			}
			j.Manifest = &m
			j.MsgID = subjects.MsgID(p.o.Host, id, m.ArchiveSHA256, j.Attempt)
			j.State = Submitting
			if err := p.save(j); err != nil {
				return nil, err
			}
			log.Info("uploaded", "segments", len(m.Segments), "archive_bytes", m.ArchiveBytes, "attempt", j.Attempt)
			crashAt(StepUploaded)
		case Submitting:
			if err := p.submit(ctx, j); err != nil {
				return nil, err
			}
			crashAt(StepPublished)
			j.State, j.SubmittedAt = Waiting, p.now().UTC()
			// Lazy: lost, the journal says "submitting", and the same
			// Nats-Msg-Id is submitted again.
			if err := p.saveLazy(j); err != nil {
				return nil, err
			}
			log.Info("submitted", "submission", j.MsgID)
			crashAt(StepSubmitted)
		case Waiting:
			v, err := p.awaitVerdict(ctx, j)
			if errors.Is(err, errVerdictTimeout) && p.o.Once {
				return nil, fmt.Errorf("no verdict for %s within %v; the episode stays waiting in outbox/", j.MsgID, p.o.VerdictTimeout)
			}
			if errors.Is(err, errVerdictTimeout) {
				log.Warn("no verdict yet; submitting again", "submission", j.MsgID, "waited", p.o.VerdictTimeout)
				j.State = Submitting
				continue
			}
			if err != nil {
				return nil, err
			}
			if v.Reason == subjects.Corrupt && j.CorruptRetries < p.o.CorruptRetries {
				j.CorruptRetries++
				j.Attempt++
				// The receiver deleted the corrupt attempt's segments.
				j.State, j.Manifest, j.MsgID = Uploading, nil, ""
				j.Stored, j.StoredSegments = Progressed{}, nil
				if err := p.save(j); err != nil {
					return nil, err
				}
				log.Warn("hub found the upload corrupt; uploading again", "detail", v.Detail, "retry", j.CorruptRetries, "of", p.o.CorruptRetries)
				crashAt(StepCorruptRetry)
				continue
			}
			if err := p.toRetiring(j, p.hubOutcome(id, v)); err != nil {
				return nil, err
			}
			log.Info("verdict", "reason", v.Reason, "detail", v.Detail)
			crashAt(StepVerdict)
		case Retiring:
			return p.retire(j)
		default:
			return nil, fmt.Errorf("journal %s: unknown state %q", p.journalPath(id), j.State)
		}
	}
}

// begin runs pre-flight on a new episode and writes its first journal.
func (p *Publisher) begin(ctx context.Context, id string) (*Journal, error) {
	j := &Journal{Host: p.o.Host, EpisodeID: id, Attempt: 1, CreatedAt: p.now().UTC()}
	if out := p.preflight(ctx, id); out != nil {
		if err := p.toRetiring(j, out); err != nil {
			return nil, err
		}
		p.log.Warn("pre-flight rejected episode", "episode", id, "reason", out.Reason, "detail", out.Detail)
		crashAt(StepPreflightJournaled)
		return j, nil
	}
	j.State = Uploading
	if err := p.save(j); err != nil {
		return nil, err
	}
	p.log.Info("shipping episode", "episode", id)
	crashAt(StepJournaled)
	return j, nil
}

// preflight returns the outcome of an episode that must not be uploaded,
// or nil. It never trusts more than it must: when the window cannot be
// read, the episode ships and the receiver decides.
func (p *Publisher) preflight(ctx context.Context, id string) *Outcome {
	if err := subjects.ValidateEpisode(id); err != nil {
		return p.localOutcome(id, subjects.Malformed, "episode directory name: "+err.Error(), objectstore.CodeVersion{})
	}
	meta, err := objectstore.ReadMeta(filepath.Join(p.dirs.episodes, id))
	switch {
	case errors.Is(err, objectstore.ErrNotStamped):
		return p.localOutcome(id, subjects.Unstamped, err.Error(), meta.CodeVersion)
	case err != nil:
		return p.localOutcome(id, subjects.Malformed, err.Error(), objectstore.CodeVersion{})
	case meta.EpisodeID != id:
		return p.localOutcome(id, subjects.Malformed,
			fmt.Sprintf("directory %s holds meta.json of episode %q", id, meta.EpisodeID), meta.CodeVersion)
	}
	if p.o.Window != nil {
		ok, err := p.o.Window.Allows(ctx, meta.CodeVersion.Commit)
		if err != nil {
			p.log.Debug("window unreadable; shipping, the receiver decides", "episode", id, "error", err)
		} else if !ok {
			return p.localOutcome(id, subjects.OutOfWindow,
				fmt.Sprintf("commit %s is not in the hub's window %s", meta.CodeVersion.Commit, subjects.WindowBucket), meta.CodeVersion)
		}
	}
	return nil
}

// upload packs and stores the episode's segments.
func (p *Publisher) upload(ctx context.Context, id string, j *Journal) (objectstore.Manifest, error) {
	dir := filepath.Join(p.dirs.episodes, id)
	if _, err := os.Stat(dir); err != nil {
		return objectstore.Manifest{}, errPermanent{fmt.Errorf("episode directory vanished: %w", err)}
	}
	size := dirSize(dir)
	if size > p.o.LargeEpisode {
		// Packing holds a zstd encoder and a segment's buffers: at most
		// LargeConcurrency large episodes at once keep the publisher's
		// memory flat however many small ones are in flight.
		select {
		case p.large <- struct{}{}:
			defer func() { <-p.large }()
		case <-ctx.Done():
			return objectstore.Manifest{}, ctx.Err()
		}
	}
	var task Task
	if p.o.Progress != nil {
		task = p.o.Progress.Start(id, size)
	}
	first := true
	ann := p.announcer(id, size)
	// The segments an earlier run of this attempt stored are looked up,
	// not sent; the others are streamed as they are packed.
	known := j.StoredSegments
	j.Stored, j.StoredSegments = Progressed{}, nil
	m, err := objectstore.Upload(ctx, p.store, dir, objectstore.UploadOptions{
		Host: p.o.Host, SegmentSize: p.o.SegmentSize, SpoolDir: p.dirs.outbox, Known: known,
		Throttle: func(r io.Reader) io.Reader {
			if p.o.Throttle != nil {
				r = p.o.Throttle(ctx, r)
			}
			return sentCounter{r, p.o.Metrics, task}
		},
		Progress: func(index int, seg objectstore.Segment, sent, last bool) {
			ann.segment(index, seg)
			if task != nil && !sent {
				task.Add(seg.Size) // already on the hub: done without sending
			}
			// The process goroutine waits inside Upload meanwhile: j is ours.
			j.Stored.Segments++
			j.Stored.Bytes += seg.Size
			j.StoredSegments = append(j.StoredSegments, seg)
			// After the last segment the journal is saved at once as
			// Submitting, with the manifest: a save here would only cost
			// an append. Lazy: progress lost costs segments looked up or
			// sent again.
			if !last {
				if err := p.saveLazy(j); err != nil {
					p.log.Warn("journal progress not saved", "episode", id, "error", err)
				}
			}
			if sent && first {
				first = false
				crashAt(StepSegmentSent)
			}
		},
	})
	if task != nil {
		if err != nil {
			task.Done("not uploaded: " + err.Error())
		} else {
			task.Done(fmt.Sprintf("uploaded: %d segment(s), awaiting verdict", len(m.Segments)))
		}
	}
	switch {
	case err == nil:
		ann.wait()
		return m, nil
	case errors.Is(err, objectstore.ErrUnsupportedFile), errors.Is(err, objectstore.ErrBadName),
		errors.Is(err, objectstore.ErrMetaMissing), errors.Is(err, objectstore.ErrMetaNotJSON),
		errors.Is(err, objectstore.ErrMetaMissingField), errors.Is(err, objectstore.ErrMetaBadField),
		errors.Is(err, objectstore.ErrMetaTooLarge), errors.Is(err, objectstore.ErrBadManifest):
		return m, errPermanent{err}
	}
	return m, err
}

// submit publishes the manifest. A publish repeated after a crash or a
// timeout carries the same Nats-Msg-Id and is dropped by the stream.
func (p *Publisher) submit(ctx context.Context, j *Journal) error {
	body, err := json.Marshal(j.Manifest)
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	msg := nats.NewMsg(subjects.SubmitSubject(p.o.Host))
	msg.Data = body
	msg.Header.Set(subjects.HeaderMsgID, j.MsgID)
	msg.Header.Set(subjects.HeaderHost, p.o.Host)
	msg.Header.Set(subjects.HeaderEpisode, j.EpisodeID)
	msg.Header.Set(subjects.HeaderArchiveSHA256, j.Manifest.ArchiveSHA256)
	msg.Header.Set(subjects.HeaderManifestVersion, fmt.Sprint(j.Manifest.Version))
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := p.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("submit %s: %w", j.MsgID, err)
	}
	return nil
}

// Reads of a verdict key while an episode waits for it: the first at
// once, the next verdictRecheck later, doubling to verdictRecheckMax; at
// once after the connection reconnected (a write published while it was
// down is not heard again); and verdictConfirm after a write heard that
// the key does not yet hold (a replica behind its leader).
const (
	verdictRecheck    = 2 * time.Second
	verdictRecheckMax = 30 * time.Second
	verdictConfirm    = 250 * time.Millisecond
)

// awaitVerdict waits until the verdict of this submission is done and
// stored. It hears the verdict's writes through the shared subscription
// and reads the key (a direct get, no consumer) to confirm what it heard
// and to find a verdict written while it was not listening.
func (p *Publisher) awaitVerdict(ctx context.Context, j *Journal) (objectstore.Verdict, error) {
	key := subjects.VerdictKey(p.o.Host, j.EpisodeID)
	wait := p.o.VerdictTimeout - p.now().Sub(j.SubmittedAt)
	if wait <= 0 {
		return objectstore.Verdict{}, errVerdictTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	wt, unsubscribe, err := p.vw.subscribe(key)
	if err != nil {
		return objectstore.Verdict{}, fmt.Errorf("hear verdict %s: %w", key, err)
	}
	defer unsubscribe()
	nc := p.js.Conn()
	reconnects := nc.Stats().Reconnects
	every := verdictRecheck
	read := time.NewTimer(0)
	defer read.Stop()
	link := time.NewTicker(time.Second)
	defer link.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return objectstore.Verdict{}, err
			}
			return objectstore.Verdict{}, errVerdictTimeout
		case <-wt.ch:
			if v, err := objectstore.ParseVerdict(wt.take()); err == nil && final(v, j) {
				every = verdictConfirm
				read.Reset(0)
			}
		case <-link.C:
			if r := nc.Stats().Reconnects; r != reconnects {
				reconnects = r
				read.Reset(0)
			}
		case <-read.C:
			e, err := p.verdicts.Get(ctx, key)
			switch {
			case err == nil:
				if v, ok := verdictFor(e, j); ok {
					return v, nil
				}
			case errors.Is(err, jetstream.ErrKeyNotFound):
			case parent.Err() != nil:
				return objectstore.Verdict{}, parent.Err()
			default: // the link: read again at the next turn
				p.log.Debug("read verdict", "episode", j.EpisodeID, "error", err)
			}
			read.Reset(every)
			every = min(2*every, verdictRecheckMax)
		}
	}
}

// final reports whether v is the final verdict of j's submission.
func final(v objectstore.Verdict, j *Journal) bool { return v.Done && v.Submission == j.MsgID }

// verdictFor is the verdict in e if it is the final one of j's submission.
func verdictFor(e jetstream.KeyValueEntry, j *Journal) (objectstore.Verdict, bool) {
	if e == nil || e.Operation() != jetstream.KeyValuePut {
		return objectstore.Verdict{}, false
	}
	v, err := objectstore.ParseVerdict(e.Value())
	if err != nil || !final(v, j) {
		return objectstore.Verdict{}, false
	}
	return v, true
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// sentCounter counts every byte read for sending, a partial segment cut
// off by a failure included: what the link really carried. It also moves
// the episode's progress bar as the bytes go.
type sentCounter struct {
	r    io.Reader
	m    *Metrics
	task Task
}

func (c sentCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.m.sent(int64(n))
	if c.task != nil {
		c.task.Add(int64(n))
	}
	return n, err
}
