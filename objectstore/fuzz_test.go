package objectstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cis490/cis490/objectstore"
)

func FuzzParseManifest(f *testing.F) {
	seg := strings.Repeat("a", 64)
	f.Add([]byte(`{"version":1,"host":"lab1","episode_id":"ep1","recorded_at":"2026-11-20T14:03:11Z","code_version":{"commit":"0123456789abcdef0123456789abcdef01234567","dirty":false},"segment_size":65536,"segments":[{"size":10,"sha256":"` + seg + `"}],"archive_sha256":"` + seg + `","archive_bytes":10,"raw_bytes":5,"files":1,"dirs":0}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"extra":true}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := objectstore.ParseManifest(b)
		if err != nil {
			if !errors.Is(err, objectstore.ErrBadManifest) && !errors.Is(err, objectstore.ErrManifestVersion) {
				t.Fatalf("ParseManifest error %v is neither ErrBadManifest nor ErrManifestVersion", err)
			}
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed manifest = %v", err)
		}
		again, err := objectstore.ParseManifest(out)
		if err != nil {
			t.Fatalf("ParseManifest(Marshal(m)) = %v", err)
		}
		if again.ArchiveSHA256 != m.ArchiveSHA256 || len(again.Segments) != len(m.Segments) {
			t.Fatal("manifest does not round-trip")
		}
	})
}

// memSource serves archive bytes as one segment, so the fuzzer exercises the
// decoder and the tar validator without a server.
type memSource map[string][]byte

func (s memSource) Open(_ context.Context, _ string, seg objectstore.Segment) (io.ReadCloser, error) {
	b, ok := s[seg.SHA256]
	if !ok {
		return nil, objectstore.ErrSegmentMissing
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// FuzzReadArchive feeds arbitrary archive bytes, stored intact, to the
// validator. It must never panic, and every error must be one it can judge:
// with no transport in the way, there is nothing to retry.
func FuzzReadArchive(f *testing.F) {
	f.Add(craft(f, file("meta.json", metaJSON("ep", goodCommit)), dir("a/"), file("a/x", []byte("x"))))
	f.Add(craft(f, file("meta.json", metaJSON("ep", "")), file("../x", nil)))
	f.Add(craft(f, file("x", nil)))
	f.Add(recompress(f, []byte("not a tar")))
	f.Add([]byte("not zstd"))
	f.Fuzz(func(t *testing.T, archive []byte) {
		if len(archive) == 0 {
			return
		}
		sum := sha256.Sum256(archive)
		h := hex.EncodeToString(sum[:])
		m := &objectstore.Manifest{
			Version: objectstore.ManifestVersion, Host: testHost, EpisodeID: "ep",
			CodeVersion: objectstore.CodeVersion{Commit: goodCommit}, SegmentSize: objectstore.MinSegmentSize,
			Segments:     []objectstore.Segment{{Size: int64(len(archive)), SHA256: h}},
			ArchiveBytes: int64(len(archive)), Files: 1,
		}
		m.ArchiveSHA256 = objectstore.ArchiveDigest(m.Segments)
		if len(archive) > objectstore.MinSegmentSize {
			return
		}
		lim := objectstore.Limits{MaxBytes: 1 << 20, MaxFiles: 100}
		_, err := objectstore.ReadArchive(context.Background(), memSource{h: archive}, m, lim, func(_ objectstore.Entry, r io.Reader) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if _, ok := objectstore.ReasonOf(err); !ok {
			t.Fatalf("ReadArchive error %v has no verdict", err)
		}
	})
}
