package receiver_test

import (
	"strings"
	"testing"

	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
	"github.com/cis490/cis490/window"
)

// TestOutOfWindow: a stamped episode whose commit is not in a non-empty
// window is rejected; once the operator widens the window, the same
// episode submitted again is accepted.
func TestOutOfWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w, err := window.Open(t.Context(), e.js)
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Repeat("b", 40)
	if _, err := w.Add(t.Context(), "release 7", other); err != nil {
		t.Fatal(err)
	}
	e.run(receiver.Options{Window: w})
	dir := episode(t, "ep-old-code", commit, map[string]string{"x": "1"})
	m, id := e.ship(dir, 1)
	checkReject(t, e, m, id, subjects.OutOfWindow, commit, false)

	if _, err := w.Add(t.Context(), "widened", commit); err != nil {
		t.Fatal(err)
	}
	m2, id2 := e.ship(dir, 2) // the publisher re-uploads on requeue
	if v := e.verdict(m2.EpisodeID, id2); v.Reason != subjects.Accepted {
		t.Fatalf("after widening: %q %q, want accepted", v.Reason, v.Detail)
	}
}
