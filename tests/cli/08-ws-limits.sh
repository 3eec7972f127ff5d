#!/bin/sh
# WebSocket limits: a message in too many fragments is refused (1009)
# before it can pin memory; one within the limit arrives whole.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

start_hub --max-fragments 100 || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }
listen L --json --events-only

# frags N: a raw WebSocket client joins "/" and sends 42["f","x..."] split
# into N frames; prints the close code the hub sent, or "open".
frags() {
	"$PY" - "$PORT" "$1" <<'PY'
import os, socket, struct, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
          b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
buf = b""
def frame(op, payload, fin=True):
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | op])
    n = len(payload)
    head += bytes([0x80 | n]) if n < 126 else bytes([0xfe]) + struct.pack(">H", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
def read_frame():
    global buf
    while True:
        if len(buf) >= 2:
            n = buf[1] & 0x7f
            off = 2
            if n == 126:
                n, off = struct.unpack(">H", buf[2:4])[0], 4
            if len(buf) >= off + n:
                op, data = buf[0] & 0x0f, buf[off:off + n]
                buf = buf[off + n:]
                return op, data
        chunk = s.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
buf = buf.split(b"\r\n\r\n", 1)[1]
read_frame()                      # the open packet
s.sendall(frame(1, b"40"))
read_frame()                      # 40{"sid":..}
msg = b'42["f","' + b"x" * (n - 8) + b'"]'
parts = [msg[i:i + 1] for i in range(len(msg) - (n - 1), len(msg))]
parts.insert(0, msg[:len(msg) - (n - 1)])
out = b""
for i, p in enumerate(parts):
    out += frame(1 if i == 0 else 0, p, fin=(i == len(parts) - 1))
s.sendall(out)
s.settimeout(2)
try:
    while True:
        op, data = read_frame()
        if op is None:
            print("eof")
            break
        if op == 8:
            print(struct.unpack(">H", data[:2])[0] if len(data) >= 2 else "close")
            break
except socket.timeout:
    print("open")
PY
}
check_eq "a message in 100 fragments is taken" open "$(frags 100)"
wait_for_lines "$DIR/L.out" 1 5
check "and reaches sio-listen whole" grep -q '"event":"f","data":\["x\{92\}"\]' "$DIR/L.out"
check_eq "a message in 101 fragments: close 1009" 1009 "$(frags 101)"
check "the hub says why" grep -q "more than 100 fragments in one message" "$HUB_LOG"
check "the hub still serves" "$BIN/sio-rooms" list
done_testing
