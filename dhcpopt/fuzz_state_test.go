package dhcpopt

import (
	"bytes"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzLeaseFile: the lease-file decoder never panics, and what it
// accepts survives a save and a load.
func FuzzLeaseFile(f *testing.F) {
	f.Add([]byte(`{"client":"hw:52:54:00:12:34:56","addr":"198.18.0.100","expires":"2026-11-26T04:00:00Z"}` + "\n"))
	f.Add([]byte(`{"client":"id:01525400123456","addr":"198.18.0.101","expires":"2026-11-26T04:00:00Z","hostname":"pc-1"}` + "\n\n"))
	f.Add([]byte("{}\n"))
	f.Add([]byte(`{"client":"x","addr":"::1","expires":"0001-01-01T00:00:00Z","offered":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		leases, _, err := parseLeases(b)
		if err != nil {
			return
		}
		path := filepath.Join(t.TempDir(), "leases")
		if err := SaveLeases(path, leases); err != nil {
			t.Fatal(err)
		}
		again, err := LoadLeases(path)
		if err != nil {
			t.Fatalf("saved leases do not load: %v", err)
		}
		if len(again) != len(leases) {
			t.Fatalf("%d leases saved, %d loaded", len(leases), len(again))
		}
		for i := range leases {
			a, b := leases[i], again[i]
			if a.Client != b.Client || a.Addr != b.Addr || !a.Expires.Equal(b.Expires) || a.Hostname != b.Hostname || a.Offered != b.Offered {
				t.Fatalf("lease %d: saved %+v, loaded %+v", i, a, b)
			}
		}
	})
}

// FuzzExchange drives one handler through a sequence of messages from 8
// clients, chosen by the input (a stateful DHCP exchange), and checks
// after each: every reply decodes, every address handed out is in the
// range, no two clients hold the same address, an ACK's address is the
// one the table binds to that client, and the table survives the lease
// file.
func FuzzExchange(f *testing.F) {
	// Each step is 4 bytes: client, message type, address, time step.
	f.Add([]byte{0, 1, 0, 1, 0, 3, 0, 1, 1, 1, 0, 1, 1, 3, 0, 1, 0, 7, 0, 1, 2, 4, 0, 1})
	f.Add(bytes.Repeat([]byte{3, 3, 2, 200}, 20))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := serverConfig()
		h, err := NewHandler(cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		now := t0
		types := []dhcpv4.MessageType{dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeRequest,
			dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeDecline, dhcpv4.MessageTypeRelease, dhcpv4.MessageTypeInform, dhcpv4.MessageTypeRequest}
		for len(b) >= 4 {
			c, mt, a, dt := b[0]%8, types[b[1]%8], b[2], b[3]
			kind := b[1] % 8
			b = b[4:]
			now = now.Add(time.Duration(dt) * 10 * time.Second)
			hw := net.HardwareAddr{0x52, 0x54, 0, 0, 1, c}
			addr := cfg.RangeStart
			for range int(a % 8) {
				addr = addr.Next() // up to 3 past the range's end
			}
			mods := []dhcpv4.Modifier{dhcpv4.WithMessageType(mt), dhcpv4.WithHwAddr(hw)}
			switch kind {
			case 1: // selecting: server id and requested address
				mods = append(mods, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(addr))))
			case 2: // init-reboot: requested address only
				mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(addr))))
			case 3, 5, 6, 7: // renewing, release, inform: ciaddr
				mods = append(mods, dhcpv4.WithClientIP(ip(addr)))
				if kind == 5 {
					mods = append(mods, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))))
				}
			case 4: // decline
				mods = append(mods, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(addr))))
			}
			req, err := dhcpv4.New(mods...)
			if err != nil {
				t.Fatal(err)
			}
			resp, _ := h.Handle(req, now)
			if resp != nil {
				if _, err := dhcpv4.FromBytes(resp.ToBytes()); err != nil {
					t.Fatalf("reply does not decode: %v", err)
				}
				y := addr4(resp.YourIPAddr)
				if y.IsValid() && !cfg.InRange(y) {
					t.Fatalf("%v hands out %v, outside the range", resp.MessageType(), y)
				}
				if resp.MessageType() == dhcpv4.MessageTypeAck && y.IsValid() {
					bound := false
					for _, l := range h.Leases() {
						bound = bound || l.Client == "hw:"+hw.String() && l.Addr == y && l.Expires.After(now)
					}
					if !bound {
						t.Fatalf("ACK of %v to %v, but the table does not bind it", y, hw)
					}
				}
			}
			seen := map[netip.Addr]string{}
			for _, l := range h.Leases() {
				if !cfg.InRange(l.Addr) {
					t.Fatalf("lease %+v outside the range", l)
				}
				if o, dup := seen[l.Addr]; dup {
					t.Fatalf("%v bound to %s and %s", l.Addr, o, l.Client)
				}
				seen[l.Addr] = l.Client
			}
		}
		var buf bytes.Buffer
		path := filepath.Join(t.TempDir(), "leases")
		if err := SaveLeases(path, h.Leases()); err != nil {
			t.Fatal(err)
		}
		loaded, err := LoadLeases(path)
		if err != nil || len(loaded) != len(h.Leases()) {
			t.Fatalf("the table does not survive the lease file: %v (%d of %d)%s", err, len(loaded), len(h.Leases()), buf.String())
		}
	})
}
