package control

import (
	"fmt"
	"io"
	"strings"

	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// This file prints `sources` and `sourcestats` as chronyc 4.3 does: same
// titles, legends (-v), columns and symbols. The texts were copied from
// chronyc's output (see testdata/chronyc) and are compared with it byte for
// byte in chronyc_test.go.

// sourcesLegend is what `chronyc sources -v` prints above the header.
const sourcesLegend = `
  .-- Source mode  '^' = server, '=' = peer, '#' = local clock.
 / .- Source state '*' = current best, '+' = combined, '-' = not combined,
| /             'x' = may be in error, '~' = too variable, '?' = unusable.
||                                                 .- xxxx [ yyyy ] +/- zzzz
||      Reachability register (octal) -.           |  xxxx = adjusted offset,
||      Log2(Polling interval) --.      |          |  yyyy = measured offset,
||                                \     |          |  zzzz = estimated error.
||                                 |    |           \
`

// sourcesTitle keeps chronyc's trailing spaces: its rule is as wide as a
// row.
const sourcesTitle = "MS Name/IP address         Stratum Poll Reach LastRx Last sample               "

// sourceStatsLegend is what `chronyc sourcestats -v` prints above the header.
const sourceStatsLegend = `                             .- Number of sample points in measurement set.
                            /    .- Number of residual runs with same sign.
                           |    /    .- Length of measurement set (time).
                           |   |    /      .- Est. clock freq error (ppm).
                           |   |   |      /           .- Est. error in freq.
                           |   |   |     |           /         .- Est. offset.
                           |   |   |     |          |          |   On the -.
                           |   |   |     |          |          |   samples. \
                           |   |   |     |          |          |             |
`

const sourceStatsTitle = "Name/IP Address            NP  NR  Span  Frequency  Freq Skew  Offset  Std Dev"

// nameWidth is where chronyc cuts a source or client name (with a '>').
const nameWidth = 25

// FormatSources writes sources as `chronyc sources` does, with the legend
// of `chronyc sources -v` when verbose.
//
//	MS Name/IP address         Stratum Poll Reach LastRx Last sample
//	===============================================================================
//	^* ntp1.example.net              2   6   377    23   -923us[ -924us] +/-   43ms
func FormatSources(w io.Writer, sources []upstream.SourceReport, verbose bool) error {
	var b strings.Builder
	if verbose {
		b.WriteString(sourcesLegend)
	}
	b.WriteString(header(sourcesTitle))
	for _, s := range sources {
		fmt.Fprintf(&b, "%c%c %-27s  %2d  %2d   %3o  %s  %s[%s] +/- %s\n",
			symbol(s.Mode), symbol(s.State), truncName(sourceName(s), nameWidth),
			s.Stratum, s.Poll, s.Reach, seconds(s.LastRx),
			signedNanoseconds(s.AdjustedOffset), signedNanoseconds(s.MeasuredOffset),
			nanoseconds(s.ErrorBound))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FormatSourceStats writes sources as `chronyc sourcestats` does, with the
// legend of `chronyc sourcestats -v` when verbose.
//
//	Name/IP Address            NP  NR  Span  Frequency  Freq Skew  Offset  Std Dev
//	==============================================================================
//	ntp1.example.net           11   5   46m     -0.001      0.045     +1us    25us
func FormatSourceStats(w io.Writer, sources []upstream.SourceReport, verbose bool) error {
	var b strings.Builder
	if verbose {
		b.WriteString(sourceStatsLegend)
	}
	b.WriteString(header(sourceStatsTitle))
	for _, s := range sources {
		fmt.Fprintf(&b, "%-25s %3d %3d  %s %s %s  %s  %s\n",
			truncName(sourceName(s), nameWidth), uint32(s.NP), uint32(s.NR), seconds(s.Span),
			signedFreqPPM(s.Frequency), freqPPM(s.FreqSkew),
			signedNanoseconds(s.Offset), nanoseconds(s.StdDev))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// symbol is the one-character Mode or State column; chronyc prints a
// space for a value it does not know.
func symbol(s string) byte {
	if len(s) != 1 {
		return ' '
	}
	return s[0]
}

// sourceName is the name column: the name as configured, else the address.
func sourceName(s upstream.SourceReport) string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Addr.IsValid():
		return s.Addr.Addr().String()
	}
	return "?"
}
