#!/bin/sh
# Installs what the build and the tests need and the machine lacks:
# Debian packages with apt-get (root), npm packages under tests/.
set -eu
cd "$(dirname "$0")/.."

need=""
want() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed" || need="$need $1"; }

# build
for p in gcc make pkg-config libwslay-dev libev-dev libssl-dev libjq-dev \
	libonig-dev libhttp-parser-dev uthash-dev libsystemd-dev \
	libmsgpack-dev libhiredis-dev; do want "$p"; done
# fuzzing (make fuzz, and the fuzz regressions in make test)
for p in clang libclang-rt-14-dev; do want "$p"; done
# tests
command -v node >/dev/null || want nodejs
command -v npm >/dev/null || want npm
for p in python3-socketio python3-websocket python3-requests \
	python3-aiohttp mandoc jq bash-completion zsh fish chromium fonts-dejavu-core \
	redis-server; do want "$p"; done

if [ -n "$need" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages:$need (run 'make deps' as root)" >&2
		exit 1
	fi
	echo "deps: installing$need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# npm clients for the interop tests, pinned by the committed lock file.
if [ -f tests/interop/package.json ] && { [ ! -d tests/interop/node_modules ] ||
	[ -n "$(find tests/interop/package-lock.json -newer \
		tests/interop/node_modules/.package-lock.json 2>/dev/null)" ] ||
	[ ! -f tests/interop/node_modules/.package-lock.json ]; }; then
	echo "deps: npm ci in tests/interop"
	(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
fi
