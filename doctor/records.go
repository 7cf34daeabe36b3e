package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// MaxRecords caps the records one scan reads; past it a row says "at least".
const MaxRecords = 100_000

// errTooMany ends a scan that reached MaxRecords.
var errTooMany = errors.New("more records than doctor reads")

// scan calls each with every message of stream on filter stored since
// since, oldest first. It stops when the consumer has nothing pending.
// headersOnly leaves the bodies on the server. A scan that reached
// MaxRecords returns errTooMany.
//
// With name empty it reads through an ordered consumer (the admin's way).
// A lab host may create no consumer on a shared stream but the one its
// permissions name (subjects.NackReaderConsumer): with name set, scan
// deletes a consumer of that name left by an earlier run, creates it, and
// deletes it when done, so the host holds at most that one.
func (c *Conn) scan(ctx context.Context, stream, filter, name string, since time.Time, headersOnly bool, each func(jetstream.Msg)) error {
	rctx, cancel := c.request(ctx)
	var cons jetstream.Consumer
	var err error
	if name == "" {
		cons, err = c.JS.OrderedConsumer(rctx, stream, jetstream.OrderedConsumerConfig{
			FilterSubjects:    []string{filter},
			DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
			OptStartTime:      &since,
			HeadersOnly:       headersOnly,
			InactiveThreshold: 30 * time.Second,
			MaxResetAttempts:  2,
		})
	} else {
		if derr := c.JS.DeleteConsumer(rctx, stream, name); derr != nil && !errors.Is(derr, jetstream.ErrConsumerNotFound) {
			err = derr
		} else {
			cons, err = c.JS.CreateConsumer(rctx, stream, jetstream.ConsumerConfig{
				Name:              name,
				Description:       "cis490 doctor: this host's reject records",
				FilterSubject:     filter,
				DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
				OptStartTime:      &since,
				AckPolicy:         jetstream.AckNonePolicy,
				HeadersOnly:       headersOnly,
				InactiveThreshold: 30 * time.Second,
				MemoryStorage:     true,
			})
		}
		if err == nil {
			defer func() {
				dctx, cancel := c.request(context.WithoutCancel(ctx))
				defer cancel()
				_ = c.JS.DeleteConsumer(dctx, stream, name) // else gone after its InactiveThreshold
			}()
		}
	}
	cancel()
	if err != nil {
		return err
	}
	if info := cons.CachedInfo(); info == nil || info.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(256))
	if err != nil {
		return err
	}
	defer it.Stop()
	for range MaxRecords {
		nctx, cancel := c.request(ctx)
		msg, err := it.Next(jetstream.NextContext(nctx))
		cancel()
		if err != nil {
			return err
		}
		each(msg)
		if md, err := msg.Metadata(); err != nil || md.NumPending == 0 {
			return nil
		}
	}
	return errTooMany
}

// rejects sums up reject records by reason.
type rejects struct {
	Records  int
	Count    map[string]int             // reason → records
	Episodes map[string]map[string]bool // reason → episode ids
	Last     map[string]time.Time       // reason → time of its last record
	Example  map[string]objectstore.Verdict
	Commits  map[string]bool // out-of-window commits
}

func newRejects() *rejects {
	return &rejects{Count: map[string]int{}, Episodes: map[string]map[string]bool{}, Last: map[string]time.Time{},
		Example: map[string]objectstore.Verdict{}, Commits: map[string]bool{}}
}

// add counts one record of the quarantine stream.
func (r *rejects) add(msg jetstream.Msg) {
	r.Records++
	rec, err := objectstore.ParseRecord(msg.Data())
	reason := string(rec.Verdict.Reason)
	if _, rr, perr := subjects.ParseNackSubject(msg.Subject()); perr == nil {
		reason = string(rr)
	} else if err != nil || reason == "" {
		reason = unknownReason
	}
	episode := rec.Verdict.EpisodeID
	if episode == "" {
		episode = msg.Headers().Get(subjects.HeaderEpisode)
	}
	if r.Episodes[reason] == nil {
		r.Episodes[reason] = map[string]bool{}
	}
	r.Episodes[reason][episode] = true
	r.Count[reason]++
	var t time.Time
	if md, err := msg.Metadata(); err == nil {
		t = md.Timestamp
	}
	if t.After(r.Last[reason]) || r.Last[reason].IsZero() {
		r.Last[reason] = t
		r.Example[reason] = rec.Verdict
	}
	if reason == string(subjects.OutOfWindow) && subjects.ValidCommit(rec.Verdict.CodeVersion.Commit) {
		r.Commits[rec.Verdict.CodeVersion.Commit] = true
	}
}

// order is the reasons present, best ranked first.
func (r *rejects) order() []string { return byRank(r.Episodes) }

// phrase is "12 episodes rejected as out-of-window, 2 as unstamped".
func (r *rejects) phrase() string {
	s := ""
	for i, reason := range r.order() {
		n := len(r.Episodes[reason])
		switch i {
		case 0:
			s = fmt.Sprintf("%s rejected as %s", plural(n, "episode"), reason)
		default:
			s += fmt.Sprintf(", %d as %s", n, reason)
		}
	}
	return s
}

// status is red for any out-of-window or unstamped, yellow for other
// rejections, green for none.
func (r *rejects) status() Status {
	s := Green
	for reason := range r.Episodes {
		if severe(reason) {
			return Red
		}
		s = Yellow
	}
	return s
}

// commits lists the out-of-window commits, sorted.
func (r *rejects) commits() []string {
	out := make([]string, 0, len(r.Commits))
	for c := range r.Commits {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// details are the per-reason numbers.
func (r *rejects) details() map[string]any {
	out := map[string]any{}
	for _, reason := range r.order() {
		e := map[string]any{
			"episodes": len(r.Episodes[reason]),
			"records":  r.Count[reason],
			"last":     r.Last[reason].UTC().Format(time.RFC3339),
			"example":  map[string]any{"episode": r.Example[reason].EpisodeID, "detail": r.Example[reason].Detail},
		}
		out[reason] = e
	}
	return out
}
