// Command ntpbox-demo is `make demo`: the whole story of the box on one
// machine, without internet. In network namespaces on a private segment
// (198.18.0.0/24, RFC 2544's benchmarking range; nothing leaves the
// machine) it runs
//
//   - an upstream "stratum 2" server: `ntpbox serve -x` with `local
//     stratum 2` at 198.18.0.3;
//   - the box: the appliance image under QEMU at 198.18.0.2, following
//     the upstream, with `dhcp server` and `dns zone lab.test` set on the
//     kernel command line;
//   - a client: busybox udhcpc gets a lease with option 42; its script
//     hands the NTP servers to NetworkManager's chrony hook
//     (20-chrony-dhcp, from Debian's chrony package, with its two paths
//     pointed into the demo's directory), which writes a chrony sources
//     file and makes a real chronyd reload it. chronyd runs with -x and
//     without CAP_SYS_TIME: the namespaces share the host's clock, and
//     nothing here may adjust it.
//
// It shows the client synchronised to the box (`chronyc sources`: the box
// is ^*, at stratum 3) and the box's SRV record (dig), prints what each
// step did and how long it took, then keeps everything running until
// Ctrl-C or SIGTERM and removes everything it made. With -check it exits
// after the steps: 0 if all passed, 1 if not.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/qemu"
)

// The lab's addresses and the box's discovery settings.
const (
	upAddr     = "198.18.0.3" // the upstream server
	boxAddr    = qemu.LabVMAddr
	rangeStart = "198.18.0.100"
	rangeEnd   = "198.18.0.150"
	zone       = "lab.test"
	leaseTime  = "10m"
)

// Step bounds. Under TCG on a busy 2-core machine a boot can take three
// times its idle 4.5 s, and everything after it is slower too.
const (
	upTimeout     = 30 * time.Second
	bootTimeout   = 3 * time.Minute
	boxSyncWithin = 2 * time.Minute
	leaseWithin   = time.Minute
	clientWithin  = 3 * time.Minute
	dnsWithin     = 30 * time.Second
)

// nmHook is NetworkManager's chrony dispatcher script as Debian's chrony
// package installs it. The demo runs a copy with server_dir and chronyc
// pointed into its directory; without the file it uses hookFallback.
const nmHook = "/usr/lib/NetworkManager/dispatcher.d/20-chrony-dhcp"

// hookFallback does what nmHook does (for `up` and `down`), for a
// machine without it.
const hookFallback = `#!/bin/sh
# What NetworkManager's dispatcher.d/20-chrony-dhcp (chrony package) does.
interface=$1
action=$2
chronyc=/usr/bin/chronyc
server_options=iburst
server_dir=/run/chrony-dhcp
dhcp_server_file=$server_dir/$interface.sources
mkdir -p $server_dir
case "$action" in
up|dhcp4-change)
	rm -f "$dhcp_server_file"
	for server in $DHCP4_NTP_SERVERS; do
		printf 'server %s %s\n' "$server" "$server_options" >> "$dhcp_server_file"
	done
	$chronyc reload sources > /dev/null 2>&1 || :;;
down)
	if [ -f "$dhcp_server_file" ]; then
		rm -f "$dhcp_server_file"
		$chronyc reload sources > /dev/null 2>&1 || :
	fi;;
esac
exit 0
`

// udhcpcScript is busybox udhcpc's event script: it configures eth0 as
// busybox's default script does (with ip instead of ifconfig), calls the
// NetworkManager hook the way NetworkManager would (DHCP4_NTP_SERVERS,
// action up or down), and records the lease for the demo to show.
const udhcpcScript = `#!/bin/sh
# udhcpc event script of ntpbox-demo.
case "$1" in
deconfig)
	ip addr flush dev "$interface"
	sh {{HOOK}} "$interface" down
	;;
bound|renew)
	ip addr replace "$ip/$mask" dev "$interface"
	DHCP4_NTP_SERVERS="$ntpsrv" sh {{HOOK}} "$interface" up
	printf '%s\n' "event=$1" "ip=$ip" "mask=$mask" "lease=$lease" "serverid=$serverid" \
		"ntpsrv=$ntpsrv" "dns=$dns" "domain=$domain" > {{LEASE}}.tmp
	mv {{LEASE}}.tmp {{LEASE}}
	;;
esac
exit 0
`

func main() {
	image := flag.String("image", "out/image", "image `directory` (make image)")
	bin := flag.String("bin", "out/ntpbox", "`path` of the host's ntpbox binary (make build), for the upstream server")
	check := flag.Bool("check", false, "run the steps once and exit: 0 if every step passed, 1 if not")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up on the steps after this long")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: ntpbox-demo [-check] [-image DIR] [-bin PATH] [-timeout D]\n"+
			"Runs an upstream server, the ntpbox image under QEMU and a DHCP client with chronyd\n"+
			"in network namespaces, and shows the client synchronised to the box. Needs root.\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(*image, *bin, *check, *timeout))
}

// step is one line of the summary.
type step struct {
	name   string
	ok     bool
	ran    bool
	took   time.Duration
	detail string
}

type demo struct {
	bin, image string
	dir        string // the demo's temporary directory
	out        io.Writer
	lab        *qemu.Lab
	upNetns    string
	vm         *qemu.VM
	served     bool // the box's init said it serves
	console    *os.File
	procs      []*proc
	steps      []*step

	// What the steps found, for the report.
	lease   map[string]string
	sources string // the chrony sources file the hook wrote
	chronyc string // chronyc -n sources
	srv, a  string // dig answers
	digCmd  string
}

func run(image, bin string, check bool, timeout time.Duration) int {
	out := os.Stdout
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "ntpbox-demo: needs root (network namespaces, taps)")
		return 1
	}
	var missing []string
	for _, tool := range []string{"ip", "qemu-system-x86_64", "busybox", "chronyd", "chronyc", "dig", "setpriv", "setsid"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	absBin, err := filepath.Abs(bin)
	if err == nil {
		_, err = os.Stat(absBin)
	}
	if err != nil {
		missing = append(missing, bin+" (make build)")
	}
	for _, f := range []string{"vmlinux", "initramfs.cpio.zst"} {
		if _, err := os.Stat(filepath.Join(image, f)); err != nil {
			missing = append(missing, filepath.Join(image, f)+" (make image)")
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "ntpbox-demo: missing %s; `make demo` installs and builds them (build/deps.sh, make image)\n",
			strings.Join(missing, ", "))
		return 1
	}

	// The first SIGINT, SIGTERM or SIGHUP stops the steps (or the wait);
	// the clean-up always runs.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	dir, err := os.MkdirTemp("", "ntpbox-demo-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "ntpbox-demo: %v\n", err)
		return 1
	}
	d := &demo{bin: absBin, image: image, dir: dir, out: out}
	defer d.cleanup()

	fmt.Fprintf(out, "ntpbox demo: an upstream server, the box under QEMU, and a DHCP client with chronyd,\n"+
		"in network namespaces on 198.18.0.0/24 (nothing leaves this machine, and nothing adjusts its clock).\n\n")
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, timeout)
	ok := d.runSteps(sctx)
	cancel()
	d.report(ok, time.Since(start))
	if ctx.Err() != nil {
		fmt.Fprintln(out, "\nInterrupted: removing everything.")
		return 1
	}
	if !ok {
		d.diagnostics()
		fmt.Fprintln(out, "\nA step failed: removing everything.")
		return 1
	}
	if check {
		return 0
	}
	d.howToPoke()
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\nStopping: powering the box off and removing the lab.")
	case <-d.vm.Done():
		fmt.Fprintln(out, "\nQEMU exited: removing the lab.")
		return 1
	}
	return 0
}

// runSteps runs the steps in order and stops at the first failure: each
// needs the ones before it.
func (d *demo) runSteps(ctx context.Context) bool {
	all := []struct {
		name string
		fn   func(context.Context) (string, error)
	}{
		{"lab network", d.stepLab},
		{"upstream server", d.stepUpstream},
		{"box boots", d.stepBoot},
		{"box follows upstream", d.stepBoxSync},
		{"client gets a lease", d.stepLease},
		{"client chronyd syncs", d.stepClientSync},
		{"DNS SRV record", d.stepDNS},
	}
	for _, s := range all {
		d.steps = append(d.steps, &step{name: s.name})
	}
	for i, s := range all {
		st := d.steps[i]
		t0 := time.Now()
		detail, err := s.fn(ctx)
		st.ran, st.took = true, time.Since(t0)
		if err != nil {
			st.detail = err.Error()
			fmt.Fprintf(d.out, "✗ %-22s %6.1f s  %s\n", st.name, st.took.Seconds(), st.detail)
			return false
		}
		st.ok, st.detail = true, detail
		fmt.Fprintf(d.out, "✓ %-22s %6.1f s  %s\n", st.name, st.took.Seconds(), st.detail)
	}
	return true
}

// stepLab makes the namespaces: the lab's (bridge and QEMU's tap; the
// client, whose static address goes: it gets one by DHCP) and the
// upstream's.
func (d *demo) stepLab(ctx context.Context) (string, error) {
	lab, err := qemu.NewLab()
	if err != nil {
		return "", err
	}
	d.lab = lab
	if out, err := exec.Command("ip", "-n", lab.ClientNetns, "addr", "flush", "dev", "eth0").CombinedOutput(); err != nil {
		return "", fmt.Errorf("ip addr flush: %v: %s", err, strings.TrimSpace(string(out)))
	}
	d.upNetns, err = lab.AddNetns("up", upAddr+"/24")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("upstream %s, box %s (bridge, tap), client %s (no address yet)",
		d.upNetns, lab.VMNetns, lab.ClientNetns), nil
}

// stepUpstream runs `ntpbox serve -x` with `local stratum 2` in the
// upstream namespace and waits until it answers.
func (d *demo) stepUpstream(ctx context.Context) (string, error) {
	conf := filepath.Join(d.dir, "upstream.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`# The demo's upstream "stratum 2" server: it serves this machine's clock.
local stratum 2
allow 198.18.0.0/24
bindaddress %s
bindcmdaddress %s
`, upAddr, filepath.Join(d.dir, "upstream.sock"))), 0o644)
	if err != nil {
		return "", err
	}
	if out, err := exec.Command(d.bin, "check", "-f", conf).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ntpbox check: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if _, err := d.start("upstream", "upstream.log", qemu.In(d.upNetns,
		"setpriv", "--bounding-set", "-sys_time", "--", d.bin, "serve", "-x", "-f", conf)); err != nil {
		return "", err
	}
	// Asked from the bridge's address in the lab namespace.
	var last string
	err = poll(ctx, upTimeout, 200*time.Millisecond, func() bool {
		last = d.query(upAddr)
		return strings.Contains(last, "stratum 2,")
	})
	if err != nil {
		return "", fmt.Errorf("upstream not serving stratum 2 at %s: %w; last: %s", upAddr, err, last)
	}
	return fmt.Sprintf("ntpbox serve -x at %s, local stratum 2", upAddr), nil
}

// query runs `ntpbox query` against addr from the lab namespace.
func (d *demo) query(addr string) string {
	out, err := d.lab.Host(d.bin, "query", "-t", "1s", addr).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil && s == "" {
		s = err.Error()
	}
	return s
}

// stepBoot boots the image under QEMU and waits for its init to say
// that the daemon serves.
func (d *demo) stepBoot(ctx context.Context) (string, error) {
	f, err := os.Create(filepath.Join(d.dir, "console.log"))
	if err != nil {
		return "", err
	}
	d.console = f
	var mu sync.Mutex
	// QEMU runs in a session of its own, so that the terminal's Ctrl-C
	// reaches only the demo, which then powers the box off; it dies with
	// the demo if the demo is killed.
	wrapper := filepath.Join(d.dir, "qemu.sh")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec setpriv --pdeathsig KILL setsid qemu-system-x86_64 \"$@\"\n"), 0o755); err != nil {
		return "", err
	}
	vm, err := qemu.Start(qemu.Config{
		Binary: wrapper,
		Kernel: filepath.Join(d.image, "vmlinux"), Initramfs: filepath.Join(d.image, "initramfs.cpio.zst"),
		MemoryMiB: 256,
		Append: []string{
			"ntpbox.address=" + boxAddr + "/24",
			"ntpbox.server=" + upAddr + ",iburst,minpoll,0,maxpoll,2",
			"ntpbox.dhcp=server," + rangeStart + "," + rangeEnd + ",lease," + leaseTime,
			"ntpbox.dns=zone," + zone,
		},
		Netns: d.lab.VMNetns, Tap: d.lab.Tap,
		QMP: filepath.Join(d.dir, "qmp.sock"),
		Console: func(at time.Duration, line string) {
			mu.Lock()
			fmt.Fprintf(f, "%7.2fs| %s\n", at.Seconds(), line)
			mu.Unlock()
		},
	})
	if err != nil {
		return "", err
	}
	d.vm = vm
	l, err := expect(ctx, vm, appliance.SentinelServing, bootTimeout)
	if err != nil {
		return "", err
	}
	d.served = true
	return fmt.Sprintf("QEMU (TCG) at %s; console %q after %.1f s", boxAddr, l.Text, l.At.Seconds()), nil
}

// expect is VM.Expect that also gives up when ctx ends.
func expect(ctx context.Context, vm *qemu.VM, s string, timeout time.Duration) (qemu.Line, error) {
	type res struct {
		l   qemu.Line
		err error
	}
	ch := make(chan res, 1)
	go func() {
		l, err := vm.Expect(s, timeout)
		ch <- res{l, err}
	}()
	select {
	case r := <-ch:
		return r.l, r.err
	case <-ctx.Done():
		return qemu.Line{}, fmt.Errorf("waiting for %q: %w", s, stopped(ctx))
	}
}

var (
	stratumRE = regexp.MustCompile(`stratum (\d+), refid (\S+),`)
	offsetRE  = regexp.MustCompile(`offset ([-+]\d+\.\d+) s`)
)

// stepBoxSync waits until the box serves stratum 3 (it has selected the
// upstream) within 1 ms of this machine's clock. Only then does the
// client come up, so that chronyd's first samples already see the box
// synchronised. The box's clock started from the RTC, which has whole
// seconds: up to a second off, under makestep's 1 s, so it is slewed (fast,
// through the kernel's tick, as chronyd does), not stepped.
func (d *demo) stepBoxSync(ctx context.Context) (string, error) {
	var last string
	first := math.NaN()
	off := math.NaN()
	err := poll(ctx, boxSyncWithin, time.Second, func() bool {
		last = d.query(boxAddr)
		m := stratumRE.FindStringSubmatch(last)
		o := offsetRE.FindStringSubmatch(last)
		if m == nil || m[1] != "3" || o == nil {
			return false
		}
		f, err := strconv.ParseFloat(o[1], 64)
		if err != nil {
			return false
		}
		if math.IsNaN(first) {
			first = f
		}
		off = f
		return math.Abs(f) < 0.001
	})
	if err != nil {
		return "", fmt.Errorf("box not at stratum 3 within 1 ms: %w; last: %s", err, last)
	}
	m := stratumRE.FindStringSubmatch(last)
	return fmt.Sprintf("the box serves stratum %s, refid %s, %+.0f µs from this machine's clock (slewed from %+.3f s, the RTC's lost fraction)",
		m[1], m[2], off*1e6, first), nil
}

// stepLease starts chronyd in the client namespace (no sources yet; a
// sourcedir for the DHCP hook), then udhcpc, and waits for the lease.
func (d *demo) stepLease(ctx context.Context) (string, error) {
	chronyDir := filepath.Join(d.dir, "chrony") // chronyd wants its socket's directory private
	sourceDir := filepath.Join(d.dir, "chrony-dhcp")
	if err := os.Mkdir(chronyDir, 0o700); err != nil {
		return "", err
	}
	if err := os.Mkdir(sourceDir, 0o755); err != nil {
		return "", err
	}
	conf := filepath.Join(d.dir, "chrony.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`# The demo client's chronyd: its only sources are those DHCP gives,
# written into the sources directory by NetworkManager's chrony hook.
sourcedir %s
bindcmdaddress %s
cmdport 0
pidfile %s
`, sourceDir, d.chronySock(), filepath.Join(chronyDir, "chronyd.pid"))), 0o644)
	if err != nil {
		return "", err
	}
	if _, err := d.start("chronyd", "chronyd.log", qemu.In(d.lab.ClientNetns,
		"setpriv", "--bounding-set", "-sys_time", "--", "chronyd", "-x", "-d", "-u", "root", "-f", conf)); err != nil {
		return "", err
	}
	if err := poll(ctx, 30*time.Second, 100*time.Millisecond, func() bool {
		_, err := os.Stat(d.chronySock())
		return err == nil
	}); err != nil {
		return "", fmt.Errorf("chronyd made no command socket: %w (see %s)", err, filepath.Join(d.dir, "chronyd.log"))
	}

	// NetworkManager's hook, pointed at the demo's directory and chronyd.
	hook, err := os.ReadFile(nmHook)
	hookFrom := "NetworkManager's " + filepath.Base(nmHook)
	if err != nil || !strings.Contains(string(hook), "\nserver_dir=/run/chrony-dhcp\n") ||
		!strings.Contains(string(hook), "\nchronyc=/usr/bin/chronyc\n") {
		hook, hookFrom = []byte(hookFallback), "the demo's copy of "+filepath.Base(nmHook)
	}
	h := strings.Replace(string(hook), "\nserver_dir=/run/chrony-dhcp\n", "\nserver_dir="+sourceDir+"\n", 1)
	h = strings.Replace(h, "\nchronyc=/usr/bin/chronyc\n", "\nchronyc=\"/usr/bin/chronyc -h "+d.chronySock()+"\"\n", 1)
	hookPath := filepath.Join(d.dir, "20-chrony-dhcp")
	if err := os.WriteFile(hookPath, []byte(h), 0o755); err != nil {
		return "", err
	}
	leaseFile := filepath.Join(d.dir, "lease.env")
	script := strings.NewReplacer("{{HOOK}}", hookPath, "{{LEASE}}", leaseFile).Replace(udhcpcScript)
	scriptPath := filepath.Join(d.dir, "udhcpc.sh")
	if err := os.WriteFile(scriptPath, []byte(script), 0o755); err != nil {
		return "", err
	}
	// -f: stay in the foreground and keep renewing; -R: release the lease
	// on exit; -O ntpsrv: ask for option 42, as NetworkManager does.
	if _, err := d.start("udhcpc", "udhcpc.log", qemu.In(d.lab.ClientNetns,
		"busybox", "udhcpc", "-f", "-R", "-i", "eth0", "-s", scriptPath, "-O", "ntpsrv", "-t", "10", "-T", "3", "-A", "5")); err != nil {
		return "", err
	}
	err = poll(ctx, leaseWithin, 100*time.Millisecond, func() bool {
		_, err := os.Stat(leaseFile)
		return err == nil
	})
	if err != nil {
		return "", fmt.Errorf("no lease: %w (see %s)", err, filepath.Join(d.dir, "udhcpc.log"))
	}
	b, err := os.ReadFile(leaseFile)
	if err != nil {
		return "", err
	}
	d.lease = map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			d.lease[k] = strings.TrimSpace(v)
		}
	}
	src, _ := os.ReadFile(filepath.Join(sourceDir, "eth0.sources"))
	d.sources = string(src)
	ip, err := netip.ParseAddr(d.lease["ip"])
	switch {
	case err != nil:
		return "", fmt.Errorf("udhcpc leased %q", d.lease["ip"])
	case ip.Less(netip.MustParseAddr(rangeStart)) || netip.MustParseAddr(rangeEnd).Less(ip):
		return "", fmt.Errorf("udhcpc leased %s, outside the box's range %s-%s", ip, rangeStart, rangeEnd)
	case d.lease["ntpsrv"] != boxAddr:
		return "", fmt.Errorf("udhcpc saw option 42 %q, want %s", d.lease["ntpsrv"], boxAddr)
	case !strings.Contains(d.sources, "server "+boxAddr+" iburst"):
		return "", fmt.Errorf("the hook wrote %q, want server %s iburst", d.sources, boxAddr)
	}
	return fmt.Sprintf("udhcpc: %s/%s for %s s from %s, option 42 (NTP) %s; %s wrote %q",
		d.lease["ip"], d.lease["mask"], d.lease["lease"], d.lease["serverid"], d.lease["ntpsrv"],
		hookFrom, strings.TrimSpace(d.sources)), nil
}

func (d *demo) chronySock() string { return filepath.Join(d.dir, "chrony", "chronyd.sock") }

// stepClientSync waits until chronyd has selected the box (^*) and sees
// it at stratum 3.
func (d *demo) stepClientSync(ctx context.Context) (string, error) {
	var last string
	err := poll(ctx, clientWithin, time.Second, func() bool {
		out, err := d.lab.Client("chronyc", "-h", d.chronySock(), "-n", "sources").CombinedOutput()
		last = strings.TrimRight(string(out), "\n")
		if err != nil {
			return false
		}
		for _, l := range strings.Split(last, "\n") {
			f := strings.Fields(l)
			if len(f) >= 3 && f[0] == "^*" && f[1] == boxAddr && f[2] == "3" {
				return true
			}
		}
		return false
	})
	d.chronyc = last
	if err != nil {
		return "", fmt.Errorf("chronyd has not selected %s at stratum 3: %w; chronyc sources:\n%s", boxAddr, err, last)
	}
	return fmt.Sprintf("chronyc sources: ^* %s, stratum 3", boxAddr), nil
}

// stepDNS asks the box, the lease's DNS server, for the SRV record of
// the lease's domain, and the address of its target.
func (d *demo) stepDNS(ctx context.Context) (string, error) {
	ns, domain := d.lease["dns"], d.lease["domain"]
	if ns == "" {
		ns = boxAddr
	}
	if domain == "" {
		domain = zone
	}
	if ns != boxAddr || domain != zone {
		return "", fmt.Errorf("the lease gave DNS server %q and domain %q, want %s and %s", ns, domain, boxAddr, zone)
	}
	dig := func(typ, name string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, dnsWithin)
		defer cancel()
		out, err := exec.CommandContext(cctx, "ip", "netns", "exec", d.lab.ClientNetns,
			"dig", "@"+ns, "+short", "+tries=3", "+time=3", typ, name).CombinedOutput()
		s := strings.TrimSpace(string(out))
		if err != nil {
			return "", fmt.Errorf("dig %s %s: %v: %s", typ, name, err, s)
		}
		return s, nil
	}
	srvName := "_ntp._udp." + domain
	d.digCmd = fmt.Sprintf("dig @%s +short SRV %s", ns, srvName)
	srv, err := dig("SRV", srvName)
	if err != nil {
		return "", err
	}
	d.srv = srv
	// "10 10 123 ntp1.lab.test."
	f := strings.Fields(srv)
	if len(f) < 4 || f[2] != "123" {
		return "", fmt.Errorf("%s answered %q, want PRIORITY WEIGHT 123 TARGET", d.digCmd, srv)
	}
	a, err := dig("A", f[3])
	if err != nil {
		return "", err
	}
	d.a = a
	if a != boxAddr {
		return "", fmt.Errorf("%s has address %q, want %s", f[3], a, boxAddr)
	}
	return fmt.Sprintf("SRV %s: %s; %s A %s", srvName, srv, f[3], a), nil
}

// report prints what the steps found, then the verdict.
func (d *demo) report(ok bool, took time.Duration) {
	w := d.out
	if d.lease != nil {
		fmt.Fprintf(w, "\n== The client's lease (busybox udhcpc, as its script saw it)\n")
		fmt.Fprintf(w, "   address %s/%s, lease %s s, from DHCP server %s\n", d.lease["ip"], d.lease["mask"], d.lease["lease"], d.lease["serverid"])
		fmt.Fprintf(w, "   option 42 (NTP servers): %s\n", d.lease["ntpsrv"])
		fmt.Fprintf(w, "   option 6 (DNS servers): %s, option 15 (domain): %s\n", d.lease["dns"], d.lease["domain"])
		fmt.Fprintf(w, "== chrony sources file written by the NetworkManager hook (%s)\n", filepath.Join(d.dir, "chrony-dhcp", "eth0.sources"))
		for _, l := range strings.Split(strings.TrimSpace(d.sources), "\n") {
			fmt.Fprintf(w, "   %s\n", l)
		}
	}
	if d.chronyc != "" {
		fmt.Fprintf(w, "== chronyc -n sources (the client's chronyd, run with -x)\n")
		for _, l := range strings.Split(d.chronyc, "\n") {
			fmt.Fprintf(w, "   %s\n", l)
		}
	}
	if d.srv != "" {
		fmt.Fprintf(w, "== %s\n   %s\n", d.digCmd, strings.ReplaceAll(d.srv, "\n", "\n   "))
	}
	if d.a != "" {
		fmt.Fprintf(w, "== dig @%s +short A %s\n   %s\n", boxAddr, strings.Fields(d.srv)[3], d.a)
	}
	passed := 0
	for _, s := range d.steps {
		if s.ok {
			passed++
		}
	}
	fmt.Fprintln(w)
	if ok {
		fmt.Fprintf(w, "✓ all %d steps passed in %.1f s\n", len(d.steps), took.Seconds())
		return
	}
	fmt.Fprintf(w, "✗ %d of %d steps passed (%.1f s); not run:", passed, len(d.steps), took.Seconds())
	for _, s := range d.steps {
		if !s.ran {
			fmt.Fprintf(w, " %q", s.name)
		}
	}
	fmt.Fprintln(w)
}

// diagnostics prints the end of each log after a failure.
func (d *demo) diagnostics() {
	for _, f := range []string{"console.log", "upstream.log", "chronyd.log", "udhcpc.log"} {
		b, err := os.ReadFile(filepath.Join(d.dir, f))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		fmt.Fprintf(d.out, "\n== last lines of %s\n", f)
		for _, l := range lines {
			fmt.Fprintf(d.out, "   %s\n", l)
		}
	}
}

// howToPoke prints commands for looking around while the demo runs.
func (d *demo) howToPoke() {
	cl := d.lab.ClientNetns
	fmt.Fprintf(d.out, `
The lab keeps running. From another terminal, as root:
   ip netns exec %[1]s chronyc -h %[2]s sources -v
   ip netns exec %[1]s chronyc -h %[2]s tracking
   ip netns exec %[1]s ntpdig %[3]s
   ip netns exec %[1]s dig @%[3]s SRV _ntp._udp.%[4]s
   ip netns exec %[5]s %[6]s query %[3]s %[7]s
   tail -f %[8]s      # the box's serial console
The logs of the upstream, chronyd and udhcpc are in %[9]s.
Everything goes when the demo ends. Ctrl-C to stop.
`, cl, d.chronySock(), boxAddr, zone, d.lab.VMNetns, d.bin, upAddr,
		filepath.Join(d.dir, "console.log"), d.dir)
}

// cleanup stops what the demo started, in reverse order, powers the box
// off and removes the namespaces and the directory.
func (d *demo) cleanup() {
	t0 := time.Now()
	var done []string
	for i := len(d.procs) - 1; i >= 0; i-- {
		d.procs[i].stop()
		done = append(done, d.procs[i].name)
	}
	if len(done) > 0 {
		fmt.Fprintf(d.out, "clean-up: stopped %s\n", strings.Join(done, ", "))
	}
	if d.vm != nil {
		// A box that has not come up yet cannot handle the power
		// button: it is killed at once.
		powered := false
		var off qemu.Line
		t1 := time.Now()
		if d.served {
			if err := d.vm.Powerdown(); err == nil {
				var err error
				if off, err = d.vm.Expect(appliance.SentinelPowerOff, 20*time.Second); err == nil {
					powered = d.vm.Wait(20*time.Second) == nil
				}
			}
		}
		switch {
		case powered:
			fmt.Fprintf(d.out, "clean-up: ACPI power button: the box said %q and QEMU exited in %.1f s\n", off.Text, time.Since(t1).Seconds())
		case d.served:
			d.vm.Kill()
			fmt.Fprintf(d.out, "clean-up: QEMU killed (the box did not power off)\n")
		default:
			d.vm.Kill()
			fmt.Fprintf(d.out, "clean-up: QEMU killed (the box had not come up)\n")
		}
	}
	if d.console != nil {
		d.console.Close()
	}
	if d.lab != nil {
		if err := d.lab.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "ntpbox-demo: %v\n", err)
		} else {
			fmt.Fprintf(d.out, "clean-up: removed namespaces %s, %s, %s\n", d.upNetns, d.lab.VMNetns, d.lab.ClientNetns)
		}
	}
	if err := os.RemoveAll(d.dir); err != nil {
		fmt.Fprintf(os.Stderr, "ntpbox-demo: %v\n", err)
	}
	fmt.Fprintf(d.out, "clean-up: removed %s; done in %.1f s\n", d.dir, time.Since(t0).Seconds())
}

// proc is a process the demo started.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// start starts cmd with its output in the demo's directory. It runs in
// a process group of its own (the terminal's Ctrl-C is for the demo,
// which stops it in order) and is killed if the demo dies.
func (d *demo) start(name, logName string, cmd *exec.Cmd) (*proc, error) {
	f, err := os.Create(filepath.Join(d.dir, logName))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		f.Close()
		close(p.done)
	}()
	d.procs = append(d.procs, p)
	return p, nil
}

// stop ends the process with SIGTERM, or SIGKILL after 10 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// poll calls ok every interval until it returns true, timeout passes or
// ctx ends.
func poll(ctx context.Context, timeout, interval time.Duration, ok func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ok() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		select {
		case <-ctx.Done():
			return stopped(ctx)
		case <-time.After(interval):
		}
	}
}

// stopped says why ctx ended: a signal or the -timeout.
func stopped(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errors.New("-timeout reached")
	}
	return errors.New("interrupted")
}
