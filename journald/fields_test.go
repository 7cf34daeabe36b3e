package journald

import (
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestFieldName(t *testing.T) {
	t.Parallel()
	tests := []struct{ key, want string }{
		{"episode", "EPISODE"},
		{"component", "COMPONENT"},
		{"err", "ERR"},
		{"retry_in", "RETRY_IN"},
		{"nats.url", "NATS_URL"},
		{"Max-Bytes", "MAX_BYTES"},
		{"größe", "GR__E"},
		{"_x", "ATTR__X"},
		{"2xx", "ATTR_2XX"},
		{"message", "ATTR_MESSAGE"},
		{"PRIORITY", "ATTR_PRIORITY"},
		{"syslog_identifier", "ATTR_SYSLOG_IDENTIFIER"},
		{"errno", "ATTR_ERRNO"},
		{"object_pid", "ATTR_OBJECT_PID"},
		{"coredump_unit", "ATTR_COREDUMP_UNIT"},
		{"message_count", "MESSAGE_COUNT"},
		{"", ""},
		{strings.Repeat("a", 65), strings.Repeat("A", 64)},
		{"_" + strings.Repeat("a", 64), "ATTR__" + strings.Repeat("A", 58)},
	}
	for _, tt := range tests {
		if got := fieldName(tt.key); got != tt.want {
			t.Errorf("fieldName(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// validName reports why name is not a field journald accepts from a
// client, or "" if it is.
func validName(name string) string {
	switch {
	case name == "":
		return "empty"
	case len(name) > maxNameLen:
		return "longer than 64 bytes"
	case name[0] == '_':
		return "starts with _"
	case '0' <= name[0] && name[0] <= '9':
		return "starts with a digit"
	case isReserved(name):
		return "reserved"
	}
	for _, c := range []byte(name) {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return "has " + string(c)
		}
	}
	return ""
}

func FuzzFieldName(f *testing.F) {
	for _, s := range []string{"episode", "nats.url", "_x", "2xx", "message", "größe", strings.Repeat("k", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		name := fieldName(key)
		if key == "" {
			if name != "" {
				t.Fatalf("fieldName(\"\") = %q, want \"\"", name)
			}
			return
		}
		if why := validName(name); why != "" {
			t.Fatalf("fieldName(%q) = %q: %s", key, name, why)
		}
	})
}

type point struct{ X, Y int }

type lazy struct{}

func (lazy) LogValue() slog.Value { return slog.StringValue("resolved") }

func TestValueText(t *testing.T) {
	t.Parallel()
	var nilErr *os.PathError
	tests := []struct {
		v    slog.Value
		want string
	}{
		{slog.StringValue("two words"), "two words"},
		{slog.IntValue(-3), "-3"},
		{slog.Uint64Value(7), "7"},
		{slog.Float64Value(0.25), "0.25"},
		{slog.BoolValue(false), "false"},
		{slog.DurationValue(90 * time.Second), "1m30s"},
		{slog.TimeValue(time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("", 3600))), "2026-01-02T03:04:05.006+01:00"},
		{slog.AnyValue(errors.New("disk full")), "disk full"},
		{slog.AnyValue(nilErr), "<nil>"},
		{slog.AnyValue(netip.MustParseAddr("10.0.0.1")), "10.0.0.1"},
		{slog.AnyValue([]byte("raw")), "raw"},
		{slog.AnyValue(point{1, 2}), "{X:1 Y:2}"},
		{slog.AnyValue(nil), "<nil>"},
		{slog.AnyValue(lazy{}).Resolve(), "resolved"},
	}
	for _, tt := range tests {
		if got := valueText(tt.v); got != tt.want {
			t.Errorf("valueText(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
