// Package journaldtest stands in for systemd-journald in tests: Main points
// go-systemd's journal package at a socket of the test binary's own, Listen
// binds that socket and parses every datagram of the journal's native
// protocol into an Entry, and SetStream makes a file the journal's stream
// for JOURNAL_STREAM.
//
// go-systemd's journal package sends to a fixed path held in an unexported
// variable, which its authors offer to override at build time
// (-ldflags -X); Main sets it at run time through go:linkname instead, so
// that plain `go test` works and never writes to the machine's journal. A
// test binary that imports this package runs its tests with Main; tests
// that call Listen share its one socket and so cannot run in parallel with
// each other, nor with tests that expect no journal.
package journaldtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
	_ "unsafe" // go:linkname
)

//go:linkname socketPath github.com/coreos/go-systemd/v22/journal.journalSocket
var socketPath string

// redirected is set by Main.
var redirected bool

// Main runs the tests of m with go-systemd's journal package pointed at a
// socket path in a new temp directory, where nothing listens until Listen.
// Call it as TestMain:
//
//	func TestMain(m *testing.M) { journaldtest.Main(m) }
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "journaldtest")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "socket")
	if len(path) >= 108 {
		panic(fmt.Sprintf("journaldtest: socket path %q is longer than sun_path allows; set TMPDIR shorter", path))
	}
	// Set once, before any test: a send stuck in a goroutine of an ended
	// test may still read it.
	socketPath, redirected = path, true
	m.Run()
}

// Entry is one journal entry as sent: its fields by name.
type Entry map[string]string

// Journal is a socket at the redirected journal path that parses what it
// receives.
type Journal struct {
	conn    *net.UnixConn
	entries chan result
	done    chan struct{} // closed by Close
	wg      sync.WaitGroup

	mu     sync.Mutex
	resume chan struct{} // non-nil while paused; closed on resume
	paused chan struct{} // the reader stopped reading, for Pause
}

type result struct {
	entry Entry
	err   error
}

// Listen binds a Journal at the path Main set, and closes it and waits
// for its reader when the test ends. Entries are kept, in order, until Next
// takes them.
func Listen(t testing.TB) *Journal {
	t.Helper()
	if !redirected {
		t.Fatal("journaldtest.Listen: run the tests with journaldtest.Main in TestMain")
	}
	os.Remove(socketPath) // left by an earlier test's Listen
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: socketPath, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", socketPath, err)
	}
	j := &Journal{conn: conn, entries: make(chan result, 1024), done: make(chan struct{}), paused: make(chan struct{})}
	j.wg.Add(1)
	go j.read()
	t.Cleanup(j.Close)
	return j
}

// Next returns the next entry received, waiting up to 10 s for it. It fails
// the test if none comes or the datagram was not a valid entry.
func (j *Journal) Next(t testing.TB) Entry {
	t.Helper()
	select {
	case r := <-j.entries:
		if r.err != nil {
			t.Fatalf("journal got a bad datagram: %v", r.err)
		}
		return r.entry
	case <-time.After(10 * time.Second):
		t.Fatal("journal got no entry in 10s")
		return nil
	}
}

// Pending returns how many entries were received and not yet taken by Next.
func (j *Journal) Pending() int { return len(j.entries) }

// Close closes the socket, so that sends fail at once, and waits for the
// reader.
func (j *Journal) Close() {
	j.mu.Lock()
	select {
	case <-j.done:
	default:
		close(j.done)
	}
	j.mu.Unlock()
	j.conn.Close()
	j.wg.Wait()
}

// Pause stops reading the socket until resume is called, as a journald
// that hangs: its queue fills, and then sends block. No datagram is read
// after Pause returns.
func (j *Journal) Pause() (resume func()) {
	j.mu.Lock()
	ch := make(chan struct{})
	j.resume = ch
	j.mu.Unlock()
	j.conn.SetReadDeadline(time.Unix(1, 0)) // wakes the reader
	select {
	case <-j.paused:
	case <-j.done:
	}
	return sync.OnceFunc(func() {
		j.mu.Lock()
		j.resume = nil
		j.mu.Unlock()
		j.conn.SetReadDeadline(time.Time{})
		close(ch)
	})
}

// read receives datagrams until the socket is closed.
func (j *Journal) read() {
	defer j.wg.Done()
	buf := make([]byte, 1<<20)
	oob := make([]byte, syscall.CmsgSpace(4))
	for {
		n, oobn, flags, _, err := j.conn.ReadMsgUnix(buf, oob)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			j.mu.Lock()
			resume := j.resume
			j.mu.Unlock()
			if resume == nil {
				continue // resumed before the reader saw the pause
			}
			j.paused <- struct{}{}
			select {
			case <-resume:
				continue
			case <-j.done:
				return
			}
		}
		if err != nil {
			return
		}
		var r result
		switch {
		case flags&syscall.MSG_TRUNC != 0:
			r.err = fmt.Errorf("datagram over %d bytes", len(buf))
		case n == 0 && oobn > 0:
			var data []byte
			if data, r.err = readSealed(oob[:oobn]); r.err == nil {
				r.entry, r.err = parse(data)
			}
		default:
			r.entry, r.err = parse(buf[:n])
		}
		select {
		case j.entries <- r:
		case <-j.done:
			return
		}
	}
}

// readSealed reads the file whose descriptor came in oob: how the journal
// protocol sends an entry too large for a datagram.
func readSealed(oob []byte) ([]byte, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("control message: %d messages, %v", len(msgs), err)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("unix rights: %d descriptors, %v", len(fds), err)
	}
	f := os.NewFile(uintptr(fds[0]), "journal entry")
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.NewSectionReader(f, 0, fi.Size()))
}

// parse decodes one entry of the journal's native protocol: fields as
// NAME=value lines, or, for a value that may hold a newline, NAME, a
// newline, the value's length as a little-endian uint64, the value and a
// newline. A field named twice is an error: journald would keep both,
// and a test of this handler wants one.
func parse(data []byte) (Entry, error) {
	e := Entry{}
	for len(data) > 0 {
		line, rest, ok := bytes.Cut(data, []byte("\n"))
		if !ok {
			return nil, fmt.Errorf("field %q: no newline", line)
		}
		var name, value string
		if k, v, ok := bytes.Cut(line, []byte("=")); ok {
			name, value, data = string(k), string(v), rest
		} else {
			if len(rest) < 8 {
				return nil, fmt.Errorf("field %s: no length", line)
			}
			size := binary.LittleEndian.Uint64(rest)
			rest = rest[8:]
			if size >= uint64(len(rest)) || rest[size] != '\n' {
				return nil, fmt.Errorf("field %s: length %d, %d bytes follow, not ending in a newline", line, size, len(rest))
			}
			name, value, data = string(line), string(rest[:size]), rest[size+1:]
		}
		if _, dup := e[name]; dup {
			return nil, fmt.Errorf("field %s sent twice", name)
		}
		e[name] = value
	}
	return e, nil
}

// SetStream sets JOURNAL_STREAM to f's device and inode for the test, as
// systemd does for a service's stderr: f is then the journal's stream. The
// test cannot run in parallel.
func SetStream(t testing.TB, f *os.File) {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
}
