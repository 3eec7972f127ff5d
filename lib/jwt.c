#include "jwt.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* A key file is a secret or one PEM block: anything bigger is a mistake. */
#define KEYFILE_MAX (64 * 1024)
/* Header and claims are flat; custom claims may nest a little. */
#define JSON_DEPTH 16

enum jwt_alg { ALG_HS256, ALG_RS256, ALG_ES256 };

static const char *const alg_names[] = { "HS256", "RS256", "ES256" };

struct sio_jwt {
	enum jwt_alg alg;
	unsigned char *secret;		/* HS256 */
	size_t secretlen;
	EVP_PKEY *pkey;			/* RS256, ES256 */
	double leeway;
};

static int fail(char *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(char *err, int rc, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, SIO_ERRLEN, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ---- loading the key ---------------------------------------------------- */

/*
 * Reads the whole of path into a fresh buffer of KEYFILE_MAX + 1 bytes
 * (one allocation, so a secret is never left behind by a realloc); the
 * caller cleanses and frees it.
 */
static unsigned char *
read_keyfile(const char *path, size_t *len, char *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fail(err, SIO_ESYS, "%.200s: %s", path, strerror(errno));
		return NULL;
	}
	unsigned char *data = sio_xmalloc(KEYFILE_MAX + 1);
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, data + n, KEYFILE_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fail(err, SIO_ESYS, "%.200s: %s", path, strerror(errno));
			break;
		}
		if (r == 0) {
			close(fd);
			*len = n;
			return data;
		}
		n += (size_t)r;
		if (n > KEYFILE_MAX) {
			fail(err, SIO_ELIMIT, "%.200s: larger than %d bytes; "
			    "not a key", path, KEYFILE_MAX);
			break;
		}
	}
	close(fd);
	OPENSSL_cleanse(data, KEYFILE_MAX + 1);
	free(data);
	return NULL;
}

static bool
load_secret(struct sio_jwt *v, const char *path, const unsigned char *data,
    size_t n, char *err)
{
	if (n > 0 && data[n - 1] == '\n') {
		n--;
		if (n > 0 && data[n - 1] == '\r')
			n--;
	}
	if (n == 0) {
		fail(err, SIO_EINVAL, "%.200s: the HS256 secret is empty", path);
		return false;
	}
	/* Pointing HS256 at the RSA public key is how key confusion starts. */
	if (memmem(data, n, "-----BEGIN ", 11)) {
		fail(err, SIO_EINVAL, "%.200s: holds a PEM block, not an HS256 "
		    "secret", path);
		return false;
	}
	if (n < SIO_JWT_MIN_SECRET) {
		fail(err, SIO_EINVAL, "%.200s: the HS256 secret is %zu bytes; "
		    "at least %d are needed (RFC 7518)", path, n,
		    SIO_JWT_MIN_SECRET);
		return false;
	}
	v->secret = sio_xmalloc(n);
	memcpy(v->secret, data, n);
	v->secretlen = n;
	return true;
}

static EVP_PKEY *
read_pem_pubkey(const char *path, const unsigned char *data, size_t n,
    char *err)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio = BIO_new_mem_buf(data, (int)n);

	if (!bio) {
		fail(err, SIO_ENOMEM, "%.200s: out of memory", path);
		return NULL;
	}
	if (memmem(data, n, "PRIVATE KEY-----", 16)) {
		fail(err, SIO_EINVAL, "%.200s: holds a private key; give the "
		    "hub the public key only", path);
	} else if (memmem(data, n, "-----BEGIN CERTIFICATE-----", 27)) {
		X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (cert)
			pkey = X509_get_pubkey(cert);
		X509_free(cert);
		if (!pkey)
			fail(err, SIO_EINVAL, "%.200s: unreadable PEM "
			    "certificate", path);
	} else if (memmem(data, n, "-----BEGIN RSA PUBLIC KEY-----", 30)) {
		/* One accepted form (SPKI) keeps the loader small; say
		 * how to get it rather than just "no key". */
		fail(err, SIO_EINVAL, "%.200s: holds a PKCS#1 RSA key; convert "
		    "it with 'openssl rsa -RSAPublicKey_in -pubout'", path);
	} else {
		pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		if (!pkey)
			fail(err, SIO_EINVAL, "%.200s: no PEM public key "
			    "(BEGIN PUBLIC KEY) in it", path);
	}
	BIO_free(bio);
	ERR_clear_error();
	return pkey;
}

/* The key must suit the algorithm: checked once, here, not per token. */
static bool
check_key_type(enum jwt_alg alg, EVP_PKEY *pkey, const char *path, char *err)
{
	const char *type = EVP_PKEY_get0_type_name(pkey);

	if (!type)
		type = "unknown";
	if (alg == ALG_RS256) {
		if (!EVP_PKEY_is_a(pkey, "RSA")) {
			fail(err, SIO_EINVAL, "%.200s: RS256 needs an RSA key, "
			    "this is %.20s", path, type);
			return false;
		}
		if (EVP_PKEY_get_bits(pkey) < SIO_JWT_MIN_RSA_BITS) {
			fail(err, SIO_EINVAL, "%.200s: the RSA key has %d bits; "
			    "at least %d are needed (RFC 7518)", path,
			    EVP_PKEY_get_bits(pkey), SIO_JWT_MIN_RSA_BITS);
			return false;
		}
		return true;
	}
	char group[64] = "";
	size_t glen = 0;
	if (!EVP_PKEY_is_a(pkey, "EC")) {
		fail(err, SIO_EINVAL, "%.200s: ES256 needs an EC P-256 key, "
		    "this is %.20s", path, type);
		return false;
	}
	if (!EVP_PKEY_get_group_name(pkey, group, sizeof group, &glen) ||
	    (strcmp(group, "prime256v1") != 0 &&
	    strcasecmp(group, "P-256") != 0)) {
		ERR_clear_error();
		fail(err, SIO_EINVAL, "%.200s: ES256 needs an EC key on P-256, "
		    "this one is on %.40s", path, group[0] ? group : "?");
		return false;
	}
	return true;
}

struct sio_jwt *
sio_jwt_new(const char *alg, const char *keyfile, char *err)
{
	struct sio_jwt *v;
	int a;

	for (a = 0; a < 3; a++)
		if (alg && strcmp(alg, alg_names[a]) == 0)
			break;
	if (a == 3) {
		fail(err, SIO_EINVAL, "unsupported JWT algorithm '%.20s' "
		    "(HS256, RS256 or ES256)", alg ? alg : "");
		return NULL;
	}
	if (!keyfile || !*keyfile) {
		fail(err, SIO_EINVAL, "%s needs a key file", alg_names[a]);
		return NULL;
	}
	size_t n;
	unsigned char *data = read_keyfile(keyfile, &n, err);
	if (!data)
		return NULL;
	v = sio_xcalloc(1, sizeof *v);
	v->alg = (enum jwt_alg)a;
	bool ok;
	if (v->alg == ALG_HS256) {
		ok = load_secret(v, keyfile, data, n, err);
	} else {
		v->pkey = read_pem_pubkey(keyfile, data, n, err);
		ok = v->pkey && check_key_type(v->alg, v->pkey, keyfile, err);
	}
	OPENSSL_cleanse(data, KEYFILE_MAX + 1);
	free(data);
	if (!ok) {
		sio_jwt_free(v);
		return NULL;
	}
	return v;
}

void
sio_jwt_free(struct sio_jwt *v)
{
	if (!v)
		return;
	if (v->secret) {
		OPENSSL_cleanse(v->secret, v->secretlen);
		free(v->secret);
	}
	EVP_PKEY_free(v->pkey);
	free(v);
}

void
sio_jwt_set_leeway(struct sio_jwt *v, int seconds)
{
	v->leeway = seconds > 0 ? seconds : 0;
}

const char *
sio_jwt_alg(const struct sio_jwt *v)
{
	return alg_names[v->alg];
}

/* ---- signatures --------------------------------------------------------- */

static bool
verify_hs256(const struct sio_jwt *v, const char *input, size_t n,
    const unsigned char *sig, size_t siglen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (!HMAC(EVP_sha256(), v->secret, (int)v->secretlen,
	    (const unsigned char *)input, n, mac, &maclen))
		return false;
	return siglen == maclen && CRYPTO_memcmp(mac, sig, maclen) == 0;
}

static bool
verify_pkey(EVP_PKEY *pkey, const char *input, size_t n,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx &&
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)input,
	    n) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/*
 * JWS carries an ECDSA signature as r and s, 32 bytes each, big-endian
 * (RFC 7518 section 3.4); OpenSSL verifies the DER form.
 */
static bool
verify_es256(EVP_PKEY *pkey, const char *input, size_t n,
    const unsigned char *sig, size_t siglen)
{
	if (siglen != 64)
		return false;
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL);
	BIGNUM *s = BN_bin2bn(sig + 32, 32, NULL);
	unsigned char *der = NULL;
	int derlen = -1;

	if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
		r = s = NULL;		/* es owns them now */
		derlen = i2d_ECDSA_SIG(es, &der);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	bool ok = derlen > 0 && verify_pkey(pkey, input, n, der,
	    (size_t)derlen);
	OPENSSL_free(der);
	return ok;
}

static bool
verify_signature(const struct sio_jwt *v, const char *input, size_t n,
    const unsigned char *sig, size_t siglen)
{
	bool ok;

	switch (v->alg) {
	case ALG_HS256:
		ok = verify_hs256(v, input, n, sig, siglen);
		break;
	case ALG_RS256:
		/* RFC 8017: the signature is exactly as long as the modulus. */
		ok = siglen == (size_t)EVP_PKEY_get_size(v->pkey) &&
		    verify_pkey(v->pkey, input, n, sig, siglen);
		break;
	default:
		ok = verify_es256(v->pkey, input, n, sig, siglen);
		break;
	}
	/* A failed verify queues errors the hub's TLS code would trip on. */
	ERR_clear_error();
	return ok;
}

/* ---- header and claims -------------------------------------------------- */

/*
 * The value of key in object obj: *at is its token or -1 when absent.
 * Fails on a repeated key: parsers disagree on which copy wins, so a
 * second "alg" or "exp" is a way to say two things at once (RFC 7515
 * section 4 allows refusing).
 */
static int
member(const struct sio_json *doc, const char *text, const char *key,
    int *at, char *err)
{
	uint32_t k = 1;		/* the root object's first key */

	*at = -1;
	for (uint32_t j = 0; j < doc->tok[0].size; j++) {
		if (sio_json_str_eq(doc, text, (int)k, key)) {
			if (*at >= 0)
				return fail(err, SIO_EPROTO, "malformed token: "
				    "duplicate %s", key);
			*at = (int)k + 1;
		}
		k = doc->tok[k + 1].next;
	}
	return SIO_OK;
}

/* Decodes segment s[0..n) and parses it as a JSON object into doc. */
static int
decode_object(struct sio_buf *raw, struct sio_json *doc, const char *s,
    size_t n, const char *what, char *err)
{
	if (sio_base64url_decode(raw, s, n) != SIO_OK)
		return fail(err, SIO_EPROTO, "malformed token: %s is not "
		    "base64url", what);
	int rc = sio_json_parse(doc, raw->data, raw->len, JSON_DEPTH, NULL);
	if (rc == SIO_ELIMIT)
		return fail(err, SIO_ELIMIT, "token %s nested too deeply", what);
	if (rc != SIO_OK)
		return fail(err, SIO_EPROTO, "malformed token: %s is not JSON",
		    what);
	if (doc->tok[0].type != SIO_JSON_OBJECT)
		return fail(err, SIO_EPROTO, "malformed token: %s is not a "
		    "JSON object", what);
	return SIO_OK;
}

/* An alg worth quoting back: short and plainly a name. */
static bool
quotable(const char *s, size_t n)
{
	if (n == 0 || n > 16)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '_' || s[i] == '+'))
			return false;
	return true;
}

static int
check_header(const struct sio_jwt *v, const struct sio_json *doc,
    const char *text, char *err)
{
	int at, rc;

	if ((rc = member(doc, text, "alg", &at, err)) != SIO_OK)
		return rc;
	if (at < 0)
		return fail(err, SIO_EPROTO, "malformed token: no alg");
	if (doc->tok[at].type != SIO_JSON_STRING)
		return fail(err, SIO_EPROTO, "malformed token: alg is not a "
		    "string");
	const char *want = alg_names[v->alg];
	if (!sio_json_str_eq(doc, text, at, want)) {
		struct sio_buf got = SIO_BUF_INIT;
		size_t n = sio_json_str_decode(doc, text, at, &got);
		if (quotable(got.data, n))
			fail(err, SIO_EPROTO, "token algorithm %s expected, "
			    "got %s", want, got.data);
		else
			fail(err, SIO_EPROTO, "token algorithm %s expected",
			    want);
		sio_buf_free(&got);
		return SIO_EPROTO;
	}

	if ((rc = member(doc, text, "typ", &at, err)) != SIO_OK)
		return rc;
	if (at >= 0) {
		struct sio_buf typ = SIO_BUF_INIT;
		bool ok = doc->tok[at].type == SIO_JSON_STRING;
		if (ok) {
			size_t n = sio_json_str_decode(doc, text, at, &typ);
			ok = (n == 3 && strcasecmp(typ.data, "JWT") == 0) ||
			    (n == 15 &&
			    strcasecmp(typ.data, "application/jwt") == 0);
		}
		sio_buf_free(&typ);
		if (!ok)
			return fail(err, SIO_EPROTO, "token type is not JWT");
	}

	if ((rc = member(doc, text, "crit", &at, err)) != SIO_OK)
		return rc;
	if (at >= 0)
		return fail(err, SIO_EPROTO, "token has critical header "
		    "parameters this server does not support");
	return SIO_OK;
}

/*
 * A NumericDate (RFC 7519 section 2): seconds, maybe fractional. The
 * text is NUL-terminated after the payload and a JSON number is a prefix
 * strtod accepts whole; under a locale whose decimal point is not '.'
 * a fraction stops early and the claim is refused, never misread.
 */
static int
numeric_date(const struct sio_json *doc, const char *text, int at,
    const char *name, double *out, char *err)
{
	if (doc->tok[at].type != SIO_JSON_NUMBER)
		return fail(err, SIO_EPROTO, "malformed token: %s is not a "
		    "number", name);
	char *end;
	double d = strtod(text + doc->tok[at].start, &end);
	if (end != text + doc->tok[at].end || !isfinite(d))
		return fail(err, SIO_EPROTO, "malformed token: %s is not a "
		    "usable number", name);
	*out = d;
	return SIO_OK;
}

/* Decodes string token at into a fresh C string; refuses NUL inside. */
static char *
dup_string(const struct sio_json *doc, const char *text, int at, size_t *len)
{
	struct sio_buf b = SIO_BUF_INIT;
	size_t n = sio_json_str_decode(doc, text, at, &b);
	if (memchr(b.data, '\0', n)) {
		sio_buf_free(&b);
		return NULL;
	}
	*len = n;
	return sio_buf_steal(&b, NULL);
}

static int
read_rooms(const struct sio_json *doc, const char *text, int at,
    struct sio_jwt_claims *c, char *err)
{
	if (doc->tok[at].type != SIO_JSON_ARRAY)
		return fail(err, SIO_EPROTO, "malformed token: rooms is not an "
		    "array of strings");
	uint32_t n = doc->tok[at].size;
	if (n > SIO_JWT_MAX_ROOMS)
		return fail(err, SIO_ELIMIT, "token names more than %d rooms",
		    SIO_JWT_MAX_ROOMS);
	c->rooms = sio_xcalloc((size_t)n + 1, sizeof *c->rooms);
	uint32_t e = (uint32_t)at + 1;
	for (uint32_t i = 0; i < n; i++, e = doc->tok[e].next) {
		size_t len = 0;
		if (doc->tok[e].type != SIO_JSON_STRING)
			return fail(err, SIO_EPROTO, "malformed token: rooms "
			    "is not an array of strings");
		char *room = dup_string(doc, text, (int)e, &len);
		if (!room)
			return fail(err, SIO_EPROTO, "token room name "
			    "contains NUL");
		if (len == 0 || len > SIO_JWT_MAX_ROOM_LEN) {
			free(room);
			if (len == 0)
				return fail(err, SIO_EPROTO, "token room name "
				    "is empty");
			return fail(err, SIO_ELIMIT, "token room name longer "
			    "than %d bytes", SIO_JWT_MAX_ROOM_LEN);
		}
		c->rooms[c->nrooms++] = room;
	}
	return SIO_OK;
}

static int
read_claims(const struct sio_jwt *v, const struct sio_json *doc,
    const char *text, double now, struct sio_jwt_claims *c, char *err)
{
	int at, rc;
	double nbf;

	if ((rc = member(doc, text, "exp", &at, err)) != SIO_OK)
		return rc;
	if (at >= 0) {
		if ((rc = numeric_date(doc, text, at, "exp", &c->exp, err)))
			return rc;
		/* RFC 7519 4.1.4: valid only before exp. */
		if (now >= c->exp + v->leeway)
			return fail(err, SIO_EPROTO, "token expired");
	}
	if ((rc = member(doc, text, "nbf", &at, err)) != SIO_OK)
		return rc;
	if (at >= 0) {
		if ((rc = numeric_date(doc, text, at, "nbf", &nbf, err)))
			return rc;
		if (now + v->leeway < nbf)
			return fail(err, SIO_EPROTO, "token not yet valid");
	}
	if ((rc = member(doc, text, "sub", &at, err)) != SIO_OK)
		return rc;
	if (at >= 0) {
		size_t len;
		if (doc->tok[at].type != SIO_JSON_STRING)
			return fail(err, SIO_EPROTO, "malformed token: sub is "
			    "not a string");
		if (!(c->sub = dup_string(doc, text, at, &len)))
			return fail(err, SIO_EPROTO, "token sub contains NUL");
	}
	if ((rc = member(doc, text, "rooms", &at, err)) != SIO_OK)
		return rc;
	if (at >= 0)
		return read_rooms(doc, text, at, c, err);
	return SIO_OK;
}

/* ---- the whole token ---------------------------------------------------- */

int
sio_jwt_verify(const struct sio_jwt *v, const char *token, size_t len,
    double now, struct sio_jwt_claims *out, char *err)
{
	struct sio_jwt_claims c = { NULL, NULL, 0, 0 };
	struct sio_buf raw = SIO_BUF_INIT;
	struct sio_json doc = SIO_JSON_INIT;
	int rc;

	if (out)
		memset(out, 0, sizeof *out);
	if (!v || !token)
		return fail(err, SIO_EINVAL, "no token");
	/* A NaN clock would pass every exp and nbf comparison. */
	if (!isfinite(now))
		return fail(err, SIO_EINVAL, "no clock to check the token with");
	if (len > SIO_JWT_MAX_LEN)
		return fail(err, SIO_ELIMIT, "token longer than %d bytes",
		    SIO_JWT_MAX_LEN);

	/* header.payload.signature, and nothing more. */
	const char *end = token + len;
	const char *d1 = memchr(token, '.', len);
	const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) : NULL;
	if (!d2 || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)))
		return fail(err, SIO_EPROTO, "malformed token: not three "
		    "dot-separated parts");

	rc = decode_object(&raw, &doc, token, (size_t)(d1 - token), "header",
	    err);
	if (rc == SIO_OK)
		rc = check_header(v, &doc, raw.data, err);
	if (rc != SIO_OK)
		goto out;

	/* The signature covers the first two parts as sent. */
	sio_buf_reset(&raw);
	if (sio_base64url_decode(&raw, d2 + 1, (size_t)(end - d2 - 1)) !=
	    SIO_OK) {
		rc = fail(err, SIO_EPROTO, "malformed token: signature is not "
		    "base64url");
		goto out;
	}
	if (!verify_signature(v, token, (size_t)(d2 - token),
	    (const unsigned char *)raw.data, raw.len)) {
		rc = fail(err, SIO_EPROTO, "bad token signature");
		goto out;
	}

	/* Only a signed payload is parsed further. */
	sio_buf_reset(&raw);
	rc = decode_object(&raw, &doc, d1 + 1, (size_t)(d2 - d1 - 1),
	    "payload", err);
	if (rc == SIO_OK)
		rc = read_claims(v, &doc, raw.data, now, &c, err);
out:
	sio_json_free(&doc);
	sio_buf_free(&raw);
	if (rc != SIO_OK || !out)
		sio_jwt_claims_free(&c);
	else
		*out = c;
	return rc;
}

void
sio_jwt_claims_free(struct sio_jwt_claims *c)
{
	if (!c)
		return;
	free(c->sub);
	if (c->rooms)
		for (size_t i = 0; i < c->nrooms; i++)
			free(c->rooms[i]);
	free(c->rooms);
	memset(c, 0, sizeof *c);
}
