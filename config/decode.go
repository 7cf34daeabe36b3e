package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// ErrInvalid is wrapped by every error that is the configuration's fault: a
// missing or unreadable file, a TOML syntax error, an unknown key, a value
// of the wrong type or out of range, a bad environment variable. Commands
// map it to exit status 2. Check it with errors.Is.
var ErrInvalid = errors.New("invalid configuration")

// invalidError matches ErrInvalid with errors.Is while keeping its own
// message and cause.
type invalidError struct{ err error }

func (e *invalidError) Error() string        { return e.err.Error() }
func (e *invalidError) Unwrap() error        { return e.err }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// invalidf formats an error that wraps ErrInvalid.
func invalidf(format string, a ...any) error {
	return &invalidError{fmt.Errorf(format, a...)}
}

// DecodeFile decodes the TOML file at path into v, a pointer to a struct
// whose fields carry toml tags. Keys absent from the file leave v's fields
// as they are, so v may hold the defaults. Decoding is strict: a key that
// matches no field exactly (the TOML library alone would match field names
// case-insensitively) is an error naming every such key with its table, for
// example `receiver.toml: unknown key "receive.concurency" (did you mean
// "receive.concurrency"?)`. A syntax error names the file, line and column;
// a bad value names the key too. Every error wraps ErrInvalid.
func DecodeFile(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return invalidf("read config: %w", err) // *fs.PathError names the path
	}
	// Parse alone first, so a syntax error is told apart from a bad value.
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return tomlError(path, "", err)
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(v)
	var errs []error
	if err != nil {
		var pe toml.ParseError
		key := ""
		if errors.As(err, &pe) {
			key = pe.LastKey
		}
		errs = append(errs, tomlError(path, key, err))
	}
	// The keys are known even when a value failed: report both at once.
	if msg := unknownKeys(md.Keys(), reflect.TypeOf(v)); msg != "" {
		errs = append(errs, invalidf("%s: %s", path, msg))
	}
	if len(errs) == 0 {
		return nil
	}
	return &invalidError{errors.Join(errs...)}
}

// tomlError formats an error of the TOML library as path:line:col: key: message.
func tomlError(path, key string, err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return invalidf("%s: %s", path, strings.TrimPrefix(err.Error(), "toml: "))
	}
	if key != "" {
		return invalidf("%s:%d:%d: %s: %s", path, pe.Position.Line, pe.Position.Col, key, pe.Message)
	}
	return invalidf("%s:%d:%d: %s", path, pe.Position.Line, pe.Position.Col, pe.Message)
}

// textUnmarshaler is the type of encoding.TextUnmarshaler.
var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// unknownKeys returns a message naming every key of keys that is not the
// exact toml name of a field of t, or "" when there is none. A key under an
// unknown table is not repeated.
func unknownKeys(keys []toml.Key, t reflect.Type) string {
	known := map[string]bool{}
	open := map[string]bool{} // maps and interfaces: any key below is fine
	fieldKeys(t, "", known, open)
	var bad []string
	badTables := map[string]bool{}
	for _, k := range keys {
		path := strings.Join(k, ".")
		if known[path] || underAny(path, open) || underAny(path, badTables) {
			continue
		}
		badTables[path] = true
		s := fmt.Sprintf("%q", k.String())
		if near := nearest(path, known); near != "" {
			s += fmt.Sprintf(" (did you mean %q?)", near)
		}
		bad = append(bad, s)
	}
	switch len(bad) {
	case 0:
		return ""
	case 1:
		return "unknown key " + bad[0]
	default:
		return "unknown keys " + strings.Join(bad, ", ")
	}
}

// underAny reports whether path is strictly below one of the paths in set.
func underAny(path string, set map[string]bool) bool {
	for p := range set {
		if strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}

// fieldKeys adds the dotted toml path of every field of t, recursively, to
// known; fields that take any key below them (maps, interfaces) also go to open.
func fieldKeys(t reflect.Type, prefix string, known, open map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || len(f.Index) > 1 {
			continue // promoted fields are handled through their embedded struct
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			fieldKeys(ft, prefix, known, open)
			continue
		}
		if name == "" {
			name = f.Name
		}
		path := prefix + name
		known[path] = true
		if reflect.PointerTo(ft).Implements(textUnmarshaler) {
			continue
		}
		switch ft.Kind() {
		case reflect.Struct:
			fieldKeys(ft, path+".", known, open)
		case reflect.Map, reflect.Interface, reflect.Slice, reflect.Array:
			open[path] = true
		}
	}
}

// nearest returns the known key in the same table as path whose last part
// is within two edits of path's, or "".
func nearest(path string, known map[string]bool) string {
	table, name := "", path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		table, name = path[:i+1], path[i+1:]
	}
	best, bestDist := "", 3
	for k := range known {
		kt, kn := "", k
		if i := strings.LastIndexByte(k, '.'); i >= 0 {
			kt, kn = k[:i+1], k[i+1:]
		}
		if kt != table {
			continue
		}
		d := editDistance(strings.ToLower(name), kn)
		if d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Encode writes v as TOML: tables in field order, sizes and durations as
// the strings ParseSize and ParseDuration read.
func Encode(w io.Writer, v any) error {
	enc := toml.NewEncoder(w)
	enc.Indent = ""
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	return nil
}
