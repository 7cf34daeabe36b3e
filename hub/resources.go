package hub

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/subjects"
)

// Sizes used by the defaults.
const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// MinSubmissionsDuplicates is the shortest de-duplication window design.md
// allows on the submissions stream: a publisher retrying a submit after a
// link drop must hit the window.
const MinSubmissionsDuplicates = 10 * time.Minute

// maxReplicas is the largest replica count JetStream accepts.
const maxReplicas = 5

// ResourceOptions are the knobs of every JetStream resource the hub owns.
// The config builders below are the only place they become server
// configuration. Start from DefaultResourceOptions and change fields.
type ResourceOptions struct {
	// Replicas of every stream, bucket and the consumer: 1 on a single hub, 3 on a cluster.
	Replicas int
	// Storage of every stream and bucket.
	Storage jetstream.StorageType

	// SubmissionsDuplicates is the de-duplication window of CIS490_SUBMISSIONS
	// (at least MinSubmissionsDuplicates).
	SubmissionsDuplicates time.Duration
	// SubmissionsMaxMsgSize caps one manifest, in bytes.
	SubmissionsMaxMsgSize int32
	// SubmissionsPerHost caps the submissions waiting on one host's
	// subject: past it, that host's next submission is refused by the
	// server at once (DiscardNewPerSubject), and no other host's. A
	// publisher has at most its concurrency (8 by default) in flight.
	SubmissionsPerHost int64

	// VerdictHistory is the number of revisions CIS490_VERDICTS keeps per key (1 to 64).
	VerdictHistory uint8
	// VerdictMaxValueSize caps one verdict, in bytes. The receiver bounds
	// every field that comes from a lab host, so a verdict is a few hundred
	// bytes; the cap makes any other writer's mistake an error, not growth.
	VerdictMaxValueSize int32
	// VerdictMaxBytes caps CIS490_VERDICTS (-1 unlimited): new verdicts are
	// refused past it, so cis490 doctor --hub warns at 80%.
	VerdictMaxBytes int64

	// QuarantineMaxAge drops reject records older than this (0 keeps them forever).
	QuarantineMaxAge time.Duration
	// QuarantineMaxBytes caps CIS490_QUARANTINE; the oldest records go first (-1 unlimited).
	QuarantineMaxBytes int64
	// QuarantineMaxMsgs caps the number of reject records (-1 unlimited).
	QuarantineMaxMsgs int64
	// QuarantinePerSubject caps the records kept per host and reason
	// (cis490.nack.<host>.<reason>), the oldest of that host and reason
	// going first: a host flooding rejects evicts only its own records.
	QuarantinePerSubject int64
	// RecordMaxMsgSize caps one reject record of CIS490_QUARANTINE, in
	// bytes; the receiver bounds each (objectstore.Record.Bound). An
	// accepted record of CIS490_ACCEPTED holds the whole manifest, so its
	// cap is SubmissionsMaxMsgSize plus this.
	RecordMaxMsgSize int32

	// AcceptedMaxAge drops announcements older than this (0 keeps them forever).
	AcceptedMaxAge time.Duration
	// AcceptedMaxBytes caps CIS490_ACCEPTED; the oldest announcements go first (-1 unlimited).
	AcceptedMaxBytes int64
	// AcceptedPerHost caps the announcements kept per host, the oldest of
	// that host going first (-1 unlimited).
	AcceptedPerHost int64

	// HostQuota is the MaxBytes of each EPISODES_<HOST> bucket (-1 unlimited).
	// On a single server every quota is reserved against the JetStream
	// max_file_store up front, so hosts × HostQuota must fit in it.
	HostQuota int64

	// RecordDuplicates is the de-duplication window of CIS490_QUARANTINE and
	// CIS490_ACCEPTED. A receiver that dies between publishing a record and
	// acknowledging its submission publishes the record again when the
	// submission is redelivered; within this window the stream drops the
	// second copy. It must be longer than any outage the receivers may have.
	RecordDuplicates time.Duration

	// ReceiverAckWait is how long a receiver may hold a submission before it is redelivered.
	ReceiverAckWait time.Duration
	// ReceiverMaxAckPending caps submissions in flight across all receivers (-1 unlimited).
	ReceiverMaxAckPending int
}

// DefaultResourceOptions returns the options of a single-node hub.
func DefaultResourceOptions() ResourceOptions {
	return ResourceOptions{
		Replicas:              1,
		Storage:               jetstream.FileStorage,
		SubmissionsDuplicates: 20 * time.Minute,
		SubmissionsMaxMsgSize: 1 * mib,
		SubmissionsPerHost:    100,
		VerdictHistory:        5,
		VerdictMaxValueSize:   16 * kib,
		VerdictMaxBytes:       1 * gib,
		QuarantineMaxAge:      30 * 24 * time.Hour,
		QuarantineMaxBytes:    1 * gib,
		QuarantineMaxMsgs:     -1,
		QuarantinePerSubject:  1000,
		RecordMaxMsgSize:      64 * kib,
		AcceptedMaxAge:        0,
		AcceptedMaxBytes:      1 * gib,
		AcceptedPerHost:       100_000,
		HostQuota:             10 * gib,
		RecordDuplicates:      24 * time.Hour,
		ReceiverAckWait:       2 * time.Minute,
		ReceiverMaxAckPending: 1000,
	}
}

// Validate returns an error naming the first field that the server would
// reject or that breaks design.md.
func (o ResourceOptions) Validate() error {
	switch {
	case o.Replicas < 1 || o.Replicas > maxReplicas:
		return fmt.Errorf("resource options: Replicas %d: want 1 to %d", o.Replicas, maxReplicas)
	case o.Storage != jetstream.FileStorage && o.Storage != jetstream.MemoryStorage:
		return fmt.Errorf("resource options: Storage %v: want file or memory", o.Storage)
	case o.SubmissionsDuplicates < MinSubmissionsDuplicates:
		return fmt.Errorf("resource options: SubmissionsDuplicates %s: want at least %s", o.SubmissionsDuplicates, MinSubmissionsDuplicates)
	case o.SubmissionsMaxMsgSize <= 0:
		return fmt.Errorf("resource options: SubmissionsMaxMsgSize %d: want > 0", o.SubmissionsMaxMsgSize)
	case o.SubmissionsPerHost <= 0:
		return fmt.Errorf("resource options: SubmissionsPerHost %d: want > 0", o.SubmissionsPerHost)
	case o.VerdictMaxValueSize <= 0:
		return fmt.Errorf("resource options: VerdictMaxValueSize %d: want > 0", o.VerdictMaxValueSize)
	case !limit(o.VerdictMaxBytes):
		return fmt.Errorf("resource options: VerdictMaxBytes %d: want > 0 or -1", o.VerdictMaxBytes)
	case o.QuarantinePerSubject <= 0:
		return fmt.Errorf("resource options: QuarantinePerSubject %d: want > 0", o.QuarantinePerSubject)
	case o.RecordMaxMsgSize <= 0:
		return fmt.Errorf("resource options: RecordMaxMsgSize %d: want > 0", o.RecordMaxMsgSize)
	case !limit(o.AcceptedPerHost):
		return fmt.Errorf("resource options: AcceptedPerHost %d: want > 0 or -1", o.AcceptedPerHost)
	case o.VerdictHistory < 1 || o.VerdictHistory > jetstream.KeyValueMaxHistory:
		return fmt.Errorf("resource options: VerdictHistory %d: want 1 to %d", o.VerdictHistory, jetstream.KeyValueMaxHistory)
	case o.QuarantineMaxAge < 0:
		return fmt.Errorf("resource options: QuarantineMaxAge %s: want >= 0", o.QuarantineMaxAge)
	case !limit(o.QuarantineMaxBytes):
		return fmt.Errorf("resource options: QuarantineMaxBytes %d: want > 0 or -1", o.QuarantineMaxBytes)
	case !limit(o.QuarantineMaxMsgs):
		return fmt.Errorf("resource options: QuarantineMaxMsgs %d: want > 0 or -1", o.QuarantineMaxMsgs)
	case o.AcceptedMaxAge < 0:
		return fmt.Errorf("resource options: AcceptedMaxAge %s: want >= 0", o.AcceptedMaxAge)
	case !limit(o.AcceptedMaxBytes):
		return fmt.Errorf("resource options: AcceptedMaxBytes %d: want > 0 or -1", o.AcceptedMaxBytes)
	case !limit(o.HostQuota):
		return fmt.Errorf("resource options: HostQuota %d: want > 0 or -1", o.HostQuota)
	case o.ReceiverAckWait <= 0:
		return fmt.Errorf("resource options: ReceiverAckWait %s: want > 0", o.ReceiverAckWait)
	case !limit(int64(o.ReceiverMaxAckPending)):
		return fmt.Errorf("resource options: ReceiverMaxAckPending %d: want > 0 or -1", o.ReceiverMaxAckPending)
	}
	return nil
}

// limit reports whether n is a usable JetStream limit: positive, or -1 for none.
func limit(n int64) bool { return n > 0 || n == -1 }

// SubmissionsConfig is CIS490_SUBMISSIONS: a work queue of manifests on
// cis490.submit.<host>, kept until the receiver acks them. Each host's
// subject holds at most SubmissionsPerHost: the server refuses that host's
// next one (DiscardNewPerSubject), so the stream holds at most hosts ×
// SubmissionsPerHost × SubmissionsMaxMsgSize bytes, and a host flooding
// it delays the others by at most its own SubmissionsPerHost submissions.
func SubmissionsConfig(o ResourceOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:                 subjects.SubmissionsStream,
		Description:          "cis490 episode manifests submitted by lab hosts, one per attempt; work queue of the receiver",
		Subjects:             []string{subjects.SubmitAll},
		Retention:            jetstream.WorkQueuePolicy,
		Discard:              jetstream.DiscardNew,
		DiscardNewPerSubject: true,
		MaxMsgsPerSubject:    o.SubmissionsPerHost,
		MaxMsgs:              -1,
		MaxBytes:             -1,
		MaxMsgSize:           o.SubmissionsMaxMsgSize,
		Duplicates:           o.SubmissionsDuplicates,
		Storage:              o.Storage,
		Replicas:             o.Replicas,
	}
}

// QuarantineConfig is CIS490_QUARANTINE: one reject record per rejected
// submission on cis490.nack.<host>.<reason>, dropped oldest first.
func QuarantineConfig(o ResourceOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              subjects.QuarantineStream,
		Description:       "cis490 reject records written by the receiver, read by cis490 doctor",
		Subjects:          []string{subjects.NackAll},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxAge:            o.QuarantineMaxAge,
		MaxBytes:          o.QuarantineMaxBytes,
		MaxMsgs:           o.QuarantineMaxMsgs,
		MaxMsgsPerSubject: o.QuarantinePerSubject,
		MaxMsgSize:        o.RecordMaxMsgSize,
		Duplicates:        min(o.RecordDuplicates, maxAgeOr(o.QuarantineMaxAge)),
		Storage:           o.Storage,
		Replicas:          o.Replicas,
	}
}

// maxAgeOr returns a stream's MaxAge, or the longest duration if it has none:
// a Duplicates window may not exceed MaxAge.
func maxAgeOr(maxAge time.Duration) time.Duration {
	if maxAge <= 0 {
		return time.Duration(math.MaxInt64)
	}
	return maxAge
}

// AcceptedConfig is CIS490_ACCEPTED: one announcement per accepted episode
// on cis490.accepted.<host>, for downstream jobs.
func AcceptedConfig(o ResourceOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              subjects.AcceptedStream,
		Description:       "cis490 accepted episodes announced by the receiver for downstream jobs",
		Subjects:          []string{subjects.AcceptedAll},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxAge:            o.AcceptedMaxAge,
		MaxBytes:          o.AcceptedMaxBytes,
		MaxMsgs:           -1,
		MaxMsgsPerSubject: o.AcceptedPerHost,
		MaxMsgSize:        o.SubmissionsMaxMsgSize + o.RecordMaxMsgSize,
		Duplicates:        min(o.RecordDuplicates, maxAgeOr(o.AcceptedMaxAge)),
		Storage:           o.Storage,
		Replicas:          o.Replicas,
	}
}

// VerdictsConfig is CIS490_VERDICTS: the receiver's verdict per
// <host>.<episode-id>, with a few revisions of history.
func VerdictsConfig(o ResourceOptions) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:       subjects.VerdictsBucket,
		Description:  "cis490 verdicts keyed <host>.<episode-id>, written by the receiver",
		History:      o.VerdictHistory,
		MaxValueSize: o.VerdictMaxValueSize,
		MaxBytes:     o.VerdictMaxBytes,
		Storage:      o.Storage,
		Replicas:     o.Replicas,
	}
}

// WindowConfig is CIS490_WINDOW: the accepted code commits, one key each.
func WindowConfig(o ResourceOptions) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      subjects.WindowBucket,
		Description: "cis490 commit window: one key per accepted code commit; empty accepts any stamped commit",
		History:     1,
		Storage:     o.Storage,
		Replicas:    o.Replicas,
	}
}

// HostBucketConfig is EPISODES_<HOST>: the segments host uploads, capped at
// HostQuota bytes. host is not validated here; EnsureHostBucket does that.
func HostBucketConfig(host string, o ResourceOptions) jetstream.ObjectStoreConfig {
	return jetstream.ObjectStoreConfig{
		Bucket:      subjects.EpisodeBucket(host),
		Description: "cis490 episode segments of host " + host + ", named <episode-id>/<sha256>",
		MaxBytes:    o.HostQuota,
		Storage:     o.Storage,
		Replicas:    o.Replicas,
	}
}

// ReceiverConsumerConfig is the durable pull consumer "receiver" on
// CIS490_SUBMISSIONS, shared by every receiver process. It redelivers
// forever: a submission leaves the queue only when a receiver acks it.
func ReceiverConsumerConfig(o ResourceOptions) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       subjects.ReceiverConsumer,
		Description:   "cis490 receivers: fetch, verify and gate each submission, ack after its effects are durable",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.ReceiverAckWait,
		MaxDeliver:    -1,
		MaxAckPending: o.ReceiverMaxAckPending,
		FilterSubject: subjects.SubmitAll,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
}

// EnsureResources creates the three streams, the two key-value buckets and
// the receiver consumer, or updates them to match o. It is idempotent and
// safe to run on every start. Changes the server cannot apply in place
// (retention, storage type) are returned as errors.
func EnsureResources(ctx context.Context, js jetstream.JetStream, o ResourceOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	for _, cfg := range []jetstream.StreamConfig{SubmissionsConfig(o), QuarantineConfig(o), AcceptedConfig(o)} {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	for _, cfg := range []jetstream.KeyValueConfig{VerdictsConfig(o), WindowConfig(o)} {
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return fmt.Errorf("ensure key-value bucket %s: %w", cfg.Bucket, err)
		}
	}
	cc := ReceiverConsumerConfig(o)
	if _, err := js.CreateOrUpdateConsumer(ctx, subjects.SubmissionsStream, cc); err != nil {
		return fmt.Errorf("ensure consumer %s on %s: %w", cc.Durable, subjects.SubmissionsStream, err)
	}
	return nil
}

// KeepReceiverSettings returns o with the options that receiver.toml owns
// taken from the server where their resources exist: the quarantine
// stream's MaxAge, MaxBytes and MaxMsgs, and the receiver consumer's
// AckWait. The hub and provision create resources with o's values but must
// not undo, on every restart, what a receiver (or the admin, for it)
// applied. A resource that does not exist yet keeps o's value; any other
// error is returned.
func KeepReceiverSettings(ctx context.Context, js jetstream.JetStream, o ResourceOptions) (ResourceOptions, error) {
	st, err := js.Stream(ctx, subjects.QuarantineStream)
	switch {
	case err == nil:
		c := st.CachedInfo().Config
		o.QuarantineMaxAge, o.QuarantineMaxBytes, o.QuarantineMaxMsgs = c.MaxAge, c.MaxBytes, c.MaxMsgs
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return o, fmt.Errorf("read %s limits: %w", subjects.QuarantineStream, err)
	}
	cons, err := js.Consumer(ctx, subjects.SubmissionsStream, subjects.ReceiverConsumer)
	switch {
	case err == nil:
		o.ReceiverAckWait = cons.CachedInfo().Config.AckWait
	case !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound):
		return o, fmt.Errorf("read %s ack wait: %w", subjects.ReceiverConsumer, err)
	}
	return o, nil
}

// EnsureHostBucket creates the object bucket of host, or updates it to match
// o, and returns it. An invalid host id is an error wrapping
// subjects.ErrBadHost.
func EnsureHostBucket(ctx context.Context, js jetstream.JetStream, host string, o ResourceOptions) (jetstream.ObjectStore, error) {
	if err := subjects.ValidateHost(host); err != nil {
		return nil, fmt.Errorf("ensure host bucket: %w", err)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	cfg := HostBucketConfig(host, o)
	obs, err := js.CreateOrUpdateObjectStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ensure object bucket %s: %w", cfg.Bucket, err)
	}
	return obs, nil
}
