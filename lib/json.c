#include "json.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An open container keeps its parent's index in next until it closes. */
#define NOPARENT UINT32_MAX

struct jp {
	struct sio_json *doc;
	const uint8_t *p;
	size_t len;
	size_t pos;
	char *err;
};

/*
 * Bytes a string scan cannot skip blindly: controls, '"', '\\' and every
 * non-ASCII byte (which starts a UTF-8 sequence to validate). A table
 * keeps the hot loop to one load and one branch per byte.
 */
static const uint8_t str_stop[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static int
fail(struct jp *jp, size_t at, const char *what)
{
	if (jp->err)
		snprintf(jp->err, SIO_ERRLEN, "invalid JSON at byte %zu: %s",
		    at, what);
	return SIO_EPROTO;
}

static inline bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static inline void
skip_ws(struct jp *jp)
{
	const uint8_t *p = jp->p;
	size_t i = jp->pos, len = jp->len;

	while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' ||
	    p[i] == '\t'))
		i++;
	jp->pos = i;
}

/*
 * Length of the well-formed UTF-8 sequence at s, or 0. The second-byte
 * ranges follow RFC 3629's table, which is what excludes overlongs,
 * encoded surrogates and code points past U+10FFFF.
 */
static size_t
utf8_seq(const uint8_t *s, size_t avail)
{
	uint8_t c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < n; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	return n;
}

static uint32_t
tok_push(struct sio_json *doc, uint8_t type, size_t start)
{
	if (doc->n == doc->cap) {
		size_t cap = doc->cap ? doc->cap * 2 : 32;
		/* Unreachable on 64-bit (text <= 2 GiB), but never wrap. */
		if (cap > SIZE_MAX / sizeof *doc->tok)
			abort();
		doc->tok = sio_xrealloc(doc->tok, cap * sizeof *doc->tok);
		doc->cap = cap;
	}
	struct sio_json_tok *t = &doc->tok[doc->n];
	t->type = type;
	t->start = (uint32_t)start;
	t->end = (uint32_t)start + 1;
	t->size = 0;
	t->next = (uint32_t)doc->n + 1;
	return (uint32_t)doc->n++;
}

/* Scans the string whose opening quote is at jp->pos. */
static int
scan_string(struct jp *jp)
{
	const uint8_t *p = jp->p;
	size_t len = jp->len, i = jp->pos + 1;

	for (;;) {
		while (i < len && !str_stop[p[i]])
			i++;
		if (i >= len)
			return fail(jp, len, "unterminated string");
		uint8_t c = p[i];
		if (c == '"') {
			jp->pos = i + 1;
			return SIO_OK;
		}
		if (c == '\\') {
			if (i + 1 >= len)
				return fail(jp, len, "unterminated string");
			switch (p[i + 1]) {
			case '"': case '\\': case '/': case 'b':
			case 'f': case 'n': case 'r': case 't':
				i += 2;
				break;
			case 'u':
				for (size_t k = 2; k < 6; k++) {
					if (i + k >= len)
						return fail(jp, len,
						    "unterminated string");
					if (hexval(p[i + k]) < 0)
						return fail(jp, i,
						    "invalid \\u escape");
				}
				i += 6;
				break;
			default:
				return fail(jp, i, "invalid escape in string");
			}
			continue;
		}
		if (c < 0x20)
			return fail(jp, i, "control character in string");
		size_t n = utf8_seq(p + i, len - i);
		if (n == 0)
			return fail(jp, i, "invalid UTF-8 in string");
		i += n;
	}
}

static int
scan_number(struct jp *jp)
{
	const uint8_t *p = jp->p;
	size_t len = jp->len, i = jp->pos;

	if (p[i] == '-')
		i++;
	if (i >= len || !is_digit(p[i]))
		return fail(jp, i, "expected digit");
	if (p[i] == '0') {
		i++;
		if (i < len && is_digit(p[i]))
			return fail(jp, i, "leading zero in number");
	} else {
		while (i < len && is_digit(p[i]))
			i++;
	}
	if (i < len && p[i] == '.') {
		i++;
		if (i >= len || !is_digit(p[i]))
			return fail(jp, i, "expected digit after '.'");
		while (i < len && is_digit(p[i]))
			i++;
	}
	if (i < len && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < len && (p[i] == '+' || p[i] == '-'))
			i++;
		if (i >= len || !is_digit(p[i]))
			return fail(jp, i, "expected digit in exponent");
		while (i < len && is_digit(p[i]))
			i++;
	}
	jp->pos = i;
	return SIO_OK;
}

static int
scan_literal(struct jp *jp, const char *word, size_t n)
{
	if (jp->len - jp->pos < n || memcmp(jp->p + jp->pos, word, n) != 0)
		return fail(jp, jp->pos, "expected a value");
	jp->pos += n;
	return SIO_OK;
}

/* Ends the open container at jp->pos; returns its parent. */
static uint32_t
close_container(struct jp *jp, uint32_t t)
{
	struct sio_json *doc = jp->doc;
	uint32_t up = doc->tok[t].next;

	doc->tok[t].end = (uint32_t)jp->pos + 1;
	doc->tok[t].next = (uint32_t)doc->n;
	jp->pos++;
	return up;
}

/*
 * One pass, no recursion: the open containers form a chain through
 * their own tokens (see NOPARENT), so hostile nesting costs neither
 * stack nor a separate allocation.
 */
static int
parse(struct jp *jp, int maxdepth)
{
	enum { VALUE, KEY, AFTER } st = VALUE;
	struct sio_json *doc = jp->doc;
	const uint8_t *p = jp->p;
	uint32_t parent = NOPARENT, t;
	int depth = 0, rc;
	uint8_t c;
	bool obj;

	skip_ws(jp);
	for (;;) {
		switch (st) {
		case VALUE:
			if (jp->pos >= jp->len)
				return fail(jp, jp->pos, "expected a value");
			if (parent != NOPARENT &&
			    doc->tok[parent].type == SIO_JSON_ARRAY)
				doc->tok[parent].size++;
			switch (p[jp->pos]) {
			case '{':
			case '[':
				if (depth >= maxdepth) {
					if (jp->err)
						snprintf(jp->err, SIO_ERRLEN,
						    "JSON nested deeper than %d "
						    "at byte %zu", maxdepth,
						    jp->pos);
					return SIO_ELIMIT;
				}
				depth++;
				c = p[jp->pos];
				t = tok_push(doc, c == '{' ? SIO_JSON_OBJECT :
				    SIO_JSON_ARRAY, jp->pos);
				doc->tok[t].next = parent;
				parent = t;
				jp->pos++;
				skip_ws(jp);
				if (jp->pos < jp->len &&
				    p[jp->pos] == (c == '{' ? '}' : ']')) {
					parent = close_container(jp, parent);
					depth--;
					st = AFTER;
				} else
					st = c == '{' ? KEY : VALUE;
				continue;
			case '"':
				t = tok_push(doc, SIO_JSON_STRING, jp->pos);
				if ((rc = scan_string(jp)) != SIO_OK)
					return rc;
				break;
			case '-': case '0': case '1': case '2': case '3':
			case '4': case '5': case '6': case '7': case '8':
			case '9':
				t = tok_push(doc, SIO_JSON_NUMBER, jp->pos);
				if ((rc = scan_number(jp)) != SIO_OK)
					return rc;
				break;
			case 't':
				t = tok_push(doc, SIO_JSON_TRUE, jp->pos);
				if ((rc = scan_literal(jp, "true", 4)) != SIO_OK)
					return rc;
				break;
			case 'f':
				t = tok_push(doc, SIO_JSON_FALSE, jp->pos);
				if ((rc = scan_literal(jp, "false", 5)) != SIO_OK)
					return rc;
				break;
			case 'n':
				t = tok_push(doc, SIO_JSON_NULL, jp->pos);
				if ((rc = scan_literal(jp, "null", 4)) != SIO_OK)
					return rc;
				break;
			default:
				return fail(jp, jp->pos, "expected a value");
			}
			doc->tok[t].end = (uint32_t)jp->pos;
			st = AFTER;
			break;
		case KEY:
			if (jp->pos >= jp->len || p[jp->pos] != '"')
				return fail(jp, jp->pos, "expected string key");
			doc->tok[parent].size++;
			t = tok_push(doc, SIO_JSON_STRING, jp->pos);
			if ((rc = scan_string(jp)) != SIO_OK)
				return rc;
			doc->tok[t].end = (uint32_t)jp->pos;
			skip_ws(jp);
			if (jp->pos >= jp->len || p[jp->pos] != ':')
				return fail(jp, jp->pos, "expected ':'");
			jp->pos++;
			skip_ws(jp);
			st = VALUE;
			break;
		case AFTER:
			skip_ws(jp);
			if (parent == NOPARENT) {
				if (jp->pos != jp->len)
					return fail(jp, jp->pos,
					    "unexpected data after value");
				return SIO_OK;
			}
			obj = doc->tok[parent].type == SIO_JSON_OBJECT;
			c = jp->pos < jp->len ? p[jp->pos] : 0;
			if (c == ',') {
				jp->pos++;
				skip_ws(jp);
				st = obj ? KEY : VALUE;
			} else if (c == (obj ? '}' : ']')) {
				parent = close_container(jp, parent);
				depth--;
			} else
				return fail(jp, jp->pos, obj ?
				    "expected ',' or '}'" : "expected ',' or ']'");
			break;
		}
	}
}

int
sio_json_parse(struct sio_json *doc, const char *text, size_t len,
    int maxdepth, char *err)
{
	struct jp jp = { doc, (const uint8_t *)text, len, 0, err };
	int rc;

	doc->n = 0;
	if (err)
		err[0] = '\0';
	/* Spans are 32-bit and token indexes are ints. */
	if (len > INT32_MAX) {
		if (err)
			snprintf(err, SIO_ERRLEN,
			    "JSON text of %zu bytes is too long", len);
		return SIO_ELIMIT;
	}
	if ((rc = parse(&jp, maxdepth)) != SIO_OK)
		doc->n = 0;
	return rc;
}

void
sio_json_free(struct sio_json *doc)
{
	free(doc->tok);
	doc->tok = NULL;
	doc->n = doc->cap = 0;
}

static inline bool
tok_is(const struct sio_json *doc, int i, uint8_t type)
{
	return i >= 0 && (size_t)i < doc->n && doc->tok[i].type == type;
}

int
sio_json_get(const struct sio_json *doc, const char *text, int obj,
    const char *key)
{
	if (!tok_is(doc, obj, SIO_JSON_OBJECT))
		return -1;
	uint32_t k = (uint32_t)obj + 1;
	for (uint32_t j = 0; j < doc->tok[obj].size; j++) {
		if (sio_json_str_eq(doc, text, (int)k, key))
			return (int)k + 1;
		k = doc->tok[k + 1].next;
	}
	return -1;
}

int
sio_json_at(const struct sio_json *doc, int arr, uint32_t k)
{
	if (!tok_is(doc, arr, SIO_JSON_ARRAY) || k >= doc->tok[arr].size)
		return -1;
	uint32_t e = (uint32_t)arr + 1;
	while (k-- > 0)
		e = doc->tok[e].next;
	return (int)e;
}

static uint32_t
hex4(const uint8_t *s)
{
	return (uint32_t)(hexval(s[0]) << 12 | hexval(s[1]) << 8 |
	    hexval(s[2]) << 4 | hexval(s[3]));
}

static size_t
utf8_put(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xc0 | cp >> 6);
		o[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xe0 | cp >> 12);
		o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (uint8_t)(0xf0 | cp >> 18);
	o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decodes the escape at s (a backslash the parser already validated)
 * into o; returns the input bytes used. A \u high surrogate takes the
 * following \u low surrogate with it; an unpaired one cannot be UTF-8
 * and becomes U+FFFD.
 */
static size_t
unescape(const uint8_t *s, const uint8_t *end, uint8_t o[4], size_t *on)
{
	uint32_t cp;

	switch (s[1]) {
	case 'b': o[0] = '\b'; break;
	case 'f': o[0] = '\f'; break;
	case 'n': o[0] = '\n'; break;
	case 'r': o[0] = '\r'; break;
	case 't': o[0] = '\t'; break;
	case 'u':
		cp = hex4(s + 2);
		if (cp >= 0xd800 && cp <= 0xdbff && end - s >= 12 &&
		    s[6] == '\\' && s[7] == 'u') {
			uint32_t lo = hex4(s + 8);
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				*on = utf8_put(o, cp);
				return 12;
			}
		}
		if (cp >= 0xd800 && cp <= 0xdfff)
			cp = 0xfffd;
		*on = utf8_put(o, cp);
		return 6;
	default:	/* '"', '\\', '/' stand for themselves */
		o[0] = s[1];
		break;
	}
	*on = 1;
	return 2;
}

bool
sio_json_str_eq(const struct sio_json *doc, const char *text, int i,
    const char *s)
{
	if (!tok_is(doc, i, SIO_JSON_STRING))
		return false;
	const uint8_t *p = (const uint8_t *)text + doc->tok[i].start + 1;
	const uint8_t *end = (const uint8_t *)text + doc->tok[i].end - 1;
	size_t slen = strlen(s), j = 0;

	while (p < end) {
		const uint8_t *bs = memchr(p, '\\', (size_t)(end - p));
		size_t run = (size_t)((bs ? bs : end) - p);
		if (run > slen - j || memcmp(s + j, p, run) != 0)
			return false;
		j += run;
		p += run;
		if (!bs)
			break;
		uint8_t o[4];
		size_t on;
		p += unescape(p, end, o, &on);
		if (on > slen - j || memcmp(s + j, o, on) != 0)
			return false;
		j += on;
	}
	return j == slen;
}

size_t
sio_json_str_decode(const struct sio_json *doc, const char *text, int i,
    struct sio_buf *out)
{
	size_t before = out->len;

	if (!tok_is(doc, i, SIO_JSON_STRING)) {
		sio_buf_add(out, "", 0);
		return 0;
	}
	const uint8_t *p = (const uint8_t *)text + doc->tok[i].start + 1;
	const uint8_t *end = (const uint8_t *)text + doc->tok[i].end - 1;

	/* Decoding never lengthens: reserve once for the worst case. */
	sio_buf_reserve(out, (size_t)(end - p));
	while (p < end) {
		const uint8_t *bs = memchr(p, '\\', (size_t)(end - p));
		size_t run = (size_t)((bs ? bs : end) - p);
		sio_buf_add(out, p, run);
		p += run;
		if (!bs)
			break;
		uint8_t o[4];
		size_t on;
		p += unescape(p, end, o, &on);
		sio_buf_add(out, o, on);
	}
	sio_buf_add(out, "", 0);
	return out->len - before;
}

void
sio_json_add_str(struct sio_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *u = (const uint8_t *)s;
	size_t run = 0;

	sio_buf_reserve(b, n + 2);
	sio_buf_addc(b, '"');
	for (size_t i = 0; i < n; i++) {
		uint8_t c = u[i];
		char esc[6] = { '\\', 0, '0', '0', 0, 0 };
		size_t en = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		sio_buf_add(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			en = 6;
			break;
		}
		sio_buf_add(b, esc, en);
	}
	sio_buf_add(b, s + run, n - run);
	sio_buf_addc(b, '"');
}

bool
sio_json_is_placeholder(const struct sio_json *doc, const char *text,
    int i, long *num)
{
	bool flag = false, have_num = false;
	long long v = 0;

	if (!tok_is(doc, i, SIO_JSON_OBJECT) || doc->tok[i].size != 2)
		return false;
	uint32_t k = (uint32_t)i + 1;
	for (int j = 0; j < 2; j++) {
		int val = (int)k + 1;
		if (sio_json_str_eq(doc, text, (int)k, "_placeholder")) {
			if (doc->tok[val].type != SIO_JSON_TRUE)
				return false;
			flag = true;
		} else if (sio_json_str_eq(doc, text, (int)k, "num")) {
			if (!sio_json_int(doc, text, val, 0, LONG_MAX, &v))
				return false;
			have_num = true;
		} else
			return false;
		k = doc->tok[val].next;
	}
	if (!flag || !have_num)
		return false;
	*num = (long)v;
	return true;
}

bool
sio_json_int(const struct sio_json *doc, const char *text, int i,
    long long min, long long max, long long *out)
{
	char buf[24];
	char *end;

	if (!tok_is(doc, i, SIO_JSON_NUMBER))
		return false;
	size_t n = doc->tok[i].end - doc->tok[i].start;
	/* "-9223372036854775808" is 20 bytes; longer cannot fit. */
	if (n > 20)
		return false;
	memcpy(buf, text + doc->tok[i].start, n);
	buf[n] = '\0';
	if (strpbrk(buf, ".eE"))
		return false;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}
