#!/bin/bash
# make run: start `ntpbox serve -x` on the example config, show a query
# answered, then keep serving until Ctrl-C (or exit at once with ONCE=1).
set -euo pipefail
bin=$1 conf=$2
port=$(awk '$1=="port"{print $2}' "$conf")
addr=$(awk '$1=="bindaddress"{print $2}' "$conf")
if ss -Huan "sport = :$port" | grep -q .; then
	echo "run: UDP port $port is busy; change 'port' in $conf" >&2
	exit 1
fi
echo "== ntpbox check -f $conf"
"$bin" check -f "$conf"
echo "== ntpbox serve -x -f $conf"
"$bin" serve -x -f "$conf" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	"$bin" query -t 200ms -p "$port" "$addr" >/dev/null 2>&1 && break
	kill -0 $pid || exit 1
	sleep 0.1
done
echo "== ntpbox query -p $port $addr"
"$bin" query -p "$port" "$addr"
if [ "${ONCE:-}" = 1 ]; then exit 0; fi
echo "== serving on $addr:$port; Ctrl-C to stop"
wait $pid
