package config

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"0s", 0},
		{"30s", 30 * time.Second},
		{"10m", 10 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"1.5h", 90 * time.Minute},
		{"36h", 36 * time.Hour},
		{"30d", 30 * 24 * time.Hour},
		{"2w", 14 * 24 * time.Hour},
		{"1w2d3h", (9*24 + 3) * time.Hour},
		{"250ms", 250 * time.Millisecond},
		{"1us", time.Microsecond},
		{"1µs", time.Microsecond},
		{"1μs", time.Microsecond},
		{"1ns", 1},
		{"1.5ns", 1},
		{"2562047h47m16.854775807s", math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDuration(tt.in)
			if err != nil || got != Duration(tt.want) {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v, nil", tt.in, time.Duration(got), err, tt.want)
			}
		})
	}
}

func TestParseDurationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // in the error
	}{
		{"", `invalid duration "": empty`},
		{"10", `missing unit after "10"`},
		{"1h30", `missing unit after "30"`},
		{"-1s", `want a number before "-1s"`},
		{"+1s", `want a number before "+1s"`},
		{"30x", `unknown unit "x"`},
		{"30 s", `unknown unit " s"`},
		{"30D", `unknown unit "D"`},
		{"1.s", `bad number "1."`},
		{".5s", `bad number ".5"`},
		{"1..5s", `bad number "1..5"`},
		{"s", `want a number before "s"`},
		{"2562047h47m16.854775808s", "longer than"},
		{"100000w", "longer than"},
		{strings.Repeat("1s", 40), "longer than 64 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDuration(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseDuration(%q) = %v, %v; want an error containing %q", tt.in, time.Duration(got), err, tt.want)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0"},
		{time.Nanosecond, "1ns"},
		{250 * time.Millisecond, "250ms"},
		{1500 * time.Millisecond, "1.5s"},
		{30 * time.Second, "30s"},
		{2 * time.Minute, "2m"},
		{150 * time.Second, "2m30s"},
		{time.Minute + 500*time.Millisecond, "1m500ms"},
		{90 * time.Minute, "1h30m"},
		{24 * time.Hour, "24h"},
		{36 * time.Hour, "36h"},
		{48 * time.Hour, "2d"},
		{7 * Day, "1w"},
		{30 * Day, "30d"},
		{14 * Day, "2w"},
		{49*time.Hour + time.Second, "49h1s"},
		{math.MaxInt64, "2562047h47m16.854775807s"},
		{-time.Minute, "-1m"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := Duration(tt.in).String(); got != tt.want {
				t.Errorf("Duration(%v).String() = %q, want %q", tt.in, got, tt.want)
			}
			if tt.in < 0 {
				return
			}
			back, err := ParseDuration(tt.want)
			if err != nil || back != Duration(tt.in) {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.want, time.Duration(back), err, tt.in)
			}
		})
	}
}

func TestDurationText(t *testing.T) {
	t.Parallel()
	var d Duration
	if err := d.UnmarshalText([]byte("30d")); err != nil || d.Duration() != 30*Day {
		t.Errorf("UnmarshalText(30d) = %v, %v; want %v", d.Duration(), err, 30*Day)
	}
	if err := d.UnmarshalText([]byte("soon")); err == nil || d.Duration() != 30*Day {
		t.Errorf("UnmarshalText(soon) = %v, value %v; want an error and the value unchanged", err, d.Duration())
	}
	b, err := d.MarshalText()
	if err != nil || string(b) != "30d" {
		t.Errorf("MarshalText = %q, %v; want \"30d\"", b, err)
	}
}
