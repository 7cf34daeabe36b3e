package natsconn

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseContext feeds arbitrary bytes to the context file parser. It must
// never panic, and a context it accepts must survive a JSON round trip.
// Seeds: the sample files in testdata/context/ and testdata/fuzz/.
func FuzzParseContext(f *testing.F) {
	files, err := filepath.Glob("testdata/context/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files in testdata/context: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseContext(data)
		if err != nil {
			return
		}
		// Marshalling replaces invalid UTF-8, so compare from the first
		// re-encoding on.
		b1, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("json.Marshal(%+v): %v", c, err)
		}
		c1, err := parseContext(b1)
		if err != nil {
			t.Fatalf("parseContext(%s) after a round trip: %v", b1, err)
		}
		b2, err := json.Marshal(c1)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := parseContext(b2)
		if err != nil || c2 != c1 {
			t.Errorf("round trip of %s = %+v, %v; want %+v", b2, c2, err, c1)
		}
	})
}
