package subjects

import (
	"strconv"
	"unicode/utf8"
)

// Bounds of the text a lab host can make the hub keep or log: an id, a
// header, a field of meta.json or of a manifest, a name in the archive.
// Whatever the host sends, what the hub writes of it is at most this long.
const (
	// MaxQuoted bounds, in bytes, what Quote returns.
	MaxQuoted = 160
	// MaxDetail bounds a verdict's detail, in bytes.
	MaxDetail = 512
	// MaxField bounds any other string a host sets that the hub keeps in a
	// verdict or a record, or logs: a submission id, a branch, a subject.
	MaxField = 256
)

// Quote returns s quoted as %q does when that takes at most MaxQuoted
// bytes (any id, name or field of a valid episode does); otherwise the
// quoted start of s followed by its length, MaxQuoted bytes at most in
// all: "\"xxxx\"… (1048576 bytes)". Errors and log lines quote every value
// that came from outside with it.
func Quote(s string) string {
	if len(s) <= MaxQuoted {
		if q := strconv.Quote(s); len(q) <= MaxQuoted {
			return q
		}
	}
	tail := more(len(s))
	room := MaxQuoted - len(tail)
	for k := room - 2; ; {
		q := strconv.Quote(s[:cut(s, k)])
		if len(q) <= room {
			return q + tail
		}
		k = min(k*room/len(q), k-1) // escapes take up to 10 bytes a character
	}
}

// Clip returns s as valid UTF-8 of at most n bytes (n at least 32): s
// itself when it is that already, else with each invalid byte replaced
// by U+FFFD and, when still too long, cut on a character boundary and
// followed by its length: "… (1048576 bytes)".
func Clip(s string, n int) string {
	if len(s) <= n && utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, min(n, 3*len(s)))
	for _, r := range s { // an invalid byte comes as utf8.RuneError
		if len(b)+utf8.RuneLen(r) > n {
			tail := more(len(s))
			return string(b[:cut(string(b), max(n-len(tail), 0))]) + tail
		}
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// cut is the length of the longest prefix of s of at most n bytes that
// ends on a character boundary (an invalid byte is one character).
func cut(s string, n int) int {
	i := 0
	for i < len(s) {
		_, size := utf8.DecodeRuneInString(s[i:])
		if i+size > n {
			break
		}
		i += size
	}
	return i
}

// more is what follows a cut value: its length in bytes.
func more(n int) string { return "… (" + strconv.Itoa(n) + " bytes)" }
