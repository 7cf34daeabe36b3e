// Package config holds what the cis490 daemons' TOML configuration files
// share, and the receiver's configuration itself.
//
// A configuration is built in three layers, each overriding the one before:
// the defaults in code (DefaultReceiver), the TOML file (DecodeFile, strict:
// an unknown key is an error), then the environment (EnvOverride:
// CIS490_<SECTION>_<KEY>, and NATS_URL, NATS_CREDS, NATS_CONTEXT, NATS_CERT,
// NATS_KEY, NATS_CA for the [nats] table). Validate then names every field
// that is out of range. Every error that is the configuration's fault wraps
// ErrInvalid, which commands map to exit status 2.
//
// Sizes and durations are human strings: Size reads "64MiB", "1GiB",
// "10GB" (1000-based) or plain bytes; Duration reads Go durations plus days
// and weeks, "30s", "1h30m", "30d", "2w".
//
// The package imports neither receiver nor workers: both import it.
package config
