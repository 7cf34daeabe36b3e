package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// labHostExampleFile is the example publisher configuration shipped in deploy/.
const labHostExampleFile = "../deploy/lab-host.toml.example"

// validPublisher returns the defaults with a host id: a valid configuration.
func validPublisher() Publisher {
	p := DefaultPublisher()
	p.HostID = "lab1"
	return p
}

func TestDefaultPublisher(t *testing.T) {
	t.Parallel()
	err := DefaultPublisher().Validate()
	if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "host_id: required") {
		t.Errorf("DefaultPublisher().Validate() = %v, want ErrInvalid starting %q", err, "host_id: required")
	}
	if err := validPublisher().Validate(); err != nil {
		t.Errorf("DefaultPublisher() with host_id lab1: Validate() = %v, want nil", err)
	}
}

func TestPublisherValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  func(*Publisher)
		want string // "" for valid
	}{
		{"host id missing", func(p *Publisher) { p.HostID = "" }, "host_id: required"},
		{"host id upper case", func(p *Publisher) { p.HostID = "Lab1" }, `host_id = "Lab1": want 1 to 32 characters`},
		{"host id dot", func(p *Publisher) { p.HostID = "lab.1" }, `host_id = "lab.1": want`},
		{"host id dash", func(p *Publisher) { p.HostID = "lab-1" }, ""},
		{"data dir relative", func(p *Publisher) { p.DataDir = "data" }, `data_dir = "data": must be an absolute path`},
		{"data dir empty", func(p *Publisher) { p.DataDir = "" }, `data_dir = "": must be an absolute path`},
		{"data dir absolute", func(p *Publisher) { p.DataDir = "/srv/lab/data" }, ""},
		{"segment min", func(p *Publisher) { p.Ship.SegmentSize = 64 * KiB }, ""},
		{"segment max", func(p *Publisher) { p.Ship.SegmentSize = 1 * GiB }, ""},
		{"segment too small", func(p *Publisher) { p.Ship.SegmentSize = 64*KiB - 1 }, `ship.segment_size = "65535B": must be 64KiB to 1GiB`},
		{"segment too large", func(p *Publisher) { p.Ship.SegmentSize = 2 * GiB }, `ship.segment_size = "2GiB": must be 64KiB to 1GiB`},
		{"settle 0", func(p *Publisher) { p.Ship.Settle = 0 }, ""},
		{"settle negative", func(p *Publisher) { p.Ship.Settle = Duration(-time.Second) }, `ship.settle = "-1s": must not be negative`},
		{"concurrency 1", func(p *Publisher) { p.Ship.Concurrency = 1 }, ""},
		{"concurrency 16", func(p *Publisher) { p.Ship.Concurrency = 16 }, ""},
		{"concurrency 0", func(p *Publisher) { p.Ship.Concurrency = 0 }, "ship.concurrency = 0: must be 1 to 16"},
		{"concurrency 17", func(p *Publisher) { p.Ship.Concurrency = 17 }, "ship.concurrency = 17: must be 1 to 16"},
		{"max rate", func(p *Publisher) { p.Ship.MaxRate = 2 * MiB }, ""},
		{"max rate negative", func(p *Publisher) { p.Ship.MaxRate = -1 }, `ship.max_rate = "-1B": must not be negative`},
		{"verdict timeout 0", func(p *Publisher) { p.Ship.VerdictTimeout = 0 }, `ship.verdict_timeout = "0": must be at least 1s`},
		{"corrupt retries 0", func(p *Publisher) { p.Ship.CorruptRetries = 0 }, ""},
		{"corrupt retries negative", func(p *Publisher) { p.Ship.CorruptRetries = -1 }, "ship.corrupt_retries = -1: must be 0 or more"},
		{"quarantine keep 0", func(p *Publisher) { p.Quarantine.KeepDays = 0 }, ""},
		{"quarantine keep negative", func(p *Publisher) { p.Quarantine.KeepDays = -1 }, "quarantine.keep_days = -1: must be 0 (keep forever) or more"},
		{"cleanup interval 0", func(p *Publisher) { p.Quarantine.CleanupInterval = 0 }, `quarantine.cleanup_interval = "0": must be at least 1s`},
		{"shipped keep 7", func(p *Publisher) { p.Shipped.KeepDays = 7 }, ""},
		{"shipped keep negative", func(p *Publisher) { p.Shipped.KeepDays = -2 }, "shipped.keep_days = -2: must be 0 (keep forever) or more"},
		{"metrics listen", func(p *Publisher) { p.Metrics.Listen = "127.0.0.1:9491" }, ""},
		{"metrics no port", func(p *Publisher) { p.Metrics.Listen = "127.0.0.1" }, `metrics.listen = "127.0.0.1": missing port in address`},
		{"nats url", func(p *Publisher) { p.NATS.URL = "http://hub:4222" }, `nats: url "http://hub:4222": scheme "http"`},
		{"nats key alone", func(p *Publisher) { p.NATS.TLSKey = "/k.pem" }, "nats: tls_key set without tls_cert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := validPublisher()
			tt.set(&p)
			err := p.Validate()
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

func TestPublisherValidateNamesEveryField(t *testing.T) {
	t.Parallel()
	p := DefaultPublisher()
	p.DataDir = "data"
	p.Ship.Concurrency = 0
	p.Shipped.KeepDays = -1
	err := p.Validate()
	want := "host_id: required (this lab host's id, e.g. \"lab1\")\n" +
		"data_dir = \"data\": must be an absolute path\n" +
		"ship.concurrency = 0: must be 1 to 16\n" +
		"shipped.keep_days = -1: must be 0 (keep forever) or more"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %q, want %q", err, want)
	}
}

func TestPublisherDirs(t *testing.T) {
	t.Parallel()
	p := validPublisher()
	p.DataDir = "/srv/cis490/"
	e, o, s, q := p.Dirs()
	got := []string{e, o, s, q}
	want := []string{"/srv/cis490/episodes", "/srv/cis490/outbox", "/srv/cis490/shipped", "/srv/cis490/quarantine"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Dirs() = %q, want %q", got, want)
	}
}

func TestLoadPublisher(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "lab-host.toml", `
host_id = "lab2"
data_dir = "/srv/lab"
[nats]
url = "nats://hub.lab:4222"
[ship]
segment_size = "16MiB"
max_rate = "2MiB"
settle = "1m"
[quarantine]
keep_days = 0
[shipped]
keep_days = 90
`)
	got, err := loadPublisher(path, envOf(map[string]string{
		"CIS490_SHIP_CONCURRENCY":            "4",
		"CIS490_QUARANTINE_CLEANUP_INTERVAL": "6h",
		"CIS490_DATA_DIR":                    "/data/cis490",
		"NATS_CREDS":                         "/etc/cis490/lab2.creds",
	}))
	if err != nil {
		t.Fatalf("loadPublisher: %v", err)
	}
	want := DefaultPublisher()
	want.HostID = "lab2"
	want.DataDir = "/data/cis490"
	want.NATS.URL = "nats://hub.lab:4222"
	want.NATS.Creds = "/etc/cis490/lab2.creds"
	want.Ship.SegmentSize = 16 * MiB
	want.Ship.MaxRate = 2 * MiB
	want.Ship.Settle = Duration(time.Minute)
	want.Ship.Concurrency = 4
	want.Quarantine.KeepDays = 0
	want.Quarantine.CleanupInterval = Duration(6 * time.Hour)
	want.Shipped.KeepDays = 90
	if got != want {
		t.Errorf("loadPublisher =\n%+v\nwant\n%+v", got, want)
	}

	// No file: defaults and environment, host id from the environment.
	got, err = loadPublisher("", envOf(map[string]string{"CIS490_HOST_ID": "lab3"}))
	want = DefaultPublisher()
	want.HostID = "lab3"
	if err != nil || got != want {
		t.Errorf("loadPublisher(\"\") = %+v, %v; want %+v", got, err, want)
	}
}

func TestLoadPublisherErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		env     map[string]string
		want    string
	}{
		{"no host id", "[ship]\nconcurrency = 4\n", nil, "host_id: required"},
		{"bad host id", "host_id = \"LAB 1\"\n", nil, `host_id = "LAB 1": want`},
		{"unknown key", "host_id = \"lab1\"\n[ship]\nconcurency = 4\n", nil,
			`lab-host.toml: unknown key "ship.concurency" (did you mean "ship.concurrency"?)`},
		{"unknown top-level key", "host_id = \"lab1\"\nhostid = \"lab1\"\n", nil,
			`lab-host.toml: unknown key "hostid" (did you mean "host_id"?)`},
		{"receiver table", "host_id = \"lab1\"\n[receive]\nconcurrency = 4\n", nil,
			`lab-host.toml: unknown key "receive"`},
		{"bad size", "host_id = \"lab1\"\n[ship]\nmax_rate = \"2MBps\"\n", nil,
			`ship.max_rate: invalid size "2MBps"`},
		{"bad duration", "host_id = \"lab1\"\n[ship]\nsettle = 30\n", nil,
			`ship.settle: invalid duration "30": missing unit`},
		{"out of range", "host_id = \"lab1\"\n[ship]\nsegment_size = \"4GiB\"\n", nil,
			`ship.segment_size = "4GiB": must be 64KiB to 1GiB`},
		{"bad env", "host_id = \"lab1\"\n", map[string]string{"CIS490_SHIPPED_KEEP_DAYS": "forever"},
			`environment CIS490_SHIPPED_KEEP_DAYS="forever": want an integer of 64 bits`},
		{"env out of range", "host_id = \"lab1\"\n", map[string]string{"CIS490_SHIP_CONCURRENCY": "32"},
			"ship.concurrency = 32: must be 1 to 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, "lab-host.toml", tt.content)
			_, err := loadPublisher(path, envOf(tt.env))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("loadPublisher = %v, want ErrInvalid containing %q", err, tt.want)
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "lab-host.toml")
	if _, err := LoadPublisher(missing); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadPublisher(missing) = %v, want ErrInvalid naming %s", err, missing)
	}
}

// TestLabHostExample keeps deploy/lab-host.toml.example equal to the
// defaults: it is WriteLabHostExample's output, it names every key, it
// decodes, from zero, to DefaultPublisher() with host_id lab1, and it
// passes LoadPublisher.
func TestLabHostExample(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteLabHostExample(&buf); err != nil {
		t.Fatalf("WriteLabHostExample: %v", err)
	}
	file, err := os.ReadFile(labHostExampleFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, buf.Bytes()) {
		t.Errorf("%s differs from WriteLabHostExample; regenerate it:\n  go run ./cmd/cis490 config default --role publisher > deploy/lab-host.toml.example", labHostExampleFile)
	}
	if !strings.Contains(buf.String(), "# REQUIRED, no default: this lab host's id") ||
		!strings.Contains(buf.String(), "\nhost_id = \"lab1\"\n") {
		t.Errorf("WriteLabHostExample = %s, want host_id = \"lab1\" commented as required", buf.String())
	}

	var got Publisher
	if err := DecodeFile(labHostExampleFile, &got); err != nil {
		t.Fatalf("DecodeFile(%s): %v", labHostExampleFile, err)
	}
	if want := validPublisher(); got != want {
		t.Errorf("%s decodes to\n%+v\nwant DefaultPublisher() with host_id lab1\n%+v", labHostExampleFile, got, want)
	}
	if _, err := loadPublisher(labHostExampleFile, envOf(nil)); err != nil {
		t.Errorf("loadPublisher(%s) = %v, want nil", labHostExampleFile, err)
	}
	md, err := toml.DecodeFile(labHostExampleFile, &got)
	if err != nil {
		t.Fatal(err)
	}
	known, open := map[string]bool{}, map[string]bool{}
	fieldKeys(reflect.TypeFor[Publisher](), "", known, open)
	for path := range known {
		if !md.IsDefined(strings.Split(path, ".")...) {
			t.Errorf("%s has no key %q", labHostExampleFile, path)
		}
	}
	if !HasHostID(labHostExampleFile) {
		t.Errorf("HasHostID(%s) = false, want true", labHostExampleFile)
	}
}

func TestWriteExampleWithKeysErrors(t *testing.T) {
	t.Parallel()
	comments := map[string]string{}
	for k, v := range labHostComments {
		if k != "data_dir" {
			comments[k] = v
		}
	}
	err := writeExampleWithKeys(&bytes.Buffer{}, "", validPublisher(), comments)
	if err == nil || !strings.Contains(err.Error(), `key "data_dir" has no comment`) {
		t.Errorf("writeExampleWithKeys without a comment for data_dir = %v, want an error naming it", err)
	}

	type keyAfterTable struct {
		Metrics MetricsSection `toml:"metrics"`
		HostID  string         `toml:"host_id"`
	}
	err = writeExampleWithKeys(&bytes.Buffer{}, "", keyAfterTable{}, labHostComments)
	if err == nil || !strings.Contains(err.Error(), `top-level key "host_id" after table "metrics"`) {
		t.Errorf("writeExampleWithKeys with a key after a table = %v, want an error naming both", err)
	}
}

func TestHasHostID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content string
		want          bool
	}{
		{"publisher", "host_id = \"lab1\"\n[ship]\nconcurrency = 2\n", true},
		{"publisher, bad value", "host_id = 7\n", true},
		{"receiver", "[receive]\nconcurrency = 2\n", false},
		{"host_id in a table", "[nats]\nhost_id = \"lab1\"\n", false},
		{"empty", "", false},
		{"syntax error", "host_id = \"lab1\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, "x.toml", tt.content)
			if got := HasHostID(path); got != tt.want {
				t.Errorf("HasHostID(%q) = %v, want %v", tt.content, got, tt.want)
			}
		})
	}
	if HasHostID(filepath.Join(t.TempDir(), "missing.toml")) {
		t.Errorf("HasHostID(missing file) = true, want false")
	}
}

func TestPublisherRedacted(t *testing.T) {
	t.Parallel()
	p := validPublisher()
	p.NATS.URL = "nats://lab1:s3cret@hub1:4222,nats://hub2:4222"
	got := p.Redacted()
	if want := "nats://lab1:xxxxx@hub1:4222,nats://hub2:4222"; got.NATS.URL != want {
		t.Errorf("Redacted URL = %q, want %q", got.NATS.URL, want)
	}
	if got.HostID != p.HostID || got.Ship != p.Ship {
		t.Errorf("Redacted changed more than the URL: %+v", got)
	}
	if p.NATS.URL == got.NATS.URL {
		t.Errorf("Redacted changed its receiver")
	}
}
