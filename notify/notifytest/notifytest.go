// Package notifytest is a fake systemd notify socket for the process tests
// of cis490's daemons: it records every datagram a process under test sends
// to NOTIFY_SOCKET (READY=1, WATCHDOG=1, STATUS=, STOPPING=1).
package notifytest

import (
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Socket is a unixgram socket at Path that keeps every datagram it gets.
type Socket struct {
	// Path is the socket's path: the value of NOTIFY_SOCKET.
	Path string

	mu   sync.Mutex
	msgs []string
}

// Listen binds a Socket in a fresh temp dir of t and reads it until the
// test ends.
func Listen(t testing.TB) *Socket {
	t.Helper()
	s := &Socket{Path: filepath.Join(t.TempDir(), "notify.sock")}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.Path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	return s
}

// Messages returns a copy of the datagrams received so far, in order.
func (s *Socket) Messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// Has reports whether any line of any datagram received starts with prefix.
func (s *Socket) Has(prefix string) bool {
	for _, m := range s.Messages() {
		for _, line := range strings.Split(m, "\n") {
			if strings.HasPrefix(line, prefix) {
				return true
			}
		}
	}
	return false
}
