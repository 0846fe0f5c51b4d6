#!/bin/bash
# Fetches Debian 12's kernel package (the current dependency of
# linux-image-amd64, or of linux-image-686 for ARCH 386: Debian's i686
# kernel without PAE) into a cache and unpacks it there, without
# installing it: nothing goes to the host's /boot or /lib/modules.
# Prints the unpacked directory (containing boot/vmlinuz-VER and
# lib/modules/VER).
#
#   build/kernel.sh [CACHE [ARCH]]   default CACHE: out/cache, ARCH: amd64
#
# amd64 uses the host's apt lists. 386 uses private ones, in
# CACHE/apt-i386, made from the host's sources with APT::Architecture
# i386: the host's dpkg never learns of i386 (no dpkg --add-architecture).
set -euo pipefail
cache=${1:-out/cache}
arch=${2:-amd64}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
apt=()
case $arch in
amd64) meta=linux-image-amd64 ;;
386)
	meta=linux-image-686
	priv=$cache/apt-i386
	mkdir -p "$priv/lists/partial" "$priv/cache/archives/partial"
	: >"$priv/status"
	apt=(-o APT::Architecture=i386 -o APT::Architectures=i386
		-o Dir::State::Lists="$priv/lists" -o Dir::State::status="$priv/status"
		-o Dir::Cache="$priv/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
	;;
*)
	echo "kernel: unknown ARCH $arch (amd64 or 386)" >&2
	exit 2
	;;
esac
kpkg() { apt-cache "${apt[@]}" depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
update() {
	if [ "$arch" = amd64 ]; then
		[ "$(id -u)" = 0 ] && apt-get -o DPkg::Lock::Timeout=600 update -q >&2
	else
		echo "kernel: updating the private i386 apt lists in $priv" >&2
		apt-get "${apt[@]}" update -q >&2
	fi
}
# The private lists are nobody else's to update: refresh them daily, so
# that the kernel they name is still on the mirror.
if [ "$arch" != amd64 ] && [ -z "$(find "$priv/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 -print -quit)" ]; then
	update
fi
pkg=$(kpkg || true)
if [ -z "$pkg" ]; then
	update || true
	pkg=$(kpkg || true)
fi
if [ -z "$pkg" ]; then
	echo "kernel: apt-cache knows no $meta; run apt-get update" >&2
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
echo "$dir"
