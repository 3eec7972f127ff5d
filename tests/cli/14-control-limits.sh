#!/bin/sh
# The control socket's own limits are options: --max-control-line (a
# longer line is answered 'limit' and skipped) and --max-listener-output
# (a listener that stops reading misses events, counted, instead of
# growing the hub).
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

# Under ASan, freed memory would sit in its quarantine and count as RSS.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0
export ASAN_OPTIONS
start_hub --max-control-line 2000 --max-listener-output 65536 ||
	{ not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }

pad() { head -c "$1" /dev/zero | tr '\0' x; }
"$BIN/sio-emit" small "\"$(pad 1500)\"" >"$DIR/e1.out" 2>"$DIR/e1.err"
check_eq "a 1,500-byte emit fits in --max-control-line 2000" 0 $?
"$BIN/sio-emit" big "\"$(pad 3000)\"" >"$DIR/e2.out" 2>"$DIR/e2.err"
rc=$?
check "a 3,000-byte one is refused (exit $rc)" test "$rc" -ne 0
check "with the limit named: $(head -n 1 "$DIR/e2.err")" \
	grep -q "line longer than 2000 bytes" "$DIR/e2.err"

# A stopped listener and a client sending 1500 events of 10 kB (15 MB).
"$BIN/sio-listen" --json --events-only >"$DIR/slow.out" 2>"$DIR/slow.err" &
slow=$!
track "$slow"
sleep 0.3
kill -STOP "$slow"
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$HUB_PID/status")
flood 1500
check_eq "a client sends 1500 events of 10 kB" 0 $?
rss_peak=$(awk '/VmRSS/ {print $2}' "/proc/$HUB_PID/status")
kill -CONT "$slow"
wait_for_grep "$DIR/slow.out" '"type":"dropped","count":' 10
check "the resumed listener is told how many it missed" grep -q '"type":"dropped","count":' "$DIR/slow.out"
node "$CLIENT" --url "$URL" --emit 'end:[1]' >/dev/null 2>&1 &
late=$!
track "$late"
wait_for_grep "$DIR/slow.out" '"event":"end"' 10
stop "$late"
untrack "$late"
got=$(grep -c '"event":"flood"' "$DIR/slow.out")
missed=$(sed -n 's/.*"type":"dropped","count":\([0-9]*\).*/\1/p' "$DIR/slow.out" | head -n 1)
check_eq "what it got plus what it missed is all 1500" 1500 "$((got + ${missed:-0}))"
check "it missed most of them, its queue being 64 KiB ($got got, ${missed:-0} missed)" \
	test "${missed:-0}" -gt 1000
grow=$((rss_peak - rss_before))
# ASan's quarantine keeps freed memory for a while: a looser bound there.
bound=6144
[ -n "${SIO_SANITIZED:-}" ] && bound=40960
if [ "$grow" -lt "$bound" ]; then
	ok "the hub grew $grow kB for it (15 MB sent, 64 KiB allowed; bound $bound kB)"
else
	not_ok "the hub grew $grow kB for it" "before $rss_before kB, peak $rss_peak kB"
fi

done_testing
