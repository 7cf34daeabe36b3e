package config

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in configuration files as a Go
// duration with two more units, d (24h) and w (7d): "30s", "10m", "1h30m",
// "36h", "30d", "2w", "1w2d", "1.5h". "0" is zero. Negative durations are
// not accepted.
type Duration time.Duration

// Units of Duration beyond time.Hour.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// durationUnits maps a unit to its length. µs is accepted in both of its
// Unicode spellings, as time.ParseDuration does.
var durationUnits = map[string]time.Duration{
	"ns": time.Nanosecond,
	"us": time.Microsecond, "µs": time.Microsecond, "μs": time.Microsecond,
	"ms": time.Millisecond,
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
	"d":  Day,
	"w":  Week,
}

// ParseDuration parses a duration (see Duration). Each number may have a
// fraction; the total is truncated to whole nanoseconds and must fit a
// time.Duration. Errors name the bad value.
func ParseDuration(s string) (Duration, error) {
	if len(s) > maxHumanLen {
		return 0, fmt.Errorf("invalid duration %.20q...: longer than %d characters", s, maxHumanLen)
	}
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, fmt.Errorf("invalid duration %q: empty (want e.g. \"30s\", \"10m\", \"30d\")", s)
	}
	total := new(big.Rat)
	for rest := s; rest != ""; {
		i := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i == 0 {
			return 0, fmt.Errorf("invalid duration %q: want a number before %q", s, rest)
		}
		if i < 0 {
			return 0, fmt.Errorf("invalid duration %q: missing unit after %q (want ns, us, ms, s, m, h, d or w)", s, rest)
		}
		num := rest[:i]
		rest = rest[i:]
		j := strings.IndexFunc(rest, func(r rune) bool { return (r >= '0' && r <= '9') || r == '.' })
		if j < 0 {
			j = len(rest)
		}
		unit, ok := durationUnits[rest[:j]]
		if !ok {
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q (want ns, us, ms, s, m, h, d or w)", s, rest[:j])
		}
		rest = rest[j:]
		if !validDecimal(num) {
			return 0, fmt.Errorf("invalid duration %q: bad number %q", s, num)
		}
		n, _ := new(big.Rat).SetString(num)
		total.Add(total, n.Mul(n, new(big.Rat).SetInt64(int64(unit))))
	}
	ns := new(big.Int).Quo(total.Num(), total.Denom()) // truncates; total >= 0
	if !ns.IsInt64() {
		return 0, fmt.Errorf("invalid duration %q: longer than %s", s, Duration(math.MaxInt64))
	}
	return Duration(ns.Int64()), nil
}

// validDecimal reports whether s is digits with at most one '.' between digits.
func validDecimal(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || (dot && frac == "") || strings.Contains(frac, ".") {
		return false
	}
	return true
}

// String returns d as ParseDuration reads it: from two days up, whole
// weeks as "2w" and whole days as "30d"; otherwise hours, minutes and
// seconds as "24h", "36h", "1h30m", "2m30s", "1.5s"; zero as "0".
func (d Duration) String() string {
	switch {
	case d == 0:
		return "0"
	case d < 0:
		if d == math.MinInt64 {
			return time.Duration(d).String()
		}
		return "-" + (-d).String()
	case time.Duration(d) >= 2*Day && time.Duration(d)%Week == 0:
		return strconv.FormatInt(int64(time.Duration(d)/Week), 10) + "w"
	case time.Duration(d) >= 2*Day && time.Duration(d)%Day == 0:
		return strconv.FormatInt(int64(time.Duration(d)/Day), 10) + "d"
	}
	var b strings.Builder
	rest := time.Duration(d)
	if h := rest / time.Hour; h > 0 {
		b.WriteString(strconv.FormatInt(int64(h), 10) + "h")
		rest -= h * time.Hour
	}
	if m := rest / time.Minute; m > 0 {
		b.WriteString(strconv.FormatInt(int64(m), 10) + "m")
		rest -= m * time.Minute
	}
	if rest > 0 {
		b.WriteString(rest.String()) // under a minute: "30s", "1.5s", "250ms"
	}
	return b.String()
}

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// MarshalText returns String.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses text with ParseDuration.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
