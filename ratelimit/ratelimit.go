// Package ratelimit holds the lab host's bandwidth cap, max_rate: one
// token bucket, counted in bytes, shared by every upload of a daemon so that
// together they never send faster than the cap, however many run at once.
//
// A nil *Limiter, or one made with a rate of 0, is unlimited: its readers
// are the readers they wrap, so an uncapped host pays nothing for the cap.
package ratelimit

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// MinBurst is the smallest bucket New makes, in bytes: 64 KiB, so that even
// a very low cap lets an upload move a useful amount per read.
const MinBurst = 64 << 10

// Limiter is a token bucket of bytes shared by every reader it wraps. The
// bucket fills at the cap and holds at most Burst bytes, so after a pause
// an upload may send one burst at once and is then held to the cap.
//
// A nil *Limiter is unlimited; all methods are safe on nil and safe for
// concurrent use.
type Limiter struct {
	lim   *rate.Limiter
	rate  int64
	burst int
}

// New returns a limiter that lets bytesPerSecond bytes through per second,
// summed over all its readers, or nil (unlimited) when bytesPerSecond is 0
// or less. The bucket holds a quarter of a second of traffic,
// max(bytesPerSecond/4, MinBurst) bytes, and starts full.
func New(bytesPerSecond int64) *Limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	burst := max(bytesPerSecond/4, MinBurst)
	if burst > math.MaxInt {
		burst = math.MaxInt
	}
	return &Limiter{
		lim:   rate.NewLimiter(rate.Limit(bytesPerSecond), int(burst)),
		rate:  bytesPerSecond,
		burst: int(burst),
	}
}

// Rate returns the cap in bytes per second, 0 when unlimited.
func (l *Limiter) Rate() int64 {
	if l == nil {
		return 0
	}
	return l.rate
}

// Burst returns the size of the bucket in bytes, which is also the most a
// single Read of a limited reader returns; 0 when unlimited.
func (l *Limiter) Burst() int {
	if l == nil {
		return 0
	}
	return l.burst
}

// Reader returns a reader of r whose Read waits, before returning, until the
// bucket holds a token for every byte it returns. A Read returns at most
// Burst bytes. When ctx ends first, Read returns 0 and ctx.Err(), the bytes
// it had read from r are dropped and their tokens go back to the bucket.
// Errors of r, io.EOF among them, are returned as they are.
//
// On an unlimited (nil) Limiter, Reader returns r itself.
func (l *Limiter) Reader(ctx context.Context, r io.Reader) io.Reader {
	if l == nil {
		return r
	}
	return &reader{ctx: ctx, r: r, l: l}
}

// reader is the reader Limiter.Reader returns. It does not implement
// io.WriterTo, so io.Copy cannot go around it.
type reader struct {
	ctx context.Context
	r   io.Reader
	l   *Limiter
}

func (r *reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) > r.l.burst {
		p = p[:r.l.burst]
	}
	n, err := r.r.Read(p)
	if n <= 0 {
		return n, err
	}
	if werr := r.l.wait(r.ctx, n); werr != nil {
		return 0, werr
	}
	return n, err
}

// wait takes n tokens (n <= burst) from the bucket, sleeping until they are
// there, or returns ctx.Err() and gives them back when ctx ends first.
// Unlike rate.Limiter.WaitN it does not fail early when the wait would
// outlast ctx's deadline, so the error is always ctx.Err().
func (l *Limiter) wait(ctx context.Context, n int) error {
	now := time.Now()
	res := l.lim.ReserveN(now, n)
	if !res.OK() { // only when n > burst, which Read rules out
		return fmt.Errorf("take %d bytes: more than the burst of %d", n, l.burst)
	}
	delay := res.DelayFrom(now)
	if delay <= 0 {
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		res.Cancel()
		return ctx.Err()
	}
}
