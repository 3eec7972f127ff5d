/*
 * hub_common.h: what fuzz_hub.c and fuzz_hub_ctl.c share. One real hub
 * (sio_hub_new on the default loop) is made once; each input talks to it
 * through socketpairs (HTTP / WebSocket clients, given to the hub with
 * sio_conn_new_http) and real connect()s to its control socket. The loop
 * only ever runs with EVRUN_NOWAIT, and the hub's timers are far longer
 * than a run, so no timeout fires inside one; at the end of each input
 * every connection and session is closed and freed again.
 *
 * Ids are made deterministic: RAND_bytes (OpenSSL, what sio_random_id
 * uses) is replaced in this program by a counter reset for each input,
 * so the first Engine.IO session of every input is
 * "AAAAAAAAAAAAAAAAAAAA", the next id "BBBBBBBBBBBBBBBBBBBB", and so on;
 * seed inputs can name them.
 *
 * Checked, besides what ASan and UBSan see (and leaks, per input):
 *  - no response carries a file from outside the static root (static/
 *    has links out of itself; the files outside hold a random secret);
 *  - WebSocket output is well-formed unmasked frames, and every text
 *    message is UTF-8, a known Engine.IO type, and a "4" message is a
 *    Socket.IO packet that parses (fuzz_hub: on connections whose first
 *    answer is the 101);
 *  - when a client closes, the hub closes its side (no hang), and after
 *    the last session closed no namespace keeps sockets or rooms and no
 *    session is counted congested.
 * SIO_FUZZ_TRACE=1 in the environment logs at debug level and prints
 * what the hub writes.
 */
#ifndef SIO_FUZZ_HUB_COMMON_H
#define SIO_FUZZ_HUB_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "conn.h"
#include "ctl.h"
#include "eio.h"
#include "hub.h"
#include "json.h"
#include "log.h"
#include "packet.h"
#include "sio.h"
#include "util.h"

#define FZ_CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: check failed: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)
#define FZ_UNUSED __attribute__((unused))
#define FZ_FAIL(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- deterministic ids ------------------------------------------------------ */

static unsigned fz_rand_calls;

int
RAND_bytes(unsigned char *buf, int num)
{
	for (int i = 0; i < num; i++)
		buf[i] = (unsigned char)(fz_rand_calls & 63);
	fz_rand_calls++;
	return 1;
}

/* ---- the hub ---------------------------------------------------------------- */

static bool fz_trace;		/* SIO_FUZZ_TRACE */
/* --redis for the hub, or NULL; set before fz_hub_init. */
static const char *fz_redis_url;

static struct sio_hub *fz_hub;
static struct ev_loop *fz_loop;
static char fz_dir[128];
static char fz_ctl_path[160];

/*
 * The content of files outside the static root: no response may ever
 * carry it. Random for each process and looked for by a loop libFuzzer
 * does not instrument, so the fuzzer cannot learn it from the check and
 * send it itself (through an event that comes back); a true finding
 * still reproduces, as it is the file that leaks.
 */
#define FZ_SECRET_LEN 32
static char fz_secret[FZ_SECRET_LEN + 2];

__attribute__((no_sanitize("coverage"))) static bool
fz_has_secret(const char *p, size_t n)
{
	for (size_t i = 0; i + FZ_SECRET_LEN <= n; i++) {
		size_t k = 0;
		while (k < FZ_SECRET_LEN && p[i + k] == fz_secret[k])
			k++;
		if (k == FZ_SECRET_LEN)
			return true;
	}
	return false;
}

__attribute__((no_sanitize("coverage"))) static void
fz_make_secret(void)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[FZ_SECRET_LEN];
	FILE *f = fopen("/dev/urandom", "rb");

	FZ_CHECK(f && fread(r, 1, sizeof r, f) == sizeof r);
	fclose(f);
	for (size_t i = 0; i < FZ_SECRET_LEN; i++)
		fz_secret[i] = hex[r[i] & 15];
	fz_secret[FZ_SECRET_LEN] = '\n';
	fz_secret[FZ_SECRET_LEN + 1] = '\0';
}

static void
fz_write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	FZ_CHECK(f);
	fputs(text, f);
	fclose(f);
}

static void
fz_cleanup(void)
{
	static const char *const files[] = {
		"static/index.html", "static/a.txt", "static/sub/index.html", "static/sub/b.json",
		"static/up", "static/sibling", "static/secret-link", "static/sub/..x",
		"staticX/secret.txt", "secret.txt", "ctl.sock",
	};
	static const char *const dirs[] = { "static/sub", "static", "staticX", "" };
	char path[256];

	if (!fz_dir[0])
		return;
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(path, sizeof path, "%s/%s", fz_dir, files[i]);
		unlink(path);
	}
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		snprintf(path, sizeof path, "%s/%s", fz_dir, dirs[i]);
		rmdir(path);
	}
}

/*
 * A scratch directory: static/ (the served root, with a link out of it
 * and a sibling whose name starts like it), secret files outside it, and
 * the control socket.
 */
static void
fz_make_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[256];

	snprintf(fz_dir, sizeof fz_dir, "%s/sio-fuzz-XXXXXX", tmp && *tmp &&
	    strlen(tmp) < 80 ? tmp : "/tmp");
	FZ_CHECK(mkdtemp(fz_dir));
	atexit(fz_cleanup);
	snprintf(path, sizeof path, "%s/static", fz_dir);
	FZ_CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof path, "%s/static/sub", fz_dir);
	FZ_CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof path, "%s/staticX", fz_dir);
	FZ_CHECK(mkdir(path, 0700) == 0);
	fz_write_file(fz_dir, "static/index.html", "<!doctype html><title>fuzz</title>\n");
	fz_write_file(fz_dir, "static/a.txt", "a\n");
	fz_write_file(fz_dir, "static/sub/index.html", "<p>sub</p>\n");
	fz_write_file(fz_dir, "static/sub/b.json", "{\"b\":1}\n");
	fz_write_file(fz_dir, "static/sub/..x", "dots\n");
	fz_make_secret();
	fz_write_file(fz_dir, "secret.txt", fz_secret);
	fz_write_file(fz_dir, "staticX/secret.txt", fz_secret);
	snprintf(path, sizeof path, "%s/static/up", fz_dir);
	FZ_CHECK(symlink("..", path) == 0);
	snprintf(path, sizeof path, "%s/static/sibling", fz_dir);
	FZ_CHECK(symlink("../staticX", path) == 0);
	snprintf(path, sizeof path, "%s/static/secret-link", fz_dir);
	FZ_CHECK(symlink("../secret.txt", path) == 0);
	snprintf(fz_ctl_path, sizeof fz_ctl_path, "%s/ctl.sock", fz_dir);
}

static const char **
fz_strv(const char *a, const char *b)
{
	const char **v = sio_xcalloc(3, sizeof *v);
	v[0] = a;
	v[1] = b;
	return v;
}

/* The hub, once per process. */
static void
fz_hub_init(bool with_ctl, enum sio_relay relay)
{
	struct sio_hub_config cfg;
	char err[SIO_ERRLEN];

	fz_trace = getenv("SIO_FUZZ_TRACE") != NULL;
	sio_log_setlevel(fz_trace ? SIO_LOG_DEBUG : SIO_LOG_ERROR);
	fz_make_dir();
	sio_hub_config_defaults(&cfg);
	cfg.bind = "127.0.0.1";
	cfg.port = 0;
	/* No engine_echo: its polling sessions would outlive an input, and
	 * only hub.c can reach them to close them. */
	cfg.nsps = fz_strv("/chat", "/admin");
	cfg.nnsps = 2;
	cfg.cors = fz_strv("http://allowed.example", NULL);
	cfg.ncors = 1;
	cfg.relay = relay;
	cfg.metrics = SIO_METRICS_ON;
	/* Small limits, so that inputs of a few KB reach them. */
	cfg.max_payload = 8192;
	cfg.max_header_bytes = 4096;
	cfg.log_level = fz_trace ? SIO_LOG_DEBUG : SIO_LOG_ERROR;
	/* Timers stay far longer than any run: nothing fires by the clock. */
	cfg.ping_interval = 600000;
	cfg.ping_timeout = 600000;
	cfg.connect_timeout = 600000;
	cfg.upgrade_timeout = 600000;
	cfg.http_timeout = 600000;
	char *stat = sio_xstrdup(fz_dir);
	stat = sio_xrealloc(stat, strlen(fz_dir) + 8);
	strcat(stat, "/static");
	cfg.static_dir = stat;
	cfg.redis_url = fz_redis_url;
	if (with_ctl) {
		cfg.ctl_path = fz_ctl_path;
	} else {
		cfg.no_ctl = true;
	}
	fz_hub = sio_hub_new(&cfg, err);
	if (!fz_hub)
		FZ_FAIL("fuzz: sio_hub_new: %s", err);
	/*
	 * The hub's SIGINT/SIGTERM handlers would start a graceful shutdown
	 * and keep the fuzzer running: give the signals back to libFuzzer
	 * (it installs its handlers after this, on default dispositions).
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	fz_loop = sio_hub_loop(fz_hub);
	/* The hub may have drawn ids of its own (--redis: its server id). */
	fz_rand_calls = 0;
}

/* ---- client endpoints ------------------------------------------------------- */

struct fz_ep {
	int fd;			/* our end, non-blocking; -1 when closed */
	bool eof;		/* the hub closed its end */
	bool shut;		/* we sent our FIN */
	struct sio_buf in;	/* what the hub wrote, for the oracles */
	uint64_t total;		/* bytes the hub wrote */
	char tail[FZ_SECRET_LEN];	/* last bytes seen, for the secret scan */
	size_t ntail;
};

/* An HTTP client: a socketpair whose other end the hub serves. */
FZ_UNUSED static void
fz_ep_http(struct fz_ep *e)
{
	int sv[2];
	FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	memset(e, 0, sizeof *e);
	e->fd = sv[1];
	sio_conn_new_http(fz_hub, sv[0]);
}

/* A control client: a real connect() to the hub's socket (accepted in the loop). */
FZ_UNUSED static void
fz_ep_ctl(struct fz_ep *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memset(e, 0, sizeof *e);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", fz_ctl_path);
	e->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	FZ_CHECK(e->fd >= 0);
	FZ_CHECK(connect(e->fd, (struct sockaddr *)&sa, sizeof sa) == 0);
}

/* Reads what the hub wrote; returns the number of bytes. */
static size_t
fz_ep_drain(struct fz_ep *e, bool keep)
{
	char buf[16384];
	size_t got = 0;

	while (e->fd >= 0 && !e->eof) {
		ssize_t n = read(e->fd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNRESET || errno == EPIPE)
				e->eof = true;
			break;
		}
		if (n == 0) {
			e->eof = true;
			break;
		}
		got += (size_t)n;
		e->total += (uint64_t)n;
		if (fz_trace) {
			fprintf(stderr, "<<< fd %d, %zd bytes:\n", e->fd, n);
			fwrite(buf, 1, (size_t)n, stderr);
			fputs("\n", stderr);
		}
		/* The secret scan runs over every byte, across reads. */
		char scan[FZ_SECRET_LEN + sizeof buf];
		memcpy(scan, e->tail, e->ntail);
		memcpy(scan + e->ntail, buf, (size_t)n);
		size_t sn = e->ntail + (size_t)n;
		if (fz_has_secret(scan, sn))
			FZ_FAIL("fuzz: a response carries a file from outside the static root");
		e->ntail = sn < FZ_SECRET_LEN - 1 ? sn : FZ_SECRET_LEN - 1;
		memcpy(e->tail, scan + sn - e->ntail, e->ntail);
		if (keep && e->in.len < (1u << 20))
			sio_buf_add(&e->in, buf, (size_t)n);
	}
	return got;
}

/* Writes all of p if the socket takes it; returns what was written. */
FZ_UNUSED static size_t
fz_ep_write(struct fz_ep *e, const void *p, size_t n)
{
	if (e->fd < 0 || e->shut)
		return 0;
	ssize_t w = send(e->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	return w > 0 ? (size_t)w : 0;
}

FZ_UNUSED static void
fz_ep_shutdown(struct fz_ep *e)
{
	if (e->fd >= 0 && !e->shut) {
		shutdown(e->fd, SHUT_WR);
		e->shut = true;
	}
}

static void
fz_ep_close(struct fz_ep *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	sio_buf_free(&e->in);
}

/* One turn of the loop: prepare (flush, free), poll without waiting, callbacks. */
static void
fz_turn(void)
{
	ev_run(fz_loop, EVRUN_NOWAIT);
}

/* ---- WebSocket frames ---------------------------------------------------------- */

/* A client frame (masked, as RFC 6455 requires of clients). */
FZ_UNUSED static void
fz_ws_frame(struct sio_buf *b, bool fin, int opcode, const void *payload, size_t n)
{
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t h[14];
	size_t hl = 0;

	h[hl++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (n < 126) {
		h[hl++] = (uint8_t)(0x80 | n);
	} else if (n < 65536) {
		h[hl++] = 0x80 | 126;
		h[hl++] = (uint8_t)(n >> 8);
		h[hl++] = (uint8_t)n;
	} else {
		h[hl++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			h[hl++] = (uint8_t)((uint64_t)n >> (8 * i));
	}
	memcpy(h + hl, key, 4);
	hl += 4;
	sio_buf_add(b, h, hl);
	sio_buf_reserve(b, n);
	const uint8_t *p = payload;
	for (size_t i = 0; i < n; i++)
		b->data[b->len++] = (char)(p[i] ^ key[i & 3]);
	b->data[b->len] = '\0';
}

/*
 * Checks one Engine.IO text message the hub sent: valid UTF-8, a known
 * packet type, and a "4" message is a Socket.IO packet that parses.
 */
FZ_UNUSED static void
fz_check_eio_text(const uint8_t *p, size_t n, const char *where)
{
	static struct sio_json doc = SIO_JSON_INIT;
	char err[SIO_ERRLEN];

	if (!sio_utf8_valid(p, n))
		FZ_FAIL("fuzz: %s: the hub sent a text message that is not UTF-8", where);
	if (n == 0 || p[0] < '0' || p[0] > '6')
		FZ_FAIL("fuzz: %s: the hub sent an unknown Engine.IO packet: %.*s", where,
		    (int)(n > 200 ? 200 : n), (const char *)p);
	if (p[0] == '0' && sio_json_parse(&doc, (const char *)p + 1, n - 1, 64, err) != SIO_OK)
		FZ_FAIL("fuzz: %s: the open packet is not JSON: %s", where, err);
	if (p[0] == '4') {
		struct sio_packet pk;
		if (sio_packet_parse((const char *)p + 1, n - 1, &pk, &doc, 4000, err) != SIO_OK)
			FZ_FAIL("fuzz: %s: the hub sent a Socket.IO packet that does not parse "
			    "(%s): %.*s", where, err, (int)(n > 400 ? 400 : n), (const char *)p);
	}
}

/*
 * Consumes the complete server frames at the front of b, checking them.
 * Returns false when the bytes are not a valid frame sequence.
 */
FZ_UNUSED static void
fz_ws_check_frames(struct sio_buf *b, const char *where)
{
	size_t off = 0;

	for (;;) {
		const uint8_t *p = (const uint8_t *)b->data + off;
		size_t avail = b->len - off;
		if (avail < 2)
			break;
		if (p[0] & 0x70)
			FZ_FAIL("fuzz: %s: server frame with RSV bits", where);
		if (p[1] & 0x80)
			FZ_FAIL("fuzz: %s: the server masked a frame", where);
		uint64_t len = p[1] & 0x7f;
		size_t hl = 2;
		if (len == 126) {
			if (avail < 4)
				break;
			len = (uint64_t)p[2] << 8 | p[3];
			hl = 4;
		} else if (len == 127) {
			if (avail < 10)
				break;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | p[2 + i];
			hl = 10;
		}
		if (avail - hl < len)
			break;
		int op = p[0] & 0x0f;
		if (!(p[0] & 0x80) || (op != 0x1 && op != 0x2 && op != 0x8 && op != 0x9 && op != 0xa))
			FZ_FAIL("fuzz: %s: unexpected server frame 0x%02x", where, p[0]);
		if (op == 0x1)
			fz_check_eio_text(p + hl, (size_t)len, where);
		off += hl + (size_t)len;
	}
	sio_buf_consume(b, off);
}

/* ---- the end of an input ------------------------------------------------------------ */

static void
fz_nsp_empty(const char *nsp, size_t sockets, size_t rooms, void *arg)
{
	(void)arg;
	if (sockets != 0 || rooms != 0)
		FZ_FAIL("fuzz: namespace %s keeps %zu sockets and %zu rooms after every "
		    "session closed", nsp, sockets, rooms);
}

/*
 * Closes every endpoint (our FIN first, so the hub sees the client go),
 * runs the loop until the hub has closed them all, then shuts the
 * sessions left (polling sessions outlive their connections) and checks
 * the hub holds nothing of this input any more.
 */
static void
fz_finish(struct fz_ep *eps, size_t n, void (*drain)(void))
{
	for (size_t i = 0; i < n; i++)
		fz_ep_shutdown(&eps[i]);
	for (int turn = 0;; turn++) {
		fz_turn();
		drain();
		bool open = false;
		for (size_t i = 0; i < n; i++)
			open |= eps[i].fd >= 0 && !eps[i].eof;
		if (!open)
			break;
		if (turn == 1000) {
			for (size_t i = 0; i < n; i++)
				if (eps[i].fd >= 0 && !eps[i].eof)
					fprintf(stderr, "endpoint %zu still open\n", i);
			FZ_FAIL("fuzz: the hub did not close a connection whose client "
			    "closed (1000 loop turns)");
		}
	}
	for (size_t i = 0; i < n; i++)
		fz_ep_close(&eps[i]);
	/* Twice: a polling session with packets left lingers after the first. */
	sio_eio_close_all(sio_hub_eio(fz_hub), "fuzz: end of input");
	fz_turn();
	sio_eio_close_all(sio_hub_eio(fz_hub), "fuzz: end of input");
	fz_turn();
	fz_turn();
	if (sio_eio_count(sio_hub_eio(fz_hub)) != 0)
		FZ_FAIL("fuzz: %zu Engine.IO sessions left after close_all",
		    sio_eio_count(sio_hub_eio(fz_hub)));
	sio_server_each_nsp(sio_hub_sio(fz_hub), fz_nsp_empty, NULL);
	if (sio_hub_congested(fz_hub))
		FZ_FAIL("fuzz: the hub still counts congested sessions after all closed");
	fz_rand_calls = 0;
}

#endif
