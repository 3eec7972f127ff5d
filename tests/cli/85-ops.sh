#!/bin/sh
# Running the hub as a service: a settings file with flags winning,
# --check-config, SIGHUP, /health and /metrics, and the systemd
# notification protocol (READY, RELOADING, STOPPING).
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

conf=$DIR/hub.conf
cat >"$conf" <<'CONF'
# a comment, then settings as the long option names
nsp /chat
cors = http://one.test
relay rooms
ping-interval 25000
CONF

"$BIN/sio-hub" -c "$conf" --check-config >"$DIR/check.out" 2>&1
check_eq "--check-config on a good file exits 0" 0 $?
check "and says so" grep -q "configuration OK" "$DIR/check.out"
printf 'nsp chat\n' >"$DIR/bad.conf"
"$BIN/sio-hub" -c "$DIR/bad.conf" --check-config >"$DIR/bad.out" 2>&1
check_eq "--check-config on a bad line exits 78" 78 $?
check "and names the file and line" grep -q "bad.conf:1: nsp: 'chat' must start with '/'" "$DIR/bad.out"
"$BIN/sio-hub" -c "$DIR/missing.conf" --check-config >"$DIR/miss.out" 2>&1
check_eq "a missing -c file exits 78" 78 $?
"$BIN/sio-hub" --static "$DIR/nodir" --check-config >"$DIR/st.out" 2>&1
check_eq "--check-config finds a missing --static directory" 78 $?

# A hub from the file, with a flag that wins over it.
start_hub -c "$conf" --relay=all --metrics on || { not_ok "sio-hub starts with -c" "$(show "$HUB_LOG")"; exit 1; }
client A --nsp /chat
client B --nsp /chat
ids A B || { not_ok "clients join /chat, a namespace from the file"; exit 1; }
ok "clients join /chat, a namespace the file added"
# --relay=all on the command line beat "relay rooms": B hears A with no room.
node "$CLIENT" --url "$URL" --nsp /chat --id-file "$DIR/C.id" --out "$DIR/C.out" --emit 'hi:[1]' 2>/dev/null &
c=$!
track "$c"
wait_for_grep "$DIR/B.out" '"event":"hi"' 5
check "a flag wins over the file (relay all, not rooms)" grep -q '"event":"hi"' "$DIR/B.out"
stop "$c"
untrack "$c"

origin() { # origin ORIGIN: the Access-Control-Allow-Origin answered for it
	curl -s -D - -o /dev/null -H "Origin: $1" "$URL/socket.io/?EIO=4&transport=polling" |
		tr -d '\r' | sed -n 's/^Access-Control-Allow-Origin: //p'
}
check_eq "CORS from the file" "http://one.test" "$(origin http://one.test)"
check_eq "another origin is not allowed" "" "$(origin http://two.test)"

# SIGHUP: the file again; CORS changes, a namespace is added, the path stays.
cat >"$conf" <<'CONF'
nsp /chat
nsp /news
cors http://two.test
path /other/
CONF
kill -HUP "$HUB_PID"
wait_for_grep "$HUB_LOG" "settings reloaded" 5
check "SIGHUP reloads" grep -q "settings reloaded" "$HUB_LOG"
check "and says the path changes only with a restart" grep -q "change only with a restart" "$HUB_LOG"
check_eq "after SIGHUP the new origin is allowed" "http://two.test" "$(origin http://two.test)"
check_eq "and the old one no longer" "" "$(origin http://one.test)"
node "$CLIENT" --url "$URL" --nsp /news --id-file "$DIR/N.id" --out "$DIR/N.out" 2>/dev/null &
n=$!
track "$n"
wait_for_file "$DIR/N.id" 5
check "a namespace added by SIGHUP accepts clients" test -s "$DIR/N.id"
printf 'nsp bad\n' >"$conf"
kill -HUP "$HUB_PID"
wait_for_grep "$HUB_LOG" "keeping the running settings" 5
check "a bad file on SIGHUP keeps the running settings" grep -q "keeping the running settings" "$HUB_LOG"
check_eq "and the hub still serves" "http://two.test" "$(origin http://two.test)"

# /health and /metrics.
h=$(curl -s "$URL/health")
case $h in '{"status":"ok",'*'"sockets":3}') ok "GET /health: ok with 3 sockets" ;;
*) not_ok "GET /health" "$h" ;; esac
"$BIN/sio-emit" --nsp /chat tick 1
curl -s "$URL/metrics" >"$DIR/metrics.txt"
check "GET /metrics: sessions by transport" grep -q '^sio_connections{transport="websocket"} 3$' "$DIR/metrics.txt"
check "sockets by namespace" grep -q '^sio_sockets{namespace="/chat"} 2$' "$DIR/metrics.txt"
check "packets out counted per recipient" grep -q '^sio_packets_out_total [1-9]' "$DIR/metrics.txt"
check "events in counted" grep -q '^sio_events_in_total [1-9]' "$DIR/metrics.txt"
check "control requests counted" grep -q '^sio_control_requests_total [1-9]' "$DIR/metrics.txt"
check "every metric has HELP and TYPE" test "$(grep -c '^# TYPE' "$DIR/metrics.txt")" -ge 15
stop "$HUB_PID"
untrack "$HUB_PID"

start_hub --metrics off || { not_ok "sio-hub --metrics off"; exit 1; }
check_eq "--metrics off: /metrics is not served" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")"
stop "$HUB_PID"
untrack "$HUB_PID"

# systemd's notification protocol on a socket of our own.
"$PY" - "$DIR/notify.sock" "$BIN/sio-hub" "$(free_port)" "$DIR/n-hub.sock" >"$DIR/notify.out" 2>&1 <<'PY'
import os, signal, socket, subprocess, sys, time
path, hub, port, sock = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(5)
env = dict(os.environ, NOTIFY_SOCKET=path)
p = subprocess.Popen([hub, "--bind", "127.0.0.1", "--port", port, "-S", sock], env=env,
                     stderr=subprocess.DEVNULL)
def expect(word):
    end = time.time() + 5
    while time.time() < end:
        msg = s.recv(4096).decode()
        if word in msg.split("\n"):
            return True
    return False
print("ready", expect("READY=1"))
p.send_signal(signal.SIGHUP)
print("reloading", expect("RELOADING=1"), expect("READY=1"))
p.send_signal(signal.SIGTERM)
print("stopping", expect("STOPPING=1"))
print("exit", p.wait(timeout=10))
PY
check_eq "sd_notify: READY once listening" "ready True" "$(sed -n 1p "$DIR/notify.out")"
check_eq "sd_notify: RELOADING then READY on SIGHUP" "reloading True True" "$(sed -n 2p "$DIR/notify.out")"
check_eq "sd_notify: STOPPING on SIGTERM" "stopping True" "$(sed -n 3p "$DIR/notify.out")"
check_eq "and a clean exit" "exit 0" "$(sed -n 4p "$DIR/notify.out")"
done_testing
