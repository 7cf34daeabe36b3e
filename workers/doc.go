// Package workers will hold the lab-host publisher: the daemon that scans
// data/episodes/, packs and uploads each ready episode with objectstore,
// submits its manifest and moves it to shipped/ or quarantine/ on the verdict.
// It is built in the publisher issue; today it holds no code.
package workers
