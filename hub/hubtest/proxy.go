package hubtest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is a TCP proxy on a loopback port in front of a server, for faults
// a real link has and a healthy server never shows: Silence makes it drop
// every byte in both directions while keeping the connections open, as a
// link does when a node dies or a route goes dark under a client that has
// not noticed yet. Requests then get no reply and no error.
type Proxy struct {
	ln     net.Listener
	target string
	silent atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

// NewProxy forwards a loopback port to target (host:port) until the end of
// the test.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hubtest: proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// URL is the nats:// URL clients connect to.
func (p *Proxy) URL() string { return "nats://" + p.ln.Addr().String() }

// Silence drops everything from now on, both ways, on every connection,
// open or to come; the connections stay open.
func (p *Proxy) Silence() { p.silent.Store(true) }

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go p.pipe(s, c)
		go p.pipe(c, s)
	}
}

// pipe copies from src to dst until either closes, dropping what it reads
// once the proxy is silent.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.silent.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			return
		}
	}
}

func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}
