package qemu

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is one VM.
type Config struct {
	Binary    string // default qemu-system-x86_64
	Kernel    string // vmlinux (PVH, fast) or bzImage; "" boots Disk through the firmware
	Initramfs string //
	// Append has kernel parameters, after console=tty0 console=ttyS0
	// panic=-1 (a panic ends QEMU, as -no-reboot is set) no_timer_check
	// (under TCG on a busy machine the IO-APIC timer check can fail and
	// panic); only with Kernel.
	Append []string
	// Disk is a raw disk image attached as the first disk (QEMU writes
	// to it); DiskIf its interface: virtio (default), ide.
	Disk, DiskIf string
	// UEFICode and UEFIVars are a UEFI firmware: its code
	// (OVMF_CODE.fd) and a writable copy of its variable store
	// (OVMF_VARS.fd), as two pflash drives. Empty: SeaBIOS.
	UEFICode, UEFIVars string
	MemoryMiB          int // default 256
	// NoScreen leaves out the PC's VGA screen: arm64's virt board has
	// none, its console is the PL011 serial port (ttyAMA0).
	NoScreen bool
	// NIC is the QEMU network device model (virtio-net-pci, e1000,
	// usb-net, ...); default virtio-net-pci. It is used only with Tap.
	NIC   string
	Tap   string // tap interface the NIC is wired to; "" for no NIC
	MAC   string // default 52:54:00:12:34:56
	Netns string // run QEMU in this network namespace (where Tap is)
	QMP   string // path of a QMP socket to create, for Powerdown; "" for none
	// Interactive attaches QEMU to the terminal (-nographic: Ctrl-A X
	// quits, Ctrl-A C reaches the monitor) instead of capturing the
	// console.
	Interactive bool
	Extra       []string // more QEMU arguments
	// Console, if set, gets every console line as it comes, with the
	// time since QEMU started.
	Console func(at time.Duration, line string)
	// SerialPort is the board's serial port (in QEMU's -serial order)
	// that is the console captured; the ones before it are left
	// unconnected. 0 for most boards; the Raspberry Pi's console is its
	// mini UART, raspi3b's second port (ttyS1).
	SerialPort int
}

// Args returns the QEMU command line (without the binary).
func (c Config) Args() []string {
	mem := c.MemoryMiB
	if mem == 0 {
		mem = 256
	}
	args := []string{
		"-accel", "tcg", "-nodefaults", "-no-user-config", "-no-reboot",
		"-m", strconv.Itoa(mem), "-smp", "1",
	}
	if !c.NoScreen {
		// A screen, as a PC has: the kernel's tty0 is its text console.
		args = append(args, "-vga", "std")
	}
	if c.Kernel != "" {
		// The screen and the serial port both, as the disk image's boot
		// loaders set them: ttyS0 last, so it is /dev/console.
		args = append(args, "-kernel", c.Kernel, "-initrd", c.Initramfs,
			"-append", strings.Join(append([]string{"console=tty0", "console=ttyS0", "panic=-1", "no_timer_check"}, c.Append...), " "))
	}
	if c.UEFICode != "" {
		args = append(args,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+c.UEFICode,
			"-drive", "if=pflash,format=raw,unit=1,file="+c.UEFIVars)
	}
	if c.Disk != "" {
		dif := c.DiskIf
		if dif == "" {
			dif = "virtio"
		}
		args = append(args, "-drive", "file="+c.Disk+",format=raw,if="+dif)
	}
	for range c.SerialPort {
		args = append(args, "-serial", "null")
	}
	if c.Interactive {
		args = append(args, "-nographic", "-serial", "mon:stdio")
	} else {
		args = append(args, "-display", "none", "-serial", "stdio")
	}
	if c.Tap != "" {
		nic, mac := c.NIC, c.MAC
		if nic == "" {
			nic = "virtio-net-pci"
		}
		if mac == "" {
			mac = "52:54:00:12:34:56"
		}
		dev := nic + ",netdev=n0,mac=" + mac
		if !strings.HasPrefix(nic, "usb-") {
			// romfile= skips the iPXE ROM: nothing boots from the
			// network. (A USB NIC has no ROM.)
			dev += ",romfile="
		}
		args = append(args,
			"-netdev", "tap,id=n0,ifname="+c.Tap+",script=no,downscript=no",
			"-device", dev)
	}
	// No RNG device: old PCs have none, and TCG's default CPU has no
	// RDRAND, so the guest boots as those machines do, with a random
	// pool that is not ready for minutes. A test that is about something
	// else may add one through Extra, saying why.
	if c.QMP != "" {
		args = append(args, "-qmp", "unix:"+c.QMP+",server=on,wait=off")
	}
	return append(args, c.Extra...)
}

// Command returns the command that runs the VM, in c.Netns if set.
func (c Config) Command() *exec.Cmd {
	bin := c.Binary
	if bin == "" {
		bin = "qemu-system-x86_64"
	}
	if c.Netns != "" {
		return exec.Command("ip", append([]string{"netns", "exec", c.Netns, bin}, c.Args()...)...)
	}
	return exec.Command(bin, c.Args()...)
}

// Line is one line of the serial console.
type Line struct {
	At   time.Duration // since QEMU started
	Text string
}

// VM is a running QEMU.
type VM struct {
	Config  Config
	Started time.Time

	cmd  *exec.Cmd
	done chan struct{} // closed when QEMU has exited
	err  error         // QEMU's exit, set before done is closed

	mu      sync.Mutex
	lines   []Line
	next    int           // Expect looks from here
	changed chan struct{} // closed and replaced on each new line
}

// Start starts QEMU.
func Start(c Config) (*VM, error) {
	vm := &VM{Config: c, cmd: c.Command(), done: make(chan struct{}), changed: make(chan struct{})}
	var out io.ReadCloser
	if c.Interactive {
		vm.cmd.Stdin, vm.cmd.Stdout, vm.cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	} else {
		pr, pw := io.Pipe()
		vm.cmd.Stdout, vm.cmd.Stderr = pw, pw
		out = pr
	}
	vm.Started = time.Now()
	if err := vm.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", vm.cmd.Path, err)
	}
	readDone := make(chan struct{})
	if out != nil {
		go func() { vm.read(out); close(readDone) }()
	} else {
		close(readDone)
	}
	go func() {
		vm.err = vm.cmd.Wait()
		if pw, ok := vm.cmd.Stdout.(*io.PipeWriter); ok {
			pw.Close()
		}
		<-readDone // no console callback after done
		close(vm.done)
	}()
	return vm, nil
}

func (vm *VM) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := Line{At: time.Since(vm.Started), Text: strings.TrimRight(sc.Text(), "\r")}
		if vm.Config.Console != nil {
			vm.Config.Console(l.At, l.Text)
		}
		vm.mu.Lock()
		vm.lines = append(vm.lines, l)
		close(vm.changed)
		vm.changed = make(chan struct{})
		vm.mu.Unlock()
	}
}

// ErrExited is returned by Expect when QEMU ends first.
var ErrExited = errors.New("QEMU exited")

// Expect waits for a console line containing s that comes after the line
// the previous Expect matched, and returns it.
func (vm *VM) Expect(s string, timeout time.Duration) (Line, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		vm.mu.Lock()
		for ; vm.next < len(vm.lines); vm.next++ {
			if l := vm.lines[vm.next]; strings.Contains(l.Text, s) {
				vm.next++
				vm.mu.Unlock()
				return l, nil
			}
		}
		changed := vm.changed
		vm.mu.Unlock()
		select {
		case <-changed:
		case <-vm.done:
			// Every line has been read by now: look once more.
			vm.mu.Lock()
			more := vm.next < len(vm.lines)
			vm.mu.Unlock()
			if !more {
				return Line{}, fmt.Errorf("waiting for %q: %w (%v)", s, ErrExited, vm.err)
			}
		case <-deadline.C:
			return Line{}, fmt.Errorf("waiting for %q: timed out after %v", s, timeout)
		}
	}
}

// Lines returns the console so far.
func (vm *VM) Lines() []Line {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return append([]Line(nil), vm.lines...)
}

// Wait waits for QEMU to exit, at most timeout.
func (vm *VM) Wait(timeout time.Duration) error {
	select {
	case <-vm.done:
		return vm.err
	default:
	}
	select {
	case <-vm.done:
		return vm.err
	case <-time.After(timeout):
		return fmt.Errorf("QEMU still running after %v", timeout)
	}
}

// Done is closed when QEMU has exited.
func (vm *VM) Done() <-chan struct{} { return vm.done }

// Kill ends QEMU at once and waits for it.
func (vm *VM) Kill() {
	select {
	case <-vm.done:
		return
	default:
	}
	vm.cmd.Process.Kill()
	<-vm.done
}
