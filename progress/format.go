package progress

import (
	"fmt"
	"strings"
	"time"
)

// formatSize returns n bytes in binary units, B, KiB, MiB, GiB, TiB: whole
// bytes below 1 KiB, one decimal below 10 of a unit, whole units above
// ("512 B", "9.5 KiB", "540 MiB", "1.2 GiB").
func formatSize(n int64) string {
	if n < 0 {
		return "-" + formatSize(-n)
	}
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	return scaled(float64(n), 1024, []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"})
}

// FormatSize is formatSize, for the messages of other packages.
func FormatSize(n int64) string { return formatSize(n) }

// formatRate returns a rate in bytes per second in decimal units, as
// network rates are quoted: B/s, kB/s, MB/s, GB/s ("38 MB/s", "2.5 MB/s").
func formatRate(bytesPerSecond float64) string {
	if bytesPerSecond < 999.5 {
		return fmt.Sprintf("%.0f B/s", max(bytesPerSecond, 0))
	}
	return scaled(bytesPerSecond, 1000, []string{"B/s", "kB/s", "MB/s", "GB/s", "TB/s"})
}

// scaled divides v by base until it is below base and formats it with the
// unit reached: one decimal below 10, none above. A value that would round
// up to base moves on to the next unit ("1.0 MiB", not "1024 KiB").
func scaled(v, base float64, units []string) string {
	i := 0
	for i < len(units)-1 && v >= base-0.5 {
		v /= base
		i++
	}
	if v < 9.95 {
		return fmt.Sprintf("%.1f %s", v, units[i])
	}
	return fmt.Sprintf("%.0f %s", v, units[i])
}

// formatETA returns a duration rounded to the second, in the largest two
// units: "9s", "3m05s", "1h02m".
func formatETA(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
}

// bar returns a bar of width cells, filled for the fraction done (0 to 1):
// "[=========>          ]".
func bar(frac float64, width int) string {
	frac = min(max(frac, 0), 1)
	fill := int(frac * float64(width))
	var b strings.Builder
	b.Grow(width + 2)
	b.WriteByte('[')
	b.WriteString(strings.Repeat("=", fill))
	if fill < width {
		if fill > 0 {
			b.WriteByte('>')
			fill++
		}
		b.WriteString(strings.Repeat(" ", width-fill))
	}
	b.WriteByte(']')
	return b.String()
}
