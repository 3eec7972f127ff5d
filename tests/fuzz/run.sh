#!/bin/sh
# Builds the libFuzzer targets and runs each for a bounded time.
#
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]
#   SECONDS  how long each target runs (default 60)
#   TARGET   fuzz_json fuzz_packet fuzz_ctl_input fuzz_hub fuzz_hub_ctl
#            fuzz_jwt fuzz_msgjson (default: all of them, one after the other)
#
# Needs clang and Debian's libclang-rt-14-dev (libFuzzer, ASan, UBSan).
# Library sources are compiled with the fuzzer and sanitizer flags into
# tests/fuzz/build/ (objects, an archive, the fuzz_* programs), rebuilt
# only when a source is newer. Each target fuzzes a scratch copy of its
# seed corpus tests/fuzz/corpus/<target>/ (in tests/fuzz/build/run/), so
# the committed corpus does not grow; fuzz_<target>.dict, if present, is
# its dictionary.
#
# Prints one line per target, "ok - fuzz_X: N runs, no crash" or
# "not ok - fuzz_X: crash, input saved to tests/fuzz/crashes/...", with
# libFuzzer's last coverage line and, for a crash, its report as "#"
# comments; exits 1 if any target crashed (or leaked, timed out, ran
# out of memory). To reproduce a saved input:
#   tests/fuzz/build/fuzz_X tests/fuzz/crashes/fuzz_X-crash-...
# To fuzz by hand (Ctrl-C stops):
#   tests/fuzz/build/fuzz_X -dict=tests/fuzz/fuzz_X.dict DIR tests/fuzz/corpus/fuzz_X
#
# Environment: CC (default clang), FUZZ_ARGS (more libFuzzer options,
# e.g. -max_len=16384 or -only_ascii=1). SIO_FUZZ_TRACE=1 makes the hub
# targets log at debug level and print what the hub writes back, to see
# what a saved input does.
#
# The targets: fuzz_json (json.c), fuzz_packet (packet.c, pkt.c),
# fuzz_ctl_input (sio_ctl_input_line), fuzz_hub (a real hub fed HTTP,
# WebSocket and Engine.IO bytes through socketpairs), fuzz_hub_ctl (its
# control socket, with two WebSocket clients to act on, and messages
# from Redis injected into its --redis adapter), fuzz_jwt
# (sio_jwt_verify under HS256, RS256 and ES256, on raw tokens and on
# payloads the target signs itself) and fuzz_msgjson (msgjson.c: bytes as
# MessagePack and as JSON text, converted both ways). The comment at
# the top of each tests/fuzz/fuzz_*.c says what its input is and what it
# checks.
set -u
cd "$(dirname "$0")/../.." || exit 1

ALL="fuzz_json fuzz_packet fuzz_ctl_input fuzz_hub fuzz_hub_ctl fuzz_jwt fuzz_msgjson"
secs=60
case ${1:-} in
'' | *[!0-9]*) ;;
*)
	secs=$1
	shift
	;;
esac
targets=${*:-$ALL}
for t in $targets; do
	case " $ALL " in
	*" $t "*) ;;
	*)
		echo "run.sh: unknown target '$t' (one of: $ALL)" >&2
		exit 2
		;;
	esac
done

CC=${CC:-clang}
FUZZ_ARGS=${FUZZ_ARGS:-}
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE -Ilib"
LIBS="-lwslay -lev -lhttp_parser -ljq -lssl -lcrypto -lsystemd -lhiredis -lm"
B=tests/fuzz/build
mkdir -p "$B/obj" "$B/run" tests/fuzz/crashes

# newer FILE PATH...: does any of PATH... exist and is it newer than FILE?
newer() {
	f=$1
	shift
	[ ! -e "$f" ] && return 0
	[ -n "$(find "$@" -newer "$f" 2>/dev/null | head -n 1)" ]
}

build() {
	lib_changed=0
	[ -e "$B/libsio-fuzz.a" ] || lib_changed=1
	for src in lib/*.c; do
		name=$(basename "$src" .c)
		obj="$B/obj/$name.o"
		if newer "$obj" "$src" lib/*.h; then
			echo "# cc $src"
			# shellcheck disable=SC2086
			$CC $FLAGS -c -o "$obj" "$src" || return 1
			lib_changed=1
		fi
	done
	if [ "$lib_changed" = 1 ]; then
		rm -f "$B/libsio-fuzz.a"
		ar rcs "$B/libsio-fuzz.a" "$B"/obj/*.o || return 1
	fi
	for t in $targets; do
		bin="$B/$t"
		if newer "$bin" "tests/fuzz/$t.c" tests/fuzz/hub_common.h "$B/libsio-fuzz.a"; then
			echo "# cc tests/fuzz/$t.c"
			# shellcheck disable=SC2086
			$CC $FLAGS -Wall -Wextra -o "$bin" "tests/fuzz/$t.c" "$B/libsio-fuzz.a" \
				$LIBS || return 1
		fi
	done
}

if ! build; then
	echo "not ok - fuzz: build failed (clang and libclang-rt-14-dev installed?)"
	exit 1
fi

status=0
for t in $targets; do
	work="$B/run/$t"
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts" "$work/tmp"
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp "tests/fuzz/corpus/$t"/* "$work/corpus/" 2>/dev/null
	fi
	set --
	if [ -f "tests/fuzz/$t.dict" ]; then
		set -- "-dict=tests/fuzz/$t.dict"
	fi
	# shellcheck disable=SC2086
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} TMPDIR="$(pwd)/$work/tmp" "./$B/$t" -max_total_time="$secs" -rss_limit_mb=2048 \
		-timeout=10 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
		"$@" $FUZZ_ARGS "$work/corpus" >"$work/log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -n 1)
	cov=$(grep -E '^#[0-9]+' "$work/log" | grep ' cov: ' | tail -n 1 |
		sed 's/.*\(cov: [0-9]*\).*\(ft: [0-9]*\).*\(corp: [0-9/a-zA-Z]*\).*/\1 \2 \3/')
	saved=""
	for a in "$work"/artifacts/*; do
		[ -f "$a" ] || continue
		name=$(basename "$a")
		kind=${name%%-*}
		hash=${name##*-}
		dest="tests/fuzz/crashes/$t-$kind-$(printf %.12s "$hash")"
		cp "$a" "$dest"
		saved="$saved $dest"
	done
	if [ "$rc" -eq 0 ] && [ -z "$saved" ]; then
		echo "ok - $t: ${runs:-0} runs, no crash"
		echo "#   ${cov:-no coverage line}, ${speed:-?} exec/s, ${secs}s"
	else
		status=1
		if [ -n "$saved" ]; then
			echo "not ok - $t: crash, input saved to${saved}"
		else
			echo "not ok - $t: libFuzzer exited with status $rc and saved no input"
		fi
		grep -aE 'ERROR|SUMMARY|runtime error|check failed|^fuzz|^    #[0-9]+ ' "$work/log" |
			head -n 40 | sed 's/^/#   /'
		echo "#   full log: $work/log"
	fi
done
exit "$status"
