package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/cis490/cis490/natsconn"
	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

// Publisher is the configuration of the lab-host publisher, read from
// lab-host.toml. deploy/lab-host.toml.example shows every key with its
// default; WriteLabHostExample writes that file. Every key has a default
// except host_id.
type Publisher struct {
	// HostID names this lab host in every bucket, subject and key; it is
	// required and must pass subjects.ValidateHost.
	HostID string `toml:"host_id"`
	// DataDir is the absolute directory that holds episodes/, outbox/,
	// shipped/ and quarantine/; see Dirs.
	DataDir string `toml:"data_dir"`
	// NATS is the connection to the hub. Empty fields fall back to the
	// nats CLI context, then to natsconn.DefaultURL.
	NATS natsconn.Options `toml:"nats"`
	// Ship sets how episodes are packed, uploaded and submitted.
	Ship ShipSection `toml:"ship"`
	// Quarantine sets the clean-up of data_dir/quarantine/.
	Quarantine PublisherQuarantineSection `toml:"quarantine"`
	// Shipped sets the clean-up of data_dir/shipped/.
	Shipped ShippedSection `toml:"shipped"`
	// Metrics sets the Prometheus endpoint.
	Metrics MetricsSection `toml:"metrics"`
}

// ShipSection is the [ship] table.
type ShipSection struct {
	// SegmentSize is the size of the pieces an episode's archive is cut
	// into, objectstore.MinSegmentSize to objectstore.MaxSegmentSize.
	SegmentSize Size `toml:"segment_size"`
	// Settle is how long an episode directory must be quiet, after its
	// meta.json appeared, before it is shipped; 0 ships it at once.
	Settle Duration `toml:"settle"`
	// Concurrency is the number of episodes in flight at once, 1 to 16.
	Concurrency int `toml:"concurrency"`
	// MaxRate caps the upload, in bytes per second; 0 is unlimited.
	MaxRate Size `toml:"max_rate"`
	// VerdictTimeout is how long a submission waits for its verdict
	// before it is submitted again.
	VerdictTimeout Duration `toml:"verdict_timeout"`
	// CorruptRetries is how many times an episode the hub found corrupt is
	// uploaded again before it is quarantined; 0 quarantines it at once.
	CorruptRetries int `toml:"corrupt_retries"`
	// ScanInterval is the time between two scans of episodes/; each scan
	// is a pass of the systemd watchdog.
	ScanInterval Duration `toml:"scan_interval"`
}

// PublisherQuarantineSection is the [quarantine] table of lab-host.toml:
// removal of old entries of data_dir/quarantine/.
type PublisherQuarantineSection struct {
	// KeepDays removes an entry this many days after it was quarantined;
	// 0 keeps every entry forever.
	KeepDays int `toml:"keep_days"`
	// CleanupInterval is the least time between two clean-ups of
	// quarantine/ and shipped/, so that the publisher's scan loop does not
	// stat the whole tree on every pass.
	CleanupInterval Duration `toml:"cleanup_interval"`
}

// ShippedSection is the [shipped] table: removal of old entries of
// data_dir/shipped/, as often as quarantine.cleanup_interval allows.
type ShippedSection struct {
	// KeepDays removes an entry this many days after it was shipped; 0
	// keeps every entry forever.
	KeepDays int `toml:"keep_days"`
}

// Bounds and defaults of the publisher checked by Validate.
const (
	// MaxShipConcurrency bounds ship.concurrency.
	MaxShipConcurrency = 16
	// DefaultDataDir is the default data_dir.
	DefaultDataDir = "/var/lib/cis490"
)

// DefaultPublisher returns the publisher's defaults. HostID is empty: it has
// no default, so DefaultPublisher().Validate() fails until it is set.
func DefaultPublisher() Publisher {
	return Publisher{
		DataDir: DefaultDataDir,
		Ship: ShipSection{
			SegmentSize:    objectstore.DefaultSegmentSize,
			Settle:         Duration(30 * time.Second),
			Concurrency:    8, // workers.DefaultConcurrency
			VerdictTimeout: Duration(10 * time.Minute),
			CorruptRetries: 3,
			ScanInterval:   Duration(5 * time.Second),
		},
		Quarantine: PublisherQuarantineSection{
			KeepDays:        30,
			CleanupInterval: Duration(time.Hour),
		},
	}
}

// LoadPublisher returns the defaults, overridden by the file at path (when
// path is not ""), then by the environment (EnvOverride: CIS490_HOST_ID,
// CIS490_SHIP_CONCURRENCY, NATS_URL, ...), and validated. Every error wraps
// ErrInvalid and names the file, key, variable or field.
func LoadPublisher(path string) (Publisher, error) {
	return loadPublisher(path, os.Getenv)
}

func loadPublisher(path string, getenv func(string) string) (Publisher, error) {
	p := DefaultPublisher()
	if path != "" {
		if err := DecodeFile(path, &p); err != nil {
			return Publisher{}, err
		}
	}
	if err := EnvOverride(&p, getenv); err != nil {
		return Publisher{}, err
	}
	if err := p.Validate(); err != nil {
		return Publisher{}, err
	}
	return p, nil
}

// Validate returns nil, or an error wrapping ErrInvalid that names every
// field out of range, one per line, as "ship.concurrency = 0: must be 1 to
// 16"; a missing host id is "host_id: required".
func (p Publisher) Validate() error {
	var errs []error
	bad := func(key string, v any, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s = %s: %s", key, quoteValue(v), fmt.Sprintf(format, a...)))
	}
	if p.HostID == "" {
		errs = append(errs, errors.New("host_id: required (this lab host's id, e.g. \"lab1\")"))
	} else if err := subjects.ValidateHost(p.HostID); err != nil {
		bad("host_id", p.HostID, "want %s", subjects.HostRule)
	}
	if !filepath.IsAbs(p.DataDir) {
		bad("data_dir", p.DataDir, "must be an absolute path")
	}
	if err := p.NATS.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("nats: %w", err))
	}

	s := p.Ship
	if s.SegmentSize < objectstore.MinSegmentSize || s.SegmentSize > objectstore.MaxSegmentSize {
		bad("ship.segment_size", s.SegmentSize, "must be %s to %s",
			Size(objectstore.MinSegmentSize), Size(objectstore.MaxSegmentSize))
	}
	if s.Settle < 0 {
		bad("ship.settle", s.Settle, "must not be negative")
	}
	if s.Concurrency < 1 || s.Concurrency > MaxShipConcurrency {
		bad("ship.concurrency", s.Concurrency, "must be 1 to %d", MaxShipConcurrency)
	}
	if s.MaxRate < 0 {
		bad("ship.max_rate", s.MaxRate, "must not be negative (0: unlimited)")
	}
	if s.VerdictTimeout < Duration(time.Second) {
		bad("ship.verdict_timeout", s.VerdictTimeout, "must be at least 1s")
	}
	if s.CorruptRetries < 0 {
		bad("ship.corrupt_retries", s.CorruptRetries, "must be 0 or more")
	}
	if s.ScanInterval.Duration() < 10*time.Millisecond {
		bad("ship.scan_interval", s.ScanInterval, "must be at least 10ms")
	}

	if p.Quarantine.KeepDays < 0 {
		bad("quarantine.keep_days", p.Quarantine.KeepDays, "must be 0 (keep forever) or more")
	}
	if p.Quarantine.CleanupInterval < Duration(time.Second) {
		bad("quarantine.cleanup_interval", p.Quarantine.CleanupInterval, "must be at least 1s")
	}
	if p.Shipped.KeepDays < 0 {
		bad("shipped.keep_days", p.Shipped.KeepDays, "must be 0 (keep forever) or more")
	}

	if l := p.Metrics.Listen; l != "" {
		if err := checkListen(l); err != nil {
			bad("metrics.listen", l, "%v (want host:port, or \"\" for no metrics)", err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &invalidError{errors.Join(errs...)}
}

// Dirs returns the publisher's state directories under DataDir: episodes/
// (written by the recorder), outbox/ (journals), shipped/ and quarantine/.
func (p Publisher) Dirs() (episodes, outbox, shipped, quarantine string) {
	return filepath.Join(p.DataDir, "episodes"),
		filepath.Join(p.DataDir, "outbox"),
		filepath.Join(p.DataDir, "shipped"),
		filepath.Join(p.DataDir, "quarantine")
}

// Redacted returns p with the secrets in its NATS URLs, a password or a
// token, replaced by "xxxxx", for printing.
func (p Publisher) Redacted() Publisher {
	p.NATS = Receiver{NATS: p.NATS}.Redacted().NATS
	return p
}

// ExampleHostID is the host_id WriteLabHostExample shows.
const ExampleHostID = "lab1"

// labHostComments holds the one-line comment of every key and table of
// Publisher, for WriteLabHostExample.
var labHostComments = map[string]string{
	"host_id":  "REQUIRED, no default: this lab host's id, 1 to 32 of a-z, 0-9 and '-'; names its bucket and subjects",
	"data_dir": "absolute directory holding episodes/ (the recorder's), outbox/, shipped/ and quarantine/",

	"nats":          "Connection to the hub. Empty keys fall back to the nats CLI context (nats context select).",
	"nats.url":      "server URL(s), comma separated; \"\": the context's, else nats://127.0.0.1:4222",
	"nats.creds":    "credentials file (user JWT and nkey seed)",
	"nats.context":  "nats CLI context name, or the path of its .json file",
	"nats.tls_cert": "client certificate for mutual TLS (set with tls_key)",
	"nats.tls_key":  "client private key for mutual TLS (set with tls_cert)",
	"nats.tls_ca":   "CA certificate that signed the server's certificate",
	"nats.name":     "connection name shown by the server; \"\": cis490",

	"ship":                 "Packing, uploading and submitting episodes.",
	"ship.segment_size":    "an episode's archive is uploaded in pieces of this size, 64KiB to 1GiB",
	"ship.settle":          "an episode directory must be quiet this long after meta.json appears; 0: ship at once",
	"ship.concurrency":     "episodes in flight at once, 1 to 16 (of them, at most 2 over 16 MiB uploading)",
	"ship.max_rate":        "upload cap in bytes per second, e.g. \"2MiB\"; 0: unlimited",
	"ship.verdict_timeout": "a submission with no verdict after this long is submitted again",
	"ship.corrupt_retries": "uploads again of an episode the hub found corrupt, before it is quarantined",
	"ship.scan_interval":   "time between two scans of episodes/; each scan pets the systemd watchdog",

	"quarantine":                  "Clean-up of data_dir/quarantine/.",
	"quarantine.keep_days":        "entries are removed this many days after they were quarantined; 0: keep forever",
	"quarantine.cleanup_interval": "least time between two clean-ups of quarantine/ and shipped/",

	"shipped":           "Clean-up of data_dir/shipped/.",
	"shipped.keep_days": "entries are removed this many days after they were shipped; 0: keep forever",

	"metrics":        "Prometheus metrics.",
	"metrics.listen": "host:port serving /metrics, e.g. \"127.0.0.1:9491\"; \"\": off",
}

// labHostHeader starts the example publisher configuration.
const labHostHeader = `# cis490 lab-host publisher configuration (lab-host.toml).
#
# Every key is shown with its default, except host_id, which has none and
# must be set: a key left out keeps its default, an unknown key is an error.
# Check a file with
#   cis490 config check --config lab-host.toml
# (a file with a top-level host_id is taken as --role publisher).
# Sizes: "64MiB", "1GiB" (1024-based), "10GB" (1000-based), or plain bytes.
# Durations: "30s", "10m", "1h30m", "30d", "2w".
# The environment overrides the file: CIS490_<TABLE>_<KEY>, for example
# CIS490_SHIP_CONCURRENCY=4, and CIS490_HOST_ID, CIS490_DATA_DIR; NATS_URL,
# NATS_CREDS, NATS_CONTEXT, NATS_CERT, NATS_KEY and NATS_CA override [nats].
#
# Installed as /etc/cis490/lab-host.toml by deploy/install-lab-host.sh,
# which never overwrites it. On a lab host, set host_id and, under [nats],
# url = "tls://<hub>:4222" (a name in the hub's certificate), tls_cert,
# tls_key and tls_ca, such as /etc/cis490/tls/lab1.pem, lab1-key.pem and
# ca.pem (docs/deploy.md). The cis490-publisher unit may write only under
# /var/lib/cis490: another data_dir needs ReadWritePaths=<data_dir> in a
# drop-in (systemctl edit cis490-publisher).
#
# Written by: cis490 config default --role publisher

`

// WriteLabHostExample writes the default publisher configuration as TOML,
// every key with a one-line comment, and host_id set to ExampleHostID.
// deploy/lab-host.toml.example is its output.
func WriteLabHostExample(w io.Writer) error {
	p := DefaultPublisher()
	p.HostID = ExampleHostID
	return writeExampleWithKeys(w, labHostHeader, p, labHostComments)
}

// writeExampleWithKeys is writeExample for a struct that starts with
// top-level keys: those are written after header, each with its comment,
// and the tables that follow go to writeExample. TOML requires top-level
// keys to come before the first table, so a key after a table is an error.
func writeExampleWithKeys(w io.Writer, header string, v any, comments map[string]string) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(header)
	rv := reflect.ValueOf(v)
	t := rv.Type()
	var tables []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		key := tomlName(f)
		if key == "" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
			tables = append(tables, f)
			continue
		}
		if len(tables) > 0 {
			return fmt.Errorf("write example: top-level key %q after table %q", key, tomlName(tables[len(tables)-1]))
		}
		c, ok := comments[key]
		if !ok {
			return fmt.Errorf("write example: key %q has no comment", key)
		}
		line, err := toml.Marshal(map[string]any{key: rv.Field(i).Interface()})
		if err != nil {
			return fmt.Errorf("write example: key %q: %w", key, err)
		}
		fmt.Fprintf(bw, "# %s\n%s", c, line)
	}
	// The same value without its top-level keys, for writeExample.
	onlyTables := reflect.New(reflect.StructOf(tables)).Elem()
	for i, f := range tables {
		onlyTables.Field(i).Set(rv.FieldByIndex(f.Index))
	}
	if err := writeExample(bw, "", onlyTables.Interface(), comments); err != nil {
		return err
	}
	return bw.Flush()
}

// HasHostID reports whether the TOML file at path has a top-level host_id
// key, which only the publisher's configuration (lab-host.toml) has. A file
// that cannot be read or parsed reports false: the loader then reports why.
func HasHostID(path string) bool {
	var top map[string]any
	if _, err := toml.DecodeFile(path, &top); err != nil {
		return false
	}
	_, ok := top["host_id"]
	return ok
}
