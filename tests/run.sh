#!/bin/sh
# Runs the test layers and sums them into one closing line,
# "N passed, N failed".
# Usage: tests/run.sh [unit|cli|node|python|robustness|fuzz|valgrind|sanitized ...]
# robustness is hostile, faults and soak; each of the three also runs alone.
# The default is all of them: the last two run the unit tests under
# valgrind, then every layer but fuzz and the soak again against an
# ASan+UBSan build made in a copy of the tree (tests/out/sanitized/).
# Each layer's full output goes to tests/out/<layer>.log; failures are
# echoed to the terminal.
set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
out="$top/tests/out"
mkdir -p "$out"
recap="$out/failures.$$"
: >"$recap"
trap 'rm -f "$recap"' EXIT
layers=${*:-unit cli node python robustness fuzz valgrind sanitized}
pass=0
fail=0

add() { # add PASSED FAILED LABEL
	pass=$((pass + $1))
	fail=$((fail + $2))
	printf '%-28s %4d passed, %d failed\n' "$3" "$1" "$2"
}

# Programs that print "ok ..." / "not ok ..." lines (unit tests, CLI scripts).
run_tap() { # run_tap LABEL LOG CMD...
	label=$1 log=$2
	shift 2
	"$@" >"$log" 2>&1
	rc=$?
	# a check that was skipped is not a pass: told, not counted
	p=$(grep '^ok ' "$log" | grep -vc '# SKIP')
	skipped=$(grep -c '^ok .*# SKIP' "$log")
	[ "$skipped" -gt 0 ] && label="$label ($skipped skipped)"
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# died before saying what failed
		echo "not ok - $label exited with status $rc" >>"$log"
	fi
	[ "$f" -gt 0 ] && { grep '^not ok ' "$log"; tail -n 20 "$log"; } | sed "s|^|  $label: |"
	# CI shows only the tail of the output: the failures are told again there
	[ "$f" -gt 0 ] && grep '^not ok ' "$log" | head -n 8 | cut -c1-2000 | sed "s|^|$label: |" >>"$recap"
	add "$p" "$f" "$label"
}

for layer in $layers; do
	case $layer in
	unit)
		for t in tests/unit/*_test; do
			[ -x "$t" ] || continue
			run_tap "unit/$(basename "$t")" "$out/$(basename "$t").log" "$t"
		done
		;;
	cli)
		for t in tests/cli/[0-9]*.sh; do
			[ -f "$t" ] || continue
			name=$(basename "$t" .sh)
			run_tap "cli/$name" "$out/cli-$name.log" sh "$t"
		done
		;;
	node)
		set -- tests/interop/*.test.mjs
		[ -f "$1" ] || continue
		log="$out/node.log"
		node --test --test-reporter=tap --test-concurrency=1 "$@" >"$log" 2>&1
		rc=$?
		p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -n 1)
		f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -n 1)
		p=${p:-0}
		f=${f:-0}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		[ "$f" -gt 0 ] && grep -E '^ *not ok' "$log" | sed 's/^/  node: /'
		add "$p" "$f" "interop/node"
		;;
	python)
		set -- tests/interop/*_test.py
		[ -f "$1" ] || continue
		for t in "$@"; do
			name=$(basename "$t" .py)
			run_tap "interop/$name" "$out/$name.log" /usr/bin/python3 "$t"
		done
		;;
	robustness | hostile | faults | soak)
		if [ "$layer" = robustness ]; then
			set -- hostile faults soak
		else
			set -- "$layer"
		fi
		for t in "$@"; do
			[ -f "tests/robustness/${t}_test.py" ] || continue
			log="$out/robustness-$t.log"
			[ "$t" = hostile ] && log="$out/robustness.log"
			run_tap "robustness/$t" "$log" /usr/bin/python3 "tests/robustness/${t}_test.py"
			# the soak's figures: sockets held, inputs, faults, losses, RSS, fds
			if [ "$t" = soak ]; then
				grep '^# soak:' "$log" | sed 's/^# /  /'
			fi
		done
		;;
	fuzz)
		[ -f tests/fuzz/run.sh ] || continue
		# Builds the targets and fuzzes each a little...
		run_tap "fuzz/smoke" "$out/fuzz.log" sh tests/fuzz/run.sh 2
		# ...then every input that once crashed goes through its target again.
		log="$out/fuzz-regress.log"
		: >"$log"
		p=0 f=0
		for c in tests/fuzz/crashes/*; do
			[ -f "$c" ] || continue
			t=${c##*/}
			t=${t%%-*}
			if "tests/fuzz/build/$t" "$c" >>"$log" 2>&1; then
				p=$((p + 1))
			else
				f=$((f + 1))
				echo "  fuzz: not ok - $c crashes $t again (see $log)"
			fi
		done
		add "$p" "$f" "fuzz/regressions"
		;;
	valgrind)
		command -v valgrind >/dev/null || { add 0 1 "valgrind (not installed)"; continue; }
		p=0 f=0
		for t in tests/unit/*_test; do
			[ -x "$t" ] || continue
			name=$(basename "$t")
			log="$out/valgrind-$name.log"
			if valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
			    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
			    "$t" >"$log" 2>&1; then
				p=$((p + 1))
			else
				f=$((f + 1))
				echo "  valgrind: not ok - $name (see $log)"
				grep -E '^==[0-9]+== ' "$log" | head -n 20 | sed 's/^/  valgrind: /'
			fi
		done
		add "$p" "$f" "valgrind/unit"
		;;
	sanitized)
		# The same tests against ASan+UBSan builds (abort on the first
		# error, leaks checked at every exit), in a copy of the tree so
		# the normal build stays as it is.
		san="$out/sanitized"
		log="$out/sanitized.log"
		rm -rf "$san"
		mkdir -p "$san"
		if ! git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -C "$san" -xf -; then
			add 0 1 "sanitized (copy failed)"
			continue
		fi
		ln -s "$top/tests/interop/node_modules" "$san/tests/interop/node_modules"
		touch "$san/.deps-ok"
		units=$(cd "$san" && for u in tests/unit/*_test.c; do echo "${u%.c}"; done)
		# shellcheck disable=SC2086
		if ! make -C "$san" -j2 SANITIZE=address,undefined all $units >"$log" 2>&1; then
			tail -n 20 "$log" | sed 's/^/  sanitized: /'
			add 0 1 "sanitized (build failed)"
			continue
		fi
		(cd "$san" && SIO_SANITIZED=1 tests/run.sh unit cli node python hostile faults) >>"$log" 2>&1
		last=$(tail -n 1 "$log")
		p=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
		f=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
		if [ -z "$p" ]; then
			p=0 f=1
			echo "  sanitized: no summary line (see $log)"
		fi
		[ "$f" -gt 0 ] && grep -E '^  ' "$log" | head -n 40 | sed 's/^/  sanitized:/'
		[ "$f" -gt 0 ] && sed -n '/^failures again/,$p' "$log" | grep 'not ok' | head -n 8 |
			cut -c1-2000 | sed 's/^ */sanitized: /' >>"$recap"
		add "$p" "$f" "sanitized (ASan+UBSan)"
		;;
	*)
		echo "run.sh: unknown layer '$layer'" >&2
		exit 64
		;;
	esac
done
if [ -s "$recap" ]; then
	echo "failures again, for readers of the last lines:"
	sed 's/^/  /' "$recap"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
