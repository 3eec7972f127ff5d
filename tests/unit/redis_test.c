#include "redis.h"
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

static struct sio_buf hexbuf = SIO_BUF_INIT;

static const char *
hex(const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *u = p;
	sio_buf_reset(&hexbuf);
	for (size_t i = 0; i < n; i++) {
		sio_buf_addc(&hexbuf, digits[u[i] >> 4]);
		sio_buf_addc(&hexbuf, digits[u[i] & 15]);
	}
	sio_buf_addc(&hexbuf, '\0');
	return hexbuf.data;
}

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
	T_EQ_INT(sio_redis_pack_broadcast(&out, "adapt1", "/", &doc, payload, 0, NULL, NULL,
	    rooms, 1, NULL, 0, false, err), SIO_OK, "a room broadcast packs");
	T_EQ_STR(hex(out.data, out.len), to_room_hex, "a room broadcast: the adapter's bytes");

	const char *bin = "[\"ev\",{\"_binary\":\"AQID\"}]";
	const char *except[] = { "r2" };
	sio_buf_reset(&out);
	T_EQ_INT(sio_json_parse(&doc, bin, strlen(bin), 64, err), SIO_OK, "binary payload parses");
	T_EQ_INT(sio_redis_pack_broadcast(&out, "emitter", "/chat", &doc, bin, 0, sio_mj_base64_in,
	    &bytes, NULL, 0, except, 1, true, err), SIO_OK, "a binary volatile broadcast packs");
	T_EQ_STR(hex(out.data, out.len), binary_hex,
	    "binary as bin, except and the volatile flag");

	const char *bad = "[\"ev\",{\"_binary\":\"!!\"}]";
	sio_buf_reset(&out);
	sio_json_parse(&doc, bad, strlen(bad), 64, err);
	T_OK(sio_redis_pack_broadcast(&out, "emitter", "/", &doc, bad, 0, sio_mj_base64_in,
	    &bytes, NULL, 0, NULL, 0, false, err) != SIO_OK && out.len == 0,
	    "bad base64 is refused and nothing is left in out");

	sio_json_free(&doc);
	sio_buf_free(&out);
	sio_buf_free(&bytes);
	sio_buf_free(&hexbuf);
	T_DONE();
}
