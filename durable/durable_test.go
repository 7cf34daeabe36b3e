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

// TestWriteTemp: the temp is made in the directory given, whole, and a
// Rename puts it in place elsewhere.
func TestWriteTemp(t *testing.T) {
	root := t.TempDir()
	scratch, final := filepath.Join(root, "outbox"), filepath.Join(root, "shipped", "ep")
	os.MkdirAll(scratch, 0o755)
	os.MkdirAll(final, 0o755)
	tmp, err := WriteTemp(scratch, "ep.verdict.json", []byte("{}"), 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if dir, name := filepath.Split(tmp); filepath.Clean(dir) != scratch || !IsTemp(name, "ep.verdict.json") {
		t.Fatalf("WriteTemp made %s, want a temp of ep.verdict.json in %s", tmp, scratch)
	}
	if fi, err := os.Stat(tmp); err != nil || fi.Mode().Perm() != 0o640 || fi.Size() != 2 {
		t.Fatalf("temp = %v, %v; want 2 bytes, mode 0640", fi, err)
	}
	if err := Rename(tmp, filepath.Join(final, "verdict.json")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{scratch, final} {
		if removed, _ := Clean(d); len(removed) != 0 {
			t.Errorf("%s holds temps %q after the rename", d, removed)
		}
	}
	if _, err := WriteTemp(filepath.Join(root, "missing"), "x", nil, 0o644); err == nil {
		t.Error("WriteTemp into a missing directory succeeded")
	}
}

func TestIsTemp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, base string
		want       bool
	}{
		{"verdict.json.tmp-2818641613", "verdict.json", true},
		{"verdict.json.tmp-0", "verdict.json", true},
		{"verdict.json", "verdict.json", false},
		{"verdict.json.tmp-", "verdict.json", false},
		{"verdict.json.tmp-notes", "verdict.json", false},
		{"verdict.json.tmp-12.bak", "verdict.json", false},
		{"old.verdict.json.tmp-12", "verdict.json", false},
		{"quarantine_reason.json.tmp-12", "verdict.json", false},
	}
	for _, tt := range tests {
		if got := IsTemp(tt.name, tt.base); got != tt.want {
			t.Errorf("IsTemp(%q, %q) = %v, want %v", tt.name, tt.base, got, tt.want)
		}
	}
}
