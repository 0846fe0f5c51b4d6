// Command ntpbox-vm boots the ntpbox image under QEMU with the console on
// this terminal (what `make qemu` runs). The VM gets 198.18.0.2/24 on a
// throwaway lab network; a client namespace at 198.18.0.10 can query it:
//
//	ip netns exec ntpbox-cl-XXXXXXXX ntpdig 198.18.0.2
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
	flag.Parse()
	os.Exit(run(*dir, *mem, *nic, strings.Fields(*appendArgs)))
}

func run(dir string, mem int, nic string, params []string) int {
	// The terminal's Ctrl-C belongs to the guest; SIGTERM stops the VM.
	signal.Ignore(syscall.SIGINT)
	lab, err := qemu.NewLab()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ntpbox-vm: %v\n", err)
		return 1
	}
	defer lab.Close()
	vm, err := qemu.Start(qemu.Config{
		Kernel: filepath.Join(dir, "vmlinux"), Initramfs: filepath.Join(dir, "initramfs.cpio.gz"),
		MemoryMiB: mem, NIC: nic, Append: params,
		Netns: lab.VMNetns, Tap: lab.Tap, Interactive: true,
	})
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
