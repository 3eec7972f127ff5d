#!/bin/sh
# --volatile: a client that is behind misses a volatile event, one that
# keeps up gets it; and a producer is held back (not dropped) while a
# client is behind, so the non-volatile stream arrives whole.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

N=300000
start_hub || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }
client A --count-event flood --expect "$N" --result "$DIR/A.res"
client B --count-event flood --expect "$N" --result "$DIR/B.res"
ids A B || { not_ok "two clients connect"; exit 1; }

kill -STOP "$PID_A"	# A stops reading: it falls behind
seq "$N" | "$BIN/sio-emit" --raw flood 2>"$DIR/flood.err" &
flood=$!
track "$flood"
sleep 2
check "the producer is held back while A is behind (not finished)" kill -0 "$flood"

"$BIN/sio-emit" --volatile vol 1 2>"$DIR/vol.err"
check_eq "sio-emit --volatile exits 0 while A is behind" 0 $?
kill -CONT "$PID_A"
wait_exit "$flood" 60
check_eq "the held-back producer finishes once A catches up" 0 "$WRC"
untrack "$flood"
"$BIN/sio-emit" mark 1
wait_for_grep "$DIR/A.out" '"event":"mark"' 20
wait_for_grep "$DIR/B.out" '"event":"mark"' 20
check "B, which kept up, got the volatile event" grep -q '"event":"vol"' "$DIR/B.out"
check "A, which was behind, did not" sh -c "! grep -q '\"event\":\"vol\"' '$DIR/A.out'"
wait_for_file "$DIR/A.res" 20
wait_for_file "$DIR/B.res" 20
check "A still got every non-volatile event, in order" grep -q "\"count\":$N,\"last\":\"$N\",\"inorder\":true" "$DIR/A.res"
check "so did B" grep -q "\"count\":$N,\"last\":\"$N\",\"inorder\":true" "$DIR/B.res"
done_testing
