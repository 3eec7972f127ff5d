/*
 * ctl (server side): requests from control clients, answers, and the
 * event stream to subscribers. One struct sio_conn per client, so output
 * shares the hub's queues, batching and reaper.
 */
#include "ctl.h"
#include "conn.h"
#include "hub.h"
#include "json.h"
#include "log.h"
#include "packet.h"
#include "pkt.h"
#include "redis.h"
#include "sio.h"
#include "stats.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CTL_MAX_DEPTH 64
#define CTL_MAX_TARGETS 1024
/* Lines a group member may hold unconfirmed: what it holds when it dies
 * goes to another member. */
#define GROUP_WINDOW 64
/* Lines a group member may have waiting for window room before the
 * group's events are dropped (and counted) instead. */
#define GROUP_MAX_BACKLOG 65536
/* A client that sends requests faster than it reads the answers is not
 * read from while this much of its output is unwritten. */
#define CTL_MAX_ANSWERS (1u << 20)

struct ctl_client;

/* A server ack request from one control client, waiting for answers. */
struct ack_wait {
	uint64_t token;
	struct ctl_client *cl;
	char *id;			/* the request's id, raw JSON */
	char *nsp;
	char **sids;
	bool *answered;
	size_t n, nanswered;
	ev_timer timer;
	struct ack_wait *next;
	/* --redis: the other servers' clients (sio_redis_emit_ack) */
	uint64_t remote;		/* its handle, or 0 */
	bool remote_done;		/* every server and client answered */
	size_t remote_clients, remote_acked;
};

/* A line sent to a group member, kept until the member confirms it. */
struct held_line {
	struct sio_rc *line;
	struct held_line *next;
};

struct ctl_client {
	struct sio_conn *conn;
	struct sio_ctl *ctl;
	unsigned long line;		/* request lines read */
	bool paused;			/* back-pressure: not reading */
	bool paused_out;		/* not reading: its answers are not read */
	bool skipping;			/* dropping the rest of an over-long line */

	bool subscribed;
	bool lifecycle;
	bool cluster;			/* also the lines of the other hubs (--redis) */
	char **events;
	size_t nevents;
	char *nsp;
	char **rooms;
	size_t nrooms;
	char *group;
	size_t dropped;			/* events missed while its queue was full */

	struct held_line *held, **held_tail;	/* group: unconfirmed lines */
	size_t nheld;
	struct sio_rc **backlog;	/* group: lines waiting for window room */
	size_t nbacklog, capbacklog;

	unsigned long serial;		/* finds it again after an asynchronous wait */
	struct ctl_client *prev, *next;
};

struct sio_ctl {
	struct sio_hub *hub;
	struct sio_server *srv;
	char *path;
	int lfd;
	ev_io accept_io;
	ev_timer accept_retry;		/* EMFILE: wait, then accept again */
	struct ctl_client *clients;
	struct sio_json doc;
	struct ack_wait *waits;
	uint64_t next_token;
	unsigned long next_serial;
	unsigned long rr;		/* round robin across group members */
	struct refusal *refusals;	/* refused peers being told why */
	bool has_group;			/* --control-group: its members may connect */
	gid_t group;
};

/* ---- small JSON helpers --------------------------------------------------- */

struct req {
	const char *text;
	size_t len;
	struct sio_json *doc;
	const char *id;			/* raw JSON of "id", or NULL */
	size_t idlen;
};

static int
field(const struct req *r, const char *key)
{
	return sio_json_get(r->doc, r->text, 0, key);
}

static const struct sio_json_tok *
tok(const struct req *r, int i)
{
	return &r->doc->tok[i];
}

/* A string field, decoded into out; false when absent or not a string. */
static bool
str_field(const struct req *r, const char *key, struct sio_buf *out)
{
	int i = field(r, key);
	sio_buf_reset(out);
	if (i < 0 || tok(r, i)->type != SIO_JSON_STRING)
		return false;
	sio_json_str_decode(r->doc, r->text, i, out);
	return true;
}

/* ---- answering ---------------------------------------------------------- */

static void
send_line(struct ctl_client *cl, struct sio_buf *b)
{
	sio_buf_addc(b, '\n');
	sio_outq_copy(&cl->conn->out, b->data, b->len);
	sio_conn_want_flush(cl->conn);
}

static void
begin_answer(struct sio_buf *b, const struct req *r)
{
	sio_buf_addc(b, '{');
	if (r->id) {
		sio_buf_adds(b, "\"id\":");
		sio_buf_add(b, r->id, r->idlen);
		sio_buf_addc(b, ',');
	}
}

static void
answer_error(struct ctl_client *cl, const struct req *r, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
answer_error(struct ctl_client *cl, const struct req *r, const char *code,
    const char *fmt, ...)
{
	struct sio_buf b = SIO_BUF_INIT;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof msg) {
		/* Cut at a character boundary: the answer must stay UTF-8. */
		size_t end = sizeof msg - 1;
		while (end > 0 && ((unsigned char)msg[end - 1] & 0xc0) == 0x80)
			end--;
		if (end > 0 && ((unsigned char)msg[end - 1] & 0x80))
			end--;	/* the lead byte of the cut character */
		msg[end] = '\0';
	}
	sio_hub_stats(cl->ctl->hub)->ctl_errors++;
	begin_answer(&b, r);
	sio_buf_printf(&b, "\"line\":%lu,\"error\":{\"code\":\"%s\",\"message\":", cl->line, code);
	sio_json_add_str(&b, msg, strlen(msg));
	sio_buf_adds(&b, "}}");
	send_line(cl, &b);
	sio_buf_free(&b);
	sio_log_debug("control client: line %lu: %s", cl->line, msg);
}

/* Answers {"id":..,"ok":true<extra>} when the request had an id. */
static void
answer_ok(struct ctl_client *cl, const struct req *r, const char *extra)
{
	struct sio_buf b = SIO_BUF_INIT;
	if (!r->id)
		return;
	begin_answer(&b, r);
	sio_buf_adds(&b, "\"ok\":true");
	if (extra)
		sio_buf_adds(&b, extra);
	sio_buf_addc(&b, '}');
	send_line(cl, &b);
	sio_buf_free(&b);
}

/* ---- targets -------------------------------------------------------------- */

struct strv {
	char **v;
	size_t n;
};

static void
strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/*
 * Reads an array of strings (absent: empty). On a wrong type answers the
 * error and returns false.
 */
static bool
strv_field(struct ctl_client *cl, const struct req *r, const char *key, struct strv *out)
{
	int i = field(r, key);
	out->v = NULL;
	out->n = 0;
	if (i < 0 || tok(r, i)->type == SIO_JSON_NULL)
		return true;
	if (tok(r, i)->type != SIO_JSON_ARRAY) {
		answer_error(cl, r, "bad_request", "'%s' must be an array of strings", key);
		return false;
	}
	if (tok(r, i)->size > CTL_MAX_TARGETS) {
		answer_error(cl, r, "limit", "'%s' has more than %d entries", key, CTL_MAX_TARGETS);
		return false;
	}
	out->v = sio_xcalloc(tok(r, i)->size + 1, sizeof *out->v);
	for (int k = i + 1; out->n < tok(r, i)->size; k = (int)tok(r, k)->next) {
		if (tok(r, k)->type != SIO_JSON_STRING) {
			strv_free(out);
			answer_error(cl, r, "bad_request", "'%s' must be an array of strings", key);
			return false;
		}
		struct sio_buf b = SIO_BUF_INIT;
		sio_json_str_decode(r->doc, r->text, k, &b);
		out->v[out->n++] = sio_buf_steal(&b, NULL);
	}
	return true;
}

struct target {
	struct sio_buf nsp;
	struct strv rooms, except;
	struct sio_target t;
};

/*
 * Reads nsp, the rooms (from each key in room_keys, joined: "to", or
 * "sids" and "in") and "except". Returns false after answering an error.
 */
static bool
target_read(struct ctl_client *cl, const struct req *r, struct target *tg,
    const char *const *room_keys, size_t nkeys)
{
	memset(tg, 0, sizeof *tg);
	if (field(r, "nsp") >= 0 && !str_field(r, "nsp", &tg->nsp)) {
		answer_error(cl, r, "bad_request", "'nsp' must be a string");
		sio_buf_free(&tg->nsp);
		return false;
	}
	if (tg->nsp.len == 0)
		sio_buf_adds(&tg->nsp, "/");
	for (size_t k = 0; k < nkeys; k++) {
		struct strv more;
		if (!strv_field(cl, r, room_keys[k], &more)) {
			strv_free(&tg->rooms);
			sio_buf_free(&tg->nsp);
			return false;
		}
		tg->rooms.v = sio_xrealloc(tg->rooms.v, (tg->rooms.n + more.n + 1) * sizeof(char *));
		for (size_t i = 0; i < more.n; i++)
			tg->rooms.v[tg->rooms.n++] = more.v[i];
		free(more.v);
	}
	if (!strv_field(cl, r, "except", &tg->except)) {
		strv_free(&tg->rooms);
		sio_buf_free(&tg->nsp);
		return false;
	}
	tg->t.nsp = tg->nsp.data;
	tg->t.rooms = (const char *const *)tg->rooms.v;
	tg->t.nrooms = tg->rooms.n;
	tg->t.except = (const char *const *)tg->except.v;
	tg->t.nexcept = tg->except.n;
	return true;
}

static void
target_free(struct target *tg)
{
	sio_buf_free(&tg->nsp);
	strv_free(&tg->rooms);
	strv_free(&tg->except);
}

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
static void
append_data(struct sio_buf *b, const struct sio_event *ev, uint32_t skip)
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

static void
op_emit(struct ctl_client *cl, const struct req *r)
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
		answer_error(cl, r, "bad_request", "'event' must be a string");
		return;
	}
	sio_json_str_decode(r->doc, r->text, ei, &ev);
	if (ev.len == 0 || sio_event_reserved(ev.data, ev.len)) {
		answer_error(cl, r, "bad_request", "'%s' is %s", ev.data,
		    ev.len ? "a reserved event name" : "not an event name");
		sio_buf_free(&ev);
		return;
	}
	sio_buf_free(&ev);
	int di = field(r, "data");
	if (di >= 0 && tok(r, di)->type != SIO_JSON_ARRAY && tok(r, di)->type != SIO_JSON_NULL) {
		answer_error(cl, r, "bad_request", "'data' must be an array");
		return;
	}
	int vi = field(r, "volatile"), ai = field(r, "ack");
	if ((vi >= 0 && tok(r, vi)->type != SIO_JSON_TRUE && tok(r, vi)->type != SIO_JSON_FALSE) ||
	    (ai >= 0 && tok(r, ai)->type != SIO_JSON_TRUE && tok(r, ai)->type != SIO_JSON_FALSE)) {
		answer_error(cl, r, "bad_request", "'volatile' and 'ack' must be true or false");
		return;
	}
	if (vi >= 0 && tok(r, vi)->type == SIO_JSON_TRUE)
		flags |= SIO_EMIT_VOLATILE;
	bool want_ack = ai >= 0 && tok(r, ai)->type == SIO_JSON_TRUE;
	long long timeout = 5000;
	int ti = field(r, "timeout_ms");
	if (ti >= 0 && !sio_json_int(r->doc, r->text, ti, 0, 86400000, &timeout)) {
		answer_error(cl, r, "bad_request", "'timeout_ms' must be a whole number of milliseconds");
		return;
	}
	if (!target_read(cl, r, &tg, keys, 1))
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
				answer_error(cl, r, "limit", "more than %d binary values",
				    SIO_MAX_ATTACHMENTS);
			else
				answer_error(cl, r, "bad_request", "bad base64 in a _binary value");
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
		answer_ok(cl, r, extra);
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
	target_free(&tg);
}

static void
ack_wait_free(struct sio_ctl *ctl, struct ack_wait *w)
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
	send_line(w->cl, &b);
	sio_buf_free(&b);
	ack_wait_free(ctl, w);
}

/* ---- the event stream ---------------------------------------------------------- */

static void
dropped_note(struct ctl_client *cl)
{
	char note[80];
	int n = snprintf(note, sizeof note, "{\"type\":\"dropped\",\"count\":%zu,\"time\":%lld}\n",
	    cl->dropped, (long long)sio_now_ms());
	sio_outq_copy(&cl->conn->out, note, (size_t)n);
	sio_log_warn("control client: %zu events dropped for a slow listener", cl->dropped);
	cl->dropped = 0;
}

static void
group_pump(struct ctl_client *cl)
{
	if (cl->dropped && cl->nbacklog < GROUP_MAX_BACKLOG / 2)
		dropped_note(cl);
	while (cl->nbacklog > 0 && cl->nheld < GROUP_WINDOW) {
		struct sio_rc *line = cl->backlog[0];
		memmove(cl->backlog, cl->backlog + 1, --cl->nbacklog * sizeof *cl->backlog);
		struct held_line *h = sio_xcalloc(1, sizeof *h);
		h->line = sio_rc_ref(line);
		*cl->held_tail = h;
		cl->held_tail = &h->next;
		cl->nheld++;
		sio_outq_push(&cl->conn->out, line->data, line->len, SIO_REF_RC, line);
		sio_conn_want_flush(cl->conn);
	}
}

static void
group_take(struct ctl_client *cl, struct sio_rc *line)
{
	if (cl->nbacklog >= GROUP_MAX_BACKLOG) {
		cl->dropped++;
		sio_hub_stats(cl->ctl->hub)->listener_drops++;
		return;
	}
	if (cl->nbacklog == cl->capbacklog) {
		cl->capbacklog = cl->capbacklog ? cl->capbacklog * 2 : 64;
		cl->backlog = sio_xrealloc(cl->backlog, cl->capbacklog * sizeof *cl->backlog);
	}
	cl->backlog[cl->nbacklog++] = sio_rc_ref(line);
	group_pump(cl);
}

static void
deliver(struct ctl_client *cl, struct sio_rc *line)
{
	if (cl->group) {
		group_take(cl, line);
		return;
	}
	/* A subscriber this far behind gets no more events until it drains;
	 * what it misses is counted and reported to it. */
	if (cl->conn->out.bytes > sio_hub_cfg(cl->ctl->hub)->max_listener_output) {
		cl->dropped++;
		sio_hub_stats(cl->ctl->hub)->listener_drops++;
		return;
	}
	if (cl->dropped)
		dropped_note(cl);
	sio_outq_push(&cl->conn->out, line->data, line->len, SIO_REF_RC, sio_rc_ref(line));
	sio_conn_want_flush(cl->conn);
}

/* s is NULL for a line from another hub: its rooms are not known here. */
static bool
matches(struct ctl_client *cl, const char *nsp, struct sio_socket *s, const char *event,
    size_t elen, bool lifecycle)
{
	if (!cl->subscribed || cl->conn->closed)
		return false;
	if (!s && (!cl->cluster || cl->nrooms > 0))
		return false;
	if (lifecycle && !cl->lifecycle)
		return false;
	if (cl->nsp && strcmp(cl->nsp, nsp) != 0)
		return false;
	if (!lifecycle && cl->nevents > 0) {
		bool hit = false;
		for (size_t i = 0; i < cl->nevents && !hit; i++)
			hit = strlen(cl->events[i]) == elen && memcmp(cl->events[i], event, elen) == 0;
		if (!hit)
			return false;
	}
	if (cl->nrooms > 0) {
		bool in = false;
		for (size_t i = 0; i < cl->nrooms && !in; i++)
			in = sio_socket_in(s, cl->rooms[i]);
		if (!in)
			return false;
	}
	return true;
}

/*
 * Sends line to every matching subscriber, and to one member of each
 * group (round robin). The line is built once and shared.
 */
static void
publish(struct sio_ctl *ctl, const char *nsp, struct sio_socket *s, const char *event,
    size_t elen, bool lifecycle, struct sio_rc *line)
{
	struct ctl_client *cl;
	const char *done_groups[64];
	size_t ndone = 0;

	for (cl = ctl->clients; cl; cl = cl->next) {
		if (!matches(cl, nsp, s, event, elen, lifecycle))
			continue;
		if (!cl->group) {
			deliver(cl, line);
			continue;
		}
		bool seen = false;
		for (size_t i = 0; i < ndone && !seen; i++)
			seen = strcmp(done_groups[i], cl->group) == 0;
		if (seen || ndone == 64)
			continue;
		done_groups[ndone++] = cl->group;
		/* The member with the fewest lines in hand; among equals, the
		 * n-th one, n turning with each event, so idle members share. */
		struct ctl_client *best = NULL;
		size_t best_load = SIZE_MAX, ties = 0;
		for (struct ctl_client *m = ctl->clients; m; m = m->next) {
			if (!m->group || strcmp(m->group, cl->group) != 0 ||
			    !matches(m, nsp, s, event, elen, lifecycle))
				continue;
			size_t load = m->nheld + m->nbacklog;
			if (load < best_load) {
				best_load = load;
				ties = 0;
			}
			if (load == best_load)
				ties++;
		}
		size_t pick = ties ? ctl->rr++ % ties : 0;
		for (struct ctl_client *m = ctl->clients; m && !best; m = m->next) {
			if (m->group && strcmp(m->group, cl->group) == 0 &&
			    matches(m, nsp, s, event, elen, lifecycle) &&
			    m->nheld + m->nbacklog == best_load && pick-- == 0)
				best = m;
		}
		if (best)
			deliver(best, line);
	}
}

static bool
anyone_listening(struct sio_ctl *ctl)
{
	for (struct ctl_client *cl = ctl->clients; cl; cl = cl->next)
		if (cl->subscribed)
			return true;
	return false;
}

/* Another hub of the cluster has a --cluster listener: lines go there too. */
static struct sio_redis *
cluster_listening(struct sio_ctl *ctl)
{
	struct sio_redis *redis = sio_hub_redis(ctl->hub);
	return redis && sio_redis_listened(redis) ? redis : NULL;
}

/* To the local subscribers, and to the cluster's when there are some. */
static void
publish_line(struct sio_ctl *ctl, struct sio_socket *s, const char *event, size_t elen,
    bool lifecycle, struct sio_rc *line)
{
	struct sio_redis *redis = cluster_listening(ctl);
	publish(ctl, sio_socket_nsp(s), s, event, elen, lifecycle, line);
	if (redis)
		sio_redis_publish_line(redis, (const char *)line->data, line->len);
}

/* Subscribed to the other hubs' lines while some client here asks for them. */
static void
cluster_update(struct sio_ctl *ctl)
{
	struct sio_redis *redis = sio_hub_redis(ctl->hub);
	bool any = false;
	for (struct ctl_client *cl = ctl->clients; cl && !any; cl = cl->next)
		any = cl->subscribed && cl->cluster && !cl->conn->closed;
	if (redis)
		sio_redis_listen(redis, any);
}

void
sio_ctl_cluster_line(void *arg, const char *line, size_t len)
{
	struct sio_ctl *ctl = arg;
	struct sio_json doc = SIO_JSON_INIT;
	struct sio_buf nsp = SIO_BUF_INIT, event = SIO_BUF_INIT;

	if (sio_json_parse(&doc, line, len, CTL_MAX_DEPTH, NULL) != SIO_OK ||
	    doc.tok[0].type != SIO_JSON_OBJECT)
		goto out;
	int ti = sio_json_get(&doc, line, 0, "type"), ni = sio_json_get(&doc, line, 0, "nsp");
	int ei = sio_json_get(&doc, line, 0, "event");
	if (ti < 0 || ni < 0 || doc.tok[ni].type != SIO_JSON_STRING)
		goto out;
	bool lifecycle = !sio_json_str_eq(&doc, line, ti, "event");
	sio_json_str_decode(&doc, line, ni, &nsp);
	if (ei >= 0 && doc.tok[ei].type == SIO_JSON_STRING)
		sio_json_str_decode(&doc, line, ei, &event);
	else if (ei >= 0)
		sio_buf_add(&event, line + doc.tok[ei].start, doc.tok[ei].end - doc.tok[ei].start);
	/* One line each for the listeners, whatever the other hub sent. */
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (memchr(line, '\n', len) || memchr(line, '\r', len))
		goto out;
	struct sio_rc *rc = sio_rc_new(len + 1);
	memcpy(rc->data, line, len);
	rc->data[len] = '\n';
	publish(ctl, nsp.data, NULL, event.data, event.len, lifecycle, rc);
	sio_rc_unref(rc);
out:
	sio_json_free(&doc);
	sio_buf_free(&nsp);
	sio_buf_free(&event);
}

static struct sio_rc *
finish_line(struct sio_buf *b)
{
	sio_buf_printf(b, ",\"time\":%lld}\n", (long long)sio_now_ms());
	struct sio_rc *rc = sio_rc_from(b->data, b->len);
	sio_buf_free(b);
	return rc;
}

/* The verified token's subject, when there is one (--jwt-alg). */
static void
add_user(struct sio_buf *b, const struct sio_socket *s)
{
	const char *u = sio_socket_user(s);
	if (u) {
		sio_buf_adds(b, ",\"user\":");
		sio_json_add_str(b, u, strlen(u));
	}
}

static void
line_head(struct sio_buf *b, const char *type, struct sio_socket *s)
{
	sio_buf_printf(b, "{\"type\":\"%s\",\"nsp\":", type);
	sio_json_add_str(b, sio_socket_nsp(s), strlen(sio_socket_nsp(s)));
	sio_buf_printf(b, ",\"sid\":\"%s\"", sio_socket_id(s));
	add_user(b, s);
}

static void
obs_connect(struct sio_socket *s, void *arg)
{
	struct sio_ctl *ctl = arg;
	struct sio_buf b = SIO_BUF_INIT;

	if (!anyone_listening(ctl) && !cluster_listening(ctl))
		return;
	line_head(&b, "connect", s);
	sio_buf_printf(&b, ",\"transport\":\"%s\",\"handshake\":%s", sio_socket_transport(s),
	    sio_socket_handshake(s));
	struct sio_rc *line = finish_line(&b);
	publish_line(ctl, s, NULL, 0, true, line);
	sio_rc_unref(line);
}

static void
obs_disconnect(struct sio_socket *s, const char *reason, void *arg)
{
	struct sio_ctl *ctl = arg;
	struct sio_buf b = SIO_BUF_INIT;

	if (!anyone_listening(ctl) && !cluster_listening(ctl))
		return;
	line_head(&b, "disconnect", s);
	sio_buf_adds(&b, ",\"reason\":");
	sio_json_add_str(&b, reason, strlen(reason));
	struct sio_rc *line = finish_line(&b);
	publish_line(ctl, s, NULL, 0, true, line);
	sio_rc_unref(line);
}

static void
obs_event(struct sio_socket *s, const struct sio_event *ev, void *arg)
{
	struct sio_ctl *ctl = arg;
	const struct sio_json *doc = ev->doc;
	const struct sio_json_tok *name = &doc->tok[1];
	struct sio_buf decoded = SIO_BUF_INIT, b = SIO_BUF_INIT;

	if (!anyone_listening(ctl) && !cluster_listening(ctl))
		return;
	if (name->type == SIO_JSON_STRING)
		sio_json_str_decode(doc, ev->payload, 1, &decoded);
	else
		sio_buf_add(&decoded, ev->payload + name->start, name->end - name->start);
	line_head(&b, "event", s);
	/* The name exactly as sent: escapes and numbers unchanged. */
	sio_buf_adds(&b, ",\"event\":");
	sio_buf_add(&b, ev->payload + name->start, name->end - name->start);
	sio_buf_addc(&b, ',');
	append_data(&b, ev, 1);
	if (ev->ack >= 0) {
		sio_buf_printf(&b, ",\"ack\":\"%lld:%s:", ev->ack, sio_socket_id(s));
		const char *nsp = sio_socket_nsp(s);
		/* Escaped as a JSON string body: drop the quotes add_str writes. */
		struct sio_buf q = SIO_BUF_INIT;
		sio_json_add_str(&q, nsp, strlen(nsp));
		sio_buf_add(&b, q.data + 1, q.len - 2);
		sio_buf_free(&q);
		sio_buf_addc(&b, '"');
	}
	struct sio_rc *line = finish_line(&b);
	publish_line(ctl, s, decoded.data, decoded.len, false, line);
	sio_rc_unref(line);
	sio_buf_free(&decoded);
}

static void
obs_ack(struct sio_socket *s, uint64_t token, const struct sio_event *ev, void *arg)
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
	append_data(&b, ev, 0);
	sio_buf_addc(&b, '}');
	send_line(w->cl, &b);
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
	send_line(w->cl, &b);
	sio_buf_free(&b);
}

/* ---- other requests ------------------------------------------------------------ */

static void
op_subscribe(struct ctl_client *cl, const struct req *r)
{
	struct strv events, rooms;
	struct sio_buf nsp = SIO_BUF_INIT, group = SIO_BUF_INIT;

	if (!strv_field(cl, r, "events", &events))
		return;
	if (!strv_field(cl, r, "rooms", &rooms)) {
		strv_free(&events);
		return;
	}
	int ni = field(r, "nsp"), gi = field(r, "group");
	if ((ni >= 0 && tok(r, ni)->type != SIO_JSON_NULL && !str_field(r, "nsp", &nsp)) ||
	    (gi >= 0 && tok(r, gi)->type != SIO_JSON_NULL && !str_field(r, "group", &group))) {
		answer_error(cl, r, "bad_request", "'nsp' and 'group' must be strings or null");
		strv_free(&events);
		strv_free(&rooms);
		sio_buf_free(&nsp);
		sio_buf_free(&group);
		return;
	}
	int li = field(r, "lifecycle"), ci = field(r, "cluster");
	cl->lifecycle = li < 0 || tok(r, li)->type != SIO_JSON_FALSE;
	cl->cluster = ci >= 0 && tok(r, ci)->type == SIO_JSON_TRUE;
	/* A second subscribe replaces the first. */
	for (size_t i = 0; i < cl->nevents; i++)
		free(cl->events[i]);
	free(cl->events);
	for (size_t i = 0; i < cl->nrooms; i++)
		free(cl->rooms[i]);
	free(cl->rooms);
	free(cl->nsp);
	free(cl->group);
	cl->events = events.v;
	cl->nevents = events.n;
	cl->rooms = rooms.v;
	cl->nrooms = rooms.n;
	cl->nsp = nsp.len ? sio_buf_steal(&nsp, NULL) : NULL;
	cl->group = group.len ? sio_buf_steal(&group, NULL) : NULL;
	cl->subscribed = true;
	cluster_update(cl->ctl);
	sio_buf_free(&nsp);
	sio_buf_free(&group);
	answer_ok(cl, r, NULL);
}

/* A group member confirms n lines it has written out. */
static void
op_done(struct ctl_client *cl, const struct req *r)
{
	long long n = 1;
	int ni = field(r, "n");
	if (ni >= 0 && !sio_json_int(r->doc, r->text, ni, 1, 1 << 30, &n)) {
		answer_error(cl, r, "bad_request", "'n' must be a positive whole number");
		return;
	}
	while (n-- > 0 && cl->held) {
		struct held_line *h = cl->held;
		cl->held = h->next;
		if (!cl->held)
			cl->held_tail = &cl->held;
		cl->nheld--;
		sio_rc_unref(h->line);
		free(h);
	}
	group_pump(cl);
}

static void
op_reply(struct ctl_client *cl, const struct req *r)
{
	struct sio_buf handle = SIO_BUF_INIT, payload = SIO_BUF_INIT;
	struct sio_pkt *att[SIO_MAX_ATTACHMENTS];
	int natt = 0;

	/* "reply" is the key of sio-emit's input lines, copied as they are. */
	if (!str_field(r, "ack", &handle) && !str_field(r, "reply", &handle)) {
		answer_error(cl, r, "bad_request", "'ack' must be the handle of a client's ack");
		return;
	}
	char *sid = strchr(handle.data, ':');
	char *nsp = sid ? strchr(sid + 1, ':') : NULL;
	long ackid;
	if (!sid || !nsp || (*sid = '\0', *nsp++ = '\0', !sio_parse_long(handle.data, 0, LONG_MAX, &ackid))) {
		answer_error(cl, r, "bad_request", "'ack' is not an ack handle");
		sio_buf_free(&handle);
		return;
	}
	sid++;
	int di = field(r, "data");
	if (di >= 0 && tok(r, di)->type != SIO_JSON_ARRAY) {
		answer_error(cl, r, "bad_request", "'data' must be an array");
		sio_buf_free(&handle);
		return;
	}
	sio_buf_addc(&payload, '[');
	if (di >= 0 && tok(r, di)->size > 0) {
		int rc = lift_binaries(&payload, r->doc, r->text, di + 1, (int)tok(r, di)->next, att, &natt);
		if (rc < 0) {
			answer_error(cl, r, "bad_request", "bad _binary value in 'data'");
			goto out;
		}
		int last = sio_json_at(r->doc, di, tok(r, di)->size - 1);
		sio_buf_add(&payload, r->text + rc, tok(r, last)->end - (uint32_t)rc);
	}
	sio_buf_addc(&payload, ']');
	struct sio_socket *s = sio_server_socket(cl->ctl->srv, nsp, sid);
	if (!s) {
		answer_error(cl, r, "not_found", "socket %s is gone from %s", sid, nsp);
		goto out;
	}
	if (sio_socket_ack(s, ackid, payload.data, payload.len, att, natt) != SIO_OK) {
		answer_error(cl, r, "not_found", "ack %ld of socket %s was answered already", ackid, sid);
		goto out;
	}
	answer_ok(cl, r, NULL);
out:
	for (int i = 0; i < natt; i++)
		sio_pkt_unref(att[i]);
	sio_buf_free(&payload);
	sio_buf_free(&handle);
}

struct rooms_ctx {
	struct sio_buf *b;
	bool all;
	bool first;
};

/* Starts the next item of a JSON list being built: a comma but the first time. */
static void
list_next(struct rooms_ctx *x)
{
	if (!x->first)
		sio_buf_addc(x->b, ',');
	x->first = false;
}

static void
rooms_cb(const char *nsp, const char *room, size_t members, bool is_sid, void *arg)
{
	struct rooms_ctx *x = arg;
	if (is_sid && !x->all)
		return;
	list_next(x);
	sio_buf_adds(x->b, "{\"nsp\":");
	sio_json_add_str(x->b, nsp, strlen(nsp));
	sio_buf_adds(x->b, ",\"room\":");
	sio_json_add_str(x->b, room, strlen(room));
	sio_buf_printf(x->b, ",\"members\":%zu,\"sid\":%s}", members, is_sid ? "true" : "false");
}

static void
op_rooms(struct ctl_client *cl, const struct req *r)
{
	struct sio_buf nsp = SIO_BUF_INIT, b = SIO_BUF_INIT;
	int ai = field(r, "all");
	struct rooms_ctx x = { &b, ai >= 0 && tok(r, ai)->type == SIO_JSON_TRUE, true };

	str_field(r, "nsp", &nsp);
	begin_answer(&b, r);
	sio_buf_adds(&b, "\"rooms\":[");
	sio_server_each_room(cl->ctl->srv, nsp.len ? nsp.data : NULL, rooms_cb, &x);
	sio_buf_adds(&b, "]}");
	send_line(cl, &b);
	sio_buf_free(&b);
	sio_buf_free(&nsp);
}

static void
room_of_cb(const char *room, void *arg)
{
	struct rooms_ctx *x = arg;
	list_next(x);
	sio_json_add_str(x->b, room, strlen(room));
}

static void
socket_cb(struct sio_socket *s, void *arg)
{
	struct rooms_ctx *x = arg;
	list_next(x);
	sio_buf_adds(x->b, "{\"nsp\":");
	sio_json_add_str(x->b, sio_socket_nsp(s), strlen(sio_socket_nsp(s)));
	sio_buf_printf(x->b, ",\"sid\":\"%s\"", sio_socket_id(s));
	add_user(x->b, s);
	sio_buf_printf(x->b, ",\"transport\":\"%s\",\"rooms\":[", sio_socket_transport(s));
	struct rooms_ctx inner = { x->b, true, true };
	sio_socket_each_room(s, room_of_cb, &inner);
	sio_buf_printf(x->b, "],\"handshake\":%s}", sio_socket_handshake(s));
}

/*
 * An answer waiting for the other servers of the cluster (fetchSockets):
 * the sockets themselves, their ids (members) or how many (count).
 */
enum remote_kind { REMOTE_SOCKETS, REMOTE_SIDS, REMOTE_COUNT };

struct remote_wait {
	struct sio_ctl *ctl;
	unsigned long serial;
	enum remote_kind kind;
	struct sio_buf answer;		/* the local part, up to where remote ones go */
	bool any;			/* the local part has items */
	size_t count;			/* REMOTE_COUNT: the local count */
};

static void
remote_done(void *arg, const char *items, size_t len, size_t expected, size_t answered)
{
	struct remote_wait *w = arg;
	struct ctl_client *cl;
	struct sio_buf list = SIO_BUF_INIT;
	struct sio_json doc = SIO_JSON_INIT;

	for (cl = w->ctl->clients; cl && cl->serial != w->serial; cl = cl->next)
		;
	sio_buf_addc(&list, '[');
	sio_buf_add(&list, items, len);
	sio_buf_addc(&list, ']');
	if (w->kind != REMOTE_SOCKETS &&
	    sio_json_parse(&doc, list.data, list.len, 1000, NULL) == SIO_OK) {
		for (int k = 1; k < (int)doc.tok[0].next; k = (int)doc.tok[k].next) {
			int sid = sio_json_get(&doc, list.data, k, "sid");
			if (sid < 0)
				continue;
			w->count++;
			if (w->kind != REMOTE_SIDS)
				continue;
			if (w->any)
				sio_buf_addc(&w->answer, ',');
			sio_buf_add(&w->answer, list.data + doc.tok[sid].start,
			    doc.tok[sid].end - doc.tok[sid].start);
			w->any = true;
		}
	} else if (w->kind == REMOTE_SOCKETS && len) {
		if (w->any)
			sio_buf_addc(&w->answer, ',');
		sio_buf_add(&w->answer, items, len);
	}
	if (w->kind == REMOTE_COUNT)
		sio_buf_printf(&w->answer, "%zu", w->count);
	else
		sio_buf_addc(&w->answer, ']');
	/* Who did not answer in time is said, not hidden. */
	sio_buf_printf(&w->answer, ",\"servers\":%zu,\"answered\":%zu}", expected + 1,
	    answered + 1);
	if (cl && !cl->conn->closed)
		send_line(cl, &w->answer);
	sio_json_free(&doc);
	sio_buf_free(&list);
	sio_buf_free(&w->answer);
	free(w);
}

/*
 * With --redis (and not "local":true), hands the answer begun in b to the
 * other servers' fetchSockets: true when it will be sent from there.
 * Else closes b as a local answer, saying whether the cluster was down.
 */
static bool
ask_cluster(struct ctl_client *cl, const struct req *r, const struct sio_target *t,
    enum remote_kind kind, struct sio_buf *b, bool any, size_t count)
{
	struct sio_redis *redis = sio_hub_redis(cl->ctl->hub);
	int li = field(r, "local");
	bool local = li >= 0 && tok(r, li)->type == SIO_JSON_TRUE;
	const char *down = "";

	if (redis && !local) {
		struct remote_wait *w = sio_xcalloc(1, sizeof *w);
		w->ctl = cl->ctl;
		w->serial = cl->serial;
		w->kind = kind;
		w->answer = *b;
		w->any = any;
		w->count = count;
		if (sio_redis_fetch(redis, t, remote_done, w) == SIO_OK)
			return true;
		free(w);
		down = ",\"cluster\":\"down\"";
	}
	if (kind == REMOTE_COUNT)
		sio_buf_printf(b, "%zu", count);
	else
		sio_buf_addc(b, ']');
	sio_buf_printf(b, "%s}", down);
	return false;
}

static void
op_sockets(struct ctl_client *cl, const struct req *r)
{
	static const char *const keys[] = { "rooms", "in", "sids" };
	struct target tg;
	struct sio_buf b = SIO_BUF_INIT;

	if (!target_read(cl, r, &tg, keys, 3))
		return;
	struct rooms_ctx x = { &b, true, true };
	begin_answer(&b, r);
	sio_buf_adds(&b, "\"sockets\":[");
	sio_server_each(cl->ctl->srv, &tg.t, socket_cb, &x);
	if (!ask_cluster(cl, r, &tg.t, REMOTE_SOCKETS, &b, !x.first, 0)) {
		send_line(cl, &b);
		sio_buf_free(&b);
	}
	target_free(&tg);
}

static void
sid_cb(struct sio_socket *s, void *arg)
{
	struct rooms_ctx *x = arg;
	room_of_cb(sio_socket_id(s), x);
}

static void
op_members(struct ctl_client *cl, const struct req *r)
{
	struct target tg;
	struct sio_buf room = SIO_BUF_INIT, b = SIO_BUF_INIT;

	if (!str_field(r, "room", &room)) {
		answer_error(cl, r, "bad_request", "'room' must be a string");
		sio_buf_free(&room);
		return;
	}
	if (!target_read(cl, r, &tg, NULL, 0)) {
		sio_buf_free(&room);
		return;
	}
	const char *rooms[1] = { room.data };
	tg.t.rooms = rooms;
	tg.t.nrooms = 1;
	struct rooms_ctx x = { &b, true, true };
	begin_answer(&b, r);
	sio_buf_adds(&b, "\"sids\":[");
	sio_server_each(cl->ctl->srv, &tg.t, sid_cb, &x);
	if (!ask_cluster(cl, r, &tg.t, REMOTE_SIDS, &b, !x.first, 0)) {
		send_line(cl, &b);
		sio_buf_free(&b);
	}
	sio_buf_free(&room);
	target_free(&tg);
}

/* join, leave, disconnect: "sids" and "in" pick the sockets. */
static void
op_change(struct ctl_client *cl, const struct req *r, const char *op)
{
	static const char *const keys[] = { "sids", "in" };
	struct target tg;
	struct sio_buf room = SIO_BUF_INIT;
	char extra[80];
	size_t n;

	bool disconnect = strcmp(op, "disconnect") == 0;
	if (!disconnect && (!str_field(r, "room", &room) || room.len == 0)) {
		answer_error(cl, r, "bad_request", "'room' must be a non-empty string");
		sio_buf_free(&room);
		return;
	}
	if (!target_read(cl, r, &tg, keys, 2)) {
		sio_buf_free(&room);
		return;
	}
	int all = field(r, "all");
	if (tg.t.nrooms == 0 && !(all >= 0 && tok(r, all)->type == SIO_JSON_TRUE)) {
		answer_error(cl, r, "bad_request", "name the sockets: 'sids', 'in', or \"all\":true");
		goto out;
	}
	int ci = field(r, "close"), li = field(r, "local");
	struct sio_redis *redis = li >= 0 && tok(r, li)->type == SIO_JSON_TRUE ? NULL :
	    sio_hub_redis(cl->ctl->hub);
	bool close = ci >= 0 && tok(r, ci)->type == SIO_JSON_TRUE;
	/* The other servers apply it too; their counts are not waited for. */
	if (redis)
		sio_redis_room_op(redis, disconnect ? SIO_REDIS_DISCONNECT :
		    strcmp(op, "join") == 0 ? SIO_REDIS_JOIN : SIO_REDIS_LEAVE, &tg.t, room.data, close);
	if (disconnect) {
		n = sio_server_disconnect(cl->ctl->srv, &tg.t, close);
		snprintf(extra, sizeof extra, ",\"disconnected\":%zu", n);
	} else if (strcmp(op, "join") == 0) {
		size_t matched = sio_server_each(cl->ctl->srv, &tg.t, NULL, NULL);
		n = sio_server_join(cl->ctl->srv, &tg.t, room.data);
		snprintf(extra, sizeof extra, ",\"matched\":%zu,\"changed\":%zu", matched, n);
	} else {
		size_t matched = sio_server_each(cl->ctl->srv, &tg.t, NULL, NULL);
		n = sio_server_leave(cl->ctl->srv, &tg.t, room.data);
		snprintf(extra, sizeof extra, ",\"matched\":%zu,\"changed\":%zu", matched, n);
	}
	/* The other servers' counts are not waited for: say they were asked. */
	if (redis)
		snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ",\"remote\":true");
	answer_ok(cl, r, extra);
out:
	sio_buf_free(&room);
	target_free(&tg);
}

static void
op_count(struct ctl_client *cl, const struct req *r)
{
	struct sio_buf room = SIO_BUF_INIT, nsp = SIO_BUF_INIT;
	char extra[48];

	if (!str_field(r, "room", &room) ||
	    (field(r, "nsp") >= 0 && !str_field(r, "nsp", &nsp))) {
		answer_error(cl, r, "bad_request", "'room' and 'nsp' must be strings");
		sio_buf_free(&room);
		sio_buf_free(&nsp);
		return;
	}
	size_t n = sio_server_room_size(cl->ctl->srv, nsp.len ? nsp.data : "/", room.data);
	struct req copy = *r;
	if (!copy.id) {
		copy.id = "null";
		copy.idlen = 4;
	}
	if (sio_hub_redis(cl->ctl->hub)) {
		/* The other servers count theirs: their sockets in the room. */
		const char *rooms[1] = { room.data };
		struct sio_target t = { nsp.len ? nsp.data : "/", rooms, 1, NULL, 0 };
		struct sio_buf b = SIO_BUF_INIT;
		begin_answer(&b, &copy);
		sio_buf_adds(&b, "\"ok\":true,\"count\":");
		if (!ask_cluster(cl, r, &t, REMOTE_COUNT, &b, false, n))
			send_line(cl, &b);
		else
			b.data = NULL;
		sio_buf_free(&b);
	} else {
		snprintf(extra, sizeof extra, ",\"count\":%zu", n);
		answer_ok(cl, &copy, extra);
	}
	sio_buf_free(&room);
	sio_buf_free(&nsp);
}

static void
handle_line(struct ctl_client *cl, const char *text, size_t len)
{
	struct sio_ctl *ctl = cl->ctl;
	struct req r = { text, len, &ctl->doc, NULL, 0 };
	char err[SIO_ERRLEN];
	struct sio_buf op = SIO_BUF_INIT;

	cl->line++;
	sio_hub_stats(ctl->hub)->ctl_requests++;
	while (len > 0 && (text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	if (len == 0)
		return;
	if (sio_json_parse(&ctl->doc, text, len, CTL_MAX_DEPTH, err) != SIO_OK) {
		answer_error(cl, &r, "bad_json", "%s", err);
		return;
	}
	if (ctl->doc.tok[0].type != SIO_JSON_OBJECT) {
		answer_error(cl, &r, "bad_request", "a request must be a JSON object");
		return;
	}
	int ii = field(&r, "id");
	if (ii >= 0) {
		if (tok(&r, ii)->type == SIO_JSON_OBJECT || tok(&r, ii)->type == SIO_JSON_ARRAY) {
			answer_error(cl, &r, "bad_request", "'id' must be a string or a number");
			return;
		}
		r.id = text + tok(&r, ii)->start;
		r.idlen = tok(&r, ii)->end - tok(&r, ii)->start;
	}
	if (!str_field(&r, "op", &op)) {
		answer_error(cl, &r, "bad_request", "'op' must be a string naming the request");
		return;
	}
	if (strcmp(op.data, "emit") == 0)
		op_emit(cl, &r);
	else if (strcmp(op.data, "subscribe") == 0)
		op_subscribe(cl, &r);
	else if (strcmp(op.data, "reply") == 0)
		op_reply(cl, &r);
	else if (strcmp(op.data, "done") == 0)
		op_done(cl, &r);
	else if (strcmp(op.data, "rooms") == 0)
		op_rooms(cl, &r);
	else if (strcmp(op.data, "members") == 0)
		op_members(cl, &r);
	else if (strcmp(op.data, "sockets") == 0)
		op_sockets(cl, &r);
	else if (strcmp(op.data, "join") == 0 || strcmp(op.data, "leave") == 0 ||
	    strcmp(op.data, "disconnect") == 0)
		op_change(cl, &r, op.data);
	else if (strcmp(op.data, "count") == 0)
		op_count(cl, &r);
	else if (strcmp(op.data, "ping") == 0) {
		struct req copy = r;
		if (!copy.id) {
			copy.id = "null";
			copy.idlen = 4;
		}
		answer_ok(cl, &copy, NULL);
	} else
		answer_error(cl, &r, "unknown_op", "unknown op '%s'", op.data);
	sio_buf_free(&op);
}

void
sio_ctl_process(struct sio_conn *c)
{
	struct ctl_client *cl = (struct ctl_client *)c->ctl;
	size_t off = 0;
	size_t max = sio_hub_max_control_line(sio_hub_cfg(c->hub));

	/* Resumed with nothing read: an idle connection has no buffer at all. */
	if (c->in.len == 0)
		return;
	if (cl->skipping) {
		char *nl = memchr(c->in.data, '\n', c->in.len);
		if (!nl) {
			sio_buf_reset(&c->in);
			return;
		}
		off = (size_t)(nl - c->in.data) + 1;
		cl->skipping = false;
	}
	while (!c->closed && !cl->paused && off < c->in.len) {
		if (c->out.bytes > CTL_MAX_ANSWERS) {
			cl->paused_out = true;
			sio_conn_pause_reading(c, true);
			break;
		}
		char *nl = memchr(c->in.data + off, '\n', c->in.len - off);
		if (!nl)
			break;
		size_t len = (size_t)(nl - (c->in.data + off));
		if (len > max) {
			/* Whole but too long: the same answer as one still coming. */
			struct req r = { "", 0, NULL, NULL, 0 };
			cl->line++;
			answer_error(cl, &r, "limit", "line longer than %zu bytes", max);
		} else {
			handle_line(cl, c->in.data + off, len);
		}
		off = (size_t)(nl - c->in.data) + 1;
	}
	sio_buf_consume(&c->in, off);
	if (!c->closed && !cl->paused && !cl->paused_out && c->in.len > max) {
		/* Refuse the line, drop it up to its newline, go on with the next. */
		struct req r = { "", 0, NULL, NULL, 0 };
		cl->line++;
		answer_error(cl, &r, "limit", "line longer than %zu bytes", max);
		sio_buf_reset(&c->in);
		cl->skipping = true;
	}
}

/* ---- lifecycle --------------------------------------------------------------- */

static void
client_closed(struct sio_conn *c, const char *reason)
{
	struct ctl_client *cl = (struct ctl_client *)c->ctl;
	struct sio_ctl *ctl = cl->ctl;
	(void)reason;

	for (struct ack_wait *w = ctl->waits, *next; w; w = next) {
		next = w->next;
		if (w->cl == cl)
			ack_wait_free(ctl, w);
	}
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		ctl->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	/* A group member's unconfirmed lines go to the others. */
	cl->subscribed = false;
	if (cl->cluster)
		cluster_update(ctl);
	struct held_line *h = cl->held;
	while (h) {
		struct held_line *next = h->next;
		for (struct ctl_client *m = ctl->clients; cl->group && m; m = m->next) {
			if (m->group && strcmp(m->group, cl->group) == 0 && !m->conn->closed) {
				group_take(m, h->line);
				break;
			}
		}
		sio_rc_unref(h->line);
		free(h);
		h = next;
	}
	for (size_t i = 0; i < cl->nbacklog; i++) {
		for (struct ctl_client *m = ctl->clients; cl->group && m; m = m->next) {
			if (m->group && strcmp(m->group, cl->group) == 0 && !m->conn->closed) {
				group_take(m, cl->backlog[i]);
				break;
			}
		}
		sio_rc_unref(cl->backlog[i]);
	}
	free(cl->backlog);
	for (size_t i = 0; i < cl->nevents; i++)
		free(cl->events[i]);
	free(cl->events);
	for (size_t i = 0; i < cl->nrooms; i++)
		free(cl->rooms[i]);
	free(cl->rooms);
	free(cl->nsp);
	free(cl->group);
	free(cl);
	c->ctl = NULL;
}

static void
client_drained(struct sio_conn *c)
{
	struct ctl_client *cl = (struct ctl_client *)c->ctl;
	if (!cl)
		return;
	if (cl->dropped && !cl->group) {
		/* Caught up: tell it now what it missed, not at the next event. */
		dropped_note(cl);
		sio_conn_want_flush(c);
	}
	if (!cl->paused_out)
		return;
	cl->paused_out = false;
	if (!cl->paused) {
		sio_conn_pause_reading(c, false);
		sio_ctl_process(c);
	}
}

/* Is gid among the supplementary groups of process pid? */
static bool
pid_in_group(pid_t pid, gid_t gid)
{
	char path[64], line[4096];
	bool found = false;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof line, f)) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		char *p = line + 7, *end;
		for (unsigned long g; (g = strtoul(p, &end, 10)), end != p; p = end)
			if (g == gid)
				found = true;
		break;
	}
	fclose(f);
	return found;
}

/*
 * The file mode already keeps others out; this says so to the kernel's
 * face as well (SO_PEERCRED), so a socket file left open by mistake,
 * or one passed around, still lets in only our user, root and, with
 * --control-group, that group's members.
 */
static bool
peer_allowed(struct sio_ctl *ctl, int fd, char *who, size_t wholen)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		snprintf(who, wholen, "unknown peer");
		return false;
	}
	snprintf(who, wholen, "uid %ld pid %ld", (long)cr.uid, (long)cr.pid);
	if (cr.uid == geteuid() || cr.uid == 0)
		return true;
	return ctl->has_group && (cr.gid == ctl->group || pid_in_group(cr.pid, ctl->group));
}

/*
 * A refused peer is told why, then its input is read and dropped until it
 * closes (at most a second): closing at once would make its first write
 * fail before it could read the reason.
 */
struct refusal {
	ev_io io;
	ev_timer timer;
	int fd;
	struct sio_ctl *ctl;
	struct refusal *prev, *next;
};

static void
refusal_end(EV_P_ struct refusal *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->ctl->refusals = r->next;
	if (r->next)
		r->next->prev = r->prev;
	ev_io_stop(EV_A, &r->io);
	ev_timer_stop(EV_A, &r->timer);
	close(r->fd);
	free(r);
}

static void
refusal_read_cb(EV_P_ ev_io *w, int revents)
{
	struct refusal *r = SIO_CONTAINER_OF(w, struct refusal, io);
	char buf[4096];
	(void)revents;
	ssize_t n = read(r->fd, buf, sizeof buf);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		refusal_end(EV_A, r);
}

static void
refusal_timeout_cb(EV_P_ ev_timer *w, int revents)
{
	(void)revents;
	refusal_end(EV_A, SIO_CONTAINER_OF(w, struct refusal, timer));
}

static void
refuse_peer(struct sio_ctl *ctl, int fd)
{
	static const char msg[] = "{\"error\":{\"code\":\"forbidden\","
	    "\"message\":\"this user may not use the control socket\"}}\n";
	struct ev_loop *loop = sio_hub_loop(ctl->hub);
	ssize_t wr = write(fd, msg, sizeof msg - 1);
	(void)wr;	/* a fresh socket takes it; if not, the close says enough */
	shutdown(fd, SHUT_WR);
	struct refusal *r = sio_xcalloc(1, sizeof *r);
	r->fd = fd;
	r->ctl = ctl;
	r->next = ctl->refusals;
	if (r->next)
		r->next->prev = r;
	ctl->refusals = r;
	ev_io_init(&r->io, refusal_read_cb, fd, EV_READ);
	ev_timer_init(&r->timer, refusal_timeout_cb, 1.0, 0.);
	ev_io_start(loop, &r->io);
	ev_timer_start(loop, &r->timer);
}

static void
accept_retry_cb(EV_P_ ev_timer *w, int revents)
{
	struct sio_ctl *ctl = SIO_CONTAINER_OF(w, struct sio_ctl, accept_retry);
	(void)revents;
	ev_io_start(EV_A, &ctl->accept_io);
}

static void
accept_cb(EV_P_ ev_io *w, int revents)
{
	struct sio_ctl *ctl = SIO_CONTAINER_OF(w, struct sio_ctl, accept_io);
	(void)EV_A;
	(void)revents;

	for (int i = 0; i < 16; i++) {
		int fd = accept4(ctl->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* The listener stays readable: without a pause the
				 * loop would spin on it until a descriptor frees. */
				sio_log_warn("control socket: accept: %s; pausing for 0.5 s",
				    strerror(errno));
				ev_io_stop(EV_A, &ctl->accept_io);
				ev_timer_set(&ctl->accept_retry, 0.5, 0.);	/* see hub.c */
				ev_timer_start(EV_A, &ctl->accept_retry);
			}
			return;
		}
		char who[64];
		if (!peer_allowed(ctl, fd, who, sizeof who)) {
			sio_log_warn("control socket: %s refused: not our user, root or "
			    "the control group", who);
			refuse_peer(ctl, fd);
			continue;
		}
		struct sio_conn *c = sio_conn_new_ctl(ctl->hub, fd);
		struct ctl_client *cl = sio_xcalloc(1, sizeof *cl);
		cl->serial = ++ctl->next_serial;
		cl->conn = c;
		cl->ctl = ctl;
		cl->held_tail = &cl->held;
		cl->next = ctl->clients;
		if (ctl->clients)
			ctl->clients->prev = cl;
		ctl->clients = cl;
		c->ctl = (struct sio_ctl_client *)cl;
		c->on_close = client_closed;
		c->on_drain = client_drained;
	}
}

/*
 * Creates the socket's directory 0700 (0710 with a control group, so its
 * members may reach the socket inside). When the hub made it (the
 * default path, or one it created now), it must be ours and closed to
 * others: a directory someone else made first in /tmp could let them
 * swap the socket.
 */
static int
make_parent_dir(const char *path, bool is_default, const gid_t *group, char *err)
{
	char *dir = sio_xstrdup(path);
	char *slash = strrchr(dir, '/');
	struct stat st;
	int rc = 0;

	if (slash && slash != dir) {
		*slash = '\0';
		bool made = mkdir(dir, 0700) == 0;
		if (made && group && (chown(dir, (uid_t)-1, *group) < 0 || chmod(dir, 0710) < 0)) {
			snprintf(err, SIO_ERRLEN, "cannot give %s to the control group: %s", dir,
			    strerror(errno));
			rc = -1;
		} else if (!made && errno != EEXIST) {
			snprintf(err, SIO_ERRLEN, "cannot create %s: %s", dir, strerror(errno));
			rc = -1;
		} else if (is_default && (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != geteuid() || (st.st_mode & 007) != 0 ||
		    ((st.st_mode & 070) != 0 && !(group && st.st_gid == *group &&
		    (st.st_mode & 060) == 0)))) {
			snprintf(err, SIO_ERRLEN, "%s must be a directory of yours that only "
			    "you can use (mode 0700, or 0710 for the control group); not using it",
			    dir);
			rc = -1;
		}
	}
	free(dir);
	return rc;
}

/* --control-group: a group name or number. */
static int
resolve_group(const char *name, gid_t *gid, char *err)
{
	struct group *gr = getgrnam(name);
	char *end;
	unsigned long n = strtoul(name, &end, 10);

	if (gr) {
		*gid = gr->gr_gid;
		return SIO_OK;
	}
	if (*name && !*end) {
		*gid = (gid_t)n;
		return SIO_OK;
	}
	snprintf(err, SIO_ERRLEN, "control-group: no group named '%.100s'", name);
	return SIO_EINVAL;
}

struct sio_ctl *
sio_ctl_new(struct sio_hub *hub, struct sio_server *srv, const char *path, char *err)
{
	const char *group_name = sio_hub_cfg(hub)->control_group;
	gid_t gid = 0;

	if (group_name && resolve_group(group_name, &gid, err) != SIO_OK)
		return NULL;
	if (make_parent_dir(path, sio_ctl_path_is_builtin(path), group_name ? &gid : NULL,
	    err) < 0)
		return NULL;
	int fd = sio_net_listen_unix(path, group_name ? 0660 : 0600, err);
	if (fd < 0)
		return NULL;
	if (group_name && chown(path, (uid_t)-1, gid) < 0) {
		snprintf(err, SIO_ERRLEN, "cannot give %.100s to the control group: %s", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return NULL;
	}
	struct sio_ctl *ctl = sio_xcalloc(1, sizeof *ctl);
	ctl->hub = hub;
	ctl->srv = srv;
	ctl->path = sio_xstrdup(path);
	ctl->lfd = fd;
	ctl->has_group = group_name != NULL;
	ctl->group = gid;
	ev_io_init(&ctl->accept_io, accept_cb, fd, EV_READ);
	ev_io_start(sio_hub_loop(hub), &ctl->accept_io);
	ev_timer_init(&ctl->accept_retry, accept_retry_cb, 0.5, 0.);
	struct sio_observer o = {
		.on_connect = obs_connect,
		.on_event = obs_event,
		.on_ack = obs_ack,
		.on_disconnect = obs_disconnect,
		.arg = ctl,
	};
	sio_server_observe(srv, &o);
	return ctl;
}

void
sio_ctl_counts(const struct sio_ctl *ctl, size_t *clients, size_t *subscribers)
{
	*clients = *subscribers = 0;
	for (const struct ctl_client *cl = ctl ? ctl->clients : NULL; cl; cl = cl->next) {
		(*clients)++;
		if (cl->subscribed)
			(*subscribers)++;
	}
}

void
sio_ctl_resume(struct sio_ctl *ctl)
{
	if (!ctl)
		return;
	for (struct ctl_client *cl = ctl->clients; cl; cl = cl->next) {
		if (!cl->paused || cl->conn->closed)
			continue;
		cl->paused = false;
		if (cl->paused_out)
			continue;	/* it resumes when its answers are read */
		sio_conn_pause_reading(cl->conn, false);
		sio_ctl_process(cl->conn);
	}
}

void
sio_ctl_free(struct sio_ctl *ctl)
{
	if (!ctl)
		return;
	ev_io_stop(sio_hub_loop(ctl->hub), &ctl->accept_io);
	ev_timer_stop(sio_hub_loop(ctl->hub), &ctl->accept_retry);
	close(ctl->lfd);
	unlink(ctl->path);
	while (ctl->clients)
		sio_conn_close(ctl->clients->conn, "shutdown");
	while (ctl->refusals)
		refusal_end(sio_hub_loop(ctl->hub), ctl->refusals);
	sio_json_free(&ctl->doc);
	free(ctl->path);
	free(ctl);
}
