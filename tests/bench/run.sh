#!/bin/sh
# make bench: siobench against sio-hub and the socket.io 4.8 reference
# server, scenario by scenario, each server fresh for each scenario,
# server and generator pinned to a core of their own. Results go to
# $BENCH_OUT (results.jsonl, summary.txt, chart.svg, command.txt).
#
# Environment (defaults in brackets):
#   BENCH_QUICK=1        small N and short runs: a smoke test under a minute
#   BENCH_SCENARIOS      [relay1k relay10k pipe1 pipe1k rooms10k idle10k idle19k latency10k]
#   BENCH_SERVERS        [sio node]
#   BENCH_N              clients for every scenario, overriding each one's own
#   BENCH_DURATION       seconds of sending in the throughput scenarios [20]
#   BENCH_HOLD           seconds the idle scenarios hold their clients [30]
#   BENCH_RATE           events/s of the latency scenario [5, × N clients]
#   BENCH_WINDOW         events in flight in the throughput scenarios [64]
#   BENCH_PING_INTERVAL, BENCH_PING_TIMEOUT   both servers [5000, 20000]
#   BENCH_SERVER_CPU, BENCH_GEN_CPU           cores for taskset [1, 0]
#   BENCH_PORT [39517]   BENCH_OUT [tests/bench/out/DATE]
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
B=tests/bench

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	DEF_SCEN="relay1k pipe1 pipe1k rooms10k idle10k latency10k"
	DUR=${BENCH_DURATION:-2}
	HOLD=${BENCH_HOLD:-5}
	SETTLE=2
else
	DEF_SCEN="relay1k relay10k pipe1 pipe1k rooms10k idle10k idle19k latency10k"
	DUR=${BENCH_DURATION:-20}
	HOLD=${BENCH_HOLD:-30}
	SETTLE=5
fi
SCENARIOS=${BENCH_SCENARIOS:-$DEF_SCEN}
SERVERS=${BENCH_SERVERS:-sio node}
RATE=${BENCH_RATE:-5}
WINDOW=${BENCH_WINDOW:-64}
PING_INTERVAL=${BENCH_PING_INTERVAL:-5000}
PING_TIMEOUT=${BENCH_PING_TIMEOUT:-20000}
SCPU=${BENCH_SERVER_CPU:-1}
GCPU=${BENCH_GEN_CPU:-0}
PORT=${BENCH_PORT:-39517}
OUT=${BENCH_OUT:-$B/out/$(date +%Y%m%d-%H%M%S)}

say() { echo "bench: $*" >&2; }

# ---- what the benchmark needs beyond the build ----------------------------
if ! command -v gnuplot >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		say "installing gnuplot-nox"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null 2>&1 ||
			{ apt-get update -qq && apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null; }
	else
		say "gnuplot is missing (apt-get install gnuplot-nox); no chart"
	fi
fi
if [ ! -f $B/node/node_modules/.package-lock.json ] ||
	[ -n "$(find $B/node/package-lock.json -newer $B/node/node_modules/.package-lock.json)" ]; then
	say "npm ci in $B/node"
	(cd $B/node && npm ci --no-audit --no-fund --loglevel=error)
fi
for f in cmd/sio-hub cmd/sio-emit $B/siobench; do
	[ -x "$f" ] || { say "$f is not built (run it through make bench)"; exit 1; }
done

# 19,000 clients need as many descriptors in the generator and the server
# (dash and bash both have ulimit -n).
# shellcheck disable=SC3045
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# shellcheck disable=SC3045
say "open files: $(ulimit -n)"

mkdir -p "$OUT"
RES=$OUT/results.jsonl
: >"$RES"
{
	echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(uname -n), $(nproc) cores"
	echo "BENCH_QUICK=$QUICK BENCH_SCENARIOS='$SCENARIOS' BENCH_SERVERS='$SERVERS'" \
		"BENCH_DURATION=$DUR BENCH_HOLD=$HOLD BENCH_RATE=$RATE BENCH_WINDOW=$WINDOW" \
		"BENCH_PING_INTERVAL=$PING_INTERVAL BENCH_PING_TIMEOUT=$PING_TIMEOUT" \
		"${BENCH_N:+BENCH_N=$BENCH_N }make bench"
	echo "# git $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (dirty)')," \
		"node $(node --version), socket.io $(node -p 'require("./'$B'/node/node_modules/socket.io/package.json").version')"
	echo "# load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/command.txt"
cat "$OUT/command.txt" >&2

# First, that the generator sees losses, duplicates and reordering.
if ! BENCH_PORT=$((PORT + 100)) $B/selftest.sh >"$OUT/selftest.txt" 2>&1; then
	cat "$OUT/selftest.txt" >&2
	say "siobench self-test failed"
	exit 1
fi
say "siobench self-test: $(tail -n 1 "$OUT/selftest.txt")"

WORK=$(mktemp -d /tmp/sio-bench.XXXXXX)
SPID=""
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }
port_up() { ss -Htln "sport = :$1" | grep -q .; }
while ! port_free "$PORT"; do PORT=$((PORT + 1)); done

# start_server NAME RELAY: sets SPID, and FEED (how the generator feeds it)
start_server() {
	SOCK=$WORK/hub.sock
	FIFO=$WORK/feed.fifo
	rm -f "$SOCK" "$FIFO"
	case $1 in
	sio)
		# shellcheck disable=SC2086
		taskset -c "$SCPU" cmd/sio-hub -q --port "$PORT" -S "$SOCK" \
			--ping-interval "$PING_INTERVAL" --ping-timeout "$PING_TIMEOUT" \
			$2 2>>"$OUT/sio-hub.log" &
		SPID=$!
		FEED="--feed-cmd"
		FEEDARG="exec taskset -c $SCPU $ROOT/cmd/sio-emit -S $SOCK"
		;;
	node)
		mkfifo "$FIFO"
		# The FIFO is opened read-write so that node starts before the
		# generator opens it; NDJSON events arrive on its stdin.
		# shellcheck disable=SC2086
		taskset -c "$SCPU" node $B/node/server.js --port "$PORT" \
			--ping-interval "$PING_INTERVAL" --ping-timeout "$PING_TIMEOUT" \
			$2 0<>"$FIFO" 2>>"$OUT/node.log" &
		SPID=$!
		FEED="--feed-fifo"
		FEEDARG=$FIFO
		;;
	esac
	i=0
	until port_up "$PORT"; do
		i=$((i + 1))
		[ $i -gt 100 ] && { say "$1 did not start"; return 1; }
		sleep 0.1
	done
}

stop_server() {
	kill "$SPID" 2>/dev/null || true
	wait "$SPID" 2>/dev/null || true
	SPID=""
}

# scenario NAME: sets MODE N ARGS RELAY
scenario() {
	RELAY=""
	ARGS=""
	case $1 in
	relay1k | relay10k)
		MODE=relay RELAY=--relay
		N=1000
		[ "$1" = relay10k ] && N=10000
		ARGS="--duration $DUR --events 10000000 --window $WINDOW"
		;;
	pipe1)
		# how fast a pipe gets events into the server, with one client
		# to prove they arrive; the window covers the pipe's round trip
		MODE=pipe N=1
		ARGS="--duration $DUR --events 100000000 --window $((WINDOW * 64))"
		;;
	pipe1k)
		MODE=pipe N=1000
		ARGS="--duration $DUR --events 10000000 --window $WINDOW"
		;;
	rooms10k)
		MODE=rooms N=10000
		ARGS="--duration $DUR --events 10000000 --window $((WINDOW * 16)) --rooms 100"
		;;
	idle10k | idle19k)
		MODE=idle N=10000
		[ "$1" = idle19k ] && N=19000
		ARGS="--hold $HOLD --wave --settle $SETTLE"
		;;
	latency10k)
		MODE=relay RELAY=--relay N=10000
		ARGS="--duration $DUR --events 10000000 --rate $RATE --window 1000"
		;;
	*)
		say "unknown scenario $1"
		return 1
		;;
	esac
	if [ "$QUICK" = 1 ]; then
		# the same scenarios, ten to twenty times smaller
		case $1 in
		*19k) N=2000 ;;
		*10k) N=1000 ;;
		*1k) N=200 ;;
		esac
	fi
	N=${BENCH_N:-$N}
}

for s in $SCENARIOS; do
	scenario "$s"
	for srv in $SERVERS; do
		say "---- $s: $srv, $N clients"
		start_server "$srv" "$RELAY"
		# how the events reach the server: a feeder (sio-emit, or node's
		# stdin), and for sio-hub the rooms joined over its control socket
		# shellcheck disable=SC2086
		set -- $ARGS
		case $MODE in
		pipe | rooms) set -- "$@" "$FEED" "$FEEDARG" ;;
		esac
		if [ "$srv" = sio ] && [ "$MODE" = rooms ]; then set -- "$@" --ctl "$SOCK"; fi
		if [ "$MODE" = idle ]; then
			# A first wave on the fresh server, reported as NAME-cold:
			# what the first N connections cost. The measured run then
			# starts from a server that has held N once, so that its
			# wave shows whether memory comes back, not the fd and
			# event arrays (libev's, the kernel's) sized once for the
			# peak and kept.
			taskset -c "$GCPU" $B/siobench --port "$PORT" --clients "$N" --mode idle \
				--hold 1 --wave --settle "$SETTLE" --pid "server=$SPID" --server "$srv" \
				--label "$s-cold" >>"$RES" 2>>"$OUT/siobench.log" || say "siobench failed"
		fi
		taskset -c "$GCPU" $B/siobench --port "$PORT" --clients "$N" --mode "$MODE" \
			"$@" --pid "server=$SPID" --server "$srv" --label "$s" \
			>>"$RES" 2>>"$OUT/siobench.log" || say "siobench failed"
		tail -n 1 "$OUT/siobench.log" >&2
		stop_server
	done
done
echo "# load after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/command.txt"

$B/report.sh "$OUT" | tee "$OUT/summary.txt"
