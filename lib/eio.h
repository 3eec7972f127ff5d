/*
 * eio: Engine.IO v4 sessions on one path. The open packet, HTTP
 * long-polling (GET/POST, \x1e payloads, "b" + base64 binary), WebSocket,
 * the polling -> websocket upgrade, server pings, maxPayload and close.
 *
 * The layer above (sio, or the echo endpoint) gets whole messages and
 * sends shared packets; it never sees a transport.
 */
#ifndef SIO_EIO_H
#define SIO_EIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sio_hub;
struct sio_conn;
struct sio_pkt;
struct sio_web_req;
struct sio_eio_server;
struct sio_eio_session;

struct sio_eio_handler {
	/* A session opened; the request is readable during the call only. */
	void (*on_open)(struct sio_eio_session *s, const struct sio_web_req *req,
	    void *srv_user);
	/* A message arrived: text without its "4", or binary bytes. */
	void (*on_message)(struct sio_eio_session *s, bool binary,
	    const uint8_t *p, size_t n, void *srv_user);
	/* The session is gone (once); reason as in the reference server. */
	void (*on_close)(struct sio_eio_session *s, const char *reason,
	    void *srv_user);
};

struct sio_eio_server *sio_eio_server_new(struct sio_hub *hub, const char *path,
    const struct sio_eio_handler *h, void *user);
void sio_eio_server_free(struct sio_eio_server *srv);
const char *sio_eio_server_path(const struct sio_eio_server *srv);
/* Answers an HTTP request or WebSocket upgrade routed to this path. */
void sio_eio_handle(struct sio_eio_server *srv, struct sio_conn *c);
/* Closes every session (shutdown). */
void sio_eio_close_all(struct sio_eio_server *srv, const char *reason);
size_t sio_eio_count(const struct sio_eio_server *srv);
/* Open sessions by their current transport. */
void sio_eio_count_transports(const struct sio_eio_server *srv, size_t *polling,
    size_t *websocket);

/*
 * Queues a message packet (made with sio_pkt_text('4', ...) or a binary
 * sio_pkt) for the session; takes over one reference. Returns SIO_OK,
 * SIO_ECLOSED, or SIO_ELIMIT when the session's output limit was hit
 * (the session is then closed as a slow consumer).
 */
int sio_eio_send(struct sio_eio_session *s, struct sio_pkt *p);
/* Server-side close for an error: queued output is dropped. on_close
 * follows at once with reason. */
void sio_eio_close(struct sio_eio_session *s, const char *reason);
/* Server-side close that lets queued output reach the client first. */
void sio_eio_close_graceful(struct sio_eio_session *s, const char *reason);
/* The upper layer's pointer for this session. */
void sio_eio_set_user(struct sio_eio_session *s, void *user);
void *sio_eio_user(const struct sio_eio_session *s);
const char *sio_eio_sid(const struct sio_eio_session *s);
const char *sio_eio_transport(const struct sio_eio_session *s);
const char *sio_eio_peer(const struct sio_eio_session *s);
/* Is the session's output over the high-water mark (volatile skips it)? */
bool sio_eio_congested(const struct sio_eio_session *s);

#endif
