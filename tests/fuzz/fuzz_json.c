/*
 * fuzz_json: sio_json_parse (maxdepth 64) on the input; on success every
 * token is walked with the accessors and the invariants of json.h are
 * checked. Decoded strings are re-encoded with sio_json_add_str and must
 * parse back to the same bytes. Built by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_json: %s:%d: check failed: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sio_json doc = SIO_JSON_INIT, doc2 = SIO_JSON_INIT;

static int
is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Depth of the deepest container (a scalar document is 0). */
static int
max_depth(const struct sio_json *d)
{
	/* Each container opens at i and closes before tok[i].next. */
	int deepest = 0;
	uint32_t *stack = malloc((d->n + 1) * sizeof *stack);
	int sp = 0;
	for (size_t i = 0; i < d->n; i++) {
		while (sp > 0 && stack[sp - 1] <= i)
			sp--;
		if (d->tok[i].type == SIO_JSON_OBJECT || d->tok[i].type == SIO_JSON_ARRAY) {
			stack[sp++] = d->tok[i].next;
			if (sp > deepest)
				deepest = sp;
		}
	}
	free(stack);
	return deepest;
}

/* A decoded string goes back through add_str and parse unchanged. */
static void
check_reencode(const char *s, size_t n)
{
	struct sio_buf enc = SIO_BUF_INIT, dec = SIO_BUF_INIT;
	char err[SIO_ERRLEN];

	sio_json_add_str(&enc, s, n);
	CHECK(enc.len >= n + 2);
	int rc = sio_json_parse(&doc2, enc.data, enc.len, 1, err);
	if (rc != SIO_OK) {
		fprintf(stderr, "fuzz_json: re-encoded string does not parse: %s\n", err);
		abort();
	}
	CHECK(doc2.n == 1 && doc2.tok[0].type == SIO_JSON_STRING);
	CHECK(doc2.tok[0].start == 0 && doc2.tok[0].end == enc.len);
	size_t m = sio_json_str_decode(&doc2, enc.data, 0, &dec);
	CHECK(m == n && dec.len == n && memcmp(dec.data, s, n) == 0);
	if (memchr(s, '\0', n) == NULL) {
		/* s is NUL-terminated by the caller's buffer. */
		CHECK(sio_json_str_eq(&doc2, enc.data, 0, s));
	}
	sio_buf_free(&enc);
	sio_buf_free(&dec);
}

static void
walk(const char *text, size_t len)
{
	const struct sio_json_tok *t = doc.tok;
	size_t n = doc.n;

	CHECK(n >= 1 && n <= len);
	/* The root spans the text minus surrounding whitespace. */
	size_t a = 0, b = len;
	while (a < len && is_ws((uint8_t)text[a]))
		a++;
	while (b > a && is_ws((uint8_t)text[b - 1]))
		b--;
	CHECK(t[0].start == a && t[0].end == b && t[0].next == n);

	for (size_t i = 0; i < n; i++) {
		const struct sio_json_tok *k = &t[i];
		CHECK(k->type >= SIO_JSON_OBJECT && k->type <= SIO_JSON_NULL);
		CHECK(k->start < k->end && k->end <= len);
		CHECK(k->next > i && k->next <= n);
		uint8_t first = (uint8_t)text[k->start], last = (uint8_t)text[k->end - 1];
		switch (k->type) {
		case SIO_JSON_OBJECT:
			CHECK(first == '{' && last == '}');
			break;
		case SIO_JSON_ARRAY:
			CHECK(first == '[' && last == ']');
			break;
		case SIO_JSON_STRING:
			CHECK(first == '"' && last == '"' && k->end - k->start >= 2);
			CHECK(k->size == 0 && k->next == i + 1);
			break;
		case SIO_JSON_NUMBER:
			CHECK(first == '-' || (first >= '0' && first <= '9'));
			CHECK(last >= '0' && last <= '9');
			CHECK(k->size == 0 && k->next == i + 1);
			break;
		case SIO_JSON_TRUE:
			CHECK(k->end - k->start == 4 && memcmp(text + k->start, "true", 4) == 0);
			CHECK(k->next == i + 1);
			break;
		case SIO_JSON_FALSE:
			CHECK(k->end - k->start == 5 && memcmp(text + k->start, "false", 5) == 0);
			CHECK(k->next == i + 1);
			break;
		case SIO_JSON_NULL:
			CHECK(k->end - k->start == 4 && memcmp(text + k->start, "null", 4) == 0);
			CHECK(k->next == i + 1);
			break;
		}
		if (k->type != SIO_JSON_OBJECT && k->type != SIO_JSON_ARRAY)
			continue;

		/* Children: inside the span, in order, counted by size. */
		uint32_t count = 0, prev_end = k->start + 1;
		size_t child = i + 1;
		while (child < k->next) {
			const struct sio_json_tok *c = &t[child];
			CHECK(c->start >= prev_end && c->end <= k->end - 1);
			CHECK(c->next <= k->next);
			if (k->type == SIO_JSON_OBJECT) {
				/* key, then value */
				CHECK(c->type == SIO_JSON_STRING);
				size_t v = c->next;
				CHECK(v < k->next);
				CHECK(t[v].start >= c->end && t[v].next <= k->next);
				prev_end = t[v].end;
				child = t[v].next;
			} else {
				CHECK(sio_json_at(&doc, (int)i, count) == (int)child);
				prev_end = c->end;
				child = c->next;
			}
			count++;
		}
		CHECK(child == k->next);
		CHECK(count == k->size);
		CHECK(sio_json_at(&doc, (int)i, count) == -1);
		if (k->type == SIO_JSON_ARRAY) {
			CHECK(sio_json_get(&doc, text, (int)i, "") == -1);
			continue;
		}

		/* Every key is found by sio_json_get (the first one that matches). */
		size_t key = i + 1;
		for (uint32_t j = 0; j < k->size; j++) {
			struct sio_buf name = SIO_BUF_INIT;
			sio_json_str_decode(&doc, text, (int)key, &name);
			if (memchr(name.data, '\0', name.len) == NULL) {
				int v = sio_json_get(&doc, text, (int)i, name.data);
				CHECK(v > (int)i && (size_t)v <= key + 1 && v < (int)k->next);
				CHECK(sio_json_str_eq(&doc, text, v - 1, name.data));
			}
			sio_buf_free(&name);
			key = t[key + 1].next;
		}

		long num = -1;
		if (sio_json_is_placeholder(&doc, text, (int)i, &num)) {
			CHECK(k->size == 2 && num >= 0);
			int f = sio_json_get(&doc, text, (int)i, "_placeholder");
			int nu = sio_json_get(&doc, text, (int)i, "num");
			CHECK(f > 0 && nu > 0 && t[f].type == SIO_JSON_TRUE);
			long long v;
			CHECK(sio_json_int(&doc, text, nu, 0, 0x7fffffffffffffffLL, &v) && v == num);
		}
	}

	/* Scalars through the typed accessors. */
	for (size_t i = 0; i < n; i++) {
		const struct sio_json_tok *k = &t[i];
		long long v = 0;
		bool is_int = sio_json_int(&doc, text, (int)i, -0x7fffffffffffffffLL - 1,
		    0x7fffffffffffffffLL, &v);
		if (k->type != SIO_JSON_NUMBER) {
			CHECK(!is_int);
		} else if (is_int) {
			/* An integer token's text is its value (modulo "-0"). */
			char buf[32];
			int m = snprintf(buf, sizeof buf, "%lld", v);
			size_t tl = k->end - k->start;
			CHECK(memchr(text + k->start, '.', tl) == NULL);
			CHECK((tl == (size_t)m && memcmp(buf, text + k->start, tl) == 0) ||
			    (v == 0 && tl == 2 && memcmp(text + k->start, "-0", 2) == 0));
			long long w;
			CHECK(sio_json_int(&doc, text, (int)i, v, v, &w) && w == v);
			if (v < 0x7fffffffffffffffLL)
				CHECK(!sio_json_int(&doc, text, (int)i, v + 1, 0x7fffffffffffffffLL, &w));
		}
		if (k->type != SIO_JSON_STRING) {
			struct sio_buf out = SIO_BUF_INIT;
			CHECK(sio_json_str_decode(&doc, text, (int)i, &out) == 0);
			CHECK(!sio_json_str_eq(&doc, text, (int)i, ""));
			sio_buf_free(&out);
			continue;
		}
		struct sio_buf out = SIO_BUF_INIT;
		sio_buf_adds(&out, "x");	/* decode appends */
		size_t m = sio_json_str_decode(&doc, text, (int)i, &out);
		CHECK(m + 1 == out.len && out.data[out.len] == '\0');
		CHECK(m <= k->end - k->start - 2);	/* decoding never lengthens */
		CHECK(sio_utf8_valid((const uint8_t *)out.data + 1, m));
		if (memchr(out.data + 1, '\0', m) == NULL)
			CHECK(sio_json_str_eq(&doc, text, (int)i, out.data + 1));
		check_reencode(out.data + 1, m);
		sio_buf_free(&out);
	}
	/* Out-of-range and wrong-typed indexes are refused, not read. */
	CHECK(sio_json_get(&doc, text, -1, "a") == -1);
	CHECK(sio_json_get(&doc, text, (int)n, "a") == -1);
	CHECK(sio_json_at(&doc, (int)n, 0) == -1);
	CHECK(!sio_json_str_eq(&doc, text, (int)n, ""));
	long num;
	CHECK(!sio_json_is_placeholder(&doc, text, (int)n, &num));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: any read past the end is an ASan report. */
	char *text = malloc(size ? size : 1);
	char err[SIO_ERRLEN];

	memcpy(text, data, size);
	int rc = sio_json_parse(&doc, text, size, 64, err);
	CHECK(rc == SIO_OK || rc == SIO_EPROTO || rc == SIO_ELIMIT);
	if (rc != SIO_OK) {
		CHECK(doc.n == 0 && err[0] != '\0' && strlen(err) < SIO_ERRLEN);
	} else {
		walk(text, size);
		/* The depth limit is exact. */
		int d = max_depth(&doc);
		CHECK(d <= 64);
		size_t ntok = doc.n;
		CHECK(sio_json_parse(&doc2, text, size, d, err) == SIO_OK && doc2.n == ntok);
		if (d > 0)
			CHECK(sio_json_parse(&doc2, text, size, d - 1, err) == SIO_ELIMIT);
		/* Reusing the struct gives the same tokens. */
		CHECK(sio_json_parse(&doc, text, size, 64, NULL) == SIO_OK && doc.n == ntok);
	}
	free(text);
	return 0;
}
