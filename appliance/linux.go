//go:build linux

package appliance

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ntpbox/ntpbox/internal/persist"
	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"golang.org/x/sys/unix"
)

// Linux is the real [System]: what init does as PID 1.
type Linux struct {
	Log *slog.Logger

	drivers sync.Mutex       // one LoadDrivers at a time: boot's and the uevent watcher's
	loaded  map[string]bool  // the modules loaded so far, not tried again
	aliases *AliasIndex      // modules.alias, read once
	matched map[string][]int // each modalias seen so far: its aliases' indices
	deps    *ModuleDeps      // modules.dep, read once
	kmod    *kmodLoader
	// lastEvent is when the uevent watcher last saw an event (Unix
	// nanoseconds), for FindFAT's settling.
	lastEvent atomic.Int64
}

var _ System = (*Linux)(nil)

func (l *Linux) Mount(source, target, fstype string, flags uintptr, data string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype, target, err)
	}
	return nil
}

func (l *Linux) Sethostname(name string) error {
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("sethostname %s: %w", name, err)
	}
	return nil
}

func (l *Linux) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// ReadBack reads what WriteFile wrote: on /perm, the newest intact copy.
func (l *Linux) ReadBack(name string) ([]byte, error) { return persist.Read(name) }

// WriteFile replaces a file so that a power cut leaves the old contents
// or the new: on /perm (FAT) as two checksummed copies, elsewhere by a
// rename.
func (l *Linux) WriteFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return persist.Write(name, data, 0o644)
}

func (l *Linux) ServiceDir(path string, gid int) error {
	if err := os.MkdirAll(path, 0o770); err != nil {
		return err
	}
	if err := os.Chown(path, 0, gid); err != nil {
		return err
	}
	// Sticky: a service may add its own files (the control socket) but
	// not remove or replace init's (config.json, which every service
	// follows).
	return os.Chmod(path, 0o770|os.ModeSticky)
}

func (l *Linux) WriteSysctl(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (l *Linux) DisableCtrlAltDel() error {
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); err != nil {
		return fmt.Errorf("reboot(CAD_OFF): %w", err)
	}
	return nil
}

// LoadDrivers matches every /sys/bus/*/devices/*/modalias against the
// initramfs's modules.alias and loads the matches with their
// dependencies (modules.dep), through kmodLoader. Loading a bus driver
// (virtio_pci) adds devices (the virtio NIC), so it goes round until a
// round loads nothing new.
func (l *Linux) LoadDrivers(extra ...string) ([]string, error) {
	l.drivers.Lock()
	defer l.drivers.Unlock()
	if l.aliases == nil {
		var uts unix.Utsname
		if err := unix.Uname(&uts); err != nil {
			return nil, fmt.Errorf("uname: %w", err)
		}
		dir := filepath.Join("/lib/modules", unix.ByteSliceToString(uts.Release[:]))
		aliases, err := readModFile(filepath.Join(dir, "modules.alias"), ParseAliases)
		if err != nil {
			return nil, err
		}
		deps, err := readModFile(filepath.Join(dir, "modules.dep"), ParseModuleDeps)
		if err != nil {
			return nil, err
		}
		kmod, err := newKmodLoader(dir)
		if err != nil {
			return nil, err
		}
		l.aliases, l.matched, l.deps, l.kmod = NewAliasIndex(aliases), map[string][]int{}, deps, kmod
	}
	inKernel := procModules()
	if l.loaded == nil {
		l.loaded = map[string]bool{}
	}
	tried := map[string]bool{}
	for m := range l.loaded {
		tried[m] = true
	}
	var loaded []string
	var errs []error
	load := func(mods []string) int {
		n := 0
		for _, m := range mods {
			if tried[m] {
				continue
			}
			tried[m], n = true, n+1
			if err := l.deps.Load(m, inKernel, l.kmod.load); err != nil {
				errs = append(errs, fmt.Errorf("load module %s: %w", m, err))
				continue
			}
			loaded = append(loaded, m)
			l.loaded[m] = true
		}
		return n
	}
	for round := 0; round < 8; round++ {
		if load(l.match(modaliases())) == 0 {
			break
		}
	}
	load(extra)
	return loaded, errors.Join(errs...)
}

// readModFile opens and parses one of modules.alias and modules.dep.
func readModFile[T any](name string, parse func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(name)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	return parse(f)
}

// match returns the modules for the modaliases, in modules.alias's
// order. Each modalias is matched once per boot: the uevent watcher
// calls LoadDrivers after every burst of events, mostly for devices
// already seen.
func (l *Linux) match(modaliases []string) []string {
	var idx []int
	for _, m := range modaliases {
		hit, ok := l.matched[m]
		if !ok {
			hit = l.aliases.matches(m)
			l.matched[m] = hit
		}
		idx = append(idx, hit...)
	}
	return l.aliases.modules(idx)
}

// modaliases returns the modalias of every device on every bus. It
// reads the directories rather than globbing /sys/bus/*/devices/*/modalias:
// Glob stats every candidate, 3.8x the time on a host with 310 devices,
// and under QEMU's TCG each round of driver loading spent 100-180 ms here.
func modaliases() []string {
	var out []string
	buses, _ := os.ReadDir("/sys/bus")
	for _, bus := range buses {
		dir := "/sys/bus/" + bus.Name() + "/devices/"
		devs, _ := os.ReadDir(dir)
		for _, d := range devs {
			b, err := os.ReadFile(dir + d.Name() + "/modalias")
			if err == nil {
				out = append(out, string(bytes.TrimSpace(b)))
			}
		}
	}
	return out
}

func (l *Linux) ListensUDP(port int) bool {
	for _, name := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		ok := listensUDP(f, port)
		f.Close()
		if ok {
			return true
		}
	}
	return false
}

func (l *Linux) KillAll(sig syscall.Signal) {
	// kill(-1) reaches every process but init itself.
	if err := unix.Kill(-1, sig); err != nil && err != unix.ESRCH {
		l.Log.Warn("kill all", "signal", sig, "err", err)
	}
}

func (l *Linux) Sync() { unix.Sync() }

func (l *Linux) PowerOff() error {
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		return fmt.Errorf("reboot(POWER_OFF): %w", err)
	}
	return nil
}

func (l *Linux) Now() time.Time { return time.Now() }

// SetClock steps the system clock to t, through the one package that
// touches the kernel clock. (The NTP service disciplines the clock
// afterwards; this is only for a clock the RTC set implausibly.)
func (l *Linux) SetClock(t time.Time) error {
	if err := clock.System().Step(time.Until(t)); err != nil {
		return fmt.Errorf("step the clock to %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return nil
}

// trimName returns the first line of a sysfs attribute.
func trimName(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
