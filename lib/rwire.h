/*
 * rwire: the wire of @socket.io/redis-adapter 8 and redis-emitter 5
 * (redis-wire.md), without I/O, so it can be tested and fuzzed alone:
 * Redis URLs, channel names, writing the adapter's MessagePack and
 * reading it back. Values are borrowed for the call; what a reader
 * returns points into its input.
 */
#ifndef SIO_RWIRE_H
#define SIO_RWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "msgjson.h"
#include "util.h"

/* A Redis address: redis://[:password@]host[:port][/db], or a Unix socket
 * as unix:///path or a bare /path. */
struct sio_redis_addr {
	char host[256];
	int port;
	char path[108];		/* Unix socket, or "" */
	char password[256];
};
/* SIO_OK, or SIO_EINVAL with a message in err. The db is ignored. */
int sio_redis_addr_parse(const char *url, struct sio_redis_addr *a, char *err);

/* ---- channels ---- */

/* <key><kind>#<nsp>#[<room>#], kind "", "-request" or "-response"; b is reset. */
void sio_rw_channel(struct sio_buf *b, const char *key, const char *kind, const char *nsp,
    const char *room);
/* The PSUBSCRIBE pattern <key>#<nsp>#*, glob characters escaped; b is reset. */
void sio_rw_pattern(struct sio_buf *b, const char *key, const char *nsp);

/* ---- writing MessagePack (appended to b) ---- */

void sio_mp_array(struct sio_buf *b, uint32_t n);
void sio_mp_map(struct sio_buf *b, uint32_t n);
void sio_mp_str(struct sio_buf *b, const char *s, size_t n);
void sio_mp_strs(struct sio_buf *b, const char *s);
/* An array of strings. */
void sio_mp_strv(struct sio_buf *b, const char *const *v, size_t n);

/* {type: 2, data: token tok of doc, nsp}; SIO_OK or msgjson's error. */
int sio_rw_pack_packet(struct sio_buf *out, const char *nsp, const struct sio_json *doc,
    const char *text, int tok, sio_mj_bin_in bin, void *arg, char *err);
/* {rooms, except, flags}; flags hold volatile, and timeout (ms) when > 0. */
void sio_rw_pack_opts(struct sio_buf *out, const char *const *rooms, size_t nrooms,
    const char *const *except, size_t nexcept, bool is_volatile, long long timeout);
/*
 * [uid, {type:2, data, nsp}, {rooms, except, flags}]: the broadcast
 * message, appended to out (out unchanged on error). data is token tok
 * of doc (a JSON array); bin/arg say what stands for binary (msgjson.h).
 */
int sio_rw_pack_broadcast(struct sio_buf *out, const char *uid, const char *nsp,
    const struct sio_json *doc, const char *text, int tok, sio_mj_bin_in bin, void *arg,
    const char *const *rooms, size_t nrooms, const char *const *except, size_t nexcept,
    bool is_volatile, char *err);

/* ---- reading MessagePack ---- */

enum sio_mp_kind { SIO_MP_NIL, SIO_MP_BOOL, SIO_MP_UINT, SIO_MP_INT, SIO_MP_FLOAT, SIO_MP_STR, SIO_MP_BIN, SIO_MP_ARRAY, SIO_MP_MAP, SIO_MP_EXT };

struct sio_mp {
	const uint8_t *p, *end;
};

struct sio_mp_val {
	enum sio_mp_kind kind;
	uint32_t n;			/* str/bin/ext bytes, array/map entries */
	const uint8_t *s;
	uint64_t u;
	int64_t i;
	double d;
};

/*
 * Reads one header; a str, bin or ext is consumed with its bytes, an
 * array or map leaves the reader at its first element. -1 on bad input.
 */
int sio_mp_next(struct sio_mp *m, struct sio_mp_val *v);
/* Skips one whole value, without recursion. */
int sio_mp_skip(struct sio_mp *m);
/* v is the string s. */
bool sio_mp_is(const struct sio_mp_val *v, const char *s);

/* Owned strings. */
struct sio_strv {
	char **v;
	size_t n;
};

void sio_strv_add(struct sio_strv *l, const char *s, size_t n);
void sio_strv_free(struct sio_strv *l);

/* An array of rooms (strings, or numbers as their text); nil is none. */
int sio_mp_rooms(struct sio_mp *m, struct sio_strv *out);
/* The same from a JSON array token arr (-1: none). */
void sio_rw_json_rooms(const struct sio_json *doc, const char *text, int arr,
    struct sio_strv *out);

/* A broadcast read back: the packet's data (MessagePack) and the options. */
struct sio_rw_bcast {
	struct sio_mj_span data;
	char nsp[256];
	struct sio_strv rooms, except;
	bool is_volatile;
	long long timeout;		/* flags.timeout (ms), or 0 */
};

/* The packet map {type, data, nsp[, id]}: 0, or -1 (no array data). */
int sio_rw_read_packet(struct sio_mp *m, struct sio_rw_bcast *bc);
/* The opts map {rooms, except, flags}: 0 or -1. */
int sio_rw_read_opts(struct sio_mp *m, struct sio_rw_bcast *bc);
void sio_rw_bcast_free(struct sio_rw_bcast *bc);

#endif
