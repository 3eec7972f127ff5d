/*
 * msgjson: JSON text <-> MessagePack.
 *
 * Packing goes through msgpack-c's packer, which picks the same smallest
 * encodings notepack.io picks. Unpacking is a single pass written here
 * instead of msgpack-c's unpacker: that one builds a whole object tree,
 * allocates each array from its declared count before the elements
 * arrive, and stops at a compiled-in nesting of 32, while this reader
 * checks every count against the bytes left, keeps its own stack (no C
 * recursion) and writes the JSON as it goes.
 */
#include "msgjson.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack/pack.h>

void
sio_mj_atts_free(struct sio_mj_atts *a)
{
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

static int
seterr(char *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, SIO_ERRLEN, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* ---- JSON -> MessagePack ------------------------------------------------ */

int
sio_mj_placeholder_in(void *arg, const struct sio_json *doc, const char *text,
    int tok, struct sio_mj_span *bin, char *err)
{
	const struct sio_mj_atts *a = arg;
	long num;

	if (!sio_json_is_placeholder(doc, text, tok, &num))
		return 0;
	if ((unsigned long)num >= a->n)
		return seterr(err, SIO_EPROTO, "placeholder %ld with %zu "
		    "attachments", num, a->n);
	*bin = a->v[num];
	return 1;
}

int
sio_mj_base64_in(void *arg, const struct sio_json *doc, const char *text,
    int tok, struct sio_mj_span *bin, char *err)
{
	struct sio_buf *bytes = arg;
	const struct sio_json_tok *t = &doc->tok[tok];

	if (t->size != 1 || !sio_json_str_eq(doc, text, tok + 1, "_binary") ||
	    doc->tok[tok + 2].type != SIO_JSON_STRING)
		return 0;
	const struct sio_json_tok *s = &doc->tok[tok + 2];
	const char *b64 = text + s->start + 1;
	size_t n = s->end - s->start - 2;
	/* "\/" is a legal way to write '/' in JSON. */
	struct sio_buf unesc = SIO_BUF_INIT;
	if (memchr(b64, '\\', n)) {
		n = sio_json_str_decode(doc, text, tok + 2, &unesc);
		b64 = unesc.data;
	}
	sio_buf_reset(bytes);
	int rc = sio_base64_decode(bytes, b64, n);
	sio_buf_free(&unesc);
	if (rc != SIO_OK)
		return seterr(err, SIO_EPROTO, "bad base64 in a _binary value");
	bin->p = (const uint8_t *)bytes->data;
	bin->len = bytes->len;
	return 1;
}

static int
buf_write(void *data, const char *p, size_t n)
{
	sio_buf_add(data, p, n);
	return 0;
}

/*
 * What notepack.io does with the double JSON.parse gives: whole values
 * it can write as 64-bit integers become ints, the rest float 64.
 * Integer literals that fit 64 bits skip the double and stay exact.
 */
static void
pack_number(msgpack_packer *pk, const char *s, size_t n)
{
	bool neg = s[0] == '-';
	bool digits_only = true, fits = true;
	uint64_t v = 0;

	for (size_t i = neg; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			digits_only = false;
			break;
		}
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			fits = false;
		else
			v = v * 10 + d;
	}
	if (digits_only && fits) {
		if (!neg) {
			msgpack_pack_uint64(pk, v);
			return;
		}
		if (v <= (uint64_t)INT64_MAX + 1) {
			msgpack_pack_int64(pk, v ? -(int64_t)(v - 1) - 1 : 0);
			return;
		}
	}

	/* The token is not NUL-terminated: the text may end right after it. */
	char small[64];
	char *copy = n < sizeof small ? small : sio_xmalloc(n + 1);
	memcpy(copy, s, n);
	copy[n] = '\0';
	double d = strtod(copy, NULL);
	if (copy != small)
		free(copy);
	if (isfinite(d) && d == trunc(d) && d >= -0x1p63 && d < 0x1p64) {
		if (d < 0)
			msgpack_pack_int64(pk, (int64_t)d);
		else
			msgpack_pack_uint64(pk, (uint64_t)d);	/* -0 too */
	} else
		msgpack_pack_double(pk, d);
}

static void
pack_string(msgpack_packer *pk, const struct sio_json *doc, const char *text,
    int i, struct sio_buf *scratch)
{
	const struct sio_json_tok *t = &doc->tok[i];
	const char *s = text + t->start + 1;
	size_t n = t->end - t->start - 2;

	if (memchr(s, '\\', n)) {
		sio_buf_reset(scratch);
		n = sio_json_str_decode(doc, text, i, scratch);
		s = scratch->data;
	}
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

int
sio_json_to_msgpack(struct sio_buf *out, const struct sio_json *doc,
    const char *text, int tok, sio_mj_bin_in bin, void *arg, char *err)
{
	size_t start = out->len;
	struct sio_buf scratch = SIO_BUF_INIT;
	msgpack_packer pk;
	int rc = SIO_OK;

	msgpack_packer_init(&pk, out, buf_write);
	/*
	 * Tokens are in document order and each container's token carries
	 * its count, which is all a MessagePack header needs: one flat walk
	 * packs the subtree, keys included, with no stack.
	 */
	for (uint32_t i = (uint32_t)tok, end = doc->tok[tok].next; i < end; i++) {
		const struct sio_json_tok *t = &doc->tok[i];
		switch (t->type) {
		case SIO_JSON_OBJECT:
			if (bin) {
				struct sio_mj_span b = { NULL, 0 };
				rc = bin(arg, doc, text, (int)i, &b, err);
				if (rc < 0)
					goto fail;
				if (rc > 0) {
					if (b.len > UINT32_MAX) {
						rc = seterr(err, SIO_ELIMIT,
						    "binary value of %zu bytes",
						    b.len);
						goto fail;
					}
					msgpack_pack_bin(&pk, b.len);
					msgpack_pack_bin_body(&pk, b.p, b.len);
					i = t->next - 1;
					break;
				}
			}
			msgpack_pack_map(&pk, t->size);
			break;
		case SIO_JSON_ARRAY:
			msgpack_pack_array(&pk, t->size);
			break;
		case SIO_JSON_STRING:
			pack_string(&pk, doc, text, (int)i, &scratch);
			break;
		case SIO_JSON_NUMBER:
			pack_number(&pk, text + t->start, t->end - t->start);
			break;
		case SIO_JSON_TRUE:
			msgpack_pack_true(&pk);
			break;
		case SIO_JSON_FALSE:
			msgpack_pack_false(&pk);
			break;
		default:
			msgpack_pack_nil(&pk);
			break;
		}
	}
	sio_buf_free(&scratch);
	return SIO_OK;
fail:
	sio_buf_free(&scratch);
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return rc;
}

/* ---- numbers as JavaScript writes them ---------------------------------- */

/* Reads m * 10^q back as a double. */
static double
decimal(uint64_t m, int q)
{
	char buf[48];
	snprintf(buf, sizeof buf, "%" PRIu64 "e%d", m, q);
	return strtod(buf, NULL);
}

void
sio_mj_add_double(struct sio_buf *out, double d)
{
	char buf[48];
	uint64_t m = 0;
	int q = 0;

	if (!isfinite(d)) {
		sio_buf_adds(out, "null");
		return;
	}
	if (d == 0) {
		sio_buf_addc(out, '0');
		return;
	}
	if (d < 0) {
		sio_buf_addc(out, '-');
		d = -d;
	}
	/*
	 * The fewest significant digits m (d = m * 10^q) that read back as
	 * d. printf rounds to the nearest p digits; when d is a power of two
	 * its lower neighbour is twice as close as its upper one, so the
	 * nearest p digits may miss while the next ones up or down still
	 * hit, and JavaScript takes those.
	 */
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, sizeof buf, "%.*e", p - 1, d);
		const char *c = buf;
		for (m = 0; *c != 'e'; c++)
			if (*c >= '0' && *c <= '9')
				m = m * 10 + (uint64_t)(*c - '0');
		q = atoi(c + 1) - (p - 1);
		if (p == 17 || decimal(m, q) == d)
			break;
		if (decimal(m + 1, q) == d) {
			m++;
			break;
		}
		if (decimal(m - 1, q) == d) {
			m--;
			break;
		}
	}
	while (m % 10 == 0) {
		m /= 10;
		q++;
	}
	char digits[24];
	int k = snprintf(digits, sizeof digits, "%" PRIu64, m);

	/* ECMA-262 Number::toString: n is where the decimal point goes. */
	int n = k + q;
	if (k <= n && n <= 21) {
		sio_buf_add(out, digits, (size_t)k);
		for (int i = k; i < n; i++)
			sio_buf_addc(out, '0');
	} else if (0 < n && n <= 21) {
		sio_buf_add(out, digits, (size_t)n);
		sio_buf_addc(out, '.');
		sio_buf_add(out, digits + n, (size_t)(k - n));
	} else if (-6 < n && n <= 0) {
		sio_buf_adds(out, "0.");
		for (int i = n; i < 0; i++)
			sio_buf_addc(out, '0');
		sio_buf_add(out, digits, (size_t)k);
	} else {
		sio_buf_addc(out, digits[0]);
		if (k > 1) {
			sio_buf_addc(out, '.');
			sio_buf_add(out, digits + 1, (size_t)(k - 1));
		}
		sio_buf_printf(out, "e%c%d", n - 1 < 0 ? '-' : '+',
		    abs(n - 1));
	}
}

/* ---- MessagePack -> JSON ------------------------------------------------ */

int
sio_mj_placeholder_out(void *arg, const uint8_t *p, size_t len,
    struct sio_buf *json, char *err)
{
	struct sio_mj_atts *a = arg;

	if (a->max && a->n >= a->max)
		return seterr(err, SIO_ELIMIT, "more than %zu binary "
		    "attachments", a->max);
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 4;
		a->v = sio_xrealloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n].p = p;
	a->v[a->n].len = len;
	sio_buf_printf(json, "{\"_placeholder\":true,\"num\":%zu}", a->n++);
	return SIO_OK;
}

int
sio_mj_base64_out(void *arg, const uint8_t *p, size_t len,
    struct sio_buf *json, char *err)
{
	(void)arg;
	(void)err;
	sio_buf_adds(json, "{\"_binary\":\"");
	sio_base64_encode(json, p, len);
	sio_buf_adds(json, "\"}");
	return SIO_OK;
}

/* An open array or map: how many values (arrays) or pairs (maps) remain. */
struct frame {
	uint32_t left;
	bool map;
	bool first;
};

struct rd {
	const uint8_t *p;
	size_t len, pos;
	struct sio_buf *out;
	const struct sio_mj_limits *lim;
	sio_mj_bin_out bin;
	void *arg;
	char *err;
	struct frame *st;
	size_t sp, cap;
};

/* A map pair that notepack.io 2.x's undefined made empty: skipped. */
#define SKIPPED 1

static int
bad(struct rd *r, size_t at, const char *what)
{
	return seterr(r->err, SIO_EPROTO, "invalid MessagePack at byte %zu: %s",
	    at, what);
}

static bool
avail(const struct rd *r, uint64_t n)
{
	return n <= r->len - r->pos;
}

/* Reads an n-byte big-endian field at pos; false when truncated. */
static bool
field(struct rd *r, int n, uint64_t *v)
{
	if (!avail(r, (uint64_t)n))
		return false;
	*v = sio_be_uint(r->p + r->pos, n);
	r->pos += (size_t)n;
	return true;
}

static int
add_str(struct rd *r, size_t n, size_t at)
{
	if (!avail(r, n))
		return bad(r, at, "truncated string");
	const uint8_t *s = r->p + r->pos;
	if (!sio_utf8_valid(s, n))
		return bad(r, at, "invalid UTF-8 in string");
	sio_json_add_str(r->out, (const char *)s, n);
	r->pos += n;
	return SIO_OK;
}

static int
add_bin(struct rd *r, size_t n, size_t at)
{
	if (!avail(r, n))
		return bad(r, at, "truncated binary");
	if (!r->bin)
		return bad(r, at, "binary value where none is expected");
	int rc = r->bin(r->arg, r->p + r->pos, n, r->out, r->err);
	r->pos += n;
	return rc;
}

/*
 * Date.prototype.toJSON for time value t (ms since the epoch): an ISO
 * 8601 string, or null outside the ±8.64e15 ms a Date can hold.
 */
static void
add_date(struct sio_buf *out, double t)
{
	if (!(fabs(t) <= 8.64e15)) {
		sio_buf_adds(out, "null");
		return;
	}
	int64_t ms = (int64_t)trunc(t);
	int64_t day = ms / 86400000, msday = ms % 86400000;
	if (msday < 0) {
		msday += 86400000;
		day--;
	}
	/* Civil date from days since 1970-01-01, in 400-year eras. */
	int64_t z = day + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t dd = doy - (153 * mp + 2) / 5 + 1;
	int64_t mm = mp < 10 ? mp + 3 : mp - 9;
	int64_t yy = yoe + era * 400 + (mm <= 2);

	if (yy >= 0 && yy <= 9999)
		sio_buf_printf(out, "\"%04" PRId64, yy);
	else
		sio_buf_printf(out, "\"%c%06" PRId64, yy < 0 ? '-' : '+',
		    yy < 0 ? -yy : yy);
	sio_buf_printf(out, "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02"
	    PRId64 ":%02" PRId64 ".%03" PRId64 "Z\"", mm, dd,
	    msday / 3600000, msday / 60000 % 60, msday / 1000 % 60,
	    msday % 1000);
}

/*
 * Extension types, as notepack.io 3 decodes them: -1 is the timestamp
 * (a Date); type 0 is notepack.io 2.x's undefined (fixext 1), date
 * (fixext 8) or ArrayBuffer (ext 8/16/32). hdr is the format byte.
 */
static int
add_ext(struct rd *r, uint8_t hdr, size_t n, size_t at)
{
	if (!avail(r, 1 + (uint64_t)n))
		return bad(r, at, "truncated ext");
	int8_t type = (int8_t)r->p[r->pos++];
	const uint8_t *d = r->p + r->pos;

	if (type == 0 && hdr >= 0xc7 && hdr <= 0xc9)
		return add_bin(r, n, at);
	r->pos += n;
	if (type == 0 && hdr == 0xd4) {
		sio_buf_adds(r->out, "null");
		return SIO_OK;
	}
	if (type == 0 && hdr == 0xd7) {
		add_date(r->out, (double)(int32_t)sio_be_uint(d, 4) * 4294967296.0 +
		    (double)sio_be_uint(d + 4, 4));
		return SIO_OK;
	}
	if (type == -1 && hdr == 0xd6) {
		add_date(r->out, (double)sio_be_uint(d, 4) * 1e3);
		return SIO_OK;
	}
	if (type == -1 && hdr == 0xd7) {
		uint64_t hi = sio_be_uint(d, 4), lo = sio_be_uint(d + 4, 4);
		double s = (double)(hi & 3) * 4294967296.0 + (double)lo;
		add_date(r->out, s * 1e3 + (double)(hi >> 2) / 1e6);
		return SIO_OK;
	}
	if (type == -1 && hdr == 0xc7 && n == 12) {
		double s = (double)(int32_t)sio_be_uint(d + 4, 4) * 4294967296.0 +
		    (double)sio_be_uint(d + 8, 4);
		add_date(r->out, s * 1e3 + (double)sio_be_uint(d, 4) / 1e6);
		return SIO_OK;
	}
	char what[48];
	snprintf(what, sizeof what, "unsupported ext type %d", type);
	return bad(r, at, what);
}

static int
open_container(struct rd *r, bool map, uint64_t count, size_t at)
{
	/* Each element takes a byte at least; a map pair, two. */
	if (count > (r->len - r->pos) / (map ? 2 : 1))
		return bad(r, at, map ? "map longer than the input" :
		    "array longer than the input");
	if (r->lim->maxdepth < 0 || r->sp >= (size_t)r->lim->maxdepth)
		return seterr(r->err, SIO_ELIMIT, "MessagePack nested deeper "
		    "than %d at byte %zu", r->lim->maxdepth, at);
	sio_buf_addc(r->out, map ? '{' : '[');
	if (r->sp == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->st = sio_xrealloc(r->st, r->cap * sizeof *r->st);
	}
	r->st[r->sp++] = (struct frame){ (uint32_t)count, map, true };
	return SIO_OK;
}

/* Writes one value, or opens a container the main loop then fills. */
static int
value(struct rd *r)
{
	size_t at = r->pos;
	uint64_t v;

	if (!avail(r, 1))
		return bad(r, at, "truncated");
	uint8_t c = r->p[r->pos++];

	if (c <= 0x7f) {
		sio_buf_printf(r->out, "%u", (unsigned)c);
		return SIO_OK;
	}
	if (c >= 0xe0) {
		sio_buf_printf(r->out, "%d", (int8_t)c);
		return SIO_OK;
	}
	if (c >= 0xa0 && c <= 0xbf)
		return add_str(r, c & 0x1f, at);
	if (c <= 0x8f)
		return open_container(r, true, c & 0x0f, at);
	if (c <= 0x9f)
		return open_container(r, false, c & 0x0f, at);

	switch (c) {
	case 0xc0:
		sio_buf_adds(r->out, "null");
		return SIO_OK;
	case 0xc2:
		sio_buf_adds(r->out, "false");
		return SIO_OK;
	case 0xc3:
		sio_buf_adds(r->out, "true");
		return SIO_OK;
	case 0xc4: case 0xc5: case 0xc6:	/* bin 8/16/32 */
		if (!field(r, 1 << (c - 0xc4), &v))
			return bad(r, at, "truncated");
		return add_bin(r, v, at);
	case 0xc7: case 0xc8: case 0xc9:	/* ext 8/16/32 */
		if (!field(r, 1 << (c - 0xc7), &v))
			return bad(r, at, "truncated");
		return add_ext(r, c, v, at);
	case 0xca:
		if (!field(r, 4, &v))
			return bad(r, at, "truncated");
		{
			uint32_t u = (uint32_t)v;
			float f;
			memcpy(&f, &u, sizeof f);
			sio_mj_add_double(r->out, f);
		}
		return SIO_OK;
	case 0xcb:
		if (!field(r, 8, &v))
			return bad(r, at, "truncated");
		{
			double d;
			memcpy(&d, &v, sizeof d);
			sio_mj_add_double(r->out, d);
		}
		return SIO_OK;
	case 0xcc: case 0xcd: case 0xce: case 0xcf:	/* uint 8..64 */
		if (!field(r, 1 << (c - 0xcc), &v))
			return bad(r, at, "truncated");
		sio_buf_printf(r->out, "%" PRIu64, v);
		return SIO_OK;
	case 0xd0: case 0xd1: case 0xd2: case 0xd3: {	/* int 8..64 */
		int n = 1 << (c - 0xd0);
		if (!field(r, n, &v))
			return bad(r, at, "truncated");
		/* Sign-extend from n bytes. */
		int64_t s = n == 8 ? (int64_t)v :
		    (int64_t)(v ^ (1ULL << (8 * n - 1))) -
		    (int64_t)(1ULL << (8 * n - 1));
		sio_buf_printf(r->out, "%" PRId64, s);
		return SIO_OK;
	}
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:	/* fixext */
		return add_ext(r, c, (size_t)1 << (c - 0xd4), at);
	case 0xd9: case 0xda: case 0xdb:	/* str 8/16/32 */
		if (!field(r, 1 << (c - 0xd9), &v))
			return bad(r, at, "truncated");
		return add_str(r, v, at);
	case 0xdc: case 0xdd:
		if (!field(r, c == 0xdc ? 2 : 4, &v))
			return bad(r, at, "truncated");
		return open_container(r, false, v, at);
	case 0xde: case 0xdf:
		if (!field(r, c == 0xde ? 2 : 4, &v))
			return bad(r, at, "truncated");
		return open_container(r, true, v, at);
	default:
		return bad(r, at, "reserved byte 0xc1");
	}
}

/* Writes a map key and its ':'; SKIPPED when the value is undefined. */
static int
key(struct rd *r, struct frame *f)
{
	size_t at = r->pos;
	uint64_t n;

	if (!avail(r, 1))
		return bad(r, at, "truncated");
	uint8_t c = r->p[r->pos++];
	if (c >= 0xa0 && c <= 0xbf)
		n = c & 0x1f;
	else if (c >= 0xd9 && c <= 0xdb) {
		if (!field(r, 1 << (c - 0xd9), &n))
			return bad(r, at, "truncated");
	} else
		return bad(r, at, "map key is not a string");
	if (!avail(r, n))
		return bad(r, at, "truncated string");
	const uint8_t *s = r->p + r->pos;
	if (!sio_utf8_valid(s, n))
		return bad(r, at, "invalid UTF-8 in string");
	r->pos += n;

	/* JSON.stringify leaves out a key whose value is undefined. */
	if (avail(r, 3) && r->p[r->pos] == 0xd4 && r->p[r->pos + 1] == 0) {
		r->pos += 3;
		return SKIPPED;
	}
	if (!f->first)
		sio_buf_addc(r->out, ',');
	f->first = false;
	sio_json_add_str(r->out, (const char *)s, n);
	sio_buf_addc(r->out, ':');
	return SIO_OK;
}

int
sio_msgpack_to_json(struct sio_buf *out, const uint8_t *p, size_t len,
    const struct sio_mj_limits *lim, sio_mj_bin_out bin, void *arg,
    char *err)
{
	struct rd r = {
		.p = p, .len = len, .out = out, .lim = lim,
		.bin = bin, .arg = arg, .err = err,
	};
	size_t start = out->len;
	int rc = value(&r);

	while (rc == SIO_OK && r.sp > 0) {
		if (lim->maxout && out->len - start > lim->maxout)
			break;
		struct frame *f = &r.st[r.sp - 1];
		if (f->left == 0) {
			sio_buf_addc(out, f->map ? '}' : ']');
			r.sp--;
			continue;
		}
		f->left--;
		if (f->map) {
			rc = key(&r, f);
			if (rc == SKIPPED) {
				rc = SIO_OK;
				continue;
			}
			if (rc != SIO_OK)
				break;
		} else if (!f->first)
			sio_buf_addc(out, ',');
		f->first = false;
		rc = value(&r);
	}
	free(r.st);
	if (rc == SIO_OK && lim->maxout && out->len - start > lim->maxout)
		rc = seterr(err, SIO_ELIMIT, "JSON text over %zu bytes at "
		    "MessagePack byte %zu", lim->maxout, r.pos);
	if (rc == SIO_OK && r.pos != len)
		rc = bad(&r, r.pos, "trailing bytes");
	if (rc != SIO_OK) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}
