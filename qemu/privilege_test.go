//go:build linux

package qemu_test

// Least privilege on the appliance (issue 11): NTP, DHCP and DNS each run
// as their own process and user, with only their capabilities, no new
// privileges and a seccomp filter; a crash of one leaves the other two
// answering. The disk image boots through SeaBIOS, as people boot it.

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/qemu"
)

// privConf is the box of these tests: all three services on the lab.
var privConf = "address " + qemu.LabVMAddr + "/24\nserver " + qemu.LabHostAddr + " iburst\nallow all\n" +
	"dhcp server " + discRangeStart + " " + discRangeEnd + "\ndns zone " + discZone + "\n"

// privBoot boots the disk image with privConf and cmdline (hooks) in a
// lab with an upstream, and waits until all three services are confined.
func privBoot(t *testing.T, cmdline string) (*qemu.Lab, *qemu.VM, string) {
	t.Helper()
	img := qemu.FindImage()
	qemu.RequireT(t, img, "chronyd", "setpriv", "busybox", "dig", "mcopy")
	lab := qemu.NewLabT(t)
	lab.UpstreamT(t, 2)
	waitUpstream(t, lab)
	disk := closetDisk(t, map[string]string{"ntpbox.conf": privConf, "cmdline.txt": cmdline + "\n"})
	vm := closetBox(t, lab, disk)
	for _, svc := range appliance.ServiceSpecs {
		if _, err := discWaitLine(vm, "service confined\" component=init service="+svc.Name, bootTimeout); err != nil {
			t.Fatal(err)
		}
	}
	// DNS and web start once NTP listens: wait for them to listen too.
	for _, s := range []string{"msg=dns ", webListening} {
		if _, err := discWaitLine(vm, s, bootTimeout); err != nil {
			t.Fatal(err)
		}
	}
	waitAnswers(t, lab, qemu.LabVMAddr, 0, bootTimeout)
	return lab, vm, disk
}

// privAnswers checks that each named service answers now: NTP a query,
// DHCP a DISCOVER (busybox udhcpc), DNS an SRV query over UDP.
func privAnswers(t *testing.T, lab *qemu.Lab, why string, services ...string) {
	t.Helper()
	for _, svc := range services {
		var err error
		switch svc {
		case "ntp":
			_, err = query(lab, qemu.LabVMAddr)
		case "dhcp":
			var l discUdhcpcLease
			if l, err = discUdhcpc(t, lab.ClientNetns, ""); err == nil {
				err = discInRange(l["ip"])
			}
		case "web":
			// The status page's service: /metrics from the LAN.
			var out []byte
			out, err = lab.Client("curl", "-sS", "-f", "--max-time", "10", "http://"+qemu.LabVMAddr+"/metrics").Output()
			// chrony_up is 0 while the NTP service is down.
			if err == nil && (!strings.Contains(string(out), "chrony_up ") || !strings.Contains(string(out), "ntpbox_build_info{")) {
				err = fmt.Errorf("/metrics lacks chrony_up or ntpbox_build_info")
			}
		case "dns":
			var d discDigAnswer
			if d, err = discDig(lab, "+notcp", "_ntp._udp."+discZone, "SRV"); err == nil && len(d.SRV) == 0 {
				err = fmt.Errorf("no SRV record: %s", d.key())
			}
		}
		if err != nil {
			t.Errorf("%s: %s does not answer: %v", why, svc, err)
		}
	}
}

// serviceEnded counts the console lines saying that service svc ended.
func serviceEnded(vm *qemu.VM, svc string) int {
	return discConsoleCount(vm, `msg="service ended" component=init service=`+svc+` `)
}

// Privilege: /proc/PID/status of each service (read by init and logged)
// shows its own non-zero UID, the CapEff of its capabilities,
// NoNewPrivs 1 and Seccomp 2. Then each service in turn makes a
// forbidden system call (ntpbox.testsyscall): the filter kills it
// (SIGSYS), the other two keep answering, and it is back after a
// restart.
func TestPrivilegeSeccompInVM(t *testing.T) {
	lab, vm, disk := privBoot(t, "ntpbox.testperm ntpbox.testsyscall=dns:25,dhcp:55,ntp:85,web:110")
	confined := regexp.MustCompile(`service=(\w+) pid=\d+ uid=(\d+) capeff=([0-9a-f]+) no_new_privs=(\d) seccomp=(\d)`)
	for i, spec := range appliance.ServiceSpecs {
		line, _ := discWaitLine(vm, "service confined\" component=init service="+spec.Name, time.Second)
		m := confined.FindStringSubmatch(line)
		want := []string{spec.Name, fmt.Sprint(101 + i), spec.CapEff, "1", "2"}
		if m == nil || strings.Join(m[1:], " ") != strings.Join(want, " ") {
			t.Errorf("%s: %q, want service uid capeff no_new_privs seccomp = %v", spec.Name, line, want)
		} else {
			t.Logf("%s: uid %s CapEff %s NoNewPrivs %s Seccomp %s", m[1], m[2], m[3], m[4], m[5])
		}
	}
	privAnswers(t, lab, "at boot", "ntp", "dhcp", "dns", "web")
	// The persistent partition is also the boot partition: no service
	// may write it or read the random seed (ntpbox.testperm: each tries
	// at start). Their state goes through init (checked at the end).
	for _, what := range []string{"create", "write config", "read seed"} {
		line := "ntpbox serve: -testperm: " + what + ": "
		denied := discConsoleCount(vm, line+"open "+appliance.PermDir)
		n := len(appliance.ServiceSpecs)
		if all := discConsoleCount(vm, line); denied != n || all != n || discConsoleCount(vm, "permission denied") < n {
			t.Errorf("%s on %s: %d of %d attempts refused, want %d of %d", what, appliance.PermDir, denied, all, n, n)
		}
	}
	if n := discConsoleCount(vm, "-testperm: ") - discConsoleCount(vm, ": permission denied"); n != 0 {
		t.Errorf("%d attempts on %s not refused with permission denied", n, appliance.PermDir)
	}

	all := []string{"ntp", "dhcp", "dns", "web"}
	for _, svc := range []string{"dns", "dhcp", "ntp", "web"} {
		endedBefore := map[string]int{}
		for _, o := range all {
			endedBefore[o] = serviceEnded(vm, o)
		}
		killed := `msg="service ended" component=init service=` + svc + ` pid=`
		line, err := discWaitLine(vm, killed, 2*time.Minute)
		if err != nil {
			t.Fatalf("%s: %v", svc, err)
		}
		if !strings.Contains(line, "killed by signal 31 (bad system call)") {
			t.Errorf("%s ended otherwise: %s", svc, line)
		}
		t.Logf("%.1f s: %s", time.Since(vm.Started).Seconds(), line)
		var others []string
		for _, o := range all {
			if o != svc {
				others = append(others, o)
			}
		}
		privAnswers(t, lab, svc+" killed by its filter", others...)
		if _, err := discWaitLine(vm, `msg="starting service" component=init service=`+svc+` run=2`, 30*time.Second); err != nil {
			t.Fatalf("%s not restarted: %v", svc, err)
		}
		time.Sleep(3 * time.Second) // the restarted process opens its sockets
		privAnswers(t, lab, svc+" restarted", svc)
		for _, o := range others {
			if n := serviceEnded(vm, o); n != endedBefore[o] {
				t.Errorf("%s ended while %s was killed and restarted", o, svc)
			}
		}
	}
	for _, svc := range all {
		if n := serviceEnded(vm, svc); n != 1 {
			t.Errorf("%s ended %d times, want once (its forbidden call)", svc, n)
		}
	}
	powerOff(t, vm)
	// The leases DHCP gave are on the disk all the same: init wrote
	// them for it; and it asked for nothing else.
	b, err := (qemu.DiskFile{Disk: disk, Name: "dhcp.leases"}).ReadPersisted()
	if err != nil || !strings.Contains(string(b), `"addr":"`) {
		t.Errorf("dhcp.leases on the disk: %q, %v", b, err)
	} else {
		t.Logf("dhcp.leases, written by init for the DHCP service: %d leases", strings.Count(string(b), "\n"))
	}
	if n := discConsoleCount(vm, "state file request failed"); n != 0 {
		t.Errorf("%d state file requests refused", n)
	}
	if _, err := (qemu.DiskFile{Disk: disk, Name: "ntpbox-testperm"}).ReadPersisted(); err == nil {
		t.Errorf("a service created ntpbox-testperm on the disk")
	}
}

// Crash isolation: the DNS service is killed (ntpbox.testkill=dns, by
// init, once it is confined): NTP and DHCP keep answering, and DNS is
// back within 5 s.
func TestCrashIsolationInVM(t *testing.T) {
	lab, vm, _ := privBoot(t, "ntpbox.testkill=dns")
	if _, err := discWaitLine(vm, "ntpbox.testkill: killing the service once", time.Minute); err != nil {
		t.Fatal(err)
	}
	var killedAt time.Time // when the console line came, not when this test saw it
	for _, l := range vm.Lines() {
		if strings.Contains(l.Text, "ntpbox.testkill: killing the service once") {
			killedAt = vm.Started.Add(l.At)
			t.Logf("%.1f s: %s", l.At.Seconds(), l.Text)
		}
	}
	privAnswers(t, lab, "DNS killed", "ntp", "dhcp")
	for {
		d, err := discDig(lab, "+notcp", "+tries=1", "+time=1", "_ntp._udp."+discZone, "SRV")
		if err == nil && len(d.SRV) > 0 {
			back := time.Since(killedAt)
			t.Logf("DNS answers again %.1f s after the kill", back.Seconds())
			if back > 5*time.Second {
				t.Errorf("DNS back after %.1f s, want within 5 s", back.Seconds())
			}
			break
		}
		if time.Since(killedAt) > time.Minute {
			t.Fatalf("DNS not back a minute after the kill: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, svc := range []string{"ntp", "dhcp"} {
		if n := serviceEnded(vm, svc); n != 0 {
			t.Errorf("%s ended %d times", svc, n)
		}
	}
	privAnswers(t, lab, "after", "ntp", "dhcp", "dns")
	powerOff(t, vm)
}
