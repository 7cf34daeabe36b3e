package receiver

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cis490/cis490/durable"
	"github.com/cis490/cis490/objectstore"
)

// TestCleanExportsSharedArchiveDir checks the start-up clean of an
// ArchiveDir that several receivers share: it removes what a crash left (an
// unlocked temp directory, an old temp file) and leaves alone the export
// another receiver is writing (its temp is flock'ed), a temp file being
// written, and every finished export.
func TestCleanExportsSharedArchiveDir(t *testing.T) {
	t.Parallel()
	archive := t.TempDir()
	r := &Receiver{o: Options{ArchiveDir: archive}, log: slog.New(slog.DiscardHandler)}
	hostDir := filepath.Join(archive, "lab1")

	// The other receiver, mid-export.
	busy, err := r.newExport("lab1", &objectstore.Manifest{EpisodeID: "ep-busy", ArchiveSHA256: "aa"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(busy.tmp, "data.bin"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	mk := func(name string, dir bool, age time.Duration) string {
		p := filepath.Join(hostDir, name)
		if dir {
			if err := os.MkdirAll(filepath.Join(p, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		return p
	}
	crashed := mk("ep-crashed"+durable.TempMarker+"123", true, 0)
	oldFile := mk(".ep-x.json"+durable.TempMarker+"456", false, 2*staleTempFile)
	newFile := mk(".ep-y.json"+durable.TempMarker+"789", false, 0)
	done := mk("ep-done", true, time.Hour)

	if err := r.cleanExports(); err != nil {
		t.Fatalf("cleanExports = %v", err)
	}
	for p, want := range map[string]bool{busy.tmp: true, crashed: false, oldFile: false, newFile: true, done: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("after cleanExports, %s exists = %v, want %v", filepath.Base(p), err == nil, want)
		}
	}

	// Once the other receiver is gone (its lock with it), its temp is stale.
	busy.unlock()
	if err := r.cleanExports(); err != nil {
		t.Fatalf("cleanExports = %v", err)
	}
	if _, err := os.Stat(busy.tmp); !os.IsNotExist(err) {
		t.Errorf("an unlocked export temp survived cleanExports: %v", err)
	}
}
