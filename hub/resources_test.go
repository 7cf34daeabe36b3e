package hub_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cis490/cis490/hub"
	"github.com/cis490/cis490/hub/hubtest"
	"github.com/cis490/cis490/subjects"
)

// connectHub starts a hub with resources ensured and connects a client.
func connectHub(t testing.TB) (*hub.Hub, jetstream.JetStream) {
	t.Helper()
	h := hubtest.RunServer(t)
	_, js := hubtest.Connect(t, h.ClientURL())
	return h, js
}

func streamInfo(t testing.TB, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	s, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatalf("Stream(%q) = %v", name, err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatalf("stream %s Info() = %v", name, err)
	}
	return info
}

func TestEnsureResourcesTwice(t *testing.T) {
	t.Parallel()
	_, js := connectHub(t) // RunServer ensured them once already
	o := hub.DefaultResourceOptions()
	for i := range 2 {
		if err := hub.EnsureResources(t.Context(), js, o); err != nil {
			t.Fatalf("EnsureResources, run %d = %v, want nil", i+2, err)
		}
	}
	names := js.StreamNames(t.Context())
	var got []string
	for n := range names.Name() {
		got = append(got, n)
	}
	if err := names.Err(); err != nil {
		t.Fatalf("StreamNames() = %v", err)
	}
	// 3 streams + 2 KV buckets, each a stream; no duplicates after re-runs.
	if len(got) != 5 {
		t.Errorf("streams after 3 runs = %v, want 5", got)
	}
}

func TestEnsureResourcesAppliesChanges(t *testing.T) {
	t.Parallel()
	_, js := connectHub(t)
	o := hub.DefaultResourceOptions()
	o.QuarantineMaxBytes = 2 << 20
	o.AcceptedMaxAge = 90 * 24 * time.Hour
	o.SubmissionsDuplicates = 15 * time.Minute
	o.VerdictHistory = 10
	o.ReceiverAckWait = 45 * time.Second
	o.ReceiverMaxAckPending = 10
	if err := hub.EnsureResources(t.Context(), js, o); err != nil {
		t.Fatalf("EnsureResources(changed) = %v", err)
	}

	if got := streamInfo(t, js, subjects.QuarantineStream).Config.MaxBytes; got != o.QuarantineMaxBytes {
		t.Errorf("%s MaxBytes = %d, want %d", subjects.QuarantineStream, got, o.QuarantineMaxBytes)
	}
	if got := streamInfo(t, js, subjects.AcceptedStream).Config.MaxAge; got != o.AcceptedMaxAge {
		t.Errorf("%s MaxAge = %s, want %s", subjects.AcceptedStream, got, o.AcceptedMaxAge)
	}
	if got := streamInfo(t, js, subjects.SubmissionsStream).Config.Duplicates; got != o.SubmissionsDuplicates {
		t.Errorf("%s Duplicates = %s, want %s", subjects.SubmissionsStream, got, o.SubmissionsDuplicates)
	}
	kv, err := js.KeyValue(t.Context(), subjects.VerdictsBucket)
	if err != nil {
		t.Fatalf("KeyValue(%q) = %v", subjects.VerdictsBucket, err)
	}
	st, err := kv.Status(t.Context())
	if err != nil {
		t.Fatalf("%s Status() = %v", subjects.VerdictsBucket, err)
	}
	if st.History() != int64(o.VerdictHistory) {
		t.Errorf("%s History = %d, want %d", subjects.VerdictsBucket, st.History(), o.VerdictHistory)
	}
	c, err := js.Consumer(t.Context(), subjects.SubmissionsStream, subjects.ReceiverConsumer)
	if err != nil {
		t.Fatalf("Consumer(%q) = %v", subjects.ReceiverConsumer, err)
	}
	ci, err := c.Info(t.Context())
	if err != nil {
		t.Fatalf("consumer Info() = %v", err)
	}
	if ci.Config.AckWait != o.ReceiverAckWait || ci.Config.MaxAckPending != o.ReceiverMaxAckPending {
		t.Errorf("consumer AckWait, MaxAckPending = %s, %d, want %s, %d",
			ci.Config.AckWait, ci.Config.MaxAckPending, o.ReceiverAckWait, o.ReceiverMaxAckPending)
	}
}

func TestStreamsAsBuilt(t *testing.T) {
	t.Parallel()
	_, js := connectHub(t)
	o := hub.DefaultResourceOptions()
	tests := []struct {
		name       string
		subjects   []string
		retention  jetstream.RetentionPolicy
		discard    jetstream.DiscardPolicy
		maxAge     time.Duration
		maxBytes   int64
		maxMsgs    int64
		maxMsgSize int32
		duplicates time.Duration // 0: not checked
		perSubject int64
	}{
		{subjects.SubmissionsStream, []string{subjects.SubmitAll}, jetstream.WorkQueuePolicy, jetstream.DiscardNew, 0, -1, -1, 1 << 20, 20 * time.Minute, 100},
		{subjects.QuarantineStream, []string{subjects.NackAll}, jetstream.LimitsPolicy, jetstream.DiscardOld, 30 * 24 * time.Hour, 1 << 30, -1, 64 << 10, 0, 1000},
		{subjects.AcceptedStream, []string{subjects.AcceptedAll}, jetstream.LimitsPolicy, jetstream.DiscardOld, 0, 1 << 30, -1, 1<<20 + 64<<10, 0, 100_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := streamInfo(t, js, tt.name).Config
			if !slices.Equal(c.Subjects, tt.subjects) {
				t.Errorf("Subjects = %v, want %v", c.Subjects, tt.subjects)
			}
			if c.Retention != tt.retention || c.Discard != tt.discard {
				t.Errorf("Retention, Discard = %v, %v, want %v, %v", c.Retention, c.Discard, tt.retention, tt.discard)
			}
			if c.MaxAge != tt.maxAge || c.MaxBytes != tt.maxBytes || c.MaxMsgs != tt.maxMsgs || c.MaxMsgSize != tt.maxMsgSize {
				t.Errorf("MaxAge, MaxBytes, MaxMsgs, MaxMsgSize = %s, %d, %d, %d, want %s, %d, %d, %d",
					c.MaxAge, c.MaxBytes, c.MaxMsgs, c.MaxMsgSize, tt.maxAge, tt.maxBytes, tt.maxMsgs, tt.maxMsgSize)
			}
			if c.MaxMsgsPerSubject != tt.perSubject {
				t.Errorf("MaxMsgsPerSubject = %d, want %d", c.MaxMsgsPerSubject, tt.perSubject)
			}
			if want := tt.name == subjects.SubmissionsStream; c.DiscardNewPerSubject != want {
				t.Errorf("DiscardNewPerSubject = %v, want %v", c.DiscardNewPerSubject, want)
			}
			if tt.duplicates != 0 && c.Duplicates != tt.duplicates {
				t.Errorf("Duplicates = %s, want %s", c.Duplicates, tt.duplicates)
			}
			if c.Replicas != o.Replicas || c.Storage != jetstream.FileStorage {
				t.Errorf("Replicas, Storage = %d, %v, want %d, file", c.Replicas, c.Storage, o.Replicas)
			}
			if c.Description == "" {
				t.Error("Description is empty")
			}
		})
	}
}

func TestKeyValuesAsBuilt(t *testing.T) {
	t.Parallel()
	_, js := connectHub(t)
	tests := []struct {
		bucket       string
		history      int64
		maxValueSize int32
		maxBytes     int64
	}{
		{subjects.VerdictsBucket, 5, 16 << 10, 1 << 30},
		{subjects.WindowBucket, 1, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.bucket, func(t *testing.T) {
			kv, err := js.KeyValue(t.Context(), tt.bucket)
			if err != nil {
				t.Fatalf("KeyValue(%q) = %v", tt.bucket, err)
			}
			st, err := kv.Status(t.Context())
			if err != nil {
				t.Fatalf("Status() = %v", err)
			}
			if st.History() != tt.history || st.TTL() != 0 {
				t.Errorf("History, TTL = %d, %s, want %d, 0", st.History(), st.TTL(), tt.history)
			}
			if c := st.Config(); c.MaxValueSize != tt.maxValueSize || c.MaxBytes != tt.maxBytes {
				t.Errorf("MaxValueSize, MaxBytes = %d, %d, want %d, %d", c.MaxValueSize, c.MaxBytes, tt.maxValueSize, tt.maxBytes)
			}
			if st.Config().Description == "" {
				t.Error("Description is empty")
			}
		})
	}
}

func TestReceiverConsumerAsBuilt(t *testing.T) {
	t.Parallel()
	_, js := connectHub(t)
	c, err := js.Consumer(t.Context(), subjects.SubmissionsStream, subjects.ReceiverConsumer)
	if err != nil {
		t.Fatalf("Consumer(%q, %q) = %v", subjects.SubmissionsStream, subjects.ReceiverConsumer, err)
	}
	ci, err := c.Info(t.Context())
	if err != nil {
		t.Fatalf("Info() = %v", err)
	}
	cfg := ci.Config
	if cfg.Durable != subjects.ReceiverConsumer {
		t.Errorf("Durable = %q, want %q", cfg.Durable, subjects.ReceiverConsumer)
	}
	if cfg.AckPolicy != jetstream.AckExplicitPolicy || cfg.DeliverPolicy != jetstream.DeliverAllPolicy {
		t.Errorf("AckPolicy, DeliverPolicy = %v, %v, want explicit, all", cfg.AckPolicy, cfg.DeliverPolicy)
	}
	if cfg.AckWait != 2*time.Minute || cfg.MaxAckPending != 1000 || cfg.MaxDeliver != -1 {
		t.Errorf("AckWait, MaxAckPending, MaxDeliver = %s, %d, %d, want 2m0s, 1000, -1", cfg.AckWait, cfg.MaxAckPending, cfg.MaxDeliver)
	}
	if cfg.FilterSubject != subjects.SubmitAll {
		t.Errorf("FilterSubject = %q, want %q", cfg.FilterSubject, subjects.SubmitAll)
	}
	if cfg.DeliverSubject != "" {
		t.Errorf("DeliverSubject = %q, want a pull consumer", cfg.DeliverSubject)
	}
}

func TestEnsureHostBucket(t *testing.T) {
	t.Parallel()
	h, js := connectHub(t)
	const host = "lab1"
	obs, err := h.EnsureHostBucket(t.Context(), host)
	if err != nil {
		t.Fatalf("EnsureHostBucket(%q) = %v", host, err)
	}
	st, err := obs.Status(t.Context())
	if err != nil {
		t.Fatalf("Status() = %v", err)
	}
	if st.Bucket() != subjects.EpisodeBucket(host) {
		t.Errorf("Bucket() = %q, want %q", st.Bucket(), subjects.EpisodeBucket(host))
	}
	info := st.(*jetstream.ObjectBucketStatus).StreamInfo()
	if info.Config.MaxBytes != 10<<30 {
		t.Errorf("MaxBytes = %d, want %d", info.Config.MaxBytes, int64(10<<30))
	}

	// Again, with a new quota, through the package function.
	o := hub.DefaultResourceOptions()
	o.HostQuota = 1 << 30
	if _, err := hub.EnsureHostBucket(t.Context(), js, host, o); err != nil {
		t.Fatalf("EnsureHostBucket(%q) again = %v", host, err)
	}
	obs, err = js.ObjectStore(t.Context(), subjects.EpisodeBucket(host))
	if err != nil {
		t.Fatalf("ObjectStore(%q) = %v", subjects.EpisodeBucket(host), err)
	}
	st, err = obs.Status(t.Context())
	if err != nil {
		t.Fatalf("Status() = %v", err)
	}
	if got := st.(*jetstream.ObjectBucketStatus).StreamInfo().Config.MaxBytes; got != o.HostQuota {
		t.Errorf("MaxBytes after update = %d, want %d", got, o.HostQuota)
	}
}

func TestEnsureHostBucketBadHost(t *testing.T) {
	t.Parallel()
	_, js := connectHub(t)
	for _, host := range []string{"", "LAB1", "lab.1", "lab/1", "-lab", "lab_1", "lab*", strings.Repeat("a", 33)} {
		_, err := hub.EnsureHostBucket(t.Context(), js, host, hub.DefaultResourceOptions())
		if !errors.Is(err, subjects.ErrBadHost) {
			t.Errorf("EnsureHostBucket(%q) = %v, want %v", host, err, subjects.ErrBadHost)
			continue
		}
		if !strings.Contains(err.Error(), `"`+host+`"`) {
			t.Errorf("EnsureHostBucket(%q) = %q, want the id in the error", host, err)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field string
		edit  func(*hub.ResourceOptions)
	}{
		{"Replicas", func(o *hub.ResourceOptions) { o.Replicas = 0 }},
		{"Replicas", func(o *hub.ResourceOptions) { o.Replicas = 6 }},
		{"Storage", func(o *hub.ResourceOptions) { o.Storage = 7 }},
		{"SubmissionsDuplicates", func(o *hub.ResourceOptions) { o.SubmissionsDuplicates = 9 * time.Minute }},
		{"SubmissionsMaxMsgSize", func(o *hub.ResourceOptions) { o.SubmissionsMaxMsgSize = 0 }},
		{"VerdictHistory", func(o *hub.ResourceOptions) { o.VerdictHistory = 0 }},
		{"VerdictHistory", func(o *hub.ResourceOptions) { o.VerdictHistory = 65 }},
		{"QuarantineMaxAge", func(o *hub.ResourceOptions) { o.QuarantineMaxAge = -time.Second }},
		{"QuarantineMaxBytes", func(o *hub.ResourceOptions) { o.QuarantineMaxBytes = 0 }},
		{"QuarantineMaxMsgs", func(o *hub.ResourceOptions) { o.QuarantineMaxMsgs = -2 }},
		{"AcceptedMaxAge", func(o *hub.ResourceOptions) { o.AcceptedMaxAge = -time.Second }},
		{"AcceptedMaxBytes", func(o *hub.ResourceOptions) { o.AcceptedMaxBytes = 0 }},
		{"HostQuota", func(o *hub.ResourceOptions) { o.HostQuota = 0 }},
		{"ReceiverAckWait", func(o *hub.ResourceOptions) { o.ReceiverAckWait = 0 }},
		{"ReceiverMaxAckPending", func(o *hub.ResourceOptions) { o.ReceiverMaxAckPending = 0 }},
	}
	if err := hub.DefaultResourceOptions().Validate(); err != nil {
		t.Fatalf("DefaultResourceOptions().Validate() = %v, want nil", err)
	}
	for _, tt := range tests {
		o := hub.DefaultResourceOptions()
		tt.edit(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.field+" ") {
			t.Errorf("Validate() with bad %s = %v, want an error naming it", tt.field, err)
		}
	}
}

func TestEnsureResourcesRejectsBadOptions(t *testing.T) {
	t.Parallel()
	o := hub.DefaultResourceOptions()
	o.SubmissionsDuplicates = time.Minute
	// Validation comes before any request, so a nil JetStream is never used.
	if err := hub.EnsureResources(context.Background(), nil, o); err == nil {
		t.Fatal("EnsureResources(Duplicates 1m) = nil, want an error")
	}
}

// jsStorageResourcesExceeded is nats-server's JSStorageResourcesExceededErr,
// "insufficient storage resources available"; nats.go has no constant for it.
const jsStorageResourcesExceeded jetstream.ErrorCode = 10047

// TestHostQuotaReservedAgainstMaxStore pins what docs/hub.md says: on one
// server every MaxBytes is reserved against max_store up front.
func TestHostQuotaReservedAgainstMaxStore(t *testing.T) {
	t.Parallel()
	conf := writeConf(t, "jetstream {\n  max_file_store: 13GB\n}\n")
	h := hubtest.RunServer(t, func(o *hub.Options) { o.ConfigFile = conf })
	// 13GB in a nats-server config is 13 GiB: quarantine, accepted and the
	// verdicts take 3 GiB, so exactly one 10 GiB host bucket fits.
	if _, err := h.EnsureHostBucket(t.Context(), "lab1"); err != nil {
		t.Fatalf("EnsureHostBucket(lab1) = %v, want it to fit", err)
	}
	_, err := h.EnsureHostBucket(t.Context(), "lab2")
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != jsStorageResourcesExceeded {
		t.Fatalf("EnsureHostBucket(lab2) = %v, want insufficient storage resources", err)
	}
}
