package receiver

import (
	"context"
	"errors"
	"fmt"
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
// are always kept. Every segment of an accepted episode is kept.
func (r *Receiver) SweepOrphans(ctx context.Context, grace time.Duration) (GCResult, error) {
	var res GCResult
	names := r.js.ObjectStoreNames(ctx)
	var buckets []string
	for name := range names.Name() {
		if strings.HasPrefix(name, subjects.EpisodeBucketPrefix) {
			buckets = append(buckets, name)
		}
	}
	if err := names.Error(); err != nil {
		return res, fmt.Errorf("gc: list buckets: %w", err)
	}
	for _, bucket := range buckets {
		host, err := subjects.ParseEpisodeBucket(bucket)
		if err != nil {
			continue // not a bucket cis490 made
		}
		if err := r.sweepBucket(ctx, host, bucket, grace, &res); err != nil {
			return res, err
		}
		res.Buckets++
	}
	r.log.Info("orphan sweep", "buckets", res.Buckets, "segments_deleted", res.Segments,
		"chunk_subjects_purged", res.Chunks, "bytes_freed", res.Bytes, "segments_kept", res.Kept)
	return res, nil
}

func (r *Receiver) sweepBucket(ctx context.Context, host, bucket string, grace time.Duration, res *GCResult) error {
	obs, err := r.js.ObjectStore(ctx, bucket)
	if err != nil {
		return fmt.Errorf("gc: open %s: %w", bucket, err)
	}
	// Objects first, then the references: a submission that arrives after
	// the listing refers only to objects the listing already saw, and a
	// young one is kept by grace anyway.
	infos, err := obs.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return fmt.Errorf("gc: list %s: %w", bucket, err)
	}
	pending, err := r.pendingSegments(ctx, host)
	if err != nil {
		return err
	}
	cutoff := time.Now().Add(-grace)
	live := map[string]bool{}
	accepted := map[string]bool{}
	for _, info := range infos {
		live[info.NUID] = true
		episode, _, err := subjects.ParseSegmentObject(info.Name)
		if err != nil || info.ModTime.After(cutoff) || pending[info.Name] {
			res.Kept++
			continue
		}
		keep, ok := accepted[episode]
		if !ok {
			v, _, err := r.getVerdict(ctx, subjects.VerdictKey(host, episode))
			if err != nil {
				return fmt.Errorf("gc: %w", err)
			}
			keep = v != nil && v.AcceptedSHA256 != ""
			accepted[episode] = keep
		}
		if keep {
			res.Kept++
			continue
		}
		if err := obs.Delete(ctx, info.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("gc: delete %s/%s: %w", bucket, info.Name, err)
		}
		r.log.Info("deleted orphan segment", "host", host, "object", info.Name, "bytes", info.Size, "age", time.Since(info.ModTime).Round(time.Second))
		res.Segments++
		res.Bytes += info.Size
	}
	return r.purgeChunks(ctx, bucket, live, cutoff, res)
}

// purgeChunks purges the chunk subjects of bucket whose object is not live
// and whose last chunk is older than cutoff.
func (r *Receiver) purgeChunks(ctx context.Context, bucket string, live map[string]bool, cutoff time.Time, res *GCResult) error {
	stream, err := r.js.Stream(ctx, subjects.ObjectStream(bucket))
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
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
			return fmt.Errorf("gc: purge %s: %w", subj, err)
		}
		r.log.Info("purged orphan chunks", "bucket", bucket, "subject", subj, "age", time.Since(last.Time).Round(time.Second))
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

// pendingSegments returns the segment objects named by host's submissions
// still in the work queue.
func (r *Receiver) pendingSegments(ctx context.Context, host string) (map[string]bool, error) {
	out := map[string]bool{}
	stream, err := r.js.Stream(ctx, subjects.SubmissionsStream)
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
