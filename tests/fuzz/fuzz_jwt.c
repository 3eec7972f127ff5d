/*
 * fuzz_jwt: sio_jwt_verify on tokens a client could present. Three
 * verifiers are made once: HS256 with a fixed 40-byte secret, RS256 and
 * ES256 with keys generated at start (their public PEMs go through a
 * mkdtemp directory that is removed again as soon as they are loaded).
 *
 * The first input byte says what the rest is:
 *   bits 0-1  the verifier: HS256, RS256, ES256, or (3) all three in turn
 *   bit 6     a leeway of 30 s instead of none
 *   bit 7     clear: the rest is the token as sent.
 *             set: the rest is a claims payload (JSON text, any bytes)
 *             that is signed properly, with HS256 (verifier 0, 1 or 3)
 *             or ES256 (verifier 2), so the claims are read behind a
 *             valid signature. Bits 2-3 pick the header: {"alg":A,"typ":
 *             "JWT"}, {"alg":A}, {"typ":"application/jwt","alg":A}, or
 *             (3) the bytes before the first 0xff of the rest (the
 *             payload is what follows it).
 *
 * Checked: the result is SIO_OK, SIO_EPROTO or SIO_ELIMIT; on failure
 * the claims are zeroed and err is a non-empty message; on success sub
 * and the rooms are well-formed C strings within the limits of jwt.h,
 * they are what the payload says, exp has not passed and nbf has come
 * (leeway counted, to the second), and calling with
 * out == NULL gives the same result. An unsigned input (bit 7 clear)
 * never verifies under RS256 or ES256, and under HS256 only when its
 * signature is the HMAC of its first two parts. A token the harness
 * signed is never refused for its signature; once it verifies, one
 * changed signature character, or the other two verifiers, refuse it.
 * SIO_FUZZ_TRACE=1 prints each verification's result. Built by
 * tests/fuzz/run.sh.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "json.h"
#include "jwt.h"
#include "util.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_jwt: %s:%d: check failed: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000.0
#define LEEWAY 30

static const char secret[] = "fuzz_jwt HS256 secret, 40 bytes long....";
static const char *const algs[3] = { "HS256", "RS256", "ES256" };
static struct sio_jwt *ver[3];
static EVP_PKEY *rsa_key, *ec_key;
static bool trace;

/* ---- set-up ------------------------------------------------------------- */

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_jwt: init: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path);
}

static void
write_pubkey(const char *path, EVP_PKEY *k)
{
	FILE *f = fopen(path, "wb");
	if (!f || PEM_write_PUBKEY(f, k) != 1 || fclose(f) != 0)
		die(path);
}

static struct sio_jwt *
load(const char *alg, const char *path)
{
	char err[SIO_ERRLEN];
	struct sio_jwt *v = sio_jwt_new(alg, path, err);
	if (!v) {
		fprintf(stderr, "fuzz_jwt: init: sio_jwt_new %s: %s\n", alg, err);
		exit(1);
	}
	CHECK(strcmp(sio_jwt_alg(v), alg) == 0);
	return v;
}

/* ---- making tokens ------------------------------------------------------ */

static void
b64url(struct sio_buf *b, const uint8_t *p, size_t n)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		char q[4] = { a[v >> 18], a[v >> 12 & 63], a[v >> 6 & 63], a[v & 63] };
		sio_buf_add(b, q, 4);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[2] = { a[v >> 18], a[v >> 12 & 63] };
		sio_buf_add(b, q, 2);
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		char q[3] = { a[v >> 18], a[v >> 12 & 63], a[v >> 6 & 63] };
		sio_buf_add(b, q, 3);
	}
}

static void
hmac(const void *p, size_t n, uint8_t mac[32])
{
	unsigned int len = 0;
	CHECK(HMAC(EVP_sha256(), secret, (int)strlen(secret), p, n, mac, &len) &&
	    len == 32);
}

/* Signs input[0..n) with k: RSASSA-PKCS1-v1_5, or ECDSA as raw r || s. */
static void
sign_pkey(EVP_PKEY *k, const void *p, size_t n, struct sio_buf *sig)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t len = 0;

	CHECK(ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) == 1);
	CHECK(EVP_DigestSign(ctx, NULL, &len, p, n) == 1);
	uint8_t *der = malloc(len);
	CHECK(der && EVP_DigestSign(ctx, der, &len, p, n) == 1);
	EVP_MD_CTX_free(ctx);
	sio_buf_reset(sig);
	if (!EVP_PKEY_is_a(k, "EC")) {
		sio_buf_add(sig, der, len);
		free(der);
		return;
	}
	const uint8_t *q = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)len);
	CHECK(es != NULL);
	uint8_t rs[64];
	CHECK(BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32) == 32);
	CHECK(BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32) == 32);
	sio_buf_add(sig, rs, 64);
	ECDSA_SIG_free(es);
	free(der);
}

/* tok = b64url(hdr) "." b64url(pay) "." b64url(signature by alg a). */
static void
make_token(struct sio_buf *tok, int a, const void *hdr, size_t hlen,
    const void *pay, size_t plen)
{
	struct sio_buf sig = SIO_BUF_INIT;

	sio_buf_reset(tok);
	b64url(tok, hdr, hlen);
	sio_buf_addc(tok, '.');
	b64url(tok, pay, plen);
	if (a == 0) {
		uint8_t mac[32];
		hmac(tok->data, tok->len, mac);
		sio_buf_add(&sig, mac, 32);
	} else {
		sign_pkey(a == 1 ? rsa_key : ec_key, tok->data, tok->len, &sig);
	}
	sio_buf_addc(tok, '.');
	b64url(tok, (const uint8_t *)sig.data, sig.len);
	sio_buf_free(&sig);
}

/* ---- checks ------------------------------------------------------------- */

static bool
zeroed(const struct sio_jwt_claims *c)
{
	return c->sub == NULL && c->rooms == NULL && c->nrooms == 0 && c->exp == 0;
}

/* A C string of 1..max bytes (any length when max is 0), valid UTF-8. */
static void
check_cstr(const char *s, size_t max)
{
	size_t n = strlen(s);
	CHECK(max == 0 || (n >= 1 && n <= max));
	CHECK(sio_utf8_valid((const uint8_t *)s, n));
}

static void
check_claims(const struct sio_jwt_claims *c, double leeway)
{
	if (c->sub)
		check_cstr(c->sub, 0);
	if (c->rooms) {
		CHECK(c->nrooms <= SIO_JWT_MAX_ROOMS);
		for (size_t i = 0; i < c->nrooms; i++) {
			CHECK(c->rooms[i] != NULL);
			check_cstr(c->rooms[i], SIO_JWT_MAX_ROOM_LEN);
		}
		CHECK(c->rooms[c->nrooms] == NULL);
	} else {
		CHECK(c->nrooms == 0);
	}
	CHECK(isfinite(c->exp));
	CHECK(c->exp == 0 || NOW < c->exp + leeway);
}

/* The claims are what the payload text says. */
static void
check_against(const struct sio_jwt_claims *c, const char *pay, size_t n,
    double leeway)
{
	static struct sio_json doc = SIO_JSON_INIT;
	struct sio_buf s = SIO_BUF_INIT;

	/* An exact-size, NUL-terminated copy for strtod. */
	char *text = malloc(n + 1);
	memcpy(text, pay, n);
	text[n] = '\0';
	CHECK(sio_json_parse(&doc, text, n, 16, NULL) == SIO_OK);
	CHECK(doc.tok[0].type == SIO_JSON_OBJECT);

	int at = sio_json_get(&doc, text, 0, "sub");
	CHECK((at >= 0) == (c->sub != NULL));
	if (at >= 0) {
		size_t m = sio_json_str_decode(&doc, text, at, &s);
		CHECK(m == strlen(c->sub) && memcmp(s.data, c->sub, m) == 0);
	}
	at = sio_json_get(&doc, text, 0, "rooms");
	CHECK((at >= 0) == (c->rooms != NULL));
	if (at >= 0) {
		CHECK(doc.tok[at].type == SIO_JSON_ARRAY && doc.tok[at].size == c->nrooms);
		for (uint32_t i = 0; i < c->nrooms; i++) {
			sio_buf_reset(&s);
			int e = sio_json_at(&doc, at, i);
			size_t m = sio_json_str_decode(&doc, text, e, &s);
			CHECK(m == strlen(c->rooms[i]) && memcmp(s.data, c->rooms[i], m) == 0);
		}
	}
	at = sio_json_get(&doc, text, 0, "exp");
	if (at >= 0)
		CHECK(c->exp == strtod(text + doc.tok[at].start, NULL));
	else
		CHECK(c->exp == 0);
	/* RFC 7519 4.1.5: not before nbf. */
	at = sio_json_get(&doc, text, 0, "nbf");
	if (at >= 0)
		CHECK(strtod(text + doc.tok[at].start, NULL) <= NOW + leeway);
	sio_buf_free(&s);
	free(text);
}

/*
 * Verifies tok[0..n) with verifier a; checks what any call must give and
 * returns the result (claims in *c, err in err).
 */
static int
verify(int a, const char *tok, size_t n, struct sio_jwt_claims *c, char *err)
{
	/* An exact-size copy: any read past the end is an ASan report. */
	char *copy = malloc(n ? n : 1);
	memcpy(copy, tok, n);
	memset(c, 0xa5, sizeof *c);	/* must be overwritten either way */
	err[0] = '\0';
	int rc = sio_jwt_verify(ver[a], copy, n, NOW, c, err);
	if (trace)
		fprintf(stderr, "fuzz_jwt: %s %.*s: %s\n", algs[a], (int)(n < 200 ? n : 200),
		    copy, rc == SIO_OK ? "ok" : err);
	CHECK(rc == SIO_OK || rc == SIO_EPROTO || rc == SIO_ELIMIT);
	if (rc != SIO_OK) {
		CHECK(zeroed(c));
		CHECK(err[0] != '\0' && strnlen(err, SIO_ERRLEN) < SIO_ERRLEN);
		if (n > SIO_JWT_MAX_LEN)
			CHECK(rc == SIO_ELIMIT);
	}
	/* Without somewhere to put the claims, the same answer. */
	char err2[SIO_ERRLEN];
	CHECK(sio_jwt_verify(ver[a], copy, n, NOW, NULL, err2) == rc);
	free(copy);
	return rc;
}

static double
leeway_of(uint8_t ctl)
{
	return ctl & 0x40 ? LEEWAY : 0;
}

static void
set_leeway(uint8_t ctl)
{
	for (int a = 0; a < 3; a++)
		sio_jwt_set_leeway(ver[a], (int)leeway_of(ctl));
}

/* The token as sent: it verifies only with a real signature. */
static void
fuzz_raw(uint8_t ctl, const char *tok, size_t n)
{
	int which = ctl & 3;
	struct sio_jwt_claims c;
	char err[SIO_ERRLEN];

	for (int a = 0; a < 3; a++) {
		if (which != 3 && which != a)
			continue;
		int rc = verify(a, tok, n, &c, err);
		if (rc != SIO_OK)
			continue;
		check_claims(&c, leeway_of(ctl));
		/* No RSA or EC key of this run is in any input. */
		CHECK(a == 0);
		const char *d2 = (const char *)memrchr(tok, '.', n);
		struct sio_buf want = SIO_BUF_INIT;
		uint8_t mac[32];
		hmac(tok, (size_t)(d2 - tok), mac);
		b64url(&want, mac, 32);
		CHECK(n - (size_t)(d2 + 1 - tok) == want.len &&
		    memcmp(d2 + 1, want.data, want.len) == 0);
		sio_buf_free(&want);
		sio_jwt_claims_free(&c);
		CHECK(zeroed(&c));
	}
}

/* The rest is a payload (maybe after a header): sign it, then verify. */
static void
fuzz_signed(uint8_t ctl, const uint8_t *p, size_t n)
{
	int a = (ctl & 3) == 2 ? 2 : 0;
	const uint8_t *hdr = NULL, *pay = p;
	size_t hlen = 0, plen = n;
	char fixed[64];
	struct sio_buf tok = SIO_BUF_INIT;
	struct sio_jwt_claims c;
	char err[SIO_ERRLEN];

	switch (ctl >> 2 & 3) {
	case 0:
		hlen = (size_t)snprintf(fixed, sizeof fixed,
		    "{\"alg\":\"%s\",\"typ\":\"JWT\"}", algs[a]);
		break;
	case 1:
		hlen = (size_t)snprintf(fixed, sizeof fixed, "{\"alg\":\"%s\"}", algs[a]);
		break;
	case 2:
		hlen = (size_t)snprintf(fixed, sizeof fixed,
		    "{\"typ\":\"application/jwt\",\"alg\":\"%s\"}", algs[a]);
		break;
	default: {
		const uint8_t *ff = memchr(p, 0xff, n);
		if (!ff)
			return;
		hdr = p;
		hlen = (size_t)(ff - p);
		pay = ff + 1;
		plen = n - hlen - 1;
		break;
	}
	}
	if (!hdr)
		hdr = (const uint8_t *)fixed;
	make_token(&tok, a, hdr, hlen, pay, plen);

	int rc = verify(a, tok.data, tok.len, &c, err);
	if (rc != SIO_OK) {
		/* Whatever is wrong, it is not the signature. (The message
		 * may quote the header's alg, so match it whole.) */
		CHECK(strcmp(err, "bad token signature") != 0);
		CHECK(strcmp(err, "malformed token: signature is not base64url") != 0);
		sio_buf_free(&tok);
		return;
	}
	check_claims(&c, leeway_of(ctl));
	check_against(&c, (const char *)pay, plen, leeway_of(ctl));
	sio_jwt_claims_free(&c);
	CHECK(zeroed(&c));

	/* The first signature character carries 6 bits of its first byte. */
	char *s = (char *)memrchr(tok.data, '.', tok.len) + 1;
	CHECK(s < tok.data + tok.len);
	char was = *s;
	*s = was == 'A' ? 'B' : 'A';
	CHECK(verify(a, tok.data, tok.len, &c, err) == SIO_EPROTO);
	*s = was;
	/* One key, one algorithm: the other verifiers refuse it. */
	for (int b = 0; b < 3; b++)
		if (b != a)
			CHECK(verify(b, tok.data, tok.len, &c, err) == SIO_EPROTO);
	sio_buf_free(&tok);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	trace = getenv("SIO_FUZZ_TRACE") != NULL;
	const char *tmp = getenv("TMPDIR");
	char dir[4096], hs[4200], rs[4200], es[4200];

	snprintf(dir, sizeof dir, "%s/fuzz_jwt.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(hs, sizeof hs, "%s/hs256.key", dir);
	snprintf(rs, sizeof rs, "%s/rs256.pem", dir);
	snprintf(es, sizeof es, "%s/es256.pem", dir);

	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!rsa_key || !ec_key)
		die("key generation");
	write_file(hs, secret, strlen(secret));
	write_pubkey(rs, rsa_key);
	write_pubkey(es, ec_key);
	ver[0] = load("HS256", hs);
	ver[1] = load("RS256", rs);
	ver[2] = load("ES256", es);
	/* The verifiers hold their keys: the files can go. */
	unlink(hs);
	unlink(rs);
	unlink(es);
	rmdir(dir);

	/* The harness signs as the verifiers expect, or it fuzzes nothing. */
	static const char pay[] = "{\"sub\":\"init\",\"rooms\":[\"r\"]}";
	struct sio_buf tok = SIO_BUF_INIT;
	struct sio_jwt_claims c;
	char err[SIO_ERRLEN];
	for (int a = 0; a < 3; a++) {
		char hdr[64];
		int hn = snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\"}", algs[a]);
		make_token(&tok, a, hdr, (size_t)hn, pay, strlen(pay));
		if (sio_jwt_verify(ver[a], tok.data, tok.len, NOW, &c, err) != SIO_OK) {
			fprintf(stderr, "fuzz_jwt: init: own %s token refused: %s\n",
			    algs[a], err);
			exit(1);
		}
		CHECK(c.sub && strcmp(c.sub, "init") == 0 && c.nrooms == 1);
		sio_jwt_claims_free(&c);
	}
	sio_buf_free(&tok);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t ctl = data[0];
	set_leeway(ctl);
	if (ctl & 0x80)
		fuzz_signed(ctl, data + 1, size - 1);
	else
		fuzz_raw(ctl, (const char *)data + 1, size - 1);
	return 0;
}
