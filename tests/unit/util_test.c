#include "pkt.h"
#include "util.h"
#include "t.h"

#include <limits.h>
#include <stdlib.h>

#define L(s) (s), sizeof(s) - 1

static uint64_t rng = 0x243f6a8885a308d3ULL;

static uint32_t
rnd32(void)
{
	/* xorshift64*: deterministic across runs */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dULL) >> 32);
}

/* Keeps each "ok N - what" on one printable line. */
static const char *
show(const char *s)
{
	static char out[100];
	size_t o = 0;

	for (; *s && o + 5 < sizeof out; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, sizeof out - o,
			    "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

/* ---- sio_buf ------------------------------------------------------------ */

static void
test_buf(void)
{
	struct sio_buf b = SIO_BUF_INIT;
	char want[2100];
	size_t len;

	T_OK(b.data == NULL && b.len == 0 && b.cap == 0, "SIO_BUF_INIT empty");
	sio_buf_add(&b, "abc", 3);
	T_EQ_MEM(b.data, b.len, "abc", "add");
	T_OK(b.data[b.len] == '\0', "add NUL-terminates");
	T_OK(b.cap > b.len, "cap leaves room for the NUL");
	sio_buf_add(&b, "", 0);
	T_EQ_MEM(b.data, b.len, "abc", "add nothing");
	sio_buf_adds(&b, "de");
	sio_buf_addc(&b, 'f');
	T_EQ_MEM(b.data, b.len, "abcdef", "adds and addc");
	sio_buf_addc(&b, '\0');
	T_EQ_INT(b.len, 7, "addc NUL counts");
	T_OK(memcmp(b.data, "abcdef\0", 8) == 0, "embedded NUL kept");
	sio_buf_free(&b);
	T_OK(b.data == NULL && b.len == 0 && b.cap == 0, "free resets");
	sio_buf_free(&b);
	T_OK(1, "free twice is safe");

	/* Growth across many small adds. */
	for (int i = 0; i < 1000; i++)
		sio_buf_addc(&b, (char)('a' + i % 26));
	T_EQ_INT(b.len, 1000, "1000 addc");
	int same = 1;
	for (int i = 0; i < 1000; i++)
		same &= b.data[i] == (char)('a' + i % 26);
	T_OK(same && b.data[1000] == '\0', "1000 addc content");
	sio_buf_free(&b);

	/* reserve */
	sio_buf_reserve(&b, 100);
	T_OK(b.cap >= 101 && b.len == 0, "reserve");
	char *before = b.data;
	for (int i = 0; i < 100; i++)
		sio_buf_addc(&b, 'x');
	T_OK(b.data == before, "reserved room used without realloc");
	sio_buf_free(&b);

	/* printf: short, long, appended, boundary lengths */
	sio_buf_printf(&b, "%d-%s-%c", 42, "x", 'y');
	T_EQ_MEM(b.data, b.len, "42-x-y", "printf short");
	sio_buf_printf(&b, "%s", "");
	T_EQ_MEM(b.data, b.len, "42-x-y", "printf empty");
	memset(want, 'L', 1000);
	want[1000] = '\0';
	sio_buf_reset(&b);
	sio_buf_printf(&b, "%s", want);
	T_EQ_INT(b.len, 1000, "printf 1000 chars len");
	T_EQ_MEM(b.data, b.len, want, "printf 1000 chars");
	T_OK(b.data[b.len] == '\0', "printf long NUL-terminated");
	sio_buf_reset(&b);
	sio_buf_adds(&b, "head:");
	sio_buf_printf(&b, "%s|%d", want, 7);
	char want2[2200];
	snprintf(want2, sizeof want2, "head:%s|7", want);
	T_EQ_MEM(b.data, b.len, want2, "printf long appends");
	for (size_t n = 250; n <= 260; n++) {
		char w[300], what[60];
		memset(w, 'a' + (int)(n % 26), n);
		w[n] = '\0';
		sio_buf_reset(&b);
		sio_buf_adds(&b, "<");
		sio_buf_printf(&b, "%s", w);
		snprintf(what, sizeof what, "printf %zu chars", n);
		T_OK(b.len == n + 1 && b.data[0] == '<' &&
		    memcmp(b.data + 1, w, n) == 0 && b.data[b.len] == '\0',
		    what);
	}
	/* A long printf onto a buffer close to full. */
	sio_buf_free(&b);
	for (int i = 0; i < 60; i++)
		sio_buf_addc(&b, '.');
	memset(want, 'Q', 2000);
	want[2000] = '\0';
	sio_buf_printf(&b, "%s%s", want, "!");
	T_EQ_INT(b.len, 2061, "long printf onto a nearly full buffer");
	T_OK(b.data[59] == '.' && b.data[60] == 'Q' && b.data[2059] == 'Q' &&
	    b.data[2060] == '!' && b.data[2061] == '\0',
	    "long printf content");

	/* consume */
	sio_buf_reset(&b);
	T_EQ_INT(b.len, 0, "reset len");
	T_OK(b.data != NULL && b.data[0] == '\0', "reset keeps memory");
	size_t cap = b.cap;
	sio_buf_adds(&b, "hello world");
	T_EQ_INT(b.cap, cap, "reset: no realloc needed");
	sio_buf_consume(&b, 6);
	T_EQ_MEM(b.data, b.len, "world", "consume 6");
	T_OK(b.data[b.len] == '\0', "consume NUL-terminates");
	sio_buf_consume(&b, 0);
	T_EQ_MEM(b.data, b.len, "world", "consume 0");
	sio_buf_consume(&b, 5);
	T_EQ_INT(b.len, 0, "consume all");
	T_OK(b.data[0] == '\0', "consume all NUL");
	sio_buf_adds(&b, "ab");
	sio_buf_consume(&b, 100);
	T_EQ_INT(b.len, 0, "consume more than len");
	sio_buf_adds(&b, "xyz");
	T_EQ_MEM(b.data, b.len, "xyz", "usable after consume");
	sio_buf_free(&b);
	sio_buf_consume(&b, 3);
	T_OK(b.len == 0 && b.data == NULL, "consume on empty buffer");
	sio_buf_reset(&b);
	T_OK(b.len == 0 && b.data == NULL, "reset on empty buffer");

	/* steal */
	sio_buf_adds(&b, "stolen");
	char *p = sio_buf_steal(&b, &len);
	T_EQ_INT(len, 6, "steal len");
	T_EQ_STR(p, "stolen", "steal NUL-terminated");
	T_OK(b.data == NULL && b.len == 0 && b.cap == 0, "steal empties");
	free(p);
	/*
	 * Stealing a buffer nothing was written to must still give a
	 * NUL-terminated "". Dirty a freed 64-byte chunk first so that fresh
	 * memory is unlikely to be zero by chance (valgrind flags it anyway).
	 */
	char *dirty = malloc(64);
	memset(dirty, 'X', 64);
	free(dirty);
	p = sio_buf_steal(&b, &len);
	T_OK(p != NULL && len == 0 && p[0] == '\0', "steal from empty: \"\"");
	free(p);
	sio_buf_reserve(&b, 10);
	p = sio_buf_steal(&b, &len);
	T_OK(p != NULL && len == 0 && p[0] == '\0',
	    "steal after reserve only: \"\"");
	free(p);
	sio_buf_adds(&b, "x");
	p = sio_buf_steal(&b, NULL);
	T_EQ_STR(p, "x", "steal with NULL len");
	free(p);
	sio_buf_adds(&b, "again");
	T_EQ_MEM(b.data, b.len, "again", "usable after steal");
	sio_buf_free(&b);
}

/* ---- sio_rc, sio_strerror, x-alloc -------------------------------------- */

static void
test_rc(void)
{
	struct sio_rc *rc = sio_rc_from("abc", 3);
	T_OK(rc->refs == 1 && rc->len == 3 && memcmp(rc->data, "abc", 3) == 0,
	    "rc_from");
	T_OK(sio_rc_ref(rc) == rc && rc->refs == 2, "rc_ref");
	sio_rc_unref(rc);
	T_EQ_INT(rc->refs, 1, "unref to 1");
	sio_rc_unref(rc);	/* freed: valgrind checks */
	rc = sio_rc_new(0);
	T_OK(rc->refs == 1 && rc->len == 0, "rc_new(0)");
	sio_rc_unref(rc);
	rc = sio_rc_from(NULL, 0);
	T_OK(rc->len == 0, "rc_from(NULL, 0)");
	sio_rc_unref(rc);
	sio_rc_unref(NULL);
	T_OK(1, "rc_unref(NULL)");
	rc = sio_rc_new(100000);
	memset(rc->data, 7, 100000);
	T_OK(rc->len == 100000 && rc->data[99999] == 7, "rc_new large");
	sio_rc_unref(rc);

	T_EQ_STR(sio_strerror(SIO_OK), "success", "strerror OK");
	T_EQ_STR(sio_strerror(SIO_EPROTO), "protocol error", "strerror EPROTO");
	T_EQ_STR(sio_strerror(12345), "unknown error", "strerror unknown");

	char *s = sio_xstrndup("abcdef", 3);
	T_EQ_STR(s, "abc", "xstrndup");
	free(s);
	s = sio_xstrdup("");
	T_EQ_STR(s, "", "xstrdup empty");
	free(s);
	s = sio_xmalloc(0);
	T_OK(s != NULL, "xmalloc(0) non-NULL");
	free(s);
}

/* ---- random ids ----------------------------------------------------------- */

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_random_id(void)
{
	static char ids[1000][21];
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	int bad_rc = 0, bad_len = 0, bad_char = 0, dups = 0;
	int seen[256] = { 0 };

	for (int i = 0; i < 1000; i++) {
		if (sio_random_id(ids[i], 20) != SIO_OK)
			bad_rc++;
		if (strlen(ids[i]) != 20)
			bad_len++;
		for (int k = 0; k < 20 && ids[i][k]; k++) {
			unsigned char c = (unsigned char)ids[i][k];
			if (c == '\0' || strchr(alphabet, c) == NULL)
				bad_char++;
			seen[c]++;
		}
	}
	T_EQ_INT(bad_rc, 0, "1000 ids: SIO_OK");
	T_EQ_INT(bad_len, 0, "1000 ids: length 20");
	T_EQ_INT(bad_char, 0, "1000 ids: URL-safe alphabet only");
	qsort(ids, 1000, sizeof ids[0], cmp_id);
	for (int i = 1; i < 1000; i++)
		dups += strcmp(ids[i - 1], ids[i]) == 0;
	T_EQ_INT(dups, 0, "1000 ids: all distinct");
	int used = 0;
	for (const char *a = alphabet; *a; a++)
		used += seen[(unsigned char)*a] > 0;
	T_EQ_INT(used, 64, "20000 characters use all 64 symbols");

	char id[40];
	memset(id, 'Z', sizeof id);
	T_EQ_INT(sio_random_id(id, 0), SIO_OK, "length 0");
	T_EQ_STR(id, "", "length 0 is empty");
	T_EQ_INT(sio_random_id(id, 32), SIO_OK, "length 32");
	T_EQ_INT(strlen(id), 32, "length 32 NUL-terminated");
	T_EQ_INT(sio_random_id(id, 33), SIO_EINVAL, "length 33 refused");
	memset(id, 'Z', sizeof id);
	T_EQ_INT(sio_random_id(id, 5), SIO_OK, "length 5");
	T_OK(id[5] == '\0' && id[6] == 'Z', "writes exactly len + 1 bytes");
}

/* ---- base64 --------------------------------------------------------------- */

static void
test_base64(void)
{
	static const struct {
		const char *plain, *enc;
	} vec[] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	struct sio_buf b = SIO_BUF_INIT;
	char what[100];

	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		sio_buf_reset(&b);
		sio_base64_encode(&b, vec[i].plain, strlen(vec[i].plain));
		snprintf(what, sizeof what, "encode \"%s\" -> \"%s\"",
		    vec[i].plain, vec[i].enc);
		T_EQ_MEM(b.data ? b.data : "", b.len, vec[i].enc, what);
		T_EQ_INT(sio_base64_len(strlen(vec[i].plain)),
		    strlen(vec[i].enc), "base64_len");
		sio_buf_reset(&b);
		snprintf(what, sizeof what, "decode \"%s\" -> \"%s\"",
		    vec[i].enc, vec[i].plain);
		T_EQ_INT(sio_base64_decode(&b, vec[i].enc, strlen(vec[i].enc)),
		    SIO_OK, what);
		T_EQ_MEM(b.data ? b.data : "", b.len, vec[i].plain, what);
	}

	/* Both append. */
	sio_buf_free(&b);
	sio_buf_adds(&b, "pre:");
	sio_base64_encode(&b, "foobar", 6);
	T_EQ_MEM(b.data, b.len, "pre:Zm9vYmFy", "encode appends");
	T_OK(b.data[b.len] == '\0', "encode NUL-terminates");
	sio_buf_reset(&b);
	sio_buf_adds(&b, "pre:");
	T_EQ_INT(sio_base64_decode(&b, L("Zm9vYg==")), SIO_OK, "decode");
	T_EQ_MEM(b.data, b.len, "pre:foob", "decode appends");
	T_OK(b.data[b.len] == '\0', "decode NUL-terminates");
	sio_buf_free(&b);

	/* All byte values survive. */
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	struct sio_buf e = SIO_BUF_INIT;
	sio_base64_encode(&e, all, 256);
	T_EQ_INT(e.len, 344, "256 bytes encode to 344");
	T_EQ_INT(sio_base64_decode(&b, e.data, e.len), SIO_OK,
	    "256 bytes decode");
	T_OK(b.len == 256 && memcmp(b.data, all, 256) == 0,
	    "256 bytes round trip");
	sio_buf_free(&e);
	sio_buf_free(&b);

	/* Random round trips, lengths 0..64. */
	int bad = 0, badlen = 0, badchar = 0;
	for (size_t n = 0; n <= 64; n++) {
		for (int rep = 0; rep < 8; rep++) {
			unsigned char in[64];
			for (size_t i = 0; i < n; i++)
				in[i] = (unsigned char)rnd32();
			sio_buf_reset(&e);
			sio_buf_reset(&b);
			sio_base64_encode(&e, in, n);
			if (e.len != sio_base64_len(n) || e.len % 4 != 0)
				badlen++;
			for (size_t i = 0; i < e.len; i++) {
				char c = e.data[i];
				if (!((c >= 'A' && c <= 'Z') ||
				    (c >= 'a' && c <= 'z') ||
				    (c >= '0' && c <= '9') || c == '+' ||
				    c == '/' || c == '='))
					badchar++;
			}
			if (sio_base64_decode(&b, e.data ? e.data : "",
			    e.len) != SIO_OK || b.len != n ||
			    (n && memcmp(b.data, in, n) != 0))
				bad++;
		}
	}
	T_EQ_INT(badlen, 0, "random: encoded length");
	T_EQ_INT(badchar, 0, "random: standard alphabet");
	T_EQ_INT(bad, 0, "random: round trips for lengths 0..64");
	sio_buf_free(&e);
	sio_buf_free(&b);

	/* A large buffer. */
	size_t big = 1 << 20;
	unsigned char *in = malloc(big);
	for (size_t i = 0; i < big; i++)
		in[i] = (unsigned char)rnd32();
	sio_base64_encode(&e, in, big);
	T_EQ_INT(e.len, sio_base64_len(big), "1 MiB encode length");
	T_OK(sio_base64_decode(&b, e.data, e.len) == SIO_OK &&
	    b.len == big && memcmp(b.data, in, big) == 0,
	    "1 MiB round trip");
	free(in);
	sio_buf_free(&e);
	sio_buf_free(&b);

	/* Decode errors. */
	static const struct {
		const char *s;
		size_t n;	/* 0: strlen */
	} badin[] = {
		{ "abc", 0 },
		{ "a", 0 },
		{ "ab", 0 },
		{ "Zm9vY", 0 },
		{ "Zg=", 0 },
		{ "ab=c", 0 },
		{ "a=bc", 0 },
		{ "a===", 0 },
		{ "====", 0 },
		{ "=Zg=", 0 },
		{ "Zg==Zg==", 0 },
		{ "Zm=vYmFy", 0 },
		{ "Zm9v!!!!", 0 },
		{ "Zm9v-_==", 0 },
		{ "Zm9\xff", 0 },
		{ "Zm 9", 0 },
		{ "Zm9\n", 0 },
		{ " Zm9v   ", 0 },
		{ "Zm9v\0\0\0\0", 8 },
		{ "Zm9.", 0 },
	};
	for (size_t i = 0; i < sizeof badin / sizeof badin[0]; i++) {
		size_t n = badin[i].n ? badin[i].n : strlen(badin[i].s);
		sio_buf_reset(&b);
		snprintf(what, sizeof what, "decode bad case %zu", i);
		T_EQ_INT(sio_base64_decode(&b, badin[i].s, n), SIO_EPROTO,
		    what);
	}
	sio_buf_reset(&b);
	T_EQ_INT(sio_base64_decode(&b, "", 0), SIO_OK, "decode empty");
	T_EQ_INT(b.len, 0, "decode empty: nothing");
	sio_buf_free(&b);
}

/* Standard base64 of p[0..n) rewritten as base64url without padding. */
static void
to_base64url(struct sio_buf *out, const void *p, size_t n)
{
	sio_buf_reset(out);
	sio_base64_encode(out, p, n);
	while (out->len > 0 && out->data[out->len - 1] == '=')
		out->len--;
	for (size_t i = 0; i < out->len; i++) {
		if (out->data[i] == '+')
			out->data[i] = '-';
		else if (out->data[i] == '/')
			out->data[i] = '_';
	}
}

static void
test_base64url(void)
{
	static const struct {
		const char *plain, *enc;
	} vec[] = {
		{ "", "" },
		{ "f", "Zg" },
		{ "fo", "Zm8" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg" },
		{ "fooba", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy" },
		{ "\xfb\xff", "-_8" },
		{ "\xff\xef\xbe", "_---" },
	};
	struct sio_buf b = SIO_BUF_INIT;
	char what[100];

	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		sio_buf_reset(&b);
		snprintf(what, sizeof what, "base64url \"%s\"", vec[i].enc);
		T_EQ_INT(sio_base64url_decode(&b, vec[i].enc,
		    strlen(vec[i].enc)), SIO_OK, what);
		T_EQ_MEM(b.data, b.len, vec[i].plain, what);
		T_OK(b.data[b.len] == '\0', "base64url NUL-terminates");
	}

	static const char *const bad[] = {
		"Zg==",		/* padding */
		"Zm8=",
		"Zg=",
		"=",
		"Z",		/* 4k+1 characters */
		"Zm9vY",
		"Zh",		/* unused bits set */
		"Zm9",
		"Zm+v",		/* the standard alphabet */
		"Zm/v",
		"Zm9v\n",
		"Zm 9v",
		" Zm9v",
		"Zm9.",
		"Zm\x80v",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		sio_buf_reset(&b);
		sio_buf_adds(&b, "pre");
		snprintf(what, sizeof what, "base64url refuses bad[%zu]", i);
		T_EQ_INT(sio_base64url_decode(&b, bad[i], strlen(bad[i])),
		    SIO_EPROTO, what);
		T_EQ_MEM(b.data, b.len, "pre", "a refused decode appends nothing");
	}
	sio_buf_reset(&b);
	T_EQ_INT(sio_base64url_decode(&b, "Zm\0v", 4), SIO_EPROTO,
	    "base64url refuses a NUL");

	sio_buf_reset(&b);
	sio_buf_adds(&b, "pre:");
	T_EQ_INT(sio_base64url_decode(&b, L("Zm9vYg")), SIO_OK, "base64url");
	T_EQ_MEM(b.data, b.len, "pre:foob", "base64url appends");

	/* Random round trips through the standard encoder, lengths 0..64. */
	struct sio_buf e = SIO_BUF_INIT;
	int fails = 0;
	for (size_t n = 0; n <= 64; n++) {
		for (int rep = 0; rep < 8; rep++) {
			unsigned char in[64];
			for (size_t i = 0; i < n; i++)
				in[i] = (unsigned char)rnd32();
			to_base64url(&e, in, n);
			sio_buf_reset(&b);
			if (sio_base64url_decode(&b, e.data, e.len) != SIO_OK ||
			    b.len != n || (n && memcmp(b.data, in, n) != 0))
				fails++;
		}
	}
	T_EQ_INT(fails, 0, "base64url random round trips, lengths 0..64");
	sio_buf_free(&e);
	sio_buf_free(&b);
}

/* ---- UTF-8 ----------------------------------------------------------------- */

static void
test_utf8(void)
{
	static const struct {
		const char *s;
		size_t n;	/* 0: strlen */
		bool ok;
	} cases[] = {
		{ "", 0, true },
		{ "hello", 0, true },
		{ "\x7f", 0, true },
		{ "a\0b", 3, true },
		{ "\xc2\x80", 0, true },		/* U+0080 */
		{ "\xc3\xa9", 0, true },		/* é */
		{ "\xdf\xbf", 0, true },		/* U+07FF */
		{ "\xe0\xa0\x80", 0, true },		/* U+0800 */
		{ "\xe2\x82\xac", 0, true },		/* € */
		{ "\xed\x9f\xbf", 0, true },		/* U+D7FF */
		{ "\xee\x80\x80", 0, true },		/* U+E000 */
		{ "\xef\xbf\xbd", 0, true },		/* U+FFFD */
		{ "\xef\xbf\xbf", 0, true },		/* U+FFFF */
		{ "\xf0\x90\x80\x80", 0, true },	/* U+10000 */
		{ "\xf0\x9f\x98\x80", 0, true },	/* 😀 */
		{ "\xf4\x8f\xbf\xbf", 0, true },	/* U+10FFFF */
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!", 0, true },
		{ "\xc0\x80", 0, false },		/* overlong NUL */
		{ "\xc0\xaf", 0, false },
		{ "\xc1\xbf", 0, false },
		{ "\xe0\x80\x80", 0, false },		/* overlong 3-byte */
		{ "\xe0\x9f\xbf", 0, false },
		{ "\xf0\x80\x80\x80", 0, false },	/* overlong 4-byte */
		{ "\xf0\x8f\xbf\xbf", 0, false },
		{ "\xed\xa0\x80", 0, false },		/* U+D800 */
		{ "\xed\xaf\xbf", 0, false },		/* U+DBFF */
		{ "\xed\xb0\x80", 0, false },		/* U+DC00 */
		{ "\xed\xbf\xbf", 0, false },		/* U+DFFF */
		{ "\xed\xa0\xbd\xed\xb8\x80", 0, false }, /* CESU pair */
		{ "\xf4\x90\x80\x80", 0, false },	/* U+110000 */
		{ "\xf5\x80\x80\x80", 0, false },
		{ "\xf7\xbf\xbf\xbf", 0, false },
		{ "\xf8\x88\x80\x80\x80", 0, false },	/* 5-byte form */
		{ "\xfc\x84\x80\x80\x80\x80", 0, false },
		{ "\xfe", 0, false },
		{ "\xff", 0, false },
		{ "\x80", 0, false },			/* lone continuation */
		{ "\xbf", 0, false },
		{ "a\x80" "b", 0, false },
		{ "\xc3\xa9\xa9", 0, false },		/* extra continuation */
		{ "\xc3", 0, false },			/* truncated at end */
		{ "ab\xc3", 0, false },
		{ "\xe2\x82", 0, false },
		{ "\xe2", 0, false },
		{ "\xf0\x9f\x98", 0, false },
		{ "\xf0\x9f", 0, false },
		{ "\xf0", 0, false },
		{ "\xc3" "a", 0, false },		/* truncated mid-text */
		{ "\xe2\x82" "a", 0, false },
		{ "\xe2" "a\x82", 0, false },
		{ "\xf0\x9f\x98" "a", 0, false },
		{ "\xc3\0", 2, false },
	};
	char what[100];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = cases[i].n ? cases[i].n : strlen(cases[i].s);
		snprintf(what, sizeof what, "utf8 case %zu -> %s", i,
		    cases[i].ok ? "valid" : "invalid");
		T_EQ_INT(sio_utf8_valid((const uint8_t *)cases[i].s, n),
		    cases[i].ok, what);
	}

	/* Truncation at the end of the buffer, not of the string. */
	const uint8_t *e = (const uint8_t *)"\xe2\x82\xac";
	T_OK(sio_utf8_valid(e, 3), "euro whole");
	T_OK(!sio_utf8_valid(e, 2), "euro cut at 2");
	T_OK(!sio_utf8_valid(e, 1), "euro cut at 1");
	T_OK(sio_utf8_valid(e, 0), "length 0");
	const uint8_t *g = (const uint8_t *)"\xf0\x9f\x98\x80";
	T_OK(sio_utf8_valid(g, 4) && !sio_utf8_valid(g, 3),
	    "4-byte cut at 3");

	/* Every code point, encoded by hand, is valid; surrogates are not. */
	int bad = 0;
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		uint8_t u[4];
		size_t n;
		if (cp < 0x80) {
			u[0] = (uint8_t)cp;
			n = 1;
		} else if (cp < 0x800) {
			u[0] = (uint8_t)(0xc0 | cp >> 6);
			u[1] = (uint8_t)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			u[0] = (uint8_t)(0xe0 | cp >> 12);
			u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
			u[2] = (uint8_t)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			u[0] = (uint8_t)(0xf0 | cp >> 18);
			u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
			u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
			u[3] = (uint8_t)(0x80 | (cp & 0x3f));
			n = 4;
		}
		bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
		if (sio_utf8_valid(u, n) == surrogate)
			bad++;
	}
	T_EQ_INT(bad, 0, "every code point: valid unless a surrogate");
}

/* ---- sio_parse_long ---------------------------------------------------- */

static void
test_parse_long(void)
{
	static const struct {
		const char *s;
		long min, max;
		bool ok;
		long v;
	} cases[] = {
		{ "0", 0, 10, true, 0 },
		{ "10", 0, 10, true, 10 },
		{ "3000", 1, 65535, true, 3000 },
		{ "65535", 1, 65535, true, 65535 },
		{ "-5", -10, 10, true, -5 },
		{ "-10", -10, 10, true, -10 },
		{ "007", 0, 10, true, 7 },
		{ "9223372036854775807", 0, LONG_MAX, true, LONG_MAX },
		{ "-9223372036854775808", LONG_MIN, 0, true, LONG_MIN },
		{ "11", 0, 10, false, 0 },
		{ "-1", 0, 10, false, 0 },
		{ "0", 1, 65535, false, 0 },
		{ "65536", 1, 65535, false, 0 },
		{ "-11", -10, 10, false, 0 },
		{ "9223372036854775808", 0, LONG_MAX, false, 0 },
		{ "99999999999999999999", LONG_MIN, LONG_MAX, false, 0 },
		{ "-99999999999999999999", LONG_MIN, LONG_MAX, false, 0 },
		{ "", 0, 10, false, 0 },
		{ "a", 0, 10, false, 0 },
		{ "5a", 0, 10, false, 0 },
		{ "a5", 0, 10, false, 0 },
		{ "5 ", 0, 10, false, 0 },
		{ "5\n", 0, 10, false, 0 },
		{ "0x5", 0, 10, false, 0 },
		{ "1.5", 0, 10, false, 0 },
		{ "1e3", 0, 10000, false, 0 },
		{ "-", 0, 10, false, 0 },
		{ "--5", -10, 10, false, 0 },
	};
	char what[200];
	long v;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		v = 77;
		bool ok = sio_parse_long(cases[i].s, cases[i].min,
		    cases[i].max, &v);
		snprintf(what, sizeof what, "parse_long(\"%s\", %ld, %ld) -> %d",
		    show(cases[i].s), cases[i].min, cases[i].max, cases[i].ok);
		T_EQ_INT(ok, cases[i].ok, what);
		T_EQ_INT(v, cases[i].ok ? cases[i].v : 77,
		    ok ? "value" : "out untouched on failure");
	}
	v = 77;
	T_OK(!sio_parse_long(NULL, 0, 10, &v) && v == 77, "parse_long(NULL)");

	/* A failed parse must not leave errno tripping the next one. */
	T_OK(!sio_parse_long("99999999999999999999", 0, LONG_MAX, &v),
	    "overflow");
	T_OK(sio_parse_long("5", 0, 10, &v) && v == 5, "next parse after ERANGE");
}

/* ---- pkt ---------------------------------------------------------------- */

static void
test_pkt(void)
{
	struct sio_pkt *p;
	const uint8_t *f;
	size_t n;

	p = sio_pkt_text('4', "hello", 5);
	T_OK(p->refs == 1 && !p->binary && p->hlen == 0 && p->b64 == NULL,
	    "text: fresh");
	T_EQ_MEM(sio_pkt_data(p), p->len, "4hello", "text data \"4hello\"");
	f = sio_pkt_ws_frame(p, &n);
	T_EQ_INT(n, 8, "text frame length 2 + 6");
	T_OK(f[0] == 0x81 && f[1] == 0x06, "text frame header 81 06");
	T_EQ_MEM(f + 2, n - 2, "4hello", "text frame payload");
	T_OK(f + 2 == sio_pkt_data(p), "frame sits in front of the data");
	T_EQ_INT(p->hlen, 2, "hlen recorded");
	size_t n2;
	T_OK(sio_pkt_ws_frame(p, &n2) == f && n2 == n, "framed once");
	f = sio_pkt_poll_form(p, &n);
	T_EQ_MEM(f, n, "4hello", "text poll form is the text");
	T_OK(f == sio_pkt_data(p) && p->b64 == NULL, "text poll form no copy");

	/* refcounts */
	T_OK(sio_pkt_ref(p) == p && p->refs == 2, "ref");
	sio_pkt_ref(p);
	sio_pkt_unref(p);
	sio_pkt_unref(p);
	T_EQ_INT(p->refs, 1, "two unrefs");
	sio_pkt_unref(p);
	sio_pkt_unref(NULL);
	T_OK(1, "unref NULL");

	p = sio_pkt_text('3', NULL, 0);
	T_EQ_MEM(sio_pkt_data(p), p->len, "3", "text with empty body");
	f = sio_pkt_ws_frame(p, &n);
	T_OK(n == 3 && f[0] == 0x81 && f[1] == 0x01 && f[2] == '3',
	    "pong frame 81 01 '3'");
	sio_pkt_unref(p);

	p = sio_pkt_from(false, "", 0);
	f = sio_pkt_ws_frame(p, &n);
	T_OK(n == 2 && f[0] == 0x81 && f[1] == 0x00, "empty text frame");
	sio_pkt_unref(p);

	/* binary {1,2,3,4} */
	static const uint8_t four[] = { 1, 2, 3, 4 };
	p = sio_pkt_from(true, four, 4);
	T_OK(p->binary && p->len == 4 && memcmp(sio_pkt_data(p), four, 4) == 0,
	    "binary from");
	f = sio_pkt_poll_form(p, &n);
	T_EQ_MEM(f, n, "bAQIDBA==", "binary poll form b<base64>");
	T_OK(sio_pkt_poll_form(p, &n2) == f && n2 == n,
	    "poll form computed once");
	f = sio_pkt_ws_frame(p, &n);
	T_OK(n == 6 && f[0] == 0x82 && f[1] == 0x04 &&
	    memcmp(f + 2, four, 4) == 0, "binary frame 82 04 01 02 03 04");
	/* A shared packet with its b64 freed by the last holder. */
	sio_pkt_ref(p);
	sio_pkt_unref(p);
	T_OK(p->b64 != NULL, "b64 kept while referenced");
	sio_pkt_unref(p);

	p = sio_pkt_from(true, NULL, 0);
	f = sio_pkt_poll_form(p, &n);
	T_EQ_MEM(f, n, "b", "empty binary poll form \"b\"");
	f = sio_pkt_ws_frame(p, &n);
	T_OK(n == 2 && f[0] == 0x82 && f[1] == 0x00, "empty binary frame");
	sio_pkt_unref(p);

	/* Length encodings: 7-bit, 16-bit, 64-bit. */
	static const struct {
		size_t len;
		bool binary;
		uint8_t hdr[10];
		size_t hlen;
	} lens[] = {
		{ 125, false, { 0x81, 0x7d }, 2 },
		{ 126, false, { 0x81, 0x7e, 0x00, 0x7e }, 4 },
		{ 200, true, { 0x82, 0x7e, 0x00, 0xc8 }, 4 },
		{ 65535, true, { 0x82, 0x7e, 0xff, 0xff }, 4 },
		{ 65536, false, { 0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 },
		    10 },
		{ 70000, true, { 0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70 },
		    10 },
	};
	char what[100];
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		uint8_t *buf = malloc(lens[i].len);
		for (size_t k = 0; k < lens[i].len; k++)
			buf[k] = (uint8_t)(lens[i].binary ? k * 7 : 'a' + k % 26);
		p = sio_pkt_from(lens[i].binary, buf, lens[i].len);
		f = sio_pkt_ws_frame(p, &n);
		snprintf(what, sizeof what, "%s frame of %zu: header",
		    lens[i].binary ? "binary" : "text", lens[i].len);
		T_OK(n == lens[i].hlen + lens[i].len &&
		    memcmp(f, lens[i].hdr, lens[i].hlen) == 0, what);
		snprintf(what, sizeof what, "%s frame of %zu: payload",
		    lens[i].binary ? "binary" : "text", lens[i].len);
		T_OK(memcmp(f + lens[i].hlen, buf, lens[i].len) == 0, what);
		if (lens[i].binary) {
			struct sio_buf want = SIO_BUF_INIT;
			sio_buf_addc(&want, 'b');
			sio_base64_encode(&want, buf, lens[i].len);
			f = sio_pkt_poll_form(p, &n);
			snprintf(what, sizeof what, "binary %zu: poll form",
			    lens[i].len);
			T_OK(n == want.len && memcmp(f, want.data, n) == 0,
			    what);
			sio_buf_free(&want);
		}
		/* Several holders; the last unref frees (valgrind). */
		sio_pkt_ref(p);
		sio_pkt_ref(p);
		sio_pkt_unref(p);
		sio_pkt_unref(p);
		sio_pkt_unref(p);
		free(buf);
	}
}

int
main(void)
{
	test_buf();
	test_rc();
	test_random_id();
	test_base64();
	test_base64url();
	test_utf8();
	test_parse_long();
	test_pkt();
	T_DONE();
}
