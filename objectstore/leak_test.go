package objectstore_test

import (
	"bytes"
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
	// On a stream of one replica the chunks come by direct get (raw, one
	// server to answer); with more, or with leaderOnly, by message gets to
	// the leader (a lagging replica would answer a direct get with "no
	// message"). Either way no consumer, and a purged chunk is found at once.
	for _, leaderOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("leaderOnly=%v", leaderOnly), func(t *testing.T) {
			ctx := context.Background()
			st, obs, stream, js := newStoreJS(t)
			st.SetLeaderOnly(leaderOnly)
			name := subjects.ObjectStream(subjects.EpisodeBucket(testHost))
			direct, err := js.Conn().SubscribeSync(jetstream.DefaultAPIPrefix + "DIRECT.GET." + name)
			if err != nil {
				t.Fatal(err)
			}
			leader, err := js.Conn().SubscribeSync(jetstream.DefaultAPIPrefix + "STREAM.MSG.GET." + name)
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
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, data[1000:]) {
				t.Fatalf("read %d bytes, not the segment's", len(got))
			}
			r.Close()
			if err := js.Conn().Flush(); err != nil {
				t.Fatal(err)
			}
			nd, _, _ := direct.Pending()
			nl, _, _ := leader.Pending()
			// From the leader: the object's info too, then the 3 chunks.
			if want := map[bool][2]int{false: {3, 0}, true: {0, 4}}[leaderOnly]; nd != want[0] || nl != want[1] {
				t.Fatalf("reading a 3-chunk segment sent %d direct gets and %d message gets, want %d and %d", nd, nl, want[0], want[1])
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
		})
	}
}
