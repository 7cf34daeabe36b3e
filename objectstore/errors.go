package objectstore

import (
	"errors"

	"github.com/cis490/cis490/subjects"
)

// Errors of the stored bytes: the archive is not what the manifest says.
// Each maps to the verdict [subjects.Corrupt]: the publisher re-uploads.
var (
	// ErrSegmentMissing is returned when a segment named in the manifest is not in the store.
	ErrSegmentMissing = errors.New("segment missing")
	// ErrSegmentTruncated is returned when a stored segment is shorter than the manifest says.
	ErrSegmentTruncated = errors.New("segment truncated")
	// ErrSegmentSize is returned when a stored segment is longer than the manifest says.
	ErrSegmentSize = errors.New("segment longer than manifest")
	// ErrSegmentDigest is returned when a segment's SHA-256 is not the one in its name.
	ErrSegmentDigest = errors.New("segment digest mismatch")
	// ErrArchiveDigest is returned when the whole archive's SHA-256 differs from the manifest.
	ErrArchiveDigest = errors.New("archive digest mismatch")
)

// Errors of the archive's contents. Each maps to the verdict [subjects.Malformed].
var (
	// ErrBadManifest is returned for a manifest that does not parse or is inconsistent.
	ErrBadManifest = errors.New("bad manifest")
	// ErrManifestVersion is returned for a manifest of a version this build does not read.
	ErrManifestVersion = errors.New("unsupported manifest version")
	// ErrManifestMismatch is returned when the archive contradicts its manifest
	// (episode id, commit, file or byte counts).
	ErrManifestMismatch = errors.New("archive does not match its manifest")
	// ErrBadCompression is returned when the zstd stream does not decode.
	ErrBadCompression = errors.New("bad zstd stream")
	// ErrBadTar is returned when the tar stream does not parse, or an entry's
	// parent is not a directory before it.
	ErrBadTar = errors.New("bad tar stream")
	// ErrMetaNotFirst is returned when the archive's first entry is not meta.json.
	ErrMetaNotFirst = errors.New("meta.json is not the first entry")
	// ErrAbsolutePath is returned for an entry whose name is an absolute path.
	ErrAbsolutePath = errors.New("absolute path in archive")
	// ErrPathTraversal is returned for an entry whose name holds a ".." element
	// or is otherwise not a clean relative path.
	ErrPathTraversal = errors.New("path escapes the episode")
	// ErrBadName is returned for a name that is not valid UTF-8 or holds a NUL,
	// a backslash or a control character.
	ErrBadName = errors.New("bad file name")
	// ErrNameTooLong is returned for a name longer than Limits.MaxNameLen.
	ErrNameTooLong = errors.New("file name too long")
	// ErrEntryType is returned for an entry that is neither a regular file nor
	// a directory (symlink, hard link, device, fifo, socket).
	ErrEntryType = errors.New("entry is not a regular file or directory")
	// ErrDuplicateEntry is returned when a name appears twice.
	ErrDuplicateEntry = errors.New("duplicate entry")
	// ErrTooLarge is returned when the unpacked bytes exceed Limits.MaxBytes
	// (a decompression bomb, or simply too big).
	ErrTooLarge = errors.New("episode too large")
	// ErrTooManyFiles is returned when the entries exceed Limits.MaxFiles.
	ErrTooManyFiles = errors.New("too many files")
)

// Errors of packing a directory on the lab host.
var (
	// ErrUnsupportedFile is returned by Pack for a symlink, device, socket or
	// fifo in the episode directory; the error names the path.
	ErrUnsupportedFile = errors.New("not a regular file or directory")
	// ErrFileChanged is returned by Pack when a file's size changed while it was packed.
	ErrFileChanged = errors.New("file changed while packing")
)

// ReasonOf returns the verdict reason a validation error stands for, and false
// for an error that is not about the episode (a timeout, a lost connection,
// a cancelled context): those are transient and must be retried, never judged.
// The order is the precedence: a corrupt archive is re-sent before anything
// else is said of it, and a malformed one is reported before its stamp.
func ReasonOf(err error) (subjects.Reason, bool) {
	switch {
	case err == nil:
		return subjects.Accepted, true
	case anyIs(err, ErrSegmentMissing, ErrSegmentTruncated, ErrSegmentSize, ErrSegmentDigest, ErrArchiveDigest):
		return subjects.Corrupt, true
	case anyIs(err, ErrBadManifest, ErrManifestVersion, ErrManifestMismatch, ErrBadCompression, ErrBadTar,
		ErrMetaNotFirst, ErrAbsolutePath, ErrPathTraversal, ErrBadName, ErrNameTooLong, ErrEntryType,
		ErrDuplicateEntry, ErrTooLarge, ErrTooManyFiles,
		ErrMetaMissing, ErrMetaTooLarge, ErrMetaNotJSON, ErrMetaMissingField, ErrMetaBadField):
		return subjects.Malformed, true
	case errors.Is(err, ErrNotStamped):
		return subjects.Unstamped, true
	}
	return "", false
}

func anyIs(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
