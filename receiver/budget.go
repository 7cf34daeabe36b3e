package receiver

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// Defaults of the per-host submission budget: far above what an honest
// publisher submits (the bench ships 1000 small episodes from one host at
// once, well inside the burst), far below what a flood costs the hub.
const (
	DefaultHostRate  = 20   // submissions per second, over time
	DefaultHostBurst = 2000 // submissions at once
)

// budgetQuiet is how long a host must go without a dropped submission
// before its next drop starts a new burst (a new record); it is also the
// least time between two warnings about one host.
const budgetQuiet = time.Minute

// budget is the per-host submission budget: one token bucket per host,
// taken from before any work is done on a first delivery.
type budget struct {
	rate  rate.Limit
	burst int
	now   func() time.Time

	mu    sync.Mutex
	hosts map[string]*hostBudget
}

// hostBudget is one host's bucket and what was said about its drops.
type hostBudget struct {
	lim      *rate.Limiter
	lastDrop time.Time // the last submission dropped
	lastWarn time.Time // the last warning logged
	dropped  int       // dropped since lastWarn
}

// newBudget returns a budget of perSecond submissions with bursts of
// burst for each host; nil, which allows everything, for perSecond < 0.
func newBudget(perSecond float64, burst int) *budget {
	if perSecond < 0 {
		return nil
	}
	return &budget{rate: rate.Limit(perSecond), burst: burst, now: time.Now, hosts: map[string]*hostBudget{}}
}

// drop is what take decided about a submission over budget: whether it
// starts a burst (record it), whether a warning is due, and how many were
// dropped since the last warning, this one included.
type drop struct {
	burst, warn bool
	dropped     int
}

// take takes one submission of host from its bucket. It reports true
// when the submission is within budget; else what to say of the drop.
func (b *budget) take(host string) (bool, drop) {
	if b == nil {
		return true, drop{}
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.hosts[host]
	if h == nil {
		h = &hostBudget{lim: rate.NewLimiter(b.rate, b.burst)}
		b.hosts[host] = h
	}
	if h.lim.AllowN(now, 1) {
		return true, drop{}
	}
	d := drop{burst: now.Sub(h.lastDrop) >= budgetQuiet}
	h.lastDrop = now
	h.dropped++
	if d.burst || now.Sub(h.lastWarn) >= budgetQuiet {
		d.warn, d.dropped = true, h.dropped
		h.lastWarn, h.dropped = now, 0
	}
	return false, d
}

// overBudget ends a first delivery of host's that is over its budget: no
// verdict, no reading, only an ack. An honest publisher that gets no
// verdict submits again once its verdict timeout has passed. The first
// drop of a burst is recorded on the quarantine stream (reason
// subjects.RateLimited) and logged; later ones are counted, and logged at
// most once a minute with the count.
func (r *Receiver) overBudget(ctx context.Context, msg jetstream.Msg, host string, d drop, log *slog.Logger) error {
	r.o.Metrics.rateLimited(host)
	if d.warn {
		log.Warn("submissions over the host's budget dropped unjudged", "host", host, "dropped", d.dropped,
			"since", budgetQuiet, "host_rate", float64(r.budget.rate), "host_burst", r.budget.burst)
	}
	if d.burst {
		if err := r.recordOverBudget(ctx, msg, host); err != nil {
			log.Warn("record a host over its budget", "host", host, "error", err)
		}
	}
	return r.ack(ctx, msg)
}

// recordOverBudget publishes the one record of a burst of dropped
// submissions on NackSubject(host, RateLimited).
func (r *Receiver) recordOverBudget(ctx context.Context, msg jetstream.Msg, host string) error {
	now := time.Now().UTC()
	v := objectstore.Verdict{
		Host:      host,
		EpisodeID: msg.Headers().Get(subjects.HeaderEpisode),
		Reason:    subjects.RateLimited,
		Detail: fmt.Sprintf("host %s submits faster than its budget of %g a second (bursts of %d): "+
			"its submissions are dropped unjudged, and a publisher submits each again when it has had no verdict "+
			"for its ship.verdict_timeout; this record is the first of the burst",
			host, float64(r.budget.rate), r.budget.burst),
		Submission: msg.Headers().Get(subjects.HeaderMsgID),
		Receiver:   r.o.ID,
		Time:       now,
	}
	id := host + ".rate-limited." + r.o.ID + "." + strconv.FormatInt(now.UnixNano(), 10)
	return r.publishRecord(ctx, subjects.NackSubject(host, subjects.RateLimited), id, host, &objectstore.Manifest{}, &v)
}
