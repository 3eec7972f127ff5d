#!/bin/sh
# Bytes unchanged: what a client sends reaches sio-listen as it was written
# (big numbers, escapes, key order, exponents), and sio-emit's JSON reaches
# a client as it was written.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

start_hub || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }

# exactly these bytes: \u00e9 is an escape, \\u2028 an escaped backslash
FRAME='42["ev",12345678901234567890,"\u00e9\\u2028",{"b":1,"a":2},1.0e+2]'
DATA='"data":[12345678901234567890,"\u00e9\\u2028",{"b":1,"a":2},1.0e+2]'

listen L --json --count 2
LP=$LISTEN_PID
node "$CLIENT" --url "$URL" --raw --id-file "$DIR/R.id" --out "$DIR/R.out" \
	--go-file "$DIR/R.go" --send "$FRAME" 2>"$DIR/R.err" &
track $!
R=$(client_ready R) || { not_ok "raw WebSocket client connects" "$(show "$DIR/R.err")"; exit 1; }
: >"$DIR/R.go"
wait_exit "$LP" 5
check_eq "sio-listen --json --count 2 exits 0 after two lines" 0 "$WRC"
check_eq "sio-listen printed 2 lines" 2 "$(lines "$DIR/L.out")"
line1=$(sed -n 1p "$DIR/L.out")
line2=$(sed -n 2p "$DIR/L.out")
case $line1 in
*'"type":"connect"'*"\"sid\":\"$R\""*) ok "line 1 is the raw client's connect" ;;
*) not_ok "line 1 is the raw client's connect" "$line1" ;;
esac
case $line2 in
*'"type":"event"'*"\"sid\":\"$R\""*'"event":"ev",'"$DATA"*) ok "line 2 holds the client's data byte for byte" ;;
*) not_ok "line 2 holds the client's data byte for byte" "$line2" ;;
esac
valid_json() {
	printf '%s\n' "$1" | jq -e . >/dev/null 2>&1
}
check "sio-listen line 2 is valid JSON" valid_json "$line2"

# sio-emit's arguments, as written, to a raw client
"$BIN/sio-emit" big 12345678901234567890 '"\u00e9"' 2>"$DIR/emit.err"
check_eq "sio-emit big ... exits 0" 0 $?
wait_for_lines "$DIR/R.out" 1 5
check_eq "raw client gets exactly 42[\"big\",12345678901234567890,\"\\u00e9\"]" \
	'42["big",12345678901234567890,"\u00e9"]' "$(sed -n 1p "$DIR/R.out")"

# the same through an stdin line, with more kinds of numbers and strings
printf '%s\n' '{"data":[1.0e+2,-0.0,"\ud83d\ude00",{"z":null,"a":[]}],"event":"big2"}' |
	"$BIN/sio-emit" 2>>"$DIR/emit.err"
check_eq "sio-emit < line exits 0" 0 $?
wait_for_lines "$DIR/R.out" 2 5
check_eq "raw client gets the stdin line's data as written" \
	'42["big2",1.0e+2,-0.0,"\ud83d\ude00",{"z":null,"a":[]}]' "$(sed -n 2p "$DIR/R.out")"

# a UTF-8 string (not escaped) arrives as the same bytes
"$BIN/sio-emit" utf '"é ✓ 😀"' 2>>"$DIR/emit.err"
wait_for_lines "$DIR/R.out" 3 5
check_eq "raw UTF-8 in an argument arrives unchanged" '42["utf","é ✓ 😀"]' "$(sed -n 3p "$DIR/R.out")"

done_testing
