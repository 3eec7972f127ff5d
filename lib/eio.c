#include "eio.h"
#include "conn.h"
#include "hub.h"
#include "log.h"
#include "pkt.h"
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uthash.h>

/* Error codes of the reference server, sent as {"code":N,"message":...}. */
enum {
	EIO_ERR_TRANSPORT = 0,
	EIO_ERR_SID = 1,
	EIO_ERR_METHOD = 2,
	EIO_ERR_BAD_REQUEST = 3,
	EIO_ERR_FORBIDDEN = 4,
	EIO_ERR_VERSION = 5,
};

static const char *eio_err_msg[] = {
	"Transport unknown", "Session ID unknown", "Bad handshake method",
	"Bad request", "Forbidden", "Unsupported protocol version",
};

struct sio_eio_server {
	struct sio_hub *hub;
	char *path;
	const struct sio_eio_handler *h;
	void *user;
	struct sio_eio_session *sessions;	/* uthash by sid */
	size_t count;
	ev_timer behind_check;		/* runs while some session is behind */
	/* Every session's heartbeat deadline, earliest first, in a list per
	 * kind (the next ping; the pong awaited; a closing session's last
	 * wait), under one timer (see heartbeat_arm). */
	struct hb_list {
		struct sio_eio_session *head, *tail;
	} hb[3];
	ev_timer hb_timer;
};

struct sio_eio_session {
	char sid[21];
	struct sio_eio_server *srv;
	bool ws_transport;		/* upgraded, or opened as WebSocket */
	bool closed;			/* on_close has run */
	bool closing;			/* polling: a close waits for the next GET */
	struct sio_conn *ws;		/* the WebSocket transport */
	struct sio_conn *probe;		/* a WebSocket being upgraded to */
	struct sio_conn *poll;		/* a parked long-poll GET */
	struct sio_pkt **q;		/* packets waiting for a GET */
	size_t qn, qcap, qbytes;
	ev_tstamp hb_at;		/* next ping, the pong deadline, or the end of a close */
	struct sio_eio_session *hb_prev, *hb_next;
	struct hb_list *hb_in;		/* the list it is in, or NULL */
	ev_timer upgrade_timer;
	ev_tstamp ping_at;		/* when the current heartbeat round started */
	bool awaiting_pong;
	bool congested;			/* counted in the hub's back-pressure */
	bool doomed;			/* over the output limit, closing soon */
	ev_tstamp behind_since;		/* output held up since (see congestion_update), or 0 */
	void *user;
	char peer[64];
	UT_hash_handle hh;
};

static void behind_check_cb(EV_P_ ev_timer *w, int revents);

/* Output above this makes a session congested (see sio_hub_congestion). */
#define CONGESTED_BYTES (256u << 10)

/* Packets every session sends: shared, never freed. */
static struct sio_pkt *pkt_ping, *pkt_noop, *pkt_close, *pkt_pong_probe;

static struct sio_pkt *
static_pkt(const char *s)
{
	struct sio_pkt *p = sio_pkt_from(false, s, strlen(s));
	p->refs = UINT32_MAX / 2;	/* never reaches zero */
	return p;
}

static void session_finish(struct sio_eio_session *s);
enum close_mode {
	CLOSE_BY_CLIENT, CLOSE_CLIENT_PACKET, CLOSE_ERROR, CLOSE_GRACEFUL, CLOSE_SHUTDOWN
};
static void session_close(struct sio_eio_session *s, const char *reason, enum close_mode mode);
static void session_destroy(void *arg);
static void heartbeat_timer_cb(EV_P_ ev_timer *w, int revents);

struct sio_eio_server *
sio_eio_server_new(struct sio_hub *hub, const char *path,
    const struct sio_eio_handler *h, void *user)
{
	struct sio_eio_server *srv = sio_xcalloc(1, sizeof *srv);

	if (!pkt_ping) {
		pkt_ping = static_pkt("2");
		pkt_noop = static_pkt("6");
		pkt_close = static_pkt("1");
		pkt_pong_probe = static_pkt("3probe");
	}
	srv->hub = hub;
	srv->path = sio_xstrdup(path);
	srv->h = h;
	srv->user = user;
	ev_timer_init(&srv->behind_check, behind_check_cb, 0., 0.25);
	ev_init(&srv->hb_timer, heartbeat_timer_cb);
	return srv;
}

void
sio_eio_server_free(struct sio_eio_server *srv)
{
	if (!srv)
		return;
	sio_eio_close_all(srv, "server shutting down");
	ev_timer_stop(sio_hub_loop(srv->hub), &srv->behind_check);
	ev_timer_stop(sio_hub_loop(srv->hub), &srv->hb_timer);
	free(srv->path);
	free(srv);
}

const char *
sio_eio_server_path(const struct sio_eio_server *srv)
{
	return srv->path;
}

size_t
sio_eio_count(const struct sio_eio_server *srv)
{
	return srv->count;
}

void
sio_eio_set_user(struct sio_eio_session *s, void *user)
{
	s->user = user;
}

void *
sio_eio_user(const struct sio_eio_session *s)
{
	return s->user;
}

const char *
sio_eio_sid(const struct sio_eio_session *s)
{
	return s->sid;
}

const char *
sio_eio_transport(const struct sio_eio_session *s)
{
	return s->ws_transport ? "websocket" : "polling";
}

const char *
sio_eio_peer(const struct sio_eio_session *s)
{
	return s->peer;
}

void
sio_eio_count_transports(const struct sio_eio_server *srv, size_t *polling, size_t *websocket)
{
	const struct sio_eio_session *s;
	*polling = *websocket = 0;
	for (s = srv->sessions; s; s = s->hh.next) {
		if (s->closed)
			continue;
		if (s->ws_transport)
			(*websocket)++;
		else
			(*polling)++;
	}
}

bool
sio_eio_congested(const struct sio_eio_session *s)
{
	return s->congested;
}

static size_t
queued_bytes(const struct sio_eio_session *s)
{
	return s->ws_transport && s->ws ? s->ws->out.bytes : s->qbytes;
}

/*
 * A session is behind while its output is over the soft limit, or over
 * the congestion mark (it then holds every control producer back). The
 * soft clock runs while it is behind and starts over once it catches
 * up; a timer watches it, since a client that holds producers back gets
 * nothing new that would trip a check in sio_eio_send.
 */
static void
congestion_update(struct sio_eio_session *s)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(s->srv->hub);
	size_t q = queued_bytes(s);
	bool now = !s->closed && q > CONGESTED_BYTES;
	if (now != s->congested) {
		s->congested = now;
		sio_hub_congestion(s->srv->hub, now ? 1 : -1);
	}
	bool behind = cfg->max_output_soft && !s->closed &&
	    (now || q > cfg->max_output_soft);
	if (!behind) {
		s->behind_since = 0;
	} else if (s->behind_since == 0) {
		struct ev_loop *loop = sio_hub_loop(s->srv->hub);
		s->behind_since = ev_now(loop);
		if (!ev_is_active(&s->srv->behind_check))
			ev_timer_again(loop, &s->srv->behind_check);
	}
}

/* ---- HTTP answers ------------------------------------------------------ */

/* CORS headers for an allowed Origin, into b. */
static void
cors_headers(struct sio_conn *c, struct sio_buf *b)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(c->hub);
	const char *origin = sio_web_header(&c->req, "origin");
	/* Without --cors, the origins --allow-origin lets in may read answers. */
	const char **list = cfg->ncors ? cfg->cors : cfg->allow_origins;
	size_t n = cfg->ncors ? cfg->ncors : cfg->nallow_origins;

	if (!origin || n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i], "*") == 0 || strcmp(list[i], origin) == 0) {
			/* Reflect the origin: credentials forbid the "*" form. */
			for (const char *p = origin; *p; p++)
				if (*p == '\r' || *p == '\n')
					return;
			sio_buf_printf(b, "Access-Control-Allow-Origin: %s\r\n"
			    "Access-Control-Allow-Credentials: true\r\nVary: Origin\r\n", origin);
			return;
		}
	}
}

static void
respond(struct sio_conn *c, int status, const char *ctype, const void *body, size_t len)
{
	struct sio_buf h = SIO_BUF_INIT;

	cors_headers(c, &h);
	if (status == 200)
		sio_buf_adds(&h, "Cache-Control: no-store\r\n");
	sio_web_respond(c, status, ctype, h.data, body, len);
	sio_buf_free(&h);
	sio_web_response_done(c);
}

static void
respond_error(struct sio_conn *c, int code)
{
	char body[96];
	int n = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}",
	    code, eio_err_msg[code]);
	sio_log_debug("%s: Engine.IO refused: %s", c->peer, eio_err_msg[code]);
	if (c->mode == SIO_CONN_HTTP && sio_ws_is_upgrade(&c->req)) {
		/* A refused upgrade is not kept alive: the client sees the close. */
		c->req.keep_alive = false;
	}
	respond(c, code == EIO_ERR_FORBIDDEN ? 403 : 400, "application/json", body, (size_t)n);
}

static void
queue_pkt(struct sio_eio_session *s, struct sio_pkt *p)
{
	if (s->qn == s->qcap) {
		s->qcap = s->qcap ? s->qcap * 2 : 8;
		s->q = sio_xrealloc(s->q, s->qcap * sizeof *s->q);
	}
	s->q[s->qn++] = p;
	s->qbytes += p->len;
}

/* Writes the queued packets as one payload to a parked or fresh GET. */
static void
answer_poll(struct sio_eio_session *s, struct sio_conn *c)
{
	struct sio_buf h = SIO_BUF_INIT;
	size_t total = 0;

	if (s->qn == 0)
		queue_pkt(s, sio_pkt_ref(pkt_noop));	/* release the GET */
	for (size_t i = 0; i < s->qn; i++) {
		size_t len;
		sio_pkt_poll_form(s->q[i], &len);
		total += len + (i > 0);
	}
	cors_headers(c, &h);
	sio_buf_adds(&h, "Cache-Control: no-store\r\n");
	sio_web_respond_head(c, 200, "text/plain; charset=UTF-8", h.data, total);
	sio_buf_free(&h);
	for (size_t i = 0; i < s->qn; i++) {
		struct sio_pkt *p = s->q[i];
		size_t len;
		const uint8_t *f = sio_pkt_poll_form(p, &len);
		if (i > 0)
			sio_outq_push(&c->out, "\x1e", 1, SIO_REF_STATIC, NULL);
		if (p->binary)
			sio_outq_push(&c->out, f, len, SIO_REF_RC, sio_rc_ref(p->b64));
		else
			sio_outq_push(&c->out, f, len, SIO_REF_PKT, sio_pkt_ref(p));
		sio_pkt_unref(p);
	}
	s->qn = 0;
	s->qbytes = 0;
	congestion_update(s);
	if (s->poll == c)
		s->poll = NULL;
	c->session = NULL;
	c->on_close = NULL;
	sio_conn_want_flush(c);
	sio_web_resume(c);
}

/* A parked GET's connection closed under it: the client went away. */
static void
poll_conn_closed(struct sio_conn *c, const char *reason)
{
	struct sio_eio_session *s = c->session;
	(void)reason;
	if (s && s->poll == c) {
		s->poll = NULL;
		c->session = NULL;
		session_close(s, "transport close", CLOSE_BY_CLIENT);
	}
}

/* ---- sessions ---------------------------------------------------------- */

/*
 * Heartbeats. A timer per session would put every socket in libev's heap
 * and cost a heap operation per ping and per pong. A deadline is nearly
 * always now plus a fixed interval (the next ping) or plus a fixed
 * timeout (the pong awaited), so each kind has a list in deadline order
 * that takes it at its tail in O(1). A closing polling session's grace
 * (one of two lengths) walks back to its place in a list of its own,
 * short-lived and small. One timer waits for the earliest head.
 */
enum { HB_PING, HB_PONG, HB_GRACE, HB_KINDS };

static void
heartbeat_timer_set(struct sio_eio_server *srv)
{
	struct ev_loop *loop = sio_hub_loop(srv->hub);
	struct sio_eio_session *first = NULL;
	for (int k = 0; k < HB_KINDS; k++) {
		struct sio_eio_session *h = srv->hb[k].head;
		if (h && (!first || h->hb_at < first->hb_at))
			first = h;
	}
	ev_timer_stop(loop, &srv->hb_timer);
	if (!first)
		return;
	ev_tstamp d = first->hb_at - ev_now(loop);
	ev_timer_set(&srv->hb_timer, d > 0 ? d : 0.0001, 0.);	/* see lib/README.md */
	ev_timer_start(loop, &srv->hb_timer);
}

static void
heartbeat_stop(struct sio_eio_session *s)
{
	struct hb_list *l = s->hb_in;
	if (!l)
		return;
	bool was_head = l->head == s;
	if (s->hb_prev)
		s->hb_prev->hb_next = s->hb_next;
	else
		l->head = s->hb_next;
	if (s->hb_next)
		s->hb_next->hb_prev = s->hb_prev;
	else
		l->tail = s->hb_prev;
	s->hb_prev = s->hb_next = NULL;
	s->hb_in = NULL;
	if (was_head)
		heartbeat_timer_set(s->srv);
}

static void
heartbeat_arm(struct sio_eio_session *s, int kind, ev_tstamp at)
{
	struct hb_list *l = &s->srv->hb[kind];
	heartbeat_stop(s);
	s->hb_at = at;
	struct sio_eio_session *p = l->tail;
	while (p && p->hb_at > at)
		p = p->hb_prev;
	s->hb_prev = p;
	s->hb_next = p ? p->hb_next : l->head;
	if (s->hb_next)
		s->hb_next->hb_prev = s;
	else
		l->tail = s;
	if (p)
		p->hb_next = s;
	else
		l->head = s;
	s->hb_in = l;
	if (l->head == s)
		heartbeat_timer_set(s->srv);
}

static void
heartbeat_restart(struct sio_eio_session *s)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(s->srv->hub);
	s->awaiting_pong = false;
	s->ping_at = ev_now(sio_hub_loop(s->srv->hub)) + cfg->ping_interval / 1000.0;
	heartbeat_arm(s, HB_PING, s->ping_at);
}

static void
enqueue(struct sio_eio_session *s, struct sio_pkt *p)
{
	if (s->ws_transport && s->ws) {
		sio_ws_send(s->ws, p);
		return;
	}
	queue_pkt(s, p);
	if (s->poll)
		answer_poll(s, s->poll);
}

static void
heartbeat_due(struct sio_eio_session *s)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(s->srv->hub);

	if (s->closed) {
		session_finish(s);	/* the buffered close was never fetched */
		return;
	}
	if (s->awaiting_pong) {
		/* Worth a line at the default level: a peer that stopped
		 * answering is often one that stopped reading. */
		sio_log_info("%s: session %s closed: no pong within --ping-timeout "
		    "(%zu bytes were still queued)", s->peer, s->sid, queued_bytes(s));
		sio_eio_close(s, "ping timeout");
		return;
	}
	s->awaiting_pong = true;
	/* The deadline counts from when the ping was due, so late timers do
	 * not stretch a session's life past interval + timeout. */
	heartbeat_arm(s, HB_PONG, s->ping_at + cfg->ping_timeout / 1000.0);
	enqueue(s, sio_pkt_ref(pkt_ping));
}

static void
heartbeat_timer_cb(EV_P_ ev_timer *w, int revents)
{
	struct sio_eio_server *srv = SIO_CONTAINER_OF(w, struct sio_eio_server, hb_timer);
	(void)revents;
	/* Sessions due now leave the list before their turn runs; a turn
	 * puts its session back later in the list or closes it, and closing
	 * one never frees another, so the head is always safe to read. The
	 * small slack lets deadlines a hair apart share one wake-up. */
	ev_tstamp now = ev_now(EV_A) + 0.001;
	for (int k = 0; k < HB_KINDS; k++) {
		struct sio_eio_session *s;
		while ((s = srv->hb[k].head) && s->hb_at <= now) {
			heartbeat_stop(s);
			heartbeat_due(s);
		}
	}
	heartbeat_timer_set(srv);
}

/* True when the pong deadline has passed (the timer may not have run). */
static bool
expired(struct sio_eio_session *s)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(s->srv->hub);
	struct ev_loop *loop = sio_hub_loop(s->srv->hub);

	if (!s->awaiting_pong)
		return false;
	ev_now_update(loop);
	if (ev_now(loop) >= s->ping_at + cfg->ping_timeout / 1000.0) {
		sio_log_info("%s: session %s closed: no pong within --ping-timeout",
		    s->peer, s->sid);
		sio_eio_close(s, "ping timeout");
		return true;
	}
	return false;
}

static struct sio_eio_session *
session_new(struct sio_eio_server *srv, struct sio_conn *c)
{
	struct sio_eio_session *s = sio_xcalloc(1, sizeof *s);
	struct sio_eio_session *dup;

	do {
		if (sio_random_id(s->sid, 20) != SIO_OK) {
			free(s);
			return NULL;
		}
		HASH_FIND_STR(srv->sessions, s->sid, dup);
	} while (dup);
	s->srv = srv;
	snprintf(s->peer, sizeof s->peer, "%s", c->peer);
	HASH_ADD_STR(srv->sessions, sid, s);
	srv->count++;
	sio_hub_stats(srv->hub)->sessions++;
	heartbeat_restart(s);
	return s;
}

static void
open_packet(struct sio_eio_session *s, struct sio_buf *b)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(s->srv->hub);
	sio_buf_printf(b, "0{\"sid\":\"%s\",\"upgrades\":%s,\"pingInterval\":%d,"
	    "\"pingTimeout\":%d,\"maxPayload\":%zu}", s->sid,
	    !s->ws_transport && cfg->websocket ? "[\"websocket\"]" : "[]",
	    cfg->ping_interval, cfg->ping_timeout, cfg->max_payload);
}

static void ws_message(struct sio_conn *c, bool binary, const uint8_t *p, size_t n);
static void ws_conn_closed(struct sio_conn *c, const char *reason);

/*
 * Closes the session.
 * CLOSE_BY_CLIENT: its transport went away; nothing more is sent.
 * CLOSE_CLIENT_PACKET: it sent "1"; a waiting GET gets a noop.
 * CLOSE_ERROR: queued packets are dropped; a waiting GET gets "1".
 * CLOSE_GRACEFUL: queued packets go first, then "1" to a GET.
 * CLOSE_SHUTDOWN: queued packets go first, then no "1": clients see their
 * transport close and reconnect (a "1" makes python-engineio give up).
 * A WebSocket is closed without a "1" in every case, as the reference
 * server's websocket transport does. A polling client with no GET waiting
 * may fetch what is left for a short while: a client's POST "1" and its
 * GET race, and libev may hand us the POST first.
 */
static void
session_close(struct sio_eio_session *s, const char *reason, enum close_mode mode)
{
	if (s->closed)
		return;
	s->closed = true;
	sio_log_debug("%s: session %s closed (%s)", s->peer, s->sid, reason);
	heartbeat_stop(s);
	ev_timer_stop(sio_hub_loop(s->srv->hub), &s->upgrade_timer);

	if (s->probe) {
		struct sio_conn *p = s->probe;
		s->probe = NULL;
		p->session = NULL;
		sio_ws_close(p, 1000);
	}
	if (s->ws) {
		struct sio_conn *w = s->ws;
		s->ws = NULL;
		w->session = NULL;
		sio_ws_close(w, mode == CLOSE_SHUTDOWN ? 1001 : 1000);
	}
	bool keep = mode == CLOSE_GRACEFUL || mode == CLOSE_SHUTDOWN;
	if (!keep) {
		for (size_t i = 0; i < s->qn; i++)
			sio_pkt_unref(s->q[i]);
		s->qn = 0;
	}
	struct sio_pkt *last = mode == CLOSE_ERROR || mode == CLOSE_GRACEFUL ? pkt_close :
	    mode == CLOSE_SHUTDOWN ? NULL : pkt_noop;
	if (s->poll) {
		if (last)
			queue_pkt(s, sio_pkt_ref(last));
		answer_poll(s, s->poll);
	} else if (!s->ws_transport && (mode == CLOSE_CLIENT_PACKET || (keep && s->qn > 0))) {
		if (last)
			queue_pkt(s, sio_pkt_ref(last));
		s->closing = true;
	}
	congestion_update(s);
	if (s->srv->h->on_close)
		s->srv->h->on_close(s, reason, s->srv->user);
	if (s->closing) {
		const struct sio_hub_config *cfg = sio_hub_cfg(s->srv->hub);
		double grace = mode == CLOSE_CLIENT_PACKET ? 1.0 :
		    (cfg->ping_interval + cfg->ping_timeout) / 1000.0;
		heartbeat_arm(s, HB_GRACE, ev_now(sio_hub_loop(s->srv->hub)) + grace);
		return;
	}
	session_finish(s);
}

void
sio_eio_close(struct sio_eio_session *s, const char *reason)
{
	session_close(s, reason, CLOSE_ERROR);
}

void
sio_eio_close_graceful(struct sio_eio_session *s, const char *reason)
{
	session_close(s, reason, CLOSE_GRACEFUL);
}

/* Removes the session from the table; freed before the loop blocks. */
static void
session_finish(struct sio_eio_session *s)
{
	struct sio_eio_server *srv = s->srv;
	heartbeat_stop(s);
	s->closing = false;
	HASH_DEL(srv->sessions, s);
	srv->count--;
	sio_hub_defer(srv->hub, session_destroy, s);
}

static void
session_destroy(void *arg)
{
	struct sio_eio_session *s = arg;
	for (size_t i = 0; i < s->qn; i++)
		sio_pkt_unref(s->q[i]);
	free(s->q);
	free(s);
}

void
sio_eio_close_all(struct sio_eio_server *srv, const char *reason)
{
	struct sio_eio_session *s, *tmp;
	HASH_ITER(hh, srv->sessions, s, tmp) {
		if (s->closing)
			session_finish(s);
		else
			session_close(s, reason, CLOSE_SHUTDOWN);
	}
}

static void
close_slow(void *arg)
{
	sio_eio_close(arg, "slow consumer");
}

/*
 * The output limits, as Redis has them for its clients: a hard limit no
 * queue may pass, and a soft one it may stay above only for a while, so
 * a burst passes while a client that never catches up does not.
 */
static void
doom(struct sio_eio_session *s, const char *why, size_t queued)
{
	if (s->doomed)
		return;
	sio_log_warn("%s: session %s dropped: %zu bytes queued, %s", s->peer, s->sid,
	    queued, why);
	sio_hub_stats(s->srv->hub)->slow_disconnects++;
	/* Not now: the caller may be iterating over sockets. */
	s->doomed = true;
	sio_hub_defer(s->srv->hub, close_slow, s);
}

static void
behind_check_cb(EV_P_ ev_timer *w, int revents)
{
	struct sio_eio_server *srv = SIO_CONTAINER_OF(w, struct sio_eio_server, behind_check);
	double limit = sio_hub_cfg(srv->hub)->max_output_soft_time / 1000.0;
	struct sio_eio_session *s, *tmp;
	bool any = false;
	(void)revents;

	HASH_ITER(hh, srv->sessions, s, tmp) {
		if (!s->behind_since || s->closed)
			continue;
		any = true;
		if (ev_now(EV_A) - s->behind_since >= limit)
			doom(s, "behind for too long (soft output limit)", queued_bytes(s));
	}
	if (!any)
		ev_timer_stop(EV_A, w);
}

int
sio_eio_send(struct sio_eio_session *s, struct sio_pkt *p)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(s->srv->hub);

	if (s->closed) {
		sio_pkt_unref(p);
		return SIO_ECLOSED;
	}
	size_t queued = queued_bytes(s);
	if (queued + p->len > cfg->max_output) {
		sio_pkt_unref(p);
		doom(s, "over the output limit", queued);
		return SIO_ELIMIT;
	}
	if (s->behind_since && ev_now(sio_hub_loop(s->srv->hub)) - s->behind_since >=
	    cfg->max_output_soft_time / 1000.0) {
		sio_pkt_unref(p);
		doom(s, "behind for too long (soft output limit)", queued);
		return SIO_ELIMIT;
	}
	enqueue(s, p);
	congestion_update(s);
	return SIO_OK;
}

/* ---- incoming packets -------------------------------------------------- */

/*
 * Handles one Engine.IO packet from the client, on any transport.
 * Returns false when the session was closed by it.
 */
static bool
on_packet(struct sio_eio_session *s, bool binary, const uint8_t *p, size_t n)
{
	struct sio_eio_server *srv = s->srv;

	if (s->closed)
		return false;
	if (binary) {
		srv->h->on_message(s, true, p, n, srv->user);
		return !s->closed;
	}
	if (n == 0) {
		sio_eio_close(s, "parse error");
		return false;
	}
	switch (p[0]) {
	case '1':
		session_close(s, "transport close", CLOSE_CLIENT_PACKET);
		return false;
	case '2':
		/* v4: the server pings; a client ping is misuse. */
		sio_eio_close(s, "parse error");
		return false;
	case '3':
		if (s->awaiting_pong)
			heartbeat_restart(s);
		return true;
	case '4':
		srv->h->on_message(s, false, p + 1, n - 1, srv->user);
		return !s->closed;
	case '5':
	case '6':
		return true;
	default:
		sio_eio_close(s, "parse error");
		return false;
	}
}

static void
handle_post(struct sio_eio_session *s, struct sio_conn *c)
{
	const char *ct = sio_web_header(&c->req, "content-type");
	struct sio_buf bin = SIO_BUF_INIT;

	if (ct && strncasecmp(ct, "application/octet-stream", 24) == 0) {
		sio_eio_close(s, "parse error");
		respond_error(c, EIO_ERR_BAD_REQUEST);
		return;
	}
	const uint8_t *body = (const uint8_t *)c->req.body.data;
	size_t len = c->req.body.len, off = 0;
	bool ok = len > 0;
	unsigned max = sio_hub_cfg(s->srv->hub)->max_packets, npk = 1;
	for (const uint8_t *p = body; len > 0 && (p = memchr(p, 0x1e, len - (size_t)(p - body))); p++)
		if (++npk > max) {
			sio_log_info("%s: session %s closed: over %u packets in one payload",
			    s->peer, s->sid, max);
			sio_eio_close(s, "parse error");
			respond_error(c, EIO_ERR_BAD_REQUEST);
			return;
		}
	while (ok && off <= len) {
		const uint8_t *sep = memchr(body + off, 0x1e, len - off);
		size_t plen = sep ? (size_t)(sep - (body + off)) : len - off;
		const uint8_t *pk = body + off;
		if (plen > 0 && pk[0] == 'b') {
			sio_buf_reset(&bin);
			if (sio_base64_decode(&bin, (const char *)pk + 1, plen - 1) != SIO_OK) {
				sio_eio_close(s, "parse error");
				ok = false;
				break;
			}
			ok = on_packet(s, true, (const uint8_t *)bin.data, bin.len);
		} else {
			if (!sio_utf8_valid(pk, plen)) {
				sio_eio_close(s, "parse error");
				ok = false;
				break;
			}
			ok = on_packet(s, false, pk, plen);
		}
		if (!sep)
			break;
		off += plen + 1;
	}
	if (len == 0)
		sio_eio_close(s, "parse error");
	sio_buf_free(&bin);
	(void)ok;
	/* The payload was read: "ok", even when it ended the session (ref). */
	respond(c, 200, "text/html", "ok", 2);
}

static void
handle_get(struct sio_eio_session *s, struct sio_conn *c)
{
	if (s->poll) {
		/* One GET at a time: a second one ends the session (ref). */
		respond_error(c, EIO_ERR_BAD_REQUEST);
		sio_eio_close(s, "transport error");
		return;
	}
	if (s->qn > 0 || s->probe) {
		answer_poll(s, c);
		return;
	}
	s->poll = c;
	c->session = s;
	c->parked = true;
	c->on_close = poll_conn_closed;
}

/* ---- WebSocket transport ----------------------------------------------- */

static void
upgrade_timeout_cb(EV_P_ ev_timer *w, int revents)
{
	struct sio_eio_session *s = SIO_CONTAINER_OF(w, struct sio_eio_session, upgrade_timer);
	(void)EV_A;
	(void)revents;
	if (s->probe) {
		struct sio_conn *p = s->probe;
		s->probe = NULL;
		p->session = NULL;
		sio_ws_close(p, 1000);
		if (s->poll && s->qn > 0)
			answer_poll(s, s->poll);
	}
}

static void
ws_conn_closed(struct sio_conn *c, const char *reason)
{
	struct sio_eio_session *s = c->session;
	(void)reason;
	if (!s)
		return;
	c->session = NULL;
	if (s->probe == c) {
		s->probe = NULL;
		ev_timer_stop(sio_hub_loop(s->srv->hub), &s->upgrade_timer);
		if (s->poll && s->qn > 0)
			answer_poll(s, s->poll);
		return;
	}
	if (s->ws == c) {
		s->ws = NULL;
		session_close(s, "transport close", CLOSE_BY_CLIENT);
	}
}

static void
probe_message(struct sio_eio_session *s, struct sio_conn *c, bool binary,
    const uint8_t *p, size_t n)
{
	if (!binary && n == 6 && memcmp(p, "2probe", 6) == 0) {
		sio_ws_send(c, sio_pkt_ref(pkt_pong_probe));
		if (s->poll)
			answer_poll(s, s->poll);	/* release it so the client can pause */
		return;
	}
	if (!binary && n == 1 && p[0] == '5') {
		ev_timer_stop(sio_hub_loop(s->srv->hub), &s->upgrade_timer);
		s->probe = NULL;
		s->ws = c;
		s->ws_transport = true;
		/* Packets already queued go out on the new transport. */
		for (size_t i = 0; i < s->qn; i++)
			sio_ws_send(c, s->q[i]);
		s->qn = 0;
		s->qbytes = 0;
		if (s->poll)
			answer_poll(s, s->poll);	/* a noop releases the old GET */
		return;
	}
	/* Anything else before "5" aborts the upgrade, not the session. */
	s->probe = NULL;
	c->session = NULL;
	sio_ws_close(c, 1002);
}

static void
ws_message(struct sio_conn *c, bool binary, const uint8_t *p, size_t n)
{
	struct sio_eio_session *s = c->session;

	if (!s || s->closed)
		return;
	if (s->probe == c) {
		probe_message(s, c, binary, p, n);
		return;
	}
	if (!binary && n == 6 && memcmp(p, "2probe", 6) == 0)
		return;
	on_packet(s, binary, p, n);
}

static void
ws_drained(struct sio_conn *c)
{
	if (c->session)
		congestion_update(c->session);
}

static void
attach_ws(struct sio_eio_session *s, struct sio_conn *c)
{
	c->session = s;
	c->on_ws_message = ws_message;
	c->on_close = ws_conn_closed;
	c->on_drain = ws_drained;
}

/* ---- routing ----------------------------------------------------------- */

/*
 * --allow-origin: browsers name the page's origin on every WebSocket and
 * cross-origin request; one not on the list is refused. A request
 * without Origin is not from another site's page (a same-origin GET, or
 * a non-browser client that could send any Origin it liked anyway).
 */
static bool
origin_allowed(const struct sio_hub_config *cfg, struct sio_conn *c)
{
	const char *origin = sio_web_header(&c->req, "origin");

	if (cfg->nallow_origins == 0 || !origin)
		return true;
	for (size_t i = 0; i < cfg->nallow_origins; i++)
		if (strcmp(cfg->allow_origins[i], origin) == 0)
			return true;
	sio_log_info("%s: HTTP 403: origin %.100s is not allowed", c->peer, origin);
	return false;
}

void
sio_eio_handle(struct sio_eio_server *srv, struct sio_conn *c)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(srv->hub);
	struct sio_web_req *r = &c->req;
	char eio[8], transport[16], sid[32];
	bool upgrade = sio_ws_is_upgrade(r);

	if (r->method == HTTP_OPTIONS) {
		struct sio_buf h = SIO_BUF_INIT;
		cors_headers(c, &h);
		if (h.len) {
			const char *rh = sio_web_header(r, "access-control-request-headers");
			sio_buf_adds(&h, "Access-Control-Allow-Methods: GET,POST\r\n");
			if (rh && !strpbrk(rh, "\r\n"))
				sio_buf_printf(&h, "Access-Control-Allow-Headers: %s\r\n", rh);
		}
		sio_web_respond(c, 204, NULL, h.data, NULL, 0);
		sio_buf_free(&h);
		sio_web_response_done(c);
		return;
	}
	if (!sio_web_query(r, "EIO", eio, sizeof eio) || strcmp(eio, "4") != 0) {
		respond_error(c, EIO_ERR_VERSION);
		return;
	}
	bool has_transport = sio_web_query(r, "transport", transport, sizeof transport);
	bool is_poll = has_transport && strcmp(transport, "polling") == 0;
	bool is_ws = has_transport && strcmp(transport, "websocket") == 0;
	if ((!is_poll && !is_ws) || (is_poll && !cfg->polling) || (is_ws && !cfg->websocket)) {
		respond_error(c, EIO_ERR_TRANSPORT);
		return;
	}
	if (is_ws && !upgrade) {
		respond_error(c, EIO_ERR_BAD_REQUEST);
		return;
	}
	bool has_sid = sio_web_query(r, "sid", sid, sizeof sid);
	if ((!has_sid || is_ws) && !origin_allowed(cfg, c)) {
		respond_error(c, EIO_ERR_FORBIDDEN);
		return;
	}
	if (!has_sid && sio_web_query_present(r, "sid")) {
		respond_error(c, EIO_ERR_SID);	/* too long to be one of ours */
		return;
	}
	if (!has_sid) {
		if (r->method != HTTP_GET) {
			respond_error(c, EIO_ERR_METHOD);
			return;
		}
		if (r->too_large) {
			respond(c, 413, "text/plain", "Payload Too Large", 17);
			return;
		}
		if (is_ws && sio_ws_accept(c, cfg->max_payload) != SIO_OK) {
			respond_error(c, EIO_ERR_BAD_REQUEST);
			return;
		}
		struct sio_eio_session *s = session_new(srv, c);
		if (!s) {
			respond(c, 500, "text/plain", "Internal Server Error", 21);
			return;
		}
		struct sio_buf b = SIO_BUF_INIT;
		if (is_ws) {
			s->ws_transport = true;
			s->ws = c;
			attach_ws(s, c);
		}
		open_packet(s, &b);
		sio_log_debug("%s: session %s opened (%s)", s->peer, s->sid, transport);
		/* The layer above reads the request before answering it resets it. */
		if (srv->h->on_open)
			srv->h->on_open(s, r, srv->user);
		if (is_ws) {
			sio_ws_send(c, sio_pkt_from(false, b.data, b.len));
			sio_web_req_release(&c->req);
			if (!c->closed)
				sio_ws_process(c);	/* frames that came with the upgrade */
		} else {
			respond(c, 200, "text/plain; charset=UTF-8", b.data, b.len);
		}
		sio_buf_free(&b);
		return;
	}

	struct sio_eio_session *s;
	HASH_FIND_STR(srv->sessions, sid, s);
	if (!s || s->closed) {
		if (s && s->closing && is_poll && r->method == HTTP_GET) {
			session_finish(s);	/* first: nothing may find it again */
			answer_poll(s, c);
			return;
		}
		respond_error(c, EIO_ERR_SID);
		return;
	}
	if (expired(s)) {
		respond_error(c, EIO_ERR_SID);
		return;
	}
	if (r->too_large) {
		sio_eio_close(s, "transport error");
		respond(c, 413, "text/plain", "Payload Too Large", 17);
		return;
	}
	if (is_ws) {
		if (s->ws_transport || s->probe) {
			/* Already upgraded or upgrading: the newcomer is accepted
			 * and closed at once, and the session goes on (ref). */
			if (sio_ws_accept(c, cfg->max_payload) != SIO_OK) {
				respond_error(c, EIO_ERR_BAD_REQUEST);
				return;
			}
			sio_web_req_release(&c->req);
			sio_ws_close(c, 1008);
			return;
		}
		if (sio_ws_accept(c, cfg->max_payload) != SIO_OK) {
			respond_error(c, EIO_ERR_BAD_REQUEST);
			return;
		}
		s->probe = c;
		attach_ws(s, c);
		ev_timer_init(&s->upgrade_timer, upgrade_timeout_cb,
		    cfg->upgrade_timeout / 1000.0, 0.);
		ev_timer_start(sio_hub_loop(srv->hub), &s->upgrade_timer);
		sio_web_req_release(&c->req);
		if (!c->closed)
			sio_ws_process(c);
		return;
	}
	if (s->ws_transport) {
		respond_error(c, EIO_ERR_BAD_REQUEST);
		return;
	}
	if (r->method == HTTP_GET)
		handle_get(s, c);
	else if (r->method == HTTP_POST)
		handle_post(s, c);
	else
		respond_error(c, EIO_ERR_BAD_REQUEST);
}
