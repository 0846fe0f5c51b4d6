package main

// Stateless DHCPv6 (`dhcp6 inform`) against a real client: `ntpbox serve
// -x` in a box namespace with 2001:2::2/64, dhcpcd in a client namespace
// across a veth pair sends an Information-Request and prints option 56,
// and ntpdig then gets time from the advertised address over IPv6.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	boxAddr6    = "2001:2::2"
	clientAddr6 = "2001:2::10"
)

// noDAD turns off duplicate address detection in ns, so that the
// link-local addresses of the veth pair are usable at once.
func noDAD(t *testing.T, ns *netns) {
	t.Helper()
	run(t, "ip", "netns", "exec", ns.name, "sysctl", "-q", "-w",
		"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
}

// dhcpcd6 runs dhcpcd in test mode (-T: print the variables of the first
// reply and exit, configure nothing) in ns with the config text conf and
// extra arguments. dhcpcd keeps its DUID in /var/lib/dhcpcd: a private
// tmpfs over it, in a mount namespace of its own, keeps the host's
// untouched.
func dhcpcd6(t *testing.T, ns *netns, dir, conf string, args ...string) (string, error) {
	t.Helper()
	f := writeFile(t, dir, "dhcpcd.conf", conf)
	cmd := fmt.Sprintf("mount -t tmpfs tmpfs /var/lib/dhcpcd && exec dhcpcd -6 -T -f %s %s eth0", f, strings.Join(args, " "))
	return ns.output(40*time.Second, "unshare", "-m", "--propagation", "private", "sh", "-c", cmd)
}

func TestDHCP6RealClient(t *testing.T) {
	requireTools(t, "ip", "sysctl", "unshare", "mount", "dhcpcd", "ntpdig", "dig")
	box, client := newNetns(t), newNetns(t)
	noDAD(t, box)
	noDAD(t, client)
	lanPair(t, box, client)
	run(t, "ip", "-n", box.name, "addr", "add", boxAddr6+"/64", "dev", "eth0", "nodad")
	dir := t.TempDir()
	conf := writeFile(t, dir, "server.conf", fmt.Sprintf(`local stratum 3
allow all
advertise %s %s
dhcp6 inform name ntp1.lab.test
dns zone lab.test
bindcmdaddress %s/sock
`, boxAddr6, boxAddr, dir))
	b := startLoggedBox(t, box, conf)
	start := regexp.MustCompile(`msg=dhcp6 component=dhcp6 mode=inform interface=eth0 ntp=\[2001:2::2\] .*duid=([0-9a-f]+)`).FindStringSubmatch(b.output())
	if start == nil {
		t.Fatalf("no dhcp6 start line in the log:\n%s", b.output())
	}
	duid := start[1]
	if !strings.HasPrefix(duid, "00030001") || len(duid) != 20 {
		t.Errorf("server DUID %s, want a DUID-LL (00030001 + MAC)", duid)
	}

	t.Run("dhcpcd inform6", func(t *testing.T) {
		// dhcp6_ names the DHCPv6 options in dhcpcd.conf.
		out, err := dhcpcd6(t, client, dir, "option dhcp6_ntp_server, dhcp6_domain_search, dhcp6_name_servers\n", "--inform6")
		if err != nil {
			t.Fatalf("dhcpcd: %v\n%s", err, out)
		}
		t.Logf("dhcpcd printed:\n%s", out)
		for _, want := range []string{
			"reason='TEST'",
			"protocol='dhcp6'",
			"new_dhcp6_ntp_server_addr='" + boxAddr6 + "'",
			"new_dhcp6_ntp_server_fqdn='ntp1.lab.test'",
			"new_dhcp6_domain_search='lab.test'",
			"new_dhcp6_name_servers='" + boxAddr6 + "'",
			"new_dhcp6_server_id='" + duid + "'",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("dhcpcd output lacks %s", want)
			}
		}
		// No address came with it: the service is stateless.
		if strings.Contains(out, "new_dhcp6_ia_na") || strings.Contains(out, "new_dhcp6_ia_pd") {
			t.Errorf("dhcpcd got an IA from a stateless service:\n%s", out)
		}
	})

	t.Run("dhcpcd solicit is ignored", func(t *testing.T) {
		// Stateful DHCPv6 (an address, IA_NA) without waiting for a router
		// advertisement: the box must stay silent and dhcpcd time out.
		out, err := dhcpcd6(t, client, dir, "noipv6rs\nia_na 1\n", "-t", "4")
		t.Logf("dhcpcd printed:\n%s", out)
		if !strings.Contains(out, "soliciting a DHCPv6 lease") {
			t.Fatalf("dhcpcd did not send a Solicit:\n%s", out)
		}
		if err == nil || strings.Contains(out, "ADV") || strings.Contains(out, "REPLY6") || strings.Contains(out, "new_dhcp6_ia_na") {
			t.Errorf("dhcpcd Solicit got an answer (err %v):\n%s", err, out)
		}
	})

	t.Run("raw messages", func(t *testing.T) {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		c := client.cmd(exe, "-test.run=^TestDHCP6Helper$", "-test.count=1", "-test.v")
		c.Env = append(os.Environ(), "NTPBOX_DHCP6_HELPER=1")
		out, err := c.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "reply ntp=2001:2::2 others=0") {
			t.Errorf("helper: %v\n%s", err, out)
		}
	})

	// The client has no global address yet: give it one in the prefix
	// (stateless DHCPv6 leaves addressing to SLAAC or the admin).
	run(t, "ip", "-n", client.name, "addr", "add", clientAddr6+"/64", "dev", "eth0", "nodad")
	t.Run("ntpdig the advertised address", func(t *testing.T) {
		out, err := client.output(20*time.Second, "ntpdig", "-t", "2", boxAddr6)
		if err != nil {
			t.Fatalf("ntpdig %s: %v\n%s", boxAddr6, err, out)
		}
		t.Logf("ntpdig: %s", strings.TrimSpace(out))
		m := regexp.MustCompile(` ` + regexp.QuoteMeta(boxAddr6) + ` s(\d+) `).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("ntpdig output has no answer from %s:\n%s", boxAddr6, out)
		}
		if s, _ := strconv.Atoi(m[1]); s < 1 || s > 4 {
			t.Errorf("stratum %d from %s, want 1..4 (the box is local stratum 3)", s, boxAddr6)
		}
	})

	t.Run("the FQDN resolves at the box", func(t *testing.T) {
		out, err := client.output(10*time.Second, "dig", "+tries=2", "+time=2", "+short", "AAAA", "ntp1.lab.test", "@"+boxAddr6)
		if err != nil || strings.TrimSpace(out) != boxAddr6 {
			t.Errorf("dig AAAA ntp1.lab.test @%s: %v, want %s:\n%s", boxAddr6, err, boxAddr6, out)
		}
	})

	log := b.stop()
	m := regexp.MustCompile(`msg="dhcp6 stopped" component=dhcp6 replies=(\d+) ignored=(\d+) malformed=(\d+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no dhcp6 counters at stop:\n%s", log)
	}
	replies, _ := strconv.Atoi(m[1])
	ignored, _ := strconv.Atoi(m[2])
	malformed, _ := strconv.Atoi(m[3])
	// dhcpcd's Information-Request and the helper's; dhcpcd's Solicits and
	// the helper's Solicit and foreign-server request; the helper's
	// malformed datagrams.
	if replies < 2 || ignored < 3 || malformed < 2 {
		t.Errorf("counters replies=%d ignored=%d malformed=%d, want at least 2, 3, 2", replies, ignored, malformed)
	}
}

// TestDHCP6Helper runs in the client namespace for TestDHCP6RealClient:
// it multicasts to ff02::1:2 from port 546 two malformed datagrams, a
// Solicit, an Information-Request for another server and a good one, and
// prints what came back. Only the good one may get a Reply.
func TestDHCP6Helper(t *testing.T) {
	if os.Getenv("NTPBOX_DHCP6_HELPER") == "" {
		t.Skip("helper process for TestDHCP6RealClient")
	}
	conn, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6unspecified, Port: 546})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dst := &net.UDPAddr{IP: net.ParseIP("ff02::1:2"), Port: 547, Zone: "eth0"}
	opt := func(b []byte, code uint16, v []byte) []byte {
		b = binary.BigEndian.AppendUint16(b, code)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		return append(b, v...)
	}
	clientID := []byte{0, 3, 0, 1, 2, 0, 0x5e, 0x10, 0, 0x10}
	msg := func(mt byte, xid byte, opts ...[]byte) []byte {
		b := []byte{mt, 0x6e, 0x74, xid}
		b = opt(b, 1, clientID)
		b = opt(b, 8, []byte{0, 0})
		for _, o := range opts {
			b = append(b, o...)
		}
		return b
	}
	oro := opt(nil, 6, []byte{0, 56})
	for _, m := range [][]byte{
		{11, 0x6e},                                    // shorter than the header
		append(msg(11, 2), 0, 6, 0, 9, 0),             // an option that overruns
		msg(1, 3, opt(nil, 3, make([]byte, 12)), oro), // Solicit with IA_NA
		msg(11, 4, opt(nil, 2, []byte{0, 3, 0, 1, 2, 0, 0x5e, 0x10, 0, 0x99}), oro), // for another server
	} {
		if _, err := conn.WriteTo(m, dst); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // the box handles them first
	good := msg(11, 5, oro)
	if _, err := conn.WriteTo(good, dst); err != nil {
		t.Fatal(err)
	}
	var ntp []string
	others := 0
	buf := make([]byte, 1500)
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			break
		}
		r := buf[:n]
		if n < 4 || r[0] != 7 || !bytes.Equal(r[1:4], good[1:4]) {
			others++
			t.Logf("unexpected datagram %x", r)
			continue
		}
		// Find option 56 and its address suboptions.
		for o := r[4:]; len(o) >= 4; {
			code, l := binary.BigEndian.Uint16(o), int(binary.BigEndian.Uint16(o[2:]))
			if 4+l > len(o) {
				t.Fatalf("reply %x: option %d overruns", r, code)
			}
			if code == 56 {
				for s := o[4 : 4+l]; len(s) >= 4; {
					sc, sl := binary.BigEndian.Uint16(s), int(binary.BigEndian.Uint16(s[2:]))
					if sc == 1 && sl == 16 && len(s) >= 20 {
						ntp = append(ntp, net.IP(s[4:20]).String())
					}
					if 4+sl > len(s) {
						break
					}
					s = s[4+sl:]
				}
			}
			o = o[4+l:]
		}
	}
	if len(ntp) == 0 {
		t.Fatal("no Reply with option 56 to the Information-Request")
	}
	fmt.Printf("reply ntp=%s others=%d\n", strings.Join(ntp, ","), others)
}
