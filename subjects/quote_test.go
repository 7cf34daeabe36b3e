package subjects_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cis490/cis490/subjects"
)

func TestQuote(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", `""`},
		{"lab1", `"lab1"`},
		{"a\nb", `"a\nb"`},
		{strings.Repeat("x", 158), `"` + strings.Repeat("x", 158) + `"`},
		{strings.Repeat("x", 159), `"` + strings.Repeat("x", 143) + `"… (159 bytes)`},
		{strings.Repeat("é", 100), `"` + strings.Repeat("é", 71) + `"… (200 bytes)`},
		{strings.Repeat("\xff", 1<<20), `"` + strings.Repeat(`\xff`, 34) + `"… (1048576 bytes)`},
	}
	for _, tt := range tests {
		if got := subjects.Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%.20q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 32, "short"},
		{"bad \xff byte", 32, "bad \uFFFD byte"},
		{strings.Repeat("x", 40), 40, strings.Repeat("x", 40)},
		{strings.Repeat("x", 41), 40, strings.Repeat("x", 26) + "… (41 bytes)"},
		{strings.Repeat("é", 30), 40, strings.Repeat("é", 13) + "… (60 bytes)"},
		{strings.Repeat("\xff", 20), 40, strings.Repeat("\uFFFD", 8) + "… (20 bytes)"},
	}
	for _, tt := range tests {
		if got := subjects.Clip(tt.in, tt.n); got != tt.want {
			t.Errorf("Clip(%.20q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func FuzzClip(f *testing.F) {
	for _, s := range []string{"", "lab1", "bad \xff", strings.Repeat("é", 300), strings.Repeat("\x80", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range []int{32, subjects.MaxField, subjects.MaxDetail} {
			got := subjects.Clip(s, n)
			if len(got) > n || !utf8.ValidString(got) {
				t.Fatalf("Clip(%q, %d) = %q: %d bytes, valid UTF-8 %v", s, n, got, len(got), utf8.ValidString(got))
			}
			if len(s) <= n && utf8.ValidString(s) && got != s {
				t.Fatalf("Clip(%q, %d) = %q, want it unchanged", s, n, got)
			}
		}
		if q := subjects.Quote(s); len(q) > subjects.MaxQuoted {
			t.Fatalf("Quote(%q) = %d bytes", s, len(q))
		}
	})
}
