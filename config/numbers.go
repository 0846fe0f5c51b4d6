package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Integer bounds used where chrony takes a C int.
const (
	maxInt32 = math.MaxInt32
	minInt32 = math.MinInt32
)

// got describes a word in an error message: the quoted word, or "nothing"
// when the argument is missing (s == nil).
func got(s *string) string {
	if s == nil {
		return "nothing"
	}
	return strconv.Quote(*s)
}

// label prefixes msg with an option name, if there is one.
func label(option, msg string) error {
	if option == "" {
		return fmt.Errorf("%s", msg)
	}
	return fmt.Errorf("%s: %s", option, msg)
}

// parseInt parses a decimal integer (optionally signed) in [lo, hi].
// option names the option for the message ("" for a directive argument);
// s == nil means the argument is missing.
func parseInt(option string, s *string, lo, hi int) (int, error) {
	want := fmt.Sprintf("expected an integer %d..%d", lo, hi)
	if s == nil || !isDecimal(*s) {
		return 0, label(option, want+", got "+got(s))
	}
	v, err := strconv.Atoi(*s)
	if err != nil || v < lo || v > hi {
		return 0, label(option, want+", got "+got(s))
	}
	return v, nil
}

// isDecimal reports whether s is an optionally signed run of ASCII digits.
func isDecimal(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "+"), "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseFloat parses a finite decimal number ("1", "0.1", "-2.5", "1e-3")
// in [lo, hi]; either bound may be infinite.
func parseFloat(option string, s *string, lo, hi float64) (float64, error) {
	want := "expected " + describeRange(lo, hi)
	if s == nil || !isDecimalFloat(*s) {
		return 0, label(option, want+", got "+got(s))
	}
	v, err := strconv.ParseFloat(*s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || v < lo || v > hi {
		return 0, label(option, want+", got "+got(s))
	}
	return v, nil
}

// isDecimalFloat rejects the forms strconv accepts but chrony's users would
// not write or chrony would not read the same way: hex floats, "inf",
// "nan", underscores.
func isDecimalFloat(s string) bool {
	digits := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' || c == '+' || c == '-' || c == 'e' || c == 'E':
		default:
			return false
		}
	}
	return digits
}

func describeRange(lo, hi float64) string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	switch {
	case math.IsInf(lo, -1) && math.IsInf(hi, 1):
		return "a number"
	case math.IsInf(hi, 1):
		return "a number >= " + f(lo)
	case math.IsInf(lo, -1):
		return "a number <= " + f(hi)
	default:
		return "a number " + f(lo) + ".." + f(hi)
	}
}

// parseUint32 parses a decimal number in [lo, math.MaxUint32] (chrony's
// SCNu32 values, such as key IDs). Only the syntax is needed, so the value
// is not returned.
func parseUint32(option string, s *string, lo uint64) error {
	want := fmt.Sprintf("expected an integer %d..%d", lo, uint64(math.MaxUint32))
	if s == nil || strings.Trim(*s, "0123456789") != "" {
		return label(option, want+", got "+got(s))
	}
	v, err := strconv.ParseUint(*s, 10, 32)
	if err != nil || v < lo {
		return label(option, want+", got "+got(s))
	}
	return nil
}

// parseHex32 parses an unsigned hexadecimal 32-bit number (chrony's
// `extfield` type), with or without a 0x prefix.
func parseHex32(option string, s *string) (uint32, error) {
	want := "expected a hexadecimal number"
	if s == nil {
		return 0, label(option, want+", got nothing")
	}
	h := strings.TrimPrefix(strings.TrimPrefix(*s, "0x"), "0X")
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return 0, label(option, want+", got "+got(s))
	}
	return uint32(v), nil
}

// nonNegativeOrMinusOne maps every negative value to -1, chrony's "no
// limit" spelling, so consumers test one value.
func nonNegativeOrMinusOne[T int | float64](v T) T {
	if v < 0 {
		return -1
	}
	return v
}
