/*
 * fuzz_hub: the whole receive path of a real hub (web/http-parser, ws/
 * wslay, eio, sio, packet, json, room, files, stats), fed through
 * socketpairs. See hub_common.h for the set-up and the checks.
 *
 * Input: byte 0 is the largest write (0: each connection's bytes in one
 * write), byte 1 seeds the sizes of the writes (1..byte 0), so the
 * parsers see their input split anywhere. The rest is what the clients
 * send: up to four connections, their streams separated by "~~~next~~~".
 * Writes go round robin over the connections, with a loop turn after
 * each, so a connection's requests can use a session that an earlier
 * one opened (the first session of an input is always
 * sid=AAAAAAAAAAAAAAAAAAAA).
 */
#include "hub_common.h"

#define MAXCONN 4
static const char delim[] = "~~~next~~~";

static struct fz_ep eps[MAXCONN];
static size_t neps;
static uint32_t rng;

/*
 * A connection whose first answer is a 101 carries WebSocket frames
 * from then on, which are checked (hub_common.h); other output is only
 * scanned for the secret.
 */
enum { OUT_UNKNOWN, OUT_HTTP, OUT_WS_HEAD, OUT_WS };
static int out_state[MAXCONN];

static void
check_output(size_t i)
{
	struct fz_ep *e = &eps[i];
	static const char s101[] = "HTTP/1.1 101 ";

	if (out_state[i] == OUT_UNKNOWN && e->in.len >= sizeof s101 - 1) {
		out_state[i] = memcmp(e->in.data, s101, sizeof s101 - 1) == 0 ? OUT_WS_HEAD : OUT_HTTP;
		if (out_state[i] == OUT_HTTP)
			sio_buf_free(&e->in);
	}
	if (out_state[i] == OUT_WS_HEAD) {
		char *end = memmem(e->in.data, e->in.len, "\r\n\r\n", 4);
		if (!end)
			return;
		sio_buf_consume(&e->in, (size_t)(end + 4 - e->in.data));
		out_state[i] = OUT_WS;
	}
	if (out_state[i] == OUT_WS)
		fz_ws_check_frames(&e->in, "WebSocket client");
}

static uint32_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static size_t
drain_all(void)
{
	size_t got = 0;
	for (size_t i = 0; i < neps; i++) {
		got += fz_ep_drain(&eps[i], out_state[i] != OUT_HTTP);
		check_output(i);
	}
	return got;
}

static void
drain_all_void(void)
{
	drain_all();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_hub_init(false, SIO_RELAY_ALL);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *seg[MAXCONN];
	size_t seglen[MAXCONN], off[MAXCONN];
	int stuck[MAXCONN];

	if (size < 2)
		return 0;
	unsigned maxchunk = data[0];
	rng = 0x9e3779b9u ^ (uint32_t)data[1] * 0x01010101u;
	const uint8_t *p = data + 2, *end = data + size;

	neps = 0;
	while (neps < MAXCONN - 1) {
		const uint8_t *d = memmem(p, (size_t)(end - p), delim, sizeof delim - 1);
		if (!d)
			break;
		seg[neps] = p;
		seglen[neps++] = (size_t)(d - p);
		p = d + sizeof delim - 1;
	}
	seg[neps] = p;
	seglen[neps++] = (size_t)(end - p);
	for (size_t i = 0; i < neps; i++) {
		fz_ep_http(&eps[i]);
		out_state[i] = OUT_UNKNOWN;
		off[i] = 0;
		stuck[i] = 0;
	}

	bool more = true;
	while (more) {
		more = false;
		for (size_t i = 0; i < neps; i++) {
			if (off[i] == seglen[i])
				continue;
			size_t want = seglen[i] - off[i];
			size_t chunk = maxchunk ? 1 + next_rand() % maxchunk : want;
			if (want > chunk)
				want = chunk;
			size_t w = fz_ep_write(&eps[i], seg[i] + off[i], want);
			off[i] += w;
			/* A hub that stopped reading (closed, or paused) gets no more. */
			if (w == 0 && (eps[i].eof || ++stuck[i] > 64))
				off[i] = seglen[i];
			fz_turn();
			drain_all();
			more |= off[i] < seglen[i];
		}
	}
	/* Let the answers go out. */
	for (int t = 0; t < 16; t++) {
		fz_turn();
		if (drain_all() == 0 && t >= 2)
			break;
	}
	fz_finish(eps, neps, drain_all_void);
	return 0;
}
