package demo_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cis490/cis490/demo"
)

// TestDemo runs the whole demo (with a smaller large episode) and checks
// that every episode ends as expected, as the report says.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	keep := t.TempDir()
	if err := demo.Run(t.Context(), demo.Options{Out: &out, Keep: keep, LargeSize: 8 << 20}); err != nil {
		t.Fatalf("demo.Run = %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"every one ended as expected",
		"quarantined: out-of-window  hub",
		"quarantined: out-of-window  pre-flight",
		"quarantined: malformed",
		"quarantined: unstamped",
		"cis490 hub --store " + keep + "/hub",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
