package journald

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/coreos/go-systemd/v22/journal"
)

// ErrUnavailable is returned by Available when nothing takes datagrams on
// the journal's socket: no systemd-journald on this machine, or a sandbox
// that hides /run/systemd/journal.
var ErrUnavailable = errors.New("the journal's socket /run/systemd/journal/socket takes no datagrams (is systemd-journald running?)")

// Available returns nil if the journal's socket takes datagrams, else
// ErrUnavailable.
func Available() error {
	if !journal.Enabled() {
		return ErrUnavailable
	}
	return nil
}

// IsJournalStream reports whether w is a file connected to the journal's
// stream transport: JOURNAL_STREAM, which systemd sets for a unit with
// StandardError=journal (the default), names its device and inode. This is
// go-systemd's journal.StderrIsJournalStream for any file rather than file
// descriptor 2: a command may be given another stderr than the process's.
// A malformed JOURNAL_STREAM, or a file that cannot be stat'ed, is not the
// journal.
func IsJournalStream(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	dev, ino, ok := strings.Cut(os.Getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	wantDev, err1 := strconv.ParseUint(dev, 10, 64)
	wantIno, err2 := strconv.ParseUint(ino, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == wantDev && uint64(st.Ino) == wantIno
}
