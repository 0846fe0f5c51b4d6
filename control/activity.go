package control

import (
	"fmt"
	"io"
	"strings"

	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// This file is `activity` and `serverstats`, as chronyc 4.3 prints them.

// Stats is a Provider that also counts: the server's counters
// (`serverstats`) and the configured sources without an address yet
// (`activity`).
type Stats interface {
	ServerStats() ServerStats
	Unresolved() int
}

// ActivityReport is `activity`: how many sources are online, offline,
// in a burst (and what they return to after it), and how many have no
// address yet.
type ActivityReport struct {
	Online       int `json:"online"`
	Offline      int `json:"offline"`
	BurstOnline  int `json:"burst_online"`  // doing a burst, online after it
	BurstOffline int `json:"burst_offline"` // doing a burst, offline after it
	Unresolved   int `json:"unresolved"`    // with unknown address
}

// Activity counts sources as chronyd's activity report does: ntpbox's
// sources are online (or in a burst that returns to online); a source
// without an address, and each of the unresolved ones the daemon counts
// apart, has an unknown address.
func Activity(srcs []upstream.SourceReport, unresolved int) ActivityReport {
	a := ActivityReport{Unresolved: max(unresolved, 0)}
	for _, s := range srcs {
		switch {
		case !s.Addr.IsValid():
			a.Unresolved++
		case s.Burst:
			a.BurstOnline++
		default:
			a.Online++
		}
	}
	return a
}

// FormatActivity writes a as `chronyc activity` does.
//
//	200 OK
//	3 sources online
//	0 sources offline
//	0 sources doing burst (return to online)
//	0 sources doing burst (return to offline)
//	0 sources with unknown address
func FormatActivity(w io.Writer, a ActivityReport) error {
	_, err := fmt.Fprintf(w, "200 OK\n"+
		"%d sources online\n"+
		"%d sources offline\n"+
		"%d sources doing burst (return to online)\n"+
		"%d sources doing burst (return to offline)\n"+
		"%d sources with unknown address\n",
		uint32(a.Online), uint32(a.Offline), uint32(a.BurstOnline), uint32(a.BurstOffline), uint32(a.Unresolved))
	return err
}

// FormatServerStats writes st as `chronyc serverstats` does (4.3, with
// the NTS-KE and authentication counters ntpbox does not have at 0).
// chronyd's counters are 32 bits; chronyc prints them so.
//
//	NTP packets received       : 1598
//	NTP packets dropped        : 0
//	...
func FormatServerStats(w io.Writer, st ServerStats) error {
	var b strings.Builder
	for _, l := range []struct {
		label string
		v     uint64
	}{
		{"NTP packets received       ", st.NTPHits},
		{"NTP packets dropped        ", st.NTPDrops},
		{"Command packets received   ", st.CmdHits},
		{"Command packets dropped    ", st.CmdDrops},
		{"Client log records dropped ", st.LogDrops},
		{"NTS-KE connections accepted", 0},
		{"NTS-KE connections dropped ", 0},
		{"Authenticated NTP packets  ", 0},
		{"Interleaved NTP packets    ", st.InterleavedHits},
		{"NTP timestamps held        ", st.Timestamps},
		{"NTP timestamp span         ", st.TimestampSpan},
	} {
		fmt.Fprintf(&b, "%s: %d\n", l.label, uint32(l.v))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
