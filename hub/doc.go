// Package hub runs the cis490 hub: an embedded nats-server with JetStream,
// and the JetStream resources cis490 needs on it.
//
// resources.go is the one place resource options live: ResourceOptions, the
// pure config builders (SubmissionsConfig, QuarantineConfig, ...) and the
// idempotent EnsureResources and EnsureHostBucket, which any process with an
// admin connection may run. hub.go starts and stops the server (Start,
// Hub.Shutdown); log.go routes the server's log lines to log/slog.
//
// permissions.go is the one place the rights of the hub's users live: one
// user per lab host, the receiver and the admin, each the subject of a
// client certificate (HostPermissions, ReceiverPermissions, UsersConf, the
// users.conf that deploy/hub/nats-server.conf includes). provision.go's
// Provision creates or updates every resource, per-host buckets included,
// over an admin's connection, for a hub that requires authentication.
// docs/security.md has the permission matrix.
//
// Every name comes from package subjects. docs/hub.md lists the resources as
// built.
package hub
