// Package qemu boots ntpbox's kernel and initramfs under QEMU (TCG: KVM
// hangs Debian kernels on our machines) and watches the serial console,
// for tests and for `make qemu`. It also boots the disk image through
// SeaBIOS or OVMF ([Config.Disk], [Config.UEFICode]) and reads and
// writes the files on its FAT partition with mtools ([DiskFile]).
//
// A [Lab] is the test network: a namespace holding QEMU's tap on a
// bridge, and a client namespace wired to the bridge by a veth pair,
// 198.18.0.10/24; the bridge has 198.18.0.1, where [Lab.UpstreamT] runs
// an NTP server for the VM. Nothing leaves the machine.
//
//	lab, _ := qemu.NewLab()
//	defer lab.Close()
//	vm, _ := qemu.Start(qemu.Config{
//		Kernel: "out/image/vmlinux", Initramfs: "out/image/initramfs.cpio.zst",
//		Append: []string{"ntpbox.address=198.18.0.2/24", "ntpbox.allow=all"},
//		Netns:  lab.VMNetns, Tap: lab.Tap,
//	})
//	defer vm.Kill()
//	vm.Expect("ntpbox: serving", 2*time.Minute)
//	out, _ := lab.Client("ntpdig", "-j", "198.18.0.2").CombinedOutput()
package qemu
