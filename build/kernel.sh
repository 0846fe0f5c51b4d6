#!/bin/bash
# Fetches Debian 12's kernel package (linux-image-amd64's current
# dependency) into a cache and unpacks it there, without installing it:
# nothing goes to the host's /boot or /lib/modules. Prints the unpacked
# directory (containing boot/vmlinuz-VER and lib/modules/VER).
#
#   build/kernel.sh [CACHE]      default CACHE: out/cache
set -euo pipefail
cache=${1:-out/cache}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
kpkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
pkg=$(kpkg)
if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
	apt-get -o DPkg::Lock::Timeout=600 update -q >&2
	pkg=$(kpkg)
fi
if [ -z "$pkg" ]; then
	echo "kernel: apt-cache knows no linux-image-amd64; run apt-get update" >&2
	exit 1
fi
# The .deb apt's index names, and its SHA256 there. The cached copy is
# checked against that hash every time (a cache on a shared disk can be
# corrupted or tampered with), and the unpacked tree against the
# package's own md5sums.
info=$(apt-cache show --no-all-versions "$pkg")
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
	(cd "$cache" && apt-get -o DPkg::Lock::Timeout=600 download -q "$pkg=$ver" >&2)
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
