/*
 * redis: sio-hubs in a cluster through Redis, on the wire of the Node
 * @socket.io/redis-adapter 8.x and @socket.io/redis-emitter 5.x
 * (redis-wire.md), so sio-hubs, Node servers and every emitter share
 * one cluster per key prefix.
 *
 * The only owner of hiredis. Two connections per hub: one publishes
 * (and asks PUBSUB NUMSUB), one subscribes; a second subscriber would
 * count as a second server in every peer's NUMSUB.
 *
 * Ownership: arguments are borrowed for the call; nothing is kept.
 */
#ifndef SIO_REDIS_H
#define SIO_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgjson.h"
#include "rwire.h"
#include "util.h"

struct sio_hub;
struct sio_server;
struct sio_target;
struct sio_redis;

/* Counters for /metrics and the logs. */
struct sio_redis_stats {
	uint64_t published;	/* messages handed to Redis */
	uint64_t received;	/* broadcasts from other servers delivered here */
	uint64_t lost;		/* not published: Redis down or too far behind */
	uint64_t reconnects;
	size_t pending;		/* bytes sent to Redis and not yet answered */
	bool up;
};

/*
 * Starts the cluster adapter of hub: connects (in the background,
 * reconnecting with backoff for as long as the hub runs) and takes part
 * in every namespace srv has or gets. NULL with a message in err for a
 * bad URL; Redis being down is not an error.
 */
struct sio_redis *sio_redis_new(struct sio_hub *hub, struct sio_server *srv,
    const char *url, const char *key, char *err);
void sio_redis_free(struct sio_redis *r);
const struct sio_redis_stats *sio_redis_stats(const struct sio_redis *r);

/* A namespace came to be (dynamic namespaces): subscribe to its channels. */
void sio_redis_add_nsp(struct sio_redis *r, const char *nsp);

/*
 * A local broadcast to publish: payload is the JSON array ["event",
 * args...] with placeholders for the natt binary attachments att[i]
 * (bytes att_len[i]). Fire and forget, as the adapter does; counted in
 * lost when Redis is down or more than the pending limit behind.
 */
void sio_redis_broadcast(struct sio_redis *r, const struct sio_target *t,
    const char *payload, size_t len, const struct sio_mj_span *att, int natt,
    bool is_volatile);

/*
 * Room operations for the other servers (the local sockets are the
 * caller's to change): socketsJoin / socketsLeave / disconnectSockets.
 */
enum sio_redis_op { SIO_REDIS_JOIN = 2, SIO_REDIS_LEAVE = 3, SIO_REDIS_DISCONNECT = 4 };
void sio_redis_room_op(struct sio_redis *r, enum sio_redis_op op,
    const struct sio_target *t, const char *room, bool close);

/*
 * fetchSockets on the other servers. cb gets, once, the remote sockets
 * as JSON objects joined by commas ({"nsp","sid","rooms","handshake",
 * "data","remote":true}; items may be empty), how many servers were
 * expected and how many answered (fewer: the adapter's 5 s timeout).
 * Returns SIO_OK (cb comes later), or SIO_ECLOSED when Redis is down.
 */
typedef void (*sio_redis_fetch_cb)(void *arg, const char *items, size_t len,
    size_t expected, size_t answered);
int sio_redis_fetch(struct sio_redis *r, const struct sio_target *t,
    sio_redis_fetch_cb cb, void *arg);

/*
 * An emit that waits for acks (sio-emit --ack), to the other servers:
 * the adapter's BROADCAST request. cb gets each remote client's answer
 * as a JSON array (its first argument, binary as {"_binary":..}), then
 * once data NULL with len the number of remote clients asked, when
 * every server and client answered, or a second after timeout_ms.
 * *handle is for sio_redis_ack_cancel, after which cb is not called.
 * SIO_ECLOSED when Redis is down (cb is never called).
 */
typedef void (*sio_redis_ack_cb)(void *arg, const char *data, size_t len);
int sio_redis_emit_ack(struct sio_redis *r, const struct sio_target *t, const char *payload,
    size_t len, const struct sio_mj_span *att, int natt, long long timeout_ms,
    sio_redis_ack_cb cb, void *arg, uint64_t *handle);
void sio_redis_ack_cancel(struct sio_redis *r, uint64_t handle);
/* How many remote clients the servers that answered so far asked. */
size_t sio_redis_ack_clients(const struct sio_redis *r, uint64_t handle);

/*
 * The cluster view of sio-listen (--cluster): while some hub has such a
 * listener, every hub publishes its listener lines (events, connects,
 * disconnects) on <key>-sio-events#, and the listening hubs subscribe to
 * it. Who listens is polled (PUBSUB NUMSUB) once a second, so a hub
 * starts or stops publishing within about a second.
 */
/* This hub has cluster listeners (on) or no longer has (off). */
void sio_redis_listen(struct sio_redis *r, bool on);
/* Some other hub has cluster listeners: publish the lines. */
bool sio_redis_listened(const struct sio_redis *r);
void sio_redis_publish_line(struct sio_redis *r, const char *line, size_t len);
/* Where lines from the other hubs go. */
typedef void (*sio_redis_line_cb)(void *arg, const char *line, size_t len);
void sio_redis_on_line(struct sio_redis *r, sio_redis_line_cb cb, void *arg);

/*
 * Handles msg as if Redis had delivered it on chan (pattern: through the
 * PSUBSCRIBE of broadcasts). For tests and fuzzing; the subscriber
 * connection calls it for every message.
 */
void sio_redis_inject(struct sio_redis *r, bool pattern, const char *chan, size_t clen,
    const char *msg, size_t mlen);


/* ---- the emitter (sio-emit --redis): no hub, blocking ------------------- */

struct sio_redis_pub;
struct sio_redis_pub *sio_redis_pub_open(const char *url, const char *key, char *err);
/*
 * Publishes one control-protocol emit request line ({"op":"emit",
 * "event", "data", "to", "except", "nsp", "volatile"}) as the emitter
 * would. SIO_OK; SIO_EPROTO for a bad line, SIO_ECLOSED when Redis is
 * gone; a message in err.
 */
int sio_redis_pub_line(struct sio_redis_pub *p, const char *line, size_t len, char *err);
void sio_redis_pub_close(struct sio_redis_pub *p);

#endif
