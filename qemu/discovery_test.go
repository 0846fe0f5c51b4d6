//go:build linux

package qemu_test

// Discovery end to end: the box runs in QEMU with `dhcp server`, `dns
// zone` and `advertise`, and real clients in the lab's client namespace
// (busybox udhcpc, ISC dhclient, dig, chronyd) find it. The tests also
// throw malformed DHCP and DNS datagrams at it, keep its leases across a
// reboot of the disk image, and fail a chronyd client over from one box
// to its peer when the first one is powered off.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/miekg/dns"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/qemu"
)

// The discovery lab: the box at qemu.LabVMAddr (198.18.0.2), its
// fail-over peer at discPeerAddr, both advertised; the box leases
// discRangeStart-discRangeEnd and answers for discZone.
const (
	discPeerAddr   = "198.18.0.3"
	discRangeStart = "198.18.0.100"
	discRangeEnd   = "198.18.0.120"
	discZone       = "lab.test"
	discRouter     = qemu.LabHostAddr
	discMemMiB     = 256
	// A client step (one udhcpc, one dig) on a busy 2-core machine with
	// TCG guests.
	discClientTimeout = 45 * time.Second
)

// discTimerCheck is a kernel parameter for the kernel+initramfs boots:
// under TCG on a loaded machine the kernel's IO-APIC timer check can
// fail ("Kernel panic - not syncing: IO-APIC + timer doesn't work!", seen
// with two VMs booting at once); no_timer_check skips it.
const discTimerCheck = "no_timer_check"

// discAdvertised is what option 42 must carry, in order.
var discAdvertised = qemu.LabVMAddr + " " + discPeerAddr

// discRun runs cmd, killing it after timeout, and returns its combined
// output.
func discRun(cmd *exec.Cmd, timeout time.Duration) (string, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A daemon it leaves behind must not hold Wait on the output pipe.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("%s: killed after %v", strings.Join(cmd.Args, " "), timeout)
	}
}

// discMust runs an ip-style setup command and fails the test on error.
func discMust(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := discRun(exec.Command(name, args...), 30*time.Second); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// discWaitLine waits for a console line containing s, anywhere in the
// console so far (unlike VM.Expect, whatever the order of earlier
// matches), and returns it.
func discWaitLine(vm *qemu.VM, s string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		for _, l := range vm.Lines() {
			if strings.Contains(l.Text, s) {
				return l.Text, nil
			}
		}
		select {
		case <-vm.Done():
			for _, l := range vm.Lines() {
				if strings.Contains(l.Text, s) {
					return l.Text, nil
				}
			}
			return "", fmt.Errorf("waiting for %q on the console: QEMU exited (%v)", s, vm.Wait(0))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("waiting for %q on the console: timed out after %v", s, timeout)
		}
	}
}

// discConsoleCount counts the console lines containing s.
func discConsoleCount(vm *qemu.VM, s string) int {
	n := 0
	for _, l := range vm.Lines() {
		if strings.Contains(l.Text, s) {
			n++
		}
	}
	return n
}

// discPowerOff presses the VM's power button and waits for the power-off
// sentinel and QEMU's exit.
func discPowerOff(t *testing.T, vm *qemu.VM) {
	t.Helper()
	if err := vm.Powerdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := discWaitLine(vm, appliance.SentinelPowerOff, stopTimeout); err != nil {
		t.Fatal(err)
	}
	if err := vm.Wait(stopTimeout); err != nil {
		t.Fatalf("QEMU after power off: %v", err)
	}
}

// discUdhcpcLease is what busybox udhcpc's script saw at "bound": ip, subnet,
// mask, router, dns, domain, ntpsrv, serverid, lease.
type discUdhcpcLease map[string]string

var discUdhcpcVars = []string{"ip", "subnet", "mask", "router", "dns", "domain", "ntpsrv", "serverid", "lease"}

func (l discUdhcpcLease) String() string {
	var parts []string
	for _, v := range discUdhcpcVars {
		parts = append(parts, v+"="+l[v])
	}
	return strings.Join(parts, " ")
}

// discUdhcpc runs busybox udhcpc once in namespace ns (on its eth0), with
// the extra arguments (-r IP), and returns what its script saw at bound.
// hook is more shell run by the script at bound, as a dispatcher hook
// would (it sees udhcpc's variables).
func discUdhcpc(t *testing.T, ns, hook string, extra ...string) (discUdhcpcLease, error) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "bound")
	var sb strings.Builder
	sb.WriteString("#!/bin/sh\n[ \"$1\" = bound ] || exit 0\n{\n")
	for _, v := range discUdhcpcVars {
		fmt.Fprintf(&sb, "echo \"%s=$%s\"\n", v, v)
	}
	fmt.Fprintf(&sb, "} > %s\n%s\nexit 0\n", out, hook)
	script := filepath.Join(dir, "udhcpc.sh")
	if err := os.WriteFile(script, []byte(sb.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "4", "-T", "3", "-s", script}, extra...)
	start := time.Now()
	o, err := discRun(qemu.In(ns, "busybox", args...), discClientTimeout)
	if err != nil {
		return nil, fmt.Errorf("udhcpc %s: %v\n%s", strings.Join(extra, " "), err, o)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("udhcpc's script did not run at bound: %v\n%s", err, o)
	}
	l := discUdhcpcLease{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		l[k] = strings.TrimSpace(v)
	}
	t.Logf("udhcpc %s(in %s) bound in %.1f s: %s", strings.Join(extra, " ")+" ", ns, time.Since(start).Seconds(), l)
	return l, nil
}

// discInRange checks that s is an address of the box's range.
func discInRange(s string) error {
	a, err := netip.ParseAddr(s)
	lo, hi := netip.MustParseAddr(discRangeStart), netip.MustParseAddr(discRangeEnd)
	if err != nil || a.Less(lo) || hi.Less(a) {
		return fmt.Errorf("leased %q, want an address in %s-%s", s, lo, hi)
	}
	return nil
}

// discCheckUdhcpcLease checks a lease from the box of TestDiscoveryServerModeInVM.
func discCheckUdhcpcLease(t *testing.T, l discUdhcpcLease) {
	t.Helper()
	if err := discInRange(l["ip"]); err != nil {
		t.Error(err)
	}
	want := map[string]string{
		"ntpsrv":   discAdvertised,
		"router":   discRouter,
		"dns":      qemu.LabVMAddr, // the default: the box itself
		"domain":   discZone,
		"subnet":   "255.255.255.0",
		"serverid": qemu.LabVMAddr,
		"lease":    "3600", // the default lease, 1h
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if l[k] != want[k] {
			t.Errorf("udhcpc: $%s = %q, want %q", k, l[k], want[k])
		}
	}
}

// discDhclient runs ISC dhclient once in namespace ns and returns what
// its script saw (new_ip_address, new_ntp_servers, new_domain_name,
// new_routers, new_domain_name_servers). It releases the lease and ends
// dhclient before returning.
func discDhclient(t *testing.T, ns string) (map[string]string, error) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "bound")
	// Debian's /etc/dhcp/dhclient.conf requests ntp-servers, but a
	// client's defaults are not the box's business: ask explicitly, as
	// a client that wants option 42 must. A bounded timeout too.
	conf := filepath.Join(dir, "dhclient.conf")
	if err := os.WriteFile(conf, []byte("timeout 40;\nretry 5;\n"+
		"request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, ntp-servers;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "dhclient.sh")
	vars := []string{"new_ip_address", "new_ntp_servers", "new_domain_name", "new_routers", "new_domain_name_servers"}
	var sb strings.Builder
	sb.WriteString("#!/bin/sh\ncase \"$reason\" in BOUND|RENEW|REBOOT) ;; *) exit 0;; esac\n{\n")
	for _, v := range vars {
		fmt.Fprintf(&sb, "echo \"%s=$%s\"\n", v, v)
	}
	fmt.Fprintf(&sb, "} > %s\nexit 0\n", out)
	if err := os.WriteFile(script, []byte(sb.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	pidFile, leaseFile := filepath.Join(dir, "dhclient.pid"), filepath.Join(dir, "dhclient.leases")
	common := []string{"-4", "-cf", conf, "-sf", script, "-lf", leaseFile, "-pf", pidFile}
	// dhclient goes to the background once bound: end it whatever
	// happens (release first, then the pid file's process).
	stop := func() {
		if o, err := discRun(qemu.In(ns, "dhclient", append(append([]string{"-r"}, common...), "eth0")...), 30*time.Second); err != nil {
			t.Logf("dhclient -r: %v\n%s", err, o)
		}
		if b, err := os.ReadFile(pidFile); err == nil {
			var pid int
			if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 0 {
				if syscall.Kill(pid, 0) == nil {
					syscall.Kill(pid, syscall.SIGTERM)
					for i := 0; i < 50 && syscall.Kill(pid, 0) == nil; i++ {
						time.Sleep(100 * time.Millisecond)
					}
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}
	defer stop()
	start := time.Now()
	o, err := discRun(qemu.In(ns, "dhclient", append(append([]string{"-1", "-v"}, common...), "eth0")...), 60*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dhclient: %v\n%s", err, o)
	}
	// The pid file comes from the backgrounded process, a moment later.
	for i := 0; i < 50; i++ {
		if b, err := os.ReadFile(pidFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("dhclient's script did not see a lease: %v\n%s", err, o)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = strings.TrimSpace(v)
	}
	t.Logf("dhclient bound in %.1f s: %v", time.Since(start).Seconds(), got)
	return got, nil
}

// discDigAnswer is the part of dig's output the tests compare.
type discDigAnswer struct {
	Status string
	AA     bool
	SRV    []string          // "PRIO WEIGHT PORT TARGET", sorted
	A      map[string]string // name -> address, from every section
	Raw    string
}

func (d discDigAnswer) key() string {
	var as []string
	for n, a := range d.A {
		as = append(as, n+"="+a)
	}
	sort.Strings(as)
	return fmt.Sprintf("%s aa=%v srv=%v a=%v", d.Status, d.AA, d.SRV, as)
}

// discDig runs dig @box in the client namespace and parses its output.
func discDig(lab *qemu.Lab, args ...string) (discDigAnswer, error) {
	all := append([]string{"@" + qemu.LabVMAddr, "+tries=3", "+time=3"}, args...)
	out, err := discRun(lab.Client("dig", all...), discClientTimeout)
	d := discDigAnswer{A: map[string]string{}, Raw: out}
	if err != nil {
		return d, fmt.Errorf("dig %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if _, s, ok := strings.Cut(line, "status: "); ok && strings.HasPrefix(line, ";; ->>HEADER<<-") {
			d.Status, _, _ = strings.Cut(s, ",")
		}
		if f, ok := strings.CutPrefix(line, ";; flags: "); ok {
			f, _, _ = strings.Cut(f, ";")
			d.AA = slices.Contains(strings.Fields(f), "aa")
		}
		if strings.HasPrefix(line, ";") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 || f[2] != "IN" {
			continue
		}
		switch f[3] {
		case "SRV":
			d.SRV = append(d.SRV, strings.Join(f[4:], " "))
		case "A":
			d.A[f[0]] = f[4]
		}
	}
	sort.Strings(d.SRV)
	if d.Status == "" {
		return d, fmt.Errorf("dig %s: no status in its output:\n%s", strings.Join(args, " "), out)
	}
	return d, nil
}

// discCheckDNS asks the box for its SRV records over UDP and TCP, resolves
// their targets, and checks that other names are refused. It returns a
// summary of the answers, to compare before and after the malformed
// traffic.
func discCheckDNS(t *testing.T, lab *qemu.Lab) string {
	t.Helper()
	var summary []string
	srvName := "_ntp._udp." + discZone
	for _, proto := range []string{"+notcp", "+tcp"} {
		d, err := discDig(lab, proto, "SRV", srvName)
		if err != nil {
			t.Error(err)
			continue
		}
		t.Logf("dig %s SRV %s: %s", proto, srvName, d.key())
		if d.Status != "NOERROR" || !d.AA {
			t.Errorf("dig %s SRV %s: status %s aa=%v, want NOERROR and aa\n%s", proto, srvName, d.Status, d.AA, d.Raw)
		}
		if len(d.SRV) != 2 {
			t.Errorf("dig %s SRV %s: %d SRV records %v, want one per advertised server (2)\n%s", proto, srvName, len(d.SRV), d.SRV, d.Raw)
		}
		var targets, addrs []string
		for _, s := range d.SRV {
			f := strings.Fields(s)
			if len(f) != 4 || f[2] != "123" || !strings.HasSuffix(f[3], "."+discZone+".") {
				t.Errorf("dig %s: SRV %q, want port 123 and a target in %s", proto, s, discZone)
				continue
			}
			targets = append(targets, f[3])
			// The additional section has the targets' addresses.
			addrs = append(addrs, d.A[f[3]])
		}
		sort.Strings(addrs)
		if strings.Join(addrs, " ") != discAdvertised {
			t.Errorf("dig %s: SRV targets' A records in the additional section: %v, want %s\n%s", proto, addrs, discAdvertised, d.Raw)
		}
		summary = append(summary, proto+": "+d.key())
		if proto != "+notcp" {
			continue
		}
		// Each target resolves on its own too.
		var resolved []string
		for _, target := range targets {
			a, err := discDig(lab, "A", target)
			if err != nil {
				t.Error(err)
				continue
			}
			if a.Status != "NOERROR" || a.A[target] == "" {
				t.Errorf("dig A %s: status %s, A %q, want NOERROR and an address\n%s", target, a.Status, a.A[target], a.Raw)
			}
			resolved = append(resolved, a.A[target])
			summary = append(summary, "A "+target+": "+a.key())
		}
		sort.Strings(resolved)
		t.Logf("SRV targets %v resolve to %v", targets, resolved)
		if strings.Join(resolved, " ") != discAdvertised {
			t.Errorf("SRV targets %v resolve to %v, want %s", targets, resolved, discAdvertised)
		}
	}
	for _, q := range [][]string{{"A", "example.com"}, {"SRV", "_ntp._udp.other.test"}, {"A", "ntp1." + discZone + ".example.com"}} {
		d, err := discDig(lab, q...)
		if err != nil {
			t.Error(err)
			continue
		}
		t.Logf("dig %s: %s", strings.Join(q, " "), d.Status)
		if d.Status != "REFUSED" {
			t.Errorf("dig %s: status %s, want REFUSED\n%s", strings.Join(q, " "), d.Status, d.Raw)
		}
		summary = append(summary, strings.Join(q, " ")+": "+d.key())
	}
	return strings.Join(summary, "\n")
}

// discMalformedDNS sends broken DNS messages to the box over UDP and TCP
// from the client namespace. A reply, if any, must not be a NOERROR
// answer to something that is not a question.
func discMalformedDNS(t *testing.T, lab *qemu.Lab) {
	t.Helper()
	hdr := func(id, flags, qd, an, ns, ar uint16) []byte {
		b := make([]byte, 12)
		for i, v := range []uint16{id, flags, qd, an, ns, ar} {
			binary.BigEndian.PutUint16(b[2*i:], v)
		}
		return b
	}
	q := new(dns.Msg)
	q.SetQuestion("_ntp._udp."+discZone+".", dns.TypeSRV)
	q.Id = 0x4242
	good, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	question := good[12:]
	typeClass := []byte{0, 33, 0, 1}
	var long []byte // six 63-byte labels: 384 bytes
	for i := 0; i < 6; i++ {
		long = append(long, 63)
		long = append(long, bytes.Repeat([]byte{'a'}, 63)...)
	}
	long = append(long, 0)
	oversize := bytes.Repeat([]byte{0xff}, 4000)
	copy(oversize, hdr(7, 0x0100, 1, 0, 0, 0))
	// An OPT record whose rdlength runs past the end.
	badOPT := append(append(hdr(8, 0x0100, 1, 0, 0, 1), question...), 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2)
	cases := []struct {
		name string
		msg  []byte
	}{
		{"empty", nil},
		{"short header", []byte{0x42, 0x42, 1}},
		{"header only, no question", hdr(1, 0x0100, 0, 0, 0, 0)},
		{"qdcount 1, nothing follows", hdr(2, 0x0100, 1, 0, 0, 0)},
		{"compression loop", append(hdr(3, 0x0100, 1, 0, 0, 0), append([]byte{0xc0, 12}, typeClass...)...)},
		{"pointer past the end", append(hdr(4, 0x0100, 1, 0, 0, 0), append([]byte{0xc0, 0xff}, typeClass...)...)},
		{"qdcount lies (5 for 1)", append(hdr(5, 0x0100, 5, 0, 0, 0), question...)},
		{"ancount lies", append(hdr(6, 0x0100, 1, 3, 0, 0), question...)},
		{"label past the end", append(hdr(9, 0x0100, 1, 0, 0, 0), 63, 'a', 'b')},
		{"name over 255 bytes", append(append(hdr(10, 0x0100, 1, 0, 0, 0), long...), typeClass...)},
		{"no type and class", append(hdr(11, 0x0100, 1, 0, 0, 0), question[:len(question)-4]...)},
		{"bad OPT rdlength", badOPT},
		{"reserved label type 0x40", append(hdr(12, 0x0100, 1, 0, 0, 0), append([]byte{0x41, 'x', 0}, typeClass...)...)},
		{"4000 bytes of 0xff", oversize},
	}
	var conn net.Conn
	if err := qemu.InNetns(lab.ClientNetns, func() (err error) {
		conn, err = net.Dial("udp4", net.JoinHostPort(qemu.LabVMAddr, "53"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 65536)
	for _, c := range cases {
		if _, err := conn.Write(c.msg); err != nil {
			t.Errorf("DNS %s: send: %v", c.name, err)
			continue
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Logf("DNS/UDP %s (%d bytes): no reply", c.name, len(c.msg))
			continue
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			t.Errorf("DNS/UDP %s: the reply does not parse: %v (% x)", c.name, err, buf[:n])
			continue
		}
		t.Logf("DNS/UDP %s (%d bytes): reply %s, %d answers", c.name, len(c.msg), dns.RcodeToString[r.Rcode], len(r.Answer))
		if r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			t.Errorf("DNS/UDP %s: a NOERROR answer to a malformed query:\n%v", c.name, r)
		}
	}
	// TCP: lengths that lie, a message cut short, a loop; each on its
	// own connection, closed by us.
	tcpCases := []struct {
		name string
		data []byte
	}{
		{"zero length", []byte{0, 0}},
		{"one byte", []byte{0}},
		{"length 65535, 12 bytes sent", append([]byte{0xff, 0xff}, hdr(20, 0x0100, 1, 0, 0, 0)...)},
		{"length 5 with a header", append([]byte{0, 5}, hdr(21, 0x0100, 1, 0, 0, 0)...)},
		{"compression loop", func() []byte {
			m := append(hdr(22, 0x0100, 1, 0, 0, 0), append([]byte{0xc0, 12}, typeClass...)...)
			return append([]byte{byte(len(m) >> 8), byte(len(m))}, m...)
		}()},
	}
	for _, c := range tcpCases {
		var tc net.Conn
		if err := qemu.InNetns(lab.ClientNetns, func() (err error) {
			tc, err = net.DialTimeout("tcp4", net.JoinHostPort(qemu.LabVMAddr, "53"), 10*time.Second)
			return err
		}); err != nil {
			t.Errorf("DNS/TCP %s: connect: %v", c.name, err)
			continue
		}
		tc.Write(c.data)
		tc.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := tc.Read(buf)
		t.Logf("DNS/TCP %s: %d bytes back", c.name, n)
		tc.Close()
	}
}

// discMalformedDHCP broadcasts broken DHCP datagrams on the client
// namespace's eth0 and sends them to the box's address too.
func discMalformedDHCP(t *testing.T, lab *qemu.Lab) {
	t.Helper()
	mac, _ := net.ParseMAC("02:00:00:00:00:99")
	disc, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithRequestedOptions(dhcpv4.OptionNTPServers))
	if err != nil {
		t.Fatal(err)
	}
	good := disc.ToBytes()
	cookieless := slices.Clone(good)
	copy(cookieless[236:240], []byte{0, 0, 0, 0})
	withOpts := func(opts ...byte) []byte { return append(slices.Clone(good[:240]), opts...) }
	hlen := slices.Clone(good)
	hlen[2] = 255
	reply := slices.Clone(good)
	reply[0] = 2 // BOOTREPLY from a client
	// mayOffer: a request a lenient server may still answer (the
	// library clamps hlen; an overload into all-pad fields is empty).
	cases := []struct {
		name     string
		msg      []byte
		mayOffer bool
	}{
		{"empty", nil, false},
		{"one byte", []byte{1}, false},
		{"truncated at 100 bytes", good[:100], false},
		{"fixed header only, no cookie", good[:236], false},
		{"no magic cookie", cookieless, false},
		{"option 55 runs past the end", withOpts(53, 1, 1, 55, 200, 1, 3, 6), false},
		{"option 50 cut short", withOpts(53, 1, 3, 50, 4, 198, 18), false},
		{"option length byte missing", withOpts(53), false},
		{"no end option, padding only", withOpts(0, 0, 0, 0), false},
		{"no message type", withOpts(55, 1, 42, 255), false},
		{"message type 0", withOpts(53, 1, 0, 255), false},
		{"message type 250", withOpts(53, 1, 250, 255), false},
		{"message type length 0", withOpts(53, 0, 255), false},
		{"overload into empty file/sname", withOpts(53, 1, 1, 52, 1, 3, 255), true},
		{"hlen 255", hlen, true},
		{"BOOTREPLY", reply, false},
		{"1400 bytes of 0xff", bytes.Repeat([]byte{0xff}, 1400), false},
	}
	var pc net.PacketConn
	err = qemu.InNetns(lab.ClientNetns, func() error {
		lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1); serr != nil {
					return
				}
				if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); serr != nil {
					return
				}
				serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, "eth0")
			})
			if err != nil {
				return err
			}
			return serr
		}}
		var err error
		pc, err = lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:68")
		return err
	})
	if err != nil {
		t.Fatalf("DHCP client socket: %v", err)
	}
	defer pc.Close()
	dsts := []*net.UDPAddr{{IP: net.IPv4bcast, Port: 67}, {IP: net.ParseIP(qemu.LabVMAddr), Port: 67}}
	// Each case has its own transaction ID (where the datagram is long
	// enough to carry one): the box checks an address by ARP before it
	// offers it, so a reply may come during a later case.
	const xidBase = 0xd15c0000
	buf := make([]byte, 1500)
	replies := 0
	collect := func(wait time.Duration) {
		pc.SetReadDeadline(time.Now().Add(wait))
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			m, perr := dhcpv4.FromBytes(buf[:n])
			if perr != nil {
				t.Logf("DHCP: %d bytes from %v that do not parse: %v", n, from, perr)
				continue
			}
			x := binary.BigEndian.Uint32(m.TransactionID[:])
			i := int(x - xidBase)
			if x < xidBase || i >= len(cases) {
				t.Logf("DHCP: %s from %v for xid %#x (not ours), yiaddr %v", m.MessageType(), from, x, m.YourIPAddr)
				continue
			}
			replies++
			c := cases[i]
			t.Logf("DHCP %s: %s from %v, yiaddr %v", c.name, m.MessageType(), from, m.YourIPAddr)
			if mt := m.MessageType(); (mt == dhcpv4.MessageTypeOffer || mt == dhcpv4.MessageTypeAck) && !c.mayOffer {
				t.Errorf("DHCP %s: the box answered a malformed request with %s (yiaddr %v)", c.name, mt, m.YourIPAddr)
			}
		}
	}
	for i, c := range cases {
		msg := slices.Clone(c.msg)
		if len(msg) >= 8 {
			binary.BigEndian.PutUint32(msg[4:8], xidBase+uint32(i))
		}
		for _, dst := range dsts {
			if _, err := pc.WriteTo(msg, dst); err != nil {
				t.Errorf("DHCP %s to %v: %v", c.name, dst, err)
			}
		}
		t.Logf("DHCP %s (%d bytes): sent", c.name, len(msg))
		collect(time.Second)
	}
	collect(5 * time.Second)
	t.Logf("DHCP: %d replies to %d malformed datagrams (each sent twice)", replies, len(cases))
}

// discNTP asks the box for the time from the client namespace.
func discNTP(t *testing.T, lab *qemu.Lab, addr string) *ntpserver.QueryResult {
	t.Helper()
	var last error
	for i := 0; i < 10; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		r, err := ntpserver.Query(ctx, lab.DialClient, addr+":123", 4, time.Now)
		cancel()
		if err == nil {
			return r
		}
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no NTP reply from %s: %v", addr, last)
	return nil
}

// The box in QEMU as the DHCP server and DNS responder of a lab: busybox
// udhcpc and ISC dhclient get a lease with both advertised servers in
// option 42, dig finds one SRV record per advertised server over UDP and
// TCP, other names are refused. Malformed DHCP and DNS datagrams change
// none of that, and the box keeps serving NTP.
func TestDiscoveryServerModeInVM(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "busybox", "dhclient", "dig", "chronyd", "setpriv")
	lab := qemu.NewLabT(t)
	lab.UpstreamT(t, 2)
	waitUpstream(t, lab)
	discMust(t, "ip", "-n", lab.ClientNetns, "addr", "flush", "dev", "eth0")

	vm := qemu.StartT(t, qemu.Config{
		Kernel: img.Kernel, Initramfs: img.Initramfs, MemoryMiB: discMemMiB,
		Append: []string{
			discTimerCheck,
			"ntpbox.address=" + qemu.LabVMAddr + "/24",
			"ntpbox.server=" + qemu.LabHostAddr + ",iburst",
			"ntpbox.dhcp=server," + discRangeStart + "," + discRangeEnd + ",router," + discRouter,
			"ntpbox.dns=zone," + discZone,
			"ntpbox.advertise=" + qemu.LabVMAddr + "," + discPeerAddr,
		},
		Netns: lab.VMNetns, Tap: lab.Tap,
		QMP: filepath.Join(t.TempDir(), "qmp.sock"),
	})
	for _, want := range []string{appliance.SentinelServing, "mode=server", "zone=" + discZone} {
		l, err := discWaitLine(vm, want, bootTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%.1f s after QEMU started: %s", time.Since(vm.Started).Seconds(), l)
	}

	// udhcpc, on a client without an address.
	first, err := discUdhcpc(t, lab.ClientNetns, "")
	if err != nil {
		t.Fatal(err)
	}
	discCheckUdhcpcLease(t, first)

	dh, err := discDhclient(t, lab.ClientNetns)
	if err != nil {
		t.Error(err)
	} else {
		if err := discInRange(dh["new_ip_address"]); err != nil {
			t.Errorf("dhclient: %v", err)
		}
		for k, want := range map[string]string{"new_ntp_servers": discAdvertised, "new_domain_name": discZone,
			"new_routers": discRouter, "new_domain_name_servers": qemu.LabVMAddr} {
			if dh[k] != want {
				t.Errorf("dhclient: $%s = %q, want %q", k, dh[k], want)
			}
		}
	}

	// dig, the malformed traffic and NTP need an address: one outside
	// the range.
	discMust(t, "ip", "-n", lab.ClientNetns, "addr", "add", fmt.Sprintf("%s/%d", qemu.LabClientAddr, qemu.LabPrefixLen), "dev", "eth0")
	before := discCheckDNS(t, lab)
	r := discNTP(t, lab, qemu.LabVMAddr)
	t.Logf("NTP before the malformed traffic: stratum %d leap %v kiss %q offset %v", r.Header.Stratum, r.Header.Leap, r.KissCode, r.Offset)

	discMalformedDNS(t, lab)
	discMalformedDHCP(t, lab)

	// Everything answers as before.
	again, err := discUdhcpc(t, lab.ClientNetns, "")
	if err != nil {
		t.Fatalf("after the malformed traffic: %v", err)
	}
	if again.String() != first.String() {
		t.Errorf("udhcpc after the malformed traffic: %s\nbefore: %s", again, first)
	}
	after := discCheckDNS(t, lab)
	if after != before {
		t.Errorf("DNS answers after the malformed traffic:\n%s\nbefore:\n%s", after, before)
	}
	r = discNTP(t, lab, qemu.LabVMAddr)
	t.Logf("NTP after the malformed traffic: stratum %d leap %v kiss %q offset %v", r.Header.Stratum, r.Header.Leap, r.KissCode, r.Offset)
	if n := discConsoleCount(vm, appliance.SentinelServing); n != 1 {
		t.Errorf("the service started %d times: it died and was restarted", n)
	}
	for _, bad := range []string{"panic:", "goroutine "} {
		if n := discConsoleCount(vm, bad); n != 0 {
			t.Errorf("%d console lines with %q", n, bad)
		}
	}
	discPowerOff(t, vm)
}

// discLeaseFile is one line of the box's dhcp.leases.
type discLeaseFile struct {
	Client  string    `json:"client"`
	Addr    string    `json:"addr"`
	Expires time.Time `json:"expires"`
}

// discReadLeases reads dhcp.leases from the disk's FAT partition (the
// newest intact of its two copies).
func discReadLeases(t *testing.T, disk string) []discLeaseFile {
	t.Helper()
	b, err := (qemu.DiskFile{Disk: disk, Name: "dhcp.leases"}).ReadPersisted()
	if err != nil {
		t.Fatalf("lease file after power off: %v", err)
	}
	var out []discLeaseFile
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var l discLeaseFile
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("lease file line %q: %v", line, err)
		}
		out = append(out, l)
	}
	t.Logf("dhcp.leases on the partition:\n%s", b)
	return out
}

// discClientKeys are the forms a lease file names a client by: udhcpc
// sends its MAC as client identifier (type 1).
func discClientKeys(mac string) []string {
	return []string{"hw:" + mac, "id:01" + strings.ReplaceAll(mac, ":", "")}
}

// discFindLease returns the lease of the client with mac, if any.
func discFindLease(leases []discLeaseFile, mac string) (discLeaseFile, bool) {
	for _, l := range leases {
		if slices.Contains(discClientKeys(mac), strings.ToLower(l.Client)) {
			return l, true
		}
	}
	return discLeaseFile{}, false
}

func discSetMAC(t *testing.T, lab *qemu.Lab, mac string) {
	t.Helper()
	discMust(t, "ip", "-n", lab.ClientNetns, "link", "set", "eth0", "address", mac)
}

// The disk image with `dhcp server` in its ntpbox.conf keeps its leases
// in dhcp.leases on the FAT partition: after a clean power off the file
// holds client A's lease; booted again, the box gives another client a
// different address, refuses A's address to a new client that asks for
// it, and gives A its old address back without A asking for it.
func TestDiscoveryLeasesSurviveReboot(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "busybox", "mcopy", "mtype")
	requireDisk(t, img)
	disk := qemu.CopyT(t, img.Disk)
	files := map[string]string{
		"ntpbox.conf": "# written by TestDiscoveryLeasesSurviveReboot\n" +
			"local stratum 3\n" +
			"allow all\n" +
			"dhcp server " + discRangeStart + " " + discRangeEnd + " lease 1h\n" +
			"dns zone " + discZone + "\n",
		"cmdline.txt": "ntpbox.address=" + qemu.LabVMAddr + "/24\n",
	}
	for name, data := range files {
		if err := (qemu.DiskFile{Disk: disk, Name: name}).Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	lab := qemu.NewLabT(t)
	discMust(t, "ip", "-n", lab.ClientNetns, "addr", "flush", "dev", "eth0")
	const macA, macB, macC = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"

	boot := func(n int) *qemu.VM {
		vm := qemu.StartT(t, qemu.Config{
			Disk: disk, MemoryMiB: discMemMiB,
			Netns: lab.VMNetns, Tap: lab.Tap,
			QMP: filepath.Join(t.TempDir(), "qmp.sock"),
		})
		for _, want := range []string{"persistent partition mounted", "using the persistent config", appliance.SentinelServing, "leasefile=/perm/dhcp.leases"} {
			l, err := discWaitLine(vm, want, bootTimeout)
			if err != nil {
				t.Fatalf("boot %d: %v", n, err)
			}
			t.Logf("boot %d, %.1f s after QEMU started: %s", n, time.Since(vm.Started).Seconds(), l)
		}
		return vm
	}

	vm := boot(1)
	discSetMAC(t, lab, macA)
	la, err := discUdhcpc(t, lab.ClientNetns, "")
	if err != nil {
		t.Fatal(err)
	}
	ipA := la["ip"]
	if err := discInRange(ipA); err != nil {
		t.Fatal(err)
	}
	t.Logf("client A (%s) leased %s, lease %s s", macA, ipA, la["lease"])
	if la["lease"] != "3600" {
		t.Errorf("lease time %q s, want 3600 (lease 1h)", la["lease"])
	}
	discPowerOff(t, vm)

	leases := discReadLeases(t, disk)
	l, ok := discFindLease(leases, macA)
	if !ok {
		t.Fatalf("no lease for client A (%v) in the lease file: %+v", discClientKeys(macA), leases)
	}
	if l.Addr != ipA {
		t.Errorf("the lease file gives client A %s, it leased %s", l.Addr, ipA)
	}
	if left := time.Until(l.Expires); left < 30*time.Minute || left > 70*time.Minute {
		t.Errorf("client A's lease expires %v (in %v), want about an hour from its start", l.Expires, left.Round(time.Second))
	}

	vm = boot(2)
	discSetMAC(t, lab, macB)
	lb, err := discUdhcpc(t, lab.ClientNetns, "")
	if err != nil {
		t.Fatal(err)
	}
	ipB := lb["ip"]
	if err := discInRange(ipB); err != nil {
		t.Error(err)
	}
	if ipB == ipA {
		t.Errorf("client B (%s) leased %s, client A's address from before the reboot", macB, ipB)
	}
	t.Logf("after the reboot client B (%s) leased %s", macB, ipB)
	// A client the box has never seen asks for A's address: the box
	// must offer it another one, as A's binding survived the reboot.
	discSetMAC(t, lab, macC)
	lc, err := discUdhcpc(t, lab.ClientNetns, "", "-r", ipA)
	if err != nil {
		t.Fatal(err)
	}
	ipC := lc["ip"]
	if ipC == ipA || ipC == ipB {
		t.Errorf("client C (%s) asking for %s (client A's) got %s; A has %s, B %s", macC, ipA, ipC, ipA, ipB)
	}
	t.Logf("client C (%s) asking for A's %s got %s", macC, ipA, ipC)
	// B, which has a binding of its own, asking for A's address.
	discSetMAC(t, lab, macB)
	lb2, err := discUdhcpc(t, lab.ClientNetns, "", "-r", ipA)
	if err != nil {
		t.Fatal(err)
	}
	if lb2["ip"] == ipA {
		t.Errorf("client B asking for %s (client A's) got it", ipA)
	}
	t.Logf("client B asking for A's %s got %s", ipA, lb2["ip"])

	discSetMAC(t, lab, macA)
	la2, err := discUdhcpc(t, lab.ClientNetns, "")
	if err != nil {
		t.Fatal(err)
	}
	if la2["ip"] != ipA {
		t.Errorf("after the reboot client A (%s) leased %s, before %s", macA, la2["ip"], ipA)
	} else {
		t.Logf("after the reboot client A (%s) got its address %s back without asking for it", macA, ipA)
	}
	discPowerOff(t, vm)
	leases = discReadLeases(t, disk)
	for _, c := range []struct{ mac, ip string }{{macA, ipA}, {macB, lb2["ip"]}, {macC, ipC}} {
		if l, ok := discFindLease(leases, c.mac); !ok || l.Addr != c.ip {
			t.Errorf("lease file after the second boot: client %s has %+v (found %v), want %s", c.mac, l, ok, c.ip)
		}
	}
}

// discChronySource is one line of `chronyc -n sources`.
type discChronySource struct {
	State   string // "^*", "^+", "^-", "^?", "^x", "^~"
	Addr    string
	Stratum string
	Reach   uint8 // the reachability register (octal in chronyc's output)
}

// discChronyc runs chronyc against the client's chronyd.
func discChronyc(sock string, args ...string) (string, error) {
	return discRun(exec.Command("chronyc", append([]string{"-n", "-h", sock}, args...)...), 10*time.Second)
}

func discSources(sock string) (map[string]discChronySource, string, error) {
	out, err := discChronyc(sock, "sources")
	if err != nil {
		return nil, out, fmt.Errorf("chronyc sources: %v: %s", err, out)
	}
	m := map[string]discChronySource{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && len(f[0]) == 2 && f[0][0] == '^' {
			reach, _ := strconv.ParseUint(f[4], 8, 8)
			m[f[1]] = discChronySource{State: f[0], Addr: f[1], Stratum: f[2], Reach: uint8(reach)}
		}
	}
	return m, out, nil
}

// The seed's two-server design: two boxes on one segment, both
// synchronised to the lab's upstream, both advertised. A client learns
// both from box 1's DHCP (option 42), as a dispatcher hook would writes a
// chrony source for each, and synchronises to one. When that box is
// powered off, chronyd moves to the other one without ever losing
// synchronisation.
func TestFailoverTwoBoxes(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "busybox", "chronyd", "chronyc", "setpriv")
	lab := qemu.NewLabT(t)
	if err := lab.AddTap("tap1"); err != nil {
		t.Fatal(err)
	}
	lab.UpstreamT(t, 2)
	waitUpstream(t, lab)
	discMust(t, "ip", "-n", lab.ClientNetns, "addr", "flush", "dev", "eth0")

	// Each box polls the upstream with chrony's defaults (iburst,
	// minpoll 6), as a box in a closet does. Under TCG a guest's clock
	// wanders by tens to hundreds of ppm; a box serves its cooked time
	// with a bound that grows with its skew, so the client's chronyd
	// still finds the two boxes agreeing within their bounds.
	common := []string{
		"ntpbox.server=" + qemu.LabHostAddr + ",iburst",
		"ntpbox.advertise=" + qemu.LabVMAddr + "," + discPeerAddr,
	}
	boxes := map[string]*qemu.VM{}
	for i, b := range []struct{ addr, tap, mac string }{
		{qemu.LabVMAddr, lab.Tap, "52:54:00:12:34:01"},
		{discPeerAddr, "tap1", "52:54:00:12:34:02"},
	} {
		app := append([]string{discTimerCheck, "ntpbox.address=" + b.addr + "/24"}, common...)
		if i == 0 {
			app = append(app, "ntpbox.dhcp=server,"+discRangeStart+","+discRangeEnd)
		}
		// Box 2 keeps the baked `dhcp auto`: its search finds box 1
		// leasing, so it only answers INFORM (checked below).
		n := i + 1
		boxes[b.addr] = qemu.StartT(t, qemu.Config{
			Kernel: img.Kernel, Initramfs: img.Initramfs, MemoryMiB: 192,
			Append: app, Netns: lab.VMNetns, Tap: b.tap, MAC: b.mac,
			QMP: filepath.Join(t.TempDir(), "qmp.sock"),
			Console: func(at time.Duration, line string) {
				t.Logf("box%d %6.2fs| %s", n, at.Seconds(), line)
			},
		})
		// One boot at a time: two TCG boots side by side on a busy
		// machine are slow enough to trip the kernel's timer check.
		vm := boxes[b.addr]
		if _, err := discWaitLine(vm, appliance.SentinelServing, bootTimeout); err != nil {
			t.Fatalf("box %d (%s): %v", n, b.addr, err)
		}
		t.Logf("box %d (%s) serving %.1f s after its QEMU started", n, b.addr, time.Since(vm.Started).Seconds())
	}
	// dhcp auto on box 2 sees box 1 lease and never leases itself: the
	// segment has one DHCP server.
	if l, err := discWaitLine(boxes[discPeerAddr], "another DHCP server leases on this segment", time.Minute); err != nil {
		t.Fatalf("box 2 with dhcp auto beside box 1's dhcp server: %v", err)
	} else {
		t.Logf("box 2: %s", l)
	}
	// Whatever happens, sum up each box's synchronisation events: they
	// explain a slow fail-over.
	defer func() {
		for i, addr := range []string{qemu.LabVMAddr, discPeerAddr} {
			var ev []string
			for _, l := range boxes[addr].Lines() {
				for _, k := range []string{"msg=synchronised", "source stepped", "can't synchronise", "clock stepped", "powering off"} {
					if strings.Contains(l.Text, k) {
						ev = append(ev, fmt.Sprintf("%7.2fs %s", l.At.Seconds(), l.Text))
						break
					}
				}
			}
			t.Logf("box %d (%s) synchronisation events:\n%s", i+1, addr, strings.Join(ev, "\n"))
		}
	}()
	box1 := boxes[qemu.LabVMAddr]
	if _, err := discWaitLine(box1, "mode=server", bootTimeout); err != nil {
		t.Fatal(err)
	}

	// The client: udhcpc's hook takes the address and writes a chrony
	// source per option-42 server, as Debian's DHCP hooks do.
	// chronyd's command socket goes in a directory only root may enter
	// (t.TempDir is 0755).
	dir := filepath.Join(t.TempDir(), "chrony")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { // whatever the umask
		t.Fatal(err)
	}
	srcDir := filepath.Join(dir, "sources.d")
	if err := os.Mkdir(srcDir, 0o700); err != nil {
		t.Fatal(err)
	}
	hook := fmt.Sprintf(`ip addr add "$ip/${mask:-24}" dev "$interface" || exit 1
: > %[1]s/dhcp.sources
for s in $ntpsrv; do echo "server $s iburst minpoll 0 maxpoll 1" >> %[1]s/dhcp.sources; done`, srcDir)
	lease, err := discUdhcpc(t, lab.ClientNetns, hook)
	if err != nil {
		t.Fatal(err)
	}
	if lease["ntpsrv"] != discAdvertised {
		t.Fatalf("option 42 from box 1: %q, want %q", lease["ntpsrv"], discAdvertised)
	}
	srcs, _ := os.ReadFile(filepath.Join(srcDir, "dhcp.sources"))
	t.Logf("client %s; chrony sources from option 42:\n%s", lease["ip"], srcs)

	sock := filepath.Join(dir, "chronyd.sock")
	conf := filepath.Join(dir, "chrony.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("sourcedir %s\ncmdport 0\nbindcmdaddress %s\npidfile %s\n",
		srcDir, sock, filepath.Join(dir, "chronyd.pid"))), 0o644); err != nil {
		t.Fatal(err)
	}
	chronyd := lab.Client("setpriv", "--bounding-set", "-sys_time", "--", "chronyd", "-x", "-d", "-u", "root", "-f", conf)
	lw := qemu.NewLogWriter(t, "client chronyd| ")
	chronyd.Stdout, chronyd.Stderr = lw, lw
	if err := chronyd.Start(); err != nil {
		t.Fatalf("client chronyd: %v", err)
	}
	chronydDone := make(chan struct{})
	go func() { chronyd.Wait(); close(chronydDone) }()
	t.Cleanup(func() {
		chronyd.Process.Kill()
		<-chronydDone
	})

	// Both boxes synchronised to the upstream (stratum 3), one selected,
	// the other ^+ or ^-, and both answering the last three polls
	// synchronised (a box that stops being synchronised drops out of
	// the reachability register), for stableFor polls in a row: the
	// fail-over starts from a steady state.
	const stableFor = 5
	var selected, other string
	start := time.Now()
	var last string
	failures, stable := 0, 0
	for {
		m, out, err := discSources(sock)
		last = out
		sel, oth := "", ""
		if err != nil {
			if failures++; failures > 30 {
				t.Fatalf("chronyc cannot reach the client's chronyd: %v", err)
			}
		} else {
			failures = 0
			a, b := m[qemu.LabVMAddr], m[discPeerAddr]
			ok := func(s discChronySource, states ...string) bool {
				return slices.Contains(states, s.State) && s.Stratum == "3" && s.Reach&7 == 7
			}
			switch {
			case ok(a, "^*") && ok(b, "^+", "^-"):
				sel, oth = a.Addr, b.Addr
			case ok(b, "^*") && ok(a, "^+", "^-"):
				sel, oth = b.Addr, a.Addr
			}
		}
		if sel != "" && sel == selected {
			stable++
		} else {
			selected, other, stable = sel, oth, 0
			if sel != "" {
				stable = 1
			}
		}
		if stable >= stableFor {
			break
		}
		if time.Since(start) > 4*time.Minute {
			t.Fatalf("the client did not select one box at stratum 3 with the other as ^+/^-, both reachable, for %d polls in a row within 4 min:\n%s%v", stableFor, last, err)
		}
		select {
		case <-chronydDone:
			t.Fatal("client chronyd exited")
		case <-time.After(time.Second):
		}
	}
	t.Logf("%.1f s after chronyd started: selected %s, other %s\n%s", time.Since(start).Seconds(), selected, other, last)
	if tr, err := discChronyc(sock, "tracking"); err != nil || !strings.Contains(tr, "Leap status     : Normal") {
		t.Fatalf("chronyc tracking: %v\n%s", err, tr)
	}

	// Watch tracking every second from now on.
	type sample struct {
		at  time.Time
		out string
	}
	var (
		mu       sync.Mutex
		unsynced []sample
		polls    int
	)
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			out, err := discChronyc(sock, "tracking")
			mu.Lock()
			polls++
			if err != nil || !strings.Contains(out, "Leap status     : Normal") {
				unsynced = append(unsynced, sample{time.Now(), fmt.Sprintf("%v\n%s", err, out)})
			}
			mu.Unlock()
			select {
			case <-stopWatch:
				return
			case <-tick.C:
			}
		}
	}()
	stopWatching := func() {
		select {
		case <-stopWatch:
		default:
			close(stopWatch)
		}
		<-watchDone
	}
	defer stopWatching()

	// How far each box is from the host's clock (the upstream's), as
	// the client sees it, just before the fail-over.
	for _, addr := range []string{selected, other} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		r, err := ntpserver.Query(ctx, lab.DialClient, addr+":123", 4, time.Now)
		cancel()
		if err != nil {
			t.Logf("box %s before the fail-over: %v", addr, err)
			continue
		}
		t.Logf("box %s before the fail-over: stratum %d leap %v offset to the host %v root dispersion %v",
			addr, r.Header.Stratum, r.Header.Leap, r.Offset.Round(time.Microsecond), r.Header.RootDispersion.Duration().Round(time.Microsecond))
	}

	gone := boxes[selected]
	pressed := time.Now()
	if err := gone.Powerdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := discWaitLine(gone, appliance.SentinelPowerOff, stopTimeout); err != nil {
		t.Fatal(err)
	}
	if err := gone.Wait(stopTimeout); err != nil {
		t.Fatalf("QEMU of %s after power off: %v", selected, err)
	}
	exited := time.Now()
	t.Logf("box %s powered off: QEMU exited %.1f s after the power button", selected, exited.Sub(pressed).Seconds())

	var switched time.Time
	for {
		m, out, err := discSources(sock)
		last = out
		if err == nil && m[other].State == "^*" {
			switched = time.Now()
			break
		}
		if time.Since(exited) > 90*time.Second {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	// A little longer, to see that the client stays synchronised.
	if !switched.IsZero() {
		time.Sleep(5 * time.Second)
	}
	stopWatching()
	if switched.IsZero() {
		t.Fatalf("the client did not select %s within 90 s of %s's QEMU exiting:\n%s", other, selected, last)
	}
	took, sinceExit := switched.Sub(pressed), switched.Sub(exited)
	t.Logf("fail-over: the client selected %s %.1f s after %s's power button (%.1f s after its QEMU exited)\n%s",
		other, took.Seconds(), selected, sinceExit.Seconds(), last)
	if sinceExit > 60*time.Second {
		t.Errorf("fail-over took %.1f s after the box was gone, want at most 60 s", sinceExit.Seconds())
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("chronyc tracking polled %d times during the fail-over", polls)
	if polls < int(time.Since(pressed)/time.Second)/2 {
		t.Errorf("only %d tracking polls in %v", polls, time.Since(pressed).Round(time.Second))
	}
	for _, s := range unsynced {
		t.Errorf("%.1f s after the power button the client was not synchronised:\n%s", s.at.Sub(pressed).Seconds(), s.out)
	}
	// chronyd keeps its leap status through a spell without a selectable
	// source (holdover): note one if it came.
	for _, l := range lw.Lines() {
		if strings.Contains(l, "Can't synchronise") {
			t.Logf("the client's chronyd had no selectable source for a while: %s", l)
		}
	}
	tr, _ := discChronyc(sock, "tracking")
	t.Logf("chronyc tracking after the fail-over:\n%s", tr)
	if !strings.Contains(tr, "Reference ID    : ") || !strings.Contains(tr, "("+other+")") {
		t.Errorf("the client's reference is not %s:\n%s", other, tr)
	}
	discPowerOff(t, boxes[other])
}
