#!/bin/sh
# Who may use the control socket: the hub's user and root; with
# --control-group, that group's members too. The file's mode keeps others
# out, and SO_PEERCRED refuses them even when the file is left open.
# Clients run as other users through setpriv, so this needs root (as
# `make test` on a fresh machine has).
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	not_ok "control socket access" "needs root to run clients as other users (setpriv)"
	exit 1
fi
# other users must be able to traverse to the sockets under $DIR
chmod 0711 "$DIR"

# as UID GID [GROUPS] CMD...: run CMD as another user (GROUPS: -, or a list)
as() {
	_u=$1 _g=$2 _gs=$3
	shift 3
	if [ "$_gs" = - ]; then
		timeout 10 setpriv --reuid="$_u" --regid="$_g" --clear-groups "$@"
	else
		timeout 10 setpriv --reuid="$_u" --regid="$_g" --groups="$_gs" "$@"
	fi
}

# hub_at SOCKET [ARGS...]: a hub whose control socket is SOCKET
hub_at() {
	_sock=$1
	shift
	PORT=$(free_port) || return 1
	HUB_LOG=$DIR/hub-$(basename "$(dirname "$_sock")").log
	"$BIN/sio-hub" --bind 127.0.0.1 --port "$PORT" -S "$_sock" "$@" 2>"$HUB_LOG" &
	HUB_PID=$!
	track "$HUB_PID"
	_i=0
	while [ $_i -lt 100 ] && ! [ -S "$_sock" ]; do
		kill -0 "$HUB_PID" 2>/dev/null || return 1
		sleep 0.05
		_i=$((_i + 1))
	done
	[ -S "$_sock" ]
}

stop_hub_pid() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	untrack "$1"
}

mode_of() { stat -c '%a %G' "$1"; }

# ---- default: our user and root only ------------------------------------
SOCK=$DIR/own/hub.sock
hub_at "$SOCK" || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }
check_eq "the socket is 0600" "600 root" "$(mode_of "$SOCK")"
check_eq "the directory it made is 0700" "700 root" "$(mode_of "$DIR/own")"
timeout 10 "$BIN/sio-rooms" -S "$SOCK" list >/dev/null 2>&1
check "root uses it" test $? -eq 0
as 12345 12345 - "$BIN/sio-rooms" -S "$SOCK" list >"$DIR/x.out" 2>"$DIR/x.err"
rc=$?
check "another user is kept out by the file's mode (exit $rc: $(head -n 1 "$DIR/x.err"))" \
	test "$rc" -eq 69
check "and told why" grep -q "Permission denied" "$DIR/x.err"

# The socket left open by mistake: the kernel's word on the peer still counts.
chmod 0755 "$DIR/own"
chmod 0666 "$SOCK"
as 12345 12345 - "$BIN/sio-rooms" -S "$SOCK" list >"$DIR/x.out" 2>"$DIR/x.err"
rc=$?
check "with the file opened up, SO_PEERCRED still refuses (exit $rc: $(head -n 1 "$DIR/x.err"))" \
	test "$rc" -ne 0
check "the refused client is told so" grep -q "may not use the control socket" "$DIR/x.err"
check "one log line names the refused user" wait_for_grep "$HUB_LOG" "control socket: uid 12345 pid"
echo '{"event":"x","data":[1]}' | as 12345 12345 - "$BIN/sio-emit" -S "$SOCK" >/dev/null 2>&1
check "nor can it emit" test $? -ne 0
timeout 10 "$BIN/sio-rooms" -S "$SOCK" list >/dev/null 2>&1
check "the hub goes on serving root" test $? -eq 0
stop_hub_pid "$HUB_PID"

# ---- --control-group -----------------------------------------------------
GROUP=nogroup
GID=$(getent group "$GROUP" | cut -d: -f3)
SOCK=$DIR/grp/hub.sock
hub_at "$SOCK" --control-group "$GROUP" || { not_ok "sio-hub --control-group starts" "$(show "$HUB_LOG")"; exit 1; }
check_eq "the socket is 0660 and the group's" "660 $GROUP" "$(mode_of "$SOCK")"
check_eq "its directory is 0710 and the group's" "710 $GROUP" "$(mode_of "$DIR/grp")"
as 12345 "$GID" - "$BIN/sio-rooms" -S "$SOCK" list >"$DIR/x.out" 2>"$DIR/x.err"
check "a user whose primary group it is gets in" test $? -eq 0
as 12345 12345 "$GID" "$BIN/sio-emit" -S "$SOCK" news '"hi"' >"$DIR/x.out" 2>"$DIR/x.err"
check "a user with it as a supplementary group gets in ($(head -n 1 "$DIR/x.err"))" test $? -eq 0
as 12345 12345 - "$BIN/sio-rooms" -S "$SOCK" list >"$DIR/x.out" 2>"$DIR/x.err"
check "a user outside the group does not" test $? -eq 69
chmod 0666 "$SOCK"
as 12345 12345 - "$BIN/sio-rooms" -S "$SOCK" list >"$DIR/x.out" 2>"$DIR/x.err"
check "not even through an opened-up file" test $? -ne 0
stop_hub_pid "$HUB_PID"

"$BIN/sio-hub" --port 0 -S "$DIR/x/hub.sock" --control-group no-such-group-here 2>"$DIR/x.err"
rc=$?
check "an unknown group is an error at start (exit $rc: $(head -n 1 "$DIR/x.err"))" test "$rc" -eq 69
check "that names the group" grep -q "no group named 'no-such-group-here'" "$DIR/x.err"

done_testing
