package objectstore_test

import (
	"context"
	"io"
	"runtime"
	"testing"
)

// TestOpenLeavesNothingBehind reads a segment hundreds of times: each read
// must release its consumer, client and server side, or a receiver's
// memory would grow with the number of segments it reads.
func TestOpenLeavesNothingBehind(t *testing.T) {
	st, _ := newStore(t)
	data := randomBytes(256<<10, 1)
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
