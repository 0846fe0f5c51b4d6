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
dir=$cache/$pkg
if [ ! -f "$dir/.unpacked" ]; then
	deb=$(ls "$cache"/"$pkg"_*.deb 2>/dev/null | head -1 || true)
	if [ -z "$deb" ]; then
		echo "kernel: downloading $pkg" >&2
		(cd "$cache" && apt-get -o DPkg::Lock::Timeout=600 download -q "$pkg" >&2)
		deb=$(ls "$cache"/"$pkg"_*.deb | head -1)
	fi
	rm -rf "$dir"
	dpkg-deb -x "$deb" "$dir"
	touch "$dir/.unpacked"
fi
echo "$dir"
