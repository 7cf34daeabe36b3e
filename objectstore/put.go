package objectstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/subjects"
)

// Chunking of a segment put, as the stock object store lays it out.
const (
	// ChunkSize is the stock object store's default chunk size.
	ChunkSize = 128 << 10
	// PutWindow bounds the chunks of a put sent and not yet acknowledged
	// by the server: 2 MiB. The stock ObjectStore.Put allows 4,000 (500
	// MiB) and buffers whatever the server has not taken in the client,
	// which is what made a 64 MiB segment cost the publisher ~64 MiB of
	// memory and a 1 GiB stock put fail with "too many requests".
	PutWindow = 16
)

// putObject stores r as an object in the stock object store layout
// (ADR-20: chunks on $O.<bucket>.C.<nuid>, then the ObjectInfo on
// $O.<bucket>.M.<base64url name> with a subject rollup), so that the
// stock Get, `nats object get` and the GC read it as any other object. It
// differs from the stock Put in two things: at most PutWindow chunks are
// in flight, each next one sent as the oldest is acknowledged; and the
// object's name and digest are asked of name only once every chunk is
// stored, so that a segment can be sent while it is being packed, before
// its SHA-256 (its name) is known. name may answer skip, when the object
// is stored already: the chunks sent are then purged and putObject
// returns nil, nil. On error the chunks sent are purged where permissions
// allow (as the stock Put does), except after the object's info was
// published, successfully or not; otherwise the GC reclaims them.
//
// The digest is the object's ObjectInfo.Digest, the SHA-256 the Segmenter
// computed as the bytes went by: it is not computed again here (a third
// pass over every byte, about a seventh of the publisher's CPU). A reader
// of the object checks it (Store.Open, the stock Get), so bytes that
// changed between the Segmenter and the wire are found corrupt by the
// receiver, which deletes them, and the publisher sends them again.
func (s *Store) putObject(ctx context.Context, r io.Reader, name func() (name, digest string, skip bool, err error)) (*jetstream.ObjectInfo, error) {
	bucket, stream, err := s.chunkStream(ctx)
	if err != nil {
		return nil, err
	}
	nuid := strings.TrimRight(rand.Text(), "=")
	chunkSubj := subjects.ObjectChunkSubject(bucket, nuid)
	fail := func(err error) (*jetstream.ObjectInfo, error) {
		// Bounded: a purge denied by permissions waits out its deadline.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = stream.Purge(pctx, jetstream.WithPurgeSubject(chunkSubj))
		return nil, err
	}
	var inflight []jetstream.PubAckFuture
	await := func(f jetstream.PubAckFuture) error {
		select {
		case <-f.Ok():
			return nil
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	chunk := make([]byte, ChunkSize)
	var size uint64
	var chunks uint32
	for {
		n, rerr := io.ReadFull(r, chunk)
		if n > 0 {
			if len(inflight) == PutWindow {
				if err := await(inflight[0]); err != nil {
					return fail(fmt.Errorf("chunk %d: %w", chunks-PutWindow, err))
				}
				inflight = inflight[1:]
			}
			m := nats.NewMsg(chunkSubj)
			m.Data = chunk[:n] // the client copies it into its write buffer
			// No retry: on no responders (a leader election) nats.go
			// would publish m again 250 ms later, and m.Data is this one
			// buffer, by then holding a later chunk: the object stored
			// with wrong bytes (TestPutChunkMeetingNoResponders; the full
			// TestCluster found it as corrupt verdicts after a node
			// kill). The put fails instead and the upload sends the
			// segment again.
			f, err := s.js.PublishMsgAsync(m, jetstream.WithRetryAttempts(0))
			if err != nil {
				return fail(fmt.Errorf("chunk %d: %w", chunks, err))
			}
			inflight = append(inflight, f)
			size += uint64(n)
			chunks++
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return fail(rerr)
		}
	}
	for _, f := range inflight {
		if err := await(f); err != nil {
			return fail(err)
		}
	}
	objName, digest, skip, err := name()
	if err != nil || skip {
		return fail(err)
	}
	info := &jetstream.ObjectInfo{
		ObjectMeta: jetstream.ObjectMeta{Name: objName, Opts: &jetstream.ObjectMetaOptions{ChunkSize: ChunkSize}},
		Bucket:     bucket, NUID: nuid, Size: size, Chunks: chunks,
		Digest: digest,
	}
	body, err := json.Marshal(info)
	if err != nil {
		return fail(err)
	}
	mm := nats.NewMsg(strings.TrimSuffix(subjects.ObjectMetaAll(bucket), ">") + base64.URLEncoding.EncodeToString([]byte(objName)))
	mm.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	mm.Data = body
	publish := s.js.PublishMsg
	if s.publishMeta != nil {
		publish = s.publishMeta
	}
	if _, err := publish(ctx, mm); err != nil {
		// Not purged: a publish that timed out may have been stored
		// all the same (a leader election, a dropped link), and the
		// object would then name chunks that are gone, a segment the
		// next Upload finds stored and the receiver finds truncated
		// (TestCluster did). If the info was not stored the chunks
		// have no owner, and the receiver's GC sweeps them.
		return nil, fmt.Errorf("object info: %w", err)
	}
	return info, nil
}
