#!/bin/sh
# Acks both ways: sio-emit --ack collects the clients' answers; a client's
# ack is answered with sio-emit --reply (also in a pipe from sio-listen).
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

start_hub || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }

# ---- server -> client ----------------------------------------------------
client A --ack-reply '["yes",{"n":1}]'
client B
ids A B || { not_ok "clients connect"; exit 1; }

t0=$(date +%s)
"$BIN/sio-emit" --ack --timeout 2s question 1 >"$DIR/ack1.out" 2>"$DIR/ack1.err"
rc=$?
t1=$(date +%s)
check_eq "--ack with one silent client exits 1" 1 "$rc"
check_eq "--ack prints one line per recipient" 2 "$(lines "$DIR/ack1.out")"
check "the answering client's line is {\"sid\":A,\"data\":[\"yes\",{\"n\":1}]}" \
	grep -qxF "{\"sid\":\"$A\",\"data\":[\"yes\",{\"n\":1}]}" "$DIR/ack1.out"
check "the silent client's line is {\"sid\":B,\"missing\":true}" \
	grep -qxF "{\"sid\":\"$B\",\"missing\":true}" "$DIR/ack1.out"
el=$((t1 - t0))
if [ "$el" -ge 1 ] && [ "$el" -le 5 ]; then
	ok "--timeout 2s is waited for (${el}s)"
else
	not_ok "--timeout 2s is waited for" "took ${el}s"
fi
Q='{"event":"question","args":[1],"ack":true}'
check "A got question with an ack request" grep -qxF "$Q" "$DIR/A.out"
check "B got question with an ack request" grep -qxF "$Q" "$DIR/B.out"

stop "$PID_B"
client B2 --ack-reply '["ok"]'
B2=$(client_ready B2) || { not_ok "client B2 connects"; exit 1; }
"$BIN/sio-emit" --ack --timeout 5s question 2 >"$DIR/ack2.out" 2>"$DIR/ack2.err"
check_eq "--ack with every client answering exits 0" 0 $?
check_eq "two answers, sorted" \
	"$(printf '%s\n' "{\"sid\":\"$A\",\"data\":[\"yes\",{\"n\":1}]}" "{\"sid\":\"$B2\",\"data\":[\"ok\"]}" | sort)" \
	"$(sort "$DIR/ack2.out")"

"$BIN/sio-emit" --ack --timeout 1s --to nobody question 3 >"$DIR/ack3.out" 2>&1
check_eq "--ack to an empty room: exit 0, no lines" "0|" "$?|$(cat "$DIR/ack3.out")"
stop "$PID_A"
stop "$PID_B2"

# ---- client -> server: --reply HANDLE --------------------------------------
client D --go-file "$DIR/D.go" --emit-ack 'ping:[1,"x"]'
D=$(client_ready D) || { not_ok "client D connects"; exit 1; }
listen L1 --json --events-only --count 1
LP=$LISTEN_PID
: >"$DIR/D.go"
wait_exit "$LP" 5
check_eq "sio-listen --count 1 exits 0" 0 "$WRC"
H=$(jq -r '.ack // empty' "$DIR/L1.out")
check_eq "the event line carries ping, its data and an ack handle" \
	"ping|[1,\"x\"]|$D|yes" \
	"$(jq -r '[.event, (.data|tojson), .sid, (if (.ack|type) == "string" then "yes" else "no" end)] | join("|")' "$DIR/L1.out")"
"$BIN/sio-emit" --reply "$H" '"pong"' 2 >"$DIR/r1.out" 2>"$DIR/r1.err"
check_eq "sio-emit --reply HANDLE exits 0" 0 $?
wait_for_grep "$DIR/D.out" '"ackof"' 5
check_eq "the client's callback gets [\"pong\",2]" '{"args":["pong",2],"ackof":"ping"}' "$(cat "$DIR/D.out")"
"$BIN/sio-emit" --reply "$H" '"again"' >"$DIR/r2.out" 2>"$DIR/r2.err"
rc=$?
if [ "$rc" -eq 1 ] && [ -s "$DIR/r2.err" ]; then
	ok "replying twice exits 1 with a message ($(head -n 1 "$DIR/r2.err"))"
else
	not_ok "replying twice exits 1 with a message" "exit $rc, stderr: $(show "$DIR/r2.err")"
fi
sleep 0.2
check_eq "the second reply reaches nobody" 1 "$(lines "$DIR/D.out")"
"$BIN/sio-emit" --reply "not-a-handle" 1 >"$DIR/r3.out" 2>"$DIR/r3.err"
rc=$?
if [ "$rc" -ne 0 ] && [ -s "$DIR/r3.err" ]; then
	ok "a malformed handle fails with a message (exit $rc)"
else
	not_ok "a malformed handle fails with a message" "exit $rc, stderr: $(show "$DIR/r3.err")"
fi
stop "$PID_D"

# ---- the pipe: sio-listen | jq | sio-emit answers every ack ----------------
N=20
client E --go-file "$DIR/E.go" --emit-ack-count "q:$N"
client_ready E >/dev/null || { not_ok "client E connects"; exit 1; }
mkfifo "$DIR/p1" "$DIR/p2"
"$BIN/sio-listen" --json --events-only >"$DIR/p1" 2>"$DIR/pl.err" &
PL=$!
track $PL
jq -c --unbuffered '{reply:.ack,data:.data}' <"$DIR/p1" >"$DIR/p2" 2>"$DIR/pj.err" &
PJ=$!
track $PJ
"$BIN/sio-emit" <"$DIR/p2" >"$DIR/pe.out" 2>"$DIR/pe.err" &
PE=$!
track $PE
sleep 0.3
: >"$DIR/E.go"
if wait_for_lines "$DIR/E.out" "$N" 10; then
	ok "the pipe answers all $N acks"
else
	not_ok "the pipe answers all $N acks" "got $(lines "$DIR/E.out"): $(show "$DIR/E.out")"
fi
check_eq "each ack callback gets its own event's data back" \
	"$(seq "$N" | sed 's/.*/{"args":[&],"ackof":"q"}/' | sort)" "$(sort "$DIR/E.out")"
stop "$PL"
wait_exit "$PE" 5
check_eq "sio-emit at the end of the pipe exits 0 when the pipe closes" 0 "$WRC"
check_eq "and reports nothing" "" "$(cat "$DIR/pe.err")"
wait_exit "$PJ" 5
stop "$PID_E"

# the same as one shell pipeline that ends by itself (--count), each part
# bounded by timeout
N=5
client F --go-file "$DIR/F.go" --emit-ack-count "f:$N"
client_ready F >/dev/null || { not_ok "client F connects"; exit 1; }
timeout 20 "$BIN/sio-listen" --json --events-only --count $N 2>"$DIR/ql.err" |
	timeout 20 jq -c --unbuffered '{reply:.ack,data:["re",.data[0]]}' 2>"$DIR/qj.err" |
	timeout 20 "$BIN/sio-emit" >"$DIR/qe.out" 2>"$DIR/qe.err" &
QP=$!
track $QP
sleep 0.3
: >"$DIR/F.go"
wait_exit "$QP" 20
check_eq "sio-listen --count $N | jq | sio-emit ends by itself, exit 0" 0 "$WRC"
wait_for_lines "$DIR/F.out" "$N" 5
check_eq "every callback got [\"re\",k]" \
	"$(seq "$N" | sed 's/.*/{"args":["re",&],"ackof":"f"}/' | sort)" "$(sort "$DIR/F.out")"

done_testing
