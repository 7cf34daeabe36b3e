package objectstore_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/progress"
	"github.com/cis490/cis490/subjects"
)

// packBytes packs dir into memory.
func packBytes(t testing.TB, dir string) ([]byte, objectstore.PackStats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := objectstore.Pack(context.Background(), dir, &buf, objectstore.PackOptions{})
	if err != nil {
		t.Fatalf("Pack(%s) = %v", dir, err)
	}
	return buf.Bytes(), st
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	root := t.TempDir()

	// exactSeg is an episode whose archive is exactly one segment: we pack it
	// once to learn the archive's size and use that as the segment size.
	exact := writeEpisode(t, root, "exact", map[string][]byte{"data.bin": randomBytes(200<<10, 7)})
	archive, _ := packBytes(t, exact)

	cases := []struct {
		name     string
		files    map[string][]byte
		segSize  int64
		wantSegs int
	}{
		{"only-meta", nil, objectstore.MinSegmentSize, 1},
		{"one-byte", map[string][]byte{"x": {42}}, objectstore.MinSegmentSize, 1},
		{"exact", map[string][]byte{"data.bin": randomBytes(200<<10, 7)}, int64(len(archive)), 1},
		{"exact-plus-one", map[string][]byte{"data.bin": randomBytes(200<<10, 7)}, int64(len(archive)) - 1, 2},
		{"tree", map[string][]byte{
			"a/b/c.csv": []byte("t,x\n0,1\n"), "a/empty": {}, "video.mp4": randomBytes(300<<10, 3),
			"z/ü-ß.txt": []byte("utf-8 names"),
		}, objectstore.MinSegmentSize, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "ep-" + tc.name
			if tc.name == "exact" || tc.name == "exact-plus-one" {
				id = "exact" // same meta, hence same bytes as the measured archive
			}
			dir := writeEpisode(t, t.TempDir(), id, tc.files)
			m, err := objectstore.Upload(context.Background(), st, dir, objectstore.UploadOptions{
				Host: testHost, SegmentSize: tc.segSize, SpoolDir: t.TempDir(),
			})
			if err != nil {
				t.Fatalf("Upload(%s) = %v", tc.name, err)
			}
			if tc.wantSegs > 0 && len(m.Segments) != tc.wantSegs {
				t.Fatalf("Upload(%s): %d segments, want %d (archive %d bytes, segment size %d)",
					tc.name, len(m.Segments), tc.wantSegs, m.ArchiveBytes, tc.segSize)
			}
			if tc.name == "exact-plus-one" && m.Segments[1].Size != 1 {
				t.Fatalf("last segment is %d bytes, want 1", m.Segments[1].Size)
			}
			got, res, err := unpack(t, st, &m, objectstore.Limits{})
			if err != nil {
				t.Fatalf("ReadArchive(%s) = %v", tc.name, err)
			}
			if res.Meta.EpisodeID != id || res.Meta.CodeVersion.Commit != goodCommit {
				t.Fatalf("ReadArchive(%s).Meta = %+v", tc.name, res.Meta)
			}
			assertSameFiles(t, dir, got)
		})
	}
}

// assertSameFiles checks that got holds exactly the regular files of dir.
func assertSameFiles(t testing.TB, dir string, got map[string][]byte) {
	t.Helper()
	want := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		want[rel] = true
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(got[rel], b) {
			t.Errorf("%s: unpacked %d bytes differ from the %d source bytes", rel, len(got[rel]), len(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range got {
		if !want[name] {
			t.Errorf("unpacked %s, which the source does not have", name)
		}
	}
}

func TestPackDeterministic(t *testing.T) {
	t.Parallel()
	dir := writeEpisode(t, t.TempDir(), "det", map[string][]byte{
		"b.bin": randomBytes(1<<20, 1), "a/x": []byte("x"), "a.txt": []byte("a"),
	})
	if err := os.MkdirAll(filepath.Join(dir, "empty-dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	first, st := packBytes(t, dir)
	second, _ := packBytes(t, dir)
	if !bytes.Equal(first, second) {
		t.Fatalf("Pack twice: %d and %d bytes, not identical", len(first), len(second))
	}
	if st.Files != 4 || st.Dirs != 2 {
		t.Fatalf("Pack stats = %+v, want 4 files and 2 dirs", st)
	}
	// Different concurrency, same bytes.
	var buf bytes.Buffer
	if _, err := objectstore.Pack(context.Background(), dir, &buf, objectstore.PackOptions{Concurrency: 4}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, buf.Bytes()) {
		t.Fatal("Pack with Concurrency 4 differs from the default")
	}
	// A changed byte changes the archive.
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	if third, _ := packBytes(t, dir); bytes.Equal(first, third) {
		t.Fatal("Pack after a change gave the same bytes")
	}
}

// TestPackWritesNoFrameChecksum: the packer leaves zstd's xxhash out of
// its frames (segments are SHA-256 checked before anything is
// decompressed), and archives that carry one, as craft's do, still read.
func TestPackWritesNoFrameChecksum(t *testing.T) {
	t.Parallel()
	dir := writeEpisode(t, t.TempDir(), "nocrc", map[string][]byte{"b.bin": randomBytes(300<<10, 7)})
	b, _ := packBytes(t, dir)
	// Frame: 4-byte magic, then the frame header descriptor, whose bit 2
	// is Content_Checksum_flag (RFC 8878, 3.1.1.1.1).
	if len(b) < 5 || binary.LittleEndian.Uint32(b) != 0xFD2FB528 {
		t.Fatalf("not a zstd frame: % x", b[:min(len(b), 8)])
	}
	if b[4]&(1<<2) != 0 {
		t.Fatalf("frame header descriptor %08b: content checksum flag set", b[4])
	}
}

// TestPackWindowFitsTheEpisode: a small episode is packed with a small
// zstd window (its encoder and the hub's decoder hold that much history),
// a large one with PackWindow.
func TestPackWindowFitsTheEpisode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		size int
		want uint64
	}{{200 << 10, 256 << 10}, {700 << 10, 1 << 20}, {3 << 20, objectstore.PackWindow}} {
		dir := writeEpisode(t, t.TempDir(), "w", map[string][]byte{"d": randomBytes(c.size, 3)})
		b, _ := packBytes(t, dir)
		var h zstd.Header
		if err := h.Decode(b); err != nil {
			t.Fatal(err)
		}
		if h.WindowSize != c.want {
			t.Errorf("%d bytes of files packed with a %d-byte window, want %d", c.size, h.WindowSize, c.want)
		}
	}
}

func TestPackOrderAndHeaders(t *testing.T) {
	t.Parallel()
	dir := writeEpisode(t, t.TempDir(), "order", map[string][]byte{"z": {1}, "a/b": {2}, "a.txt": {3}, "0": {4}})
	archive, _ := packBytes(t, dir)
	tr := tar.NewReader(bytes.NewReader(decompress(t, archive)))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || h.ModTime.Nanosecond() != 0 {
			t.Errorf("header %s not normalized: uid %d gid %d uname %q gname %q mtime %v", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
	}
	want := []string{"meta.json", "0", "a.txt", "a/", "a/b", "z"}
	if !slices.Equal(names, want) {
		t.Fatalf("Pack order = %q, want %q", names, want)
	}
}

func TestPackRejects(t *testing.T) {
	t.Parallel()
	t.Run("symlink", func(t *testing.T) {
		dir := writeEpisode(t, t.TempDir(), "sym", nil)
		link := filepath.Join(dir, "link")
		if err := os.Symlink("/etc/passwd", link); err != nil {
			t.Fatal(err)
		}
		_, err := objectstore.Pack(context.Background(), dir, &bytes.Buffer{}, objectstore.PackOptions{})
		if !errors.Is(err, objectstore.ErrUnsupportedFile) || !strings.Contains(err.Error(), link) {
			t.Fatalf("Pack(symlink) = %v, want ErrUnsupportedFile naming %s", err, link)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		dir := writeEpisode(t, t.TempDir(), "fifo", nil)
		p := filepath.Join(dir, "pipe")
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := objectstore.Pack(context.Background(), dir, &bytes.Buffer{}, objectstore.PackOptions{})
		if !errors.Is(err, objectstore.ErrUnsupportedFile) || !strings.Contains(err.Error(), p) {
			t.Fatalf("Pack(fifo) = %v, want ErrUnsupportedFile naming %s", err, p)
		}
	})
	t.Run("no-meta", func(t *testing.T) {
		dir := writeEpisode(t, t.TempDir(), "nometa", nil)
		os.Remove(filepath.Join(dir, objectstore.MetaFile))
		_, err := objectstore.Pack(context.Background(), dir, &bytes.Buffer{}, objectstore.PackOptions{})
		if !errors.Is(err, objectstore.ErrMetaMissing) {
			t.Fatalf("Pack(no meta) = %v, want ErrMetaMissing", err)
		}
	})
}

// TestSegmentSkippedWhenStored: an Upload told which segments an earlier
// run stored (Known) sends none of their bytes; one not told streams every
// segment but stores none twice (the stored objects keep their chunks, the
// bucket holds nothing more); a resumed Upload whose later segments are
// gone sends exactly those.
func TestSegmentSkippedWhenStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, stream, _ := newStoreJS(t)
	dir := writeEpisode(t, t.TempDir(), "resume", map[string][]byte{"d": randomBytes(300<<10, 9)})
	var sent, bytesSent int64
	upload := func(known []objectstore.Segment) objectstore.Manifest {
		t.Helper()
		sent, bytesSent = 0, 0
		opts := objectstore.UploadOptions{Host: testHost, SegmentSize: objectstore.MinSegmentSize, SpoolDir: t.TempDir(), Known: known,
			Progress: func(_ int, _ objectstore.Segment, s, _ bool) {
				if s {
					sent++
				}
			},
			Throttle: func(r io.Reader) io.Reader { return countingReader{r, &bytesSent} },
		}
		m, err := objectstore.Upload(ctx, st, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		if entries, _ := os.ReadDir(opts.SpoolDir); len(entries) != 0 {
			t.Fatalf("spool dir holds %d files after Upload, want 0", len(entries))
		}
		return m
	}
	streamState := func() jetstream.StreamState {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State
	}
	m1 := upload(nil)
	if sent != int64(len(m1.Segments)) || sent < 3 || bytesSent != m1.ArchiveBytes {
		t.Fatalf("first Upload sent %d of %d segments, %d of %d bytes", sent, len(m1.Segments), bytesSent, m1.ArchiveBytes)
	}
	after1 := streamState()

	m2 := upload(m1.Segments)
	if sent != 0 || bytesSent != 0 || m2.ArchiveSHA256 != m1.ArchiveSHA256 {
		t.Fatalf("Upload with every segment known: sent %d segments, %d bytes (archive %s, first %s)", sent, bytesSent, m2.ArchiveSHA256, m1.ArchiveSHA256)
	}

	m3 := upload(nil)
	if sent != 0 || bytesSent != m1.ArchiveBytes || m3.ArchiveSHA256 != m1.ArchiveSHA256 {
		t.Fatalf("Upload with none known: %d segments stored again, %d bytes streamed", sent, bytesSent)
	}
	if got := streamState(); got.Msgs != after1.Msgs || got.Bytes != after1.Bytes {
		t.Fatalf("bucket after a second full Upload: %d messages, %d bytes; after the first %d, %d", got.Msgs, got.Bytes, after1.Msgs, after1.Bytes)
	}

	// Resume: the first two segments stored and known, the rest lost.
	if err := st.Delete(ctx, m1.EpisodeID, m1.Segments[2:]); err != nil {
		t.Fatal(err)
	}
	m4 := upload(m1.Segments[:2])
	want := m1.ArchiveBytes - m1.Segments[0].Size - m1.Segments[1].Size
	if sent != int64(len(m1.Segments)-2) || bytesSent != want {
		t.Fatalf("resumed Upload sent %d segments, %d bytes; want %d, %d", sent, bytesSent, len(m1.Segments)-2, want)
	}
	if _, _, err := unpack(t, st, &m4, objectstore.Limits{}); err != nil {
		t.Fatalf("ReadArchive after the resumed Upload = %v", err)
	}
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

func TestReadRejectsStoredBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// upload stores a 3-segment episode and returns its manifest.
	upload := func(t *testing.T) (*objectstore.Store, jetstream.ObjectStore, *objectstore.Manifest) {
		st, obs := newStore(t)
		dir := writeEpisode(t, t.TempDir(), "ep", map[string][]byte{"d": randomBytes(300<<10, 5)})
		m, err := objectstore.Upload(ctx, st, dir, objectstore.UploadOptions{Host: testHost, SegmentSize: objectstore.MinSegmentSize, SpoolDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Segments) < 3 {
			t.Fatalf("want at least 3 segments, got %d", len(m.Segments))
		}
		return st, obs, &m
	}
	// replace stores data under segment i's name.
	replace := func(t *testing.T, obs jetstream.ObjectStore, m *objectstore.Manifest, i int, data []byte) {
		name := subjects.SegmentObject(m.EpisodeID, m.Segments[i].SHA256)
		if err := obs.Delete(ctx, name); err != nil {
			t.Fatal(err)
		}
		if data != nil {
			if _, err := obs.PutBytes(ctx, name, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	segBytes := func(t *testing.T, obs jetstream.ObjectStore, m *objectstore.Manifest, i int) []byte {
		b, err := obs.GetBytes(ctx, subjects.SegmentObject(m.EpisodeID, m.Segments[i].SHA256))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name   string
		break_ func(t *testing.T, obs jetstream.ObjectStore, m *objectstore.Manifest)
		want   error
	}{
		{"truncated", func(t *testing.T, obs jetstream.ObjectStore, m *objectstore.Manifest) {
			b := segBytes(t, obs, m, 1)
			replace(t, obs, m, 1, b[:len(b)-100])
		}, objectstore.ErrSegmentTruncated},
		{"longer", func(t *testing.T, obs jetstream.ObjectStore, m *objectstore.Manifest) {
			b := segBytes(t, obs, m, 1)
			replace(t, obs, m, 1, append(b, 1, 2, 3))
		}, objectstore.ErrSegmentSize},
		{"digest", func(t *testing.T, obs jetstream.ObjectStore, m *objectstore.Manifest) {
			b := segBytes(t, obs, m, 1)
			b[len(b)/2] ^= 0xff
			replace(t, obs, m, 1, b)
		}, objectstore.ErrSegmentDigest},
		{"missing", func(t *testing.T, obs jetstream.ObjectStore, m *objectstore.Manifest) {
			replace(t, obs, m, 2, nil)
		}, objectstore.ErrSegmentMissing},
		{"swapped", func(t *testing.T, obs jetstream.ObjectStore, m *objectstore.Manifest) {
			m.Segments[0], m.Segments[1] = m.Segments[1], m.Segments[0]
		}, objectstore.ErrArchiveDigest},
		{"archive-digest", func(t *testing.T, obs jetstream.ObjectStore, m *objectstore.Manifest) {
			m.ArchiveSHA256 = strings.Repeat("0", 64)
		}, objectstore.ErrArchiveDigest},
		{"manifest-files", func(t *testing.T, obs jetstream.ObjectStore, m *objectstore.Manifest) {
			m.Files++
		}, objectstore.ErrManifestMismatch},
		{"manifest-commit", func(t *testing.T, obs jetstream.ObjectStore, m *objectstore.Manifest) {
			m.CodeVersion.Commit = strings.Repeat("a", 40)
		}, objectstore.ErrManifestMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, obs, m := upload(t)
			tc.break_(t, obs, m)
			_, _, err := unpack(t, st, m, objectstore.Limits{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadArchive(%s) = %v, want %v", tc.name, err, tc.want)
			}
			if r, ok := objectstore.ReasonOf(err); !ok || r == subjects.Accepted {
				t.Fatalf("Verdict(%v) = %q, %v", err, r, ok)
			}
		})
	}
}

func TestReadRejectsContents(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	meta := file("meta.json", metaJSON("bad", goodCommit))
	unstamped := file("meta.json", metaJSON("bad", ""))
	many := []tarEntry{meta}
	for i := range 20 {
		many = append(many, file(strings.Repeat("f", i+1), []byte{byte(i)}))
	}
	cases := []struct {
		name    string
		archive func(t *testing.T) []byte
		lim     objectstore.Limits
		want    error
		reason  subjects.Reason
	}{
		{"dotdot", func(t *testing.T) []byte { return craft(t, meta, file("../evil", []byte("x"))) }, objectstore.Limits{}, objectstore.ErrPathTraversal, subjects.Malformed},
		{"inner-dotdot", func(t *testing.T) []byte { return craft(t, meta, dir("a/"), file("a/../../evil", []byte("x"))) }, objectstore.Limits{}, objectstore.ErrPathTraversal, subjects.Malformed},
		{"absolute", func(t *testing.T) []byte { return craft(t, meta, file("/etc/evil", []byte("x"))) }, objectstore.Limits{}, objectstore.ErrAbsolutePath, subjects.Malformed},
		{"symlink", func(t *testing.T) []byte {
			l := tarEntry{hdr: tarHeaderSymlink("link", "/etc/passwd")}
			return craft(t, meta, l)
		}, objectstore.Limits{}, objectstore.ErrEntryType, subjects.Malformed},
		{"bomb", func(t *testing.T) []byte { return craftZeros(t, meta, "zeros.bin", 256<<20) }, objectstore.Limits{MaxBytes: 64 << 20}, objectstore.ErrTooLarge, subjects.Malformed},
		{"too-many-files", func(t *testing.T) []byte { return craft(t, many...) }, objectstore.Limits{MaxFiles: 10}, objectstore.ErrTooManyFiles, subjects.Malformed},
		{"name-too-long", func(t *testing.T) []byte { return craft(t, meta, file(strings.Repeat("n", 300), []byte("x"))) }, objectstore.Limits{}, objectstore.ErrNameTooLong, subjects.Malformed},
		{"duplicate", func(t *testing.T) []byte { return craft(t, meta, file("x", []byte("1")), file("x", []byte("2"))) }, objectstore.Limits{}, objectstore.ErrDuplicateEntry, subjects.Malformed},
		{"orphan-child", func(t *testing.T) []byte { return craft(t, meta, file("nodir/x", []byte("1"))) }, objectstore.Limits{}, objectstore.ErrBadTar, subjects.Malformed},
		{"meta-missing", func(t *testing.T) []byte { return craft(t, file("data.csv", []byte("1"))) }, objectstore.Limits{}, objectstore.ErrMetaNotFirst, subjects.Malformed},
		{"meta-not-json", func(t *testing.T) []byte { return craft(t, file("meta.json", []byte("{nope"))) }, objectstore.Limits{}, objectstore.ErrMetaNotJSON, subjects.Malformed},
		{"meta-unstamped", func(t *testing.T) []byte { return craft(t, unstamped, file("x", []byte("1"))) }, objectstore.Limits{}, objectstore.ErrNotStamped, subjects.Unstamped},
		{"not-zstd", func(t *testing.T) []byte { return bytes.Repeat([]byte("garbage!"), 1000) }, objectstore.Limits{}, objectstore.ErrBadCompression, subjects.Malformed},
		{"cut-tar", func(t *testing.T) []byte {
			full := craft(t, meta, file("x", randomBytes(10000, 1)))
			return recompress(t, decompress(t, full)[:3000])
		}, objectstore.Limits{}, objectstore.ErrBadTar, subjects.Malformed},
		{"trailing-garbage", func(t *testing.T) []byte {
			full := craft(t, meta)
			return recompress(t, append(decompress(t, full), []byte("tail")...))
		}, objectstore.Limits{}, objectstore.ErrBadTar, subjects.Malformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ep := "bad"
			archive := tc.archive(t)
			// Claim counts that match nothing in particular: every case must
			// fail on its defect before the manifest is compared.
			m := storeArchive(t, st, ep, archive, objectstore.MinSegmentSize, 2, 0, 1)
			_, _, err := unpack(t, st, m, tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadArchive(%s) = %v, want %v", tc.name, err, tc.want)
			}
			if r, ok := objectstore.ReasonOf(err); !ok || r != tc.reason {
				t.Fatalf("Verdict(%v) = %q, %v; want %q", err, r, ok, tc.reason)
			}
		})
	}
}

// TestUploadStreamsWithoutSpool: a fresh Upload streams every segment,
// small or large, without touching the spool directory (here one that does
// not exist), and reads back whole; only segments known from an earlier
// run are spooled, to be looked up before they are sent.
func TestUploadStreamsWithoutSpool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := newStore(t)
	noSpool := filepath.Join(t.TempDir(), "missing")
	for _, size := range []int{100 << 10, 3 << 20} {
		dir := writeEpisode(t, t.TempDir(), fmt.Sprint("ep-", size), map[string][]byte{"d": randomBytes(size, 11)})
		o := objectstore.UploadOptions{Host: testHost, SpoolDir: noSpool, SegmentSize: 1 << 20}
		m, err := objectstore.Upload(ctx, st, dir, o)
		if err != nil {
			t.Fatalf("Upload of %d bytes without a spool directory = %v", size, err)
		}
		if _, _, err := unpack(t, st, &m, objectstore.Limits{}); err != nil {
			t.Fatalf("ReadArchive = %v", err)
		}
		if len(m.Segments) > 1 {
			o.Known = m.Segments[:1]
			if _, err := objectstore.Upload(ctx, st, dir, o); err == nil {
				t.Fatal("Upload with a known segment succeeded without its spool directory")
			}
		}
	}
}

// TestArchiveDigestVersions: a version 2 manifest's archive digest is
// ArchiveDigest of its segments, as the shell recipe of its doc comment
// computes it from the segment files; a version 1 manifest, whose digest is
// the whole stream's SHA-256, still reads, and a wrong one of either is
// ErrArchiveDigest.
func TestArchiveDigestVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := newStore(t)
	dir := writeEpisode(t, t.TempDir(), "v", map[string][]byte{"d": randomBytes(300<<10, 21)})
	m, err := objectstore.Upload(ctx, st, dir, objectstore.UploadOptions{Host: testHost, SegmentSize: objectstore.MinSegmentSize})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 2 || len(m.Segments) < 3 {
		t.Fatalf("Upload wrote manifest version %d with %d segments, want 2 with at least 3", m.Version, len(m.Segments))
	}
	archive, _ := packBytes(t, dir)

	// The shell recipe, on the archive cut into segment files.
	segDir := t.TempDir()
	for i, rest := 0, archive; len(rest) > 0; i++ {
		n := min(len(rest), int(m.SegmentSize))
		if err := os.WriteFile(filepath.Join(segDir, fmt.Sprintf("seg.%04d", i)), rest[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	cmd := exec.Command("sh", "-c", `for f in seg.*; do printf '%s %d\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$(stat -c%s "$f")"; done | sha256sum`)
	cmd.Dir = segDir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("shell recipe: %v", err)
	}
	if got, _, _ := strings.Cut(string(out), " "); got != m.ArchiveSHA256 {
		t.Fatalf("shell recipe gives %s, manifest says %s", got, m.ArchiveSHA256)
	}
	if _, _, err := unpack(t, st, &m, objectstore.Limits{}); err != nil {
		t.Fatalf("version 2: %v", err)
	}

	v1 := m
	v1.Version = 1
	sum := sha256.Sum256(archive)
	v1.ArchiveSHA256 = hex.EncodeToString(sum[:])
	if _, _, err := unpack(t, st, &v1, objectstore.Limits{}); err != nil {
		t.Fatalf("version 1 with the stream's SHA-256: %v", err)
	}
	v1.ArchiveSHA256 = m.ArchiveSHA256
	if _, _, err := unpack(t, st, &v1, objectstore.Limits{}); !errors.Is(err, objectstore.ErrArchiveDigest) {
		t.Fatalf("version 1 with a version 2 digest: %v, want ErrArchiveDigest", err)
	}
	v3 := m
	v3.Version = 3
	if _, _, err := unpack(t, st, &v3, objectstore.Limits{}); !errors.Is(err, objectstore.ErrManifestVersion) {
		t.Fatalf("version 3: %v, want ErrManifestVersion", err)
	}
}

// TestPutInfoTimeoutKeepsChunks: an object's info whose publish fails
// after the server stored it (a timeout in a leader election) leaves the
// object whole: its chunks are not purged, so the Upload run again finds
// the segment stored and the receiver reads it back, not truncated.
func TestPutInfoTimeoutKeepsChunks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _, js := newStoreJS(t)
	st.SetPublishMeta(func(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
		if _, err := js.PublishMsg(ctx, m, opts...); err != nil {
			return nil, err
		}
		return nil, context.DeadlineExceeded // stored, but the ack was lost
	})
	dir := writeEpisode(t, t.TempDir(), "ambiguous", map[string][]byte{"d": randomBytes(200<<10, 31)})
	o := objectstore.UploadOptions{Host: testHost, SegmentSize: objectstore.MinSegmentSize}
	if _, err := objectstore.Upload(ctx, st, dir, o); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Upload with the first info's ack lost = %v, want DeadlineExceeded", err)
	}
	st.SetPublishMeta(nil)
	m, err := objectstore.Upload(ctx, st, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := unpack(t, st, &m, objectstore.Limits{}); err != nil {
		t.Fatalf("ReadArchive after the lost ack = %v", err)
	}
}

// TestReadSurvivesHostWrittenInfo: a host may publish anything on its own
// bucket's metadata subjects. A segment whose info is not JSON is missing
// (corrupt, never a transient error retried for ever), Has says so, and
// Delete passes over it.
func TestReadSurvivesHostWrittenInfo(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, _, _, js := newStoreJS(t)
	dir := writeEpisode(t, t.TempDir(), "ep", map[string][]byte{"d": randomBytes(3<<20, 7)})
	m, err := objectstore.Upload(ctx, st, dir, objectstore.UploadOptions{Host: testHost, SegmentSize: 1 << 20, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	bucket := subjects.EpisodeBucket(testHost)
	writeInfo := func(seg objectstore.Segment, data []byte) {
		name := subjects.SegmentObject(m.EpisodeID, seg.SHA256)
		msg := nats.NewMsg(strings.TrimSuffix(subjects.ObjectMetaAll(bucket), ">") + base64.URLEncoding.EncodeToString([]byte(name)))
		msg.Data = data
		msg.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}

	writeInfo(m.Segments[1], []byte("not json"))
	_, _, err = unpack(t, st, &m, objectstore.Limits{})
	if r, judged := objectstore.ReasonOf(err); !errors.Is(err, objectstore.ErrSegmentMissing) || !judged || r != subjects.Corrupt {
		t.Fatalf("ReadArchive with an info that is not JSON = %v (%q, judged %v), want %v, corrupt", err, r, judged, objectstore.ErrSegmentMissing)
	}
	if has, err := st.Has(ctx, m.EpisodeID, m.Segments[1]); has || !errors.Is(err, objectstore.ErrSegmentMissing) {
		t.Fatalf("Has = %v, %v; want false, %v", has, err, objectstore.ErrSegmentMissing)
	}
	if err := st.Delete(ctx, m.EpisodeID, m.Segments); err != nil {
		t.Fatalf("Delete = %v, want nil", err)
	}
}

// TestReadRefusesABomb: 256 MiB of zeros packs into a few hundred KiB. Its
// header alone says it unpacks to more than max_expansion times the
// archive: it is malformed before a byte of it is inflated, with the
// figures in the error, and the visit function never sees it. A manifest
// that says so itself is refused before anything is read. A small archive
// of zeros stays within the floor and is read.
func TestReadRefusesABomb(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	meta := file("meta.json", metaJSON("bomb", goodCommit))
	const size = 256 << 20
	bomb := craftZeros(t, meta, "zeros.bin", size)
	raw := int64(len(meta.data)) + size
	m := storeArchive(t, st, "bomb", bomb, 1<<20, 2, 0, 1) // a manifest that lies about raw_bytes

	var visited []string
	_, err := objectstore.ReadArchive(t.Context(), st, m, objectstore.Limits{}, func(e objectstore.Entry, r io.Reader) error {
		visited = append(visited, e.Name)
		_, err := io.Copy(io.Discard, r)
		return err
	})
	want := fmt.Sprintf("episode too large: unpacks to at least 256 MiB from %s, %d×: over the limit of 200× the archive plus 64 MiB (max_expansion) (at \"zeros.bin\")",
		progress.FormatSize(m.ArchiveBytes), raw/m.ArchiveBytes)
	if r, _ := objectstore.ReasonOf(err); !errors.Is(err, objectstore.ErrTooLarge) || r != subjects.Malformed || err.Error() != want {
		t.Fatalf("ReadArchive(a %d-byte archive of 256 MiB of zeros) = %v (%q), want %q", m.ArchiveBytes, err, r, want)
	}
	if !slices.Equal(visited, []string{"meta.json"}) {
		t.Fatalf("visited %q, want only meta.json", visited)
	}

	m.RawBytes = raw
	var read atomic.Int64
	_, err = objectstore.ReadArchive(t.Context(), countingSource{st, &read}, m, objectstore.Limits{}, nil)
	if !errors.Is(err, objectstore.ErrTooLarge) || !strings.Contains(err.Error(), "unpacks to 256 MiB from") || read.Load() != 0 {
		t.Fatalf("ReadArchive of a manifest claiming 256 MiB = %v after reading %d bytes, want ErrTooLarge before reading any", err, read.Load())
	}

	small := craftZeros(t, meta, "zeros.bin", 32<<20)
	m = storeArchive(t, st, "bomb", small, 1<<20, 2, 0, int64(len(meta.data))+32<<20)
	if _, err := objectstore.ReadArchive(t.Context(), st, m, objectstore.Limits{}, nil); err != nil {
		t.Fatalf("ReadArchive(32 MiB of zeros in %d bytes) = %v, want nil: within the floor", m.ArchiveBytes, err)
	}
}
