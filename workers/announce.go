package workers

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cis490/cis490/natsconn"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// announceTimeout bounds the request of an episode's first announcement.
// It runs beside the upload, and on a slow link may queue behind a
// window of the upload's chunks both ways.
const announceTimeout = 30 * time.Second

// announceWait bounds how long a finished upload waits for the answer to
// its first announcement before it submits.
const announceWait = 5 * time.Second

// announcer tells the hub's receivers of each segment of one episode as
// soon as it is stored, so that one of them reads the archive while the
// rest uploads (receiver: early reads). The first announcement is a
// request to the receivers' queue group; the one that answers names the
// subject of the next ones. Announcements are best effort and never delay
// or fail the upload: without them the receiver reads the archive once it
// is submitted, as it always could.
type announcer struct {
	p       *Publisher
	episode string

	mu      sync.Mutex
	state   int // announceAsking, announceTo or announceOff
	to      string
	pending [][]byte      // announced while the first was being answered
	asked   chan struct{} // closed once the first is answered or timed out
}

const (
	announceAsking = iota
	announceTo
	announceOff
)

// announcer returns the announcer of an upload of episode id, of size
// bytes on disk: nil when it packs into one segment, or when announcing
// is off (Options.NoAnnounce).
func (p *Publisher) announcer(id string, size int64) *announcer {
	if p.o.NoAnnounce || size <= p.o.SegmentSize || p.announceOff.Load() {
		return nil
	}
	return &announcer{p: p, episode: id}
}

// segment announces the archive's segment number index, just stored or
// found stored.
func (a *announcer) segment(index int, seg objectstore.Segment) {
	if a == nil {
		return
	}
	b, err := json.Marshal(objectstore.Announcement{EpisodeID: a.episode, Index: index, Segment: seg})
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case index == 0:
		a.state, a.to, a.pending = announceAsking, "", nil
		a.asked = make(chan struct{})
		go a.ask(b, a.asked)
	case a.state == announceAsking:
		a.pending = append(a.pending, b)
	case a.state == announceTo:
		_ = a.p.js.Conn().Publish(a.to, b)
	}
}

// ask sends the first announcement and, once a receiver has answered,
// those that were waiting.
func (a *announcer) ask(first []byte, asked chan struct{}) {
	defer close(asked)
	host := a.p.o.Host
	// A denied request would wait for its timeout: the guard ends it
	// when the hub reports the violation.
	ctx, cancel := context.WithTimeout(context.Background(), announceTimeout)
	defer cancel()
	ctx, stop := a.p.denials.Guard(ctx)
	defer stop()
	msg, err := a.p.js.Conn().RequestWithContext(ctx, subjects.AnnounceSubject(host), first)
	err = natsconn.Err(ctx, err)
	var rep objectstore.AnnounceReply
	if err == nil {
		err = json.Unmarshal(msg.Data, &rep)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil || !strings.HasPrefix(rep.To, subjects.AnnounceSubject(host)+".") || strings.Count(rep.To, ".") != 3 {
		a.state, a.pending = announceOff, nil
		switch {
		case errors.Is(err, natsconn.ErrDenied) && strings.Contains(err.Error(), subjects.AnnouncePrefix):
			// A hub whose users.conf predates announcements: not again.
			if a.p.announceOff.CompareAndSwap(false, true) {
				a.p.log.Warn("segments not announced to the receivers: they are read once submitted; announcing is off until the publisher restarts (update the hub's users.conf: docs/deploy.md)",
					"subject", subjects.AnnounceSubject(host), "error", err)
			}
		case err != nil && !errors.Is(err, nats.ErrNoResponders):
			a.p.log.Debug("first announcement not answered; the episode is read once submitted", "episode", a.episode, "error", err)
		}
		return
	}
	a.state, a.to = announceTo, rep.To
	for _, b := range a.pending {
		_ = a.p.js.Conn().Publish(a.to, b)
	}
	a.pending = nil
}

// wait returns once the first announcement is answered (or timed out), so
// that the submission that follows finds its early read started on the
// receiver that answered.
func (a *announcer) wait() {
	if a == nil {
		return
	}
	a.mu.Lock()
	asked := a.asked
	a.mu.Unlock()
	if asked == nil {
		return
	}
	t := time.NewTimer(announceWait)
	defer t.Stop()
	select {
	case <-asked:
	case <-t.C:
	}
}
