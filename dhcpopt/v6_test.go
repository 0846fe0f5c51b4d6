package dhcpopt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/ntpbox/ntpbox/internal/backoff"
)

var (
	boxMAC  = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x02}
	boxDUID = []byte{0, 3, 0, 1, 0x02, 0x00, 0x5e, 0x10, 0x00, 0x02} // DUID-LL, Ethernet
	ntp6    = netip.MustParseAddr("2001:2::2")
	ntp6b   = netip.MustParseAddr("2001:2::3")
	cliDUID = []byte{0, 1, 0, 1, 0x30, 0x9a, 0x1b, 0x2c, 0x02, 0, 0, 0, 0, 0x0c} // DUID-LLT
)

func v6Config() V6Config {
	return V6Config{
		HWAddr:     boxMAC,
		NTPServers: []netip.Addr{ntp6, ntp6b},
		NTPNames:   []string{"ntp1.lab.test."},
		DNSServers: []netip.Addr{ntp6},
		Domains:    []string{"lab.test"},
	}
}

func newHandler6(t testing.TB, c V6Config) *Handler6 {
	t.Helper()
	h, err := NewHandler6(c)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// msg6 builds a DHCPv6 message of type mt with transaction id 0xabcdef and
// the options given as code, value pairs.
func msg6(mt byte, opts ...any) []byte {
	b := []byte{mt, 0xab, 0xcd, 0xef}
	for i := 0; i+1 < len(opts); i += 2 {
		b = appendOption(b, uint16(opts[i].(int)), opts[i+1].([]byte))
	}
	return b
}

func oro(codes ...uint16) []byte {
	var b []byte
	for _, c := range codes {
		b = append(b, byte(c>>8), byte(c))
	}
	return b
}

var elapsed = []byte{0, 0}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHandle6Option56Layout checks the reply byte for byte. Option 56 is
// laid out as in RFC 5908 §4:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      OPTION_NTP_SERVER        |          option-len           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         suboption-1                           |
//	:                                                               :
//
// with NTP_SUBOPTION_SRV_ADDR (1, length 16, an IPv6 address) and
// NTP_SUBOPTION_SRV_FQDN (3, an uncompressed RFC 1035 name).
func TestHandle6Option56Layout(t *testing.T) {
	h := newHandler6(t, v6Config())
	req := msg6(11, optClientID, cliDUID, optElapsed, elapsed, optORO, oro(56, 23, 24, 32, 7777))
	got, err := h.Handle(req)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `
		07 abcdef
		0002 000a 0003 0001 02005e100002
		0001 000e 00010001309a1b2c02000000000c
		0038 003b
		     0001 0010 20010002000000000000000000000002
		     0001 0010 20010002000000000000000000000003
		     0003 000f 046e747031 036c6162 0474657374 00
		0017 0010 20010002000000000000000000000002
		0018 000a 036c6162 0474657374 00
		0020 0004 00015180`)
	if !bytes.Equal(got, want) {
		t.Errorf("reply\n got %x\nwant %x", got, want)
	}
	// The library decodes it as a client would.
	m, err := dhcpv6.MessageFromBytes(got)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Options.NTPServers(); len(s) != 2 || !s[0].Equal(net.IP(ntp6.AsSlice())) || !s[1].Equal(net.IP(ntp6b.AsSlice())) {
		t.Errorf("decoded NTP servers %v", s)
	}
	if d := m.Options.DomainSearchList(); d == nil || len(d.Labels) != 1 || d.Labels[0] != "lab.test" {
		t.Errorf("decoded domain search list %v", d)
	}
}

// optElapsed is the Elapsed Time option every client message carries.
const optElapsed = 8

func TestHandle6ORO(t *testing.T) {
	h := newHandler6(t, v6Config())
	for _, tc := range []struct {
		name string
		oro  []byte // nil: no ORO at all
		want []uint16
	}{
		{"no ORO: identifiers only", nil, []uint16{optServerID, optClientID}},
		{"only 56", oro(56), []uint16{optServerID, optClientID, 56}},
		{"order of the ORO", oro(24, 56), []uint16{optServerID, optClientID, 24, 56}},
		{"repeated and unknown codes", oro(23, 23, 31, 1, 2, 56), []uint16{optServerID, optClientID, 23, 56}},
		{"empty ORO", oro(), []uint16{optServerID, optClientID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []any{optClientID, cliDUID, optElapsed, elapsed}
			if tc.oro != nil {
				opts = append(opts, optORO, tc.oro)
			}
			got, err := h.Handle(msg6(11, opts...))
			if err != nil {
				t.Fatal(err)
			}
			if got[0] != 7 || !bytes.Equal(got[1:4], []byte{0xab, 0xcd, 0xef}) {
				t.Errorf("header %x, want a Reply (7) with transaction id abcdef", got[:4])
			}
			raw, err := walkOptions(got[4:])
			if err != nil {
				t.Fatal(err)
			}
			var codes []uint16
			for b := got[4:]; len(b) > 0; b = b[4+int(b[2])<<8+int(b[3]):] {
				codes = append(codes, uint16(b[0])<<8|uint16(b[1]))
			}
			if !equal16(codes, tc.want) {
				t.Errorf("options %v, want %v", codes, tc.want)
			}
			if !bytes.Equal(raw[optClientID][0], cliDUID) || !bytes.Equal(raw[optServerID][0], boxDUID) {
				t.Errorf("client id %x server id %x, want %x and %x", raw[optClientID][0], raw[optServerID][0], cliDUID, boxDUID)
			}
		})
	}
	t.Run("no client id", func(t *testing.T) {
		got, err := h.Handle(msg6(11, optElapsed, elapsed, optORO, oro(56)))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := walkOptions(got[4:])
		if len(raw[optClientID]) != 0 || len(raw[optServerID]) != 1 || len(raw[optNTPServer]) != 1 {
			t.Errorf("reply %x: want a server id and option 56, no client id", got)
		}
	})
	t.Run("no DNS configured", func(t *testing.T) {
		c := v6Config()
		c.DNSServers, c.Domains, c.NTPNames = nil, nil, nil
		got, err := newHandler6(t, c).Handle(msg6(11, optORO, oro(23, 24, 56)))
		if err != nil {
			t.Fatal(err)
		}
		want := unhex(t, `07 abcdef 0002 000a 0003 0001 02005e100002
			0038 0028 0001 0010 20010002000000000000000000000002 0001 0010 20010002000000000000000000000003`)
		if !bytes.Equal(got, want) {
			t.Errorf("reply\n got %x\nwant %x", got, want)
		}
	})
	if s := h.Stats(); s.Replies != 6 || s.Ignored != 0 || s.Malformed != 0 {
		t.Errorf("stats %+v, want 6 replies", s)
	}
}

func equal16(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHandle6Ignored(t *testing.T) {
	h := newHandler6(t, v6Config())
	ia := []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0} // IAID 1, T1 T2 0
	cases := map[string][]byte{
		"Solicit":     msg6(1, optClientID, cliDUID, optElapsed, elapsed, optIANA, ia, optORO, oro(56)),
		"Request":     msg6(3, optClientID, cliDUID, optServerID, boxDUID, optElapsed, elapsed, optIANA, ia),
		"Confirm":     msg6(4, optClientID, cliDUID, optElapsed, elapsed, optIANA, ia),
		"Renew":       msg6(5, optClientID, cliDUID, optServerID, boxDUID, optElapsed, elapsed, optIANA, ia),
		"Rebind":      msg6(6, optClientID, cliDUID, optElapsed, elapsed, optIANA, ia),
		"Release":     msg6(8, optClientID, cliDUID, optServerID, boxDUID, optElapsed, elapsed, optIANA, ia),
		"Decline":     msg6(9, optClientID, cliDUID, optServerID, boxDUID, optElapsed, elapsed, optIANA, ia),
		"Advertise":   msg6(2, optClientID, cliDUID, optServerID, boxDUID),
		"Reply":       msg6(7, optClientID, cliDUID, optServerID, boxDUID),
		"Reconfigure": msg6(10, optClientID, cliDUID, optServerID, boxDUID),
		"Relay-forw":  append([]byte{12, 0}, make([]byte, 32)...),
		"type 0":      msg6(0),
		"type 255":    msg6(255),
		"Information-Request for another server": msg6(11, optClientID, cliDUID, optServerID, []byte{0, 3, 0, 1, 2, 0, 0x5e, 0x10, 0, 9},
			optElapsed, elapsed, optORO, oro(56)),
		"Information-Request with IA_NA": msg6(11, optClientID, cliDUID, optElapsed, elapsed, optIANA, ia, optORO, oro(56)),
		"Information-Request with IA_PD": msg6(11, optClientID, cliDUID, optElapsed, elapsed, optIAPD, ia, optORO, oro(56)),
	}
	for name, req := range cases {
		resp, err := h.Handle(req)
		if resp != nil || !errors.Is(err, ErrIgnored6) {
			t.Errorf("%s: reply %x err %v, want ignored", name, resp, err)
		}
	}
	if s := h.Stats(); s.Ignored != uint64(len(cases)) || s.Replies != 0 || s.Malformed != 0 {
		t.Errorf("stats %+v, want %d ignored", s, len(cases))
	}
	// Our own server id is fine.
	if resp, err := h.Handle(msg6(11, optServerID, boxDUID, optORO, oro(56))); err != nil || resp == nil {
		t.Errorf("Information-Request naming this server: %x %v", resp, err)
	}
}

func TestHandle6Malformed(t *testing.T) {
	h := newHandler6(t, v6Config())
	cases := map[string][]byte{
		"empty":              nil,
		"short header":       {11, 1, 2},
		"truncated header":   append(msg6(11), 0, 1, 0),
		"option overruns":    append(msg6(11), 0, 6, 0, 4, 0, 56),
		"trailing bytes":     append(msg6(11, optORO, oro(56)), 0, 0, 0),
		"two client ids":     msg6(11, optClientID, cliDUID, optClientID, cliDUID, optORO, oro(56)),
		"two server ids":     msg6(11, optServerID, boxDUID, optServerID, boxDUID, optORO, oro(56)),
		"ORO of odd length":  msg6(11, optORO, []byte{0, 56, 0}),
		"empty client id":    msg6(11, optClientID, []byte{}, optORO, oro(56)),
		"one-byte server id": msg6(11, optServerID, []byte{0}, optORO, oro(56)),
		"huge client id":     msg6(11, optClientID, make([]byte, 200), optORO, oro(56)),
		"bad elapsed time":   msg6(11, optElapsed, []byte{1}, optORO, oro(56)),
	}
	for name, req := range cases {
		resp, err := h.Handle(req)
		if resp != nil || !errors.Is(err, ErrMalformed6) {
			t.Errorf("%s: reply %x err %v, want malformed", name, resp, err)
		}
	}
	if s := h.Stats(); s.Malformed != uint64(len(cases)) || s.Replies != 0 || s.Ignored != 0 {
		t.Errorf("stats %+v, want %d malformed", s, len(cases))
	}
}

func TestV6ConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*V6Config)
		err  string
	}{
		{"ok", func(*V6Config) {}, ""},
		{"names only", func(c *V6Config) { c.NTPServers = nil }, ""},
		{"no MAC", func(c *V6Config) { c.HWAddr = nil }, "link-layer address"},
		{"nothing to advertise", func(c *V6Config) { c.NTPServers, c.NTPNames = nil, nil }, "at least one"},
		{"IPv4 server", func(c *V6Config) { c.NTPServers = []netip.Addr{netip.MustParseAddr("198.18.0.2")} }, "IPv6 unicast NTP"},
		{"mapped IPv4", func(c *V6Config) { c.NTPServers = []netip.Addr{netip.MustParseAddr("::ffff:198.18.0.2")} }, "IPv6 unicast NTP"},
		{"link-local", func(c *V6Config) { c.NTPServers = []netip.Addr{netip.MustParseAddr("fe80::1")} }, "not link-local"},
		{"multicast", func(c *V6Config) { c.NTPServers = []netip.Addr{netip.MustParseAddr("ff02::101")} }, "IPv6 unicast NTP"},
		{"DNS link-local", func(c *V6Config) { c.DNSServers = []netip.Addr{netip.MustParseAddr("fe80::1")} }, "DNS"},
		{"bad domain", func(c *V6Config) { c.Domains = []string{"a..b"} }, "domain name"},
		{"long label", func(c *V6Config) { c.NTPNames = []string{strings.Repeat("a", 64) + ".test"} }, "domain name"},
		{"short refresh", func(c *V6Config) { c.InfoRefresh = time.Minute }, "at least"},
	} {
		c := v6Config()
		tc.edit(&c)
		_, err := NewHandler6(c)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
		}
	}
	if d := newHandler6(t, v6Config()).ServerDUID(); !bytes.Equal(d, boxDUID) {
		t.Errorf("server DUID %x, want DUID-LL %x", d, boxDUID)
	}
}

// TestServer6 runs the UDP loop on loopback: a Reply comes back to the
// sender, and what is dropped gets no answer.
func TestServer6(t *testing.T) {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	h := newHandler6(t, v6Config())
	s := NewServer6(pc, h, nil)
	done := make(chan error)
	go func() { done <- s.Serve() }()
	c, err := net.DialUDP("udp6", nil, s.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(msg6(1, optClientID, cliDUID)) // Solicit: no answer
	c.Write([]byte{11, 0})                 // malformed: no answer
	c.Write(msg6(11, optClientID, cliDUID, optORO, oro(56)))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if buf[0] != 7 {
		t.Errorf("first datagram back %x, want the Reply", buf[:n])
	}
	s.Close()
	if err := <-done; err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
	if st := h.Stats(); st.Replies != 1 || st.Ignored != 1 || st.Malformed != 1 {
		t.Errorf("stats %+v", st)
	}
}

// FuzzHandle6 feeds arbitrary datagrams to the handler: it must never
// panic, and a reply must be a well-formed Reply to the same transaction
// carrying this server's id and only the options the service serves.
func FuzzHandle6(f *testing.F) {
	f.Add(msg6(11, optClientID, cliDUID, optElapsed, elapsed, optORO, oro(56, 23, 24, 32)))
	f.Add(msg6(11, optServerID, boxDUID, optORO, oro(56)))
	f.Add(msg6(1, optClientID, cliDUID, optIANA, make([]byte, 12)))
	h := newHandler6(f, v6Config())
	allowed := map[uint16]bool{optServerID: true, optClientID: true, optDNSServers: true, optDomainList: true, optInfoRefresh: true, optNTPServer: true}
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := h.Handle(b)
		if resp == nil {
			if err == nil {
				t.Fatal("no reply and no error")
			}
			return
		}
		if err != nil || resp[0] != 7 || !bytes.Equal(resp[1:4], b[1:4]) {
			t.Fatalf("reply %x (err %v) to %x: want a Reply with the same transaction id", resp, err, b)
		}
		raw, err := walkOptions(resp[4:])
		if err != nil {
			t.Fatalf("reply %x: %v", resp, err)
		}
		for code := range raw {
			if !allowed[code] {
				t.Fatalf("reply %x carries option %d", resp, code)
			}
		}
		if len(raw[optServerID]) != 1 || !bytes.Equal(raw[optServerID][0], boxDUID) {
			t.Fatalf("reply %x: server id %x", resp, raw[optServerID])
		}
		if _, err := dhcpv6.MessageFromBytes(resp); err != nil {
			t.Fatalf("reply %x does not decode: %v", resp, err)
		}
	})
}

// A failed read is waited out (5, 10, 20 ms for three in a row) and the
// next request is answered: the loop neither spins nor ends.
func TestServer6WaitsOutReadErrors(t *testing.T) {
	peer := &net.UDPAddr{IP: net.ParseIP("fe80::5054:ff:fe00:1"), Port: 546}
	conn := backoff.NewScriptConn(&net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: 547},
		backoff.Read{Err: syscall.ENOMEM}, backoff.Read{Err: syscall.ENOBUFS}, backoff.Read{Err: syscall.EIO},
		backoff.Read{Data: msg6(11, optClientID, cliDUID, optORO, oro(56)), From: peer})
	s := NewServer6(conn, newHandler6(t, v6Config()), nil)
	began := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	for len(conn.Written()) == 0 {
		select {
		case err := <-done:
			t.Fatalf("Serve ended after the read errors: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	if d := time.Since(began); d < 35*time.Millisecond {
		t.Errorf("three read errors in a row took %v: no backoff", d)
	}
	if w := conn.Written(); w[0][0] != 7 {
		t.Errorf("answer %x, want a Reply", w[0])
	}
	s.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
