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
//   - <noun> says what is measured, from the owner's side, in snake_case,
//     starting with the component: receiver_verdicts, receiver_pending.
//   - <unit> is a base unit, plural: seconds (never milliseconds), bytes
//     (never MiB), submissions, episodes. Counters end in _total after the
//     unit: cis490_receiver_archive_bytes_total. Durations are histograms in
//     seconds: cis490_receiver_validation_seconds. A ratio is _ratio, 0 to 1.
//   - Labels have small, fixed value sets: host, reason, result. Never an
//     episode id, a digest or an error text.
//   - The owning package builds its collectors in a constructor that takes
//     the registry, as receiver.NewMetrics does (no promauto on the default
//     registry, nothing at package init); cmd/cis490 builds one registry per
//     process with NewRegistry, hands it to each component, and serves it
//     with a Server.
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
