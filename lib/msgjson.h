/*
 * msgjson: JSON text <-> MessagePack, for the wire of the Node Redis
 * adapter (@socket.io/redis-adapter 8, @socket.io/redis-emitter 5), which
 * packs with notepack.io.
 *
 * The hub keeps payloads as JSON text and never turns numbers into
 * doubles on the way through; these conversions keep to that. JSON to
 * MessagePack writes what notepack.io writes for the value JSON.parse
 * would give, except where notepack.io would lose the value (integers
 * beyond 2^53 are written exactly). MessagePack to JSON writes what
 * JSON.stringify would give for the value notepack.io decodes, except
 * that 64-bit integers are written exactly.
 *
 * Binary values have no JSON form, so the caller says what stands for
 * them: Socket.IO placeholders {"_placeholder":true,"num":N} with the
 * bytes kept aside as attachments, or the tools' {"_binary":"<base64>"}.
 *
 * Ownership: nothing here keeps a pointer past a call, except the spans
 * that sio_mj_placeholder_out collects, which point into the caller's
 * MessagePack input.
 */
#ifndef SIO_MSGJSON_H
#define SIO_MSGJSON_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "util.h"

/* Bytes owned by someone else. */
struct sio_mj_span {
	const uint8_t *p;
	size_t len;
};

/*
 * A list of binary attachments, indexed by placeholder number. Going to
 * MessagePack the caller fills v and n (cap and max unused); coming from
 * it, sio_mj_placeholder_out appends, and refuses to go past max
 * (0: no limit). sio_mj_atts_free releases v, never the bytes.
 */
struct sio_mj_atts {
	struct sio_mj_span *v;
	size_t n, cap, max;
};

#define SIO_MJ_ATTS_INIT { NULL, 0, 0, 0 }

void sio_mj_atts_free(struct sio_mj_atts *a);

/* ---- JSON -> MessagePack ----------------------------------------------
 *
 * A hook sees each JSON object before it is packed. It returns 1 with
 * *bin set when the object stands for binary bytes (packed as bin, which
 * notepack.io decodes as a Buffer), 0 to pack it as a map, or a negative
 * SIO_E* code with a message in err (SIO_ERRLEN) to stop.
 */
typedef int (*sio_mj_bin_in)(void *arg, const struct sio_json *doc,
    const char *text, int tok, struct sio_mj_span *bin, char *err);

/* arg: const struct sio_mj_atts *; a num outside it is SIO_EPROTO. */
int sio_mj_placeholder_in(void *arg, const struct sio_json *doc,
    const char *text, int tok, struct sio_mj_span *bin, char *err);
/*
 * arg: struct sio_buf * the hook decodes into (reset on each call; the
 * caller frees it). Bad base64 is SIO_EPROTO.
 */
int sio_mj_base64_in(void *arg, const struct sio_json *doc, const char *text,
    int tok, struct sio_mj_span *bin, char *err);

/*
 * Appends the MessagePack form of token tok of doc (parsed from text) to
 * out. bin may be NULL: every object is then a map.
 *
 *   integer literal in int64/uint64   smallest int encoding, exact
 *   any other number                  as JavaScript reads it: a whole
 *                                     double in [-2^63, 2^64) packs as
 *                                     an int ("1e3", "2.0", "-0" -> 0),
 *                                     anything else as float 64
 *   string                            str (escapes decoded; a lone
 *                                     surrogate becomes U+FFFD)
 *   object / array / true / false / null   map / array / bool / nil
 *
 * Returns SIO_OK, or the hook's error (SIO_ELIMIT for bytes over 4 GiB)
 * with out as it was before the call.
 * Numbers are read with strtod, so LC_NUMERIC must be "C" (libsio never
 * calls setlocale).
 */
int sio_json_to_msgpack(struct sio_buf *out, const struct sio_json *doc,
    const char *text, int tok, sio_mj_bin_in bin, void *arg, char *err);

/* ---- MessagePack -> JSON ----------------------------------------------
 *
 * A hook gets each bin value and appends the JSON that stands for it.
 * Returns SIO_OK, or a negative SIO_E* code with a message in err.
 */
typedef int (*sio_mj_bin_out)(void *arg, const uint8_t *p, size_t len,
    struct sio_buf *json, char *err);

/*
 * arg: struct sio_mj_atts *. Appends the span (pointing into the input)
 * and writes {"_placeholder":true,"num":N}, N counting from a->n, so the
 * numbers follow document order as socket.io-parser numbers them.
 * SIO_ELIMIT past a->max.
 */
int sio_mj_placeholder_out(void *arg, const uint8_t *p, size_t len,
    struct sio_buf *json, char *err);
/* arg unused. Writes {"_binary":"<base64>"}. */
int sio_mj_base64_out(void *arg, const uint8_t *p, size_t len,
    struct sio_buf *json, char *err);

struct sio_mj_limits {
	int maxdepth;		/* nested arrays and maps; 0: scalars only */
	size_t maxout;		/* bytes of JSON appended at most; 0: no limit */
};

/*
 * Appends the JSON text of the one MessagePack value in p[0..len) to
 * out; trailing bytes are an error. lim is required; bin may be NULL:
 * bin values are then an error.
 *
 *   int / uint (any width)     decimal, exact
 *   float 32 / 64              shortest text that reads back as the same
 *                              double, in JavaScript's notation; NaN and
 *                              infinities become null, as JSON.stringify
 *                              writes them
 *   str                        JSON string; must be valid UTF-8
 *   map                        object; keys must be str
 *   nil / bool / array         null / true, false / array
 *   timestamp ext (-1)         ISO 8601 string of Date.toJSON(), or null
 *                              for a time JavaScript cannot hold
 *   notepack.io 2.x forms      fixext 1 type 0 (undefined): null in an
 *                              array, the pair dropped in a map; fixext 8
 *                              type 0: a date in ms; ext 8/16/32 type 0:
 *                              bytes, as bin
 *   other ext types, 0xc1      error
 *
 * Returns SIO_OK; SIO_EPROTO for malformed or unsupported input,
 * SIO_ELIMIT past a limit, or the hook's error; with a message in err
 * (may be NULL) naming the byte offset, and out as it was before.
 */
int sio_msgpack_to_json(struct sio_buf *out, const uint8_t *p, size_t len,
    const struct sio_mj_limits *lim, sio_mj_bin_out bin, void *arg,
    char *err);

/*
 * Appends the shortest decimal that reads back as d, formatted as
 * JavaScript's Number.prototype.toString does ("1e+21", "1.5e-7",
 * "0.000001", "-0" as "0"). NaN and infinities: "null".
 */
void sio_mj_add_double(struct sio_buf *out, double d);

#endif
