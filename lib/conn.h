/*
 * conn: one client TCP connection, shared by the layers that take turns
 * on it: web (HTTP requests, long-polls), then ws after an upgrade. The
 * layer above (eio) sees it through the hooks at the bottom.
 *
 * Lifetime: a connection is never freed inside one of its own callbacks.
 * sio_conn_close() closes the fd at once and hands the struct to the
 * hub's reaper, which frees it before the loop next blocks.
 */
#ifndef SIO_CONN_H
#define SIO_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>
#include <http_parser.h>
#include <wslay/wslay.h>

#include "net.h"
#include "util.h"

struct sio_hub;
struct sio_eio_session;
struct sio_pkt;
struct sio_ctl_client;
struct sio_tls_conn;
struct sio_ipslot;

enum sio_conn_mode { SIO_CONN_HTTP, SIO_CONN_WS, SIO_CONN_CTL };

/* A parsed HTTP request; headers are kept as lower-case "name\0value\0". */
struct sio_web_req {
	unsigned method;		/* enum http_method */
	struct sio_buf url;
	struct sio_buf headers;
	struct sio_buf body;
	size_t header_bytes;
	unsigned nheaders;
	bool field_done;		/* the last header callback was a value */
	bool complete;
	bool keep_alive;
	bool too_large;			/* body over the limit: answer 413 */
	bool bad_version;		/* not HTTP/1.0 or 1.1: answer 505 */
	bool too_many_headers;		/* over max_headers: answer 431 */
	char *path;			/* decoded path, owned */
	char *query;			/* raw query string (no '?'), owned */
};

struct sio_conn {
	ev_io rio, wio;
	ev_timer timer;
	int fd;
	enum sio_conn_mode mode;
	struct sio_hub *hub;
	char peer[64];

	bool closed;
	bool close_after_flush;
	bool write_pending;		/* on the hub's flush list */
	bool blocked;			/* output waits for the socket (counted by the hub) */
	bool reading_paused;
	struct sio_conn *next_pending;	/* hub flush list */
	struct sio_conn *next_dead;	/* hub reaper list */

	struct sio_tls_conn *tls;	/* TLS state (tls.c), or NULL for plain TCP */
	struct sio_ipslot *ipslot;	/* the hub's count for the peer's address */
	struct sio_buf in;		/* read but not yet consumed */
	struct sio_outq out;

	/* web */
	http_parser parser;
	struct sio_web_req req;
	bool parked;			/* a long-poll GET waits for packets */
	bool busy;			/* a request is being answered */
	bool resume_pending;		/* pipelined input waits for the loop */

	/* ws */
	wslay_event_context_ptr ws;	/* only while wslay holds state (ws.c) */
	uint64_t ws_left;		/* bytes of the current frame not yet given to wslay */
	size_t ws_max;			/* the largest message */
	uint32_t ws_frames;		/* frames of the message being received */
	bool ws_midmsg;			/* a fragmented message is under way */

	/* a control-socket client (ctl.c) */
	struct sio_ctl_client *ctl;

	/* the Engine.IO session this connection serves (polling or ws) */
	struct sio_eio_session *session;
	/* Called for each complete WebSocket message. */
	void (*on_ws_message)(struct sio_conn *c, bool binary,
	    const uint8_t *p, size_t n);
	/* Called once when the connection closes, whatever the cause. */
	void (*on_close)(struct sio_conn *c, const char *reason);
	/* Called when the output queue has been written out completely. */
	void (*on_drain)(struct sio_conn *c);
};

/* Creates a connection for an accepted fd and starts reading. */
struct sio_conn *sio_conn_new(struct sio_hub *hub, int fd);
/* Same, for an HTTP client (the idle timer starts now). */
struct sio_conn *sio_conn_new_http(struct sio_hub *hub, int fd);
/* Same, for a control-socket client. */
struct sio_conn *sio_conn_new_ctl(struct sio_hub *hub, int fd);
/* ctl.c: feed read bytes through the control protocol. */
void sio_ctl_process(struct sio_conn *c);
/* Closes now (idempotent); reason is logged at debug level. */
void sio_conn_close(struct sio_conn *c, const char *reason);
/* Queues bytes or packets, then asks for a flush before the loop blocks. */
void sio_conn_want_flush(struct sio_conn *c);
/* Writes what it can now; closes the connection on a write error. */
void sio_conn_flush(struct sio_conn *c);
void sio_conn_free(struct sio_conn *c);
void sio_conn_pause_reading(struct sio_conn *c, bool pause);

/* web.c: a new HTTP connection: parser ready, idle timer running. */
void sio_web_start(struct sio_conn *c);
/* web.c: feed read bytes through the HTTP parser. */
void sio_web_process(struct sio_conn *c);
/* web.c: a parked long-poll was answered; go on with pipelined input. */
void sio_web_resume(struct sio_conn *c);
void sio_web_req_reset(struct sio_web_req *r);
/* Resets and frees the request's buffers: a WebSocket needs them no more. */
void sio_web_req_release(struct sio_web_req *r);
/* Header value by lower-case name, or NULL. */
const char *sio_web_header(const struct sio_web_req *r, const char *name);
/*
 * Query parameter (decoded) into out (outlen bytes); returns false when
 * absent. A value that does not fit is truncated and reported absent.
 */
bool sio_web_query(const struct sio_web_req *r, const char *name, char *out, size_t outlen);
/* Is the query parameter there at all (even with a value too long)? */
bool sio_web_query_present(const struct sio_web_req *r, const char *name);
/*
 * Percent-decodes s[0..n) into out; '+' is a space when plus_space (query
 * strings), itself in paths. False if it does not fit.
 */
bool sio_web_url_decode(const char *s, size_t n, bool plus_space, char *out,
    size_t outlen);
/*
 * Writes a complete response. extra_headers holds whole "Name: v\r\n"
 * lines or is NULL. The body is copied.
 */
void sio_web_respond(struct sio_conn *c, int status, const char *ctype,
    const char *extra_headers, const void *body, size_t len);
/* Writes the response head only; the caller queues exactly len body bytes. */
void sio_web_respond_head(struct sio_conn *c, int status, const char *ctype,
    const char *extra_headers, size_t len);
/* Ends a response: keep-alive or close, then go on with the next request. */
void sio_web_response_done(struct sio_conn *c);

/* ws.c */
bool sio_ws_is_upgrade(const struct sio_web_req *r);
/* Answers 101 and switches the connection to WebSocket. SIO_OK or error. */
int sio_ws_accept(struct sio_conn *c, size_t max_msg);
void sio_ws_process(struct sio_conn *c);
void sio_ws_send(struct sio_conn *c, struct sio_pkt *p);	/* takes a ref */
void sio_ws_close(struct sio_conn *c, uint16_t code);
/* Writes the server frame header for a payload into out; returns its length. */
size_t sio_ws_frame_header(uint8_t *out, bool binary, const uint8_t *payload,
    size_t len);

#endif
