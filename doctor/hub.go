package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/natsconn"
)

// Deadlines of the checks that talk to the hub. A request the server's
// permissions deny gets no answer, so each request has a short deadline of
// its own rather than one for the whole run.
const (
	// ConnectTimeout bounds the connection to the hub.
	ConnectTimeout = 5 * time.Second
	// RequestTimeout bounds each request to the hub after the connection.
	RequestTimeout = 3 * time.Second
)

// Conn is a connection to the hub made by Hub. It remembers the
// permission violations the server reported on it, so that a check whose
// request went unanswered can say which subject was denied.
type Conn struct {
	// NC is the connection; JS its JetStream context.
	NC *nats.Conn
	JS jetstream.JetStream
	// Timeout bounds each request (RequestTimeout unless changed).
	Timeout time.Duration

	perms *permLog
}

// Close closes the connection. It is safe on a nil *Conn.
func (c *Conn) Close() {
	if c != nil && c.NC != nil {
		c.NC.Close()
	}
}

// request returns a context for one request to the hub.
func (c *Conn) request(ctx context.Context) (context.Context, context.CancelFunc) {
	t := c.Timeout
	if t <= 0 {
		t = RequestTimeout
	}
	return context.WithTimeout(ctx, t)
}

// permLog records the permission violations the server reports.
type permLog struct {
	mu   sync.Mutex
	msgs []string
}

// handler is the connection's asynchronous error handler.
func (p *permLog) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, err.Error())
}

// about returns the first violation whose text holds one of names.
func (p *permLog) about(names ...string) (string, bool) {
	if p == nil {
		return "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.msgs {
		for _, n := range names {
			if n != "" && strings.Contains(m, n) {
				return m, true
			}
		}
	}
	return "", false
}

// failure describes a request to the hub that failed: "permission denied:
// <the server's words>" when the server reported a violation on a subject
// naming one of names, "permission denied or timeout" for a request that
// went unanswered, else the error. denied reports either of the first two.
func (c *Conn) failure(err error, names ...string) (what string, denied bool) {
	if msg, ok := c.perms.about(names...); ok {
		// "nats: permissions violation: Permissions Violation for Publish to "X"" → "Publish to "X""
		if _, rest, ok := strings.Cut(msg, "Permissions Violation for "); ok {
			msg = rest
		}
		return "permission denied: " + msg, true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		return fmt.Sprintf("permission denied or timeout (no answer within %s)", c.timeoutOr()), true
	}
	if errors.Is(err, nats.ErrPermissionViolation) {
		return "permission denied: " + err.Error(), true
	}
	return err.Error(), false
}

func (c *Conn) timeoutOr() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return RequestTimeout
}

// HubFix names the commands the hub row gives when the connection fails.
type HubFix struct {
	// Recheck tests the link again once fixed, such as
	// "cis490 publish --ping --config /etc/cis490/lab-host.toml".
	Recheck string
	// Config checks the connection settings, such as
	// "cis490 config check --config /etc/cis490/lab-host.toml".
	Config string
}

// isAuthErr reports whether err is the server refusing the credentials.
func isAuthErr(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired)
}

// Hub is the "hub" row: it connects with o within ConnectTimeout, measures
// a round trip and asks for the JetStream account info. It returns the
// connection, or nil when there is none; the caller closes it.
//
// Unreachable, refused credentials, unusable connection settings and a
// server without JetStream are red. A JetStream account info request that
// is denied or unanswered is yellow: the publisher needs only its own
// bucket, verdicts and subjects, which the rows after this one check.
func Hub(ctx context.Context, o natsconn.Options, fix HubFix) (*Conn, Row) {
	resolved, _, rerr := o.Resolve()
	target := redactURLs(resolved.URL)
	if rerr != nil {
		r := row("hub", Red, "connection settings: "+rerr.Error())
		r.Fix = fix.Config
		return nil, r
	}
	perms := &permLog{}
	cctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	t0 := time.Now()
	nc, err := natsconn.Connect(cctx, o, nats.ErrorHandler(perms.handler))
	if err != nil {
		inner := err
		if u := errors.Unwrap(err); u != nil && !errors.Is(err, natsconn.ErrConfig) {
			inner = u // natsconn says "connect URL: ..."; the summary names the URL itself
		}
		var r Row
		switch {
		case errors.Is(err, natsconn.ErrConfig):
			r = row("hub", Red, "connection settings: "+err.Error())
			r.Fix = fix.Config
		case isAuthErr(err):
			r = row("hub", Red, fmt.Sprintf("hub at %s refused the credentials: %v", target, inner))
			r.Fix = "check the credentials ([nats] url user and password, creds, or tls_cert and tls_key) with the hub admin, then " + fix.Recheck
		case errors.Is(err, context.DeadlineExceeded):
			r = row("hub", Red, fmt.Sprintf("hub unreachable at %s: no connection within %s", target, ConnectTimeout))
			r.Fix = "check the WireGuard link (wg show) and that the hub runs, then " + fix.Recheck
		default:
			r = row("hub", Red, fmt.Sprintf("hub unreachable at %s: %v", target, inner))
			r.Fix = "check the WireGuard link (wg show) and that the hub runs, then " + fix.Recheck
		}
		r.Details["url"] = target
		r.Details["error"] = err.Error()
		return nil, r
	}
	connected := time.Since(t0)
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		r := row("hub", Red, "open JetStream: "+err.Error())
		r.Fix = fix.Recheck
		return nil, r
	}
	c := &Conn{NC: nc, JS: js, Timeout: RequestTimeout, perms: perms}
	url := nc.ConnectedUrlRedacted()
	d := map[string]any{
		"url":            url,
		"server_name":    nc.ConnectedServerName(),
		"server_version": nc.ConnectedServerVersion(),
		"connect_ms":     ms(connected),
	}

	rctx, cancel := c.request(ctx)
	t1 := time.Now()
	err = nc.FlushWithContext(rctx)
	rtt := time.Since(t1)
	cancel()
	if err != nil {
		r := row("hub", Red, fmt.Sprintf("connected to %s but no round trip within %s: %v", url, c.timeoutOr(), err))
		r.Fix = "check the WireGuard link (wg show), then " + fix.Recheck
		r.Details = d
		return c, r
	}
	d["rtt_ms"] = ms(rtt)
	link := fmt.Sprintf("connected to %s in %s, round trip %s", url, connected.Round(time.Millisecond), rtt.Round(time.Microsecond))

	rctx, cancel = c.request(ctx)
	info, err := js.AccountInfo(rctx)
	cancel()
	switch {
	case err == nil:
		d["jetstream"] = map[string]any{
			"streams": info.Streams, "consumers": info.Consumers,
			"storage_bytes": info.Store, "memory_bytes": info.Memory,
		}
		r := row("hub", Green, link+", JetStream available")
		r.Details = d
		return c, r
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		r := row("hub", Red, link+", but JetStream is not enabled for this account")
		r.Fix = "ask the hub admin to enable JetStream for this host's account (cis490 hub always enables it)"
		r.Details = d
		return c, r
	}
	what, _ := c.failure(err, "$JS.API.INFO")
	d["jetstream_error"] = what
	r := row("hub", Yellow, link+"; JetStream account info: "+what)
	r.Fix = "ask the hub admin to allow $JS.API.INFO for this host, then " + fix.Recheck
	r.Details = d
	return c, r
}
