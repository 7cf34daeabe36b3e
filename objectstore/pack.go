package objectstore

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
)

// MaxWindow is the zstd window the packer writes and the most the reader
// accepts, which bounds the decoder's memory on the hub.
const MaxWindow = 8 << 20

// PackWindow is the largest zstd window the packer writes (see
// packWindow): 1 MiB, an eighth of what the reader accepts (archives
// packed before with 2 or 8 MiB windows still read). The window is what
// bounds the encoder's memory per episode being packed: 3.7 MiB at 1 MiB,
// 5.7 at 2 MiB (about 16 at 8 MiB), which with two large episodes packed
// at once kept the publisher's peak resident set over its 48 MiB target;
// the receiver's decoder needs no more than the window. zstd's own level
// 1 uses a 1 MiB window: matches further back are rare in sensor data.
const PackWindow = 1 << 20

// PackStats counts what Pack wrote.
type PackStats struct {
	Files    int   // regular files, meta.json included
	Dirs     int   // directories below the episode root
	RawBytes int64 // sum of the regular files' sizes
}

// PackOptions tunes Pack. The zero value is the default.
type PackOptions struct {
	// Level is the zstd level; the default is zstd.SpeedDefault. The bytes
	// are deterministic for a given level whatever Concurrency is.
	Level zstd.EncoderLevel
	// Concurrency bounds the encoder's goroutines, and with them its memory
	// (about 2 windows each); the default is 1: the publisher already packs
	// one episode per worker, and a second encoder goroutine bought no
	// speed on two cores.
	Concurrency int
}

// entry is one path of the episode, relative and slash-separated.
type entry struct {
	name string // "meta.json", "a/b.bin", "a/" (dirs end in '/')
	info fs.FileInfo
}

// Pack writes the episode in dir to w as one tar+zstd stream: meta.json
// first, then every other path sorted by name, with normalized headers
// (uid/gid 0, no user or group names, mode bits only, mtime to the second),
// so that packing an unchanged directory twice gives identical bytes.
//
// Only regular files and directories are packed; anything else is
// ErrUnsupportedFile naming the path. A file whose size changes while it is
// read is ErrFileChanged. A missing meta.json is ErrMetaMissing.
func Pack(ctx context.Context, dir string, w io.Writer, opt PackOptions) (PackStats, error) {
	entries, err := scan(dir)
	if err != nil {
		return PackStats{}, err
	}
	if opt.Level == 0 {
		opt.Level = zstd.SpeedDefault
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 1
	}
	key := encoderKey{opt.Level, opt.Concurrency, packWindow(entries)}
	zw, err := getEncoder(key, w)
	if err != nil {
		return PackStats{}, fmt.Errorf("pack %s: %w", dir, err)
	}
	stats, err := writeTar(ctx, dir, entries, zw)
	if err != nil {
		zw.Close()
		return stats, err
	}
	if err := zw.Close(); err != nil {
		return stats, fmt.Errorf("pack %s: %w", dir, err)
	}
	putEncoder(key, zw)
	return stats, nil
}

// encoderKey is what makes two encoders interchangeable.
type encoderKey struct {
	level       zstd.EncoderLevel
	concurrency int
	window      int
}

// minPackWindow is the smallest window packWindow picks.
const minPackWindow = 64 << 10

// packWindow is the zstd window for an episode of entries: the smallest
// power of two from 64 KiB that holds the whole tar stream, at most
// PackWindow. A window larger than the stream finds no more matches but
// costs the encoder and the hub's decoder its size in buffers: with eight
// 100 KiB episodes in flight, 2 MiB windows held about 40 MiB of encoder
// history in the publisher. The choice depends only on the files' sizes,
// so packing an unchanged directory again gives the same bytes.
func packWindow(entries []entry) int {
	var size int64 = 1024 // the tar stream's end
	for _, e := range entries {
		size += 512 // a header (PAX headers are rare and small)
		if e.info.Mode().IsRegular() {
			size += (e.info.Size() + 511) &^ 511
		}
	}
	w := minPackWindow
	for w < PackWindow && int64(w) < size {
		w <<= 1
	}
	return w
}

// encoders pools zstd encoders by encoderKey. An encoder's history buffers
// (two windows) are allocated once and reused by Reset: for a small
// episode they were most of the cost of packing it (3 MB allocated and
// cleared per 100 KiB episode, with the decoder).
var encoders sync.Map // encoderKey -> *sync.Pool

func getEncoder(key encoderKey, w io.Writer) (*zstd.Encoder, error) {
	if p, ok := encoders.Load(key); ok {
		if zw, ok := p.(*sync.Pool).Get().(*zstd.Encoder); ok {
			zw.Reset(w)
			return zw, nil
		}
	}
	// No xxhash checksum in the frame: every byte of the archive is
	// covered by its segment's SHA-256, which the hub checks before it
	// decompresses, and the checksum cost the publisher and the receiver
	// each about 5% of their CPU on large episodes.
	return zstd.NewWriter(w, zstd.WithEncoderLevel(key.level), zstd.WithWindowSize(key.window),
		zstd.WithEncoderConcurrency(key.concurrency), zstd.WithEncoderCRC(false))
}

// putEncoder keeps a closed encoder for the next Pack; one that failed is
// not put back.
func putEncoder(key encoderKey, zw *zstd.Encoder) {
	zw.Reset(nil)
	p, _ := encoders.LoadOrStore(key, new(sync.Pool))
	p.(*sync.Pool).Put(zw)
}

// scan lists the episode's entries in archive order.
func scan(dir string) ([]entry, error) {
	var meta *entry
	var rest []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("pack: %w", err)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return fmt.Errorf("pack: %w", err)
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if !utf8.ValidString(rel) {
			return fmt.Errorf("pack %q: %w: not valid UTF-8", p, ErrBadName)
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("pack: %w", err)
		}
		switch {
		case info.Mode().IsRegular():
		case info.IsDir():
			rel += "/"
		default:
			return fmt.Errorf("pack %s: %w (%s)", p, ErrUnsupportedFile, info.Mode().Type())
		}
		e := entry{name: rel, info: info}
		if rel == MetaFile {
			meta = &e
			return nil
		}
		rest = append(rest, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if meta == nil {
		return nil, fmt.Errorf("pack: %w in %s", ErrMetaMissing, dir)
	}
	slices.SortFunc(rest, func(a, b entry) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	return append([]entry{*meta}, rest...), nil
}

func writeTar(ctx context.Context, dir string, entries []entry, w io.Writer) (PackStats, error) {
	var st PackStats
	tw := tar.NewWriter(w)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		hdr := header(e)
		if e.info.IsDir() {
			if err := tw.WriteHeader(hdr); err != nil {
				return st, fmt.Errorf("pack %s: %w", e.name, err)
			}
			st.Dirs++
			continue
		}
		n, err := writeFile(ctx, tw, filepath.Join(dir, filepath.FromSlash(e.name)), hdr)
		if err != nil {
			return st, err
		}
		st.Files++
		st.RawBytes += n
	}
	if err := tw.Close(); err != nil {
		return st, fmt.Errorf("pack: %w", err)
	}
	return st, nil
}

// header is the normalized tar header of e.
func header(e entry) *tar.Header {
	h := &tar.Header{
		Name:    e.name,
		Mode:    int64(e.info.Mode().Perm()),
		ModTime: e.info.ModTime().Truncate(time.Second).UTC(),
	}
	if e.info.IsDir() {
		h.Typeflag = tar.TypeDir
	} else {
		h.Typeflag = tar.TypeReg
		h.Size = e.info.Size()
	}
	return h
}

// writeFile copies one file into tw. The size is taken from the open file,
// and exactly that many bytes must be read, no fewer and no more.
func writeFile(ctx context.Context, tw *tar.Writer, p string, hdr *tar.Header) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, fmt.Errorf("pack: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("pack: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("pack %s: %w (%s)", p, ErrUnsupportedFile, fi.Mode().Type())
	}
	hdr.Size = fi.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return 0, fmt.Errorf("pack %s: %w", p, err)
	}
	n, err := io.CopyN(tw, ctxReader{ctx, f}, hdr.Size)
	if errors.Is(err, io.EOF) {
		return n, fmt.Errorf("pack %s: %w: shrank from %d to %d bytes", p, ErrFileChanged, hdr.Size, n)
	}
	if err != nil {
		return n, fmt.Errorf("pack %s: %w", p, err)
	}
	var one [1]byte
	if m, _ := f.Read(one[:]); m > 0 {
		return n, fmt.Errorf("pack %s: %w: grew past %d bytes", p, ErrFileChanged, hdr.Size)
	}
	return n, nil
}

// ctxReader stops a long copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// cleanName reports whether name (without a trailing '/') is a clean,
// relative, slash-separated path.
func cleanName(name string) bool {
	return name != "" && name != "." && path.Clean(name) == name && !path.IsAbs(name)
}
