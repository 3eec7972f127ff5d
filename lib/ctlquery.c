/*
 * ctlquery: what is where, and moving it: rooms, members, sockets,
 * join/leave/disconnect and count; with --redis the answers wait for the
 * other servers (fetchSockets) unless the request says "local":true.
 */
#include "ctlsrv.h"
#include "hub.h"
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void
sio_ctl_op_rooms(struct ctl_client *cl, const struct req *r)
{
	struct sio_buf nsp = SIO_BUF_INIT, b = SIO_BUF_INIT;
	int ai = field(r, "all");
	struct rooms_ctx x = { &b, ai >= 0 && tok(r, ai)->type == SIO_JSON_TRUE, true };

	str_field(r, "nsp", &nsp);
	sio_ctl_begin_answer(&b, r);
	sio_buf_adds(&b, "\"rooms\":[");
	sio_server_each_room(cl->ctl->srv, nsp.len ? nsp.data : NULL, rooms_cb, &x);
	sio_buf_adds(&b, "]}");
	sio_ctl_send_line(cl, &b);
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
	sio_ctl_add_user(x->b, s);
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
		sio_ctl_send_line(cl, &w->answer);
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

void
sio_ctl_op_sockets(struct ctl_client *cl, const struct req *r)
{
	static const char *const keys[] = { "rooms", "in", "sids" };
	struct target tg;
	struct sio_buf b = SIO_BUF_INIT;

	if (!sio_ctl_target_read(cl, r, &tg, keys, 3))
		return;
	struct rooms_ctx x = { &b, true, true };
	sio_ctl_begin_answer(&b, r);
	sio_buf_adds(&b, "\"sockets\":[");
	sio_server_each(cl->ctl->srv, &tg.t, socket_cb, &x);
	if (!ask_cluster(cl, r, &tg.t, REMOTE_SOCKETS, &b, !x.first, 0)) {
		sio_ctl_send_line(cl, &b);
		sio_buf_free(&b);
	}
	sio_ctl_target_free(&tg);
}

static void
sid_cb(struct sio_socket *s, void *arg)
{
	struct rooms_ctx *x = arg;
	room_of_cb(sio_socket_id(s), x);
}

void
sio_ctl_op_members(struct ctl_client *cl, const struct req *r)
{
	struct target tg;
	struct sio_buf room = SIO_BUF_INIT, b = SIO_BUF_INIT;

	if (!str_field(r, "room", &room)) {
		sio_ctl_answer_error(cl, r, "bad_request", "'room' must be a string");
		sio_buf_free(&room);
		return;
	}
	if (!sio_ctl_target_read(cl, r, &tg, NULL, 0)) {
		sio_buf_free(&room);
		return;
	}
	const char *rooms[1] = { room.data };
	tg.t.rooms = rooms;
	tg.t.nrooms = 1;
	struct rooms_ctx x = { &b, true, true };
	sio_ctl_begin_answer(&b, r);
	sio_buf_adds(&b, "\"sids\":[");
	sio_server_each(cl->ctl->srv, &tg.t, sid_cb, &x);
	if (!ask_cluster(cl, r, &tg.t, REMOTE_SIDS, &b, !x.first, 0)) {
		sio_ctl_send_line(cl, &b);
		sio_buf_free(&b);
	}
	sio_buf_free(&room);
	sio_ctl_target_free(&tg);
}

/* join, leave, disconnect: "sids" and "in" pick the sockets. */
void
sio_ctl_op_change(struct ctl_client *cl, const struct req *r, const char *op)
{
	static const char *const keys[] = { "sids", "in" };
	struct target tg;
	struct sio_buf room = SIO_BUF_INIT;
	char extra[80];
	size_t n;

	bool disconnect = strcmp(op, "disconnect") == 0;
	if (!disconnect && (!str_field(r, "room", &room) || room.len == 0)) {
		sio_ctl_answer_error(cl, r, "bad_request", "'room' must be a non-empty string");
		sio_buf_free(&room);
		return;
	}
	if (!sio_ctl_target_read(cl, r, &tg, keys, 2)) {
		sio_buf_free(&room);
		return;
	}
	int all = field(r, "all");
	if (tg.t.nrooms == 0 && !(all >= 0 && tok(r, all)->type == SIO_JSON_TRUE)) {
		sio_ctl_answer_error(cl, r, "bad_request", "name the sockets: 'sids', 'in', or \"all\":true");
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
	sio_ctl_answer_ok(cl, r, extra);
out:
	sio_buf_free(&room);
	sio_ctl_target_free(&tg);
}

void
sio_ctl_op_count(struct ctl_client *cl, const struct req *r)
{
	struct sio_buf room = SIO_BUF_INIT, nsp = SIO_BUF_INIT;
	char extra[48];

	if (!str_field(r, "room", &room) ||
	    (field(r, "nsp") >= 0 && !str_field(r, "nsp", &nsp))) {
		sio_ctl_answer_error(cl, r, "bad_request", "'room' and 'nsp' must be strings");
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
		sio_ctl_begin_answer(&b, &copy);
		sio_buf_adds(&b, "\"ok\":true,\"count\":");
		if (!ask_cluster(cl, r, &t, REMOTE_COUNT, &b, false, n))
			sio_ctl_send_line(cl, &b);
		else
			b.data = NULL;
		sio_buf_free(&b);
	} else {
		snprintf(extra, sizeof extra, ",\"count\":%zu", n);
		sio_ctl_answer_ok(cl, &copy, extra);
	}
	sio_buf_free(&room);
	sio_buf_free(&nsp);
}
