/*
 * t.h: the unit tests' whole framework. Each check prints one line
 * "ok N - what" or "not ok N - what (file:line)"; T_DONE() prints the
 * closing "N passed, N failed" line the runner sums, and exits 1 on failure.
 */
#ifndef SIO_T_H
#define SIO_T_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_pass, t_fail;
static char *t_hex_buf;		/* t_hex's answer, freed by T_DONE */

/* Lower-case hex of p[0..n), in a buffer the next call reuses. */
static inline const char *
t_hex(const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *u = p;
	char *b = realloc(t_hex_buf, 2 * n + 1);

	if (!b)
		abort();
	t_hex_buf = b;
	for (size_t i = 0; i < n; i++) {
		b[2 * i] = digits[u[i] >> 4];
		b[2 * i + 1] = digits[u[i] & 15];
	}
	b[2 * n] = '\0';
	return b;
}

#define T_OK(cond, what) do {						\
	if (cond) {							\
		t_pass++;						\
		printf("ok %d - %s\n", t_pass + t_fail, (what));	\
	} else {							\
		t_fail++;						\
		printf("not ok %d - %s (%s:%d)\n", t_pass + t_fail,	\
		    (what), __FILE__, __LINE__);			\
	}								\
} while (0)

#define T_EQ_INT(a, b, what) do {					\
	long long t_a_ = (long long)(a), t_b_ = (long long)(b);		\
	T_OK(t_a_ == t_b_, (what));					\
	if (t_a_ != t_b_)						\
		printf("#   got %lld, want %lld\n", t_a_, t_b_);	\
} while (0)

#define T_EQ_MEM(p, n, s, what) do {					\
	size_t t_n_ = (size_t)(n), t_sn_ = strlen(s);			\
	int t_same_ = t_n_ == t_sn_ && memcmp((p), (s), t_n_) == 0;	\
	T_OK(t_same_, (what));						\
	if (!t_same_)							\
		printf("#   got  \"%.*s\"\n#   want \"%s\"\n",		\
		    (int)t_n_, (const char *)(p), (s));			\
} while (0)

#define T_EQ_STR(a, b, what) T_EQ_MEM((a), strlen(a), (b), (what))

#define T_DONE() do {							\
	free(t_hex_buf);						\
	printf("%d passed, %d failed\n", t_pass, t_fail);		\
	return t_fail ? 1 : 0;						\
} while (0)

#endif
