// Package hub runs the cis490 hub: an embedded nats-server with JetStream,
// and the JetStream resources cis490 needs on it.
//
// resources.go is the one place resource options live: ResourceOptions, the
// pure config builders (SubmissionsConfig, QuarantineConfig, ...) and the
// idempotent EnsureResources and EnsureHostBucket, which any process with an
// admin connection may run. hub.go starts and stops the server (Start,
// Hub.Shutdown); log.go routes the server's log lines to log/slog.
//
// Every name comes from package subjects. docs/hub.md lists the resources as
// built.
package hub
