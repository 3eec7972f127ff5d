#!/bin/sh
# sio-hub --relay=rooms: a client's event goes to the other sockets of the
# rooms the sender is in (rooms made with sio-rooms join), nobody else.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

start_hub --relay=rooms || { not_ok "sio-hub --relay=rooms starts" "$(show "$HUB_LOG")"; exit 1; }
client A --go-file "$DIR/A.go" --emit 'msg:["from A",{"n":1}]'
client B --go-file "$DIR/B.go" --emit 'msg:["from B"]'
client C --go-file "$DIR/C.go" --emit 'msg:["from C"]'
ids A B C || { not_ok "clients connect"; exit 1; }
"$BIN/sio-rooms" join chat --sid "$A" --sid "$B" >/dev/null
check_eq "sio-rooms join chat --sid A --sid B" 0 $?
listen L --json --events-only

NMARK=0
# settle: a marker to every client; once they have it, all sent before is there
settle() {
	NMARK=$((NMARK + 1))
	"$BIN/sio-emit" mark "$NMARK"
	for n in A B C; do
		wait_for_grep "$DIR/$n.out" "{\"event\":\"mark\",\"args\":[$NMARK]}" 5 ||
			not_ok "marker $NMARK reaches $n" "$(show "$DIR/$n.out")"
	done
}
msgs() { # msgs NAME: the msg events NAME received, one summary per line
	grep '"event":"msg"' "$DIR/$1.out" | jq -r '.args | tojson' | paste -sd' ' -
}

: >"$DIR/A.go"
wait_for_grep "$DIR/B.out" '"event":"msg"' 5
settle
check_eq "an event from A reaches B (same room) with its args" '["from A",{"n":1}]' "$(msgs B)"
check_eq "not C (not in chat)" "" "$(msgs C)"
check_eq "not A itself" "" "$(msgs A)"

: >"$DIR/B.go"
wait_for_grep "$DIR/A.out" '"event":"msg"' 5
settle
check_eq "an event from B reaches A" '["from B"]' "$(msgs A)"
check_eq "and still not C" "" "$(msgs C)"

: >"$DIR/C.go"
wait_for_lines "$DIR/L.out" 3 5
settle
check_eq "C's event (C in no room but its own) reaches nobody" "|" "$(msgs A | grep 'from C')|$(msgs B | grep 'from C')"
check_eq "sio-listen still sees all three events" "$A $B $C" "$(jq -r .sid "$DIR/L.out" | paste -sd' ' -)"

# after leaving, A is no longer relayed to B
"$BIN/sio-rooms" leave chat --sid "$B" >/dev/null
check_eq "sio-rooms leave chat --sid B" 0 $?
client A2 --go-file "$DIR/A2.go" --emit 'msg:["again"]'
ids A2 || not_ok "client A2 connects"
"$BIN/sio-rooms" join chat --sid "$A2" >/dev/null
: >"$DIR/A2.go"
wait_for_lines "$DIR/L.out" 4 5
settle
check_eq "after B left chat, a chat event no longer reaches B" "" "$(msgs B | grep again)"
check_eq "it reaches A, still in chat" '["from B"] ["again"]' "$(msgs A)"

done_testing
