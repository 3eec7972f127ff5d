#!/bin/sh
# sio-rooms as cron runs it: an empty environment (only PATH and
# SIO_SOCKET), stdin from /dev/null, no terminal, output to files.
# Asserts the documented exit statuses: 0 done (joining a room a socket is
# in already is done), 1 nothing matched (an empty room, no such socket),
# 64 usage error, 69 hub not reachable.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

start_hub || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }
client A --auth '{"token":"tok-a"}'
client B --auth '{"token":"tok-b","n":2}'
client C
ids A B C || { not_ok "clients connect"; exit 1; }

SETSID=""
command -v setsid >/dev/null 2>&1 && SETSID=setsid

# cron_rooms ARGS...: sio-rooms like cron would run it; sets RC, OUT, ERR
cron_rooms() {
	$SETSID env -i PATH=/usr/bin:/bin SIO_SOCKET="$SIO_SOCKET" "$BIN/sio-rooms" "$@" \
		</dev/null >"$DIR/cron.out" 2>"$DIR/cron.err"
	RC=$?
	OUT=$(cat "$DIR/cron.out")
	ERR=$(cat "$DIR/cron.err")
}

TAB=$(printf '\t')

cron_rooms join lobby --sid "$A" --sid "$B"
check_eq "join lobby --sid A --sid B: exit 0, no output" "0||" "$RC|$OUT|$ERR"

cron_rooms list
check_eq "list prints lobby<TAB>2" "0|lobby${TAB}2" "$RC|$OUT"

cron_rooms list --all
check "list --all also lists the sockets' own rooms" \
	grep -qxF "$C${TAB}1" "$DIR/cron.out"

cron_rooms members lobby
check_eq "members lobby: one sid per line" "0|$(printf '%s\n' "$A" "$B" | sort)" \
	"$RC|$(sort "$DIR/cron.out")"
n=$($SETSID env -i PATH=/usr/bin:/bin SIO_SOCKET="$SIO_SOCKET" "$BIN/sio-rooms" members lobby </dev/null | wc -l)
check_eq "members lobby | wc -l" 2 "$(echo "$n" | tr -d ' ')"

cron_rooms count lobby
check_eq "count lobby prints 2" "0|2" "$RC|$OUT"

cron_rooms sockets --json
check_eq "sockets --json: one line per socket" 3 "$(lines "$DIR/cron.out")"
check_eq "sockets --json lines carry the handshake auth" "tok-a|tok-b,2|" \
	"$(jq -r --arg a "$A" 'select(.sid == $a) | .handshake.auth.token' "$DIR/cron.out")|$(jq -r --arg b "$B" 'select(.sid == $b) | "\(.handshake.auth.token),\(.handshake.auth.n)"' "$DIR/cron.out")|$(jq -r --arg c "$C" 'select(.sid == $c) | .handshake.auth | keys | join(",")' "$DIR/cron.out")"
check_eq "sockets --json: A's rooms are A and lobby" \
	"$(printf '%s\n' "\"$A\"" '"lobby"' | sort | paste -sd, -)" \
	"$(jq -r --arg a "$A" 'select(.sid == $a) | .rooms[] | tojson' "$DIR/cron.out" | sort | paste -sd, -)"

cron_rooms sockets --in lobby
check_eq "sockets --in lobby (plain): sid<TAB>rooms<TAB>address" \
	"$(printf '%s\tlobby\t127.0.0.1\n' "$A" "$B" | sort)" "$(sort "$DIR/cron.out")"

cron_rooms count empty-room
check_eq "count of an empty room: prints 0, exit 1" "1|0" "$RC|$OUT"
cron_rooms members empty-room
check_eq "members of an empty room: nothing, exit 1" "1|" "$RC|$OUT"

cron_rooms leave lobby --sid "$B"
check_eq "leave lobby --sid B: exit 0" 0 "$RC"
cron_rooms count lobby
check_eq "lobby has 1 member left" "0|1" "$RC|$OUT"
cron_rooms leave lobby --sid "$B"
check_eq "leaving again is done too: exit 0 (idempotent; B exists)" 0 "$RC"
cron_rooms join lobby --sid "$A"
check_eq "joining a room a socket is in already is done: exit 0 (documented)" 0 "$RC"
cron_rooms count lobby
check_eq "and lobby still has 1 member" "0|1" "$RC|$OUT"
cron_rooms join lobby --sid no-such-socket
check_eq "join with an unknown sid: exit 1 (no such socket)" 1 "$RC"
cron_rooms leave lobby --sid no-such-socket
check_eq "leave with an unknown sid: exit 1 (no such socket)" 1 "$RC"

cron_rooms join lobby
if [ "$RC" -eq 64 ] && [ -n "$ERR" ]; then ok "join without --sid/--in: exit 64 with a message"
else not_ok "join without --sid/--in: exit 64 with a message" "exit $RC: $ERR"; fi
cron_rooms frobnicate
check_eq "an unknown command: exit 64" 64 "$RC"
$SETSID env -i PATH=/usr/bin:/bin "$BIN/sio-rooms" -S "$DIR/no-hub.sock" list </dev/null >"$DIR/cron.out" 2>"$DIR/cron.err"
rc=$?
if [ "$rc" -eq 69 ] && grep -q "no-hub.sock" "$DIR/cron.err"; then ok "no hub at -S PATH: exit 69, the path in the message"
else not_ok "no hub at -S PATH: exit 69, the path in the message" "exit $rc: $(show "$DIR/cron.err")"; fi

# ---- disconnect ----------------------------------------------------------------
cron_rooms disconnect --in lobby
check_eq "disconnect --in lobby: exit 0" 0 "$RC"
if wait_for_grep "$DIR/A.out" '"event":"disconnect"' 5; then
	ok "A (in lobby) sees a disconnect: $(grep '"event":"disconnect"' "$DIR/A.out")"
else
	not_ok "A (in lobby) sees a disconnect" "$(show "$DIR/A.out")"
fi
check "A's reason is io server disconnect" grep -qxF '{"event":"disconnect","args":["io server disconnect"]}' "$DIR/A.out"
cron_rooms sockets
check_eq "B and C are still connected" "$(printf '%s\n' "$B" "$C" | sort)" "$(cut -f1 "$DIR/cron.out" | sort)"
cron_rooms disconnect --in lobby
check_eq "disconnect --in an empty lobby: exit 1" 1 "$RC"

# namespace only, or the whole connection: seen from raw WebSocket clients
for r in R1 R2; do
	node "$CLIENT" --url "$URL" --raw --id-file "$DIR/$r.id" --out "$DIR/$r.out" 2>"$DIR/$r.err" &
	track $!
done
ids R1 R2 || { not_ok "raw clients connect"; exit 1; }
cron_rooms disconnect --sid "$R1"
check_eq "disconnect --sid R1: exit 0" 0 "$RC"
wait_for_lines "$DIR/R1.out" 1 5
sleep 0.3
check_eq "R1 gets a DISCONNECT packet (41) and its connection stays open" "41" "$(cat "$DIR/R1.out")"
cron_rooms disconnect --sid "$R2" --close
check_eq "disconnect --sid R2 --close: exit 0" 0 "$RC"
if wait_for_grep "$DIR/R2.out" '{"event":"disconnect","args":["closed"]}' 5; then
	ok "--close closes R2's WebSocket ($(tr '\n' ' ' <"$DIR/R2.out"))"
else
	not_ok "--close closes R2's WebSocket" "$(show "$DIR/R2.out")"
fi

cron_rooms disconnect --sid "$C" --close
check_eq "disconnect --sid C --close: exit 0" 0 "$RC"
if wait_for_grep "$DIR/C.out" '"event":"disconnect"' 5; then
	ok "socket.io client C sees the disconnect: $(grep '"event":"disconnect"' "$DIR/C.out")"
else
	not_ok "socket.io client C sees the disconnect" "$(show "$DIR/C.out")"
fi
cron_rooms sockets
check_eq "only B is left" "$B" "$(cut -f1 "$DIR/cron.out")"
check_eq "B saw no disconnect" "" "$(grep '"event":"disconnect"' "$DIR/B.out")"
cron_rooms disconnect --sid "$C"
check_eq "disconnect of a socket that is gone: exit 1" 1 "$RC"

done_testing
