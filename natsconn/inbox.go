package natsconn

import (
	"crypto/x509"
	"encoding/pem"
	"os"
)

// CertOrganization is the O= of the client certificates of a cis490 hub
// with per-user permissions; the certificate's CN= is the user's name, and
// nats-server's TLS verify_and_map maps the subject CN=<user>,O=cis490 to
// that user (deploy/hub/nats-server.conf, docs/security.md).
const CertOrganization = "cis490"

// InboxPrefix returns the reply-subject prefix of user: _INBOX_<user>. The
// hub lets each user subscribe only below its own prefix, so that no user
// can read the replies, consumer deliveries included, of another.
func InboxPrefix(user string) string { return "_INBOX_" + user }

// CertUser returns the user a cis490 client certificate names: the CN of
// the first certificate in the PEM file certFile if its subject is
// exactly O=cis490 and one CN, else "". Connect uses it to pick the inbox
// prefix when the context names none.
func CertUser(certFile string) string {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return ""
	}
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return ""
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return ""
		}
		s := cert.Subject
		if len(s.Organization) != 1 || s.Organization[0] != CertOrganization || s.CommonName == "" ||
			len(s.Names) != 2 || !validInboxToken(s.CommonName) {
			return ""
		}
		return s.CommonName
	}
}

// validInboxToken reports whether s can be part of one subject token.
func validInboxToken(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == '.' || r == '*' || r == '>' || r == 0x7f {
			return false
		}
	}
	return s != ""
}
