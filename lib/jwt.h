/*
 * jwt: the check of a JSON Web Token (RFC 7519, JWS compact form of RFC
 * 7515) that a client may present as {"token": "..."} in its CONNECT.
 *
 * A verifier trusts one key under one algorithm, both fixed by the hub's
 * configuration; a token's own header only has to agree. That is what
 * refuses "alg":"none" and an HS256 token keyed with the RSA public key.
 * Keys are never taken from a token (jku, x5u, jwk and kid are ignored).
 * The verifier owns its key; the HMAC secret is wiped when it is freed.
 *
 * Only exp and nbf are enforced (against the caller's clock, so tests
 * and the hub agree on "now"); sub and rooms are handed back. iss, aud,
 * iat, jti and unknown claims are not looked at. A header with "crit" is
 * refused (no extension is understood); "typ", when present, must say
 * JWT, so a JOSE object of another kind signed with the same key is not
 * taken for a login token.
 *
 * Messages written to err are short and meant for the client's
 * CONNECT_ERROR: they never quote the key, nor more than a few checked
 * characters of the token. Configuration messages name the key file.
 */
#ifndef SIO_JWT_H
#define SIO_JWT_H

#include <stddef.h>

#include "util.h"

#define SIO_JWT_MAX_LEN 8192		/* bytes of the whole compact token */
#define SIO_JWT_MAX_ROOMS 256
#define SIO_JWT_MAX_ROOM_LEN 256	/* bytes of one decoded room name */
/* RFC 7518 sections 3.2 and 3.3: weaker keys are refused at load. */
#define SIO_JWT_MIN_SECRET 32		/* bytes of an HS256 secret */
#define SIO_JWT_MIN_RSA_BITS 2048

struct sio_jwt;

/*
 * alg is "HS256", "RS256" or "ES256" (exact case). keyfile holds, for
 * HS256, the secret as raw bytes (one trailing "\n" or "\r\n" is not part
 * of it; a PEM block is refused as a likely mix-up); for RS256 and ES256,
 * a PEM public key ("BEGIN PUBLIC KEY", or a certificate whose key is
 * used, its dates and issuer unchecked) of the matching type: RSA of at
 * least 2048 bits, or EC on P-256. Private keys are refused: the hub
 * never needs one. Returns NULL with a message in err (SIO_ERRLEN bytes,
 * may be NULL) on failure; the caller frees with sio_jwt_free.
 */
struct sio_jwt *sio_jwt_new(const char *alg, const char *keyfile, char *err);
void sio_jwt_free(struct sio_jwt *v);		/* NULL is a no-op */
/* Clock skew allowed for exp and nbf; default 0, negative counts as 0. */
void sio_jwt_set_leeway(struct sio_jwt *v, int seconds);
/* "HS256", "RS256" or "ES256". */
const char *sio_jwt_alg(const struct sio_jwt *v);

/*
 * What a valid token says, in memory the struct owns (independent of the
 * verifier and of the token text); free with sio_jwt_claims_free.
 */
struct sio_jwt_claims {
	char *sub;		/* NULL when absent */
	char **rooms;		/* NULL when absent, else nrooms names + NULL */
	size_t nrooms;		/* "rooms":[] gives rooms != NULL, nrooms 0 */
	double exp;		/* seconds since the epoch; 0 when absent */
};

/*
 * Verifies token[0..len) (the compact form, no surrounding whitespace)
 * at time now (seconds since the epoch). A token without exp never
 * expires. Returns SIO_OK and fills out (may be NULL); otherwise out is
 * zeroed, err says why, and the result is SIO_ELIMIT for a size limit,
 * SIO_EINVAL for a NULL verifier or token or a non-finite now, and
 * SIO_EPROTO for any other refusal (malformed, wrong algorithm, bad
 * signature, expired, ...).
 */
int sio_jwt_verify(const struct sio_jwt *v, const char *token, size_t len,
    double now, struct sio_jwt_claims *out, char *err);
/* Frees what out holds and zeroes it; safe on a zeroed struct. */
void sio_jwt_claims_free(struct sio_jwt_claims *c);

#endif
