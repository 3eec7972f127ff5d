/*
 * ctlemit: the emit request (to clients, with or without acks, across the
 * cluster with --redis), the acks that answer it, a listener's reply to a
 * client's ack, and binary values ({"_binary":"<base64>"}) both ways.
 */
#include "ctlsrv.h"
#include "hub.h"
#include "packet.h"
#include "pkt.h"
#include "redis.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- binary values in control lines ----------------------------------------- */

/* Is token i {"_binary":"<base64>"}? Then returns the string token. */
static int
binary_value(const struct sio_json *doc, const char *text, int i)
{
	const struct sio_json_tok *t = &doc->tok[i];
	if (t->type != SIO_JSON_OBJECT || t->size != 1)
		return -1;
	if (!sio_json_str_eq(doc, text, i + 1, "_binary"))
		return -1;
	return doc->tok[i + 2].type == SIO_JSON_STRING ? i + 2 : -1;
}

/*
 * Appends text[from..to) to b, replacing each {"_binary":..} inside with
 * a placeholder and collecting the decoded bytes as attachments. Returns
 * SIO_OK, SIO_EPROTO (bad base64) or SIO_ELIMIT (too many).
 */
static int
lift_binaries(struct sio_buf *b, const struct sio_json *doc, const char *text,
    int first, int end_tok, struct sio_pkt **att, int *natt)
{
	uint32_t copied = doc->tok[first].start;
	struct sio_buf bytes = SIO_BUF_INIT;

	for (int i = first; i < end_tok; i++) {
		int s = binary_value(doc, text, i);
		if (s < 0)
			continue;
		if (*natt >= SIO_MAX_ATTACHMENTS) {
			sio_buf_free(&bytes);
			return SIO_ELIMIT;
		}
		sio_buf_reset(&bytes);
		const struct sio_json_tok *st = &doc->tok[s];
		if (sio_base64_decode(&bytes, text + st->start + 1, st->end - st->start - 2) != SIO_OK) {
			sio_buf_free(&bytes);
			return SIO_EPROTO;
		}
		sio_buf_add(b, text + copied, doc->tok[i].start - copied);
		sio_buf_printf(b, "{\"_placeholder\":true,\"num\":%d}", *natt);
		att[(*natt)++] = sio_pkt_from(true, bytes.data, bytes.len);
		copied = doc->tok[i].end;
		i = (int)doc->tok[i].next - 1;
	}
	sio_buf_free(&bytes);
	return (int)copied;
}

/*
 * The other way: appends a client's elements text[tok first .. last] as
 * they came, with each placeholder replaced by {"_binary":"<base64>"}.
 */
static void
append_elements(struct sio_buf *b, const struct sio_json *doc, const char *text,
    int first, uint32_t end, struct sio_pkt *const *att, int natt)
{
	uint32_t copied = doc->tok[first].start;
	int end_tok = (int)doc->tok[0].next;

	for (int i = first; natt > 0 && i < end_tok; i++) {
		long num;
		if (doc->tok[i].type != SIO_JSON_OBJECT ||
		    !sio_json_is_placeholder(doc, text, i, &num) || num >= natt)
			continue;
		sio_buf_add(b, text + copied, doc->tok[i].start - copied);
		size_t len;
		const uint8_t *form = sio_pkt_poll_form(att[num], &len);	/* "b<base64>" */
		sio_buf_adds(b, "{\"_binary\":\"");
		sio_buf_add(b, form + 1, len - 1);
		sio_buf_adds(b, "\"}");
		copied = doc->tok[i].end;
		i = (int)doc->tok[i].next - 1;
	}
	sio_buf_add(b, text + copied, end - copied);
}

/* "data":[...] from a client's array, starting at element index `skip`. */
void
sio_ctl_append_data(struct sio_buf *b, const struct sio_event *ev, uint32_t skip)
{
	const struct sio_json *doc = ev->doc;
	const struct sio_json_tok *arr = &doc->tok[0];

	sio_buf_adds(b, "\"data\":[");
	if (arr->size > skip) {
		int first = sio_json_at(doc, 0, skip);
		int last = sio_json_at(doc, 0, arr->size - 1);
		append_elements(b, doc, ev->payload, first, doc->tok[last].end, ev->att, ev->natt);
	}
	sio_buf_addc(b, ']');
}

/* ---- emit ---------------------------------------------------------------------- */

static void ack_wait_finish(struct ack_wait *w);
static void remote_ack(void *arg, const char *data, size_t len);

static void
ack_timeout_cb(EV_P_ ev_timer *t, int revents)
{
	struct ack_wait *w = SIO_CONTAINER_OF(t, struct ack_wait, timer);
	(void)EV_A;
	(void)revents;
	ack_wait_finish(w);
}

struct sid_list {
	char **v;
	size_t n, cap;
};

static void
collect_sid(struct sio_socket *s, void *arg)
{
	struct sid_list *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = sio_xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = sio_xstrdup(sio_socket_id(s));
}

void
sio_ctl_op_emit(struct ctl_client *cl, const struct req *r)
{
	struct sio_ctl *ctl = cl->ctl;
	static const char *const keys[] = { "to" };
	struct target tg;
	struct sio_buf ev = SIO_BUF_INIT, payload = SIO_BUF_INIT;
	struct sio_pkt *att[SIO_MAX_ATTACHMENTS];
	int natt = 0;
	unsigned flags = 0;

	int ei = field(r, "event");
	if (ei < 0 || tok(r, ei)->type != SIO_JSON_STRING) {
		sio_ctl_answer_error(cl, r, "bad_request", "'event' must be a string");
		return;
	}
	sio_json_str_decode(r->doc, r->text, ei, &ev);
	if (ev.len == 0 || sio_event_reserved(ev.data, ev.len)) {
		sio_ctl_answer_error(cl, r, "bad_request", "'%s' is %s", ev.data,
		    ev.len ? "a reserved event name" : "not an event name");
		sio_buf_free(&ev);
		return;
	}
	sio_buf_free(&ev);
	int di = field(r, "data");
	if (di >= 0 && tok(r, di)->type != SIO_JSON_ARRAY && tok(r, di)->type != SIO_JSON_NULL) {
		sio_ctl_answer_error(cl, r, "bad_request", "'data' must be an array");
		return;
	}
	int vi = field(r, "volatile"), ai = field(r, "ack");
	if ((vi >= 0 && tok(r, vi)->type != SIO_JSON_TRUE && tok(r, vi)->type != SIO_JSON_FALSE) ||
	    (ai >= 0 && tok(r, ai)->type != SIO_JSON_TRUE && tok(r, ai)->type != SIO_JSON_FALSE)) {
		sio_ctl_answer_error(cl, r, "bad_request", "'volatile' and 'ack' must be true or false");
		return;
	}
	if (vi >= 0 && tok(r, vi)->type == SIO_JSON_TRUE)
		flags |= SIO_EMIT_VOLATILE;
	bool want_ack = ai >= 0 && tok(r, ai)->type == SIO_JSON_TRUE;
	long long timeout = 5000;
	int ti = field(r, "timeout_ms");
	if (ti >= 0 && !sio_json_int(r->doc, r->text, ti, 0, 86400000, &timeout)) {
		sio_ctl_answer_error(cl, r, "bad_request", "'timeout_ms' must be a whole number of milliseconds");
		return;
	}
	if (!sio_ctl_target_read(cl, r, &tg, keys, 1))
		return;

	/* ["event", data...]: the event token's bytes, then data's elements. */
	sio_buf_addc(&payload, '[');
	sio_buf_add(&payload, r->text + tok(r, ei)->start, tok(r, ei)->end - tok(r, ei)->start);
	if (di >= 0 && tok(r, di)->type == SIO_JSON_ARRAY && tok(r, di)->size > 0) {
		sio_buf_addc(&payload, ',');
		int first = di + 1;
		int end_tok = (int)tok(r, di)->next;
		int rc = lift_binaries(&payload, r->doc, r->text, first, end_tok, att, &natt);
		if (rc < 0) {
			if (rc == SIO_ELIMIT)
				sio_ctl_answer_error(cl, r, "limit", "more than %d binary values",
				    SIO_MAX_ATTACHMENTS);
			else
				sio_ctl_answer_error(cl, r, "bad_request", "bad base64 in a _binary value");
			goto out;
		}
		/* The rest, up to the last element's end. */
		int last = sio_json_at(r->doc, di, tok(r, di)->size - 1);
		sio_buf_add(&payload, r->text + rc, tok(r, last)->end - (uint32_t)rc);
	}
	sio_buf_addc(&payload, ']');

	if (!want_ack) {
		size_t n = sio_emit(ctl->srv, &tg.t, payload.data, payload.len, att, natt, flags, 0);
		char extra[48];
		snprintf(extra, sizeof extra, ",\"sockets\":%zu", n);
		sio_ctl_answer_ok(cl, r, extra);
		if (sio_hub_congested(ctl->hub) && !cl->paused &&
		    !(flags & SIO_EMIT_VOLATILE)) {
			/* Slow the producer down to what the clients take. A
			 * volatile emit skips the lagging clients instead, so
			 * holding its producer back would only starve the rest. */
			cl->paused = true;
			sio_conn_pause_reading(cl->conn, true);
		}
		goto out;
	}

	struct ack_wait *w = sio_xcalloc(1, sizeof *w);
	struct sid_list sl = { NULL, 0, 0 };
	sio_server_each(ctl->srv, &tg.t, collect_sid, &sl);
	w->token = ++ctl->next_token;
	w->cl = cl;
	w->id = r->id ? sio_xstrndup(r->id, r->idlen) : sio_xstrdup("null");
	w->nsp = sio_xstrdup(tg.nsp.data);
	w->sids = sl.v;
	w->n = sl.n;
	w->answered = sio_xcalloc(sl.n + 1, sizeof *w->answered);
	w->next = ctl->waits;
	ctl->waits = w;
	sio_emit(ctl->srv, &tg.t, payload.data, payload.len, att, natt, flags, w->token);
	struct sio_redis *redis = sio_hub_redis(ctl->hub);
	int li = field(r, "local");
	if (redis && !(li >= 0 && tok(r, li)->type == SIO_JSON_TRUE)) {
		struct sio_mj_span spans[SIO_MAX_ATTACHMENTS];
		for (int i = 0; i < natt; i++) {
			spans[i].p = sio_pkt_data(att[i]);
			spans[i].len = att[i]->len;
		}
		if (sio_redis_emit_ack(redis, &tg.t, payload.data, payload.len, spans, natt,
		    timeout, remote_ack, w, &w->remote) != SIO_OK)
			w->remote = 0;
	}
	if (w->n == 0 && !w->remote) {
		ack_wait_finish(w);
	} else {
		ev_timer_init(&w->timer, ack_timeout_cb, (double)timeout / 1000.0, 0.);
		ev_timer_start(sio_hub_loop(ctl->hub), &w->timer);
	}
out:
	for (int i = 0; i < natt; i++)
		sio_pkt_unref(att[i]);
	sio_buf_free(&payload);
	sio_ctl_target_free(&tg);
}

void
sio_ctl_ack_wait_free(struct sio_ctl *ctl, struct ack_wait *w)
{
	if (w->remote && sio_hub_redis(ctl->hub))
		sio_redis_ack_cancel(sio_hub_redis(ctl->hub), w->remote);
	for (struct ack_wait **pp = &ctl->waits; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	ev_timer_stop(sio_hub_loop(ctl->hub), &w->timer);
	sio_ack_forget(ctl->srv, w->token);
	for (size_t i = 0; i < w->n; i++)
		free(w->sids[i]);
	free(w->sids);
	free(w->answered);
	free(w->id);
	free(w->nsp);
	free(w);
}

static void
ack_wait_finish(struct ack_wait *w)
{
	struct sio_ctl *ctl = w->cl->ctl;
	struct sio_buf b = SIO_BUF_INIT;

	/* Timed out before every server answered: those that did count. */
	if (w->remote && !w->remote_done && sio_hub_redis(ctl->hub))
		w->remote_clients = sio_redis_ack_clients(sio_hub_redis(ctl->hub), w->remote);
	sio_buf_printf(&b, "{\"id\":%s,\"done\":true,\"sockets\":%zu,\"acked\":%zu,",
	    w->id, w->n + w->remote_clients, w->nanswered + w->remote_acked);
	/* Other servers' clients have no id here: how many did not answer. */
	if (w->remote)
		sio_buf_printf(&b, "\"remote_missing\":%zu,", w->remote_clients > w->remote_acked ?
		    w->remote_clients - w->remote_acked : 0);
	sio_buf_adds(&b, "\"missing\":[");
	bool first = true;
	for (size_t i = 0; i < w->n; i++) {
		if (w->answered[i])
			continue;
		if (!first)
			sio_buf_addc(&b, ',');
		sio_json_add_str(&b, w->sids[i], strlen(w->sids[i]));
		first = false;
	}
	sio_buf_adds(&b, "]}");
	sio_ctl_send_line(w->cl, &b);
	sio_buf_free(&b);
	sio_ctl_ack_wait_free(ctl, w);
}

void
sio_ctl_on_ack(struct sio_socket *s, uint64_t token, const struct sio_event *ev, void *arg)
{
	struct sio_ctl *ctl = arg;
	struct ack_wait *w;

	for (w = ctl->waits; w && w->token != token; w = w->next)
		;
	if (!w)
		return;
	size_t i;
	for (i = 0; i < w->n; i++)
		if (!w->answered[i] && strcmp(w->sids[i], sio_socket_id(s)) == 0)
			break;
	if (i == w->n)
		return;
	w->answered[i] = true;
	w->nanswered++;
	struct sio_buf b = SIO_BUF_INIT;
	sio_buf_printf(&b, "{\"id\":%s,\"type\":\"ack\",\"nsp\":", w->id);
	sio_json_add_str(&b, sio_socket_nsp(s), strlen(sio_socket_nsp(s)));
	sio_buf_printf(&b, ",\"sid\":\"%s\",", sio_socket_id(s));
	sio_ctl_append_data(&b, ev, 0);
	sio_buf_addc(&b, '}');
	sio_ctl_send_line(w->cl, &b);
	sio_buf_free(&b);
	if (w->nanswered == w->n && (!w->remote || w->remote_done))
		ack_wait_finish(w);
}

/* An answer from a client of another server, or (data NULL) the end of them. */
static void
remote_ack(void *arg, const char *data, size_t len)
{
	struct ack_wait *w = arg;

	if (!data) {
		w->remote_done = true;
		w->remote_clients = len;
		if (w->nanswered == w->n)
			ack_wait_finish(w);
		return;
	}
	w->remote_acked++;
	struct sio_buf b = SIO_BUF_INIT;
	sio_buf_printf(&b, "{\"id\":%s,\"type\":\"ack\",\"nsp\":", w->id);
	sio_json_add_str(&b, w->nsp, strlen(w->nsp));
	sio_buf_adds(&b, ",\"sid\":null,\"remote\":true,\"data\":");
	sio_buf_add(&b, data, len);
	sio_buf_addc(&b, '}');
	sio_ctl_send_line(w->cl, &b);
	sio_buf_free(&b);
}

/* ---- a listener's answer to a client's ack ---------------------------------- */

void
sio_ctl_op_reply(struct ctl_client *cl, const struct req *r)
{
	struct sio_buf handle = SIO_BUF_INIT, payload = SIO_BUF_INIT;
	struct sio_pkt *att[SIO_MAX_ATTACHMENTS];
	int natt = 0;

	/* "reply" is the key of sio-emit's input lines, copied as they are. */
	if (!str_field(r, "ack", &handle) && !str_field(r, "reply", &handle)) {
		sio_ctl_answer_error(cl, r, "bad_request", "'ack' must be the handle of a client's ack");
		return;
	}
	char *sid = strchr(handle.data, ':');
	char *nsp = sid ? strchr(sid + 1, ':') : NULL;
	long ackid;
	if (!sid || !nsp || (*sid = '\0', *nsp++ = '\0', !sio_parse_long(handle.data, 0, LONG_MAX, &ackid))) {
		sio_ctl_answer_error(cl, r, "bad_request", "'ack' is not an ack handle");
		sio_buf_free(&handle);
		return;
	}
	sid++;
	int di = field(r, "data");
	if (di >= 0 && tok(r, di)->type != SIO_JSON_ARRAY) {
		sio_ctl_answer_error(cl, r, "bad_request", "'data' must be an array");
		sio_buf_free(&handle);
		return;
	}
	sio_buf_addc(&payload, '[');
	if (di >= 0 && tok(r, di)->size > 0) {
		int rc = lift_binaries(&payload, r->doc, r->text, di + 1, (int)tok(r, di)->next, att, &natt);
		if (rc < 0) {
			sio_ctl_answer_error(cl, r, "bad_request", "bad _binary value in 'data'");
			goto out;
		}
		int last = sio_json_at(r->doc, di, tok(r, di)->size - 1);
		sio_buf_add(&payload, r->text + rc, tok(r, last)->end - (uint32_t)rc);
	}
	sio_buf_addc(&payload, ']');
	struct sio_socket *s = sio_server_socket(cl->ctl->srv, nsp, sid);
	if (!s) {
		sio_ctl_answer_error(cl, r, "not_found", "socket %s is gone from %s", sid, nsp);
		goto out;
	}
	if (sio_socket_ack(s, ackid, payload.data, payload.len, att, natt) != SIO_OK) {
		sio_ctl_answer_error(cl, r, "not_found", "ack %ld of socket %s was answered already", ackid, sid);
		goto out;
	}
	sio_ctl_answer_ok(cl, r, NULL);
out:
	for (int i = 0; i < natt; i++)
		sio_pkt_unref(att[i]);
	sio_buf_free(&payload);
	sio_buf_free(&handle);
}
