#include "json.h"
#include "t.h"

#include <limits.h>
#include <stdlib.h>

struct pcase {
	const char *text;
	size_t len;		/* 0: strlen(text) */
	int rc;
	int depth;		/* 0: 64 */
};

#define L(s) (s), sizeof(s) - 1

static const struct pcase pcases[] = {
	/* valid */
	{ "0", 0, SIO_OK, 0 },
	{ "-0", 0, SIO_OK, 0 },
	{ "1", 0, SIO_OK, 0 },
	{ "-12.5e+3", 0, SIO_OK, 0 },
	{ "1E-7", 0, SIO_OK, 0 },
	{ "0.0e0", 0, SIO_OK, 0 },
	{ "123456789012345678901234567890", 0, SIO_OK, 0 },
	{ "true", 0, SIO_OK, 0 },
	{ "false", 0, SIO_OK, 0 },
	{ "null", 0, SIO_OK, 0 },
	{ "\"\"", 0, SIO_OK, 0 },
	{ " \t\r\n\"x\" \t\r\n", 0, SIO_OK, 0 },
	{ "[]", 0, SIO_OK, 0 },
	{ "{}", 0, SIO_OK, 0 },
	{ "[ ]", 0, SIO_OK, 0 },
	{ "{ }", 0, SIO_OK, 0 },
	{ "[1,\"a\",true,false,null,{},[]]", 0, SIO_OK, 0 },
	{ "{\"a\":{\"b\":[1,{\"c\":null}]}}", 0, SIO_OK, 0 },
	{ " { \"a\" : 1 , \"b\" : [ 2 , 3 ] } ", 0, SIO_OK, 0 },
	{ "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uABCD\"", 0, SIO_OK, 0 },
	{ "\"\\ud800\"", 0, SIO_OK, 0 },
	{ "\"\\udc00\\ud800\"", 0, SIO_OK, 0 },
	{ "\"\\ud83d\\ude00\"", 0, SIO_OK, 0 },
	{ "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", 0, SIO_OK, 0 },
	{ "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"", 0, SIO_OK, 0 },
	{ "\"\x7f\"", 0, SIO_OK, 0 },
	{ "{\"a\":1,\"a\":2}", 0, SIO_OK, 0 },
	{ "[[[]]]", 0, SIO_OK, 3 },
	{ "{\"a\":{\"b\":{}}}", 0, SIO_OK, 3 },
	{ "5", 0, SIO_OK, -1 },

	/* invalid */
	{ "", 0, SIO_EPROTO, 0 },
	{ "   ", 0, SIO_EPROTO, 0 },
	{ " \n\t\r", 0, SIO_EPROTO, 0 },
	{ "01", 0, SIO_EPROTO, 0 },
	{ "-01", 0, SIO_EPROTO, 0 },
	{ "00", 0, SIO_EPROTO, 0 },
	{ "-", 0, SIO_EPROTO, 0 },
	{ "+1", 0, SIO_EPROTO, 0 },
	{ "1.", 0, SIO_EPROTO, 0 },
	{ ".5", 0, SIO_EPROTO, 0 },
	{ "1.e5", 0, SIO_EPROTO, 0 },
	{ "1e", 0, SIO_EPROTO, 0 },
	{ "1e+", 0, SIO_EPROTO, 0 },
	{ "1E-", 0, SIO_EPROTO, 0 },
	{ "0x10", 0, SIO_EPROTO, 0 },
	{ "NaN", 0, SIO_EPROTO, 0 },
	{ "Infinity", 0, SIO_EPROTO, 0 },
	{ "-Infinity", 0, SIO_EPROTO, 0 },
	{ "tru", 0, SIO_EPROTO, 0 },
	{ "truex", 0, SIO_EPROTO, 0 },
	{ "True", 0, SIO_EPROTO, 0 },
	{ "nul", 0, SIO_EPROTO, 0 },
	{ "falsy", 0, SIO_EPROTO, 0 },
	{ "[", 0, SIO_EPROTO, 0 },
	{ "]", 0, SIO_EPROTO, 0 },
	{ "{", 0, SIO_EPROTO, 0 },
	{ "[1", 0, SIO_EPROTO, 0 },
	{ "[1,]", 0, SIO_EPROTO, 0 },
	{ "[,1]", 0, SIO_EPROTO, 0 },
	{ "[1 2]", 0, SIO_EPROTO, 0 },
	{ "[1}", 0, SIO_EPROTO, 0 },
	{ "{\"a\":1]", 0, SIO_EPROTO, 0 },
	{ "{\"a\"}", 0, SIO_EPROTO, 0 },
	{ "{\"a\":}", 0, SIO_EPROTO, 0 },
	{ "{\"a\":1,}", 0, SIO_EPROTO, 0 },
	{ "{,}", 0, SIO_EPROTO, 0 },
	{ "{a:1}", 0, SIO_EPROTO, 0 },
	{ "{1:1}", 0, SIO_EPROTO, 0 },
	{ "{'a':1}", 0, SIO_EPROTO, 0 },
	{ "{\"a\" 1}", 0, SIO_EPROTO, 0 },
	{ "1 2", 0, SIO_EPROTO, 0 },
	{ "[] []", 0, SIO_EPROTO, 0 },
	{ "{}x", 0, SIO_EPROTO, 0 },
	{ "\"abc", 0, SIO_EPROTO, 0 },
	{ "\"abc\\", 0, SIO_EPROTO, 0 },
	{ "\"\\u12", 0, SIO_EPROTO, 0 },
	{ "\"a\nb\"", 0, SIO_EPROTO, 0 },
	{ "\"a\tb\"", 0, SIO_EPROTO, 0 },
	{ "\"\x1f\"", 0, SIO_EPROTO, 0 },
	{ L("\"a\0b\""), SIO_EPROTO, 0 },
	{ L("\0"), SIO_EPROTO, 0 },
	{ "\"\\x\"", 0, SIO_EPROTO, 0 },
	{ "\"\\a\"", 0, SIO_EPROTO, 0 },
	{ "\"\\U0041\"", 0, SIO_EPROTO, 0 },
	{ "\"\\u12\"", 0, SIO_EPROTO, 0 },
	{ "\"\\u12g4\"", 0, SIO_EPROTO, 0 },
	{ "'a'", 0, SIO_EPROTO, 0 },
	{ "\"\x80\"", 0, SIO_EPROTO, 0 },
	{ "\"\xc3\"", 0, SIO_EPROTO, 0 },
	{ "\"\xc3(\"", 0, SIO_EPROTO, 0 },
	{ "\"\xff\"", 0, SIO_EPROTO, 0 },
	{ "\"\xc0\xaf\"", 0, SIO_EPROTO, 0 },		/* overlong '/' */
	{ "\"\xc1\xbf\"", 0, SIO_EPROTO, 0 },
	{ "\"\xe0\x80\xaf\"", 0, SIO_EPROTO, 0 },	/* overlong 3-byte */
	{ "\"\xf0\x80\x80\xaf\"", 0, SIO_EPROTO, 0 },	/* overlong 4-byte */
	{ "\"\xed\xa0\x80\"", 0, SIO_EPROTO, 0 },	/* raw U+D800 */
	{ "\"\xed\xbf\xbf\"", 0, SIO_EPROTO, 0 },	/* raw U+DFFF */
	{ "\"\xf4\x90\x80\x80\"", 0, SIO_EPROTO, 0 },	/* U+110000 */
	{ "\"\xf5\x80\x80\x80\"", 0, SIO_EPROTO, 0 },
	{ "\"\xe2\x82\"", 0, SIO_EPROTO, 0 },		/* truncated */
	{ "\"\xf0\x9f\x98\"", 0, SIO_EPROTO, 0 },
	{ L("\"\xe2\x82"), SIO_EPROTO, 0 },		/* truncated at end */
	{ "\xef\xbb\xbf" "1", 0, SIO_EPROTO, 0 },	/* BOM */
	{ "[1]\v", 0, SIO_EPROTO, 0 },
	{ "/* c */1", 0, SIO_EPROTO, 0 },

	/* depth */
	{ "[[[[]]]]", 0, SIO_ELIMIT, 3 },
	{ "{\"a\":{\"b\":{\"c\":{}}}}", 0, SIO_ELIMIT, 3 },
	{ "[{\"a\":[1]}]", 0, SIO_OK, 3 },
	{ "[{\"a\":[[1]]}]", 0, SIO_ELIMIT, 3 },
	{ "[]", 0, SIO_ELIMIT, -1 },
	{ "[1]", 0, SIO_OK, 1 },
	{ "[[1]]", 0, SIO_ELIMIT, 1 },
};

/* Keeps each "ok N - what" on one printable line. */
static const char *
show(const char *s, size_t n)
{
	static char out[200];
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < sizeof out; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, sizeof out - o,
			    "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

static void
test_table(void)
{
	struct sio_json doc = SIO_JSON_INIT;
	char err[SIO_ERRLEN], what[300];

	for (size_t i = 0; i < sizeof pcases / sizeof pcases[0]; i++) {
		const struct pcase *c = &pcases[i];
		size_t len = c->len ? c->len : strlen(c->text);
		/* depth -1 in the table stands for maxdepth 0 */
		int depth = c->depth == 0 ? 64 : c->depth < 0 ? 0 : c->depth;
		int rc = sio_json_parse(&doc, c->text, len, depth, err);
		snprintf(what, sizeof what, "parse case %zu (%s) -> %d", i,
		    show(c->text, len), c->rc);
		T_EQ_INT(rc, c->rc, what);
		if (rc != SIO_OK)
			T_OK(err[0] != '\0', "error message set");
		else
			T_OK(doc.n > 0 && doc.tok[0].next == doc.n,
			    "root subtree covers every token");
	}
	sio_json_free(&doc);
}

static void
test_errors(void)
{
	struct sio_json doc = SIO_JSON_INIT;
	char err[SIO_ERRLEN];

	T_EQ_INT(sio_json_parse(&doc, L("[1,2 3]"), 64, err), SIO_EPROTO,
	    "missing comma");
	T_EQ_STR(err, "invalid JSON at byte 5: expected ',' or ']'",
	    "message names the byte and expectation");
	T_EQ_INT(sio_json_parse(&doc, L("{\"a\":1 \"b\"}"), 64, err),
	    SIO_EPROTO, "missing comma in object");
	T_EQ_STR(err, "invalid JSON at byte 7: expected ',' or '}'",
	    "object message");
	T_EQ_INT(sio_json_parse(&doc, L("[[[1]]]"), 2, err), SIO_ELIMIT,
	    "depth over limit");
	T_OK(strstr(err, "byte 2") != NULL, "depth message names the byte");
	T_EQ_INT(doc.n, 0, "failed parse leaves no tokens");
	T_EQ_INT(sio_json_parse(&doc, L("01"), 64, NULL), SIO_EPROTO,
	    "NULL err is allowed");
	T_EQ_INT(sio_json_parse(&doc, L("\"\xed\xa0\x80\""), 64, err),
	    SIO_EPROTO, "raw surrogate");
	T_EQ_STR(err, "invalid JSON at byte 1: invalid UTF-8 in string",
	    "utf-8 message offset");
	sio_json_free(&doc);
}

static void
test_tokens(void)
{
	struct sio_json doc = SIO_JSON_INIT;
	const char *s = " {\"a\":[1,{\"b\":null}],\"c\":\"x\\\"y\",\"d\":[]} ";
	static const struct {
		uint8_t type;
		uint32_t size, next;
		const char *span;
	} want[] = {
		{ SIO_JSON_OBJECT, 3, 11,
		    "{\"a\":[1,{\"b\":null}],\"c\":\"x\\\"y\",\"d\":[]}" },
		{ SIO_JSON_STRING, 0, 2, "\"a\"" },
		{ SIO_JSON_ARRAY, 2, 7, "[1,{\"b\":null}]" },
		{ SIO_JSON_NUMBER, 0, 4, "1" },
		{ SIO_JSON_OBJECT, 1, 7, "{\"b\":null}" },
		{ SIO_JSON_STRING, 0, 6, "\"b\"" },
		{ SIO_JSON_NULL, 0, 7, "null" },
		{ SIO_JSON_STRING, 0, 8, "\"c\"" },
		{ SIO_JSON_STRING, 0, 9, "\"x\\\"y\"" },
		{ SIO_JSON_STRING, 0, 10, "\"d\"" },
		{ SIO_JSON_ARRAY, 0, 11, "[]" },
	};
	size_t nwant = sizeof want / sizeof want[0];
	char what[80];

	T_EQ_INT(sio_json_parse(&doc, s, strlen(s), 64, NULL), SIO_OK,
	    "nested doc parses");
	T_EQ_INT(doc.n, nwant, "token count");
	for (size_t i = 0; i < doc.n && i < nwant; i++) {
		snprintf(what, sizeof what, "token %zu type", i);
		T_EQ_INT(doc.tok[i].type, want[i].type, what);
		snprintf(what, sizeof what, "token %zu size", i);
		T_EQ_INT(doc.tok[i].size, want[i].size, what);
		snprintf(what, sizeof what, "token %zu next", i);
		T_EQ_INT(doc.tok[i].next, want[i].next, what);
		snprintf(what, sizeof what, "token %zu span", i);
		T_EQ_MEM(s + doc.tok[i].start,
		    doc.tok[i].end - doc.tok[i].start, want[i].span, what);
	}
	T_EQ_INT(doc.tok[0].start, 1, "root starts after leading space");
	T_EQ_INT(doc.tok[0].end, strlen(s) - 1, "root end exclusive");
	sio_json_free(&doc);
}

static void
test_tokens_exact(void)
{
	struct sio_json doc = SIO_JSON_INIT;
	const char *s = "[\"ev\",{\"n\":-1.5e3},[[]],true]";

	T_EQ_INT(sio_json_parse(&doc, s, strlen(s), 64, NULL), SIO_OK,
	    "event doc");
	T_EQ_INT(doc.n, 8, "event doc tokens");
	T_EQ_INT(doc.tok[0].size, 4, "root array size");
	T_EQ_INT(doc.tok[0].start, 0, "root start");
	T_EQ_INT(doc.tok[0].end, strlen(s), "root end exclusive");
	T_EQ_INT(doc.tok[1].start, 1, "string start at quote");
	T_EQ_INT(doc.tok[1].end, 5, "string end past quote");
	T_EQ_INT(doc.tok[4].type, SIO_JSON_NUMBER, "number type");
	T_EQ_MEM(s + doc.tok[4].start, doc.tok[4].end - doc.tok[4].start,
	    "-1.5e3", "number span");
	T_EQ_INT(doc.tok[5].next, 7, "[[]] next");
	T_EQ_INT(doc.tok[6].next, 7, "[] next");
	T_EQ_INT(doc.tok[6].size, 0, "[] size");
	T_EQ_INT(doc.tok[7].type, SIO_JSON_TRUE, "true type");
	T_EQ_INT(doc.tok[7].next, 8, "last next == n");

	/* Reuse: a smaller parse keeps the allocation. */
	struct sio_json_tok *before = doc.tok;
	size_t cap = doc.cap;
	T_EQ_INT(sio_json_parse(&doc, L("7"), 64, NULL), SIO_OK, "reuse");
	T_EQ_INT(doc.n, 1, "reuse count");
	T_OK(doc.tok == before && doc.cap == cap, "memory kept");
	sio_json_free(&doc);
	T_OK(doc.tok == NULL && doc.n == 0 && doc.cap == 0, "free resets");
}

static void
test_growth_and_depth(void)
{
	struct sio_json doc = SIO_JSON_INIT;
	struct sio_buf b = SIO_BUF_INIT;
	char err[SIO_ERRLEN];

	/* Many tokens: the array must grow several times. */
	sio_buf_addc(&b, '[');
	for (int i = 0; i < 5000; i++)
		sio_buf_printf(&b, "%s{\"k\":%d}", i ? "," : "", i);
	sio_buf_addc(&b, ']');
	T_EQ_INT(sio_json_parse(&doc, b.data, b.len, 64, err), SIO_OK,
	    "large doc");
	T_EQ_INT(doc.n, 1 + 5000 * 3, "large doc tokens");
	T_EQ_INT(doc.tok[0].size, 5000, "large doc size");
	int e = sio_json_at(&doc, 0, 4321);
	long long v = -1;
	T_OK(sio_json_int(&doc, b.data, sio_json_get(&doc, b.data, e, "k"),
	    0, 10000, &v) && v == 4321, "at/get in large doc");

	/* Deep nesting costs no C stack. */
	sio_buf_reset(&b);
	for (int i = 0; i < 100000; i++)
		sio_buf_addc(&b, '[');
	for (int i = 0; i < 100000; i++)
		sio_buf_addc(&b, ']');
	T_EQ_INT(sio_json_parse(&doc, b.data, b.len, 100000, err), SIO_OK,
	    "depth 100000 at limit");
	T_EQ_INT(doc.tok[0].next, 100000, "deep next");
	T_EQ_INT(doc.tok[99999].size, 0, "innermost empty");
	T_EQ_INT(doc.tok[99998].size, 1, "one level up");
	T_EQ_INT(sio_json_parse(&doc, b.data, b.len, 99999, err), SIO_ELIMIT,
	    "depth 100000 over limit");
	T_EQ_INT(sio_json_parse(&doc, b.data, b.len - 1, 100000, err),
	    SIO_EPROTO, "deep but unclosed");
	sio_buf_free(&b);
	sio_json_free(&doc);
}

static void
test_get_at(void)
{
	struct sio_json doc = SIO_JSON_INIT;
	const char *s = "{\"a\":[10,[20,21],{\"x\":1},30],\"b\\u0063\":\"v\","
	    "\"\":0,\"a\\\"q\":1,\"dup\":1,\"dup\":2}";
	int i;

	T_EQ_INT(sio_json_parse(&doc, s, strlen(s), 64, NULL), SIO_OK,
	    "get/at doc");
	int a = sio_json_get(&doc, s, 0, "a");
	T_EQ_INT(doc.tok[a].type, SIO_JSON_ARRAY, "get a");
	T_EQ_INT(sio_json_at(&doc, a, 0), a + 1, "at 0");
	i = sio_json_at(&doc, a, 1);
	T_EQ_MEM(s + doc.tok[i].start, doc.tok[i].end - doc.tok[i].start,
	    "[20,21]", "at 1");
	i = sio_json_at(&doc, a, 2);
	T_EQ_MEM(s + doc.tok[i].start, doc.tok[i].end - doc.tok[i].start,
	    "{\"x\":1}", "at 2");
	i = sio_json_at(&doc, a, 3);
	T_EQ_MEM(s + doc.tok[i].start, doc.tok[i].end - doc.tok[i].start,
	    "30", "at 3 skips subtrees");
	T_EQ_INT(sio_json_at(&doc, a, 4), -1, "at past end");
	T_EQ_INT(sio_json_at(&doc, 0, 0), -1, "at on object");
	T_EQ_INT(sio_json_at(&doc, -1, 0), -1, "at bad index");
	T_EQ_INT(sio_json_at(&doc, 1000, 0), -1, "at index past n");
	i = sio_json_get(&doc, s, 0, "bc");
	T_OK(i > 0 && sio_json_str_eq(&doc, s, i, "v"),
	    "get matches escaped key");
	T_EQ_INT(sio_json_get(&doc, s, 0, "b\\u0063"), -1,
	    "get compares decoded, not raw");
	i = sio_json_get(&doc, s, 0, "");
	T_OK(i > 0 && doc.tok[i].type == SIO_JSON_NUMBER, "empty key");
	T_OK(sio_json_get(&doc, s, 0, "a\"q") > 0, "key with quote");
	i = sio_json_get(&doc, s, 0, "dup");
	T_EQ_MEM(s + doc.tok[i].start, 1, "1", "duplicate: first wins");
	T_EQ_INT(sio_json_get(&doc, s, 0, "x"), -1, "nested key not seen");
	T_EQ_INT(sio_json_get(&doc, s, 0, "missing"), -1, "missing key");
	T_EQ_INT(sio_json_get(&doc, s, a, "a"), -1, "get on array");
	T_EQ_INT(sio_json_get(&doc, s, -1, "a"), -1, "get bad index");
	T_EQ_INT(sio_json_get(&doc, s, 0, "b"), -1, "prefix is no match");
	sio_json_free(&doc);
}

static void
test_str(void)
{
	struct sio_json doc = SIO_JSON_INIT;
	struct sio_buf b = SIO_BUF_INIT;
	const char *s = "[\"plain\",\"a\\nb\\t\\\"c\\\"\\\\\\/\","
	    "\"\\u00e9\\u20AC\\ud83d\\ude00\",\"\\ud800x\",\"\\udc00\","
	    "\"\\ud800\\ud800\",\"\\ud800\\u0041\",\"caf\xc3\xa9\","
	    "\"\\u0000\",\"\",1,\"\\ud83d\"]";
	size_t n;

	T_EQ_INT(sio_json_parse(&doc, s, strlen(s), 64, NULL), SIO_OK,
	    "string doc");
	int t[12];
	for (uint32_t k = 0; k < 12; k++)
		t[k] = sio_json_at(&doc, 0, k);

	T_OK(sio_json_str_eq(&doc, s, t[0], "plain"), "eq plain");
	T_OK(!sio_json_str_eq(&doc, s, t[0], "plai"), "eq shorter");
	T_OK(!sio_json_str_eq(&doc, s, t[0], "plainx"), "eq longer");
	T_OK(sio_json_str_eq(&doc, s, t[1], "a\nb\t\"c\"\\/"), "eq escapes");
	T_OK(!sio_json_str_eq(&doc, s, t[1], "a\\nb"), "eq not raw");
	T_OK(sio_json_str_eq(&doc, s, t[2],
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), "eq \\u and pair");
	T_OK(sio_json_str_eq(&doc, s, t[3], "\xef\xbf\xbdx"),
	    "eq lone high surrogate as U+FFFD");
	T_OK(sio_json_str_eq(&doc, s, t[7], "caf\xc3\xa9"), "eq raw UTF-8");
	T_OK(!sio_json_str_eq(&doc, s, t[8], ""), "eq \\u0000 vs empty");
	T_OK(sio_json_str_eq(&doc, s, t[9], ""), "eq empty");
	T_OK(!sio_json_str_eq(&doc, s, t[10], "1"), "eq on number");
	T_OK(!sio_json_str_eq(&doc, s, 0, ""), "eq on array");

	n = sio_json_str_decode(&doc, s, t[0], &b);
	T_EQ_INT(n, 5, "decode plain length");
	T_EQ_MEM(b.data, b.len, "plain", "decode plain");
	n = sio_json_str_decode(&doc, s, t[1], &b);
	T_EQ_INT(n, 9, "decode appends, returns its own length");
	T_EQ_MEM(b.data, b.len, "plaina\nb\t\"c\"\\/", "decode escapes");
	T_EQ_INT(b.data[b.len], '\0', "decode NUL-terminates");
	sio_buf_reset(&b);
	n = sio_json_str_decode(&doc, s, t[2], &b);
	T_EQ_MEM(b.data, n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	    "decode surrogate pair");
	sio_buf_reset(&b);
	sio_json_str_decode(&doc, s, t[3], &b);
	T_EQ_MEM(b.data, b.len, "\xef\xbf\xbdx", "decode lone high");
	sio_buf_reset(&b);
	sio_json_str_decode(&doc, s, t[4], &b);
	T_EQ_MEM(b.data, b.len, "\xef\xbf\xbd", "decode lone low");
	sio_buf_reset(&b);
	sio_json_str_decode(&doc, s, t[5], &b);
	T_EQ_MEM(b.data, b.len, "\xef\xbf\xbd\xef\xbf\xbd",
	    "decode two highs");
	sio_buf_reset(&b);
	sio_json_str_decode(&doc, s, t[6], &b);
	T_EQ_MEM(b.data, b.len, "\xef\xbf\xbd" "A", "decode high then BMP");
	sio_buf_reset(&b);
	sio_json_str_decode(&doc, s, t[11], &b);
	T_EQ_MEM(b.data, b.len, "\xef\xbf\xbd", "decode high at end");
	T_OK(sio_utf8_valid((const uint8_t *)b.data, b.len),
	    "decoded lone surrogate is valid UTF-8");
	sio_buf_reset(&b);
	n = sio_json_str_decode(&doc, s, t[8], &b);
	T_OK(n == 1 && b.len == 1 && b.data[0] == '\0', "decode \\u0000");
	sio_buf_reset(&b);
	n = sio_json_str_decode(&doc, s, t[9], &b);
	T_OK(n == 0 && b.data && b.data[0] == '\0', "decode empty");
	n = sio_json_str_decode(&doc, s, t[10], &b);
	T_EQ_INT(n, 0, "decode non-string");
	sio_buf_free(&b);
	sio_json_free(&doc);
}

static void
test_add_str(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
		{ L(""), "\"\"" },
		{ L("abc"), "\"abc\"" },
		{ L("a\"b\\c"), "\"a\\\"b\\\\c\"" },
		{ L("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"" },
		{ L("\x01\x1f\x7f"), "\"\\u0001\\u001f\x7f\"" },
		{ L("a\0b"), "\"a\\u0000b\"" },
		{ L("</script>"), "\"</script>\"" },
		{ L("caf\xc3\xa9 \xe2\x80\xa8"), "\"caf\xc3\xa9 \xe2\x80\xa8\"" },
	};
	struct sio_json doc = SIO_JSON_INIT;
	struct sio_buf b = SIO_BUF_INIT, d = SIO_BUF_INIT;
	char what[80];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sio_buf_reset(&b);
		sio_json_add_str(&b, cases[i].in, cases[i].n);
		snprintf(what, sizeof what, "add_str case %zu", i);
		T_EQ_MEM(b.data, b.len, cases[i].out, what);
		snprintf(what, sizeof what, "add_str case %zu round trip", i);
		sio_buf_reset(&d);
		T_OK(sio_json_parse(&doc, b.data, b.len, 1, NULL) == SIO_OK &&
		    sio_json_str_decode(&doc, b.data, 0, &d) == cases[i].n &&
		    memcmp(d.data, cases[i].in, cases[i].n) == 0, what);
	}

	/* Every byte below 0x80 survives the round trip. */
	char all[128];
	for (int c = 0; c < 128; c++)
		all[c] = (char)c;
	sio_buf_reset(&b);
	sio_buf_adds(&b, "prefix:");
	sio_json_add_str(&b, all, sizeof all);
	sio_buf_reset(&d);
	T_OK(sio_json_parse(&doc, b.data + 7, b.len - 7, 1, NULL) == SIO_OK &&
	    sio_json_str_decode(&doc, b.data + 7, 0, &d) == sizeof all &&
	    memcmp(d.data, all, sizeof all) == 0, "ASCII round trip, appends");
	T_EQ_MEM(b.data, 7, "prefix:", "add_str appends");
	sio_buf_free(&b);
	sio_buf_free(&d);
	sio_json_free(&doc);
}

static void
test_placeholder(void)
{
	static const struct {
		const char *text;
		bool ok;
		long num;
	} cases[] = {
		{ "{\"_placeholder\":true,\"num\":0}", true, 0 },
		{ "{\"num\":7,\"_placeholder\":true}", true, 7 },
		{ " { \"_placeholder\" : true , \"num\" : 12 } ", true, 12 },
		{ "{\"_placeh\\u006flder\":true,\"num\":3}", true, 3 },
		{ "{\"_placeholder\":true,\"num\":9223372036854775807}", true,
		    LONG_MAX },
		{ "{\"_placeholder\":true,\"num\":0,\"x\":1}", false, 0 },
		{ "{\"_placeholder\":true}", false, 0 },
		{ "{\"num\":1}", false, 0 },
		{ "{\"_placeholder\":true,\"num\":-1}", false, 0 },
		{ "{\"_placeholder\":true,\"num\":1.5}", false, 0 },
		{ "{\"_placeholder\":true,\"num\":1.0}", false, 0 },
		{ "{\"_placeholder\":true,\"num\":1e2}", false, 0 },
		{ "{\"_placeholder\":true,\"num\":\"1\"}", false, 0 },
		{ "{\"_placeholder\":true,\"num\":99999999999999999999}", false,
		    0 },
		{ "{\"_placeholder\":false,\"num\":1}", false, 0 },
		{ "{\"_placeholder\":1,\"num\":1}", false, 0 },
		{ "{\"_placeholder\":\"true\",\"num\":1}", false, 0 },
		{ "{\"_placeholder\":true,\"_placeholder\":true}", false, 0 },
		{ "{\"num\":1,\"num\":2}", false, 0 },
		{ "{\"_Placeholder\":true,\"num\":1}", false, 0 },
		{ "[true,1]", false, 0 },
		{ "{}", false, 0 },
	};
	struct sio_json doc = SIO_JSON_INIT;
	char what[120];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *s = cases[i].text;
		long num = -42;
		T_EQ_INT(sio_json_parse(&doc, s, strlen(s), 8, NULL), SIO_OK,
		    "placeholder doc parses");
		bool ok = sio_json_is_placeholder(&doc, s, 0, &num);
		snprintf(what, sizeof what, "placeholder %s -> %d", s,
		    cases[i].ok);
		T_EQ_INT(ok, cases[i].ok, what);
		if (cases[i].ok)
			T_EQ_INT(num, cases[i].num, "placeholder num");
		else
			T_EQ_INT(num, -42, "num untouched on mismatch");
	}

	/* Nested: inside an event's argument array. */
	const char *s = "[\"ev\",{\"a\":{\"_placeholder\":true,\"num\":1}}]";
	long num = -1;
	T_EQ_INT(sio_json_parse(&doc, s, strlen(s), 8, NULL), SIO_OK,
	    "nested placeholder doc");
	int o = sio_json_get(&doc, s, sio_json_at(&doc, 0, 1), "a");
	T_OK(sio_json_is_placeholder(&doc, s, o, &num) && num == 1,
	    "nested placeholder");
	T_OK(!sio_json_is_placeholder(&doc, s, 0, &num), "array is not one");
	T_OK(!sio_json_is_placeholder(&doc, s, -1, &num), "bad index");
	sio_json_free(&doc);
}

static void
test_int(void)
{
	static const struct {
		const char *text;
		long long min, max;
		bool ok;
		long long v;
	} cases[] = {
		{ "0", 0, 10, true, 0 },
		{ "-0", 0, 10, true, 0 },
		{ "10", 0, 10, true, 10 },
		{ "11", 0, 10, false, 0 },
		{ "-1", 0, 10, false, 0 },
		{ "-5", -10, 10, true, -5 },
		{ "1234567890123456789", 0, LLONG_MAX, true,
		    1234567890123456789LL },
		{ "9223372036854775807", LLONG_MIN, LLONG_MAX, true,
		    LLONG_MAX },
		{ "-9223372036854775808", LLONG_MIN, LLONG_MAX, true,
		    LLONG_MIN },
		{ "9223372036854775808", LLONG_MIN, LLONG_MAX, false, 0 },
		{ "-9223372036854775809", LLONG_MIN, LLONG_MAX, false, 0 },
		{ "123456789012345678901", LLONG_MIN, LLONG_MAX, false, 0 },
		{ "-00000000000000000001", LLONG_MIN, LLONG_MAX, false, 0 },
		{ "1.0", 0, 10, false, 0 },
		{ "1e1", 0, 100, false, 0 },
		{ "1E1", 0, 100, false, 0 },
		{ "\"1\"", 0, 10, false, 0 },
		{ "true", 0, 10, false, 0 },
	};
	struct sio_json doc = SIO_JSON_INIT;
	char what[120];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *s = cases[i].text;
		long long v = 77;
		int rc = sio_json_parse(&doc, s, strlen(s), 8, NULL);
		if (rc != SIO_OK) {
			/* leading zeros never reach sio_json_int */
			T_EQ_INT(rc, SIO_EPROTO, "int text rejected by parser");
			continue;
		}
		bool ok = sio_json_int(&doc, s, 0, cases[i].min, cases[i].max,
		    &v);
		snprintf(what, sizeof what, "int %s in [%lld,%lld] -> %d", s,
		    cases[i].min, cases[i].max, cases[i].ok);
		T_EQ_INT(ok, cases[i].ok, what);
		T_EQ_INT(v, cases[i].ok ? cases[i].v : 77, "int value");
	}

	/* A number followed by more text: the copy must stop at the span. */
	const char *s = "[42,7]";
	long long v = 0;
	T_EQ_INT(sio_json_parse(&doc, s, strlen(s), 8, NULL), SIO_OK,
	    "int array");
	T_OK(sio_json_int(&doc, s, 1, 0, 100, &v) && v == 42,
	    "int stops at span end");
	T_OK(!sio_json_int(&doc, s, 0, 0, 100, &v), "int on array");
	T_OK(!sio_json_int(&doc, s, 5, 0, 100, &v), "int bad index");
	sio_json_free(&doc);
}

int
main(void)
{
	test_table();
	test_errors();
	test_tokens();
	test_tokens_exact();
	test_growth_and_depth();
	test_get_at();
	test_str();
	test_add_str();
	test_placeholder();
	test_int();
	T_DONE();
}
