package config

import (
	"testing"
)

// FuzzParseSize feeds arbitrary strings to ParseSize. It must never panic,
// never return a negative size, and whatever it accepts must come back
// unchanged through String. Seeds: f.Add below and testdata/fuzz/FuzzParseSize.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "1024", "64MiB", "1.5GiB", "10GB", "512 KiB", "1.5B", "-1", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSize(s)
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("ParseSize(%q) = %d, want >= 0", s, int64(v))
		}
		back, err := ParseSize(v.String())
		if err != nil || back != v {
			t.Errorf("ParseSize(%q) = %d; ParseSize(%q) = %d, %v; want %d", s, int64(v), v.String(), int64(back), err, int64(v))
		}
	})
}

// FuzzParseDuration feeds arbitrary strings to ParseDuration. It must never
// panic, never return a negative duration, and whatever it accepts must come
// back unchanged through String. Seeds: f.Add below and
// testdata/fuzz/FuzzParseDuration.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "30s", "10m", "1h30m", "30d", "2w", "1.5h", "1µs", "1w2d3h4m5.5s", "10", "-1s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseDuration(s)
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("ParseDuration(%q) = %d, want >= 0", s, int64(v))
		}
		back, err := ParseDuration(v.String())
		if err != nil || back != v {
			t.Errorf("ParseDuration(%q) = %d; ParseDuration(%q) = %d, %v; want %d", s, int64(v), v.String(), int64(back), err, int64(v))
		}
	})
}

// FuzzParseSizeOrPercent feeds arbitrary strings to ParseSizeOrPercent. It
// must never panic, never return a negative value or a share of 100% or
// more, and whatever it accepts must come back unchanged through String.
func FuzzParseSizeOrPercent(f *testing.F) {
	for _, s := range []string{"5%", "0%", "2.5 %", "99.99%", "100%", "-1%", "%", "64MiB", "0", "1e3%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSizeOrPercent(s)
		if err != nil {
			return
		}
		if v.Size < 0 || v.Percent < 0 || v.Percent >= 100 {
			t.Fatalf("ParseSizeOrPercent(%q) = %+v", s, v)
		}
		back, err := ParseSizeOrPercent(v.String())
		if err != nil || back != v {
			t.Errorf("ParseSizeOrPercent(%q) = %+v; ParseSizeOrPercent(%q) = %+v, %v; want it back", s, v, v.String(), back, err)
		}
	})
}
