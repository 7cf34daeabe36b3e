package doctor

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/config"
	"github.com/cis490/cis490/subjects"
)

// Bucket fill thresholds: a bucket past its quota refuses every put.
const (
	// BucketYellow is the fill, in percent of MaxBytes, above which the bucket row is yellow.
	BucketYellow = 80.0
	// BucketRed is the fill above which it is red.
	BucketRed = 95.0
)

// bucketUsage reads the size and quota of host's bucket.
type bucketUsage struct {
	Bucket   string
	Bytes    int64
	MaxBytes int64 // -1 or 0: no quota
	// Segment is the publisher's segment size, 0 if unknown. A bucket with
	// less room than one segment refuses the next full one, however far
	// from its quota in percent: a 10 GiB bucket 99.5 % full still takes
	// small episodes, a 4 GiB one 99 % full refuses every 64 MiB segment.
	Segment int64
}

// segmentRoom is the room a segment of size bytes takes in a bucket: its
// bytes, the chunk messages' headers and subjects (well under 1/256 of
// 128 KiB chunks) and the object's metadata message.
func segmentRoom(size int64) int64 { return size + size/256 + 4<<10 }

// readBucket returns the usage of host's bucket; a missing bucket is
// jetstream.ErrBucketNotFound.
func readBucket(ctx context.Context, c *Conn, host string) (bucketUsage, error) {
	u := bucketUsage{Bucket: subjects.EpisodeBucket(host)}
	rctx, cancel := c.request(ctx)
	defer cancel()
	obs, err := c.JS.ObjectStore(rctx, u.Bucket)
	if err != nil {
		return u, err
	}
	st, err := obs.Status(rctx)
	if err != nil {
		return u, err
	}
	u.Bytes = int64(st.Size())
	u.MaxBytes = -1
	if bs, ok := st.(*jetstream.ObjectBucketStatus); ok && bs.StreamInfo() != nil {
		u.MaxBytes = bs.StreamInfo().Config.MaxBytes
	}
	return u, nil
}

// classify returns the status and summary of a bucket's fill.
func (u bucketUsage) classify() (Status, string) {
	if u.MaxBytes <= 0 {
		return Green, fmt.Sprintf("%s holds %s, no quota", u.Bucket, bytesString(u.Bytes))
	}
	p := percent(u.Bytes, u.MaxBytes)
	s := fmt.Sprintf("%s %.0f%% full (%s of %s)", u.Bucket, p, bytesString(u.Bytes), bytesString(u.MaxBytes))
	switch {
	case p > BucketRed:
		return Red, s + ": uploads will be refused"
	case u.Segment > 0 && u.MaxBytes-u.Bytes < segmentRoom(u.Segment):
		return Red, fmt.Sprintf("%s: %s free, less than one %s segment: uploads will be refused",
			s, bytesString(max(u.MaxBytes-u.Bytes, 0)), bytesString(u.Segment))
	case p > BucketYellow:
		return Yellow, s
	}
	return Green, s
}

// growFix is the fix of a bucket that is filling up.
func (u bucketUsage) growFix() string {
	return fmt.Sprintf("ask the hub admin to grow the quota: nats stream edit %s --max-bytes %s, or to free it: [gc] accepted_keep in receiver.toml (cis490 doctor --hub shows what fills it)",
		subjects.ObjectStream(u.Bucket), config.Size(2*u.MaxBytes))
}

// details are the usage numbers of the row.
func (u bucketUsage) details(d map[string]any) {
	d["bucket"] = u.Bucket
	d["bytes"] = u.Bytes
	d["max_bytes"] = u.MaxBytes
	if u.MaxBytes > 0 {
		d["percent"] = percent(u.Bytes, u.MaxBytes)
	}
}

// Bucket is the "bucket" row: the usage of EPISODES_<HOST> against its
// MaxBytes quota. Above BucketYellow percent it is yellow; above BucketRed,
// with less room than one segment of segmentSize bytes (the publisher's
// segment_size; 0 skips this check), or missing it is red (the publisher
// cannot upload); a bucket this host may not read is yellow.
func Bucket(ctx context.Context, c *Conn, host string, segmentSize int64) Row {
	u, err := readBucket(ctx, c, host)
	u.Segment = segmentSize
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		r := row("bucket", Red, fmt.Sprintf("bucket %s is missing on the hub: nothing can be uploaded", u.Bucket))
		r.Fix = fmt.Sprintf("on the hub: nats object add %s --max-bucket-size 10GiB (a publisher allowed to create it does so at start)", u.Bucket)
		r.Details["bucket"] = u.Bucket
		return r
	case err != nil:
		what, _ := c.failure(err, subjects.ObjectStream(u.Bucket))
		r := row("bucket", Yellow, fmt.Sprintf("cannot read bucket %s: %s", u.Bucket, what))
		r.Fix = fmt.Sprintf("ask the hub admin to let this host read %s (its bucket info)", subjects.ObjectStream(u.Bucket))
		r.Details["bucket"] = u.Bucket
		r.Details["error"] = what
		return r
	}
	s, summary := u.classify()
	r := row("bucket", s, summary)
	if s != Green {
		r.Fix = u.growFix()
	}
	u.details(r.Details)
	return r
}
