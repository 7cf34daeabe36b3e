package objectstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/subjects"
)

// Transfer deadlines. Every Put and Get gets Slack plus the time the object
// takes at MinRate, so a large segment on a slow link is not cut off at the
// client's 5 s default, and a stalled one is still given up on.
const (
	DefaultMinRate = 256 << 10 // bytes per second: 2 Mbit/s
	DefaultSlack   = 30 * time.Second
	// DefaultLinkGrace is how long the connection may stay down before a
	// transfer in progress is abandoned with ErrLinkDown. Shorter drops are
	// absorbed by the client's reconnect buffer and go unnoticed.
	DefaultLinkGrace = 10 * time.Second
)

// ErrLinkDown is returned by Put and by a segment reader when the
// connection to the hub stayed down longer than the link grace: the
// transfer is abandoned, to be resumed, instead of waiting out its deadline.
var ErrLinkDown = errors.New("link to the hub down")

// Store keeps the segments of one host's episodes in that host's object
// bucket. Objects are named subjects.SegmentObject(episode, sha256), so a
// name says what the bytes are: a segment already stored is never sent
// again, and none is ever overwritten.
type Store struct {
	js      jetstream.JetStream
	obs     jetstream.ObjectStore
	minRate int64
	slack   time.Duration
	grace   time.Duration

	mu     sync.Mutex
	bucket string
	stream jetstream.Stream

	// publishMeta replaces js.PublishMsg for an object's info: a test seam.
	publishMeta func(context.Context, *nats.Msg, ...jetstream.PublishOpt) (*jetstream.PubAck, error)
	// leaderOnly reads small segments from the leader even on a stream
	// of one replica: a test seam.
	leaderOnly bool
}

// NewStore returns a Store on the object bucket obs, reached through js.
func NewStore(js jetstream.JetStream, obs jetstream.ObjectStore) *Store {
	return &Store{js: js, obs: obs, minRate: DefaultMinRate, slack: DefaultSlack, grace: DefaultLinkGrace}
}

// SetLinkGrace sets how long the connection may be down before a transfer
// in progress is abandoned with ErrLinkDown.
func (s *Store) SetLinkGrace(d time.Duration) {
	if d > 0 {
		s.grace = d
	}
}

// guard returns a context that is cancelled with ErrLinkDown once the
// connection has been down for the link grace.
func (s *Store) guard(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	nc := s.js.Conn()
	if nc == nil {
		return ctx, func() { cancel(nil) }
	}
	go func() {
		t := time.NewTicker(min(s.grace/10, time.Second))
		defer t.Stop()
		var down time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				if nc.IsConnected() {
					down = time.Time{}
					continue
				}
				if down.IsZero() {
					down = now
				}
				if now.Sub(down) >= s.grace {
					cancel(fmt.Errorf("%w: disconnected for %v", ErrLinkDown, now.Sub(down).Round(time.Second)))
					return
				}
			}
		}
	}()
	return ctx, func() { cancel(nil) }
}

// linkErr prefers the reason ctx was cancelled with, if it is ErrLinkDown.
func linkErr(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrLinkDown) {
		return cause
	}
	return err
}

// chunkStream returns the bucket's name and its underlying stream.
func (s *Store) chunkStream(ctx context.Context) (string, jetstream.Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stream != nil {
		return s.bucket, s.stream, nil
	}
	st, err := s.obs.Status(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("bucket status: %w", err)
	}
	stream, err := s.js.Stream(ctx, subjects.ObjectStream(st.Bucket()))
	if err != nil {
		return "", nil, fmt.Errorf("bucket stream: %w", err)
	}
	s.bucket, s.stream = st.Bucket(), stream
	return s.bucket, s.stream, nil
}

// SetMinRate sets the slowest rate, in bytes per second, that a transfer's
// deadline allows for.
func (s *Store) SetMinRate(bytesPerSecond int64) {
	if bytesPerSecond > 0 {
		s.minRate = bytesPerSecond
	}
}

// timeout is the deadline for moving size bytes.
func (s *Store) timeout(size int64) time.Duration {
	return s.slack + time.Duration(float64(size)/float64(s.minRate)*float64(time.Second))
}

// digestValue is a SHA-256 in the object store's ObjectInfo.Digest form.
func digestValue(sha256hex string) (string, error) {
	b, err := hex.DecodeString(sha256hex)
	if err != nil {
		return "", fmt.Errorf("%w: %v", subjects.ErrBadDigest, err)
	}
	return "SHA-256=" + base64.URLEncoding.EncodeToString(b), nil
}

// Has reports whether the segment is stored whole under its name. A stored
// object of that name whose size or digest differ is ErrSegmentDigest: it
// cannot be replaced without a purge, which hosts are not allowed.
func (s *Store) Has(ctx context.Context, episode string, seg Segment) (bool, error) {
	name := subjects.SegmentObject(episode, seg.SHA256)
	ctx, cancel := context.WithTimeout(ctx, s.slack)
	defer cancel()
	// A direct get: on a replicated stream a lagging replica may say a
	// stored segment is missing, which costs a segment sent twice, never
	// a verdict (Open asks the leader).
	info, err := s.obs.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return false, nil
	}
	if errors.Is(err, jetstream.ErrBadObjectMeta) {
		return false, badMeta(name)
	}
	if err != nil {
		return false, fmt.Errorf("stat segment %s: %w", name, err)
	}
	want, err := digestValue(seg.SHA256)
	if err != nil {
		return false, err
	}
	if int64(info.Size) != seg.Size || info.Digest != want {
		return false, fmt.Errorf("%w: stored %s has %d bytes and %s, want %d bytes", ErrSegmentDigest, name, info.Size, subjects.Quote(info.Digest), seg.Size)
	}
	return true, nil
}

// Put stores the segment read from r unless it is stored already, and
// reports whether it sent anything. r must yield exactly seg.Size bytes
// whose SHA-256 is seg.SHA256. The object is stored with seg.SHA256 as its
// digest without hashing the bytes again: bytes of another size are
// deleted (where permissions allow) and ErrSegmentDigest is returned;
// bytes of the right size but another hash are found by whoever reads the
// segment (Open fails with ErrSegmentDigest, the receiver judges the
// submission corrupt and deletes its segments).
func (s *Store) Put(ctx context.Context, episode string, seg Segment, r io.Reader) (bool, error) {
	if has, err := s.Has(ctx, episode, seg); has || err != nil {
		return false, err
	}
	name := subjects.SegmentObject(episode, seg.SHA256)
	digest, err := digestValue(seg.SHA256)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout(seg.Size))
	defer cancel()
	ctx, unguard := s.guard(ctx)
	defer unguard()
	info, err := s.putObject(ctx, io.LimitReader(r, seg.Size+1), func() (string, string, bool, error) { return name, digest, false, nil })
	if err != nil {
		return false, fmt.Errorf("put segment %s: %w", name, linkErr(ctx, err))
	}
	if int64(info.Size) != seg.Size {
		_ = s.obs.Delete(context.WithoutCancel(ctx), name)
		return true, fmt.Errorf("%w: sent %d bytes for %s, want %d", ErrSegmentDigest, info.Size, name, seg.Size)
	}
	return true, nil
}

// Sealed is a streamed segment as its writer finished it: its size and
// SHA-256, and whether it ended the archive short of the segment size.
type Sealed struct {
	Segment
	Last bool
}

// PutStream stores a segment read from r as it is written, before its
// SHA-256 and so its name are known: the chunks go to the hub as they are
// read, and once r is drained seal gives the segment, under whose name the
// object is then stored. A segment found stored already under that name
// (an upload resumed after a crash that the journal did not record) is
// left as it is and the chunks just sent are purged (or left to the GC
// where the host may not purge). sent is false only then. maxSize, the
// segment size, sets the deadline. Bytes that do not match the sealed
// size are ErrSegmentDigest.
func (s *Store) PutStream(ctx context.Context, episode string, maxSize int64, r io.Reader, seal <-chan Sealed) (sealed Sealed, sent bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout(maxSize))
	defer cancel()
	ctx, unguard := s.guard(ctx)
	defer unguard()
	var name string
	skipped := false
	info, err := s.putObject(ctx, r, func() (string, string, bool, error) {
		select {
		case sealed = <-seal:
		case <-ctx.Done():
			return "", "", false, context.Cause(ctx)
		}
		name = subjects.SegmentObject(episode, sealed.SHA256)
		digest, err := digestValue(sealed.SHA256)
		if err != nil {
			return "", "", false, err
		}
		has, err := s.Has(ctx, episode, sealed.Segment)
		skipped = has
		return name, digest, has, err
	})
	if err != nil {
		if name == "" {
			return sealed, false, fmt.Errorf("put segment: %w", linkErr(ctx, err))
		}
		return sealed, false, fmt.Errorf("put segment %s: %w", name, linkErr(ctx, err))
	}
	if skipped {
		return sealed, false, nil
	}
	if int64(info.Size) != sealed.Size {
		_ = s.obs.Delete(context.WithoutCancel(ctx), name)
		return sealed, true, fmt.Errorf("%w: sent %d bytes for %s, want %d", ErrSegmentDigest, info.Size, name, sealed.Size)
	}
	return sealed, true, nil
}

// Open returns a reader of the stored segment. The reader fails with
// ErrSegmentTruncated, ErrSegmentSize or ErrSegmentDigest at the point the
// bytes stop matching seg, and only returns io.EOF once all seg.Size bytes
// were read and their SHA-256 checked against the segment's name. A segment
// that is not stored is ErrSegmentMissing. Close the reader.
//
// The chunks are read with a pull consumer that holds at most
// PrefetchChunks of them, where the stock Get pushes them into a client
// buffer that can grow to tens of megabytes when the reader is slower than
// the server: this keeps the hub's memory flat whatever the episode size.
func (s *Store) Open(ctx context.Context, episode string, seg Segment) (io.ReadCloser, error) {
	name := subjects.SegmentObject(episode, seg.SHA256)
	ctx, cancelTimeout := context.WithTimeout(ctx, s.timeout(seg.Size))
	ctx, unguard := s.guard(ctx)
	cancel := func() { unguard(); cancelTimeout() }
	fail := func(err error) (io.ReadCloser, error) {
		cancel()
		return nil, err
	}
	info, err := s.info(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return fail(fmt.Errorf("%w: %s", ErrSegmentMissing, name))
	}
	if errors.Is(err, jetstream.ErrBadObjectMeta) {
		return fail(badMeta(name))
	}
	if err != nil {
		return fail(fmt.Errorf("get segment %s: %w", name, err))
	}
	if want, _ := digestValue(seg.SHA256); info.Digest != want && int64(info.Size) == seg.Size {
		return fail(fmt.Errorf("%w: %s is stored with digest %s", ErrSegmentDigest, name, subjects.Quote(info.Digest)))
	}
	cr := &chunkReader{ctx: ctx, left: info.Chunks}
	if info.Chunks > 0 {
		bucket, stream, err := s.chunkStream(ctx)
		if err != nil {
			return fail(fmt.Errorf("get segment %s: %w", name, err))
		}
		if info.Chunks <= DirectGetMaxChunks {
			subj := subjects.ObjectChunkSubject(bucket, info.NUID)
			if cfg := stream.CachedInfo().Config; cfg.Replicas <= 1 && cfg.AllowDirect && !s.leaderOnly {
				// One replica: the direct get is answered by the only
				// server, with the chunk as it is, not base64 in JSON.
				g := &directGets{ctx: ctx, stream: stream, subj: subj, next: 1}
				cr.fetch = g.fetch
			} else {
				g := &leaderGets{ctx: ctx, nc: s.js.Conn(), api: s.msgGetSubject(cfg.Name), subj: subj, next: 1}
				cr.fetch = g.fetch
			}
			return &segmentReader{r: cr, name: name, seg: seg, h: sha256.New(), cancel: cancel}, nil
		}
		cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{subjects.ObjectChunkSubject(bucket, info.NUID)},
			// The reader deletes it on Close; this only covers a crash.
			InactiveThreshold: 30 * time.Second,
		})
		if err != nil {
			return fail(fmt.Errorf("get segment %s: %w", name, err))
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(PrefetchChunks))
		if err != nil {
			return fail(fmt.Errorf("get segment %s: %w", name, err))
		}
		// An info claiming more chunks than the subject holds (a host can
		// write any info) makes Next wait for its deadline: that host's
		// own episode is judged late, never another's. Ending the read
		// when the consumer reports nothing pending is not safe: on a
		// cluster, a consumer on a replica catching up after a failover
		// reports 0 pending with chunks still to come, and an intact
		// segment was judged truncated (TestCluster, full profile).
		cr.fetch = func() ([]byte, error) {
			msg, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				return nil, err
			}
			return msg.Data(), nil
		}
		cr.stop = func() {
			it.Stop()
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = stream.DeleteConsumer(dctx, cons.CachedInfo().Name)
		}
	}
	return &segmentReader{r: cr, name: name, seg: seg, h: sha256.New(), cancel: cancel}, nil
}

// badMeta is the error of a segment whose info does not decode: the
// segment cannot be read, as if it were missing (the verdict is corrupt).
func badMeta(name string) error {
	return fmt.Errorf("%w: %s: its info is not object metadata (written by the host?)", ErrSegmentMissing, name)
}

// DirectGetMaxChunks is the largest object, in chunks, that Open reads
// with one message get per chunk rather than through a consumer. A small
// episode's only segment is one chunk: a consumer cost the hub a consumer
// created and deleted and the reader three round trips for it, a get one
// round trip and no state on the server. Past a few chunks the consumer's
// pipelined delivery is faster on a link with a long round trip.
const DirectGetMaxChunks = 4

// info reads the object info of name. On a replicated stream it asks the
// leader: obs.GetInfo is a direct get, which any replica answers, and one
// that has not stored the info yet would make a stored segment look
// missing (a corrupt verdict, found by TestCluster when a node was killed).
func (s *Store) info(ctx context.Context, name string) (*jetstream.ObjectInfo, error) {
	bucket, stream, err := s.chunkStream(ctx)
	if err != nil {
		return nil, err
	}
	cfg := stream.CachedInfo().Config
	if cfg.Replicas <= 1 && !s.leaderOnly {
		return s.obs.GetInfo(ctx, name)
	}
	subj := strings.TrimSuffix(subjects.ObjectMetaAll(bucket), ">") + base64.URLEncoding.EncodeToString([]byte(name))
	data, _, err := leaderGet(ctx, s.js.Conn(), s.msgGetSubject(cfg.Name), msgGetRequest{LastFor: subj})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, jetstream.ErrObjectNotFound
	}
	if err != nil {
		return nil, err
	}
	var info jetstream.ObjectInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, jetstream.ErrBadObjectMeta
	}
	if info.Deleted {
		return nil, jetstream.ErrObjectNotFound
	}
	return &info, nil
}

// directGets fetches an object's chunks one direct get at a time, the
// first message on the object's chunk subject from next on. Only for a
// stream of one replica: with more, any replica answers a direct get,
// and one behind the leader would say a stored chunk is missing.
//
// The message get of leaderGets answers in JSON with the chunk in base64:
// decoding it was half of a receiver's CPU on small episodes, and
// encoding it 7% of the hub's.
type directGets struct {
	ctx    context.Context
	stream jetstream.Stream
	subj   string
	next   uint64
}

func (g *directGets) fetch() ([]byte, error) {
	msg, err := g.stream.GetMsg(g.ctx, g.next, jetstream.WithGetMsgSubject(g.subj))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, io.EOF
	}
	if err != nil {
		return nil, err
	}
	g.next = msg.Sequence + 1
	return msg.Data, nil
}

// leaderGets fetches an object's chunks one message get at a time, the
// first message on the object's chunk subject from next on. The gets go to
// the stream's leader ($JS.API.STREAM.MSG.GET), never as direct gets,
// which any replica answers: a replica a little behind answers "no
// message" for a chunk the leader has stored, and the segment would be
// judged truncated (TestCluster found it during a failover).
type leaderGets struct {
	ctx  context.Context
	nc   *nats.Conn
	api  string // the stream's STREAM.MSG.GET subject
	subj string
	next uint64 // the stream sequence to look from
}

// fetch returns the next chunk, or io.EOF when there is none: fewer
// chunks than the object's info says, which the segment reader reports as
// a truncated segment.
func (g *leaderGets) fetch() ([]byte, error) {
	data, seq, err := leaderGetNext(g.ctx, g.nc, g.api, g.next, g.subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, io.EOF
	}
	if err != nil {
		return nil, err
	}
	g.next = seq + 1
	return data, nil
}

// msgGetSubject is the stream's STREAM.MSG.GET API subject, under the
// JetStream context's API prefix or domain.
func (s *Store) msgGetSubject(stream string) string {
	o := s.js.Options()
	prefix := o.APIPrefix
	switch {
	case o.Domain != "":
		prefix = "$JS." + o.Domain + ".API."
	case prefix == "":
		prefix = jetstream.DefaultAPIPrefix
	}
	if !strings.HasSuffix(prefix, ".") {
		prefix += "."
	}
	return prefix + "STREAM.MSG.GET." + stream
}

// leaderGetNext asks the stream's leader for the first message on subj
// from sequence seq: its data and sequence, or jetstream.ErrMsgNotFound.
func leaderGetNext(ctx context.Context, nc *nats.Conn, api string, seq uint64, subj string) ([]byte, uint64, error) {
	return leaderGet(ctx, nc, api, msgGetRequest{Seq: seq, NextFor: subj})
}

// msgGetRequest is the body of a STREAM.MSG.GET request.
type msgGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
}

// leaderGet sends a STREAM.MSG.GET request to the stream's leader and
// returns the message's data and sequence, or jetstream.ErrMsgNotFound.
func leaderGet(ctx context.Context, nc *nats.Conn, api string, r msgGetRequest) ([]byte, uint64, error) {
	subj := r.NextFor + r.LastFor
	req, err := json.Marshal(r)
	if err != nil {
		return nil, 0, err
	}
	msg, err := nc.RequestWithContext(ctx, api, req)
	if err != nil {
		return nil, 0, err
	}
	var resp struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Data []byte `json:"data"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, 0, fmt.Errorf("get %s from %s: %w", subj, api, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == int(jetstream.JSErrCodeMessageNotFound):
		return nil, 0, jetstream.ErrMsgNotFound
	case resp.Error != nil:
		return nil, 0, fmt.Errorf("get %s from %s: %s (%d)", subj, api, resp.Error.Description, resp.Error.ErrCode)
	case resp.Message == nil:
		return nil, 0, fmt.Errorf("get %s from %s: no message in the response", subj, api)
	}
	return resp.Message.Data, resp.Message.Seq, nil
}

// PrefetchChunks bounds the chunks a segment read holds in memory: with the
// object store's 128 KiB chunks, 1 MiB.
const PrefetchChunks = 8

// chunkReader yields an object's chunks in order, left of them, each from
// fetch: a pull consumer's next message, or a get from the stream's
// leader for a small object.
type chunkReader struct {
	ctx   context.Context
	left  uint32
	buf   []byte
	fetch func() ([]byte, error) // io.EOF: no more chunks
	stop  func()                 // releases what fetch holds, if anything
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.left == 0 {
			return 0, io.EOF
		}
		data, err := c.fetch()
		if err == io.EOF {
			c.left = 0
			return 0, io.EOF
		}
		if err != nil {
			return 0, linkErr(c.ctx, err)
		}
		c.buf = data
		c.left--
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// Close stops the pull and deletes the consumer on the server, if there is
// one, so that neither side keeps anything of a segment once it is read.
func (c *chunkReader) Close() error {
	if c.stop != nil {
		c.stop()
	}
	return nil
}

// Delete removes the episode's segments listed. Segments already gone
// are fine, and so is one whose info is not object metadata (a host wrote
// it; the delete cannot read it, and cis490 doctor --hub reports it).
func (s *Store) Delete(ctx context.Context, episode string, segs []Segment) error {
	for _, seg := range segs {
		name := subjects.SegmentObject(episode, seg.SHA256)
		err := s.obs.Delete(ctx, name)
		if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) && !errors.Is(err, jetstream.ErrBadObjectMeta) {
			return fmt.Errorf("delete segment %s: %w", name, err)
		}
	}
	return nil
}

// segmentReader checks one segment's bytes against its manifest entry.
type segmentReader struct {
	r      io.ReadCloser
	name   string
	seg    Segment
	h      hash.Hash
	n      int64
	err    error
	cancel context.CancelFunc
}

func (sr *segmentReader) Read(p []byte) (int, error) {
	if sr.err != nil {
		return 0, sr.err
	}
	n, err := sr.r.Read(p)
	sr.h.Write(p[:n])
	sr.n += int64(n)
	switch {
	case sr.n > sr.seg.Size:
		sr.err = fmt.Errorf("%w: %s holds more than %d bytes", ErrSegmentSize, sr.name, sr.seg.Size)
		return 0, sr.err
	case errors.Is(err, jetstream.ErrDigestMismatch):
		sr.err = fmt.Errorf("%w: %s: %v", ErrSegmentDigest, sr.name, err)
		return 0, sr.err
	case err == io.EOF:
		if sr.n < sr.seg.Size {
			sr.err = fmt.Errorf("%w: %s holds %d of %d bytes", ErrSegmentTruncated, sr.name, sr.n, sr.seg.Size)
			return 0, sr.err
		}
		if got := hex.EncodeToString(sr.h.Sum(nil)); got != sr.seg.SHA256 {
			sr.err = fmt.Errorf("%w: %s hashes to %s", ErrSegmentDigest, sr.name, got)
			return 0, sr.err
		}
		sr.err = io.EOF
		return n, io.EOF
	case err != nil:
		sr.err = fmt.Errorf("read segment %s: %w", sr.name, err)
		return n, sr.err
	}
	return n, nil
}

func (sr *segmentReader) Close() error {
	err := sr.r.Close()
	sr.cancel()
	return err
}
