package workers

import (
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cis490/cis490/subjects"
)

// verdictWatch hears every verdict of the host as the receiver writes it,
// shared by the episodes waiting for theirs. It is a plain subscription to
// the verdict keys' subjects ($KV.CIS490_VERDICTS.<host>.>), not a
// consumer: a lab host may create no consumer on the shared verdict
// stream, whose consumer slots every host and the receiver share. What a
// subscription hears was published, not necessarily stored, and nothing
// published while the link was down is heard again: a waiter reads its key
// (a direct get) before it waits, after each write it hears that looks
// final, and now and then while it waits (awaitVerdict). The subscription
// stops verdictLinger after its last waiter leaves.
type verdictWatch struct {
	nc      *nats.Conn
	subject string // subjects.VerdictSubjects(host)
	prefix  string // subject of a key = prefix + key

	mu      sync.Mutex
	waiters map[string]map[*verdictWaiter]struct{}
	sub     *nats.Subscription // nil if none
	idle    *time.Timer        // stops the subscription once it has no waiter
}

// newVerdictWatch returns the watch of host's verdicts on nc.
func newVerdictWatch(nc *nats.Conn, host string) *verdictWatch {
	s := subjects.VerdictSubjects(host)
	return &verdictWatch{nc: nc, subject: s, prefix: strings.TrimSuffix(s, subjects.VerdictHostFilter(host))}
}

// verdictLinger is how long the subscription outlives its last waiter, so
// that episodes following each other do not each start one.
const verdictLinger = 30 * time.Second

// verdictWaiter hears the writes of one key: ch is signalled (capacity 1)
// and last holds the newest value heard.
type verdictWaiter struct {
	ch   chan struct{}
	mu   sync.Mutex
	last []byte
}

// take returns the newest value heard and forgets it.
func (wt *verdictWaiter) take() []byte {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	b := wt.last
	wt.last = nil
	return b
}

// subscribe registers a waiter for key and returns it once the server has
// the subscription (a write after subscribe returns is heard, on a single
// server), with the function that unregisters it.
func (vw *verdictWatch) subscribe(key string) (*verdictWaiter, func(), error) {
	vw.mu.Lock()
	defer vw.mu.Unlock()
	if vw.sub == nil {
		sub, err := vw.nc.Subscribe(vw.subject, vw.dispatch)
		if err != nil {
			return nil, nil, err
		}
		if err := vw.nc.Flush(); err != nil {
			sub.Unsubscribe()
			return nil, nil, err
		}
		vw.sub = sub
	}
	if vw.idle != nil {
		vw.idle.Stop()
		vw.idle = nil
	}
	wt := &verdictWaiter{ch: make(chan struct{}, 1)}
	if vw.waiters == nil {
		vw.waiters = map[string]map[*verdictWaiter]struct{}{}
	}
	if vw.waiters[key] == nil {
		vw.waiters[key] = map[*verdictWaiter]struct{}{}
	}
	vw.waiters[key][wt] = struct{}{}
	return wt, func() { vw.unsubscribe(key, wt) }, nil
}

func (vw *verdictWatch) unsubscribe(key string, wt *verdictWaiter) {
	vw.mu.Lock()
	defer vw.mu.Unlock()
	delete(vw.waiters[key], wt)
	if len(vw.waiters[key]) == 0 {
		delete(vw.waiters, key)
	}
	if len(vw.waiters) == 0 && vw.sub != nil && vw.idle == nil {
		sub := vw.sub
		vw.idle = time.AfterFunc(verdictLinger, func() {
			vw.mu.Lock()
			defer vw.mu.Unlock()
			if vw.sub == sub && len(vw.waiters) == 0 {
				vw.stopLocked()
			}
		})
	}
}

// dispatch hands a write of a verdict key to the waiters of that key.
// Delete and purge markers carry no verdict and are ignored.
func (vw *verdictWatch) dispatch(m *nats.Msg) {
	key, ok := strings.CutPrefix(m.Subject, vw.prefix)
	if !ok || len(m.Data) == 0 {
		return
	}
	vw.mu.Lock()
	defer vw.mu.Unlock()
	for wt := range vw.waiters[key] {
		wt.mu.Lock()
		wt.last = m.Data
		wt.mu.Unlock()
		select {
		case wt.ch <- struct{}{}:
		default: // signalled already; last holds the newest
		}
	}
}

// stop ends the subscription, if there is one.
func (vw *verdictWatch) stop() {
	vw.mu.Lock()
	defer vw.mu.Unlock()
	vw.stopLocked()
}

func (vw *verdictWatch) stopLocked() {
	if vw.sub == nil {
		return
	}
	vw.sub.Unsubscribe()
	vw.sub = nil
	if vw.idle != nil {
		vw.idle.Stop()
		vw.idle = nil
	}
}
