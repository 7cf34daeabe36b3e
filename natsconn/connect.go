package natsconn

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Connection tuning for the hub link: a WireGuard tunnel that is slow and
// drops. The client never gives up reconnecting, spreads reconnects of many
// hosts with jitter, buffers publishes made while it is down, and notices a
// dead link within about a minute instead of the default four.
const (
	reconnectWait    = 2 * time.Second
	reconnectJitter  = time.Second
	reconnectBufSize = 8 << 20 // bytes published while reconnecting
	dialTimeout      = 5 * time.Second
	pingInterval     = 20 * time.Second
	maxPingsOut      = 3
)

// Connect resolves o (see Options.Resolve) and connects to the server with
// its credentials, TLS settings and connection name, the context's user,
// password, nkey, token, inbox prefix and tls_first, and reconnect settings
// for a slow, dropping link. Without the context's inbox prefix, a client
// certificate naming a cis490 user (CertUser) selects InboxPrefix(user), the
// only replies the hub lets that user read. The reconnect settings suit a
// slow, dropping link: it reconnects forever, every 2s plus up to 1s of
// jitter, buffering up to 8 MiB of publishes meanwhile. extra options are
// applied last and override any of these.
//
// Authentication is the first of: the explicit o.Creds; the context's user
// and password, creds, nkey, user_jwt and user_seed, token.
//
// ctx bounds the initial connection attempt only; cancelling it later does
// not touch the connection. Configuration errors (unreadable creds, nkey,
// certificate or CA files) wrap ErrConfig; failure to reach or log in to the
// server does not, and names the URL ("connect nats://hub:4222: ...").
func Connect(ctx context.Context, o Options, extra ...nats.Option) (*nats.Conn, error) {
	r, c, err := o.Resolve()
	if err != nil {
		return nil, err
	}
	opts := nats.GetDefaultOptions()
	for s := range strings.SplitSeq(r.URL, ",") {
		if s = strings.TrimSpace(s); s != "" {
			opts.Servers = append(opts.Servers, s)
		}
	}
	defaults := []nats.Option{
		nats.Name(r.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJitter, reconnectJitter),
		nats.ReconnectBufSize(reconnectBufSize),
		nats.Timeout(dialTimeout),
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
	}
	inbox := c.InboxPrefix
	if inbox == "" && r.TLSCert != "" {
		if user := CertUser(r.TLSCert); user != "" {
			inbox = InboxPrefix(user)
		}
	}
	if inbox != "" {
		defaults = append(defaults, nats.CustomInboxPrefix(inbox))
	}
	if c.TLSFirst {
		defaults = append(defaults, nats.TLSHandshakeFirst())
	}
	for _, opt := range defaults {
		if err := opt(&opts); err != nil {
			return nil, fmt.Errorf("set connection option: %w", err)
		}
	}
	auth, err := authOption(o, r, c)
	if err != nil {
		return nil, err
	}
	if auth != nil {
		if err := auth(&opts); err != nil {
			return nil, configErrorf("set credentials: %w", err)
		}
	}
	if r.TLSCert != "" {
		if err := nats.ClientCert(r.TLSCert, r.TLSKey)(&opts); err != nil {
			return nil, configErrorf("load tls_cert %s and tls_key %s: %w", r.TLSCert, r.TLSKey, err)
		}
	}
	if r.TLSCA != "" {
		if err := nats.RootCAs(r.TLSCA)(&opts); err != nil {
			return nil, configErrorf("load tls_ca %s: %w", r.TLSCA, err)
		}
	}
	for _, opt := range extra {
		if opt == nil {
			continue
		}
		if err := opt(&opts); err != nil {
			return nil, fmt.Errorf("set connection option: %w", err)
		}
	}
	return dial(ctx, opts, redactURLs(r.URL))
}

// authOption picks the one authentication method Connect uses.
func authOption(explicit, r Options, c Context) (nats.Option, error) {
	switch {
	case explicit.Creds != "":
		return credsOption(r.Creds)
	case c.User != "":
		return nats.UserInfo(c.User, c.Password), nil
	case r.Creds != "":
		return credsOption(r.Creds)
	case c.NKey != "":
		opt, err := nats.NkeyOptionFromSeed(c.NKey)
		if err != nil {
			return nil, configErrorf("read nkey file %s: %w", c.NKey, err)
		}
		return opt, nil
	case c.UserJWT != "":
		return nats.UserJWTAndSeed(c.UserJWT, c.UserSeed), nil
	case c.Token != "":
		return nats.Token(c.Token), nil
	}
	return nil, nil
}

// credsOption checks that file is a readable creds file holding a JWT and a
// user seed, so a bad file is a configuration error now rather than an
// authentication failure on every reconnect.
func credsOption(file string) (nats.Option, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, configErrorf("read creds file %s: %w", file, err)
	}
	defer clear(data)
	jwt, err := nkeys.ParseDecoratedJWT(data)
	if err != nil || jwt == "" || strings.Contains(jwt, "\n") {
		return nil, configErrorf("read creds file %s: no user JWT", file)
	}
	kp, err := nkeys.ParseDecoratedUserNKey(data)
	if err != nil {
		return nil, configErrorf("read creds file %s: %w", file, err)
	}
	kp.Wipe()
	return nats.UserCredentials(file), nil
}

// dial connects with opts, giving up when ctx is done. The dialer uses ctx
// until the first connection is made and the background context afterwards,
// so reconnects are not tied to the caller's context.
func dial(ctx context.Context, opts nats.Options, urls string) (*nats.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connect %s: %w", urls, err)
	}
	d := &ctxDialer{Dialer: net.Dialer{Timeout: opts.Timeout}, ctx: ctx}
	if opts.CustomDialer == nil && opts.Dialer == nil {
		opts.CustomDialer = d
	}
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := opts.Connect()
		done <- result{nc, err}
	}()
	select {
	case res := <-done:
		d.release()
		if res.err != nil {
			return nil, fmt.Errorf("connect %s: %w", urls, res.err)
		}
		return res.nc, nil
	case <-ctx.Done():
		go func() {
			if res := <-done; res.nc != nil {
				res.nc.Close()
			}
		}()
		return nil, fmt.Errorf("connect %s: %w", urls, ctx.Err())
	}
}

// ctxDialer dials with ctx until release is called, then without it.
type ctxDialer struct {
	net.Dialer
	mu  sync.Mutex
	ctx context.Context
}

// Dial implements nats.CustomDialer.
func (d *ctxDialer) Dial(network, address string) (net.Conn, error) {
	d.mu.Lock()
	ctx := d.ctx
	d.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	return d.DialContext(ctx, network, address)
}

func (d *ctxDialer) release() {
	d.mu.Lock()
	d.ctx = nil
	d.mu.Unlock()
}

// LogEvents returns an option that logs connection events to logger:
// disconnects and lame-duck notices at warn, reconnects at info, failed
// reconnect attempts at debug (a dropping link makes many), and
// asynchronous errors such as slow consumers at error.
func LogEvents(logger *slog.Logger) nats.Option {
	return func(o *nats.Options) error {
		o.DisconnectedErrCB = func(nc *nats.Conn, err error) {
			if err == nil || nc.IsClosed() {
				return
			}
			logger.Warn("nats disconnected", "error", err)
		}
		o.ReconnectedCB = func(nc *nats.Conn) {
			logger.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}
		o.ReconnectErrCB = func(_ *nats.Conn, err error) {
			logger.Debug("nats reconnect attempt failed", "error", err)
		}
		o.LameDuckModeHandler = func(nc *nats.Conn) {
			logger.Warn("nats server entering lame duck mode", "server", nc.ConnectedUrlRedacted())
		}
		o.AsyncErrorCB = func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				logger.Error("nats async error", "subject", sub.Subject, "error", err)
				return
			}
			logger.Error("nats async error", "error", err)
		}
		return nil
	}
}
