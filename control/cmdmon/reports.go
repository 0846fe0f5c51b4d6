package cmdmon

import (
	"encoding/binary"
	"net/netip"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// This file writes the reply data of the read-only commands at the
// offsets of candm.h's RPY_* structs; each returns the data's length.

// Source states (RPY_SD_ST_*) for chronyc's state column.
var sourceStates = map[string]uint16{
	"*": 0, // selected
	"?": 1, // not selectable
	"x": 2, // falseticker
	"~": 3, // jittery
	"+": 4, // combined (unselected, in chrony's words)
	"-": 5, // selectable, not combined
}

// Source modes (RPY_SD_MD_*).
var sourceModes = map[string]uint16{"^": 0, "=": 1, "#": 2}

// putSourceData is RPY_Source_Data.
//
//	 0 ip_addr     20 poll  22 stratum  24 state  26 mode  28 flags  30 reachability
//	32 since_sample  36 orig_latest_meas  40 latest_meas  44 latest_meas_err
func putSourceData(d []byte, s upstream.SourceReport, i int) int {
	putSourceIP(d, s, i)
	binary.BigEndian.PutUint16(d[20:], uint16(int16(s.Poll)))
	binary.BigEndian.PutUint16(d[22:], uint16(s.Stratum))
	state, ok := sourceStates[s.State]
	if !ok {
		state = 1
	}
	binary.BigEndian.PutUint16(d[24:], state)
	binary.BigEndian.PutUint16(d[26:], sourceModes[s.Mode])
	binary.BigEndian.PutUint16(d[30:], uint16(s.Reach))
	binary.BigEndian.PutUint32(d[32:], seconds(s.LastRx))
	putFloat(d[36:], s.MeasuredOffset.Seconds())
	putFloat(d[40:], s.AdjustedOffset.Seconds())
	putFloat(d[44:], s.ErrorBound.Seconds())
	return 48
}

// putSourceStats is RPY_Sourcestats.
//
//	 0 ref_id  4 ip_addr  24 n_samples  28 n_runs  32 span_seconds  36 sd
//	40 resid_freq_ppm  44 skew_ppm  48 est_offset  52 est_offset_err
func putSourceStats(d []byte, s upstream.SourceReport, i int) int {
	binary.BigEndian.PutUint32(d[0:], upstream.RefID(s.Addr.Addr()))
	putSourceIP(d[4:], s, i)
	binary.BigEndian.PutUint32(d[24:], uint32(s.NP))
	binary.BigEndian.PutUint32(d[28:], uint32(s.NR))
	binary.BigEndian.PutUint32(d[32:], seconds(s.Span))
	putFloat(d[36:], s.StdDev.Seconds())
	putFloat(d[40:], s.Frequency)
	putFloat(d[44:], s.FreqSkew)
	putFloat(d[48:], s.Offset.Seconds())
	putFloat(d[52:], s.OffsetErr.Seconds())
	return 56
}

// Leap states (chrony's NTP_Leap) in RPY_Tracking.
var leapStates = map[string]uint16{"Normal": 0, "Insert second": 1, "Delete second": 2, "Not synchronised": 3}

// putTracking is RPY_Tracking.
//
//	 0 ref_id  4 ip_addr  24 stratum  26 leap_status  28 ref_time
//	40 current_correction  44 last_offset  48 rms_offset  52 freq_ppm
//	56 resid_freq_ppm  60 skew_ppm  64 root_delay  68 root_dispersion
//	72 last_update_interval
func putTracking(d []byte, t upstream.TrackingReport, srcs []upstream.SourceReport) int {
	binary.BigEndian.PutUint32(d[0:], t.RefID)
	putIPAddr(d[4:], refAddr(t, srcs))
	binary.BigEndian.PutUint16(d[24:], uint16(t.Stratum))
	leap, ok := leapStates[t.Leap]
	if !ok {
		leap = 3
	}
	binary.BigEndian.PutUint16(d[26:], leap)
	putTimespec(d[28:], t.RefTime)
	// chronyd's current correction is what it still has to apply:
	// positive when the clock is slow. Ours is the clock's error.
	putFloat(d[40:], -t.SystemTime.Seconds())
	putFloat(d[44:], t.LastOffset.Seconds())
	putFloat(d[48:], t.RMSOffset.Seconds())
	putFloat(d[52:], t.Frequency)
	putFloat(d[56:], t.ResidualFreq)
	putFloat(d[60:], t.Skew)
	putFloat(d[64:], t.RootDelay.Seconds())
	putFloat(d[68:], t.RootDispersion.Seconds())
	putFloat(d[72:], t.UpdateInterval.Seconds())
	return 76
}

// refAddr is the reference's address: RefName when it is one, else the
// address of the source of that name. The zero Addr (chrony's UNSPEC)
// when there is none, as for the local clock: chronyc then prints the
// reference ID as text.
func refAddr(t upstream.TrackingReport, srcs []upstream.SourceReport) netip.Addr {
	if t.RefName == "" {
		return netip.Addr{}
	}
	if a, err := netip.ParseAddr(t.RefName); err == nil {
		return a
	}
	for _, s := range srcs {
		if s.Name == t.RefName && s.Addr.IsValid() {
			return s.Addr.Addr()
		}
	}
	return netip.Addr{}
}

// putActivity is RPY_Activity (control.Activity counts).
//
//	0 online  4 offline  8 burst_online  12 burst_offline  16 unresolved
func putActivity(d []byte, a control.ActivityReport) int {
	for i, v := range [...]int{a.Online, a.Offline, a.BurstOnline, a.BurstOffline, a.Unresolved} {
		binary.BigEndian.PutUint32(d[4*i:], uint32(v))
	}
	return 20
}

// putServerStats is RPY_ServerStats (sent as RPY_SERVER_STATS3, which
// chronyc 4.3 asks for). The counters wrap at 2^32, as chronyd's do.
//
//	 0 ntp_hits  4 nke_hits  8 cmd_hits  12 ntp_drops  16 nke_drops
//	20 cmd_drops  24 log_drops  28 ntp_auth_hits  32 ntp_interleaved_hits
//	36 ntp_timestamps  40 ntp_span_seconds
func putServerStats(d []byte, st control.ServerStats) int {
	for i, v := range [...]uint64{st.NTPHits, 0, st.CmdHits, st.NTPDrops, 0, st.CmdDrops,
		st.LogDrops, 0, st.InterleavedHits, st.Timestamps, st.TimestampSpan} {
		binary.BigEndian.PutUint32(d[4*i:], uint32(v))
	}
	return 44
}

// putNTPData is RPY_NTPData (control.NTPData fills it).
//
//	 0 remote_addr  20 local_addr  40 remote_port  42 leap  43 version
//	44 mode  45 stratum  46 poll  47 precision  48 root_delay
//	52 root_dispersion  56 ref_id  60 ref_time  72 offset  76 peer_delay
//	80 peer_dispersion  84 response_time  88 jitter_asymmetry  92 flags
//	94 tx_tss_char  95 rx_tss_char  96 total_tx_count  100 total_rx_count
//	104 total_valid_count  108 total_good_count  112 reserved[3]
func putNTPData(d []byte, n control.NTPDataReport) int {
	putIPAddr(d[0:], n.RemoteAddr)
	putIPAddr(d[20:], n.LocalAddr)
	binary.BigEndian.PutUint16(d[40:], n.RemotePort)
	d[42] = uint8(n.Leap)
	d[43] = uint8(n.Version)
	d[44] = uint8(n.Mode)
	d[45] = uint8(n.Stratum)
	d[46] = uint8(int8(n.Poll))
	d[47] = uint8(int8(n.Precision))
	putFloat(d[48:], n.RootDelay.Seconds())
	putFloat(d[52:], n.RootDispersion.Seconds())
	binary.BigEndian.PutUint32(d[56:], n.RefID)
	putTimespec(d[60:], n.RefTime)
	putFloat(d[72:], n.Offset.Seconds())
	putFloat(d[76:], n.PeerDelay.Seconds())
	putFloat(d[80:], n.PeerDispersion.Seconds())
	putFloat(d[84:], n.ResponseTime.Seconds())
	putFloat(d[88:], n.JitterAsymmetry)
	flags := n.Tests & ntpFlagTests
	if n.Interleaved {
		flags |= ntpFlagInterleaved
	}
	if n.Authenticated {
		flags |= ntpFlagAuthenticated
	}
	binary.BigEndian.PutUint16(d[92:], flags)
	d[94] = n.TxTimestamping
	d[95] = n.RxTimestamping
	binary.BigEndian.PutUint32(d[96:], uint32(n.TotalTx))
	binary.BigEndian.PutUint32(d[100:], uint32(n.TotalRx))
	binary.BigEndian.PutUint32(d[104:], uint32(n.TotalValidRx))
	binary.BigEndian.PutUint32(d[108:], uint32(n.TotalGoodRx))
	for i := 112; i < 124; i++ {
		d[i] = 0xff // as chronyd fills its reserved words
	}
	return 124
}

// RPY_NTP_FLAG*: the ten test bits, interleaved, authenticated.
const (
	ntpFlagTests         = 0x3ff
	ntpFlagInterleaved   = 0x4000
	ntpFlagAuthenticated = 0x8000
)

// maxClientAccesses is how many clients fit in one reply.
const maxClientAccesses = 8

// putClients is RPY_ClientAccessesByIndex for the request's first_index,
// n_clients and min_hits; its reset flag is ignored (the command port
// changes nothing). A client's index is its position in clients.
//
//	 0 n_indices  4 next_index  8 n_clients  12 clients[8], each of 60:
//	 0 ip  20 ntp_hits  24 nke_hits  28 cmd_hits  32 ntp_drops  36 nke_drops
//	40 cmd_drops  44 ntp_interval  45 nke_interval  46 cmd_interval
//	47 ntp_timeout_interval  48 last_ntp_hit_ago  52 last_nke_hit_ago
//	56 last_cmd_hit_ago
func putClients(d, req []byte, clients []control.ClientReport) int {
	first := binary.BigEndian.Uint32(req[0:])
	want := min(binary.BigEndian.Uint32(req[4:]), maxClientAccesses)
	minHits := binary.BigEndian.Uint32(req[8:])
	i, j := uint64(first), uint32(0)
	for ; i < uint64(len(clients)) && j < want; i++ {
		c := clients[i]
		if c.NTP < uint64(minHits) {
			continue
		}
		e := d[12+60*j:]
		putIPAddr(e, c.Addr)
		binary.BigEndian.PutUint32(e[20:], uint32(c.NTP))
		binary.BigEndian.PutUint32(e[32:], uint32(c.Drop))
		e[44] = uint8(int8(min(max(c.Interval, -128), 127)))
		e[45], e[46], e[47] = 127, 127, 127 // unknown
		binary.BigEndian.PutUint32(e[48:], seconds(c.LastAgo))
		binary.BigEndian.PutUint32(e[52:], seconds(-1))
		binary.BigEndian.PutUint32(e[56:], seconds(-1))
		j++
	}
	binary.BigEndian.PutUint32(d[0:], uint32(len(clients)))
	binary.BigEndian.PutUint32(d[4:], uint32(i))
	binary.BigEndian.PutUint32(d[8:], j)
	return 492
}
