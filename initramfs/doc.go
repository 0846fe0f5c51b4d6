// Package initramfs builds ntpbox's boot image: a newc cpio archive
// (written with u-root's pkg/cpio) whose /init is the static ntpbox
// binary, with the NIC drivers and their dependencies, the modules.dep
// and modules.alias that init's driver loading reads, /dev/console and
// the baked-in /etc/ntpbox.conf. The same inputs give the same bytes:
// records come in a fixed order with zero times and owners.
//
// It also turns a Debian bzImage into the uncompressed vmlinux ELF that
// QEMU boots through PVH, which is much faster under TCG than having the
// kernel decompress itself.
//
// The command behind `make image` is a thin main over this package:
//
//	go run ./initramfs/cmd/mkimage -init out/ntpbox -kernel-dir out/cache/linux-image-6.1.0-56-amd64 -out out/image
package initramfs
