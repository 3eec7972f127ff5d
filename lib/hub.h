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

enum sio_relay { SIO_RELAY_OFF, SIO_RELAY_ALL, SIO_RELAY_ROOMS };

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
	const char *ctl_path;		/* control socket; NULL: the default path */
	bool no_ctl;			/* no control socket at all */
	size_t max_header_bytes;
	int http_timeout;		/* ms: idle keep-alive and slow requests */
	size_t max_output;		/* bytes queued per connection before it is dropped */
	int shutdown_timeout;		/* ms */
};

void sio_hub_config_defaults(struct sio_hub_config *cfg);

struct sio_hub;
struct sio_conn;

/*
 * Creates a hub on the default loop: binds the listeners and the control
 * socket. Returns NULL with a message in err.
 */
struct sio_hub *sio_hub_new(const struct sio_hub_config *cfg, char *err);
/* Runs until SIGINT/SIGTERM and a graceful shutdown. Returns 0. */
int sio_hub_run(struct sio_hub *hub);
void sio_hub_free(struct sio_hub *hub);
/* Starts a graceful shutdown (as SIGTERM does). */
void sio_hub_stop(struct sio_hub *hub);

/* For the layers below: */
struct ev_loop *sio_hub_loop(struct sio_hub *hub);
const struct sio_hub_config *sio_hub_cfg(struct sio_hub *hub);
void sio_hub_schedule_flush(struct sio_hub *hub, struct sio_conn *c);
void sio_hub_bury(struct sio_hub *hub, struct sio_conn *c);
/* Routes a complete HTTP request (or upgrade) to its endpoint. */
void sio_hub_dispatch(struct sio_hub *hub, struct sio_conn *c);
/*
 * Back-pressure: eio counts sessions whose output is over the high-water
 * mark; control clients stop reading while any is, and resume when none.
 */
void sio_hub_congestion(struct sio_hub *hub, int delta);
bool sio_hub_congested(struct sio_hub *hub);
/* Deferred work: fn(arg) runs before the loop next blocks. */
void sio_hub_defer(struct sio_hub *hub, void (*fn)(void *), void *arg);

#endif
