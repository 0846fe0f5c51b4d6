package dhcpopt

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestDecideAuto(t *testing.T) {
	lan := netip.MustParsePrefix("198.18.0.0/24")
	elsewhere := netip.MustParsePrefix("198.19.0.0/24")
	dnsmasq := netip.MustParseAddr("198.18.0.1")
	seen := func(subnet netip.Prefix, ago time.Duration, how SeenHow) []SeenServer {
		return []SeenServer{{Server: dnsmasq, Subnet: subnet, LastSeen: t0.Add(-ago), How: how}}
	}
	for _, tc := range []struct {
		name   string
		in     AutoInput
		mode   AutoMode
		yield  bool
		reason string
	}{
		{"no address", AutoInput{Address: AddrNone, EmptySearches: 9}, AutoOff, false, "no address"},
		{"leased address", AutoInput{Address: AddrLeased, EmptySearches: 9}, AutoInform, true, "leased by a DHCP server"},
		{"leased address, leasing before", AutoInput{Address: AddrLeased, Leasing: true}, AutoInform, true, "owns the LAN"},
		{"static, first search pending", AutoInput{Address: AddrStatic}, AutoInform, false, "0 of 3 searches"},
		{"static, 2 empty searches", AutoInput{Address: AddrStatic, EmptySearches: 2}, AutoInform, false, "2 of 3 searches"},
		{"static, 3 empty searches", AutoInput{Address: AddrStatic, EmptySearches: 3}, AutoLease, false, "3 searches in a row found no other"},
		{"static, 5 empty searches", AutoInput{Address: AddrStatic, EmptySearches: 5}, AutoLease, false, "no other DHCP server"},
		{"static, search answered now", AutoInput{Address: AddrStatic, EmptySearches: 3,
			Seen: seen(lan, 0, SeenSearch)}, AutoInform, true, "198.18.0.1, answered the box's search on 198.18.0.0/24"},
		{"static, named by a client", AutoInput{Address: AddrStatic, EmptySearches: 7, Leasing: true,
			Seen: seen(lan, time.Second, SeenPassive)}, AutoInform, true, "named by a client's request"},
		{"static, recorded 29 days ago (power cut)", AutoInput{Address: AddrStatic, EmptySearches: 3,
			Seen: seen(lan, 29*24*time.Hour, SeenSearch)}, AutoInform, true, "29 days ago"},
		{"static, recorded 30 days ago: expired", AutoInput{Address: AddrStatic, EmptySearches: 3,
			Seen: seen(lan, SeenExpiry, SeenSearch)}, AutoLease, false, "3 searches"},
		{"static, recorded in the future (clock went back)", AutoInput{Address: AddrStatic, EmptySearches: 3,
			Seen: seen(lan, -400*24*time.Hour, SeenSearch)}, AutoInform, true, "0 s ago"},
		{"static, recorded on another subnet", AutoInput{Address: AddrStatic, EmptySearches: 3,
			Seen: seen(elsewhere, time.Hour, SeenSearch)}, AutoLease, false, "3 searches"},
		{"static, search failed, not leasing", AutoInput{Address: AddrStatic, EmptySearches: 3, SearchFailed: true},
			AutoInform, false, "could not run"},
		{"static, search failed while leasing", AutoInput{Address: AddrStatic, EmptySearches: 4, SearchFailed: true, Leasing: true},
			AutoLease, false, "still leasing"},
		{"static, search failed, server recorded", AutoInput{Address: AddrStatic, SearchFailed: true, Leasing: true,
			Seen: seen(lan, time.Hour, SeenSearch)}, AutoInform, true, "198.18.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Now = t0
			if !in.Subnet.IsValid() {
				in.Subnet = lan
			}
			d := DecideAuto(in)
			if d.Mode != tc.mode || d.Yield != tc.yield || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("got %v yield=%v %q, want %v yield=%v and a reason with %q", d.Mode, d.Yield, d.Reason, tc.mode, tc.yield, tc.reason)
			}
			if d.Yield && in.Address == AddrStatic && d.Server.Server != dnsmasq {
				t.Errorf("yield without the server: %+v", d)
			}
		})
	}
}

func TestLatestSeenPicksNewest(t *testing.T) {
	lan := netip.MustParsePrefix("198.18.0.2/24") // not masked: compared masked
	a, b := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.7")
	seen := []SeenServer{
		{Server: a, Subnet: lan.Masked(), LastSeen: t0.Add(-time.Hour)},
		{Server: b, Subnet: lan.Masked(), LastSeen: t0.Add(-time.Minute), How: SeenPassive},
	}
	s, ok := LatestSeen(seen, lan, t0)
	if !ok || s.Server != b {
		t.Errorf("got %+v %v, want %v", s, ok, b)
	}
}

func TestMergeSeen(t *testing.T) {
	lan := netip.MustParsePrefix("198.18.0.0/24")
	a, b := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.7")
	rec, changed := MergeSeen(nil, SeenServer{Server: b, Subnet: netip.MustParsePrefix("198.18.0.2/24"), LastSeen: t0})
	if !changed || len(rec) != 1 || rec[0].Subnet != lan {
		t.Fatalf("first: %+v %v", rec, changed)
	}
	rec, _ = MergeSeen(rec, SeenServer{Server: a, Subnet: lan, LastSeen: t0})
	if len(rec) != 2 || rec[0].Server != a {
		t.Fatalf("sorted: %+v", rec)
	}
	if _, changed := MergeSeen(rec, SeenServer{Server: a, Subnet: lan, LastSeen: t0.Add(-time.Hour)}); changed {
		t.Error("an older sighting changed the record")
	}
	newer, changed := MergeSeen(rec, SeenServer{Server: a, Subnet: lan, LastSeen: t0.Add(time.Hour), How: SeenPassive})
	if !changed || newer[0].LastSeen != t0.Add(time.Hour) || newer[0].How != SeenPassive || rec[0].LastSeen != t0 {
		t.Errorf("newer: %+v (the input must not change: %+v)", newer, rec)
	}
	// The record keeps the newest 32.
	rec = nil
	for i := range 40 {
		rec, _ = MergeSeen(rec, SeenServer{Server: netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)}), Subnet: lan, LastSeen: t0.Add(time.Duration(i) * time.Minute)})
	}
	if len(rec) != maxSeen || rec[0].Server.String() != "198.18.0.9" {
		t.Errorf("bounded: %d entries, first %v", len(rec), rec[0].Server)
	}
}
