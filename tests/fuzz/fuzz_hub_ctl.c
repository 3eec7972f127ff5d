/*
 * fuzz_hub_ctl: the control protocol of a real hub (ctl.c and what it
 * drives in sio.c and room.c), with Socket.IO clients to act on. See
 * hub_common.h for the set-up.
 *
 * Before each input, two WebSocket clients connect through socketpairs
 * and two control clients through the hub's control socket:
 *   A: session AAAAAAAAAAAAAAAAAAAA, socket BBBBBBBBBBBBBBBBBBBB in "/"
 *      and CCCCCCCCCCCCCCCCCCCC in "/chat"
 *   B: session DDDDDDDDDDDDDDDDDDDD, socket EEEEEEEEEEEEEEEEEEEE in "/"
 *   1, 2: control clients
 * The input is lines; the first byte of each says where it goes:
 *   A... / B...  the rest, as a WebSocket text message from A / B
 *                (an Engine.IO packet: 42["ev",1], 421["q"], 3, ...)
 *   a... / b...  the rest, as a binary message from A / B (attachments)
 *   !...         the rest, as a line to control client 2
 *   +...         the rest, to control client 1 without a newline
 *   ~A ~B ~1 ~2  that client closes its connection
 *   R<k>...      the rest, as a message from Redis (the hub has --redis,
 *                to a socket path nobody serves, so nothing is published
 *                and no reconnect succeeds): k is b (a broadcast, in hex:
 *                MessagePack may hold newlines), k (a request in hex: the
 *                MessagePack BROADCAST with acks), q (a JSON request on
 *                "/"), c (one on "/chat"), s (a response), l (a
 *                sio-listen --cluster line, "<uid> <line>")
 *   anything else: the whole line, to control client 1
 * After each line the loop runs until quiet. Checked: every line the hub
 * writes to a control client is a JSON object; every text message it
 * writes to A and B is UTF-8 and a packet that parses; nothing is left
 * of a client once it closed.
 */
#include "hub_common.h"
#include "redis.h"

enum { EP_A, EP_B, EP_C1, EP_C2, NEP };

static struct fz_ep eps[NEP];
static bool head_done[2];
static struct sio_json line_doc = SIO_JSON_INIT;

static const char upgrade_req[] =
    "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
    "Host: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

static void
check_ctl_lines(struct fz_ep *e, const char *who)
{
	char err[SIO_ERRLEN];
	size_t off = 0;
	char *nl;

	while (off < e->in.len && (nl = memchr(e->in.data + off, '\n', e->in.len - off)) != NULL) {
		const char *line = e->in.data + off;
		size_t len = (size_t)(nl - line);
		if (sio_json_parse(&line_doc, line, len, 1100, err) != SIO_OK)
			FZ_FAIL("fuzz: %s: the hub wrote a line that is not JSON (%s): %.*s", who,
			    err, (int)(len > 600 ? 600 : len), line);
		if (line_doc.tok[0].type != SIO_JSON_OBJECT)
			FZ_FAIL("fuzz: %s: the hub wrote a line that is not an object: %.*s", who,
			    (int)(len > 600 ? 600 : len), line);
		off += len + 1;
	}
	sio_buf_consume(&e->in, off);
}

static void
check_ws(int i, const char *who)
{
	struct fz_ep *e = &eps[i];

	if (!head_done[i]) {
		char *end = e->in.len ? memmem(e->in.data, e->in.len, "\r\n\r\n", 4) : NULL;
		if (!end)
			return;
		if (strncmp(e->in.data, "HTTP/1.1 101 ", 13) != 0)
			FZ_FAIL("fuzz: %s: the upgrade was refused: %.*s", who,
			    (int)(end - e->in.data), e->in.data);
		sio_buf_consume(&e->in, (size_t)(end + 4 - e->in.data));
		head_done[i] = true;
	}
	fz_ws_check_frames(&e->in, who);
}

static size_t
drain(void)
{
	size_t got = 0;
	for (int i = 0; i < NEP; i++)
		got += fz_ep_drain(&eps[i], true);
	check_ws(EP_A, "client A");
	check_ws(EP_B, "client B");
	check_ctl_lines(&eps[EP_C1], "control client 1");
	check_ctl_lines(&eps[EP_C2], "control client 2");
	return got;
}

static void
drain_void(void)
{
	drain();
}

/* Runs the loop until nothing more comes out (bounded). */
static void
settle(void)
{
	for (int t = 0; t < 32; t++) {
		fz_turn();
		if (drain() == 0 && t >= 1)
			break;
	}
}

static void
send_all(struct fz_ep *e, const void *p, size_t n)
{
	const char *s = p;
	if (e->fd < 0 || e->shut)
		return;
	for (int tries = 0; n > 0 && tries < 64 && !e->eof; tries++) {
		size_t w = fz_ep_write(e, s, n);
		s += w;
		n -= w;
		if (n > 0) {
			fz_turn();
			drain();
		}
	}
}

static void
ws_send(struct fz_ep *e, int opcode, const void *p, size_t n)
{
	struct sio_buf b = SIO_BUF_INIT;
	fz_ws_frame(&b, true, opcode, p, n);
	send_all(e, b.data, b.len);
	sio_buf_free(&b);
}

static void
ws_client(struct fz_ep *e, bool chat)
{
	struct sio_buf b = SIO_BUF_INIT;

	fz_ep_http(e);
	sio_buf_adds(&b, upgrade_req);
	fz_ws_frame(&b, true, 1, "40", 2);
	if (chat)
		fz_ws_frame(&b, true, 1, "40/chat,", 8);
	send_all(e, b.data, b.len);
	sio_buf_free(&b);
	settle();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_redis_url = "/nonexistent/sio-fuzz-redis.sock";
	fz_hub_init(true, SIO_RELAY_ROOMS);
	return 0;
}

/* An R line: k and the message; hex for the MessagePack kinds. */
static void
from_redis(const char *p, size_t n)
{
	static const struct { char k; bool pattern, hex; const char *chan; } kinds[] = {
		{ 'b', true, true, "socket.io#/#" },
		{ 'k', false, true, "socket.io-request#/#" },
		{ 'q', false, false, "socket.io-request#/#" },
		{ 'c', false, false, "socket.io-request#/chat#" },
		{ 's', false, false, "socket.io-response#/#" },
		{ 'l', false, false, "socket.io-sio-events#" },
	};
	struct sio_redis *r = sio_hub_redis(fz_hub);
	struct sio_buf msg = SIO_BUF_INIT;

	if (n == 0 || !r)
		return;
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
		if (kinds[i].k != p[0])
			continue;
		if (kinds[i].hex) {
			for (size_t k = 1; k + 1 < n; k += 2) {
				unsigned v;
				if (sscanf(p + k, "%2x", &v) != 1)
					break;
				sio_buf_addc(&msg, (char)v);
			}
		} else {
			sio_buf_add(&msg, p + 1, n - 1);
		}
		sio_redis_inject(r, kinds[i].pattern, kinds[i].chan, strlen(kinds[i].chan),
		    msg.data ? msg.data : "", msg.len);
	}
	sio_buf_free(&msg);
}

static void
setup(void)
{
	head_done[0] = head_done[1] = false;
	ws_client(&eps[EP_A], true);
	ws_client(&eps[EP_B], false);
	fz_ep_ctl(&eps[EP_C1]);
	fz_ep_ctl(&eps[EP_C2]);
	size_t clients = 0, subs;
	for (int t = 0; t < 100 && clients < 2; t++) {
		fz_turn();
		sio_ctl_counts(sio_hub_ctl(fz_hub), &clients, &subs);
	}
	struct sio_server *srv = sio_hub_sio(fz_hub);
	if (clients != 2 || !head_done[0] || !head_done[1] ||
	    !sio_server_socket(srv, "/", "BBBBBBBBBBBBBBBBBBBB") ||
	    !sio_server_socket(srv, "/chat", "CCCCCCCCCCCCCCCCCCCC") ||
	    !sio_server_socket(srv, "/", "EEEEEEEEEEEEEEEEEEEE"))
		FZ_FAIL("fuzz_hub_ctl: the clients did not connect as expected "
		    "(%zu control clients)", clients);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	setup();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *line = p;
		p += len + (nl != NULL);

		char first = len ? line[0] : '\0';
		switch (first) {
		case 'A':
		case 'B':
			ws_send(&eps[first == 'A' ? EP_A : EP_B], 1, line + 1, len - 1);
			break;
		case 'a':
		case 'b':
			ws_send(&eps[first == 'a' ? EP_A : EP_B], 2, line + 1, len - 1);
			break;
		case '!': {
			struct sio_buf b = SIO_BUF_INIT;
			sio_buf_add(&b, line + 1, len - 1);
			sio_buf_addc(&b, '\n');
			send_all(&eps[EP_C2], b.data, b.len);
			sio_buf_free(&b);
			break;
		}
		case '+':
			send_all(&eps[EP_C1], line + 1, len - 1);
			break;
		case 'R':
			from_redis(line + 1, len - 1);
			break;
		case '~':
			if (len == 2 && line[1] != '\0' && strchr("AB12", line[1]) != NULL) {
				int i = line[1] == 'A' ? EP_A : line[1] == 'B' ? EP_B :
				    line[1] == '1' ? EP_C1 : EP_C2;
				fz_ep_shutdown(&eps[i]);
				break;
			}
			/* FALLTHROUGH */
		default: {
			struct sio_buf b = SIO_BUF_INIT;
			sio_buf_add(&b, line, len);
			sio_buf_addc(&b, '\n');
			send_all(&eps[EP_C1], b.data, b.len);
			sio_buf_free(&b);
			break;
		}
		}
		settle();
	}
	fz_finish(eps, NEP, drain_void);
	size_t clients, subs;
	sio_ctl_counts(sio_hub_ctl(fz_hub), &clients, &subs);
	if (clients != 0)
		FZ_FAIL("fuzz_hub_ctl: %zu control clients left after they all closed", clients);
	return 0;
}
