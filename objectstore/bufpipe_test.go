package objectstore

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// TestBufPipe: what is written comes out in order whatever the write and
// read sizes; the writer runs ahead of the reader by up to bufPipeChunks
// chunks and no further; a close with an error reaches the reader after the
// bytes before it; a reader that stops fails the writer's next Write.
func TestBufPipe(t *testing.T) {
	t.Run("order", func(t *testing.T) {
		p := newBufPipe()
		want := make([]byte, 3<<20+12345)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range want {
			want[i] = byte(r.Uint32())
		}
		go func() {
			for rest := want; len(rest) > 0; {
				n := min(len(rest), 1+r.IntN(300<<10))
				if _, err := p.Write(rest[:n]); err != nil {
					t.Error(err)
				}
				rest = rest[n:]
			}
			p.Close()
		}()
		got, err := io.ReadAll(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read %d of %d bytes, equal %v, err %v", len(got), len(want), bytes.Equal(got, want), err)
		}
	})
	t.Run("ahead", func(t *testing.T) {
		p := newBufPipe()
		wrote := make(chan int, 1)
		go func() {
			n, _ := p.Write(make([]byte, (bufPipeChunks+1)*ChunkSize))
			wrote <- n
		}()
		select {
		case n := <-wrote:
			t.Fatalf("Write of %d chunks returned (%d bytes) with nothing read", bufPipeChunks+1, n)
		case <-time.After(100 * time.Millisecond):
		}
		buf := make([]byte, ChunkSize)
		for range 2 {
			if _, err := io.ReadFull(p, buf); err != nil {
				t.Fatal(err)
			}
		}
		if n := <-wrote; n != (bufPipeChunks+1)*ChunkSize {
			t.Fatalf("Write returned %d", n)
		}
	})
	t.Run("writer-error", func(t *testing.T) {
		p := newBufPipe()
		boom := errors.New("boom")
		p.Write([]byte("abc"))
		p.CloseWithError(boom)
		got, err := io.ReadAll(p)
		if !errors.Is(err, boom) || len(got) != 0 {
			// A close with an error drops the partial buffer: the
			// segment is abandoned, its bytes are of no use.
			t.Fatalf("ReadAll after CloseWithError = %q, %v; want nothing and boom", got, err)
		}
	})
	t.Run("reader-stops", func(t *testing.T) {
		p := newBufPipe()
		stop := errors.New("put failed")
		p.CloseReader(stop)
		if _, err := p.Write(make([]byte, (bufPipeChunks+2)*ChunkSize)); !errors.Is(err, stop) {
			t.Fatalf("Write after CloseReader = %v, want %v", err, stop)
		}
	})
}

// TestBufPipeAllocatesAsNeeded: a pipe takes buffers only as the writer
// runs ahead (a small segment needs one), and Release gives them back.
func TestBufPipeAllocatesAsNeeded(t *testing.T) {
	p := newBufPipe()
	go func() {
		p.Write(make([]byte, 1000))
		p.Close()
	}()
	if b, err := io.ReadAll(p); err != nil || len(b) != 1000 {
		t.Fatalf("ReadAll = %d bytes, %v", len(b), err)
	}
	if p.allocated != 1 {
		t.Fatalf("a 1000-byte stream took %d buffers, want 1", p.allocated)
	}
	p.Release()
	if p.cur != nil || p.back != nil || len(p.free) != 0 {
		t.Fatal("Release kept buffers")
	}
}
