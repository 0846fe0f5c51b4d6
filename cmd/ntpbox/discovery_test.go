package main

// Discovery against real clients: `ntpbox serve -x` in a box namespace
// with `dhcp` and `dns zone`, and busybox udhcpc, ISC dhclient and dig in a
// client namespace across a veth pair (198.18.0.0/24).

import (
	"context"
	"fmt"
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
			if took > window+2*time.Second {
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
// runs, finds dnsmasq on the segment without binding an address, and finds
// nothing where only ntpbox serves DHCP.
func TestDHCPProbeServers(t *testing.T) {
	requireTools(t, "ip", "dnsmasq")
	box, lan := newNetns(t), newNetns(t)
	lanBridge(t, box, lan)
	dir := t.TempDir()
	const window = 3 * time.Second

	t.Run("nobody", func(t *testing.T) {
		if got := probeServers(t, box, "br0", window); got != "" {
			t.Errorf("found %q on a segment without DHCP server", got)
		}
	})

	// ntpbox serves DHCP on br0 from here on: the probe must work beside
	// it, and ntpbox must not answer the probe, from the box itself or
	// from another host.
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
		if got := probeServers(t, lan, "eth0", window); got != "" {
			t.Errorf("from another host: found %q, want nothing (ntpbox ignores the probe)", got)
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
	if !strings.Contains(log, "msg=\"dhcp stopped\"") || strings.Contains(log, " ignored=0 ") || !strings.Contains(log, " offers=0 ") {
		t.Errorf("ntpbox should have ignored the probes from the other host, and offered nothing:\n%s", log)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "dhcp.leases")); err == nil && len(b) > 0 {
		t.Errorf("ntpbox bound an address for the probe:\n%s", b)
	}
}
