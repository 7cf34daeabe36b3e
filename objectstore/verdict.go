package objectstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cis490/cis490/subjects"
)

// Verdict is the value of a verdicts key, subjects.VerdictKey(host, episode):
// the hub's decision on the latest submission of that episode. The publisher
// matches it to its own submission by ArchiveSHA256 and Attempt.
type Verdict struct {
	Host      string          `json:"host"`
	EpisodeID string          `json:"episode_id"`
	Reason    subjects.Reason `json:"reason"`
	// Detail says what was wrong, for a rejection; it is the validator's
	// error text, naming the file, field or segment.
	Detail        string      `json:"detail,omitempty"`
	ArchiveSHA256 string      `json:"archive_sha256"`
	ArchiveBytes  int64       `json:"archive_bytes"`
	RawBytes      int64       `json:"raw_bytes"`
	Files         int         `json:"files"`
	CodeVersion   CodeVersion `json:"code_version"`
	// Submission is the Nats-Msg-Id of the submission judged.
	Submission string `json:"submission"`
	// AcceptedSHA256 is the archive digest of this episode's accepted
	// version, if one was ever accepted: a later submission with another
	// digest is a conflict. It is carried over by every later verdict.
	AcceptedSHA256 string `json:"accepted_sha256,omitempty"`
	// Export is where the accepted episode was unpacked on the hub, if anywhere.
	Export string `json:"export,omitempty"`
	// Done is set once every effect of the verdict (quarantine record,
	// segment deletion, announcement, export) is durable.
	Done     bool      `json:"done,omitempty"`
	Receiver string    `json:"receiver"`
	Time     time.Time `json:"time"`
}

// Bound cuts every string of v a lab host can set to its bound
// (subjects.Clip): Detail to subjects.MaxDetail bytes, the episode id,
// the submission id and the code version to subjects.MaxField. A host's
// megabyte of garbage then makes a verdict, a record and a log line of a
// few hundred bytes, never a copy of itself. The receiver bounds every
// verdict before it writes, records or logs it.
func (v *Verdict) Bound() {
	v.Detail = subjects.Clip(v.Detail, subjects.MaxDetail)
	v.EpisodeID = subjects.Clip(v.EpisodeID, subjects.MaxField)
	v.Submission = subjects.Clip(v.Submission, subjects.MaxField)
	v.CodeVersion = v.CodeVersion.bounded()
}

// bounded is c with its strings cut to subjects.MaxField bytes.
func (c CodeVersion) bounded() CodeVersion {
	c.Commit = subjects.Clip(c.Commit, subjects.MaxField)
	c.Branch = subjects.Clip(c.Branch, subjects.MaxField)
	return c
}

// ParseVerdict decodes a verdicts value.
func ParseVerdict(b []byte) (Verdict, error) {
	var v Verdict
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("parse verdict: %w", err)
	}
	if !v.Reason.Valid() {
		return v, fmt.Errorf("parse verdict: %w", subjects.ErrBadReason)
	}
	return v, nil
}

// Record is a message on the quarantine stream (subjects.NackSubject) or on
// the accepted stream (subjects.AcceptedSubject): the verdict, and the
// manifest that lists the episode's segments, so that an operator or a
// downstream job needs nothing else to find the bytes.
type Record struct {
	Verdict  Verdict  `json:"verdict"`
	Manifest Manifest `json:"manifest"`
	Bucket   string   `json:"bucket"`
	// SegmentsOmitted counts the segments left out of a reject record's
	// manifest (MaxRejectSegments); the segments of a reject are deleted.
	SegmentsOmitted int `json:"segments_omitted,omitempty"`
}

// MaxRejectSegments is how many segments a reject record lists. A manifest
// may list thousands (up to the 1 MiB of a submission); the record of a
// reject keeps the first ones and counts the rest, so that one host's
// rejects are a few KiB each on the quarantine stream every host shares.
// An accepted record lists every segment: downstream jobs read them.
const MaxRejectSegments = 64

// Bound cuts every string of r a lab host can set to its bound: the
// verdict's (Verdict.Bound) and the manifest's code version, the only
// strings of a valid manifest that Validate does not check. A reject's
// segment list is cut to MaxRejectSegments.
func (r *Record) Bound() {
	r.Verdict.Bound()
	r.Manifest.CodeVersion = r.Manifest.CodeVersion.bounded()
	if r.Verdict.Reason != subjects.Accepted && len(r.Manifest.Segments) > MaxRejectSegments {
		r.SegmentsOmitted = len(r.Manifest.Segments) - MaxRejectSegments
		r.Manifest.Segments = r.Manifest.Segments[:MaxRejectSegments:MaxRejectSegments]
	}
}

// ParseRecord decodes a quarantine or accepted record.
func ParseRecord(b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("parse record: %w", err)
	}
	return r, nil
}
