#!/bin/sh
# Shell completions, driven by each shell's own completion machinery:
# bash (bash-completion, the function of `complete -p`), zsh (compinit and
# a real TAB in an interactive zsh in a zpty), fish (complete -C). They
# offer options, option values, the sio-rooms commands, and the rooms and
# socket ids of the running hub (SIO_SOCKET, or -S on the command line);
# with no hub, or a hub that does not answer, nothing, quickly and quietly.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

start_hub || { not_ok "sio-hub starts" "$(show "$HUB_LOG")"; exit 1; }
client A
ids A || { not_ok "a socket.io client connects"; exit 1; }
LIVE_ROOM=zz-only-here-$$	# a room only this hub has
"$BIN/sio-rooms" join "$LIVE_ROOM" --sid "$A" >"$DIR/join.out" 2>&1
check_eq "sio-rooms join zz-only-here-PID --sid A exits 0" 0 $?

# The completions run the tools by name.
PATH="$BIN:$PATH"
export PATH
HUB_SOCK=$SIO_SOCKET
NOSOCK=$DIR/no-hub.sock
# No user configuration: nothing read from, nothing written to $HOME.
mkdir -p "$DIR/xdg/config" "$DIR/xdg/data" "$DIR/xdg/cache" \
	"$DIR/static/dir-a" "$DIR/static/dir-b"
: >"$DIR/static/file-c"
XDG_CONFIG_HOME=$DIR/xdg/config XDG_DATA_HOME=$DIR/xdg/data XDG_CACHE_HOME=$DIR/xdg/cache
BASH_COMPLETION_USER_FILE=/dev/null
export XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME BASH_COMPLETION_USER_FILE
LC_ALL=C
export LC_ALL

now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# bash: the completion function of `complete -p CMD`, called with the words
# as readline splits them (at blanks; '=' is a word of its own, and a line
# ending in '=' ends in the word '='). Prints COMPREPLY, one a line.
cat >"$DIR/comp.bash" <<'EOF'
. /usr/share/bash-completion/bash_completion || exit 3
for f in completions/bash/*; do . "$f" || exit 3; done
line=$1
COMP_WORDS=()
w=''
for ((i = 0; i < ${#line}; i++)); do
	c=${line:i:1}
	case $c in
	' ') [[ -n $w ]] && COMP_WORDS+=("$w"); w='' ;;
	'=') [[ -n $w ]] && COMP_WORDS+=("$w"); COMP_WORDS+=('='); w='' ;;
	*) w+=$c ;;
	esac
done
[[ -n $w || $line != *= ]] && COMP_WORDS+=("$w")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE=$line
COMP_POINT=${#line}
spec=$(complete -p "${COMP_WORDS[0]}") || exit 4
fn=${spec##*-F }
fn=${fn%% *}
COMPREPLY=()
"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
((${#COMPREPLY[@]} == 0)) || printf '%s\n' "${COMPREPLY[@]}"
exit 0
EOF

# zsh: sourced by the interactive zsh in the pty. TAB is complete-word;
# each match given to compadd is appended to $ZOUT, then ".done".
cat >"$DIR/zinit.zsh" <<'EOF'
PS1='' PS2='' RPS1=''
fpath=($ZROOT/completions/zsh $fpath)
autoload -Uz compinit && compinit -u -D
zstyle ':completion:*' completer _complete
zstyle ':completion:*' insert-tab false
bindkey '^I' complete-word
compadd() {
	# calls that only filter into an array (-O, -A, -D) offer nothing
	if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
		builtin compadd "$@"
		return
	fi
	local -a __hits
	builtin compadd -O __hits "$@"
	(( $#__hits )) && print -rl -- $__hits >>$ZOUT
	builtin compadd "$@"
}
_zdone() { print -r -- .done >>$ZOUT }
comppostfuncs=(_zdone)
print -r -- .ready >>$ZOUT
EOF

# zsh -f comp.zsh OUT LINE: types LINE and a TAB into an interactive zsh in
# a zpty; OUT gets ".ready", the matches, ".done"; OUT.tty what it showed.
cat >"$DIR/comp.zsh" <<'EOF'
zmodload zsh/zpty || exit 3
export ZOUT=$1 ZROOT=$PWD TERM=xterm
: >$ZOUT
: >$ZOUT.tty
zpty z zsh -f -i || exit 3
zpty -w z "source ${(q)ZDRV}/zinit.zsh"
wait_for() { # bounded: 200 x 0.05 s
	local n=200 junk
	while (( n-- > 0 )); do
		grep -qx -- "$1" $ZOUT 2>/dev/null && return 0
		while zpty -rt z junk 2>/dev/null; do print -rn -- $junk >>$ZOUT.tty; done
		sleep 0.05
	done
	return 1
}
wait_for .ready || { zpty -d z; exit 4; }
zpty -w -n z "$2"$'\t'
wait_for .done || { zpty -d z; exit 5; }
zpty -d z
exit 0
EOF

SHELLS=""
if [ -f /usr/share/bash-completion/bash_completion ] && command -v bash >/dev/null; then
	SHELLS="$SHELLS bash"
else
	not_ok "bash with bash-completion is installed" "no /usr/share/bash-completion/bash_completion"
fi
if command -v zsh >/dev/null && zsh -fc 'zmodload zsh/zpty' 2>/dev/null; then
	SHELLS="$SHELLS zsh"
else
	not_ok "zsh (with its zpty module) is installed"
fi
if command -v fish >/dev/null; then
	SHELLS="$SHELLS fish"
else
	not_ok "fish is installed"
fi

# offers SHELL LINE [SOCKET]: what SHELL's completion offers at the end of
# LINE, with SIO_SOCKET=SOCKET (default the hub's). Sets RC (0: the
# completion ran), MS (its milliseconds); the offers, first column, are in
# $DIR/comp.out, its stderr in $DIR/comp.err. Every shell is bounded.
offers() {
	_sock=${3:-$HUB_SOCK}
	: >"$DIR/comp.raw"
	_t0=$(now_ms)
	case $1 in
	bash)
		SIO_SOCKET=$_sock timeout 10 bash --norc --noprofile "$DIR/comp.bash" "$2" \
			</dev/null >"$DIR/comp.raw" 2>"$DIR/comp.err"
		RC=$?
		;;
	zsh)
		SIO_SOCKET=$_sock ZDRV=$DIR timeout 25 zsh -f "$DIR/comp.zsh" "$DIR/comp.z" "$2" \
			</dev/null >/dev/null 2>"$DIR/comp.err"
		RC=$?
		grep -vx -e .ready -e .done "$DIR/comp.z" >"$DIR/comp.raw"
		;;
	fish)
		# shellcheck disable=SC2016 # fish's variables
		SIO_SOCKET=$_sock timeout 10 fish -N -c \
			'set fish_complete_path $argv[1] $fish_complete_path; complete -C $argv[2]' \
			"$ROOT/completions/fish" "$2" </dev/null >"$DIR/comp.raw" 2>"$DIR/comp.err"
		RC=$?
		;;
	esac
	MS=$(( $(now_ms) - _t0 ))
	cut -f1 "$DIR/comp.raw" >"$DIR/comp.out"
}

# expect SHELL WHAT LINE EXPECTED [SED [SOCKET]]: the offers at the end of
# LINE, each edited by SED, sorted and unique, joined by blanks, are EXPECTED
expect() {
	offers "$1" "$3" "${6:-}"
	_got=$(sed -e "${5:-}" "$DIR/comp.out" | sort -u | tr '\n' ' ' | sed 's/ $//')
	if [ "$RC" -ne 0 ]; then
		not_ok "$1: $2" "completion exited $RC; stderr: $(show "$DIR/comp.err")"
	elif [ "$_got" = "$4" ]; then
		ok "$1: $2"
	else
		not_ok "$1: $2" "expected '$4', got '$_got'; stderr: $(show "$DIR/comp.err")"
	fi
}

BASE='s|/$||; s|.*/||'	# a path's last name
for sh in $SHELLS; do
	expect "$sh" "sio-emit --t<TAB> offers --timeout and --to" \
		"sio-emit --t" "--timeout --to"
	expect "$sh" "sio-emit --to <TAB> offers the hub's room" \
		"sio-emit --to " "$LIVE_ROOM"
	expect "$sh" "sio-emit --except zz-<TAB> offers the hub's room" \
		"sio-emit --except zz-" "$LIVE_ROOM"
	expect "$sh" "sio-rooms <TAB> offers the 7 commands" \
		"sio-rooms " "count disconnect join leave list members sockets"
	expect "$sh" "sio-rooms members <TAB> offers the hub's room" \
		"sio-rooms members " "$LIVE_ROOM"
	expect "$sh" "sio-rooms join vip --sid <TAB> offers the client's socket id" \
		"sio-rooms join vip --sid " "$A"
	expect "$sh" "sio-listen --room <TAB> offers the hub's room" \
		"sio-listen --room " "$LIVE_ROOM"
	# the modes of sio-hub --help: all, rooms, off
	expect "$sh" "sio-hub --relay=<TAB> offers all, off and rooms" \
		"sio-hub --relay=" "all off rooms" 's|^--relay=||'
	expect "$sh" "sio-hub --static DIR/<TAB> offers the directories, not the file" \
		"sio-hub --static $DIR/static/" "dir-a dir-b" "$BASE"
	# -S on the command line wins over SIO_SOCKET (here naming no hub)
	expect "$sh" "sio-emit -S SOCK --to <TAB> asks the hub at SOCK" \
		"sio-emit -S $HUB_SOCK --to " "$LIVE_ROOM" "" "$NOSOCK"
	expect "$sh" "sio-rooms --socket=SOCK members <TAB> asks the hub at SOCK" \
		"sio-rooms --socket=$HUB_SOCK members " "$LIVE_ROOM" "" "$NOSOCK"

	# no hub: nothing, quickly (zsh: 5 s, with its start in a pty), and
	# (bash, fish) nothing on stderr
	LIMIT=3000
	[ "$sh" = zsh ] && LIMIT=5000
	offers "$sh" "sio-emit --to " "$NOSOCK"
	if [ "$RC" -ne 0 ]; then
		not_ok "$sh: no hub: sio-emit --to <TAB> completes" "exited $RC; $(show "$DIR/comp.err")"
	elif [ -s "$DIR/comp.out" ]; then
		not_ok "$sh: no hub: sio-emit --to <TAB> offers nothing" "offers $(show "$DIR/comp.out")"
	elif [ "$sh" != zsh ] && [ -s "$DIR/comp.err" ]; then
		not_ok "$sh: no hub: sio-emit --to <TAB> is quiet" "stderr: $(show "$DIR/comp.err")"
	elif [ "$MS" -ge "$LIMIT" ]; then
		not_ok "$sh: no hub: sio-emit --to <TAB> returns in < $((LIMIT / 1000)) s" "took $MS ms"
	else
		ok "$sh: no hub: sio-emit --to <TAB> offers nothing, quietly, in $MS ms"
	fi
done

# A hub that accepts and never answers: the completion gives up on it
# (sio-rooms runs under timeout 2) instead of hanging the shell.
STUCK=$DIR/stuck.sock
"$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)
print("ready", flush=True)
time.sleep(60)' "$STUCK" >"$DIR/stuck.out" 2>&1 &
track $!
if wait_for_file "$DIR/stuck.out" 5; then
	for sh in $SHELLS; do
		offers "$sh" "sio-emit --to " "$STUCK"
		if [ "$RC" -ne 0 ]; then
			not_ok "$sh: a hub that never answers: sio-emit --to <TAB> completes" \
				"exited $RC; $(show "$DIR/comp.err")"
		elif [ -s "$DIR/comp.out" ]; then
			not_ok "$sh: a hub that never answers: offers nothing" "offers $(show "$DIR/comp.out")"
		elif [ "$MS" -ge 5000 ]; then
			not_ok "$sh: a hub that never answers: sio-emit --to <TAB> gives up in < 5 s" "took $MS ms"
		else
			ok "$sh: a hub that never answers: sio-emit --to <TAB> gives up in $MS ms, offering nothing"
		fi
	done
else
	not_ok "a Unix socket that never answers is set up" "$(show "$DIR/stuck.out")"
fi

done_testing
