// Package e2e holds process-level tests: the real cis490 binary, built from
// this module, run as separate processes, killed with real signals. Each test
// gets its own store directory and loopback port, so they run in parallel.
package e2e
