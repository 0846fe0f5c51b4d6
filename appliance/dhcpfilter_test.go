package appliance

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
)

// ipUDP is an IPv4 header (5 words unless opts) and a UDP header to dst.
func ipUDP(proto byte, flagsFrag uint16, opts int, dst uint16) []byte {
	ihl := 5 + opts
	b := make([]byte, ihl*4+8+20)
	b[0] = 0x40 | byte(ihl)
	binary.BigEndian.PutUint16(b[6:], flagsFrag)
	b[9] = proto
	binary.BigEndian.PutUint16(b[ihl*4:], 67)
	binary.BigEndian.PutUint16(b[ihl*4+2:], dst)
	return b
}

// TestDHCPClientFilter: only unfragmented UDP to port 68 reaches init.
func TestDHCPClientFilter(t *testing.T) {
	vm, err := bpf.NewVM(dhcpClientFilter)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
		keep bool
	}{
		{"DHCP reply", ipUDP(17, 0, 0, 68), true},
		{"DHCP reply, don't fragment", ipUDP(17, 0x4000, 0, 68), true},
		{"DHCP reply with IP options", ipUDP(17, 0, 2, 68), true},
		{"NTP", ipUDP(17, 0, 0, 123), false},
		{"to the server port", ipUDP(17, 0, 0, 67), false},
		{"TCP to 68", ipUDP(6, 0, 0, 68), false},
		{"first fragment", ipUDP(17, 0x2000, 0, 68), false},
		{"later fragment", ipUDP(17, 0x0010, 0, 68), false},
		{"truncated", ipUDP(17, 0, 0, 68)[:10], false},
	} {
		n, err := vm.Run(tc.pkt)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (n > 0) != tc.keep {
			t.Errorf("%s: kept %d bytes, want keep=%v", tc.name, n, tc.keep)
		}
	}
	if _, err := assembledDHCPClientFilter(); err != nil {
		t.Fatal(err)
	}
}
