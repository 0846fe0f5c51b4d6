package cmdmon

import (
	"encoding/binary"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// fakeProvider reports two sources (one resolved, one not), a tracking
// report, two clients and counters.
type fakeProvider struct{}

var refTime = time.Date(2026, 12, 4, 9, 49, 17, 0, time.UTC)

func (fakeProvider) Sources() []upstream.SourceReport {
	return []upstream.SourceReport{
		{Name: "ntp1.example.net", Addr: netip.MustParseAddrPort("192.0.2.1:123"), Mode: "^", State: "*",
			Stratum: 2, Poll: 6, Reach: 0377, LastRx: 23 * time.Second,
			AdjustedOffset: -923 * time.Microsecond, MeasuredOffset: -924 * time.Microsecond, ErrorBound: 43 * time.Millisecond,
			NP: 11, NR: 5, Span: 46 * time.Minute, Frequency: -0.001, FreqSkew: 0.045, Offset: time.Microsecond,
			OffsetErr: 2 * time.Microsecond, StdDev: 25 * time.Microsecond,
			LocalAddr: netip.MustParseAddr("192.0.2.50"), ValidRx: 40, GoodRx: 38,
			NTP: upstream.NTPData{Leap: 0, Version: 4, Mode: 4, Stratum: 2, Poll: 6, Precision: -25,
				RootDelay: time.Millisecond, RootDispersion: 2 * time.Millisecond, RefID: 0xc0000202, RefTime: refTime,
				Offset: 924 * time.Microsecond, Delay: 250 * time.Microsecond, Dispersion: 30 * time.Microsecond,
				ResponseTime: 10 * time.Microsecond, TotalTx: 42}},
		{Name: "pool.example.org", Mode: "^", State: "?", Poll: 6, LastRx: -1},
	}
}

func (fakeProvider) Tracking() upstream.TrackingReport {
	return upstream.TrackingReport{RefID: 0xc0000201, RefName: "ntp1.example.net", Stratum: 3, RefTime: refTime,
		SystemTime: 6523 * time.Nanosecond, LastOffset: -1e-6 * 1e9, RMSOffset: 2 * time.Microsecond,
		Frequency: -12.5, ResidualFreq: 0.001, Skew: 0.05, RootDelay: 10 * time.Millisecond,
		RootDispersion: 3 * time.Millisecond, UpdateInterval: 64 * time.Second, Leap: "Normal"}
}

func (fakeProvider) Clients() []control.ClientReport {
	return []control.ClientReport{
		{Addr: netip.MustParseAddr("192.0.2.100"), NTP: 10, Drop: 1, Interval: 6, LastAgo: 5 * time.Second},
		{Addr: netip.MustParseAddr("2001:db8::7"), NTP: 1, Interval: 127, LastAgo: 90 * time.Minute},
	}
}

func (fakeProvider) Unresolved() int { return 3 }

func (fakeProvider) ServerStats() control.ServerStats {
	return control.ServerStats{NTPHits: 11, NTPDrops: 1, CmdHits: 3}
}

// request builds a version 6 request of type cmd with data, padded to
// RequestLen (or to data's length if longer).
func request(cmd int, data ...byte) []byte {
	n := max(RequestLen(cmd), requestHeaderLen+len(data), replyHeaderLen)
	b := make([]byte, n)
	b[0], b[1] = protoVersion, pktTypeRequest
	binary.BigEndian.PutUint16(b[4:], uint16(cmd))
	copy(b[8:12], []byte{0xde, 0xad, 0xbe, 0xef})
	copy(b[requestHeaderLen:], data)
	return b
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// reply is a decoded reply: header fields and data.
type reply struct {
	command, rpy, status uint16
	data                 []byte
}

func respond(t *testing.T, req []byte) (reply, bool) {
	t.Helper()
	out := make([]byte, MaxReplyLen)
	n := Respond(req, out, fakeProvider{})
	if n == 0 {
		return reply{}, false
	}
	if n > len(req) {
		t.Fatalf("reply of %d bytes to a request of %d", n, len(req))
	}
	b := out[:n]
	if b[0] != protoVersion || b[1] != pktTypeReply || b[2] != 0 || b[3] != 0 || string(b[16:20]) != "\xde\xad\xbe\xef" {
		t.Fatalf("bad reply header % x", b[:replyHeaderLen])
	}
	return reply{binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]), binary.BigEndian.Uint16(b[8:]), b[replyHeaderLen:]}, true
}

func float(b []byte) float64 { return DecodeFloat(binary.BigEndian.Uint32(b)) }

func near(a, b float64) bool { return math.Abs(a-b) <= math.Abs(b)*1e-6 }

func TestNSourcesAndSourceData(t *testing.T) {
	r, _ := respond(t, request(reqNSources))
	if r.status != sttSuccess || r.rpy != rpyNSources || binary.BigEndian.Uint32(r.data) != 2 {
		t.Fatalf("N_SOURCES: %+v", r)
	}
	r, _ = respond(t, request(reqSourceData, u32(0)...))
	d := r.data
	if r.rpy != rpySourceData || len(d) != 48 {
		t.Fatalf("SOURCE_DATA 0: %+v", r)
	}
	if a, _, _ := getIPAddr(d); a != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("address %v", a)
	}
	be := binary.BigEndian
	if poll, stratum, state, mode, reach, ago := int16(be.Uint16(d[20:])), be.Uint16(d[22:]), be.Uint16(d[24:]),
		be.Uint16(d[26:]), be.Uint16(d[30:]), be.Uint32(d[32:]); poll != 6 || stratum != 2 || state != 0 || mode != 0 || reach != 0377 || ago != 23 {
		t.Errorf("poll %d stratum %d state %d mode %d reach %o ago %d", poll, stratum, state, mode, reach, ago)
	}
	if orig, adj, errb := float(d[36:]), float(d[40:]), float(d[44:]); !near(orig, -924e-6) || !near(adj, -923e-6) || !near(errb, 43e-3) {
		t.Errorf("offsets %g [%g] +/- %g", adj, orig, errb)
	}
	// The unresolved source: chrony's ID family, state unselectable,
	// never sampled.
	r, _ = respond(t, request(reqSourceData, u32(1)...))
	if _, id, fam := getIPAddr(r.data); fam != familyID || id != 1 {
		t.Errorf("unresolved source: family %d id %d, want ID 1", fam, id)
	}
	if state, ago := be.Uint16(r.data[24:]), be.Uint32(r.data[32:]); state != 1 || ago != math.MaxUint32 {
		t.Errorf("unresolved source: state %d, ago %d", state, ago)
	}
	if r, _ := respond(t, request(reqSourceData, u32(2)...)); r.status != sttNoSuchSource {
		t.Errorf("index 2: status %d, want NOSUCHSOURCE", r.status)
	}
}

func TestSourceName(t *testing.T) {
	ip := make([]byte, ipAddrLen)
	putIPAddr(ip, netip.MustParseAddr("192.0.2.1"))
	r, _ := respond(t, request(reqNTPSourceName, ip...))
	if r.rpy != rpyNTPSourceName || len(r.data) != 256 || string(r.data[:17]) != "ntp1.example.net\x00" {
		t.Errorf("name of 192.0.2.1: %+v", r)
	}
	putIPID(ip, 1)
	if r, _ := respond(t, request(reqNTPSourceName, ip...)); string(r.data[:17]) != "pool.example.org\x00" {
		t.Errorf("name of ID 1: %q", r.data[:17])
	}
	putIPAddr(ip, netip.MustParseAddr("192.0.2.9"))
	if r, _ := respond(t, request(reqNTPSourceName, ip...)); r.status != sttNoSuchSource {
		t.Errorf("unknown address: status %d", r.status)
	}
}

func TestTracking(t *testing.T) {
	r, _ := respond(t, request(reqTracking))
	d, be := r.data, binary.BigEndian
	if r.rpy != rpyTracking || len(d) != 76 {
		t.Fatalf("TRACKING: %+v", r)
	}
	if a, _, _ := getIPAddr(d[4:]); be.Uint32(d) != 0xc0000201 || a != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("ref id %08x address %v", be.Uint32(d), a)
	}
	if be.Uint16(d[24:]) != 3 || be.Uint16(d[26:]) != 0 || be.Uint32(d[32:]) != uint32(refTime.Unix()) {
		t.Errorf("stratum %d leap %d ref time %d", be.Uint16(d[24:]), be.Uint16(d[26:]), be.Uint32(d[32:]))
	}
	for _, f := range []struct {
		off  int
		want float64
	}{{40, -6523e-9}, {44, -1e-6}, {48, 2e-6}, {52, -12.5}, {56, 0.001}, {60, 0.05}, {64, 10e-3}, {68, 3e-3}, {72, 64}} {
		if got := float(d[f.off:]); !near(got, f.want) {
			t.Errorf("float at %d = %g, want %g", f.off, got, f.want)
		}
	}
}

func TestSourceStats(t *testing.T) {
	r, _ := respond(t, request(reqSourceStats, u32(0)...))
	d, be := r.data, binary.BigEndian
	if r.rpy != rpySourceStats || len(d) != 56 || be.Uint32(d) != 0xc0000201 {
		t.Fatalf("SOURCESTATS: %+v", r)
	}
	if be.Uint32(d[24:]) != 11 || be.Uint32(d[28:]) != 5 || be.Uint32(d[32:]) != 46*60 {
		t.Errorf("np %d nr %d span %d", be.Uint32(d[24:]), be.Uint32(d[28:]), be.Uint32(d[32:]))
	}
	for off, want := range map[int]float64{36: 25e-6, 40: -0.001, 44: 0.045, 48: 1e-6, 52: 2e-6} {
		if got := float(d[off:]); !near(got, want) {
			t.Errorf("float at %d = %g, want %g", off, got, want)
		}
	}
}

func TestActivityServerStatsClients(t *testing.T) {
	be := binary.BigEndian
	r, _ := respond(t, request(reqActivity))
	// One source with an address; one report without and 3 not yet
	// resolved are with unknown address.
	if r.rpy != rpyActivity || be.Uint32(r.data) != 1 || be.Uint32(r.data[16:]) != 1+3 {
		t.Errorf("ACTIVITY: %+v", r)
	}
	r, _ = respond(t, request(reqServerStats))
	if r.rpy != rpyServerStats3 || be.Uint32(r.data) != 11 || be.Uint32(r.data[8:]) != 3 || be.Uint32(r.data[12:]) != 1 {
		t.Errorf("SERVER_STATS: %+v", r)
	}
	r, _ = respond(t, request(reqClientAccessesByIndex3, append(u32(0), u32(8)...)...))
	d := r.data
	if r.rpy != rpyClientAccessesByIndex3 || be.Uint32(d) != 2 || be.Uint32(d[4:]) != 2 || be.Uint32(d[8:]) != 2 {
		t.Fatalf("CLIENT_ACCESSES_BY_INDEX3: indices %d next %d n %d", be.Uint32(d), be.Uint32(d[4:]), be.Uint32(d[8:]))
	}
	c := d[12:]
	if a, _, _ := getIPAddr(c); a != netip.MustParseAddr("192.0.2.100") || be.Uint32(c[20:]) != 10 || be.Uint32(c[32:]) != 1 ||
		int8(c[44]) != 6 || c[47] != 127 || be.Uint32(c[48:]) != 5 || be.Uint32(c[56:]) != math.MaxUint32 {
		t.Errorf("client 0: % x", c[:60])
	}
	// min_hits 2 leaves the second client out; first_index 1 starts there.
	r, _ = respond(t, request(reqClientAccessesByIndex3, append(append(u32(0), u32(8)...), u32(2)...)...))
	if be.Uint32(r.data[8:]) != 1 {
		t.Errorf("min_hits 2: %d clients, want 1", be.Uint32(r.data[8:]))
	}
	r, _ = respond(t, request(reqClientAccessesByIndex3, append(u32(1), u32(8)...)...))
	if a, _, _ := getIPAddr(r.data[12:]); be.Uint32(r.data[8:]) != 1 || a != netip.MustParseAddr("2001:db8::7") {
		t.Errorf("first_index 1: %d clients, first %v", be.Uint32(r.data[8:]), a)
	}
}

func TestNTPData(t *testing.T) {
	ip := make([]byte, ipAddrLen)
	putIPAddr(ip, netip.MustParseAddr("192.0.2.1"))
	r, _ := respond(t, request(reqNTPData, ip...))
	d, be := r.data, binary.BigEndian
	if r.rpy != rpyNTPData || len(d) != 124 {
		t.Fatalf("NTP_DATA: %+v", r)
	}
	if a, _, _ := getIPAddr(d[20:]); a != netip.MustParseAddr("192.0.2.50") || be.Uint16(d[40:]) != 123 {
		t.Errorf("local %v, port %d", a, be.Uint16(d[40:]))
	}
	if d[42] != 0 || d[43] != 4 || d[44] != 4 || d[45] != 2 || int8(d[46]) != 6 || int8(d[47]) != -25 || be.Uint32(d[56:]) != 0xc0000202 {
		t.Errorf("header % x", d[42:60])
	}
	if !near(float(d[72:]), 924e-6) || !near(float(d[76:]), 250e-6) || !near(float(d[84:]), 10e-6) {
		t.Errorf("offset %g delay %g response %g", float(d[72:]), float(d[76:]), float(d[84:]))
	}
	if be.Uint16(d[92:]) != 0x3ff || be.Uint32(d[96:]) != 42 || be.Uint32(d[104:]) != 40 || be.Uint32(d[108:]) != 38 {
		t.Errorf("flags %x tx %d valid %d good %d", be.Uint16(d[92:]), be.Uint32(d[96:]), be.Uint32(d[104:]), be.Uint32(d[108:]))
	}
	putIPAddr(ip, netip.MustParseAddr("192.0.2.9"))
	if r, _ := respond(t, request(reqNTPData, ip...)); r.status != sttNoSuchSource {
		t.Errorf("unknown source: status %d", r.status)
	}
}

// TestStatuses: what chronyd answers for what ntpbox does not serve.
func TestStatuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		req    []byte
		status uint16
		rpy    uint16
	}{
		{"null", request(reqNull), sttSuccess, rpyNull},
		{"rtcdata: no RTC", request(reqRTCReport), sttNoRTC, rpyNull},
		{"smoothing: not enabled", request(reqSmoothing), sttNotEnabled, rpyNull},
		{"logon fails", request(reqLogon), sttFailed, rpyNull},
		{"manual list: empty", request(reqManualList), sttSuccess, rpyManualList2},
		{"burst", request(3), sttUnauth, rpyNull},
		{"makestep", request(43), sttUnauth, rpyNull},
		{"settime", request(11), sttUnauth, rpyNull},
		{"reload sources", request(70), sttUnauth, rpyNull},
		{"shutdown", request(62), sttUnauth, rpyNull},
		{"cmdallow", request(21), sttUnauth, rpyNull},
		{"add source", request(64), sttUnauth, rpyNull},
		{"selectdata", request(69), sttUnauth, rpyNull},
		{"retired LOCAL", request(12), sttInvalid, rpyNull},
		{"unknown type 72", request(72), sttInvalid, rpyNull},
		{"unknown type 65535", request(65535), sttInvalid, rpyNull},
		{"tracking one byte short", request(reqTracking)[:RequestLen(reqTracking)-1], sttBadPktLength, rpyNull},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := respond(t, tc.req)
			if !ok || r.status != tc.status || r.rpy != tc.rpy {
				t.Errorf("got %+v (replied %v), want status %d reply %d", r, ok, tc.status, tc.rpy)
			}
			if tc.status != sttSuccess && len(r.data) != 0 {
				t.Errorf("an error reply carries %d bytes of data", len(r.data))
			}
		})
	}
}

// TestDropped: what chronyd drops without a word.
func TestDropped(t *testing.T) {
	withVersion := func(v byte) []byte { b := request(reqTracking); b[0] = v; return b }
	reply := request(reqTracking)
	reply[1] = pktTypeReply
	res := request(reqTracking)
	res[3] = 1
	for name, b := range map[string][]byte{
		"empty":           nil,
		"27 bytes":        request(reqNull)[:27],
		"longer than any": append(request(reqNull), make([]byte, MaxRequestLen)...),
		"a reply":         reply,
		"reserved byte":   res,
		"version 4":       withVersion(4),
		"version 0":       withVersion(0),
	} {
		if _, ok := respond(t, b); ok {
			t.Errorf("%s: answered", name)
		}
	}
	// Version 5 (chronyc before padding) and 7 learn of the mismatch.
	for _, v := range []byte{5, 7} {
		if r, ok := respond(t, withVersion(v)); !ok || r.status != sttBadPktVersion {
			t.Errorf("version %d: %+v, want BADPKTVERSION", v, r)
		}
	}
}

// TestNeverAmplifies: every request type, at every length from 0 to its
// padded length and beyond, gets a reply no longer than itself (respond
// checks), and one at its full length always gets a reply.
func TestNeverAmplifies(t *testing.T) {
	for cmd := range numRequestTypes + 2 {
		full := request(cmd)
		for n := 0; n <= len(full)+8; n++ {
			b := make([]byte, n)
			copy(b, full)
			_, ok := respond(t, b)
			if n == len(full) && !ok {
				t.Errorf("request type %d at its length %d: no reply", cmd, n)
			}
		}
	}
}
