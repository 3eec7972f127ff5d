#!/bin/sh
# The options the tools have are the options their docs name.
#
# For each tool, every option of `cmd/TOOL --help` (the source of truth)
# must be in man/TOOL.1 and in its bash, zsh and fish completions; and
# every long option those name must be in --help. Then: mandoc -Tlint
# finds nothing in man/*, the completion files parse in their shells, and
# the bash (and fish) completions ask the hub on the socket the command
# line names. Prints one "ok - ..." or "not ok - ..." line per check.
set -u
cd "$(dirname "$0")/../.." || exit 1

tools="sio-hub sio-emit sio-listen sio-rooms"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

ok() { printf 'ok - %s\n' "$*"; }
not_ok() { printf 'not ok - %s\n' "$*"; }

# The option names one a line, sorted, without dashes.

# help_long TOOL, help_short TOOL: the options --help lists, from its
# lines "  -x, --name ..." and "      --name ...".
help_long() {
	"cmd/$1" --help 2>/dev/null |
		sed -n 's/^ *\(-[A-Za-z0-9], \)\{0,1\}--\([A-Za-z0-9][-A-Za-z0-9]*\).*/\2/p' |
		sort -u
}
help_short() {
	"cmd/$1" --help 2>/dev/null |
		sed -n 's/^ *-\([A-Za-z0-9]\), --.*/\1/p' | sort -u
}

# man_opts FILE long|short [items]: the words after "Fl" in the OPTIONS
# section (only its ".It" lines with "items").
man_opts() {
	sed -n '/^\.Sh OPTIONS/,/^\.Sh /p' "$1" |
		awk -v kind="$2" -v items="${3-}" '
		items != "" && $1 != ".It" { next }
		{
			for (i = 1; i < NF; i++) {
				if ($i != "Fl")
					continue
				w = $(i + 1)
				if (kind == "long" && w ~ /^-[A-Za-z0-9]/)
					print substr(w, 2)
				else if (kind == "short" && w ~ /^[A-Za-z0-9]$/)
					print w
			}
		}' | sort -u
}

# words FILE: every "--name" and "-x" word of FILE, one a line.
words() {
	tr -c 'A-Za-z0-9-' '\n' <"$1" | grep -E '^--?[A-Za-z0-9]' | sort -u
}
# long_words FILE: the names of its "--name" words.
long_words() {
	words "$1" | sed -n 's/^--\([A-Za-z0-9][-A-Za-z0-9]*\)$/\1/p' | sort -u
}

# bash_offered FILE long|short: the options in its "compgen -W '...'" lists.
bash_offered() {
	awk '
		/compgen -W '\''/ { on = 1; sub(/.*compgen -W '\''/, "") }
		on { if (sub(/'\''.*/, "")) on = 0; print }
	' "$1" | tr -s ' \t' '\n' >"$tmp/offered"
	if [ "$2" = long ]; then
		sed -n 's/^--\([A-Za-z0-9][-A-Za-z0-9]*\)$/\1/p' "$tmp/offered"
	else
		sed -n 's/^-\([A-Za-z0-9]\)$/\1/p' "$tmp/offered"
	fi | sort -u
}

# zsh_specs FILE long|short: the options of its _arguments specs (the
# lines that start with two spaces and a quote).
zsh_specs() {
	grep "^  '" "$1" >"$tmp/specs"
	if [ "$2" = long ]; then
		long_words "$tmp/specs"
	else
		words "$tmp/specs" | sed -n 's/^-\([A-Za-z0-9]\)$/\1/p' | sort -u
	fi
}

# fish_opts FILE long|short: the NAME of each "-l NAME" or "-s X" of its
# complete commands.
fish_opts() {
	flag=-s
	[ "$2" = long ] && flag=-l
	awk -v flag="$flag" '
		$1 == "complete" { for (i = 2; i < NF; i++) if ($i == flag) print $(i + 1) }
	' "$1" | sort -u
}

# missing WANTED HAVE: the lines of file WANTED that are not in file HAVE.
missing() {
	comm -23 "$1" "$2" | tr '\n' ' ' | sed 's/ $//'
}

# check TOOL WHAT FILE: compares $tmp/want-long, $tmp/want-short (from
# --help) with $tmp/have-long, $tmp/have-short (what FILE offers), and
# $tmp/named-long (every long option FILE names) with --help.
check() {
	tool=$1 what=$2
	nl=$(wc -l <"$tmp/want-long" | tr -d ' ')
	ns=$(wc -l <"$tmp/want-short" | tr -d ' ')
	ml=$(missing "$tmp/want-long" "$tmp/have-long")
	ms=$(missing "$tmp/want-short" "$tmp/have-short")
	if [ -z "$ml$ms" ]; then
		ok "$tool: $nl long and $ns short options of --help all in $what"
	else
		not_ok "$tool: $what lacks${ml:+ long: $ml}${ms:+ short: $ms} (from --help)"
	fi
	extra=$(missing "$tmp/named-long" "$tmp/want-long")
	nn=$(wc -l <"$tmp/named-long" | tr -d ' ')
	if [ -z "$extra" ]; then
		ok "$tool: the $nn long options $what names are all in --help"
	else
		not_ok "$tool: $what names long options --help lacks: $extra"
	fi
}

for tool in $tools; do
	help_long "$tool" >"$tmp/want-long"
	help_short "$tool" >"$tmp/want-short"
	if [ ! -s "$tmp/want-long" ]; then
		not_ok "$tool: no options read from 'cmd/$tool --help' (not built?)"
		continue
	fi

	page=man/$tool.1
	if [ -f "$page" ]; then
		man_opts "$page" long items >"$tmp/have-long"
		man_opts "$page" short items >"$tmp/have-short"
		man_opts "$page" long >"$tmp/named-long"
		check "$tool" "$page"
	else
		not_ok "$tool: $page is missing"
	fi

	f=completions/bash/$tool
	if [ -f "$f" ]; then
		bash_offered "$f" long >"$tmp/have-long"
		bash_offered "$f" short >"$tmp/have-short"
		long_words "$f" >"$tmp/named-long"
		check "$tool" "$f"
	else
		not_ok "$tool: $f is missing"
	fi

	f=completions/zsh/_$tool
	if [ -f "$f" ]; then
		zsh_specs "$f" long >"$tmp/have-long"
		zsh_specs "$f" short >"$tmp/have-short"
		long_words "$f" >"$tmp/named-long"
		check "$tool" "$f"
	else
		not_ok "$tool: $f is missing"
	fi

	f=completions/fish/$tool.fish
	if [ -f "$f" ]; then
		fish_opts "$f" long >"$tmp/have-long"
		fish_opts "$f" short >"$tmp/have-short"
		{ fish_opts "$f" long; long_words "$f"; } | sort -u >"$tmp/named-long"
		check "$tool" "$f"
	else
		not_ok "$tool: $f is missing"
	fi
done

# The pages are clean mdoc.
if command -v mandoc >/dev/null 2>&1; then
	for page in man/sio-hub.1 man/sio-emit.1 man/sio-listen.1 man/sio-rooms.1 man/sio.7; do
		if [ ! -f "$page" ]; then
			not_ok "mandoc: $page is missing"
		elif out=$(mandoc -Tlint -Wwarning "$page" 2>&1) && [ -z "$out" ]; then
			ok "mandoc -Tlint -Wwarning: $page is clean"
		else
			not_ok "mandoc -Tlint -Wwarning: $page: $(printf '%s\n' "$out" | head -n 3 | tr '\n' ' ')"
		fi
	done
else
	not_ok "mandoc missing: the man pages are not checked (apt-get install mandoc)"
fi
if command -v groff >/dev/null 2>&1; then
	if out=$(groff -mandoc -ww -z man/*.1 man/*.7 2>&1) && [ -z "$out" ]; then
		ok "groff -mandoc -ww: no warnings in man/"
	else
		not_ok "groff -mandoc -ww: $(printf '%s\n' "$out" | head -n 3 | tr '\n' ' ')"
	fi
fi

# The completion files parse.
checked=bash
bad=""
for f in completions/bash/*; do
	bash -n "$f" 2>"$tmp/err" || bad="$bad $f: $(head -n 1 "$tmp/err")"
done
if command -v zsh >/dev/null 2>&1; then
	checked="$checked, zsh"
	for f in completions/zsh/_*; do
		zsh -n "$f" 2>"$tmp/err" || bad="$bad $f: $(head -n 1 "$tmp/err")"
	done
fi
if command -v fish >/dev/null 2>&1; then
	checked="$checked, fish"
	for f in completions/fish/*.fish; do
		fish -n "$f" 2>"$tmp/err" || bad="$bad $f: $(head -n 1 "$tmp/err")"
	done
fi
if [ -z "$bad" ]; then
	ok "completion files parse ($checked checked)"
else
	not_ok "completion files do not parse:$bad"
fi

# The completions ask the hub named on the command line. A stand-in
# sio-rooms prints how it was called, as a room would be printed.
mkdir "$tmp/bin"
cat >"$tmp/bin/sio-rooms" <<'EOF'
#!/bin/sh
echo "called:$*	1"
EOF
chmod +x "$tmp/bin/sio-rooms"

# bash_complete TOOL WORD...: what bash offers for the last WORD.
bash_complete() {
	bash -c '
		tool=$1
		shift
		. "completions/bash/$tool"
		COMP_WORDS=("$tool" "$@")
		COMP_CWORD=$#
		"_${tool//-/_}"
		printf "%s\n" "${COMPREPLY[@]}"
	' bash "$@"
}

got=$(PATH="$tmp/bin:$PATH" bash_complete sio-emit -S /x/hub.sock -n /chat --to '' 2>&1)
if [ "$got" = 'called:-S\ /x/hub.sock\ -n\ /chat\ list' ]; then
	ok "bash: sio-emit --to asks 'sio-rooms -S PATH -n NSP list'"
else
	not_ok "bash: sio-emit --to: expected sio-rooms -S /x/hub.sock -n /chat list, got: $got"
fi
got=$(PATH="$tmp/bin:$PATH" SIO_SOCKET=/y/hub.sock bash_complete sio-rooms join lobby --sid '' 2>&1)
if [ "$got" = 'called:sockets' ]; then
	ok "bash: sio-rooms --sid asks 'sio-rooms sockets'"
else
	not_ok "bash: sio-rooms --sid: expected sio-rooms sockets, got: $got"
fi
got=$(bash_complete sio-rooms -S /x/hub.sock '' 2>&1 | tr '\n' ' ')
if [ "$got" = "list members sockets count join leave disconnect " ]; then
	ok "bash: sio-rooms offers its commands"
else
	not_ok "bash: sio-rooms: expected its commands, got: $got"
fi
got=$(PATH="$(pwd)/cmd:$PATH" SIO_SOCKET="$tmp/none.sock" bash_complete sio-rooms members '' 2>&1)
if [ -z "$got" ]; then
	ok "bash: with no hub, a room completes to nothing, quietly"
else
	not_ok "bash: with no hub, expected nothing, got: $got"
fi

if command -v fish >/dev/null 2>&1; then
	got=$(PATH="$tmp/bin:$PATH" fish --no-config -c \
		'source completions/fish/sio-listen.fish; complete -C "sio-listen --socket=/x/hub.sock -r "' 2>&1 |
		cut -f1)
	if [ "$got" = "called:-S /x/hub.sock list" ]; then
		ok "fish: sio-listen --room asks 'sio-rooms -S PATH list'"
	else
		not_ok "fish: sio-listen --room: expected sio-rooms -S /x/hub.sock list, got: $got"
	fi
fi
