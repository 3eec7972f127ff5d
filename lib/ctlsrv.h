/*
 * ctlsrv: what the parts of the control protocol's server side share, and
 * nothing else includes: ctl.c (the socket, control clients, reading
 * requests and answering them), ctlemit.c (emit, acks both ways, binary
 * values), ctlstream.c (the event stream to subscribers and groups, and
 * the cluster's listener lines), ctlquery.c (rooms, members, sockets,
 * join/leave/disconnect, count).
 */
#ifndef SIO_CTLSRV_H
#define SIO_CTLSRV_H

#include "ctl.h"
#include "conn.h"
#include "json.h"
#include "sio.h"

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* ---- a request and its fields ------------------------------------------------ */

struct req {
	const char *text;
	size_t len;
	struct sio_json *doc;
	const char *id;			/* raw JSON of "id", or NULL */
	size_t idlen;
};

static inline int
field(const struct req *r, const char *key)
{
	return sio_json_get(r->doc, r->text, 0, key);
}

static inline const struct sio_json_tok *
tok(const struct req *r, int i)
{
	return &r->doc->tok[i];
}

/* A string field, decoded into out; false when absent or not a string. */
static inline bool
str_field(const struct req *r, const char *key, struct sio_buf *out)
{
	int i = field(r, key);
	sio_buf_reset(out);
	if (i < 0 || tok(r, i)->type != SIO_JSON_STRING)
		return false;
	sio_json_str_decode(r->doc, r->text, i, out);
	return true;
}

struct strv {
	char **v;
	size_t n;
};

struct target {
	struct sio_buf nsp;
	struct strv rooms, except;
	struct sio_target t;
};

/* ---- ctl.c: answers, and the fields every request reads ----------------------- */

/* Appends a newline to b and queues it for cl. */
void sio_ctl_send_line(struct ctl_client *cl, struct sio_buf *b);
/* "{" and the request's id, when it has one. */
void sio_ctl_begin_answer(struct sio_buf *b, const struct req *r);
void sio_ctl_answer_error(struct ctl_client *cl, const struct req *r, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Answers {"id":..,"ok":true<extra>} when the request had an id. */
void sio_ctl_answer_ok(struct ctl_client *cl, const struct req *r, const char *extra);
/* An array of strings (absent: empty); false after answering a wrong type. */
bool sio_ctl_strv_field(struct ctl_client *cl, const struct req *r, const char *key,
    struct strv *out);
void sio_ctl_strv_free(struct strv *s);
/*
 * Reads nsp, the rooms (from each key in room_keys, joined: "to", or
 * "sids" and "in") and "except". Returns false after answering an error.
 */
bool sio_ctl_target_read(struct ctl_client *cl, const struct req *r, struct target *tg,
    const char *const *room_keys, size_t nkeys);
void sio_ctl_target_free(struct target *tg);

/* ---- ctlemit.c ---------------------------------------------------------------- */

void sio_ctl_op_emit(struct ctl_client *cl, const struct req *r);
void sio_ctl_op_reply(struct ctl_client *cl, const struct req *r);
/* A client answered an emit of ours (struct sio_observer's on_ack). */
void sio_ctl_on_ack(struct sio_socket *s, uint64_t token, const struct sio_event *ev, void *arg);
/* Ends a wait without answering it (its client is gone). */
void sio_ctl_ack_wait_free(struct sio_ctl *ctl, struct ack_wait *w);
/* "data":[...] from a client's array, starting at element index `skip`. */
void sio_ctl_append_data(struct sio_buf *b, const struct sio_event *ev, uint32_t skip);

/* ---- ctlstream.c -------------------------------------------------------------- */

void sio_ctl_op_subscribe(struct ctl_client *cl, const struct req *r);
void sio_ctl_op_done(struct ctl_client *cl, const struct req *r);
/* struct sio_observer's callbacks: lines for the subscribers. */
void sio_ctl_on_connect(struct sio_socket *s, void *arg);
void sio_ctl_on_disconnect(struct sio_socket *s, const char *reason, void *arg);
void sio_ctl_on_event(struct sio_socket *s, const struct sio_event *ev, void *arg);
/*
 * cl, already off the client list, leaves the stream: a group member's
 * unconfirmed and waiting lines go to another member; its subscription
 * is freed.
 */
void sio_ctl_unsubscribe(struct ctl_client *cl);
/* Tells cl how many events it missed, and resets the count. */
void sio_ctl_dropped_note(struct ctl_client *cl);
/* ,"user":"<sub>" when the socket has a verified token. */
void sio_ctl_add_user(struct sio_buf *b, const struct sio_socket *s);

/* ---- ctlquery.c --------------------------------------------------------------- */

void sio_ctl_op_rooms(struct ctl_client *cl, const struct req *r);
void sio_ctl_op_members(struct ctl_client *cl, const struct req *r);
void sio_ctl_op_sockets(struct ctl_client *cl, const struct req *r);
/* join, leave, disconnect (op names which) */
void sio_ctl_op_change(struct ctl_client *cl, const struct req *r, const char *op);
void sio_ctl_op_count(struct ctl_client *cl, const struct req *r);

#endif
