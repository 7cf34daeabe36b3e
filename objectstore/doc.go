// Package objectstore holds the episode archive and its transfer through a
// JetStream object store, the pieces both the lab-host publisher and the hub
// receiver stand on:
//
//   - meta.json parsing ([ParseMeta], [ReadMeta]);
//   - the deterministic packer: an episode directory becomes one tar+zstd
//     stream, meta.json first, then every path sorted ([Pack]);
//   - the segmenter, which cuts that stream into content-addressed segments
//     spooled to disk, and the [Manifest] that lists them;
//   - the segment [Store]: one object per segment, named
//     <episode-id>/<sha256>, never overwritten, never sent twice, every Get
//     under a deadline sized to the object and drained to EOF;
//   - the validating reader ([ReadArchive]): segments in order through
//     SHA-256, a bounded zstd decoder and a tar validator, with one sentinel
//     error per defect, which [ReasonOf] turns into a verdict reason.
//
// Why segments rather than one object per episode is told in docs/design.md.
package objectstore
