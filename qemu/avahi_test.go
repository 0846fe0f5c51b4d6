//go:build linux

package qemu_test

// Found by name with the real avahi (issue 12, item 4): avahi-daemon on
// the LAN, on a private D-Bus system bus, resolves ntpbox-XXXXXX.local to
// the box's lease and browses its _ntp._udp and _http._tcp services.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/qemu"
)

// avahiBusConf is a D-Bus system bus of the test's own, on a socket in
// its temporary directory: root may own any name, everyone may talk to
// everyone, and avahi's own policy is included as it ships.
const avahiBusConf = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <include ignore_missing="yes">/usr/share/dbus-1/system.d/avahi-dbus.conf</include>
  <include ignore_missing="yes">/etc/dbus-1/system.d/avahi-dbus.conf</include>
</busconfig>
`

// avahiDaemonConf: IPv4 on the namespace's eth0 only, no publishing
// (the LAN's querier only asks), no wide-area DNS-SD.
const avahiDaemonConf = `[server]
host-name=avahi-lan
use-ipv4=yes
use-ipv6=no
allow-interfaces=eth0
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
disable-publishing=yes
disable-user-service-publishing=yes
publish-addresses=no
publish-hinfo=no
publish-workstation=no
[reflector]
enable-reflector=no
`

// avahiLAN runs dbus-daemon and avahi-daemon in namespace ns until the
// test ends, and returns the environment for avahi-browse and
// avahi-resolve there. avahi-daemon keeps its pid file and socket in
// /run/avahi-daemon, compiled in: it runs in a mount namespace of its own
// with a tmpfs on /run, so nothing of it lands on the host.
func avahiLAN(t *testing.T, ns string) []string {
	t.Helper()
	return avahiLANConf(t, ns, avahiDaemonConf)
}

// avahiLANConf is avahiLAN with avahi-daemon.conf's text.
func avahiLANConf(t *testing.T, ns, conf string) []string {
	t.Helper()
	dir := t.TempDir()
	bus := filepath.Join(dir, "bus")
	busConf, daemonConf := filepath.Join(dir, "system.conf"), filepath.Join(dir, "avahi-daemon.conf")
	if err := os.WriteFile(busConf, fmt.Appendf(nil, avahiBusConf, bus), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(daemonConf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS=unix:path="+bus)

	dbus := avahiStart(t, "dbus| ", qemu.In(ns, "dbus-daemon", "--config-file="+busConf, "--nofork", "--print-address"), nil)
	if !avahiSaw(dbus, "unix:path="+bus, 10*time.Second) {
		t.Fatal("dbus-daemon did not print its address")
	}
	avahi := avahiStart(t, "avahi| ", qemu.In(ns, "unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs tmpfs /run && exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f "$0"`, daemonConf), env)
	if !avahiSaw(avahi, "Server startup complete", 20*time.Second) {
		t.Fatal("avahi-daemon did not start")
	}
	return env
}

// avahiStart starts cmd with env (nil: the test's), its output logged,
// and stops it (SIGTERM, then SIGKILL) at cleanup.
func avahiStart(t *testing.T, prefix string, c *exec.Cmd, env []string) *qemu.LogWriter {
	t.Helper()
	out := qemu.NewLogWriter(t, prefix)
	c.Stdout, c.Stderr, c.Env = out, out, env
	if err := c.Start(); err != nil {
		t.Fatalf("start %s: %v", c.Path, err)
	}
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	t.Cleanup(func() {
		c.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			c.Process.Kill()
			<-done
		}
	})
	return out
}

// avahiSaw waits up to timeout for a line of out that has s.
func avahiSaw(out *qemu.LogWriter, s string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, l := range out.Lines() {
			if strings.Contains(l, s) {
				return true
			}
		}
	}
	return false
}

// avahiBrowse runs avahi-browse -rtp TYPE in ns and returns its resolved
// lines (=;IFACE;PROTO;NAME;TYPE;DOMAIN;HOST;ADDRESS;PORT;TXT) for name.
func avahiBrowse(t *testing.T, ns string, env []string, typ, name string) ([][]string, string) {
	t.Helper()
	cmd := qemu.In(ns, "avahi-browse", "-rtp", typ)
	cmd.Env = env
	out, err := discRun(cmd, discClientTimeout)
	if err != nil {
		t.Errorf("avahi-browse -rtp %s: %v\n%s", typ, err, out)
	}
	var found [][]string
	for _, l := range strings.Split(out, "\n") {
		f := strings.SplitN(l, ";", 10)
		if len(f) >= 9 && f[0] == "=" && f[3] == name {
			found = append(found, f)
		}
	}
	return found, out
}

// TestAvahiInVM: the box with its defaults (address dhcp, mdns on, http
// lan) takes a lease from dnsmasq; avahi-daemon on the LAN finds it.
func TestAvahiInVM(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "dnsmasq", "mcopy", "dbus-daemon", "avahi-daemon", "avahi-browse", "avahi-resolve", "unshare")
	lab := qemu.NewLabT(t)
	dhcpNS, err := lab.AddNetns("dhcp", autoDnsmasqAddr+"/24")
	if err != nil {
		t.Fatal(err)
	}
	const lease = "198.18.0.150"
	closetDnsmasq(t, dhcpNS, lease, "10m")
	env := avahiLAN(t, lab.ClientNetns)

	vm := closetBox(t, lab, closetDisk(t, map[string]string{"ntpbox.conf": "local stratum 10\n"}))
	name := "ntpbox-" + strings.ReplaceAll(closetMAC[9:], ":", "")
	if _, err := discWaitLine(vm, `msg="mdns: announcing" component=mdns name=`+name+`.local.`, bootTimeout); err != nil {
		t.Fatal(err)
	}

	// A second avahi-daemon, started after the box's announcements, finds
	// it by asking: the box's answers, not its announcements.
	lateNS, err := lab.AddNetns("late", "198.18.0.11/24")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the second announcement is out (§8.3)
	// This one also speaks IPv6, as a desktop's avahi does: the box is
	// IPv4 only, and plain avahi-resolve -n still gets its address.
	lateEnv := avahiLANConf(t, lateNS, strings.Replace(avahiDaemonConf, "use-ipv6=no", "use-ipv6=yes", 1))
	for _, l := range []struct {
		what, ns string
		env      []string
	}{
		{"avahi-daemon started before the box", lab.ClientNetns, env},
		{"avahi-daemon started after the box's announcements", lateNS, lateEnv},
	} {
		t.Run(l.what, func(t *testing.T) { avahiFinds(t, l.ns, l.env, name, lease) })
	}

	// At power-off the box says goodbye (TTL 0): avahi drops the records
	// a second later (RFC 6762 §10.1) instead of keeping them for their
	// TTL (4500 s for the PTRs, 120 s for the rest).
	powerOff(t, vm)
	for _, typ := range []string{"_ntp._udp", "_http._tcp"} {
		var found [][]string
		var out string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			if found, out = avahiBrowse(t, lab.ClientNetns, env, typ, name); len(found) == 0 {
				break
			}
		}
		if len(found) != 0 {
			t.Errorf("10 s after power-off, avahi-browse -rtp %s still lists the box:\n%s", typ, out)
		}
	}
}

// avahiFinds checks that avahi in ns resolves name.local to addr and
// browses its _ntp._udp (port 123) and _http._tcp (port 80, path=/).
func avahiFinds(t *testing.T, ns string, env []string, name, lease string) {
	resolve := qemu.In(ns, "avahi-resolve", "-4", "-n", name+".local")
	resolve.Env = env
	out, err := discRun(resolve, discClientTimeout)
	if err != nil || strings.Join(strings.Fields(out), " ") != name+".local "+lease {
		t.Errorf("avahi-resolve -4 -n %s.local: %v\n%s", name, err, out)
	}
	t.Logf("avahi-resolve -4 -n %s.local: %s", name, strings.TrimSpace(out))
	resolve = qemu.In(ns, "avahi-resolve", "-n", name+".local")
	resolve.Env = env
	if out, err := discRun(resolve, discClientTimeout); err != nil || strings.Join(strings.Fields(out), " ") != name+".local "+lease {
		t.Errorf("avahi-resolve -n %s.local: %v\n%s", name, err, out)
	}

	for _, c := range []struct{ typ, port, txt string }{
		{"_ntp._udp", "123", ""},
		{"_http._tcp", "80", `"path=/"`},
	} {
		found, out := avahiBrowse(t, ns, env, c.typ, name)
		t.Logf("avahi-browse -rtp %s:\n%s", c.typ, out)
		if len(found) != 1 {
			t.Errorf("avahi-browse -rtp %s: %d resolved entries for %s, want 1", c.typ, len(found), name)
			continue
		}
		f := found[0]
		if f[1] != "eth0" || f[2] != "IPv4" || f[4] == "" || f[6] != name+".local" || f[7] != lease || f[8] != c.port || (len(f) > 9 && f[9] != c.txt) {
			t.Errorf("avahi-browse -rtp %s: %q, want %s.local at %s port %s, TXT %s", c.typ, strings.Join(f, ";"), name, lease, c.port, c.txt)
		}
	}

}

// TestAvahiConflictInVM: a host on the LAN (avahi-daemon, publishing)
// already has the box's name, ntpbox-123456.local. The box's probes find
// it (RFC 6762 §8.1), the box takes ntpbox-123456-2 (§9), and avahi
// finds the box and its services under that name.
func TestAvahiConflictInVM(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "mcopy", "dbus-daemon", "avahi-daemon", "avahi-browse", "avahi-resolve", "unshare")
	lab := qemu.NewLabT(t)
	conf := strings.NewReplacer("host-name=avahi-lan", "host-name=ntpbox-123456",
		"disable-publishing=yes", "disable-publishing=no", "publish-addresses=no", "publish-addresses=yes").Replace(avahiDaemonConf)
	env := avahiLANConf(t, lab.ClientNetns, conf)

	vm := closetBox(t, lab, closetDisk(t, map[string]string{"ntpbox.conf": "address " + qemu.LabVMAddr + "/24\nlocal stratum 10\n"}))
	if _, err := discWaitLine(vm, `msg="mdns: name taken by another host on the LAN, taking the next" component=mdns taken=ntpbox-123456.local. name=ntpbox-123456-2.local.`, bootTimeout); err != nil {
		t.Fatal(err)
	}
	if _, err := discWaitLine(vm, `msg="mdns: announcing" component=mdns name=ntpbox-123456-2.local.`, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// The LAN host keeps its name and address.
	resolve := qemu.In(lab.ClientNetns, "avahi-resolve", "-4", "-n", "ntpbox-123456.local")
	resolve.Env = env
	if out, err := discRun(resolve, discClientTimeout); err != nil || strings.Join(strings.Fields(out), " ") != "ntpbox-123456.local "+qemu.LabClientAddr {
		t.Errorf("avahi-resolve -4 -n ntpbox-123456.local: %v\n%s", err, out)
	}
	avahiFinds(t, lab.ClientNetns, env, "ntpbox-123456-2", qemu.LabVMAddr)
	powerOff(t, vm)
}
