#!/bin/bash
# make bench: ntpbox beside chronyd under ntpload, on loopback, alternating
# A B A B, then a table of the figures and the ratios ntpbox/chronyd.
#
# Each round starts a fresh server pinned to CPU $SRV_CPU, with the
# generator on CPU $GEN_CPU, and measures:
#   blast   ntpload -rate 0: server CPU per reply and the saturated reply rate
#   fixed   ntpload -rate $MODRATE: p50/p99 latency
#   sweep   ntpload -sweep: the highest rate with <=1% loss
#   memory  VmHWM of the server after the blast (peak resident memory)
# ntpload's own trivial reflector is measured once, as the floor.
# Both servers run without a rate limit or control socket, with `local
# stratum 2` and `allow 127.0.0.0/8`, and never touch the clock (-x).
# Only the processes started here are stopped, by PID.
#
# usage: build/bench.sh NTPBOX_BIN NTPLOAD_SRC_DIR
# env:   ROUNDS=2 RUNS=3 DUR=3s MODRATE=10000 SWEEP_FROM=20000
#        SWEEP_MULT=1.25 SWEEP_DUR=2s GEN_CPU=0 SRV_CPU=1 OUT=out/bench
#        PORT_BASE=11200 (first port tried; busy ports are skipped)
#        QUIET_WAIT=15 QUIET_BUDGET=60 (s to wait, before each measurement
#        and in all, for other work on the machine to stop)
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 NTPBOX_BIN NTPLOAD_SRC_DIR" >&2; exit 2; }
NTPBOX=$(realpath "$1")
NTPLOAD_SRC=$2
BINDIR=$(dirname "$NTPBOX")
ROUNDS=${ROUNDS:-2}
RUNS=${RUNS:-3}
DUR=${DUR:-3s}
MODRATE=${MODRATE:-10000}
SWEEP_FROM=${SWEEP_FROM:-20000}
SWEEP_MULT=${SWEEP_MULT:-1.25}
SWEEP_DUR=${SWEEP_DUR:-2s}
GEN_CPU=${GEN_CPU:-0}
SRV_CPU=${SRV_CPU:-1}
OUT=${OUT:-$BINDIR/bench}
PORT_BASE=${PORT_BASE:-11200}
QUIET_WAIT=${QUIET_WAIT:-15}
QUIET_BUDGET=${QUIET_BUDGET:-60}
CHRONYD=${CHRONYD:-/usr/sbin/chronyd}

SRVPID=
WORK=
stop_server() {
	if [ -n "$SRVPID" ] && kill -0 "$SRVPID" 2>/dev/null; then
		kill "$SRVPID"
		wait "$SRVPID" 2>/dev/null || true
	fi
	SRVPID=
}
cleanup() {
	stop_server
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "bench: $*" >&2; exit 1; }

[ -x "$CHRONYD" ] || die "$CHRONYD not found (build/deps.sh installs chrony)"
mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT"/*.txt "$OUT"/*.stderr
WORK=$(mktemp -d /tmp/ntpbox-bench.XXXXXX)
NTPLOAD=$(realpath "$BINDIR")/ntpload
echo "== go build -o $NTPLOAD ($NTPLOAD_SRC)"
(cd "$NTPLOAD_SRC" && go build -o "$NTPLOAD" .)
GEN=(taskset -c "$GEN_CPU" "$NTPLOAD")

port_free() { ! ss -Huan "sport = :$1" | grep -q .; }
# free_port N: the first free UDP port from N on.
free_port() {
	local p=$1
	while ! port_free "$p"; do p=$((p + 1)); done
	echo "$p"
}

# wait_answer NAME PORT: poll until the server gives a synchronised reply.
wait_answer() {
	local name=$1 port=$2 i
	for i in $(seq 100); do
		"$NTPBOX" query -t 200ms -p "$port" 127.0.0.1 >/dev/null 2>&1 && return 0
		kill -0 "$SRVPID" 2>/dev/null || { cat "$OUT/$name.stderr" >&2; die "$name exited at startup"; }
		sleep 0.1
	done
	cat "$OUT/$name.stderr" >&2
	die "$name on port $port answers nothing"
}

start_ntpbox() { # port
	cat > "$WORK/ntpbox.conf" <<EOF
bindaddress 127.0.0.1
port $1
allow 127.0.0.0/8
local stratum 2
cmdport 0
bindcmdaddress /
EOF
	taskset -c "$SRV_CPU" "$NTPBOX" serve -x -f "$WORK/ntpbox.conf" 2>> "$OUT/ntpbox.stderr" &
	SRVPID=$!
	wait_answer ntpbox "$1"
}

start_chronyd() { # port
	cat > "$WORK/chrony.conf" <<EOF
port $1
cmdport 0
bindcmdaddress /
allow 127.0.0.0/8
local stratum 2
pidfile $WORK/chronyd.pid
EOF
	# -x: never touch the system clock; -d: foreground, log to stderr
	taskset -c "$SRV_CPU" "$CHRONYD" -x -d -f "$WORK/chrony.conf" 2>> "$OUT/chronyd.stderr" &
	SRVPID=$!
	wait_answer chronyd "$1"
}

# kv KEY: the value of KEY=... on stdin's last line.
kv() { tail -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# busy_pct SECONDS: CPU use of the whole machine (percent of one CPU).
busy_pct() {
	local a b
	a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat)
	sleep "$1"
	b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat)
	awk -v a="$a" -v b="$b" -v s="$1" 'BEGIN{printf "%d\n", (b-a)/s}' # USER_HZ=100: ticks/s = percent
}

# wait_quiet: other work on the machine distorts every figure; before each
# measurement wait up to $QUIET_WAIT s for it to use less than a tenth of
# a CPU, and no more than $QUIET_BUDGET s in all.
wait_quiet() {
	local t=0 busy
	while [ "$t" -lt "$QUIET_WAIT" ] && [ "$QUIET_BUDGET" -gt 0 ] && busy=$(busy_pct 1) && [ "$busy" -gt 10 ]; do
		[ "$t" = 0 ] && echo "   (machine busy, ${busy}% of a CPU: waiting up to ${QUIET_WAIT}s)"
		t=$((t + 1))
		QUIET_BUDGET=$((QUIET_BUDGET - 1))
	done
}

snapshot_load() { echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"; }

# measure NAME ROUND PORT [sweep]: blast, fixed rate, sweep and memory
# of the running server; results go to $OUT/NAME.txt, one line per round.
measure() {
	local name=$1 round=$2 sweep=${4:-sweep} t=127.0.0.1:$3
	local log="$OUT/$name-$round.log"
	wait_quiet
	snapshot_load > "$log"
	echo "== $name round $round: blast, $RUNS x $DUR" | tee -a "$log"
	"${GEN[@]}" -target "$t" -rate 0 -duration "$DUR" -runs "$RUNS" -server-pid "$SRVPID" >> "$log"
	local blast; blast=$(tail -n 1 "$log")
	kill -0 "$SRVPID" 2>/dev/null || die "$name died under load (see $OUT/$name.stderr)"
	local hwm; hwm=$(awk '/^VmHWM:/{print $2}' "/proc/$SRVPID/status")
	wait_quiet
	echo "== $name round $round: fixed ${MODRATE}/s, $RUNS x $DUR" | tee -a "$log"
	"${GEN[@]}" -target "$t" -rate "$MODRATE" -duration "$DUR" -runs "$RUNS" -server-pid "$SRVPID" >> "$log"
	local mod; mod=$(tail -n 1 "$log")
	local maxok=-
	if [ "$sweep" = sweep ]; then
		wait_quiet
		echo "== $name round $round: sweep from $SWEEP_FROM x$SWEEP_MULT, $SWEEP_DUR steps" | tee -a "$log"
		"${GEN[@]}" -target "$t" -sweep -rate "$SWEEP_FROM" -sweep-mult "$SWEEP_MULT" -duration "$SWEEP_DUR" -server-pid "$SRVPID" >> "$log"
		maxok=$(tail -n 1 "$log" | kv max_ok_rate)
	fi
	local rate us p50 p99 stratum other
	rate=$(kv replies_per_s <<< "$blast")
	us=$(kv srv_us_per_reply <<< "$blast")
	stratum=$(kv stratum <<< "$blast") # ntpload counts only replies of stratum 1-15
	other=$(kv other_cpu_pct <<< "$blast")
	p50=$(kv p50_us <<< "$mod")
	p99=$(kv p99_us <<< "$mod")
	[ -n "$rate" ] && awk -v r="$rate" 'BEGIN{exit !(r > 0)}' || die "$name answered nothing (see $log)"
	echo "us_per_reply=$us replies_per_s=$rate max_ok_rate=$maxok p50_us=$p50 p99_us=$p99 vmhwm_kb=$hwm stratum=$stratum other_cpu_pct=$other" | tee -a "$OUT/$name.txt"
}

NTPBOX_PORT=${NTPBOX_PORT:-$(free_port "$PORT_BASE")}
CHRONY_PORT=${CHRONY_PORT:-$(free_port $((NTPBOX_PORT + 1)))}
REFL_PORT=${REFL_PORT:-$(free_port $((CHRONY_PORT + 1)))}
for p in "$NTPBOX_PORT" "$CHRONY_PORT" "$REFL_PORT"; do port_free "$p" || die "UDP port $p is busy"; done
if pgrep -x chronyd >/dev/null; then
	echo "bench: note: another chronyd is running (pids $(pgrep -x chronyd | tr '\n' ' ')); figures may be disturbed" >&2
fi

start=$SECONDS
for round in $(seq "$ROUNDS"); do
	start_ntpbox "$NTPBOX_PORT"
	measure ntpbox "$round" "$NTPBOX_PORT"
	stop_server
	start_chronyd "$CHRONY_PORT"
	measure chronyd "$round" "$CHRONY_PORT"
	stop_server
done

taskset -c "$SRV_CPU" "$NTPLOAD" -reflect "127.0.0.1:$REFL_PORT" -reflect-for 10m -reflect-stratum 2 2> "$OUT/reflector.stderr" &
SRVPID=$!
wait_answer reflector "$REFL_PORT"
measure reflector 1 "$REFL_PORT" nosweep
stop_server

# Summary: the median over rounds of each figure (each round's figure is
# itself the median of its runs).
summary() { # name key
	tr ' ' '\n' < "$OUT/$1.txt" | sed -n "s/^$2=//p" | grep -v '^-$' | sort -g |
		awk '{v[NR]=$1} END{if(NR==0){print "-"; exit} m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.6g\n", m}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (b+0 == 0) print "-"; else printf "%.2f\n", a/b}'; }
{
	echo
	echo "ntpbox vs chronyd $("$CHRONYD" -v | awk '{print $4}'), $ROUNDS rounds A B, $RUNS x $DUR per figure, server on CPU $SRV_CPU, generator on CPU $GEN_CPU (median over rounds)"
	printf "%-10s %9s %14s %14s %9s %9s %9s %9s\n" server "us/reply" "sat. replies/s" "lossless req/s" "p50@${MODRATE}" "p99@${MODRATE}" "VmHWM MB" "other CPU%"
	for n in ntpbox chronyd reflector; do
		hwm=$(summary "$n" vmhwm_kb)
		printf "%-10s %9s %14s %14s %9s %9s %9s %9s\n" "$n" "$(summary "$n" us_per_reply)" "$(summary "$n" replies_per_s)" \
			"$(summary "$n" max_ok_rate)" "$(summary "$n" p50_us)" "$(summary "$n" p99_us)" "$(awk -v k="$hwm" 'BEGIN{printf "%.1f", k/1024}')" \
			"$(summary "$n" other_cpu_pct)"
	done
	echo "(other CPU%: what the rest of the machine used during the blast, in % of one CPU; above ~10 the figures are disturbed)"
	echo
	echo "ntpbox/chronyd: CPU per reply $(ratio "$(summary ntpbox us_per_reply)" "$(summary chronyd us_per_reply)")," \
		"p99 at ${MODRATE}/s $(ratio "$(summary ntpbox p99_us)" "$(summary chronyd p99_us)")," \
		"saturated rate $(ratio "$(summary ntpbox replies_per_s)" "$(summary chronyd replies_per_s)")"
	echo "per round: $OUT/{ntpbox,chronyd,reflector}.txt; logs: $OUT/*.log; $((SECONDS - start)) s"
} | tee "$OUT/summary.txt"
