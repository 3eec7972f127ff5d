#!/bin/sh
# make install into a DESTDIR: the tree, the installed tools working with
# their installed library, a C program built against libsio through
# pkg-config, and make uninstall removing exactly what was installed.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

dest=$DIR/root
P=/usr/local
make -s -C "$ROOT" install DESTDIR="$dest" PREFIX="$P" >"$DIR/install.log" 2>&1
check_eq "make install DESTDIR=... PREFIX=$P exits 0" 0 $?

missing=""
for f in bin/sio-hub bin/sio-emit bin/sio-listen bin/sio-rooms \
	lib/libsio.so.0 lib/libsio.so lib/libsio.a lib/pkgconfig/libsio.pc \
	include/sio/sio.h include/sio/ctl.h include/sio/json.h include/sio/util.h \
	share/man/man1/sio-hub.1 share/man/man1/sio-emit.1 share/man/man1/sio-listen.1 \
	share/man/man1/sio-rooms.1 share/man/man7/sio.7 \
	share/bash-completion/completions/sio-emit share/zsh/site-functions/_sio-emit \
	share/fish/vendor_completions.d/sio-emit.fish share/sio/demo/index.html \
	share/sio/demo/socket.io.min.js lib/systemd/system/sio-hub.service; do
	[ -e "$dest$P/$f" ] || missing="$missing $f"
done
check_eq "the tree has the tools, the library, headers, pkg-config file, man pages, completions, demo" "" "$missing"
check "the systemd unit runs the installed hub" grep -q "^ExecStart=$P/bin/sio-hub " "$dest$P/lib/systemd/system/sio-hub.service"
if command -v systemd-analyze >/dev/null; then
	# The binary and man pages are under DESTDIR, not where the unit names them.
	check_eq "systemd-analyze verify finds nothing else wrong with the unit" "" \
		"$(systemd-analyze verify "$dest$P/lib/systemd/system/sio-hub.service" 2>&1 |
			grep -v -e 'is not executable' -e "Command 'man ")"
fi
check_eq "libsio.so is a link to the versioned library" libsio.so.0 "$(readlink "$dest$P/lib/libsio.so")"
check "the library carries its soname" sh -c "objdump -p '$dest$P/lib/libsio.so.0' | grep -q 'SONAME *libsio.so.0'"
check "the installed tools use the installed library" sh -c \
	"ldd '$dest$P/bin/sio-emit' | grep -q '$dest$P/bin/../lib/libsio.so.0'"
for t in sio-hub sio-emit sio-listen sio-rooms; do
	check "installed $t --version runs" sh -c "'$dest$P/bin/$t' --version >/dev/null"
done

# The installed hub and tools work together.
port=$(free_port)
sock=$DIR/inst.sock
"$dest$P/bin/sio-hub" --bind 127.0.0.1 --port "$port" -S "$sock" 2>"$DIR/inst-hub.log" &
hub=$!
track "$hub"
i=0
until [ -S "$sock" ] || [ $i -ge 100 ]; do sleep 0.05; i=$((i + 1)); done
check "the installed hub and sio-rooms talk" "$dest$P/bin/sio-rooms" -S "$sock" list

# A C program built with pkg-config against the installed library.
cat >"$DIR/prog.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <sio.h>
#include <ctl.h>
#include <json.h>

int
main(int argc, char **argv)
{
	struct sio_ctl_conn c;
	struct sio_buf answer = SIO_BUF_INIT;
	struct sio_json doc = SIO_JSON_INIT;
	char err[SIO_ERRLEN];
	static const char ping[] = "{\"op\":\"ping\",\"id\":42}\n";

	if (argc < 2 || sio_ctl_connect(&c, argv[1], err) != SIO_OK) {
		fprintf(stderr, "prog: %s\n", err);
		return 1;
	}
	if (sio_ctl_request(&c, ping, strlen(ping), 5000, &answer, err) != SIO_OK ||
	    sio_json_parse(&doc, answer.data, answer.len, 8, err) != SIO_OK) {
		fprintf(stderr, "prog: %s\n", err);
		return 1;
	}
	printf("%s\n", answer.data);
	sio_json_free(&doc);
	sio_buf_free(&answer);
	sio_ctl_close(&c);
	return 0;
}
C
flags=$(PKG_CONFIG_PATH=$dest$P/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest \
	pkg-config --cflags --libs libsio 2>"$DIR/pc.err" | sed 's/ *$//')
check_eq "pkg-config --cflags --libs libsio" "-I$dest$P/include/sio -L$dest$P/lib -lsio" "$flags"
# A library built with sanitizers (make SANITIZE=...) needs them in the program too.
san=""
ldd "$dest$P/lib/libsio.so.0" | grep -q libasan && san="-fsanitize=address,undefined"
# shellcheck disable=SC2086 # flags are words
cc -std=c11 -Wall -Werror $san -o "$DIR/prog" "$DIR/prog.c" $flags 2>"$DIR/cc.err"
check_eq "a C program builds against the installed libsio" 0 $?
out=$(LD_LIBRARY_PATH=$dest$P/lib "$DIR/prog" "$sock" 2>&1)
check_eq "and asks the hub through libsio's control client" '{"id":42,"ok":true}' "$out"
stop "$hub"
untrack "$hub"

make -s -C "$ROOT" uninstall DESTDIR="$dest" PREFIX="$P" >"$DIR/uninstall.log" 2>&1
check_eq "make uninstall exits 0" 0 $?
check_eq "make uninstall leaves no file behind" "" "$(find "$dest" ! -type d | sed "s|$dest||")"
done_testing
