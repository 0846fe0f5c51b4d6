//go:build linux

// Command persist-powercut is the /init of a test VM (qemu's
// TestPersistPowerCut): it mounts the FAT file system on /dev/vda1 as
// ntpbox mounts /perm, through the kernel's vfat, and reads the file
// "state" with package persist. With powercut.mode=write on the kernel
// command line it then writes ever newer versions of it until the test
// kills QEMU (a power cut); with powercut.mode=read it powers off.
//
// It says on the console what it did:
//
//	powercut: vfat true
//	powercut: removed /mnt/.state.tmp123
//	powercut: copies intact torn   (each: intact, torn, unreadable, missing)
//	powercut: read 17          (or "read none", or "read garbage ...")
//	powercut: writing 18
//	powercut: wrote 18
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/internal/persist"
	"golang.org/x/sys/unix"
)

const (
	dev   = "/dev/vda1"
	dir   = "/mnt"
	state = dir + "/state"
)

func main() {
	if err := run(); err != nil {
		say("error %v", err)
	}
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stdout, "powercut: "+format+"\n", args...)
}

// sayDrained says a line and waits until the serial port has sent it
// (tcdrain): once QEMU has the line, the test may rely on it.
func sayDrained(format string, args ...any) {
	say(format, args...)
	unix.IoctlSetInt(int(os.Stdout.Fd()), unix.TCSBRK, 1)
}

func run() error {
	for _, m := range []struct{ src, dst, fstype string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.fstype, 0, ""); err != nil {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	sys := &appliance.Linux{Log: slog.New(slog.NewTextHandler(os.Stdout, nil))}
	if _, err := sys.LoadDrivers(appliance.StorageModules...); err != nil {
		say("load drivers: %v", err) // the NICs' modules find no device
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(dev); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s", dev)
		}
	}
	os.MkdirAll(dir, 0o755)
	// The flags and options init mounts /perm with (appliance.PermMountOptions),
	// but for "flush" with powercut.flush=0: "flush" makes close sleep
	// 100 ms after a write, when the data is on the disk already, which
	// is where most power cuts would then fall.
	cmdline, _ := os.ReadFile("/proc/cmdline")
	opts := appliance.PermMountOptions
	if strings.Contains(string(cmdline), "powercut.flush=0") {
		opts = strings.TrimPrefix(opts, "flush,")
	}
	if err := unix.Mount(dev, dir, "vfat", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return fmt.Errorf("mount %s: %w", dev, err)
	}
	var st unix.Statfs_t
	unix.Statfs(dir, &st)
	say("vfat %v", st.Type == unix.MSDOS_SUPER_MAGIC)
	removed, err := persist.RemoveStale(dir)
	for _, p := range removed {
		say("removed %s", p)
	}
	if err != nil {
		say("remove stale: %v", err)
	}

	// What each copy holds, for the test's figures: a power cut during a
	// write can leave that copy torn, or unreadable (its size beyond its
	// cluster chain).
	var desc []string
	for _, name := range []string{state, state + persist.SecondSuffix} {
		b, err := os.ReadFile(name)
		var ok bool
		if err == nil {
			if name == state {
				_, ok = persist.Newest(b, nil)
			} else {
				_, ok = persist.Newest(nil, b)
			}
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			desc = append(desc, "missing")
		case err != nil:
			desc = append(desc, "unreadable") // the kernel's "request beyond EOF"
		case ok:
			desc = append(desc, "intact")
		default:
			desc = append(desc, "torn")
		}
	}
	say("copies %s", strings.Join(desc, " "))

	n := 0
	b, err := persist.Read(state)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		say("read none")
	case err != nil:
		return err
	default:
		n = Parse(b)
		if n < 0 {
			say("read garbage %q", b)
			return nil
		}
		say("read %d", n)
	}
	if !strings.Contains(string(cmdline), "powercut.mode=write") {
		return nil
	}
	// "writing" is drained before the write begins: the test knows the
	// newest version that can be on the disk. "wrote" comes after the
	// write returned (and fsynced); it may reach the test later, which
	// only makes the test expect less.
	start := time.Now()
	var writing time.Duration
	for i := n + 1; ; i++ {
		sayDrained("writing %d", i)
		t := time.Now()
		if err := persist.Write(state, Contents(i), 0o644); err != nil {
			return err
		}
		writing += time.Since(t)
		say("wrote %d (%.0f%% of the time in Write)", i, 100*writing.Seconds()/time.Since(start).Seconds())
	}
}

// Contents is version i of the file: its number, then 0 to 39 lines, so
// that its size crosses cluster boundaries up and down.
func Contents(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "version %d\n", i)
	for k := range (i * 7) % 40 {
		fmt.Fprintf(&b, "line %d of version %d\n", k, i)
	}
	return []byte(b.String())
}

// Parse returns the version b holds, or -1 if b is not exactly one.
func Parse(b []byte) int {
	first, _, _ := strings.Cut(string(b), "\n")
	i, err := strconv.Atoi(strings.TrimPrefix(first, "version "))
	if err != nil || i < 0 || string(Contents(i)) != string(b) {
		return -1
	}
	return i
}
