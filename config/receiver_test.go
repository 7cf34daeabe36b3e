package config

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// exampleFile is the example receiver configuration shipped in deploy/.
const exampleFile = "../deploy/receiver.toml.example"

func TestDefaultReceiverValid(t *testing.T) {
	t.Parallel()
	if err := DefaultReceiver().Validate(); err != nil {
		t.Errorf("DefaultReceiver().Validate() = %v, want nil", err)
	}
}

func TestReceiverValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  func(*Receiver)
		want string // "" for valid
	}{
		{"concurrency 1", func(r *Receiver) { r.Receive.Concurrency = 1 }, ""},
		{"concurrency 64", func(r *Receiver) { r.Receive.Concurrency = 64 }, ""},
		{"concurrency 0", func(r *Receiver) { r.Receive.Concurrency = 0 }, "receive.concurrency = 0: must be 1 to 64"},
		{"concurrency 65", func(r *Receiver) { r.Receive.Concurrency = 65 }, "receive.concurrency = 65: must be 1 to 64"},
		{"early reads 0", func(r *Receiver) { r.Receive.EarlyReads = 0 }, ""},
		{"early reads 16", func(r *Receiver) { r.Receive.EarlyReads = 16 }, ""},
		{"early reads -1", func(r *Receiver) { r.Receive.EarlyReads = -1 }, "receive.early_reads = -1: must be 0 (none) to 16"},
		{"early reads 17", func(r *Receiver) { r.Receive.EarlyReads = 17 }, "receive.early_reads = 17: must be 0 (none) to 16"},
		{"archive absolute", func(r *Receiver) { r.Receive.ArchiveDir = "/srv/episodes" }, ""},
		{"archive relative", func(r *Receiver) { r.Receive.ArchiveDir = "episodes" }, `receive.archive_dir = "episodes": must be an absolute path`},
		{"max episode 0", func(r *Receiver) { r.Receive.MaxEpisodeBytes = 0 }, `receive.max_episode_bytes = "0": must be more than 0`},
		{"max files 0", func(r *Receiver) { r.Receive.MaxFiles = 0 }, "receive.max_files = 0: must be at least 1"},
		{"max name len 0", func(r *Receiver) { r.Receive.MaxNameLen = 0 }, "receive.max_name_len = 0: must be 1 to 4096"},
		{"max name len 5000", func(r *Receiver) { r.Receive.MaxNameLen = 5000 }, "receive.max_name_len = 5000: must be 1 to 4096"},
		{"ack wait 0", func(r *Receiver) { r.Receive.AckWait = 0 }, `receive.ack_wait = "0": must be at least 1s`},
		{"host rate 0.5", func(r *Receiver) { r.Receive.HostRate = 0.5 }, ""},
		{"host rate 0", func(r *Receiver) { r.Receive.HostRate = 0 }, "receive.host_rate = 0: must be a number of submissions a second above 0"},
		{"host rate NaN", func(r *Receiver) { r.Receive.HostRate = math.NaN() }, "receive.host_rate = NaN: must be"},
		{"host burst 1", func(r *Receiver) { r.Receive.HostBurst = 1 }, ""},
		{"host burst 0", func(r *Receiver) { r.Receive.HostBurst = 0 }, "receive.host_burst = 0: must be at least 1"},
		{"max expansion 1", func(r *Receiver) { r.Receive.MaxExpansion = 1 }, ""},
		{"max expansion 0", func(r *Receiver) { r.Receive.MaxExpansion = 0 }, "receive.max_expansion = 0: must be at least 1"},
		{"host quota 1TiB", func(r *Receiver) { r.Receive.ArchiveHostQuota = TiB }, ""},
		{"host quota -1", func(r *Receiver) { r.Receive.ArchiveHostQuota = -1 }, `receive.archive_host_quota = "-1B": must be 0 (no quota) or more`},
		{"quarantine age 0", func(r *Receiver) { r.Quarantine.MaxAge = 0 }, `quarantine.max_age = "0": must be more than 0`},
		{"quarantine bytes 0", func(r *Receiver) { r.Quarantine.MaxBytes = 0 }, `quarantine.max_bytes = "0": must be more than 0`},
		{"quarantine msgs 10", func(r *Receiver) { r.Quarantine.MaxMsgs = 10 }, ""},
		{"quarantine msgs 0", func(r *Receiver) { r.Quarantine.MaxMsgs = 0 }, "quarantine.max_msgs = 0: must be at least 1, or -1"},
		{"gc interval 0", func(r *Receiver) { r.GC.Interval = 0 }, `gc.interval = "0": must be at least 1s`},
		{"gc grace 1m", func(r *Receiver) { r.GC.Grace = Duration(time.Minute) }, ""},
		{"gc grace 59s", func(r *Receiver) { r.GC.Grace = Duration(59 * time.Second) }, `gc.grace = "59s": must be at least 1m`},
		{"metrics listen", func(r *Receiver) { r.Metrics.Listen = "127.0.0.1:9490" }, ""},
		{"metrics listen any", func(r *Receiver) { r.Metrics.Listen = ":9490" }, ""},
		{"metrics no port", func(r *Receiver) { r.Metrics.Listen = "127.0.0.1" }, `metrics.listen = "127.0.0.1": missing port in address`},
		{"metrics bad port", func(r *Receiver) { r.Metrics.Listen = "localhost:http" }, `metrics.listen = "localhost:http": bad port "http"`},
		{"nats url", func(r *Receiver) { r.NATS.URL = "http://hub:4222" }, `nats: url "http://hub:4222": scheme "http"`},
		{"nats cert alone", func(r *Receiver) { r.NATS.TLSCert = "/c.pem" }, "nats: tls_cert set without tls_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := DefaultReceiver()
			tt.set(&r)
			err := r.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want ErrInvalid containing %q", err, tt.want)
			}
		})
	}
}

func TestReceiverValidateNamesEveryField(t *testing.T) {
	t.Parallel()
	r := DefaultReceiver()
	r.Receive.Concurrency = 0
	r.GC.Grace = 0
	err := r.Validate()
	want := "receive.concurrency = 0: must be 1 to 64\ngc.grace = \"0\": must be at least 1m"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %q, want %q", err, want)
	}
}

func TestLoadReceiver(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "receiver.toml", `
[nats]
url = "nats://hub.lab:4222"
[receive]
concurrency = 8
archive_dir = "/srv/cis490/episodes"
max_episode_bytes = "10GB"
[gc]
grace = "36h"
`)
	got, err := loadReceiver(path, envOf(map[string]string{
		"CIS490_RECEIVE_CONCURRENCY": "4",
		"CIS490_QUARANTINE_MAX_AGE":  "2w",
		"NATS_CREDS":                 "/etc/cis490/receiver.creds",
	}))
	if err != nil {
		t.Fatalf("loadReceiver: %v", err)
	}
	want := DefaultReceiver()
	want.NATS.URL = "nats://hub.lab:4222"
	want.NATS.Creds = "/etc/cis490/receiver.creds"
	want.Receive.Concurrency = 4
	want.Receive.ArchiveDir = "/srv/cis490/episodes"
	want.Receive.MaxEpisodeBytes = 10 * GB
	want.Quarantine.MaxAge = Duration(2 * Week)
	want.GC.Grace = Duration(36 * time.Hour)
	if got != want {
		t.Errorf("loadReceiver =\n%+v\nwant\n%+v", got, want)
	}

	// No file: defaults and environment.
	got, err = loadReceiver("", envOf(map[string]string{"CIS490_METRICS_LISTEN": "127.0.0.1:9490"}))
	want = DefaultReceiver()
	want.Metrics.Listen = "127.0.0.1:9490"
	if err != nil || got != want {
		t.Errorf("loadReceiver(\"\") = %+v, %v; want %+v", got, err, want)
	}
}

func TestLoadReceiverErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		env     map[string]string
		want    string
	}{
		{"unknown key", "[receive]\nconcurency = 4\n", nil,
			`receiver.toml: unknown key "receive.concurency" (did you mean "receive.concurrency"?)`},
		{"bad size", "[receive]\nmax_episode_bytes = \"64XB\"\n", nil,
			`receive.max_episode_bytes: invalid size "64XB"`},
		{"out of range", "[receive]\nconcurrency = 100\n", nil,
			"receive.concurrency = 100: must be 1 to 64"},
		{"bad env", "", map[string]string{"CIS490_GC_GRACE": "soon"},
			`environment CIS490_GC_GRACE="soon": invalid duration "soon"`},
		{"env out of range", "", map[string]string{"CIS490_RECEIVE_CONCURRENCY": "0"},
			"receive.concurrency = 0: must be 1 to 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, "receiver.toml", tt.content)
			_, err := loadReceiver(path, envOf(tt.env))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("loadReceiver = %v, want ErrInvalid containing %q", err, tt.want)
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "receiver.toml")
	if _, err := LoadReceiver(missing); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadReceiver(missing) = %v, want ErrInvalid naming %s", err, missing)
	}
}

// TestReceiverExample keeps deploy/receiver.toml.example equal to the
// defaults: it is WriteReceiverExample's output, it names every key, and it
// decodes, from zero, to DefaultReceiver().
func TestReceiverExample(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteReceiverExample(&buf); err != nil {
		t.Fatalf("WriteReceiverExample: %v", err)
	}
	file, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, buf.Bytes()) {
		t.Errorf("%s differs from WriteReceiverExample; regenerate it:\n  go run ./cmd/cis490 config default --role receiver > deploy/receiver.toml.example", exampleFile)
	}

	var got Receiver
	if err := DecodeFile(exampleFile, &got); err != nil {
		t.Fatalf("DecodeFile(%s): %v", exampleFile, err)
	}
	if want := DefaultReceiver(); got != want {
		t.Errorf("%s decodes to\n%+v\nwant DefaultReceiver()\n%+v", exampleFile, got, want)
	}
	md, err := toml.DecodeFile(exampleFile, &got)
	if err != nil {
		t.Fatal(err)
	}
	known, open := map[string]bool{}, map[string]bool{}
	fieldKeys(reflect.TypeFor[Receiver](), "", known, open)
	for path := range known {
		if !md.IsDefined(strings.Split(path, ".")...) {
			t.Errorf("%s has no key %q", exampleFile, path)
		}
	}
}

func TestWriteExampleNeedsComments(t *testing.T) {
	t.Parallel()
	comments := map[string]string{}
	for k, v := range receiverComments {
		if k != "gc.grace" {
			comments[k] = v
		}
	}
	err := writeExample(&bytes.Buffer{}, "", DefaultReceiver(), comments)
	if err == nil || !strings.Contains(err.Error(), `"gc.grace" has no comment`) {
		t.Errorf("writeExample without a comment for gc.grace = %v, want an error naming it", err)
	}
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	r := DefaultReceiver()
	r.NATS.URL = "nats://recv:s3cret@hub1:4222,nats://hub2:4222,nats://tok@hub3:4222,recv:pw@hub4:4222"
	got := r.Redacted().NATS.URL
	want := "nats://recv:xxxxx@hub1:4222,nats://hub2:4222,nats://xxxxx@hub3:4222,recv:xxxxx@hub4:4222"
	if got != want {
		t.Errorf("Redacted URL = %q, want %q", got, want)
	}
	if r.NATS.URL == got {
		t.Errorf("Redacted changed its receiver")
	}
}
