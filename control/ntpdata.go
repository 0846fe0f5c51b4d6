package control

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// NTPDataReport is `ntpdata` for one source: its last valid reply, the
// measurement it gave, and the counts of requests and replies, as
// chronyd's RPY_NTPData carries them.
type NTPDataReport struct {
	RemoteAddr     netip.Addr    `json:"remote_addr"`
	RemotePort     uint16        `json:"remote_port"`
	LocalAddr      netip.Addr    `json:"local_addr"` // ours towards the source; zero if unknown
	Leap           int           `json:"leap"`       // 0..3 as in the packet
	Version        int           `json:"version"`
	Mode           int           `json:"mode"` // 4: server
	Stratum        int           `json:"stratum"`
	Poll           int           `json:"poll"`      // the server's, log2 s
	Precision      int           `json:"precision"` // log2 s
	RootDelay      time.Duration `json:"root_delay"`
	RootDispersion time.Duration `json:"root_dispersion"`
	RefID          uint32        `json:"ref_id"`
	RefTime        time.Time     `json:"ref_time"`
	// Offset is positive when the source is ahead of the local clock
	// (chronyd's sign in ntpdata, the opposite of the sources column's).
	Offset          time.Duration `json:"offset"`
	PeerDelay       time.Duration `json:"peer_delay"`
	PeerDispersion  time.Duration `json:"peer_dispersion"`
	ResponseTime    time.Duration `json:"response_time"`
	JitterAsymmetry float64       `json:"jitter_asymmetry"`
	// Tests are chronyd's ten test bits, 1 for passed: bits 9..4 are
	// RFC 5905's tests 1, 2, 3, 5, 6 and 7, bits 3..0 chrony's A-D
	// (D, bit 0: no synchronisation loop).
	Tests          uint16 `json:"tests"`
	Interleaved    bool   `json:"interleaved"`
	Authenticated  bool   `json:"authenticated"`
	TxTimestamping byte   `json:"tx_timestamping"` // 'D' daemon, 'K' kernel, 'H' hardware
	RxTimestamping byte   `json:"rx_timestamping"`
	TotalTx        uint64 `json:"total_tx"`
	TotalRx        uint64 `json:"total_rx"`
	TotalValidRx   uint64 `json:"total_valid_rx"`
	TotalGoodRx    uint64 `json:"total_good_rx"`
}

// NTPData is the ntpdata report of a source. ntpbox keeps only test D
// of chronyd's ten (a source synchronised to this box), so the others
// read as passed; it does not estimate the jitter asymmetry; transmit
// timestamps are the daemon's (or the kernel's, which it does not tell
// apart here) and receive timestamps the kernel's.
func NTPData(s upstream.SourceReport) NTPDataReport {
	n := s.NTP
	r := NTPDataReport{
		RemoteAddr: s.Addr.Addr().Unmap(), RemotePort: s.Addr.Port(), LocalAddr: s.LocalAddr.Unmap(),
		Leap: n.Leap, Version: n.Version, Mode: n.Mode, Stratum: n.Stratum, Poll: n.Poll, Precision: n.Precision,
		RootDelay: n.RootDelay, RootDispersion: n.RootDispersion, RefID: n.RefID, RefTime: n.RefTime,
		Offset: n.Offset, PeerDelay: n.Delay, PeerDispersion: n.Dispersion, ResponseTime: n.ResponseTime,
		Interleaved:    n.Interleaved,
		Tests:          0x3ff,
		TxTimestamping: 'D', RxTimestamping: 'K',
		TotalTx: uint64(n.TotalTx), TotalRx: uint64(s.ValidRx), TotalValidRx: uint64(s.ValidRx), TotalGoodRx: uint64(s.GoodRx),
	}
	if s.SyncLoop {
		r.Tests &^= 1 // test D
	}
	return r
}

// NTPDataReports are the ntpdata reports of the sources that have an
// address, in the sources' order.
func NTPDataReports(srcs []upstream.SourceReport) []NTPDataReport {
	out := []NTPDataReport{}
	for _, s := range srcs {
		if s.Addr.IsValid() && s.Mode != "#" {
			out = append(out, NTPData(s))
		}
	}
	return out
}

// FormatNTPData writes the reports as `chronyc ntpdata` does: without
// an address chronyc prints an empty line before each source's report,
// with one (single) it does not.
//
//	Remote address  : 192.0.2.1 (C0000201)
//	Remote port     : 123
//	...
//	Total good RX   : 12
func FormatNTPData(w io.Writer, reports []NTPDataReport, single bool) error {
	var b strings.Builder
	for _, r := range reports {
		if !single {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "Remote address  : %s (%08X)\n", addrString(r.RemoteAddr), upstream.RefID(r.RemoteAddr))
		fmt.Fprintf(&b, "Remote port     : %d\n", r.RemotePort)
		fmt.Fprintf(&b, "Local address   : %s (%08X)\n", addrString(r.LocalAddr), upstream.RefID(r.LocalAddr))
		fmt.Fprintf(&b, "Leap status     : %s\n", leapName(r.Leap))
		fmt.Fprintf(&b, "Version         : %d\n", uint8(r.Version))
		fmt.Fprintf(&b, "Mode            : %s\n", modeName(r.Mode))
		fmt.Fprintf(&b, "Stratum         : %d\n", uint8(r.Stratum))
		fmt.Fprintf(&b, "Poll interval   : %d (%.0f seconds)\n", int8(r.Poll), log2Seconds(r.Poll))
		fmt.Fprintf(&b, "Precision       : %d (%.9f seconds)\n", int8(r.Precision), log2Seconds(r.Precision))
		fmt.Fprintf(&b, "Root delay      : %.6f seconds\n", r.RootDelay.Seconds())
		fmt.Fprintf(&b, "Root dispersion : %.6f seconds\n", r.RootDispersion.Seconds())
		refText := ""
		if uint8(r.Stratum) <= 1 {
			refText = RefIDText(r.RefID)
		}
		fmt.Fprintf(&b, "Reference ID    : %08X (%s)\n", r.RefID, refText)
		fmt.Fprintf(&b, "Reference time  : %s\n", refTime(r.RefTime))
		fmt.Fprintf(&b, "Offset          : %+.9f seconds\n", r.Offset.Seconds())
		fmt.Fprintf(&b, "Peer delay      : %.9f seconds\n", r.PeerDelay.Seconds())
		fmt.Fprintf(&b, "Peer dispersion : %.9f seconds\n", r.PeerDispersion.Seconds())
		fmt.Fprintf(&b, "Response time   : %.9f seconds\n", r.ResponseTime.Seconds())
		fmt.Fprintf(&b, "Jitter asymmetry: %+.2f\n", r.JitterAsymmetry)
		fmt.Fprintf(&b, "NTP tests       : %s %s %s\n", bits(r.Tests>>7, 3), bits(r.Tests>>4, 3), bits(r.Tests, 4))
		fmt.Fprintf(&b, "Interleaved     : %s\n", yesNo(r.Interleaved))
		fmt.Fprintf(&b, "Authenticated   : %s\n", yesNo(r.Authenticated))
		fmt.Fprintf(&b, "TX timestamping : %s\n", timestamping(r.TxTimestamping))
		fmt.Fprintf(&b, "RX timestamping : %s\n", timestamping(r.RxTimestamping))
		fmt.Fprintf(&b, "Total TX        : %d\n", uint32(r.TotalTx))
		fmt.Fprintf(&b, "Total RX        : %d\n", uint32(r.TotalRx))
		fmt.Fprintf(&b, "Total valid RX  : %d\n", uint32(r.TotalValidRx))
		fmt.Fprintf(&b, "Total good RX   : %d\n", uint32(r.TotalGoodRx))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// addrString is UTI_IPToString: "[UNSPEC]" for no address.
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "[UNSPEC]"
	}
	return a.Unmap().String()
}

// RefIDText is UTI_RefidToString: the printable bytes of a reference
// ID ("GPS", "LOCL"; "" for 127.127.1.1).
func RefIDText(id uint32) string {
	var b []byte
	for i := range 4 {
		if c := byte(id >> (24 - 8*i)); c >= 0x20 && c < 0x7f {
			b = append(b, c)
		}
	}
	return string(b)
}

// leapName is chronyc's %L for a packet's leap indicator.
func leapName(l int) string {
	switch l {
	case 0:
		return "Normal"
	case 1:
		return "Insert second"
	case 2:
		return "Delete second"
	case 3:
		return "Not synchronised"
	}
	return "Invalid"
}

// modeName is chronyc's %M.
func modeName(m int) string {
	switch m {
	case 1:
		return "Symmetric active"
	case 2:
		return "Symmetric passive"
	case 4:
		return "Server"
	}
	return "Invalid"
}

// timestamping is chronyc's %N.
func timestamping(c byte) string {
	switch c {
	case 'D':
		return "Daemon"
	case 'K':
		return "Kernel"
	case 'H':
		return "Hardware"
	}
	return "Invalid"
}

// log2Seconds is UTI_Log2ToDouble: 2^l, clamped as chrony does.
func log2Seconds(l int) float64 {
	l = int(int8(l))
	if l >= 0 {
		if l > 31 {
			l = 31
		}
		return float64(uint32(1) << l)
	}
	if l < -31 {
		l = -31
	}
	return 1 / float64(uint32(1)<<-l)
}

// bits is chronyc's %.Nb: the n low bits of v, highest first.
func bits(v uint16, n int) string {
	var b strings.Builder
	for i := n - 1; i >= 0; i-- {
		if v&(1<<i) != 0 {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	return b.String()
}

func yesNo(v bool) string {
	if v {
		return "Yes"
	}
	return "No"
}
