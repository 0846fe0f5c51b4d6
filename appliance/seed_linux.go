//go:build linux

package appliance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/u-root/u-root/pkg/kmodule"
	"golang.org/x/sys/unix"
)

// efiVars is where efivarfs is mounted, as systemd does.
const efiVars = "/sys/firmware/efi/efivars"

// fsImmutableFL is FS_IMMUTABLE_FL (linux/fs.h), which x/sys/unix lacks.
const fsImmutableFL = 0x10

// LinuxEntropy is the real [Entropy].
type LinuxEntropy struct {
	mountOnce sync.Once
	mountErr  error
}

var _ Entropy = (*LinuxEntropy)(nil)

// AddEntropy writes b into the pool with the RNDADDENTROPY ioctl on
// /dev/urandom (struct rand_pool_info: entropy_count, buf_size, buf).
func (*LinuxEntropy) AddEntropy(b []byte, bits int) error {
	f, err := os.OpenFile("/dev/urandom", os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("add entropy: %w", err)
	}
	defer f.Close()
	info := make([]byte, 8+len(b))
	binary.NativeEndian.PutUint32(info[0:], uint32(bits))
	binary.NativeEndian.PutUint32(info[4:], uint32(len(b)))
	copy(info[8:], b)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDADDENTROPY, uintptr(unsafe.Pointer(&info[0])))
	runtime.KeepAlive(info)
	if errno != 0 {
		return fmt.Errorf("add entropy: ioctl RNDADDENTROPY /dev/urandom: %w", errno)
	}
	return nil
}

// Random fills b from getrandom without blocking: GRND_NONBLOCK, else
// (the pool not ready) GRND_INSECURE.
func (*LinuxEntropy) Random(b []byte) (bool, error) {
	ready := true
	flags := unix.GRND_NONBLOCK
	for n := 0; n < len(b); {
		k, err := unix.Getrandom(b[n:], flags)
		switch {
		case err == unix.EAGAIN && ready:
			ready, flags = false, unix.GRND_INSECURE
			continue
		case err == unix.EINTR:
			continue
		case err != nil:
			return false, fmt.Errorf("getrandom: %w", err)
		}
		n += k
	}
	return ready, nil
}

// WaitReady blocks in getrandom until the pool is ready. The kernel
// (5.4 and later) meanwhile gathers entropy from timer jitter in the
// waiting thread; the thread runs under SCHED_IDLE, so that this takes
// only CPU time nothing else wants. (Its goroutine ends locked to the
// thread, so the thread ends with it.)
func (*LinuxEntropy) WaitReady() error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
		unix.SchedSetAttr(0, &attr, 0) // without it, the wait is only more costly
		var b [1]byte
		for {
			_, err := unix.Getrandom(b[:], 0)
			if err != unix.EINTR {
				errc <- err
				return
			}
		}
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("getrandom: %w", err)
	}
	return nil
}

// Uptime reads CLOCK_BOOTTIME.
func (*LinuxEntropy) Uptime() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return time.Duration(ts.Nano())
}

// efivarfs mounts efivarfs (loading its module) once, if the machine
// booted through UEFI and nothing mounted it yet.
func (l *LinuxEntropy) efivarfs() error {
	l.mountOnce.Do(func() {
		if _, err := os.Stat("/sys/firmware/efi"); err != nil {
			l.mountErr = ErrNoEFI
			return
		}
		var st unix.Statfs_t
		if unix.Statfs(efiVars, &st) == nil && uint32(st.Type) == unix.EFIVARFS_MAGIC {
			return
		}
		const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
		err := unix.Mount("efivarfs", efiVars, "efivarfs", flags, "")
		if errors.Is(err, unix.ENODEV) {
			if p, perr := kmodule.NewProber(kmodule.ProbeOpts{}); perr == nil && p.Probe("efivarfs", "") == nil {
				err = unix.Mount("efivarfs", efiVars, "efivarfs", flags, "")
			}
		}
		if err != nil {
			l.mountErr = fmt.Errorf("mount efivarfs on %s: %w", efiVars, err)
		}
	})
	return l.mountErr
}

// EFIVariable reads efivarfs's file for name: 4 bytes of attributes,
// then the data.
func (l *LinuxEntropy) EFIVariable(name string) ([]byte, error) {
	if err := l.efivarfs(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(efiVars, name))
	if err != nil {
		return nil, err
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("EFI variable %s: %d bytes, want 4 of attributes and data", name, len(b))
	}
	return b[4:], nil
}

// DeleteEFIVariable removes efivarfs's file for name, which efivarfs
// makes immutable: the flag is cleared first (FS_IOC_SETFLAGS).
func (l *LinuxEntropy) DeleteEFIVariable(name string) error {
	if err := l.efivarfs(); err != nil {
		return err
	}
	p := filepath.Join(efiVars, name)
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err == nil && flags&fsImmutableFL != 0 {
		v := int(flags &^ fsImmutableFL)
		err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, v)
	}
	f.Close()
	if err != nil {
		return fmt.Errorf("clear the immutable flag of %s: %w", p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
