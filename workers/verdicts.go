package workers

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// verdictWatch is one watch on every verdict key of the host, shared by
// the episodes waiting for theirs. A watch per episode cost the hub a
// consumer created and deleted for each (a tenth of its CPU on small
// episodes) and the publisher a round trip. The watch sees only new
// updates: a waiter reads the key once after subscribing for a verdict
// written before (awaitVerdict). It stops verdictLinger after its last
// waiter leaves, and at once on stop.
type verdictWatch struct {
	kv     jetstream.KeyValue
	filter string // the host's verdict keys, <host>.>

	mu      sync.Mutex
	waiters map[string]map[*verdictWaiter]struct{}
	w       jetstream.KeyWatcher // the running watch, nil if none
	cancel  context.CancelFunc   // of the running watch
	idle    *time.Timer          // stops the watch once it has no waiter
}

// verdictLinger is how long the shared watch outlives its last waiter, so
// that episodes following each other do not each start one.
const verdictLinger = 30 * time.Second

// verdictWaiter receives the updates of one key. ch is closed if the
// watch ends under it.
type verdictWaiter struct {
	ch     chan jetstream.KeyValueEntry
	closed bool // ch is closed; under verdictWatch.mu
}

// subscribe registers a waiter for key and returns it once the watch runs,
// with the function that unregisters it.
func (vw *verdictWatch) subscribe(ctx context.Context, key string) (*verdictWaiter, func(), error) {
	vw.mu.Lock()
	defer vw.mu.Unlock()
	if vw.w == nil {
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		w, err := vw.kv.Watch(wctx, vw.filter, jetstream.UpdatesOnly())
		if err != nil {
			cancel()
			return nil, nil, err
		}
		vw.w, vw.cancel = w, cancel
		go vw.dispatch(w)
	}
	if vw.idle != nil {
		vw.idle.Stop()
		vw.idle = nil
	}
	wt := &verdictWaiter{ch: make(chan jetstream.KeyValueEntry, 16)}
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
	if len(vw.waiters) == 0 && vw.w != nil && vw.idle == nil {
		w := vw.w
		vw.idle = time.AfterFunc(verdictLinger, func() {
			vw.mu.Lock()
			defer vw.mu.Unlock()
			if vw.w == w && len(vw.waiters) == 0 {
				vw.stopLocked()
			}
		})
	}
}

// dispatch hands each update of w to the waiters of its key, until w ends;
// then it closes the channels of the waiters left, which fail and retry.
func (vw *verdictWatch) dispatch(w jetstream.KeyWatcher) {
	for e := range w.Updates() {
		if e == nil {
			continue
		}
		vw.mu.Lock()
		for wt := range vw.waiters[e.Key()] {
			select {
			case wt.ch <- e:
			default: // a waiter 16 updates behind misses one: it times out and submits again
			}
		}
		vw.mu.Unlock()
	}
	vw.mu.Lock()
	defer vw.mu.Unlock()
	if vw.w == w {
		vw.stopLocked()
	}
}

// stop ends the watch, if it runs; the waiters left see their channel
// closed.
func (vw *verdictWatch) stop() {
	vw.mu.Lock()
	defer vw.mu.Unlock()
	vw.stopLocked()
}

func (vw *verdictWatch) stopLocked() {
	if vw.w == nil {
		return
	}
	vw.w.Stop()
	vw.cancel()
	vw.w, vw.cancel = nil, nil
	if vw.idle != nil {
		vw.idle.Stop()
		vw.idle = nil
	}
	for _, ws := range vw.waiters {
		for wt := range ws {
			if !wt.closed {
				wt.closed = true
				close(wt.ch)
			}
		}
	}
}
