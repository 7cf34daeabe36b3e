package natsconn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxContextSize bounds a context file. The nats CLI writes a few hundred
// bytes; anything near this is not a context.
const maxContextSize = 1 << 20

// Context is one nats CLI context: the JSON file `nats context add` writes to
// $XDG_CONFIG_HOME/nats/context/<name>.json. Field names and meanings are the
// CLI's (natscli's natscontext package). Fields cis490 does not know are
// ignored, so files written by newer CLIs still load.
//
// Context holds secrets (Password, Token, UserSeed); do not log it whole.
type Context struct {
	// Name is the context's name: the file name without ".json".
	Name string `json:"-"`
	// Path is the file the context was read from.
	Path string `json:"-"`

	Description string `json:"description,omitempty"`
	// URL is one or more server URLs, comma separated.
	URL string `json:"url,omitempty"`
	// Token authenticates with a bare token.
	Token string `json:"token,omitempty"`
	// User and Password authenticate with a user name and password.
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	// Creds is the path of a .creds file (user JWT and nkey seed).
	Creds string `json:"creds,omitempty"`
	// NKey is the path of a file holding an nkey user seed.
	NKey string `json:"nkey,omitempty"`
	// Cert and Key are the client certificate and key for mutual TLS.
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
	// CA is the CA certificate that signed the server's certificate.
	CA string `json:"ca,omitempty"`
	// NSC is an nsc:// lookup; cis490 does not run nsc and rejects it.
	NSC string `json:"nsc,omitempty"`
	// JetStreamDomain, JetStreamAPIPrefix and JetStreamEventPrefix select a
	// JetStream domain or imported API; callers pass them to jetstream.
	JetStreamDomain      string `json:"jetstream_domain,omitempty"`
	JetStreamAPIPrefix   string `json:"jetstream_api_prefix,omitempty"`
	JetStreamEventPrefix string `json:"jetstream_event_prefix,omitempty"`
	// InboxPrefix replaces _INBOX for request-reply subjects.
	InboxPrefix string `json:"inbox_prefix,omitempty"`
	// UserJWT and UserSeed authenticate with a literal JWT and nkey seed.
	UserJWT  string `json:"user_jwt,omitempty"`
	UserSeed string `json:"user_seed,omitempty"`
	// TLSFirst does the TLS handshake before the server's INFO.
	TLSFirst bool `json:"tls_first,omitempty"`
	// SocksProxy and WindowsCertStore are CLI features cis490 rejects rather
	// than silently ignore.
	SocksProxy       string `json:"socks_proxy,omitempty"`
	WindowsCertStore string `json:"windows_cert_store,omitempty"`
	ColorScheme      string `json:"color_scheme,omitempty"`
}

// ConfigDir returns the directory the nats CLI keeps its configuration in:
// $XDG_CONFIG_HOME/nats, or ~/.config/nats.
func ConfigDir() (string, error) {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "nats"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", configErrorf("find nats CLI config directory: %w", err)
	}
	return filepath.Join(home, ".config", "nats"), nil
}

// ContextPath returns the file LoadContext reads for name: name itself when
// it is a path (it contains a path separator or ends in ".json"), otherwise
// <ConfigDir>/context/<name>.json.
func ContextPath(name string) (string, error) {
	if isContextPath(name) {
		return expandHome(name), nil
	}
	if name == "" || strings.Contains(name, "..") {
		return "", configErrorf("context: invalid nats context name %q", name)
	}
	dir, err := ConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "context", name+".json"), nil
}

// isContextPath reports whether a context name is a file path.
func isContextPath(name string) bool {
	return strings.HasSuffix(name, ".json") || strings.ContainsRune(name, '/') ||
		strings.ContainsRune(name, filepath.Separator)
}

// SelectedContext returns the context chosen with `nats context select`, read
// from <ConfigDir>/context.txt, or "" when none is selected.
func SelectedContext() (string, error) {
	dir, err := ConfigDir()
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, "context.txt")
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", configErrorf("read selected nats context: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// LoadContext reads the nats CLI context name (see ContextPath) and expands
// a leading ~ in its file paths. A missing file or malformed JSON is an
// error naming the file that wraps ErrConfig.
func LoadContext(name string) (Context, error) {
	file, err := ContextPath(name)
	if err != nil {
		return Context{}, err
	}
	data, err := readLimited(file, maxContextSize)
	if err != nil {
		return Context{}, configErrorf("load nats context %q: %w", name, err)
	}
	c, err := parseContext(data)
	if err != nil {
		return Context{}, configErrorf("load nats context %q: parse %s: %w", name, file, err)
	}
	c.Name = strings.TrimSuffix(filepath.Base(file), ".json")
	c.Path = file
	for _, p := range []*string{&c.Creds, &c.NKey, &c.Cert, &c.Key, &c.CA} {
		*p = expandHome(*p)
	}
	return c, nil
}

// readLimited reads file, failing if it is larger than limit bytes.
func readLimited(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", file, limit)
	}
	return data, nil
}

// parseContext decodes the JSON of a context file. It accepts unknown
// fields, as the CLI adds fields over time, but not a value that is not a
// JSON object.
func parseContext(data []byte) (Context, error) {
	var c Context
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Context{}, errors.New("want a JSON object")
	}
	if err := json.Unmarshal(trimmed, &c); err != nil {
		return Context{}, err
	}
	return c, nil
}

// check reports settings of c that cis490 cannot honour, naming the field.
func (c Context) check() error {
	bad := func(format string, a ...any) error {
		return configErrorf("nats context %q (%s): %s", c.Name, c.Path, fmt.Sprintf(format, a...))
	}
	switch {
	case c.Cert != "" && c.Key == "":
		return bad("cert set without key")
	case c.Key != "" && c.Cert == "":
		return bad("key set without cert")
	case c.NSC != "":
		return bad("nsc lookups are not supported; export a creds file and set creds")
	case c.SocksProxy != "":
		return bad("socks_proxy is not supported")
	case c.WindowsCertStore != "":
		return bad("windows_cert_store is not supported")
	case c.UserJWT != "" && c.UserSeed == "":
		return bad("user_jwt set without user_seed")
	case c.UserSeed != "" && c.UserJWT == "":
		return bad("user_seed set without user_jwt")
	}
	return nil
}

// expandHome replaces a leading "~" or "~/" in p with the home directory.
// Other forms (~user) are left alone.
func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, p[1:])
}
