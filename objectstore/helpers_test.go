package objectstore_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

const (
	testHost   = "lab1"
	goodCommit = "0123456789abcdef0123456789abcdef01234567"
)

// runServer starts an embedded nats-server with JetStream on default
// settings, in its own temp dir, and returns a JetStream client.
func runServer(t testing.TB) jetstream.JetStream {
	t.Helper()
	opts := &server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

// newStore returns a segment store on a fresh bucket of a fresh server.
func newStore(t testing.TB) (*objectstore.Store, jetstream.ObjectStore) {
	t.Helper()
	st, obs, _, _ := newStoreJS(t)
	return st, obs
}

// newStoreJS is newStore with the server's JetStream context and the
// bucket's stream, for tests that look at the stream itself.
func newStoreJS(t testing.TB) (*objectstore.Store, jetstream.ObjectStore, jetstream.Stream, jetstream.JetStream) {
	t.Helper()
	js := runServer(t)
	obs, err := js.CreateObjectStore(context.Background(), jetstream.ObjectStoreConfig{Bucket: subjects.EpisodeBucket(testHost)})
	if err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	stream, err := js.Stream(context.Background(), subjects.ObjectStream(subjects.EpisodeBucket(testHost)))
	if err != nil {
		t.Fatalf("bucket stream: %v", err)
	}
	return objectstore.NewStore(js, obs), obs, stream, js
}

// metaJSON returns a meta.json for id, stamped with commit ("" for none).
func metaJSON(id, commit string) []byte {
	m := map[string]any{"episode_id": id, "recorded_at": "2026-11-20T14:03:11Z"}
	if commit != "" {
		m["code_version"] = map[string]any{"commit": commit, "branch": "main", "dirty": false}
	}
	b, _ := json.Marshal(m)
	return b
}

// writeEpisode creates an episode directory under root with meta.json and
// files (slash-separated relative names), and returns its path.
func writeEpisode(t testing.TB, root, id string, files map[string][]byte) string {
	t.Helper()
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := files[objectstore.MetaFile]; !ok {
		if err := os.WriteFile(filepath.Join(dir, objectstore.MetaFile), metaJSON(id, goodCommit), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The archive carries mtimes to the second: pin them, so that two
	// episodes written with the same files pack to the same bytes even when
	// a second boundary falls between them.
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, episodeMtime, episodeMtime)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// episodeMtime is the modification time writeEpisode gives every file.
var episodeMtime = time.Date(2026, 11, 20, 14, 3, 11, 0, time.UTC)

// randomBytes returns n bytes, about half of them compressible, from seed.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		if (i/4096)%2 == 1 {
			v &= 0x0101010101010101
		}
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// writeLargeFile writes size bytes of randomBytes to p without holding them all.
func writeLargeFile(t testing.TB, p string, size int64) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const chunk = 8 << 20
	for off, seed := int64(0), uint64(1); off < size; off, seed = off+chunk, seed+1 {
		n := min(chunk, size-off)
		if _, err := f.Write(randomBytes(int(n), seed)); err != nil {
			t.Fatal(err)
		}
	}
}

// unpack reads the stored archive of m back into a map of name to bytes.
func unpack(t testing.TB, st *objectstore.Store, m *objectstore.Manifest, lim objectstore.Limits) (map[string][]byte, objectstore.ReadResult, error) {
	t.Helper()
	got := map[string][]byte{}
	res, err := objectstore.ReadArchive(context.Background(), st, m, lim, func(e objectstore.Entry, r io.Reader) error {
		if e.Dir {
			return nil
		}
		b, err := io.ReadAll(r)
		got[e.Name] = b
		return err
	})
	return got, res, err
}

// tarEntry is one entry of a hand-made archive.
type tarEntry struct {
	hdr  tar.Header
	data []byte
}

func file(name string, data []byte) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}, data: data}
}

func dir(name string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
}

// craft builds a tar+zstd archive from entries exactly as given.
func craft(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("craft %s: %v", h.Name, err)
		}
		if len(e.data) > 0 {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatalf("craft %s: %v", h.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// storeArchive cuts archive into segments of segSize, stores them, and
// returns a manifest for them claiming the given counts.
func storeArchive(t testing.TB, st *objectstore.Store, episode string, archive []byte, segSize int64, files, dirs int, raw int64) *objectstore.Manifest {
	t.Helper()
	spool := t.TempDir()
	var sfs []objectstore.SegmentFile
	sg, err := objectstore.NewSegmenter(spool, segSize, func(sf objectstore.SegmentFile) error {
		sfs = append(sfs, sf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sg.Write(archive); err != nil {
		t.Fatal(err)
	}
	segs, sum, n, err := sg.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, sf := range sfs {
		f, err := os.Open(sf.Path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Put(context.Background(), episode, sf.Segment, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return &objectstore.Manifest{
		Version: objectstore.ManifestVersion, Host: testHost, EpisodeID: episode,
		CodeVersion: objectstore.CodeVersion{Commit: goodCommit}, SegmentSize: segSize,
		Segments: segs, ArchiveSHA256: sum, ArchiveBytes: n, RawBytes: raw, Files: files, Dirs: dirs,
	}
}

func tarHeaderSymlink(name, target string) tar.Header {
	return tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}
}

// craftZeros builds an archive of meta and one file of size zero bytes,
// streamed, so a bomb of any size costs no memory to make.
func craftZeros(t testing.TB, meta tarEntry, name string, size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	h := meta.hdr
	tw.WriteHeader(&h)
	tw.Write(meta.data)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	zero := make([]byte, 1<<20)
	for n := size; n > 0; n -= int64(len(zero)) {
		tw.Write(zero[:min(int64(len(zero)), n)])
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func decompress(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func recompress(t testing.TB, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	return buf.Bytes()
}

// segmentOf describes data as a segment.
func segmentOf(data []byte) objectstore.Segment {
	sum := sha256.Sum256(data)
	return objectstore.Segment{Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
