package receiver

import (
	"testing"
	"time"
)

// TestBudgetBursts: a host flooding for three minutes gets one record (its
// burst's first drop) and a warning a minute with the count dropped since
// the last; after a quiet minute its next drop starts a new burst. Another
// host's bucket is its own.
func TestBudgetBursts(t *testing.T) {
	now := time.Unix(1e9, 0)
	b := newBudget(1, 2)
	b.now = func() time.Time { return now }
	var records, warnings []int
	flood := func(h string, d time.Duration, every time.Duration) {
		for end := now.Add(d); now.Before(end); now = now.Add(every) {
			if ok, dr := b.take(h); !ok {
				if dr.burst {
					records = append(records, dr.dropped)
				}
				if dr.warn {
					warnings = append(warnings, dr.dropped)
				}
			}
		}
	}
	flood("lab1", 3*time.Minute, 100*time.Millisecond) // 10 a second against 1
	if len(records) != 1 || len(warnings) != 3 || warnings[0] != 1 || warnings[1] < 500 {
		t.Fatalf("3 minutes of flood: records %v, warnings %v; want 1 record and 3 warnings, the first for 1 drop, then about 540 a minute", records, warnings)
	}
	if ok, _ := b.take("lab2"); !ok {
		t.Fatal("lab2 over budget while lab1 floods")
	}
	now = now.Add(2 * time.Second) // a short pause: the same burst
	flood("lab1", 10*time.Second, 100*time.Millisecond)
	if len(records) != 1 {
		t.Fatalf("records %v after a 2 s pause, want still 1", records)
	}
	now = now.Add(budgetQuiet) // a quiet minute: the next drop is a new burst
	flood("lab1", 10*time.Second, 100*time.Millisecond)
	if len(records) != 2 {
		t.Fatalf("records %v after a quiet minute, want 2", records)
	}
	if newBudget(-1, 0) != nil {
		t.Fatal("newBudget(-1) is a budget, want none")
	}
	var none *budget
	if ok, _ := none.take("lab1"); !ok {
		t.Fatal("no budget dropped a submission")
	}
}
