// Package receiver is the hub's judge. It consumes manifests from the
// submissions work queue on the durable pull consumer shared by every
// receiver, validates each episode's stored archive with
// objectstore.ReadArchive, applies the commit gate, and records the verdict.
//
// A verdict is recorded in two phases so that it is exact under redelivery
// and crashes. First the decision is written to the verdicts KV with Done
// false; then its effects are carried out (export to archive_dir, quarantine
// record, deletion of a reject's segments, accepted announcement), each
// idempotent; then the verdict is rewritten with Done true and the
// submission is acknowledged. A redelivered submission whose decision is
// already written resumes the effects from that decision and is never judged
// again, so a crash at any step yields one decision, one export and one
// record. Publishers act only on verdicts that are Done.
package receiver
