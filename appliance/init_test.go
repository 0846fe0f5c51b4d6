package appliance

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeSystem records what init does to the machine.
type fakeSystem struct {
	mu        sync.Mutex
	calls     []string
	files     map[string][]byte
	listening bool
	button    chan struct{}
	powerOff  chan struct{}
	permDev   string // what FindFAT returns
	now       time.Time
}

func newFakeSystem(cmdline string) *fakeSystem {
	return &fakeSystem{
		files: map[string][]byte{
			"/proc/cmdline":    []byte(cmdline + "\n"),
			"/etc/ntpbox.conf": []byte("pool pool.ntp.org iburst\nlocal stratum 10 orphan\n"),
		},
		listening: true,
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
	if b, ok := s.files[name]; ok {
		return b, nil
	}
	return nil, os.ErrNotExist
}
func (s *fakeSystem) WriteFile(name string, data []byte) error {
	s.call("write %s", name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = data
	return nil
}
func (s *fakeSystem) DisableCtrlAltDel() error { s.call("cad off"); return nil }
func (s *fakeSystem) LoadDrivers(extra ...string) ([]string, error) {
	s.call("load drivers %v", extra)
	return []string{"virtio_pci", "virtio_net"}, errors.New("load module e1000: no such device")
}
func (s *fakeSystem) FindFAT(label string, wait time.Duration) (string, error) {
	s.call("find fat %s", label)
	return s.permDev, nil
}
func (s *fakeSystem) Unmount(target string) error { s.call("unmount %s", target); return nil }
func (s *fakeSystem) ConfigureNetwork(n Network) (Network, error) {
	s.call("network %v gw %v", n.Addresses, n.Gateway)
	if n.DHCP {
		n.Addresses = []netip.Prefix{netip.MustParsePrefix("198.18.0.2/24")}
		n.NTPServers = []netip.Addr{netip.MustParseAddr("198.18.0.1")}
	}
	return n, nil
}
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

type initRig struct {
	sys      *fakeSystem
	st       *fakeStarter
	console  *syncBuffer
	logs     *syncBuffer
	shutdown chan os.Signal
	done     chan error
}

func startInit(t *testing.T, cmdline string) *initRig {
	return startInitOn(t, newFakeSystem(cmdline))
}

func startInitOn(t *testing.T, sys *fakeSystem) *initRig {
	r := &initRig{sys: sys, st: newFakeStarter(), console: &syncBuffer{}, logs: &syncBuffer{},
		shutdown: make(chan os.Signal, 1), done: make(chan error, 1)}
	in := &Init{Sys: r.sys, Start: r.st, Log: newSlog(r.logs), Console: r.console, Self: "/init",
		Shutdown: r.shutdown, StopTimeout: time.Second}
	go func() { r.done <- in.Run(context.Background()) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("init's log:\n%s", r.logs.String())
		}
	})
	return r
}

func (r *initRig) waitConsole(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.console.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("console never said %q; it has:\n%s", s, r.console.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestInitBootsServesAndPowersOff(t *testing.T) {
	r := startInit(t, "console=ttyS0 ntpbox.address=198.18.0.2/24 ntpbox.gateway=198.18.0.1 ntpbox.allow=all ntpbox.local=stratum,12 ntpbox.bogus.x=1")
	p := <-r.st.started
	r.waitConsole(t, SentinelServing+" (run 1, pid 100, udp port 123)")
	if want := []string{"/init", "serve", "-f", RunConfig}; !reflect.DeepEqual(r.st.argv[0], want) {
		t.Errorf("service argv %v, want %v", r.st.argv[0], want)
	}
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
		"hostname ntpbox", "cad off",
		"load drivers [evdev vfat nls_cp437 nls_ascii nls_utf8]",
		"find fat NTPBOX",
		"network [198.18.0.2/24] gw 198.18.0.1",
		"write " + NetConfig,
		"write " + RunConfig,
		"kill all terminated", "sync", "power off",
	}
	if got := r.sys.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	conf := r.sys.File(RunConfig)
	for _, line := range []string{"pool pool.ntp.org iburst", "allow 198.18.0.0/24", "allow all", "local stratum 12"} {
		if !strings.Contains(conf, line+"\n") {
			t.Errorf("%s lacks %q:\n%s", RunConfig, line, conf)
		}
	}
	if !strings.Contains(r.sys.File(NetConfig), "gateway 198.18.0.1\n") {
		t.Errorf("%s:\n%s", NetConfig, r.sys.File(NetConfig))
	}
	logs := r.logs.String()
	for _, s := range []string{`ntpbox.bogus.x=1`, "load module e1000", `reason="signal terminated"`} {
		if !strings.Contains(logs, s) {
			t.Errorf("log does not mention %s", s)
		}
	}
	r.waitConsole(t, SentinelPowerOff+" (signal terminated)")
}

// A command line line that breaks the config is dropped, with the
// reason logged, and the service runs on the baked config.
func TestInitFallsBackOnBadCommandLineConfig(t *testing.T) {
	r := startInit(t, "ntpbox.address=198.18.0.2/24 ntpbox.allow=198.18.0.0/33 ntpbox.local=stratum,12")
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	conf := r.sys.File(RunConfig)
	if strings.Contains(conf, "/33") || strings.Contains(conf, "stratum 12") || !strings.Contains(conf, "allow 198.18.0.0/24") {
		t.Errorf("fallback config:\n%s", conf)
	}
	if !strings.Contains(r.logs.String(), "running without them") {
		t.Error("the fallback is not logged")
	}
	r.pressPowerButton()
	r.waitConsole(t, SentinelPowerOff+" (power button)")
}

// With a FAT partition labelled NTPBOX, init mounts it at /perm, takes
// its ntpbox.conf instead of the baked one and its cmdline.txt after the
// kernel's, puts the drift file there, and unmounts it before powering
// off.
func TestInitUsesPersistentPartition(t *testing.T) {
	sys := newFakeSystem("console=ttyS0 ntpbox.local=stratum,12")
	sys.permDev = "/dev/vda1"
	sys.files[PermConfig] = []byte("server 198.18.0.1 iburst\n")
	sys.files[PermCmdline] = []byte("ntpbox.address=198.18.0.2/24\nntpbox.allow=all\n")
	r := startInitOn(t, sys)
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	conf := r.sys.File(RunConfig)
	for _, line := range []string{"server 198.18.0.1 iburst", "driftfile " + PermDrift, "allow 198.18.0.0/24", "allow all", "local stratum 12"} {
		if !strings.Contains(conf, line+"\n") {
			t.Errorf("%s lacks %q:\n%s", RunConfig, line, conf)
		}
	}
	if strings.Contains(conf, "pool.ntp.org") {
		t.Errorf("%s has the baked config although /perm has one:\n%s", RunConfig, conf)
	}
	r.pressPowerButton()
	calls := strings.Join(r.sys.Calls(), "\n")
	for _, c := range []string{"find fat NTPBOX\nmount vfat /perm\nnetwork [198.18.0.2/24]", "sync\nunmount /perm\npower off"} {
		if !strings.Contains(calls, c) {
			t.Errorf("calls lack %q:\n%s", c, calls)
		}
	}
}

// An invalid /perm/ntpbox.conf is not used: the box serves with the
// baked config (and its drift file still goes to /perm).
func TestInitIgnoresInvalidPersistentConfig(t *testing.T) {
	sys := newFakeSystem("ntpbox.address=198.18.0.2/24")
	sys.permDev = "/dev/sda1"
	sys.files[PermConfig] = []byte("bogusdirective 1\n")
	r := startInitOn(t, sys)
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	conf := r.sys.File(RunConfig)
	if !strings.Contains(conf, "pool pool.ntp.org") || !strings.Contains(conf, "driftfile "+PermDrift) {
		t.Errorf("config:\n%s", conf)
	}
	if !strings.Contains(r.logs.String(), "persistent config is invalid") {
		t.Error("the invalid persistent config is not logged")
	}
	r.pressPowerButton()
}

// With ntpbox.address=dhcp, the lease's subnet is served and its NTP
// servers (option 42) become server lines.
func TestInitDHCP(t *testing.T) {
	r := startInit(t, "ntpbox.address=dhcp")
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	conf := r.sys.File(RunConfig)
	for _, line := range []string{"server 198.18.0.1 iburst", "allow 198.18.0.0/24"} {
		if !strings.Contains(conf, line+"\n") {
			t.Errorf("%s lacks %q:\n%s", RunConfig, line, conf)
		}
	}
	if !strings.Contains(r.sys.File(NetConfig), "address dhcp\n") {
		t.Errorf("%s:\n%s", NetConfig, r.sys.File(NetConfig))
	}
	r.pressPowerButton()
}

// A box with no address on its command line or its partition asks DHCP:
// `address dhcp` is the default, so a spare PC plugged into a LAN works.
func TestInitDefaultsToDHCP(t *testing.T) {
	r := startInit(t, "console=ttyS0")
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	if !strings.Contains(r.sys.File(NetConfig), "address dhcp\n") {
		t.Errorf("%s:\n%s", NetConfig, r.sys.File(NetConfig))
	}
	if conf := r.sys.File(RunConfig); !strings.Contains(conf, "server 198.18.0.1 iburst\n") {
		t.Errorf("the lease's NTP server is not used:\n%s", conf)
	}
	r.pressPowerButton()
}

// The config file's network directives configure the network when the
// command line gives none; the command line's replace them.
func TestInitNetworkFromConfig(t *testing.T) {
	sys := newFakeSystem("console=ttyS0")
	sys.permDev = "/dev/vda1"
	sys.files[PermConfig] = []byte("address 198.18.0.7/24\ngateway 198.18.0.1\nnameserver 198.18.0.53\nlocal stratum 3\n")
	r := startInitOn(t, sys)
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	if calls := strings.Join(r.sys.Calls(), "\n"); !strings.Contains(calls, "network [198.18.0.7/24] gw 198.18.0.1") {
		t.Errorf("the config's address is not applied:\n%s", calls)
	}
	if conf := r.sys.File(RunConfig); !strings.Contains(conf, "allow 198.18.0.0/24\n") {
		t.Errorf("the config's subnet is not served:\n%s", conf)
	}
	if rc := r.sys.File("/etc/resolv.conf"); !strings.Contains(rc, "nameserver 198.18.0.53") {
		t.Errorf("resolv.conf: %q", rc)
	}
	r.pressPowerButton()

	sys = newFakeSystem("ntpbox.address=198.18.1.9/24")
	sys.permDev = "/dev/vda1"
	sys.files[PermConfig] = []byte("address dhcp\ngateway 198.18.1.1\nlocal stratum 3\n")
	r = startInitOn(t, sys)
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	if calls := strings.Join(r.sys.Calls(), "\n"); !strings.Contains(calls, "network [198.18.1.9/24] gw 198.18.1.1") {
		t.Errorf("the command line's address does not replace the config's dhcp:\n%s", calls)
	}
	r.pressPowerButton()
}

// `dhcp auto` on a box whose address came from a DHCP server becomes
// `dhcp inform`, with the snippet for that server logged; with a static
// address it is left to `ntpbox serve`.
func TestInitResolvesDHCPAuto(t *testing.T) {
	r := startInit(t, "ntpbox.address=dhcp ntpbox.dhcp=auto ntpbox.advertise=198.18.0.2,198.18.0.3")
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	conf := r.sys.File(RunConfig)
	if !strings.HasSuffix(conf, "dhcp inform\n") {
		t.Errorf("dhcp auto with a DHCP lease is not inform:\n%s", conf)
	}
	if logs := r.logs.String(); !strings.Contains(logs, "dhcp-option=option:ntp-server,198.18.0.2,198.18.0.3") {
		t.Errorf("the dnsmasq snippet is not logged:\n%s", logs)
	}
	r.pressPowerButton()

	r = startInit(t, "ntpbox.address=198.18.0.2/24 ntpbox.dhcp=auto")
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	if conf := r.sys.File(RunConfig); strings.Contains(conf, "dhcp inform") || !strings.HasSuffix(conf, "dhcp auto\n") {
		t.Errorf("dhcp auto with a static address is decided by init:\n%s", conf)
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
