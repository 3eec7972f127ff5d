#!/bin/sh
# No hub, or the hub stopped under a running tool: exit 69 and a message.
# Usage errors: exit 64.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

# expect WHAT STATUS PATTERN COMMAND...: COMMAND exits STATUS and its stderr
# matches the grep PATTERN (stdin from /dev/null; a program is bounded by 10 s)
expect() {
	what=$1 want=$2 pat=$3
	shift 3
	case $1 in
	*/*) timeout 10 "$@" </dev/null >"$DIR/x.out" 2>"$DIR/x.err" ;;
	*) "$@" </dev/null >"$DIR/x.out" 2>"$DIR/x.err" ;;	# a function: bounds itself
	esac
	got=$?
	if [ "$got" -eq "$want" ] && grep -q -- "$pat" "$DIR/x.err"; then
		ok "$what (exit $got: $(head -n 1 "$DIR/x.err"))"
	else
		not_ok "$what" "exit $got, want $want; stderr: $(show "$DIR/x.err")"
	fi
}

NOSOCK=$DIR/no-hub.sock
expect "sio-emit -S PATH with no hub: 69" 69 "no-hub.sock" "$BIN/sio-emit" -S "$NOSOCK" ev 1
emit_line() {
	echo '{"event":"e"}' | timeout 10 "$BIN/sio-emit" "$@"
}
expect "sio-emit < lines with no hub: 69" 69 "no-hub.sock" emit_line -S "$NOSOCK"
expect "sio-rooms -S PATH with no hub: 69" 69 "no-hub.sock" "$BIN/sio-rooms" -S "$NOSOCK" list
expect "sio-listen -S PATH with no hub: 69" 69 "no-hub.sock" "$BIN/sio-listen" -S "$NOSOCK" --json
expect "SIO_SOCKET naming no hub: sio-emit 69" 69 "no-hub.sock" env SIO_SOCKET="$NOSOCK" "$BIN/sio-emit" ev
: >"$DIR/not-a-socket"
expect "-S naming a plain file: 69" 69 "not-a-socket" "$BIN/sio-rooms" -S "$DIR/not-a-socket" list

start_hub || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }

expect "sio-emit with an argument that is not JSON: 64" 64 "not JSON" "$BIN/sio-emit" ev 'not json'
expect "sio-emit with a bare word: 64, and a hint about quotes" 64 "quotes" "$BIN/sio-emit" ev 1 hello
expect "sio-emit without a hub is still 64 for bad JSON (checked first)" 64 "not JSON" \
	"$BIN/sio-emit" -S "$NOSOCK" ev '{"a":'
expect "sio-emit --timeout nonsense: 64" 64 "timeout" "$BIN/sio-emit" --ack --timeout soon ev
expect "sio-emit --nsp without a slash: 64" 64 "nsp" "$BIN/sio-emit" --nsp admin ev
expect "sio-emit --bogus: 64" 64 "help" "$BIN/sio-emit" --bogus ev
expect "sio-emit reserved event name: 64" 64 "reserved" "$BIN/sio-emit" disconnect
expect "sio-listen --count 0: 64" 64 "count" "$BIN/sio-listen" --count 0
expect "sio-listen --filter with a bad jq program: 64" 64 "filter" "$BIN/sio-listen" --filter '.['
expect "sio-listen extra argument: 64" 64 "unexpected" "$BIN/sio-listen" extra

# ---- the hub stops under running tools --------------------------------------------
client Q
ids Q || { not_ok "client connects"; exit 1; }
listen L --json
LP=$LISTEN_PID
"$BIN/sio-emit" --ack --timeout 20s question 1 >"$DIR/ack.out" 2>"$DIR/ack.err" &
AP=$!
track $AP
mkfifo "$DIR/feed"
"$BIN/sio-emit" <"$DIR/feed" >"$DIR/stream.out" 2>"$DIR/stream.err" &
SP=$!
track $SP
exec 9>"$DIR/feed"	# keep the stream's stdin open
echo '{"event":"one"}' >&9
wait_for_grep "$DIR/Q.out" '"event":"question"' 5
wait_for_grep "$DIR/Q.out" '"event":"one"' 5

kill -TERM "$HUB_PID"
wait_exit "$HUB_PID" 5
check_eq "sio-hub exits 0 after SIGTERM" 0 "$WRC"
check "the hub removed its control socket" test ! -e "$SIO_SOCKET"

wait_exit "$LP" 5
if [ "$WRC" = 69 ] && [ -s "$DIR/L.err" ]; then
	ok "sio-listen exits 69 when the hub goes ($(head -n 1 "$DIR/L.err"))"
else
	not_ok "sio-listen exits 69 when the hub goes" "exit $WRC, stderr: $(show "$DIR/L.err")"
fi
wait_exit "$AP" 5
if [ "$WRC" = 69 ] && [ -s "$DIR/ack.err" ]; then
	ok "sio-emit --ack waiting for answers exits 69 when the hub goes ($(head -n 1 "$DIR/ack.err"))"
else
	not_ok "sio-emit --ack waiting for answers exits 69 when the hub goes" "exit $WRC, stderr: $(show "$DIR/ack.err")"
fi
echo '{"event":"two"}' >&9 2>/dev/null
exec 9>&-
wait_exit "$SP" 5
if [ "$WRC" = 69 ] && [ -s "$DIR/stream.err" ]; then
	ok "sio-emit reading stdin exits 69 when the hub goes ($(head -n 1 "$DIR/stream.err"))"
else
	not_ok "sio-emit reading stdin exits 69 when the hub goes" "exit $WRC, stderr: $(show "$DIR/stream.err")"
fi
expect "sio-rooms after the hub stopped: 69" 69 "hub" "$BIN/sio-rooms" list

done_testing
