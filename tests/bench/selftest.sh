#!/bin/sh
# selftest.sh: siobench counts what it should. The Node server, told to
# drop, duplicate or swap every 100th of 1,001 events, must be reported
# as exactly that, and a clean run as nothing at all.
set -eu
cd "$(dirname "$0")"
if [ ! -x ./siobench ] || [ ! -d node/node_modules ]; then
	echo "run make bench first" >&2
	exit 1
fi
WORK=$(mktemp -d /tmp/sio-bench-self.XXXXXX)
PORT=${BENCH_PORT:-39611}
pass=0 fail=0
run() {	# run FAULT FIELD WANT
	mkfifo "$WORK/f"
	node node/server.js --port "$PORT" --fault "$1" 0<>"$WORK/f" 2>/dev/null &
	pid=$!
	i=0
	until ss -Htln "sport = :$PORT" | grep -q .; do
		i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.1
	done
	got=$(./siobench --port "$PORT" --clients 20 --mode pipe --events 1001 --window 1001 \
		--stall 1 --feed-fifo "$WORK/f" --quiet | jq -r ".$2")
	kill "$pid"; wait "$pid" 2>/dev/null || true
	rm -f "$WORK/f"
	if [ "$got" = "$3" ]; then pass=$((pass + 1)); echo "ok - $1: $2 = $3"
	else fail=$((fail + 1)); echo "not ok - $1: $2 = $got, want $3"; fi
}
run none "lost + .duplicated + .reordered" 0
run drop lost 200		# 10 events x 20 clients
run dup duplicated 200
run reorder reordered 200
rm -rf "$WORK"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
