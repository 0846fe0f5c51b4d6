package cmdmon

import (
	"context"
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// This file is the client's questions, each decoded into the report
// type the local control socket answers with, so that `ntpbox -h BOX
// tracking` and `ntpbox tracking` print through the same code. The
// decoders are pure functions of a reply's data (long enough: exchange
// checks the length).

// Tracking is chronyc tracking. The reference's name is its configured
// name when the daemon tells it, else its address; for a reference
// without an address (the local clock, a refclock) the reference ID's
// text, as chronyc prints it.
func (c *Client) Tracking(ctx context.Context) (upstream.TrackingReport, error) {
	d, err := c.exchange(ctx, reqTracking, nil, rpyTracking, 76)
	if err != nil {
		return upstream.TrackingReport{}, err
	}
	t, addr := DecodeTracking(d)
	if addr.IsValid() {
		t.RefName = c.sourceName(ctx, addr)
	}
	return t, nil
}

// DecodeTracking decodes RPY_Tracking (76 bytes): the report, and the
// reference's address (zero when it has none). ClockControl and
// RememberedJump are not in the protocol and stay false and 0.
func DecodeTracking(d []byte) (upstream.TrackingReport, netip.Addr) {
	addr, _, _ := getIPAddr(d[4:])
	t := upstream.TrackingReport{
		RefID:          binary.BigEndian.Uint32(d[0:]),
		Stratum:        int(binary.BigEndian.Uint16(d[24:])),
		Leap:           leapName(binary.BigEndian.Uint16(d[26:])),
		RefTime:        getTimespec(d[28:]),
		SystemTime:     -secondsOf(getFloat(d[40:])), // chronyd's is the correction still to apply
		LastOffset:     secondsOf(getFloat(d[44:])),
		RMSOffset:      secondsOf(getFloat(d[48:])),
		Frequency:      getFloat(d[52:]),
		ResidualFreq:   getFloat(d[56:]),
		Skew:           getFloat(d[60:]),
		RootDelay:      secondsOf(getFloat(d[64:])),
		RootDispersion: secondsOf(getFloat(d[68:])),
		UpdateInterval: secondsOf(getFloat(d[72:])),
	}
	if !addr.IsValid() {
		t.RefName = control.RefIDText(t.RefID)
	}
	return t, addr
}

func leapName(l uint16) string {
	for name, v := range leapStates {
		if v == l {
			return name
		}
	}
	return "Invalid"
}

// sourceName is NTP_SOURCE_NAME: the configured name of the source at
// addr, or the address when the daemon does not say.
func (c *Client) sourceName(ctx context.Context, addr netip.Addr) string {
	var req [ipAddrLen]byte
	putIPAddr(req[:], addr)
	d, err := c.exchange(ctx, reqNTPSourceName, req[:], rpyNTPSourceName, 256)
	if err != nil {
		return addr.String()
	}
	return cString(d[:256])
}

// cString is a NUL-terminated string.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Sources is chronyc sources (and with stats, sourcestats): every
// source with an address, in the daemon's order, named as configured.
// The sources column's fields come from SOURCE_DATA, the sourcestats
// fields from SOURCESTATS; the others stay zero.
func (c *Client) Sources(ctx context.Context, stats bool) ([]upstream.SourceReport, error) {
	d, err := c.exchange(ctx, reqNSources, nil, rpyNSources, 4)
	if err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(d)
	out := []upstream.SourceReport{}
	for i := uint32(0); i < n && i < 4096; i++ {
		idx := binary.BigEndian.AppendUint32(nil, i)
		d, err := c.exchange(ctx, reqSourceData, idx, rpySourceData, 48)
		if err != nil {
			return nil, err
		}
		s, family := DecodeSourceData(d)
		if family == familyID {
			continue // not resolved yet: chronyc shows it only with -a
		}
		if s.Addr.IsValid() && s.Mode != "#" {
			s.Name = c.sourceName(ctx, s.Addr.Addr())
		}
		if stats {
			d, err := c.exchange(ctx, reqSourceStats, idx, rpySourceStats, 56)
			if err != nil {
				return nil, err
			}
			DecodeSourceStats(d, &s)
		}
		out = append(out, s)
	}
	return out, nil
}

// DecodeSourceData decodes RPY_Source_Data (48 bytes) and says the
// address's family (familyID: a source not resolved yet). A reference
// clock is named by its reference ID, as chronyc names it.
func DecodeSourceData(d []byte) (upstream.SourceReport, uint16) {
	addr, _, family := getIPAddr(d)
	s := upstream.SourceReport{
		Poll:           int(int16(binary.BigEndian.Uint16(d[20:]))),
		Stratum:        int(binary.BigEndian.Uint16(d[22:])),
		State:          "?",
		Mode:           " ",
		Reach:          uint8(binary.BigEndian.Uint16(d[30:])),
		LastRx:         agoOf(binary.BigEndian.Uint32(d[32:])),
		MeasuredOffset: secondsOf(getFloat(d[36:])),
		AdjustedOffset: secondsOf(getFloat(d[40:])),
		ErrorBound:     secondsOf(getFloat(d[44:])),
	}
	for sym, v := range sourceStates {
		if v == binary.BigEndian.Uint16(d[24:]) {
			s.State = sym
		}
	}
	for sym, v := range sourceModes {
		if v == binary.BigEndian.Uint16(d[26:]) {
			s.Mode = sym
		}
	}
	switch {
	case s.Mode == "#" && family == familyInet4:
		s.Name = control.RefIDText(binary.BigEndian.Uint32(d))
	case addr.IsValid():
		s.Addr = netip.AddrPortFrom(addr, 0)
	}
	return s, family
}

// DecodeSourceStats fills s's sourcestats fields from RPY_Sourcestats
// (56 bytes).
func DecodeSourceStats(d []byte, s *upstream.SourceReport) {
	s.NP = int(binary.BigEndian.Uint32(d[24:]))
	s.NR = int(binary.BigEndian.Uint32(d[28:]))
	s.Span = agoOf(binary.BigEndian.Uint32(d[32:]))
	s.StdDev = secondsOf(getFloat(d[36:]))
	s.Frequency = getFloat(d[40:])
	s.FreqSkew = getFloat(d[44:])
	s.Offset = secondsOf(getFloat(d[48:]))
	s.OffsetErr = secondsOf(getFloat(d[52:]))
}

// Activity is chronyc activity.
func (c *Client) Activity(ctx context.Context) (control.ActivityReport, error) {
	d, err := c.exchange(ctx, reqActivity, nil, rpyActivity, 20)
	if err != nil {
		return control.ActivityReport{}, err
	}
	return DecodeActivity(d), nil
}

// DecodeActivity decodes RPY_Activity (20 bytes).
func DecodeActivity(d []byte) control.ActivityReport {
	u := func(i int) int { return int(binary.BigEndian.Uint32(d[4*i:])) }
	return control.ActivityReport{Online: u(0), Offline: u(1), BurstOnline: u(2), BurstOffline: u(3), Unresolved: u(4)}
}

// ServerStats is chronyc serverstats.
func (c *Client) ServerStats(ctx context.Context) (control.ServerStats, error) {
	d, err := c.exchange(ctx, reqServerStats, nil, rpyServerStats3, 44)
	if err != nil {
		return control.ServerStats{}, err
	}
	return DecodeServerStats(d), nil
}

// DecodeServerStats decodes RPY_ServerStats (44 bytes; the NTS-KE and
// authentication counters are left out).
func DecodeServerStats(d []byte) control.ServerStats {
	u := func(i int) uint64 { return uint64(binary.BigEndian.Uint32(d[4*i:])) }
	return control.ServerStats{NTPHits: u(0), CmdHits: u(2), NTPDrops: u(3), CmdDrops: u(5), LogDrops: u(6),
		InterleavedHits: u(8), Timestamps: u(9), TimestampSpan: u(10)}
}

// Clients is chronyc clients: the daemon's client log, 8 at a time.
func (c *Client) Clients(ctx context.Context) ([]control.ClientReport, error) {
	out := []control.ClientReport{}
	next := uint32(0)
	for range 1 << 16 { // chronyd keeps at most 2^24 records; 8 a request
		req := make([]byte, 16)
		binary.BigEndian.PutUint32(req[0:], next)
		binary.BigEndian.PutUint32(req[4:], maxClientAccesses)
		d, err := c.exchange(ctx, reqClientAccessesByIndex3, req, rpyClientAccessesByIndex3, 492)
		if err != nil {
			return nil, err
		}
		cl, n, nIndices, nextIndex := DecodeClients(d)
		out = append(out, cl...)
		if nextIndex >= nIndices || n < maxClientAccesses || nextIndex <= next {
			break
		}
		next = nextIndex
	}
	return out, nil
}

// DecodeClients decodes RPY_ClientAccessesByIndex (492 bytes): the
// clients with an address, how many records the reply held, the number
// of indices and the next index to ask for.
func DecodeClients(d []byte) (out []control.ClientReport, n, nIndices, next uint32) {
	nIndices = binary.BigEndian.Uint32(d[0:])
	next = binary.BigEndian.Uint32(d[4:])
	n = binary.BigEndian.Uint32(d[8:])
	for i := range min(n, maxClientAccesses) {
		e := d[12+60*i:]
		addr, _, _ := getIPAddr(e)
		if !addr.IsValid() {
			continue // chronyc skips a record the daemon could not find
		}
		r := control.ClientReport{
			Addr:     addr,
			NTP:      uint64(binary.BigEndian.Uint32(e[20:])),
			Drop:     uint64(binary.BigEndian.Uint32(e[32:])),
			Interval: int(int8(e[44])),
			LastAgo:  agoOf(binary.BigEndian.Uint32(e[48:])),
		}
		if l := int(int8(e[47])); l != 127 {
			r.IntervalLimited = &l
		}
		if cmd := binary.BigEndian.Uint32(e[28:]); cmd > 0 {
			r.CmdPort = &control.CmdAccess{
				Hits: uint64(cmd), Drops: uint64(binary.BigEndian.Uint32(e[40:])),
				Interval: int(int8(e[46])), LastAgo: agoOf(binary.BigEndian.Uint32(e[56:])),
			}
		}
		out = append(out, r)
	}
	return out, n, nIndices, next
}

// NTPData is chronyc ntpdata: of the source at addr, or with the zero
// addr of every NTP source with an address.
func (c *Client) NTPData(ctx context.Context, addr netip.Addr) ([]control.NTPDataReport, error) {
	var addrs []netip.Addr
	if addr.IsValid() {
		addrs = []netip.Addr{addr}
	} else {
		d, err := c.exchange(ctx, reqNSources, nil, rpyNSources, 4)
		if err != nil {
			return nil, err
		}
		n := binary.BigEndian.Uint32(d)
		for i := uint32(0); i < n && i < 4096; i++ {
			d, err := c.exchange(ctx, reqSourceData, binary.BigEndian.AppendUint32(nil, i), rpySourceData, 48)
			if err != nil {
				return nil, err
			}
			s, family := DecodeSourceData(d)
			if (s.Mode == "^" || s.Mode == "=") && (family == familyInet4 || family == familyInet6) {
				addrs = append(addrs, s.Addr.Addr())
			}
		}
	}
	out := []control.NTPDataReport{}
	for _, a := range addrs {
		var req [ipAddrLen]byte
		putIPAddr(req[:], a)
		d, err := c.exchange(ctx, reqNTPData, req[:], rpyNTPData, 124)
		if err != nil {
			return nil, err
		}
		out = append(out, DecodeNTPData(d))
	}
	return out, nil
}

// DecodeNTPData decodes RPY_NTPData (124 bytes).
func DecodeNTPData(d []byte) control.NTPDataReport {
	remote, _, _ := getIPAddr(d[0:])
	local, _, _ := getIPAddr(d[20:])
	flags := binary.BigEndian.Uint16(d[92:])
	return control.NTPDataReport{
		RemoteAddr: remote, LocalAddr: local, RemotePort: binary.BigEndian.Uint16(d[40:]),
		Leap: int(d[42]), Version: int(d[43]), Mode: int(d[44]), Stratum: int(d[45]),
		Poll: int(int8(d[46])), Precision: int(int8(d[47])),
		RootDelay: secondsOf(getFloat(d[48:])), RootDispersion: secondsOf(getFloat(d[52:])),
		RefID: binary.BigEndian.Uint32(d[56:]), RefTime: getTimespec(d[60:]),
		Offset: secondsOf(getFloat(d[72:])), PeerDelay: secondsOf(getFloat(d[76:])),
		PeerDispersion: secondsOf(getFloat(d[80:])), ResponseTime: secondsOf(getFloat(d[84:])),
		JitterAsymmetry: getFloat(d[88:]),
		Tests:           flags & ntpFlagTests,
		Interleaved:     flags&ntpFlagInterleaved != 0,
		Authenticated:   flags&ntpFlagAuthenticated != 0,
		TxTimestamping:  d[94], RxTimestamping: d[95],
		TotalTx: uint64(binary.BigEndian.Uint32(d[96:])), TotalRx: uint64(binary.BigEndian.Uint32(d[100:])),
		TotalValidRx: uint64(binary.BigEndian.Uint32(d[104:])), TotalGoodRx: uint64(binary.BigEndian.Uint32(d[108:])),
	}
}

func getFloat(b []byte) float64 { return DecodeFloat(binary.BigEndian.Uint32(b)) }

// getTimespec reads chrony's Timespec; the Unix epoch (chronyd's "none")
// is the zero time.Time, as the local reports have it.
func getTimespec(b []byte) time.Time {
	sec := int64(binary.BigEndian.Uint32(b[0:]))<<32 | int64(binary.BigEndian.Uint32(b[4:]))
	nsec := int64(binary.BigEndian.Uint32(b[8:]))
	if sec == 0 && nsec == 0 {
		return time.Time{}
	}
	if nsec >= 1e9 {
		nsec = 0
	}
	return time.Unix(sec, nsec).UTC()
}

// secondsOf is a Float's seconds as a Duration, saturating.
func secondsOf(s float64) time.Duration {
	if math.IsNaN(s) {
		return 0
	}
	if math.Abs(s) > math.MaxInt64/1e9 {
		return time.Duration(math.Copysign(math.MaxInt64, s))
	}
	return time.Duration(math.Round(s * 1e9))
}

// agoOf is chrony's unsigned seconds "ago": (uint32)-1 is never (-1).
func agoOf(s uint32) time.Duration {
	if s == math.MaxUint32 {
		return -1
	}
	return time.Duration(s) * time.Second
}

// MakeStep sends chronyc's makestep. chronyd takes it only on its local
// socket, and a box never over the network: both answer "501 Not
// authorised", which the error says.
func (c *Client) MakeStep(ctx context.Context) error {
	_, err := c.exchange(ctx, reqMakeStep, nil, rpyNull, 0)
	return err
}

// Burst sends chronyc's burst GOOD/MAX [MASK/ADDRESS] (prefix zero: all
// sources). Like makestep, a daemon refuses it from the network.
func (c *Client) Burst(ctx context.Context, good, total int, prefix netip.Prefix) error {
	var req [48]byte
	if prefix.IsValid() {
		a := prefix.Addr()
		mask := make([]byte, a.BitLen()/8)
		for i := range prefix.Bits() {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		m, _ := netip.AddrFromSlice(mask)
		putIPAddr(req[0:], m)
		putIPAddr(req[20:], a)
	}
	binary.BigEndian.PutUint32(req[40:], uint32(good))
	binary.BigEndian.PutUint32(req[44:], uint32(total))
	_, err := c.exchange(ctx, reqBurst, req[:], rpyNull, 0)
	return err
}
