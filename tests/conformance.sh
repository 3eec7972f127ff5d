#!/bin/sh
# The public Engine.IO v4 / Socket.IO v5 conformance suites' server,
# made of sio-hub and the sio tools (no Node server), on 127.0.0.1:3000:
#   /engine.io/  a bare Engine.IO endpoint that echoes (--engine-echo)
#   /socket.io/  Socket.IO with "/" and "/custom"; on connect each socket
#                gets "auth" with its auth payload, "message" comes back as
#                "message-back", "message-with-ack" is answered with its args.
#
# usage: tests/conformance.sh [SUITE_DIR ...]
# With suite directories (copies of the socket.io repository's
# docs/engine.io-protocol/v4-test-suite and docs/socket.io-protocol/
# v5-test-suite, kept outside this repository, after `npm ci` in each),
# runs `npx mocha test-suite.js` in each and exits with the worst status.
# Without, serves until interrupted.
set -u
cd "$(dirname "$0")/.." || exit 1
bin=$(pwd)/cmd
dir=$(mktemp -d)
sock=$dir/hub.sock
pids=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin/sio-hub" -S "$sock" --bind 127.0.0.1 --port 3000 --engine-echo /engine.io/ \
	--nsp /custom --ping-interval 300 --ping-timeout 200 --connect-timeout 1000 -q &
pids="$!"
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$sock" ] || { echo "conformance: the hub did not start" >&2; exit 1; }

"$bin/sio-listen" -S "$sock" --json | jq -c --unbuffered '
	if .type == "connect" then {event: "auth", data: [.handshake.auth], to: [.sid], nsp: .nsp}
	elif .type == "event" and .event == "message" then
		{event: "message-back", data: .data, to: [.sid], nsp: .nsp}
	elif .type == "event" and .event == "message-with-ack" then {reply: .ack, data: .data}
	else empty end' | "$bin/sio-emit" -S "$sock" &
pids="$pids $!"
sleep 0.3

if [ $# -eq 0 ]; then
	echo "conformance server on http://127.0.0.1:3000 (Ctrl-C stops it)"
	wait
	exit 0
fi
status=0
for suite in "$@"; do
	(cd "$suite" && npx mocha test-suite.js) || status=1
done
exit $status
