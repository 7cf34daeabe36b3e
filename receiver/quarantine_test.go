package receiver_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

// TestQuarantineLimits applies receiver.toml's [quarantine] limits to the
// stream and rejects more episodes than it may hold: the oldest records go.
func TestQuarantineLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	changed, err := receiver.ApplyQuarantineLimits(t.Context(), e.js, receiver.QuarantineLimits{MaxMsgs: 5, MaxAge: 48 * time.Hour})
	if err != nil || !changed {
		t.Fatalf("ApplyQuarantineLimits = %v, %v; want a change", changed, err)
	}
	if changed, err := receiver.ApplyQuarantineLimits(t.Context(), e.js, receiver.QuarantineLimits{MaxMsgs: 5, MaxAge: 48 * time.Hour}); err != nil || changed {
		t.Fatalf("ApplyQuarantineLimits again = %v, %v; want no change", changed, err)
	}
	e.run(receiver.Options{})
	var last string
	for i := range 8 {
		m, id := e.ship(episode(t, fmt.Sprintf("ep-%d", i), "", nil), 1)
		e.verdict(m.EpisodeID, id)
		last = m.EpisodeID
	}
	s, err := e.js.Stream(t.Context(), subjects.QuarantineStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 5 || info.State.FirstSeq != 4 || info.Config.MaxAge != 48*time.Hour {
		t.Fatalf("quarantine holds %d records from seq %d (max age %v), want 5 from seq 4",
			info.State.Msgs, info.State.FirstSeq, info.Config.MaxAge)
	}
	newest, err := s.GetLastMsgForSubject(t.Context(), subjects.NackSubject(host, subjects.Unstamped))
	if err != nil || newest.Header.Get(subjects.HeaderEpisode) != last {
		t.Fatalf("newest record = %v, %v; want episode %s", newest, err, last)
	}
}

func TestApplyAckWait(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if changed, err := receiver.ApplyAckWait(t.Context(), e.js, 45*time.Second); err != nil || !changed {
		t.Fatalf("ApplyAckWait = %v, %v; want a change", changed, err)
	}
	c, err := e.js.Consumer(t.Context(), subjects.SubmissionsStream, subjects.ReceiverConsumer)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CachedInfo().Config.AckWait; got != 45*time.Second {
		t.Fatalf("ack wait = %v, want 45s", got)
	}
	if changed, err := receiver.ApplyAckWait(t.Context(), e.js, 45*time.Second); err != nil || changed {
		t.Fatalf("ApplyAckWait again = %v, %v; want no change", changed, err)
	}
}
