package objectstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/cis490/cis490/subjects"
)

// ManifestVersion is the version of the manifest format this build
// writes. It reads versions 1 and 2, which differ only in what
// archive_sha256 is: in version 1 the SHA-256 of the whole tar+zstd
// stream, in version 2 ArchiveDigest of the segments. Both identify the
// archive's bytes (the receiver checks every segment's SHA-256); version
// 2 spares the publisher and the receiver a second SHA-256 pass over every
// byte, a fifth of the CPU each spent on a large episode.
const ManifestVersion = 2

// minManifestVersion is the oldest manifest version this build reads.
const minManifestVersion = 1

// ArchiveDigest is a version 2 manifest's archive_sha256: the SHA-256 of
// one line per segment, in order, "<sha256 hex> <size in bytes>\n". In a
// shell, of an archive cut into its segments:
//
//	for f in seg.*; do printf '%s %d\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$(stat -c%s "$f")"; done | sha256sum
func ArchiveDigest(segs []Segment) string {
	h := sha256.New()
	for _, s := range segs {
		fmt.Fprintf(h, "%s %d\n", s.SHA256, s.Size)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Sizes of segments. DefaultSegmentSize keeps one put far under the server's
// ingest limits and bounds what a dropped link costs to one segment.
const (
	DefaultSegmentSize = 64 << 20
	MinSegmentSize     = 64 << 10
	MaxSegmentSize     = 1 << 30
	// MaxSegments bounds the manifest: 100,000 segments of 64 MiB is 6 TiB.
	MaxSegments = 100_000
	// MaxManifestSize bounds the bytes of a manifest message.
	MaxManifestSize = 1 << 20
)

// Segment is one piece of an archive, stored as the object
// subjects.SegmentObject(episode, SHA256).
type Segment struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Manifest describes one packed episode: who sent it, what it claims to be,
// and the segments whose concatenation is the archive. The receiver trusts
// none of the claims: it checks each against the bytes.
type Manifest struct {
	Version     int         `json:"version"`
	Host        string      `json:"host"`
	EpisodeID   string      `json:"episode_id"`
	RecordedAt  time.Time   `json:"recorded_at"`
	CodeVersion CodeVersion `json:"code_version"`
	// SegmentSize is the size every segment but the last has.
	SegmentSize int64     `json:"segment_size"`
	Segments    []Segment `json:"segments"`
	// ArchiveSHA256 identifies the archive: ArchiveDigest of Segments in
	// version 2, the whole stream's SHA-256 in version 1. ArchiveBytes is
	// the size of the whole tar+zstd stream.
	ArchiveSHA256 string `json:"archive_sha256"`
	ArchiveBytes  int64  `json:"archive_bytes"`
	// RawBytes is the sum of the regular files' sizes; Files counts them
	// (meta.json included) and Dirs counts the directories.
	RawBytes int64 `json:"raw_bytes"`
	Files    int   `json:"files"`
	Dirs     int   `json:"dirs"`
}

// Validate checks the manifest's own consistency: ids, digests, sizes and
// their sums. It says nothing of the stored bytes.
func (m *Manifest) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadManifest, fmt.Sprintf(format, a...))
	}
	if m.Version < minManifestVersion || m.Version > ManifestVersion {
		return fmt.Errorf("%w: %d (this build reads %d to %d)", ErrManifestVersion, m.Version, minManifestVersion, ManifestVersion)
	}
	if err := subjects.ValidateHost(m.Host); err != nil {
		return bad("host: %v", err)
	}
	if err := subjects.ValidateEpisode(m.EpisodeID); err != nil {
		return bad("episode_id: %v", err)
	}
	if m.SegmentSize < MinSegmentSize || m.SegmentSize > MaxSegmentSize {
		return bad("segment_size %d outside [%d, %d]", m.SegmentSize, MinSegmentSize, MaxSegmentSize)
	}
	if len(m.Segments) == 0 || len(m.Segments) > MaxSegments {
		return bad("%d segments, want 1 to %d", len(m.Segments), MaxSegments)
	}
	var sum int64
	for i, s := range m.Segments {
		if err := subjects.ValidateDigest(s.SHA256); err != nil {
			return bad("segment %d: %v", i, err)
		}
		last := i == len(m.Segments)-1
		if s.Size <= 0 || s.Size > m.SegmentSize || (!last && s.Size != m.SegmentSize) {
			return bad("segment %d: size %d with segment_size %d", i, s.Size, m.SegmentSize)
		}
		sum += s.Size
	}
	if sum != m.ArchiveBytes {
		return bad("segments sum to %d bytes, archive_bytes is %d", sum, m.ArchiveBytes)
	}
	if err := subjects.ValidateDigest(m.ArchiveSHA256); err != nil {
		return bad("archive_sha256: %v", err)
	}
	if m.RawBytes < 0 || m.Files < 1 || m.Dirs < 0 {
		return bad("raw_bytes %d, files %d, dirs %d", m.RawBytes, m.Files, m.Dirs)
	}
	return nil
}

// Marshal returns the manifest as JSON, after Validate.
func (m *Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// ParseManifest decodes and validates a manifest. Unknown fields are an
// error: a manifest is written by cis490 alone, and a field this build does
// not know means a newer writer whose meaning it cannot honour.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if len(b) > MaxManifestSize {
		return m, fmt.Errorf("%w: %d bytes, limit %d", ErrBadManifest, len(b), MaxManifestSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Manifest{}, fmt.Errorf("%w: trailing data", ErrBadManifest)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}
