package receiver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// GCResult sums up one orphan sweep.
type GCResult struct {
	Buckets  int    // host buckets swept
	Segments int    // orphan segment objects deleted
	Chunks   int    // chunk subjects purged that no object owned
	Bytes    uint64 // bytes freed
	Kept     int    // segment objects kept
	Expired  int    // of Segments, those of accepted episodes past AcceptedKeep
	// BadMeta counts the messages on the buckets' metadata subjects that
	// are not an object's info (a host can publish any bytes there); the
	// sweep skips them. BadMetaSeqs are their stream sequences, the first
	// maxSeqs of them, and BadMetaSubject the first one's subject.
	BadMeta        int
	BadMetaSeqs    []uint64
	BadMetaSubject string
	// Rollups are the stream sequences of metadata messages that rolled
	// up a whole bucket (Nats-Rollup: all): everything stored before them
	// is gone.
	Rollups []uint64
	// Failed counts the buckets whose sweep failed; the others were swept.
	Failed int
}

// maxSeqs bounds the sequences a GCResult lists.
const maxSeqs = 10

// SweepOrphans deletes, in every host bucket, what no pending or accepted
// manifest references and what is older than grace:
//   - segment objects of episodes that are neither waiting in the
//     submissions queue nor accepted (an upload abandoned, a reject whose
//     deletion was interrupted, a conflict's extra segments);
//   - chunks no object owns, left by a put that was cut off midway: List
//     cannot see them, but they count against the bucket's quota.
//
// Objects younger than grace may belong to an upload still in progress and
// are always kept. The segments of an accepted episode are kept, unless
// Options.AcceptedKeep is set and they are older than that: then they are
// deleted too (GCResult.Expired), which is what frees a host's quota.
func (r *Receiver) SweepOrphans(ctx context.Context, grace time.Duration) (GCResult, error) {
	sw := sweeper{js: r.js, verdict: r.getVerdict, log: r.log, acceptedKeep: r.o.AcceptedKeep}
	var res GCResult
	lctx, cancel := context.WithTimeout(ctx, gcListTimeout)
	defer cancel()
	names := r.js.ObjectStoreNames(lctx)
	var buckets []string
	for name := range names.Name() {
		if strings.HasPrefix(name, subjects.EpisodeBucketPrefix) {
			buckets = append(buckets, name)
		}
	}
	if err := names.Error(); err != nil {
		return res, fmt.Errorf("gc: list buckets: %w", err)
	}
	if err := lctx.Err(); err != nil && ctx.Err() == nil {
		return res, fmt.Errorf("gc: list buckets: no answer within %v: %w", gcListTimeout, err)
	}
	for _, bucket := range buckets {
		host, err := subjects.ParseEpisodeBucket(bucket)
		if err != nil {
			continue // not a bucket cis490 made
		}
		// One bucket's failure is logged and counted, and the sweep goes
		// on: a host must not keep the others' orphans by breaking its own.
		var one GCResult
		err = sw.sweepBucket(ctx, host, bucket, grace, &one)
		r.o.Metrics.swept(host, one, err)
		res.add(one)
		if err != nil {
			if ctx.Err() != nil {
				return res, err
			}
			res.Failed++
			r.log.Warn("orphan sweep of a bucket failed; the other buckets are swept", "host", host, "bucket", bucket, "error", err)
			continue
		}
		res.Buckets++
	}
	r.log.Info("orphan sweep", "buckets", res.Buckets, "segments_deleted", res.Segments,
		"chunk_subjects_purged", res.Chunks, "bytes_freed", res.Bytes, "segments_kept", res.Kept,
		"accepted_segments_expired", res.Expired, "buckets_failed", res.Failed)
	if res.Failed > 0 {
		return res, fmt.Errorf("gc: %d of %d buckets not swept (logged above)", res.Failed, res.Failed+res.Buckets)
	}
	return res, nil
}

// add sums o into res.
func (res *GCResult) add(o GCResult) {
	res.Segments += o.Segments
	res.Chunks += o.Chunks
	res.Bytes += o.Bytes
	res.Kept += o.Kept
	res.Expired += o.Expired
	res.BadMeta += o.BadMeta
	if res.BadMetaSubject == "" {
		res.BadMetaSubject = o.BadMetaSubject
	}
	res.BadMetaSeqs = append(res.BadMetaSeqs, o.BadMetaSeqs[:min(len(o.BadMetaSeqs), maxSeqs-len(res.BadMetaSeqs))]...)
	res.Rollups = append(res.Rollups, o.Rollups...)
}

// Orphans measures, deleting nothing, what SweepOrphans(ctx, grace) would
// free in host's bucket: Segments and Chunks count the objects and chunk
// subjects it would delete, Bytes their payload bytes. It needs to read the
// bucket, the submissions stream and the verdicts, as the hub admin can;
// cis490 doctor --hub reports it per host.
func Orphans(ctx context.Context, js jetstream.JetStream, host string, grace time.Duration) (GCResult, error) {
	var res GCResult
	kv, err := js.KeyValue(ctx, subjects.VerdictsBucket)
	if err != nil {
		return res, fmt.Errorf("orphans: key-value %s: %w", subjects.VerdictsBucket, err)
	}
	log := slog.New(slog.DiscardHandler)
	r := &Receiver{verdicts: kv, log: log}
	sw := sweeper{js: js, verdict: r.getVerdict, log: log, measure: true}
	if err := sw.sweepBucket(ctx, host, subjects.EpisodeBucket(host), grace, &res); err != nil {
		return res, fmt.Errorf("orphans: %w", err)
	}
	res.Buckets = 1
	return res, nil
}

// sweeper finds the orphans of a bucket and, unless it only measures,
// deletes them.
type sweeper struct {
	js      jetstream.JetStream
	verdict func(ctx context.Context, key string) (*objectstore.Verdict, uint64, error)
	log     *slog.Logger
	measure bool // count what would be freed, delete nothing
	// acceptedKeep, if more than 0, is the age past which an accepted
	// episode's segments go too.
	acceptedKeep time.Duration
}

func (s sweeper) sweepBucket(ctx context.Context, host, bucket string, grace time.Duration, res *GCResult) error {
	obs, err := s.js.ObjectStore(ctx, bucket)
	if err != nil {
		return fmt.Errorf("gc: open %s: %w", bucket, err)
	}
	// Objects first, then the references: a submission that arrives after
	// the listing refers only to objects the listing already saw, and a
	// young one is kept by grace anyway.
	lctx, cancel := context.WithTimeout(ctx, gcListTimeout)
	meta, err := listMeta(lctx, s.js, bucket)
	cancel()
	if err != nil {
		return fmt.Errorf("gc: list %s: %w", bucket, err)
	}
	infos := meta.infos
	meta.report(host, bucket, res, s.log)
	pending, err := pendingSegments(ctx, s.js, host)
	if err != nil {
		return err
	}
	cutoff := time.Now().Add(-grace)
	live := map[string]bool{}
	accepted := map[string]bool{} // an episode's verdict, read once per reading
	isAccepted := func(episode string) (bool, error) {
		keep, ok := accepted[episode]
		if !ok {
			v, _, err := s.verdict(ctx, subjects.VerdictKey(host, episode))
			if err != nil {
				return false, fmt.Errorf("gc: %w", err)
			}
			keep = v != nil && v.AcceptedSHA256 != ""
			accepted[episode] = keep
		}
		return keep, nil
	}
	type doomed struct {
		info    *jetstream.ObjectInfo
		episode string
		expired bool
	}
	var orphans []doomed
	// The grace runs from an episode's newest segment, not each segment's
	// own time: an upload held up longer than grace (a dropped link, a
	// node failing over) still has its first segments on the hub, the
	// publisher's journal lists them as stored, and deleting them made
	// its submission corrupt (the full TestCluster: 4 segments 103 s old
	// deleted while the rest uploaded, with a 1 min grace).
	episodes := make([]string, len(infos)) // "" for an object not a segment
	newest := map[string]time.Time{}
	for i, info := range infos {
		if episode, _, err := subjects.ParseSegmentObject(info.Name); err == nil {
			episodes[i] = episode
			if info.ModTime.After(newest[episode]) {
				newest[episode] = info.ModTime
			}
		}
	}
	for i, info := range infos {
		live[info.NUID] = true
		episode := episodes[i]
		if episode == "" || newest[episode].After(cutoff) || pending[info.Name] {
			res.Kept++
			continue
		}
		keep, err := isAccepted(episode)
		if err != nil {
			return err
		}
		expired := keep && s.acceptedKeep > 0 && info.ModTime.Before(time.Now().Add(-s.acceptedKeep))
		if keep && !expired {
			res.Kept++
			continue
		}
		orphans = append(orphans, doomed{info, episode, expired})
	}
	if len(orphans) > 0 && !s.measure {
		// The references again, right before deleting: an upload that
		// took longer than grace (a slow link, a lab host offline for a
		// weekend) has old segments when it is submitted, and the full
		// TestCluster saw one submitted and accepted while the sweep ran
		// between its first reading and the delete: a segment of an
		// accepted episode was deleted. What is left is the moment
		// between this reading and each delete.
		gcBeforeDelete()
		if pending, err = pendingSegments(ctx, s.js, host); err != nil {
			return err
		}
		clear(accepted)
	}
	for _, o := range orphans {
		if !s.measure && !o.expired {
			keep, err := isAccepted(o.episode)
			if err != nil {
				return err
			}
			if keep || pending[o.info.Name] {
				res.Kept++
				continue
			}
		}
		if o.expired {
			res.Expired++
		}
		res.Segments++
		res.Bytes += o.info.Size
		if s.measure {
			continue
		}
		if err := obs.Delete(ctx, o.info.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("gc: delete %s/%s: %w", bucket, o.info.Name, err)
		}
		what := "deleted orphan segment"
		if o.expired {
			what = "deleted accepted segment past accepted_keep"
		}
		s.log.Info(what, "host", host, "object", o.info.Name, "bytes", o.info.Size, "age", time.Since(o.info.ModTime).Round(time.Second))
	}
	return s.purgeChunks(ctx, bucket, live, cutoff, res)
}

// purgeChunks purges the chunk subjects of bucket whose object is not live
// and whose last chunk is older than cutoff; measuring, it sums their bytes.
func (s sweeper) purgeChunks(ctx context.Context, bucket string, live map[string]bool, cutoff time.Time, res *GCResult) error {
	stream, err := s.js.Stream(ctx, subjects.ObjectStream(bucket))
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subjects.ObjectChunksAll(bucket)))
	if err != nil {
		return fmt.Errorf("gc: chunks of %s: %w", bucket, err)
	}
	before := info.State.Bytes
	purged := 0
	for subj := range info.State.Subjects {
		nuid, err := subjects.ParseObjectChunkSubject(bucket, subj)
		if err != nil || live[nuid] {
			continue
		}
		last, err := stream.GetLastMsgForSubject(ctx, subj)
		if err != nil || last.Time.After(cutoff) {
			continue // an upload in progress writes its metadata last
		}
		if s.measure {
			n, err := chunkBytes(ctx, stream, subj)
			if err != nil {
				return fmt.Errorf("gc: size of %s: %w", subj, err)
			}
			res.Bytes += n
			res.Chunks++
			continue
		}
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
			return fmt.Errorf("gc: purge %s: %w", subj, err)
		}
		s.log.Info("purged orphan chunks", "bucket", bucket, "subject", subj, "age", time.Since(last.Time).Round(time.Second))
		purged++
	}
	if purged > 0 {
		after, err := stream.Info(ctx)
		if err == nil && after.State.Bytes < before {
			res.Bytes += before - after.State.Bytes
		}
	}
	res.Chunks += purged
	return nil
}

// chunkBytes sums the payload bytes of the chunks on subj, reading only
// their headers: a headers-only consumer gets each message's size in
// Nats-Msg-Size instead of its data.
func chunkBytes(ctx context.Context, stream jetstream.Stream, subj string) (uint64, error) {
	var total uint64
	err := scanOrdered(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}, HeadersOnly: true},
		func(m jetstream.Msg, _ *jetstream.MsgMetadata) error {
			size, err := strconv.ParseUint(m.Headers().Get(subjects.HeaderMsgSize), 10, 64)
			if err != nil {
				return fmt.Errorf("%s of %s: %w", subjects.HeaderMsgSize, subj, err)
			}
			total += size
			return nil
		})
	return total, err
}

// metaListing is what listMeta read on a bucket's metadata subjects.
type metaListing struct {
	// infos are the objects, deleted ones left out, each with the time
	// its info was stored as ModTime.
	infos []*jetstream.ObjectInfo
	// bad are the messages that are not an object's info under its own
	// name; rollups those that rolled up the whole bucket.
	bad, rollups []metaMsg
}

// metaMsg names one message of a bucket's stream.
type metaMsg struct {
	seq     uint64
	subject string
	time    time.Time
}

// listMeta lists a bucket's objects from the last message on each of its
// metadata subjects, read with an ordered consumer. It is nats.go's
// ObjectStore.List made to survive any bytes: a host may publish anything
// on its own bucket's metadata subjects, and one message that is not
// JSON made List wait out its context, every sweep, before the other
// buckets (it sends its end-of-listing marker only after a message that
// decodes). Here such a message is only counted in bad. A message whose
// header rolled up the whole bucket (Nats-Rollup: all) is counted in
// rollups, whatever its body.
func listMeta(ctx context.Context, js jetstream.JetStream, bucket string) (metaListing, error) {
	var l metaListing
	stream, err := js.Stream(ctx, subjects.ObjectStream(bucket))
	if err != nil {
		return l, err
	}
	prefix := strings.TrimSuffix(subjects.ObjectMetaAll(bucket), ">")
	err = scanOrdered(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subjects.ObjectMetaAll(bucket)},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	}, func(msg jetstream.Msg, md *jetstream.MsgMetadata) error {
		m := metaMsg{seq: md.Sequence.Stream, subject: msg.Subject(), time: md.Timestamp}
		rollup := msg.Headers().Get(jetstream.MsgRollup) == jetstream.MsgRollupAll
		if rollup {
			l.rollups = append(l.rollups, m)
		}
		var info jetstream.ObjectInfo
		if json.Unmarshal(msg.Data(), &info) != nil || info.Name == "" || info.NUID == "" ||
			msg.Subject() != prefix+base64.URLEncoding.EncodeToString([]byte(info.Name)) {
			if !rollup { // reported as a roll-up already
				l.bad = append(l.bad, m)
			}
			return nil
		}
		if !info.Deleted {
			info.ModTime = md.Timestamp
			l.infos = append(l.infos, &info)
		}
		return nil
	})
	return l, err
}

// report logs what a listing found wrong with host's bucket, one line for
// the messages that are not object info and one for each roll-up, and
// counts them in res.
func (l metaListing) report(host, bucket string, res *GCResult, log *slog.Logger) {
	rmm := "nats stream rmm " + subjects.ObjectStream(bucket) + " "
	if n := len(l.bad); n > 0 {
		first := l.bad[0]
		res.BadMeta += n
		res.BadMetaSubject = first.subject
		for _, m := range l.bad[:min(n, maxSeqs)] {
			res.BadMetaSeqs = append(res.BadMetaSeqs, m.seq)
		}
		log.Warn("bucket metadata holds messages that are not object info; skipped", "host", host, "bucket", bucket,
			"messages", n, "subject", subjects.Clip(first.subject, subjects.MaxField), "seq", first.seq,
			"fix", rmm+strconv.FormatUint(first.seq, 10)+" (as the hub admin, for each)")
	}
	for _, m := range l.rollups {
		res.Rollups = append(res.Rollups, m.seq)
		log.Error("host rolled up its whole bucket: segments of pending episodes are gone", "host", host, "bucket", bucket,
			"seq", m.seq, "time", m.time.UTC().Format(time.RFC3339), "fix", rmm+strconv.FormatUint(m.seq, 10)+" (as the hub admin)")
	}
}

// rolledUp returns the message that rolled up bucket whole, if it is
// still there: a roll-up of everything (Nats-Rollup: all) leaves itself
// the stream's first message. It reads nothing else; any error is "no".
func rolledUp(ctx context.Context, js jetstream.JetStream, bucket string) (metaMsg, bool) {
	stream, err := js.Stream(ctx, subjects.ObjectStream(bucket))
	if err != nil || stream.CachedInfo().State.Msgs == 0 {
		return metaMsg{}, false
	}
	msg, err := stream.GetMsg(ctx, stream.CachedInfo().State.FirstSeq)
	if err != nil || msg.Header.Get(jetstream.MsgRollup) != jetstream.MsgRollupAll {
		return metaMsg{}, false
	}
	return metaMsg{seq: msg.Sequence, subject: msg.Subject, time: msg.Time}, true
}

// scanOrdered calls each with every message an ordered consumer of cfg
// delivers from stream, until the consumer has nothing pending; an error
// of each ends the scan. Each fetch waits at most 5 s, and ctx bounds all.
func scanOrdered(ctx context.Context, stream jetstream.Stream, cfg jetstream.OrderedConsumerConfig,
	each func(jetstream.Msg, *jetstream.MsgMetadata) error) error {
	c, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return err
	}
	pending := c.CachedInfo().NumPending
	for got := uint64(0); got < pending; {
		batch, err := c.Fetch(int(min(pending-got, 1024)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return err
		}
		before := got
		for msg := range batch.Messages() {
			md, err := msg.Metadata()
			if err != nil {
				return err
			}
			if err := each(msg, md); err != nil {
				return err
			}
			got++
			if md.NumPending == 0 {
				pending = got // the last one, however many were counted at the start
			}
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if got == before {
			break // deleted meanwhile
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// pendingSegments returns the segment objects named by host's submissions
// still in the work queue.
func pendingSegments(ctx context.Context, js jetstream.JetStream, host string) (map[string]bool, error) {
	out := map[string]bool{}
	stream, err := js.Stream(ctx, subjects.SubmissionsStream)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	if info.State.Msgs == 0 {
		return out, nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // acked and removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("gc: read submission %d: %w", seq, err)
		}
		if h, err := subjects.ParseSubmitSubject(msg.Subject); err != nil || h != host {
			continue
		}
		m, err := objectstore.ParseManifest(msg.Data)
		if err != nil {
			continue
		}
		for _, seg := range m.Segments {
			out[subjects.SegmentObject(m.EpisodeID, seg.SHA256)] = true
		}
	}
	return out, nil
}

// gcListTimeout bounds each listing of a sweep. nats.go's listers
// (ObjectStoreNames, and List, which watches the bucket's metadata) wait as
// long as their context for an answer, and RunGC's context is the
// receiver's life: a request or reply lost while a cluster node died left
// the GC waiting for good, and no sweep ran again (the full TestCluster
// found it: the goroutine was in ObjectStoreNames for minutes). The sweep's
// single requests need no bound of ours: on a context without a deadline,
// nats.go gives each its default 5 s. So the sweep's own context must not
// get one either, or every request would wait as long as it.
var gcListTimeout = time.Minute

// gcBeforeDelete is called between a sweep's first reading of the
// references and the second, right before its deletes; a seam for tests.
var gcBeforeDelete = func() {}

// RunGC sweeps every interval until ctx is done. Errors are logged and the
// next sweep tries again.
func (r *Receiver) RunGC(ctx context.Context, interval, grace time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := r.SweepOrphans(ctx, grace); err != nil && ctx.Err() == nil {
				r.log.Warn("orphan sweep failed; next in one interval", "error", err, "interval", interval)
			}
		}
	}
}
