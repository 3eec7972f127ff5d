#!/bin/sh
# sio-emit --to / --except: a room reaches its members and nobody else;
# a socket id is a room of its own.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

start_hub || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }
client A
client B --transport both	# polling, then upgraded to WebSocket
client C --transport polling
ids A B C || { not_ok "three clients connect"; exit 1; }
ok "three socket.io clients connect (websocket, polling+upgrade, polling)"

NMARK=0
# round COMMAND...: empties the clients' logs, runs COMMAND, then sends a
# marker to everyone; events reach a client in order, so once the marker
# is in a log, whatever COMMAND sent it is there too. Sets RC.
round() {
	for n in A B C; do : >"$DIR/$n.out"; done
	"$@" >"$DIR/round.stdout" 2>"$DIR/round.stderr"
	RC=$?
	NMARK=$((NMARK + 1))
	"$BIN/sio-emit" mark "$NMARK" 2>>"$DIR/round.stderr"
	for n in A B C; do
		wait_for_grep "$DIR/$n.out" "{\"event\":\"mark\",\"args\":[$NMARK]}" 5 ||
			not_ok "marker $NMARK reaches $n" "$(show "$DIR/$n.out")"
	done
}

# before: what a log holds before the marker
before() {
	grep -v '"event":"mark"' "$DIR/$1.out"
}

"$BIN/sio-rooms" join lobby --sid "$A" --sid "$B" >"$DIR/join.out" 2>&1
check_eq "sio-rooms join lobby --sid A --sid B exits 0" 0 $?

round "$BIN/sio-emit" --to lobby news '{"a":1}'
check_eq "sio-emit --to lobby exits 0" 0 "$RC"
check_eq "member A gets news with args [{\"a\":1}]" '{"event":"news","args":[{"a":1}]}' "$(before A)"
check_eq "member B gets news with args [{\"a\":1}]" '{"event":"news","args":[{"a":1}]}' "$(before B)"
check_eq "C (not in lobby) gets nothing" "" "$(before C)"

round "$BIN/sio-emit" --except lobby news 1
check_eq "sio-emit --except lobby exits 0" 0 "$RC"
check_eq "--except lobby: C gets it" '{"event":"news","args":[1]}' "$(before C)"
check_eq "--except lobby: A does not" "" "$(before A)"
check_eq "--except lobby: B does not" "" "$(before B)"

round "$BIN/sio-emit" --to "$C" hi
check_eq "sio-emit --to SID exits 0" 0 "$RC"
check_eq "--to C's id: C gets hi with no args" '{"event":"hi","args":[]}' "$(before C)"
check_eq "--to C's id: A does not" "" "$(before A)"
check_eq "--to C's id: B does not" "" "$(before B)"

round "$BIN/sio-emit" --to lobby --except "$A" part '"x"'
check_eq "--to lobby --except A: only B" '|{"event":"part","args":["x"]}|' \
	"$(before A)|$(before B)|$(before C)"

round "$BIN/sio-emit" --to lobby --to "$C" all2 true
check_eq "--to lobby --to C: union, each once" \
	'{"event":"all2","args":[true]}|{"event":"all2","args":[true]}|{"event":"all2","args":[true]}' \
	"$(before A)|$(before B)|$(before C)"

round "$BIN/sio-emit" --to nobody-here ghost
check_eq "--to an empty room: exit 0, nobody gets it" "0|||" \
	"$RC|$(before A)|$(before B)|$(before C)"

# the same targets given in stdin lines
stdin_targets() {
	printf '%s\n' '{"event":"s1","to":["lobby"],"data":[1]}' \
		'{"event":"s2","except":["lobby"],"data":[2]}' | "$BIN/sio-emit"
}
round stdin_targets
check_eq "stdin lines with to/except: exit 0" 0 "$RC"
check_eq "stdin to:[lobby] and except:[lobby] reach the right sockets" \
	'{"event":"s1","args":[1]}|{"event":"s1","args":[1]}|{"event":"s2","args":[2]}' \
	"$(before A)|$(before B)|$(before C)"

done_testing
