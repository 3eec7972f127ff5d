/*
 * hub: the daemon's core. Owns the configuration, the libev loop, the
 * listening sockets, the Engine.IO endpoints, the Socket.IO server, the
 * control socket, signals and graceful shutdown.
 *
 * One loop, one thread. Writes are batched: a connection with queued
 * output joins a flush list that is drained before the loop next blocks,
 * so every message produced in one loop turn leaves in one writev.
 */
#ifndef SIO_HUB_H
#define SIO_HUB_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "util.h"

struct sio_hub;
struct sio_conn;
struct sio_redis;

enum sio_relay { SIO_RELAY_OFF, SIO_RELAY_ALL, SIO_RELAY_ROOMS };
/* /health and /metrics: auto serves them when bound to a loopback address. */
enum sio_metrics { SIO_METRICS_AUTO, SIO_METRICS_ON, SIO_METRICS_OFF };

struct sio_hub_config {
	const char *bind;
	int port;
	const char *path;		/* Engine.IO path of Socket.IO, "/socket.io/" */
	const char *engine_echo;	/* bare Engine.IO echo endpoint, or NULL */
	const char *static_dir;		/* files served at /, or NULL */
	const char **nsps;		/* namespaces accepted besides "/" */
	size_t nnsps;
	bool any_nsp;			/* accept every namespace */
	int ping_interval;		/* ms */
	int ping_timeout;		/* ms */
	int connect_timeout;		/* ms */
	int upgrade_timeout;		/* ms */
	size_t max_payload;		/* bytes, both transports */
	bool polling;
	bool websocket;
	enum sio_relay relay;
	const char **cors;		/* allowed origins; "*" for any */
	size_t ncors;
	const char **allow_origins;	/* handshakes from other Origins get 403 */
	size_t nallow_origins;
	const char *ctl_path;		/* control socket; NULL: the default path */
	bool no_ctl;			/* no control socket at all */
	size_t max_header_bytes;
	unsigned max_headers;		/* header lines in one request */
	unsigned max_fragments;		/* frames in one WebSocket message */
	int http_timeout;		/* ms: idle keep-alive and slow requests */
	size_t max_output;		/* bytes queued per connection before it is dropped */
	size_t max_output_soft;		/* ... or held above this for max_output_soft_time */
	int max_output_soft_time;	/* ms */
	unsigned max_connections;	/* client connections; 0: from the fd limit */
	unsigned max_connections_per_ip; /* 0: no limit */
	unsigned max_packets;		/* Engine.IO packets in one polling payload */
	unsigned max_attachments;	/* binary attachments of one Socket.IO packet */
	unsigned max_depth;		/* JSON nesting in a client's packet */
	const char *control_group;	/* group that may use the control socket too */
	size_t max_control_line;	/* bytes; 0: twice max_payload plus 64 KiB */
	size_t max_listener_output;	/* unwritten bytes before a listener misses events */
	const char *jwt_alg;		/* CONNECT must carry a token this verifies */
	const char *jwt_key;
	int jwt_leeway;			/* seconds of clock skew allowed */
	int shutdown_timeout;		/* ms */
	const char *tls_cert;		/* PEM chain: serve https and wss */
	const char *tls_key;
	int tls_handshake_timeout;	/* ms */
	int log_level;			/* enum sio_log_level */
	enum sio_metrics metrics;
	const char *redis_url;		/* cluster through Redis (redis.h), or NULL */
	const char *redis_key;		/* channel prefix, "socket.io" */
	size_t redis_max_pending;	/* unanswered bytes to Redis before broadcasts drop */
	char **owned;			/* strings the config owns (conf.c) */
	size_t nowned;
};

/* The longest control line accepted (max_control_line, or its default). */
size_t sio_hub_max_control_line(const struct sio_hub_config *cfg);

/* Sets the defaults; the config owns nothing yet. */
void sio_hub_config_defaults(struct sio_hub_config *cfg);
/* Frees what the config owns (its lists and copied strings). */
void sio_hub_config_free(struct sio_hub_config *cfg);

/*
 * SIGHUP: reload builds a fresh config (defaults, file, flags) into out
 * and returns SIO_OK, or an error with a message; the hub then takes
 * what can change while it runs and says what cannot.
 */
typedef int (*sio_hub_reload_fn)(struct sio_hub_config *out, char *err, void *arg);
void sio_hub_on_reload(struct sio_hub *hub, sio_hub_reload_fn fn, void *arg);

/*
 * Creates a hub on the default loop: binds the listeners and the control
 * socket. On success the hub owns what cfg owned (the caller must not
 * free it); on failure returns NULL with a message in err, and the
 * caller still owns cfg.
 */
struct sio_hub *sio_hub_new(const struct sio_hub_config *cfg, char *err);
/*
 * --check-config: what sio_hub_new would refuse, found without binding
 * anything: an address that does not resolve, a static directory that is
 * not one. SIO_OK, or SIO_EINVAL with a message.
 */
int sio_hub_check_config(const struct sio_hub_config *cfg, char *err);
/* Runs until SIGINT/SIGTERM and a graceful shutdown. Returns 0. */
int sio_hub_run(struct sio_hub *hub);
void sio_hub_free(struct sio_hub *hub);
/* Starts a graceful shutdown (as SIGTERM does). */
void sio_hub_stop(struct sio_hub *hub);

/* For the layers below: */
struct sio_eio_server *sio_hub_eio(struct sio_hub *hub);
struct sio_server *sio_hub_sio(struct sio_hub *hub);
/* The JWT verifier clients' CONNECTs must pass, or NULL (see jwt.h). */
struct sio_jwt *sio_hub_jwt(struct sio_hub *hub);
struct sio_ctl *sio_hub_ctl(struct sio_hub *hub);
/* The cluster adapter (--redis), or NULL. */
struct sio_redis *sio_hub_redis(struct sio_hub *hub);
double sio_hub_uptime(struct sio_hub *hub);	/* seconds */
bool sio_hub_stopping(struct sio_hub *hub);
struct ev_loop *sio_hub_loop(struct sio_hub *hub);
const struct sio_hub_config *sio_hub_cfg(struct sio_hub *hub);
void sio_hub_schedule_flush(struct sio_hub *hub, struct sio_conn *c);
void sio_hub_bury(struct sio_hub *hub, struct sio_conn *c);
/* A client connection closed: it no longer counts against the limits. */
void sio_hub_conn_gone(struct sio_hub *hub, struct sio_conn *c);
/* Routes a complete HTTP request (or upgrade) to its endpoint. */
void sio_hub_dispatch(struct sio_hub *hub, struct sio_conn *c);
/*
 * Back-pressure: eio counts sessions whose output is over the high-water
 * mark; control clients stop reading while any is, and resume when none.
 */
void sio_hub_congestion(struct sio_hub *hub, int delta);
/* conn.c: client connections whose output waits for the socket. */
void sio_hub_blocked(struct sio_hub *hub, int delta);
bool sio_hub_congested(struct sio_hub *hub);
/* Deferred work: fn(arg) runs before the loop next blocks. */
void sio_hub_defer(struct sio_hub *hub, void (*fn)(void *), void *arg);

#endif
