package control

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// This file has chronyc 4.3's number formatting (print_seconds,
// print_nanoseconds, print_signed_nanoseconds, print_freq_ppm and friends
// in client.c), so that every column has the width and unit an admin who
// reads chronyc expects. Each function returns the exact text chronyc's
// printf would produce: Go's %f rounds like glibc's (correctly, ties to
// even), so the digits are the same.

// seconds is print_seconds: an unsigned interval in whole seconds, four
// columns wide, with an m/h/d/y unit once it no longer fits; "   -" when d
// is negative (never). It prints LastRx, Span and the clients' Last.
func seconds(d time.Duration) string {
	if d < 0 {
		return "   -"
	}
	s := uint64(d / time.Second)
	switch {
	case s < 1200:
		return fmt.Sprintf("%4d", s)
	case s < 36000:
		return fmt.Sprintf("%3dm", s/60)
	case s < 345600:
		return fmt.Sprintf("%3dh", s/3600)
	}
	days := s / 86400
	if days > 999 {
		return fmt.Sprintf("%3dy", days/365)
	}
	return fmt.Sprintf("%3dd", days)
}

// unit is one row of chronyc's offset scale: values below limit seconds
// are printed divided by div with the suffix, prec digits after the point.
type unit struct {
	limit, div float64
	prec       int
	suffix     string
}

// units is the scale of print_nanoseconds and print_signed_nanoseconds.
var units = [...]unit{
	{9999.5e-9, 1e-9, 0, "ns"},
	{9999.5e-6, 1e-6, 0, "us"},
	{9999.5e-3, 1e-3, 0, "ms"},
	{999.5, 1, 1, "s"},
	{99999.5, 1, 0, "s"},
	{99999.5 * 60, 60, 0, "m"},
	{99999.5 * 3600, 3600, 0, "h"},
	{99999.5 * 3600 * 24, 3600 * 24, 0, "d"},
	{math.Inf(1), 3600 * 24 * 365, 0, "y"},
}

// nanoseconds is print_nanoseconds: |d| with a unit, six columns wide
// ("3071ns", " 4000ms", "  1.5s").
func nanoseconds(d time.Duration) string {
	return scaled(math.Abs(d.Seconds()), false)
}

// signedNanoseconds is print_signed_nanoseconds: d with its sign and a
// unit, seven columns wide ("  -702ns", "  +0ns").
func signedNanoseconds(d time.Duration) string {
	return scaled(d.Seconds(), true)
}

func scaled(s float64, signed bool) string {
	x := math.Abs(s)
	for _, u := range units {
		if x < u.limit || math.IsInf(u.limit, 1) {
			width := 4 // digits for ns/us/ms, one more for the sign
			if u.div >= 1 {
				width = 5 // the s/m/h/d/y rows are a column wider
			}
			if signed {
				return fmt.Sprintf("%+*.*f%s", width+1, u.prec, s/u.div, u.suffix)
			}
			return fmt.Sprintf("%*.*f%s", width, u.prec, x/u.div, u.suffix)
		}
	}
	panic("unreachable")
}

// freqPPM is print_freq_ppm: ten columns, three decimals while they fit.
func freqPPM(f float64) string {
	if math.Abs(f) < 99999.5 {
		return fmt.Sprintf("%10.3f", f)
	}
	return fmt.Sprintf("%10.0f", f)
}

// signedFreqPPM is print_signed_freq_ppm.
func signedFreqPPM(f float64) string {
	if math.Abs(f) < 99999.5 {
		return fmt.Sprintf("%+10.3f", f)
	}
	return fmt.Sprintf("%+10.0f", f)
}

// clientInterval is print_clientlog_interval: log2 seconds, " -" when
// unknown (127 or more).
func clientInterval(log2 int) string {
	if log2 >= 127 {
		return " -"
	}
	return fmt.Sprintf("%2d", log2)
}

// fastSlow is chronyc's %O and %F: the magnitude, the unit, and which way.
// chronyc prints "fast" for a zero System time and "slow" for a zero
// Frequency; so do we.
func fastSlow(v float64, prec int, unit string, fast bool) string {
	dir := "slow"
	if fast {
		dir = "fast"
	}
	return fmt.Sprintf("%.*f %s %s", prec, math.Abs(v), unit, dir)
}

// header is print_header: the column titles underlined with '='.
func header(title string) string {
	return title + "\n" + strings.Repeat("=", len(title)) + "\n"
}

// truncName is what chronyc does to a name longer than the column: keep
// width-1 bytes and mark the cut with '>' ("fd00:1234:5678:9abc:def0>").
func truncName(name string, width int) string {
	if len(name) <= width {
		return name
	}
	return name[:width-1] + ">"
}
