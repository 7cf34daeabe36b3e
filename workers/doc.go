// Package workers is the lab-host publisher: the daemon that moves every
// ready episode in data/episodes/ to the hub exactly once and retires it to
// data/shipped/ or data/quarantine/ on the hub's verdict.
//
// A state is where a file is. An episode is ready when its meta.json exists
// and its directory has been quiet for the settle time. Pre-flight checks
// (id, meta.json, stamp, window) send a bad episode straight to quarantine.
// Otherwise a journal, outbox/<id>.json, records the episode's progress:
//
//	uploading  → segments packed and stored (resume: re-pack, skip stored ones)
//	submitting → manifest published with Nats-Msg-Id <host>.<id>.<sha>.<attempt>
//	waiting    → the verdict for that submission awaited in CIS490_VERDICTS
//	retiring   → the verdict known: move to shipped/ or quarantine/, write
//	             verdict.json or quarantine_reason.json, delete the journal
//
// Every journal write is durable (the first creates the file: temp, fsync,
// rename, fsync dir; each later one appends a record and fsyncs it), a
// marker file's temp is made in outbox/ and renamed into the retired entry,
// never made inside it, and every move fsyncs both directories, so killing
// the process at any instant and starting it again converges on the same
// end state: recovery removes stale temps, then replays each journal from
// its state. A corrupt verdict sends the episode back to
// uploading with the next attempt number, a few times, then to quarantine.
// Transient failures (hub or link down, timeouts, a full quota) are retried
// with capped jittered backoff, forever.
package workers
