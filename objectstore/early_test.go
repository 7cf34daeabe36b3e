package objectstore_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cis490/cis490/objectstore"
)

// countingSource counts the bytes read through it.
type countingSource struct {
	src objectstore.SegmentSource
	n   *atomic.Int64
}

func (c countingSource) Open(ctx context.Context, episode string, seg objectstore.Segment) (io.ReadCloser, error) {
	rc, err := c.src.Open(ctx, episode, seg)
	if err != nil {
		return nil, err
	}
	return countingReadCloser{rc, c.n}, nil
}

type countingReadCloser struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingReadCloser) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.n.Add(int64(k))
	return k, err
}

// collect is a visit function keeping the files' bytes.
type collect struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (c *collect) visit(e objectstore.Entry, r io.Reader) error {
	if e.Dir {
		return nil
	}
	b, err := io.ReadAll(r)
	c.mu.Lock()
	c.files[e.Name] = b
	c.mu.Unlock()
	return err
}

// TestEarlyReadDuringUpload announces each segment to an EarlyRead as
// Upload stores it: the archive is read while it uploads, before any
// manifest exists, and Finish returns what ReadArchive does.
func TestEarlyReadDuringUpload(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	dir := writeEpisode(t, t.TempDir(), "early", map[string][]byte{
		"a/video.bin": randomBytes(1<<20, 1), "b.csv": []byte("t,x\n0,1\n"),
	})
	var read atomic.Int64
	got := &collect{files: map[string][]byte{}}
	er := objectstore.StartEarlyRead(context.Background(), countingSource{st, &read}, "early", objectstore.Limits{}, got.visit)
	var announced int64
	m, err := objectstore.Upload(context.Background(), st, dir, objectstore.UploadOptions{
		Host: testHost, SegmentSize: objectstore.MinSegmentSize, SpoolDir: t.TempDir(),
		Progress: func(index int, seg objectstore.Segment, _, _ bool) {
			if !er.Add(index, seg) {
				t.Errorf("Add(%d) = false", index)
			}
			announced += seg.Size
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Segments) < 4 {
		t.Fatalf("%d segments, want at least 4", len(m.Segments))
	}
	// Every announced byte is read before the manifest is given.
	deadline := time.Now().Add(10 * time.Second)
	for read.Load() < announced && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := read.Load(); n != m.ArchiveBytes {
		t.Fatalf("early read had read %d of %d bytes before the manifest", n, m.ArchiveBytes)
	}
	res, ok := er.Finish(context.Background(), &m)
	if !ok {
		t.Fatal("Finish = false for the announced archive")
	}
	_, want, err := unpack(t, st, &m, objectstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if res != want {
		t.Fatalf("Finish = %+v, ReadArchive = %+v", res, want)
	}
	assertSameFiles(t, dir, got.files)
}

// TestEarlyReadStandsOnlyForACleanRead: whenever an early read cannot
// stand for ReadArchive of the submitted manifest, Finish says so, and
// the caller reads the archive itself.
func TestEarlyReadStandsOnlyForACleanRead(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	raw := randomBytes(300<<10, 2)
	good := storeArchive(t, st, "ep", craft(t, file("meta.json", metaJSON("ep", goodCommit)), file("x.bin", raw)),
		objectstore.MinSegmentSize, 2, 0, int64(len(metaJSON("ep", goodCommit))+len(raw)))
	bad := storeArchive(t, st, "ep", craft(t, file("meta.json", metaJSON("ep", goodCommit)), tarEntry{hdr: tarHeaderSymlink("l", "/etc")}),
		objectstore.MinSegmentSize, 1, 0, int64(len(metaJSON("ep", goodCommit))))
	start := func() *objectstore.EarlyRead {
		return objectstore.StartEarlyRead(ctx, st, "ep", objectstore.Limits{}, nil)
	}
	announce := func(er *objectstore.EarlyRead, segs []objectstore.Segment) {
		t.Helper()
		for i, s := range segs {
			if !er.Add(i, s) {
				t.Fatalf("Add(%d) = false", i)
			}
		}
	}

	t.Run("all announced", func(t *testing.T) {
		er := start()
		announce(er, good.Segments)
		if _, ok := er.Finish(ctx, good); !ok {
			t.Fatal("Finish = false")
		}
	})
	t.Run("some announced", func(t *testing.T) {
		er := start()
		announce(er, good.Segments[:2])
		if _, ok := er.Finish(ctx, good); !ok {
			t.Fatal("Finish = false")
		}
	})
	t.Run("other segments", func(t *testing.T) {
		er := start()
		announce(er, good.Segments[1:3])
		if _, ok := er.Finish(ctx, good); ok {
			t.Fatal("Finish = true for a manifest that does not start with the announced segments")
		}
	})
	t.Run("refused announcements", func(t *testing.T) {
		// Nothing a valid manifest's list could not hold: the reader reads
		// no more than the announcer stored, once, and no more than a
		// submission could make it read. (The source never yields, so
		// only Add's rules are at work.)
		seg := func(i int, size int64) objectstore.Segment {
			return objectstore.Segment{Size: size, SHA256: fmt.Sprintf("%064x", i+1)}
		}
		full := make([]objectstore.Segment, 17)
		for i := range full {
			full[i] = seg(i, objectstore.MinSegmentSize)
		}
		short := seg(100, 1000)
		for _, tc := range []struct {
			name   string
			lim    objectstore.Limits
			before []objectstore.Segment
			add    objectstore.Segment
		}{
			{"after the short last one", objectstore.Limits{}, []objectstore.Segment{full[0], short}, full[1]},
			{"larger than the first", objectstore.Limits{}, []objectstore.Segment{short}, full[0]},
			{"announced twice", objectstore.Limits{}, full[:2], full[0]},
			// MaxBytes 1: ReadArchive reads archives of up to 1 MiB + 1 byte.
			{"past the bytes a submission may hold", objectstore.Limits{MaxBytes: 1}, full[:16], full[16]},
		} {
			er := objectstore.StartEarlyRead(ctx, blockSource{}, "ep", tc.lim, nil)
			for i, s := range tc.before {
				if !er.Add(i, s) {
					t.Fatalf("%s: Add(%d) = false before the refused one", tc.name, i)
				}
			}
			if er.Add(len(tc.before), tc.add) {
				t.Errorf("%s: Add = true", tc.name)
			}
			er.Abort()
		}
	})
	t.Run("out of order", func(t *testing.T) {
		er := start()
		defer er.Abort()
		if er.Add(1, good.Segments[1]) {
			t.Fatal("Add(1) before Add(0) = true")
		}
	})
	t.Run("version 1", func(t *testing.T) {
		er := start()
		announce(er, good.Segments)
		v1 := *good
		v1.Version = 1
		if _, ok := er.Finish(ctx, &v1); ok {
			t.Fatal("Finish = true for a version 1 manifest")
		}
	})
	t.Run("manifest contradicts the archive", func(t *testing.T) {
		er := start()
		announce(er, good.Segments)
		lie := *good
		lie.Files++
		if _, ok := er.Finish(ctx, &lie); ok {
			t.Fatal("Finish = true for a manifest that miscounts the files")
		}
	})
	t.Run("forbidden entry", func(t *testing.T) {
		if _, err := objectstore.ReadArchive(ctx, st, bad, objectstore.Limits{}, nil); err == nil {
			t.Fatal("ReadArchive accepted a symlink")
		}
		er := start()
		announce(er, bad.Segments)
		if _, ok := er.Finish(ctx, bad); ok {
			t.Fatal("Finish = true for an archive ReadArchive rejects")
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		er := start()
		announce(er, good.Segments[:1])
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, ok := er.Finish(cctx, good); ok {
			// The rest may have been read at once; only a read that
			// waited may say false here, and none may hang.
			t.Log("finished before the cancel was seen")
		}
	})
	t.Run("abort", func(t *testing.T) {
		er := start()
		announce(er, good.Segments[:1])
		er.Abort()
		if er.Add(1, good.Segments[1]) {
			t.Fatal("Add after Abort = true")
		}
	})
}

// blockSource yields no segment until its context ends.
type blockSource struct{}

func (blockSource) Open(ctx context.Context, _ string, _ objectstore.Segment) (io.ReadCloser, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
