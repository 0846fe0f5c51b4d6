#!/bin/bash
# Installs the Debian packages the tests and benchmarks use, so that no
# packaged daemon starts on the host or touches its clock: a policy-rc.d
# that forbids service starts is put in place first.
set -euo pipefail
need=()
for p in chrony ntpsec-ntpdate ntpsec-ntpdig iproute2 util-linux procps qemu-system-x86 qemu-system-arm qemu-efi-aarch64 xz-utils zstd \
	syslinux syslinux-common mtools dosfstools fdisk systemd-boot-efi ovmf ca-certificates \
	busybox isc-dhcp-client bind9-dnsutils dnsmasq-base dhcpcd-base avahi-daemon avahi-utils dbus-daemon chromium prometheus curl; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: need root to install: ${need[*]}" >&2
	exit 1
fi
echo "deps: installing ${need[*]} (services kept from starting by policy-rc.d)"
# The guard is ours only if there was none: remove it again when done,
# even on failure, so that the machine's services start as before.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
"$(dirname "$0")/apt-update.sh" || echo "deps: apt-get update failed; installing from the lists apt has" >&2
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need[@]}"
