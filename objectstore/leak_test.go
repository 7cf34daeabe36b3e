package objectstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// TestOpenLeavesNothingBehind reads a segment hundreds of times: each read
// must release its consumer, client and server side, or a receiver's
// memory would grow with the number of segments it reads.
func TestOpenLeavesNothingBehind(t *testing.T) {
	for _, size := range []int{256 << 10, 1 << 20} { // direct gets, a consumer
		t.Run(fmt.Sprint(size>>10, "KiB"), func(t *testing.T) { openLeavesNothingBehind(t, size) })
	}
}

func openLeavesNothingBehind(t *testing.T, size int) {
	st, _ := newStore(t)
	data := randomBytes(size, 1)
	seg := segmentOf(data)
	if _, err := st.Put(context.Background(), "ep", seg, bytesReader(data)); err != nil {
		t.Fatal(err)
	}
	read := func(n int) {
		for range n {
			r, err := st.Open(context.Background(), "ep", seg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				t.Fatal(err)
			}
			r.Close()
		}
	}
	settle := func() (int, uint64) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapInuse
	}
	read(50)
	g0, h0 := settle()
	read(300)
	g1, h1 := settle()
	if g1 > g0+5 || h1 > h0+2<<20 {
		t.Fatalf("300 more segment reads: goroutines %d -> %d, heap in use %d -> %d KiB", g0, g1, h0>>10, h1>>10)
	}
}

// TestOpenSmallSegmentDirect: a segment of at most DirectGetMaxChunks
// chunks is read with a message get per chunk from the stream's leader,
// leaving no consumer on the server even
// while it is read, and a chunk gone from under it is a truncated segment
// at once, not a wait for the read's deadline.
func TestOpenSmallSegmentDirect(t *testing.T) {
	ctx := context.Background()
	st, obs, stream, js := newStoreJS(t)
	// Chunk gets go to the leader, not to the direct get any replica
	// answers (a lagging one would say a stored chunk is missing).
	direct, err := js.Conn().SubscribeSync(jetstream.DefaultAPIPrefix + "DIRECT.GET." + subjects.ObjectStream(subjects.EpisodeBucket(testHost)))
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(3*objectstore.ChunkSize-1000, 2) // 3 chunks
	seg := segmentOf(data)
	if _, err := st.Put(ctx, "ep", seg, bytesReader(data)); err != nil {
		t.Fatal(err)
	}
	r, err := st.Open(ctx, "ep", seg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if info, err := stream.Info(ctx); err != nil || info.State.Consumers != 0 {
		t.Fatalf("while a small segment is read: %d consumers (%v), want 0", info.State.Consumers, err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatalf("read: %v", err)
	}
	r.Close()
	if err := js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := direct.Pending(); n != 0 {
		t.Fatalf("reading a small segment sent %d direct gets, want none", n)
	}

	info, err := obs.GetInfo(ctx, subjects.SegmentObject("ep", seg.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subjects.ObjectChunkSubject(subjects.EpisodeBucket(testHost), info.NUID))); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	r, err = st.Open(rctx, "ep", seg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.Copy(io.Discard, r); !errors.Is(err, objectstore.ErrSegmentTruncated) {
		t.Fatalf("read with its chunks purged: %v, want ErrSegmentTruncated", err)
	}
}
