/*
 * util: error codes, growable byte buffers, reference-counted shared
 * buffers, random ids, base64, monotonic time, giving memory back.
 *
 * Ownership: a struct sio_buf owns its bytes (sio_buf_free releases them);
 * a struct sio_rc is shared, each holder calls sio_rc_unref once.
 */
#ifndef SIO_UTIL_H
#define SIO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#define SIO_ERRLEN 256

enum sio_err {
	SIO_OK = 0,
	SIO_ENOMEM = -1,
	SIO_EAGAIN = -2,
	SIO_EPROTO = -3,	/* a peer sent something the protocol forbids */
	SIO_ELIMIT = -4,	/* a configured limit was hit */
	SIO_ECLOSED = -5,
	SIO_ESYS = -6,		/* errno holds the detail */
	SIO_EINVAL = -7,	/* a caller passed something invalid */
	SIO_ENOTFOUND = -8,
};

const char *sio_strerror(int err);

#define SIO_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Aborts on allocation failure: used only where the hub cannot go on. */
void *sio_xmalloc(size_t n);
void *sio_xcalloc(size_t n, size_t sz);
void *sio_xrealloc(void *p, size_t n);
char *sio_xstrdup(const char *s);
char *sio_xstrndup(const char *s, size_t n);

/* ---- growable buffer -------------------------------------------------- */

struct sio_buf {
	char *data;
	size_t len;
	size_t cap;
};

#define SIO_BUF_INIT { NULL, 0, 0 }

void sio_buf_reserve(struct sio_buf *b, size_t extra);
void sio_buf_add(struct sio_buf *b, const void *p, size_t n);
void sio_buf_adds(struct sio_buf *b, const char *s);
void sio_buf_addc(struct sio_buf *b, char c);
void sio_buf_printf(struct sio_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sio_buf_consume(struct sio_buf *b, size_t n);	/* drop n bytes from the front */
void sio_buf_reset(struct sio_buf *b);		/* len = 0, keeps memory */
void sio_buf_free(struct sio_buf *b);
/* Hands the bytes (NUL-terminated) to the caller, who frees them. */
char *sio_buf_steal(struct sio_buf *b, size_t *len);

/* ---- shared, reference-counted bytes --------------------------------- */

/*
 * One allocation holding a count and the bytes. A broadcast builds its
 * frame once into one of these; each recipient's output queue holds a
 * reference, so no recipient copies the payload.
 */
struct sio_rc {
	uint32_t refs;
	uint32_t len;
	uint8_t data[];
};

struct sio_rc *sio_rc_new(size_t len);		/* refs = 1, bytes uninitialised */
struct sio_rc *sio_rc_from(const void *p, size_t len);
static inline struct sio_rc *sio_rc_ref(struct sio_rc *rc) { rc->refs++; return rc; }
void sio_rc_unref(struct sio_rc *rc);		/* NULL is a no-op */

/* ---- ids, base64, time ---------------------------------------------- */

/*
 * Writes a random, URL-safe id of `len` characters plus a NUL into out
 * (len <= 32; 20 characters carry 120 random bits). Returns SIO_OK or
 * SIO_ESYS when the system's randomness fails.
 */
int sio_random_id(char *out, size_t len);
/*
 * Sets up what the first client would otherwise set up: OpenSSL's random
 * generator and the SHA-1 of the WebSocket handshake. A server calls it
 * once before it accepts anyone, so that broken randomness stops it at
 * start, and the library's long-lived state (about 280 KB) sits below
 * the clients' memory instead of among it, where it would keep pages of
 * a heap that has emptied after a wave of clients. SIO_OK or SIO_ESYS.
 */
int sio_crypto_warm(void);

/* base64 (standard alphabet, padded). Encode appends to b. */
void sio_base64_encode(struct sio_buf *b, const void *p, size_t n);
/* Decodes into b; returns SIO_OK, or SIO_EPROTO on bad input. */
int sio_base64_decode(struct sio_buf *b, const char *s, size_t n);
size_t sio_base64_len(size_t n);
/*
 * base64url without padding (RFC 4648 section 5), as JWS (RFC 7515) uses
 * it. Strict, so that each byte string has one encoding: '=', characters
 * outside the alphabet, a length of 4k+1 and non-zero unused trailing
 * bits are all SIO_EPROTO. Appends to b (NUL-terminated); on error b's
 * length is unchanged.
 */
int sio_base64url_decode(struct sio_buf *b, const char *s, size_t n);

/* Milliseconds since the epoch, wall clock (for timestamps shown to people). */
int64_t sio_now_ms(void);

/* Strict UTF-8 check (no overlongs, no surrogates, <= U+10FFFF). */
bool sio_utf8_valid(const uint8_t *p, size_t n);

/* The unsigned big-endian integer in p[0..n), n at most 8. */
uint64_t sio_be_uint(const uint8_t *p, int n);

/* "250ms", "5s", "2m", "1h"; a bare number is seconds. False if malformed. */
bool sio_parse_duration_ms(const char *s, long long *ms);

/* Parses a decimal in [min,max]; returns false on anything else. */
bool sio_parse_long(const char *s, long min, long max, long *out);

/*
 * Gives the heap's free pages back to the system after many frees (a
 * wave of disconnects). Costs a few hundred small allocations and a
 * short-lived thread: call it at most a few times a second.
 */
void sio_memory_release(void);

#endif
