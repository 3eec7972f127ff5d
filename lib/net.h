/*
 * net: listening sockets and the per-connection output queue.
 *
 * The output queue holds references, not copies: a broadcast's frame is
 * one shared buffer that every recipient's queue points into, and the
 * queue is flushed with writev. Entries own one reference each, released
 * once written or when the queue is cleared.
 */
#ifndef SIO_NET_H
#define SIO_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util.h"

struct sio_pkt;

enum sio_ref_kind {
	SIO_REF_STATIC,		/* bytes that live forever: no release */
	SIO_REF_RC,		/* a struct sio_rc */
	SIO_REF_PKT,		/* a struct sio_pkt (see pkt.h) */
};

struct sio_outref {
	const uint8_t *p;
	uint32_t len;
	uint8_t kind;
	void *ref;
};

struct sio_outq {
	struct sio_outref *v;
	uint32_t head;		/* first unwritten entry */
	uint32_t n;		/* entries in use, from 0 */
	uint32_t cap;
	size_t bytes;		/* unwritten bytes, for the output limits */
};

/* Appends an entry; the queue takes over one reference to ref. */
void sio_outq_push(struct sio_outq *q, const void *p, size_t len,
    enum sio_ref_kind kind, void *ref);
/* Copies p into a new private buffer and appends it. */
void sio_outq_copy(struct sio_outq *q, const void *p, size_t len);
/*
 * Writes as much as the socket takes with writev. Returns SIO_OK when
 * the queue is empty, SIO_EAGAIN when the socket is full, SIO_ESYS on a
 * write error (the connection is dead).
 */
int sio_outq_flush(struct sio_outq *q, int fd);
/* Drops the first n unwritten bytes (written by other means), releasing refs. */
void sio_outq_consume(struct sio_outq *q, size_t n);
/* Copies up to max unwritten bytes into buf, leaving the queue as it is. */
size_t sio_outq_gather(const struct sio_outq *q, void *buf, size_t max);
void sio_outq_clear(struct sio_outq *q);
static inline int sio_outq_empty(const struct sio_outq *q) { return q->head == q->n; }

void sio_ref_release(enum sio_ref_kind kind, void *ref);

/*
 * Opens a non-blocking listening TCP socket on host:port. On error
 * returns -1 with a message in err.
 */
int sio_net_listen_tcp(const char *host, int port, char *err);
/*
 * Opens a non-blocking listening Unix socket at path with the given
 * mode. A stale socket file (nobody accepting) is replaced; a live one
 * is not, and the call fails saying so.
 */
int sio_net_listen_unix(const char *path, unsigned mode, char *err);
int sio_net_nonblock(int fd);
/* "addr:port" or "[v6]:port" of the peer, into out (64 bytes). */
void sio_net_peer(int fd, char *out, size_t outlen);

#endif
