package durable

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := WriteFile(p, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "two" {
		t.Fatalf("ReadFile = %q, %v; want two", b, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode = %v, want 0640", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("dir holds %d entries, want only state.json", len(entries))
	}
}

// TestWriteFileCrashBeforeRename: a crash before the rename leaves the old
// content in place and a temp file that Clean removes.
func TestWriteFileCrashBeforeRename(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	crash := errors.New("crash")
	rename = func(string, string) error { return crash }
	t.Cleanup(func() { rename = os.Rename })
	if err := WriteFile(p, []byte("new"), 0o644); !errors.Is(err, crash) {
		t.Fatalf("WriteFile = %v, want the crash", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("after a failed rename the file holds %q, want old", b)
	}
	// A real crash would leave the temp behind; make one as it would be.
	stale := filepath.Join(dir, "state.json"+TempMarker+"123")
	os.WriteFile(stale, []byte("half"), 0o644)
	os.Mkdir(filepath.Join(dir, "export"+TempMarker+"9"), 0o755)
	removed, err := Clean(dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if want := []string{"export" + TempMarker + "9", "state.json" + TempMarker + "123"}; !slices.Equal(removed, want) {
		t.Fatalf("Clean removed %q, want %q", removed, want)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("Clean removed the real file: %v", err)
	}
}

func TestRenameAndSyncTree(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "a", "ep")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "f"), []byte("x"), 0o644)
	if err := SyncTree(src); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "b"), 0o755)
	dst := filepath.Join(root, "b", "ep")
	if err := Rename(src, dst); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "sub", "f")); err != nil || string(b) != "x" {
		t.Fatalf("after Rename: %q, %v", b, err)
	}
	if err := Rename(src, dst); err == nil {
		t.Fatal("Rename of a missing path succeeded")
	}
	if removed, err := Clean(filepath.Join(root, "missing")); err != nil || removed != nil {
		t.Fatalf("Clean(missing) = %v, %v", removed, err)
	}
}
