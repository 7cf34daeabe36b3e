// Package receiver will hold the hub's receiver: the durable pull consumer
// that reads each submitted manifest, validates the archive with
// objectstore.ReadArchive, applies the commit gate and records the verdict.
// It is built in the receiver issue; today it holds no code.
package receiver
