#include "util.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

const char *
sio_strerror(int err)
{
	switch (err) {
	case SIO_OK: return "success";
	case SIO_ENOMEM: return "out of memory";
	case SIO_EAGAIN: return "try again";
	case SIO_EPROTO: return "protocol error";
	case SIO_ELIMIT: return "limit exceeded";
	case SIO_ECLOSED: return "closed";
	case SIO_ESYS: return strerror(errno);
	case SIO_EINVAL: return "invalid argument";
	case SIO_ENOTFOUND: return "not found";
	}
	return "unknown error";
}

static void
oom(void)
{
	fputs("sio: fatal: out of memory\n", stderr);
	abort();
}

void *
sio_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *
sio_xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		oom();
	return p;
}

void *
sio_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *
sio_xstrdup(const char *s)
{
	return sio_xstrndup(s, strlen(s));
}

char *
sio_xstrndup(const char *s, size_t n)
{
	char *p = sio_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* ---- growable buffer -------------------------------------------------- */

void
sio_buf_reserve(struct sio_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;	/* room for a NUL terminator */
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = sio_xrealloc(b->data, cap);
	b->cap = cap;
}

void
sio_buf_add(struct sio_buf *b, const void *p, size_t n)
{
	sio_buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
sio_buf_adds(struct sio_buf *b, const char *s)
{
	sio_buf_add(b, s, strlen(s));
}

void
sio_buf_addc(struct sio_buf *b, char c)
{
	sio_buf_add(b, &c, 1);
}

void
sio_buf_printf(struct sio_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		sio_buf_add(b, small, (size_t)n);
		return;
	}
	sio_buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
sio_buf_consume(struct sio_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data)
		b->data[b->len] = '\0';
}

void
sio_buf_reset(struct sio_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
sio_buf_free(struct sio_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *
sio_buf_steal(struct sio_buf *b, size_t *len)
{
	sio_buf_reserve(b, 0);
	b->data[b->len] = '\0';
	char *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

/* ---- shared bytes ----------------------------------------------------- */

struct sio_rc *
sio_rc_new(size_t len)
{
	struct sio_rc *rc = sio_xmalloc(sizeof *rc + len);
	rc->refs = 1;
	rc->len = (uint32_t)len;
	return rc;
}

struct sio_rc *
sio_rc_from(const void *p, size_t len)
{
	struct sio_rc *rc = sio_rc_new(len);
	if (len)
		memcpy(rc->data, p, len);
	return rc;
}

void
sio_rc_unref(struct sio_rc *rc)
{
	if (rc && --rc->refs == 0)
		free(rc);
}

/* ---- ids, base64, time ------------------------------------------------ */

int
sio_random_id(char *out, size_t len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char rnd[32];

	if (len > sizeof rnd)
		return SIO_EINVAL;
	if (RAND_bytes(rnd, (int)len) != 1) {
		errno = EIO;
		return SIO_ESYS;
	}
	/* 64 symbols: each byte's low six bits are uniform. */
	for (size_t i = 0; i < len; i++)
		out[i] = alphabet[rnd[i] & 63];
	/* An id that starts with '-' reads as an option on a command line. */
	while (len > 0 && out[0] == '-') {
		if (RAND_bytes(rnd, 1) != 1) {
			errno = EIO;
			return SIO_ESYS;
		}
		out[0] = alphabet[rnd[0] & 63];
	}
	out[len] = '\0';
	return SIO_OK;
}

int
sio_crypto_warm(void)
{
	char id[21];
	unsigned char digest[SHA_DIGEST_LENGTH];

	if (sio_random_id(id, 20) != SIO_OK)
		return SIO_ESYS;
	SHA1((const unsigned char *)id, 20, digest);
	return SIO_OK;
}

size_t
sio_base64_len(size_t n)
{
	return 4 * ((n + 2) / 3);
}

void
sio_base64_encode(struct sio_buf *b, const void *p, size_t n)
{
	size_t out = sio_base64_len(n);
	sio_buf_reserve(b, out + 1);
	/* EVP_EncodeBlock takes an int length: feed it in large slices. */
	const unsigned char *src = p;
	while (n > 0) {
		size_t chunk = n > 3u * 1024 * 1024 ? 3u * 1024 * 1024 : n;
		int w = EVP_EncodeBlock((unsigned char *)b->data + b->len, src, (int)chunk);
		b->len += (size_t)w;
		src += chunk;
		n -= chunk;
	}
	b->data[b->len] = '\0';
}

int
sio_base64_decode(struct sio_buf *b, const char *s, size_t n)
{
	if (n % 4 != 0)
		return SIO_EPROTO;
	if (n == 0)
		return SIO_OK;
	if (n > INT_MAX)
		return SIO_ELIMIT;
	size_t pad = 0;
	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return SIO_EPROTO;
	}
	sio_buf_reserve(b, n / 4 * 3 + 1);
	int w = EVP_DecodeBlock((unsigned char *)b->data + b->len,
	    (const unsigned char *)s, (int)n);
	if (w < 0)
		return SIO_EPROTO;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	b->len += (size_t)w - pad;
	b->data[b->len] = '\0';
	return SIO_OK;
}

static int
base64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
sio_base64url_decode(struct sio_buf *b, const char *s, size_t n)
{
	/* One character left over carries 6 bits: not even one byte. */
	if (n % 4 == 1)
		return SIO_EPROTO;
	sio_buf_reserve(b, n / 4 * 3 + 2);
	unsigned char *o = (unsigned char *)b->data + b->len;
	uint32_t acc = 0;
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		int v = base64url_value((unsigned char)s[i]);
		if (v < 0)
			return SIO_EPROTO;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			o[w++] = (unsigned char)(acc >> 16);
			o[w++] = (unsigned char)(acc >> 8);
			o[w++] = (unsigned char)acc;
			acc = 0;
		}
	}
	/* The bits below the last whole byte must be zero, or two texts
	 * would decode to the same bytes. */
	switch (n % 4) {
	case 2:
		if (acc & 0xf)
			return SIO_EPROTO;
		o[w++] = (unsigned char)(acc >> 4);
		break;
	case 3:
		if (acc & 0x3)
			return SIO_EPROTO;
		o[w++] = (unsigned char)(acc >> 10);
		o[w++] = (unsigned char)(acc >> 2);
		break;
	}
	b->len += w;
	b->data[b->len] = '\0';
	return SIO_OK;
}

int64_t
sio_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t
sio_be_uint(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

bool
sio_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t need;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + need >= n)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

bool
sio_parse_duration_ms(const char *s, long long *ms)
{
	char *end;
	if (!s || !*s)
		return false;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return false;
	double mult = 1000;
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mult = 1000;
	else if (strcmp(end, "m") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = 3600000;
	else
		return false;
	if (v * mult > 9e15)
		return false;
	*ms = (long long)(v * mult + 0.5);
	return true;
}

bool
sio_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	/* strtol would take leading blanks and a '+': a number is digits. */
	if (!s || !*s || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return false;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* ---- giving memory back --------------------------------------------- */

/*
 * glibc keeps up to 7 freed chunks of each of its 64 smallest sizes in a
 * per-thread cache that malloc_trim leaves alone. After a wave of
 * disconnects those are the last chunks the wave freed, spread over the
 * whole heap, one or two to a page: about 1 MB stayed resident after
 * 10,000 clients left, though nothing lived there. Taking them out of
 * the cache (the mallocs below) and freeing them on another thread,
 * whose own cache is emptied into the shared heap when it exits, leaves
 * them free for malloc_trim to release. With another allocator this is
 * a few hundred harmless mallocs and frees.
 */
enum { CACHE_SIZES = 64, CACHE_PER_SIZE = 7 };

static void *
free_all(void *arg)
{
	void **p = arg;
	for (int i = 0; i < CACHE_SIZES * CACHE_PER_SIZE; i++)
		free(p[i]);
	return NULL;
}

void
sio_memory_release(void)
{
	void *cached[CACHE_SIZES * CACHE_PER_SIZE];

	/* chunk sizes 32, 48, ... 1040: requests of 24 + 16k bytes */
	for (int k = 0; k < CACHE_SIZES; k++)
		for (int i = 0; i < CACHE_PER_SIZE; i++)
			cached[k * CACHE_PER_SIZE + i] = malloc((size_t)(24 + 16 * k));
	/* The thread must not take the process's signals (libev's). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t t;
	bool threaded = pthread_create(&t, NULL, free_all, cached) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (threaded)
		pthread_join(t, NULL);
	else
		free_all(cached);	/* back into the cache: no gain, no harm */
	malloc_trim(0);
}
