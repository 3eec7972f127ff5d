/*
 * ctlstream: the event stream. Client events, connects and disconnects
 * become one JSON line each, built once and shared by every subscriber
 * whose filters match; a group gets each line once, on one member, which
 * confirms it ("done"). With --redis the lines also go to the other hubs'
 * --cluster listeners, and theirs come here.
 */
#include "ctlsrv.h"
#include "hub.h"
#include "log.h"
#include "redis.h"
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the event stream ---------------------------------------------------------- */

void
sio_ctl_dropped_note(struct ctl_client *cl)
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
		sio_ctl_dropped_note(cl);
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
		sio_ctl_dropped_note(cl);
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
void
sio_ctl_add_user(struct sio_buf *b, const struct sio_socket *s)
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
	sio_ctl_add_user(b, s);
}

void
sio_ctl_on_connect(struct sio_socket *s, void *arg)
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

void
sio_ctl_on_disconnect(struct sio_socket *s, const char *reason, void *arg)
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

void
sio_ctl_on_event(struct sio_socket *s, const struct sio_event *ev, void *arg)
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
	sio_ctl_append_data(&b, ev, 1);
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

/* ---- subscribing ----------------------------------------------------------- */

/* What a subscription asked for: its events, rooms, namespace, group. */
static void
filters_free(struct ctl_client *cl)
{
	for (size_t i = 0; i < cl->nevents; i++)
		free(cl->events[i]);
	free(cl->events);
	for (size_t i = 0; i < cl->nrooms; i++)
		free(cl->rooms[i]);
	free(cl->rooms);
	free(cl->nsp);
	free(cl->group);
}

void
sio_ctl_op_subscribe(struct ctl_client *cl, const struct req *r)
{
	struct strv events, rooms;
	struct sio_buf nsp = SIO_BUF_INIT, group = SIO_BUF_INIT;

	if (!sio_ctl_strv_field(cl, r, "events", &events))
		return;
	if (!sio_ctl_strv_field(cl, r, "rooms", &rooms)) {
		sio_ctl_strv_free(&events);
		return;
	}
	int ni = field(r, "nsp"), gi = field(r, "group");
	if ((ni >= 0 && tok(r, ni)->type != SIO_JSON_NULL && !str_field(r, "nsp", &nsp)) ||
	    (gi >= 0 && tok(r, gi)->type != SIO_JSON_NULL && !str_field(r, "group", &group))) {
		sio_ctl_answer_error(cl, r, "bad_request", "'nsp' and 'group' must be strings or null");
		sio_ctl_strv_free(&events);
		sio_ctl_strv_free(&rooms);
		sio_buf_free(&nsp);
		sio_buf_free(&group);
		return;
	}
	int li = field(r, "lifecycle"), ci = field(r, "cluster");
	cl->lifecycle = li < 0 || tok(r, li)->type != SIO_JSON_FALSE;
	cl->cluster = ci >= 0 && tok(r, ci)->type == SIO_JSON_TRUE;
	/* A second subscribe replaces the first. */
	filters_free(cl);
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
	sio_ctl_answer_ok(cl, r, NULL);
}

/* A group member confirms n lines it has written out. */
void
sio_ctl_op_done(struct ctl_client *cl, const struct req *r)
{
	long long n = 1;
	int ni = field(r, "n");
	if (ni >= 0 && !sio_json_int(r->doc, r->text, ni, 1, 1 << 30, &n)) {
		sio_ctl_answer_error(cl, r, "bad_request", "'n' must be a positive whole number");
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

void
sio_ctl_unsubscribe(struct ctl_client *cl)
{
	/* A group member's unconfirmed lines go to the others. */
	cl->subscribed = false;
	if (cl->cluster)
		cluster_update(cl->ctl);
	struct held_line *h = cl->held;
	while (h) {
		struct held_line *next = h->next;
		for (struct ctl_client *m = cl->ctl->clients; cl->group && m; m = m->next) {
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
		for (struct ctl_client *m = cl->ctl->clients; cl->group && m; m = m->next) {
			if (m->group && strcmp(m->group, cl->group) == 0 && !m->conn->closed) {
				group_take(m, cl->backlog[i]);
				break;
			}
		}
		sio_rc_unref(cl->backlog[i]);
	}
	free(cl->backlog);
	filters_free(cl);
}
