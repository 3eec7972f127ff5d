#!/bin/sh
# Binary values: {"_binary":"<base64>"} in sio-listen's lines and in
# sio-emit's input, real Buffers on the client side.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

start_hub || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }

# 256 bytes 0..255, base64
ALL=$("$PY" -c 'import base64; print(base64.b64encode(bytes(range(256))).decode())')

client F --go-file "$DIR/F.go" --emit 'file:[{"_binary":"AAEC"},"name.bin",{"part":{"_binary":"'"$ALL"'"}}]'
client G
ids F G || { not_ok "clients connect"; exit 1; }

listen L --json --events-only --count 1
LP=$LISTEN_PID
: >"$DIR/F.go"
wait_exit "$LP" 5
check_eq "sio-listen --count 1 exits 0" 0 "$WRC"
case $(cat "$DIR/L.out") in
*"\"sid\":\"$F\""*'"event":"file","data":[{"_binary":"AAEC"},"name.bin",{"part":{"_binary":"'"$ALL"'"}}]'*)
	ok "sio-listen shows the client's Buffers as {\"_binary\":\"<base64>\"}, in place" ;;
*) not_ok "sio-listen shows the client's Buffers as {\"_binary\":\"<base64>\"}, in place" "$(show "$DIR/L.out")" ;;
esac

echo '{"event":"file","data":[{"_binary":"AAEC"}]}' | "$BIN/sio-emit" --to "$G" 2>"$DIR/e1.err"
check_eq "sio-emit < {\"event\":\"file\",\"data\":[{\"_binary\":\"AAEC\"}]} exits 0" 0 $?
wait_for_lines "$DIR/G.out" 1 5
# client.mjs counts real binary values in "binaries"
check_eq "the client gets a Buffer [0,1,2]" '{"event":"file","args":[{"_binary":"AAEC"}],"binaries":1}' \
	"$(sed -n 1p "$DIR/G.out")"

"$BIN/sio-emit" --to "$G" file2 '{"_binary":"'"$ALL"'"}' '{"deep":[{"_binary":""}]}' 2>"$DIR/e2.err"
check_eq "sio-emit EVENT with _binary arguments exits 0" 0 $?
wait_for_lines "$DIR/G.out" 2 5
check_eq "the client gets 256 bytes and an empty Buffer, nested in place" \
	'{"event":"file2","args":[{"_binary":"'"$ALL"'"},{"deep":[{"_binary":""}]}],"binaries":2}' \
	"$(sed -n 2p "$DIR/G.out")"

echo '{"event":"file","data":[{"_binary":"@@not base64"}]}' | "$BIN/sio-emit" --to "$G" 2>"$DIR/e3.err"
rc=$?
if [ "$rc" -eq 65 ] && grep -q 'line 1' "$DIR/e3.err"; then
	ok "bad base64 is reported for line 1, exit 65"
else
	not_ok "bad base64 is reported for line 1, exit 65" "exit $rc: $(show "$DIR/e3.err")"
fi

done_testing
