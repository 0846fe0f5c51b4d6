//go:build linux

package qemu_test

// Issue 13's other architectures: the 386 image (make image ARCH=386)
// on the oldest PC QEMU models, from its disk through SeaBIOS. `make
// test-arch` builds that image and points NTPBOX_IMAGE_386 at it; `make
// test` builds amd64 only, and these tests skip without the variable.

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/qemu"
)

// archConfig is the 386 box's ntpbox.conf: an address from DHCP and the
// lab's upstream (stratum 2), polled fast so the test sees stratum 3
// within its minute.
var archConfig = "# written by the arch test\n" +
	"address dhcp\n" +
	"server " + qemu.LabHostAddr + " iburst minpoll 0 maxpoll 0\n" +
	"makestep 1 3\n" +
	"local stratum 10 orphan\n"

// archServeWithin is issue 13's bound: stratum upstream+1 to a real
// chronyd within 60 s of power-on, under TCG.
const archServeWithin = 60 * time.Second

// archMemories are the -m sizes a test boots: 128 MiB (issue 13), and
// the smallest the manifest records, or NTPBOX_ARCH_MEM (a
// comma-separated list, for measuring it).
func archMemories(t *testing.T, img qemu.Image) []int {
	if s := os.Getenv("NTPBOX_ARCH_MEM"); s != "" {
		var out []int
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				t.Fatalf("NTPBOX_ARCH_MEM=%q: %q is not a size in MiB", s, f)
			}
			out = append(out, n)
		}
		return out
	}
	mems := []int{128}
	min, err := img.MinMemoryMiB()
	if err != nil {
		t.Fatal(err)
	}
	if min == 0 {
		t.Errorf("%s records no smallest memory (MIN_MEMORY_386 in the Makefile)", img.Manifest)
	} else if min != 128 {
		mems = append(mems, min)
	}
	return mems
}

// TestArch386 (issue 13): qemu-system-i386 -cpu pentium3 boots
// ntpbox-386.img through SeaBIOS from an IDE disk, with a pcnet NIC (an
// AMD PCnet, as old PCs and VMs had). The box takes its address from
// dnsmasq, syncs to the lab's upstream (stratum 2) and answers a real
// chronyd (-x, in the client namespace) at stratum 3 within 60 s of
// power-on. Every service runs under its 386 seccomp filter (Seccomp 2
// in /proc/PID/status, none killed); then the DNS service makes a
// forbidden call and the filter kills it (SIGSYS), which shows the
// filter's 386 arch and numbers are the kernel's. At 128 MiB and at the
// manifest's smallest memory.
func TestArch386(t *testing.T) {
	dir := os.Getenv("NTPBOX_IMAGE_386")
	if dir == "" {
		t.Skip("NTPBOX_IMAGE_386 is not set (make test-arch builds the 386 image and sets it)")
	}
	img := qemu.ArchImage(dir, "386")
	qemu.RequireT(t, img, qemu.Binaries["386"], "chronyd", "chronyc", "setpriv", "dnsmasq", "mcopy", img.Disk, img.Manifest)
	for _, mem := range archMemories(t, img) {
		t.Run(strconv.Itoa(mem)+"MiB", func(t *testing.T) { arch386Boot(t, img, mem) })
	}
}

func arch386Boot(t *testing.T, img qemu.Image, mem int) {
	const boxAddr = "198.18.0.150"
	lab := qemu.NewLabT(t)
	dhcpNS, err := lab.AddNetns("dhcp", autoDnsmasqAddr+"/24")
	if err != nil {
		t.Fatal(err)
	}
	lab.UpstreamT(t, 2)
	waitUpstream(t, lab)
	dnsmasq := closetDnsmasq(t, dhcpNS, boxAddr, "10m")
	disk := qemu.CopyT(t, img.Disk)
	files := map[string]string{"ntpbox.conf": archConfig, "cmdline.txt": "ntpbox.testsyscall=dns:60\n"}
	for name, data := range files {
		if err := (qemu.DiskFile{Disk: disk, Name: name}).Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	// The client: chronyd -x (it never sets this machine's clock),
	// polling the box every second from before power-on; its
	// measurements log has each reply's leap and stratum.
	cdir := t.TempDir()
	os.Chmod(cdir, 0o700) // chronyd opens its command socket only in a private directory
	conf := filepath.Join(cdir, "chrony.conf")
	sock := filepath.Join(cdir, "chronyd.sock")
	os.WriteFile(conf, []byte("server "+boxAddr+" iburst minpoll 0 maxpoll 0\n"+
		"logdir "+cdir+"\nlog measurements\ncmdport 0\nbindcmdaddress "+sock+"\npidfile "+cdir+"/chronyd.pid\n"+
		"driftfile "+cdir+"/drift\n"), 0o644)
	client := lab.Client("setpriv", "--bounding-set", "-sys_time", "--", "chronyd", "-x", "-d", "-u", "root", "-f", conf)
	cout := qemu.NewLogWriter(t, "client chronyd| ")
	client.Stdout, client.Stderr = cout, cout
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Process.Kill(); client.Wait() })

	vm := qemu.StartT(t, qemu.Config{
		Binary: qemu.Binaries["386"], Extra: []string{"-cpu", "pentium3"}, MemoryMiB: mem,
		Disk: disk, DiskIf: "ide", NIC: "pcnet", Netns: lab.VMNetns, Tap: lab.Tap, MAC: closetMAC,
	})
	log := filepath.Join(cdir, "measurements.log")
	var served time.Duration
	for served == 0 {
		if b, err := os.ReadFile(log); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				// Date Time IP L St ...: leap N(ormal), stratum 3.
				if f := strings.Fields(line); len(f) > 4 && f[2] == boxAddr && f[3] == "N" && f[4] == "3" {
					served = time.Since(vm.Started)
					t.Logf("chronyd: %s", line)
					break
				}
			}
		}
		if served != 0 {
			break
		}
		select {
		case <-vm.Done():
			t.Fatalf("QEMU exited: %v", vm.Wait(0))
		case <-time.After(250 * time.Millisecond):
		}
		if time.Since(vm.Started) > 3*archServeWithin {
			b, _ := os.ReadFile(log)
			t.Fatalf("chronyd got no stratum-3 reply from %s in %v; its measurements:\n%s", boxAddr, 3*archServeWithin, b)
		}
	}
	t.Logf("-m %d: chronyd served stratum 3 by the box %.1f s after power-on", mem, served.Seconds())
	if served > archServeWithin {
		t.Errorf("-m %d: stratum 3 after %.1f s, want within %v of power-on", mem, served.Seconds(), archServeWithin)
	}
	if _, err := vm.Expect("Linux version ", time.Second); err != nil || discConsoleCount(vm, "-686 ") == 0 {
		t.Errorf("the console shows no 686 kernel booting (%v)", err)
	}
	if !dnsmasq.Saw("DHCPACK(eth0) "+boxAddr+" "+closetMAC, 5*time.Second) {
		t.Errorf("dnsmasq did not lease %s to the box", boxAddr)
	}
	// chronyc on the client: the box becomes its selected source (^*),
	// at stratum 3.
	selected := regexp.MustCompile(`\^\*\s+` + regexp.QuoteMeta(boxAddr) + `\s+3\s`)
	for deadline := time.Now().Add(20 * time.Second); ; {
		out, err := lab.Client("chronyc", "-h", sock, "-n", "sources").CombinedOutput()
		if selected.Match(out) {
			t.Logf("chronyc sources:\n%s", out)
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the client's chronyd has not selected %s at stratum 3: %v\n%s", boxAddr, err, out)
			break
		}
		time.Sleep(time.Second)
	}
	confined := regexp.MustCompile(`service=(\w+) pid=\d+ uid=\d+ capeff=[0-9a-f]+ no_new_privs=(\d) seccomp=(\d)`)
	n := 0
	for _, l := range vm.Lines() {
		if m := confined.FindStringSubmatch(l.Text); m != nil && strings.Contains(l.Text, "service confined") {
			n++
			if m[2] != "1" || m[3] != "2" {
				t.Errorf("%s: no_new_privs %s seccomp %s, want 1 and 2", m[1], m[2], m[3])
			}
		}
	}
	if n == 0 {
		t.Error("no service confined line on the console")
	}
	if k := discConsoleCount(vm, `msg="service ended"`); k != 0 {
		t.Errorf("%d services ended before the test hook's call (a filter that misses a 386 call kills its service)", k)
	}
	line, err := discWaitLine(vm, `msg="service ended" component=init service=dns pid=`, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "killed by signal 31 (bad system call)") {
		t.Errorf("dns ended otherwise: %s", line)
	}
	// The kernel's audit record of the kill: AUDIT_ARCH_I386 and keyctl's
	// 386 number (288; 250 on amd64).
	if discConsoleCount(vm, "sig=31 arch=40000003 syscall=288 ") == 0 {
		t.Error("no audit record of a SIGSYS kill with arch=40000003 (i386) syscall=288 (keyctl) on the console")
	}
	// The box still answers after its DNS service was killed.
	waitAnswers(t, lab, boxAddr, 3, 10*time.Second)
	if _, err := vm.Expect(appliance.SentinelServing, time.Second); err != nil {
		t.Errorf("no %q on the console: %v", appliance.SentinelServing, err)
	}
}
