# Shared helpers of the CLI tests (POSIX sh). Source it from /work/main:
#   . tests/cli/lib.sh
#   start_hub [HUB ARGS...]
#
# Sourcing makes a private directory $DIR and a trap that, on exit, stops
# every process registered with track (the hub, clients, listeners) by PID
# and removes $DIR (KEEP_DIR=1 keeps it). Checks print "ok - what" or
# "not ok - what (details)"; after a failure the hub's last log lines follow.
# shellcheck shell=sh

set -u
# the checkout: two levels above the script, else the current directory
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$ROOT/cmd/sio-hub" ] || ROOT=$(pwd)
cd "$ROOT" || exit 70
BIN=$ROOT/cmd
CLIENT=$ROOT/tests/cli/client.mjs
DIR=$(mktemp -d "${TMPDIR:-/tmp}/sio-cli.XXXXXX") || exit 70
PIDS=""
NFAIL=0
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

cleanup() {
	for _p in $PIDS; do
		kill "$_p" 2>/dev/null
	done
	# a moment for clean exits, then no mercy (bounded: 20 x 0.05 s)
	_i=0
	while [ $_i -lt 20 ]; do
		_alive=""
		for _p in $PIDS; do
			gone "$_p" || _alive="$_alive $_p"
		done
		[ -z "$_alive" ] && break
		sleep 0.05
		_i=$((_i + 1))
	done
	for _p in $PIDS; do
		kill -9 "$_p" 2>/dev/null
	done
	if [ "$NFAIL" -gt 0 ]; then
		for _f in "$DIR"/hub*.log; do
			[ -s "$_f" ] || continue
			echo "# ${_f##*/} (last lines):"
			tail -n 8 "$_f" | sed 's/^/#   /'
		done
	fi
	if [ -n "${KEEP_DIR:-}" ]; then
		echo "# kept $DIR" >&2
	else
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# track PID: stop PID when the script ends
track() {
	PIDS="$PIDS $1"
}

# untrack PID: it ended (or was stopped) on purpose
untrack() {
	_rest=""
	for _p in $PIDS; do
		[ "$_p" = "$1" ] || _rest="$_rest $_p"
	done
	PIDS=$_rest
}

ok() {
	echo "ok - $1"
}

not_ok() { # not_ok WHAT [DETAILS]
	NFAIL=$((NFAIL + 1))
	if [ $# -gt 1 ] && [ -n "$2" ]; then
		echo "not ok - $1 ($2)"
	else
		echo "not ok - $1"
	fi
}

# check WHAT COMMAND...: ok when COMMAND succeeds
check() {
	_what=$1
	shift
	if "$@"; then ok "$_what"; else not_ok "$_what" "failed: $*"; fi
}

# check_eq WHAT EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected '$2', got '$(printf '%s' "$3" | head -c 600)'"
	fi
}

# show FILE: its first lines on one line, for details
show() {
	if [ -f "$1" ]; then
		head -c 400 "$1" | tr '\n' '|'
	else
		echo "(no $1)"
	fi
}

# lines FILE: its number of lines (0 when missing)
lines() {
	if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}

# wait_for_lines FILE N [TIMEOUT_S]: until FILE has N lines (polls 0.05 s)
wait_for_lines() {
	_n=$(( ${3:-5} * 20 ))
	while [ "$_n" -gt 0 ]; do
		[ "$(lines "$1")" -ge "$2" ] && return 0
		sleep 0.05
		_n=$((_n - 1))
	done
	return 1
}

# wait_for_grep FILE PATTERN [TIMEOUT_S]: until grep -q PATTERN FILE (fixed string)
wait_for_grep() {
	_n=$(( ${3:-5} * 20 ))
	while [ "$_n" -gt 0 ]; do
		[ -f "$1" ] && grep -qF -- "$2" "$1" && return 0
		sleep 0.05
		_n=$((_n - 1))
	done
	return 1
}

# wait_for_file FILE [TIMEOUT_S]
wait_for_file() {
	_n=$(( ${2:-5} * 20 ))
	while [ "$_n" -gt 0 ]; do
		[ -s "$1" ] && return 0
		sleep 0.05
		_n=$((_n - 1))
	done
	return 1
}

# gone PID: has PID exited (a zombie not yet waited for counts as gone)?
gone() {
	kill -0 "$1" 2>/dev/null || return 0
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 0
	case $_st in Z*|X*) return 0 ;; esac
	return 1
}

# wait_exit PID [TIMEOUT_S]: until PID is gone; sets WRC to its exit status,
# or to "timeout" (and returns 1). Only for children of this shell, and not
# in a subshell ($(...)), where wait cannot see them.
wait_exit() {
	_n=$(( ${2:-5} * 20 ))
	while [ "$_n" -gt 0 ]; do
		if gone "$1"; then
			wait "$1"
			WRC=$?
			untrack "$1"
			return 0
		fi
		sleep 0.05
		_n=$((_n - 1))
	done
	# shellcheck disable=SC2034 # read by the scripts
	WRC=timeout
	return 1
}

# stop PID: SIGTERM, wait (bounded), SIGKILL
stop() {
	kill "$1" 2>/dev/null
	if ! wait_exit "$1" 3; then
		kill -9 "$1" 2>/dev/null
		wait "$1" 2>/dev/null
	fi
	untrack "$1"
}

# free_port: a TCP port on 127.0.0.1 nobody listens on right now
free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# port_open PORT: does 127.0.0.1:PORT accept?
port_open() {
	"$PY" -c 'import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

NHUB=0
# start_hub [ARGS...]: starts cmd/sio-hub on a free port with a private
# control socket; sets PORT, URL, HUB_PID, HUB_LOG, SIO_SOCKET (exported).
# Tries again on another port if the port was taken meanwhile.
start_hub() {
	NHUB=$((NHUB + 1))
	_attempt=0
	while [ $_attempt -lt 5 ]; do
		_attempt=$((_attempt + 1))
		PORT=$(free_port) || return 1
		SIO_SOCKET=$DIR/hub$NHUB.sock
		HUB_LOG=$DIR/hub$NHUB.log
		export SIO_SOCKET
		"$BIN/sio-hub" --bind 127.0.0.1 --port "$PORT" -S "$SIO_SOCKET" "$@" 2>"$HUB_LOG" &
		HUB_PID=$!
		track "$HUB_PID"
		URL=http://127.0.0.1:$PORT
		_i=0
		while [ $_i -lt 100 ]; do
			if ! kill -0 "$HUB_PID" 2>/dev/null; then
				break
			fi
			if [ -S "$SIO_SOCKET" ] && port_open "$PORT"; then
				return 0
			fi
			sleep 0.05
			_i=$((_i + 1))
		done
		if kill -0 "$HUB_PID" 2>/dev/null; then
			echo "# sio-hub did not get ready in 5 s: $(show "$HUB_LOG")" >&2
			return 1
		fi
		wait "$HUB_PID"
		_rc=$?
		untrack "$HUB_PID"
		[ $_rc -eq 69 ] || { echo "# sio-hub exited $_rc: $(show "$HUB_LOG")" >&2; return 1; }
	done
	return 1
}

# client NAME [client.mjs options...]: starts a socket.io-client in the
# background with --url $URL --id-file $DIR/NAME.id --out $DIR/NAME.out;
# sets CLIENT_PID. Wait for it with client_ready NAME.
client() {
	_name=$1
	shift
	: >"$DIR/$_name.out"
	node "$CLIENT" --url "$URL" --id-file "$DIR/$_name.id" --out "$DIR/$_name.out" "$@" \
		2>"$DIR/$_name.err" &
	CLIENT_PID=$!
	track "$CLIENT_PID"
	eval "PID_$_name=\$CLIENT_PID"
}

# client_ready NAME [TIMEOUT_S]: waits for its id file; prints the id
client_ready() {
	if wait_for_file "$DIR/$1.id" "${2:-10}"; then
		cat "$DIR/$1.id"
	else
		echo "# client $1 did not connect: $(show "$DIR/$1.out") $(show "$DIR/$1.err")" >&2
		return 1
	fi
}

# ids NAME...: waits for the clients NAME... and sets $NAME to each one's id
ids() {
	for _name in "$@"; do
		# shellcheck disable=SC2034 # used by the eval
		_id=$(client_ready "$_name") || return 1
		eval "$_name=\$_id"
	done
}

# has_socket PID: does PID have a socket open?
has_socket() {
	for _f in "/proc/$1/fd/"*; do
		case $(readlink "$_f" 2>/dev/null) in socket:*) return 0 ;; esac
	done
	return 1
}

# listen NAME [sio-listen options...]: sio-listen in the background,
# stdout to $DIR/NAME.out, stderr to $DIR/NAME.err; sets LISTEN_PID.
# Returns once it has connected to the control socket (its only socket),
# plus 0.2 s for the subscription (events before that are not seen).
listen() {
	_name=$1
	shift
	"$BIN/sio-listen" "$@" >"$DIR/$_name.out" 2>"$DIR/$_name.err" </dev/null &
	LISTEN_PID=$!
	track "$LISTEN_PID"
	_i=0
	while [ $_i -lt 100 ] && ! gone "$LISTEN_PID"; do
		has_socket "$LISTEN_PID" && break
		sleep 0.05
		_i=$((_i + 1))
	done
	sleep 0.2
}

# done_testing: the closing line for a script's own bookkeeping
done_testing() {
	echo "# $NFAIL failed"
	[ "$NFAIL" -eq 0 ]
}

# flood N: a socket.io-client sends N events "flood" (i, 10 kB) to $URL,
# pausing 5 ms every 50; returns its exit status (bounded: 20 s)
flood() {
	node -e '
const { io } = require(process.argv[1]);
const n = Number(process.argv[3]);
const s = io(process.argv[2], { transports: ["websocket"] });
const big = "x".repeat(10000);
s.on("connect", async () => {
	for (let i = 0; i < n; i++) {
		s.emit("flood", i, big);
		if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
	}
	setTimeout(() => process.exit(0), 500);
});
setTimeout(() => process.exit(1), 20000);
' "$ROOT/tests/interop/node_modules/socket.io-client" "$URL" "$1" 2>"$DIR/flood.err"
}
