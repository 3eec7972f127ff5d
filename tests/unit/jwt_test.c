#include "jwt.h"
#include "t.h"

#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/*
 * Every token here is made in the test: keys come from EVP_PKEY_Q_keygen,
 * signatures from HMAC() and EVP_DigestSign, so the verifier is checked
 * against OpenSSL's signers rather than against itself.
 */

#define NOW 1700000000.0
#define SECRET "0123456789abcdef0123456789abcdef-hub"

static char dir[64];
static char paths[32][128];
static int npaths;

static EVP_PKEY *rsa, *rsa2, *ec, *ec2;

/* ---- fixtures --------------------------------------------------------- */

static const char *
tmpfile_path(const char *name)
{
	snprintf(paths[npaths], sizeof paths[0], "%s/%s", dir, name);
	return paths[npaths++];
}

static const char *
write_file(const char *name, const void *data, size_t n)
{
	const char *p = tmpfile_path(name);
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
		perror(p);
		exit(2);
	}
	return p;
}

static const char *
write_pubkey(const char *name, EVP_PKEY *k)
{
	const char *p = tmpfile_path(name);
	BIO *b = BIO_new_file(p, "w");
	if (!b || PEM_write_bio_PUBKEY(b, k) != 1) {
		fprintf(stderr, "cannot write %s\n", p);
		exit(2);
	}
	BIO_free(b);
	return p;
}

/* The PEM text of k's public key, as an HMAC key for the confusion test. */
static char *
pubkey_pem(EVP_PKEY *k, size_t *n)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	PEM_write_bio_PUBKEY(b, k);
	long len = BIO_get_mem_data(b, &p);
	char *copy = malloc((size_t)len + 1);
	memcpy(copy, p, (size_t)len);
	copy[len] = '\0';
	*n = (size_t)len;
	BIO_free(b);
	return copy;
}

static void
cleanup(void)
{
	for (int i = 0; i < npaths; i++)
		unlink(paths[i]);
	rmdir(dir);
}

/* ---- making tokens ---------------------------------------------------- */

static void
b64url(struct sio_buf *out, const void *p, size_t n)
{
	struct sio_buf s = SIO_BUF_INIT;
	sio_base64_encode(&s, p, n);
	for (size_t i = 0; i < s.len && s.data[i] != '='; i++)
		sio_buf_addc(out, s.data[i] == '+' ? '-' :
		    s.data[i] == '/' ? '_' : s.data[i]);
	sio_buf_add(out, "", 0);	/* a NUL even when empty */
	sio_buf_free(&s);
}

enum how { BY_NONE, BY_HMAC, BY_PKEY, BY_DER };

struct signer {
	enum how how;
	const void *secret;
	size_t secretlen;
	EVP_PKEY *pkey;
};

/* Signs input; an EC signature is turned into the JWS form r || s. */
static size_t
sign(const struct signer *s, const char *input, size_t n, unsigned char *sig)
{
	unsigned int hlen = 0;
	size_t len = 1024;
	EVP_MD_CTX *ctx;

	switch (s->how) {
	case BY_NONE:
		return 0;
	case BY_HMAC:
		HMAC(EVP_sha256(), s->secret, (int)s->secretlen,
		    (const unsigned char *)input, n, sig, &hlen);
		return hlen;
	case BY_PKEY:
	case BY_DER:
		ctx = EVP_MD_CTX_new();
		if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
		    s->pkey) != 1 || EVP_DigestSign(ctx, sig, &len,
		    (const unsigned char *)input, n) != 1) {
			fprintf(stderr, "signing failed\n");
			exit(2);
		}
		EVP_MD_CTX_free(ctx);
		if (s->how == BY_DER || !EVP_PKEY_is_a(s->pkey, "EC"))
			return len;
		const unsigned char *der = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &der, (long)len);
		const BIGNUM *r, *sv;
		ECDSA_SIG_get0(es, &r, &sv);
		BN_bn2binpad(r, sig, 32);
		BN_bn2binpad(sv, sig + 32, 32);
		ECDSA_SIG_free(es);
		return 64;
	}
	return 0;
}

/* header.payload.signature from JSON texts; the caller frees. */
static char *
token(const char *header, const char *payload, const struct signer *s)
{
	struct sio_buf t = SIO_BUF_INIT;
	unsigned char sig[1024];

	b64url(&t, header, strlen(header));
	sio_buf_addc(&t, '.');
	b64url(&t, payload, strlen(payload));
	size_t n = sign(s, t.data, t.len, sig);
	sio_buf_addc(&t, '.');
	b64url(&t, sig, n);
	return sio_buf_steal(&t, NULL);
}

static const struct signer by_hs = { BY_HMAC, SECRET, sizeof SECRET - 1, NULL };
static struct signer by_rs, by_es;
static const struct signer by_none = { BY_NONE, NULL, 0, NULL };

#define HS "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define RS "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"
#define ES "{\"alg\":\"ES256\",\"typ\":\"JWT\"}"

/* ---- checking --------------------------------------------------------- */

/* Verifies tok at now; checks the result code and the message exactly. */
static void
expect(const struct sio_jwt *v, const char *tok, size_t len, double now,
    int rc, const char *msg, const char *what)
{
	char err[SIO_ERRLEN] = "";
	struct sio_jwt_claims c;
	char line[300];

	memset(&c, 0xaa, sizeof c);
	int got = sio_jwt_verify(v, tok, len, now, &c, err);
	snprintf(line, sizeof line, "%s: result", what);
	T_EQ_INT(got, rc, line);
	if (msg) {
		snprintf(line, sizeof line, "%s: message", what);
		T_EQ_STR(err, msg, line);
	}
	if (rc != SIO_OK) {
		snprintf(line, sizeof line, "%s: claims zeroed", what);
		T_OK(!c.sub && !c.rooms && c.nrooms == 0 && c.exp == 0, line);
	}
	sio_jwt_claims_free(&c);
}

/* Signs payload with s under header and expects rc / msg. */
static void
expect_claims(const struct sio_jwt *v, const char *header, const char *payload,
    const struct signer *s, double now, int rc, const char *msg,
    const char *what)
{
	char *t = token(header, payload, s);
	expect(v, t, strlen(t), now, rc, msg, what);
	free(t);
}

static struct sio_jwt *
load(const char *alg, const char *path)
{
	char err[SIO_ERRLEN] = "";
	struct sio_jwt *v = sio_jwt_new(alg, path, err);
	if (!v)
		printf("# load %s %s: %s\n", alg, path, err);
	return v;
}

/* Loading must fail with a message containing want. */
static void
expect_load_error(const char *alg, const char *path, const char *want,
    const char *what)
{
	char err[SIO_ERRLEN] = "";
	struct sio_jwt *v = sio_jwt_new(alg, path, err);
	T_OK(v == NULL, what);
	T_OK(strstr(err, want) != NULL, what);
	if (!strstr(err, want))
		printf("#   got \"%s\"\n#   want it to contain \"%s\"\n", err,
		    want);
	sio_jwt_free(v);
}

/* ---- tests -------------------------------------------------------------- */

static const char *hs_path, *rs_path, *es_path;

static void
test_load(void)
{
	/* Keys of the wrong kind, size or form. */
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	const char *small_path = write_pubkey("rsa1024.pub", small);
	const char *p384_path = write_pubkey("p384.pub", p384);
	const char *ed_path = write_pubkey("ed25519.pub", ed);

	const char *priv_path = tmpfile_path("rsa.key");
	BIO *b = BIO_new_file(priv_path, "w");
	PEM_write_bio_PrivateKey(b, rsa, NULL, NULL, 0, NULL, NULL);
	BIO_free(b);

	char *pem;
	size_t pemlen;
	pem = pubkey_pem(rsa, &pemlen);
	const char *pem_secret = write_file("pem.secret", pem, pemlen);
	free(pem);

	struct sio_jwt *v;
	T_OK((v = load("HS256", hs_path)) != NULL, "HS256 secret loads");
	T_EQ_STR(v ? sio_jwt_alg(v) : "", "HS256", "alg of an HS256 verifier");
	sio_jwt_free(v);
	T_OK((v = load("RS256", rs_path)) != NULL, "RS256 public key loads");
	T_EQ_STR(v ? sio_jwt_alg(v) : "", "RS256", "alg of an RS256 verifier");
	sio_jwt_free(v);
	T_OK((v = load("ES256", es_path)) != NULL, "ES256 public key loads");
	T_EQ_STR(v ? sio_jwt_alg(v) : "", "ES256", "alg of an ES256 verifier");
	sio_jwt_free(v);
	sio_jwt_free(NULL);

	expect_load_error("none", hs_path, "unsupported JWT algorithm 'none'",
	    "alg none is not configurable");
	expect_load_error("hs256", hs_path, "unsupported JWT algorithm",
	    "alg names are case-sensitive");
	expect_load_error("PS256", rs_path, "unsupported JWT algorithm",
	    "PS256 is not supported");
	expect_load_error(NULL, hs_path, "unsupported JWT algorithm",
	    "NULL alg");
	expect_load_error("HS256", NULL, "HS256 needs a key file",
	    "NULL key file");
	expect_load_error("HS256", "", "HS256 needs a key file",
	    "empty key file name");

	const char *missing = tmpfile_path("missing");
	expect_load_error("HS256", missing, "No such file or directory",
	    "missing secret file");
	expect_load_error("RS256", missing, missing,
	    "missing key file: message names it");
	expect_load_error("RS256", dir, "Is a directory",
	    "a directory is not a key file");

	expect_load_error("HS256", write_file("empty.secret", "", 0),
	    "the HS256 secret is empty", "empty secret");
	expect_load_error("HS256", write_file("nl.secret", "\n", 1),
	    "the HS256 secret is empty", "a lone newline is an empty secret");
	expect_load_error("HS256", write_file("crlf.secret", "\r\n", 2),
	    "the HS256 secret is empty", "a lone CRLF is an empty secret");
	expect_load_error("HS256", write_file("short.secret", "s3cret\n", 7),
	    "the HS256 secret is 6 bytes; at least 32",
	    "short secret (RFC 7518 3.2)");
	expect_load_error("HS256", pem_secret, "holds a PEM block",
	    "a PEM public key is refused as an HS256 secret");

	expect_load_error("ES256", rs_path, "ES256 needs an EC P-256 key, "
	    "this is RSA", "RSA key for ES256");
	expect_load_error("RS256", es_path, "RS256 needs an RSA key, this is EC",
	    "EC key for RS256");
	expect_load_error("RS256", ed_path, "RS256 needs an RSA key",
	    "Ed25519 key for RS256");
	expect_load_error("ES256", ed_path, "ES256 needs an EC P-256 key",
	    "Ed25519 key for ES256");
	expect_load_error("ES256", p384_path, "on secp384r1",
	    "P-384 key for ES256");
	expect_load_error("RS256", small_path, "the RSA key has 1024 bits",
	    "1024-bit RSA key (RFC 7518 3.3)");
	expect_load_error("RS256", priv_path, "holds a private key",
	    "a private key is refused");
	expect_load_error("RS256", hs_path, "no PEM public key",
	    "a secret given as RS256 key");
	expect_load_error("ES256", write_file("empty.pem", "", 0),
	    "no PEM public key", "an empty PEM file");
	expect_load_error("RS256", write_file("cut.pem",
	    "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n", 56),
	    "no PEM public key", "a truncated PEM key");

	/* The PKCS#1 form of the RSA key, which OpenSSL also writes. */
	const char *pkcs1_path = tmpfile_path("rsa.pkcs1");
	b = BIO_new_file(pkcs1_path, "w");
	OSSL_ENCODER_CTX *enc = OSSL_ENCODER_CTX_new_for_pkey(rsa,
	    EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", NULL);
	T_OK(enc && OSSL_ENCODER_to_bio(enc, b) == 1, "PKCS#1 key written");
	OSSL_ENCODER_CTX_free(enc);
	BIO_free(b);
	expect_load_error("RS256", pkcs1_path, "holds a PKCS#1 RSA key",
	    "a PKCS#1 RSA key gets a hint");

	char *big = malloc(70000);
	memset(big, 'k', 70000);
	expect_load_error("HS256", write_file("big.secret", big, 70000),
	    "larger than 65536 bytes", "an oversized key file");
	free(big);

	/* A certificate stands for its public key. */
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, ec);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"sio test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_sign(x, ec, EVP_sha256());
	const char *cert_path = tmpfile_path("ec.crt");
	b = BIO_new_file(cert_path, "w");
	PEM_write_bio_X509(b, x);
	BIO_free(b);
	X509_free(x);
	v = load("ES256", cert_path);
	T_OK(v != NULL, "ES256 key from a PEM certificate loads");
	if (v)
		expect_claims(v, ES, "{\"sub\":\"c\"}", &by_es, NOW, SIO_OK,
		    NULL, "token verified with a certificate's key");
	sio_jwt_free(v);
	expect_load_error("RS256", cert_path, "RS256 needs an RSA key",
	    "an EC certificate for RS256");

	EVP_PKEY_free(small);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
}

static void
test_secret_newline(void)
{
	static const struct signer by_nl = {
		BY_HMAC, SECRET "\n", sizeof SECRET, NULL
	};
	struct sio_jwt *v;

	v = load("HS256", write_file("crlf2.secret", SECRET "\r\n",
	    sizeof SECRET + 1));
	T_OK(v != NULL, "a secret ending in CRLF loads");
	if (v)
		expect_claims(v, HS, "{}", &by_hs, NOW, SIO_OK, NULL,
		    "CRLF is not part of the secret");
	sio_jwt_free(v);

	v = load("HS256", write_file("raw.secret", SECRET, sizeof SECRET - 1));
	T_OK(v != NULL, "a secret without newline loads");
	if (v)
		expect_claims(v, HS, "{}", &by_hs, NOW, SIO_OK, NULL,
		    "secret without newline");
	sio_jwt_free(v);

	/* Only one newline goes: the second is the secret's own. */
	v = load("HS256", write_file("nl2.secret", SECRET "\n\n",
	    sizeof SECRET + 1));
	T_OK(v != NULL, "a secret ending in two newlines loads");
	if (v) {
		expect_claims(v, HS, "{}", &by_nl, NOW, SIO_OK, NULL,
		    "the second newline is kept");
		expect_claims(v, HS, "{}", &by_hs, NOW, SIO_EPROTO,
		    "bad token signature", "only one newline is stripped");
	}
	sio_jwt_free(v);

	/* With the file's newline in the key, the signature does not match. */
	v = load("HS256", hs_path);
	expect_claims(v, HS, "{}", &by_nl, NOW, SIO_EPROTO,
	    "bad token signature", "the stripped newline is not in the key");
	sio_jwt_free(v);
}

static void
test_valid(struct sio_jwt *hs, struct sio_jwt *rs, struct sio_jwt *es)
{
	static const char payload[] =
	    "{\"sub\":\"user-42\",\"rooms\":[\"lobby\",\"team\"],"
	    "\"exp\":1700000060,\"nbf\":1699999990,\"iat\":1699999990,"
	    "\"custom\":{\"deep\":[1,2,{\"x\":null}]}}";
	struct sio_jwt *vs[] = { hs, rs, es };
	const struct signer *ss[] = { &by_hs, &by_rs, &by_es };
	const char *hdr[] = { HS, RS, ES };
	char what[100];

	for (int i = 0; i < 3; i++) {
		const char *alg = sio_jwt_alg(vs[i]);
		char *t = token(hdr[i], payload, ss[i]);
		struct sio_jwt_claims c;
		char err[SIO_ERRLEN] = "";

		snprintf(what, sizeof what, "valid %s token", alg);
		T_EQ_INT(sio_jwt_verify(vs[i], t, strlen(t), NOW, &c, err),
		    SIO_OK, what);
		T_EQ_STR(c.sub ? c.sub : "(null)", "user-42", "sub returned");
		T_EQ_INT(c.nrooms, 2, "two rooms returned");
		T_OK(c.rooms && c.rooms[2] == NULL, "rooms end with NULL");
		if (c.rooms && c.nrooms == 2) {
			T_EQ_STR(c.rooms[0], "lobby", "first room");
			T_EQ_STR(c.rooms[1], "team", "second room");
		}
		T_OK(c.exp == 1700000060.0, "exp returned");
		sio_jwt_claims_free(&c);
		T_OK(!c.sub && !c.rooms && c.nrooms == 0,
		    "claims_free zeroes the struct");
		sio_jwt_claims_free(&c);	/* twice is harmless */

		snprintf(what, sizeof what, "%s: out may be NULL", alg);
		T_EQ_INT(sio_jwt_verify(vs[i], t, strlen(t), NOW, NULL, NULL),
		    SIO_OK, what);
		/* Only the length given counts. */
		snprintf(what, sizeof what, "%s: token in a longer buffer", alg);
		size_t n = strlen(t);
		char *longer = malloc(n + 8);
		memcpy(longer, t, n);
		memcpy(longer + n, "garbage", 8);
		expect(vs[i], longer, n, NOW, SIO_OK, NULL, what);
		free(longer);
		free(t);
	}

	/* Minimal: no typ, empty claims. */
	expect_claims(hs, "{\"alg\":\"HS256\"}", "{}", &by_hs, NOW, SIO_OK,
	    NULL, "header without typ, no claims");
	struct sio_jwt_claims c;
	char *t = token("{\"alg\":\"HS256\"}", "{}", &by_hs);
	T_EQ_INT(sio_jwt_verify(hs, t, strlen(t), NOW, &c, NULL), SIO_OK,
	    "empty claims");
	T_OK(!c.sub && !c.rooms && c.nrooms == 0 && c.exp == 0,
	    "absent sub, rooms and exp read as NULL, NULL, 0");
	sio_jwt_claims_free(&c);
	free(t);
	/* A missing exp means the token does not expire. */
	expect_claims(hs, HS, "{\"sub\":\"a\"}", &by_hs, 4e9, SIO_OK, NULL,
	    "no exp: valid at any time");
	/* Whitespace and escapes inside the JSON are the signer's business. */
	expect_claims(hs, " {\"typ\" : \"jwt\", \"alg\":\"HS\\u0032\\u00356\"}\n",
	    "{\"sub\":\"caf\\u00e9 a\\/b\"}", &by_hs, NOW, SIO_OK, NULL,
	    "escaped alg, lowercase typ, spaces");
	t = token(HS, "{\"sub\":\"caf\\u00e9 a\\/b\\ud83d\\ude00\"}", &by_hs);
	T_EQ_INT(sio_jwt_verify(hs, t, strlen(t), NOW, &c, NULL), SIO_OK,
	    "escaped sub");
	T_EQ_STR(c.sub ? c.sub : "", "caf\xc3\xa9 a/b\xf0\x9f\x98\x80",
	    "sub is decoded");
	sio_jwt_claims_free(&c);
	free(t);
	expect_claims(hs, "{\"alg\":\"HS256\",\"typ\":\"application/JWT\"}",
	    "{}", &by_hs, NOW, SIO_OK, NULL, "typ application/jwt");
	expect_claims(hs, "{\"alg\":\"HS256\",\"kid\":\"k1\",\"jku\":"
	    "\"https://evil.example/keys\"}", "{}", &by_hs, NOW, SIO_OK, NULL,
	    "kid and jku are ignored");
}

/* Decodes tok's signature, lets f change it, and re-encodes. */
static char *
resign(const char *tok, void (*f)(struct sio_buf *))
{
	const char *d2 = strrchr(tok, '.');
	struct sio_buf sig = SIO_BUF_INIT, t = SIO_BUF_INIT;
	sio_base64url_decode(&sig, d2 + 1, strlen(d2 + 1));
	f(&sig);
	sio_buf_add(&t, tok, (size_t)(d2 - tok) + 1);
	b64url(&t, sig.data, sig.len);
	sio_buf_free(&sig);
	return sio_buf_steal(&t, NULL);
}

static void flip_first(struct sio_buf *s) { s->data[0] ^= 0x01; }
static void flip_last(struct sio_buf *s) { s->data[s->len - 1] ^= 0x80; }
static void drop_last(struct sio_buf *s) { s->len--; }
static void add_zero(struct sio_buf *s) { sio_buf_addc(s, 0); }
static void zero_all(struct sio_buf *s) { memset(s->data, 0, s->len); }

static void
test_forged(struct sio_jwt *hs, struct sio_jwt *rs, struct sio_jwt *es)
{
	struct sio_jwt *vs[] = { hs, rs, es };
	const struct signer *ss[] = { &by_hs, &by_rs, &by_es };
	const char *hdr[] = { HS, RS, ES };
	void (*changes[])(struct sio_buf *) = {
		flip_first, flip_last, drop_last, add_zero, zero_all
	};
	static const char *const change_names[] = {
		"first bit flipped", "last byte's top bit flipped",
		"one byte short", "one byte long", "all zero"
	};
	char what[120];

	for (int i = 0; i < 3; i++) {
		const char *alg = sio_jwt_alg(vs[i]);
		char *t = token(hdr[i], "{\"sub\":\"alice\"}", ss[i]);
		for (size_t k = 0; k < sizeof changes / sizeof changes[0]; k++) {
			char *f = resign(t, changes[k]);
			snprintf(what, sizeof what, "%s signature %s", alg,
			    change_names[k]);
			expect(vs[i], f, strlen(f), NOW, SIO_EPROTO,
			    "bad token signature", what);
			free(f);
		}

		/* Payload swapped after signing. */
		char *other = token(hdr[i], "{\"sub\":\"admin\"}", ss[i]);
		const char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
		const char *o1 = strchr(other, '.'), *o2 = strrchr(other, '.');
		struct sio_buf m = SIO_BUF_INIT;
		sio_buf_add(&m, t, (size_t)(d1 - t));
		sio_buf_add(&m, o1, (size_t)(o2 - o1));
		sio_buf_adds(&m, d2);
		snprintf(what, sizeof what, "%s payload changed after signing",
		    alg);
		expect(vs[i], m.data, m.len, NOW, SIO_EPROTO,
		    "bad token signature", what);
		sio_buf_free(&m);
		free(other);

		/* No signature at all. */
		m = (struct sio_buf)SIO_BUF_INIT;
		sio_buf_add(&m, t, (size_t)(d2 - t) + 1);
		snprintf(what, sizeof what, "%s without signature", alg);
		expect(vs[i], m.data, m.len, NOW, SIO_EPROTO,
		    "bad token signature", what);
		sio_buf_free(&m);
		free(t);
	}

	/* Signed by a key the verifier does not trust. */
	static const struct signer other_secret = {
		BY_HMAC, "another secret, also long enough!", 33, NULL
	};
	struct signer other_rs = { BY_PKEY, NULL, 0, rsa2 };
	struct signer other_es = { BY_PKEY, NULL, 0, ec2 };
	expect_claims(hs, HS, "{}", &other_secret, NOW, SIO_EPROTO,
	    "bad token signature", "HS256 with another secret");
	expect_claims(rs, RS, "{}", &other_rs, NOW, SIO_EPROTO,
	    "bad token signature", "RS256 with another key");
	expect_claims(es, ES, "{}", &other_es, NOW, SIO_EPROTO,
	    "bad token signature", "ES256 with another key");
	/* ES256 must be r || s, not DER. */
	struct signer der = { BY_DER, NULL, 0, ec };
	expect_claims(es, ES, "{}", &der, NOW, SIO_EPROTO,
	    "bad token signature", "ES256 signature in DER form");
}

static void
test_alg(struct sio_jwt *hs, struct sio_jwt *rs, struct sio_jwt *es)
{
	struct sio_jwt *vs[] = { hs, rs, es };
	char what[100], msg[100];

	for (int i = 0; i < 3; i++) {
		const char *alg = sio_jwt_alg(vs[i]);
		snprintf(msg, sizeof msg, "token algorithm %s expected, got none",
		    alg);
		snprintf(what, sizeof what, "alg none to %s", alg);
		expect_claims(vs[i], "{\"alg\":\"none\",\"typ\":\"JWT\"}",
		    "{\"sub\":\"root\"}", &by_none, NOW, SIO_EPROTO, msg, what);
		snprintf(what, sizeof what, "alg None to %s", alg);
		snprintf(msg, sizeof msg, "token algorithm %s expected, got None",
		    alg);
		expect_claims(vs[i], "{\"alg\":\"None\"}", "{}", &by_none, NOW,
		    SIO_EPROTO, msg, what);
		/* alg none carrying a real signature is no better. */
		snprintf(what, sizeof what, "alg none, signed, to %s", alg);
		snprintf(msg, sizeof msg, "token algorithm %s expected, got none",
		    alg);
		expect_claims(vs[i], "{\"alg\":\"none\"}", "{}", &by_hs, NOW,
		    SIO_EPROTO, msg, what);
	}

	expect_claims(hs, RS, "{}", &by_rs, NOW, SIO_EPROTO,
	    "token algorithm HS256 expected, got RS256", "RS256 token to HS256");
	expect_claims(rs, ES, "{}", &by_es, NOW, SIO_EPROTO,
	    "token algorithm RS256 expected, got ES256", "ES256 token to RS256");
	expect_claims(es, RS, "{}", &by_rs, NOW, SIO_EPROTO,
	    "token algorithm ES256 expected, got RS256", "RS256 token to ES256");
	expect_claims(hs, "{\"alg\":\"hs256\"}", "{}", &by_hs, NOW, SIO_EPROTO,
	    "token algorithm HS256 expected, got hs256",
	    "alg compares case-sensitively");
	expect_claims(hs, "{\"alg\":\"HS256 \"}", "{}", &by_hs, NOW,
	    SIO_EPROTO, "token algorithm HS256 expected",
	    "odd alg is not quoted back");
	expect_claims(hs, "{\"alg\":\"<script>alert(1)</script>\"}", "{}",
	    &by_hs, NOW, SIO_EPROTO, "token algorithm HS256 expected",
	    "markup in alg is not quoted back");

	/* Key confusion: HMAC keyed with the RSA public key's PEM text. */
	size_t n;
	char *pem = pubkey_pem(rsa, &n);
	struct signer by_pem = { BY_HMAC, pem, n, NULL };
	expect_claims(rs, HS, "{\"sub\":\"root\"}", &by_pem, NOW, SIO_EPROTO,
	    "token algorithm RS256 expected, got HS256",
	    "key confusion: HS256 keyed with the RSA public key");
	expect_claims(rs, RS, "{\"sub\":\"root\"}", &by_pem, NOW, SIO_EPROTO,
	    "bad token signature",
	    "key confusion: HMAC with the PEM under an RS256 header");
	by_pem.secretlen = n - 1;	/* without the final newline */
	expect_claims(rs, HS, "{}", &by_pem, NOW, SIO_EPROTO,
	    "token algorithm RS256 expected, got HS256",
	    "key confusion: PEM without its newline");
	free(pem);
	pem = pubkey_pem(ec, &n);
	by_pem = (struct signer){ BY_HMAC, pem, n, NULL };
	expect_claims(es, HS, "{}", &by_pem, NOW, SIO_EPROTO,
	    "token algorithm ES256 expected, got HS256",
	    "key confusion: HS256 keyed with the EC public key");
	free(pem);

	/* Header shapes. */
	expect_claims(hs, "{\"typ\":\"JWT\"}", "{}", &by_hs, NOW, SIO_EPROTO,
	    "malformed token: no alg", "header without alg");
	expect_claims(hs, "{\"alg\":null}", "{}", &by_hs, NOW, SIO_EPROTO,
	    "malformed token: alg is not a string", "alg null");
	expect_claims(hs, "{\"alg\":[\"HS256\"]}", "{}", &by_hs, NOW,
	    SIO_EPROTO, "malformed token: alg is not a string", "alg array");
	expect_claims(hs, "{\"alg\":\"HS256\",\"alg\":\"none\"}", "{}", &by_hs,
	    NOW, SIO_EPROTO, "malformed token: duplicate alg", "duplicate alg");
	expect_claims(hs, "{\"alg\":\"HS256\",\"al\\u0067\":\"HS256\"}", "{}",
	    &by_hs, NOW, SIO_EPROTO, "malformed token: duplicate alg",
	    "duplicate alg spelled with an escape");
	expect_claims(hs, "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", "{}",
	    &by_hs, NOW, SIO_EPROTO, "token type is not JWT", "typ at+jwt");
	expect_claims(hs, "{\"alg\":\"HS256\",\"typ\":\"JWT\\u0000\"}", "{}",
	    &by_hs, NOW, SIO_EPROTO, "token type is not JWT",
	    "typ with a NUL after JWT");
	expect_claims(hs, "{\"alg\":\"HS256\",\"typ\":1}", "{}", &by_hs, NOW,
	    SIO_EPROTO, "token type is not JWT", "typ not a string");
	expect_claims(hs, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "{}",
	    &by_hs, NOW, SIO_EPROTO, "token has critical header parameters "
	    "this server does not support", "crit header");
	/* 16 levels (the object and 15 arrays) pass, 17 do not. */
	struct sio_buf deep = SIO_BUF_INIT;
	for (int levels = 16; levels <= 17; levels++) {
		sio_buf_reset(&deep);
		sio_buf_adds(&deep, "{\"alg\":\"HS256\",\"x\":");
		for (int i = 1; i < levels; i++)
			sio_buf_addc(&deep, '[');
		for (int i = 1; i < levels; i++)
			sio_buf_addc(&deep, ']');
		sio_buf_addc(&deep, '}');
		expect_claims(hs, deep.data, "{}", &by_hs, NOW,
		    levels == 16 ? SIO_OK : SIO_ELIMIT, levels == 16 ? NULL :
		    "token header nested too deeply", levels == 16 ?
		    "header nested 16 deep" : "header nested 17 deep");
		/* The payload has the same limit. */
		expect_claims(hs, HS, deep.data, &by_hs, NOW,
		    levels == 16 ? SIO_OK : SIO_ELIMIT, levels == 16 ? NULL :
		    "token payload nested too deeply", levels == 16 ?
		    "payload nested 16 deep" : "payload nested 17 deep");
	}
	sio_buf_free(&deep);
}

static void
test_time(struct sio_jwt *hs)
{
#define AT(payload, now, rc, msg, what) \
	expect_claims(hs, HS, (payload), &by_hs, (now), (rc), (msg), (what))

	AT("{\"exp\":1700000000}", NOW - 1, SIO_OK, NULL, "exp 1 s ahead");
	AT("{\"exp\":1700000000}", NOW, SIO_EPROTO, "token expired",
	    "exp == now is expired (RFC 7519 4.1.4)");
	AT("{\"exp\":1700000000}", NOW + 3600, SIO_EPROTO, "token expired",
	    "exp an hour ago");
	AT("{\"exp\":1700000000.5}", NOW + 0.4, SIO_OK, NULL,
	    "fractional exp, before");
	AT("{\"exp\":1700000000.5}", NOW + 0.5, SIO_EPROTO, "token expired",
	    "fractional exp, at");
	AT("{\"exp\":1.7e9}", NOW - 1, SIO_OK, NULL, "exp with an exponent");
	AT("{\"exp\":0}", NOW, SIO_EPROTO, "token expired", "exp 0");
	AT("{\"exp\":-1}", NOW, SIO_EPROTO, "token expired", "negative exp");
	AT("{\"nbf\":1700000000}", NOW, SIO_OK, NULL, "nbf == now is valid");
	AT("{\"nbf\":1700000001}", NOW, SIO_EPROTO, "token not yet valid",
	    "nbf in the future");
	AT("{\"nbf\":1700000000.25}", NOW, SIO_EPROTO, "token not yet valid",
	    "fractional nbf in the future");
	AT("{\"nbf\":1699999000,\"exp\":1700001000}", NOW, SIO_OK, NULL,
	    "inside [nbf, exp)");

	AT("{\"exp\":\"1800000000\"}", NOW, SIO_EPROTO,
	    "malformed token: exp is not a number", "exp as a string");
	AT("{\"exp\":null}", NOW, SIO_EPROTO,
	    "malformed token: exp is not a number", "exp null");
	AT("{\"nbf\":true}", NOW, SIO_EPROTO,
	    "malformed token: nbf is not a number", "nbf true");
	AT("{\"exp\":1e400}", NOW, SIO_EPROTO,
	    "malformed token: exp is not a usable number",
	    "exp beyond a double");
	AT("{\"exp\":1800000000,\"exp\":1}", NOW, SIO_EPROTO,
	    "malformed token: duplicate exp", "duplicate exp");
	AT("{\"nbf\":1,\"nbf\":1800000000}", NOW, SIO_EPROTO,
	    "malformed token: duplicate nbf", "duplicate nbf");

	/* Leeway widens both ends by the same seconds. */
	sio_jwt_set_leeway(hs, 30);
	AT("{\"exp\":1699999980}", NOW, SIO_OK, NULL,
	    "expired 20 s ago, leeway 30");
	AT("{\"exp\":1699999970}", NOW, SIO_EPROTO, "token expired",
	    "expired 30 s ago, leeway 30");
	AT("{\"nbf\":1700000029}", NOW, SIO_OK, NULL,
	    "valid in 29 s, leeway 30");
	AT("{\"nbf\":1700000031}", NOW, SIO_EPROTO, "token not yet valid",
	    "valid in 31 s, leeway 30");
	sio_jwt_set_leeway(hs, -5);
	AT("{\"exp\":1699999999}", NOW, SIO_EPROTO, "token expired",
	    "negative leeway counts as 0 (exp)");
	AT("{\"nbf\":1700000001}", NOW, SIO_EPROTO, "token not yet valid",
	    "negative leeway counts as 0 (nbf)");
	sio_jwt_set_leeway(hs, 0);

	/* exp is reported as given. */
	char *t = token(HS, "{\"exp\":1700000100.75}", &by_hs);
	struct sio_jwt_claims c;
	T_EQ_INT(sio_jwt_verify(hs, t, strlen(t), NOW, &c, NULL), SIO_OK,
	    "fractional exp");
	T_OK(c.exp == 1700000100.75, "exp keeps its fraction");
	sio_jwt_claims_free(&c);
	free(t);

	/* The expiry check comes after the signature: a forged past token
	 * says nothing about the key. */
	static const struct signer wrong = {
		BY_HMAC, "a wrong secret that is long enough", 34, NULL
	};
	expect_claims(hs, HS, "{\"exp\":1}", &wrong, NOW, SIO_EPROTO,
	    "bad token signature", "signature is checked before exp");
#undef AT
}

static void
test_claims(struct sio_jwt *hs)
{
	struct sio_jwt_claims c;
	char *t;

#define CL(payload, rc, msg, what) \
	expect_claims(hs, HS, (payload), &by_hs, NOW, (rc), (msg), (what))

	t = token(HS, "{\"rooms\":[]}", &by_hs);
	T_EQ_INT(sio_jwt_verify(hs, t, strlen(t), NOW, &c, NULL), SIO_OK,
	    "empty rooms");
	T_OK(c.rooms != NULL && c.rooms[0] == NULL && c.nrooms == 0,
	    "\"rooms\":[] is an empty list, not an absent one");
	sio_jwt_claims_free(&c);
	free(t);

	t = token(HS, "{\"rooms\":[\"a\\u00e9\",\"x\\/y\",\"a\"]}", &by_hs);
	T_EQ_INT(sio_jwt_verify(hs, t, strlen(t), NOW, &c, NULL), SIO_OK,
	    "escaped room names");
	T_EQ_INT(c.nrooms, 3, "three rooms, a repeat kept");
	if (c.nrooms == 3) {
		T_EQ_STR(c.rooms[0], "a\xc3\xa9", "room name decoded");
		T_EQ_STR(c.rooms[1], "x/y", "escaped slash decoded");
		T_EQ_STR(c.rooms[2], "a", "third room");
	}
	sio_jwt_claims_free(&c);
	free(t);

	CL("{\"rooms\":\"lobby\"}", SIO_EPROTO,
	    "malformed token: rooms is not an array of strings",
	    "rooms as a string");
	CL("{\"rooms\":{\"a\":1}}", SIO_EPROTO,
	    "malformed token: rooms is not an array of strings",
	    "rooms as an object");
	CL("{\"rooms\":[1]}", SIO_EPROTO,
	    "malformed token: rooms is not an array of strings",
	    "rooms with a number");
	CL("{\"rooms\":[\"a\",null]}", SIO_EPROTO,
	    "malformed token: rooms is not an array of strings",
	    "rooms with a null after a string");
	CL("{\"rooms\":[[\"a\"]]}", SIO_EPROTO,
	    "malformed token: rooms is not an array of strings",
	    "rooms nested");
	CL("{\"rooms\":[\"\"]}", SIO_EPROTO, "token room name is empty",
	    "empty room name");
	CL("{\"rooms\":[\"a\\u0000b\"]}", SIO_EPROTO,
	    "token room name contains NUL", "room name with NUL");
	CL("{\"rooms\":[\"a\"],\"rooms\":[\"admin\"]}", SIO_EPROTO,
	    "malformed token: duplicate rooms", "duplicate rooms");
	CL("{\"sub\":5}", SIO_EPROTO, "malformed token: sub is not a string",
	    "sub as a number");
	CL("{\"sub\":null}", SIO_EPROTO, "malformed token: sub is not a string",
	    "sub null");
	CL("{\"sub\":\"a\\u0000\"}", SIO_EPROTO, "token sub contains NUL",
	    "sub with NUL");
	CL("{\"sub\":\"a\",\"sub\":\"b\"}", SIO_EPROTO,
	    "malformed token: duplicate sub", "duplicate sub");
	CL("{\"sub\":\"\"}", SIO_OK, NULL, "empty sub is a string");

	/* Room name length: 256 bytes fine, 257 not. */
	struct sio_buf p = SIO_BUF_INIT;
	sio_buf_adds(&p, "{\"rooms\":[\"");
	for (int i = 0; i < SIO_JWT_MAX_ROOM_LEN; i++)
		sio_buf_addc(&p, 'r');
	sio_buf_adds(&p, "\"]}");
	t = token(HS, p.data, &by_hs);
	T_EQ_INT(sio_jwt_verify(hs, t, strlen(t), NOW, &c, NULL), SIO_OK,
	    "256-byte room name");
	T_EQ_INT(c.nrooms == 1 ? strlen(c.rooms[0]) : 0, SIO_JWT_MAX_ROOM_LEN,
	    "256-byte room name kept whole");
	sio_jwt_claims_free(&c);
	free(t);
	sio_buf_reset(&p);
	sio_buf_adds(&p, "{\"rooms\":[\"");
	for (int i = 0; i < SIO_JWT_MAX_ROOM_LEN; i++)
		sio_buf_addc(&p, 'r');
	sio_buf_adds(&p, "s\"]}");
	CL(p.data, SIO_ELIMIT, "token room name longer than 256 bytes",
	    "257-byte room name");
	/* Counted in bytes after decoding: 128 two-byte characters fit. */
	sio_buf_reset(&p);
	sio_buf_adds(&p, "{\"rooms\":[\"");
	for (int i = 0; i < SIO_JWT_MAX_ROOM_LEN / 2; i++)
		sio_buf_adds(&p, "\\u00e9");
	sio_buf_adds(&p, "\"]}");
	CL(p.data, SIO_OK, NULL, "256 bytes written as 128 escapes");
	sio_buf_reset(&p);
	sio_buf_adds(&p, "{\"rooms\":[\"x");
	for (int i = 0; i < SIO_JWT_MAX_ROOM_LEN / 2; i++)
		sio_buf_adds(&p, "\xc3\xa9");
	sio_buf_adds(&p, "\"]}");
	CL(p.data, SIO_ELIMIT, "token room name longer than 256 bytes",
	    "257 bytes of UTF-8");

	/* Room count: 256 fine, 257 not. */
	for (int n = SIO_JWT_MAX_ROOMS; n <= SIO_JWT_MAX_ROOMS + 1; n++) {
		sio_buf_reset(&p);
		sio_buf_adds(&p, "{\"rooms\":[");
		for (int i = 0; i < n; i++)
			sio_buf_printf(&p, "%s\"%x\"", i ? "," : "", i);
		sio_buf_adds(&p, "]}");
		t = token(HS, p.data, &by_hs);
		int rc = sio_jwt_verify(hs, t, strlen(t), NOW, &c, NULL);
		if (n == SIO_JWT_MAX_ROOMS) {
			T_EQ_INT(rc, SIO_OK, "256 rooms");
			T_EQ_INT(c.nrooms, 256, "256 rooms returned");
			T_OK(c.nrooms == 256 && strcmp(c.rooms[255], "ff") == 0
			    && c.rooms[256] == NULL, "last of 256 rooms");
		} else {
			T_EQ_INT(rc, SIO_ELIMIT, "257 rooms refused");
		}
		sio_jwt_claims_free(&c);
		free(t);
	}
	sio_buf_free(&p);
	CL("{\"rooms\":[\"a\",\"b\",\"\"]}", SIO_EPROTO,
	    "token room name is empty",
	    "a bad room after good ones (no leak)");
#undef CL
}

/* Part i (0, 1, 2) of a well-formed token, and its length. */
static const char *
part(const char *tok, int i, size_t *len)
{
	const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
	const char *start[3] = { tok, d1 + 1, d2 + 1 };
	size_t n[3] = { (size_t)(d1 - tok), (size_t)(d2 - d1 - 1),
	    strlen(d2 + 1) };
	*len = n[i];
	return start[i];
}

/* tok with its part i replaced by seg. */
static char *
splice(const char *tok, int i, const char *seg)
{
	struct sio_buf b = SIO_BUF_INIT;
	for (int k = 0; k < 3; k++) {
		size_t len;
		const char *p = part(tok, k, &len);
		if (k > 0)
			sio_buf_addc(&b, '.');
		if (k == i)
			sio_buf_adds(&b, seg);
		else
			sio_buf_add(&b, p, len);
	}
	return sio_buf_steal(&b, NULL);
}

static void
test_malformed(struct sio_jwt *hs, struct sio_jwt *rs)
{
	char *good = token(HS, "{\"sub\":\"x\"}", &by_hs);
	size_t n = strlen(good);
	const char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
	struct sio_buf b = SIO_BUF_INIT;
	char *t;

	static const char parts[] = "malformed token: not three dot-separated "
	    "parts";
#define BAD(tok, len, rc, msg, what) \
	expect(hs, (tok), (len), NOW, (rc), (msg), (what))

	BAD("", 0, SIO_EPROTO, parts, "empty token");
	BAD(".", 1, SIO_EPROTO, parts, "one dot");
	BAD("..", 2, SIO_EPROTO, "malformed token: header is not JSON",
	    "two dots, empty parts");
	BAD(good, (size_t)(d2 - good), SIO_EPROTO, parts, "two parts");
	BAD(good, (size_t)(d1 - good), SIO_EPROTO, parts, "one part");
	sio_buf_add(&b, good, n);
	sio_buf_adds(&b, ".abc");
	BAD(b.data, b.len, SIO_EPROTO, parts, "four parts");
	sio_buf_reset(&b);
	sio_buf_add(&b, good, n);
	sio_buf_addc(&b, '.');
	BAD(b.data, b.len, SIO_EPROTO, parts, "a trailing dot");
	sio_buf_reset(&b);
	sio_buf_add(&b, good, n);
	sio_buf_addc(&b, ' ');
	BAD(b.data, b.len, SIO_EPROTO,
	    "malformed token: signature is not base64url", "trailing space");
	sio_buf_reset(&b);
	sio_buf_add(&b, good, n);
	sio_buf_addc(&b, '\n');
	BAD(b.data, b.len, SIO_EPROTO,
	    "malformed token: signature is not base64url", "trailing newline");
	sio_buf_reset(&b);
	sio_buf_add(&b, good, n);
	sio_buf_adds(&b, "AAA");
	BAD(b.data, b.len, SIO_EPROTO, "bad token signature",
	    "trailing base64url characters");
	sio_buf_reset(&b);
	sio_buf_addc(&b, ' ');
	sio_buf_add(&b, good, n);
	BAD(b.data, b.len, SIO_EPROTO,
	    "malformed token: header is not base64url", "leading space");
	sio_buf_reset(&b);
	sio_buf_add(&b, good, n);
	BAD(b.data, b.len + 1, SIO_EPROTO,
	    "malformed token: signature is not base64url",
	    "a NUL inside the length");
	BAD("Bearer x.y.z", 12, SIO_EPROTO,
	    "malformed token: header is not base64url", "Bearer prefix");
	expect(hs, NULL, 0, NOW, SIO_EINVAL, "no token", "NULL token");
	expect(NULL, good, n, NOW, SIO_EINVAL, "no token", "NULL verifier");
	expect(hs, good, n, NAN, SIO_EINVAL, "no clock to check the token with",
	    "a NaN clock");
	expect(hs, good, n, INFINITY, SIO_EINVAL,
	    "no clock to check the token with", "an infinite clock");

	/*
	 * Padding and foreign characters in each part of a signed token. A
	 * changed payload no longer matches the signature, which is checked
	 * first; raw() below signs such payloads as sent.
	 */
	static const char *const seg_names[] = { "header", "payload",
	    "signature" };
	for (int i = 0; i < 3; i++) {
		char what[100], msg[100], seg[400];
		size_t len;
		const char *start = part(good, i, &len);

		if (i == 1)
			snprintf(msg, sizeof msg, "bad token signature");
		else
			snprintf(msg, sizeof msg, "malformed token: %s is not "
			    "base64url", seg_names[i]);
		snprintf(seg, sizeof seg, "%.*s=", (int)len, start);
		while (strlen(seg) % 4)
			strcat(seg, "=");
		t = splice(good, i, seg);
		snprintf(what, sizeof what, "padded %s", seg_names[i]);
		BAD(t, strlen(t), SIO_EPROTO, msg, what);
		free(t);
		static const char foreign[] = "+/%=*";
		for (const char *c = foreign; *c; c++) {
			snprintf(seg, sizeof seg, "%.*s", (int)len, start);
			seg[1] = *c;
			t = splice(good, i, seg);
			snprintf(what, sizeof what, "'%c' in %s", *c,
			    seg_names[i]);
			BAD(t, strlen(t), SIO_EPROTO, msg, what);
			free(t);
		}
	}

	/* Bad encodings signed as sent: refused by decoding, not by luck. */
	static const struct {
		const char *h, *p, *msg, *what;
	} raws[] = {
		{ "eyJhbGciOiJIUzI1NiJ9", "e30", NULL, "raw: the canonical form" },
		{ "eyJhbGciOiJIUzI1NiJ9", "e31",
		  "malformed token: payload is not base64url",
		  "raw: non-canonical trailing bits in payload" },
		{ "eyJhbGciOiJIUzI1NiJ9", "e30=",
		  "malformed token: payload is not base64url",
		  "raw: padded payload" },
		{ "eyJhbGciOiJIUzI1NiJ9", "e3+9",
		  "malformed token: payload is not base64url",
		  "raw: '+' in payload" },
		{ "eyJhbGciOiJIUzI1NiJ9", "e30e3",
		  "malformed token: payload is not base64url",
		  "raw: payload of 4k+1 characters" },
		{ "eyJhbGciOiJIUzI1NiJ9", "",
		  "malformed token: payload is not JSON", "raw: empty payload" },
		{ "eyJhbGciOiJIUzI1NiJ9==", "e30",
		  "malformed token: header is not base64url",
		  "raw: padded header" },
		{ "eyJhbGciOiJIUzI1NiIgfQ", "e30", NULL,
		  "raw: a header with trailing bits, canonical" },
		{ "eyJhbGciOiJIUzI1NiIgfR", "e30",
		  "malformed token: header is not base64url",
		  "raw: non-canonical trailing bits in header" },
	};
	sio_buf_reset(&b);
	b64url(&b, "{\"alg\":\"HS256\" }", 16);
	T_EQ_STR(b.data, "eyJhbGciOiJIUzI1NiIgfQ", "the raw header's encoding");
	for (size_t i = 0; i < sizeof raws / sizeof raws[0]; i++) {
		unsigned char sig[64];
		sio_buf_reset(&b);
		sio_buf_printf(&b, "%s.%s", raws[i].h, raws[i].p);
		size_t siglen = sign(&by_hs, b.data, b.len, sig);
		sio_buf_addc(&b, '.');
		b64url(&b, sig, siglen);
		BAD(b.data, b.len, raws[i].msg ? SIO_EPROTO : SIO_OK,
		    raws[i].msg, raws[i].what);
	}

	/* Header and payload that are not JSON objects. */
	static const struct {
		const char *json, *msg;
	} shapes[] = {
		{ "[]", "is not a JSON object" },
		{ "\"HS256\"", "is not a JSON object" },
		{ "1", "is not a JSON object" },
		{ "null", "is not a JSON object" },
		{ "", "is not JSON" },
		{ " ", "is not JSON" },
		{ "{", "is not JSON" },
		{ "{\"alg\":\"HS256\"}x", "is not JSON" },
		{ "{\"alg\":\"HS256\"}{}", "is not JSON" },
		{ "{\"alg\":\"HS256\",}", "is not JSON" },
		{ "{'alg':'HS256'}", "is not JSON" },
		{ "{\"alg\":\"HS256\",\"x\":\"\xff\"}", "is not JSON" },
	};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		char what[100], msg[100];
		snprintf(msg, sizeof msg, "malformed token: header %s",
		    shapes[i].msg);
		snprintf(what, sizeof what, "header %zu %s", i, shapes[i].msg);
		expect_claims(hs, shapes[i].json, "{}", &by_hs, NOW, SIO_EPROTO,
		    msg, what);
		/* The same as payload, under a good header and signature. */
		snprintf(msg, sizeof msg, "malformed token: payload %s",
		    shapes[i].msg);
		snprintf(what, sizeof what, "payload %zu %s", i, shapes[i].msg);
		expect_claims(hs, HS, shapes[i].json, &by_hs, NOW, SIO_EPROTO,
		    msg, what);
	}

	/* Length: the longest acceptable token, and one byte more. */
	struct sio_buf p = SIO_BUF_INIT;
	t = NULL;
	for (size_t fill = 6000; fill < 6200; fill++) {
		sio_buf_reset(&p);
		sio_buf_adds(&p, "{\"f\":\"");
		for (size_t i = 0; i < fill; i++)
			sio_buf_addc(&p, 'x');
		sio_buf_adds(&p, "\"}");
		char *next = token(HS, p.data, &by_hs);
		if (strlen(next) > SIO_JWT_MAX_LEN) {
			free(next);
			break;
		}
		free(t);
		t = next;
	}
	size_t tl = strlen(t);
	T_OK(tl >= SIO_JWT_MAX_LEN - 1 && tl <= SIO_JWT_MAX_LEN,
	    "built a token at the length limit");
	BAD(t, tl, SIO_OK, NULL, "a token at the length limit");
	free(t);
	sio_buf_reset(&b);
	sio_buf_add(&b, good, n);
	while (b.len <= SIO_JWT_MAX_LEN)
		sio_buf_addc(&b, 'A');
	BAD(b.data, b.len, SIO_ELIMIT, "token longer than 8192 bytes",
	    "a token one byte over the limit");
	BAD(b.data, (size_t)-1, SIO_ELIMIT, "token longer than 8192 bytes",
	    "a huge length is refused before reading");
	sio_buf_free(&p);

	/* An RS256 signature of the wrong length never reaches OpenSSL. */
	char *rt = token(RS, "{}", &by_rs);
	char *cut = resign(rt, drop_last);
	expect(rs, cut, strlen(cut), NOW, SIO_EPROTO, "bad token signature",
	    "RS256 signature one byte short");
	free(cut);
	free(rt);

	sio_buf_free(&b);
	free(good);
#undef BAD
}

int
main(void)
{
	strcpy(dir, "/tmp/sio-jwt-test.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!rsa || !rsa2 || !ec || !ec2) {
		fprintf(stderr, "key generation failed\n");
		cleanup();
		return 2;
	}
	by_rs = (struct signer){ BY_PKEY, NULL, 0, rsa };
	by_es = (struct signer){ BY_PKEY, NULL, 0, ec };
	hs_path = write_file("hs.secret", SECRET "\n", sizeof SECRET);
	rs_path = write_pubkey("rsa.pub", rsa);
	es_path = write_pubkey("ec.pub", ec);

	test_load();
	test_secret_newline();

	struct sio_jwt *hs = load("HS256", hs_path);
	struct sio_jwt *rs = load("RS256", rs_path);
	struct sio_jwt *es = load("ES256", es_path);
	T_OK(hs && rs && es, "the three verifiers load");
	if (hs && rs && es) {
		test_valid(hs, rs, es);
		test_forged(hs, rs, es);
		test_alg(hs, rs, es);
		test_time(hs);
		test_claims(hs);
		test_malformed(hs, rs);
	}
	sio_jwt_free(hs);
	sio_jwt_free(rs);
	sio_jwt_free(es);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ec2);

	cleanup();
	struct stat st;
	T_OK(stat(dir, &st) != 0, "temporary files removed");
	T_DONE();
}
