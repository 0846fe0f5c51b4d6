package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLeaseClamp (issue 11): a lease cannot decide what only the admin
// may: a netmask wider than /16, more than 4 option 42 servers, the box
// itself or a non-unicast address as a source.
func TestLeaseClamp(t *testing.T) {
	var fifty []netip.Addr
	for i := range 50 {
		fifty = append(fifty, netip.AddrFrom4([4]byte{198, 18, 1, byte(10 + i)}))
	}
	l := &Lease{
		Interface: "eth0", Address: netip.MustParsePrefix("198.18.0.50/0"), Server: netip.MustParseAddr("198.18.0.1"),
		NTP: append([]netip.Addr{
			netip.MustParseAddr("198.18.0.50"),     // the box itself
			netip.MustParseAddr("127.0.0.1"),       // loopback
			netip.MustParseAddr("224.0.1.1"),       // multicast
			netip.MustParseAddr("198.18.255.255"),  // the clamped subnet's broadcast
			netip.MustParseAddr("198.18.0.2"),      // fine
			netip.MustParseAddr("198.18.0.2"),      // duplicate
			netip.MustParseAddr("198.18.9.9"),      // a configured address of the box
			netip.MustParseAddr("255.255.255.255"), // limited broadcast
		}, fifty...),
		Obtained: time.Unix(1796000000, 0).UTC(), Duration: time.Hour,
	}
	l.Clamp(netip.MustParseAddr("198.18.9.9"))
	if want := netip.MustParsePrefix("198.18.0.50/16"); l.Address != want {
		t.Errorf("Address = %v, want %v", l.Address, want)
	}
	wantNTP := []netip.Addr{netip.MustParseAddr("198.18.0.2"), fifty[0], fifty[1], fifty[2]}
	if !slices.Equal(l.NTP, wantNTP) {
		t.Errorf("NTP = %v, want %v", l.NTP, wantNTP)
	}
	wantNotes := []string{
		"netmask /0 is wider than /16: clamped to /16",
		"option 42: 198.18.0.50 is the box itself: not used",
		"option 42: 127.0.0.1 is not a unicast address: not used",
		"option 42: 224.0.1.1 is not a unicast address: not used",
		"option 42: 198.18.255.255 is not a unicast address: not used",
		"option 42: 198.18.9.9 is the box itself: not used",
		"option 42: 255.255.255.255 is not a unicast address: not used",
		"option 42 named more than 4 servers: only the first 4 are used",
	}
	if !slices.Equal(l.Clamped, wantNotes) {
		t.Errorf("Clamped =\n%s\nwant\n%s", strings.Join(l.Clamped, "\n"), strings.Join(wantNotes, "\n"))
	}
	again := *l
	again.Clamped = slices.Clone(l.Clamped)
	again.Clamp(netip.MustParseAddr("198.18.9.9"))
	if fmt.Sprint(again) != fmt.Sprint(*l) {
		t.Errorf("clamping twice changed the lease:\n%v\n%v", again, *l)
	}
}

// TestMergeClampsLease: the merged config uses and shows the clamped
// lease, with the box's static addresses counted as its own.
func TestMergeClampsLease(t *testing.T) {
	var ntp []netip.Addr
	for i := range 50 {
		ntp = append(ntp, netip.AddrFrom4([4]byte{198, 18, 0, byte(100 + i)}))
	}
	ntp = append([]netip.Addr{netip.MustParseAddr("198.18.0.50")}, ntp...)
	lease := &Lease{Interface: "eth0", Address: netip.MustParsePrefix("198.18.0.50/0"), Server: netip.MustParseAddr("198.18.0.1"),
		NTP: ntp, Obtained: time.Unix(1796000000, 0).UTC(), Duration: time.Hour}
	cfg, _, err := Merge(nil, lease, FilePart(LayerBaked, "/etc/ntpbox.conf", []byte("address dhcp\nallow connected\nserver ntp1 iburst\n")))
	if err != nil {
		t.Fatal(err)
	}
	if lease.Address.Bits() != 0 || len(lease.NTP) != 51 || lease.Clamped != nil {
		t.Errorf("Merge changed the caller's lease: %+v", lease)
	}
	var fromLease []string
	for _, s := range cfg.Sources {
		if s.Origin.Layer == LayerLease {
			fromLease = append(fromLease, s.Host)
		}
	}
	if want := []string{"198.18.0.100", "198.18.0.101", "198.18.0.102", "198.18.0.103"}; !slices.Equal(fromLease, want) {
		t.Errorf("lease sources %v, want %v", fromLease, want)
	}
	if got := cfg.Addresses(); len(got) != 1 || got[0] != netip.MustParsePrefix("198.18.0.50/16") {
		t.Errorf("Addresses() = %v, want [198.18.0.50/16]", got)
	}
	var out strings.Builder
	if err := cfg.Render(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# clamped: netmask /0 is wider than /16: clamped to /16",
		"# clamped: option 42: 198.18.0.50 is the box itself: not used",
		"# clamped: option 42 named more than 4 servers: only the first 4 are used",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config lacks %q:\n%s", want, out.String())
		}
	}
}
