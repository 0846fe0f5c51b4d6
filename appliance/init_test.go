package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/netstate"
)

// fakeSystem records what init does to the machine.
type fakeSystem struct {
	mu        sync.Mutex
	calls     []string
	files     map[string][]byte
	listening bool
	button    chan struct{}
	powerOff  chan struct{}
	permDev   string           // what FindFAT returns
	disks     chan struct{}    // what WatchDisks returns
	readErr   map[string]error // ReadFile fails so for these files
	now       time.Time
}

func newFakeSystem(cmdline string) *fakeSystem {
	return &fakeSystem{
		files: map[string][]byte{
			"/proc/cmdline":    []byte(cmdline + "\n"),
			"/etc/ntpbox.conf": []byte("pool pool.ntp.org iburst\nlocal stratum 10 orphan\n"),
		},
		listening: true,
		disks:     make(chan struct{}, 1),
		button:    make(chan struct{}, 1),
		powerOff:  make(chan struct{}),
	}
}

func (s *fakeSystem) call(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, fmt.Sprintf(format, args...))
}

func (s *fakeSystem) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *fakeSystem) File(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.files[name])
}

func (s *fakeSystem) Mount(source, target, fstype string, flags uintptr, data string) error {
	s.call("mount %s %s", fstype, target)
	return nil
}
func (s *fakeSystem) Sethostname(name string) error { s.call("hostname %s", name); return nil }
func (s *fakeSystem) ReadFile(name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.readErr[name]; err != nil {
		return nil, err
	}
	if b, ok := s.files[name]; ok {
		return b, nil
	}
	return nil, os.ErrNotExist
}
func (s *fakeSystem) ReadBack(name string) ([]byte, error) { return s.ReadFile(name) }
func (s *fakeSystem) WriteFile(name string, data []byte) error {
	s.call("write %s", name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = data
	return nil
}
func (s *fakeSystem) DisableCtrlAltDel() error { s.call("cad off"); return nil }
func (s *fakeSystem) ServiceDir(path string, gid int) error {
	s.call("service dir %s group %d", path, gid)
	return nil
}
func (s *fakeSystem) WriteSysctl(path, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.Contains(path, "bpf_jit_harden") {
		return os.ErrNotExist // a kernel without the BPF JIT
	}
	s.files[path] = []byte(value + "\n")
	return nil
}
func (s *fakeSystem) LoadDrivers(extra ...string) ([]string, error) {
	s.call("load drivers %v", extra)
	return []string{"virtio_pci", "virtio_net"}, errors.New("load module e1000: no such device")
}
func (s *fakeSystem) FindFAT(label string, wait time.Duration) (string, error) {
	s.call("find fat %s", label)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.permDev, nil
}
func (s *fakeSystem) WatchDisks(ctx context.Context) (<-chan struct{}, error) {
	s.call("watch disks")
	return s.disks, nil
}
func (s *fakeSystem) Unmount(target string) error { s.call("unmount %s", target); return nil }
func (s *fakeSystem) ListensUDP(port int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listening && port == 123
}
func (s *fakeSystem) PowerButton(ctx context.Context) <-chan struct{} { return s.button }
func (s *fakeSystem) KillAll(sig syscall.Signal)                      { s.call("kill all %v", sig) }
func (s *fakeSystem) Sync()                                           { s.call("sync") }
func (s *fakeSystem) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.now.IsZero() {
		return time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return s.now
}
func (s *fakeSystem) SetClock(t time.Time) error {
	s.call("set clock %s", t.UTC().Format(time.RFC3339))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = t
	return nil
}
func (s *fakeSystem) PowerOff() error {
	s.call("power off")
	close(s.powerOff)
	return errors.New("fake machines stay on")
}

// fakeNet records what init does to the network; the test plays the DHCP
// server through dhcp.
type fakeNet struct {
	sys      *fakeSystem // calls are recorded with the system's, in order
	links    chan netstate.State
	dhcp     chan chan<- LeaseEvent // the DHCP client's event channel, once started
	hostname string
}

func newFakeNet(sys *fakeSystem) *fakeNet {
	return &fakeNet{sys: sys, links: make(chan netstate.State, 8), dhcp: make(chan chan<- LeaseEvent, 1)}
}

var fakeMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}

func (n *fakeNet) Loopback() error { n.sys.call("lo up"); return nil }
func (n *fakeNet) WaitLink(name string, timeout time.Duration) (netstate.Link, error) {
	n.sys.call("link %q", name)
	return netstate.Link{Name: "eth0", Index: 2, MAC: fakeMAC}, nil
}
func (n *fakeNet) SetAddrs(link string, want []netip.Prefix) error {
	n.sys.call("addrs %s %v", link, want)
	return nil
}
func (n *fakeNet) SetGateway(link string, gw netip.Addr) error {
	n.sys.call("gateway %s %v", link, gw)
	return nil
}
func (n *fakeNet) Links(ctx context.Context) <-chan netstate.State { return n.links }
func (n *fakeNet) DHCP(ctx context.Context, link netstate.Link, hostname string, linkUp <-chan struct{}, events chan<- LeaseEvent, log *slog.Logger) error {
	n.sys.call("dhcp %s %s", link.Name, hostname)
	n.dhcp <- events
	return nil
}

type initRig struct {
	sys      *fakeSystem
	net      *fakeNet
	st       *fakeStarter
	console  *syncBuffer
	logs     *syncBuffer
	shutdown chan os.Signal
	reload   chan os.Signal
	done     chan error
	in       *Init
}

func startInit(t *testing.T, cmdline string) *initRig {
	return startInitOn(t, newFakeSystem(cmdline))
}

func startInitOn(t *testing.T, sys *fakeSystem, set ...func(*Init)) *initRig {
	r := &initRig{sys: sys, net: newFakeNet(sys), st: newFakeStarter(), console: &syncBuffer{}, logs: &syncBuffer{},
		shutdown: make(chan os.Signal, 1), reload: make(chan os.Signal, 1), done: make(chan error, 1)}
	in := &Init{Sys: r.sys, Net: r.net, Start: r.st, Log: newSlog(r.logs), Console: r.console, Self: "/init",
		Shutdown: r.shutdown, Reload: r.reload, StopTimeout: time.Second,
		SyncState: func(*config.Config) string { return "synchronised to 198.18.0.1, stratum 3" }}
	r.in = in
	for _, f := range set {
		f(in)
	}
	go func() { r.done <- in.Run(context.Background()) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("init's log:\n%s\nconsole:\n%s", r.logs.String(), r.console.String())
		}
	})
	return r
}

func (r *initRig) waitConsole(t *testing.T, s string) {
	t.Helper()
	waitFor(t, "console says "+s, func() bool { return strings.Contains(r.console.String(), s) })
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// config is the merged config init handed the service.
func (r *initRig) config(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Decode([]byte(r.sys.File(RunConfig)))
	if err != nil {
		t.Fatalf("%s: %v\n%s", RunConfig, err, r.sys.File(RunConfig))
	}
	return cfg
}

// rendered is the merged config as `ntpbox config` prints it.
func (r *initRig) rendered(t *testing.T) string {
	var b strings.Builder
	r.config(t).Render(&b)
	return b.String()
}

// hasLines checks that the rendered config has each line (its directive
// part, before the origin comment).
func hasLines(t *testing.T, rendered string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(l) + ` +#`).MatchString(rendered) {
			t.Errorf("the config lacks %q:\n%s", l, rendered)
		}
	}
}

func TestInitBootsServesAndPowersOff(t *testing.T) {
	r := startInit(t, "console=ttyS0 ntpbox.address=198.18.0.2/24 ntpbox.gateway=198.18.0.1 ntpbox.allow=all ntpbox.local=stratum,12 ntpbox.bogus.x=1")
	p := <-r.st.started
	r.waitConsole(t, SentinelServing+" (run 1, pid 100, udp port 123)")
	if want := []string{"/init", "serve", "-c", RunConfig, "-service", "ntp", "-sandbox", "-statefd", "3"}; !reflect.DeepEqual(r.st.argv[0], want) {
		t.Errorf("service argv %v, want %v", r.st.argv[0], want)
	}
	// Then the others (DHCP, DNS, web), in any order, each its own
	// process, user and capabilities.
	for range len(ServiceSpecs) - 1 {
		<-r.st.started
	}
	r.st.mu.Lock()
	for i, svc := range []string{"ntp", "dhcp", "dns", "web"} {
		var got []string
		var cred *Cred
		for j, a := range r.st.argv {
			if slices.Contains(a, svc) {
				got, cred = a, r.st.creds[j]
			}
		}
		if want := []string{"/init", "serve", "-c", RunConfig, "-service", svc, "-sandbox", "-statefd", "3"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s argv %v, want %v", svc, got, want)
		}
		if cred == nil || cred.UID != uint32(101+i) || cred.GID != ServiceGID || len(cred.Caps) == 0 {
			t.Errorf("%s runs as %+v", svc, cred)
		}
	}
	r.st.mu.Unlock()
	r.waitConsole(t, "ntpbox: ntpbox-abcdef at 198.18.0.2/24 on eth0 (static)")
	r.waitConsole(t, "check it from the LAN: ntpdate -q 198.18.0.2")
	r.shutdown <- syscall.SIGTERM
	<-r.sys.powerOff
	if err := <-r.done; err == nil {
		t.Error("Run returned no error although powering off failed")
	}
	if got := p.Signals(); !reflect.DeepEqual(got, []syscall.Signal{syscall.SIGTERM}) {
		t.Errorf("service got %v, want SIGTERM", got)
	}
	want := []string{
		"mount proc /proc", "mount sysfs /sys", "mount devtmpfs /dev", "mount tmpfs /run", "mount tmpfs /tmp",
		"service dir /run/ntpbox group 100",
		"cad off",
		"watch disks",
		"load drivers [evdev vfat nls_cp437 nls_ascii nls_utf8]",
		"find fat NTPBOX",
		"write " + RunConfig,
		"lo up", `link ""`, "hostname ntpbox-abcdef",
		"addrs eth0 [198.18.0.2/24]", "gateway eth0 198.18.0.1",
		"kill all terminated", "sync", "power off",
	}
	if got := r.sys.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	hasLines(t, r.rendered(t), "pool pool.ntp.org iburst", "allow connected", "allow all", "local stratum 12", "address 198.18.0.2/24")
	logs := r.logs.String()
	for _, s := range []string{`ntpbox.bogus.x=1`, "load module e1000", `reason="signal terminated"`} {
		if !strings.Contains(logs, s) {
			t.Errorf("log does not mention %s", s)
		}
	}
	r.waitConsole(t, SentinelPowerOff+" (signal terminated)")
}

// A command line parameter that breaks the config is left out, the
// others are kept, and the console says what was left out.
func TestInitLeavesOutABadCommandLineParameter(t *testing.T) {
	r := startInit(t, "ntpbox.address=198.18.0.2/24 ntpbox.allow=198.18.0.0/33 ntpbox.local=stratum,12")
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	out := r.rendered(t)
	if strings.Contains(out, "/33") {
		t.Errorf("the bad line is in the config:\n%s", out)
	}
	hasLines(t, out, "local stratum 12", "address 198.18.0.2/24")
	r.waitConsole(t, `CONFIG PROBLEM: ignored on the command line:`)
	r.waitConsole(t, `kernel command line (ntpbox.allow=198.18.0.0/33): allow: expected an address`)
	r.pressPowerButton()
}

// With a FAT partition labelled NTPBOX, init mounts it at /perm, takes
// its ntpbox.conf instead of the baked one and its cmdline.txt after the
// kernel's, puts the drift file there, keeps the config as the last good
// one once the box serves, and unmounts the partition before powering
// off.
func TestInitUsesPersistentPartition(t *testing.T) {
	sys := newFakeSystem("console=ttyS0 ntpbox.local=stratum,12")
	sys.permDev = "/dev/vda1"
	sys.files[PermConfig] = []byte("server 198.18.0.1 iburst # the upstream\n")
	sys.files[PermCmdline] = []byte("ntpbox.address=198.18.0.2/24\nntpbox.allow=all\n")
	r := startInitOn(t, sys)
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	out := r.rendered(t)
	hasLines(t, out, "server 198.18.0.1 iburst", "driftfile "+PermDrift, "allow connected", "allow all", "local stratum 12", "address 198.18.0.2/24")
	if strings.Contains(out, "pool.ntp.org") {
		t.Errorf("the baked config is used although /perm has one:\n%s", out)
	}
	waitFor(t, "the last good config is kept", func() bool { return sys.File(PermLastGood) == sys.File(PermConfig) })
	// The merged config is on the console at boot, with its origins.
	r.waitConsole(t, "ntpbox: config: server 198.18.0.1 iburst                # /perm/ntpbox.conf:1")
	r.waitConsole(t, "ntpbox: config: local stratum 12                        # kernel command line (ntpbox.local=stratum,12)")
	r.pressPowerButton()
	calls := strings.Join(r.sys.Calls(), "\n")
	for _, c := range []string{"find fat NTPBOX\nmount vfat /perm", "addrs eth0 [198.18.0.2/24]", "sync\nunmount /perm\npower off"} {
		if !strings.Contains(calls, c) {
			t.Errorf("calls lack %q:\n%s", c, calls)
		}
	}
}

// One bad line in /perm/ntpbox.conf does not cost the box its address or
// its servers: it runs the last config that booted and served, and says
// what is wrong on the console; without one, the file's good lines.
func TestInitBadPersistentConfig(t *testing.T) {
	good := "address 198.18.0.7/24\ngateway 198.18.0.1\nserver 198.18.0.1 iburst\n"
	bad := "address 198.18.0.8/24\ngateway 198.18.0.1\nserver 198.18.0.9 iburst\nallow 198.18.0.0/33\n"
	for _, tc := range []struct {
		name     string
		lastGood string
		want     []string
	}{
		{"last good", good, []string{"address 198.18.0.7/24", "server 198.18.0.1 iburst"}},
		{"no last good", "", []string{"address 198.18.0.8/24", "server 198.18.0.9 iburst"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := newFakeSystem("console=ttyS0")
			sys.permDev = "/dev/vda1"
			sys.files[PermConfig] = []byte(bad)
			if tc.lastGood != "" {
				sys.files[PermLastGood] = []byte(tc.lastGood)
			}
			r := startInitOn(t, sys)
			<-r.st.started
			r.waitConsole(t, SentinelServing)
			hasLines(t, r.rendered(t), tc.want...)
			r.waitConsole(t, "CONFIG PROBLEM: /perm/ntpbox.conf is invalid:")
			r.waitConsole(t, "/perm/ntpbox.conf:4: allow: expected an address")
			if strings.Contains(r.rendered(t), "address dhcp") {
				t.Error("a bad line turned the static address into DHCP")
			}
			r.pressPowerButton()
			if got := sys.File(PermLastGood); got != tc.lastGood {
				t.Errorf("the bad config replaced the last good one: %q", got)
			}
		})
	}
}

// A /perm/ntpbox.conf that is there but cannot be read (a FAT error) is
// a problem shown on the console, and the last good config runs: never
// the baked one with its `address dhcp`.
func TestInitUnreadablePersistentConfig(t *testing.T) {
	sys := newFakeSystem("console=ttyS0")
	sys.permDev = "/dev/vda1"
	sys.files[PermConfig] = []byte("address 198.18.0.8/24\n")
	sys.files[PermLastGood] = []byte("address 198.18.0.7/24\n")
	sys.readErr = map[string]error{PermConfig: errors.New("read /perm/ntpbox.conf: input/output error")}
	r := startInitOn(t, sys)
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	hasLines(t, r.rendered(t), "address 198.18.0.7/24")
	r.waitConsole(t, "CONFIG PROBLEM: /perm/ntpbox.conf cannot be read: read /perm/ntpbox.conf: input/output error")
	r.pressPowerButton()
}

// A box with no address in its config asks DHCP (`address dhcp` is the
// default) with its host name, serves before any lease comes, and
// follows the lease: its address, option 42's servers, a new address, a
// loss.
func TestInitFollowsTheDHCPLease(t *testing.T) {
	r := startInit(t, "console=ttyS0 ntpbox.dhcp=auto")
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	events := <-r.net.dhcp
	r.waitConsole(t, "ntpbox-abcdef on eth0: no address yet, asking DHCP")
	if cfg := r.config(t); cfg.Lease != nil || !cfg.Network.DHCP {
		t.Errorf("config before any lease: %+v", cfg)
	}
	lease := &config.Lease{Interface: "eth0", Address: netip.MustParsePrefix("198.18.0.50/24"), Router: netip.MustParseAddr("198.18.0.1"),
		DNS: []netip.Addr{netip.MustParseAddr("198.18.0.1")}, NTP: []netip.Addr{netip.MustParseAddr("198.18.0.1")},
		Server: netip.MustParseAddr("198.18.0.1"), Obtained: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Duration: 2 * time.Minute}
	events <- LeaseEvent{Lease: lease, Reason: "lease"}
	r.waitConsole(t, "ntpbox-abcdef at 198.18.0.50/24 on eth0 (DHCP lease from 198.18.0.1, 2m0s left)")
	hasLines(t, r.rendered(t), "server 198.18.0.1 iburst")
	if cfg := r.config(t); cfg.Lease == nil || cfg.Lease.Address != lease.Address {
		t.Errorf("the lease is not in the config: %+v", cfg.Lease)
	}
	// A renewal that changes the router is applied, not taken for one
	// that only extends the times.
	rerouted := *lease
	rerouted.Router = netip.MustParseAddr("198.18.0.254")
	events <- LeaseEvent{Lease: &rerouted, Reason: "renewed"}
	waitFor(t, "the new router applied", func() bool {
		return strings.Contains(strings.Join(r.sys.Calls(), "\n"), "gateway eth0 198.18.0.254")
	})
	moved := *lease
	moved.Address = netip.MustParsePrefix("198.18.1.60/24")
	events <- LeaseEvent{Lease: &moved, Reason: "lease"}
	r.waitConsole(t, "at 198.18.1.60/24 on eth0")
	events <- LeaseEvent{Reason: "NAK from 198.18.0.1"}
	waitFor(t, "the lease is gone from the config", func() bool { return r.config(t).Lease == nil })
	r.pressPowerButton()
	calls := strings.Join(r.sys.Calls(), "\n")
	for _, c := range []string{"dhcp eth0 ntpbox-abcdef", "addrs eth0 [198.18.0.50/24]\ngateway eth0 198.18.0.1",
		"addrs eth0 [198.18.1.60/24]", "addrs eth0 []\ngateway eth0 invalid IP"} {
		if !strings.Contains(calls, c) {
			t.Errorf("calls lack %q:\n%s", c, calls)
		}
	}
}

// The config file's network directives configure the network when the
// command line gives none; the command line's replace them.
func TestInitNetworkFromConfig(t *testing.T) {
	sys := newFakeSystem("console=ttyS0")
	sys.permDev = "/dev/vda1"
	sys.files[PermConfig] = []byte("address 198.18.0.7/24\ngateway 198.18.0.1\nnameserver 198.18.0.53\nhostname clock1\nlocal stratum 3\n")
	r := startInitOn(t, sys)
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	if calls := strings.Join(r.sys.Calls(), "\n"); !strings.Contains(calls, "hostname clock1\naddrs eth0 [198.18.0.7/24]\ngateway eth0 198.18.0.1") {
		t.Errorf("the config's address is not applied:\n%s", calls)
	}
	r.pressPowerButton()

	sys = newFakeSystem("ntpbox.address=198.18.1.9/24 ntpbox.gateway=198.18.1.1")
	sys.permDev = "/dev/vda1"
	sys.files[PermConfig] = []byte("address dhcp\ngateway 198.18.0.1\nlocal stratum 3\n")
	r = startInitOn(t, sys)
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	if calls := strings.Join(r.sys.Calls(), "\n"); !strings.Contains(calls, "addrs eth0 [198.18.1.9/24]\ngateway eth0 198.18.1.1") {
		t.Errorf("the command line's address does not replace the config's dhcp:\n%s", calls)
	}
	r.pressPowerButton()
}

// pressPowerButton presses the fake power button and waits until init
// has powered off and returned.
func (r *initRig) pressPowerButton() {
	r.sys.button <- struct{}{}
	<-r.sys.powerOff
	<-r.done
}

// Reload (SIGHUP, or `ntpbox reload` on init's socket): init rereads
// /perm/ntpbox.conf and publishes the new merged config to the services
// without restarting them; a broken file is refused, with its line, and
// the running config stays; a changed address waits for the next boot.
func TestInitReload(t *testing.T) {
	sys := newFakeSystem("console=ttyS0")
	sys.permDev = "/dev/vda1"
	sys.files[PermConfig] = []byte("address 198.18.0.2/24\nserver 198.18.0.1 iburst\nallow all\n")
	r := startInitOn(t, sys)
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	setFile := func(data string) {
		sys.mu.Lock()
		sys.files[PermConfig] = []byte(data)
		sys.mu.Unlock()
	}
	servers := func() []string {
		var s []string
		for _, src := range r.config(t).Sources {
			s = append(s, src.Host)
		}
		return s
	}

	setFile("address 198.18.0.2/24\nserver 198.18.0.5 iburst\nallow 198.18.0.0/16\n")
	r.reload <- syscall.SIGHUP
	waitFor(t, "the new server in the published config", func() bool { return slices.Equal(servers(), []string{"198.18.0.5"}) })

	setFile("address 198.18.0.2/24\nserver 198.18.0.6 iburst\nallow 198.18.0.0/33\n")
	err := r.in.requestReload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "/perm/ntpbox.conf:3") {
		t.Errorf("reload of a broken file: %v", err)
	}
	if got := servers(); !slices.Equal(got, []string{"198.18.0.5"}) {
		t.Errorf("after a refused reload the servers are %v", got)
	}

	setFile("address 198.18.0.9/24\nserver 198.18.0.7 iburst\nallow all\n")
	if err := r.in.requestReload(context.Background()); err != nil {
		t.Fatalf("ntpbox reload: %v", err)
	}
	if got := servers(); !slices.Equal(got, []string{"198.18.0.7"}) {
		t.Errorf("after ntpbox reload the servers are %v", got)
	}
	if a := r.config(t).Network.Addresses; len(a) != 1 || a[0].String() != "198.18.0.2/24" {
		t.Errorf("the address changed at reload: %v", a)
	}
	for _, want := range []string{`msg="config reloaded"`, `msg="reload refused; the running config stays"`, "take effect at the next boot"} {
		if !strings.Contains(r.logs.String(), want) {
			t.Errorf("init's log lacks %q", want)
		}
	}
	// The services were not restarted: one start each.
	r.st.mu.Lock()
	starts := len(r.st.procs)
	r.st.mu.Unlock()
	if starts != len(ServiceSpecs) {
		t.Errorf("%d service starts, want %d", starts, len(ServiceSpecs))
	}
	r.pressPowerButton()
}
