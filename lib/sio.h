/*
 * sio: the Socket.IO v5 server over Engine.IO sessions. Namespaces,
 * sockets (id, handshake, auth, rooms), CONNECT / DISCONNECT, events and
 * acks in both directions, binary attachments, the relay modes, and the
 * emit / room operations the control socket exposes.
 *
 * Client payloads are never re-encoded: the bytes a client sent are the
 * bytes observers see and relayed recipients receive.
 */
#ifndef SIO_SIO_H
#define SIO_SIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eio.h"
#include "json.h"

struct sio_hub;
struct sio_pkt;
struct sio_server;
struct sio_socket;

extern const struct sio_eio_handler sio_server_eio_handler;

struct sio_server *sio_server_new(struct sio_hub *hub, char *err);
void sio_server_free(struct sio_server *srv);

/* An event or ack a client sent, as observers see it. */
struct sio_event {
	const char *payload;	/* the JSON array as the client sent it */
	size_t len;
	const struct sio_json *doc;	/* its tokens */
	long long ack;		/* client's ack id, or -1 */
	struct sio_pkt *const *att;	/* binary attachments, in order */
	int natt;
};

struct sio_observer {
	void (*on_connect)(struct sio_socket *s, void *arg);
	void (*on_event)(struct sio_socket *s, const struct sio_event *ev, void *arg);
	/* The answer to a server ack request (see sio_emit). */
	void (*on_ack)(struct sio_socket *s, uint64_t token, const struct sio_event *ev,
	    void *arg);
	void (*on_disconnect)(struct sio_socket *s, const char *reason, void *arg);
	void *arg;
};
void sio_server_observe(struct sio_server *srv, const struct sio_observer *o);
/* Accepts namespace name from now on (no-op when it is known). */
void sio_server_add_nsp(struct sio_server *srv, const char *name);
/* Calls fn for each namespace with its socket and room counts. */
void sio_server_each_nsp(struct sio_server *srv,
    void (*fn)(const char *nsp, size_t sockets, size_t rooms, void *arg), void *arg);

/* ---- sockets ------------------------------------------------------------- */

const char *sio_socket_id(const struct sio_socket *s);
const char *sio_socket_nsp(const struct sio_socket *s);
/* The handshake as a JSON object (address, headers, query, auth, time...). */
const char *sio_socket_handshake(const struct sio_socket *s);
/* The verified token's "sub" claim (--jwt-alg), or NULL. */
const char *sio_socket_user(const struct sio_socket *s);
const char *sio_socket_transport(const struct sio_socket *s);
bool sio_socket_in(const struct sio_socket *s, const char *room);
void sio_socket_each_room(const struct sio_socket *s,
    void (*fn)(const char *room, void *arg), void *arg);
/* Answers a client's ack request with a JSON array (and attachments). */
int sio_socket_ack(struct sio_socket *s, long long ack, const char *data, size_t len,
    struct sio_pkt *const *att, int natt);

/* ---- targeting and emitting ---------------------------------------------- */

struct sio_target {
	const char *nsp;		/* "/" when NULL */
	const char *const *rooms;	/* union of rooms (a socket id is a room); all when 0 */
	size_t nrooms;
	const char *const *except;
	size_t nexcept;
};

/* Socket by id in a namespace, or NULL. */
struct sio_socket *sio_server_socket(struct sio_server *srv, const char *nsp,
    const char *id);
/* Calls fn for each targeted socket; returns how many. */
size_t sio_server_each(struct sio_server *srv, const struct sio_target *t,
    void (*fn)(struct sio_socket *s, void *arg), void *arg);
/* Calls fn for each room of a namespace (all namespaces when nsp NULL). */
void sio_server_each_room(struct sio_server *srv, const char *nsp,
    void (*fn)(const char *nsp, const char *room, size_t members, bool is_sid,
    void *arg), void *arg);
size_t sio_server_room_size(struct sio_server *srv, const char *nsp, const char *room);

#define SIO_EMIT_VOLATILE 1
/* This server's sockets only: not handed to the cluster (as .local does,
 * and as a broadcast that came from the cluster must be). */
#define SIO_EMIT_LOCAL 2

/*
 * The cluster adapter (redis.c), when there is one: told of every
 * broadcast that is not SIO_EMIT_LOCAL (emits and the relay of client
 * events), besides the local delivery, and of new namespaces.
 */
struct sio_cluster {
	void (*broadcast)(void *arg, const struct sio_target *t, const char *payload,
	    size_t len, struct sio_pkt *const *att, int natt, unsigned flags);
	void (*nsp_added)(void *arg, const char *nsp);
	/* A client's answer to an emit whose ack token has SIO_ACK_CLUSTER. */
	void (*on_ack)(void *arg, struct sio_socket *s, uint64_t token,
	    const struct sio_event *ev);
	void *arg;
};
/* Ack tokens with this bit are the cluster's; the others the observer's. */
#define SIO_ACK_CLUSTER (UINT64_C(1) << 63)
/* Copies c; a struct of NULLs detaches. */
void sio_server_set_cluster(struct sio_server *srv, const struct sio_cluster *c);

/*
 * Emits an event: payload is the JSON array ["event", args...] with
 * placeholders for the natt attachments. Encoded and framed once; each
 * targeted socket gets a reference. With ack_token != 0 each recipient
 * is asked for an ack and its answer reaches on_ack with that token.
 * Returns the number of sockets reached; *sids (if not NULL) receives
 * their ids, which the caller frees with free() (one block).
 */
size_t sio_emit(struct sio_server *srv, const struct sio_target *t,
    const char *payload, size_t len, struct sio_pkt *const *att, int natt,
    unsigned flags, uint64_t ack_token);

/* Forgets outstanding ack requests with this token. */
void sio_ack_forget(struct sio_server *srv, uint64_t token);

/* Joins / leaves targeted sockets; returns how many changed. */
size_t sio_server_join(struct sio_server *srv, const struct sio_target *t, const char *room);
size_t sio_server_leave(struct sio_server *srv, const struct sio_target *t, const char *room);
/* Disconnects targeted sockets (close: the whole connection). */
size_t sio_server_disconnect(struct sio_server *srv, const struct sio_target *t, bool close);

#endif
