// Command ntpbox-vm boots the ntpbox image under QEMU with the console on
// this terminal (what `make qemu` runs). The VM gets 198.18.0.2/24 on a
// throwaway lab network; a client namespace at 198.18.0.10 can query it:
//
//	ip netns exec ntpbox-cl-XXXXXXXX ntpdig 198.18.0.2
//
// With -disk it boots a disk image (build/disk.sh) through the firmware
// instead, SeaBIOS or, with -uefi, OVMF (-arch arm64: AAVMF, always); the
// address then comes from the image's cmdline.txt, and QEMU writes to the
// image.
//
// Ctrl-A X quits QEMU; Ctrl-A C then system_powerdown presses the power
// button. The lab is removed when QEMU exits.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ntpbox/ntpbox/qemu"
)

func main() {
	dir := flag.String("image", "out/image", "image `directory` (make image)")
	mem := flag.Int("m", 256, "guest memory in `MiB`")
	nic := flag.String("nic", "virtio-net-pci", "QEMU NIC `model` (virtio-net-pci, e1000, e1000e, rtl8139, pcnet, ne2k_pci)")
	appendArgs := flag.String("append", "ntpbox.address=198.18.0.2/24", "kernel `parameters` (ntpbox.DIRECTIVE=ARGS ...)")
	disk := flag.String("disk", "", "boot this disk `image` through the firmware instead (it is written to)")
	uefi := flag.Bool("uefi", false, "with -disk: boot through OVMF (package ovmf) instead of SeaBIOS")
	arch := flag.String("arch", "amd64", "the image's `architecture`: amd64, 386 (qemu-system-i386 -cpu pentium3, the oldest CPU the 386 image is tested on) or arm64 (qemu-system-aarch64 -M virt -cpu cortex-a53; -disk boots through AAVMF, UEFI only)")
	flag.Parse()
	bin, ok := qemu.Binaries[*arch]
	if !ok {
		fmt.Fprintf(os.Stderr, "ntpbox-vm: -arch %s: amd64, 386 or arm64\n", *arch)
		os.Exit(2)
	}
	c := qemu.Config{
		Binary: bin, Kernel: filepath.Join(*dir, "vmlinux"), Initramfs: filepath.Join(*dir, "initramfs.cpio.zst"),
		MemoryMiB: *mem, NIC: *nic, Append: strings.Fields(*appendArgs),
	}
	if *arch == "386" {
		// Debian's 686 kernel has no PVH entry: QEMU boots its bzImage
		// (the image has no vmlinux).
		c.Kernel, c.Extra = qemu.ArchImage(*dir, *arch).Kernel, []string{"-cpu", "pentium3"}
	}
	if *arch == "arm64" {
		// QEMU's virt board: no screen, the console on its PL011 (the
		// last console= is /dev/console); the kernel is the Image.
		c.Kernel, c.NoScreen = qemu.ArchImage(*dir, *arch).Kernel, true
		c.Extra = []string{"-M", "virt", "-cpu", "cortex-a53"}
		c.Append = append(c.Append, "console=ttyAMA0")
	}
	if *disk != "" {
		c.Kernel, c.Initramfs, c.Append, c.Disk = "", "", nil, *disk
	}
	if *disk != "" && *arch == "arm64" {
		// The disk is the boot device (bootindex), so AAVMF connects
		// only it and not its network boot stack on the NIC, which
		// would leave no room for the 31 MB kernel below -m 176
		// (docs/appliance.md).
		c.Disk = ""
		c.Extra = append(c.Extra, "-drive", "file="+*disk+",format=raw,if=none,id=hd0",
			"-device", "virtio-blk-pci,drive=hd0,bootindex=0")
	}
	os.Exit(run(c, *disk != "" && (*uefi || *arch == "arm64")))
}

// firmware is the UEFI firmware of QEMU's machine: code and the
// variable store to copy.
func firmware(c qemu.Config) (code, vars string) {
	if c.Binary == qemu.Binaries["arm64"] {
		return qemu.AAVMFCode, qemu.AAVMFVars
	}
	return "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"
}

// varsCopy returns a writable copy of a UEFI variable store.
func varsCopy(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "ntpbox-vm-vars-*.fd")
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = f.Write(b)
	return f.Name(), err
}

func run(c qemu.Config, uefi bool) int {
	if uefi {
		code, store := firmware(c)
		vars, err := varsCopy(store)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ntpbox-vm: %v\n", err)
			return 1
		}
		defer os.Remove(vars)
		c.UEFICode, c.UEFIVars = code, vars
	}
	// The terminal's Ctrl-C belongs to the guest; SIGTERM stops the VM.
	signal.Ignore(syscall.SIGINT)
	lab, err := qemu.NewLab()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ntpbox-vm: %v\n", err)
		return 1
	}
	defer lab.Close()
	c.Netns, c.Tap, c.Interactive = lab.VMNetns, lab.Tap, true
	vm, err := qemu.Start(c)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ntpbox-vm: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "ntpbox-vm: booting; query it from another terminal with\n"+
		"  ip netns exec %s ntpdig %s\n"+
		"Ctrl-A X quits; Ctrl-A C, then system_powerdown, presses the power button.\n", lab.ClientNetns, qemu.LabVMAddr)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGHUP)
	select {
	case <-vm.Done():
	case <-term:
		vm.Kill()
	}
	return 0
}
