package objectstore

import (
	"context"
	"io"
	"slices"
	"sync"

	"github.com/cis490/cis490/subjects"
)

// EarlyRead is a ReadArchive started before the archive's manifest
// exists: the publisher announces each segment as it is stored (Add), and
// the reader verifies, decompresses and validates it while the next one is
// still being uploaded; when the manifest is submitted, Finish gives the
// rest of its segments and checks it against what was read. Upload and
// validation of one large episode then overlap instead of taking turns.
//
// Only a clean result is ever used: Finish reports false, and the caller
// runs ReadArchive as if nothing had been read early, when the manifest is
// not version 2 or does not list the announced segments as its first
// ones, or when the early read met any error at all (a rejected archive is
// judged by ReadArchive alone, with its rules of precedence). Segments are
// content addressed and each one's SHA-256 is checked as it is read, so a
// clean early read saw exactly the bytes ReadArchive would.
type EarlyRead struct {
	episode string
	lim     Limits
	sr      *segmentsReader
	cancel  context.CancelFunc
	done    chan struct{} // closed when the reading goroutine has returned
	res     ReadResult    // set before done is closed
	err     error

	mu     sync.Mutex
	segs   []Segment // announced so far, then the manifest's
	bytes  int64     // announced so far, then the manifest's
	seen   map[string]bool
	read   int           // of segs, handed to the segment reader
	closed bool          // segs is complete: the manifest has come
	wake   chan struct{} // capacity 1: segs grew or closed
}

// StartEarlyRead starts reading episode's archive from src as its segments
// are announced, handing entries to visit as ReadArchive does. The reader
// waits for Add and Finish; Abort stops it.
func StartEarlyRead(ctx context.Context, src SegmentSource, episode string, lim Limits, visit func(Entry, io.Reader) error) *EarlyRead {
	ctx, cancel := context.WithCancel(ctx)
	e := &EarlyRead{episode: episode, lim: lim.withDefaults(), cancel: cancel,
		done: make(chan struct{}), wake: make(chan struct{}, 1), seen: map[string]bool{}}
	// Version 2: the archive digest comes from the segments, checked at
	// the end against the manifest (finish reads sr.m, set by Finish).
	e.sr = &segmentsReader{ctx: ctx, src: src, next: e.next, episode: episode}
	go e.run(visit)
	return e
}

func (e *EarlyRead) run(visit func(Entry, io.Reader) error) {
	defer close(e.done)
	defer e.sr.close()
	res, err := readTar(e.sr, e.lim, e.packed, visit)
	if err == nil {
		// Past the tar stream's end: the rest of the stored bytes.
		_, err = io.Copy(io.Discard, e.sr)
	}
	if err == nil && e.sr.err != nil && e.sr.err != io.EOF {
		err = e.sr.err
	}
	e.res, e.err = res, err
}

// packed is the archive's bytes as far as they are known: announced so
// far, or the manifest's once it has come.
func (e *EarlyRead) packed() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bytes
}

// next hands the segment reader the announced segments in order; after
// the manifest's last it reports there are no more.
func (e *EarlyRead) next(ctx context.Context) (Segment, bool, error) {
	for {
		e.mu.Lock()
		if e.read < len(e.segs) {
			s := e.segs[e.read]
			e.read++
			e.mu.Unlock()
			return s, true, nil
		}
		closed := e.closed
		e.mu.Unlock()
		if closed {
			return Segment{}, false, nil
		}
		select {
		case <-e.wake:
		case <-ctx.Done():
			return Segment{}, false, ctx.Err()
		}
	}
}

func (e *EarlyRead) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Add announces the archive's segment number index (from 0). It reports
// false, and the early read is of no more use, when index is not the next
// one, the read has already stopped, or the segment could not be the next
// of a valid manifest's list: not a valid segment, larger than the first,
// after a shorter one (the last), one already announced, or past the
// bytes ReadArchive would read. So an announcer makes the reader read no
// more than it stored, once, and no more than a submission could.
func (e *EarlyRead) Add(index int, seg Segment) bool {
	if !seg.valid() {
		return false
	}
	select {
	case <-e.done:
		return false
	default:
	}
	e.mu.Lock()
	ok := !e.closed && index == len(e.segs) && len(e.segs) < MaxSegments && !e.seen[seg.SHA256] &&
		e.bytes+seg.Size <= e.lim.MaxBytes+e.lim.MaxBytes/8+(1<<20)
	if ok && len(e.segs) > 0 {
		first, last := e.segs[0].Size, e.segs[len(e.segs)-1].Size
		ok = seg.Size <= first && last == first
	}
	if ok {
		e.segs = append(e.segs, seg)
		e.bytes += seg.Size
		e.seen[seg.SHA256] = true
	}
	e.mu.Unlock()
	if ok {
		e.signal()
	}
	return ok
}

// Segments counts the segments announced so far.
func (e *EarlyRead) Segments() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.segs)
}

// Finish gives the reader the manifest m, waits for it to read the rest
// of m's segments, and returns what ReadArchive(m) would have returned,
// with true; or false when the early read cannot stand for ReadArchive
// (see EarlyRead), in which case the caller reads the archive itself. The
// early read is over either way.
func (e *EarlyRead) Finish(ctx context.Context, m *Manifest) (ReadResult, bool) {
	if m.Validate() != nil || m.Version < 2 || m.EpisodeID != e.episode ||
		m.ArchiveBytes > e.lim.MaxBytes+e.lim.MaxBytes/8+(1<<20) {
		e.Abort()
		return ReadResult{}, false
	}
	e.mu.Lock()
	ok := !e.closed && len(e.segs) <= len(m.Segments) && slices.Equal(e.segs, m.Segments[:len(e.segs)])
	if ok {
		e.segs = append(e.segs, m.Segments[len(e.segs):]...)
		e.bytes = m.ArchiveBytes
		e.sr.m = m
		e.closed = true
	}
	e.mu.Unlock()
	if !ok {
		e.Abort()
		return ReadResult{}, false
	}
	e.signal()
	select {
	case <-e.done:
	case <-ctx.Done():
		e.Abort()
		return ReadResult{}, false
	}
	if e.err != nil || e.res.matches(m) != nil {
		return ReadResult{}, false
	}
	return e.res, true
}

// Abort stops the early read and waits for its goroutines.
func (e *EarlyRead) Abort() {
	e.cancel()
	<-e.done
}

func (s Segment) valid() bool {
	return s.Size > 0 && s.Size <= MaxSegmentSize && subjects.ValidateDigest(s.SHA256) == nil
}

// Announcement is what a publisher sends, on subjects.AnnounceSubject,
// when a segment of a multi-segment episode is stored: the receiver that
// answered the first one reads it early (EarlyRead). Announcements are
// best effort; a lost one costs only the early start.
type Announcement struct {
	EpisodeID string  `json:"episode_id"`
	Index     int     `json:"index"`
	Segment   Segment `json:"segment"`
}

// AnnounceReply is a receiver's answer to the first Announcement of an
// episode: the subject to send the next ones to, or "" when it declines
// (it reads the episode when it is submitted, as always).
type AnnounceReply struct {
	To string `json:"to"`
}
