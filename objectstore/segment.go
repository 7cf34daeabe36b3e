package objectstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// SegmentFile is a finished segment spooled to a file on disk.
type SegmentFile struct {
	Index int
	Segment
	Path string
	// Last is set on the archive's last segment.
	Last bool
}

// Open returns a reader of the segment's bytes.
func (sf SegmentFile) Open() (io.ReadCloser, error) { return os.Open(sf.Path) }

// Remove deletes the segment's spool file, if it has one.
func (sf SegmentFile) Remove() {
	if sf.Path != "" {
		os.Remove(sf.Path)
	}
}

// errAborted ends the put of a segment whose packing stopped.
var errAborted = errors.New("segment not finished: packing stopped")

// SpoolPattern names spool files; anything matching it in a spool directory
// at start-up is stale and can be removed.
const SpoolPattern = "segment-*.tmp"

// Segmenter is an io.Writer that cuts the archive stream into segments of a
// fixed size. Each segment is spooled to its own file in a directory (or
// streamed, see Upload) while its SHA-256 is computed, then handed to the
// emit function. Memory use is one hash state per stream, whatever the
// segment size.
type Segmenter struct {
	dir   string
	size  int64
	emit  func(SegmentFile) error
	cur   *os.File
	curN  int64
	curH  hash.Hash
	total int64
	segs  []Segment
	err   error

	open bool // a segment is being written

	// stream, if set, is called as each segment from index streamFrom on
	// starts: the segment is written to the writer it returns instead of
	// a spool file, and sealed on it once finished (see Upload).
	stream     func(index int) (*segmentStream, error)
	streamFrom int
	ss         *segmentStream // the segment being streamed
}

// segmentStream is a segment sent as it is written: its bytes go through
// a pipe to the goroutine that puts them, and its size and SHA-256 follow
// once the Segmenter finishes it.
type segmentStream struct {
	index int
	pipe  *bufPipe
	seal  chan Sealed // buffered: the Segmenter never waits on it
}

func newSegmentStream(index int) *segmentStream {
	return &segmentStream{index: index, pipe: newBufPipe(), seal: make(chan Sealed, 1)}
}

// NewSegmenter returns a Segmenter spooling segments of size bytes into dir.
// emit owns each SegmentFile it is given (it should remove the file when
// done); an error from emit stops the Segmenter.
func NewSegmenter(dir string, size int64, emit func(SegmentFile) error) (*Segmenter, error) {
	if size < MinSegmentSize || size > MaxSegmentSize {
		return nil, fmt.Errorf("segment size %d outside [%d, %d]", size, MinSegmentSize, MaxSegmentSize)
	}
	return &Segmenter{dir: dir, size: size, emit: emit}, nil
}

// Write spools p, emitting every segment it completes.
func (s *Segmenter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if s.err != nil {
			return written, s.err
		}
		if !s.open {
			s.open, s.curN, s.curH = true, 0, sha256.New()
			if s.stream != nil && len(s.segs) >= s.streamFrom {
				ss, err := s.stream(len(s.segs))
				if err != nil {
					s.open = false
					s.err = err
					return written, s.err
				}
				s.ss = ss
			} else if err := s.spool(); err != nil {
				s.err = fmt.Errorf("spool segment: %w", err)
				return written, s.err
			}
		}
		chunk := p[:min(int64(len(p)), s.size-s.curN)]
		var n int
		var err error
		if s.ss != nil {
			n, err = s.ss.pipe.Write(chunk)
		} else {
			n, err = s.cur.Write(chunk)
		}
		s.curH.Write(chunk[:n])
		s.curN += int64(n)
		s.total += int64(n)
		written += n
		p = p[n:]
		if err != nil {
			s.err = fmt.Errorf("spool segment: %w", err)
			return written, s.err
		}
		if s.curN == s.size {
			s.err = s.finishSegment(false)
		}
	}
	return written, s.err
}

// spool opens a new spool file for the segment being written.
func (s *Segmenter) spool() error {
	f, err := os.CreateTemp(s.dir, SpoolPattern)
	if err != nil {
		return err
	}
	s.cur = f
	return nil
}

func (s *Segmenter) finishSegment(last bool) error {
	if ss := s.ss; ss != nil {
		seg := Segment{Size: s.curN, SHA256: hex.EncodeToString(s.curH.Sum(nil))}
		s.segs = append(s.segs, seg)
		s.ss, s.open = nil, false
		ss.seal <- Sealed{Segment: seg, Last: last}
		return ss.pipe.Close()
	}
	f := s.cur
	s.cur, s.open = nil, false
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("spool segment: %w", err)
	}
	sf := SegmentFile{Path: f.Name(), Last: last}
	sf.Segment = Segment{Size: s.curN, SHA256: hex.EncodeToString(s.curH.Sum(nil))}
	s.segs = append(s.segs, sf.Segment)
	sf.Index = len(s.segs) - 1
	return s.emit(sf)
}

// Close emits the last, partial segment and returns the segments, the
// archive's digest (ArchiveDigest) and its size.
func (s *Segmenter) Close() (segs []Segment, archiveSHA256 string, archiveBytes int64, err error) {
	if s.err == nil && s.open {
		s.err = s.finishSegment(true)
	}
	if s.err == nil && len(s.segs) == 0 {
		s.err = errors.New("spool segment: empty stream")
	}
	if s.err != nil {
		s.Abort()
		return nil, "", 0, s.err
	}
	s.err = errors.New("segmenter closed")
	return s.segs, ArchiveDigest(s.segs), s.total, nil
}

// Abort removes the segment being written, if any, and fails the put of
// one being streamed.
func (s *Segmenter) Abort() {
	if s.ss != nil {
		s.ss.pipe.CloseWithError(errAborted)
		s.ss = nil
	}
	if s.cur != nil {
		s.cur.Close()
		os.Remove(s.cur.Name())
		s.cur = nil
	}
	s.open = false
}

// UploadOptions tunes Upload.
type UploadOptions struct {
	// Host is the lab host's id, written into the manifest.
	Host string
	// SegmentSize defaults to DefaultSegmentSize.
	SegmentSize int64
	// SpoolDir holds segments between packing and sending; the default is
	// os.TempDir(). At most three segments are on disk at once.
	SpoolDir string
	// Pack tunes the packer.
	Pack PackOptions
	// Known lists the segments of this attempt an earlier run stored (the
	// journal's record): they are spooled and looked up before sending.
	Known []Segment
	// Progress, if set, is called after each segment is stored (sent true)
	// or found already stored (sent false); last is set on the archive's
	// last segment when the stream ended before it was full. (A stream
	// that ends exactly on a segment boundary reports last on none.)
	Progress func(index int, seg Segment, sent, last bool)
	// Throttle, if set, wraps the reader of each segment sent: the lab
	// host's bandwidth cap, or a byte counter.
	Throttle func(io.Reader) io.Reader
}

// Upload packs the episode in dir and stores its segments as they are
// packed, and returns the manifest. Segments from index len(o.Known) on
// are streamed: their chunks go to the hub while the packer writes them,
// and the object is named by its SHA-256 once the last byte is through,
// without a spool file or a second read of the bytes. The first
// len(o.Known) segments, those an earlier run of this attempt recorded as
// stored, are spooled instead, then looked up by name and sent only if
// missing; so an Upload interrupted at any point and run again resumes
// where it stopped, at the cost of packing again. (A streamed segment found
// stored already once its name is known, one the journal missed, is not
// stored twice.) One segment is put while the packer writes the next one
// into the spool, or into the put itself when streamed. The episode's
// meta.json must parse; an unstamped one is packed all the same, for the
// receiver to judge. A segment the host's bucket has no room for is
// ErrBucketFull.
func Upload(ctx context.Context, st *Store, dir string, o UploadOptions) (Manifest, error) {
	meta, err := ReadMeta(dir)
	if err != nil && !errors.Is(err, ErrNotStamped) {
		return Manifest{}, fmt.Errorf("upload %s: %w", dir, err)
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.SpoolDir == "" {
		o.SpoolDir = os.TempDir()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// One goroutine puts the segments in order, spooled ones and streamed
	// ones alike, so Progress is called in order.
	type job struct {
		sf SegmentFile
		ss *segmentStream
	}
	queue := make(chan job, 1)
	done := make(chan error, 1)
	go func() {
		var err error
		for j := range queue {
			if err == nil {
				if j.ss != nil {
					err = putStreamed(ctx, st, meta.EpisodeID, j.ss, o)
				} else {
					err = putSpooled(ctx, st, meta.EpisodeID, j.sf, o)
				}
				if err != nil {
					cancel(err)
				}
			}
			if j.ss != nil {
				// Unblocks the packer if the put stopped reading.
				j.ss.pipe.CloseReader(cmp.Or(err, errAborted))
				if err == nil {
					// The put read to EOF: the packer closed the
					// pipe and is done with it.
					j.ss.pipe.Release()
				}
			}
			j.sf.Remove()
		}
		done <- err
	}()
	enqueue := func(j job) error {
		select {
		case queue <- j:
			return nil
		case <-ctx.Done():
			j.sf.Remove()
			return context.Cause(ctx)
		}
	}
	seg, err := NewSegmenter(o.SpoolDir, o.SegmentSize, func(sf SegmentFile) error { return enqueue(job{sf: sf}) })
	if err != nil {
		close(queue)
		<-done
		return Manifest{}, err
	}
	seg.streamFrom = len(o.Known)
	seg.stream = func(index int) (*segmentStream, error) {
		ss := newSegmentStream(index)
		return ss, enqueue(job{ss: ss})
	}
	stats, packErr := Pack(ctx, dir, seg, o.Pack)
	var segs []Segment
	var sum string
	var n int64
	if packErr == nil {
		segs, sum, n, packErr = seg.Close()
	} else {
		seg.Abort()
	}
	close(queue)
	if err := <-done; err != nil {
		return Manifest{}, fmt.Errorf("upload %s: %w", dir, err)
	}
	if packErr != nil {
		return Manifest{}, fmt.Errorf("upload %s: %w", dir, packErr)
	}
	m := Manifest{
		Version: ManifestVersion, Host: o.Host, EpisodeID: meta.EpisodeID,
		RecordedAt: meta.RecordedAt, CodeVersion: meta.CodeVersion,
		SegmentSize: o.SegmentSize, Segments: segs, ArchiveSHA256: sum, ArchiveBytes: n,
		RawBytes: stats.RawBytes, Files: stats.Files, Dirs: stats.Dirs,
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, fmt.Errorf("upload %s: %w", dir, err)
	}
	return m, nil
}

// putStreamed puts a segment as the packer writes it.
func putStreamed(ctx context.Context, st *Store, episode string, ss *segmentStream, o UploadOptions) error {
	var r io.Reader = ss.pipe
	if o.Throttle != nil {
		r = o.Throttle(r)
	}
	sealed, sent, err := st.PutStream(ctx, episode, o.SegmentSize, r, ss.seal)
	if err != nil {
		return bucketFull(err, sealed.Segment)
	}
	if o.Progress != nil {
		o.Progress(ss.index, sealed.Segment, sent, sealed.Last)
	}
	return nil
}

func putSpooled(ctx context.Context, st *Store, episode string, sf SegmentFile, o UploadOptions) error {
	f, err := sf.Open()
	if err != nil {
		return fmt.Errorf("open spooled segment: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if o.Throttle != nil {
		r = o.Throttle(f)
	}
	sent, err := st.Put(ctx, episode, sf.Segment, r)
	if err != nil {
		return bucketFull(err, sf.Segment)
	}
	if o.Progress != nil {
		o.Progress(sf.Index, sf.Segment, sent, sf.Last)
	}
	return nil
}
