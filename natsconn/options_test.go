package natsconn

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    Options
		want string // "" for valid
	}{
		{"empty", Options{}, ""},
		{"one url", Options{URL: "nats://hub:4222"}, ""},
		{"url list", Options{URL: "tls://a:4222, tls://b:4222"}, ""},
		{"bare host", Options{URL: "hub.lab:4222"}, ""},
		{"websocket", Options{URL: "wss://hub.lab:443"}, ""},
		{"tls pair", Options{TLSCert: "c.pem", TLSKey: "k.pem", TLSCA: "ca.pem"}, ""},
		{"ca alone", Options{TLSCA: "ca.pem"}, ""},
		{"context name", Options{Context: "ngs.js"}, ""},
		{"context path", Options{Context: "../ctx/hub.json"}, ""},
		{"cert without key", Options{TLSCert: "c.pem"}, "tls_cert set without tls_key"},
		{"key without cert", Options{TLSKey: "k.pem"}, "tls_key set without tls_cert"},
		{"bad scheme", Options{URL: "http://hub:4222"}, `url "http://hub:4222": scheme "http"`},
		{"no servers", Options{URL: " , "}, "no server URL"},
		{"no host", Options{URL: "nats://:4222"}, "no host"},
		{"bad port", Options{URL: "nats://hub:port"}, `url "nats://hub:port"`},
		{"password redacted", Options{URL: "http://u:hunter2@hub:4222"}, "u:xxxxx@hub"},
		{"bad context name", Options{Context: "a..b"}, `context "a..b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.o.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate(%+v) = %v, want nil", tt.o, err)
				}
				return
			}
			wantErr(t, err, true, tt.want)
		})
	}
}

func TestValidateRedactsPassword(t *testing.T) {
	t.Parallel()
	err := Options{URL: "http://u:hunter2@hub:4222"}.Validate()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Validate() = %v, want an error without the password", err)
	}
}

// TestResolvePrecedence checks explicit option > context value > default,
// field by field, with the certificate and key taken as a pair.
func TestResolvePrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	full := writeContext(t, dir, "full", Context{
		URL:   "nats://ctx:4222",
		Creds: "/ctx/lab1.creds",
		Cert:  "/ctx/cert.pem",
		Key:   "/ctx/key.pem",
		CA:    "/ctx/ca.pem",
	})
	empty := writeContext(t, dir, "empty", Context{})

	tests := []struct {
		name string
		o    Options
		want Options
	}{
		{
			name: "context only",
			o:    Options{Context: full},
			want: Options{URL: "nats://ctx:4222", Creds: "/ctx/lab1.creds", TLSCert: "/ctx/cert.pem", TLSKey: "/ctx/key.pem", TLSCA: "/ctx/ca.pem"},
		},
		{
			name: "explicit beats context",
			o:    Options{Context: full, URL: "nats://flag:4222", Creds: "/flag.creds", TLSCert: "/flag/c.pem", TLSKey: "/flag/k.pem", TLSCA: "/flag/ca.pem", Name: "cis490 lab"},
			want: Options{URL: "nats://flag:4222", Creds: "/flag.creds", TLSCert: "/flag/c.pem", TLSKey: "/flag/k.pem", TLSCA: "/flag/ca.pem", Name: "cis490 lab"},
		},
		{
			name: "explicit url only",
			o:    Options{Context: full, URL: "nats://flag:4222"},
			want: Options{URL: "nats://flag:4222", Creds: "/ctx/lab1.creds", TLSCert: "/ctx/cert.pem", TLSKey: "/ctx/key.pem", TLSCA: "/ctx/ca.pem"},
		},
		{
			name: "empty context gives defaults",
			o:    Options{Context: empty},
			want: Options{URL: DefaultURL},
		},
		{
			name: "no context with url",
			o:    Options{URL: "nats://flag:4222", Creds: "/flag.creds"},
			want: Options{URL: "nats://flag:4222", Creds: "/flag.creds"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, _, err := tt.o.Resolve()
			if err != nil {
				t.Fatalf("Resolve(%+v): %v", tt.o, err)
			}
			tt.want.Context = tt.o.Context
			if tt.want.Name == "" {
				tt.want.Name = "cis490"
			}
			if got != tt.want {
				t.Errorf("Resolve(%+v) =\n%+v\nwant\n%+v", tt.o, got, tt.want)
			}
		})
	}
}

func TestResolveRejectsContext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		c    Context
		want string
	}{
		{"cert without key", Context{Cert: "/c.pem"}, "cert set without key"},
		{"key without cert", Context{Key: "/k.pem"}, "key set without cert"},
		{"nsc", Context{NSC: "nsc://op/acc/user"}, "nsc lookups are not supported"},
		{"socks", Context{SocksProxy: "socks5://proxy:1080"}, "socks_proxy is not supported"},
		{"windows store", Context{WindowsCertStore: "windowscurrentuser"}, "windows_cert_store is not supported"},
		{"jwt without seed", Context{UserJWT: "eyJ"}, "user_jwt set without user_seed"},
		{"bad url", Context{URL: "http://hub:4222"}, `scheme "http"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := writeContext(t, dir, tt.name, tt.c)
			_, _, err := Options{Context: file}.Resolve()
			wantErr(t, err, true, tt.want, file)
		})
	}
}

func TestResolveInvalidOptions(t *testing.T) {
	t.Parallel()
	_, _, err := Options{URL: "nats://hub:4222", TLSKey: "k.pem"}.Resolve()
	if !errors.Is(err, ErrConfig) {
		t.Errorf("Resolve() = %v, want ErrConfig", err)
	}
}
