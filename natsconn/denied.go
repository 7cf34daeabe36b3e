package natsconn

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// ErrDenied is wrapped by the error of a call the server refused because
// the connection's user may not publish or subscribe to a subject. The
// message names the subject: "denied by the hub: Permissions Violation for
// Publish to \"$JS.API.STREAM.DELETE.CIS490_VERDICTS\"".
var ErrDenied = errors.New("denied by the hub")

// Denials turns the server's permission violations on one connection into
// errors of the calls in flight. nats-server answers a publish the user may
// not make with an asynchronous -ERR and drops the message, so the request
// behind it (every JetStream API call is one) would wait out its whole
// deadline and fail with a bare timeout. A call run under Guard fails as
// soon as the -ERR arrives, with an error wrapping ErrDenied.
//
// The -ERR does not say which request caused it, so a violation cancels
// every guarded call in flight on the connection. Guard the calls of one
// command or one start-up step, not a daemon's whole run.
type Denials struct {
	mu      sync.Mutex
	next    int
	waiters map[int]context.CancelCauseFunc
}

// WatchDenials starts watching nc's permission violations. It chains nc's
// error handler: the handler set before (LogEvents's, for example) still
// sees every error. Call it once per connection.
func WatchDenials(nc *nats.Conn) *Denials {
	d := &Denials{waiters: map[int]context.CancelCauseFunc{}}
	prev := nc.ErrorHandler()
	nc.SetErrorHandler(func(c *nats.Conn, sub *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			d.deny(err)
		}
		if prev != nil {
			prev(c, sub, err)
		}
	})
	return d
}

// deny cancels every guarded call with the violation.
func (d *Denials) deny(err error) {
	cause := &deniedError{violation: strings.TrimPrefix(err.Error(), nats.ErrPermissionViolation.Error()+": "), err: err}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, cancel := range d.waiters {
		cancel(cause)
	}
}

// Guard returns a context derived from ctx that is cancelled, with a cause
// wrapping ErrDenied, when the server reports a permission violation on the
// connection before stop is called. Turn the call's error into that cause
// with Err.
func (d *Denials) Guard(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	d.mu.Lock()
	id := d.next
	d.next++
	d.waiters[id] = cancel
	d.mu.Unlock()
	return ctx, func() {
		d.mu.Lock()
		delete(d.waiters, id)
		d.mu.Unlock()
		cancel(nil)
	}
}

// Err returns the permission violation that cancelled ctx, if that is why
// the call failed, and err otherwise.
func Err(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrDenied) {
		return cause
	}
	return err
}

// deniedError is a permission violation as the server worded it.
type deniedError struct {
	violation string
	err       error
}

func (e *deniedError) Error() string { return ErrDenied.Error() + ": " + e.violation }

func (e *deniedError) Is(target error) bool { return target == ErrDenied }

func (e *deniedError) Unwrap() error { return e.err }
