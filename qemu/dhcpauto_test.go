//go:build linux

package qemu_test

// `dhcp auto` (the appliance's default) against a real DHCP server,
// dnsmasq, on the lab segment, and real clients: busybox udhcpc, ISC
// dhclient and dhcpcd (which sends DHCPINFORM).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/qemu"
)

// autoDnsmasqAddr is where the lab's "existing" DHCP server runs; it leases
// 198.18.0.150-160.
const autoDnsmasqAddr = "198.18.0.4"

// autoDnsmasq runs dnsmasq as the LAN's DHCP server in namespace ns,
// leasing 198.18.0.150-160 for 10 minutes, with extra options; it is
// stopped at cleanup or by the returned func.
func autoDnsmasq(t *testing.T, ns string, extra ...string) (stop func()) {
	return runDnsmasq(t, ns, "198.18.0.150,198.18.0.160,255.255.255.0,10m", extra...).Stop
}

// dnsmasqProc is a running dnsmasq.
type dnsmasqProc struct {
	Stop func()
	out  *qemu.LogWriter
}

// Saw waits up to timeout for a line of dnsmasq's log that has s.
func (d *dnsmasqProc) Saw(s string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		for _, l := range d.out.Lines() {
			if strings.Contains(l, s) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runDnsmasq runs dnsmasq as a DHCP server (no DNS) in namespace ns on
// its eth0, for dhcpRange (dnsmasq's --dhcp-range), with extra options,
// until cleanup or Stop.
func runDnsmasq(t *testing.T, ns, dhcpRange string, extra ...string) *dnsmasqProc {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"--no-daemon", "--conf-file=/dev/null", "--port=0", "--user=root", "--group=root",
		"--interface=eth0", "--bind-interfaces", "--dhcp-authoritative", "--log-dhcp",
		"--dhcp-range=" + dhcpRange,
		"--dhcp-leasefile=" + filepath.Join(dir, "leases"), "--pid-file=" + filepath.Join(dir, "pid")}, extra...)
	cmd := qemu.In(ns, "dnsmasq", args...)
	out := qemu.NewLogWriter(t, "dnsmasq| ")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dnsmasq: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Kill()
		<-done
	}
	t.Cleanup(stop)
	return &dnsmasqProc{Stop: stop, out: out}
}

// autoLease is what busybox udhcpc's script saw.
type autoLease struct{ IP, ServerID, NTP string }

// autoUdhcpc runs udhcpc once in ns on eth0 with the given MAC; it does
// not configure the address. ok is false when no server leased one.
func autoUdhcpc(t *testing.T, ns, mac string) (l autoLease, ok bool) {
	t.Helper()
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "eth0", "address", mac).CombinedOutput(); err != nil {
		t.Fatalf("set MAC: %v: %s", err, out)
	}
	dir := t.TempDir()
	rec := filepath.Join(dir, "lease")
	script := filepath.Join(dir, "script")
	os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\n[ \"$1\" = bound ] && echo \"$ip|$serverid|$ntpsrv\" > %s\nexit 0\n", rec)), 0o755)
	out, err := qemu.In(ns, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "4", "-T", "2", "-s", script).CombinedOutput()
	b, rerr := os.ReadFile(rec)
	if err != nil || rerr != nil {
		t.Logf("udhcpc (%s): no lease: %v\n%s", mac, err, out)
		return l, false
	}
	f := strings.Split(strings.TrimSpace(string(b)), "|")
	if len(f) != 3 {
		t.Fatalf("udhcpc script saw %q", b)
	}
	l = autoLease{f[0], f[1], f[2]}
	t.Logf("udhcpc (%s): %+v", mac, l)
	return l, true
}

// bootAuto makes a lab whose client namespace has no address, with a
// namespace "dhcp" at autoDnsmasqAddr for dnsmasq.
func bootAuto(t *testing.T) (*qemu.Lab, string) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "dnsmasq", "busybox", "dhclient", "dhcpcd")
	lab := qemu.NewLabT(t)
	if out, err := exec.Command("ip", "-n", lab.ClientNetns, "addr", "flush", "dev", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("flush the client's address: %v: %s", err, out)
	}
	dhcpNS, err := lab.AddNetns("dhcp", autoDnsmasqAddr+"/24")
	if err != nil {
		t.Fatal(err)
	}
	return lab, dhcpNS
}

// autoStartBox boots the box with the baked config (address dhcp, dhcp
// auto) and the given kernel parameters.
func autoStartBox(t *testing.T, lab *qemu.Lab, params ...string) *qemu.VM {
	img := qemu.FindImage()
	return qemu.StartT(t, qemu.Config{
		Kernel: img.Kernel, Initramfs: img.Initramfs, MemoryMiB: 256,
		Append: append([]string{"ntpbox.local=stratum," + fmt.Sprint(wantStratum)}, params...),
		Netns:  lab.VMNetns, Tap: lab.Tap,
	})
}

// With a static address and no other DHCP server on the segment, `dhcp
// auto` leases addresses (from the subnet's upper half) with option 42;
// when a DHCP server appears, it stops leasing and every client gets its
// lease from that server.
func TestDHCPAutoLeasesAloneThenYields(t *testing.T) {
	lab, dhcpNS := bootAuto(t)
	vm := autoStartBox(t, lab, "ntpbox.address="+qemu.LabVMAddr+"/24")
	if _, err := vm.Expect("no other DHCP server answered: leasing addresses", bootTimeout); err != nil {
		t.Fatal(err)
	}
	l, ok := autoUdhcpc(t, lab.ClientNetns, "02:00:00:00:01:01")
	if !ok || l.ServerID != qemu.LabVMAddr || l.NTP != qemu.LabVMAddr || !regexp.MustCompile(`^198\.18\.0\.(1[3-9][0-9]|12[89]|2[0-5][0-9])$`).MatchString(l.IP) {
		t.Fatalf("alone on the segment: lease %+v (ok %v); want one from %s in 198.18.0.128-254 with option 42 = %s", l, ok, qemu.LabVMAddr, qemu.LabVMAddr)
	}

	appeared := time.Now()
	autoDnsmasq(t, dhcpNS)
	line, err := vm.Expect("another DHCP server appeared on the segment: stopped leasing", 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the box stopped leasing %.1f s after dnsmasq started: %s", time.Since(appeared).Seconds(), line.Text)
	for i, mac := range []string{"02:00:00:00:01:02", "02:00:00:00:01:03", "02:00:00:00:01:04"} {
		l, ok := autoUdhcpc(t, lab.ClientNetns, mac)
		if !ok || l.ServerID != autoDnsmasqAddr {
			t.Errorf("client %d after dnsmasq appeared: lease %+v (ok %v); want it from %s only", i, l, ok, autoDnsmasqAddr)
		}
	}
}

// A box whose own address came from the LAN's DHCP server (dnsmasq) only
// answers DHCPINFORM and logs the dnsmasq line; pasted into dnsmasq, it
// gives udhcpc and dhclient option 42; dhcpcd's INFORM is answered by
// the box itself; and the box never leases, even with dnsmasq gone.
func TestDHCPAutoLeasedBoxInforms(t *testing.T) {
	lab, dhcpNS := bootAuto(t)
	const boxMAC, boxAddr = "52:54:00:12:34:56", "198.18.0.150"
	stop := autoDnsmasq(t, dhcpNS, "--dhcp-host="+boxMAC+","+boxAddr)
	vm := autoStartBox(t, lab) // no address: the baked `address dhcp`
	if _, err := vm.Expect("this box's address came from a DHCP server, so ntpbox only answers DHCPINFORM", bootTimeout); err != nil {
		t.Fatal(err)
	}
	snip, err := vm.Expect(`line="dhcp-option=option:ntp-server,`, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`line="(dhcp-option=option:ntp-server,[0-9.,]+)"`).FindStringSubmatch(snip.Text)
	if m == nil || m[1] != "dhcp-option=option:ntp-server,"+boxAddr {
		t.Fatalf("snippet line %q; want dhcp-option=option:ntp-server,%s", snip.Text, boxAddr)
	}
	if _, err := vm.Expect(`reason="the box's own address was leased by a DHCP server, which owns the LAN's leases" mode=inform`, time.Minute); err != nil {
		t.Fatal(err)
	}

	// The admin pastes the logged line into dnsmasq's config.
	stop()
	stop = autoDnsmasq(t, dhcpNS, "--dhcp-host="+boxMAC+","+boxAddr, "--"+m[1])
	l, ok := autoUdhcpc(t, lab.ClientNetns, "02:00:00:00:02:01")
	if !ok || l.ServerID != autoDnsmasqAddr || l.NTP != boxAddr {
		t.Fatalf("udhcpc: lease %+v (ok %v); want it from %s with option 42 = %s", l, ok, autoDnsmasqAddr, boxAddr)
	}
	if got := autoDhclientNTP(t, lab.ClientNetns); got != boxAddr {
		t.Errorf("dhclient: new_ntp_servers %q, want %s", got, boxAddr)
	}

	// dnsmasq down: the box answers dhcpcd's INFORM with option 42, and
	// leases nothing.
	stop()
	if out, err := exec.Command("ip", "-n", lab.ClientNetns, "addr", "add", l.IP+"/24", "dev", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	vars := autoDhcpcdInform(t, lab.ClientNetns, l.IP+"/24")
	if vars["new_ntp_servers"] != boxAddr || vars["new_dhcp_server_identifier"] != boxAddr {
		t.Errorf("dhcpcd --inform: ntp_servers %q from %q; want %s from the box", vars["new_ntp_servers"], vars["new_dhcp_server_identifier"], boxAddr)
	}
	exec.Command("ip", "-n", lab.ClientNetns, "addr", "flush", "dev", "eth0").Run()
	if l, ok := autoUdhcpc(t, lab.ClientNetns, "02:00:00:00:02:02"); ok {
		t.Errorf("with dnsmasq down, a client got a lease %+v: the box leased", l)
	}
}

// autoDhclientNTP runs ISC dhclient once in ns and returns $new_ntp_servers.
func autoDhclientNTP(t *testing.T, ns string) string {
	t.Helper()
	dir := t.TempDir()
	rec := filepath.Join(dir, "ntp")
	script := filepath.Join(dir, "script")
	os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\ncase \"$reason\" in BOUND|RENEW|REBOOT) echo \"$new_ntp_servers\" > %s;; esac\nexit 0\n", rec)), 0o755)
	conf := filepath.Join(dir, "dhclient.conf")
	os.WriteFile(conf, []byte("request subnet-mask, routers, domain-name-servers, domain-name, ntp-servers;\n"), 0o644)
	lf, pf := filepath.Join(dir, "leases"), filepath.Join(dir, "pid")
	out, err := qemu.In(ns, "timeout", "60", "dhclient", "-4", "-1", "-d", "-cf", conf, "-sf", script, "-lf", lf, "-pf", pf, "eth0").CombinedOutput()
	// -d keeps it in the foreground; it exits after binding with -1 only
	// when it fails, so stop it once the script ran.
	_ = out
	_ = err
	qemu.In(ns, "dhclient", "-x", "-pf", pf).Run()
	b, rerr := os.ReadFile(rec)
	if rerr != nil {
		t.Fatalf("dhclient got no lease: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(b))
}

// autoDhcpcdInform sends a DHCPINFORM for addr (ADDR/LEN, configured on eth0)
// with dhcpcd in test mode and returns the variables it printed.
func autoDhcpcdInform(t *testing.T, ns, addr string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "dhcpcd.conf")
	os.WriteFile(conf, []byte("option ntp_servers\nnoipv6rs\nipv4only\n"), 0o644)
	out, err := qemu.In(ns, "timeout", "60", "dhcpcd", "-f", conf, "-4", "-T", "-t", "30", "-s", addr, "eth0").CombinedOutput()
	t.Logf("dhcpcd -T --inform %s: %v\n%s", addr, err, out)
	vars := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			vars[k] = strings.Trim(v, "'")
		}
	}
	return vars
}
