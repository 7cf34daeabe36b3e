package natsconn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// runServer starts an embedded nats-server on a random loopback port and
// shuts it down when the test ends. opts may be nil.
func runServer(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	if opts == nil {
		opts = &server.Options{}
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = -1
	}
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("server.NewServer: %v", err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats-server on %s not ready after 10s", s.ClientURL())
	}
	return s
}

// useConfigHome points XDG_CONFIG_HOME and HOME at fresh temporary
// directories, so the developer's own nats contexts are never read, and
// returns the nats config directory (<XDG_CONFIG_HOME>/nats). Tests calling
// it cannot run in parallel.
func useConfigHome(t testing.TB) (natsDir, home string) {
	t.Helper()
	xdg := t.TempDir()
	home = t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	t.Setenv("HOME", home)
	return filepath.Join(xdg, "nats"), home
}

// writeFile writes data to dir/name, creating dir, and returns the path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeContext writes c as a nats CLI context file dir/name.json and returns
// its path.
func writeContext(t testing.TB, dir, name string, c Context) string {
	t.Helper()
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name+".json", b)
}

// pki is a CA with a server and a client certificate, as PEM files.
type pki struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// newPKI creates a CA, a server certificate for 127.0.0.1 and localhost, and
// a client certificate, in a temporary directory.
func newPKI(t testing.TB) pki {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cis490 test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("create CA certificate: %v", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
			tmpl.DNSNames = []string{"localhost"}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatalf("create %s certificate: %v", cn, err)
		}
		kb, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
	}
	var p pki
	p.CA = writeFile(t, dir, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	sc, sk := leaf(2, "hub", x509.ExtKeyUsageServerAuth)
	p.ServerCert = writeFile(t, dir, "server-cert.pem", sc)
	p.ServerKey = writeFile(t, dir, "server-key.pem", sk)
	cc, ck := leaf(3, "lab1", x509.ExtKeyUsageClientAuth)
	p.ClientCert = writeFile(t, dir, "client-cert.pem", cc)
	p.ClientKey = writeFile(t, dir, "client-key.pem", ck)
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// runTLSServer starts a server that requires a client certificate signed by
// p's CA.
func runTLSServer(t testing.TB, p pki) *server.Server {
	t.Helper()
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: p.ServerCert, KeyFile: p.ServerKey, CaFile: p.CA, Verify: true,
	})
	if err != nil {
		t.Fatalf("server.GenTLSConfig: %v", err)
	}
	return runServer(t, &server.Options{TLS: true, TLSVerify: true, TLSConfig: tc, TLSTimeout: 5})
}

// wantErr fails the test unless err is non-nil, contains every fragment,
// and matches ErrConfig exactly when config is true.
func wantErr(t testing.TB, err error, config bool, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want an error containing %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("err = %q, want it to contain %q", err, f)
		}
	}
	if got := errors.Is(err, ErrConfig); got != config {
		t.Errorf("errors.Is(%q, ErrConfig) = %v, want %v", err, got, config)
	}
}
