#!/bin/sh
# The hub's HTTP/1.1: keep-alive, pipelined requests answered in order,
# limits on header bytes and request time, CORS, bad WebSocket upgrades.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

start_hub --http-timeout 700 --max-header-bytes 2048 --cors http://app.test ||
	{ not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }

# raw REQUEST_BYTES [WAIT_S]: sends bytes on one connection, prints all that
# comes back until the hub closes or WAIT_S passes.
raw() {
	"$PY" - "$PORT" "$1" "${2:-1}" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
s.settimeout(float(sys.argv[3]))
out = b""
end = time.time() + float(sys.argv[3])
try:
    while time.time() < end:
        b = s.recv(65536)
        if not b:
            out += b"<EOF>"
            break
        out += b
except socket.timeout:
    pass
sys.stdout.write(out.decode("latin-1"))
EOF
}

Q='/socket.io/?EIO=4&transport=polling'
out=$(raw "GET $Q HTTP/1.1\r\nHost: x\r\n\r\nGET $Q HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n" 1)
# (a body has no newline: the next status line follows it on the same line)
check_eq "three pipelined requests get three answers" 3 "$(printf '%s' "$out" | grep -o 'HTTP/1.1 [0-9]*' | wc -l)"
check_eq "in order: two handshakes, then the 404" "200 200 404" \
	"$(printf '%s' "$out" | grep -o 'HTTP/1.1 [0-9]*' | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
check "the connection is kept alive" sh -c "printf '%s' '$out' | grep -q 'Connection: keep-alive'"
check_eq "two different sessions" 2 "$(printf '%s' "$out" | grep -o '"sid":"[^"]*"' | sort -u | wc -l)"

out=$(raw "GET $Q HTTP/1.0\r\n\r\n" 1)
check "HTTP/1.0 without keep-alive: answered, then closed" sh -c "printf '%s' '$out' | grep -q '<EOF>'"

big=$(head -c 3000 /dev/zero | tr '\0' a)
out=$(raw "GET $Q HTTP/1.1\r\nX-Big: $big\r\n\r\n" 1)
check "a request head over --max-header-bytes: 431 and closed" \
	sh -c "printf '%s' '$out' | grep -q '^HTTP/1.1 431' && printf '%s' '$out' | grep -q '<EOF>'"

out=$(raw "GET $Q HTTP/1.1\r\nHost: x\r\n" 2)
check "a request not finished within --http-timeout: 408 and closed" \
	sh -c "printf '%s' '$out' | grep -q '^HTTP/1.1 408' && printf '%s' '$out' | grep -q '<EOF>'"

out=$(raw "" 2)
check "an idle connection is closed after --http-timeout" sh -c "printf '%s' '$out' | grep -q '^<EOF>'"

out=$(raw "GARBAGE\r\n\r\n" 1)
check "a malformed request: 400 and closed" sh -c "printf '%s' '$out' | grep -q '^HTTP/1.1 400'"

out=$(raw "GET $Q HTTP/1.1\r\nOrigin: http://app.test\r\n\r\n" 1)
check "an allowed Origin gets Access-Control-Allow-Origin" \
	sh -c "printf '%s' '$out' | grep -q 'Access-Control-Allow-Origin: http://app.test'"
out=$(raw "GET $Q HTTP/1.1\r\nOrigin: http://evil.test\r\n\r\n" 1)
check "another Origin gets none" sh -c "! printf '%s' '$out' | grep -q 'Access-Control-Allow-Origin'"
out=$(raw "OPTIONS $Q HTTP/1.1\r\nOrigin: http://app.test\r\nAccess-Control-Request-Headers: x-a\r\n\r\n" 1)
check "a CORS preflight: 204 with methods and headers" \
	sh -c "printf '%s' '$out' | grep -q '^HTTP/1.1 204' && printf '%s' '$out' | grep -q 'Access-Control-Allow-Methods: GET,POST' && printf '%s' '$out' | grep -q 'Access-Control-Allow-Headers: x-a'"

WS='/socket.io/?EIO=4&transport=websocket'
out=$(raw "GET $WS HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n" 1)
check "a WebSocket upgrade without a key: 400" sh -c "printf '%s' '$out' | grep -q '^HTTP/1.1 400'"
out=$(raw "GET $WS HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" 1)
check "a WebSocket upgrade of another version: 400" sh -c "printf '%s' '$out' | grep -q '^HTTP/1.1 400'"
out=$(raw "GET $WS HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" 1)
check "a good upgrade: 101 with the RFC 6455 accept key" \
	sh -c "printf '%s' '$out' | grep -q '^HTTP/1.1 101' && printf '%s' '$out' | grep -q 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo='"
check "and the open packet as its first frame" sh -c "printf '%s' '$out' | grep -q '0{\"sid\":\"'"
out=$(raw "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\r\n" 1)
check_eq "transport=websocket without an upgrade: 400 Bad request" \
	'{"code":3,"message":"Bad request"}' "$(printf '%s' "$out" | sed 's/<EOF>$//' | tail -c 34)"
check "the hub is still serving" "$BIN/sio-rooms" list
done_testing
