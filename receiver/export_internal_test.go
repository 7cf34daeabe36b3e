package receiver

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cis490/cis490/durable"
	"github.com/cis490/cis490/hub/hubtest"
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

// TestExportCommitTwice checks two deliveries of one accepted submission
// exporting at once (a redelivery while the first is still committing, in
// another receiver sharing ArchiveDir or another worker): both prepared
// their temp before either committed. The second commit must find the
// first's export identical and drop its temp, not set the first aside as a
// replaced export. A different archive under the same id is still set
// aside, never deleted.
func TestExportCommitTwice(t *testing.T) {
	t.Parallel()
	archive := t.TempDir()
	r := &Receiver{o: Options{ArchiveDir: archive}, log: slog.New(slog.DiscardHandler)}
	hostDir := filepath.Join(archive, "lab1")
	prepare := func(digest, content string) *export {
		t.Helper()
		ex, err := r.newExport("lab1", &objectstore.Manifest{EpisodeID: "ep", ArchiveSHA256: digest})
		if err != nil {
			t.Fatal(err)
		}
		if ex.identical {
			t.Fatalf("newExport(%s) found an identical export before any commit", digest)
		}
		if err := os.WriteFile(filepath.Join(ex.tmp, "data.bin"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return ex
	}
	names := func() []string { return hubtest.Names(t, hostDir) }

	first, second := prepare("aa", "one"), prepare("aa", "one")
	for _, ex := range []*export{first, second} {
		if err := ex.commit(); err != nil {
			t.Fatalf("commit = %v", err)
		}
		ex.abort()
	}
	if got := names(); len(got) != 2 || got[0] != ".ep.json" || got[1] != "ep" {
		t.Errorf("after two commits of one archive, %s holds %q, want [.ep.json ep]", hostDir, got)
	}

	third := prepare("bb", "two")
	if err := third.commit(); err != nil {
		t.Fatalf("commit of another archive = %v", err)
	}
	got := names()
	if len(got) != 3 || !strings.HasPrefix(got[2], "ep.replaced-") {
		t.Fatalf("after a commit of another archive, %s holds %q, want [.ep.json ep ep.replaced-…]", hostDir, got)
	}
	if b, err := os.ReadFile(filepath.Join(hostDir, "ep", "data.bin")); err != nil || string(b) != "two" {
		t.Errorf("export after the other archive's commit = %q, %v; want %q", b, err, "two")
	}
	if b, err := os.ReadFile(filepath.Join(hostDir, got[2], "data.bin")); err != nil || string(b) != "one" {
		t.Errorf("export set aside = %q, %v; want %q", b, err, "one")
	}
}
