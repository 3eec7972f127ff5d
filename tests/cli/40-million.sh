#!/bin/sh
# A 1,000,000-line pipe: seq 1000000 | sio-emit --raw tick reaches a
# WebSocket client completely and in order.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

N=${SIO_MILLION:-1000000}
LIMIT=120	# seconds, for the whole transfer

start_hub || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }
client T --count-event tick --expect "$N" --result "$DIR/T.result"
client_ready T >/dev/null || { not_ok "the counting client connects"; exit 1; }

now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

t0=$(now_ms)
seq "$N" | timeout "$LIMIT" "$BIN/sio-emit" --raw tick >"$DIR/emit.out" 2>"$DIR/emit.err"
rc=$?
t1=$(now_ms)
check_eq "seq $N | sio-emit --raw tick exits 0" 0 "$rc"
[ -s "$DIR/emit.err" ] && echo "# sio-emit said: $(show "$DIR/emit.err")"

left=$(( LIMIT - (t1 - t0) / 1000 ))
[ "$left" -lt 5 ] && left=5
if ! wait_for_file "$DIR/T.result" "$left"; then
	# not all came: have the client write what it has
	kill "$PID_T" 2>/dev/null
	wait_for_file "$DIR/T.result" 5
fi
t2=$(now_ms)
res=$(cat "$DIR/T.result" 2>/dev/null)
check_eq "the client receives all $N ticks" "$N" "$(echo "$res" | jq -r .count 2>/dev/null)"
check_eq "in order, each the line number as a string" "true|$N" \
	"$(echo "$res" | jq -r '"\(.inorder)|\(.last)"' 2>/dev/null)"
[ "$(echo "$res" | jq -r .inorder 2>/dev/null)" = true ] || echo "# first out of order: $(echo "$res" | jq -c .first_bad)"
check_eq "the client's connection survived" "" "$(grep '"event":"disconnect"' "$DIR/T.out")"
if grep -q 'dropped\|too slow\|behind' "$HUB_LOG"; then
	echo "# hub log: $(grep 'dropped\|too slow\|behind' "$HUB_LOG" | head -n 3)"
fi
emit_s=$(echo "$t0 $t1" | awk '{ printf "%.1f", ($2 - $1) / 1000 }')
all_s=$(echo "$t0 $t2" | awk '{ printf "%.1f", ($2 - $1) / 1000 }')
rate=$(echo "$t0 $t2 $N" | awk '{ d = ($2 - $1) / 1000; printf "%d", (d > 0 ? $3 / d : 0) }')
ok "elapsed: sio-emit done in ${emit_s}s, all $N delivered in ${all_s}s (${rate} events/s)"

done_testing
