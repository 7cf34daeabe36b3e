package config

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cis490/cis490/natsconn"
)

// Receiver is the configuration of the hub receiver, read from
// receiver.toml. deploy/receiver.toml.example shows every key with its
// default; WriteReceiverExample writes that file.
type Receiver struct {
	// NATS is the connection to the hub. Empty fields fall back to the
	// nats CLI context, then to natsconn.DefaultURL.
	NATS natsconn.Options `toml:"nats"`
	// Receive sets how submissions are fetched, verified and exported.
	Receive ReceiveSection `toml:"receive"`
	// Quarantine sets the retention of CIS490_QUARANTINE.
	Quarantine QuarantineSection `toml:"quarantine"`
	// GC sets the collection of orphan segments.
	GC GCSection `toml:"gc"`
	// Metrics sets the Prometheus endpoint.
	Metrics MetricsSection `toml:"metrics"`
}

// ReceiveSection is the [receive] table.
type ReceiveSection struct {
	// Concurrency is the number of submissions verified at once, 1 to 64.
	Concurrency int `toml:"concurrency"`
	// EarlyReads is the number of episodes read while they upload, ahead
	// of their submission, 0 (none) to 16.
	EarlyReads int `toml:"early_reads"`
	// ArchiveDir, when set, is an absolute directory that every accepted
	// episode is exported to as <host>/<episode-id>/; "" exports nothing.
	ArchiveDir string `toml:"archive_dir"`
	// MaxEpisodeBytes bounds the sum of an episode's file sizes, unpacked.
	MaxEpisodeBytes Size `toml:"max_episode_bytes"`
	// MaxFiles bounds an episode's entries, files and directories.
	MaxFiles int `toml:"max_files"`
	// MaxNameLen bounds a path's length inside an episode, in bytes.
	MaxNameLen int `toml:"max_name_len"`
	// AckWait is how long a submission may be held without progress
	// before the server redelivers it.
	AckWait Duration `toml:"ack_wait"`
	// HostRate is each host's submission budget, in submissions a second
	// over time; a submission over it is dropped unjudged.
	HostRate float64 `toml:"host_rate"`
	// HostBurst is how many submissions a host may send at once before
	// HostRate holds it back.
	HostBurst int `toml:"host_burst"`
	// MaxExpansion bounds an episode's unpacked bytes to this many times
	// its archive's bytes, plus 64 MiB: a decompression bomb is malformed.
	MaxExpansion int64 `toml:"max_expansion"`
	// ArchiveHostQuota bounds the bytes one host's directory of
	// archive_dir may hold; 0 is no quota.
	ArchiveHostQuota Size `toml:"archive_host_quota"`
	// ArchiveMinFree is the free space an export must leave on
	// archive_dir's file system: a size, or a percentage of its size.
	ArchiveMinFree SizeOrPercent `toml:"archive_min_free"`
}

// QuarantineSection is the [quarantine] table: retention of the reject records.
type QuarantineSection struct {
	// MaxAge drops reject records older than this.
	MaxAge Duration `toml:"max_age"`
	// MaxBytes caps the stream; the oldest records go first.
	MaxBytes Size `toml:"max_bytes"`
	// MaxMsgs caps the number of records; -1 is no cap.
	MaxMsgs int64 `toml:"max_msgs"`
}

// GCSection is the [gc] table: orphan segments are segments in a host's
// bucket that no pending or judged submission names.
type GCSection struct {
	// Interval is the time between two collections.
	Interval Duration `toml:"interval"`
	// Grace keeps an orphan segment younger than this: its upload may
	// still be going on. At least a minute.
	Grace Duration `toml:"grace"`
	// AcceptedKeep deletes the segments of an accepted episode once they
	// are older than this; 0 keeps them for ever. The bucket is downstream's
	// copy when there is no archive_dir, so set it only once downstream is
	// done with the bucket (or reads archive_dir).
	AcceptedKeep Duration `toml:"accepted_keep"`
}

// MetricsSection is the [metrics] table.
type MetricsSection struct {
	// Listen is the host:port serving /metrics; "" serves none.
	Listen string `toml:"listen"`
}

// Bounds checked by Validate.
const (
	MaxConcurrency = 64
	// MaxEarlyReads bounds receive.early_reads.
	MaxEarlyReads = 16
	MaxNameLenMax = 4096
	MinGrace      = time.Minute
)

// DefaultReceiver returns the receiver's defaults.
func DefaultReceiver() Receiver {
	return Receiver{
		Receive: ReceiveSection{
			Concurrency:     4,
			EarlyReads:      2,
			MaxEpisodeBytes: 64 * GiB,
			MaxFiles:        100_000,
			MaxNameLen:      1024,
			AckWait:         Duration(2 * time.Minute),
			HostRate:        20,
			HostBurst:       2000,
			MaxExpansion:    200,
			ArchiveMinFree:  SizeOrPercent{Percent: 5},
		},
		Quarantine: QuarantineSection{
			MaxAge:   Duration(30 * Day),
			MaxBytes: 1 * GiB,
			MaxMsgs:  -1,
		},
		GC: GCSection{
			Interval: Duration(10 * time.Minute),
			Grace:    Duration(24 * time.Hour),
		},
	}
}

// LoadReceiver returns the defaults, overridden by the file at path (when
// path is not ""), then by the environment (EnvOverride), and validated.
// Every error wraps ErrInvalid and names the file, key, variable or field.
func LoadReceiver(path string) (Receiver, error) {
	return loadReceiver(path, os.Getenv)
}

func loadReceiver(path string, getenv func(string) string) (Receiver, error) {
	r := DefaultReceiver()
	if path != "" {
		if err := DecodeFile(path, &r); err != nil {
			return Receiver{}, err
		}
	}
	if err := EnvOverride(&r, getenv); err != nil {
		return Receiver{}, err
	}
	if err := r.Validate(); err != nil {
		return Receiver{}, err
	}
	return r, nil
}

// Validate returns nil, or an error wrapping ErrInvalid that names every
// field out of range, one per line, as "receive.concurrency = 0: must be 1 to 64".
func (r Receiver) Validate() error {
	var errs []error
	bad := func(key string, v any, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s = %s: %s", key, quoteValue(v), fmt.Sprintf(format, a...)))
	}
	if err := r.NATS.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("nats: %w", err))
	}

	rc := r.Receive
	if rc.Concurrency < 1 || rc.Concurrency > MaxConcurrency {
		bad("receive.concurrency", rc.Concurrency, "must be 1 to %d", MaxConcurrency)
	}
	if rc.EarlyReads < 0 || rc.EarlyReads > MaxEarlyReads {
		bad("receive.early_reads", rc.EarlyReads, "must be 0 (none) to %d", MaxEarlyReads)
	}
	if rc.ArchiveDir != "" && !filepath.IsAbs(rc.ArchiveDir) {
		bad("receive.archive_dir", rc.ArchiveDir, "must be an absolute path, or \"\" for no export")
	}
	if rc.MaxEpisodeBytes <= 0 {
		bad("receive.max_episode_bytes", rc.MaxEpisodeBytes, "must be more than 0")
	}
	if rc.MaxFiles < 1 {
		bad("receive.max_files", rc.MaxFiles, "must be at least 1")
	}
	if rc.MaxNameLen < 1 || rc.MaxNameLen > MaxNameLenMax {
		bad("receive.max_name_len", rc.MaxNameLen, "must be 1 to %d", MaxNameLenMax)
	}
	if rc.AckWait < Duration(time.Second) {
		bad("receive.ack_wait", rc.AckWait, "must be at least 1s")
	}
	if !(rc.HostRate > 0) || math.IsInf(rc.HostRate, 0) {
		bad("receive.host_rate", rc.HostRate, "must be a number of submissions a second above 0")
	}
	if rc.HostBurst < 1 {
		bad("receive.host_burst", rc.HostBurst, "must be at least 1")
	}
	if rc.MaxExpansion < 1 {
		bad("receive.max_expansion", rc.MaxExpansion, "must be at least 1")
	}
	if rc.ArchiveHostQuota < 0 {
		bad("receive.archive_host_quota", rc.ArchiveHostQuota, "must be 0 (no quota) or more")
	}

	q := r.Quarantine
	if q.MaxAge <= 0 {
		bad("quarantine.max_age", q.MaxAge, "must be more than 0")
	}
	if q.MaxBytes <= 0 {
		bad("quarantine.max_bytes", q.MaxBytes, "must be more than 0")
	}
	if q.MaxMsgs < 1 && q.MaxMsgs != -1 {
		bad("quarantine.max_msgs", q.MaxMsgs, "must be at least 1, or -1 for no cap")
	}

	if r.GC.Interval < Duration(time.Second) {
		bad("gc.interval", r.GC.Interval, "must be at least 1s")
	}
	if r.GC.Grace < Duration(MinGrace) {
		bad("gc.grace", r.GC.Grace, "must be at least %s", Duration(MinGrace))
	}
	if k := r.GC.AcceptedKeep; k != 0 && k < r.GC.Grace {
		bad("gc.accepted_keep", k, "must be 0 (keep for ever) or at least gc.grace (%s)", r.GC.Grace)
	}

	if l := r.Metrics.Listen; l != "" {
		if err := checkListen(l); err != nil {
			bad("metrics.listen", l, "%v (want host:port, or \"\" for no metrics)", err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &invalidError{errors.Join(errs...)}
}

// quoteValue formats v as it is written in TOML: strings, sizes and
// durations quoted, numbers bare.
func quoteValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case fmt.Stringer:
		return strconv.Quote(v.String())
	default:
		return fmt.Sprint(v)
	}
}

// checkListen checks a host:port listen address; the port may be 0.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return errors.New(ae.Err)
		}
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// Redacted returns r with the secrets in its NATS URLs, a password or a
// token, replaced by "xxxxx", for printing.
func (r Receiver) Redacted() Receiver {
	parts := strings.Split(r.NATS.URL, ",")
	for i, s := range parts {
		s = strings.TrimSpace(s)
		scheme := strings.Contains(s, "://")
		if !scheme {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil || u.User == nil {
			continue
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else {
			u.User = url.User("xxxxx") // a token
		}
		parts[i] = u.String()
		if !scheme {
			parts[i] = strings.TrimPrefix(parts[i], "nats://")
		}
	}
	r.NATS.URL = strings.Join(parts, ",")
	return r
}

// receiverComments holds the one-line comment of every table and key of
// Receiver, for WriteReceiverExample.
var receiverComments = map[string]string{
	"nats":          "Connection to the hub. Empty keys fall back to the nats CLI context (nats context select).",
	"nats.url":      "server URL(s), comma separated; \"\": the context's, else nats://127.0.0.1:4222",
	"nats.creds":    "credentials file (user JWT and nkey seed)",
	"nats.context":  "nats CLI context name, or the path of its .json file",
	"nats.tls_cert": "client certificate for mutual TLS (set with tls_key)",
	"nats.tls_key":  "client private key for mutual TLS (set with tls_cert)",
	"nats.tls_ca":   "CA certificate that signed the server's certificate",
	"nats.name":     "connection name shown by the server; \"\": cis490",

	"receive":                   "Fetching, verifying and exporting submissions.",
	"receive.concurrency":       "submissions verified at once, 1 to 64",
	"receive.early_reads":       "episodes read while they upload, ahead of their submission, 0 (none) to 16; each holds about what a validation does",
	"receive.archive_dir":       "absolute directory accepted episodes are exported to as <host>/<episode-id>/; \"\": none",
	"receive.max_episode_bytes": "largest episode, the sum of its file sizes unpacked; larger is malformed",
	"receive.max_files":         "most entries (files and directories) in an episode; more is malformed",
	"receive.max_name_len":      "longest path inside an episode, in bytes, 1 to 4096",
	"receive.ack_wait":          "a submission held this long without progress is redelivered",
	"receive.host_rate": "each host's submission budget, submissions a second over time; one over it is dropped unjudged " +
		"(recorded once a burst as cis490.nack.<host>.rate-limited) and its publisher submits it again after its verdict_timeout",
	"receive.host_burst": "submissions a host may send at once before host_rate holds it back; the default takes 1000 episodes queued at once",
	"receive.max_expansion": "an episode may unpack to at most this many times its archive's bytes, plus 64MiB; " +
		"more is malformed (a decompression bomb), found from the tar headers before the bytes are inflated",
	"receive.archive_host_quota": "most bytes one host's directory of archive_dir may hold; an export past it waits (retried) " +
		"until old exports are moved or the quota raised, an episode larger than it is malformed; 0: no quota",
	"receive.archive_min_free": "free space an export must leave on archive_dir's file system, \"5%\" of its size or a size " +
		"such as \"20GiB\"; an export that would leave less waits (retried) until space is freed",

	"quarantine":           "Retention of the reject records in CIS490_QUARANTINE.",
	"quarantine.max_age":   "records older than this are dropped",
	"quarantine.max_bytes": "the stream's cap; the oldest records go first",
	"quarantine.max_msgs":  "most records kept; -1: no cap",

	"gc":          "Collection of orphan segments (uploaded, but named by no submission) and, with accepted_keep, of old accepted ones.",
	"gc.interval": "time between two collections",
	"gc.grace":    "orphans younger than this are kept, their upload may be running; at least 1m",
	"gc.accepted_keep": "delete an accepted episode's segments once older than this, freeing its host's quota; " +
		"0: keep for ever (the bucket fills up). Downstream reads the bucket or archive_dir: set it past their need",

	"metrics":        "Prometheus metrics.",
	"metrics.listen": "host:port serving /metrics, e.g. \"127.0.0.1:9490\"; \"\": off",
}

// receiverHeader starts the example receiver configuration.
const receiverHeader = `# cis490 receiver configuration (receiver.toml).
#
# Every key is shown with its default: a key left out keeps its default, an
# unknown key is an error. Check a file with
#   cis490 config check --config receiver.toml
# Sizes: "64MiB", "1GiB" (1024-based), "10GB" (1000-based), or plain bytes.
# Durations: "30s", "10m", "1h30m", "30d", "2w".
# The environment overrides the file: CIS490_<TABLE>_<KEY>, for example
# CIS490_RECEIVE_CONCURRENCY=4; NATS_URL, NATS_CREDS, NATS_CONTEXT,
# NATS_CERT, NATS_KEY and NATS_CA override [nats].
#
# Installed as /etc/cis490/receiver.toml by deploy/install-hub.sh, which
# never overwrites it. Against the hub's TLS configuration, set under [nats]
# url = "tls://<hub>:4222" (a name in the hub's certificate), tls_cert,
# tls_key and tls_ca: /etc/cis490/tls/receiver.pem, receiver-key.pem and
# ca.pem (docs/deploy.md). The cis490-receiver unit may write only under
# /var/lib/cis490: an archive_dir elsewhere needs ReadWritePaths=<dir> in a
# drop-in (systemctl edit cis490-receiver).
#
# Written by: cis490 config default --role receiver
`

// WriteReceiverExample writes the default receiver configuration as TOML,
// every key with a one-line comment. deploy/receiver.toml.example is its output.
func WriteReceiverExample(w io.Writer) error {
	return writeExample(w, receiverHeader, DefaultReceiver(), receiverComments)
}
