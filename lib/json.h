/*
 * json: what the hub and tools need of JSON without changing a byte of it.
 *
 * A strict RFC 8259 validator that records each value as a token with its
 * byte span in the caller's text, so packets can be sliced, inspected and
 * re-assembled from the original bytes (numbers beyond 2^53, escapes and
 * key order survive). libjq's jv is never used here: it stores numbers
 * as doubles.
 *
 * Ownership: a struct sio_json owns only its token array; the text is
 * borrowed and must outlive every use of the tokens.
 */
#ifndef SIO_JSON_H
#define SIO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum sio_json_type {
	SIO_JSON_OBJECT = 1,
	SIO_JSON_ARRAY,
	SIO_JSON_STRING,
	SIO_JSON_NUMBER,
	SIO_JSON_TRUE,
	SIO_JSON_FALSE,
	SIO_JSON_NULL,
};

struct sio_json_tok {
	uint8_t type;
	uint32_t start;		/* first byte: '{', '[', '"', digit, '-', 't', ... */
	uint32_t end;		/* one past the last byte ('}', ']', closing '"') */
	uint32_t size;		/* arrays: elements; objects: keys; others: 0 */
	uint32_t next;		/* index of the token after this value's subtree */
};

/*
 * A parsed document. Tokens are in document order; an object's children
 * alternate key (a STRING token) and value; an array's children are its
 * elements. Reuse one struct across parses to keep its memory.
 */
struct sio_json {
	struct sio_json_tok *tok;
	size_t n;
	size_t cap;
};

#define SIO_JSON_INIT { NULL, 0, 0 }

/*
 * Validates text[0..len) as exactly one JSON value (surrounding
 * whitespace allowed) and fills doc. Strings must be valid UTF-8;
 * \uXXXX escapes of lone surrogates are accepted, as JavaScript does.
 * Nesting deeper than maxdepth fails. Returns SIO_OK, or SIO_EPROTO /
 * SIO_ELIMIT with a message in err (at least SIO_ERRLEN bytes, may be
 * NULL) naming the byte offset.
 */
int sio_json_parse(struct sio_json *doc, const char *text, size_t len,
    int maxdepth, char *err);
void sio_json_free(struct sio_json *doc);

/* Token index of key's value in object token obj, or -1. */
int sio_json_get(const struct sio_json *doc, const char *text, int obj,
    const char *key);
/* Index of the k-th element of array token arr, or -1. */
int sio_json_at(const struct sio_json *doc, int arr, uint32_t k);
/* True when string token i decodes to exactly s. */
bool sio_json_str_eq(const struct sio_json *doc, const char *text, int i,
    const char *s);
/*
 * Decodes string token i into out (appended, NUL-terminated). Lone
 * surrogates become U+FFFD. Returns the decoded length.
 */
size_t sio_json_str_decode(const struct sio_json *doc, const char *text,
    int i, struct sio_buf *out);
/* Appends s[0..n) as a JSON string literal with quotes. */
void sio_json_add_str(struct sio_buf *b, const char *s, size_t n);
/*
 * When token i is {"_placeholder":true,"num":K} (keys in any order,
 * nothing else), stores K in *num and returns true.
 */
bool sio_json_is_placeholder(const struct sio_json *doc, const char *text,
    int i, long *num);
/* When number token i is an integer in [min,max], stores it. */
bool sio_json_int(const struct sio_json *doc, const char *text, int i,
    long long min, long long max, long long *out);

/* ---- jq programs (jq.c) ------------------------------------------------
 *
 * For the tools' --jq and --filter options only: libjq 1.6 holds numbers
 * as doubles, so a value that goes through a jq program may change (large
 * integers). The relay path never uses this.
 */
struct sio_jq;

/* Compiles program; NULL with a message in err (SIO_ERRLEN) on error. */
struct sio_jq *sio_jq_new(const char *program, char *err);
void sio_jq_free(struct sio_jq *q);
/* Raw output (jq -r): a string result is given as its text, unquoted. */
void sio_jq_set_raw(struct sio_jq *q, bool raw);
typedef void (*sio_jq_out)(const char *json, size_t len, void *arg);
/*
 * Feeds input bytes (a stream of JSON values, possibly split anywhere);
 * runs the program on each complete value and calls out() with each
 * result as compact JSON. last: no more input follows. Returns SIO_OK,
 * or SIO_EPROTO with err set (bad input JSON, or a runtime error of the
 * program); after an input error the parser starts over.
 */
int sio_jq_feed(struct sio_jq *q, const char *buf, size_t len, bool last,
    sio_jq_out out, void *arg, char *err);
/* Runs the program on one JSON text. Same results as sio_jq_feed. */
int sio_jq_run(struct sio_jq *q, const char *json, size_t len, sio_jq_out out,
    void *arg, char *err);

#endif
