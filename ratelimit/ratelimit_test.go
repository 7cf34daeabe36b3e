package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// copyAll reads all of r through buffers of size bufSize and returns the
// number of bytes read.
func copyAll(t testing.TB, r io.Reader, bufSize int) int64 {
	t.Helper()
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{r}, make([]byte, bufSize))
	if err != nil {
		t.Errorf("copy: %v", err)
	}
	return n
}

// wantDuration is how long size bytes take through a fresh limiter: the
// first burst is free (the bucket starts full), the rest goes at the cap.
func wantDuration(l *Limiter, size int64) time.Duration {
	return time.Duration(float64(size-int64(l.Burst())) / float64(l.Rate()) * float64(time.Second))
}

func TestNew(t *testing.T) {
	tests := []struct {
		rate      int64
		wantRate  int64
		wantBurst int
	}{
		{rate: 0},
		{rate: -1},
		{rate: 1, wantRate: 1, wantBurst: MinBurst},
		{rate: 256 * kib, wantRate: 256 * kib, wantBurst: 64 * kib},
		{rate: 100 * mib, wantRate: 100 * mib, wantBurst: 25 * mib},
	}
	for _, tt := range tests {
		l := New(tt.rate)
		if got := l.Rate(); got != tt.wantRate {
			t.Errorf("New(%d).Rate() = %d, want %d", tt.rate, got, tt.wantRate)
		}
		if got := l.Burst(); got != tt.wantBurst {
			t.Errorf("New(%d).Burst() = %d, want %d", tt.rate, got, tt.wantBurst)
		}
		if tt.wantRate == 0 && l != nil {
			t.Errorf("New(%d) = %p, want nil (unlimited)", tt.rate, l)
		}
	}
}

func TestUnlimitedPassesThrough(t *testing.T) {
	for _, l := range []*Limiter{nil, New(0), New(-5)} {
		src := bytes.NewReader(make([]byte, 3*mib))
		r := l.Reader(t.Context(), src)
		if r != io.Reader(src) {
			t.Errorf("%v.Reader(src) = %T, want src itself", l, r)
		}
	}
}

func TestReaderTakesRate(t *testing.T) {
	tests := []struct {
		name    string
		rate    int64
		size    int64
		bufSize int
	}{
		{name: "1MiB at 256KiB/s", rate: 256 * kib, size: mib, bufSize: 32 * kib},
		{name: "1MiB at 256KiB/s, reads larger than the burst", rate: 256 * kib, size: mib, bufSize: mib},
		{name: "1MiB at 100KiB/s, minimum burst", rate: 100 * kib, size: mib, bufSize: 8 * kib},
		{name: "64MiB at 16MiB/s", rate: 16 * mib, size: 64 * mib, bufSize: 1 * mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := New(tt.rate)
				start := time.Now()
				n := copyAll(t, l.Reader(t.Context(), bytes.NewReader(make([]byte, tt.size))), tt.bufSize)
				elapsed := time.Since(start)
				if n != tt.size {
					t.Fatalf("copied %d bytes, want %d", n, tt.size)
				}
				// The first burst is free, the rest goes at the cap; a
				// final partial read may come up to one burst early.
				want := wantDuration(l, tt.size)
				tolerance := time.Duration(float64(l.Burst()) / float64(tt.rate) * float64(time.Second))
				if elapsed < want-tolerance || elapsed > want+tolerance {
					t.Errorf("%d bytes at %d B/s took %v, want %v ± %v", tt.size, tt.rate, elapsed, want, tolerance)
				}
			})
		})
	}
}

func TestReaderReadsAtMostBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(256 * kib)
		r := l.Reader(t.Context(), bytes.NewReader(make([]byte, 4*mib)))
		p := make([]byte, 4*mib)
		for range 5 {
			n, err := r.Read(p)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if n > l.Burst() {
				t.Fatalf("Read returned %d bytes, want at most the burst %d", n, l.Burst())
			}
		}
	})
}

func TestConcurrentReadersShareRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			rate    = 256 * kib
			size    = mib
			readers = 4
		)
		l := New(rate)
		start := time.Now()
		finished := make([]time.Duration, readers)
		var wg sync.WaitGroup
		for i := range readers {
			wg.Go(func() {
				copyAll(t, l.Reader(t.Context(), bytes.NewReader(make([]byte, size))), 32*kib)
				finished[i] = time.Since(start)
			})
		}
		wg.Wait()
		elapsed := time.Since(start)

		// Together they move readers*size at the cap.
		want := wantDuration(l, readers*size)
		tolerance := time.Duration(float64(l.Burst()) / rate * float64(time.Second))
		if elapsed < want-tolerance || elapsed > want+tolerance {
			t.Errorf("%d readers of %d bytes at %d B/s took %v, want %v ± %v", readers, size, rate, elapsed, want, tolerance)
		}
		// And they share it: none gets the cap to itself, which would
		// finish it in a quarter of the time.
		for i, d := range finished {
			if d < elapsed*3/4 {
				t.Errorf("reader %d finished after %v of %v: it did not share the rate", i, d, elapsed)
			}
		}
	})
}

func TestReaderHonoursContext(t *testing.T) {
	tests := []struct {
		name    string
		ctx     func(context.Context) (context.Context, context.CancelFunc)
		cancel  bool          // cancel once the reader waits
		want    error         // from the waiting Read
		elapsed time.Duration // fake time the waiting Read takes
	}{
		{
			name:   "cancel",
			ctx:    context.WithCancel,
			cancel: true,
			want:   context.Canceled,
		},
		{
			name: "deadline before the tokens",
			ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(ctx, 300*time.Millisecond)
			},
			want:    context.DeadlineExceeded,
			elapsed: 300 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := tt.ctx(t.Context())
				defer cancel()
				// 64 KiB/s with a 64 KiB bucket: the first read empties
				// it, the second waits a second for tokens.
				l := New(64 * kib)
				r := l.Reader(ctx, bytes.NewReader(make([]byte, mib)))
				p := make([]byte, 64*kib)
				if n, err := r.Read(p); n != len(p) || err != nil {
					t.Fatalf("first Read = %d, %v; want %d, nil", n, err, len(p))
				}

				start := time.Now()
				type result struct {
					n   int
					err error
				}
				done := make(chan result, 1)
				go func() {
					n, err := r.Read(p)
					done <- result{n, err}
				}()
				synctest.Wait() // the Read is now blocked waiting for tokens
				select {
				case res := <-done:
					t.Fatalf("second Read returned %d, %v before any tokens", res.n, res.err)
				default:
				}
				if tt.cancel {
					cancel()
				}
				res := <-done
				if res.n != 0 || res.err != tt.want {
					t.Errorf("waiting Read = %d, %v; want 0, %v", res.n, res.err, tt.want)
				}
				if got := time.Since(start); got != tt.elapsed {
					t.Errorf("waiting Read returned after %v, want %v", got, tt.elapsed)
				}
				// Once ctx has ended, Read fails at once.
				if n, err := r.Read(p); n != 0 || !errors.Is(err, tt.want) {
					t.Errorf("Read after ctx ended = %d, %v; want 0, %v", n, err, tt.want)
				}
			})
		})
	}
}

func TestCancelGivesTokensBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(64 * kib)
		p := make([]byte, 64*kib)
		src := bytes.NewReader(make([]byte, mib))

		ctx, cancel := context.WithCancel(t.Context())
		r := l.Reader(ctx, src)
		if _, err := r.Read(p); err != nil { // empties the bucket
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := r.Read(p) // reserves the next second of tokens
			done <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-done; err != context.Canceled {
			t.Fatalf("cancelled Read: %v, want %v", err, context.Canceled)
		}

		// Another reader gets the tokens the cancelled one gave back:
		// its read waits one second, not two.
		start := time.Now()
		if _, err := l.Reader(t.Context(), src).Read(p); err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(start), time.Second; got != want {
			t.Errorf("Read after a cancelled reservation waited %v, want %v", got, want)
		}
	})
}

func TestReaderPassesErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("disk on fire")
		src := io.MultiReader(strings.NewReader("abc"), &errReader{boom})
		r := New(mib).Reader(t.Context(), src)
		got, err := io.ReadAll(r)
		if string(got) != "abc" || err != boom {
			t.Errorf("ReadAll = %q, %v; want %q, %v", got, err, "abc", boom)
		}
	})
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

// BenchmarkReader compares reading through the readers of unlimited
// limiters (nil, New(0)) and of a limiter too fast to ever wait with
// reading the plain reader.
func BenchmarkReader(b *testing.B) {
	const size = 4 * mib
	data := bytes.Repeat([]byte("episode!"), size/8)
	buf := make([]byte, 32*kib)
	for _, bc := range []struct {
		name string
		l    *Limiter
	}{
		{name: "plain"},
		{name: "nil", l: nil},
		{name: "rate=0", l: New(0)},
		{name: "rate=1TiB/s", l: New(1 << 40)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				var r io.Reader = bytes.NewReader(data)
				if bc.name != "plain" {
					r = bc.l.Reader(b.Context(), r)
				}
				io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{r}, buf)
			}
		})
	}
}

// BenchmarkUnlimitedOverhead reports the time of a copy through an
// unlimited limiter's reader over that of the plain reader, as
// unlimited/plain; 1.00 means no overhead.
func BenchmarkUnlimitedOverhead(b *testing.B) {
	const size = 4 * mib
	data := bytes.Repeat([]byte("episode!"), size/8)
	buf := make([]byte, 32*kib)
	l := New(0)
	var plain, unlimited time.Duration
	for b.Loop() {
		start := time.Now()
		io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{bytes.NewReader(data)}, buf)
		plain += time.Since(start)

		start = time.Now()
		io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{l.Reader(b.Context(), bytes.NewReader(data))}, buf)
		unlimited += time.Since(start)
	}
	b.ReportMetric(float64(unlimited)/float64(plain), "unlimited/plain")
}
