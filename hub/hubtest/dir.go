package hubtest

import (
	"os"
	"testing"
)

// Names returns the names in dir, sorted, failing the test if dir cannot
// be read.
func Names(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
