package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cis490/cis490/natsconn"
)

// envOf returns a getenv reading m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

type envTarget struct {
	NATS  natsconn.Options `toml:"nats"`
	Inner struct {
		Count int      `toml:"count"`
		Big   int64    `toml:"big_count"`
		Small uint8    `toml:"small"`
		Size  Size     `toml:"size"`
		Wait  Duration `toml:"wait"`
		On    bool     `toml:"on"`
		Name  string   `toml:"name"`
		Ratio float64  `toml:"ratio"`
		List  []string `toml:"list"`
		Skip  string   `toml:"-"`
	} `toml:"inner"`
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"receive.concurrency":       "CIS490_RECEIVE_CONCURRENCY",
		"receive.max_episode_bytes": "CIS490_RECEIVE_MAX_EPISODE_BYTES",
		"nats.tls-ca":               "CIS490_NATS_TLS_CA",
	} {
		if got := EnvName(path); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestEnvOverride(t *testing.T) {
	t.Parallel()
	var v envTarget
	v.Inner.Name = "file"
	v.Inner.Wait = Duration(time.Minute)
	v.NATS.Creds = "/file.creds"
	err := EnvOverride(&v, envOf(map[string]string{
		"CIS490_INNER_COUNT":     "4",
		"CIS490_INNER_BIG_COUNT": "-1",
		"CIS490_INNER_SMALL":     "255",
		"CIS490_INNER_SIZE":      "1.5GiB",
		"CIS490_INNER_ON":        "true",
		"CIS490_INNER_RATIO":     "0.25",
		"CIS490_INNER_WAIT":      "",    // empty: unset
		"CIS490_INNER_LIST":      "a,b", // not a kind EnvOverride sets
		"CIS490_INNER_SKIP":      "no",  // toml:"-"
		"NATS_URL":               "nats://a:4222",
		"CIS490_NATS_URL":        "nats://b:4222", // wins over NATS_URL
		"NATS_CONTEXT":           "lab",
		"NATS_CA":                "/ca.pem",
		"NATS_CREDS":             "",
	}))
	if err != nil {
		t.Fatalf("EnvOverride: %v", err)
	}
	in := v.Inner
	if in.Count != 4 || in.Big != -1 || in.Small != 255 || in.Size != 3*GiB/2 || !in.On || in.Ratio != 0.25 ||
		in.Wait != Duration(time.Minute) || in.Name != "file" || in.List != nil || in.Skip != "" {
		t.Errorf("EnvOverride: inner = %+v", in)
	}
	wantNATS := natsconn.Options{URL: "nats://b:4222", Context: "lab", TLSCA: "/ca.pem", Creds: "/file.creds"}
	if v.NATS != wantNATS {
		t.Errorf("EnvOverride: nats = %+v, want %+v", v.NATS, wantNATS)
	}
}

func TestEnvOverrideErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env, val, want string
	}{
		{"CIS490_INNER_COUNT", "four", `environment CIS490_INNER_COUNT="four": want an integer of 64 bits`},
		{"CIS490_INNER_SMALL", "256", `environment CIS490_INNER_SMALL="256": want an unsigned integer of 8 bits`},
		{"CIS490_INNER_SIZE", "64XB", `environment CIS490_INNER_SIZE="64XB": invalid size "64XB"`},
		{"CIS490_INNER_WAIT", "10", `environment CIS490_INNER_WAIT="10": invalid duration "10"`},
		{"CIS490_INNER_ON", "yes", `environment CIS490_INNER_ON="yes": want true or false`},
		{"CIS490_INNER_RATIO", "half", `environment CIS490_INNER_RATIO="half": want a number`},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Parallel()
			var v envTarget
			err := EnvOverride(&v, envOf(map[string]string{tt.env: tt.val}))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("EnvOverride(%s=%q) = %v, want ErrInvalid containing %q", tt.env, tt.val, err, tt.want)
			}
		})
	}
	if err := EnvOverride(envTarget{}, envOf(nil)); err == nil {
		t.Errorf("EnvOverride(struct value) = nil, want an error")
	}
}
