#!/bin/sh
# Bad input: sio-emit reports bad stdin lines by number and goes on (or
# stops with --strict); the control socket answers each bad request with
# an error code and keeps serving that client and the others.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

start_hub || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }
client X
client_ready X >/dev/null || { not_ok "client connects"; exit 1; }

NMARK=0
# settle: a marker to X; once it is there, everything sent before is too
settle() {
	NMARK=$((NMARK + 1))
	"$BIN/sio-emit" mark "$NMARK"
	wait_for_grep "$DIR/X.out" "{\"event\":\"mark\",\"args\":[$NMARK]}" 5 ||
		not_ok "marker $NMARK reaches the client" "$(show "$DIR/X.out")"
}
events() {
	grep -v '"event":"mark"' "$DIR/X.out" | jq -r .event | paste -sd' ' -
}

input() {
	printf '%s\n' '{"event":"ok","data":[1]}' 'not json' '{"data":[1]}' \
		'{"event":"x","data":{}}' '{"event":"disconnect"}' '{"event":"fine"}'
}

# ---- the default: report and go on ---------------------------------------------
input | "$BIN/sio-emit" >"$DIR/e1.out" 2>"$DIR/e1.err"
rc=$?
settle
check_eq "bad lines: exit 65" 65 "$rc"
check_eq "stderr names lines 2, 3, 4, 5, one each" "2 3 4 5" \
	"$(sed -n 's/^sio-emit: line \([0-9]*\): .*/\1/p' "$DIR/e1.err" | paste -sd' ' -)"
check_eq "nothing else on stderr" 4 "$(lines "$DIR/e1.err")"
echo "# $(tr '\n' '|' <"$DIR/e1.err")"
check_eq "lines 1 and 6 are still delivered, in order" "ok fine" "$(events)"

# ---- --strict: stop at the first bad line -----------------------------------------
: >"$DIR/X.out"
input | "$BIN/sio-emit" --strict >"$DIR/e2.out" 2>"$DIR/e2.err"
rc=$?
settle
check_eq "--strict: exit 65" 65 "$rc"
check_eq "--strict: stderr names line 2 only" "2" \
	"$(sed -n 's/^sio-emit: line \([0-9]*\): .*/\1/p' "$DIR/e2.err" | paste -sd' ' -)"
check_eq "--strict: line 1 delivered, line 6 not" "ok" "$(events)"

# ---- -q: count only -----------------------------------------------------------
: >"$DIR/X.out"
input | "$BIN/sio-emit" -q >"$DIR/e3.out" 2>"$DIR/e3.err"
rc=$?
settle
check_eq "-q: exit 65, stderr empty, lines 1 and 6 delivered" "65||ok fine" "$rc|$(cat "$DIR/e3.err")|$(events)"

# ---- a line the hub refuses keeps its input line number -------------------------
: >"$DIR/X.out"
printf '%s\n' '{"event":"a"}' '' '{"event":"b","data":[{"_binary":"!!"}]}' '{"event":"c"}' |
	"$BIN/sio-emit" >"$DIR/e4.out" 2>"$DIR/e4.err"
rc=$?
settle
check_eq "a line the hub refuses (bad base64) is reported as line 3, exit 65" "65|3" \
	"$rc|$(sed -n 's/^sio-emit: line \([0-9]*\): .*/\1/p' "$DIR/e4.err" | paste -sd' ' -)"
check_eq "the lines around it are delivered" "a c" "$(events)"

# ---- the control socket itself ---------------------------------------------------
cat >"$DIR/ctl.py" <<'EOF'
import json, socket, sys

path = sys.argv[1]

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s, s.makefile("rb")

def answer(f):
    try:
        line = f.readline()
    except socket.timeout:
        return "TIMEOUT"
    except OSError:
        return None
    if not line:
        return None
    return json.loads(line)

def summary(a):
    if a is None:
        return "EOF"
    if a == "TIMEOUT":
        return "no-answer-in-3s"
    if "error" in a:
        return "%s:%s:line%s" % (a.get("id"), a["error"]["code"], a.get("line"))
    return "%s:%s" % (a.get("id"), "ok" if a.get("ok") else json.dumps(a))

s1, f1 = conn()
s2, f2 = conn()
s2.sendall(b'{"op":"ping","id":"other-1"}\n')
out = ["other:" + summary(answer(f2))]
reqs = [b'{"op":"emit"', b'[1]', b'{"op":"nope","id":3}', b'{"op":"emit","id":4,"event":5}',
        b'{"op":"ping","id":5}']
s1.sendall(b"\n".join(reqs) + b"\n")
for _ in reqs:
    out.append(summary(answer(f1)))
s2.sendall(b'{"op":"ping","id":"other-2"}\n')
out.append("other:" + summary(answer(f2)))
s1.sendall(b'{"op":"count","id":6,"room":"nowhere"}\n')
a = answer(f1)
out.append("%s:count=%s" % (a.get("id"), a.get("count")))
print(" ".join(out))

# a message for every error, and the error code set is the documented one
s3, f3 = conn()
s3.sendall(b'{"op":"reply","id":7,"ack":"1:nosuchsid:/"}\n{"op":"join","id":8,"room":"r"}\n'
           b'{"op":"emit","id":9,"event":"e","to":' + json.dumps(["r"] * 1025).encode() + b'}\n')
codes = []
for _ in range(3):
    a = answer(f3)
    codes.append("%s:%s:%s" % (a.get("id"), a["error"]["code"], "msg" if a["error"].get("message") else "nomsg"))
print(" ".join(codes))

# a line too long: a limit error, the rest of that line is dropped, and the
# same connection goes on with the next line
s4, f4 = conn()
s4.settimeout(5)
big = b'{"op":"ping","pad":"' + b"x" * (3 << 20) + b'"}\n{"op":"ping","id":"after"}\n'
try:
    s4.sendall(big)
except OSError:
    pass
a = answer(f4)
if isinstance(a, dict) and "error" in a:
    first = a["error"]["code"]
    try:
        b = answer(f4)
        eof = "open" if isinstance(b, dict) and b.get("id") == "after" else "lost"
    except OSError:
        eof = "closed"
else:
    first, eof = summary(a), "?"
s2.sendall(b'{"op":"ping","id":"other-3"}\n')
print("%s:%s other:%s" % (first, eof, summary(answer(f2))))
EOF
timeout 30 "$PY" "$DIR/ctl.py" "$SIO_SOCKET" >"$DIR/ctl.out" 2>"$DIR/ctl.err"
check_eq "control socket script runs" 0 $?
set -- "$(sed -n 1p "$DIR/ctl.out")"
check_eq "errors: bad_json, bad_request ([1]), unknown_op, bad_request (event 5), then ping answered; line numbers 1-4; another client unaffected" \
	"other:other-1:ok None:bad_json:line1 None:bad_request:line2 3:unknown_op:line3 4:bad_request:line4 5:ok other:other-2:ok 6:count=0" "$1"
check_eq "not_found, bad_request and limit errors, each with a message" \
	"7:not_found:msg 8:bad_request:msg 9:limit:msg" "$(sed -n 2p "$DIR/ctl.out")"
check_eq "a line over the size limit: limit error, the next line on that connection answered, the other one still served" \
	"limit:open other:other-3:ok" "$(sed -n 3p "$DIR/ctl.out")"
[ -s "$DIR/ctl.err" ] && echo "# $(show "$DIR/ctl.err")"
check "the hub is still running" kill -0 "$HUB_PID"

# a line between the connection's read limit and the control line limit
# (--max-payload 1000000: 2 x 1000000 + 65536 bytes are allowed per line)
n=1200000
"$PY" -c "print('x' * $n)" | timeout 6 "$BIN/sio-emit" --raw big >"$DIR/e5.out" 2>"$DIR/e5.err"
rc=$?
case $rc in
0|65) ok "a $n-byte raw line is sent or refused, not stuck (exit $rc)" ;;
*) not_ok "a $n-byte raw line is sent or refused, not stuck" "exit $rc (124: still running after 6 s), stderr: $(show "$DIR/e5.err")" ;;
esac

settle	# the big one is through

# a stdin line over the hub's line limit (2 x 1000000 + 65536 bytes) between
# two good ones: like any bad line, reported with its number (exit 65)
: >"$DIR/X.out"
"$PY" -c "
import json
print(json.dumps({'event': 'before'}))
print(json.dumps({'event': 'huge', 'data': ['x' * 2100000]}))
print(json.dumps({'event': 'after'}))" >"$DIR/huge.in"
timeout 10 "$BIN/sio-emit" <"$DIR/huge.in" >"$DIR/e6.out" 2>"$DIR/e6.err"
rc=$?
settle
if grep -q '^sio-emit: line 2: ' "$DIR/e6.err"; then
	ok "an over-long stdin line is reported as line 2 ($(grep -m1 '^sio-emit: line 2: ' "$DIR/e6.err"))"
else
	not_ok "an over-long stdin line is reported as line 2" "stderr: $(show "$DIR/e6.err")"
fi
check_eq "an over-long stdin line: exit 65 (some input lines were bad), not 69 (hub not reachable)" 65 "$rc"
check_eq "the lines around the over-long one are delivered" "before after" "$(events)"
check "the hub is still running" kill -0 "$HUB_PID"

done_testing
