#!/bin/bash
# make bench, the appliance part: boot time, time to stratum-3 sync, the
# smallest memory that serves, and the sizes of what make image built.
# Runs the VM tests that measure these under TCG (a few minutes).
set -euo pipefail
img=${1:-out/image}
log=out/bench/vm.log
mkdir -p out/bench
echo "== appliance: boot, sync and memory under QEMU TCG (log: $log)"
NTPBOX_REQUIRE_TOOLS=1 NTPBOX_MEASURE=1 NTPBOX_MEASURE_MEM=${MEASURE_MEM:-128,112,96} NTPBOX_BIN=$PWD/out/ntpbox \
	go test -count=1 -timeout 30m -run 'TestMeasure|TestGuestClockSyncsToUpstream|TestDisklessThenLateStick' -v ./qemu > "$log" 2>&1 || true
grep -E -- '-m +[0-9]+:|first NTP reply .* RTC base|first NTP reply .* after the kernel ran /init|synchronised .* after QEMU started' "$log" | sed 's/^ *[a-z_]*\.go:[0-9]*: //' || {
	echo "no figures: see $log" >&2
	exit 1
}
echo "== image sizes"
for f in "$img"/vmlinuz "$img"/initramfs.cpio.zst "$img"/ntpbox-amd64.img; do
	printf '%-32s %10d bytes\n' "$(basename "$f")" "$(stat -c %s "$f")"
done
