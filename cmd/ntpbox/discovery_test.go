package main

// Discovery against real clients: `ntpbox serve -x` in a box namespace
// with `dhcp` and `dns zone`, and busybox udhcpc, ISC dhclient and dig in a
// client namespace across a veth pair (198.18.0.0/24).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/ntpbox/ntpbox/dhcpopt"
)

const boxAddr = "198.18.0.2"

// lanPair links box and client with a veth pair, eth0 on each side; the
// box's end has 198.18.0.2/24. The link goes with the namespaces.
func lanPair(t *testing.T, box, client *netns) {
	t.Helper()
	run(t, "ip", "-n", box.name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", client.name)
	run(t, "ip", "-n", box.name, "addr", "add", boxAddr+"/24", "dev", "eth0")
	run(t, "ip", "-n", box.name, "link", "set", "eth0", "up")
	run(t, "ip", "-n", client.name, "link", "set", "eth0", "up")
}

// startBox runs `ntpbox serve -x -f conf` in ns, waits until it answers NTP
// and DNS/DHCP had the time to start, and returns a stop function that
// ends it with SIGTERM and waits until its ports are free.
func startBox(t *testing.T, ns *netns, conf string) (stop func()) {
	t.Helper()
	c := ns.start(ntpboxBin, "serve", "-x", "-f", conf)
	waitFor(t, "ntpbox to answer on "+boxAddr, 10*time.Second, func() bool {
		_, err := ns.output(2*time.Second, ntpboxBin, "query", "-t", "300ms", boxAddr)
		return err == nil
	})
	return func() {
		c.Process.Signal(syscall.SIGTERM)
		waitFor(t, "ntpbox to free its ports", 10*time.Second, func() bool {
			out, err := ns.output(2*time.Second, "ss", "-Hlnua")
			return err == nil && !strings.Contains(out, ":53 ") && !strings.Contains(out, ":67 ") && !strings.Contains(out, ":123 ")
		})
	}
}

// udhcpc runs busybox udhcpc once in ns and returns the leased address and
// option 42 as the script saw them.
func udhcpc(t *testing.T, ns *netns, dir string) (ip, ntpsrv string) {
	t.Helper()
	out := filepath.Join(dir, "udhcpc.out")
	os.Remove(out)
	script := writeFile(t, dir, "udhcpc.sh", fmt.Sprintf("#!/bin/sh\n[ \"$1\" = bound ] && echo \"$ip $ntpsrv\" > %s\nexit 0\n", out))
	os.Chmod(script, 0o755)
	if o, err := ns.output(20*time.Second, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "3", "-T", "2", "-s", script); err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, o)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("udhcpc script did not run: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		t.Fatalf("udhcpc script saw %q, want ip and ntpsrv", b)
	}
	return f[0], f[1]
}

func inRange(t *testing.T, s string) {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil || a.Less(netip.MustParseAddr("198.18.0.100")) || netip.MustParseAddr("198.18.0.150").Less(a) {
		t.Errorf("leased %q, want an address in 198.18.0.100-198.18.0.150", s)
	}
}

func TestDiscoveryRealClients(t *testing.T) {
	requireTools(t, "ip", "ss", "busybox", "dhclient", "dig")
	box, client := newNetns(t), newNetns(t)
	lanPair(t, box, client)
	dir := t.TempDir()
	server := writeFile(t, dir, "server.conf", fmt.Sprintf(`local stratum 3
allow all
dhcp server 198.18.0.100 198.18.0.150
dns zone lab.test
advertise %s
driftfile %s/drift
bindcmdaddress %s/ntpbox.sock
`, boxAddr, dir, dir))
	stop := startBox(t, box, server)

	var first string
	t.Run("udhcpc", func(t *testing.T) {
		ip, ntpsrv := udhcpc(t, client, dir)
		inRange(t, ip)
		if ntpsrv != boxAddr {
			t.Errorf("udhcpc: ntpsrv=%q, want %s", ntpsrv, boxAddr)
		}
		first = ip
	})

	t.Run("dhclient", func(t *testing.T) {
		conf := writeFile(t, dir, "dhclient.conf", "request subnet-mask, routers, domain-name-servers, domain-name, ntp-servers;\n")
		out := filepath.Join(dir, "dhclient.out")
		script := writeFile(t, dir, "dhclient.sh", fmt.Sprintf(
			"#!/bin/sh\ncase \"$reason\" in BOUND|RENEW|REBOOT) echo \"$new_ip_address $new_ntp_servers $new_domain_name\" > %s;; esac\nexit 0\n", out))
		os.Chmod(script, 0o755)
		pid := filepath.Join(dir, "dhclient.pid")
		defer func() {
			// dhclient backgrounds itself and writes its pid file a moment
			// after the foreground process exits.
			waitFor(t, "dhclient's pid file", 5*time.Second, func() bool {
				b, err := os.ReadFile(pid)
				return err == nil && len(strings.TrimSpace(string(b))) > 0
			})
			if b, err := os.ReadFile(pid); err == nil {
				var p int
				if _, err := fmt.Sscan(string(b), &p); err == nil && p > 0 {
					syscall.Kill(p, syscall.SIGTERM)
					waitFor(t, "dhclient to exit", 5*time.Second, func() bool { return syscall.Kill(p, 0) != nil })
				}
			}
		}()
		if o, err := client.output(30*time.Second, "dhclient", "-1", "-cf", conf, "-lf", filepath.Join(dir, "dhclient.leases"), "-pf", pid, "-sf", script, "eth0"); err != nil {
			t.Fatalf("dhclient: %v\n%s", err, o)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatalf("dhclient script did not see a lease: %v", err)
		}
		f := strings.Fields(string(b))
		if len(f) != 3 {
			t.Fatalf("dhclient script saw %q, want address, ntp servers, domain", b)
		}
		inRange(t, f[0])
		if f[1] != boxAddr || f[2] != "lab.test" {
			t.Errorf("dhclient: new_ntp_servers=%q new_domain_name=%q, want %s and lab.test", f[1], f[2], boxAddr)
		}
	})

	// dig needs an address; 198.18.0.10 is outside the range.
	run(t, "ip", "-n", client.name, "addr", "add", "198.18.0.10/24", "dev", "eth0")
	t.Run("dig", func(t *testing.T) {
		for _, proto := range []string{"+notcp", "+tcp"} {
			out, err := client.output(10*time.Second, "dig", proto, "+tries=2", "+time=2", "SRV", "_ntp._udp.lab.test", "@"+boxAddr)
			if err != nil {
				t.Fatalf("dig %s: %v\n%s", proto, err, out)
			}
			for _, want := range []string{"status: NOERROR", " aa", "_ntp._udp.lab.test.\t300\tIN\tSRV\t10 10 123 ntp1.lab.test.", "ntp1.lab.test.\t\t300\tIN\tA\t" + boxAddr} {
				if !strings.Contains(out, want) {
					t.Errorf("dig %s SRV lacks %q:\n%s", proto, want, out)
				}
			}
		}
		out, err := client.output(10*time.Second, "dig", "+tries=2", "+time=2", "A", "example.com", "@"+boxAddr)
		if err != nil || !strings.Contains(out, "status: REFUSED") {
			t.Errorf("dig A example.com: %v, want REFUSED:\n%s", err, out)
		}
	})
	run(t, "ip", "-n", client.name, "addr", "flush", "dev", "eth0")

	t.Run("leases persist across a restart", func(t *testing.T) {
		if first == "" {
			t.Fatal("no lease from udhcpc to compare with (see the failure above)")
		}
		stop()
		if _, err := os.Stat(filepath.Join(dir, "dhcp.leases")); err != nil {
			t.Fatalf("lease file beside the driftfile: %v", err)
		}
		stop = startBox(t, box, server)
		if ip, _ := udhcpc(t, client, dir); ip != first {
			t.Errorf("after restart udhcpc leased %s, before %s", ip, first)
		}
	})
	stop()

	t.Run("inform", func(t *testing.T) {
		inform := writeFile(t, dir, "inform.conf", fmt.Sprintf("local stratum 3\nallow all\ndhcp inform\nadvertise %s 198.18.0.3\nbindcmdaddress %s/ntpbox.sock\n", boxAddr, dir))
		defer startBox(t, box, inform)()
		run(t, "ip", "-n", client.name, "addr", "add", "198.18.0.10/24", "dev", "eth0")
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		c := client.cmd(exe, "-test.run=^TestInformHelper$", "-test.count=1")
		c.Env = append(os.Environ(), "NTPBOX_INFORM_HELPER=198.18.0.10")
		out, err := c.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ntp-servers=198.18.0.2,198.18.0.3") {
			t.Errorf("DHCPINFORM: %v\n%s", err, out)
		}
	})
}

// TestInformHelper is not a test: run by TestDiscoveryRealClients inside
// the client namespace, it sends one DHCPINFORM from the address in
// NTPBOX_INFORM_HELPER to the box and prints option 42 of the ACK.
func TestInformHelper(t *testing.T) {
	local := os.Getenv("NTPBOX_INFORM_HELPER")
	if local == "" {
		t.Skip("helper process for TestDiscoveryRealClients")
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(local), Port: 68})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ifc, err := net.InterfaceByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	req, err := dhcpv4.NewInform(ifc.HardwareAddr, net.ParseIP(local),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionNTPServers))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	for try := 0; try < 3; try++ {
		if _, err := conn.WriteTo(req.ToBytes(), &net.UDPAddr{IP: net.ParseIP(boxAddr), Port: 67}); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			continue
		}
		resp, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || resp.TransactionID != req.TransactionID {
			continue
		}
		var list []string
		for _, ip := range resp.NTPServers() {
			list = append(list, ip.String())
		}
		fmt.Printf("%s ntp-servers=%s\n", resp.MessageType(), strings.Join(list, ","))
		return
	}
	t.Fatal("no reply to DHCPINFORM")
}

// loggedBox is `ntpbox serve -x` whose log goes to a file the test reads.
type loggedBox struct {
	t    *testing.T
	ns   *netns
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startLoggedBox runs `ntpbox serve -x -f conf` in ns with its output in
// a file, and waits until it answers NTP on boxAddr. It is killed at
// cleanup if the test did not stop it.
func startLoggedBox(t *testing.T, ns *netns, conf string) *loggedBox {
	t.Helper()
	b := &loggedBox{t: t, ns: ns, log: filepath.Join(t.TempDir(), "ntpbox.log"), done: make(chan struct{})}
	f, err := os.Create(b.log)
	if err != nil {
		t.Fatal(err)
	}
	b.cmd = ns.cmd(ntpboxBin, "serve", "-x", "-f", conf)
	b.cmd.Stdout, b.cmd.Stderr = f, f
	if err := b.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start ntpbox: %v", err)
	}
	go func() { b.cmd.Wait(); f.Close(); close(b.done) }()
	t.Cleanup(func() {
		b.cmd.Process.Kill()
		<-b.done
		if t.Failed() {
			t.Logf("ntpbox log:\n%s", b.output())
		}
	})
	waitFor(t, "ntpbox to answer on "+boxAddr, 10*time.Second, func() bool {
		select {
		case <-b.done:
			t.Fatalf("ntpbox exited at start:\n%s", b.output())
		default:
		}
		_, err := ns.output(2*time.Second, ntpboxBin, "query", "-t", "300ms", boxAddr)
		return err == nil
	})
	return b
}

func (b *loggedBox) output() string {
	out, _ := os.ReadFile(b.log)
	return string(out)
}

// running reports whether the process is still alive.
func (b *loggedBox) running() bool {
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// stop ends ntpbox with SIGTERM, waits until it exited and returns its log.
func (b *loggedBox) stop() string {
	b.t.Helper()
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(15 * time.Second):
		b.t.Fatal("ntpbox did not exit within 15 s of SIGTERM")
	}
	return b.output()
}

// lanBridge builds a segment: a bridge br0 in the box namespace with the
// box's address 198.18.0.2/24, and one veth port to eth0 in each host
// namespace, so the hosts are separate machines on one Ethernet.
func lanBridge(t *testing.T, box *netns, hosts ...*netns) {
	t.Helper()
	run(t, "ip", "-n", box.name, "link", "add", "br0", "type", "bridge")
	for i, h := range hosts {
		port := fmt.Sprintf("p%d", i)
		run(t, "ip", "-n", box.name, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.name)
		run(t, "ip", "-n", box.name, "link", "set", port, "master", "br0")
		run(t, "ip", "-n", box.name, "link", "set", port, "up")
		run(t, "ip", "-n", h.name, "link", "set", "eth0", "up")
	}
	run(t, "ip", "-n", box.name, "addr", "add", boxAddr+"/24", "dev", "br0")
	run(t, "ip", "-n", box.name, "link", "set", "br0", "up")
}

// TestDHCPServerSkipsAddressInUse: a squatter holds the first address of
// the range without a lease. The box ARPs for it before offering, marks it
// a conflict and offers the next one.
func TestDHCPServerSkipsAddressInUse(t *testing.T) {
	requireTools(t, "ip", "busybox")
	box, client, squatter := newNetns(t), newNetns(t), newNetns(t)
	lanBridge(t, box, client, squatter)
	run(t, "ip", "-n", squatter.name, "addr", "add", "198.18.0.100/24", "dev", "eth0")
	dir := t.TempDir()
	conf := writeFile(t, dir, "server.conf", fmt.Sprintf(`local stratum 3
allow all
dhcp server 198.18.0.100 198.18.0.101 leasefile %s/dhcp.leases
advertise %s
bindcmdaddress %s/ntpbox.sock
`, dir, boxAddr, dir))
	b := startLoggedBox(t, box, conf)
	// The DHCP server starts once the box has seen its interface, which
	// may be after the control socket is up: wait for its first line.
	waitFor(t, "the DHCP server's start", 10*time.Second, func() bool {
		return strings.Contains(b.output(), "arp_check=") || !b.running()
	})
	if log := b.output(); !strings.Contains(log, "arp_check=true") {
		t.Fatalf("the DHCP server runs without its ARP check:\n%s", log)
	}

	start := time.Now()
	ip, ntpsrv := udhcpc(t, client, dir)
	took := time.Since(start)
	if ip != "198.18.0.101" || ntpsrv != boxAddr {
		t.Errorf("udhcpc leased %s (ntpsrv %s), want 198.18.0.101: 198.18.0.100 answers ARP on the segment", ip, ntpsrv)
	}
	t.Logf("udhcpc got %s in %v (ARP probes of .100, in use, and .101, free, included)", ip, took.Round(time.Millisecond))
	log := b.stop()
	conflicts := map[string]int{}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `msg="dhcp: address in use on the LAN, not offered"`) {
			for _, f := range strings.Fields(line) {
				if a, ok := strings.CutPrefix(f, "addr="); ok {
					conflicts[a]++
				}
			}
		}
	}
	if conflicts["198.18.0.100"] != 1 || len(conflicts) != 1 {
		t.Errorf("conflicts in the box log: %v, want 198.18.0.100 once:\n%s", conflicts, log)
	}
	leases, err := os.ReadFile(filepath.Join(dir, "dhcp.leases"))
	if err != nil || !strings.Contains(string(leases), `"addr":"198.18.0.101"`) || strings.Contains(string(leases), `"addr":"198.18.0.100"`) {
		t.Errorf("lease file: %v\n%s", err, leases)
	}
}

// probeServers runs dhcpopt.ProbeServers on eth in ns for window (in a
// helper process: the namespace is the process's) and returns what it
// found, as "198.18.0.1,198.18.0.7" or "" for none.
func probeServers(t *testing.T, ns *netns, eth string, window time.Duration) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := ns.cmd(exe, "-test.run=^TestProbeServersHelper$", "-test.count=1", "-test.v")
	c.Env = append(os.Environ(), "NTPBOX_PROBE_HELPER="+eth+","+window.String())
	start := time.Now()
	out, err := c.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("ProbeServers on %s: %v\n%s", eth, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(line, "servers="); ok {
			// The probe ends with its context; the margin is for starting
			// the helper process on a loaded machine (CI runs the VM
			// tests beside this), not a measure of speed.
			if took > window+15*time.Second {
				t.Errorf("ProbeServers with a %v context returned after %v", window, took)
			}
			return s
		}
	}
	t.Fatalf("ProbeServers helper printed no result:\n%s", out)
	return ""
}

// TestProbeServersHelper is not a test: run by probeServers inside a
// namespace, it probes for DHCP servers as NTPBOX_PROBE_HELPER=IFACE,DURATION
// says and prints them.
func TestProbeServersHelper(t *testing.T) {
	arg := os.Getenv("NTPBOX_PROBE_HELPER")
	if arg == "" {
		t.Skip("helper process for TestDHCPProbeServers")
	}
	iface, window, _ := strings.Cut(arg, ",")
	d, err := time.ParseDuration(window)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	servers, err := dhcpopt.ProbeServers(ctx, iface)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, a := range servers {
		s = append(s, a.String())
	}
	fmt.Printf("\nservers=%s\n", strings.Join(s, ","))
}

// TestDHCPProbeServers: dhcpopt.ProbeServers, the search `dhcp auto`
// runs, finds dnsmasq on the segment without binding an address; where
// only ntpbox serves DHCP, the box's own search finds nothing and another
// host's finds the box (a second box must not lease beside it).
func TestDHCPProbeServers(t *testing.T) {
	requireTools(t, "ip", "dnsmasq")
	box, lan, bare := newNetns(t), newNetns(t), newNetns(t) // bare: an interface without address
	lanBridge(t, box, lan, bare)
	dir := t.TempDir()
	const window = 3 * time.Second

	t.Run("nobody", func(t *testing.T) {
		if got := probeServers(t, box, "br0", window); got != "" {
			t.Errorf("found %q on a segment without DHCP server", got)
		}
	})

	// ntpbox serves DHCP on br0 from here on: the probe must work beside
	// it; ntpbox ignores its own box's probe and answers another host's.
	conf := writeFile(t, dir, "server.conf", fmt.Sprintf(`local stratum 3
allow all
dhcp server 198.18.0.100 198.18.0.110 leasefile %s/dhcp.leases
advertise %s
bindcmdaddress %s/ntpbox.sock
`, dir, boxAddr, dir))
	b := startLoggedBox(t, box, conf)
	t.Run("only ntpbox", func(t *testing.T) {
		if got := probeServers(t, box, "br0", window); got != "" {
			t.Errorf("from the box: found %q, want nothing (ntpbox itself serves)", got)
		}
		if got := probeServers(t, lan, "eth0", window); got != boxAddr {
			t.Errorf("from another host: found %q, want the leasing box %s", got, boxAddr)
		}
	})

	run(t, "ip", "-n", lan.name, "addr", "add", "198.18.0.1/24", "dev", "eth0")
	// dnsmasq as a LAN has it, except for the ping check, or with it: by
	// default dnsmasq pings an address before its first offer and waits
	// 3 s (PING_WAIT) for an echo.
	for _, c := range []struct {
		name   string
		window time.Duration
		args   []string
	}{{"dnsmasq", window, []string{"--no-ping"}}, {"dnsmasq with ping check", window + 2*time.Second, nil}} {
		t.Run(c.name, func(t *testing.T) {
			leases := filepath.Join(t.TempDir(), "dnsmasq.leases")
			d := lan.start("dnsmasq", append([]string{"--no-daemon", "--conf-file=/dev/null", "--port=0", "--user=root",
				"--dhcp-range=198.18.0.150,198.18.0.160,1h", "--dhcp-leasefile=" + leases,
				"--interface=eth0", "--bind-interfaces", "--pid-file=" + filepath.Join(t.TempDir(), "dnsmasq.pid")}, c.args...)...)
			waitFor(t, "dnsmasq to listen on UDP 67", 10*time.Second, func() bool {
				out, err := lan.output(2*time.Second, "ss", "-Hlnu")
				return err == nil && strings.Contains(out, ":67 ")
			})
			if got := probeServers(t, box, "br0", c.window); got != "198.18.0.1" {
				t.Errorf("from the box beside its own DHCP server: found %q within %v, want dnsmasq's 198.18.0.1", got, c.window)
			}
			if c.args != nil {
				if got := probeServers(t, bare, "eth0", c.window); got != "198.18.0.1,"+boxAddr {
					t.Errorf("from an interface without address: found %q within %v, want dnsmasq's 198.18.0.1 and the box %s", got, c.window, boxAddr)
				}
			}
			b, err := os.ReadFile(leases)
			if err != nil || len(b) != 0 {
				t.Errorf("dnsmasq's lease file after the probe: %v %q, want it empty: the probe must never bind", err, b)
			}
			d.Process.Kill()
			waitFor(t, "dnsmasq to exit", 10*time.Second, func() bool {
				out, err := lan.output(2*time.Second, "ss", "-Hlnu")
				return err == nil && !strings.Contains(out, ":67 ")
			})
		})
	}

	log := b.stop()
	if !strings.Contains(log, "msg=\"dhcp stopped\"") || strings.Contains(log, " offers=0 ") || !strings.Contains(log, " acks=0 ") {
		t.Errorf("ntpbox should have offered to the other hosts' probes, and never acked:\n%s", log)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "dhcp.leases")); err == nil && len(b) > 0 {
		t.Errorf("ntpbox bound an address for the probe:\n%s", b)
	}
}

// hostileDHCP is the battery of bad DHCP datagrams TestDiscoveryMalformedPackets
// sends to UDP 67. malformed counts those the server must count as
// malformed (they do not decode, or are not requests); the others are
// well-formed but must change nothing.
func hostileDHCP(lease netip.Addr) (pkts map[string][]byte, malformed int) {
	stranger := net.HardwareAddr{0x52, 0x54, 0, 0xde, 0xad, 0x01}
	mk := func(mt dhcpv4.MessageType, hw net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
		m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithMessageType(mt), dhcpv4.WithHwAddr(hw)}, mods...)...)
		if err != nil {
			panic(err)
		}
		return m
	}
	header := mk(dhcpv4.MessageTypeDiscover, stranger).ToBytes()[:236] // BOOTP fixed part
	cookie := []byte{99, 130, 83, 99}
	withOpts := func(opts ...byte) []byte {
		return append(append(append([]byte{}, header...), cookie...), opts...)
	}
	garbage := func(b []byte, seed byte) []byte {
		for i := range b {
			b[i] = seed + byte(i*37)
		}
		return b
	}
	bad := map[string][]byte{
		"empty":                       {},
		"1 byte":                      {1},
		"truncated BOOTP header":      header[:100],
		"header without magic cookie": append(append([]byte{}, header...), 53, 1, 1, 255),
		"wrong magic cookie":          append(append(append([]byte{}, header...), 99, 130, 83, 98), 53, 1, 1, 255),
		"option past the end":         withOpts(53, 1, 1, 12, 200, 'a', 'b', 'c'),
		"option length byte missing":  withOpts(53, 1, 1, 12),
		"option 53 empty":             withOpts(53, 0, 255),
		"no message type":             withOpts(12, 1, 'x', 255),
		"op BOOTREPLY": func() []byte {
			m := mk(dhcpv4.MessageTypeDiscover, stranger)
			m.OpCode = dhcpv4.OpcodeBootReply
			return m.ToBytes()
		}(),
		"op 0":                   func() []byte { b := mk(dhcpv4.MessageTypeDiscover, stranger).ToBytes(); b[0] = 0; return b }(),
		"hlen 0, no client id":   func() []byte { b := mk(dhcpv4.MessageTypeDiscover, stranger).ToBytes(); b[2] = 0; return b }(),
		"option 255 only":        withOpts(255),
		"random bytes":           garbage(make([]byte, 576), 7),
		"options of random size": append(withOpts(53, 1, 1), garbage(make([]byte, 300), 11)...),
	}
	// Well-formed, but nothing may change: lies about other clients'
	// addresses, sizes, types and overloads.
	overload := mk(dhcpv4.MessageTypeDiscover, stranger, dhcpv4.WithGeneric(dhcpv4.OptionOptionOverload, []byte{3}))
	overload.ServerHostName = string(garbage(make([]byte, 63), 1))
	overload.BootFileName = string(garbage(make([]byte, 127), 2))
	huge := mk(dhcpv4.MessageTypeDiscover, net.HardwareAddr{0x52, 0x54, 0, 0xde, 0xad, 0x02})
	for i := 0; i < 6; i++ {
		huge.UpdateOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(224+i), garbage(make([]byte, 250), byte(i))))
	}
	box := dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP(boxAddr)))
	want := dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(lease.AsSlice()))
	far := net.IPv4(198, 19, 255, 1) // inside the lab's /15, routed nowhere
	ok := map[string]*dhcpv4.DHCPv4{
		"overload 3 into garbage sname and file":             overload,
		"1500 bytes of options":                              huge,
		"REQUEST (selecting) for another client's address":   mk(dhcpv4.MessageTypeRequest, stranger, box, want),
		"REQUEST (init-reboot) for another client's address": mk(dhcpv4.MessageTypeRequest, stranger, want),
		"REQUEST (renewing) for another client's address": mk(dhcpv4.MessageTypeRequest, stranger,
			dhcpv4.WithClientIP(lease.AsSlice())),
		"RELEASE of another client's address": mk(dhcpv4.MessageTypeRelease, stranger, box, dhcpv4.WithClientIP(lease.AsSlice())),
		"DECLINE of another client's address": mk(dhcpv4.MessageTypeDecline, stranger, box, want),
		"message type 200":                    mk(dhcpv4.MessageType(200), stranger),
		"hlen 255":                            mk(dhcpv4.MessageTypeDiscover, stranger, dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 2}))),
		"INFORM relayed from off the LAN": mk(dhcpv4.MessageTypeInform, stranger, dhcpv4.WithClientIP(net.IPv4(198, 18, 0, 10)),
			dhcpv4.WithGatewayIP(far)),
		"INFORM with an off-LAN ciaddr": mk(dhcpv4.MessageTypeInform, stranger, dhcpv4.WithClientIP(far)),
		"empty client identifier":       mk(dhcpv4.MessageTypeDiscover, nil, dhcpv4.WithGeneric(dhcpv4.OptionClientIdentifier, nil)),
	}
	pkts = bad
	for name, m := range ok {
		b := m.ToBytes()
		if name == "hlen 255" {
			b[2] = 255
		}
		pkts[name] = b
	}
	// Those that do not decode, or that the handler rejects as malformed
	// (op, message type, no client identity). "options of random size"
	// may decode as a DISCOVER.
	for name := range pkts {
		switch name {
		case "options of random size", "overload 3 into garbage sname and file", "1500 bytes of options",
			"hlen 255", "message type 200", "INFORM relayed from off the LAN", "INFORM with an off-LAN ciaddr":
		case "REQUEST (selecting) for another client's address", "REQUEST (init-reboot) for another client's address",
			"REQUEST (renewing) for another client's address", "RELEASE of another client's address", "DECLINE of another client's address":
		default:
			malformed++
		}
	}
	return pkts, malformed
}

// hostileDNS is the battery of bad DNS messages.
func hostileDNS() map[string][]byte {
	hdr := func(id uint16, flags uint16, qd, an, ns, ar uint16) []byte {
		return []byte{byte(id >> 8), byte(id), byte(flags >> 8), byte(flags), byte(qd >> 8), byte(qd),
			byte(an >> 8), byte(an), byte(ns >> 8), byte(ns), byte(ar >> 8), byte(ar)}
	}
	q := func(name []byte, qtype uint16) []byte { return append(name, byte(qtype>>8), byte(qtype), 0, 1) }
	srv := []byte("\x04_ntp\x04_udp\x03lab\x04test\x00")
	return map[string][]byte{
		"empty":                      {},
		"1 byte":                     {0x42},
		"header only":                hdr(1, 0x0100, 0, 0, 0, 0),
		"QDCOUNT 65535, no question": hdr(2, 0x0100, 65535, 0, 0, 0),
		"ANCOUNT 65535, no records":  append(hdr(3, 0x0100, 1, 65535, 65535, 65535), q(srv, 33)...),
		"compression loop":           append(hdr(4, 0x0100, 1, 0, 0, 0), q([]byte{0xc0, 12}, 33)...),
		"two-pointer loop":           append(hdr(5, 0x0100, 1, 0, 0, 0), q([]byte{3, 'l', 'a', 'b', 0xc0, 18, 0xc0, 12}, 33)...),
		"pointer past the end":       append(hdr(6, 0x0100, 1, 0, 0, 0), q([]byte{0xc0, 0xff}, 33)...),
		"label past the end":         append(hdr(7, 0x0100, 1, 0, 0, 0), 63, 'a', 'b'),
		"reserved label type":        append(hdr(8, 0x0100, 1, 0, 0, 0), q([]byte{0x80, 'a', 0}, 33)...),
		"opcode UPDATE":              append(hdr(9, 5<<11, 1, 0, 0, 0), q([]byte("\x03lab\x04test\x00"), 6)...),
		"opcode 15":                  append(hdr(10, 15<<11, 1, 0, 0, 0), q(srv, 33)...),
		"a response":                 append(hdr(11, 0x8400, 1, 0, 0, 0), q(srv, 33)...),
		"AXFR":                       append(hdr(12, 0, 1, 0, 0, 0), q([]byte("\x03lab\x04test\x00"), 252)...),
		"name of 300 bytes":          append(hdr(13, 0x0100, 1, 0, 0, 0), q(append(bytes.Repeat(append([]byte{59}, bytes.Repeat([]byte{'a'}, 59)...), 5), 0), 33)...),
		"OPT with bad version":       append(append(hdr(14, 0x0100, 1, 0, 0, 1), q(srv, 33)...), 0, 0, 41, 0x10, 0, 0, 7, 0x80, 0, 0, 0),
		"two OPT records":            append(append(hdr(15, 0x0100, 1, 0, 0, 2), q(srv, 33)...), 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0),
		"OPT rdlength past the end":  append(append(hdr(16, 0x0100, 1, 0, 0, 1), q(srv, 33)...), 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0xff, 0xff, 1),
	}
}

// TestHostileHelper is not a test: run by TestDiscoveryMalformedPackets in
// the client namespace, from the address in NTPBOX_HOSTILE_HELPER=ADDR,LEASE,
// it sends the hostile DHCP and DNS batteries to the box, opens TCP
// connections to port 53 that stall, prints "ready" and holds them until
// its stdin closes.
func TestHostileHelper(t *testing.T) {
	arg := os.Getenv("NTPBOX_HOSTILE_HELPER")
	if arg == "" {
		t.Skip("helper process for TestDiscoveryMalformedPackets")
	}
	local, leased, _ := strings.Cut(arg, ",")
	lease := netip.MustParseAddr(leased)
	box := net.ParseIP(boxAddr)

	// DHCP: each datagram broadcast and unicast, from port 68.
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(local), Port: 68})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	rc, err := uc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1) })
	// 198.19.255.1 is "off the LAN" for the box, but this host holds it,
	// so a reply the box sends there arrives here instead of vanishing.
	var offLink []*net.UDPConn
	for _, port := range []int{67, 68} {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(198, 19, 255, 1), Port: port})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		offLink = append(offLink, c)
	}
	pkts, malformed := hostileDHCP(lease)
	for name, b := range pkts {
		for _, dst := range []net.IP{net.IPv4bcast, box} {
			if _, err := uc.WriteTo(b, &net.UDPAddr{IP: dst, Port: 67}); err != nil {
				t.Errorf("DHCP %q to %v: %v", name, dst, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	replies := 0
	for _, c := range offLink {
		c.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 1500)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				break
			}
			replies++
		}
	}
	fmt.Printf("dhcp-sent=%d dhcp-malformed=%d offlink-replies=%d\n", len(pkts), 2*malformed, replies)

	// DNS over UDP, and each message framed over TCP.
	dc, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: box, Port: 53})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	msgs := hostileDNS()
	for name, b := range msgs {
		if _, err := dc.Write(b); err != nil {
			t.Errorf("DNS/UDP %q: %v", name, err)
		}
		tc, err := net.DialTimeout("tcp4", boxAddr+":53", 2*time.Second)
		if err != nil {
			t.Fatalf("DNS/TCP %q: %v", name, err)
		}
		tc.Write(append([]byte{byte(len(b) >> 8), byte(len(b))}, b...))
		tc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		io.Copy(io.Discard, tc) // a reply, a close or the deadline
		tc.Close()
	}
	// TCP that stalls: a length prefix larger than the data, a prefix
	// alone, half a prefix; and connections closed mid-message.
	var held []net.Conn
	for _, b := range [][]byte{{0x01, 0x00, 0xab, 0xcd}, {0xff, 0xff}, {0x00}, {0x00, 0x00}} {
		for range 5 {
			tc, err := net.DialTimeout("tcp4", boxAddr+":53", 2*time.Second)
			if err != nil {
				t.Fatalf("DNS/TCP stalling: %v", err)
			}
			tc.Write(b)
			held = append(held, tc)
		}
	}
	for _, b := range [][]byte{{0x00, 0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, {0x00}} {
		tc, err := net.DialTimeout("tcp4", boxAddr+":53", 2*time.Second)
		if err != nil {
			t.Fatalf("DNS/TCP: %v", err)
		}
		tc.Write(b)
		if c, ok := tc.(*net.TCPConn); ok && len(b) > 1 {
			c.SetLinger(0) // a reset rather than a FIN
		}
		tc.Close()
	}
	fmt.Printf("dns-sent=%d tcp-held=%d\nready\n", len(msgs), len(held))
	io.Copy(io.Discard, os.Stdin)
	for _, c := range held {
		c.Close()
	}
}

// digAnswer is the answer, authority and additional sections dig prints
// for SRV _ntp._udp.lab.test over proto (+notcp or +tcp).
func digAnswer(t *testing.T, ns *netns, proto string) string {
	t.Helper()
	out, err := ns.output(10*time.Second, "dig", proto, "+tries=2", "+time=2", "+noall", "+comments", "+answer", "+authority", "+additional",
		"SRV", "_ntp._udp.lab.test", "@"+boxAddr)
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", proto, err, out)
	}
	if !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "SRV\t10 10 123 ntp1.lab.test.") {
		t.Fatalf("dig %s SRV _ntp._udp.lab.test:\n%s", proto, out)
	}
	// The header line carries the message id: keep the rest.
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, "->>HEADER<<-") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestDiscoveryMalformedPackets throws hostile DHCP and DNS packets at a
// running box that has leased an address, and checks that nothing
// changed: the lease file, the lease and option 42 a client gets, the DNS
// answers, and the process itself.
func TestDiscoveryMalformedPackets(t *testing.T) {
	requireTools(t, "ip", "ss", "busybox", "dig")
	box, client := newNetns(t), newNetns(t)
	lanPair(t, box, client)
	dir := t.TempDir()
	leaseFile := filepath.Join(dir, "dhcp.leases")
	conf := writeFile(t, dir, "server.conf", fmt.Sprintf(`local stratum 3
allow all
dhcp server 198.18.0.100 198.18.0.150 leasefile %s
dns zone lab.test
advertise %s
bindcmdaddress %s/ntpbox.sock
`, leaseFile, boxAddr, dir))
	b := startLoggedBox(t, box, conf)

	ip, ntpsrv := udhcpc(t, client, dir)
	inRange(t, ip)
	if ntpsrv != boxAddr {
		t.Fatalf("udhcpc: ntpsrv=%q, want %s", ntpsrv, boxAddr)
	}
	before, err := os.ReadFile(leaseFile)
	if err != nil || !strings.Contains(string(before), `"addr":"`+ip+`"`) {
		t.Fatalf("lease file after the first lease: %v\n%s", err, before)
	}
	run(t, "ip", "-n", client.name, "addr", "add", "198.18.0.10/24", "dev", "eth0")
	run(t, "ip", "-n", client.name, "addr", "add", "198.19.255.1/32", "dev", "eth0")
	udpBefore, tcpBefore := digAnswer(t, client, "+notcp"), digAnswer(t, client, "+tcp")

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := client.cmd(exe, "-test.run=^TestHostileHelper$", "-test.count=1")
	h.Env = append(os.Environ(), "NTPBOX_HOSTILE_HELPER=198.18.0.10,"+ip)
	stdin, err := h.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := h.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	h.Stderr = &stderr
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	helperDone := false
	t.Cleanup(func() {
		if !helperDone {
			h.Process.Kill()
			h.Wait()
		}
	})
	var helperOut []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
		helperOut = append(helperOut, sc.Text())
	}
	if sc.Err() != nil || len(helperOut) == 0 || !strings.HasPrefix(helperOut[0], "dhcp-sent=") {
		h.Wait()
		t.Fatalf("hostile helper did not get ready:\n%s\n%s", strings.Join(helperOut, "\n"), stderr.String())
	}
	var sent, wantMalformed, offLink int
	if _, err := fmt.Sscanf(helperOut[0], "dhcp-sent=%d dhcp-malformed=%d offlink-replies=%d", &sent, &wantMalformed, &offLink); err != nil {
		t.Fatalf("hostile helper said %q: %v", helperOut[0], err)
	}
	if offLink != 0 {
		t.Errorf("the box sent %d DHCP replies to 198.19.255.1, off its LAN, as relayed or spoofed requests asked", offLink)
	}
	t.Logf("hostile helper: %s", strings.Join(helperOut, "; "))

	// While TCP connections stall, the box answers everybody else.
	if got := digAnswer(t, client, "+tcp"); got != tcpBefore {
		t.Errorf("dig +tcp while connections stall:\n%s\nbefore:\n%s", got, tcpBefore)
	}
	if got := digAnswer(t, client, "+notcp"); got != udpBefore {
		t.Errorf("dig +notcp after the battery:\n%s\nbefore:\n%s", got, udpBefore)
	}
	stdin.Close()
	herr := h.Wait()
	helperDone = true
	if herr != nil {
		t.Errorf("hostile helper: %v\n%s", herr, stderr.String())
	}

	if !b.running() {
		t.Fatalf("ntpbox died:\n%s", b.output())
	}
	after, err := os.ReadFile(leaseFile)
	if err != nil || !bytes.Equal(after, before) {
		t.Errorf("lease file changed:\nbefore %s\nafter  %s (%v)", before, after, err)
	}
	if got := digAnswer(t, client, "+tcp"); got != tcpBefore {
		t.Errorf("dig +tcp after the battery:\n%s\nbefore:\n%s", got, tcpBefore)
	}
	run(t, "ip", "-n", client.name, "addr", "flush", "dev", "eth0")
	if ip2, ntp2 := udhcpc(t, client, dir); ip2 != ip || ntp2 != boxAddr {
		t.Errorf("after the battery udhcpc got %s with ntpsrv %s, before %s with %s", ip2, ntp2, ip, boxAddr)
	}
	if _, err := box.output(2*time.Second, ntpboxBin, "query", "-t", "300ms", boxAddr); err != nil || !b.running() {
		t.Fatalf("ntpbox no longer answers NTP: %v", err)
	}

	log := b.stop()
	var stats string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `msg="dhcp stopped"`) {
			stats = l
		}
	}
	var malformed int
	if i := strings.Index(stats, " malformed="); i < 0 {
		t.Fatalf("no \"dhcp stopped\" line with malformed= in the log:\n%s", log)
	} else {
		fmt.Sscanf(stats[i:], " malformed=%d", &malformed)
	}
	t.Logf("%s", stats)
	if malformed < wantMalformed {
		t.Errorf("malformed=%d, want at least the %d malformed DHCP datagrams sent", malformed, wantMalformed)
	}
	// "dhcp: reply" is a reply the box failed to send: one aimed off the
	// LAN, where the relayed and off-LAN INFORMs would have sent it.
	for _, bad := range []string{"panic", "goroutine ", "level=ERROR", `msg="dhcp: reply"`} {
		if strings.Contains(log, bad) {
			t.Errorf("the box log has %q:\n%s", bad, log)
		}
	}
}
