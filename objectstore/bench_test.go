package objectstore_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// benchEpisode makes a size-byte episode, half compressible, for benchmarks.
func benchEpisode(b *testing.B, size int64) string {
	b.Helper()
	dir := writeEpisode(b, b.TempDir(), "bench", nil)
	writeLargeFile(b, filepath.Join(dir, "data.bin"), size)
	return dir
}

// BenchmarkPack measures the packer alone: directory to tar+zstd, discarded.
func BenchmarkPack(b *testing.B) {
	dir := benchEpisode(b, 64<<20)
	b.SetBytes(64 << 20)
	for b.Loop() {
		if _, err := objectstore.Pack(context.Background(), dir, io.Discard, objectstore.PackOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSegmentPut and BenchmarkSegmentGet measure one 64 MiB segment
// through the segment store on an embedded server over loopback.
func BenchmarkSegmentPut(b *testing.B) {
	st, _ := newStore(b)
	data := randomBytes(objectstore.DefaultSegmentSize, 1)
	seg := segmentOf(data)
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		i++
		if _, err := st.Put(context.Background(), "put"+strconv.Itoa(i), seg, bytesReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSegmentGet(b *testing.B) {
	st, _ := newStore(b)
	data := randomBytes(objectstore.DefaultSegmentSize, 1)
	seg := segmentOf(data)
	if _, err := st.Put(context.Background(), "get", seg, bytesReader(data)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := st.Open(context.Background(), "get", seg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

// BenchmarkEpisode2GiB moves one 2 GiB episode through a default-settings
// embedded server three ways:
//   - stock: the packed archive through one stock ObjectStore.Put and Get;
//   - segments: the same packed bytes as 64 MiB segments through Store.Put
//     and Store.Open, drained in order (the transport alone, like for like);
//   - pipeline: what cis490 does, Upload (pack while sending) then
//     ReadArchive (digests, decompress, validate every entry).
//
// A stock failure is counted, not fatal: it is the point. Run it with
//
//	go test -run '^$' -bench Episode2GiB -benchtime 1x -timeout 60m ./objectstore
func BenchmarkEpisode2GiB(b *testing.B) {
	const size = 2 << 30
	dir := benchEpisode(b, size)
	archive := filepath.Join(b.TempDir(), "episode.tar.zst")
	f, err := os.Create(archive)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := objectstore.Pack(context.Background(), dir, f, objectstore.PackOptions{}); err != nil {
		b.Fatal(err)
	}
	f.Close()
	b.Run("stock", func(b *testing.B) {
		b.SetBytes(size)
		failures := 0
		for b.Loop() {
			if err := stockRoundTrip(b, archive); err != nil {
				failures++
				b.Logf("stock ObjectStore.Put/Get of a 2 GiB episode: %v", err)
			}
		}
		b.ReportMetric(float64(failures), "failures")
	})
	b.Run("segments", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			st, _ := newStore(b)
			segs := putArchive(b, st, archive)
			for _, seg := range segs {
				r, err := st.Open(context.Background(), "bench", seg)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		}
	})
	b.Run("pipeline", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			st, _ := newStore(b)
			m, err := objectstore.Upload(context.Background(), st, dir, objectstore.UploadOptions{Host: testHost, SpoolDir: b.TempDir()})
			if err != nil {
				b.Fatalf("Upload = %v", err)
			}
			if _, err := objectstore.ReadArchive(context.Background(), st, &m, objectstore.Limits{}, nil); err != nil {
				b.Fatalf("ReadArchive = %v", err)
			}
		}
	})
}

// putArchive segments a packed archive file and stores every segment.
func putArchive(b *testing.B, st *objectstore.Store, archive string) []objectstore.Segment {
	b.Helper()
	f, err := os.Open(archive)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sg, err := objectstore.NewSegmenter(b.TempDir(), objectstore.DefaultSegmentSize, func(sf objectstore.SegmentFile) error {
		defer os.Remove(sf.Path)
		sr, err := os.Open(sf.Path)
		if err != nil {
			return err
		}
		defer sr.Close()
		_, err = st.Put(context.Background(), "bench", sf.Segment, sr)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(sg, f); err != nil {
		b.Fatal(err)
	}
	segs, _, _, err := sg.Close()
	if err != nil {
		b.Fatal(err)
	}
	return segs
}

func stockRoundTrip(b *testing.B, archive string) error {
	js := runServer(b)
	ctx := context.Background()
	obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: subjects.EpisodeBucket(testHost)})
	if err != nil {
		return err
	}
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	t0 := time.Now()
	if _, err := obs.Put(ctx, jetstream.ObjectMeta{Name: "episode"}, f); err != nil {
		return fmt.Errorf("put after %v: %w", time.Since(t0).Round(time.Millisecond), err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	r, err := obs.Get(ctx, "episode")
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	defer r.Close()
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("get: %w", err)
	}
	return nil
}
