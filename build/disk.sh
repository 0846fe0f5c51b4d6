#!/bin/bash
# Writes the appliance's disk image, DIR/ntpbox-amd64.img, from the
# kernel and initramfs `mkimage` put in DIR: an MBR partition table with
# one bootable FAT32 partition labelled NTPBOX (init mounts it at /perm)
# that boots both ways:
#
#   BIOS: syslinux's mbr.bin in the MBR, ldlinux.sys in the partition,
#         syslinux.cfg;
#   UEFI: systemd-boot as EFI/BOOT/BOOTX64.EFI (the removable-media
#         path), loader/loader.conf and loader/entries/ntpbox.conf; the
#         kernel's own EFI stub does the rest. No loader/random-seed:
#         init writes one on the box.
#
# Both load the same /vmlinuz and /initrd.zst with the same command line.
# The partition also carries ntpbox.conf (the baked config, to edit);
# init reads it and /perm/cmdline.txt at boot.
#
# The bytes depend only on the inputs: fixed volume id (--invariant),
# file times from SOURCE_DATE_EPOCH (default 2024-01-01).
#
# ARCH arm64 writes DIR/ntpbox-arm64.img, which boots through UEFI only:
# systemd-boot's BOOTAA64.EFI from Debian's systemd-boot-efi:arm64
# (build/kernel.sh CACHE arm64 systemd-boot-efi fetches it, hash and
# md5sums checked; KERNEL_CACHE names the cache) and the loader entry
# with the console on the PL011 (ttyAMA0); no syslinux, no MBR code.
# vmlinuz there is Debian's uncompressed arm64 Image, itself an EFI
# program (the kernel's EFI stub), which systemd-boot starts.
#
# The same arm64 image boots a Raspberry Pi 3 B, 3 B+ or 4 B through the
# Pi's own firmware, which reads the MBR and the FAT partition: from
# Debian's raspi-firmware (non-free-firmware; build/kernel.sh CACHE
# arm64 raspi-firmware) bootcode.bin (the Pi 3's second stage; the
# Pi 4's is in its EEPROM), start*.elf and fixup*.dat (the GPU firmware,
# all variants: config.txt options pick them), and its copyright file
# as LICENCE.raspi-firmware (the Broadcom licence asks that copies carry
# it); the kernel package's Pi DTBs (bcm2837-rpi-*.dtb, bcm2711-rpi-
# *.dtb, found by their upstream names: upstream_kernel=1); config.txt,
# which names /vmlinuz and /initrd.zst; and cmdline.txt, the kernel's
# command line there (console on the mini UART, ttyS1, which
# enable_uart=1 turns on). init also reads cmdline.txt's ntpbox.*
# parameters, on every machine. The firmware's version, SHA256 and
# licence go to the manifest. arm64's image is 128 MiB (the firmware
# takes 22 MB).
#
# ARCH 386 writes DIR/ntpbox-386.img, which boots through BIOS only
# (syslinux is the same for both; a 386 PC has no 64-bit UEFI, and
# systemd-boot's 32-bit EFI binary is not shipped): no EFI/ and loader/.
# The image's size and sha256 are added to DIR/manifest.txt.
#
#   build/disk.sh DIR [CONFIG [ARCH]]   CONFIG default: initramfs/ntpbox.conf, ARCH: amd64
set -euo pipefail
dir=$1
conf=${2:-initramfs/ntpbox.conf}
arch=${3:-amd64}
case $arch in
amd64 | 386 | arm64) ;;
*)
	echo "disk: unknown ARCH $arch (amd64, 386 or arm64)" >&2
	exit 2
	;;
esac
out=$dir/ntpbox-$arch.img
mib=${NTPBOX_DISK_MIB:-64}
cmdline="console=tty0 console=ttyS0,115200 panic=10"
mbr=/usr/lib/syslinux/mbr/mbr.bin
sdboot=/usr/lib/systemd/boot/efi/systemd-bootx64.efi efiname=BOOTX64.EFI bios=1
case $arch in
386) sdboot= ;;
arm64)
	cmdline="console=ttyAMA0,115200 panic=10"
	efiname=BOOTAA64.EFI bios= mbr=
	mib=${NTPBOX_DISK_MIB:-128}
	sddir=$(build/kernel.sh "${KERNEL_CACHE:-out/cache}" arm64 systemd-boot-efi)
	sdboot=$sddir/usr/lib/systemd/boot/efi/systemd-bootaa64.efi
	pifw=$(build/kernel.sh "${KERNEL_CACHE:-out/cache}" arm64 raspi-firmware)
	kdir=$(build/kernel.sh "${KERNEL_CACHE:-out/cache}" arm64)
	pidtbs=$(ls "$kdir"/usr/lib/linux-image-*/broadcom/bcm2711-rpi-*.dtb "$kdir"/usr/lib/linux-image-*/broadcom/bcm2837-rpi-*.dtb 2>/dev/null || true)
	if [ -z "$pidtbs" ]; then
		echo "disk: no Raspberry Pi DTBs (usr/lib/linux-image-*/broadcom/bcm2711-rpi-*.dtb, bcm2837-rpi-*.dtb) in $kdir" >&2
		exit 1
	fi
	;;
esac
for f in $mbr $sdboot mcopy mkfs.fat syslinux sfdisk; do
	if [ ! -e "$f" ] && ! command -v "$f" >/dev/null; then
		echo "disk: $f is missing (build/deps.sh installs syslinux, syslinux-common, mtools, dosfstools, fdisk, systemd-boot-efi)" >&2
		exit 1
	fi
done
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
export MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

start=2048 # sectors: the partition starts at 1 MiB
img=$tmp/disk.img part=$tmp/part.img
truncate -s "${mib}M" "$img"
printf 'label: dos\nlabel-id: 0x4e545042\nstart=%d, type=c, bootable\n' $start | sfdisk -q "$img"
truncate -s $(((mib * 2048 - start) * 512)) "$part"
mkfs.fat -F 32 -s 1 -n NTPBOX --invariant -h $start "$part" >/dev/null

# Every file gets the same time.
stamp() { touch -d "@$SOURCE_DATE_EPOCH" "$@"; }
mkdir -p "$tmp/files/loader/entries"
cat > "$tmp/files/syslinux.cfg" <<CFG
DEFAULT ntpbox
PROMPT 0
TIMEOUT 0
SERIAL 0 115200
LABEL ntpbox
  LINUX /vmlinuz
  INITRD /initrd.zst
  APPEND $cmdline
CFG
# random-seed-mode always: systemd-boot 252 passes a seed derived from
# loader/random-seed (which init writes once the box's random pool is
# ready; the image ships none, or every copy would share it) in the EFI
# variable LoaderRandomSeed, which init credits. Without it, it does so only
# when `bootctl install` set LoaderSystemToken, which never happens here.
printf 'default ntpbox.conf\ntimeout 0\nconsole-mode keep\neditor no\nrandom-seed-mode always\n' > "$tmp/files/loader/loader.conf"
printf 'title ntpbox\nlinux /vmlinuz\ninitrd /initrd.zst\noptions %s\n' "$cmdline" > "$tmp/files/loader/entries/ntpbox.conf"
cp "$dir/vmlinuz" "$tmp/files/vmlinuz"
cp "$dir/initramfs.cpio.zst" "$tmp/files/initrd.zst"
cp "$conf" "$tmp/files/ntpbox.conf"
if [ -n "${pifw:-}" ]; then
	mkdir "$tmp/files/pi"
	cp "$pifw"/usr/lib/raspi-firmware/bootcode.bin "$pifw"/usr/lib/raspi-firmware/start*.elf \
		"$pifw"/usr/lib/raspi-firmware/fixup*.dat $pidtbs "$tmp/files/pi/"
	cp "$pifw/usr/share/doc/raspi-firmware/copyright" "$tmp/files/pi/LICENCE.raspi-firmware"
	cat >"$tmp/files/pi/config.txt" <<'CFG'
# The Raspberry Pi firmware's settings (Pi 3 B, 3 B+, 4 B); UEFI ignores
# this file. The kernel and initramfs are the ones systemd-boot loads.
arm_64bit=1
kernel=vmlinuz
initramfs initrd.zst followkernel
# The DTBs are the kernel package's, under their upstream names
# (bcm2837-rpi-3-b.dtb, bcm2837-rpi-3-b-plus.dtb, bcm2711-rpi-4-b.dtb).
upstream_kernel=1
# The serial console on GPIO 14/15 (the mini UART, ttyS1 in cmdline.txt).
enable_uart=1
CFG
	# The kernel's command line on a Pi: one line.
	printf 'console=tty0 console=ttyS1,115200 panic=10\n' >"$tmp/files/pi/cmdline.txt"
	stamp "$tmp/files/pi/"*
fi
[ -z "$sdboot" ] || cp "$sdboot" "$tmp/files/$efiname"
stamp "$tmp/files/"* "$tmp/files/loader/"* "$tmp/files/loader/entries/"*

[ -z "$bios" ] || syslinux --install "$part"
if [ -n "$sdboot" ]; then
	mmd -i "$part" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
	mcopy -m -i "$part" "$tmp/files/$efiname" "::/EFI/BOOT/$efiname"
	mcopy -m -i "$part" "$tmp/files/loader/loader.conf" ::/loader/loader.conf
	mcopy -m -i "$part" "$tmp/files/loader/entries/ntpbox.conf" ::/loader/entries/ntpbox.conf
fi
files="vmlinuz initrd.zst ntpbox.conf"
[ -z "$bios" ] || files="syslinux.cfg $files"
for f in $files; do
	mcopy -m -i "$part" "$tmp/files/$f" "::/$f"
done
if [ -n "${pifw:-}" ]; then
	mcopy -m -i "$part" "$tmp/files/pi/"* ::/
fi

dd if="$part" of="$img" bs=512 seek=$start conv=notrunc status=none
[ -z "$mbr" ] || dd if="$mbr" of="$img" bs=440 count=1 conv=notrunc status=none
if ! cmp -s "$img" "$out" 2>/dev/null; then
	mv "$img" "$out"
fi
size=$(stat -c %s "$out") sum=$(sha256sum <"$out" | cut -c1-64)
if [ -f "$dir/manifest.txt" ]; then
	sed -i '/^# disk image: /d' "$dir/manifest.txt"
	echo "# disk image: $(basename "$out") $size bytes, sha256 $sum" >>"$dir/manifest.txt"
	sed -i '/^# raspi-firmware: /d' "$dir/manifest.txt"
	if [ -n "${pifw:-}" ]; then
		read -r _ pver pdeb psha <"$pifw/.package"
		echo "# raspi-firmware: $pver ($pdeb, sha256 $psha; Debian non-free-firmware): bootcode.bin start*.elf fixup*.dat; licence: Broadcom's, binary redistribution for Raspberry Pi devices only (Proprietary_1 in its copyright file, on the disk as LICENCE.raspi-firmware)" >>"$dir/manifest.txt"
	fi
fi
echo "$out: $size bytes, sha256 $sum"
