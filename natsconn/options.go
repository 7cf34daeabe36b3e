package natsconn

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// DefaultURL is the server used when neither Options nor a context name one.
const DefaultURL = "nats://127.0.0.1:4222"

// ErrConfig is wrapped by every error that is the configuration's fault
// rather than the network's or the server's: an invalid field, a missing or
// malformed context file, an unreadable creds, nkey, certificate or CA file.
// Commands map it to exit status 2. Check it with errors.Is.
var ErrConfig = errors.New("invalid nats connection configuration")

// configError is an error that matches ErrConfig with errors.Is while keeping
// its own message and cause.
type configError struct{ err error }

func (e *configError) Error() string        { return e.err.Error() }
func (e *configError) Unwrap() error        { return e.err }
func (e *configError) Is(target error) bool { return target == ErrConfig }

// configErrorf formats an error that wraps ErrConfig.
func configErrorf(format string, a ...any) error {
	return &configError{fmt.Errorf(format, a...)}
}

// Options are the connection settings shared by every command (flags and
// NATS_* environment) and by the daemons' TOML config files. Empty fields
// fall back to the nats CLI context, then to defaults; see Resolve.
type Options struct {
	// URL is one or more server URLs, comma separated.
	URL string `toml:"url" json:"url,omitempty"`
	// Creds is the path of a .creds file (user JWT and nkey seed).
	Creds string `toml:"creds" json:"creds,omitempty"`
	// Context names a nats CLI context, or is the path of its .json file.
	Context string `toml:"context" json:"context,omitempty"`
	// TLSCert and TLSKey are the client certificate and key for mutual TLS;
	// set both or neither.
	TLSCert string `toml:"tls_cert" json:"tls_cert,omitempty"`
	TLSKey  string `toml:"tls_key" json:"tls_key,omitempty"`
	// TLSCA is the CA certificate that signed the server's certificate.
	TLSCA string `toml:"tls_ca" json:"tls_ca,omitempty"`
	// Name is the connection name the server shows (nats server report
	// connections); "cis490" when empty.
	Name string `toml:"name" json:"name,omitempty"`
}

// Validate checks o without touching the file system and returns an error
// naming the offending field, wrapping ErrConfig.
func (o Options) Validate() error {
	switch {
	case o.TLSCert != "" && o.TLSKey == "":
		return configErrorf("tls_cert set without tls_key")
	case o.TLSKey != "" && o.TLSCert == "":
		return configErrorf("tls_key set without tls_cert")
	}
	if o.URL != "" {
		if err := validateURLs(o.URL); err != nil {
			return configErrorf("url %q: %w", redactURLs(o.URL), err)
		}
	}
	if o.Context != "" && !isContextPath(o.Context) && strings.Contains(o.Context, "..") {
		return configErrorf("context %q: invalid nats context name", o.Context)
	}
	return nil
}

// validateURLs checks a comma-separated list of server URLs. A URL without a
// scheme ("hub.lab:4222") is allowed, as nats.Connect allows it.
func validateURLs(list string) error {
	n := 0
	for s := range strings.SplitSeq(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		n++
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return errors.Unwrap(err) // url.Error repeats the whole URL
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("scheme %q: want nats, tls, ws or wss", u.Scheme)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("no host in %q", redactURLs(s))
		}
	}
	if n == 0 {
		return errors.New("no server URL")
	}
	return nil
}

// redactURLs replaces passwords in a comma-separated URL list with "xxxxx",
// for error messages.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, s := range parts {
		u, err := url.Parse(strings.TrimSpace(s))
		if err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// Resolve merges o with the nats CLI context it names and with defaults.
// Each field is taken from o when set, else from the context, else from the
// default; the client certificate and key are taken as a pair. When o names
// neither a context nor a URL, the context selected with `nats context
// select` is used if there is one. Paths starting with ~ are expanded.
//
// It returns the merged Options (Context set to the context actually read)
// and that context, which is the zero Context when none was read.
func (o Options) Resolve() (Options, Context, error) {
	if err := o.Validate(); err != nil {
		return Options{}, Context{}, err
	}
	name := o.Context
	if name == "" && o.URL == "" {
		sel, err := SelectedContext()
		if err != nil {
			return Options{}, Context{}, err
		}
		name = sel
	}
	var c Context
	if name != "" {
		var err error
		if c, err = LoadContext(name); err != nil {
			return Options{}, Context{}, err
		}
		if err := c.check(); err != nil {
			return Options{}, Context{}, err
		}
	}
	r := o
	r.Context = name
	r.URL = firstOf(o.URL, c.URL, DefaultURL)
	r.Creds = expandHome(firstOf(o.Creds, c.Creds))
	if o.TLSCert == "" {
		r.TLSCert, r.TLSKey = c.Cert, c.Key
	}
	r.TLSCert, r.TLSKey = expandHome(r.TLSCert), expandHome(r.TLSKey)
	r.TLSCA = expandHome(firstOf(o.TLSCA, c.CA))
	if r.Name == "" {
		r.Name = "cis490"
	}
	if err := r.Validate(); err != nil {
		return Options{}, Context{}, fmt.Errorf("nats context %q (%s): %w", c.Name, c.Path, err)
	}
	return r, c, nil
}

// firstOf returns the first non-empty string.
func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
