package objectstore

import (
	"errors"
	"io"
	"sync"
)

// bufPipe is an io.Pipe with room for a few chunks between its ends: the
// packer writes a streamed segment into it and the put reads it, each at
// its own pace for up to bufPipeChunks chunks. (With io.Pipe, whose Write
// waits until the reader has taken every byte, the packer stood still
// while the put wrote to the socket and the other way round: a 1 GiB
// episode went 20% slower streamed than spooled.) The buffers, at most
// bufPipeChunks × ChunkSize (1 MiB), are taken from a pool as the writer
// needs them (a small episode's only segment needs one) and given back by
// Release.
type bufPipe struct {
	full chan []byte // filled buffers, in order; closed by the writer
	free chan []byte // buffers the reader is done with
	cur  []byte      // the writer's buffer being filled
	rd   []byte      // what is left of the reader's buffer
	back []byte      // the reader's buffer, to give back

	allocated int // buffers taken from bufPool, at most bufPipeChunks

	mu     sync.Mutex
	werr   error         // the writer's close error, io.EOF for a clean close
	rerr   error         // the reader's close error
	rdone  chan struct{} // closed when the reader closes
	closed bool          // the writer closed
}

const bufPipeChunks = 4

// bufPool holds the buffers of finished pipes.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, ChunkSize); return &b }}

func newBufPipe() *bufPipe {
	return &bufPipe{full: make(chan []byte, bufPipeChunks), free: make(chan []byte, bufPipeChunks), rdone: make(chan struct{})}
}

// Release gives the pipe's buffers back to the pool. Call it once both
// ends are done with the pipe (the writer closed it and the reader has
// stopped reading); the pipe must not be used after.
func (p *bufPipe) Release() {
	give := func(b []byte) {
		if b != nil {
			b = b[:0]
			bufPool.Put(&b)
		}
	}
	give(p.cur)
	give(p.back)
	p.cur, p.back, p.rd = nil, nil, nil
	for {
		select {
		case b, ok := <-p.full:
			if !ok {
				p.full = nil
				continue
			}
			give(b)
		case b := <-p.free:
			give(b)
		default:
			return
		}
	}
}

// Write copies b into the pipe, waiting for a free buffer when all are
// full. It fails with the reader's error once the reader closed.
func (p *bufPipe) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		if p.cur == nil {
			select {
			case p.cur = <-p.free:
				p.cur = p.cur[:0]
			default:
				if p.allocated < bufPipeChunks {
					p.allocated++
					p.cur = (*bufPool.Get().(*[]byte))[:0]
					break
				}
				select {
				case p.cur = <-p.free:
					p.cur = p.cur[:0]
				case <-p.rdone:
					return n, p.readErr()
				}
			}
		}
		k := copy(p.cur[len(p.cur):cap(p.cur)], b)
		p.cur = p.cur[:len(p.cur)+k]
		b, n = b[k:], n+k
		if len(p.cur) == cap(p.cur) {
			if err := p.send(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (p *bufPipe) send() error {
	select {
	case p.full <- p.cur:
		p.cur = nil
		return nil
	case <-p.rdone:
		return p.readErr()
	}
}

func (p *bufPipe) readErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rerr
}

// Close ends the stream: the reader gets what was written, then io.EOF.
func (p *bufPipe) Close() error { return p.CloseWithError(nil) }

// CloseWithError ends the stream; the reader gets err (io.EOF if nil)
// once it has read what was written before.
func (p *bufPipe) CloseWithError(err error) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if err == nil {
		err = io.EOF
	}
	p.werr = err
	p.mu.Unlock()
	if len(p.cur) > 0 && err == io.EOF {
		if serr := p.send(); serr != nil {
			close(p.full)
			return serr
		}
	}
	close(p.full)
	return nil
}

// Read reads what the writer wrote, in order.
func (p *bufPipe) Read(b []byte) (int, error) {
	for len(p.rd) == 0 {
		if p.back != nil {
			p.free <- p.back // never blocks: there are only bufPipeChunks buffers
			p.back = nil
		}
		select {
		case buf, ok := <-p.full:
			if !ok {
				p.mu.Lock()
				defer p.mu.Unlock()
				return 0, p.werr
			}
			p.rd, p.back = buf, buf
		case <-p.rdone:
			return 0, io.ErrClosedPipe
		}
	}
	n := copy(b, p.rd)
	p.rd = p.rd[n:]
	return n, nil
}

// CloseReader stops the reader: the writer's next Write fails with err.
func (p *bufPipe) CloseReader(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.rdone:
		return
	default:
	}
	if err == nil {
		err = errors.New("read end closed")
	}
	p.rerr = err
	close(p.rdone)
}
