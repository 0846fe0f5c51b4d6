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
amd64 | 386) ;;
*)
	echo "disk: unknown ARCH $arch (amd64 or 386)" >&2
	exit 2
	;;
esac
out=$dir/ntpbox-$arch.img
mib=${NTPBOX_DISK_MIB:-64}
cmdline="console=tty0 console=ttyS0,115200 panic=10"
mbr=/usr/lib/syslinux/mbr/mbr.bin
sdboot=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
[ "$arch" = amd64 ] || sdboot=
for f in "$mbr" $sdboot mcopy mkfs.fat syslinux sfdisk; do
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
[ -z "$sdboot" ] || cp "$sdboot" "$tmp/files/BOOTX64.EFI"
stamp "$tmp/files/"* "$tmp/files/loader/"* "$tmp/files/loader/entries/"*

syslinux --install "$part"
if [ -n "$sdboot" ]; then
	mmd -i "$part" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
	mcopy -m -i "$part" "$tmp/files/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
	mcopy -m -i "$part" "$tmp/files/loader/loader.conf" ::/loader/loader.conf
	mcopy -m -i "$part" "$tmp/files/loader/entries/ntpbox.conf" ::/loader/entries/ntpbox.conf
fi
for f in syslinux.cfg vmlinuz initrd.zst ntpbox.conf; do
	mcopy -m -i "$part" "$tmp/files/$f" "::/$f"
done

dd if="$part" of="$img" bs=512 seek=$start conv=notrunc status=none
dd if="$mbr" of="$img" bs=440 count=1 conv=notrunc status=none
if ! cmp -s "$img" "$out" 2>/dev/null; then
	mv "$img" "$out"
fi
size=$(stat -c %s "$out") sum=$(sha256sum <"$out" | cut -c1-64)
if [ -f "$dir/manifest.txt" ]; then
	sed -i '/^# disk image: /d' "$dir/manifest.txt"
	echo "# disk image: $(basename "$out") $size bytes, sha256 $sum" >>"$dir/manifest.txt"
fi
echo "$out: $size bytes, sha256 $sum"
