// Package subjects names every NATS resource cis490 uses: streams, buckets,
// key-value stores, subjects, headers, consumer names and verdict reasons.
// It also validates the two identifiers that appear inside those names, host
// ids and episode ids, and parses names back into their parts.
//
// Nothing else in cis490 spells a resource name. The package does no I/O and
// does not import NATS, so it can be used from any layer and fuzzed cheaply.
package subjects

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Streams, key-value buckets and the consumer, as named on the server.
const (
	// SubmissionsStream is the work-queue stream of episode manifests.
	SubmissionsStream = "CIS490_SUBMISSIONS"
	// QuarantineStream holds one record per rejected submission.
	QuarantineStream = "CIS490_QUARANTINE"
	// AcceptedStream announces every accepted episode to downstream jobs.
	AcceptedStream = "CIS490_ACCEPTED"
	// VerdictsBucket is the key-value bucket of verdicts, keyed by VerdictKey.
	VerdictsBucket = "CIS490_VERDICTS"
	// WindowBucket is the key-value bucket of accepted code commits.
	WindowBucket = "CIS490_WINDOW"
	// ReceiverConsumer is the durable pull consumer shared by all receivers.
	ReceiverConsumer = "receiver"
	// EpisodeBucketPrefix starts the name of every per-host object bucket.
	EpisodeBucketPrefix = "EPISODES_"
)

// Subject prefixes and wildcards.
const (
	// Prefix starts every cis490 subject.
	Prefix = "cis490"
	// SubmitPrefix starts the subject a host submits manifests on.
	SubmitPrefix = Prefix + ".submit"
	// NackPrefix starts the subjects of quarantine (reject) records.
	NackPrefix = Prefix + ".nack"
	// AcceptedPrefix starts the subjects of accepted announcements.
	AcceptedPrefix = Prefix + ".accepted"

	// SubmitAll matches every host's submit subject.
	SubmitAll = SubmitPrefix + ".*"
	// NackAll matches every quarantine record.
	NackAll = NackPrefix + ".>"
	// AcceptedAll matches every accepted announcement.
	AcceptedAll = AcceptedPrefix + ".*"

	// AnnouncePrefix starts the subjects on which a host announces the
	// segments of an episode as it stores them, so that a receiver reads
	// them while the rest uploads (core NATS, not stored).
	AnnouncePrefix = Prefix + ".announce"
	// AnnounceFirstAll matches every host's first announcement of an
	// episode: a request, answered by one receiver of ReceiversQueue.
	AnnounceFirstAll = AnnouncePrefix + ".*"
	// ReceiversQueue is the queue group the receivers answer first
	// announcements in, so that one of them reads the episode early.
	ReceiversQueue = "cis490-receivers"
)

// Message headers set by cis490. MsgID is the JetStream de-duplication
// header; MsgSize is the one the server sets on a headers-only delivery in
// place of the data.
const (
	HeaderMsgID           = "Nats-Msg-Id"
	HeaderMsgSize         = "Nats-Msg-Size"
	HeaderHost            = "Cis490-Host"
	HeaderEpisode         = "Cis490-Episode"
	HeaderReason          = "Cis490-Reason"
	HeaderArchiveSHA256   = "Cis490-Archive-Sha256"
	HeaderManifestVersion = "Cis490-Manifest-Version"
)

// Reason is the verdict the receiver gives a submission.
type Reason string

// The verdicts, exactly as design.md lists them. Every reason but Accepted is
// a rejection and is recorded on NackSubject(host, reason).
const (
	Accepted    Reason = "accepted"
	Unstamped   Reason = "unstamped"
	OutOfWindow Reason = "out-of-window"
	Conflict    Reason = "conflict"
	Malformed   Reason = "malformed"
	Corrupt     Reason = "corrupt"
)

// RateLimited is not a verdict: it is the reason of the record
// (NackSubject(host, RateLimited)) the receiver writes once for a burst of
// submissions it dropped unjudged because their host sent them faster
// than its budget. It is not in Reasons, so ParseNackSubject refuses it;
// readers of the quarantine stream take it from the record.
const RateLimited Reason = "rate-limited"

// Reasons lists every verdict, accepted first, then rejections in the order
// an operator should look at them.
var Reasons = []Reason{Accepted, OutOfWindow, Unstamped, Conflict, Malformed, Corrupt}

// Valid reports whether r is one of Reasons.
func (r Reason) Valid() bool {
	for _, x := range Reasons {
		if r == x {
			return true
		}
	}
	return false
}

// Rejected reports whether r is a valid reason other than Accepted.
func (r Reason) Rejected() bool { return r != Accepted && r.Valid() }

// ParseReason returns the Reason spelled s, or ErrBadReason.
func ParseReason(s string) (Reason, error) {
	r := Reason(s)
	if !r.Valid() {
		return "", fmt.Errorf("%w: %q (want one of %s)", ErrBadReason, s, reasonList())
	}
	return r, nil
}

func reasonList() string {
	s := make([]string, len(Reasons))
	for i, r := range Reasons {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// Errors returned by the validators and parsers. Each is wrapped with the
// offending value and the rule it broke.
var (
	// ErrBadHost is returned for a host id that breaks HostRule.
	ErrBadHost = errors.New("invalid host id")
	// ErrBadEpisode is returned for an episode id that breaks EpisodeRule.
	ErrBadEpisode = errors.New("invalid episode id")
	// ErrBadReason is returned for a string that is not a Reason.
	ErrBadReason = errors.New("invalid verdict reason")
	// ErrBadCommit is returned for a commit that is not 40 lowercase hex digits.
	ErrBadCommit = errors.New("invalid commit")
	// ErrBadDigest is returned for a SHA-256 that is not 64 lowercase hex digits.
	ErrBadDigest = errors.New("invalid sha256 digest")
	// ErrBadName is returned when a subject, key or object name does not parse.
	ErrBadName = errors.New("invalid name")
)

// Maximum lengths of the identifiers.
const (
	MaxHostLen    = 32
	MaxEpisodeLen = 128
)

// HostRule and EpisodeRule describe, for error messages and docs, what ids may hold.
const (
	HostRule    = "1 to 32 characters of a-z, 0-9 and '-', starting and ending with a letter or digit"
	EpisodeRule = "1 to 128 characters of A-Z, a-z, 0-9, '_' and '-', starting with a letter or digit"
)

var (
	hostRE    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)
	episodeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
	commitRE  = regexp.MustCompile(`^[0-9a-f]{40}$`)
	digestRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidateHost returns nil if host is a valid host id. Host ids are lower
// case so that the upper-cased bucket name maps back to exactly one host.
func ValidateHost(host string) error {
	if !hostRE.MatchString(host) {
		return fmt.Errorf("%w %s: want %s", ErrBadHost, Quote(host), HostRule)
	}
	return nil
}

// ValidateEpisode returns nil if id is a valid episode id. Episode ids hold
// no '.', '/', space or wildcard, so they are safe as a subject token, a
// key-value key part, an object name part and a directory name.
func ValidateEpisode(id string) error {
	if !episodeRE.MatchString(id) {
		return fmt.Errorf("%w %s: want %s", ErrBadEpisode, Quote(id), EpisodeRule)
	}
	return nil
}

// ValidCommit reports whether c is a full git commit: exactly 40 lowercase hex digits.
func ValidCommit(c string) bool { return commitRE.MatchString(c) }

// ValidateCommit returns nil if c is a full lowercase git commit.
func ValidateCommit(c string) error {
	if !ValidCommit(c) {
		return fmt.Errorf("%w %s: want exactly 40 lowercase hex digits", ErrBadCommit, Quote(c))
	}
	return nil
}

// ValidateDigest returns nil if d is a SHA-256 in lowercase hex.
func ValidateDigest(d string) error {
	if !digestRE.MatchString(d) {
		return fmt.Errorf("%w %s: want 64 lowercase hex digits", ErrBadDigest, Quote(d))
	}
	return nil
}

// EpisodeBucket returns the object bucket of host: EPISODES_<HOST>.
func EpisodeBucket(host string) string {
	return EpisodeBucketPrefix + strings.ToUpper(host)
}

// ParseEpisodeBucket returns the host whose bucket is named bucket.
func ParseEpisodeBucket(bucket string) (string, error) {
	rest, ok := strings.CutPrefix(bucket, EpisodeBucketPrefix)
	if !ok {
		return "", fmt.Errorf("%w: bucket %q does not start with %s", ErrBadName, bucket, EpisodeBucketPrefix)
	}
	host := strings.ToLower(rest)
	if EpisodeBucket(host) != bucket {
		return "", fmt.Errorf("%w: bucket %q: host part must be upper case", ErrBadName, bucket)
	}
	if err := ValidateHost(host); err != nil {
		return "", fmt.Errorf("%w: bucket %q: %w", ErrBadName, bucket, err)
	}
	return host, nil
}

// SegmentObject returns the object name of one segment: <episode-id>/<sha256 hex>.
func SegmentObject(episode, sha256hex string) string {
	return episode + "/" + sha256hex
}

// SegmentObjectPrefix returns the prefix shared by every segment of episode.
func SegmentObjectPrefix(episode string) string { return episode + "/" }

// ParseSegmentObject splits a segment object name into episode id and digest.
func ParseSegmentObject(name string) (episode, sha256hex string, err error) {
	episode, sha256hex, ok := strings.Cut(name, "/")
	if !ok {
		return "", "", fmt.Errorf("%w: segment object %q: want <episode-id>/<sha256>", ErrBadName, name)
	}
	if err := ValidateEpisode(episode); err != nil {
		return "", "", fmt.Errorf("%w: segment object %q: %w", ErrBadName, name, err)
	}
	if err := ValidateDigest(sha256hex); err != nil {
		return "", "", fmt.Errorf("%w: segment object %q: %w", ErrBadName, name, err)
	}
	return episode, sha256hex, nil
}

// SubmitSubject is the subject host submits manifests on: cis490.submit.<host>.
func SubmitSubject(host string) string { return SubmitPrefix + "." + host }

// ParseSubmitSubject returns the host of a submit subject.
func ParseSubmitSubject(subj string) (string, error) {
	host, ok := strings.CutPrefix(subj, SubmitPrefix+".")
	if !ok {
		return "", fmt.Errorf("%w: subject %s does not start with %s.", ErrBadName, Quote(subj), SubmitPrefix)
	}
	if err := ValidateHost(host); err != nil {
		return "", fmt.Errorf("%w: subject %s: %w", ErrBadName, Quote(subj), err)
	}
	return host, nil
}

// AnnounceSubject is the subject of a host's first announcement of an
// episode's segments: cis490.announce.<host>.
func AnnounceSubject(host string) string { return AnnouncePrefix + "." + host }

// AnnounceTo is the subject on which host sends the next announcements of
// an episode to the receiver whose token is receiver (a subject token the
// receiver picks): cis490.announce.<host>.<receiver>.
func AnnounceTo(host, receiver string) string { return AnnounceSubject(host) + "." + receiver }

// AnnounceToAll matches every host's announcements to receiver.
func AnnounceToAll(receiver string) string { return AnnouncePrefix + ".*." + receiver }

// ParseAnnounceSubject returns the host of an announcement subject, the
// first (AnnounceSubject) or a next one (AnnounceTo).
func ParseAnnounceSubject(subj string) (string, error) {
	rest, ok := strings.CutPrefix(subj, AnnouncePrefix+".")
	if !ok {
		return "", fmt.Errorf("%w: subject %q does not start with %s.", ErrBadName, subj, AnnouncePrefix)
	}
	host, _, _ := strings.Cut(rest, ".")
	if err := ValidateHost(host); err != nil {
		return "", fmt.Errorf("%w: subject %q: %w", ErrBadName, subj, err)
	}
	return host, nil
}

// NackSubject is the subject of a quarantine record: cis490.nack.<host>.<reason>.
func NackSubject(host string, r Reason) string {
	return NackPrefix + "." + host + "." + string(r)
}

// NackHostFilter matches every quarantine record of host: cis490.nack.<host>.>.
func NackHostFilter(host string) string { return NackPrefix + "." + host + ".>" }

// ParseNackSubject returns the host and reason of a quarantine record subject.
func ParseNackSubject(subj string) (string, Reason, error) {
	rest, ok := strings.CutPrefix(subj, NackPrefix+".")
	if !ok {
		return "", "", fmt.Errorf("%w: subject %q does not start with %s.", ErrBadName, subj, NackPrefix)
	}
	host, reason, ok := strings.Cut(rest, ".")
	if !ok {
		return "", "", fmt.Errorf("%w: subject %q: want %s.<host>.<reason>", ErrBadName, subj, NackPrefix)
	}
	if err := ValidateHost(host); err != nil {
		return "", "", fmt.Errorf("%w: subject %q: %w", ErrBadName, subj, err)
	}
	r, err := ParseReason(reason)
	if err != nil {
		return "", "", fmt.Errorf("%w: subject %q: %w", ErrBadName, subj, err)
	}
	if !r.Rejected() {
		return "", "", fmt.Errorf("%w: subject %q: %q is not a rejection", ErrBadName, subj, r)
	}
	return host, r, nil
}

// AcceptedSubject announces an accepted episode of host: cis490.accepted.<host>.
func AcceptedSubject(host string) string { return AcceptedPrefix + "." + host }

// ParseAcceptedSubject returns the host of an accepted announcement subject.
func ParseAcceptedSubject(subj string) (string, error) {
	host, ok := strings.CutPrefix(subj, AcceptedPrefix+".")
	if !ok {
		return "", fmt.Errorf("%w: subject %q does not start with %s.", ErrBadName, subj, AcceptedPrefix)
	}
	if err := ValidateHost(host); err != nil {
		return "", fmt.Errorf("%w: subject %q: %w", ErrBadName, subj, err)
	}
	return host, nil
}

// VerdictKey is the verdicts key of an episode: <host>.<episode-id>.
func VerdictKey(host, episode string) string { return host + "." + episode }

// VerdictHostFilter matches every verdict key of host: <host>.>.
func VerdictHostFilter(host string) string { return host + ".>" }

// VerdictSubjects matches the subjects on which the verdicts of host are
// written: $KV.CIS490_VERDICTS.<host>.> (the key-value layout of ADR-8). A
// lab host subscribes to it (plain NATS, no consumer) to hear its verdicts
// as the receiver writes them.
func VerdictSubjects(host string) string {
	return "$KV." + VerdictsBucket + "." + VerdictHostFilter(host)
}

// NackReaderConsumer is the one consumer name a lab host may create on
// CIS490_QUARANTINE to read its own reject records: nacks_<host>. One name
// per host, so that no host can use up the stream's consumer slots.
func NackReaderConsumer(host string) string { return "nacks_" + host }

// ParseVerdictKey splits a verdicts key into host and episode id.
func ParseVerdictKey(key string) (host, episode string, err error) {
	host, episode, ok := strings.Cut(key, ".")
	if !ok {
		return "", "", fmt.Errorf("%w: verdict key %q: want <host>.<episode-id>", ErrBadName, key)
	}
	if err := ValidateHost(host); err != nil {
		return "", "", fmt.Errorf("%w: verdict key %q: %w", ErrBadName, key, err)
	}
	if err := ValidateEpisode(episode); err != nil {
		return "", "", fmt.Errorf("%w: verdict key %q: %w", ErrBadName, key, err)
	}
	return host, episode, nil
}

// WindowKey is the window key of a commit: the commit itself.
func WindowKey(commit string) string { return commit }

// MsgID is the de-duplication id of a submission. The attempt number makes a
// deliberate re-submission (after a corrupt verdict) distinct from a retry of
// the same publish, which JetStream drops within the Duplicates window.
func MsgID(host, episode, archiveSHA256 string, attempt int) string {
	return fmt.Sprintf("%s.%s.%s.%d", host, episode, archiveSHA256, attempt)
}

// The stock object store keeps a bucket in a stream of its own (ADR-20):
// chunks on $O.<bucket>.C.<object nuid>, metadata on $O.<bucket>.M.<name>.
// The GC reads chunk subjects directly to find chunks no object owns, and
// the hub's permissions are written in these terms.
const (
	ObjectStreamPrefix = "OBJ_"
	objectSubjectRoot  = "$O."
)

// ObjectStream is the stream behind an object bucket: OBJ_<bucket>.
func ObjectStream(bucket string) string { return ObjectStreamPrefix + bucket }

// ObjectChunksAll matches every chunk subject of bucket: $O.<bucket>.C.>.
func ObjectChunksAll(bucket string) string { return objectSubjectRoot + bucket + ".C.>" }

// ObjectMetaAll matches every metadata subject of bucket: $O.<bucket>.M.>.
func ObjectMetaAll(bucket string) string { return objectSubjectRoot + bucket + ".M.>" }

// ObjectChunkSubject is the subject of one object's chunks: $O.<bucket>.C.<nuid>.
func ObjectChunkSubject(bucket, nuid string) string { return objectSubjectRoot + bucket + ".C." + nuid }

// ParseObjectChunkSubject returns the object nuid of a chunk subject of bucket.
func ParseObjectChunkSubject(bucket, subj string) (string, error) {
	nuid, ok := strings.CutPrefix(subj, objectSubjectRoot+bucket+".C.")
	if !ok || nuid == "" || strings.ContainsAny(nuid, ".*> ") {
		return "", fmt.Errorf("%w: %q is not a chunk subject of bucket %s", ErrBadName, subj, bucket)
	}
	return nuid, nil
}
