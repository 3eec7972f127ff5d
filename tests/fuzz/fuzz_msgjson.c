/*
 * fuzz_msgjson: the MessagePack <-> JSON conversions of msgjson.h, which
 * read what other servers publish on Redis. The first input byte says
 * what the rest is and how it is read:
 *   bits 0-1  0, 1: MessagePack; 2: JSON text; 3: a double (the next 8
 *             bytes, native order) for sio_mj_add_double, or MessagePack
 *             when fewer than 8 bytes follow
 *   bits 2-3  binary hooks: none (0, 3), Socket.IO placeholders (1),
 *             {"_binary":"<base64>"} (2)
 *   bits 4-5  maxdepth 0, 3, 16 or 64
 *   bits 6-7  maxout 0 (none), 16, 256 or 4096 (MessagePack input only)
 *
 * MessagePack: sio_msgpack_to_json gives SIO_OK, SIO_EPROTO or SIO_ELIMIT,
 * leaves the buffer as it was (and says why) on failure, stays within
 * maxout, and gives text the strict parser takes within the depth (one
 * more level for the objects that stand for binary). That text goes back
 * to MessagePack and to JSON again. Without hooks both conversions are
 * specified through JavaScript's values: the second JSON text reads as
 * the first one does, its numbers as the same doubles (64-bit integers
 * are written exactly, so -2^63, which JavaScript writes
 * -9223372036854776000, comes back as -9223372036854775808); when the
 * text changed, one more round must give the second text back.
 * With hooks a map that merely looks like a placeholder or a _binary
 * object may turn into binary (or be refused, SIO_EPROTO, as the hooks
 * document), so only the next round is checked: JSON -> MessagePack ->
 * JSON of the second text gives it back. The output hooks are watched:
 * each placeholder takes the next number and keeps its span, each
 * _binary holds the bytes.
 *
 * JSON: text sio_json_parse accepts always packs without hooks (with
 * hooks, SIO_EPROTO is the documented refusal), a root array as its
 * header and its elements packed one by one; the MessagePack comes
 * back as JSON the parser takes (infinities and 1e400 became null, lone
 * surrogates U+FFFD, so the input itself need not come back). Without
 * hooks one more round gives that JSON again. With hooks the numbers
 * written afresh may make a map look like a placeholder ("num":0e5 is
 * now 0), so that round may be refused or change the text, and the
 * round after it is the one that must give its input back.
 *
 * Double: sio_mj_add_double writes "null" for NaN and infinities, else a
 * JSON number that strtod reads back as the same value, in no more
 * significant digits than printf needs, and in exponent form only where
 * JavaScript uses it. SIO_FUZZ_TRACE=1 prints each conversion's result.
 * Built by tests/fuzz/run.sh.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "msgjson.h"
#include "util.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_msgjson: %s:%d: check failed: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every output buffer starts with this: a conversion only appends. */
#define PFX "<pre>"
#define PFXLEN (sizeof PFX - 1)
#define MAXATTS 8

enum hooks { H_NONE, H_PLACEHOLDER, H_BASE64 };

static struct sio_json doc = SIO_JSON_INIT;
static const int depths[4] = { 0, 3, 16, 64 };
static const size_t maxouts[4] = { 0, 16, 256, 4096 };
static int trace = -1;

static void
start(struct sio_buf *b)
{
	sio_buf_reset(b);
	sio_buf_adds(b, PFX);
}

/* After a call: the prefix is intact, and on failure nothing was added. */
static void
check_result(int rc, const struct sio_buf *b, const char *err)
{
	CHECK(rc == SIO_OK || rc == SIO_EPROTO || rc == SIO_ELIMIT);
	CHECK(b->len >= PFXLEN && memcmp(b->data, PFX, PFXLEN) == 0);
	CHECK(b->data[b->len] == '\0');
	if (rc != SIO_OK) {
		CHECK(b->len == PFXLEN);
		CHECK(err[0] != '\0' && strnlen(err, SIO_ERRLEN) < SIO_ERRLEN);
	}
}

/* Parses b's text (after the prefix) from an exact-size copy. */
static char *
parse_out(const struct sio_buf *b, int maxdepth, size_t *len)
{
	char err[SIO_ERRLEN];
	*len = b->len - PFXLEN;
	char *text = malloc(*len ? *len : 1);
	memcpy(text, b->data + PFXLEN, *len);
	int rc = sio_json_parse(&doc, text, *len, maxdepth, err);
	if (rc != SIO_OK) {
		fprintf(stderr, "fuzz_msgjson: output JSON does not parse (%s): %.*s\n",
		    err, (int)*len, text);
		abort();
	}
	return text;
}

/* JSON text -> MessagePack (appended to mp after the prefix). */
static int
to_mp(struct sio_buf *mp, const char *text, enum hooks h,
    struct sio_mj_atts *atts, struct sio_buf *bytes, char *err)
{
	start(mp);
	err[0] = '\0';
	int rc;
	switch (h) {
	case H_PLACEHOLDER:
		rc = sio_json_to_msgpack(mp, &doc, text, 0, sio_mj_placeholder_in, atts, err);
		break;
	case H_BASE64:
		rc = sio_json_to_msgpack(mp, &doc, text, 0, sio_mj_base64_in, bytes, err);
		break;
	default:
		rc = sio_json_to_msgpack(mp, &doc, text, 0, NULL, NULL, err);
		break;
	}
	if (trace)
		fprintf(stderr, "fuzz_msgjson: to MessagePack: %s (%zu bytes)\n",
		    rc == SIO_OK ? "ok" : err, mp->len - PFXLEN);
	check_result(rc, mp, err);
	/* No hook reports SIO_ELIMIT short of 4 GiB; without one, no error. */
	CHECK(rc == SIO_OK || (h != H_NONE && rc == SIO_EPROTO));
	return rc;
}

/*
 * The library's binary hooks, watched: the placeholder numbers the next
 * attachment and keeps the span; _binary holds the bytes.
 */
static int
placeholder_out(void *arg, const uint8_t *p, size_t len, struct sio_buf *json,
    char *err)
{
	struct sio_mj_atts *a = arg;
	size_t n = a->n, at = json->len;
	char want[64];

	int rc = sio_mj_placeholder_out(arg, p, len, json, err);
	if (rc != SIO_OK) {
		CHECK(rc == SIO_ELIMIT && a->max && n == a->max && a->n == n);
		return rc;
	}
	int w = snprintf(want, sizeof want, "{\"_placeholder\":true,\"num\":%zu}", n);
	CHECK(json->len - at == (size_t)w && memcmp(json->data + at, want, (size_t)w) == 0);
	CHECK(a->n == n + 1 && a->v[n].p == p && a->v[n].len == len);
	return rc;
}

static int
base64_out(void *arg, const uint8_t *p, size_t len, struct sio_buf *json, char *err)
{
	struct sio_buf dec = SIO_BUF_INIT;
	size_t at = json->len;

	CHECK(sio_mj_base64_out(arg, p, len, json, err) == SIO_OK);
	const char *s = json->data + at;
	size_t n = json->len - at;
	CHECK(n >= 14 && memcmp(s, "{\"_binary\":\"", 12) == 0 && memcmp(s + n - 2, "\"}", 2) == 0);
	CHECK(sio_base64_decode(&dec, s + 12, n - 14) == SIO_OK);
	CHECK(dec.len == len && (len == 0 || memcmp(dec.data, p, len) == 0));
	sio_buf_free(&dec);
	return SIO_OK;
}

/* MessagePack p[0..n) -> JSON (appended to js after the prefix). */
static int
to_json(struct sio_buf *js, const uint8_t *p, size_t n,
    const struct sio_mj_limits *lim, enum hooks h, struct sio_mj_atts *atts,
    char *err)
{
	start(js);
	err[0] = '\0';
	size_t had = atts->n;
	int rc;
	switch (h) {
	case H_PLACEHOLDER:
		rc = sio_msgpack_to_json(js, p, n, lim, placeholder_out, atts, err);
		break;
	case H_BASE64:
		rc = sio_msgpack_to_json(js, p, n, lim, base64_out, NULL, err);
		break;
	default:
		rc = sio_msgpack_to_json(js, p, n, lim, NULL, NULL, err);
		break;
	}
	if (trace)
		fprintf(stderr, "fuzz_msgjson: to JSON: %s\n", rc == SIO_OK ? js->data + PFXLEN : err);
	check_result(rc, js, err);
	if (rc == SIO_OK && lim->maxout)
		CHECK(js->len - PFXLEN <= lim->maxout);
	if (h == H_PLACEHOLDER) {
		CHECK(atts->max == 0 || atts->n <= atts->max);
		for (size_t i = had; i < atts->n; i++)
			CHECK(atts->v[i].p >= p && atts->v[i].p + atts->v[i].len <= p + n);
	}
	return rc;
}

/*
 * One more round gives j's text back: JSON -> MessagePack (binary from
 * a, the attachments j's placeholders name) -> JSON.
 */
static void
stable(const struct sio_buf *j, const struct sio_mj_limits *lim, enum hooks h,
    struct sio_mj_atts *a)
{
	struct sio_mj_atts a2 = SIO_MJ_ATTS_INIT;
	struct sio_buf mp = SIO_BUF_INIT, j2 = SIO_BUF_INIT, bytes = SIO_BUF_INIT;
	char err[SIO_ERRLEN];
	size_t n;

	char *text = parse_out(j, lim->maxdepth + (h != H_NONE), &n);
	if (to_mp(&mp, text, h, a, &bytes, err) != SIO_OK) {
		fprintf(stderr, "fuzz_msgjson: our own JSON refused (%s): %s\n", err,
		    j->data + PFXLEN);
		abort();
	}
	if (to_json(&j2, (const uint8_t *)mp.data + PFXLEN, mp.len - PFXLEN, lim, h,
	    &a2, err) != SIO_OK) {
		fprintf(stderr, "fuzz_msgjson: our own MessagePack refused (%s): %s\n",
		    err, j->data + PFXLEN);
		abort();
	}
	if (j2.len != j->len || memcmp(j2.data, j->data, j->len) != 0) {
		fprintf(stderr, "fuzz_msgjson: not a fixed point:\n  %s\n  %s\n",
		    j->data + PFXLEN, j2.data + PFXLEN);
		abort();
	}
	CHECK(a2.n == a->n);
	free(text);
	sio_mj_atts_free(&a2);
	sio_buf_free(&mp);
	sio_buf_free(&j2);
	sio_buf_free(&bytes);
}

/*
 * Texts a and b are the same JSON as JavaScript reads it: the same
 * tokens, and numbers that may be written differently but read as the
 * same double. (Without hooks, the conversions are specified through
 * JavaScript's values, with 64-bit integers written exactly: the double
 * -2^63, which JavaScript writes -9223372036854776000, packs back as the
 * int64 -9223372036854775808 and is written so. Text changes, the value
 * does not.)
 */
static bool
same_for_js(const char *a, size_t an, const char *b, size_t bn)
{
	static struct sio_json da = SIO_JSON_INIT, db = SIO_JSON_INIT;
	bool same = true;

	char *ta = malloc(an + 1), *tb = malloc(bn + 1);
	memcpy(ta, a, an);
	memcpy(tb, b, bn);
	ta[an] = tb[bn] = '\0';	/* for strtod */
	CHECK(sio_json_parse(&da, ta, an, 1000, NULL) == SIO_OK);
	CHECK(sio_json_parse(&db, tb, bn, 1000, NULL) == SIO_OK);
	if (da.n != db.n)
		same = false;
	for (size_t i = 0; same && i < da.n; i++) {
		const struct sio_json_tok *x = &da.tok[i], *y = &db.tok[i];
		size_t xl = x->end - x->start, yl = y->end - y->start;
		if (x->type != y->type || x->size != y->size || x->next != y->next)
			same = false;
		else if (x->type == SIO_JSON_NUMBER)
			same = strtod(ta + x->start, NULL) == strtod(tb + y->start, NULL);
		else if (x->type != SIO_JSON_OBJECT && x->type != SIO_JSON_ARRAY)
			same = xl == yl && memcmp(ta + x->start, tb + y->start, xl) == 0;
	}
	free(ta);
	free(tb);
	return same;
}

static void
fuzz_msgpack(uint8_t ctl, const uint8_t *data, size_t size)
{
	enum hooks h = ctl >> 2 & 3;
	if (h == 3)
		h = H_NONE;
	struct sio_mj_limits lim = { depths[ctl >> 4 & 3], maxouts[ctl >> 6] };
	struct sio_mj_limits lim2 = { lim.maxdepth, 0 };
	struct sio_mj_atts a1 = SIO_MJ_ATTS_INIT, a2 = SIO_MJ_ATTS_INIT;
	struct sio_buf j1 = SIO_BUF_INIT, m2 = SIO_BUF_INIT, j2 = SIO_BUF_INIT,
	    bytes = SIO_BUF_INIT;
	char err[SIO_ERRLEN];
	char *t1 = NULL;
	size_t n1;

	/* An exact-size copy: any read past the end is an ASan report. */
	uint8_t *p = malloc(size ? size : 1);
	memcpy(p, data, size);
	a1.max = MAXATTS;
	if (to_json(&j1, p, size, &lim, h, &a1, err) != SIO_OK)
		goto out;
	t1 = parse_out(&j1, lim.maxdepth + (h != H_NONE), &n1);

	/* With hooks, a map that looks like binary may be refused. */
	if (to_mp(&m2, t1, h, &a1, &bytes, err) != SIO_OK)
		goto out;
	if (to_json(&j2, (const uint8_t *)m2.data + PFXLEN, m2.len - PFXLEN,
	    h == H_NONE ? &lim : &lim2, h, &a2, err) != SIO_OK) {
		fprintf(stderr, "fuzz_msgjson: our own MessagePack refused (%s): %s\n",
		    err, j1.data + PFXLEN);
		abort();
	}
	if (h == H_NONE) {
		if (j2.len == j1.len && memcmp(j2.data, j1.data, j1.len) == 0)
			goto out;
		if (!same_for_js(t1, n1, j2.data + PFXLEN, j2.len - PFXLEN)) {
			fprintf(stderr, "fuzz_msgjson: round trip changed a value:\n  %s\n  %s\n",
			    j1.data + PFXLEN, j2.data + PFXLEN);
			abort();
		}
	}
	/* Otherwise the second text is the fixed point. */
	stable(&j2, &lim2, h, &a2);
out:
	free(t1);
	free(p);
	sio_mj_atts_free(&a1);
	sio_mj_atts_free(&a2);
	sio_buf_free(&j1);
	sio_buf_free(&m2);
	sio_buf_free(&j2);
	sio_buf_free(&bytes);
}

/*
 * Packing a token packs its subtree alone: the root array's packing is
 * its header and then each element's, packed one by one.
 */
static void
check_elements(const char *text, const struct sio_buf *whole)
{
	struct sio_buf el = SIO_BUF_INIT;
	char err[SIO_ERRLEN];
	uint32_t k = doc.tok[0].size;
	size_t hdr = k < 16 ? 1 : k < 65536 ? 3 : 5;
	size_t at = PFXLEN + hdr;

	CHECK(whole->len >= at);
	for (uint32_t i = 0; i < k; i++) {
		int e = sio_json_at(&doc, 0, i);
		CHECK(e > 0);
		sio_buf_reset(&el);
		CHECK(sio_json_to_msgpack(&el, &doc, text, e, NULL, NULL, err) == SIO_OK);
		CHECK(el.len <= whole->len - at && memcmp(el.data, whole->data + at, el.len) == 0);
		at += el.len;
	}
	CHECK(at == whole->len);
	sio_buf_free(&el);
}

static void
fuzz_json_text(uint8_t ctl, const uint8_t *data, size_t size)
{
	enum hooks h = ctl >> 2 & 3;
	if (h == 3)
		h = H_NONE;
	int depth = depths[ctl >> 4 & 3];
	/* The attachments placeholders in the input may name. */
	static const uint8_t b1[] = { 0 }, b2[] = { 0xc1, 0xff, 'x' };
	struct sio_mj_span in_atts[3] = { { b1, 0 }, { b1, 1 }, { b2, 3 } };
	struct sio_mj_atts a0 = { in_atts, 3, 3, 0 };
	struct sio_mj_atts a1 = SIO_MJ_ATTS_INIT, a2 = SIO_MJ_ATTS_INIT;
	struct sio_mj_limits lim = { depth, 0 };
	struct sio_buf m1 = SIO_BUF_INIT, j1 = SIO_BUF_INIT, m2 = SIO_BUF_INIT,
	    j2 = SIO_BUF_INIT, bytes = SIO_BUF_INIT;
	char err[SIO_ERRLEN];
	char *t1 = NULL;
	size_t n1;

	char *text = malloc(size ? size : 1);
	memcpy(text, data, size);
	if (sio_json_parse(&doc, text, size, depth, NULL) != SIO_OK)
		goto out;
	if (to_mp(&m1, text, h, &a0, &bytes, err) != SIO_OK)
		goto out;
	if (h == H_NONE && doc.tok[0].type == SIO_JSON_ARRAY)
		check_elements(text, &m1);
	/* Binary replaces an object, so no level is added. */
	if (to_json(&j1, (const uint8_t *)m1.data + PFXLEN, m1.len - PFXLEN, &lim, h,
	    &a1, err) != SIO_OK) {
		fprintf(stderr, "fuzz_msgjson: our own MessagePack refused (%s): %.*s\n",
		    err, (int)size, text);
		abort();
	}
	t1 = parse_out(&j1, depth, &n1);
	if (h == H_NONE) {
		stable(&j1, &lim, h, &a1);
		goto out;
	}
	/*
	 * With hooks, numbers written afresh ("num":0e5 is now 0) can make
	 * a map look like a placeholder, which may be refused, and then
	 * become binary: the second text is the fixed point.
	 */
	if (to_mp(&m2, t1, h, &a1, &bytes, err) != SIO_OK)
		goto out;
	CHECK(to_json(&j2, (const uint8_t *)m2.data + PFXLEN, m2.len - PFXLEN, &lim, h,
	    &a2, err) == SIO_OK);
	stable(&j2, &lim, h, &a2);
out:
	free(t1);
	free(text);
	sio_mj_atts_free(&a1);
	sio_mj_atts_free(&a2);
	sio_buf_free(&m1);
	sio_buf_free(&j1);
	sio_buf_free(&m2);
	sio_buf_free(&j2);
	sio_buf_free(&bytes);
}

/* Significant digits of a JSON number as add_double writes it. */
static int
sig_digits(const char *s)
{
	int first = -1, last = -1, i = 0, pos = 0;
	for (; s[i] && s[i] != 'e'; i++) {
		if (s[i] < '0' || s[i] > '9')
			continue;
		if (s[i] != '0') {
			if (first < 0)
				first = pos;
			last = pos;
		}
		pos++;
	}
	return first < 0 ? 1 : last - first + 1;
}

static void
fuzz_double(const uint8_t *data)
{
	struct sio_buf b = SIO_BUF_INIT;
	double d;

	memcpy(&d, data, sizeof d);
	start(&b);
	sio_mj_add_double(&b, d);
	CHECK(memcmp(b.data, PFX, PFXLEN) == 0 && b.data[b.len] == '\0');
	const char *s = b.data + PFXLEN;
	size_t n = b.len - PFXLEN;
	if (trace)
		fprintf(stderr, "fuzz_msgjson: %.17g: %s\n", d, s);
	if (!isfinite(d)) {
		CHECK(strcmp(s, "null") == 0);
		sio_buf_free(&b);
		return;
	}
	char *text = malloc(n);
	memcpy(text, s, n);
	CHECK(sio_json_parse(&doc, text, n, 0, NULL) == SIO_OK);
	CHECK(doc.n == 1 && doc.tok[0].type == SIO_JSON_NUMBER);
	free(text);
	char *end;
	double back = strtod(s, &end);
	if (*end != '\0' || back != d) {
		fprintf(stderr, "fuzz_msgjson: %.17g written as %s, reads back as %.17g\n",
		    d, s, back);
		abort();
	}
	/* Fewest digits: never more than printf's nearest rounding needs. */
	int p;
	char buf[48];
	for (p = 1; p < 17; p++) {
		snprintf(buf, sizeof buf, "%.*e", p - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (sig_digits(s) > p) {
		fprintf(stderr, "fuzz_msgjson: %.17g written as %s, %s is shorter\n",
		    d, s, buf);
		abort();
	}
	/* Number::toString: exponent form from 1e21 up and below 1e-6. */
	double m = fabs(d);
	bool has_e = strchr(s, 'e') != NULL;
	if (m != 0 && (m >= 1.0000001e21 || m < 0.9999999e-6))
		CHECK(has_e);
	if (m == 0 || (m >= 1.0000001e-6 && m < 0.9999999e21))
		CHECK(!has_e);
	sio_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (trace < 0)
		trace = getenv("SIO_FUZZ_TRACE") != NULL;
	if (size == 0)
		return 0;
	uint8_t ctl = data[0];
	data++;
	size--;
	switch (ctl & 3) {
	case 2:
		fuzz_json_text(ctl, data, size);
		break;
	case 3:
		if (size >= 8) {
			fuzz_double(data);
			break;
		}
		/* FALLTHROUGH */
	default:
		fuzz_msgpack(ctl, data, size);
		break;
	}
	return 0;
}
