package workers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the publisher's Prometheus metrics.
type Metrics struct {
	Episodes    *prometheus.CounterVec
	Bytes       prometheus.Counter
	Backlog     prometheus.Gauge
	LastSuccess prometheus.Gauge
}

// NewMetrics registers the publisher's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Episodes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cis490_publisher_episodes_total", Help: "Episodes retired, by outcome (shipped, quarantined).",
		}, []string{"outcome"}),
		Bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cis490_publisher_sent_bytes_total", Help: "Bytes read for sending to the hub, including segments cut off and sent again; segments already stored are not sent.",
		}),
		Backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cis490_publisher_backlog_episodes", Help: "Episodes in episodes/ not yet retired.",
		}),
		LastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cis490_publisher_last_shipped_timestamp_seconds", Help: "When an episode was last shipped (Unix time).",
		}),
	}
	reg.MustRegister(m.Episodes, m.Bytes, m.Backlog, m.LastSuccess)
	m.Episodes.WithLabelValues("shipped")
	m.Episodes.WithLabelValues("quarantined")
	return m
}

func (m *Metrics) sent(n int64) {
	if m != nil {
		m.Bytes.Add(float64(n))
	}
}

func (m *Metrics) outcome(o string, now time.Time) {
	if m == nil {
		return
	}
	m.Episodes.WithLabelValues(o).Inc()
	if o == "shipped" {
		m.LastSuccess.Set(float64(now.Unix()))
	}
}

func (m *Metrics) backlog(n int) {
	if m != nil {
		m.Backlog.Set(float64(n))
	}
}
