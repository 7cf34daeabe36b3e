package config

import (
	"math"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Size
	}{
		{"0", 0},
		{"1024", 1024},
		{"100B", 100},
		{"512KiB", 512 << 10},
		{"64MiB", 64 << 20},
		{"64 MiB", 64 << 20},
		{"64mib", 64 << 20},
		{"1GiB", 1 << 30},
		{"1.5GiB", 3 << 29},
		{"10GB", 10_000_000_000},
		{"500kB", 500_000},
		{"2TiB", 2 << 40},
		{"1PB", 1_000_000_000_000_000},
		{"0.5KiB", 512},
		{"9223372036854775807", math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSize(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseSizeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // in the error
	}{
		{"", `invalid size ""`},
		{"-1", `invalid size "-1"`},
		{"64XB", `unknown unit "XB"`},
		{"64M", `unknown unit "M"`},
		{"1.5B", "not a whole number of bytes"},
		{"0.1KiB", "not a whole number of bytes"},
		{"9223372036854775808", "larger than"},
		{"8EiB", `unknown unit "EiB"`},
		{"9000PiB", "larger than"},
		{"1.GiB", `invalid size "1.GiB"`},
		{".5GiB", `invalid size ".5GiB"`},
		{"64 ", `invalid size "64 "`},
		{" 64", `invalid size " 64"`},
		{"64  MiB", `invalid size "64  MiB"`},
		{strings.Repeat("9", 100), "longer than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSize(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseSize(%q) = %d, %v; want an error containing %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0"},
		{1, "1B"},
		{1000, "1KB"},
		{1024, "1KiB"},
		{1536, "1536B"},
		{64 * MiB, "64MiB"},
		{3 * GiB / 2, "1536MiB"},
		{64 * GiB, "64GiB"},
		{10 * GB, "10GB"},
		{math.MaxInt64, "9223372036854775807B"},
		{1024 * 1000, "1000KiB"},
		{5 * PiB, "5PiB"},
		{-5, "-5B"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := tt.in.String(); got != tt.want {
				t.Errorf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
			}
			if tt.in < 0 {
				return
			}
			back, err := ParseSize(tt.want)
			if err != nil || back != tt.in {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.want, back, err, int64(tt.in))
			}
		})
	}
}

func TestSizeText(t *testing.T) {
	t.Parallel()
	var s Size
	if err := s.UnmarshalText([]byte("64MiB")); err != nil || s != 64*MiB {
		t.Errorf("UnmarshalText(64MiB) = %d, %v; want %d", s, err, 64*MiB)
	}
	if err := s.UnmarshalText([]byte("lots")); err == nil || s != 64*MiB {
		t.Errorf("UnmarshalText(lots) = %v, value %d; want an error and the value unchanged", err, s)
	}
	b, err := s.MarshalText()
	if err != nil || string(b) != "64MiB" {
		t.Errorf("MarshalText = %q, %v; want \"64MiB\"", b, err)
	}
}

func TestParseSizeOrPercent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want SizeOrPercent
		err  string // "" for valid
	}{
		{"5%", SizeOrPercent{Percent: 5}, ""},
		{"2.5 %", SizeOrPercent{Percent: 2.5}, ""},
		{"0%", SizeOrPercent{}, ""},
		{"20GiB", SizeOrPercent{Size: 20 * GiB}, ""},
		{"0", SizeOrPercent{}, ""},
		{"100%", SizeOrPercent{}, `invalid share "100%": want 0% to below 100%`},
		{"-1%", SizeOrPercent{}, `invalid share "-1%": want a percentage like "5%", or a size`},
		{"%", SizeOrPercent{}, `invalid share "%"`},
		{"5 GiB%", SizeOrPercent{}, `invalid share "5 GiB%"`},
		{"lots", SizeOrPercent{}, `invalid size "lots"`},
	}
	for _, tt := range tests {
		got, err := ParseSizeOrPercent(tt.in)
		if tt.err == "" && (err != nil || got != tt.want) {
			t.Errorf("ParseSizeOrPercent(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ParseSizeOrPercent(%q) = %+v, %v; want an error containing %q", tt.in, got, err, tt.err)
		}
	}
}
