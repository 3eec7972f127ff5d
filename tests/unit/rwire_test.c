#include "rwire.h"
#include "t.h"

#include <stdlib.h>

/*
 * The Redis URL forms sio-hub --redis and sio-emit --redis take, and the
 * broadcast message bytes, written out by hand from redis-wire.md §3
 * (the adapter's key order: rooms, except, flags).
 */

static const struct {
	const char *url;
	int ok;
	const char *host;
	int port;
	const char *path;
	const char *password;
} urls[] = {
	{ "redis://127.0.0.1:6380", 1, "127.0.0.1", 6380, "", "" },
	{ "redis://cache.local", 1, "cache.local", 6379, "", "" },
	{ "redis://:s3cret@10.0.0.5:7000/2", 1, "10.0.0.5", 7000, "", "s3cret" },
	{ "redis://user:pw@h:1", 1, "h", 1, "", "pw" },
	{ "redis://[::1]:7001", 1, "::1", 7001, "", "" },
	{ "redis://", 1, "127.0.0.1", 6379, "", "" },
	{ "/run/redis/redis.sock", 1, "127.0.0.1", 6379, "/run/redis/redis.sock", "" },
	{ "unix:///tmp/r.sock", 1, "127.0.0.1", 6379, "/tmp/r.sock", "" },
	{ "http://127.0.0.1:6379", 0, NULL, 0, NULL, NULL },
	{ "redis://h:0", 0, NULL, 0, NULL, NULL },
	{ "redis://h:65536", 0, NULL, 0, NULL, NULL },
	{ "redis://h:port", 0, NULL, 0, NULL, NULL },
	{ "redis://[::1", 0, NULL, 0, NULL, NULL },
	{ "unix://relative.sock", 0, NULL, 0, NULL, NULL },
	{ "localhost:6379", 0, NULL, 0, NULL, NULL },
};


/* io.to("room1").emit("hello","world",1) from adapter "adapt1". */
static const char to_room_hex[] =
    "93a661646170743183a47479706502a46461746193a568656c6c6fa5776f726c6401a36e7370a12f"
    "83a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380";
/* sio-emit --redis -n /chat -x r2 --volatile ev '{"_binary":"AQID"}'. */
static const char binary_hex[] =
    "93a7656d697474657283a47479706502a46461746192a26576c403010203a36e7370a52f63686174"
    "83a5726f6f6d7390a665786365707491a27232a5666c61677381a8766f6c6174696c65c3";

int
main(void)
{
	char err[SIO_ERRLEN], what[160];
	struct sio_redis_addr a;

	for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
		int rc = sio_redis_addr_parse(urls[i].url, &a, err);
		snprintf(what, sizeof what, "%s is %s", urls[i].url,
		    urls[i].ok ? "accepted" : "refused");
		T_EQ_INT(rc == SIO_OK, urls[i].ok, what);
		if (rc != SIO_OK || !urls[i].ok)
			continue;
		snprintf(what, sizeof what, "%s: host, port, path, password", urls[i].url);
		T_OK(strcmp(a.host, urls[i].host) == 0 && a.port == urls[i].port &&
		    strcmp(a.path, urls[i].path) == 0 && strcmp(a.password, urls[i].password) == 0,
		    what);
	}

	struct sio_json doc = SIO_JSON_INIT;
	struct sio_buf out = SIO_BUF_INIT, bytes = SIO_BUF_INIT;
	const char *payload = "[\"hello\",\"world\",1]";
	const char *rooms[] = { "room1" };
	T_EQ_INT(sio_json_parse(&doc, payload, strlen(payload), 64, err), SIO_OK, "payload parses");
	T_EQ_INT(sio_rw_pack_broadcast(&out, "adapt1", "/", &doc, payload, 0, NULL, NULL,
	    rooms, 1, NULL, 0, false, err), SIO_OK, "a room broadcast packs");
	T_EQ_STR(t_hex(out.data, out.len), to_room_hex, "a room broadcast: the adapter's bytes");

	const char *bin = "[\"ev\",{\"_binary\":\"AQID\"}]";
	const char *except[] = { "r2" };
	sio_buf_reset(&out);
	T_EQ_INT(sio_json_parse(&doc, bin, strlen(bin), 64, err), SIO_OK, "binary payload parses");
	T_EQ_INT(sio_rw_pack_broadcast(&out, "emitter", "/chat", &doc, bin, 0, sio_mj_base64_in,
	    &bytes, NULL, 0, except, 1, true, err), SIO_OK, "a binary volatile broadcast packs");
	T_EQ_STR(t_hex(out.data, out.len), binary_hex,
	    "binary as bin, except and the volatile flag");

	/* Read back: the reader finds the packet's data, the rooms and flags. */
	struct sio_mp m = { (const uint8_t *)out.data, (const uint8_t *)out.data + out.len };
	struct sio_mp_val v;
	struct sio_rw_bcast bc;
	memset(&bc, 0, sizeof bc);
	T_OK(sio_mp_next(&m, &v) == 0 && v.kind == SIO_MP_ARRAY && v.n == 3, "an array of three");
	T_OK(sio_mp_next(&m, &v) == 0 && sio_mp_is(&v, "emitter"), "the uid");
	T_EQ_INT(sio_rw_read_packet(&m, &bc), 0, "the packet reads");
	T_EQ_STR(bc.nsp, "/chat", "its namespace");
	T_EQ_STR(t_hex(bc.data.p, bc.data.len), "92a26576c403010203", "its data, as packed");
	T_EQ_INT(sio_rw_read_opts(&m, &bc), 0, "the options read");
	T_OK(bc.rooms.n == 0 && bc.except.n == 1 && strcmp(bc.except.v[0], "r2") == 0 &&
	    bc.is_volatile, "rooms, except and volatile");
	T_OK(m.p == m.end, "nothing left over");
	sio_rw_bcast_free(&bc);

	/* Rooms a JS app gave as numbers are read as their text; junk is refused. */
	static const uint8_t rooms_mp[] = { 0x93, 0x7b, 0xd0, 0xfe, 0xa1, 'x' };
	struct sio_strv rv = { NULL, 0 };
	m.p = rooms_mp;
	m.end = rooms_mp + sizeof rooms_mp;
	T_OK(sio_mp_rooms(&m, &rv) == 0 && rv.n == 3 && strcmp(rv.v[0], "123") == 0 &&
	    strcmp(rv.v[1], "-2") == 0 && strcmp(rv.v[2], "x") == 0, "numeric rooms");
	sio_strv_free(&rv);
	static const uint8_t cut[] = { 0x92, 0xa5, 'a', 'b' };
	m.p = cut;
	m.end = cut + sizeof cut;
	T_OK(sio_mp_skip(&m) < 0, "a cut message is refused");
	static const uint8_t deep[] = { 0x91, 0x91, 0x91, 0x91, 0x90 };
	m.p = deep;
	m.end = deep + sizeof deep;
	T_OK(sio_mp_skip(&m) == 0 && m.p == m.end, "nesting is skipped without recursion");

	struct sio_buf ch = SIO_BUF_INIT;
	sio_rw_pattern(&ch, "socket.io", "/a*b");
	T_EQ_MEM(ch.data, ch.len, "socket.io#/a\\*b#*", "glob characters are escaped");
	sio_rw_channel(&ch, "k", "-request", "/", NULL);
	T_EQ_MEM(ch.data, ch.len, "k-request#/#", "the request channel");
	sio_rw_channel(&ch, "k", "", "/chat", "r1");
	T_EQ_MEM(ch.data, ch.len, "k#/chat#r1#", "a one-room broadcast channel");
	sio_buf_free(&ch);

	const char *bad = "[\"ev\",{\"_binary\":\"!!\"}]";
	sio_buf_reset(&out);
	sio_json_parse(&doc, bad, strlen(bad), 64, err);
	T_OK(sio_rw_pack_broadcast(&out, "emitter", "/", &doc, bad, 0, sio_mj_base64_in,
	    &bytes, NULL, 0, NULL, 0, false, err) != SIO_OK && out.len == 0,
	    "bad base64 is refused and nothing is left in out");

	sio_json_free(&doc);
	sio_buf_free(&out);
	sio_buf_free(&bytes);
	T_DONE();
}
