/*
 * rwire: the wire of the Redis adapter (redis-wire.md), without any I/O:
 * Redis URLs, channel names, the MessagePack that is written (broadcast
 * messages and requests, in notepack.io's forms and key order) and a
 * reader for what comes back. redis.c does the talking.
 */
#include "rwire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- addresses ------------------------------------------------------------ */

static int
addr_bad(char *err, const char *url, const char *why)
{
	snprintf(err, SIO_ERRLEN, "redis: '%.120s' %s", url, why);
	return SIO_EINVAL;
}

int
sio_redis_addr_parse(const char *url, struct sio_redis_addr *a, char *err)
{
	memset(a, 0, sizeof *a);
	a->port = 6379;
	snprintf(a->host, sizeof a->host, "127.0.0.1");
	if (url[0] == '/' || strncmp(url, "unix://", 7) == 0) {
		const char *path = url[0] == '/' ? url : url + 7;
		if (path[0] != '/' || strlen(path) >= sizeof a->path)
			return addr_bad(err, url, "is not an absolute socket path");
		snprintf(a->path, sizeof a->path, "%s", path);
		return SIO_OK;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return addr_bad(err, url, "is not redis://[:password@]host[:port][/db] or a socket path");
	const char *s = url + 8;
	const char *slash = strchr(s, '/');
	size_t end = slash ? (size_t)(slash - s) : strlen(s);
	const char *at = memrchr(s, '@', end);
	if (at) {
		const char *colon = memchr(s, ':', (size_t)(at - s));
		const char *pw = colon ? colon + 1 : s;
		if ((size_t)(at - pw) >= sizeof a->password)
			return addr_bad(err, url, "has a password that is too long");
		memcpy(a->password, pw, (size_t)(at - pw));
		end -= (size_t)(at + 1 - s);
		s = at + 1;
	}
	const char *hostend = s + end;
	const char *portp = NULL;
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', end);
		if (!rb)
			return addr_bad(err, url, "has an unclosed '['");
		if (rb + 1 < hostend && rb[1] == ':')
			portp = rb + 2;
		s++;
		hostend = rb;
	} else {
		const char *colon = memchr(s, ':', end);
		if (colon) {
			portp = colon + 1;
			hostend = colon;
		}
	}
	if (hostend > s) {
		if ((size_t)(hostend - s) >= sizeof a->host)
			return addr_bad(err, url, "has a host name that is too long");
		memcpy(a->host, s, (size_t)(hostend - s));
		a->host[hostend - s] = '\0';
	}
	if (portp) {
		char port[8];
		size_t pl = (size_t)(url + 8 + strlen(url + 8) - portp);
		if (slash)
			pl = (size_t)(slash - portp);
		long v;
		if (pl == 0 || pl >= sizeof port)
			return addr_bad(err, url, "has a bad port");
		memcpy(port, portp, pl);
		port[pl] = '\0';
		if (!sio_parse_long(port, 1, 65535, &v))
			return addr_bad(err, url, "has a bad port");
		a->port = (int)v;
	}
	/* A /db suffix is accepted and ignored: Pub/Sub is not per database. */
	return SIO_OK;
}

/* ---- MessagePack: the few headers written here, and a reader ---------------- */

static void
mp_head(struct sio_buf *b, uint8_t fix, uint8_t fixmax, uint8_t c16, uint32_t n)
{
	uint8_t h[5];
	if (n <= fixmax) {
		sio_buf_addc(b, (char)(fix | n));
		return;
	}
	if (n <= 0xffff) {
		h[0] = c16;
		h[1] = (uint8_t)(n >> 8);
		h[2] = (uint8_t)n;
		sio_buf_add(b, h, 3);
		return;
	}
	h[0] = (uint8_t)(c16 + 1);
	h[1] = (uint8_t)(n >> 24);
	h[2] = (uint8_t)(n >> 16);
	h[3] = (uint8_t)(n >> 8);
	h[4] = (uint8_t)n;
	sio_buf_add(b, h, 5);
}

void
sio_mp_array(struct sio_buf *b, uint32_t n)
{
	mp_head(b, 0x90, 15, 0xdc, n);
}
void
sio_mp_map(struct sio_buf *b, uint32_t n)
{
	mp_head(b, 0x80, 15, 0xde, n);
}

/* A string the way notepack writes it: fixstr, str8, str16, str32. */
void
sio_mp_str(struct sio_buf *b, const char *s, size_t n)
{
	if (n < 32) {
		sio_buf_addc(b, (char)(0xa0 | n));
	} else if (n < 256) {
		sio_buf_addc(b, (char)0xd9);
		sio_buf_addc(b, (char)n);
	} else {
		mp_head(b, 0, 0, 0xda, (uint32_t)n);
	}
	sio_buf_add(b, s, n);
}

void
sio_mp_strs(struct sio_buf *b, const char *s)
{
	sio_mp_str(b, s, strlen(s));
}

void
sio_mp_strv(struct sio_buf *b, const char *const *v, size_t n)
{
	sio_mp_array(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		sio_mp_strs(b, v[i]);
}

/*
 * Reads one header; a str, bin or ext is consumed with its bytes, an
 * array or map leaves the reader at its first element. -1 on bad input.
 */
int
sio_mp_next(struct sio_mp *m, struct sio_mp_val *v)
{
	if (m->p >= m->end)
		return -1;
	uint8_t c = *m->p++;
	size_t left = (size_t)(m->end - m->p);
	int w = 0;		/* width of a length or number that follows */
	memset(v, 0, sizeof *v);
	if (c <= 0x7f) {
		v->kind = SIO_MP_UINT;
		v->u = c;
		return 0;
	}
	if (c >= 0xe0) {
		v->kind = SIO_MP_INT;
		v->i = (int8_t)c;
		return 0;
	}
	if (c <= 0x8f || (c >= 0x90 && c <= 0x9f)) {
		v->kind = c <= 0x8f ? SIO_MP_MAP : SIO_MP_ARRAY;
		v->n = c & 0x0f;
		return 0;
	}
	if (c <= 0xbf) {
		v->kind = SIO_MP_STR;
		v->n = c & 0x1f;
		goto bytes;
	}
	switch (c) {
	case 0xc0: v->kind = SIO_MP_NIL; return 0;
	case 0xc2: case 0xc3: v->kind = SIO_MP_BOOL; v->u = c == 0xc3; return 0;
	case 0xc4: case 0xc5: case 0xc6:
		v->kind = SIO_MP_BIN; w = 1 << (c - 0xc4); break;
	case 0xc7: case 0xc8: case 0xc9:
		v->kind = SIO_MP_EXT; w = 1 << (c - 0xc7); break;
	case 0xca: case 0xcb: {
		w = c == 0xca ? 4 : 8;
		if (left < (size_t)w)
			return -1;
		uint64_t bits = sio_be_uint(m->p, w);
		m->p += w;
		v->kind = SIO_MP_FLOAT;
		if (w == 4) {
			uint32_t b32 = (uint32_t)bits;
			float f;
			memcpy(&f, &b32, 4);
			v->d = f;
		} else {
			memcpy(&v->d, &bits, 8);
		}
		return 0;
	}
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
	case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		w = 1 << ((c - 0xcc) & 3);
		if (left < (size_t)w)
			return -1;
		v->u = sio_be_uint(m->p, w);
		m->p += w;
		if (c >= 0xd0) {
			v->kind = SIO_MP_INT;
			int sh = 64 - 8 * w;
			v->i = (int64_t)(v->u << sh) >> sh;
		} else {
			v->kind = SIO_MP_UINT;
		}
		return 0;
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
		v->kind = SIO_MP_EXT;
		v->n = 1u << (c - 0xd4);
		if (left < 1)
			return -1;
		m->p++;		/* the ext type */
		goto bytes;
	case 0xd9: case 0xda: case 0xdb:
		v->kind = SIO_MP_STR; w = 1 << (c - 0xd9); break;
	case 0xdc: case 0xdd: case 0xde: case 0xdf:
		v->kind = c <= 0xdd ? SIO_MP_ARRAY : SIO_MP_MAP;
		w = c == 0xdc || c == 0xde ? 2 : 4;
		if (left < (size_t)w)
			return -1;
		v->n = (uint32_t)sio_be_uint(m->p, w);
		m->p += w;
		return 0;
	default:
		return -1;
	}
	if (left < (size_t)w)
		return -1;
	v->n = (uint32_t)sio_be_uint(m->p, w);
	m->p += w;
	if (v->kind == SIO_MP_EXT) {
		if (m->p >= m->end)
			return -1;
		m->p++;
	}
bytes:
	if ((size_t)(m->end - m->p) < v->n)
		return -1;
	v->s = m->p;
	m->p += v->n;
	return 0;
}

/* Skips one whole value, without recursion (a deep payload is fine). */
int
sio_mp_skip(struct sio_mp *m)
{
	uint64_t left = 1;	/* values still to read */
	struct sio_mp_val v;
	while (left > 0) {
		if (sio_mp_next(m, &v) < 0)
			return -1;
		left--;
		if (v.kind == SIO_MP_ARRAY)
			left += v.n;
		else if (v.kind == SIO_MP_MAP)
			left += 2 * (uint64_t)v.n;
	}
	return 0;
}

bool
sio_mp_is(const struct sio_mp_val *v, const char *s)
{
	return v->kind == SIO_MP_STR && v->n == strlen(s) && memcmp(v->s, s, v->n) == 0;
}

/* ---- string lists ------------------------------------------------------------ */

void
sio_strv_add(struct sio_strv *l, const char *s, size_t n)
{
	l->v = sio_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n++] = sio_xstrndup(s, n);
}

void
sio_strv_free(struct sio_strv *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* An array of rooms: strings, or numbers when a JS app used io.to(123). */
int
sio_mp_rooms(struct sio_mp *m, struct sio_strv *out)
{
	struct sio_mp_val v;
	if (sio_mp_next(m, &v) < 0)
		return -1;
	if (v.kind == SIO_MP_NIL)
		return 0;
	if (v.kind != SIO_MP_ARRAY)
		return -1;
	for (uint32_t k = 0; k < v.n; k++) {
		struct sio_mp_val e;
		char num[32];
		if (sio_mp_next(m, &e) < 0)
			return -1;
		if (e.kind == SIO_MP_STR) {
			sio_strv_add(out, (const char *)e.s, e.n);
		} else if (e.kind == SIO_MP_UINT || e.kind == SIO_MP_INT) {
			int n = e.kind == SIO_MP_UINT ? snprintf(num, sizeof num, "%llu", (unsigned long long)e.u) :
			    snprintf(num, sizeof num, "%lld", (long long)e.i);
			sio_strv_add(out, num, (size_t)n);
		} else if (e.kind == SIO_MP_FLOAT) {
			struct sio_buf b = SIO_BUF_INIT;
			sio_mj_add_double(&b, e.d);
			sio_strv_add(out, b.data, b.len);
			sio_buf_free(&b);
		} else {
			return -1;
		}
	}
	return 0;
}

/* JSON arrays of strings (or numbers, kept as their text). */
void
sio_rw_json_rooms(const struct sio_json *doc, const char *text, int arr, struct sio_strv *out)
{
	if (arr < 0 || doc->tok[arr].type != SIO_JSON_ARRAY)
		return;
	for (int k = arr + 1; k < (int)doc->tok[arr].next; k = (int)doc->tok[k].next) {
		if (doc->tok[k].type == SIO_JSON_STRING) {
			struct sio_buf b = SIO_BUF_INIT;
			sio_json_str_decode(doc, text, k, &b);
			sio_strv_add(out, b.data ? b.data : "", b.len);
			sio_buf_free(&b);
		} else if (doc->tok[k].type == SIO_JSON_NUMBER) {
			sio_strv_add(out, text + doc->tok[k].start, doc->tok[k].end - doc->tok[k].start);
		}
	}
}

/* ---- channels ------------------------------------------------------------- */

void
sio_rw_channel(struct sio_buf *b, const char *key, const char *kind, const char *nsp, const char *room)
{
	sio_buf_reset(b);
	sio_buf_printf(b, "%s%s#%s#", key, kind, nsp);
	if (room)
		sio_buf_printf(b, "%s#", room);
}

/* Appends s with the glob characters of PSUBSCRIBE escaped. */
static void
glob_escaped(struct sio_buf *b, const char *s)
{
	for (; *s; s++) {
		if (strchr("*?[]\\", *s))
			sio_buf_addc(b, '\\');
		sio_buf_addc(b, *s);
	}
}

/* PSUBSCRIBE <key>#<nsp>#*: a namespace named with '*' must not over-match. */
void
sio_rw_pattern(struct sio_buf *b, const char *key, const char *nsp)
{
	sio_buf_reset(b);
	glob_escaped(b, key);
	sio_buf_addc(b, '#');
	glob_escaped(b, nsp);
	sio_buf_adds(b, "#*");
}


/* {type: 2, data, nsp}: the packet as socket.io builds it. */
int
sio_rw_pack_packet(struct sio_buf *out, const char *nsp, const struct sio_json *doc, const char *text,
    int tok, sio_mj_bin_in bin, void *arg, char *err)
{
	sio_mp_map(out, 3);
	sio_mp_strs(out, "type");
	sio_buf_addc(out, 2);	/* EVENT, even with binary: the parser decides later */
	sio_mp_strs(out, "data");
	int rc = sio_json_to_msgpack(out, doc, text, tok, bin, arg, err);
	if (rc != SIO_OK)
		return rc;
	sio_mp_strs(out, "nsp");
	sio_mp_strs(out, nsp);
	return SIO_OK;
}

/* {rooms, except, flags}; flags: volatile, and timeout (ms) when not 0. */
void
sio_rw_pack_opts(struct sio_buf *out, const char *const *rooms, size_t nrooms,
    const char *const *except, size_t nexcept, bool is_volatile, long long timeout)
{
	sio_mp_map(out, 3);
	sio_mp_strs(out, "rooms");
	sio_mp_strv(out, rooms, nrooms);
	sio_mp_strs(out, "except");
	sio_mp_strv(out, except, nexcept);
	sio_mp_strs(out, "flags");
	sio_mp_map(out, (uint32_t)(is_volatile + (timeout > 0)));
	if (is_volatile) {
		sio_mp_strs(out, "volatile");
		sio_buf_addc(out, (char)0xc3);
	}
	if (timeout > 0) {
		uint8_t t[5] = { 0xce, (uint8_t)(timeout >> 24), (uint8_t)(timeout >> 16),
			(uint8_t)(timeout >> 8), (uint8_t)timeout };
		sio_mp_strs(out, "timeout");
		sio_buf_add(out, t, 5);
	}
}

int
sio_rw_pack_broadcast(struct sio_buf *out, const char *uid, const char *nsp,
    const struct sio_json *doc, const char *text, int tok, sio_mj_bin_in bin, void *arg,
    const char *const *rooms, size_t nrooms, const char *const *except, size_t nexcept,
    bool is_volatile, char *err)
{
	size_t before = out->len;
	sio_mp_array(out, 3);
	sio_mp_strs(out, uid);
	int rc = sio_rw_pack_packet(out, nsp, doc, text, tok, bin, arg, err);
	if (rc != SIO_OK) {
		out->len = before;
		return rc;
	}
	sio_rw_pack_opts(out, rooms, nrooms, except, nexcept, is_volatile, 0);
	return SIO_OK;
}

/* ---- incoming broadcasts ----------------------------------------------------- */

/* The packet map {type, data, nsp[, id]}. */
int
sio_rw_read_packet(struct sio_mp *m, struct sio_rw_bcast *bc)
{
	struct sio_mp_val v, k;
	if (sio_mp_next(m, &v) < 0 || v.kind != SIO_MP_MAP)
		return -1;
	snprintf(bc->nsp, sizeof bc->nsp, "/");
	for (uint32_t i = 0; i < v.n; i++) {
		if (sio_mp_next(m, &k) < 0)
			return -1;
		if (sio_mp_is(&k, "data")) {
			bc->data.p = m->p;
			if (sio_mp_skip(m) < 0)
				return -1;
			bc->data.len = (size_t)(m->p - bc->data.p);
		} else if (sio_mp_is(&k, "nsp")) {
			struct sio_mp_val s;
			if (sio_mp_next(m, &s) < 0 || s.kind != SIO_MP_STR || s.n >= sizeof bc->nsp)
				return -1;
			memcpy(bc->nsp, s.s, s.n);
			bc->nsp[s.n] = '\0';
		} else if (sio_mp_skip(m) < 0) {
			return -1;
		}
	}
	return bc->data.p && bc->data.p[0] >= 0x90 ? 0 : -1;
}

/* The opts map {rooms, except, flags}. */
int
sio_rw_read_opts(struct sio_mp *m, struct sio_rw_bcast *bc)
{
	struct sio_mp_val v, k;
	if (sio_mp_next(m, &v) < 0 || v.kind != SIO_MP_MAP)
		return -1;
	for (uint32_t i = 0; i < v.n; i++) {
		if (sio_mp_next(m, &k) < 0)
			return -1;
		if (sio_mp_is(&k, "rooms")) {
			if (sio_mp_rooms(m, &bc->rooms) < 0)
				return -1;
		} else if (sio_mp_is(&k, "except")) {
			if (sio_mp_rooms(m, &bc->except) < 0)
				return -1;
		} else if (sio_mp_is(&k, "flags")) {
			struct sio_mp_val f, fk, fv;
			if (sio_mp_next(m, &f) < 0)
				return -1;
			if (f.kind != SIO_MP_MAP)
				continue;
			for (uint32_t j = 0; j < f.n; j++) {
				if (sio_mp_next(m, &fk) < 0)
					return -1;
				if (sio_mp_is(&fk, "volatile")) {
					if (sio_mp_next(m, &fv) < 0)
						return -1;
					bc->is_volatile = fv.kind == SIO_MP_BOOL && fv.u;
				} else if (sio_mp_is(&fk, "timeout")) {
					if (sio_mp_next(m, &fv) < 0)
						return -1;
					if (fv.kind == SIO_MP_UINT && fv.u < 86400000)
						bc->timeout = (long long)fv.u;
				} else if (sio_mp_skip(m) < 0) {
					return -1;
				}
			}
		} else if (sio_mp_skip(m) < 0) {
			return -1;
		}
	}
	return 0;
}

void
sio_rw_bcast_free(struct sio_rw_bcast *bc)
{
	sio_strv_free(&bc->rooms);
	sio_strv_free(&bc->except);
}
