#!/bin/sh
# The control socket's life (a live hub is not clobbered, a stale socket is
# replaced), sio-listen on a terminal, sio-emit --jq and --ack from stdin,
# and a listener that stops reading: the hub drops and counts, and stays small.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

start_hub || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }
FIRST_PID=$HUB_PID
FIRST_SOCK=$SIO_SOCKET

# A second hub on the same control socket refuses and says why.
port2=$(free_port)
"$BIN/sio-hub" --bind 127.0.0.1 --port "$port2" -S "$FIRST_SOCK" 2>"$DIR/second.err" &
second=$!
track "$second"
wait_exit "$second" 5
untrack "$second"
check_eq "a second hub on a live hub's socket exits 69" 69 "$WRC"
check "it says another hub listens there" grep -q "another hub is already listening" "$DIR/second.err"
check "the first hub still answers on its socket" "$BIN/sio-rooms" list

# A stale socket file from a killed hub is replaced.
kill -9 "$FIRST_PID"
wait "$FIRST_PID" 2>/dev/null
untrack "$FIRST_PID"
check "the killed hub left its socket file behind" test -S "$FIRST_SOCK"
"$BIN/sio-hub" --bind 127.0.0.1 --port "$port2" -S "$FIRST_SOCK" 2>"$DIR/third.log" &
third=$!
track "$third"
i=0
until "$BIN/sio-rooms" -S "$FIRST_SOCK" list >/dev/null 2>&1 || [ $i -ge 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
check "a new hub takes over the stale socket" "$BIN/sio-rooms" -S "$FIRST_SOCK" list
stop "$third"
untrack "$third"

# Under AddressSanitizer (make test SANITIZE=...) freed memory sits in a
# quarantine; without one, RSS measures what the hub holds.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0
export ASAN_OPTIONS
start_hub || { not_ok "sio-hub starts again" "$(show "$HUB_LOG")"; exit 1; }
client A --ack-reply '["yes"]'
ids A || { not_ok "a client connects"; exit 1; }

# sio-listen on a terminal: a line for people, coloured unless NO_COLOR.
tty_listen() { # tty_listen OUTFILE [ENV...]
	_out=$1
	shift
	env "$@" script -qfec "$BIN/sio-listen --events-only --count 1" /dev/null >"$_out" 2>&1 &
	_pid=$!
	track "$_pid"
	sleep 0.5
	node "$CLIENT" --url "$URL" --id-file "$DIR/tty.id" --out "$DIR/tty.out" \
		--emit 'hello:[{"n":1}]' 2>/dev/null &
	_c=$!
	track "$_c"
	wait_exit "$_pid" 10
	untrack "$_pid"
	stop "$_c"
	untrack "$_c"
}
tty_listen "$DIR/tty1.txt" "SIO_SOCKET=$SIO_SOCKET"
check "on a terminal: the event name and data on one line" grep -q 'hello.*{"n":1}' "$DIR/tty1.txt"
check "on a terminal: colours" grep -q "$(printf '\033')\[" "$DIR/tty1.txt"
check "on a terminal: no JSON line" sh -c "! grep -q '\"type\":\"event\"' '$DIR/tty1.txt'"
tty_listen "$DIR/tty2.txt" "SIO_SOCKET=$SIO_SOCKET" NO_COLOR=1
check "NO_COLOR: the same line" grep -q 'hello.*{"n":1}' "$DIR/tty2.txt"
check "NO_COLOR: no escape sequences" sh -c "! grep -q \"$(printf '\033')\" '$DIR/tty2.txt'"

# sio-emit --jq: events made from arbitrary JSON input.
: >"$DIR/A.out"
printf '%s\n' '{"level":"info","msg":"started"}' '{"level":"warn",' '"msg":"disk"}' |
	"$BIN/sio-emit" --jq '{event: "log", data: [.level, .msg]}' 2>"$DIR/jq.err"
check_eq "sio-emit --jq exits 0" 0 $?
wait_for_lines "$DIR/A.out" 2 5
check_eq "--jq: one event per input value, a value may span lines" \
	'{"event":"log","args":["info","started"]}|{"event":"log","args":["warn","disk"]}' \
	"$(tr '\n' '|' <"$DIR/A.out" | sed 's/|$//')"
echo '{"a":1}' | "$BIN/sio-emit" --jq '{event: "disconnect"}' 2>"$DIR/jq2.err"
check_eq "--jq output that is a reserved event: exit 65" 65 $?
check "--jq: the bad output is reported with its line" grep -q "line 1" "$DIR/jq2.err"

# --ack with event lines on stdin: each line waits for its answers.
printf '%s\n' '{"event":"q1","data":[1]}' '{"event":"q2","data":[2]}' |
	"$BIN/sio-emit" --ack --timeout 2s >"$DIR/acks.out" 2>"$DIR/acks.err"
check_eq "--ack from stdin exits 0 when every socket answered" 0 $?
check_eq "--ack from stdin: one answer line per event" 2 "$(grep -c '"data":\["yes"\]' "$DIR/acks.out")"

# A listener that stops reading: its events are dropped and counted, the
# hub stays small, and the listener is told how many it missed.
"$BIN/sio-listen" --json --events-only >"$DIR/slow.out" 2>"$DIR/slow.err" &
slow=$!
track "$slow"
sleep 0.3
kill -STOP "$slow"
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$HUB_PID/status")
flood 3000
check_eq "a client sends 3000 events of 10 kB" 0 $?
rss_peak=$(awk '/VmRSS/ {print $2}' "/proc/$HUB_PID/status")
kill -CONT "$slow"
wait_for_grep "$DIR/slow.out" '"type":"dropped","count":' 15
check "the resumed listener is told how many it missed" grep -q '"type":"dropped","count":' "$DIR/slow.out"
"$BIN/sio-emit" --to "$A" go 1
node "$CLIENT" --url "$URL" --id-file "$DIR/late.id" --out "$DIR/late.out" --emit 'end:[1]' 2>/dev/null &
late=$!
track "$late"
wait_for_grep "$DIR/slow.out" '"event":"end"' 10
check "and gets the events that come after" grep -q '"event":"end"' "$DIR/slow.out"
stop "$late"
untrack "$late"
got=$(grep -c '"event":"flood"' "$DIR/slow.out")
missed=$(sed -n 's/.*"type":"dropped","count":\([0-9]*\).*/\1/p' "$DIR/slow.out" | head -n 1)
check_eq "what it got plus what it missed is everything sent" 3000 "$((got + ${missed:-0}))"
grow=$((rss_peak - rss_before))
if [ "$grow" -lt 51200 ]; then
	ok "the hub grew $grow kB for a stopped listener (30 MB sent; bound 8 MiB queued)"
else
	not_ok "the hub grew $grow kB for a stopped listener" "before $rss_before kB, peak $rss_peak kB"
fi
check "the hub logged the drops" grep -q "dropped for a slow listener" "$HUB_LOG"
done_testing
