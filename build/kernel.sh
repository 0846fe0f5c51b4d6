#!/bin/bash
# Fetches Debian 12's kernel package (the current dependency of
# linux-image-amd64, of linux-image-686 for ARCH 386: Debian's i686
# kernel without PAE, or of linux-image-arm64 for ARCH arm64) into a
# cache and unpacks it there, without installing it: nothing goes to the
# host's /boot or /lib/modules. Prints the unpacked directory
# (containing boot/vmlinuz-VER and lib/modules/VER).
#
#   build/kernel.sh [CACHE [ARCH [PACKAGE]]]   default CACHE: out/cache, ARCH: amd64
#
# With PACKAGE, the same for that package of ARCH instead of the kernel
# (arm64's disk image takes systemd-boot-efi:arm64's BOOTAA64.EFI so,
# and the Raspberry Pi's boot firmware from raspi-firmware). The
# directory's .package file has "PACKAGE VERSION DEB SHA256".
#
# amd64 uses the host's apt lists. 386 and arm64 use private ones, in
# CACHE/apt-i386 and CACHE/apt-arm64, made from the host's sources with
# APT::Architecture set: the host's dpkg never learns of the foreign
# architecture (no dpkg --add-architecture).
set -euo pipefail
cache=${1:-out/cache}
arch=${2:-amd64}
only=${3:-}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
apt=()
case $arch in
amd64) meta=linux-image-amd64 debarch=amd64 ;;
386) meta=linux-image-686 debarch=i386 ;;
arm64) meta=linux-image-arm64 debarch=arm64 ;;
*)
	echo "kernel: unknown ARCH $arch (amd64, 386 or arm64)" >&2
	exit 2
	;;
esac
if [ "$arch" != amd64 ]; then
	priv=$cache/apt-$debarch
	mkdir -p "$priv/lists/partial" "$priv/cache/archives/partial"
	: >"$priv/status"
	apt=(-o APT::Architecture=$debarch -o APT::Architectures=$debarch
		-o Dir::State::Lists="$priv/lists" -o Dir::State::status="$priv/status"
		-o Dir::Cache="$priv/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
fi
# arm64's private lists also take the non-free-firmware component of
# every source that has main (raspi-firmware, the Raspberry Pi's boot
# firmware, is there): the host's sources.list.d copied with that
# component added, in place of the host's own.
if [ "$arch" = arm64 ]; then
	parts=$priv/sources.list.d
	rm -rf "$parts"
	mkdir -p "$parts"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		sed -E '/^Components:/{/[[:space:]]non-free-firmware([[:space:]]|$)/!s/[[:space:]]main([[:space:]]|$)/ main non-free-firmware\1/}' "$f" >"$parts/$(basename "$f")"
	done
	for f in /etc/apt/sources.list.d/*.list; do
		[ -e "$f" ] || continue
		sed -E '/^deb[[:space:]]/{/[[:space:]]non-free-firmware([[:space:]]|$)/!s/[[:space:]]main([[:space:]]|$)/ main non-free-firmware\1/}' "$f" >"$parts/$(basename "$f")"
	done
	list=$priv/sources.list
	: >"$list"
	if [ -f /etc/apt/sources.list ]; then
		sed -E '/^deb[[:space:]]/{/[[:space:]]non-free-firmware([[:space:]]|$)/!s/[[:space:]]main([[:space:]]|$)/ main non-free-firmware\1/}' /etc/apt/sources.list >"$list"
	fi
	apt+=(-o Dir::Etc::SourceParts="$parts" -o Dir::Etc::SourceList="$list")
fi
kpkg() {
	if [ -n "$only" ]; then
		apt-cache "${apt[@]}" show --no-all-versions "$only" >/dev/null 2>&1 && echo "$only"
		return
	fi
	apt-cache "${apt[@]}" depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}
here=$(cd "$(dirname "$0")" && pwd)
update() {
	if [ "$arch" = amd64 ]; then
		[ "$(id -u)" = 0 ] && "$here/apt-update.sh"
	else
		echo "kernel: updating the private $debarch apt lists in $priv" >&2
		"$here/apt-update.sh" "${apt[@]}"
	fi
}
# The private lists are nobody else's to update: refresh them daily, so
# that the kernel they name is still on the mirror.
# A refresh that still fails after apt-update.sh's retries is not the
# end: apt keeps every index it did fetch (and the older ones), and the
# kernel is looked up in those; only when none names it does this fail.
if [ "$arch" != amd64 ] && [ -z "$(find "$priv/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 -print -quit)" ]; then
	update || echo "kernel: the private $debarch apt lists could not all be refreshed; looking for the kernel in what apt has" >&2
fi
pkg=$(kpkg || true)
if [ -z "$pkg" ]; then
	update || true
	pkg=$(kpkg || true)
fi
if [ -z "$pkg" ]; then
	echo "kernel: apt-cache knows no ${only:-$meta}; run apt-get update" >&2
	exit 1
fi
# The .deb apt's index names, and its SHA256 there. The cached copy is
# checked against that hash every time (a cache on a shared disk can be
# corrupted or tampered with), and the unpacked tree against the
# package's own md5sums.
info=$(apt-cache "${apt[@]}" show --no-all-versions "$pkg")
field() { awk -v f="$1:" '$1 == f {print $2; exit}' <<<"$info"; }
ver=$(field Version)
sha=$(field SHA256)
fname=$(field Filename)
if [ -z "$sha" ] || [ -z "$fname" ]; then
	echo "kernel: apt's index gives no SHA256 or Filename for $pkg" >&2
	exit 1
fi
deb=$cache/$(basename "$fname")
download() {
	echo "kernel: downloading $pkg $ver" >&2
	(cd "$cache" && apt-get "${apt[@]}" -o DPkg::Lock::Timeout=600 download -q "$pkg:$(field Architecture)=$ver" >&2)
}
verified() { [ -f "$deb" ] && [ "$(sha256sum "$deb" | cut -d' ' -f1)" = "$sha" ]; }
if [ ! -f "$deb" ]; then
	download
fi
if ! verified; then
	echo "kernel: $deb does not match the SHA256 in apt's index for $pkg $ver ($sha): removing it and downloading it again" >&2
	rm -f "$deb"
	download
	if ! verified; then
		echo "kernel: the downloaded $deb does not match the SHA256 in apt's index ($sha) either; giving up" >&2
		exit 1
	fi
fi
dir=$cache/$pkg
[ -z "$only" ] || dir=$cache/${pkg}_$debarch
unpacked_ok() {
	[ "$(cat "$dir/.unpacked" 2>/dev/null)" = "$sha" ] &&
		(cd "$dir" && dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./md5sums | md5sum -c --quiet --strict >/dev/null 2>&1)
}
if ! unpacked_ok; then
	if [ -d "$dir" ]; then
		echo "kernel: $dir does not match $(basename "$deb") (its md5sums): unpacking it again" >&2
	fi
	rm -rf "$dir"
	dpkg-deb -x "$deb" "$dir"
	echo "$sha" >"$dir/.unpacked"
	if ! unpacked_ok; then
		echo "kernel: $dir does not match the md5sums of $(basename "$deb") right after unpacking" >&2
		exit 1
	fi
fi
# What was unpacked, for manifests: package, version, the .deb's name
# and SHA256.
printf '%s %s %s %s\n' "$pkg" "$ver" "$(basename "$deb")" "$sha" >"$dir/.package"
echo "$dir"
