// Package natsconn holds the NATS connection settings that every cis490
// command and both daemons' config files share, and turns them into a
// connection that survives the slow, dropping link between a lab host and
// the hub.
//
// Settings come from three places, highest precedence first: explicit
// Options (flags, environment, config file), the stock nats CLI context they
// name (the JSON files `nats context add` writes under
// $XDG_CONFIG_HOME/nats/context/), and the default URL
// nats://127.0.0.1:4222. When neither a context nor a URL is given, the
// context selected with `nats context select` is used, so a machine set up
// for the nats CLI works for cis490 unchanged.
//
// Errors that are the configuration's fault (a missing or malformed context
// file, a certificate without its key, an unreadable creds file) wrap
// ErrConfig, so a caller can map them to exit status 2.
package natsconn
