package doctor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/subjects"
)

// DefaultSince is how far back the reject records are read.
const DefaultSince = 10 * time.Minute

// Nacks is the "nacks" row: the reject records the receiver wrote about
// host on subjects.NackHostFilter(host) in subjects.QuarantineStream in the
// last since (DefaultSince if 0), read through the host's one consumer
// (subjects.NackReaderConsumer), grouped
// by reason: "12 episodes rejected as out-of-window, 3 as unstamped",
// out-of-window first, then unstamped, then the rest. Any out-of-window or
// unstamped record is red (every episode recorded by that code will be
// rejected too), any other yellow, none green. Records this host may not
// read are yellow: "cannot read nack records (permission denied ...)".
// flags are the cis490 flags the fix repeats (see LabHost.Flags).
func Nacks(ctx context.Context, c *Conn, host string, since time.Duration, now time.Time, flags string) Row {
	if since <= 0 {
		since = DefaultSince
	}
	filter := subjects.NackHostFilter(host)
	rej := newRejects()
	err := c.scan(ctx, subjects.QuarantineStream, filter, subjects.NackReaderConsumer(host), now.Add(-since), false, rej.add)
	window := "in the last " + age(since)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		r := row("nacks", Yellow, fmt.Sprintf("cannot read nack records: stream %s not found on the hub", subjects.QuarantineStream))
		r.Fix = "ask the hub admin to run cis490 doctor --hub (cis490 hub creates the stream at start)"
		return r
	case err != nil && !errors.Is(err, errTooMany):
		what, _ := c.failure(err, subjects.QuarantineStream)
		r := row("nacks", Yellow, "cannot read nack records ("+what+")")
		r.Fix = fmt.Sprintf("ask the hub admin to let this host read %s on %s through its consumer %s (cis490 hub provision writes users.conf so)", filter, subjects.QuarantineStream, subjects.NackReaderConsumer(host))
		r.Details["filter"] = filter
		r.Details["error"] = what
		return r
	}
	r := row("nacks", rej.status(), "no episodes rejected "+window)
	if rej.Records > 0 {
		r.Summary = rej.phrase() + " " + window
		if errors.Is(err, errTooMany) {
			r.Summary = "at least " + r.Summary
		}
		top := rej.order()[0]
		r.Fix = reasonFix(top, rej.commits(), rej.Example[top].EpisodeID, flags)
	}
	r.Details["filter"] = filter
	r.Details["since"] = now.Add(-since).UTC().Format(time.RFC3339)
	r.Details["records"] = rej.Records
	r.Details["by_reason"] = rej.details()
	if cs := rej.commits(); len(cs) > 0 {
		r.Details["out_of_window_commits"] = cs
	}
	return r
}
