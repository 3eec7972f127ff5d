/*
 * redis: the cluster adapter (see redis.h and redis-wire.md for the wire).
 *
 * Outgoing broadcasts are fire and forget, as in the Node adapter; what
 * cannot be handed to Redis (down, or more than --redis-max-pending bytes
 * unanswered: a slow or stuck Redis must not grow the hub) is counted and logged once per gap, and local delivery
 * never waits for Redis. Incoming broadcasts go through sio_emit with
 * SIO_EMIT_LOCAL: encoded once, one shared packet for every recipient.
 */
#include "redis.h"
#include "ctl.h"
#include "hub.h"
#include "json.h"
#include "log.h"
#include "packet.h"
#include "pkt.h"
#include "sio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libev.h>

/* The adapter's requestsTimeout default. */
#define REDIS_REQUEST_TIMEOUT 5.0
#define REDIS_BACKOFF_MIN 0.1
#define REDIS_BACKOFF_MAX 5.0
/* How often a hub asks whether anyone listens cluster-wide. */
#define REDIS_LISTEN_POLL 1.0

/* Request types (A `RequestType`). */
enum { REQ_SOCKETS = 0, REQ_ALL_ROOMS, REQ_JOIN, REQ_LEAVE, REQ_DISCONNECT, REQ_FETCH,
	REQ_SERVER_SIDE_EMIT, REQ_BROADCAST, RES_CLIENT_COUNT, RES_BROADCAST_ACK };

struct link {
	struct sio_redis *r;
	redisAsyncContext *ac;
	bool up;
	bool is_sub;
	ev_timer retry;
	double backoff;
};

struct nsp_entry {
	char *name;
	bool ready;			/* Redis confirmed its subscriptions */
	struct nsp_entry *next;
};

/*
 * A request of ours waiting for the other servers: fetchSockets, or a
 * BROADCAST with acks (sio-emit --ack) when is_ack.
 */
struct fetch {
	struct sio_redis *r;
	char id[8];
	char *nsp;
	struct sio_buf request;		/* published once NUMSUB is known */
	struct sio_buf items;
	size_t expected, answered;
	bool counting;			/* PUBSUB NUMSUB not answered yet */
	bool waiting;			/* for our subscription to its namespace */
	bool done;
	sio_redis_fetch_cb cb;
	void *arg;
	ev_timer timer;
	struct fetch *next;
	bool is_ack;
	uint64_t handle;
	size_t clients, acks;		/* is_ack: clients the servers asked, acks in */
	sio_redis_ack_cb ack_cb;
};

/* A Node broadcastWithAck delivered here: its clients' acks go back. */
struct ack_req {
	struct sio_redis *r;
	uint64_t token;
	char *rid;			/* the requestId */
	char *nsp;
	ev_timer timer;			/* flags.timeout: then nobody waits */
	struct ack_req *next;
};

struct sio_redis {
	struct sio_hub *hub;
	struct sio_server *srv;
	struct ev_loop *loop;
	struct sio_redis_addr addr;
	char *key;
	char uid[8];
	struct link pub, sub;
	struct nsp_entry *nsps;
	struct fetch *fetches;
	struct ack_req *acks;
	uint64_t next_token;
	struct sio_redis_stats st;
	bool in_gap;
	uint64_t gap_lost;
	ev_tstamp gap_start;
	bool closing;
	struct sio_json doc;
	struct sio_buf out;
	/* sio-listen --cluster */
	char *events_chan;		/* <key>-sio-events# */
	bool listening;			/* subscribed: this hub has cluster listeners */
	long long listeners;		/* its subscribers at the last poll */
	bool polling;			/* a NUMSUB is on its way */
	ev_timer listen_poll;
	sio_redis_line_cb on_line;
	void *on_line_arg;
};

/* ---- publishing --------------------------------------------------------------- */

static void
gap_begin(struct sio_redis *r, const char *why)
{
	if (r->in_gap)
		return;
	r->in_gap = true;
	r->gap_lost = 0;
	r->gap_start = ev_now(r->loop);
	sio_log_warn("redis: %s: messages for other servers are lost until it is back "
	    "(local delivery goes on)", why);
}

static void
gap_end(struct sio_redis *r)
{
	if (!r->in_gap)
		return;
	r->in_gap = false;
	sio_log_warn("redis: back after %.1f s; %llu messages could not be published meanwhile",
	    ev_now(r->loop) - r->gap_start, (unsigned long long)r->gap_lost);
}

static void
published_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct link *l = ac->data;
	struct sio_redis *r = l->r;
	r->st.pending -= (size_t)(uintptr_t)priv;
	/* No answer: the connection went down with it in flight, lost too. */
	if (!reply && !r->closing) {
		r->st.lost++;
		r->gap_lost++;
	}
	if (r->in_gap && r->pub.up && r->sub.up && r->st.pending < sio_hub_cfg(r->hub)->redis_max_pending / 2)
		gap_end(r);
}

static bool
publish(struct sio_redis *r, const char *chan, size_t clen, const void *p, size_t n)
{
	if (!r->pub.up) {
		gap_begin(r, "not connected");
	} else if (r->st.pending + n > sio_hub_cfg(r->hub)->redis_max_pending) {
		gap_begin(r, "too far behind");
	} else if (redisAsyncCommand(r->pub.ac, published_cb, (void *)(uintptr_t)n,
	    "PUBLISH %b %b", chan, clen, p, n) == REDIS_OK) {
		r->st.pending += n;
		r->st.published++;
		return true;
	}
	r->st.lost++;
	r->gap_lost++;
	return false;
}

void
sio_redis_broadcast(struct sio_redis *r, const struct sio_target *t, const char *payload,
    size_t len, const struct sio_mj_span *att, int natt, bool is_volatile)
{
	char err[SIO_ERRLEN];
	const char *nsp = t->nsp ? t->nsp : "/";
	struct sio_mj_atts a = { (struct sio_mj_span *)att, (size_t)natt, (size_t)natt, 0 };
	struct sio_buf chan = SIO_BUF_INIT;

	if (sio_json_parse(&r->doc, payload, len, 100000, err) != SIO_OK)
		return;	/* the caller validated it; nothing to publish otherwise */
	sio_buf_reset(&r->out);
	if (sio_rw_pack_broadcast(&r->out, r->uid, nsp, &r->doc, payload, 0,
	    natt ? sio_mj_placeholder_in : NULL, &a, t->rooms, t->nrooms, t->except,
	    t->nexcept, is_volatile, err) != SIO_OK) {
		sio_log_warn("redis: broadcast not published: %s", err);
		return;
	}
	/* One room: its own channel, so Node peers can skip it cheaply. */
	sio_rw_channel(&chan, r->key, "", nsp, t->nrooms == 1 ? t->rooms[0] : NULL);
	publish(r, chan.data, chan.len, r->out.data, r->out.len);
	sio_buf_free(&chan);
}

/* Requests and answers: <key>-request#<nsp># or <key>-response#<nsp>#. */
static void
publish_to(struct sio_redis *r, const char *kind, const char *nsp, const struct sio_buf *body)
{
	struct sio_buf chan = SIO_BUF_INIT;
	sio_rw_channel(&chan, r->key, kind, nsp, NULL);
	publish(r, chan.data, chan.len, body->data, body->len);
	sio_buf_free(&chan);
}

static void
opts_json(struct sio_buf *b, const struct sio_target *t)
{
	sio_buf_adds(b, "\"opts\":{\"rooms\":");
	sio_json_add_strv(b, t->rooms, t->nrooms);
	sio_buf_adds(b, ",\"except\":");
	sio_json_add_strv(b, t->except, t->nexcept);
	sio_buf_addc(b, '}');
}

void
sio_redis_room_op(struct sio_redis *r, enum sio_redis_op op, const struct sio_target *t,
    const char *room, bool close)
{
	struct sio_buf b = SIO_BUF_INIT;
	sio_buf_printf(&b, "{\"uid\":\"%s\",\"type\":%d,", r->uid, (int)op);
	opts_json(&b, t);
	if (op == SIO_REDIS_DISCONNECT) {
		sio_buf_printf(&b, ",\"close\":%s}", close ? "true" : "false");
	} else {
		sio_buf_adds(&b, ",\"rooms\":[");
		sio_json_add_str(&b, room, strlen(room));
		sio_buf_adds(&b, "]}");
	}
	publish_to(r, "-request", t->nsp ? t->nsp : "/", &b);
	sio_buf_free(&b);
}

/* ---- incoming broadcasts ---------------------------------------------------------- */

/*
 * Clients accept an event whose data is a non-empty array that starts
 * with a number or a name that is not reserved (connect, ...): anything
 * else from another server would make them drop the connection.
 */
static bool
event_ok(struct sio_redis *r, const char *json, size_t len)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(r->hub);
	struct sio_buf name = SIO_BUF_INIT;

	if (sio_json_parse(&r->doc, json, len, (int)cfg->max_depth + 1, NULL) != SIO_OK ||
	    r->doc.tok[0].type != SIO_JSON_ARRAY || r->doc.tok[0].size == 0)
		return false;
	if (r->doc.tok[1].type == SIO_JSON_NUMBER)
		return true;
	if (r->doc.tok[1].type != SIO_JSON_STRING)
		return false;
	sio_json_str_decode(&r->doc, json, 1, &name);
	bool ok = !sio_event_reserved(name.data, name.len);
	sio_buf_free(&name);
	return ok;
}

/*
 * Delivers a broadcast from another server to the local sockets it
 * targets; with ack_token each is asked for an ack (sio_emit).
 */
static size_t
deliver(struct sio_redis *r, const struct sio_rw_bcast *bc, uint64_t ack_token)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(r->hub);
	struct sio_mj_limits lim = { (int)cfg->max_depth, sio_hub_max_control_line(cfg) };
	struct sio_mj_atts atts = { NULL, 0, 0, SIO_MAX_ATTACHMENTS };
	struct sio_buf json = SIO_BUF_INIT;
	struct sio_pkt *pkts[SIO_MAX_ATTACHMENTS];
	char err[SIO_ERRLEN];
	size_t n = 0;

	if (sio_msgpack_to_json(&json, bc->data.p, bc->data.len, &lim, sio_mj_placeholder_out,
	    &atts, err) != SIO_OK) {
		sio_log_warn("redis: a broadcast from another server was not delivered: %s", err);
		goto out;
	}
	if (!event_ok(r, json.data, json.len)) {
		sio_log_warn("redis: a broadcast from another server was not delivered: "
		    "its first value is not an event name");
		goto out;
	}
	for (size_t i = 0; i < atts.n; i++)
		pkts[i] = sio_pkt_from(true, atts.v[i].p, atts.v[i].len);
	struct sio_target t = { bc->nsp, (const char *const *)bc->rooms.v, bc->rooms.n,
		(const char *const *)bc->except.v, bc->except.n };
	n = sio_emit(r->srv, &t, json.data, json.len, pkts, (int)atts.n,
	    SIO_EMIT_LOCAL | (bc->is_volatile ? SIO_EMIT_VOLATILE : 0), ack_token);
	for (size_t i = 0; i < atts.n; i++)
		sio_pkt_unref(pkts[i]);
	r->st.received++;
out:
	sio_mj_atts_free(&atts);
	sio_buf_free(&json);
	return n;
}

static void
on_broadcast(struct sio_redis *r, const uint8_t *p, size_t n)
{
	struct sio_mp m = { p, p + n };
	struct sio_mp_val v, uid;
	struct sio_rw_bcast bc;

	memset(&bc, 0, sizeof bc);
	if (sio_mp_next(&m, &v) < 0 || v.kind != SIO_MP_ARRAY || v.n < 2 ||
	    sio_mp_next(&m, &uid) < 0 || uid.kind != SIO_MP_STR)
		goto bad;
	/* Pub/Sub hands our own messages back: they were delivered here. */
	if (sio_mp_is(&uid, r->uid))
		return;
	if (sio_rw_read_packet(&m, &bc) < 0 || (v.n > 2 && sio_rw_read_opts(&m, &bc) < 0))
		goto bad;
	deliver(r, &bc, 0);
	sio_rw_bcast_free(&bc);
	return;
bad:
	sio_rw_bcast_free(&bc);
	sio_log_warn("redis: a broadcast message that is not the adapter's was ignored");
}

/* ---- requests from other servers ------------------------------------------------------ */

static int
jget(struct sio_redis *r, const char *text, int obj, const char *key)
{
	return sio_json_get(&r->doc, text, obj, key);
}

static void
target_from_opts(struct sio_redis *r, const char *text, int opts, struct sio_strv *rooms,
    struct sio_strv *except)
{
	if (opts < 0 || r->doc.tok[opts].type != SIO_JSON_OBJECT)
		return;
	sio_rw_json_rooms(&r->doc, text, jget(r, text, opts, "rooms"), rooms);
	sio_rw_json_rooms(&r->doc, text, jget(r, text, opts, "except"), except);
}

struct answer_ctx {
	struct sio_buf *b;
	bool first;
};

static void
comma(struct answer_ctx *x)
{
	if (!x->first)
		sio_buf_addc(x->b, ',');
	x->first = false;
}

static void
room_item(const char *room, void *arg)
{
	struct answer_ctx *x = arg;
	comma(x);
	sio_json_add_str(x->b, room, strlen(room));
}

static void
sid_item(struct sio_socket *s, void *arg)
{
	room_item(sio_socket_id(s), arg);
}

/* One socket the way fetchSockets answers it: {id, handshake, rooms, data}. */
static void
socket_item(struct sio_socket *s, void *arg)
{
	struct answer_ctx *x = arg;
	comma(x);
	sio_buf_printf(x->b, "{\"id\":\"%s\",\"handshake\":%s,\"rooms\":[", sio_socket_id(s),
	    sio_socket_handshake(s));
	struct answer_ctx inner = { x->b, true };
	sio_socket_each_room(s, room_item, &inner);
	sio_buf_adds(x->b, "],\"data\":{}}");
}

static void
all_rooms_item(const char *nsp, const char *room, size_t members, bool is_sid, void *arg)
{
	(void)nsp;
	(void)members;
	(void)is_sid;
	room_item(room, arg);
}

static void
on_request(struct sio_redis *r, const char *nsp, const char *text, size_t n)
{
	char err[SIO_ERRLEN];
	long long type;
	struct sio_strv rooms = { NULL, 0 }, except = { NULL, 0 }, targets = { NULL, 0 };
	struct sio_buf b = SIO_BUF_INIT, rid = SIO_BUF_INIT;

	if (sio_json_parse(&r->doc, text, n, 64, err) != SIO_OK ||
	    r->doc.tok[0].type != SIO_JSON_OBJECT) {
		sio_log_warn("redis: a request that is not JSON was ignored");
		return;
	}
	int ti = jget(r, text, 0, "type"), ui = jget(r, text, 0, "uid");
	int ri = jget(r, text, 0, "requestId");
	if (ti < 0 || !sio_json_int(&r->doc, text, ti, 0, 100, &type))
		return;
	bool own = ui >= 0 && sio_json_str_eq(&r->doc, text, ui, r->uid);
	if (ri >= 0 && r->doc.tok[ri].type == SIO_JSON_STRING)
		sio_buf_add(&rid, text + r->doc.tok[ri].start, r->doc.tok[ri].end - r->doc.tok[ri].start);
	int oi = jget(r, text, 0, "opts");
	target_from_opts(r, text, oi, &rooms, &except);
	struct sio_target t = { nsp, (const char *const *)rooms.v, rooms.n,
		(const char *const *)except.v, except.n };
	struct answer_ctx x = { &b, true };

	switch (type) {
	case REQ_SOCKETS:
		sio_rw_json_rooms(&r->doc, text, jget(r, text, 0, "rooms"), &rooms);
		t.rooms = (const char *const *)rooms.v;
		t.nrooms = rooms.n;
		sio_buf_printf(&b, "{\"requestId\":%.*s,\"sockets\":[", (int)rid.len, rid.data);
		sio_server_each(r->srv, &t, sid_item, &x);
		sio_buf_adds(&b, "]}");
		publish_to(r, "-response", nsp, &b);
		break;
	case REQ_ALL_ROOMS:
		if (own)
			break;
		sio_buf_printf(&b, "{\"requestId\":%.*s,\"rooms\":[", (int)rid.len, rid.data);
		sio_server_each_room(r->srv, nsp, all_rooms_item, &x);
		sio_buf_adds(&b, "]}");
		publish_to(r, "-response", nsp, &b);
		break;
	case REQ_JOIN:
	case REQ_LEAVE:
	case REQ_DISCONNECT: {
		/* Ours were applied here when sent. */
		if (own)
			break;
		int si = jget(r, text, 0, "sid");
		if (oi < 0 && si >= 0 && r->doc.tok[si].type == SIO_JSON_STRING) {
			/* The by-sid form of adapters before 8.0: answered when the socket is here. */
			struct sio_buf sid = SIO_BUF_INIT;
			sio_json_str_decode(&r->doc, text, si, &sid);
			if (!sio_server_socket(r->srv, nsp, sid.data)) {
				sio_buf_free(&sid);
				break;
			}
			sio_strv_add(&rooms, sid.data, sid.len);
			t.rooms = (const char *const *)rooms.v;
			t.nrooms = rooms.n;
			sio_buf_free(&sid);
			int rm = jget(r, text, 0, "room");
			if (rm >= 0 && r->doc.tok[rm].type == SIO_JSON_STRING) {
				struct sio_buf room = SIO_BUF_INIT;
				sio_json_str_decode(&r->doc, text, rm, &room);
				sio_strv_add(&targets, room.data, room.len);
				sio_buf_free(&room);
			}
			if (rid.len) {
				sio_buf_printf(&b, "{\"requestId\":%.*s}", (int)rid.len, rid.data);
				publish_to(r, "-response", nsp, &b);
			}
		} else if (oi < 0) {
			break;
		} else {
			sio_rw_json_rooms(&r->doc, text, jget(r, text, 0, "rooms"), &targets);
		}
		if (type == REQ_DISCONNECT) {
			int ci = jget(r, text, 0, "close");
			sio_server_disconnect(r->srv, &t, ci >= 0 && r->doc.tok[ci].type == SIO_JSON_TRUE);
		}
		for (size_t i = 0; type != REQ_DISCONNECT && i < targets.n; i++) {
			if (type == REQ_JOIN)
				sio_server_join(r->srv, &t, targets.v[i]);
			else
				sio_server_leave(r->srv, &t, targets.v[i]);
		}
		break;
	}
	case REQ_FETCH:
		if (own)
			break;
		sio_buf_printf(&b, "{\"requestId\":%.*s,\"sockets\":[", (int)rid.len, rid.data);
		sio_server_each(r->srv, &t, socket_item, &x);
		sio_buf_adds(&b, "]}");
		publish_to(r, "-response", nsp, &b);
		break;
	default:
		/* SERVER_SIDE_EMIT: sio-hub has no server-side handlers. */
		sio_log_debug("redis: request type %lld ignored", type);
		break;
	}
	sio_strv_free(&rooms);
	sio_strv_free(&except);
	sio_strv_free(&targets);
	sio_buf_free(&b);
	sio_buf_free(&rid);
}

/*
 * BROADCAST with an ack (msgpack {uid, requestId, type: 7, packet, opts}):
 * delivered with an ack id per local socket, answered with how many
 * (type 8), then each client's ack as it comes (type 9, msgpack) until
 * the request's flags.timeout.
 */
static void
ack_req_free(struct ack_req *a)
{
	struct sio_redis *r = a->r;
	for (struct ack_req **pp = &r->acks; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	ev_timer_stop(r->loop, &a->timer);
	sio_ack_forget(r->srv, a->token);
	free(a->rid);
	free(a->nsp);
	free(a);
}

static void
ack_timeout_cb(EV_P_ ev_timer *w, int revents)
{
	(void)EV_A;
	(void)revents;
	ack_req_free(SIO_CONTAINER_OF(w, struct ack_req, timer));
}

/* A local client answered a Node broadcastWithAck: {type: 9, requestId, packet}. */
static void
cluster_ack(void *arg, struct sio_socket *s, uint64_t token, const struct sio_event *ev)
{
	struct sio_redis *r = arg;
	struct sio_mj_span spans[SIO_MAX_ATTACHMENTS];
	char err[SIO_ERRLEN];
	struct ack_req *a;
	(void)s;

	for (a = r->acks; a && a->token != token; a = a->next)
		;
	if (!a)
		return;
	for (int i = 0; i < ev->natt && i < SIO_MAX_ATTACHMENTS; i++) {
		spans[i].p = sio_pkt_data(ev->att[i]);
		spans[i].len = ev->att[i]->len;
	}
	struct sio_mj_atts atts = { spans, (size_t)ev->natt, (size_t)ev->natt, 0 };
	bool has_arg = ev->doc->tok[0].size > 0;
	sio_buf_reset(&r->out);
	sio_mp_map(&r->out, has_arg ? 3 : 2);
	sio_mp_strs(&r->out, "type");
	sio_buf_addc(&r->out, RES_BROADCAST_ACK);
	sio_mp_strs(&r->out, "requestId");
	sio_mp_strs(&r->out, a->rid);
	/* The adapter passes on the first argument only. */
	if (has_arg) {
		sio_mp_strs(&r->out, "packet");
		if (sio_json_to_msgpack(&r->out, ev->doc, ev->payload, 1,
		    ev->natt ? sio_mj_placeholder_in : NULL, &atts, err) != SIO_OK) {
			sio_log_warn("redis: an ack not passed on: %s", err);
			return;
		}
	}
	struct sio_buf chan = SIO_BUF_INIT;
	sio_rw_channel(&chan, r->key, "-response", a->nsp, NULL);
	publish(r, chan.data, chan.len, r->out.data, r->out.len);
	sio_buf_free(&chan);
}

static void
on_broadcast_request(struct sio_redis *r, const char *nsp, const uint8_t *p, size_t n)
{
	struct sio_mp m = { p, p + n };
	struct sio_mp_val v, k, s;
	struct sio_rw_bcast bc;
	struct sio_buf rid = SIO_BUF_INIT, raw = SIO_BUF_INIT;
	bool own = false, ok = true, is_bcast = false;

	memset(&bc, 0, sizeof bc);
	if (sio_mp_next(&m, &v) < 0 || v.kind != SIO_MP_MAP)
		return;
	for (uint32_t i = 0; ok && i < v.n; i++) {
		if (sio_mp_next(&m, &k) < 0) {
			ok = false;
		} else if (sio_mp_is(&k, "uid")) {
			ok = sio_mp_next(&m, &s) == 0;
			own = ok && sio_mp_is(&s, r->uid);
		} else if (sio_mp_is(&k, "requestId")) {
			ok = sio_mp_next(&m, &s) == 0 && s.kind == SIO_MP_STR;
			if (ok) {
				sio_json_add_str(&rid, (const char *)s.s, s.n);
				sio_buf_add(&raw, s.s, s.n);
			}
		} else if (sio_mp_is(&k, "type")) {
			ok = sio_mp_next(&m, &s) == 0;
			is_bcast = ok && s.kind == SIO_MP_UINT && s.u == REQ_BROADCAST;
		} else if (sio_mp_is(&k, "packet")) {
			ok = sio_rw_read_packet(&m, &bc) == 0;
		} else if (sio_mp_is(&k, "opts")) {
			ok = sio_rw_read_opts(&m, &bc) == 0;
		} else {
			ok = sio_mp_skip(&m) == 0;
		}
	}
	if (ok && is_bcast && !own && rid.len && bc.data.p) {
		uint64_t token = SIO_ACK_CLUSTER | ++r->next_token;
		size_t reached = deliver(r, &bc, token);
		struct sio_buf b = SIO_BUF_INIT;
		sio_buf_printf(&b, "{\"type\":%d,\"requestId\":%.*s,\"clientCount\":%zu}",
		    RES_CLIENT_COUNT, (int)rid.len, rid.data, reached);
		publish_to(r, "-response", nsp, &b);
		sio_buf_free(&b);
		if (reached > 0) {
			struct ack_req *a = sio_xcalloc(1, sizeof *a);
			a->r = r;
			a->token = token;
			a->rid = sio_buf_steal(&raw, NULL);
			a->nsp = sio_xstrdup(nsp);
			ev_timer_init(&a->timer, ack_timeout_cb,
			    (double)(bc.timeout > 0 ? bc.timeout : 5000) / 1000.0, 0.);
			ev_timer_start(r->loop, &a->timer);
			a->next = r->acks;
			r->acks = a;
		}
	}
	sio_rw_bcast_free(&bc);
	sio_buf_free(&rid);
	sio_buf_free(&raw);
}

/* ---- fetchSockets across the cluster --------------------------------------------------- */

static void
fetch_free(struct fetch *f)
{
	sio_buf_free(&f->items);
	sio_buf_free(&f->request);
	free(f->nsp);
	free(f);
}

/* Done: tells the caller (when notify) and forgets the request. */
static void
fetch_end(struct fetch *f, bool notify)
{
	struct sio_redis *r = f->r;
	if (f->done)
		return;
	f->done = true;
	ev_timer_stop(r->loop, &f->timer);
	for (struct fetch **pp = &r->fetches; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	if (notify && f->is_ack)
		f->ack_cb(f->arg, NULL, f->clients);
	else if (notify)
		f->cb(f->arg, f->items.data ? f->items.data : "", f->items.len, f->expected,
		    f->answered);
	/* The NUMSUB callback still holds f: it frees it. */
	if (!f->counting)
		fetch_free(f);
}

static void
fetch_finish(struct fetch *f)
{
	fetch_end(f, true);
}

/* Every server counted has answered (and, for acks, every client). */
static void
fetch_check(struct fetch *f)
{
	if (!f->counting && !f->waiting && f->answered >= f->expected &&
	    (!f->is_ack || f->acks >= f->clients))
		fetch_finish(f);
}

static void
fetch_timeout_cb(EV_P_ ev_timer *w, int revents)
{
	struct fetch *f = SIO_CONTAINER_OF(w, struct fetch, timer);
	(void)EV_A;
	(void)revents;
	sio_log_info("redis: fetchSockets %s: %zu of %zu servers answered in %.0f s", f->id,
	    f->answered, f->expected, REDIS_REQUEST_TIMEOUT);
	fetch_finish(f);
}

static void
numsub_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct fetch *f = priv;
	redisReply *rep = reply;
	(void)ac;
	f->counting = false;
	if (f->done) {
		fetch_free(f);
		return;
	}
	long long servers = 0;
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[1]->type == REDIS_REPLY_INTEGER)
		servers = rep->element[1]->integer;
	/* NUMSUB counts our own subscriber too. */
	f->expected = servers > 1 ? (size_t)(servers - 1) : 0;
	if (f->expected == 0) {
		fetch_finish(f);
		return;
	}
	publish_to(f->r, "-request", f->nsp, &f->request);
}

/* A new request with its id, for the namespace of t; NULL when Redis is down. */
static struct fetch *
fetch_new(struct sio_redis *r, const struct sio_target *t)
{
	if (!r->pub.up || !r->sub.up)
		return NULL;
	struct fetch *f = sio_xcalloc(1, sizeof *f);
	f->r = r;
	if (sio_random_id(f->id, 6) != SIO_OK) {
		free(f);
		return NULL;
	}
	f->nsp = sio_xstrdup(t->nsp ? t->nsp : "/");
	return f;
}

/* Asks how many servers there are; numsub_cb then publishes f->request. */
static bool
fetch_count(struct fetch *f)
{
	struct sio_redis *r = f->r;
	struct sio_buf chan = SIO_BUF_INIT;

	sio_rw_channel(&chan, r->key, "-request", f->nsp, NULL);
	f->counting = r->pub.ac && redisAsyncCommand(r->pub.ac, numsub_cb, f,
	    "PUBSUB NUMSUB %b", chan.data, chan.len) == REDIS_OK;
	sio_buf_free(&chan);
	return f->counting;
}

static struct nsp_entry *
nsp_entry(struct sio_redis *r, const char *nsp)
{
	for (struct nsp_entry *e = r->nsps; e; e = e->next)
		if (strcmp(e->name, nsp) == 0)
			return e;
	return NULL;
}

/*
 * Starts f, waiting at most timeout s. The answers come on channels of
 * its namespace: one this hub does not serve is subscribed to first (and
 * stays so), and counting the servers waits for Redis to confirm it, so
 * that the count includes this hub exactly when it should.
 */
static int
fetch_start(struct fetch *f, double timeout)
{
	struct sio_redis *r = f->r;

	ev_timer_init(&f->timer, fetch_timeout_cb, timeout, 0.);
	ev_timer_start(r->loop, &f->timer);
	f->next = r->fetches;
	r->fetches = f;
	struct nsp_entry *e = nsp_entry(r, f->nsp);
	if (!e || !e->ready) {
		f->waiting = true;
		sio_redis_add_nsp(r, f->nsp);
		return SIO_OK;
	}
	if (!fetch_count(f)) {
		fetch_end(f, false);
		return SIO_ECLOSED;
	}
	return SIO_OK;
}

/* Redis confirmed a SUBSCRIBE: the last channel of a namespace makes it ready. */
static void
on_subscribed(struct sio_redis *r, const char *chan, size_t clen)
{
	struct sio_buf own = SIO_BUF_INIT;
	for (struct nsp_entry *e = r->nsps; e; e = e->next) {
		sio_rw_channel(&own, r->key, "-response", e->name, r->uid);
		if (own.len != clen || memcmp(own.data, chan, clen) != 0)
			continue;
		e->ready = true;
		/* Each start may end a request: look again from the top. */
		for (struct fetch *f = r->fetches; f;) {
			if (!f->waiting || strcmp(f->nsp, e->name) != 0) {
				f = f->next;
				continue;
			}
			f->waiting = false;
			if (!fetch_count(f))
				fetch_finish(f);
			f = r->fetches;
		}
		break;
	}
	sio_buf_free(&own);
}

int
sio_redis_fetch(struct sio_redis *r, const struct sio_target *t, sio_redis_fetch_cb cb,
    void *arg)
{
	struct fetch *f = fetch_new(r, t);
	if (!f)
		return SIO_ECLOSED;
	f->cb = cb;
	f->arg = arg;
	sio_buf_printf(&f->request, "{\"uid\":\"%s\",\"requestId\":\"%s\",\"type\":%d,",
	    r->uid, f->id, REQ_FETCH);
	opts_json(&f->request, t);
	sio_buf_addc(&f->request, '}');
	return fetch_start(f, REDIS_REQUEST_TIMEOUT);
}

int
sio_redis_emit_ack(struct sio_redis *r, const struct sio_target *t, const char *payload,
    size_t len, const struct sio_mj_span *att, int natt, long long timeout_ms,
    sio_redis_ack_cb cb, void *arg, uint64_t *handle)
{
	struct sio_mj_atts a = { (struct sio_mj_span *)att, (size_t)natt, (size_t)natt, 0 };
	char err[SIO_ERRLEN];

	if (sio_json_parse(&r->doc, payload, len, 100000, err) != SIO_OK)
		return SIO_EINVAL;
	struct fetch *f = fetch_new(r, t);
	if (!f)
		return SIO_ECLOSED;
	f->is_ack = true;
	f->ack_cb = cb;
	f->arg = arg;
	f->handle = *handle = ++r->next_token;
	/* The adapter's broadcastWithAck request, in MessagePack. */
	struct sio_buf *b = &f->request;
	sio_mp_map(b, 5);
	sio_mp_strs(b, "uid");
	sio_mp_strs(b, r->uid);
	sio_mp_strs(b, "requestId");
	sio_mp_strs(b, f->id);
	sio_mp_strs(b, "type");
	sio_buf_addc(b, REQ_BROADCAST);
	sio_mp_strs(b, "packet");
	if (sio_rw_pack_packet(b, f->nsp, &r->doc, payload, 0, natt ? sio_mj_placeholder_in : NULL, &a,
	    err) != SIO_OK) {
		fetch_free(f);
		return SIO_EINVAL;
	}
	sio_mp_strs(b, "opts");
	sio_rw_pack_opts(b, t->rooms, t->nrooms, t->except, t->nexcept, false,
	    timeout_ms > 0 ? timeout_ms : 1);
	/* The caller times the wait; this only keeps a lost request from staying. */
	return fetch_start(f, (double)timeout_ms / 1000.0 + 1.0);
}

void
sio_redis_ack_cancel(struct sio_redis *r, uint64_t handle)
{
	for (struct fetch *f = r->fetches; f; f = f->next) {
		if (f->is_ack && f->handle == handle) {
			fetch_end(f, false);
			return;
		}
	}
}

size_t
sio_redis_ack_clients(const struct sio_redis *r, uint64_t handle)
{
	for (const struct fetch *f = r->fetches; f; f = f->next)
		if (f->is_ack && f->handle == handle)
			return f->clients;
	return 0;
}

/* A BROADCAST_ACK (msgpack {type: 9, requestId, packet}): one client's answer. */
static void
on_ack_response(struct sio_redis *r, const uint8_t *p, size_t n)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(r->hub);
	struct sio_mp m = { p, p + n };
	struct sio_mp_val v, k, s;
	struct sio_mj_span packet = { NULL, 0 };
	struct fetch *f = NULL;
	bool is_ack = false;

	if (sio_mp_next(&m, &v) < 0 || v.kind != SIO_MP_MAP)
		return;
	for (uint32_t i = 0; i < v.n; i++) {
		if (sio_mp_next(&m, &k) < 0)
			return;
		if (sio_mp_is(&k, "type")) {
			if (sio_mp_next(&m, &s) < 0)
				return;
			is_ack = s.kind == SIO_MP_UINT && s.u == RES_BROADCAST_ACK;
		} else if (sio_mp_is(&k, "requestId")) {
			if (sio_mp_next(&m, &s) < 0)
				return;
			for (f = r->fetches; f && !(f->is_ack && sio_mp_is(&s, f->id)); f = f->next)
				;
		} else if (sio_mp_is(&k, "packet")) {
			packet.p = m.p;
			if (sio_mp_skip(&m) < 0)
				return;
			packet.len = (size_t)(m.p - packet.p);
		} else if (sio_mp_skip(&m) < 0) {
			return;
		}
	}
	if (!is_ack || !f || f->done)
		return;
	struct sio_buf json = SIO_BUF_INIT;
	struct sio_mj_limits lim = { (int)cfg->max_depth, sio_hub_max_control_line(cfg) };
	char err[SIO_ERRLEN];
	sio_buf_addc(&json, '[');
	if (packet.p && sio_msgpack_to_json(&json, packet.p, packet.len, &lim, sio_mj_base64_out,
	    NULL, err) != SIO_OK) {
		sio_log_warn("redis: an ack from another server was unreadable: %s", err);
		sio_buf_free(&json);
		return;
	}
	sio_buf_addc(&json, ']');
	f->acks++;
	f->ack_cb(f->arg, json.data, json.len);
	sio_buf_free(&json);
	fetch_check(f);
}

/* A REMOTE_FETCH answer: {requestId, sockets: [{id, handshake, rooms, data}]}. */
static void
on_response(struct sio_redis *r, const char *nsp, const char *text, size_t n)
{
	char err[SIO_ERRLEN];
	struct fetch *f;

	if (n > 0 && text[0] != '{') {
		on_ack_response(r, (const uint8_t *)text, n);
		return;
	}
	if (n == 0)
		return;
	if (sio_json_parse(&r->doc, text, n, 1000, err) != SIO_OK ||
	    r->doc.tok[0].type != SIO_JSON_OBJECT)
		return;
	int ri = jget(r, text, 0, "requestId"), si = jget(r, text, 0, "sockets");
	if (ri < 0)
		return;
	for (f = r->fetches; f; f = f->next)
		if (sio_json_str_eq(&r->doc, text, ri, f->id))
			break;
	if (f && f->is_ack && !f->counting) {
		/* {type: 8, requestId, clientCount}: a server says how many it asked. */
		long long count;
		int ci = jget(r, text, 0, "clientCount");
		if (ci >= 0 && sio_json_int(&r->doc, text, ci, 0, 1LL << 40, &count)) {
			f->clients += (size_t)count;
			f->answered++;
			fetch_check(f);
		}
		return;
	}
	if (!f || f->counting || si < 0 || r->doc.tok[si].type != SIO_JSON_ARRAY)
		return;
	const struct sio_json *d = &r->doc;
	for (int k = si + 1; k < (int)d->tok[si].next; k = (int)d->tok[k].next) {
		if (d->tok[k].type != SIO_JSON_OBJECT)
			continue;
		int id = jget(r, text, k, "id"), hs = jget(r, text, k, "handshake");
		int rooms = jget(r, text, k, "rooms"), data = jget(r, text, k, "data");
		if (id < 0 || d->tok[id].type != SIO_JSON_STRING)
			continue;
		if (f->items.len)
			sio_buf_addc(&f->items, ',');
		sio_buf_adds(&f->items, "{\"nsp\":");
		sio_json_add_str(&f->items, nsp, strlen(nsp));
		sio_buf_printf(&f->items, ",\"sid\":%.*s,\"rooms\":",
		    (int)(d->tok[id].end - d->tok[id].start), text + d->tok[id].start);
		if (rooms >= 0)
			sio_buf_add(&f->items, text + d->tok[rooms].start,
			    d->tok[rooms].end - d->tok[rooms].start);
		else
			sio_buf_adds(&f->items, "[]");
		sio_buf_adds(&f->items, ",\"handshake\":");
		if (hs >= 0)
			sio_buf_add(&f->items, text + d->tok[hs].start, d->tok[hs].end - d->tok[hs].start);
		else
			sio_buf_adds(&f->items, "{}");
		sio_buf_adds(&f->items, ",\"data\":");
		if (data >= 0)
			sio_buf_add(&f->items, text + d->tok[data].start,
			    d->tok[data].end - d->tok[data].start);
		else
			sio_buf_adds(&f->items, "null");
		sio_buf_adds(&f->items, ",\"remote\":true}");
	}
	f->answered++;
	fetch_check(f);
}

/* ---- subscriptions and the connections -------------------------------------------------- */

/* "<key><kind>#<nsp>#" -> nsp, into out; false when chan is not that. */
static bool
channel_nsp(const struct sio_redis *r, const char *kind, const char *chan, size_t n,
    char *out, size_t outlen)
{
	size_t kl = strlen(r->key), kdl = strlen(kind);
	if (n < kl + kdl + 3 || memcmp(chan, r->key, kl) != 0 ||
	    memcmp(chan + kl, kind, kdl) != 0 || chan[kl + kdl] != '#' || chan[n - 1] != '#')
		return false;
	size_t nl = n - kl - kdl - 2;
	if (nl >= outlen)
		return false;
	memcpy(out, chan + kl + kdl + 1, nl);
	out[nl] = '\0';
	return true;
}

void
sio_redis_inject(struct sio_redis *r, bool pattern, const char *chan, size_t clen,
    const char *msg, size_t mlen)
{
	char nsp[256];

	if (r->closing)
		return;
	if (pattern) {
		on_broadcast(r, (const uint8_t *)msg, mlen);
	} else if (clen == strlen(r->events_chan) && memcmp(chan, r->events_chan, clen) == 0) {
		/* "<uid> <line>": our own come back too. */
		size_t ul = strlen(r->uid);
		if (mlen > ul + 1 && msg[ul] == ' ' && memcmp(msg, r->uid, ul) != 0 && r->on_line)
			r->on_line(r->on_line_arg, msg + ul + 1, mlen - ul - 1);
	} else if (channel_nsp(r, "-request", chan, clen, nsp, sizeof nsp)) {
		if (mlen > 0 && msg[0] == '{')
			on_request(r, nsp, msg, mlen);
		else
			on_broadcast_request(r, nsp, (const uint8_t *)msg, mlen);
	} else if (channel_nsp(r, "-response", chan, clen, nsp, sizeof nsp)) {
		on_response(r, nsp, msg, mlen);
	} else if (clen > 1) {
		/* <key>-response#<nsp>#<uid>#: answers meant for us alone. */
		const char *hash = memrchr(chan, '#', clen - 1);
		if (hash && channel_nsp(r, "-response", chan, (size_t)(hash - chan) + 1, nsp,
		    sizeof nsp))
			on_response(r, nsp, msg, mlen);
	}
}

static bool
is_str(const redisReply *e)
{
	return e->type == REDIS_REPLY_STRING && e->str;
}

/* Every message of every subscription: ["message", chan, msg] or
 * ["pmessage", pattern, chan, msg]; the (un)subscribe answers too. */
static void
on_message(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sio_redis *r = priv;
	redisReply *rep = reply;
	(void)ac;

	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
	    !is_str(rep->element[0]))
		return;
	const char *kind = rep->element[0]->str;
	redisReply **e = rep->element;
	if (strcmp(kind, "pmessage") == 0 && rep->elements == 4 && is_str(e[2]) && is_str(e[3]))
		sio_redis_inject(r, true, e[2]->str, e[2]->len, e[3]->str, e[3]->len);
	else if (strcmp(kind, "message") == 0 && is_str(e[1]) && is_str(e[2]))
		sio_redis_inject(r, false, e[1]->str, e[1]->len, e[2]->str, e[2]->len);
	else if (strcmp(kind, "subscribe") == 0 && is_str(e[1]))
		on_subscribed(r, e[1]->str, e[1]->len);
}

static void
subscribe_nsp(struct sio_redis *r, const char *nsp)
{
	struct sio_buf pat = SIO_BUF_INIT, req = SIO_BUF_INIT, res = SIO_BUF_INIT,
	    own = SIO_BUF_INIT;
	if (!r->sub.ac)
		return;
	sio_rw_pattern(&pat, r->key, nsp);
	sio_rw_channel(&req, r->key, "-request", nsp, NULL);
	sio_rw_channel(&res, r->key, "-response", nsp, NULL);
	sio_rw_channel(&own, r->key, "-response", nsp, r->uid);
	redisAsyncCommand(r->sub.ac, on_message, r, "PSUBSCRIBE %b", pat.data, pat.len);
	redisAsyncCommand(r->sub.ac, on_message, r, "SUBSCRIBE %b %b %b", req.data, req.len,
	    res.data, res.len, own.data, own.len);
	sio_buf_free(&pat);
	sio_buf_free(&req);
	sio_buf_free(&res);
	sio_buf_free(&own);
}

void
sio_redis_add_nsp(struct sio_redis *r, const char *nsp)
{
	if (nsp_entry(r, nsp))
		return;
	struct nsp_entry *e = sio_xcalloc(1, sizeof *e);
	e->name = sio_xstrdup(nsp);
	e->next = r->nsps;
	r->nsps = e;
	subscribe_nsp(r, nsp);
}

static void link_connect(struct link *l);

static void
link_retry(struct link *l)
{
	if (l->r->closing)
		return;
	ev_timer_stop(l->r->loop, &l->retry);
	ev_timer_set(&l->retry, l->backoff, 0.);
	ev_timer_start(l->r->loop, &l->retry);
	l->backoff = l->backoff * 2 > REDIS_BACKOFF_MAX ? REDIS_BACKOFF_MAX : l->backoff * 2;
}

static void
retry_cb(EV_P_ ev_timer *w, int revents)
{
	struct link *l = SIO_CONTAINER_OF(w, struct link, retry);
	(void)EV_A;
	(void)revents;
	l->r->st.reconnects++;
	link_connect(l);
}

/* A refused AUTH leaves a connection that can do nothing: drop it and
 * try again later (the password may be set on Redis meanwhile). */
static void
auth_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply *rep = reply;
	(void)priv;
	if (rep && rep->type == REDIS_REPLY_ERROR) {
		sio_log_error("redis: AUTH refused: %s", rep->str);
		redisAsyncDisconnect(ac);
	}
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct link *l = ac->data;
	struct sio_redis *r = l->r;
	if (status != REDIS_OK) {
		sio_log_debug("redis: cannot connect: %s", ac->errstr);
		l->ac = NULL;
		gap_begin(r, "cannot connect");
		link_retry(l);
		return;
	}
	l->up = true;
	l->backoff = REDIS_BACKOFF_MIN;
	r->st.up = r->pub.up && r->sub.up;
	sio_log_info("redis: %s connection up", l->is_sub ? "subscriber" : "publisher");
	if (r->st.up)
		gap_end(r);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct link *l = ac->data;
	struct sio_redis *r = l->r;
	(void)status;
	l->ac = NULL;
	l->up = false;
	r->st.up = false;
	if (r->closing)
		return;
	/* Subscriptions go with the connection: ready again once confirmed. */
	for (struct nsp_entry *e = r->nsps; l->is_sub && e; e = e->next)
		e->ready = false;
	gap_begin(r, ac->errstr[0] ? ac->errstr : "connection lost");
	link_retry(l);
}

static void
link_connect(struct link *l)
{
	struct sio_redis *r = l->r;
	redisAsyncContext *ac = r->addr.path[0] ? redisAsyncConnectUnix(r->addr.path) :
	    redisAsyncConnect(r->addr.host, r->addr.port);
	if (!ac || ac->err) {
		sio_log_debug("redis: cannot connect: %s", ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		gap_begin(r, "cannot connect");
		link_retry(l);
		return;
	}
	ac->data = l;
	l->ac = ac;
	redisLibevAttach(r->loop, ac);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	/* Queued now, sent once connected, in order. */
	if (r->addr.password[0])
		redisAsyncCommand(ac, auth_cb, NULL, "AUTH %s", r->addr.password);
	if (l->is_sub) {
		for (struct nsp_entry *e = r->nsps; e; e = e->next)
			subscribe_nsp(r, e->name);
		if (r->listening)
			redisAsyncCommand(ac, on_message, r, "SUBSCRIBE %s", r->events_chan);
	}
}

/* ---- sio-listen --cluster ------------------------------------------------------------------ */

static void
listeners_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sio_redis *r = priv;
	redisReply *rep = reply;
	(void)ac;
	r->polling = false;
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[1]->type == REDIS_REPLY_INTEGER)
		r->listeners = rep->element[1]->integer;
}

static void
listen_poll_cb(EV_P_ ev_timer *w, int revents)
{
	struct sio_redis *r = SIO_CONTAINER_OF(w, struct sio_redis, listen_poll);
	(void)EV_A;
	(void)revents;
	if (!r->pub.up) {
		r->listeners = 0;	/* nothing can be published anyway */
		return;
	}
	if (!r->polling && redisAsyncCommand(r->pub.ac, listeners_cb, r, "PUBSUB NUMSUB %s",
	    r->events_chan) == REDIS_OK)
		r->polling = true;
}

void
sio_redis_listen(struct sio_redis *r, bool on)
{
	if (on == r->listening)
		return;
	r->listening = on;
	if (r->sub.ac)
		redisAsyncCommand(r->sub.ac, on_message, r, on ? "SUBSCRIBE %s" : "UNSUBSCRIBE %s",
		    r->events_chan);
}

bool
sio_redis_listened(const struct sio_redis *r)
{
	return r->listeners - (r->listening && r->sub.up ? 1 : 0) > 0;
}

void
sio_redis_publish_line(struct sio_redis *r, const char *line, size_t len)
{
	sio_buf_reset(&r->out);
	sio_buf_printf(&r->out, "%s ", r->uid);
	sio_buf_add(&r->out, line, len);
	publish(r, r->events_chan, strlen(r->events_chan), r->out.data, r->out.len);
}

void
sio_redis_on_line(struct sio_redis *r, sio_redis_line_cb cb, void *arg)
{
	r->on_line = cb;
	r->on_line_arg = arg;
}

/* ---- the hooks sio calls ----------------------------------------------------------------- */

static void
cluster_broadcast(void *arg, const struct sio_target *t, const char *payload, size_t len,
    struct sio_pkt *const *att, int natt, unsigned flags)
{
	struct sio_mj_span spans[SIO_MAX_ATTACHMENTS];
	for (int i = 0; i < natt && i < SIO_MAX_ATTACHMENTS; i++) {
		spans[i].p = sio_pkt_data(att[i]);
		spans[i].len = att[i]->len;
	}
	sio_redis_broadcast(arg, t, payload, len, spans, natt, (flags & SIO_EMIT_VOLATILE) != 0);
}

static void
cluster_nsp(void *arg, const char *nsp)
{
	sio_redis_add_nsp(arg, nsp);
}

static void
each_nsp(const char *nsp, size_t sockets, size_t rooms, void *arg)
{
	(void)sockets;
	(void)rooms;
	sio_redis_add_nsp(arg, nsp);
}

struct sio_redis *
sio_redis_new(struct sio_hub *hub, struct sio_server *srv, const char *url, const char *key,
    char *err)
{
	struct sio_redis *r = sio_xcalloc(1, sizeof *r);

	if (sio_redis_addr_parse(url, &r->addr, err) != SIO_OK) {
		free(r);
		return NULL;
	}
	if (sio_random_id(r->uid, 6) != SIO_OK) {
		snprintf(err, SIO_ERRLEN, "redis: no randomness for the server id");
		free(r);
		return NULL;
	}
	r->hub = hub;
	r->srv = srv;
	r->loop = sio_hub_loop(hub);
	r->key = sio_xstrdup(key && *key ? key : "socket.io");
	r->pub.r = r->sub.r = r;
	r->sub.is_sub = true;
	r->pub.backoff = r->sub.backoff = REDIS_BACKOFF_MIN;
	ev_timer_init(&r->pub.retry, retry_cb, 0., 0.);
	ev_timer_init(&r->sub.retry, retry_cb, 0., 0.);
	sio_buf_printf(&r->out, "%s-sio-events#", r->key);
	r->events_chan = sio_buf_steal(&r->out, NULL);
	ev_timer_init(&r->listen_poll, listen_poll_cb, REDIS_LISTEN_POLL, REDIS_LISTEN_POLL);
	ev_timer_start(r->loop, &r->listen_poll);
	sio_server_each_nsp(srv, each_nsp, r);
	struct sio_cluster c = { cluster_broadcast, cluster_nsp, cluster_ack, r };
	sio_server_set_cluster(srv, &c);
	link_connect(&r->pub);
	link_connect(&r->sub);
	if (r->addr.path[0])
		sio_log_info("redis: server %s, key %s, at %s", r->uid, r->key, r->addr.path);
	else
		sio_log_info("redis: server %s, key %s, at %s:%d", r->uid, r->key, r->addr.host,
		    r->addr.port);
	return r;
}

const struct sio_redis_stats *
sio_redis_stats(const struct sio_redis *r)
{
	return &r->st;
}

void
sio_redis_free(struct sio_redis *r)
{
	if (!r)
		return;
	r->closing = true;
	struct sio_cluster none = { NULL, NULL, NULL, NULL };
	sio_server_set_cluster(r->srv, &none);
	while (r->fetches)
		fetch_finish(r->fetches);
	while (r->acks)
		ack_req_free(r->acks);
	ev_timer_stop(r->loop, &r->pub.retry);
	ev_timer_stop(r->loop, &r->sub.retry);
	ev_timer_stop(r->loop, &r->listen_poll);
	/* Frees the contexts now; pending callbacks get NULL replies. */
	if (r->pub.ac)
		redisAsyncFree(r->pub.ac);
	if (r->sub.ac)
		redisAsyncFree(r->sub.ac);
	while (r->nsps) {
		struct nsp_entry *e = r->nsps;
		r->nsps = e->next;
		free(e->name);
		free(e);
	}
	sio_json_free(&r->doc);
	sio_buf_free(&r->out);
	free(r->events_chan);
	free(r->key);
	free(r);
}

/* ---- the emitter ------------------------------------------------------------------------ */

struct sio_redis_pub {
	redisContext *c;
	char *key;
	struct sio_json doc, pdoc;
	struct sio_buf msg, payload, chan, bytes;
};

struct sio_redis_pub *
sio_redis_pub_open(const char *url, const char *key, char *err)
{
	struct sio_redis_addr a;
	struct timeval tv = { 5, 0 };

	if (sio_redis_addr_parse(url, &a, err) != SIO_OK)
		return NULL;
	redisContext *c = a.path[0] ? redisConnectUnixWithTimeout(a.path, tv) :
	    redisConnectWithTimeout(a.host, a.port, tv);
	if (!c || c->err) {
		snprintf(err, SIO_ERRLEN, "redis: cannot connect to %s: %s", url,
		    c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (a.password[0]) {
		redisReply *rep = redisCommand(c, "AUTH %s", a.password);
		if (!rep || rep->type == REDIS_REPLY_ERROR) {
			snprintf(err, SIO_ERRLEN, "redis: AUTH refused: %s",
			    rep ? rep->str : c->errstr);
			freeReplyObject(rep);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(rep);
	}
	struct sio_redis_pub *p = sio_xcalloc(1, sizeof *p);
	p->c = c;
	p->key = sio_xstrdup(key && *key ? key : "socket.io");
	return p;
}

static int
pub_strv(const struct sio_json *doc, const char *text, int obj, const char *key,
    struct sio_strv *out, char *err)
{
	int i = sio_json_get(doc, text, obj, key);
	if (i >= 0 && doc->tok[i].type != SIO_JSON_ARRAY && doc->tok[i].type != SIO_JSON_NULL) {
		snprintf(err, SIO_ERRLEN, "'%s' must be an array of strings", key);
		return SIO_EPROTO;
	}
	sio_rw_json_rooms(doc, text, i, out);
	return SIO_OK;
}

int
sio_redis_pub_line(struct sio_redis_pub *p, const char *line, size_t len, char *err)
{
	struct sio_strv to = { NULL, 0 }, except = { NULL, 0 };
	struct sio_buf nsp = SIO_BUF_INIT;
	int rc;

	if ((rc = sio_json_parse(&p->doc, line, len, 1000, err)) != SIO_OK)
		return SIO_EPROTO;
	const struct sio_json *d = &p->doc;
	int ei = sio_json_get(d, line, 0, "event"), di = sio_json_get(d, line, 0, "data");
	int ni = sio_json_get(d, line, 0, "nsp"), vi = sio_json_get(d, line, 0, "volatile");
	if (ei < 0 || d->tok[ei].type != SIO_JSON_STRING) {
		snprintf(err, SIO_ERRLEN, "'event' must be a string");
		return SIO_EPROTO;
	}
	if ((rc = pub_strv(d, line, 0, "to", &to, err)) != SIO_OK ||
	    (rc = pub_strv(d, line, 0, "except", &except, err)) != SIO_OK)
		goto out;
	if (ni >= 0 && d->tok[ni].type == SIO_JSON_STRING)
		sio_json_str_decode(d, line, ni, &nsp);
	else
		sio_buf_adds(&nsp, "/");
	/* ["event", data...] from the line's own bytes. */
	sio_buf_reset(&p->payload);
	sio_buf_addc(&p->payload, '[');
	sio_buf_add(&p->payload, line + d->tok[ei].start, d->tok[ei].end - d->tok[ei].start);
	if (di >= 0 && d->tok[di].type == SIO_JSON_ARRAY && d->tok[di].size > 0) {
		sio_buf_addc(&p->payload, ',');
		sio_buf_add(&p->payload, line + d->tok[di].start + 1,
		    d->tok[di].end - d->tok[di].start - 1);
	} else {
		sio_buf_addc(&p->payload, ']');
	}
	if ((rc = sio_json_parse(&p->pdoc, p->payload.data, p->payload.len, 1000, err)) != SIO_OK)
		goto out;
	sio_buf_reset(&p->msg);
	rc = sio_rw_pack_broadcast(&p->msg, "emitter", nsp.data, &p->pdoc, p->payload.data, 0,
	    sio_mj_base64_in, &p->bytes, (const char *const *)to.v, to.n,
	    (const char *const *)except.v, except.n,
	    vi >= 0 && d->tok[vi].type == SIO_JSON_TRUE, err);
	if (rc != SIO_OK)
		goto out;
	sio_rw_channel(&p->chan, p->key, "", nsp.data, to.n == 1 ? to.v[0] : NULL);
	redisReply *rep = redisCommand(p->c, "PUBLISH %b %b", p->chan.data, p->chan.len,
	    p->msg.data, p->msg.len);
	if (!rep) {
		snprintf(err, SIO_ERRLEN, "redis: %s", p->c->errstr);
		rc = SIO_ECLOSED;
	} else if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(err, SIO_ERRLEN, "redis: %s", rep->str);
		rc = SIO_ECLOSED;
	}
	freeReplyObject(rep);
out:
	sio_strv_free(&to);
	sio_strv_free(&except);
	sio_buf_free(&nsp);
	return rc;
}

void
sio_redis_pub_close(struct sio_redis_pub *p)
{
	if (!p)
		return;
	redisFree(p->c);
	sio_json_free(&p->doc);
	sio_json_free(&p->pdoc);
	sio_buf_free(&p->msg);
	sio_buf_free(&p->payload);
	sio_buf_free(&p->chan);
	sio_buf_free(&p->bytes);
	free(p->key);
	free(p);
}
