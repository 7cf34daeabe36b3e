package objectstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cis490/cis490/subjects"
)

// MetaFile is the name of the episode's metadata file, written last by the
// recorder and packed first into the archive.
const MetaFile = "meta.json"

// MaxMetaSize bounds meta.json. A larger file is ErrMetaTooLarge, so a hostile
// meta.json cannot make a daemon read gigabytes into memory.
const MaxMetaSize = 1 << 20

// Errors for a defective meta.json, one per defect. ParseMeta and ReadMeta
// wrap them with the detail (the field, the value).
var (
	// ErrMetaMissing is returned when the episode has no meta.json.
	ErrMetaMissing = errors.New("meta.json missing")
	// ErrMetaTooLarge is returned when meta.json is larger than MaxMetaSize.
	ErrMetaTooLarge = errors.New("meta.json too large")
	// ErrMetaNotJSON is returned when meta.json is not a JSON object.
	ErrMetaNotJSON = errors.New("meta.json is not a JSON object")
	// ErrMetaMissingField is returned when a required field is absent or empty.
	ErrMetaMissingField = errors.New("meta.json field missing")
	// ErrMetaBadField is returned when a field is present but of the wrong
	// form: an invalid episode_id, a recorded_at that is not RFC 3339.
	ErrMetaBadField = errors.New("meta.json field invalid")
	// ErrNotStamped is returned when code_version.commit is missing or is not
	// exactly 40 lowercase hex digits. ParseMeta still returns the rest of
	// the metadata with it, so the caller can name the episode.
	ErrNotStamped = errors.New("episode not stamped with a code commit")
)

// CodeVersion is the git state of the code that recorded an episode.
type CodeVersion struct {
	Commit string `json:"commit"`
	Branch string `json:"branch,omitempty"`
	Dirty  bool   `json:"dirty"`
}

// Meta is the parsed meta.json of an episode.
type Meta struct {
	EpisodeID   string      `json:"episode_id"`
	RecordedAt  time.Time   `json:"recorded_at"`
	CodeVersion CodeVersion `json:"code_version"`
}

// ParseMeta parses and checks the contents of a meta.json. Unknown fields are
// allowed: recorders add their own. Field names match exactly, as they do for
// every other reader of meta.json, so "Episode_ID" is an unknown field, not
// the episode id. On ErrNotStamped the returned Meta holds the episode id and
// time; on any other error it is the zero Meta.
func ParseMeta(b []byte) (Meta, error) {
	if len(b) > MaxMetaSize {
		return Meta{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMetaTooLarge, len(b), MaxMetaSize)
	}
	top, err := decodeObject(b)
	if err != nil {
		return Meta{}, err
	}
	id, err := stringField(top, "episode_id")
	if err != nil {
		return Meta{}, err
	}
	recorded, err := stringField(top, "recorded_at")
	if err != nil {
		return Meta{}, err
	}
	switch {
	case id == "":
		return Meta{}, fmt.Errorf("%w: episode_id", ErrMetaMissingField)
	case recorded == "":
		return Meta{}, fmt.Errorf("%w: recorded_at", ErrMetaMissingField)
	}
	if err := subjects.ValidateEpisode(id); err != nil {
		return Meta{}, fmt.Errorf("%w: episode_id: %w", ErrMetaBadField, err)
	}
	t, err := time.Parse(time.RFC3339Nano, recorded)
	if err != nil {
		return Meta{}, fmt.Errorf("%w: recorded_at %s is not RFC 3339", ErrMetaBadField, subjects.Quote(recorded))
	}
	// An offset can move a year-0000 or year-9999 time out of the range
	// RFC 3339 (and so a manifest or verdict holding this Meta) can spell.
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return Meta{}, fmt.Errorf("%w: recorded_at %s is out of range in UTC", ErrMetaBadField, subjects.Quote(recorded))
	}
	m := Meta{EpisodeID: id, RecordedAt: t.UTC()}

	rawCV, ok := top["code_version"]
	if !ok || isNull(rawCV) {
		return m, fmt.Errorf("%w: code_version missing", ErrNotStamped)
	}
	var cv map[string]json.RawMessage
	if err := json.Unmarshal(rawCV, &cv); err != nil {
		return m, fmt.Errorf("%w: code_version is not an object", ErrNotStamped)
	}
	if m.CodeVersion.Branch, err = stringField(cv, "code_version.branch"); err != nil {
		return Meta{}, err
	}
	if raw, ok := cv["dirty"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &m.CodeVersion.Dirty); err != nil {
			return Meta{}, fmt.Errorf("%w: code_version.dirty is not a boolean", ErrMetaBadField)
		}
	}
	commit, err := stringField(cv, "code_version.commit")
	if err != nil {
		return m, fmt.Errorf("%w: code_version.commit is not a string", ErrNotStamped)
	}
	if commit == "" {
		return m, fmt.Errorf("%w: code_version.commit missing", ErrNotStamped)
	}
	m.CodeVersion.Commit = commit
	if !subjects.ValidCommit(commit) {
		return m, fmt.Errorf("%w: code_version.commit %s is not 40 lowercase hex digits", ErrNotStamped, subjects.Quote(commit))
	}
	return m, nil
}

// decodeObject returns the members of the one JSON object b holds.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetaNotJSON, err)
	}
	if obj == nil {
		return nil, fmt.Errorf("%w: got null", ErrMetaNotJSON)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the object", ErrMetaNotJSON)
	}
	return obj, nil
}

// stringField returns the string member of obj named by the last element of
// the dotted path, "" if it is absent or null, and ErrMetaBadField if it is
// not a string.
func stringField(obj map[string]json.RawMessage, path string) (string, error) {
	key := path[strings.LastIndexByte(path, '.')+1:]
	raw, ok := obj[key]
	if !ok || isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s is not a string", ErrMetaBadField, path)
	}
	return s, nil
}

// isNull reports whether raw is the JSON literal null.
func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// ReadMeta reads and parses dir/meta.json. It reads at most MaxMetaSize+1
// bytes whatever the file's size.
func ReadMeta(dir string) (Meta, error) {
	f, err := os.Open(filepath.Join(dir, MetaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{}, fmt.Errorf("%w in %s", ErrMetaMissing, dir)
	}
	if err != nil {
		return Meta{}, fmt.Errorf("read meta: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxMetaSize+1))
	if err != nil {
		return Meta{}, fmt.Errorf("read meta %s: %w", f.Name(), err)
	}
	return ParseMeta(b)
}
