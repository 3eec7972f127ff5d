/* jq: libjq programs for the tools' --jq and --filter options. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jq.h>
#include <jv.h>

struct sio_jq {
	jq_state *jq;
	jv_parser *parser;
	bool raw;
	char err[SIO_ERRLEN];
};

static void
compile_error(void *data, jv msg)
{
	struct sio_jq *q = data;
	if (jv_get_kind(msg) == JV_KIND_STRING && q->err[0] == '\0')
		snprintf(q->err, sizeof q->err, "%s", jv_string_value(msg));
	jv_free(msg);
}

struct sio_jq *
sio_jq_new(const char *program, char *err)
{
	struct sio_jq *q = sio_xcalloc(1, sizeof *q);

	q->jq = jq_init();
	if (!q->jq) {
		snprintf(err, SIO_ERRLEN, "cannot start jq");
		free(q);
		return NULL;
	}
	jq_set_error_cb(q->jq, compile_error, q);
	if (!jq_compile(q->jq, program)) {
		snprintf(err, SIO_ERRLEN, "jq program does not compile: %.200s",
		    q->err[0] ? q->err : program);
		jq_teardown(&q->jq);
		free(q);
		return NULL;
	}
	q->parser = jv_parser_new(0);
	return q;
}

void
sio_jq_set_raw(struct sio_jq *q, bool raw)
{
	q->raw = raw;
}

void
sio_jq_free(struct sio_jq *q)
{
	if (!q)
		return;
	if (q->parser)
		jv_parser_free(q->parser);
	jq_teardown(&q->jq);
	free(q);
}

/* Runs the program on value (consumed). */
static int
run_value(struct sio_jq *q, jv value, sio_jq_out out, void *arg, char *err)
{
	jq_start(q->jq, value, 0);
	for (;;) {
		jv r = jq_next(q->jq);
		if (!jv_is_valid(r)) {
			if (jv_invalid_has_msg(jv_copy(r))) {
				jv msg = jv_invalid_get_msg(r);
				if (jv_get_kind(msg) == JV_KIND_STRING)
					snprintf(err, SIO_ERRLEN, "jq: %s", jv_string_value(msg));
				else
					snprintf(err, SIO_ERRLEN, "jq: error");
				jv_free(msg);
				return SIO_EPROTO;
			}
			jv_free(r);
			return SIO_OK;
		}
		if (q->raw && jv_get_kind(r) == JV_KIND_STRING) {
			out(jv_string_value(r), (size_t)jv_string_length_bytes(jv_copy(r)), arg);
			jv_free(r);
			continue;
		}
		jv s = jv_dump_string(r, 0);
		out(jv_string_value(s), (size_t)jv_string_length_bytes(jv_copy(s)), arg);
		jv_free(s);
	}
}

int
sio_jq_feed(struct sio_jq *q, const char *buf, size_t len, bool last, sio_jq_out out,
    void *arg, char *err)
{
	int rc = SIO_OK;
	jv_parser_set_buf(q->parser, buf, (int)len, !last);
	for (;;) {
		jv v = jv_parser_next(q->parser);
		if (jv_is_valid(v)) {
			if (run_value(q, v, out, arg, err) != SIO_OK)
				rc = SIO_EPROTO;
			continue;
		}
		if (jv_invalid_has_msg(jv_copy(v))) {
			jv msg = jv_invalid_get_msg(v);
			snprintf(err, SIO_ERRLEN, "bad JSON input: %s",
			    jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) : "?");
			jv_free(msg);
			/* Start over after the bad input. */
			jv_parser_free(q->parser);
			q->parser = jv_parser_new(0);
			return SIO_EPROTO;
		}
		jv_free(v);
		return rc;
	}
}

int
sio_jq_run(struct sio_jq *q, const char *json, size_t len, sio_jq_out out, void *arg,
    char *err)
{
	jv v = jv_parse_sized(json, (int)len);
	if (!jv_is_valid(v)) {
		jv msg = jv_invalid_get_msg(v);
		snprintf(err, SIO_ERRLEN, "bad JSON: %s",
		    jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) : "?");
		jv_free(msg);
		return SIO_EPROTO;
	}
	return run_value(q, v, out, arg, err);
}
