package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// Steps of a verdict's effects, in order; crashAt is called after each.
const (
	StepDecided   = "decided"  // decision written, Done false
	StepExported  = "exported" // accepted episode exported to archive_dir
	StepRecorded  = "recorded" // quarantine record or accepted announcement published
	StepDeleted   = "deleted"  // a reject's segments deleted
	StepDone      = "done"     // verdict rewritten with Done true
	StepAcked     = "acked"    // submission acknowledged
	stepNoVerdict = "no-verdict"
)

// crashAt is the fault-injection seam of the effects sequence: tests (and
// `cis490 receive` under CIS490_FAULT_CRASH_AT) kill the process at a step.
var crashAt = func(step string) {}

// SetCrashHook sets the function called after each effect step. It is for
// fault-injection tests only.
func SetCrashHook(f func(step string)) { crashAt = f }

// errTransient marks a failure to retry: the submission is naked with a delay.
type errTransient struct{ err error }

func (e errTransient) Error() string { return e.err.Error() }
func (e errTransient) Unwrap() error { return e.err }

func transient(format string, a ...any) error { return errTransient{fmt.Errorf(format, a...)} }

// handle judges one submission and carries out its verdict. It never
// returns an error: every outcome ends in an ack, a term, or a nak.
func (r *Receiver) handle(ctx context.Context, msg jetstream.Msg) {
	// The submission in hand is finished on its own clock when the receiver
	// is told to stop, for up to Drain; heartbeats keep it ours meanwhile.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopDrain := context.AfterFunc(ctx, func() { time.AfterFunc(r.o.Drain, cancel) })
	defer stopDrain()
	var progress atomic.Int64
	stop := r.heartbeat(hctx, msg, &progress)
	defer stop()
	hctx = withProgress(hctx, &progress)

	// Every attribute that comes from the host is bounded (subjects.Clip).
	log := r.log.With("subject", subjects.Clip(msg.Subject(), subjects.MaxField))
	err := r.process(hctx, msg, log)
	if err == nil {
		return
	}
	var te errTransient
	delivered := uint64(1)
	if md, merr := msg.Metadata(); merr == nil {
		delivered = md.NumDelivered
	}
	delay := backoff(int(min(delivered, 6)))
	if errors.As(err, &te) {
		r.o.Metrics.transient()
		log.Warn("submission will be retried", "error", err, "delivered", delivered, "retry_in", delay.Round(time.Millisecond))
	} else {
		log.Error("submission failed", "error", err, "delivered", delivered, "retry_in", delay.Round(time.Millisecond))
	}
	if nerr := msg.NakWithDelay(delay); nerr != nil {
		log.Warn("nak submission", "error", nerr)
	}
}

// heartbeat tells the server, every third of the ack wait, that msg is
// still being worked on, so a long validation is not redelivered; and,
// when the archive's bytes have moved since the last tick, it counts as a
// pass for the systemd watchdog. A read that hangs stops both.
func (r *Receiver) heartbeat(ctx context.Context, msg jetstream.Msg, progress *atomic.Int64) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(r.ackWait / 3)
		defer t.Stop()
		last := progress.Load()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				_ = msg.InProgress()
				if now := progress.Load(); now != last && r.o.OnPass != nil {
					r.o.OnPass()
					last = now
				}
			}
		}
	}()
	return func() { close(done) }
}

// process is handle's body; a nil error means the submission was acked.
func (r *Receiver) process(ctx context.Context, msg jetstream.Msg, log *slog.Logger) error {
	host, err := subjects.ParseSubmitSubject(msg.Subject())
	if err != nil {
		log.Error("submission on a subject that names no host; terminated", "error", err)
		return msg.Term()
	}
	// A first delivery takes from its host's budget before any work is
	// done on it; a redelivery (after a nak, or a receiver that died) has
	// paid already, and may have a decision to finish.
	if md, err := msg.Metadata(); err != nil || md.NumDelivered <= 1 {
		if ok, d := r.budget.take(host); !ok {
			return r.overBudget(ctx, msg, host, d, log)
		}
	}
	// The host's header values are kept and logged bounded: a publisher's
	// are far shorter, a hostile host's megabyte is cut.
	msgID := subjects.Clip(msg.Headers().Get(subjects.HeaderMsgID), subjects.MaxField)
	m, perr := objectstore.ParseManifest(msg.Data())
	episode := m.EpisodeID
	if perr != nil {
		episode = subjects.Clip(msg.Headers().Get(subjects.HeaderEpisode), subjects.MaxField)
	}
	log = log.With("host", host, "episode", episode, "submission", msgID)
	if subjects.ValidateEpisode(episode) != nil {
		// No key to hold a verdict: the record alone says what happened.
		return r.recordOrphan(ctx, msg, host, episode, msgID, perr, log)
	}
	if perr == nil && m.Host != host {
		perr = fmt.Errorf("%w: manifest names host %q but was submitted on %s", objectstore.ErrBadManifest, m.Host, msg.Subject())
	}

	key := subjects.VerdictKey(host, episode)
	prev, rev, err := r.getVerdict(ctx, key)
	if err != nil {
		return transient("read verdict %s: %w", key, err)
	}
	var v objectstore.Verdict
	var ex *export
	if prev != nil && prev.Submission == msgID && msgID != "" {
		if prev.Done {
			log.Info("submission already judged; acknowledging", "reason", prev.Reason)
			return r.ack(ctx, msg)
		}
		v = *prev // resume the effects of a decision already written
		log.Info("resuming effects of a written decision", "reason", v.Reason)
	} else {
		t0 := time.Now()
		v, ex, err = r.judge(ctx, host, msgID, &m, perr, prev)
		if err != nil {
			return err
		}
		v.Bound()
		r.o.Metrics.validation(time.Since(t0))
		defer ex.abort()
		rev, err = r.putVerdict(ctx, key, v, rev)
		if err != nil {
			return err
		}
		r.o.Metrics.verdict(v.Reason, m.ArchiveBytes)
		log.Info("verdict", "reason", v.Reason, "detail", v.Detail, "archive_sha256", v.ArchiveSHA256, "seconds", time.Since(t0).Seconds())
		crashAt(StepDecided)
	}
	if err := r.effects(ctx, host, &m, &v, ex, msgID, log); err != nil {
		return err
	}
	v.Done = true
	if _, err := r.putVerdict(ctx, key, v, rev); err != nil {
		return err
	}
	crashAt(StepDone)
	return r.ack(ctx, msg)
}

func (r *Receiver) ack(ctx context.Context, msg jetstream.Msg) error {
	if err := msg.DoubleAck(ctx); err != nil {
		return transient("ack submission: %w", err)
	}
	crashAt(StepAcked)
	return nil
}

// effects carries out v, each step idempotent.
func (r *Receiver) effects(ctx context.Context, host string, m *objectstore.Manifest, v *objectstore.Verdict, ex *export, msgID string, log *slog.Logger) error {
	if v.Reason == subjects.Accepted {
		if r.o.ArchiveDir != "" {
			path, err := r.exportAccepted(ctx, host, m, ex)
			if err != nil {
				return err
			}
			v.Export = path
			crashAt(StepExported)
		}
		if err := r.publishRecord(ctx, subjects.AcceptedSubject(host), msgID+".accepted", host, m, v); err != nil {
			return err
		}
		crashAt(StepRecorded)
		return nil
	}
	if err := r.publishRecord(ctx, subjects.NackSubject(host, v.Reason), msgID+".nack", host, m, v); err != nil {
		return err
	}
	crashAt(StepRecorded)
	// A conflict's segments may be shared with the accepted version (names
	// are content addresses): they are left to the orphan GC, which knows
	// the accepted manifests.
	if v.Reason != subjects.Conflict && len(m.Segments) > 0 {
		st, err := r.store(ctx, host)
		if err == nil {
			err = st.Delete(ctx, m.EpisodeID, m.Segments)
		}
		if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			return transient("delete rejected segments: %w", err)
		}
		log.Info("deleted rejected segments", "segments", len(m.Segments), "bytes", m.ArchiveBytes)
		crashAt(StepDeleted)
	}
	return nil
}

// publishRecord publishes a verdict record, de-duplicated by msgID within the
// stream's Duplicates window.
func (r *Receiver) publishRecord(ctx context.Context, subject, msgID, host string, m *objectstore.Manifest, v *objectstore.Verdict) error {
	rec := objectstore.Record{Verdict: *v, Manifest: *m, Bucket: subjects.EpisodeBucket(host)}
	rec.Bound()
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	out := nats.NewMsg(subject)
	out.Data = body
	out.Header.Set(subjects.HeaderMsgID, msgID)
	out.Header.Set(subjects.HeaderHost, host)
	out.Header.Set(subjects.HeaderEpisode, rec.Verdict.EpisodeID)
	out.Header.Set(subjects.HeaderReason, string(v.Reason))
	out.Header.Set(subjects.HeaderArchiveSHA256, v.ArchiveSHA256)
	if _, err := r.js.PublishMsg(ctx, out); err != nil {
		return transient("publish %s: %w", subject, err)
	}
	return nil
}

// recordOrphan records a submission too broken to name its episode, then acks it.
func (r *Receiver) recordOrphan(ctx context.Context, msg jetstream.Msg, host, episode, msgID string, perr error, log *slog.Logger) error {
	if perr == nil {
		perr = fmt.Errorf("%w: episode id %q", objectstore.ErrBadManifest, episode)
	}
	v := objectstore.Verdict{Host: host, EpisodeID: episode, Reason: subjects.Malformed, Detail: perr.Error(),
		Submission: msgID, Receiver: r.o.ID, Time: time.Now().UTC(), Done: true}
	v.Bound()
	if msgID == "" {
		msgID = fmt.Sprintf("%s.orphan.%d", host, time.Now().UnixNano())
	}
	if err := r.publishRecord(ctx, subjects.NackSubject(host, subjects.Malformed), msgID+".nack", host, &objectstore.Manifest{}, &v); err != nil {
		return err
	}
	r.o.Metrics.verdict(subjects.Malformed, 0)
	log.Warn("verdict on a submission that names no valid episode", "reason", v.Reason, "detail", v.Detail)
	crashAt(stepNoVerdict)
	return r.ack(ctx, msg)
}

// getVerdict reads the current verdict of key and its revision (0 if none).
func (r *Receiver) getVerdict(ctx context.Context, key string) (*objectstore.Verdict, uint64, error) {
	e, err := r.verdicts.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	v, err := objectstore.ParseVerdict(e.Value())
	if err != nil {
		r.log.Warn("unreadable verdict will be replaced", "key", key, "error", err)
		return nil, e.Revision(), nil
	}
	return &v, e.Revision(), nil
}

// putVerdict writes v to key if its revision is still rev (0: if absent),
// so two receivers cannot both decide one episode; the loser retries.
func (r *Receiver) putVerdict(ctx context.Context, key string, v objectstore.Verdict, rev uint64) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode verdict: %w", err)
	}
	var n uint64
	if rev == 0 {
		n, err = r.verdicts.Create(ctx, key, b)
	} else {
		n, err = r.verdicts.Update(ctx, key, b, rev)
	}
	if err != nil {
		return 0, transient("write verdict %s at revision %d: %w", key, rev, err)
	}
	return n, nil
}
