package control

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// This file prints `tracking` and `clients` as chronyc 4.3 does (and
// `tracking` one line of ntpbox's own after chronyc's, when our
// oscillator's frequency jump is remembered).

// FormatTracking writes t as `chronyc tracking` does, then "Remembered
// jump" if t.RememberedJump is not 0.
//
//	Reference ID    : C0A80001 (ntp1.example.net)
//	Stratum         : 3
//	Ref time (UTC)  : Fri Jan 27 09:49:17 2017
//	System time     : 0.000006523 seconds slow of NTP time
//	...
//	Leap status     : Normal
func FormatTracking(w io.Writer, t upstream.TrackingReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Reference ID    : %08X (%s)\n", t.RefID, t.RefName)
	fmt.Fprintf(&b, "Stratum         : %d\n", t.Stratum)
	fmt.Fprintf(&b, "Ref time (UTC)  : %s\n", refTime(t.RefTime))
	// chronyc's "System time" is the correction chronyd still has to
	// apply, positive when the clock is slow; ours is the clock's error,
	// positive when fast. chronyc says "fast" for zero.
	fmt.Fprintf(&b, "System time     : %s of NTP time\n", fastSlow(t.SystemTime.Seconds(), 9, "seconds", t.SystemTime >= 0))
	fmt.Fprintf(&b, "Last offset     : %+.9f seconds\n", t.LastOffset.Seconds())
	fmt.Fprintf(&b, "RMS offset      : %.9f seconds\n", t.RMSOffset.Seconds())
	fmt.Fprintf(&b, "Frequency       : %s\n", fastSlow(t.Frequency, 3, "ppm", t.Frequency > 0))
	fmt.Fprintf(&b, "Residual freq   : %+.3f ppm\n", t.ResidualFreq)
	fmt.Fprintf(&b, "Skew            : %.3f ppm\n", t.Skew)
	fmt.Fprintf(&b, "Root delay      : %.9f seconds\n", t.RootDelay.Seconds())
	fmt.Fprintf(&b, "Root dispersion : %.9f seconds\n", t.RootDispersion.Seconds())
	fmt.Fprintf(&b, "Update interval : %.1f seconds\n", t.UpdateInterval.Seconds())
	fmt.Fprintf(&b, "Leap status     : %s\n", leapStatus(t.Leap))
	if t.RememberedJump != 0 { // ntpbox's own line: chronyc has none
		fmt.Fprintf(&b, "Remembered jump : %.3f ppm\n", t.RememberedJump)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// refTime is chronyc's %T: strftime "%a %b %d %T %Y" in UTC. A daemon that
// has never been synchronised reports the Unix epoch, as chronyd does; the
// zero time.Time prints the same.
func refTime(t time.Time) string {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return t.UTC().Format("Mon Jan 02 15:04:05 2006")
}

// leapStatus is chronyc's %L: one of the four leap states, "Invalid" for
// anything else.
func leapStatus(s string) string {
	switch s {
	case "Normal", "Insert second", "Delete second", "Not synchronised":
		return s
	}
	return "Invalid"
}

// clientsTitle is chronyc's, with its last four columns for command-port
// accesses. ntpbox does not count command-port requests per client (only
// in all, for serverstats), so those columns always read 0, 0, -, -, as
// chronyc prints them for a host that only spoke NTP; the command port
// (package control/cmdmon) reports them the same way.
const clientsTitle = "Hostname                      NTP   Drop Int IntL Last     Cmd   Drop Int  Last"

// FormatClients writes clients as `chronyc clients` does, in the order
// given.
//
// The IntL column (chrony's average interval after rate limiting) is not
// tracked by ntpbox and always prints "-". KoD has no column in chronyc;
// it is in the JSON only.
func FormatClients(w io.Writer, clients []ClientReport) error {
	var b strings.Builder
	b.WriteString(header(clientsTitle))
	for _, c := range clients {
		if !c.Addr.IsValid() {
			continue // as chronyc skips a record it cannot find
		}
		intL := 127
		if c.IntervalLimited != nil {
			intL = *c.IntervalLimited
		}
		cmd := CmdAccess{Interval: 127, LastAgo: -1}
		if c.CmdPort != nil {
			cmd = *c.CmdPort
		}
		fmt.Fprintf(&b, "%-25s  %6d  %5d  %s  %s  %s  %6d  %5d  %s  %s\n",
			truncName(c.Addr.String(), nameWidth), uint32(c.NTP), uint32(c.Drop),
			clientInterval(c.Interval), clientInterval(intL), seconds(c.LastAgo),
			uint32(cmd.Hits), uint32(cmd.Drops), clientInterval(cmd.Interval), seconds(cmd.LastAgo))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
