package objectstore

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"path"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"

	"github.com/cis490/cis490/progress"
	"github.com/cis490/cis490/subjects"
)

// Limits bound what the reader accepts, so that no archive can make the hub
// unpack without end. The zero value of a field means its default.
type Limits struct {
	// MaxBytes bounds the sum of the regular files' sizes (default 64 GiB).
	MaxBytes int64
	// MaxFiles bounds the entries, files and directories (default 100,000).
	MaxFiles int
	// MaxNameLen bounds a path's length in bytes (default 1024); each
	// element of it is also bounded to 255 bytes.
	MaxNameLen int
	// MaxExpansion bounds the unpacked bytes by the packed ones: at most
	// MaxExpansion times the archive's bytes plus ExpansionFloor (default
	// 200). A gigabyte of zeros packs into a few hundred KiB; an episode
	// of real recordings packs to more than a tenth of itself.
	MaxExpansion int64
}

// Defaults of Limits.
const (
	DefaultMaxBytes     = 64 << 30
	DefaultMaxFiles     = 100_000
	DefaultMaxNameLen   = 1024
	DefaultMaxExpansion = 200
	// ExpansionFloor is what any archive may unpack to beyond
	// MaxExpansion times its bytes, so that a small episode of very
	// compressible files (a few CSV files of zeros) is never refused.
	ExpansionFloor = 64 << 20
	maxElemLen     = 255
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxNameLen <= 0 {
		l.MaxNameLen = DefaultMaxNameLen
	}
	if l.MaxExpansion <= 0 {
		l.MaxExpansion = DefaultMaxExpansion
	}
	return l
}

// maxRaw is the most bytes an archive of packed bytes may unpack to:
// MaxBytes, or less by MaxExpansion.
func (l Limits) maxRaw(packed int64) int64 {
	if packed > (math.MaxInt64-ExpansionFloor)/l.MaxExpansion {
		return l.MaxBytes
	}
	return min(l.MaxBytes, l.MaxExpansion*packed+ExpansionFloor)
}

// checkRaw returns ErrTooLarge when raw unpacked bytes (at least that
// many, when atLeast) from packed bytes of archive are over the limits;
// at names the entry that went over, "" for none.
func (l Limits) checkRaw(raw, packed int64, atLeast bool, at string) error {
	if raw <= l.maxRaw(packed) {
		return nil
	}
	where := ""
	if at != "" {
		where = " (at " + subjects.Quote(at) + ")"
	}
	if raw > l.MaxBytes {
		return fmt.Errorf("%w: more than %d bytes unpacked%s", ErrTooLarge, l.MaxBytes, where)
	}
	least := ""
	if atLeast {
		least = "at least "
	}
	return fmt.Errorf("%w: unpacks to %s%s from %s, %d×: over the limit of %d× the archive plus %s (max_expansion)%s",
		ErrTooLarge, least, progress.FormatSize(raw), progress.FormatSize(packed), raw/max(packed, 1),
		l.MaxExpansion, progress.FormatSize(ExpansionFloor), where)
}

// SegmentSource yields the verified bytes of one segment. *Store is one.
type SegmentSource interface {
	Open(ctx context.Context, episode string, seg Segment) (io.ReadCloser, error)
}

// Entry is one file or directory of an archive, as the reader hands it to
// the visit function. Name is a clean relative slash-separated path.
type Entry struct {
	Name    string
	Dir     bool
	Mode    fs.FileMode
	Size    int64
	ModTime time.Time
}

// ReadResult is what the reader found in a valid archive.
type ReadResult struct {
	Meta     Meta
	Files    int
	Dirs     int
	RawBytes int64
}

// ReadArchive streams the archive m describes from src, segment by segment,
// through SHA-256, a zstd decoder bounded to MaxWindow, and a tar validator,
// and hands each entry, meta.json first, to visit (which may be nil) with a
// reader of its bytes. It reads everything, even after a defect, so that a
// corrupt archive is always reported as such rather than as malformed.
//
// The error says what is wrong, as one of this package's sentinels (see
// ReasonOf): corrupt (segments, digests), malformed (manifest, compression,
// tar, names, types, limits, meta.json), or ErrNotStamped. A visit error,
// a cancelled context or a transport error is returned wrapped as it is.
// Entries were visited before the archive was known good: a caller that
// exports them must keep the export aside until ReadArchive returns nil.
func ReadArchive(ctx context.Context, src SegmentSource, m *Manifest, lim Limits, visit func(Entry, io.Reader) error) (ReadResult, error) {
	if err := m.Validate(); err != nil {
		return ReadResult{}, err
	}
	lim = lim.withDefaults()
	if m.ArchiveBytes > lim.MaxBytes+lim.MaxBytes/8+(1<<20) {
		return ReadResult{}, fmt.Errorf("%w: archive of %d bytes, limit %d unpacked", ErrTooLarge, m.ArchiveBytes, lim.MaxBytes)
	}
	// What the manifest says the archive unpacks to, before any byte is
	// read; the reader holds the archive to the same limits as it goes.
	if err := lim.checkRaw(m.RawBytes, m.ArchiveBytes, false, ""); err != nil {
		return ReadResult{}, err
	}
	sr := newSegmentsReader(ctx, src, m)
	defer sr.close()

	res, err := readTar(sr, lim, func() int64 { return m.ArchiveBytes }, visit)
	if _, judged := ReasonOf(err); !judged {
		return res, err // cancelled, transport or visit error: nothing to judge
	}
	// Whatever stopped the tar reader, the rest of the stored bytes are read
	// and hashed: corruption outranks every other finding.
	if _, derr := io.Copy(io.Discard, sr); derr != nil {
		return res, derr
	}
	if sr.err != nil && sr.err != io.EOF {
		return res, sr.err
	}
	if err != nil {
		return res, err
	}
	return res, res.matches(m)
}

// matches checks the archive against its manifest's claims.
func (r *ReadResult) matches(m *Manifest) error {
	bad := func(what string, got, want any) error {
		return fmt.Errorf("%w: %s is %v in the archive, %v in the manifest", ErrManifestMismatch, what, got, want)
	}
	switch {
	case r.Meta.EpisodeID != m.EpisodeID:
		return bad("episode_id", subjects.Quote(r.Meta.EpisodeID), subjects.Quote(m.EpisodeID))
	case r.Meta.CodeVersion.Commit != m.CodeVersion.Commit:
		return bad("code_version.commit", subjects.Quote(r.Meta.CodeVersion.Commit), subjects.Quote(m.CodeVersion.Commit))
	case r.Files != m.Files:
		return bad("files", r.Files, m.Files)
	case r.Dirs != m.Dirs:
		return bad("dirs", r.Dirs, m.Dirs)
	case r.RawBytes != m.RawBytes:
		return bad("raw_bytes", r.RawBytes, m.RawBytes)
	}
	return nil
}

// readTar decodes and validates the stream. A corruption error of the
// segments is returned as it is; other decode errors become ErrBadCompression.
// packed is the archive's size (for an early read, the bytes announced so
// far), against which lim.MaxExpansion bounds the unpacked bytes: each
// entry is checked from its header, before its bytes are inflated, and
// the stream as a whole as it is decoded.
func readTar(sr *segmentsReader, lim Limits, packed func() int64, visit func(Entry, io.Reader) error) (ReadResult, error) {
	var res ReadResult
	zr, err := getDecoder(sr)
	if err != nil {
		return res, fmt.Errorf("read archive: %w", err)
	}
	defer putDecoder(zr)
	// Tar adds at most a header block per entry, padding, PAX records and the
	// end blocks to the file bytes: anything past that is a bomb.
	lr := &limitReader{r: decodeErrs{zr, sr}, max: func() int64 {
		return lim.maxRaw(packed()) + int64(lim.MaxFiles+4)*3*512 + 1<<20
	}}
	tr := tar.NewReader(lr)
	seen := make(map[string]bool)
	var metaErr error
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, tarErr(err)
		}
		e, err := checkEntry(hdr, lim, seen)
		if err != nil {
			return res, err
		}
		if err := lim.checkRaw(res.RawBytes+e.Size, packed(), true, e.Name); err != nil {
			return res, err
		}
		if i == 0 {
			if e.Name != MetaFile || e.Dir {
				return res, fmt.Errorf("%w: first entry is %s", ErrMetaNotFirst, subjects.Quote(hdr.Name))
			}
			if e.Size > MaxMetaSize {
				return res, fmt.Errorf("%w: %d bytes, limit %d", ErrMetaTooLarge, e.Size, MaxMetaSize)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return res, tarErr(err)
			}
			res.Meta, metaErr = ParseMeta(b)
			if metaErr != nil && !errors.Is(metaErr, ErrNotStamped) {
				return res, metaErr
			}
			if err := visitEntry(visit, e, bytes.NewReader(b)); err != nil {
				return res, err
			}
		} else if err := visitEntry(visit, e, tr); err != nil {
			return res, err
		}
		if e.Dir {
			res.Dirs++
		} else {
			res.Files++
			res.RawBytes += e.Size
		}
		if res.Files+res.Dirs > lim.MaxFiles {
			return res, fmt.Errorf("%w: more than %d entries", ErrTooManyFiles, lim.MaxFiles)
		}
	}
	if len(seen) == 0 {
		return res, fmt.Errorf("%w: empty archive", ErrMetaNotFirst)
	}
	// Past the tar end blocks only zero padding may follow.
	if _, err := io.Copy(zeroWriter{}, lr); err != nil {
		return res, tarErr(err)
	}
	// Not stamped, when every other check passed: the caller still gets Meta.
	return res, metaErr
}

// visitEntry hands one entry to visit. An error visit met reading the
// archive is the archive's and is classified as such; any other is visit's.
func visitEntry(visit func(Entry, io.Reader) error, e Entry, r io.Reader) error {
	if visit == nil {
		return nil
	}
	er := &errReader{r: r}
	if err := visit(e, er); err != nil {
		if er.err != nil {
			return tarErr(er.err)
		}
		return fmt.Errorf("visit %s: %w", subjects.Quote(e.Name), err)
	}
	return nil
}

// errReader remembers the first error other than io.EOF that r returned.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// checkEntry validates one header's name, type and size and records it in seen.
func checkEntry(hdr *tar.Header, lim Limits, seen map[string]bool) (Entry, error) {
	name := hdr.Name
	e := Entry{Mode: fs.FileMode(hdr.Mode).Perm(), ModTime: hdr.ModTime, Size: hdr.Size}
	switch hdr.Typeflag {
	case tar.TypeReg:
	case tar.TypeDir:
		e.Dir, e.Size = true, 0
		name = strings.TrimSuffix(name, "/")
	default:
		return e, fmt.Errorf("%w: %s is of tar type %q", ErrEntryType, subjects.Quote(hdr.Name), hdr.Typeflag)
	}
	if err := checkName(name, lim); err != nil {
		return e, err
	}
	if hdr.Size < 0 {
		return e, fmt.Errorf("%w: %s has size %d", ErrBadTar, subjects.Quote(name), hdr.Size)
	}
	if e.Size > lim.MaxBytes {
		return e, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, subjects.Quote(name), e.Size, lim.MaxBytes)
	}
	if seen[name] {
		return e, fmt.Errorf("%w: %s", ErrDuplicateEntry, subjects.Quote(name))
	}
	if dir := path.Dir(name); dir != "." && !seen[dir+"/"] {
		return e, fmt.Errorf("%w: %s comes before its directory %s", ErrBadTar, subjects.Quote(name), subjects.Quote(dir))
	}
	seen[name] = true
	if e.Dir {
		seen[name+"/"] = true
	}
	e.Name = name
	return e, nil
}

// checkName accepts only clean relative UTF-8 paths without control characters.
func checkName(name string, lim Limits) error {
	if len(name) > lim.MaxNameLen {
		return fmt.Errorf("%w: %d bytes, limit %d: %s", ErrNameTooLong, len(name), lim.MaxNameLen, subjects.Quote(name))
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrBadName, subjects.Quote(name))
	}
	for _, r := range name {
		if r == '\\' || unicode.IsControl(r) {
			return fmt.Errorf("%w: %s holds %q", ErrBadName, subjects.Quote(name), r)
		}
	}
	if strings.HasPrefix(name, "/") {
		return fmt.Errorf("%w: %s", ErrAbsolutePath, subjects.Quote(name))
	}
	for _, elem := range strings.Split(name, "/") {
		if elem == ".." {
			return fmt.Errorf("%w: %s", ErrPathTraversal, subjects.Quote(name))
		}
		if len(elem) > maxElemLen {
			return fmt.Errorf("%w: element of %d bytes, limit %d, in %s", ErrNameTooLong, len(elem), maxElemLen, subjects.Quote(name))
		}
	}
	if !cleanName(name) {
		return fmt.Errorf("%w: %s is not a clean relative path", ErrPathTraversal, subjects.Quote(name))
	}
	return nil
}

// tarErr classifies an error met while reading the tar stream.
func tarErr(err error) error {
	var de decodeError
	switch {
	case errors.As(err, &de):
		return de.err
	case errors.Is(err, ErrTooLarge):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: stream ends inside an entry", ErrBadTar)
	}
	return fmt.Errorf("%w: %v", ErrBadTar, err)
}

// decodeError carries an error of the decoder or the segments through the
// tar reader, which would otherwise flatten it.
type decodeError struct{ err error }

func (e decodeError) Error() string { return e.err.Error() }
func (e decodeError) Unwrap() error { return e.err }

// decodeErrs tells segment errors from zstd errors.
type decodeErrs struct {
	zr *zstd.Decoder
	sr *segmentsReader
}

func (d decodeErrs) Read(p []byte) (int, error) {
	n, err := d.zr.Read(p)
	if err == nil || err == io.EOF {
		return n, err
	}
	if d.sr.err != nil && d.sr.err != io.EOF {
		return n, decodeError{d.sr.err}
	}
	return n, decodeError{fmt.Errorf("%w: %v", ErrBadCompression, err)}
}

// limitReader fails with ErrTooLarge once more than max() bytes were read.
type limitReader struct {
	r   io.Reader
	n   int64
	max func() int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max() {
		return n, fmt.Errorf("%w: decompressed stream exceeds the limit", ErrTooLarge)
	}
	return n, err
}

// zeroWriter accepts only zero bytes.
type zeroWriter struct{}

func (zeroWriter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b != 0 {
			return 0, fmt.Errorf("%w: data after the end of the archive", ErrBadTar)
		}
	}
	return len(p), nil
}

// segmentsReader reads the manifest's segments in order as one stream and
// checks the whole stream's size and digest at its end. Its first error is
// sticky and kept in err.
//
// The work is pipelined over three goroutines, so that a receiver uses
// both of a small machine's cores on one episode: one reads the segments'
// chunks from the hub and checks each segment's SHA-256, a second hashes
// the archive (a version 1 manifest's digest; for version 2 it only counts
// and passes the bytes on), and the caller's decodes and validates. Between them move
// at most pipeBuffers buffers of pipeBufSize bytes.
type segmentsReader struct {
	ctx context.Context
	src SegmentSource
	m   *Manifest // read only by finish, after next said there are no more
	h   hash.Hash
	err error
	// next returns the archive's next segment, or false after its last.
	next func(ctx context.Context) (Segment, bool, error)
	// episode names the segments' objects.
	episode string

	cancel  context.CancelFunc
	started bool
	free    chan []byte   // empty buffers, for the reading goroutine
	hashed  chan pipeItem // read and hashed, for Read
	done    chan struct{} // closed when both goroutines have returned
	cur     pipeItem      // being handed out by Read
}

// Pipeline sizing of segmentsReader: 1 MiB in flight.
const (
	pipeBuffers = 8
	pipeBufSize = 128 << 10
)

// pipeItem is a buffer of the stream (data, within buf) or its end (err,
// io.EOF when the archive matched its manifest).
type pipeItem struct {
	buf  []byte
	data []byte
	err  error
}

func newSegmentsReader(ctx context.Context, src SegmentSource, m *Manifest) *segmentsReader {
	i := 0
	next := func(context.Context) (Segment, bool, error) {
		if i == len(m.Segments) {
			return Segment{}, false, nil
		}
		i++
		return m.Segments[i-1], true, nil
	}
	r := &segmentsReader{ctx: ctx, src: src, m: m, next: next, episode: m.EpisodeID}
	if m.Version == 1 {
		// Version 1's archive digest is the whole stream's SHA-256.
		r.h = sha256.New()
	}
	return r
}

// start runs the reading and hashing goroutines.
func (r *segmentsReader) start() {
	r.started = true
	ctx, cancel := context.WithCancel(r.ctx)
	r.cancel = cancel
	r.free = make(chan []byte, pipeBuffers)
	read := make(chan pipeItem, pipeBuffers)
	r.hashed = make(chan pipeItem, pipeBuffers)
	r.done = make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.readSegments(ctx, read) }()
	go func() { defer wg.Done(); r.hashArchive(ctx, read) }()
	go func() { wg.Wait(); close(r.done) }()
}

// readSegments sends the segments' verified bytes on out, then one item
// with the first error, or io.EOF after the last segment.
func (r *segmentsReader) readSegments(ctx context.Context, out chan<- pipeItem) {
	defer close(out)
	send := func(it pipeItem) bool {
		select {
		case out <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	allocated := 0
	for {
		seg, ok, err := r.next(ctx)
		if err != nil {
			send(pipeItem{err: err})
			return
		}
		if !ok {
			break
		}
		rc, err := r.src.Open(ctx, r.episode, seg)
		if err != nil {
			send(pipeItem{err: err})
			return
		}
		for {
			var buf []byte
			select {
			case buf = <-r.free:
			default:
				if allocated < pipeBuffers {
					// Taken as needed: a small archive needs one or two.
					allocated++
					buf = *pipeBufs.Get().(*[]byte)
					break
				}
				select {
				case buf = <-r.free:
				case <-ctx.Done():
					rc.Close()
					return
				}
			}
			n, err := rc.Read(buf)
			if n > 0 && !send(pipeItem{buf: buf, data: buf[:n]}) {
				rc.Close()
				return
			}
			if n == 0 {
				r.free <- buf // never blocks: the buffer came from free
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				send(pipeItem{err: err})
				return
			}
		}
		rc.Close()
	}
	send(pipeItem{err: io.EOF})
}

// hashArchive hashes the stream from in (version 1) and passes it on to
// r.hashed; at its end it checks the archive's size and digest.
func (r *segmentsReader) hashArchive(ctx context.Context, in <-chan pipeItem) {
	defer close(r.hashed)
	var n int64
	for it := range in {
		if it.err == io.EOF {
			it.err = r.finish(n)
		}
		if r.h != nil {
			r.h.Write(it.data)
		}
		n += int64(len(it.data))
		select {
		case r.hashed <- it:
		case <-ctx.Done():
			return
		}
		if it.err != nil {
			return
		}
	}
}

func (r *segmentsReader) Read(p []byte) (int, error) {
	if !r.started {
		r.start()
	}
	for len(r.cur.data) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.cur.buf != nil {
			r.free <- r.cur.buf // never blocks: pipeBuffers buffers in all
			r.cur.buf = nil
		}
		it, ok := <-r.hashed
		if !ok {
			// Only after close or a cancelled context: say which.
			r.err = r.ctx.Err()
			if r.err == nil {
				r.err = errors.New("read archive: segment reader closed")
			}
			return 0, r.err
		}
		r.cur, r.err = it, it.err
	}
	n := copy(p, r.cur.data)
	r.cur.data = r.cur.data[n:]
	return n, nil
}

// finish checks the archive's size and digest once every segment was read
// and found to match its own digest. In a version 2 manifest the archive
// digest is ArchiveDigest of the segments: the bytes were just checked
// against them, and the digest binds their order and sizes.
func (r *segmentsReader) finish(n int64) error {
	var got string
	if r.h != nil {
		got = hex.EncodeToString(r.h.Sum(nil))
	} else {
		got = ArchiveDigest(r.m.Segments)
	}
	if got != r.m.ArchiveSHA256 || n != r.m.ArchiveBytes {
		return fmt.Errorf("%w: %d bytes hashing to %s, manifest says %d bytes and %s",
			ErrArchiveDigest, n, got, r.m.ArchiveBytes, r.m.ArchiveSHA256)
	}
	return io.EOF
}

// close stops the goroutines, closing the segment being read, waits for
// them and keeps the buffers for the next archive.
func (r *segmentsReader) close() {
	if !r.started {
		return
	}
	r.cancel()
	<-r.done
	keep := func(b []byte) {
		if b != nil {
			pipeBufs.Put(&b)
		}
	}
	keep(r.cur.buf)
	r.cur = pipeItem{}
	for it := range r.hashed {
		keep(it.buf)
	}
	for {
		select {
		case b := <-r.free:
			keep(b)
		default:
			return
		}
	}
}

// pipeBufs pools the buffers of segmentsReader across archives.
var pipeBufs = sync.Pool{New: func() any { b := make([]byte, pipeBufSize); return &b }}

// decoders pools the reader's zstd decoders: synchronous (concurrency 1),
// so Reset makes one ready for the next archive with its buffers kept,
// instead of allocating them for every episode.
var decoders sync.Pool

func getDecoder(r io.Reader) (*zstd.Decoder, error) {
	if zr, ok := decoders.Get().(*zstd.Decoder); ok {
		if err := zr.Reset(r); err == nil {
			return zr, nil
		}
		zr.Close()
	}
	// A frame's xxhash checksum, in archives packed before the packer
	// stopped writing it, is not checked: the segments' SHA-256 already
	// were, over the same bytes.
	return zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(MaxWindow), zstd.IgnoreChecksum(true))
}

// putDecoder drops the decoder's reader and keeps it for the next archive.
func putDecoder(zr *zstd.Decoder) {
	if err := zr.Reset(nil); err != nil {
		zr.Close()
		return
	}
	decoders.Put(zr)
}
