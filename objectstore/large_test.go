package objectstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cis490/cis490/objectstore"
)

// TestRoundTripLarge ships a 320 MiB episode in 64 MiB segments and checks
// every unpacked byte against the source, streaming: nothing is held whole.
func TestRoundTripLarge(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	dir := writeEpisode(t, t.TempDir(), "large", map[string][]byte{"small.csv": []byte("a,b\n")})
	const size = 320 << 20
	writeLargeFile(t, filepath.Join(dir, "big.bin"), size)
	want := fileSHA256(t, filepath.Join(dir, "big.bin"))

	m, err := objectstore.Upload(context.Background(), st, dir, objectstore.UploadOptions{Host: testHost, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Upload = %v", err)
	}
	if len(m.Segments) < 2 || m.RawBytes < size {
		t.Fatalf("manifest: %d segments, %d raw bytes", len(m.Segments), m.RawBytes)
	}
	var got string
	var n int64
	res, err := objectstore.ReadArchive(context.Background(), st, &m, objectstore.Limits{}, func(e objectstore.Entry, r io.Reader) error {
		if e.Name != "big.bin" {
			return nil
		}
		h := sha256.New()
		var err error
		n, err = io.Copy(h, r)
		got = hex.EncodeToString(h.Sum(nil))
		return err
	})
	if err != nil {
		t.Fatalf("ReadArchive = %v", err)
	}
	if n != size || got != want {
		t.Fatalf("big.bin unpacked to %d bytes %s, want %d bytes %s", n, got, int64(size), want)
	}
	if res.Files != 3 || res.RawBytes != m.RawBytes {
		t.Fatalf("ReadArchive result = %+v", res)
	}
}

func fileSHA256(t testing.TB, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
