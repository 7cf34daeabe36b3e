package natsconn

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// runLimitedServer starts a server with one user, "lab", who may publish
// only to "ok.>" and subscribe only to _INBOX_lab.>.
func runLimitedServer(t testing.TB) string {
	t.Helper()
	s := runServer(t, &server.Options{Users: []*server.User{{
		Username: "lab", Password: "pw",
		Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{"ok.>"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX_lab.>"}},
		},
	}}})
	return strings.Replace(s.ClientURL(), "nats://", "nats://lab:pw@", 1)
}

func TestGuardDenied(t *testing.T) {
	t.Parallel()
	url := runLimitedServer(t)
	var logged atomic.Int32
	nc, err := Connect(t.Context(), Options{URL: url}, nats.CustomInboxPrefix("_INBOX_lab"),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) { logged.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	d := WatchDenials(nc)

	tests := []struct {
		name, subject string
		call          func(ctx context.Context) error
	}{
		{"request", `Publish to "denied.x"`, func(ctx context.Context) error {
			_, err := nc.RequestWithContext(ctx, "denied.x", nil)
			return err
		}},
		{"subscribe", `Subscription to "other.>"`, func(ctx context.Context) error {
			if _, err := nc.SubscribeSync("other.>"); err != nil {
				return err
			}
			<-ctx.Done()
			return ctx.Err()
		}},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		gctx, stop := d.Guard(ctx)
		t0 := time.Now()
		err := Err(gctx, tt.call(gctx))
		took := time.Since(t0)
		stop()
		cancel()
		if !errors.Is(err, ErrDenied) || !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), tt.subject) {
			t.Errorf("%s: Err() = %v, want ErrDenied and nats.ErrPermissionViolation naming %s", tt.name, err, tt.subject)
		}
		if took > 5*time.Second {
			t.Errorf("%s: denied after %v, want at once", tt.name, took)
		}
	}
	if logged.Load() < 2 {
		t.Errorf("the error handler set before WatchDenials saw %d errors, want both violations", logged.Load())
	}

	// An allowed call under the guard is untouched.
	tctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ctx, stop := d.Guard(tctx)
	if err := nc.PublishMsg(&nats.Msg{Subject: "ok.1"}); err != nil {
		t.Fatal(err)
	}
	if err := Err(ctx, nc.FlushWithContext(ctx)); err != nil {
		t.Errorf("allowed publish under the guard: %v", err)
	}
	stop()
	if err := Err(context.Background(), nil); err != nil {
		t.Errorf("Err(nil) = %v, want nil", err)
	}
	plain := errors.New("plain")
	if err := Err(context.Background(), plain); err != plain {
		t.Errorf("Err(ctx, plain) = %v, want plain", err)
	}
}

func TestCertUser(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caKey := newKey(t)
	cert := func(name string, subj pkix.Name) string {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: subj,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return writeFile(t, dir, name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	tests := []struct {
		file, want string
	}{
		{cert("lab1.pem", pkix.Name{Organization: []string{"cis490"}, CommonName: "lab1"}), "lab1"},
		{cert("receiver.pem", pkix.Name{Organization: []string{"cis490"}, CommonName: "receiver"}), "receiver"},
		{cert("other-org.pem", pkix.Name{Organization: []string{"acme"}, CommonName: "lab1"}), ""},
		{cert("no-org.pem", pkix.Name{CommonName: "lab1"}), ""},
		{cert("extra-ou.pem", pkix.Name{Organization: []string{"cis490"}, OrganizationalUnit: []string{"x"}, CommonName: "lab1"}), ""},
		{cert("dotted.pem", pkix.Name{Organization: []string{"cis490"}, CommonName: "lab1.evil"}), ""},
		{cert("wild.pem", pkix.Name{Organization: []string{"cis490"}, CommonName: "*"}), ""},
		{writeFile(t, dir, "garbage.pem", []byte("not a certificate")), ""},
		{dir + "/missing.pem", ""},
	}
	for _, tt := range tests {
		if got := CertUser(tt.file); got != tt.want {
			t.Errorf("CertUser(%s) = %q, want %q", tt.file, got, tt.want)
		}
	}
}

// TestConnectInboxFromCert: a cis490 client certificate picks the inbox
// prefix the hub allows that user; the context's inbox_prefix wins.
func TestConnectInboxFromCert(t *testing.T) {
	t.Parallel()
	p := newPKI(t) // its client certificate is CN=lab1 without O=cis490
	s := runTLSServer(t, p)
	o := Options{URL: s.ClientURL(), TLSCert: p.ClientCert, TLSKey: p.ClientKey, TLSCA: p.CA}
	nc, err := Connect(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := nc.Opts.InboxPrefix; got != "" {
		t.Errorf("inbox prefix with a certificate outside O=cis490 = %q, want the default", got)
	}
	if !strings.HasPrefix(nc.NewInbox(), "_INBOX.") {
		t.Errorf("NewInbox() = %q, want _INBOX.", nc.NewInbox())
	}
}
