// Package housekeep removes what a lab host no longer needs to keep: the
// entries of data/quarantine/ and data/shipped/ older than their keep_days
// (lab-host.toml's quarantine.keep_days and shipped.keep_days).
//
// A Cleaner is called from the publisher's scan loop, every few seconds,
// but reads its directory at most once per interval, so that a short tick
// does not stat a large tree on every pass.
//
// # When an entry entered its directory
//
// An entry is old when it entered quarantine/ or shipped/ long ago, not
// when it was recorded. The publisher moves an episode there with a rename
// and writes a marker file into it, quarantine_reason.json or verdict.json.
// A rename does not change the moved directory's mtime: that stays the time
// its content last changed, which for an episode is when the recorder
// finished it, possibly months before it was quarantined (a backlog drained
// at once). Deleting by that mtime would remove freshly quarantined
// episodes within the hour. So the time an entry entered is:
//
//   - the mtime of its marker file, when it has one: written by the
//     publisher at the move, kept by cp -a, rsync -t and backups;
//   - else the later of the entry's mtime and its ctime, the inode change
//     time (on Linux and Darwin; elsewhere the mtime alone). A rename
//     updates the moved inode's ctime, so an entry moved in by hand counts
//     from its move. The ctime also moves on chmod, chown or a restore,
//     which only keeps an entry longer: a clean-up may delete late, never
//     early.
//
// Names holding durable.TempMarker are another process's temp files and
// are never removed here; durable.Clean removes them at start-up.
package housekeep
