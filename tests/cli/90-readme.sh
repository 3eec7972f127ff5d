#!/bin/sh
# The README's recipes, taken from README.md as they are written and run
# against a hub of their own with real clients.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

# recipe NAME: the code block after "<!-- test: NAME -->" in README.md
recipe() {
	awk -v name="$1" '
		$0 == "<!-- test: " name " -->" { want = 1; next }
		want && /^```/ { if (inside) exit; inside = 1; next }
		inside { print }
	' "$ROOT/README.md"
}

# bg NAME: runs recipe NAME in $DIR in a session of its own (so all of its
# pipeline can be stopped at once); sets BG to the session's process group
bg() {
	recipe "$1" >"$DIR/$1.sh"
	rm -f "$DIR/$1.pgid"
	# shellcheck disable=SC2016 # $$ and $1 are the inner shell's
	(cd "$DIR" && setsid sh -c 'echo $$ >"$1.pgid"; exec sh "$1"' sh "$DIR/$1.sh" \
		>"$DIR/$1.out" 2>"$DIR/$1.err" &)
	wait_for_file "$DIR/$1.sh.pgid" 5
	BG=$(cat "$DIR/$1.sh.pgid")
	echo "$BG" >>"$DIR/groups"
}

# end PGID: stops a recipe's whole process group (dash's kill takes no
# process group, so the kill program does it)
end() {
	env kill -TERM -- "-$1" 2>/dev/null
	_i=0
	while env kill -0 -- "-$1" 2>/dev/null && [ $_i -lt 50 ]; do sleep 0.05; _i=$((_i + 1)); done
	env kill -KILL -- "-$1" 2>/dev/null
}

# Whatever the script ends with, no recipe outlives it.
cleanup_groups() {
	[ -f "$DIR/groups" ] || return 0
	while read -r g; do env kill -KILL -- "-$g" 2>/dev/null; done <"$DIR/groups"
}

PATH=$BIN:$PATH
export PATH
trap 'cleanup_groups; cleanup' EXIT
start_hub || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }
client A --ack-reply '["ok"]'
client B
ids A B || { not_ok "two clients connect"; exit 1; }

for r in log alerts tail cron reply; do
	check "README has the '$r' recipe" test -n "$(recipe "$r")"
done

# log: new lines of app.log reach every client.
: >"$DIR/app.log"
bg log
sleep 0.5
printf '%s\n' "server started" "request from 10.0.0.1" >>"$DIR/app.log"
wait_for_lines "$DIR/B.out" 2 5
check_eq "log: each new line reaches every client" \
	'{"event":"log","args":["server started"]}|{"event":"log","args":["request from 10.0.0.1"]}' \
	"$(tr '\n' '|' <"$DIR/B.out" | sed 's/|$//')"
end "$BG"

# alerts: only the errors, as alert events.
: >"$DIR/A.out"
: >"$DIR/app.json"
bg alerts
sleep 0.5
printf '%s\n' '{"level":"info","msg":"fine"}' '{"level":"error","msg":"disk full"}' >>"$DIR/app.json"
wait_for_lines "$DIR/A.out" 1 5
sleep 0.2
check_eq "alerts: only the error, as an alert event" '{"event":"alert","args":["disk full"]}' "$(cat "$DIR/A.out")"
end "$BG"

# tail: what clients say, through the jq filter.
bg tail
sleep 0.5
node "$CLIENT" --url "$URL" --id-file "$DIR/T.id" --out "$DIR/T.out" --emit 'chat:["hello there"]' 2>/dev/null &
t=$!
track "$t"
wait_for_file "$DIR/T.id" 5
wait_for_lines "$DIR/tail.out" 1 5
check_eq "tail: one line per chat event, as text" "$(cat "$DIR/T.id"): hello there" "$(cat "$DIR/tail.out")"
stop "$t"
untrack "$t"
end "$BG"

# cron: the lobby moves to the archive, and its members hear of it.
sio-rooms join lobby --sid "$A" --sid "$B" >/dev/null
: >"$DIR/A.out"
: >"$DIR/B.out"
recipe cron >"$DIR/cron.sh"
(cd "$DIR" && env -i PATH="$PATH" SIO_SOCKET="$SIO_SOCKET" sh "$DIR/cron.sh" </dev/null >"$DIR/cron.out" 2>&1)
check_eq "cron: runs with no terminal and a bare environment" 0 $?
check_eq "cron: the archive has both sockets" 2 "$(sio-rooms count archive)"
check_eq "cron: the lobby is empty" 0 "$(sio-rooms count lobby)"
wait_for_lines "$DIR/B.out" 1 5
check_eq "cron: the members hear of it" '{"event":"notice","args":["the lobby (2) moved to the archive"]}' "$(cat "$DIR/B.out")"

# reply: a client's question answered by the pipeline.
bg reply
sleep 0.5
node "$CLIENT" --url "$URL" --id-file "$DIR/Q.id" --out "$DIR/Q.out" --emit-ack 'question:["ping"]' 2>/dev/null &
q=$!
track "$q"
wait_for_grep "$DIR/Q.out" '"ackof"' 5
check_eq "reply: the client's ack callback gets the answer" '{"args":["PING"],"ackof":"question"}' "$(grep ackof "$DIR/Q.out")"
stop "$q"
untrack "$q"
end "$BG"
done_testing
