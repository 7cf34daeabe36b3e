package journald

import (
	"encoding"
	"fmt"
	"log/slog"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
)

// maxNameLen is the longest field name journald accepts.
const maxNameLen = 64

// namePrefix starts a field name that would otherwise be invalid or
// reserved.
const namePrefix = "ATTR_"

// reserved are the fields journald gives a meaning (systemd.journal-fields(7),
// "User Journal Fields"); an attribute must not set them by accident.
var reserved = map[string]bool{
	"MESSAGE": true, "MESSAGE_ID": true, "PRIORITY": true,
	"CODE_FILE": true, "CODE_LINE": true, "CODE_FUNC": true,
	"ERRNO": true, "INVOCATION_ID": true, "USER_INVOCATION_ID": true,
	"SYSLOG_FACILITY": true, "SYSLOG_IDENTIFIER": true, "SYSLOG_PID": true,
	"SYSLOG_TIMESTAMP": true, "SYSLOG_RAW": true,
	"DOCUMENTATION": true, "TID": true, "UNIT": true, "USER_UNIT": true,
}

// reservedPrefixes start the fields a privileged process sets on behalf
// of another one.
var reservedPrefixes = []string{"OBJECT_", "COREDUMP_"}

// fieldName returns the journal field name for the attribute key key
// (groups joined with "."): upper case, every other character than A-Z,
// 0-9 and _ made _, prefixed with ATTR_ if it would start with _ or a digit
// or is reserved, cut to 64 bytes. It returns "" for an empty key.
func fieldName(key string) string {
	if key == "" {
		return ""
	}
	var b strings.Builder
	for _, r := range key {
		switch {
		case 'a' <= r && r <= 'z':
			r -= 'a' - 'A'
		case 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '_':
		default:
			r = '_'
		}
		b.WriteRune(r)
	}
	name := b.String()
	if name[0] == '_' || '0' <= name[0] && name[0] <= '9' || isReserved(name) {
		name = namePrefix + name
	}
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	return name
}

func isReserved(name string) bool {
	if reserved[name] {
		return true
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// field is one journal field of an attribute.
type field struct{ name, value string }

// appendFields appends the fields of a, whose key is qualified by prefix
// (the open groups, each followed by "."), flattening groups as slog's
// handlers do: an empty attribute and an empty group add nothing, a group
// with an empty key is inlined.
func appendFields(fs []field, prefix string, a slog.Attr) []field {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return fs
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			fs = appendFields(fs, prefix, g)
		}
		return fs
	}
	name := fieldName(prefix + a.Key)
	if name == "" {
		return fs
	}
	return append(fs, field{name, valueText(a.Value)})
}

// timeFormat is slog's text handler's: RFC 3339 with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// valueText renders a resolved, non-group v as slog's text handler does,
// without quoting.
func valueText(v slog.Value) string {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindTime:
		return v.Time().Format(timeFormat)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return fmt.Sprint(x) // Error(), safe for a nil pointer
		case encoding.TextMarshaler:
			b, err := x.MarshalText()
			if err != nil {
				return "!ERROR:" + err.Error()
			}
			return string(b)
		case []byte:
			return string(x)
		}
		return fmt.Sprintf("%+v", v.Any())
	default: // numbers, bool, duration
		return v.String()
	}
}

// priority maps a slog level to a syslog priority.
func priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	default:
		return journal.PriDebug
	}
}
