// Package metrics serves a cis490 daemon's Prometheus metrics over HTTP:
// GET /metrics for the exposition of one registry, and GET /healthz, which
// answers 200 "ok" while the process serves HTTP. It declares no cis490
// metric of its own; it only serves them.
//
// # Naming rule
//
// Every cis490 metric is named cis490_<noun>_<unit>, and is declared in the
// package that owns the noun, not here:
//
//   - <noun> says what is measured, from the owner's point of view, in
//     snake_case: publish_backlog, published_episodes, receive_pass,
//     object_store_put.
//   - <unit> is a base unit, plural: seconds (never milliseconds), bytes
//     (never MiB), episodes, messages. Counters end in _total after the
//     unit: cis490_published_bytes_total, cis490_receive_errors_total.
//     Durations are histograms in seconds: cis490_receive_pass_duration_seconds.
//     A ratio is _ratio, 0 to 1.
//   - Labels have small, fixed value sets: host, reason, result. Never an
//     episode id, a digest or an error text.
//   - The owning package creates its collectors in a constructor that takes a
//     prometheus.Registerer (no promauto on the default registry, nothing at
//     package init); cmd/cis490 builds one registry with NewRegistry, hands
//     it to each component, and serves it with a Server.
//
// docs/observability.md lists the endpoint and the systemd contract.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a registry holding the Go runtime collector
// (go_goroutines, go_memstats_*, go_gc_*, ...) and the process collector
// (process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, ...), ready for a daemon's own metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
