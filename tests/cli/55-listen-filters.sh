#!/bin/sh
# sio-listen's filters: --event, --room, --nsp, --filter, --count, and
# the end of its reader (| head -n 1).
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

start_hub --nsp /admin || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }

client A --go-file "$DIR/A.go" --emit 'wanted:[1]' --emit 'other:[2,"b"]'
client B --go-file "$DIR/B.go" --emit 'wanted:[3]' --emit 'other:[4]'
client M --nsp /admin --go-file "$DIR/M.go" --emit 'wanted:[5]'
ids A B M || { not_ok "clients connect"; exit 1; }
"$BIN/sio-rooms" join vip --sid "$A" >/dev/null
check_eq "A joins vip" 0 $?

listen LE --json --events-only --event wanted
listen LE2 --json --events-only -e wanted -e other --nsp /
listen LR --json --events-only --room vip
listen LN --json --events-only --nsp /admin
listen LF --events-only --filter '.data[0]'
listen LF2 --events-only --filter 'select(.event == "other") | {sid, n: .data[0]}'
listen LC --json --events-only --count 3
LCP=$LISTEN_PID
listen LL --json --event none-of-these

# one client after the other, so the order of lines is known
: >"$DIR/A.go"
wait_for_lines "$DIR/LF.out" 2 5
: >"$DIR/B.go"
wait_for_lines "$DIR/LF.out" 4 5
: >"$DIR/M.go"
wait_for_lines "$DIR/LF.out" 5 5
for f in LE:3 LE2:4 LR:2 LN:1 LF2:2; do
	wait_for_lines "$DIR/${f%:*}.out" "${f#*:}" 5
done
sleep 0.3	# room for lines that should not come

summary() { # summary FILE: "event:data" per line, joined by spaces
	jq -r '"\(.event):\(.data | tojson)"' "$1" | paste -sd' ' -
}
check_eq "--event wanted: only wanted events, every namespace" 'wanted:[1] wanted:[3] wanted:[5]' "$(summary "$DIR/LE.out")"
check_eq "--event twice and --nsp /: both names, only namespace /" \
	'wanted:[1] other:[2,"b"] wanted:[3] other:[4]' "$(summary "$DIR/LE2.out")"
check_eq "--room vip: only events from sockets in vip" 'wanted:[1] other:[2,"b"]' "$(summary "$DIR/LR.out")"
check_eq "--room vip: and all from A" "$A $A" "$(jq -r .sid "$DIR/LR.out" | paste -sd' ' -)"
check_eq "--nsp /admin: only /admin" 'wanted:[5]' "$(summary "$DIR/LN.out")"
check_eq "--nsp /admin: the line names the namespace" '/admin' "$(jq -r .nsp "$DIR/LN.out")"
check_eq "--filter '.data[0]': only the first argument" '1 2 3 4 5' "$(paste -sd' ' - <"$DIR/LF.out")"
check_eq "--filter with select: lines only where it gives output" \
	"{\"sid\":\"$A\",\"n\":2} {\"sid\":\"$B\",\"n\":4}" "$(jq -c . "$DIR/LF2.out" | paste -sd' ' -)"
wait_exit "$LCP" 5
check_eq "--count 3 exits 0" 0 "$WRC"
check_eq "--count 3 printed 3 lines" 'wanted:[1] other:[2,"b"] wanted:[3]' "$(summary "$DIR/LC.out")"

# ---- lifecycle lines ------------------------------------------------------------------
listen LK --json --count 2
LKP=$LISTEN_PID
client K --auth '{"who":"k"}'
ids K || not_ok "client K connects"
stop "$PID_K"
wait_exit "$LKP" 5
check_eq "connect and disconnect lines of K, then exit 0 (--count 2)" "0|connect:$K:k disconnect:$K:" \
	"$WRC|$(jq -r '"\(.type):\(.sid):\(.handshake.auth.who // "")"' "$DIR/LK.out" | paste -sd' ' -)"
check_eq "the disconnect line has a reason" string \
	"$(jq -r 'select(.type == "disconnect") | .reason | type' "$DIR/LK.out")"
check_eq "--event implies --events-only: no connect/disconnect lines of K" "" "$(cat "$DIR/LL.out")"

# ---- sio-listen --json | head -n 1 -------------------------------------------------
mkfifo "$DIR/fifo"
"$BIN/sio-listen" --json --events-only >"$DIR/fifo" 2>"$DIR/H.err" &
HL=$!
track $HL
head -n 1 <"$DIR/fifo" >"$DIR/H.out" &
HH=$!
track $HH
sleep 0.3
client P --go-file "$DIR/P.go" --emit 'first:[1]'
ids P || not_ok "client P connects"
: >"$DIR/P.go"
wait_exit "$HH" 5
check_eq "head -n 1 gets the first event and exits" "0|first" "$WRC|$(jq -r .event "$DIR/H.out")"
stop "$PID_P"
client P2 --go-file "$DIR/P2.go" --emit 'second:[2]'
ids P2 || not_ok "client P2 connects"
: >"$DIR/P2.go"
wait_exit "$HL" 5
check_eq "sio-listen exits 0 once head is gone and the next event comes" 0 "$WRC"
check_eq "quietly" "" "$(cat "$DIR/H.err")"

done_testing
