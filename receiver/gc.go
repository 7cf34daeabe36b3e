package receiver

import (
	"context"
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
}

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
		if err := sw.sweepBucket(ctx, host, bucket, grace, &res); err != nil {
			return res, err
		}
		res.Buckets++
	}
	r.log.Info("orphan sweep", "buckets", res.Buckets, "segments_deleted", res.Segments,
		"chunk_subjects_purged", res.Chunks, "bytes_freed", res.Bytes, "segments_kept", res.Kept,
		"accepted_segments_expired", res.Expired)
	return res, nil
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
	infos, err := obs.List(lctx)
	cancel()
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return fmt.Errorf("gc: list %s: %w", bucket, err)
	}
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
			n, err := chunkBytes(ctx, stream, subj, info.State.Subjects[subj])
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

// chunkBytes sums the payload bytes of the n chunks on subj, reading only
// their headers: a headers-only consumer gets each message's size in
// Nats-Msg-Size instead of its data.
func chunkBytes(ctx context.Context, stream jetstream.Stream, subj string, n uint64) (uint64, error) {
	c, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj}, HeadersOnly: true})
	if err != nil {
		return 0, err
	}
	var total uint64
	for got := uint64(0); got < n; {
		batch, err := c.Fetch(int(min(n-got, 1024)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return 0, err
		}
		before := got
		for m := range batch.Messages() {
			size, err := strconv.ParseUint(m.Headers().Get(subjects.HeaderMsgSize), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s of %s: %w", subjects.HeaderMsgSize, subj, err)
			}
			total += size
			got++
		}
		if err := batch.Error(); err != nil {
			return 0, err
		}
		if got == before {
			break // purged meanwhile
		}
	}
	return total, nil
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
