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
		// the doctor's report for lab2: the hub's reject, its fix, the local quarantine
		"$ cis490 doctor -s nats://",
		"1 episode rejected as out-of-window in the last 10m",
		"then cis490 quarantine requeue --reason out-of-window --host-id lab2",
		"2 quarantined: 1 out-of-window, 1 unstamped",
		"status: red (1 red, 1 yellow",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
