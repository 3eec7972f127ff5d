/*
 * ctl: the control protocol, one JSON object per line over a Unix stream
 * socket. The server side lives in the hub (emit, subscribe, reply, room
 * operations); the client side (sio_ctl_connect and the line reader) is
 * what the tools link. man/sio.7 documents every request and answer.
 *
 * Payloads cross it unchanged: "data" arrays are copied byte for byte
 * between client packets and control lines, never through a JSON value
 * type. Binary values travel as {"_binary":"<base64>"}.
 */
#ifndef SIO_CTL_H
#define SIO_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct sio_hub;
struct sio_server;
struct sio_ctl;
struct sio_json;

/* ---- server side (in the hub) ---------------------------------------------- */

/*
 * Listens on path (its directory is created 0700 when missing). A live
 * hub on the same path is never clobbered. Returns NULL with err set.
 */
struct sio_ctl *sio_ctl_new(struct sio_hub *hub, struct sio_server *srv,
    const char *path, char *err);
/* Stops listening and removes the socket file. */
void sio_ctl_free(struct sio_ctl *ctl);
/* Control clients connected, and how many of them subscribe. */
void sio_ctl_counts(const struct sio_ctl *ctl, size_t *clients, size_t *subscribers);
/* Resumes control clients paused for back-pressure (hub: output drained). */
void sio_ctl_resume(struct sio_ctl *ctl);
/*
 * A listener line from another hub of the cluster (redis.h): goes to the
 * subscribers that asked for "cluster":true. arg is the struct sio_ctl.
 */
void sio_ctl_cluster_line(void *arg, const char *line, size_t len);

/* ---- client side (the tools) ------------------------------------------------ */

/*
 * The socket path: explicit (may be NULL), else $SIO_SOCKET, else
 * $XDG_RUNTIME_DIR/sio/hub.sock, else /tmp/sio-$UID/hub.sock. Returns a
 * string the caller frees.
 */
char *sio_ctl_path(const char *explicit_path);
/* Is path the built-in default (the hub then checks its directory)? */
bool sio_ctl_path_is_builtin(const char *path);

struct sio_ctl_conn {
	int fd;
	struct sio_buf in;
	size_t scan;		/* bytes of in already searched for '\n' */
	char *parting;		/* the hub's last word before it closed, owned */
};

/*
 * Connects to the hub. Returns SIO_OK, or SIO_ESYS with a message in err
 * naming the path and the cause (the hub is not running, ...).
 */
int sio_ctl_connect(struct sio_ctl_conn *c, const char *path, char *err);
void sio_ctl_close(struct sio_ctl_conn *c);
/*
 * Why the hub closed: the message of its last unrequested error line
 * (such as a refusal of this user), else "the hub went away".
 */
const char *sio_ctl_gone(const struct sio_ctl_conn *c);
/* Writes all of p (blocking). SIO_OK or SIO_ESYS. */
int sio_ctl_write(struct sio_ctl_conn *c, const void *p, size_t n);
/*
 * Reads the next line (without its newline) into line and len, valid until the
 * next call. timeout_ms < 0 waits forever. Returns SIO_OK, SIO_EAGAIN on
 * timeout, SIO_ECLOSED when the hub went away, SIO_ESYS on error.
 */
int sio_ctl_read_line(struct sio_ctl_conn *c, int timeout_ms, const char **line,
    size_t *len);

/*
 * Sends one request line (with its newline) and waits up to timeout_ms
 * for the answer: the next line carrying an "id". The answer is copied
 * to *answer. Returns SIO_OK, SIO_EAGAIN (no answer in time),
 * SIO_ECLOSED or SIO_ESYS, with a message in err.
 */
int sio_ctl_request(struct sio_ctl_conn *c, const char *line, size_t len,
    int timeout_ms, struct sio_buf *answer, char *err);

/* What sio-emit's options say, for lines that leave it out. */
struct sio_emit_defaults {
	const char *nsp;		/* NULL: "/" */
	const char *const *to;
	size_t nto;
	const char *const *except;
	size_t nexcept;
	bool is_volatile;
	bool ack;
	long long timeout_ms;
};

/*
 * Turns one input line into a control request (newline included),
 * appended to out. The line is an event object {"event":..,"data":[..],
 * "to":[..],"except":[..],"nsp":..,"volatile":..} or a reply
 * {"reply":HANDLE,"data":[..]}; the defaults fill what it leaves out, and
 * its bytes are copied, not re-encoded. id (raw JSON, may be NULL) is
 * added. Returns SIO_OK, or SIO_EPROTO with the reason in err.
 */
int sio_ctl_input_line(struct sio_buf *out, struct sio_json *doc, const char *line,
    size_t len, const struct sio_emit_defaults *d, const char *id, char *err);
/* Appends ["a","b"] for a list of C strings. */
void sio_json_add_strv(struct sio_buf *b, const char *const *v, size_t n);

#endif
