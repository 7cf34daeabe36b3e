package hub_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/natsconn"
	"github.com/cis490/cis490/subjects"
)

// TestDeployUsersConfUpToDate keeps the example deploy/hub/users.conf equal
// to what cis490 hub provision --host lab1 --host lab2 writes.
func TestDeployUsersConfUpToDate(t *testing.T) {
	t.Parallel()
	want, err := hub.UsersConf([]string{"lab1", "lab2"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../deploy/hub/users.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("deploy/hub/users.conf is stale: run go run ./cmd/cis490 hub provision --host lab1,lab2 --no-apply > deploy/hub/users.conf")
	}
}

// TestDeployConfLoads parses deploy/hub/nats-server.conf as shipped, with
// its includes, as nats-server does, and checks what it sets.
func TestDeployConfLoads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"nats-server.conf", "site.conf", "users.conf"} {
		data, err := os.ReadFile(filepath.Join("../deploy/hub", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The certificates are not there: the parse stops at loading them.
	conf := filepath.Join(dir, "nats-server.conf")
	if _, err := server.ProcessConfigFile(conf); err == nil || !strings.Contains(err.Error(), "/etc/cis490/tls/server.pem") {
		t.Errorf("ProcessConfigFile(deploy conf without certificates) = %v, want an error naming /etc/cis490/tls/server.pem", err)
	}
	// With them, site.conf's paths pointed at a self-signed certificate.
	cert, key := selfSigned(t, dir)
	site, _ := os.ReadFile(filepath.Join(dir, "site.conf"))
	siteText := strings.NewReplacer("/etc/cis490/tls/server.pem", cert, "/etc/cis490/tls/server-key.pem", key, "/etc/cis490/tls/ca.pem", cert).
		Replace(string(site))
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(siteText), 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("ProcessConfigFile(deploy conf) = %v", err)
	}
	if o.TLSConfig == nil || o.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert || !o.TLSMap {
		t.Errorf("tls: verify_and_map %v, client auth %v, want a verified client certificate mapped to a user", o.TLSMap, o.TLSConfig)
	}
	if o.StoreDir != "/var/lib/cis490/hub" || o.JetStreamMaxMemory != 256<<20 || o.JetStreamMaxStore != 200<<30 {
		t.Errorf("jetstream store_dir %q max_memory_store %d max_file_store %d, want /var/lib/cis490/hub, 256MB, 200GB",
			o.StoreDir, o.JetStreamMaxMemory, o.JetStreamMaxStore)
	}
	// The WireGuard address of docs/deploy.md, never every interface.
	if o.Host != "10.90.0.1" || o.Port != 4222 {
		t.Errorf("listen %s:%d, want 10.90.0.1:4222 (the hub's WireGuard address)", o.Host, o.Port)
	}
	var names []string
	for _, u := range o.Users {
		names = append(names, u.Username)
	}
	want := []string{"CN=admin,O=cis490", "CN=receiver,O=cis490", "CN=lab1,O=cis490", "CN=lab2,O=cis490"}
	if !slices.Equal(names, want) {
		t.Errorf("users = %q, want %q", names, want)
	}
}

func TestUsersConfHosts(t *testing.T) {
	t.Parallel()
	conf, err := hub.UsersConf([]string{"lab2", "lab1", "lab2"})
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := hub.HostsOfUsersConf(conf)
	if err != nil || !slices.Equal(hosts, []string{"lab1", "lab2"}) {
		t.Errorf("HostsOfUsersConf(UsersConf(lab2, lab1, lab2)) = %q, %v, want [lab1 lab2]", hosts, err)
	}
	if _, err := hub.HostsOfUsersConf([]byte("authorization {}\n")); err == nil || !strings.Contains(err.Error(), "not written by cis490 hub provision") {
		t.Errorf("HostsOfUsersConf(hand-written) = %v, want an error saying provision did not write it", err)
	}
	for _, bad := range []string{"Lab1", "lab.1", "receiver", "admin", "", "-x"} {
		if _, err := hub.UsersConf([]string{"lab1", bad}); !errors.Is(err, subjects.ErrBadHost) || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("UsersConf(lab1, %q) = %v, want an error wrapping subjects.ErrBadHost naming it", bad, err)
		}
	}
}

// TestHostPermissionsOwnOnly checks that no subject lab1 may publish or
// subscribe to names lab2, the receiver's consumer or a stream change.
func TestHostPermissionsOwnOnly(t *testing.T) {
	t.Parallel()
	u, err := hub.HostPermissions("lab1")
	if err != nil {
		t.Fatal(err)
	}
	if u.CertSubject != "CN=lab1,O=cis490" || u.InboxPrefix != "_INBOX_lab1" {
		t.Errorf("HostPermissions(lab1) = subject %q inbox %q, want CN=lab1,O=cis490 and _INBOX_lab1", u.CertSubject, u.InboxPrefix)
	}
	for _, s := range append(slices.Clone(u.Publish), u.Subscribe...) {
		for _, bad := range []string{"lab2", "LAB2", "STREAM.CREATE", "STREAM.UPDATE", "STREAM.DELETE", "STREAM.PURGE",
			"MSG.DELETE", "STREAM.MSG.GET", "CIS490_SUBMISSIONS", "_INBOX.>"} {
			if strings.Contains(s, bad) && s != "$JS.API.STREAM.INFO.CIS490_SUBMISSIONS" {
				t.Errorf("lab1 may use %q, which holds %q", s, bad)
			}
		}
		for _, bad := range []string{"cis490.nack", "cis490.accepted", ">", "$JS.API.>"} {
			if strings.HasPrefix(s, bad) {
				t.Errorf("lab1 may use %q, which starts with %q", s, bad)
			}
		}
	}
	for _, s := range u.Publish {
		if strings.HasPrefix(s, "$KV.") {
			t.Errorf("lab1 may publish to %q: a key-value write", s)
		}
		// No consumer on a shared stream but its own nack reader: no
		// wildcard in the consumer name, no flow control of push consumers.
		if rest, ok := strings.CutPrefix(s, "$JS.API.CONSUMER."); ok {
			verb, tail, _ := strings.Cut(rest, ".")
			if verb == "MSG" {
				_, tail, _ = strings.Cut(tail, ".")
			}
			_, name, _ := strings.Cut(tail, ".")
			if name, _, _ = strings.Cut(name, "."); name != "nacks_lab1" {
				t.Errorf("lab1 may use %q: consumer %q is not its own nacks_lab1", s, name)
			}
		}
		if strings.HasPrefix(s, "$JS.FC.") {
			t.Errorf("lab1 may publish %q: flow control of a push consumer it should not have", s)
		}
	}
	if want := []string{"_INBOX_lab1.>", "$KV.CIS490_VERDICTS.lab1.>"}; !slices.Equal(u.Subscribe, want) {
		t.Errorf("lab1 subscribes to %q, want %q", u.Subscribe, want)
	}
}

// selfSigned writes a self-signed certificate and its key into dir.
func selfSigned(t testing.TB, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hub"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, key
}

// provisionServer starts a hub whose config has an admin and a lab user
// with lab1's permissions, by user name and password.
func provisionServer(t *testing.T) (adminURL, labURL string) {
	t.Helper()
	lab, err := hub.HostPermissions("lab1")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("authorization {\n users = [\n  {user: admin, password: a}\n  {user: lab1, password: l, permissions: {publish: {allow: [")
	for i, s := range lab.Publish {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"` + s + `"`)
	}
	b.WriteString(`]}, subscribe: {allow: ["` + lab.InboxPrefix + `.>"]}}}` + "\n ]\n}\n")
	h := start(t, hub.Options{ConfigFile: writeConf(t, "%s", b.String()), StoreDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	u := h.ClientURL()
	return strings.Replace(u, "nats://", "nats://admin:a@", 1), strings.Replace(u, "nats://", "nats://lab1:l@", 1)
}

func TestProvision(t *testing.T) {
	t.Parallel()
	adminURL, labURL := provisionServer(t)
	nc, err := nats.Connect(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	o := hub.DefaultResourceOptions()
	o.HostQuota = 1 << 30
	var done []string
	for range 2 { // idempotent
		done = done[:0]
		if err := hub.Provision(t.Context(), nc, []string{"lab2", "lab1"}, o, func(p hub.Provisioned) {
			done = append(done, p.Kind+" "+p.Name)
		}); err != nil {
			t.Fatalf("Provision() = %v", err)
		}
	}
	want := []string{"stream CIS490_SUBMISSIONS", "stream CIS490_QUARANTINE", "stream CIS490_ACCEPTED",
		"key-value bucket CIS490_VERDICTS", "key-value bucket CIS490_WINDOW", "consumer CIS490_SUBMISSIONS > receiver",
		"object bucket EPISODES_LAB1", "object bucket EPISODES_LAB2"}
	if !slices.Equal(done, want) {
		t.Errorf("Provision() did %q, want %q", done, want)
	}
	js, _ := jetstream.New(nc)
	for _, host := range []string{"lab1", "lab2"} {
		s, err := js.Stream(t.Context(), subjects.ObjectStream(subjects.EpisodeBucket(host)))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.MaxBytes; got != 1<<30 {
			t.Errorf("%s MaxBytes = %d, want the quota %d", subjects.EpisodeBucket(host), got, 1<<30)
		}
	}

	// A new quota is applied in place.
	o.HostQuota = 2 << 30
	if err := hub.Provision(t.Context(), nc, []string{"lab1"}, o, nil); err != nil {
		t.Fatalf("Provision(new quota) = %v", err)
	}
	s, _ := js.Stream(t.Context(), subjects.ObjectStream(subjects.EpisodeBucket("lab1")))
	if got := s.CachedInfo().Config.MaxBytes; got != 2<<30 {
		t.Errorf("MaxBytes after a new quota = %d, want %d", got, 2<<30)
	}

	// A bad host id is refused before anything is sent.
	if err := hub.Provision(t.Context(), nc, []string{"lab1", "Bad_Host"}, o, nil); !errors.Is(err, subjects.ErrBadHost) {
		t.Errorf("Provision(Bad_Host) = %v, want subjects.ErrBadHost", err)
	}

	// A lab host is not the admin: denied at once, naming the subject.
	lc, err := nats.Connect(labURL, nats.CustomInboxPrefix(natsconn.InboxPrefix("lab1")))
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	t0 := time.Now()
	err = hub.Provision(ctx, lc, []string{"lab1"}, o, nil)
	if !errors.Is(err, natsconn.ErrDenied) || !strings.Contains(err.Error(), "$JS.API.STREAM.UPDATE.CIS490_SUBMISSIONS") {
		t.Errorf("Provision() as lab1 = %v, want natsconn.ErrDenied naming $JS.API.STREAM.UPDATE.CIS490_SUBMISSIONS", err)
	}
	if took := time.Since(t0); took > 3*time.Second {
		t.Errorf("Provision() as lab1 was denied after %v, want within 3s", took)
	}
}
