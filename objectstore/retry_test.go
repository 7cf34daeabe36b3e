package objectstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/objectstore"
)

// leaderGapReader serves data a chunk per Read. Before the first chunk it
// deletes the bucket's stream, as a leader election leaves a subject with
// no responders; in the second Read it creates the stream again, fills p
// (the put's one chunk buffer) with the second chunk, and waits past
// nats.go's 250 ms retry of a publish that met no responders.
type leaderGapReader struct {
	t     *testing.T
	js    jetstream.JetStream
	cfg   jetstream.StreamConfig
	data  []byte
	reads int
}

func (r *leaderGapReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	r.reads++
	switch r.reads {
	case 1:
		if err := r.js.DeleteStream(context.Background(), r.cfg.Name); err != nil {
			r.t.Errorf("delete stream: %v", err)
		}
	case 2:
		if _, err := r.js.CreateStream(context.Background(), r.cfg); err != nil {
			r.t.Errorf("create stream: %v", err)
		}
	}
	n := copy(p, r.data[:min(len(r.data), objectstore.ChunkSize)])
	r.data = r.data[n:]
	if r.reads == 2 {
		time.Sleep(600 * time.Millisecond)
	}
	return n, nil
}

// TestPutChunkMeetingNoResponders: a chunk published while the bucket's
// stream has no leader meets no responders. nats.go then publishes the
// same message again 250 ms later, and its data is the put's chunk
// buffer, by then holding a later chunk: the object was stored with the
// wrong bytes under a digest that says otherwise, and the receiver judged
// it corrupt (the full TestCluster, twice after a node kill). A put must
// fail instead, or store the right bytes.
func TestPutChunkMeetingNoResponders(t *testing.T) {
	t.Parallel()
	st, _, stream, js := newStoreJS(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*objectstore.ChunkSize/16)
	for i := range data {
		data[i] ^= byte(i / objectstore.ChunkSize) // each chunk other bytes
	}
	sum := sha256.Sum256(data)
	seg := objectstore.Segment{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	r := &leaderGapReader{t: t, js: js, cfg: stream.CachedInfo().Config, data: data}
	if _, err := st.Put(t.Context(), "ep-gap", seg, r); err != nil {
		t.Logf("put failed, as it may: %v", err)
		return
	}
	rc, err := st.Open(t.Context(), "ep-gap", seg)
	if err != nil {
		t.Fatalf("open the stored segment: %v", err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("put succeeded, but the stored segment reads back %d bytes, %v; want the %d bytes sent", len(got), err, len(data))
	}
}
