# sio: Socket.IO for the shell. One hand-written GNU Makefile; objects are
# built in-tree. `make help` lists the targets.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= gcc
PKG_CONFIG ?= pkg-config
WERROR ?= 1
VERSION := 0.1.0

# libev, http-parser, wslay and jq 1.6 ship no .pc file on Debian 12.
EV_LIBS ?= -lev
HTTP_PARSER_LIBS ?= -lhttp_parser
WSLAY_LIBS ?= -lwslay
JQ_LIBS ?= -ljq
SYSTEMD_LIBS ?= $(shell $(PKG_CONFIG) --libs libsystemd 2>/dev/null || echo -lsystemd)
SSL_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags openssl 2>/dev/null)
SSL_LIBS ?= $(shell $(PKG_CONFIG) --libs openssl 2>/dev/null || echo -lssl -lcrypto)
MSGPACK_LIBS ?= $(shell $(PKG_CONFIG) --libs msgpack 2>/dev/null || echo -lmsgpackc)
HIREDIS_LIBS ?= $(shell $(PKG_CONFIG) --libs hiredis 2>/dev/null || echo -lhiredis)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN += -Werror
endif
ifneq ($(SANITIZE),)
SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
OPT ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -fPIC $(OPT) $(WARN) $(SANFLAGS) -MMD -MP \
	-DSIO_VERSION='"$(VERSION)"' $(SSL_CFLAGS) -Ilib
LDFLAGS += $(SANFLAGS)
LIBS := $(WSLAY_LIBS) $(EV_LIBS) $(HTTP_PARSER_LIBS) $(JQ_LIBS) $(SSL_LIBS) $(SYSTEMD_LIBS) \
	$(MSGPACK_LIBS) $(HIREDIS_LIBS) -lm

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:.c=.o)
BINS := $(patsubst %.c,%,$(wildcard cmd/*.c))
UNIT_SRC := $(wildcard tests/unit/*_test.c)
UNIT_BINS := $(UNIT_SRC:.c=)

SONAME := libsio.so.0

# The demo page loads the official client from the npm package that
# `make deps` installs; it is copied at build time, never committed.
CLIENT_JS := tests/interop/node_modules/socket.io-client/dist/socket.io.min.js
DEMO_JS := cmd/demo/socket.io.min.js
DEMO_FILES = $(sort $(wildcard cmd/demo/*.html cmd/demo/*.css cmd/demo/*.js) $(DEMO_JS))

.PHONY: all deps run test check unit cli interop lint clean help
.SECONDARY: $(BINS:=.o)
all: .deps-ok lib/libsio.a lib/$(SONAME) $(BINS) $(DEMO_JS)

$(LIB_OBJ) $(BINS:=.o): | .deps-ok
$(CLIENT_JS): | .deps-ok
$(DEMO_JS): $(CLIENT_JS)
	cp $< $@

help:
	@echo "make          build libsio and the tools (installs missing Debian packages)"
	@echo "make run      start the hub on 127.0.0.1:3000 in the foreground"
	@echo "make test     build, then run every test; ends with 'N passed, N failed'"
	@echo "make check    unit tests only"
	@echo "make deps     install what is missing from Debian and npm"
	@echo "make install  PREFIX=/usr/local DESTDIR= (make uninstall removes it)"
	@echo "make fuzz     the libFuzzer targets, FUZZ_SECONDS=60 each (FUZZ_TARGETS=fuzz_hub ...)"
	@echo "make test SANITIZE=address,undefined   everything against sanitized builds"
	@echo "make bench    sio-hub vs socket.io on Node (BENCH_QUICK=1: a short smoke run)"

# `make deps` installs only what is missing, so it is cheap to call often.
# .deps-ok records a finished run; remove it to check again.
deps:
	@tests/deps.sh
	@touch .deps-ok
.deps-ok:
	@tests/deps.sh
	@touch $@

lib/libsio.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

lib/$(SONAME): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) $(LDFLAGS) -o $@ $^ $(LIBS)
	ln -sf $(SONAME) lib/libsio.so

# The tools find libsio next to them in-tree and after `make install`.
cmd/%: cmd/%.o lib/$(SONAME)
	$(CC) $(LDFLAGS) -o $@ $< -Llib -lsio -Wl,-rpath,'$$ORIGIN/../lib' $(LIBS)

tests/unit/%_test: tests/unit/%_test.c lib/libsio.a tests/t.h
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< lib/libsio.a $(LIBS)

run: all
	cmd/sio-hub --bind 127.0.0.1 --port 3000 --static cmd/demo $(HUB_ARGS)

test: all $(UNIT_BINS)
	@tests/run.sh

check: all $(UNIT_BINS)
	@tests/run.sh unit

# libFuzzer targets (clang, libclang-rt-14-dev), built in tests/fuzz/build/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
.PHONY: fuzz
fuzz: .deps-ok
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

lint:
	shellcheck tests/*.sh tests/cli/*.sh tests/fuzz/run.sh tests/bench/*.sh
	mandoc -Tlint -Wwarning man/*.[17]

# The benchmark (tests/bench/README.md); BENCH_* variables pass through.
.PHONY: bench
tests/bench/siobench: tests/bench/siobench.c
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -o $@ $<
bench: all tests/bench/siobench
	tests/bench/run.sh

# ---- install ------------------------------------------------------------
BINDIR := $(PREFIX)/bin
LIBDIR := $(PREFIX)/lib
INCDIR := $(PREFIX)/include/sio
MANDIR := $(PREFIX)/share/man
DATADIR := $(PREFIX)/share/sio
BASHDIR := $(PREFIX)/share/bash-completion/completions
ZSHDIR := $(PREFIX)/share/zsh/site-functions
FISHDIR := $(PREFIX)/share/fish/vendor_completions.d
UNITDIR := $(PREFIX)/lib/systemd/system
# The headers a program needs to use libsio; conn.h, net.h and files.h
# are the hub's insides.
PUBLIC_H := util.h log.h json.h jwt.h pkt.h packet.h room.h eio.h sio.h ctl.h hub.h
TOOL_NAMES := $(notdir $(BINS))

INSTALLED = $(addprefix $(BINDIR)/,$(TOOL_NAMES)) \
	$(LIBDIR)/$(SONAME) $(LIBDIR)/libsio.so $(LIBDIR)/libsio.a \
	$(LIBDIR)/pkgconfig/libsio.pc $(addprefix $(INCDIR)/,$(PUBLIC_H)) \
	$(addprefix $(MANDIR)/man1/,$(notdir $(wildcard man/*.1))) \
	$(addprefix $(MANDIR)/man7/,$(notdir $(wildcard man/*.7))) \
	$(addprefix $(BASHDIR)/,$(TOOL_NAMES)) $(addprefix $(ZSHDIR)/_,$(TOOL_NAMES)) \
	$(addprefix $(FISHDIR)/,$(addsuffix .fish,$(TOOL_NAMES))) \
	$(addprefix $(DATADIR)/demo/,$(notdir $(DEMO_FILES))) $(UNITDIR)/sio-hub.service

.PHONY: install uninstall
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(BASHDIR) \
		$(DESTDIR)$(ZSHDIR) $(DESTDIR)$(FISHDIR) $(DESTDIR)$(DATADIR)/demo \
		$(DESTDIR)$(UNITDIR)
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 755 lib/$(SONAME) $(DESTDIR)$(LIBDIR)/
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libsio.so
	install -m 644 lib/libsio.a $(DESTDIR)$(LIBDIR)/
	install -m 644 $(addprefix lib/,$(PUBLIC_H)) $(DESTDIR)$(INCDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
		-e 's|@LIBS@|$(LIBS)|' lib/libsio.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libsio.pc
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/*.7 $(DESTDIR)$(MANDIR)/man7/
	install -m 644 $(addprefix completions/bash/,$(TOOL_NAMES)) $(DESTDIR)$(BASHDIR)/
	install -m 644 $(addprefix completions/zsh/_,$(TOOL_NAMES)) $(DESTDIR)$(ZSHDIR)/
	install -m 644 $(addprefix completions/fish/,$(addsuffix .fish,$(TOOL_NAMES))) $(DESTDIR)$(FISHDIR)/
	install -m 644 $(DEMO_FILES) $(DESTDIR)$(DATADIR)/demo/
	sed 's|@BINDIR@|$(BINDIR)|' cmd/sio-hub.service.in > $(DESTDIR)$(UNITDIR)/sio-hub.service

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(INCDIR) $(DESTDIR)$(DATADIR)/demo $(DESTDIR)$(DATADIR) 2>/dev/null

clean:
	rm -f lib/*.o lib/*.d cmd/*.o cmd/*.d lib/libsio.a lib/libsio.so lib/$(SONAME) \
		$(BINS) $(UNIT_BINS) tests/unit/*.d .deps-ok $(DEMO_JS) tests/bench/siobench
	rm -rf tests/fuzz/build

-include $(LIB_OBJ:.o=.d) $(BINS:=.d) $(UNIT_SRC:.c=.d)
