// Package units holds small value types shared by config structs, such as
// byte sizes written as "1MiB".
package units

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Bytes is a size in bytes. In YAML it is an integer (bytes) or a string
// with a unit: "512", "64KB", "64KiB", "1MB", "1MiB", "2GiB". KB/MB/GB are
// decimal (1000), KiB/MiB/GiB binary (1024).
type Bytes int64

var byteUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"kib": 1 << 10,
	"k":   1 << 10,
	"mb":  1000 * 1000,
	"mib": 1 << 20,
	"m":   1 << 20,
	"gb":  1000 * 1000 * 1000,
	"gib": 1 << 30,
	"g":   1 << 30,
}

// ParseBytes parses a size such as "1MiB". A leading minus is kept (config
// blocks use negative sizes to switch a limit off).
func ParseBytes(s string) (Bytes, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "-"); ok && !strings.HasPrefix(rest, "-") {
		v, err := ParseBytes(rest)
		if err != nil {
			return 0, fmt.Errorf("invalid size %q: %w", s, err)
		}
		return -v, nil
	}
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	}
	if num == "" {
		return 0, fmt.Errorf("invalid size %q: expected a number of bytes such as 1048576 or 1MiB", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %v", s, err)
	}
	mul, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KB, KiB, MB, MiB, GB or GiB)", s, unit)
	}
	if n > (1<<62)/mul {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return Bytes(n * mul), nil
}

// UnmarshalText implements encoding.TextUnmarshaler (YAML and JSON strings).
func (b *Bytes) UnmarshalText(text []byte) error {
	v, err := ParseBytes(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (b Bytes) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// String formats b with the largest exact binary unit.
func (b Bytes) String() string {
	n := int64(b)
	if n < 0 {
		return "-" + Bytes(-n).String()
	}
	switch {
	case n != 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}
