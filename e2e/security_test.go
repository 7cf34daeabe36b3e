package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/doctor"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/natsconn"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/receiver"
	"github.com/cis490/cis490/subjects"
)

// secDeployConf is the hub's security config as shipped. Tests copy it
// byte for byte next to a site.conf of their own (paths, port) and the
// users.conf that `cis490 hub provision` writes, and load it.
const secDeployConf = "../deploy/hub/nats-server.conf"

// secDeniedWithin is how fast a denied call must fail.
const secDeniedWithin = 3 * time.Second

// secPKI is a CA with a server certificate and client certificates, as
// docs/security.md makes them with openssl.
type secPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	CAFile string
}

// secNewPKI makes a CA in dir and a server certificate for 127.0.0.1.
func secNewPKI(t testing.TB, dir string) *secPKI {
	t.Helper()
	key := secKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"cis490"}, CommonName: "cis490 test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &secPKI{dir: dir, ca: ca, caKey: key, CAFile: filepath.Join(dir, "ca.pem")}
	secWritePEM(t, p.CAFile, "CERTIFICATE", der)
	p.issue(t, "server", &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"cis490"}, CommonName: "hub"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return p
}

func secKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func secWritePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue signs tmpl with the CA and writes name.pem and name-key.pem.
func (p *secPKI) issue(t testing.TB, name string, tmpl *x509.Certificate) (cert, key string) {
	t.Helper()
	k := secKey(t)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &k.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+"-key.pem")
	secWritePEM(t, cert, "CERTIFICATE", der)
	secWritePEM(t, key, "PRIVATE KEY", kder)
	return cert, key
}

// client makes the client certificate of user: subject O=cis490, CN=user.
func (p *secPKI) client(t testing.TB, user string) natsconn.Options {
	t.Helper()
	cert, key := p.issue(t, user, &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"cis490"}, CommonName: user},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return natsconn.Options{TLSCert: cert, TLSKey: key, TLSCA: p.CAFile}
}

// secHub is a hub loading deploy/hub/nats-server.conf with TLS.
type secHub struct {
	url   string
	dir   string
	pki   *secPKI
	users map[string]natsconn.Options // lab1, lab2, receiver, admin
}

// secStartHub writes site.conf and users.conf (by `cis490 hub provision
// --no-apply`) next to a copy of the deploy config, starts the server
// (the stock nats-server, or `cis490 hub --config`), and provisions it with
// the admin's certificate. Both servers are stopped in t.Cleanup.
func secStartHub(t *testing.T, server string) *secHub {
	t.Helper()
	dir := t.TempDir()
	h := &secHub{dir: dir, pki: secNewPKI(t, dir), users: map[string]natsconn.Options{}}
	for _, u := range []string{"lab1", "lab2", "receiver", "admin"} {
		h.users[u] = h.pki.client(t, u)
	}
	conf, err := os.ReadFile(secDeployConf)
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "nats-server.conf")
	if err := os.WriteFile(confPath, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	site := fmt.Sprintf("CIS490_LISTEN: \"127.0.0.1:%d\"\nCIS490_TLS_CERT: %q\nCIS490_TLS_KEY: %q\nCIS490_TLS_CA: %q\nCIS490_STORE_DIR: %q\nCIS490_MAX_FILE_STORE: 64GB\n",
		port, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"), h.pki.CAFile, filepath.Join(dir, "store"))
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "hub", "provision", "--host", "lab1", "--host", "lab2", "--no-apply",
		"--out", filepath.Join(dir, "users.conf")).CombinedOutput(); err != nil {
		t.Fatalf("cis490 hub provision --no-apply: %v\n%s", err, out)
	}
	h.url = "tls://127.0.0.1:" + strconv.Itoa(port)

	var cmd *exec.Cmd
	switch server {
	case "nats-server":
		cmd = exec.Command(natsServerBin, "-c", confPath)
	case "cis490 hub":
		cmd = exec.Command(bin, "hub", "--config", confPath)
	default:
		t.Fatalf("unknown server %q", server)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	hubtest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		nc, err := natsconn.Connect(t.Context(), h.opts("admin"))
		if err != nil {
			return err
		}
		nc.Close()
		return nil
	})
	for range 2 { // idempotent
		h.provision(t, "lab1", "lab2")
	}
	return h
}

// opts returns user's connection options.
func (h *secHub) opts(user string) natsconn.Options {
	o := h.users[user]
	o.URL = h.url
	o.Name = "security test " + user
	return o
}

// provision runs `cis490 hub provision` as the admin.
func (h *secHub) provision(t testing.TB, hosts ...string) string {
	t.Helper()
	args := []string{"hub", "provision", "--server", h.url, "--tls-cert", h.users["admin"].TLSCert,
		"--tls-key", h.users["admin"].TLSKey, "--tls-ca", h.pki.CAFile}
	for _, host := range hosts {
		args = append(args, "--host", host)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("cis490 hub provision: %v\n%s", err, out)
	}
	return string(out)
}

// connect connects as user and watches the connection's denials.
func (h *secHub) connect(t testing.TB, user string) (*nats.Conn, jetstream.JetStream, *natsconn.Denials) {
	t.Helper()
	nc, err := natsconn.Connect(t.Context(), h.opts(user))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js, natsconn.WatchDenials(nc)
}

// secDenied runs f under d's guard and fails unless it returns, within
// secDeniedWithin, an error wrapping natsconn.ErrDenied that names subject.
func secDenied(t *testing.T, d *natsconn.Denials, what, subject string, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	gctx, stop := d.Guard(ctx)
	defer stop()
	start := time.Now()
	err := natsconn.Err(gctx, f(gctx))
	took := time.Since(start)
	switch {
	case err == nil:
		t.Errorf("%s: allowed, want denied", what)
	case !errors.Is(err, natsconn.ErrDenied):
		t.Errorf("%s: %v (after %v), want an error wrapping natsconn.ErrDenied", what, err, took.Round(time.Millisecond))
	case !strings.Contains(err.Error(), subject):
		t.Errorf("%s: %v, want it to name %q", what, err, subject)
	case took > secDeniedWithin:
		t.Errorf("%s: denied after %v, want within %v", what, took.Round(time.Millisecond), secDeniedWithin)
	}
}

// secWaitDenied subscribes and waits for the server to refuse it.
func secWaitDenied(nc *nats.Conn, subject string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		sub, err := nc.SubscribeSync(subject)
		if err != nil {
			return err
		}
		defer sub.Unsubscribe()
		if err := nc.FlushWithContext(ctx); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	}
}

// TestSecurity loads deploy/hub/nats-server.conf with TLS into the stock
// nats-server and into `cis490 hub --config`, provisions it with `cis490 hub
// provision`, and checks what each user may and may not do: a client
// without a certificate, or with one from another CA, is refused; lab1
// cannot touch lab2's bucket, verdicts, nacks or submit subject, write a
// verdict or a record, or delete or purge any stream, and each denial fails
// the call within seconds naming the subject; the receiver cannot create,
// change or delete streams or its consumer; and the real pipeline, `cis490
// publish --once` as lab1 and `cis490 receive` as the receiver, ships one
// episode and gets another rejected by the hub under these permissions.
func TestSecurity(t *testing.T) {
	t.Parallel()
	for _, server := range []string{"nats-server", "cis490 hub"} {
		t.Run(strings.ReplaceAll(server, " ", "-"), func(t *testing.T) {
			t.Parallel()
			h := secStartHub(t, server)
			t.Run("refused", func(t *testing.T) { secRefused(t, h) })
			t.Run("lab1-denied", func(t *testing.T) { secLab1Denied(t, h) })
			t.Run("receiver-denied", func(t *testing.T) { secReceiverDenied(t, h) })
			t.Run("pipeline", func(t *testing.T) { secPipeline(t, h) })
		})
	}
}

// secRefused: no certificate, or a certificate of another CA, no connection.
func secRefused(t *testing.T, h *secHub) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	nc, err := natsconn.Connect(ctx, natsconn.Options{URL: h.url, TLSCA: h.pki.CAFile})
	if err == nil {
		nc.Close()
		t.Errorf("connect without a client certificate: allowed, want refused")
	}
	other := secNewPKI(t, t.TempDir())
	rogue := other.client(t, "admin") // right subject, wrong CA
	rogue.URL, rogue.TLSCA = h.url, h.pki.CAFile
	nc, err = natsconn.Connect(ctx, rogue)
	if err == nil {
		nc.Close()
		t.Errorf("connect with a certificate of another CA: allowed, want refused")
	}
	// A certificate of the right CA for a user the hub does not know.
	stranger := h.pki.client(t, "lab3")
	stranger.URL = h.url
	nc, err = natsconn.Connect(ctx, stranger)
	if err == nil {
		nc.Close()
		t.Errorf("connect as unprovisioned lab3: allowed, want refused")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("connect as unprovisioned lab3: %v, want an authorization error", err)
	}
}

// secLab1Denied: everything lab1 must not do fails fast and names the subject.
func secLab1Denied(t *testing.T, h *secHub) {
	ctx := t.Context()
	// Something of lab2's to steal: a verdict, a nack record, a segment.
	_, ajs, _ := h.connect(t, "admin")
	verdicts, err := ajs.KeyValue(ctx, subjects.VerdictsBucket)
	if err != nil {
		t.Fatal(err)
	}
	lab2Key := subjects.VerdictKey("lab2", "ep-lab2")
	if _, err := verdicts.Put(ctx, lab2Key, []byte(`{"reason":"accepted"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := ajs.Publish(ctx, subjects.NackSubject("lab2", subjects.Corrupt), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	lab2Bucket, err := ajs.ObjectStore(ctx, subjects.EpisodeBucket("lab2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lab2Bucket.PutBytes(ctx, "ep-lab2/x", []byte("lab2 data")); err != nil {
		t.Fatal(err)
	}

	nc, js, d := h.connect(t, "lab1")
	if got := nc.Opts.InboxPrefix; got != "_INBOX_lab1" {
		t.Errorf("lab1's inbox prefix = %q, want _INBOX_lab1 (from its certificate)", got)
	}
	kv, err := js.KeyValue(ctx, subjects.VerdictsBucket) // opening is allowed: own keys live here
	if err != nil {
		t.Fatalf("lab1 opens %s: %v", subjects.VerdictsBucket, err)
	}
	lab2Obj := subjects.ObjectStream(subjects.EpisodeBucket("lab2"))
	cases := []struct {
		what, subject string
		f             func(ctx context.Context) error
	}{
		{"open lab2's bucket", "$JS.API.STREAM.INFO." + lab2Obj, func(ctx context.Context) error {
			_, err := js.ObjectStore(ctx, subjects.EpisodeBucket("lab2"))
			return err
		}},
		{"put a chunk into lab2's bucket", "$O.EPISODES_LAB2.C.x", func(ctx context.Context) error {
			_, err := js.Publish(ctx, "$O.EPISODES_LAB2.C.x", []byte("evil"))
			return err
		}},
		{"put metadata into lab2's bucket", "$O.EPISODES_LAB2.M.eA", func(ctx context.Context) error {
			_, err := js.Publish(ctx, "$O.EPISODES_LAB2.M.eA", []byte("{}"))
			return err
		}},
		{"read lab2's verdict", "$JS.API.DIRECT.GET.KV_CIS490_VERDICTS.$KV.CIS490_VERDICTS." + lab2Key, func(ctx context.Context) error {
			_, err := kv.Get(ctx, lab2Key)
			return err
		}},
		{"watch lab2's verdicts", "$KV.CIS490_VERDICTS.lab2.>", func(ctx context.Context) error {
			w, err := kv.Watch(ctx, subjects.VerdictHostFilter("lab2"))
			if err == nil {
				w.Stop()
			}
			return err
		}},
		{"read lab2's nack records", "cis490.nack.lab2.>", func(ctx context.Context) error {
			_, err := js.OrderedConsumer(ctx, subjects.QuarantineStream, jetstream.OrderedConsumerConfig{
				FilterSubjects: []string{subjects.NackHostFilter("lab2")}})
			return err
		}},
		{"read every nack record", "$JS.API.CONSUMER.CREATE." + subjects.QuarantineStream, func(ctx context.Context) error {
			_, err := js.OrderedConsumer(ctx, subjects.QuarantineStream, jetstream.OrderedConsumerConfig{})
			return err
		}},
		{"get a nack record by sequence", "$JS.API.STREAM.MSG.GET." + subjects.QuarantineStream, func(ctx context.Context) error {
			s, err := ajs.Stream(ctx, subjects.QuarantineStream) // the admin's handle, lab1's request
			if err != nil {
				return err
			}
			_, err = js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+s.CachedInfo().Config.Name, []byte(`{"seq":1}`))
			return err
		}},
		{"announce a segment as lab2", subjects.AnnounceSubject("lab2"), func(ctx context.Context) error {
			_, err := nc.RequestWithContext(ctx, subjects.AnnounceSubject("lab2"), []byte(`{}`))
			return err
		}},
		{"announce a segment to a receiver as lab2", subjects.AnnounceTo("lab2", "r"), func(ctx context.Context) error {
			if err := nc.Publish(subjects.AnnounceTo("lab2", "r"), []byte(`{}`)); err != nil {
				return err
			}
			<-ctx.Done() // a publish has no answer: the guard ends it with the denial
			return ctx.Err()
		}},
		{"subscribe to the announcements", subjects.AnnouncePrefix + ".>", secWaitDenied(nc, subjects.AnnouncePrefix+".>")},
		{"subscribe to the nack records", "cis490.nack.>", secWaitDenied(nc, "cis490.nack.>")},
		{"subscribe to lab2's replies", "_INBOX_lab2.>", secWaitDenied(nc, "_INBOX_lab2.>")},
		{"subscribe to every reply", "_INBOX.>", secWaitDenied(nc, "_INBOX.>")},
		{"publish a verdict", "$KV.CIS490_VERDICTS.lab1.ep", func(ctx context.Context) error {
			_, err := kv.Put(ctx, subjects.VerdictKey("lab1", "ep"), []byte(`{"reason":"accepted"}`))
			return err
		}},
		{"publish a nack record", subjects.NackSubject("lab1", subjects.Corrupt), func(ctx context.Context) error {
			_, err := js.Publish(ctx, subjects.NackSubject("lab1", subjects.Corrupt), []byte(`{}`))
			return err
		}},
		{"announce an accepted episode", subjects.AcceptedSubject("lab1"), func(ctx context.Context) error {
			_, err := js.Publish(ctx, subjects.AcceptedSubject("lab1"), []byte(`{}`))
			return err
		}},
		{"add a commit to the window", "$KV.CIS490_WINDOW." + strings.Repeat("a", 40), func(ctx context.Context) error {
			_, err := js.Publish(ctx, "$KV.CIS490_WINDOW."+strings.Repeat("a", 40), []byte(`{}`))
			return err
		}},
		{"submit on lab2's subject", subjects.SubmitSubject("lab2"), func(ctx context.Context) error {
			_, err := js.Publish(ctx, subjects.SubmitSubject("lab2"), []byte(`{}`))
			return err
		}},
		{"pull from the receiver's consumer", "$JS.API.CONSUMER.MSG.NEXT.CIS490_SUBMISSIONS.receiver", func(ctx context.Context) error {
			_, err := nc.RequestWithContext(ctx, "$JS.API.CONSUMER.MSG.NEXT.CIS490_SUBMISSIONS.receiver", []byte(`{"batch":1,"expires":1000000000}`))
			return err
		}},
		{"purge its own bucket", "$JS.API.STREAM.PURGE.OBJ_EPISODES_LAB1", func(ctx context.Context) error {
			return secAPI(ctx, js, "STREAM.PURGE."+subjects.ObjectStream(subjects.EpisodeBucket("lab1")))
		}},
		{"delete a segment of its own bucket", "$JS.API.STREAM.PURGE.OBJ_EPISODES_LAB1", func(ctx context.Context) error {
			obs, err := js.ObjectStore(ctx, subjects.EpisodeBucket("lab1"))
			if err != nil {
				return err
			}
			if _, err := obs.PutBytes(ctx, "ep/x", []byte("mine")); err != nil {
				return fmt.Errorf("put into its own bucket: %w (want allowed)", err)
			}
			return obs.Delete(ctx, "ep/x")
		}},
		{"purge the quarantine", "$JS.API.STREAM.PURGE." + subjects.QuarantineStream, func(ctx context.Context) error {
			return secAPI(ctx, js, "STREAM.PURGE."+subjects.QuarantineStream)
		}},
		{"delete the submissions stream", "$JS.API.STREAM.DELETE." + subjects.SubmissionsStream, func(ctx context.Context) error {
			return js.DeleteStream(ctx, subjects.SubmissionsStream)
		}},
		{"delete the verdicts", "$JS.API.STREAM.DELETE.KV_" + subjects.VerdictsBucket, func(ctx context.Context) error {
			return js.DeleteKeyValue(ctx, subjects.VerdictsBucket)
		}},
		{"create a stream", "$JS.API.STREAM.CREATE.EVIL", func(ctx context.Context) error {
			_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVIL", Subjects: []string{"evil.>"}})
			return err
		}},
		{"create its own bucket", "$JS.API.STREAM.CREATE.OBJ_EPISODES_LAB1", func(ctx context.Context) error {
			_, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: subjects.EpisodeBucket("lab1")})
			return err
		}},
		{"list the streams", "$JS.API.STREAM.NAMES", func(ctx context.Context) error {
			l := js.StreamNames(ctx)
			for range l.Name() {
			}
			return l.Err()
		}},
	}
	for _, c := range cases {
		secDenied(t, d, c.what, c.subject, c.f)
	}

	// Nothing of lab2's moved.
	st, err := ajs.Stream(ctx, lab2Obj)
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 2 { // one chunk, one metadata
		t.Errorf("%s holds %d messages after lab1's attempts, want 2", lab2Obj, n)
	}
	if e, err := verdicts.Get(ctx, subjects.VerdictKey("lab1", "ep")); err == nil {
		t.Errorf("verdict lab1.ep exists (%q) after lab1's denied put", e.Value())
	}
}

// secReceiverDenied: the receiver changes no stream and no consumer.
func secReceiverDenied(t *testing.T, h *secHub) {
	_, js, d := h.connect(t, "receiver")
	cases := []struct {
		what, subject string
		f             func(ctx context.Context) error
	}{
		{"delete the submissions stream", "$JS.API.STREAM.DELETE." + subjects.SubmissionsStream, func(ctx context.Context) error {
			return js.DeleteStream(ctx, subjects.SubmissionsStream)
		}},
		{"purge the submissions stream", "$JS.API.STREAM.PURGE." + subjects.SubmissionsStream, func(ctx context.Context) error {
			return secAPI(ctx, js, "STREAM.PURGE."+subjects.SubmissionsStream)
		}},
		{"update the quarantine stream", "$JS.API.STREAM.UPDATE." + subjects.QuarantineStream, func(ctx context.Context) error {
			_, err := js.UpdateStream(ctx, jetstream.StreamConfig{Name: subjects.QuarantineStream, Subjects: []string{subjects.NackAll}})
			return err
		}},
		{"create a host bucket", "$JS.API.STREAM.CREATE.OBJ_EPISODES_LAB9", func(ctx context.Context) error {
			_, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: subjects.EpisodeBucket("lab9")})
			return err
		}},
		{"change its consumer", "$JS.API.CONSUMER.CREATE.CIS490_SUBMISSIONS.receiver", func(ctx context.Context) error {
			_, err := js.UpdateConsumer(ctx, subjects.SubmissionsStream, jetstream.ConsumerConfig{
				Durable: subjects.ReceiverConsumer, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: subjects.SubmitAll})
			return err
		}},
		{"delete its consumer", "$JS.API.CONSUMER.DELETE.CIS490_SUBMISSIONS.receiver", func(ctx context.Context) error {
			return js.DeleteConsumer(ctx, subjects.SubmissionsStream, subjects.ReceiverConsumer)
		}},
		{"add a commit to the window", "$KV.CIS490_WINDOW." + strings.Repeat("b", 40), func(ctx context.Context) error {
			_, err := js.Publish(ctx, "$KV.CIS490_WINDOW."+strings.Repeat("b", 40), []byte(`{}`))
			return err
		}},
		{"submit as lab1", subjects.SubmitSubject("lab1"), func(ctx context.Context) error {
			_, err := js.Publish(ctx, subjects.SubmitSubject("lab1"), []byte(`{}`))
			return err
		}},
		{"announce a segment as lab1", subjects.AnnounceSubject("lab1"), func(ctx context.Context) error {
			_, err := js.Conn().RequestWithContext(ctx, subjects.AnnounceSubject("lab1"), []byte(`{}`))
			return err
		}},
	}
	for _, c := range cases {
		secDenied(t, d, c.what, c.subject, c.f)
	}
}

// secPipeline runs `cis490 receive` as the receiver and `cis490 publish
// --once` as lab1: one episode is accepted, then a second recording under
// the same id is rejected by the hub as a conflict; lab1 reads its own
// nack record with the doctor's check.
func secPipeline(t *testing.T, h *secHub) {
	dir := t.TempDir()
	rconf := filepath.Join(dir, "receiver.toml")
	secWriteTOML(t, rconf, h.opts("receiver"), "[receive]\narchive_dir = "+strconv.Quote(filepath.Join(dir, "archive"))+"\n")
	rcv := exec.Command(bin, "receive", "--config", rconf, "--log-format", "json")
	var rlog hubtest.Buffer
	rcv.Stdout, rcv.Stderr = &rlog, &rlog
	if err := rcv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rcv.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { rcv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			rcv.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("receiver log:\n%s", rlog.String())
		}
	})

	data := filepath.Join(dir, "lab1")
	lconf := filepath.Join(dir, "lab-host.toml")
	secWriteTOML(t, lconf, h.opts("lab1"), "host_id = \"lab1\"\ndata_dir = "+strconv.Quote(data)+
		"\n[ship]\nsettle = \"1s\"\nsegment_size = \"64KiB\"\nverdict_timeout = \"1m\"\n")
	const id = "2026-11-20T14-03-11_lab1_0042"
	commit := strings.Repeat("c", 40)
	publish := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, "publish", "--config", lconf, "--once", "--log-format", "json").CombinedOutput()
		if err != nil {
			t.Fatalf("cis490 publish --once as lab1: %v\n%s", err, out)
		}
		return string(out)
	}

	if out, err := exec.Command(bin, "publish", "--config", lconf, "--ping").CombinedOutput(); err != nil {
		t.Errorf("cis490 publish --ping as lab1: %v\n%s", err, out)
	}
	// The receiver answers lab1's announcements once it is up (a probe of
	// index 1 is declined): the episode below, of 4 segments, is then read
	// by the receiver during its upload.
	lab1, _, _ := h.connect(t, "lab1")
	probe, _ := json.Marshal(objectstore.Announcement{EpisodeID: "probe", Index: 1})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := lab1.Request(subjects.AnnounceSubject("lab1"), probe, time.Second); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the receiver does not answer lab1's announcements: %v\n%s", err, rlog.String())
		}
	}
	// Nor does it answer on a subject lab1 chose instead of its inbox: its
	// right to respond must not let lab1 write the window or a record.
	evilCommit := strings.Repeat("e", 40)
	first, _ := json.Marshal(objectstore.Announcement{EpisodeID: "evil", Index: 0,
		Segment: objectstore.Segment{Size: 1, SHA256: strings.Repeat("ab", 32)}})
	// Nor on the default inbox prefix, which other users (the admin here)
	// may use under per-user permissions.
	anc, _, _ := h.connect(t, "admin")
	defaultInbox, err := anc.SubscribeSync("_INBOX.evil.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := anc.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, reply := range []string{"$KV.CIS490_WINDOW." + evilCommit, subjects.AcceptedSubject("lab2"), "_INBOX.evil.1"} {
		if err := lab1.PublishRequest(subjects.AnnounceSubject("lab1"), reply, first); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lab1.Request(subjects.AnnounceSubject("lab1"), probe, 5*time.Second); err != nil {
		t.Fatalf("probe after the forged reply subjects: %v", err) // answered in order: the forged ones were handled
	}
	_, ajs, _ := h.connect(t, "admin")
	win, err := ajs.KeyValue(t.Context(), subjects.WindowBucket)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := ajs.Stream(t.Context(), subjects.AcceptedStream)
	if err != nil {
		t.Fatal(err)
	}
	// A stream stores what it is sent a moment later: watch for a second.
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if e, err := win.Get(t.Context(), evilCommit); err == nil {
			t.Fatalf("lab1 wrote commit %s into the window through the receiver's answer: %q", evilCommit, e.Value())
		}
		if m, err := acc.GetLastMsgForSubject(t.Context(), subjects.AcceptedSubject("lab2")); err == nil {
			t.Fatalf("lab1 wrote an accepted record of lab2 through the receiver's answer: %s", m.Data)
		}
	}
	if m, err := defaultInbox.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("the receiver answered lab1 on %s, outside lab1's inbox: %s", m.Subject, m.Data)
	}

	labEpisode(t, data, id, commit, 200<<10)
	out := publish()
	if !exists(filepath.Join(data, "shipped", id, "meta.json")) {
		t.Fatalf("episode %s not shipped under lab1's permissions:\n%s", id, out)
	}
	if n := strings.Count(out, "permissions violation") + strings.Count(rlog.String(), "permissions violation"); n > 0 {
		t.Errorf("%d permission violations while shipping:\npublisher:\n%s\nreceiver:\n%s", n, out, rlog.String())
	}
	if !strings.Contains(rlog.String(), "archive read during its upload") {
		t.Errorf("the receiver did not read the episode during its upload:\n%s", rlog.String())
	}

	// Same id, other bytes: the hub rejects it as a conflict.
	labEpisode(t, data, id, commit, 300<<10)
	out = publish()
	reasonFile := filepath.Join(data, "quarantine", id, "quarantine_reason.json")
	raw, err := os.ReadFile(reasonFile)
	if err != nil {
		t.Fatalf("second recording of %s not quarantined: %v\n%s", id, err, out)
	}
	var reason struct {
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(raw, &reason); err != nil || reason.Reason != string(subjects.Conflict) {
		t.Errorf("%s = %s, want reason %s", reasonFile, raw, subjects.Conflict)
	}
	if n := strings.Count(rlog.String(), "permissions violation"); n > 0 {
		t.Errorf("%d permission violations in the receiver's log:\n%s", n, rlog.String())
	}

	// A lab host set up with another host's id is denied at start: the
	// daemon stops within seconds, and its log names the denied subject.
	wrong := filepath.Join(dir, "wrong-host.toml")
	secWriteTOML(t, wrong, h.opts("lab1"), "host_id = \"lab2\"\ndata_dir = "+strconv.Quote(filepath.Join(dir, "wrong"))+"\n")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	t0 := time.Now()
	wout, err := exec.CommandContext(ctx, bin, "publish", "--config", wrong, "--once", "--log-format", "json").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || time.Since(t0) > 15*time.Second {
		t.Errorf("cis490 publish --once with lab1's certificate as lab2 = %v after %v, want exit 1 within 15s\n%s", err, time.Since(t0).Round(time.Millisecond), wout)
	}
	if want := `Permissions Violation for Publish to \"$JS.API.STREAM.INFO.OBJ_EPISODES_LAB2\"`; !strings.Contains(string(wout), want) {
		t.Errorf("cis490 publish as the wrong host logged:\n%s\nwant it to name the denied subject: %s", wout, want)
	}

	// lab1 reads its own nack records, as cis490 doctor does.
	_, js, _ := h.connect(t, "lab1")
	row := doctor.Nacks(t.Context(), &doctor.Conn{JS: js}, "lab1", time.Hour, time.Now(), "")
	if !strings.Contains(row.Summary, string(subjects.Conflict)) {
		t.Errorf("doctor nacks as lab1 = %q (%v), want the conflict record", row.Summary, row.Details)
	}
	// An upload lab1 abandoned is swept by the receiver under its own
	// permissions (delete markers and chunk purges on lab1's bucket); the
	// accepted episode's segments stay.
	lobs, err := js.ObjectStore(t.Context(), subjects.EpisodeBucket("lab1"))
	if err != nil {
		t.Fatal(err)
	}
	orphan := subjects.SegmentObject("2026-11-20T15-00-00_lab1_0043", strings.Repeat("0", 64))
	if _, err := lobs.PutBytes(t.Context(), orphan, make([]byte, 100<<10)); err != nil {
		t.Fatalf("lab1 puts into its own bucket: %v", err)
	}
	_, rjs, _ := h.connect(t, "receiver")
	obs, err := rjs.ObjectStore(t.Context(), subjects.EpisodeBucket("lab1"))
	if err != nil {
		t.Fatal(err)
	}
	before := secBucketBytes(t, obs)
	r, err := receiver.New(t.Context(), rjs, receiver.Options{Logger: hubtest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.SweepOrphans(t.Context(), 0)
	if err != nil {
		t.Fatalf("orphan sweep as the receiver: %v", err)
	}
	if after := secBucketBytes(t, obs); res.Segments != 1 || after != before-100<<10 {
		t.Errorf("orphan sweep as the receiver deleted %d segments, bucket %d -> %d bytes; want the abandoned 100 KiB segment gone, the rest kept",
			res.Segments, before, after)
	}
	if _, err := obs.GetInfo(t.Context(), orphan); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Errorf("abandoned segment after the sweep: %v, want jetstream.ErrObjectNotFound", err)
	}
}

// secBucketBytes sums the sizes of the objects in obs.
func secBucketBytes(t testing.TB, obs jetstream.ObjectStore) uint64 {
	t.Helper()
	infos, err := obs.List(t.Context())
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		t.Fatal(err)
	}
	var n uint64
	for _, in := range infos {
		n += in.Size
	}
	return n
}

// secAPI sends a JetStream API request with an empty body, as user of js.
func secAPI(ctx context.Context, js jetstream.JetStream, api string) error {
	_, err := js.Conn().RequestWithContext(ctx, "$JS.API."+api, []byte("{}"))
	return err
}

// secWriteTOML writes a config file with a [nats] table for o and extra.
func secWriteTOML(t testing.TB, path string, o natsconn.Options, extra string) {
	t.Helper()
	s := fmt.Sprintf("%s\n[nats]\nurl = %q\ntls_cert = %q\ntls_key = %q\ntls_ca = %q\n", extra, o.URL, o.TLSCert, o.TLSKey, o.TLSCA)
	// Top-level keys must come before any table.
	if top, rest, ok := strings.Cut(extra, "\n["); ok && !strings.HasPrefix(extra, "[") {
		s = fmt.Sprintf("%s\n[nats]\nurl = %q\ntls_cert = %q\ntls_key = %q\ntls_ca = %q\n\n[%s", top, o.URL, o.TLSCert, o.TLSKey, o.TLSCA, rest)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
