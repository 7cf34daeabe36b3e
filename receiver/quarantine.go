package receiver

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/subjects"
)

// QuarantineLimits are the retention limits of the quarantine stream, from
// the [quarantine] section of receiver.toml. Zero leaves a limit as it is.
type QuarantineLimits struct {
	MaxAge   time.Duration
	MaxBytes int64
	MaxMsgs  int64
}

// ApplyQuarantineLimits updates the quarantine stream's limits where they
// differ, keeping discard-old, and reports whether it changed anything. A
// receiver whose user may not update streams gets the server's error: the
// admin then applies the limits with `cis490 hub provision`.
func ApplyQuarantineLimits(ctx context.Context, js jetstream.JetStream, l QuarantineLimits) (bool, error) {
	s, err := js.Stream(ctx, subjects.QuarantineStream)
	if err != nil {
		return false, fmt.Errorf("%w: stream %s: %w", ErrNotProvisioned, subjects.QuarantineStream, err)
	}
	cfg := s.CachedInfo().Config
	want := cfg
	if l.MaxAge > 0 {
		want.MaxAge = l.MaxAge
	}
	if l.MaxBytes != 0 {
		want.MaxBytes = l.MaxBytes
	}
	if l.MaxMsgs != 0 {
		want.MaxMsgs = l.MaxMsgs
	}
	want.Discard = jetstream.DiscardOld
	if want.Duplicates > want.MaxAge && want.MaxAge > 0 {
		want.Duplicates = want.MaxAge
	}
	if want.MaxAge == cfg.MaxAge && want.MaxBytes == cfg.MaxBytes && want.MaxMsgs == cfg.MaxMsgs &&
		want.Discard == cfg.Discard && want.Duplicates == cfg.Duplicates {
		return false, nil
	}
	if _, err := js.UpdateStream(ctx, want); err != nil {
		return false, fmt.Errorf("update %s limits: %w", subjects.QuarantineStream, err)
	}
	return true, nil
}

// ApplyAckWait sets the shared consumer's ack wait, from receiver.toml's
// [receive] ack_wait, and reports whether it changed. Every receiver on the
// consumer shares it: the last one started with another value wins.
func ApplyAckWait(ctx context.Context, js jetstream.JetStream, d time.Duration) (bool, error) {
	if d <= 0 {
		return false, nil
	}
	c, err := js.Consumer(ctx, subjects.SubmissionsStream, subjects.ReceiverConsumer)
	if err != nil {
		return false, fmt.Errorf("%w: consumer %s: %w", ErrNotProvisioned, subjects.ReceiverConsumer, err)
	}
	cfg := c.CachedInfo().Config
	if cfg.AckWait == d {
		return false, nil
	}
	cfg.AckWait = d
	if _, err := js.UpdateConsumer(ctx, subjects.SubmissionsStream, cfg); err != nil {
		return false, fmt.Errorf("update %s ack wait: %w", subjects.ReceiverConsumer, err)
	}
	return true, nil
}
