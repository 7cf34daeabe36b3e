package progress

import (
	"testing"
	"time"
)

func TestFormatSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{9*1024 + 1000, "10 KiB"}, // 9.98 KiB rounds to 10, no decimal
		{64 << 10, "64 KiB"},
		{1023 << 10, "1023 KiB"},
		{1<<20 - 1, "1.0 MiB"}, // would round to 1024 KiB
		{1 << 20, "1.0 MiB"},
		{540 << 20, "540 MiB"},
		{1288490189, "1.2 GiB"},
		{10 << 30, "10 GiB"},
		{3 << 40, "3.0 TiB"},
		{-2048, "-2.0 KiB"},
	}
	for _, tt := range tests {
		if got := formatSize(tt.n); got != tt.want {
			t.Errorf("formatSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestFormatRate(t *testing.T) {
	tests := []struct {
		bps  float64
		want string
	}{
		{-1, "0 B/s"},
		{0, "0 B/s"},
		{999, "999 B/s"},
		{999.6, "1.0 kB/s"},
		{1000, "1.0 kB/s"},
		{512_000, "512 kB/s"},
		{999_999, "1.0 MB/s"},
		{2_500_000, "2.5 MB/s"},
		{5 << 20, "5.2 MB/s"}, // 5 MiB/s is 5.24 MB/s
		{38_000_000, "38 MB/s"},
		{125_000_000, "125 MB/s"},
		{1.25e9, "1.2 GB/s"},
	}
	for _, tt := range tests {
		if got := formatRate(tt.bps); got != tt.want {
			t.Errorf("formatRate(%v) = %q, want %q", tt.bps, got, tt.want)
		}
	}
}

func TestFormatETA(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{400 * time.Millisecond, "0s"},
		{9500 * time.Millisecond, "10s"},
		{59 * time.Second, "59s"},
		{60 * time.Second, "1m00s"},
		{185 * time.Second, "3m05s"},
		{time.Hour + 2*time.Minute + 40*time.Second, "1h02m"},
		{30 * time.Hour, "30h00m"},
	}
	for _, tt := range tests {
		if got := formatETA(tt.d); got != tt.want {
			t.Errorf("formatETA(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestBar(t *testing.T) {
	tests := []struct {
		frac  float64
		width int
		want  string
	}{
		{0, 10, "[          ]"},
		{-1, 10, "[          ]"},
		{0.05, 10, "[          ]"},
		{0.1, 10, "[=>        ]"},
		{0.45, 10, "[====>     ]"},
		{0.99, 10, "[=========>]"},
		{1, 10, "[==========]"},
		{2, 10, "[==========]"},
	}
	for _, tt := range tests {
		if got := bar(tt.frac, tt.width); got != tt.want {
			t.Errorf("bar(%v, %d) = %q, want %q", tt.frac, tt.width, got, tt.want)
		}
	}
}
