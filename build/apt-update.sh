#!/bin/bash
# apt-get update, tried again when it fails. A Debian mirror in the
# middle of a sync serves an index whose size does not match its Release
# file ("File has unexpected size ... Mirror sync in progress?") for a
# few minutes; one such index used to fail the whole build (stop 22's
# CI, bookworm-security's i386 Packages). Options for apt-get (such as
# kernel.sh's private lists) go first:
#
#   build/apt-update.sh [APT-GET OPTIONS...]
#
# APT_UPDATE_TRIES (default 4) attempts, APT_UPDATE_WAIT (default 30)
# seconds apart. apt-get's output goes to stderr, so that callers that
# print a result on stdout (kernel.sh) can use it. Exits 0 once an
# attempt succeeds, otherwise with apt-get's last status.
set -uo pipefail
tries=${APT_UPDATE_TRIES:-4}
wait=${APT_UPDATE_WAIT:-30}
for ((i = 1; ; i++)); do
	apt-get "$@" -o DPkg::Lock::Timeout=600 update -q >&2
	rc=$?
	[ $rc -eq 0 ] && exit 0
	if [ "$i" -ge "$tries" ]; then
		echo "apt-update: apt-get update failed $i times (exit $rc); giving up" >&2
		exit $rc
	fi
	echo "apt-update: apt-get update failed (exit $rc), attempt $i of $tries; trying again in ${wait}s (a mirror in the middle of a sync serves mismatched indexes for a while)" >&2
	sleep "$wait"
done
