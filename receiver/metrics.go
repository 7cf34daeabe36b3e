package receiver

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cis490/cis490/subjects"
)

// Metrics are the receiver's Prometheus metrics.
type Metrics struct {
	Verdicts   *prometheus.CounterVec
	Bytes      *prometheus.CounterVec
	Validation prometheus.Histogram
	Pending    prometheus.Gauge
	AckPending prometheus.Gauge
	Redeliver  prometheus.Counter
	Early      *prometheus.CounterVec
	EarlyBytes prometheus.Counter
	// RateLimited counts, by host, the submissions dropped unjudged
	// because their host was over its budget.
	RateLimited *prometheus.CounterVec
	// BadMeta and Rollups are, by host, what the last sweep of its bucket
	// found on its metadata subjects: messages that are not object info,
	// and roll-ups of the whole bucket. GCFailures counts the sweeps of a
	// host's bucket that failed (the other buckets were swept).
	BadMeta    *prometheus.GaugeVec
	Rollups    *prometheus.GaugeVec
	GCFailures *prometheus.CounterVec
	// ExportRefused counts, by host and why ("disk", "quota"), the
	// exports put off for want of room in archive_dir.
	ExportRefused *prometheus.CounterVec
}

// NewMetrics registers the receiver's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cis490_receiver_verdicts_total", Help: "Verdicts decided, by reason.",
		}, []string{"reason"}),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cis490_receiver_archive_bytes_total", Help: "Archive bytes read and judged, by reason.",
		}, []string{"reason"}),
		Validation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cis490_receiver_validation_seconds", Help: "Time to read and validate one archive.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}),
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cis490_receiver_pending_submissions", Help: "Submissions waiting on the receiver consumer (consumer lag).",
		}),
		AckPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cis490_receiver_in_flight_submissions", Help: "Submissions delivered to receivers and not yet acknowledged.",
		}),
		Redeliver: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cis490_receiver_transient_failures_total", Help: "Submissions handed back for redelivery after a transient failure.",
		}),
		Early: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cis490_receiver_early_reads_total",
			Help: "Archives read while they uploaded, by whether the read stood for the submission's (used) or the archive was read again (unused).",
		}, []string{"result"}),
		EarlyBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cis490_receiver_early_read_bytes_total",
			Help: "Archive bytes read before their submission came, while the rest of the episode uploaded.",
		}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cis490_receiver_rate_limited_total",
			Help: "Submissions dropped unjudged because their host submitted faster than [receive] host_rate and host_burst allow, by host.",
		}, []string{"host"}),
		BadMeta: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cis490_receiver_bucket_bad_metadata_messages",
			Help: "Messages on a host bucket's metadata subjects that are not object info, at its last sweep, by host.",
		}, []string{"host"}),
		Rollups: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cis490_receiver_bucket_rollup_messages",
			Help: "Messages that rolled up a host's whole bucket (Nats-Rollup: all), at its last sweep, by host.",
		}, []string{"host"}),
		GCFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cis490_receiver_gc_bucket_failures_total",
			Help: "Orphan sweeps of a host's bucket that failed, by host; the other buckets were swept.",
		}, []string{"host"}),
		ExportRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cis490_receiver_export_refused_total",
			Help: "Exports put off (the submission retried) for want of room in archive_dir, by host and why: disk (archive_min_free) or quota (archive_host_quota).",
		}, []string{"host", "why"}),
	}
	reg.MustRegister(m.Verdicts, m.Bytes, m.Validation, m.Pending, m.AckPending, m.Redeliver, m.Early, m.EarlyBytes,
		m.RateLimited, m.BadMeta, m.Rollups, m.GCFailures, m.ExportRefused)
	m.Early.WithLabelValues("used")
	m.Early.WithLabelValues("unused")
	for _, r := range subjects.Reasons {
		m.Verdicts.WithLabelValues(string(r))
	}
	return m
}

func (m *Metrics) verdict(reason subjects.Reason, bytes int64) {
	if m == nil {
		return
	}
	m.Verdicts.WithLabelValues(string(reason)).Inc()
	m.Bytes.WithLabelValues(string(reason)).Add(float64(bytes))
}

func (m *Metrics) validation(d time.Duration) {
	if m != nil {
		m.Validation.Observe(d.Seconds())
	}
}

func (m *Metrics) transient() {
	if m != nil {
		m.Redeliver.Inc()
	}
}

// Lag reads the consumer's pending and in-flight counts into the gauges and
// returns them.
func (r *Receiver) Lag(ctx context.Context) (pending uint64, inFlight int, err error) {
	info, err := r.cons.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	if m := r.o.Metrics; m != nil {
		m.Pending.Set(float64(info.NumPending))
		m.AckPending.Set(float64(info.NumAckPending))
	}
	return info.NumPending, info.NumAckPending, nil
}

func (m *Metrics) earlyRead(used bool, before int64) {
	if m == nil {
		return
	}
	m.EarlyBytes.Add(float64(before))
	if used {
		m.Early.WithLabelValues("used").Inc()
	} else {
		m.Early.WithLabelValues("unused").Inc()
	}
}

func (m *Metrics) rateLimited(host string) {
	if m != nil {
		m.RateLimited.WithLabelValues(host).Inc()
	}
}

// swept records the sweep of host's bucket: what it found, or that it failed.
func (m *Metrics) swept(host string, res GCResult, err error) {
	switch {
	case m == nil:
	case err != nil:
		m.GCFailures.WithLabelValues(host).Inc()
	default:
		m.BadMeta.WithLabelValues(host).Set(float64(res.BadMeta))
		m.Rollups.WithLabelValues(host).Set(float64(len(res.Rollups)))
	}
}

func (m *Metrics) exportRefused(host, why string) {
	if m != nil {
		m.ExportRefused.WithLabelValues(host, why).Inc()
	}
}
