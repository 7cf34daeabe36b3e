package housekeep

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cis490/cis490/hub/hubtest"
)

// TestExpired lists what MaybeRun would remove, removes nothing, and agrees
// with MaybeRun run afterwards on the same clock.
func TestExpired(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name     string
		keepDays int
		want     []string
	}{
		{"keep 30 days", 30, []string{"q-31d", "v-40d"}},
		{"keep 35 days", 35, []string{"v-40d"}},
		{"disabled", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			makeEntry(t, dir, "q-29d", QuarantineMarker, now.Add(-29*day))
			makeEntry(t, dir, "q-31d", QuarantineMarker, now.Add(-31*day))
			makeEntry(t, dir, "v-40d", VerdictMarker, now.Add(-40*day))
			old := makeEntry(t, dir, "x.tmp-123", QuarantineMarker, now.Add(-90*day))
			setMtime(t, old, now.Add(-90*day))

			got, err := Expired(dir, tt.keepDays, now)
			if err != nil {
				t.Fatalf("Expired(%d days) error: %v", tt.keepDays, err)
			}
			var gotNames []string
			for _, e := range got {
				gotNames = append(gotNames, e.Name)
				if e.Age < time.Duration(tt.keepDays)*day {
					t.Errorf("Expired(%d days): %s has age %v, not older than keep", tt.keepDays, e.Name, e.Age)
				}
			}
			if !slices.Equal(gotNames, tt.want) {
				t.Errorf("Expired(%d days) = %q, want %q", tt.keepDays, gotNames, tt.want)
			}
			if n := len(hubtest.Names(t, dir)); n != 4 {
				t.Errorf("after Expired, %s holds %d entries, want 4: nothing removed", dir, n)
			}
			c, _, _, _ := newTestCleaner(t, dir, tt.keepDays, time.Hour, now)
			removed, _, err := c.MaybeRun()
			if err != nil || !slices.Equal(removed, tt.want) {
				t.Errorf("MaybeRun() after Expired = %q, %v; want %q", removed, err, tt.want)
			}
		})
	}
}

func TestExpiredMissingDir(t *testing.T) {
	t.Parallel()
	got, err := Expired(filepath.Join(t.TempDir(), "none"), 30, time.Now())
	if err != nil || got != nil {
		t.Errorf("Expired(missing dir) = %v, %v; want nil, nil", got, err)
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Expired(f, 30, time.Now()); err == nil {
		t.Errorf("Expired(a file) = nil error, want one")
	}
}
