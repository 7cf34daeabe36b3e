package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to name in a new temp dir and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// decodeTarget is a small configuration with the kinds DecodeFile must handle.
type decodeTarget struct {
	Name  string    `toml:"name"`
	Inner innerPart `toml:"inner"`
	Extra map[string]string
	Embed
}

type innerPart struct {
	Count int      `toml:"count"`
	Size  Size     `toml:"size"`
	Wait  Duration `toml:"wait"`
	On    bool     `toml:"on"`
	Skip  int      `toml:"-"`
}

// Embed's fields are promoted to the table that embeds it.
type Embed struct {
	Level string `toml:"level"`
}

func TestDecodeFile(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "good.toml", `
name = "x"
level = "debug"
[inner]
count = 3
size = "64MiB"
wait = "30d"
on = true
[Extra]
anything = "goes"
`)
	v := decodeTarget{Inner: innerPart{Count: 1, Size: 1}}
	if err := DecodeFile(path, &v); err != nil {
		t.Fatalf("DecodeFile: %v", err)
	}
	want := innerPart{Count: 3, Size: 64 * MiB, Wait: Duration(30 * Day), On: true}
	if v.Name != "x" || v.Inner != want || v.Extra["anything"] != "goes" || v.Level != "debug" {
		t.Errorf("DecodeFile = %+v, want name x, inner %+v, extra anything=goes, level debug", v, want)
	}
}

func TestDecodeFileKeepsDefaults(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "part.toml", "[inner]\ncount = 3\n")
	v := decodeTarget{Name: "default", Inner: innerPart{Wait: Duration(time.Minute)}}
	if err := DecodeFile(path, &v); err != nil {
		t.Fatalf("DecodeFile: %v", err)
	}
	if v.Name != "default" || v.Inner.Wait != Duration(time.Minute) || v.Inner.Count != 3 {
		t.Errorf("DecodeFile = %+v, want name and wait kept, count 3", v)
	}
}

func TestDecodeFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		want    []string // in the error, after the file name
	}{
		{"unknown key", "[inner]\ncont = 3\n",
			[]string{`x.toml: unknown key "inner.cont" (did you mean "inner.count"?)`}},
		{"unknown keys", "nme = 1\n[inner]\nsiz = 1\nwhatever = 2\n",
			[]string{`unknown keys "nme" (did you mean "name"?), "inner.siz" (did you mean "inner.size"?), "inner.whatever"`}},
		{"unknown table once", "[outer]\na = 1\nb = 2\n",
			[]string{`x.toml: unknown key "outer"`}},
		{"case differs", "[inner]\nCount = 3\n",
			[]string{`unknown key "inner.Count" (did you mean "inner.count"?)`}},
		{"skipped field", "[inner]\nSkip = 3\n",
			[]string{`unknown key "inner.Skip"`}},
		{"syntax", "[inner]\ncount = 3\nsize = \"64MiB\n",
			[]string{"x.toml:3:14: ", "strings cannot contain newlines"}},
		{"syntax no value", "name =\n",
			[]string{"x.toml:1:"}},
		{"bad size", "[inner]\nsize = \"64XB\"\n",
			[]string{"x.toml:2:", `inner.size: invalid size "64XB": unknown unit "XB"`}},
		{"bad duration", "[inner]\nwait = 30\n",
			[]string{`inner.wait: invalid duration "30": missing unit`}},
		{"wrong type", "[inner]\ncount = \"three\"\n",
			[]string{"x.toml: ", `"inner.count"`, "destination has type integer"}},
		{"bad value and unknown key", "[inner]\nsize = \"64XB\"\ncont = 3\n",
			[]string{`inner.size: invalid size "64XB"`, `x.toml: unknown key "inner.cont"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, "x.toml", tt.content)
			var v decodeTarget
			err := DecodeFile(path, &v)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("DecodeFile(%q) = %v, want an error wrapping ErrInvalid", tt.content, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path) {
				t.Errorf("DecodeFile(%q) = %q, want it to start with the path %s", tt.content, msg, path)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("DecodeFile(%q) = %q, want it to contain %q", tt.content, msg, w)
				}
			}
		})
	}
}

func TestDecodeFileMissing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nope.toml")
	var v decodeTarget
	err := DecodeFile(path, &v)
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("DecodeFile(missing) = %v, want ErrInvalid and ErrNotExist naming %s", err, path)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	r := DefaultReceiver()
	r.Receive.ArchiveDir = "/srv/episodes"
	r.GC.Grace = Duration(90 * time.Minute)
	var b strings.Builder
	if err := Encode(&b, r); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	for _, want := range []string{"[receive]\n", `max_episode_bytes = "64GiB"`, `grace = "1h30m"`, `max_age = "30d"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Encode = %s, want it to contain %q", b.String(), want)
		}
	}
	var back Receiver
	if err := DecodeFile(writeFile(t, "r.toml", b.String()), &back); err != nil || back != r {
		t.Errorf("decode of Encode = %+v, %v; want %+v", back, err, r)
	}
}
