// Package qemu boots ntpbox's kernel and initramfs under QEMU (TCG: KVM
// hangs Debian kernels on our machines) and watches the serial console,
// for tests and for `make qemu`.
//
// A [Lab] is the test network: a namespace holding QEMU's tap on a
// bridge, and a client namespace wired to the bridge by a veth pair,
// 198.18.0.10/24. Nothing leaves the machine.
//
//	lab, _ := qemu.NewLab()
//	defer lab.Close()
//	vm, _ := qemu.Start(qemu.Config{
//		Kernel: "out/image/vmlinux", Initramfs: "out/image/initramfs.cpio.gz",
//		Append: []string{"ntpbox.address=198.18.0.2/24", "ntpbox.allow=all"},
//		Netns:  lab.VMNetns, Tap: lab.Tap,
//	})
//	defer vm.Kill()
//	vm.Expect("ntpbox: serving", 2*time.Minute)
//	out, _ := lab.Client("ntpdig", "-j", "198.18.0.2").CombinedOutput()
package qemu
