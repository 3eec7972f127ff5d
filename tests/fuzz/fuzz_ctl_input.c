/*
 * fuzz_ctl_input: sio_ctl_input_line (what sio-emit sends for each input
 * line) with several sets of defaults and ids. A line it accepts must
 * become exactly one control request: a JSON object whose only newline
 * is the final one, with "op" first and the event and data bytes copied
 * unchanged. Built by run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "json.h"
#include "util.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_ctl_input: %s:%d: check failed: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const to1[] = { "room1", "r\"2\\", "caf\xc3\xa9" };
static const char *const ex1[] = { "AAAAAAAAAAAAAAAAAAAA" };
static const char *const to2[] = { "" };

static const struct sio_emit_defaults defaults[] = {
	{ .timeout_ms = 5000 },
	{ .nsp = "/chat", .to = to1, .nto = 3, .except = ex1, .nexcept = 1,
	  .is_volatile = true, .ack = true, .timeout_ms = 86400000 },
	{ .nsp = "/\t\x01\"\\/\xe2\x82\xac", .to = to2, .nto = 1, .ack = true, .timeout_ms = 0 },
	{ .nsp = "/", .is_volatile = true, .timeout_ms = 250 },
};
static const char *const ids[] = { NULL, "1", "\"end\"", "-12.5e3" };

static struct sio_json doc = SIO_JSON_INIT, out_doc = SIO_JSON_INIT;

/* Bytes of the value of key in object 0 of d, or NULL. */
static const char *
value_of(const struct sio_json *d, const char *text, const char *key, size_t *len)
{
	int i = sio_json_get(d, text, 0, key);
	if (i < 0)
		return NULL;
	*len = d->tok[i].end - d->tok[i].start;
	return text + d->tok[i].start;
}

static void
one(const char *line, size_t len, const struct sio_emit_defaults *d, const char *id)
{
	struct sio_buf out = SIO_BUF_INIT;
	char err[SIO_ERRLEN];

	sio_buf_adds(&out, "prefix");	/* the request is appended */
	int rc = sio_ctl_input_line(&out, &doc, line, len, d, id, err);
	if (rc != SIO_OK) {
		CHECK(rc == SIO_EPROTO);
		CHECK(out.len == 6);	/* nothing appended on error */
		CHECK(strlen(err) > 0 && strlen(err) < SIO_ERRLEN);
		sio_buf_free(&out);
		return;
	}
	const char *req = out.data + 6;
	size_t n = out.len - 6;
	CHECK(n >= 2 && req[n - 1] == '\n');
	char *nl = memchr(req, '\n', n);
	if (nl != req + n - 1) {
		fprintf(stderr, "fuzz_ctl_input: the request has a newline at byte %zu of %zu; "
		    "the hub reads it as two lines:\n%.*s", (size_t)(nl - req), n, (int)n, req);
		abort();
	}
	rc = sio_json_parse(&out_doc, req, n - 1, 64, err);
	if (rc != SIO_OK) {
		fprintf(stderr, "fuzz_ctl_input: the request is not JSON: %s\n%.*s", err, (int)n, req);
		abort();
	}
	CHECK(out_doc.tok[0].type == SIO_JSON_OBJECT);
	CHECK(strncmp(req, "{\"op\":\"emit\"", 12) == 0 || strncmp(req, "{\"op\":\"reply\"", 13) == 0);
	bool reply = req[7] == 'r';

	/*
	 * What the line gave is in the request, byte for byte, but for line
	 * breaks (white space there: they would end the request) made spaces.
	 */
	const char *keys[] = { "event", "data", "to", "except", "nsp", "volatile", "reply" };
	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
		size_t a, b;
		const char *in = value_of(&doc, line, keys[k], &a);
		const char *o = value_of(&out_doc, req, keys[k], &b);
		if (in) {
			CHECK(o && a == b);
			for (size_t j = 0; j < a; j++)
				CHECK(o[j] == in[j] || (o[j] == ' ' && (in[j] == '\n' || in[j] == '\r')));
		}
	}
	size_t vl;
	const char *v;
	if (id) {
		v = value_of(&out_doc, req, "id", &vl);
		CHECK(v && vl == strlen(id) && memcmp(v, id, vl) == 0);
	} else {
		CHECK(sio_json_get(&out_doc, req, 0, "id") < 0);
	}
	if (reply) {
		CHECK(sio_json_get(&out_doc, req, 0, "reply") > 0);
		CHECK(sio_json_get(&out_doc, req, 0, "event") < 0);
		CHECK(sio_json_get(&out_doc, req, 0, "ack") < 0);
	} else {
		int e = sio_json_get(&out_doc, req, 0, "event");
		CHECK(e > 0 && out_doc.tok[e].type == SIO_JSON_STRING);
		if (d->ack)
			CHECK(sio_json_get(&out_doc, req, 0, "ack") > 0 &&
			    sio_json_get(&out_doc, req, 0, "timeout_ms") > 0);
		if (d->nsp)
			CHECK(sio_json_get(&out_doc, req, 0, "nsp") > 0);
	}
	sio_buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size ? size : 1);

	memcpy(line, data, size);
	/*
	 * The whole input as one "line": sio-emit's one-shot mode builds its
	 * line from arguments, which may hold newlines (pretty-printed JSON).
	 */
	for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
		one(line, size, &defaults[i], ids[i]);
	free(line);
	return 0;
}
