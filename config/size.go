package config

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// Size is a number of bytes, written in configuration files as a human
// size: "64MiB", "1.5GiB", "512KiB" (1024-based), "10GB", "500kB"
// (1000-based), "100B", or a plain integer of bytes such as "1024" or "0".
// Units are case-insensitive; a space may separate number and unit.
type Size int64

// Units of Size.
const (
	Byte Size = 1
	KiB       = 1024 * Byte
	MiB       = 1024 * KiB
	GiB       = 1024 * MiB
	TiB       = 1024 * GiB
	PiB       = 1024 * TiB
	KB        = 1000 * Byte
	MB        = 1000 * KB
	GB        = 1000 * MB
	TB        = 1000 * GB
	PB        = 1000 * TB
)

// sizeUnits maps a lower-cased unit to its size.
var sizeUnits = map[string]Size{
	"": Byte, "b": Byte,
	"kib": KiB, "mib": MiB, "gib": GiB, "tib": TiB, "pib": PiB,
	"kb": KB, "mb": MB, "gb": GB, "tb": TB, "pb": PB,
}

// sizeFormats lists the units String tries, 1024-based first.
var sizeFormats = []struct {
	unit Size
	name string
}{
	{PiB, "PiB"}, {TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"},
	{PB, "PB"}, {TB, "TB"}, {GB, "GB"}, {MB, "MB"}, {KB, "KB"},
}

// maxHumanLen bounds the strings ParseSize and ParseDuration read, so that
// no input makes them do much work.
const maxHumanLen = 64

var sizeRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)(?: ?([A-Za-z]+))?$`)

// ParseSize parses a human size (see Size). The result must be a whole
// number of bytes from 0 to math.MaxInt64; errors name the bad value.
func ParseSize(s string) (Size, error) {
	if len(s) > maxHumanLen {
		return 0, fmt.Errorf("invalid size %.20q...: longer than %d characters", s, maxHumanLen)
	}
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size %q: want a number and a unit, like \"64MiB\", \"10GB\" or \"1024\"", s)
	}
	unit, ok := sizeUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (want B, KiB, MiB, GiB, TiB, PiB, or 1000-based KB, MB, GB, TB, PB)", s, m[2])
	}
	n, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return 0, fmt.Errorf("invalid size %q: bad number %q", s, m[1])
	}
	n.Mul(n, new(big.Rat).SetInt64(int64(unit)))
	if !n.IsInt() {
		return 0, fmt.Errorf("invalid size %q: not a whole number of bytes", s)
	}
	if !n.Num().IsInt64() {
		return 0, fmt.Errorf("invalid size %q: larger than %d bytes", s, int64(math.MaxInt64))
	}
	return Size(n.Num().Int64()), nil
}

// String returns s in the unit that divides it exactly with the smallest
// count, 1024-based first on a tie: "64GiB", "10GB", "1536B", "0".
// ParseSize reads it back.
func (s Size) String() string {
	if s == 0 {
		return "0"
	}
	best, name := s, "B"
	if s > 0 {
		for _, f := range sizeFormats {
			if s%f.unit == 0 && s/f.unit < best {
				best, name = s/f.unit, f.name
			}
		}
	}
	return strconv.FormatInt(int64(best), 10) + name
}

// MarshalText returns String.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses text with ParseSize.
func (s *Size) UnmarshalText(text []byte) error {
	v, err := ParseSize(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// SizeOrPercent is a Size or a share of something's size, written "5%"
// (0 to below 100, decimals allowed) or as a Size: archive_min_free, a
// share of archive_dir's file system or a number of bytes.
type SizeOrPercent struct {
	Size    Size
	Percent float64 // used when Size is 0
}

var percentRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// ParseSizeOrPercent parses "5%", "2.5 %" or a human size (ParseSize).
func ParseSizeOrPercent(s string) (SizeOrPercent, error) {
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		v, err := ParseSize(s)
		return SizeOrPercent{Size: v}, err
	}
	num = strings.TrimSuffix(num, " ")
	if len(s) > maxHumanLen || !percentRE.MatchString(num) {
		return SizeOrPercent{}, fmt.Errorf("invalid share %.20q: want a percentage like \"5%%\", or a size", s)
	}
	p, err := strconv.ParseFloat(num, 64)
	if err != nil || p >= 100 {
		return SizeOrPercent{}, fmt.Errorf("invalid share %q: want 0%% to below 100%%", s)
	}
	return SizeOrPercent{Percent: p}, nil
}

// String returns "5%", or the Size's String; ParseSizeOrPercent reads it back.
func (v SizeOrPercent) String() string {
	if v.Size == 0 && v.Percent != 0 {
		return strconv.FormatFloat(v.Percent, 'f', -1, 64) + "%"
	}
	return v.Size.String()
}

// MarshalText returns String.
func (v SizeOrPercent) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses text with ParseSizeOrPercent.
func (v *SizeOrPercent) UnmarshalText(text []byte) error {
	p, err := ParseSizeOrPercent(string(text))
	if err != nil {
		return err
	}
	*v = p
	return nil
}
