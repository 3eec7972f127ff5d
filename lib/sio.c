#include "sio.h"
#include "conn.h"
#include "hub.h"
#include "jwt.h"
#include "log.h"
#include "packet.h"
#include "pkt.h"
#include "room.h"
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

/* Deep enough for any sane payload; the parser needs no stack for it. */

struct sio_nsp {
	char *name;
	struct sio_socket *sockets;	/* uthash by id */
	struct sio_rooms *rooms;
	/* Ack ids, for the whole namespace: a broadcast that asks for acks
	 * sends every recipient the same id, so the same packet. */
	long long next_ack;
	UT_hash_handle hh;
};

/* A server ack request waiting for the client's answer. */
struct pending_ack {
	long long id;
	uint64_t token;
	struct pending_ack *next;
};

struct sio_client;

struct sio_socket {
	char id[21];
	struct sio_nsp *nsp;
	struct sio_client *client;
	struct sio_roomset rooms;
	char *handshake;		/* JSON object, built once at connect */
	char *user;			/* the token's "sub", owned, or NULL */
	struct pending_ack *acks;
	long long *client_acks;		/* ack ids the client waits on */
	size_t nclient_acks;
	struct sio_socket *next_in_client;
	UT_hash_handle hh;
};

/* One Engine.IO session's Socket.IO state. */
struct sio_client {
	struct sio_server *srv;
	struct sio_eio_session *eio;
	struct sio_socket *sockets;
	char address[64];
	char *headers;			/* JSON object */
	char *query;			/* JSON object */
	char *url;
	int64_t issued;
	bool secure;
	bool xdomain;
	ev_timer connect_timer;
	/* a binary packet waiting for its attachments */
	struct sio_buf bin_head;
	struct sio_pkt *bin_att[SIO_MAX_ATTACHMENTS];
	int bin_need, bin_have;
};

struct sio_server {
	struct sio_hub *hub;
	struct sio_nsp *nsps;
	struct sio_json doc;		/* reused for every packet */
	struct sio_observer obs;
	bool has_obs;
	struct sio_cluster cluster;
};

static void client_close(struct sio_client *cl, const char *why);

/* ---- namespaces ---------------------------------------------------------- */

static struct sio_nsp *
nsp_find(struct sio_server *srv, const char *name, size_t len)
{
	struct sio_nsp *n;
	HASH_FIND(hh, srv->nsps, name, len, n);
	return n;
}

static struct sio_nsp *
nsp_add(struct sio_server *srv, const char *name, size_t len)
{
	struct sio_nsp *n = sio_xcalloc(1, sizeof *n);
	n->name = sio_xstrndup(name, len);
	n->rooms = sio_rooms_new();
	HASH_ADD_KEYPTR(hh, srv->nsps, n->name, len, n);
	if (srv->cluster.nsp_added)
		srv->cluster.nsp_added(srv->cluster.arg, n->name);
	return n;
}

/* The namespace a CONNECT names, created on demand when any is allowed. */
static struct sio_nsp *
nsp_for_connect(struct sio_server *srv, const char *name, size_t len)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(srv->hub);
	struct sio_nsp *n = nsp_find(srv, name, len);
	if (!n && cfg->any_nsp && len > 0 && name[0] == '/')
		n = nsp_add(srv, name, len);
	return n;
}

struct sio_server *
sio_server_new(struct sio_hub *hub, char *err)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(hub);
	struct sio_server *srv = sio_xcalloc(1, sizeof *srv);

	srv->hub = hub;
	nsp_add(srv, "/", 1);
	for (size_t i = 0; i < cfg->nnsps; i++) {
		const char *n = cfg->nsps[i];
		if (n[0] != '/' || strpbrk(n, ",?")) {
			snprintf(err, SIO_ERRLEN, "namespace '%s' must start with '/' "
			    "and contain no ',' or '?'", n);
			sio_server_free(srv);
			return NULL;
		}
		if (!nsp_find(srv, n, strlen(n)))
			nsp_add(srv, n, strlen(n));
	}
	return srv;
}

void
sio_server_add_nsp(struct sio_server *srv, const char *name)
{
	if (!nsp_find(srv, name, strlen(name))) {
		nsp_add(srv, name, strlen(name));
		sio_log_info("namespace %s added", name);
	}
}

void
sio_server_each_nsp(struct sio_server *srv,
    void (*fn)(const char *nsp, size_t sockets, size_t rooms, void *arg), void *arg)
{
	struct sio_nsp *n, *tmp;
	HASH_ITER(hh, srv->nsps, n, tmp)
		fn(n->name, HASH_COUNT(n->sockets), sio_rooms_count(n->rooms), arg);
}

void
sio_server_set_cluster(struct sio_server *srv, const struct sio_cluster *c)
{
	srv->cluster = *c;
}

void
sio_server_observe(struct sio_server *srv, const struct sio_observer *o)
{
	srv->obs = *o;
	srv->has_obs = true;
}

void
sio_server_free(struct sio_server *srv)
{
	struct sio_nsp *n, *tmp;
	if (!srv)
		return;
	HASH_ITER(hh, srv->nsps, n, tmp) {
		HASH_DEL(srv->nsps, n);
		sio_rooms_free(n->rooms);
		free(n->name);
		free(n);
	}
	sio_json_free(&srv->doc);
	free(srv);
}

/* ---- sockets ------------------------------------------------------------- */

const char *
sio_socket_id(const struct sio_socket *s)
{
	return s->id;
}

const char *
sio_socket_nsp(const struct sio_socket *s)
{
	return s->nsp->name;
}

const char *
sio_socket_user(const struct sio_socket *s)
{
	return s->user;
}

const char *
sio_socket_handshake(const struct sio_socket *s)
{
	return s->handshake;
}

const char *
sio_socket_transport(const struct sio_socket *s)
{
	return sio_eio_transport(s->client->eio);
}

bool
sio_socket_in(const struct sio_socket *s, const char *room)
{
	return sio_rooms_has(&s->rooms, room);
}

void
sio_socket_each_room(const struct sio_socket *s, void (*fn)(const char *room, void *arg),
    void *arg)
{
	sio_roomset_each(&s->rooms, fn, arg);
}

static void
socket_send(struct sio_socket *s, struct sio_pkt *p)
{
	sio_hub_stats(s->client->srv->hub)->packets_out++;
	sio_eio_send(s->client->eio, p);
}

static void
socket_send_att(struct sio_socket *s, struct sio_pkt *const *att, int natt)
{
	for (int i = 0; i < natt; i++)
		socket_send(s, sio_pkt_ref(att[i]));
}

static void
build_handshake(struct sio_socket *s, const char *auth, size_t authlen)
{
	struct sio_client *cl = s->client;
	struct sio_buf b = SIO_BUF_INIT;

	sio_buf_adds(&b, "{\"address\":");
	sio_json_add_str(&b, cl->address, strlen(cl->address));
	sio_buf_printf(&b, ",\"headers\":%s,\"query\":%s,\"auth\":", cl->headers, cl->query);
	if (auth)
		sio_buf_add(&b, auth, authlen);
	else
		sio_buf_adds(&b, "{}");
	sio_buf_printf(&b, ",\"time\":%lld,\"secure\":%s,\"xdomain\":%s,\"url\":",
	    (long long)cl->issued, cl->secure ? "true" : "false", cl->xdomain ? "true" : "false");
	sio_json_add_str(&b, cl->url, strlen(cl->url));
	sio_buf_addc(&b, '}');
	s->handshake = sio_buf_steal(&b, NULL);
}

static struct sio_socket *
socket_new(struct sio_client *cl, struct sio_nsp *nsp, const char *auth, size_t authlen)
{
	struct sio_socket *s = sio_xcalloc(1, sizeof *s), *dup;

	do {
		if (sio_random_id(s->id, 20) != SIO_OK) {
			free(s);
			return NULL;
		}
		HASH_FIND_STR(nsp->sockets, s->id, dup);
	} while (dup);
	s->nsp = nsp;
	s->client = cl;
	HASH_ADD_STR(nsp->sockets, id, s);
	sio_rooms_add(nsp->rooms, &s->rooms, s);
	sio_rooms_join(nsp->rooms, &s->rooms, s->id);
	s->next_in_client = cl->sockets;
	cl->sockets = s;
	build_handshake(s, auth, authlen);
	return s;
}

/* Removes a socket from everything; the caller has told the client, or not. */
static void
socket_drop(struct sio_socket *s, const char *reason)
{
	struct sio_client *cl = s->client;
	struct sio_server *srv = cl->srv;

	sio_log_debug("socket %s left %s (%s)", s->id, s->nsp->name, reason);
	if (srv->has_obs && srv->obs.on_disconnect)
		srv->obs.on_disconnect(s, reason, srv->obs.arg);
	for (struct sio_socket **pp = &cl->sockets; *pp; pp = &(*pp)->next_in_client) {
		if (*pp == s) {
			*pp = s->next_in_client;
			break;
		}
	}
	HASH_DEL(s->nsp->sockets, s);
	sio_rooms_remove(s->nsp->rooms, &s->rooms);
	while (s->acks) {
		struct pending_ack *a = s->acks;
		s->acks = a->next;
		free(a);
	}
	free(s->client_acks);
	free(s->handshake);
	free(s->user);
	free(s);
}

static struct sio_socket *
client_socket(struct sio_client *cl, const char *nsp, size_t len)
{
	for (struct sio_socket *s = cl->sockets; s; s = s->next_in_client)
		if (strlen(s->nsp->name) == len && memcmp(s->nsp->name, nsp, len) == 0)
			return s;
	return NULL;
}

/* Bound on the acks a client may have waiting; the oldest goes first. */
#define MAX_CLIENT_ACKS 1024

static void
client_ack_add(struct sio_socket *s, long long id)
{
	if (s->nclient_acks == MAX_CLIENT_ACKS) {
		memmove(s->client_acks, s->client_acks + 1,
		    --s->nclient_acks * sizeof *s->client_acks);
	}
	if (!s->client_acks)
		s->client_acks = sio_xmalloc(MAX_CLIENT_ACKS * sizeof *s->client_acks);
	s->client_acks[s->nclient_acks++] = id;
}

int
sio_socket_ack(struct sio_socket *s, long long ack, const char *data, size_t len,
    struct sio_pkt *const *att, int natt)
{
	size_t i;
	for (i = 0; i < s->nclient_acks && s->client_acks[i] != ack; i++)
		;
	if (i == s->nclient_acks)
		return SIO_ENOTFOUND;	/* answered already, or never asked */
	memmove(s->client_acks + i, s->client_acks + i + 1,
	    (--s->nclient_acks - i) * sizeof *s->client_acks);
	struct sio_pkt *p = sio_packet_encode(natt ? SIO_PACKET_BINARY_ACK : SIO_PACKET_ACK,
	    natt, s->nsp->name, strlen(s->nsp->name), ack, data, len);
	socket_send(s, p);
	socket_send_att(s, att, natt);
	return SIO_OK;
}

/* ---- the client (one Engine.IO session) ---------------------------------- */

static void
connect_timeout_cb(EV_P_ ev_timer *w, int revents)
{
	struct sio_client *cl = SIO_CONTAINER_OF(w, struct sio_client, connect_timer);
	(void)EV_A;
	(void)revents;
	if (!cl->sockets) {
		sio_log_info("%s: no namespace joined in time", sio_eio_peer(cl->eio));
		sio_eio_close(cl->eio, "connect timeout");
	}
}

static void
query_json(struct sio_buf *b, const struct sio_web_req *r)
{
	const char *q = r->query ? r->query : "";
	char key[256], val[4096];
	bool first = true;

	sio_buf_addc(b, '{');
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', len);
		size_t klen = eq ? (size_t)(eq - q) : len;
		size_t vlen = eq ? len - klen - 1 : 0;
		if (klen > 0 && sio_web_url_decode(q, klen, true, key, sizeof key) &&
		    sio_web_url_decode(eq ? eq + 1 : q, vlen, true, val, sizeof val)) {
			if (!first)
				sio_buf_addc(b, ',');
			sio_json_add_str(b, key, strlen(key));
			sio_buf_addc(b, ':');
			sio_json_add_str(b, val, strlen(val));
			first = false;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	sio_buf_addc(b, '}');
}

static void
headers_json(struct sio_buf *b, const struct sio_web_req *r)
{
	const char *p = r->headers.data, *end = p ? p + r->headers.len : NULL;

	sio_buf_addc(b, '{');
	for (unsigned i = 0; p && i < r->nheaders && p < end; i++) {
		const char *v = p + strlen(p) + 1;
		if (v >= end)
			break;
		if (i)
			sio_buf_addc(b, ',');
		sio_json_add_str(b, p, strlen(p));
		sio_buf_addc(b, ':');
		sio_json_add_str(b, v, strlen(v));
		p = v + strlen(v) + 1;
	}
	sio_buf_addc(b, '}');
}

static void
on_open(struct sio_eio_session *es, const struct sio_web_req *req, void *user)
{
	struct sio_server *srv = user;
	struct sio_client *cl = sio_xcalloc(1, sizeof *cl);
	struct sio_buf b = SIO_BUF_INIT;
	const struct sio_hub_config *cfg = sio_hub_cfg(srv->hub);

	cl->srv = srv;
	cl->eio = es;
	snprintf(cl->address, sizeof cl->address, "%s", sio_eio_peer(es));
	/* The peer is "addr:port" or "[v6]:port": keep the address. */
	char *colon = strrchr(cl->address, ':');
	if (colon)
		*colon = '\0';
	if (cl->address[0] == '[') {
		memmove(cl->address, cl->address + 1, strlen(cl->address));
		char *rb = strchr(cl->address, ']');
		if (rb)
			*rb = '\0';
	}
	headers_json(&b, req);
	cl->headers = sio_buf_steal(&b, NULL);
	query_json(&b, req);
	cl->query = sio_buf_steal(&b, NULL);
	cl->url = sio_xstrdup(req->url.data ? req->url.data : "");
	cl->issued = sio_now_ms();
	cl->xdomain = sio_web_header(req, "origin") != NULL;
	ev_timer_init(&cl->connect_timer, connect_timeout_cb, cfg->connect_timeout / 1000.0, 0.);
	ev_timer_start(sio_hub_loop(srv->hub), &cl->connect_timer);
	sio_eio_set_user(es, cl);
}

static void
bin_reset(struct sio_client *cl)
{
	for (int i = 0; i < cl->bin_have; i++)
		sio_pkt_unref(cl->bin_att[i]);
	cl->bin_have = cl->bin_need = 0;
	sio_buf_reset(&cl->bin_head);
}

static void
on_close(struct sio_eio_session *es, const char *reason, void *user)
{
	struct sio_server *srv = user;
	struct sio_client *cl = sio_eio_user(es);
	(void)srv;

	if (!cl)
		return;
	ev_timer_stop(sio_hub_loop(cl->srv->hub), &cl->connect_timer);
	while (cl->sockets)
		socket_drop(cl->sockets, reason);
	bin_reset(cl);
	sio_buf_free(&cl->bin_head);
	free(cl->headers);
	free(cl->query);
	free(cl->url);
	free(cl);
	sio_eio_set_user(es, NULL);
}

static void
client_close(struct sio_client *cl, const char *why)
{
	sio_log_info("%s: closing the connection: %s", sio_eio_peer(cl->eio), why);
	sio_eio_close(cl->eio, "parse error");
}

/* ---- relay ----------------------------------------------------------------- */

struct send_ctx {
	struct sio_pkt *const *parts;
	int nparts;
	struct sio_socket *skip;
	unsigned flags;
	size_t reached;
	long long ack_id;		/* with ack_token != 0: each recipient owes an answer */
	uint64_t ack_token;
};

static void
send_parts_cb(void *owner, void *arg)
{
	struct sio_socket *s = owner;
	struct send_ctx *x = arg;

	if (s == x->skip)
		return;
	/* Volatile: a client that is behind misses it rather than queue it. */
	if ((x->flags & SIO_EMIT_VOLATILE) && sio_eio_congested(s->client->eio)) {
		sio_hub_stats(s->client->srv->hub)->volatile_drops++;
		return;
	}
	if (x->ack_token) {
		struct pending_ack *a = sio_xcalloc(1, sizeof *a);
		a->id = x->ack_id;
		a->token = x->ack_token;
		a->next = s->acks;
		s->acks = a;
	}
	for (int i = 0; i < x->nparts; i++)
		socket_send(s, sio_pkt_ref(x->parts[i]));
	x->reached++;
}

struct room_list {
	const char **v;
	size_t n, cap;
	const char *own;
};

static void
collect_room(const char *room, void *arg)
{
	struct room_list *l = arg;
	if (strcmp(room, l->own) == 0)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = sio_xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = room;
}

static void
relay(struct sio_socket *s, const struct sio_packet *p, const char *text, size_t len,
    struct sio_pkt *const *att, int natt)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(s->client->srv->hub);
	struct sio_pkt *parts[1 + SIO_MAX_ATTACHMENTS];
	const char *except[1] = { s->id };

	/* Without an ack id the packet goes on exactly as the client sent it. */
	if (p->ack < 0)
		parts[0] = sio_pkt_text('4', text, len);
	else
		parts[0] = sio_packet_encode(p->type, p->attachments, p->nsp, p->nsplen,
		    -1, p->data, p->datalen);
	for (int i = 0; i < natt; i++)
		parts[1 + i] = att[i];
	struct send_ctx x = { parts, 1 + natt, s, 0, 0, -1, 0 };
	struct sio_server *srv = s->client->srv;
	struct sio_target t = { s->nsp->name, NULL, 0, except, 1 };
	if (cfg->relay == SIO_RELAY_ALL) {
		sio_rooms_each(s->nsp->rooms, NULL, 0, except, 1, send_parts_cb, &x);
		if (srv->cluster.broadcast)
			srv->cluster.broadcast(srv->cluster.arg, &t, p->data, p->datalen, att, natt, 0);
	} else {
		struct room_list l = { NULL, 0, 0, s->id };
		sio_roomset_each(&s->rooms, collect_room, &l);
		if (l.n > 0)
			sio_rooms_each(s->nsp->rooms, l.v, l.n, except, 1, send_parts_cb, &x);
		t.rooms = l.v;
		t.nrooms = l.n;
		if (l.n > 0 && srv->cluster.broadcast)
			srv->cluster.broadcast(srv->cluster.arg, &t, p->data, p->datalen, att, natt, 0);
		free(l.v);
	}
	sio_pkt_unref(parts[0]);
}

/* ---- incoming packets ------------------------------------------------------ */

/*
 * --jwt-alg: the CONNECT payload must be {"token": "<JWT>", ...} and the
 * token must verify. Returns true with the claims filled, or false with
 * a message for the CONNECT_ERROR in err.
 */
static bool
check_token(struct sio_client *cl, struct sio_jwt *jwt, const struct sio_packet *p,
    struct sio_jwt_claims *claims, char *err)
{
	struct sio_json doc = SIO_JSON_INIT;
	struct sio_buf token = SIO_BUF_INIT;
	bool ok = false;
	int t = -1;

	if (p->data && sio_json_parse(&doc, p->data, p->datalen, 8, NULL) == SIO_OK &&
	    doc.tok[0].type == SIO_JSON_OBJECT)
		t = sio_json_get(&doc, p->data, 0, "token");
	if (t < 0 || doc.tok[t].type != SIO_JSON_STRING) {
		snprintf(err, SIO_ERRLEN, "authentication required: send {\"token\": \"<JWT>\"}");
	} else {
		sio_json_str_decode(&doc, p->data, t, &token);
		ok = sio_jwt_verify(jwt, token.data, token.len, sio_now_ms() / 1000.0, claims,
		    err) == SIO_OK;
	}
	if (!ok)
		sio_log_info("%s: CONNECT refused: %s", sio_eio_peer(cl->eio), err);
	sio_buf_free(&token);
	sio_json_free(&doc);
	return ok;
}

static void
handle_connect(struct sio_client *cl, const struct sio_packet *p)
{
	struct sio_server *srv = cl->srv;
	size_t nlen = p->nsplen;

	if (client_socket(cl, p->nsp, nlen)) {
		client_close(cl, "CONNECT to a namespace already joined");
		return;
	}
	/* "/chat?x=1" names no namespace: Socket.IO v5 clients send no query
	 * there (v2 did), and the reference server refuses it. */
	struct sio_nsp *nsp = memchr(p->nsp, '?', nlen) ? NULL :
	    nsp_for_connect(srv, p->nsp, nlen);
	if (!nsp) {
		static const char msg[] = "{\"message\":\"Invalid namespace\"}";
		sio_log_debug("%s: refused namespace %.*s", sio_eio_peer(cl->eio),
		    (int)p->nsplen, p->nsp);
		sio_eio_send(cl->eio, sio_packet_encode(SIO_PACKET_CONNECT_ERROR, 0,
		    p->nsp, p->nsplen, -1, msg, sizeof msg - 1));
		return;
	}
	struct sio_jwt_claims claims = { 0 };
	struct sio_jwt *jwt = sio_hub_jwt(srv->hub);
	char why[SIO_ERRLEN];
	if (jwt && !check_token(cl, jwt, p, &claims, why)) {
		/* As a refusing middleware does in the reference: the client
		 * hears why, and may try again with a fresh token. */
		struct sio_buf msg = SIO_BUF_INIT;
		sio_buf_adds(&msg, "{\"message\":");
		sio_json_add_str(&msg, why, strlen(why));
		sio_buf_addc(&msg, '}');
		sio_eio_send(cl->eio, sio_packet_encode(SIO_PACKET_CONNECT_ERROR, 0,
		    p->nsp, p->nsplen, -1, msg.data, msg.len));
		sio_buf_free(&msg);
		return;
	}
	struct sio_socket *s = socket_new(cl, nsp, p->data, p->datalen);
	if (!s) {
		sio_jwt_claims_free(&claims);
		client_close(cl, "no randomness for a socket id");
		return;
	}
	s->user = claims.sub;
	claims.sub = NULL;
	for (size_t i = 0; i < claims.nrooms; i++)
		sio_rooms_join(nsp->rooms, &s->rooms, claims.rooms[i]);
	sio_jwt_claims_free(&claims);
	ev_timer_stop(sio_hub_loop(srv->hub), &cl->connect_timer);
	char body[40];
	int n = snprintf(body, sizeof body, "{\"sid\":\"%s\"}", s->id);
	socket_send(s, sio_packet_encode(SIO_PACKET_CONNECT, 0, nsp->name,
	    strlen(nsp->name), -1, body, (size_t)n));
	sio_log_debug("%s: socket %s joined %s", sio_eio_peer(cl->eio), s->id, nsp->name);
	if (srv->has_obs && srv->obs.on_connect)
		srv->obs.on_connect(s, srv->obs.arg);
}

static void
handle_ack(struct sio_socket *s, const struct sio_event *ev)
{
	struct sio_server *srv = s->client->srv;
	for (struct pending_ack **pp = &s->acks; *pp; pp = &(*pp)->next) {
		struct pending_ack *a = *pp;
		if (a->id != ev->ack)
			continue;
		*pp = a->next;
		uint64_t token = a->token;
		free(a);
		if (token & SIO_ACK_CLUSTER) {
			if (srv->cluster.on_ack)
				srv->cluster.on_ack(srv->cluster.arg, s, token, ev);
		} else if (srv->has_obs && srv->obs.on_ack) {
			srv->obs.on_ack(s, token, ev, srv->obs.arg);
		}
		return;
	}
	/* An answer nobody waits for (late, or unknown id) is dropped. */
}

/* A complete packet (attachments, if any, collected). */
static void
dispatch(struct sio_client *cl, const char *text, size_t len,
    struct sio_pkt *const *att, int natt)
{
	struct sio_server *srv = cl->srv;
	struct sio_packet p;
	char err[SIO_ERRLEN];

	if (sio_packet_parse(text, len, &p, &srv->doc,
	    (int)sio_hub_cfg(srv->hub)->max_depth, err) != SIO_OK) {
		client_close(cl, err);
		return;
	}
	if (p.type == SIO_PACKET_CONNECT) {
		handle_connect(cl, &p);
		return;
	}
	struct sio_socket *s = client_socket(cl, p.nsp, p.nsplen);
	if (!s || p.type == SIO_PACKET_CONNECT_ERROR) {
		client_close(cl, "packet for a namespace not joined");
		return;
	}
	struct sio_event ev = { p.data, p.datalen, &srv->doc, p.ack, att, natt };
	if (p.type != SIO_PACKET_DISCONNECT)
		sio_hub_stats(srv->hub)->events_in++;
	switch (p.type) {
	case SIO_PACKET_DISCONNECT:
		socket_drop(s, "client namespace disconnect");
		return;
	case SIO_PACKET_EVENT:
	case SIO_PACKET_BINARY_EVENT:
		if (p.ack >= 0)
			client_ack_add(s, p.ack);
		if (srv->has_obs && srv->obs.on_event)
			srv->obs.on_event(s, &ev, srv->obs.arg);
		if (sio_hub_cfg(srv->hub)->relay != SIO_RELAY_OFF)
			relay(s, &p, text, len, att, natt);
		return;
	case SIO_PACKET_ACK:
	case SIO_PACKET_BINARY_ACK:
		handle_ack(s, &ev);
		return;
	}
}

static void
on_message(struct sio_eio_session *es, bool binary, const uint8_t *data, size_t n,
    void *user)
{
	struct sio_client *cl = sio_eio_user(es);
	(void)user;

	if (!cl)
		return;
	if (binary) {
		if (cl->bin_need == 0) {
			client_close(cl, "binary message without a packet awaiting it");
			return;
		}
		cl->bin_att[cl->bin_have++] = sio_pkt_from(true, data, n);
		if (cl->bin_have < cl->bin_need)
			return;
		/* Complete: dispatch with the attachments, then let them go. */
		struct sio_pkt *att[SIO_MAX_ATTACHMENTS];
		int natt = cl->bin_have;
		memcpy(att, cl->bin_att, sizeof att);
		cl->bin_have = cl->bin_need = 0;
		struct sio_buf head = cl->bin_head;
		cl->bin_head = (struct sio_buf)SIO_BUF_INIT;
		dispatch(cl, head.data, head.len, att, natt);
		for (int i = 0; i < natt; i++)
			sio_pkt_unref(att[i]);
		sio_buf_free(&head);
		return;
	}
	if (cl->bin_need > 0) {
		client_close(cl, "text packet while attachments were awaited");
		return;
	}
	if (n > 0 && (data[0] == '0' + SIO_PACKET_BINARY_EVENT ||
	    data[0] == '0' + SIO_PACKET_BINARY_ACK)) {
		struct sio_packet p;
		char err[SIO_ERRLEN];
		const struct sio_hub_config *cfg = sio_hub_cfg(cl->srv->hub);
		if (sio_packet_parse((const char *)data, n, &p, &cl->srv->doc,
		    (int)cfg->max_depth, err) != SIO_OK) {
			client_close(cl, err);
			return;
		}
		if ((unsigned)p.attachments > cfg->max_attachments) {
			snprintf(err, sizeof err, "over %u attachments in one packet",
			    cfg->max_attachments);
			client_close(cl, err);
			return;
		}
		sio_buf_reset(&cl->bin_head);
		sio_buf_add(&cl->bin_head, data, n);
		cl->bin_need = p.attachments;
		cl->bin_have = 0;
		return;
	}
	dispatch(cl, (const char *)data, n, NULL, 0);
}

const struct sio_eio_handler sio_server_eio_handler = {
	.on_open = on_open,
	.on_message = on_message,
	.on_close = on_close,
};

/* ---- server-side operations ------------------------------------------------- */

struct sio_socket *
sio_server_socket(struct sio_server *srv, const char *nsp, const char *id)
{
	struct sio_nsp *n = nsp_find(srv, nsp ? nsp : "/", strlen(nsp ? nsp : "/"));
	struct sio_socket *s = NULL;
	if (n)
		HASH_FIND_STR(n->sockets, id, s);
	return s;
}

struct each_ctx {
	void (*fn)(struct sio_socket *s, void *arg);
	void *arg;
};

static void
each_cb(void *owner, void *arg)
{
	struct each_ctx *x = arg;
	if (x->fn)
		x->fn(owner, x->arg);
}

struct collect_ctx {
	struct sio_socket **v;
	size_t n, cap;
};

static void
collect_cb(struct sio_socket *s, void *arg)
{
	struct collect_ctx *x = arg;
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->v = sio_xrealloc(x->v, x->cap * sizeof *x->v);
	}
	x->v[x->n++] = s;
}

size_t
sio_server_each(struct sio_server *srv, const struct sio_target *t,
    void (*fn)(struct sio_socket *s, void *arg), void *arg)
{
	const char *name = t->nsp ? t->nsp : "/";
	struct sio_nsp *n = nsp_find(srv, name, strlen(name));
	struct each_ctx x = { fn, arg };
	if (!n)
		return 0;
	return sio_rooms_each(n->rooms, t->rooms, t->nrooms, t->except, t->nexcept,
	    each_cb, &x);
}

struct room_each_ctx {
	void (*fn)(const char *nsp, const char *room, size_t members, bool is_sid, void *arg);
	void *arg;
	struct sio_nsp *nsp;
};

static void
room_each_cb(const char *room, size_t members, void *arg)
{
	struct room_each_ctx *x = arg;
	struct sio_socket *s;
	HASH_FIND_STR(x->nsp->sockets, room, s);
	x->fn(x->nsp->name, room, members, s != NULL, x->arg);
}

void
sio_server_each_room(struct sio_server *srv, const char *nsp,
    void (*fn)(const char *nsp, const char *room, size_t members, bool is_sid, void *arg),
    void *arg)
{
	struct sio_nsp *n, *tmp;
	HASH_ITER(hh, srv->nsps, n, tmp) {
		if (nsp && strcmp(nsp, n->name) != 0)
			continue;
		struct room_each_ctx x = { fn, arg, n };
		sio_rooms_each_room(n->rooms, room_each_cb, &x);
	}
}

size_t
sio_server_room_size(struct sio_server *srv, const char *nsp, const char *room)
{
	const char *name = nsp ? nsp : "/";
	struct sio_nsp *n = nsp_find(srv, name, strlen(name));
	return n ? sio_rooms_size(n->rooms, room) : 0;
}

size_t
sio_emit(struct sio_server *srv, const struct sio_target *t, const char *payload,
    size_t len, struct sio_pkt *const *att, int natt, unsigned flags, uint64_t ack_token)
{
	const char *name = t->nsp ? t->nsp : "/";
	struct sio_nsp *n = nsp_find(srv, name, strlen(name));
	int type = natt ? SIO_PACKET_BINARY_EVENT : SIO_PACKET_EVENT;

	/* Acks are collected from local sockets only: not published. */
	if (!(flags & SIO_EMIT_LOCAL) && ack_token == 0 && srv->cluster.broadcast)
		srv->cluster.broadcast(srv->cluster.arg, t, payload, len, att, natt, flags);
	if (!n)
		return 0;
	/* One packet, one frame, a reference per socket. With an ack, the id
	 * is the namespace's, so it is the same for every recipient, and
	 * each notes that it owes an answer. */
	long long id = ack_token ? n->next_ack++ : -1;
	struct sio_pkt *parts[1 + SIO_MAX_ATTACHMENTS];
	parts[0] = sio_packet_encode(type, natt, n->name, strlen(n->name), id, payload, len);
	for (int i = 0; i < natt; i++)
		parts[1 + i] = att[i];
	struct send_ctx x = { parts, 1 + natt, NULL, flags, 0, id, ack_token };
	sio_rooms_each(n->rooms, t->rooms, t->nrooms, t->except, t->nexcept, send_parts_cb, &x);
	sio_pkt_unref(parts[0]);
	return x.reached;
}

void
sio_ack_forget(struct sio_server *srv, uint64_t token)
{
	struct sio_nsp *n, *tmp;
	struct sio_socket *s, *stmp;
	HASH_ITER(hh, srv->nsps, n, tmp) {
		HASH_ITER(hh, n->sockets, s, stmp) {
			for (struct pending_ack **pp = &s->acks; *pp;) {
				if ((*pp)->token == token) {
					struct pending_ack *a = *pp;
					*pp = a->next;
					free(a);
				} else {
					pp = &(*pp)->next;
				}
			}
		}
	}
}

static struct collect_ctx
collect(struct sio_server *srv, const struct sio_target *t)
{
	struct collect_ctx c = { NULL, 0, 0 };
	sio_server_each(srv, t, collect_cb, &c);
	return c;
}

size_t
sio_server_join(struct sio_server *srv, const struct sio_target *t, const char *room)
{
	struct collect_ctx c = collect(srv, t);
	size_t changed = 0;
	for (size_t i = 0; i < c.n; i++)
		changed += sio_rooms_join(c.v[i]->nsp->rooms, &c.v[i]->rooms, room);
	free(c.v);
	return changed;
}

size_t
sio_server_leave(struct sio_server *srv, const struct sio_target *t, const char *room)
{
	struct collect_ctx c = collect(srv, t);
	size_t changed = 0;
	for (size_t i = 0; i < c.n; i++) {
		/* A socket always stays in the room named by its id. */
		if (strcmp(room, c.v[i]->id) == 0)
			continue;
		changed += sio_rooms_leave(c.v[i]->nsp->rooms, &c.v[i]->rooms, room);
	}
	free(c.v);
	return changed;
}

size_t
sio_server_disconnect(struct sio_server *srv, const struct sio_target *t, bool close)
{
	struct collect_ctx c = collect(srv, t);
	size_t done = 0;
	for (size_t i = 0; i < c.n; i++) {
		struct sio_socket *s = c.v[i];
		if (!s)
			continue;
		done++;
		if (close) {
			/* Closing the session drops every socket of the client. */
			struct sio_eio_session *es = s->client->eio;
			/* Later entries may belong to the same client: skip them. */
			for (size_t k = i + 1; k < c.n; k++)
				if (c.v[k] && c.v[k]->client == s->client)
					c.v[k] = NULL;
			socket_send(s, sio_packet_encode(SIO_PACKET_DISCONNECT, 0, s->nsp->name,
			    strlen(s->nsp->name), -1, NULL, 0));
			sio_eio_close_graceful(es, "forced server close");
		} else {
			socket_send(s, sio_packet_encode(SIO_PACKET_DISCONNECT, 0, s->nsp->name,
			    strlen(s->nsp->name), -1, NULL, 0));
			socket_drop(s, "server namespace disconnect");
		}
	}
	free(c.v);
	return done;
}

