package objectstore_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cis490/cis490/objectstore"
	"github.com/cis490/cis490/subjects"
)

const (
	testEpisode = "2026-11-20T14-03-11_lab1_0042"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
)

// designMeta is the meta.json of design.md, stamped with testCommit.
const designMeta = `{"episode_id": "2026-11-20T14-03-11_lab1_0042",
 "recorded_at": "2026-11-20T14:03:11Z",
 "code_version": {"commit": "0123456789abcdef0123456789abcdef01234567", "branch": "main", "dirty": false}}`

var testRecordedAt = time.Date(2026, 11, 20, 14, 3, 11, 0, time.UTC)

// metaSentinels are the errors ParseMeta and ReadMeta return, wrapped.
var metaSentinels = []error{
	objectstore.ErrMetaMissing,
	objectstore.ErrMetaTooLarge,
	objectstore.ErrMetaNotJSON,
	objectstore.ErrMetaMissingField,
	objectstore.ErrMetaBadField,
	objectstore.ErrNotStamped,
}

// metaWith returns a meta.json with the design.md episode and time and the
// given code_version JSON value, or none if cv is "".
func metaWith(cv string) string {
	s := `{"episode_id": "` + testEpisode + `", "recorded_at": "2026-11-20T14:03:11Z"`
	if cv != "" {
		s += `, "code_version": ` + cv
	}
	return s + "}"
}

// requireMetaErr fails t unless err wraps want (nil for no error) and no
// other meta sentinel.
func requireMetaErr(t testing.TB, call string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s = %v, want nil", call, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s = %v, want errors.Is %v", call, err, want)
	}
	for _, s := range metaSentinels {
		if s != want && errors.Is(err, s) {
			t.Errorf("%s = %v, wraps %v as well as %v", call, err, s, want)
		}
	}
}

func TestParseMeta(t *testing.T) {
	valid := objectstore.Meta{
		EpisodeID:   testEpisode,
		RecordedAt:  testRecordedAt,
		CodeVersion: objectstore.CodeVersion{Commit: testCommit, Branch: "main"},
	}
	// unstamped is what ParseMeta returns with ErrNotStamped for metaWith.
	unstamped := objectstore.Meta{EpisodeID: testEpisode, RecordedAt: testRecordedAt}
	withCommit := func(c string) objectstore.Meta {
		m := unstamped
		m.CodeVersion.Commit = c
		return m
	}

	tests := []struct {
		name    string
		in      string
		want    objectstore.Meta
		wantErr error
	}{
		{"design example", designMeta, valid, nil},
		{"unknown fields", `{"episode_id": "2026-11-20T14-03-11_lab1_0042", "rig": {"camera": 3},
			"recorded_at": "2026-11-20T14:03:11Z", "operator": "ada", "notes": null,
			"code_version": {"commit": "` + testCommit + `", "branch": "main", "dirty": false, "remote": "origin"}}`, valid, nil},
		{"dirty, no branch", metaWith(`{"commit": "` + testCommit + `", "dirty": true}`),
			objectstore.Meta{EpisodeID: testEpisode, RecordedAt: testRecordedAt, CodeVersion: objectstore.CodeVersion{Commit: testCommit, Dirty: true}}, nil},
		{"null branch and dirty", metaWith(`{"commit": "` + testCommit + `", "branch": null, "dirty": null}`),
			objectstore.Meta{EpisodeID: testEpisode, RecordedAt: testRecordedAt, CodeVersion: objectstore.CodeVersion{Commit: testCommit}}, nil},
		{"offset and nanoseconds become UTC", `{"episode_id": "e1", "recorded_at": "2026-11-20T16:03:11.5+02:00",
			"code_version": {"commit": "` + testCommit + `"}}`,
			objectstore.Meta{EpisodeID: "e1", RecordedAt: testRecordedAt.Add(500 * time.Millisecond), CodeVersion: objectstore.CodeVersion{Commit: testCommit}}, nil},
		{"surrounding white space", "\n\t " + designMeta + " \r\n", valid, nil},

		{"not json", `not json`, objectstore.Meta{}, objectstore.ErrMetaNotJSON},
		{"empty", ``, objectstore.Meta{}, objectstore.ErrMetaNotJSON},
		{"white space only", " \n", objectstore.Meta{}, objectstore.ErrMetaNotJSON},
		{"array", `[]`, objectstore.Meta{}, objectstore.ErrMetaNotJSON},
		{"string", `"x"`, objectstore.Meta{}, objectstore.ErrMetaNotJSON},
		{"number", `42`, objectstore.Meta{}, objectstore.ErrMetaNotJSON},
		{"true", `true`, objectstore.Meta{}, objectstore.ErrMetaNotJSON},
		{"null", `null`, objectstore.Meta{}, objectstore.ErrMetaNotJSON},
		{"null in spaces", ` null `, objectstore.Meta{}, objectstore.ErrMetaNotJSON},
		{"two objects", `{}{}`, objectstore.Meta{}, objectstore.ErrMetaNotJSON},
		{"valid then garbage", designMeta + ` x`, objectstore.Meta{}, objectstore.ErrMetaNotJSON},
		{"valid then object", designMeta + `{}`, objectstore.Meta{}, objectstore.ErrMetaNotJSON},
		{"truncated", designMeta[:40], objectstore.Meta{}, objectstore.ErrMetaNotJSON},
		{"byte order mark", "\ufeff" + designMeta, objectstore.Meta{}, objectstore.ErrMetaNotJSON},

		{"empty object", `{}`, objectstore.Meta{}, objectstore.ErrMetaMissingField},
		{"no episode_id", `{"recorded_at": "2026-11-20T14:03:11Z", "code_version": {"commit": "` + testCommit + `"}}`, objectstore.Meta{}, objectstore.ErrMetaMissingField},
		{"empty episode_id", `{"episode_id": "", "recorded_at": "2026-11-20T14:03:11Z"}`, objectstore.Meta{}, objectstore.ErrMetaMissingField},
		{"null episode_id", `{"episode_id": null, "recorded_at": "2026-11-20T14:03:11Z"}`, objectstore.Meta{}, objectstore.ErrMetaMissingField},
		{"episode_id in another case", `{"Episode_ID": "e1", "recorded_at": "2026-11-20T14:03:11Z"}`, objectstore.Meta{}, objectstore.ErrMetaMissingField},
		{"no recorded_at", `{"episode_id": "e1", "code_version": {"commit": "` + testCommit + `"}}`, objectstore.Meta{}, objectstore.ErrMetaMissingField},
		{"empty recorded_at", `{"episode_id": "e1", "recorded_at": ""}`, objectstore.Meta{}, objectstore.ErrMetaMissingField},

		{"episode id with path", `{"episode_id": "../x", "recorded_at": "2026-11-20T14:03:11Z"}`, objectstore.Meta{}, objectstore.ErrMetaBadField},
		{"episode id with space", `{"episode_id": "a b", "recorded_at": "2026-11-20T14:03:11Z"}`, objectstore.Meta{}, objectstore.ErrMetaBadField},
		{"episode id with dot", `{"episode_id": "a.b", "recorded_at": "2026-11-20T14:03:11Z"}`, objectstore.Meta{}, objectstore.ErrMetaBadField},
		{"episode id too long", `{"episode_id": "` + strings.Repeat("e", 129) + `", "recorded_at": "2026-11-20T14:03:11Z"}`, objectstore.Meta{}, objectstore.ErrMetaBadField},
		{"episode id a number", `{"episode_id": 42, "recorded_at": "2026-11-20T14:03:11Z"}`, objectstore.Meta{}, objectstore.ErrMetaBadField},
		{"recorded_at with space", `{"episode_id": "e1", "recorded_at": "2026-11-20 14:03:11Z"}`, objectstore.Meta{}, objectstore.ErrMetaBadField},
		{"recorded_at date only", `{"episode_id": "e1", "recorded_at": "2026-11-20"}`, objectstore.Meta{}, objectstore.ErrMetaBadField},
		{"recorded_at no zone", `{"episode_id": "e1", "recorded_at": "2026-11-20T14:03:11"}`, objectstore.Meta{}, objectstore.ErrMetaBadField},
		{"recorded_at words", `{"episode_id": "e1", "recorded_at": "yesterday"}`, objectstore.Meta{}, objectstore.ErrMetaBadField},
		{"recorded_at unix time", `{"episode_id": "e1", "recorded_at": 1795183391}`, objectstore.Meta{}, objectstore.ErrMetaBadField},
		{"recorded_at before year 0 in UTC", `{"episode_id": "e1", "recorded_at": "0000-01-01T00:00:00+01:00"}`, objectstore.Meta{}, objectstore.ErrMetaBadField},
		{"recorded_at after year 9999 in UTC", `{"episode_id": "e1", "recorded_at": "9999-12-31T23:00:00-01:00"}`, objectstore.Meta{}, objectstore.ErrMetaBadField},
		{"branch a number", metaWith(`{"commit": "` + testCommit + `", "branch": 1}`), objectstore.Meta{}, objectstore.ErrMetaBadField},
		{"dirty a string", metaWith(`{"commit": "` + testCommit + `", "dirty": "false"}`), objectstore.Meta{}, objectstore.ErrMetaBadField},

		{"no code_version", metaWith(""), unstamped, objectstore.ErrNotStamped},
		{"null code_version", metaWith(`null`), unstamped, objectstore.ErrNotStamped},
		{"code_version a string", metaWith(`"` + testCommit + `"`), unstamped, objectstore.ErrNotStamped},
		{"empty code_version", metaWith(`{}`), unstamped, objectstore.ErrNotStamped},
		{"no commit", metaWith(`{"branch": "main", "dirty": true}`),
			objectstore.Meta{EpisodeID: testEpisode, RecordedAt: testRecordedAt, CodeVersion: objectstore.CodeVersion{Branch: "main", Dirty: true}}, objectstore.ErrNotStamped},
		{"null commit", metaWith(`{"commit": null}`), unstamped, objectstore.ErrNotStamped},
		{"empty commit", metaWith(`{"commit": ""}`), unstamped, objectstore.ErrNotStamped},
		{"commit a number", metaWith(`{"commit": 1234567}`), unstamped, objectstore.ErrNotStamped},
		{"short commit", metaWith(`{"commit": "0123456"}`), withCommit("0123456"), objectstore.ErrNotStamped},
		{"39 char commit", metaWith(`{"commit": "` + testCommit[:39] + `"}`), withCommit(testCommit[:39]), objectstore.ErrNotStamped},
		{"41 char commit", metaWith(`{"commit": "` + testCommit + `0"}`), withCommit(testCommit + "0"), objectstore.ErrNotStamped},
		{"upper-case commit", metaWith(`{"commit": "` + strings.ToUpper(testCommit) + `"}`), withCommit(strings.ToUpper(testCommit)), objectstore.ErrNotStamped},
		{"non-hex commit", metaWith(`{"commit": "` + "g" + testCommit[1:] + `"}`), withCommit("g" + testCommit[1:]), objectstore.ErrNotStamped},
		{"sha256 commit", metaWith(`{"commit": "` + testCommit + testCommit[:24] + `"}`), withCommit(testCommit + testCommit[:24]), objectstore.ErrNotStamped},
		{"commit with newline", metaWith(`{"commit": "` + testCommit + `\n"}`), withCommit(testCommit + "\n"), objectstore.ErrNotStamped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := objectstore.ParseMeta([]byte(tt.in))
			requireMetaErr(t, "ParseMeta("+tt.name+")", err, tt.wantErr)
			if !got.RecordedAt.Equal(tt.want.RecordedAt) || got.RecordedAt.Location() != time.UTC {
				t.Errorf("ParseMeta(%q).RecordedAt = %v, want %v in UTC", tt.in, got.RecordedAt, tt.want.RecordedAt)
			}
			got.RecordedAt, tt.want.RecordedAt = time.Time{}, time.Time{}
			if got != tt.want {
				t.Errorf("ParseMeta(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// TestParseMetaErrorNamesField checks that the error says what to fix.
func TestParseMetaErrorNamesField(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"recorded_at": "2026-11-20T14:03:11Z"}`, "episode_id"},
		{`{"episode_id": "e1"}`, "recorded_at"},
		{`{"episode_id": "../x", "recorded_at": "2026-11-20T14:03:11Z"}`, `"../x"`},
		{`{"episode_id": "e1", "recorded_at": "yesterday"}`, `"yesterday"`},
		{metaWith(`{"commit": "abc"}`), `"abc"`},
		{metaWith(""), "code_version"},
	}
	for _, tt := range tests {
		_, err := objectstore.ParseMeta([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseMeta(%q) = %v, want an error naming %s", tt.in, err, tt.want)
		}
	}
}

// padMeta returns designMeta followed by white space to exactly n bytes.
func padMeta(tb testing.TB, n int) []byte {
	tb.Helper()
	if n < len(designMeta) {
		tb.Fatalf("padMeta(%d): shorter than the meta itself", n)
	}
	return []byte(designMeta + strings.Repeat(" ", n-len(designMeta)))
}

func TestParseMetaSizeLimit(t *testing.T) {
	if _, err := objectstore.ParseMeta(padMeta(t, objectstore.MaxMetaSize)); err != nil {
		t.Errorf("ParseMeta(%d bytes) = %v, want nil", objectstore.MaxMetaSize, err)
	}
	m, err := objectstore.ParseMeta(padMeta(t, objectstore.MaxMetaSize+1))
	requireMetaErr(t, "ParseMeta(MaxMetaSize+1 bytes)", err, objectstore.ErrMetaTooLarge)
	if m != (objectstore.Meta{}) {
		t.Errorf("ParseMeta(MaxMetaSize+1 bytes) = %+v, want the zero Meta", m)
	}
}

// writeMeta writes b as dir/meta.json.
func writeMeta(tb testing.TB, dir string, b []byte) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(dir, objectstore.MetaFile), b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func TestReadMeta(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		dir := t.TempDir()
		writeMeta(t, dir, []byte(designMeta))
		m, err := objectstore.ReadMeta(dir)
		requireMetaErr(t, "ReadMeta(valid)", err, nil)
		if m.EpisodeID != testEpisode || m.CodeVersion.Commit != testCommit || !m.RecordedAt.Equal(testRecordedAt) {
			t.Errorf("ReadMeta(valid) = %+v, want the design.md meta", m)
		}
	})
	t.Run("no meta.json", func(t *testing.T) {
		dir := t.TempDir()
		_, err := objectstore.ReadMeta(dir)
		requireMetaErr(t, "ReadMeta(empty dir)", err, objectstore.ErrMetaMissing)
		if !strings.Contains(err.Error(), dir) {
			t.Errorf("ReadMeta(empty dir) = %v, want the directory named", err)
		}
	})
	t.Run("no directory", func(t *testing.T) {
		_, err := objectstore.ReadMeta(filepath.Join(t.TempDir(), "gone"))
		requireMetaErr(t, "ReadMeta(no dir)", err, objectstore.ErrMetaMissing)
	})
	t.Run("exactly MaxMetaSize", func(t *testing.T) {
		dir := t.TempDir()
		writeMeta(t, dir, padMeta(t, objectstore.MaxMetaSize))
		_, err := objectstore.ReadMeta(dir)
		requireMetaErr(t, "ReadMeta(MaxMetaSize bytes)", err, nil)
	})
	t.Run("MaxMetaSize+1", func(t *testing.T) {
		dir := t.TempDir()
		writeMeta(t, dir, padMeta(t, objectstore.MaxMetaSize+1))
		_, err := objectstore.ReadMeta(dir)
		requireMetaErr(t, "ReadMeta(MaxMetaSize+1 bytes)", err, objectstore.ErrMetaTooLarge)
	})
	t.Run("10 MB", func(t *testing.T) {
		dir := t.TempDir()
		writeMeta(t, dir, []byte(designMeta))
		// Grow the file sparsely: a valid object followed by 10 MB of NULs.
		if err := os.Truncate(filepath.Join(dir, objectstore.MetaFile), 10<<20); err != nil {
			t.Fatal(err)
		}
		_, err := objectstore.ReadMeta(dir)
		requireMetaErr(t, "ReadMeta(10 MB)", err, objectstore.ErrMetaTooLarge)
	})
	t.Run("meta.json is a directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, objectstore.MetaFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := objectstore.ReadMeta(dir); err == nil {
			t.Errorf("ReadMeta(meta.json a directory) = nil, want an error")
		}
	})
	t.Run("unstamped file", func(t *testing.T) {
		dir := t.TempDir()
		writeMeta(t, dir, []byte(metaWith("")))
		m, err := objectstore.ReadMeta(dir)
		requireMetaErr(t, "ReadMeta(unstamped)", err, objectstore.ErrNotStamped)
		if m.EpisodeID != testEpisode {
			t.Errorf("ReadMeta(unstamped).EpisodeID = %q, want %q", m.EpisodeID, testEpisode)
		}
	})
}

// TestMetaFiles parses the sample meta.json files in testdata/meta. A file's
// name up to the first '-' says the result: ok, or the sentinel it must wrap.
func TestMetaFiles(t *testing.T) {
	want := map[string]error{
		"ok":           nil,
		"notjson":      objectstore.ErrMetaNotJSON,
		"missingfield": objectstore.ErrMetaMissingField,
		"badfield":     objectstore.ErrMetaBadField,
		"notstamped":   objectstore.ErrNotStamped,
	}
	files, err := filepath.Glob(filepath.Join("testdata", "meta", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in testdata/meta")
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			kind, _, _ := strings.Cut(filepath.Base(name), "-")
			wantErr, ok := want[kind]
			if !ok {
				t.Fatalf("file name %s does not start with a known result", name)
			}
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			m, err := objectstore.ParseMeta(b)
			requireMetaErr(t, "ParseMeta("+name+")", err, wantErr)
			if wantErr == nil || wantErr == objectstore.ErrNotStamped {
				if err := subjects.ValidateEpisode(m.EpisodeID); err != nil {
					t.Errorf("ParseMeta(%s).EpisodeID: %v", name, err)
				}
			}
		})
	}
}

func FuzzParseMeta(f *testing.F) {
	for _, s := range []string{
		designMeta,
		metaWith(""),
		metaWith(`{"commit": "ABC"}`),
		metaWith(`{"commit": 5, "dirty": "x"}`),
		`{"episode_id": "../x", "recorded_at": "2026-11-20T14:03:11Z"}`,
		`{"episode_id": "e", "recorded_at": "0000-01-01T00:00:00+01:00"}`,
		`{}{}`, `null`, `[]`, `"x"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := objectstore.ParseMeta(b)
		if err != nil {
			var wraps int
			for _, s := range metaSentinels {
				if errors.Is(err, s) {
					wraps++
				}
			}
			if wraps != 1 {
				t.Fatalf("ParseMeta(%q) = %v, wraps %d sentinels, want exactly 1", b, err, wraps)
			}
		}
		switch {
		case err == nil:
			if verr := subjects.ValidateEpisode(m.EpisodeID); verr != nil {
				t.Fatalf("ParseMeta(%q) = nil error with a bad episode id: %v", b, verr)
			}
			if !subjects.ValidCommit(m.CodeVersion.Commit) {
				t.Fatalf("ParseMeta(%q) = nil error with a bad commit %q", b, m.CodeVersion.Commit)
			}
			// What ParseMeta accepts, a manifest can carry: marshal the
			// Meta and parse it again to the same value.
			out, merr := json.Marshal(m)
			if merr != nil {
				t.Fatalf("ParseMeta(%q) = %+v, which does not marshal: %v", b, m, merr)
			}
			m2, perr := objectstore.ParseMeta(out)
			if perr != nil || m2 != m {
				t.Fatalf("ParseMeta(Marshal(ParseMeta(%q))) = %+v, %v, want %+v, nil", b, m2, perr, m)
			}
		case errors.Is(err, objectstore.ErrNotStamped):
			if verr := subjects.ValidateEpisode(m.EpisodeID); verr != nil {
				t.Fatalf("ParseMeta(%q) = ErrNotStamped with a bad episode id: %v", b, verr)
			}
		default:
			if m != (objectstore.Meta{}) {
				t.Fatalf("ParseMeta(%q) = %+v, %v, want the zero Meta with the error", b, m, err)
			}
		}
	})
}
