/*
 * web: HTTP/1.1 over a connection, through http-parser. Keep-alive and
 * pipelining: the parser is paused at the end of each request, the
 * request is answered (or parked as a long-poll), and only then is the
 * next pipelined request parsed.
 */
#include "conn.h"
#include "hub.h"
#include "log.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int
on_message_begin(http_parser *p)
{
	struct sio_conn *c = p->data;
	sio_web_req_reset(&c->req);
	return 0;
}

static bool
header_budget(struct sio_conn *c, size_t n)
{
	c->req.header_bytes += n;
	return c->req.header_bytes <= sio_hub_cfg(c->hub)->max_header_bytes;
}

static int
on_url(http_parser *p, const char *at, size_t n)
{
	struct sio_conn *c = p->data;
	if (!header_budget(c, n))
		return 1;
	sio_buf_add(&c->req.url, at, n);
	return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t n)
{
	struct sio_conn *c = p->data;
	struct sio_web_req *r = &c->req;

	if (!header_budget(c, n))
		return 1;
	if (r->field_done || r->nheaders == 0) {
		if (r->nheaders > 0)
			sio_buf_addc(&r->headers, '\0');	/* end of the last value */
		if (++r->nheaders > sio_hub_cfg(c->hub)->max_headers) {
			r->too_many_headers = true;
			return 1;
		}
		r->field_done = false;
	}
	sio_buf_reserve(&r->headers, n);
	for (size_t i = 0; i < n; i++)
		r->headers.data[r->headers.len++] = (char)tolower((unsigned char)at[i]);
	r->headers.data[r->headers.len] = '\0';
	return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t n)
{
	struct sio_conn *c = p->data;
	struct sio_web_req *r = &c->req;

	if (!header_budget(c, n))
		return 1;
	if (!r->field_done) {
		sio_buf_addc(&r->headers, '\0');	/* end of the name */
		r->field_done = true;
	}
	sio_buf_add(&r->headers, at, n);
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct sio_conn *c = p->data;
	struct sio_web_req *r = &c->req;
	struct http_parser_url u;

	if (r->nheaders > 0)
		sio_buf_addc(&r->headers, '\0');
	r->method = p->method;
	/* HTTP/0.9 (no version on the request line) gets no HTTP/1.1 answer
	 * it could not read, nor does 1.2+ or 2.x. (From this callback, 1
	 * would mean "no body": errors are -1.) */
	if (p->http_major != 1 || p->http_minor > 1) {
		r->bad_version = true;
		return -1;
	}
	http_parser_url_init(&u);
	/* A URL it cannot split (CONNECT's host:port): no path, so "/", no body. */
	if (http_parser_parse_url(r->url.data ? r->url.data : "", r->url.len, 0, &u) != 0)
		return 1;
	if (u.field_set & (1 << UF_PATH))
		r->path = sio_xstrndup(r->url.data + u.field_data[UF_PATH].off,
		    u.field_data[UF_PATH].len);
	else
		r->path = sio_xstrdup("/");
	if (u.field_set & (1 << UF_QUERY))
		r->query = sio_xstrndup(r->url.data + u.field_data[UF_QUERY].off,
		    u.field_data[UF_QUERY].len);
	else
		r->query = sio_xstrdup("");
	if (p->content_length != ULLONG_MAX &&
	    p->content_length > sio_hub_cfg(c->hub)->max_payload)
		r->too_large = true;
	const char *expect = sio_web_header(r, "expect");
	if (expect && strcasecmp(expect, "100-continue") == 0 && !r->too_large) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		sio_outq_push(&c->out, cont, sizeof cont - 1, SIO_REF_STATIC, NULL);
		sio_conn_want_flush(c);
	}
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t n)
{
	struct sio_conn *c = p->data;
	struct sio_web_req *r = &c->req;

	if (r->too_large || r->body.len + n > sio_hub_cfg(c->hub)->max_payload) {
		r->too_large = true;
		http_parser_pause(p, 1);
		return 0;
	}
	sio_buf_add(&r->body, at, n);
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct sio_conn *c = p->data;
	c->req.complete = true;
	c->req.keep_alive = http_should_keep_alive(p);
	/* One request at a time: the next is parsed once this one is answered. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void
sio_web_req_release(struct sio_web_req *r)
{
	sio_web_req_reset(r);
	sio_buf_free(&r->url);
	sio_buf_free(&r->headers);
	sio_buf_free(&r->body);
}

void
sio_web_req_reset(struct sio_web_req *r)
{
	sio_buf_reset(&r->url);
	sio_buf_reset(&r->headers);
	sio_buf_reset(&r->body);
	free(r->path);
	free(r->query);
	r->path = r->query = NULL;
	r->header_bytes = 0;
	r->nheaders = 0;
	r->field_done = false;
	r->complete = false;
	r->keep_alive = false;
	r->too_large = false;
	r->bad_version = false;
	r->too_many_headers = false;
	r->method = 0;
}

static void
web_timeout_cb(EV_P_ ev_timer *w, int revents)
{
	struct sio_conn *c = SIO_CONTAINER_OF(w, struct sio_conn, timer);
	(void)EV_A;
	(void)revents;
	if (c->mode != SIO_CONN_HTTP || c->busy)
		return;
	if (c->in.len > 0 || c->req.url.len > 0) {
		sio_log_info("%s: request not received in time", c->peer);
		sio_web_respond(c, 408, "text/plain", NULL, "Request Timeout", 15);
		c->close_after_flush = true;
		sio_conn_flush(c);
	} else {
		sio_conn_close(c, "idle");
	}
}

static void
arm_timer(struct sio_conn *c)
{
	struct ev_loop *loop = sio_hub_loop(c->hub);
	double t = sio_hub_cfg(c->hub)->http_timeout / 1000.0;

	if (!ev_is_active(&c->timer) && c->timer.cb == NULL)
		ev_timer_init(&c->timer, web_timeout_cb, t, 0.);
	ev_timer_stop(loop, &c->timer);
	ev_timer_set(&c->timer, t, 0.);
	ev_timer_start(loop, &c->timer);
}

static void
fail(struct sio_conn *c, int status, const char *msg)
{
	sio_log_info("%s: HTTP %d: %s", c->peer, status, msg);
	sio_web_respond(c, status, "text/plain", NULL, msg, strlen(msg));
	c->close_after_flush = true;
	c->busy = true;
	sio_conn_flush(c);
}

void
sio_web_start(struct sio_conn *c)
{
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	arm_timer(c);	/* a connection that never speaks is closed too */
}

void
sio_web_process(struct sio_conn *c)
{
	while (!c->closed && c->mode == SIO_CONN_HTTP && !c->busy && c->in.len > 0) {
		size_t n = http_parser_execute(&c->parser, &settings, c->in.data, c->in.len);
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

		if (e == HPE_PAUSED)
			http_parser_pause(&c->parser, 0);
		sio_buf_consume(&c->in, n);
		if (c->req.too_large) {
			/* Route it anyway: the endpoint may own a session to close. */
			c->req.complete = true;
			c->req.keep_alive = false;
			sio_buf_reset(&c->in);
		}
		if (e != HPE_OK && e != HPE_PAUSED && !c->req.too_large) {
			if (c->req.header_bytes > sio_hub_cfg(c->hub)->max_header_bytes ||
			    c->req.too_many_headers)
				fail(c, 431, "Request Header Fields Too Large");
			else if (c->req.bad_version)
				fail(c, 505, "HTTP Version Not Supported");
			else
				fail(c, 400, http_errno_description(e));
			return;
		}
		if (!c->req.complete)
			break;
		c->busy = true;
		ev_timer_stop(sio_hub_loop(c->hub), &c->timer);
		sio_hub_dispatch(c->hub, c);
	}
	/* Input left unparsed while busy stays in c->in for later. */
}

void
sio_web_response_done(struct sio_conn *c)
{
	if (c->closed)
		return;
	c->parked = false;
	if (!c->req.keep_alive) {
		c->close_after_flush = true;
		sio_conn_want_flush(c);
		return;
	}
	c->busy = false;
	sio_web_req_reset(&c->req);
	arm_timer(c);
	sio_conn_want_flush(c);
}

static void
resume_deferred(void *arg)
{
	struct sio_conn *c = arg;
	c->resume_pending = false;
	if (!c->closed && c->mode == SIO_CONN_HTTP && !c->busy && c->in.len > 0)
		sio_web_process(c);
}

void
sio_web_resume(struct sio_conn *c)
{
	sio_web_response_done(c);
	sio_conn_pause_reading(c, false);	/* reading stopped if input piled up */
	/*
	 * The next pipelined request waits for the loop: answering a
	 * long-poll happens inside broadcasts and session closes, and a
	 * request handled there could change what they are iterating.
	 */
	if (!c->closed && c->in.len > 0 && !c->resume_pending) {
		c->resume_pending = true;
		sio_hub_defer(c->hub, resume_deferred, c);
	}
}

const char *
sio_web_header(const struct sio_web_req *r, const char *name)
{
	if (!r->headers.data)
		return NULL;	/* no header at all */
	const char *p = r->headers.data, *end = p + r->headers.len;

	for (unsigned i = 0; p && i < r->nheaders && p < end; i++) {
		const char *v = p + strlen(p) + 1;
		if (v >= end)
			break;
		if (strcmp(p, name) == 0)
			return v;
		p = v + strlen(v) + 1;
	}
	return NULL;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
sio_web_url_decode(const char *s, size_t n, bool plus_space, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '+' && plus_space) {
			ch = ' ';
		} else if (ch == '%' && i + 2 < n &&
		    hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			ch = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		if (o + 1 >= outlen)
			return false;
		out[o++] = ch;
	}
	out[o] = '\0';
	return true;
}

bool
sio_web_query_present(const struct sio_web_req *r, const char *name)
{
	char big[4096];
	/* Present when found, whatever it holds; a value too long for big
	 * is present too, so ask for a key match without the value. */
	const char *q = r->query ? r->query : "";
	size_t nlen = strlen(name);
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', len);
		size_t klen = eq ? (size_t)(eq - q) : len;
		if (sio_web_url_decode(q, klen, true, big, sizeof big) && strlen(big) == nlen &&
		    memcmp(big, name, nlen) == 0)
			return true;
		q += len;
		if (*q == '&')
			q++;
	}
	return false;
}

bool
sio_web_query(const struct sio_web_req *r, const char *name, char *out, size_t outlen)
{
	const char *q = r->query ? r->query : "";
	size_t nlen = strlen(name);

	while (*q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', len);
		size_t klen = eq ? (size_t)(eq - q) : len;
		char key[64];
		if (sio_web_url_decode(q, klen, true, key, sizeof key) && strlen(key) == nlen &&
		    memcmp(key, name, nlen) == 0) {
			const char *v = eq ? eq + 1 : q + len;
			size_t vlen = eq ? len - klen - 1 : 0;
			return sio_web_url_decode(v, vlen, true, out, outlen);
		}
		q += len;
		if (*q == '&')
			q++;
	}
	return false;
}

static const char *
status_text(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return "Unknown";
}

void
sio_web_respond_head(struct sio_conn *c, int status, const char *ctype,
    const char *extra_headers, size_t len)
{
	struct sio_buf h = SIO_BUF_INIT;
	bool keep = c->req.keep_alive && !c->close_after_flush && status < 400;

	if (!keep)
		c->req.keep_alive = false;
	sio_buf_printf(&h, "HTTP/1.1 %d %s\r\n", status, status_text(status));
	if (ctype)
		sio_buf_printf(&h, "Content-Type: %s\r\n", ctype);
	sio_buf_printf(&h, "Content-Length: %zu\r\n", len);
	sio_buf_adds(&h, keep ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
	if (extra_headers)
		sio_buf_adds(&h, extra_headers);
	sio_buf_adds(&h, "\r\n");
	struct sio_rc *rc = sio_rc_from(h.data, h.len);
	sio_outq_push(&c->out, rc->data, rc->len, SIO_REF_RC, rc);
	sio_buf_free(&h);
}

void
sio_web_respond(struct sio_conn *c, int status, const char *ctype,
    const char *extra_headers, const void *body, size_t len)
{
	sio_web_respond_head(c, status, ctype, extra_headers, len);
	if (len)
		sio_outq_copy(&c->out, body, len);
	sio_conn_want_flush(c);
}
