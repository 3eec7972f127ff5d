/*
 * tls: OpenSSL 3 under the hub's client connections (https polling and
 * wss). A context holds one certificate chain and key and speaks TLS 1.2
 * and 1.3 only. SIGHUP builds a fresh context that new connections take,
 * while each live connection keeps the one it was accepted with (OpenSSL
 * counts the references), so a reload never drops anyone.
 *
 * The connection keeps conn.c's shape: sio_tls_read() stands in for
 * read() and sio_tls_flush() for sio_outq_flush(). The handshake runs
 * inside the first reads, and a peer that has not finished it within the
 * handshake timeout is closed, whatever it sent (a plaintext client that
 * waits for the server to speak, a stalled or trickled handshake).
 */
#ifndef SIO_TLS_H
#define SIO_TLS_H

#include <stdbool.h>
#include <sys/types.h>

struct sio_conn;
struct sio_tls;

/*
 * Loads a PEM certificate chain and its private key. Returns a context
 * the caller frees with sio_tls_free(), or NULL with a message in err.
 */
struct sio_tls *sio_tls_new(const char *cert_file, const char *key_file, char *err);
/* Drops the caller's reference; connections accepted with it keep theirs. */
void sio_tls_free(struct sio_tls *t);

/*
 * Puts a freshly accepted connection under TLS; the handshake must be
 * done within timeout seconds. SIO_OK or SIO_ENOMEM.
 */
int sio_tls_attach(struct sio_tls *t, struct sio_conn *c, double timeout);
/* Frees the connection's TLS state (the fd is the connection's). */
void sio_tls_detach(struct sio_conn *c);

/*
 * Reads decrypted bytes: > 0 bytes read, 0 the peer closed, SIO_EAGAIN
 * nothing yet (the handshake may be under way), SIO_EPROTO / SIO_ESYS
 * the connection is dead (already logged once, naming the reason).
 */
ssize_t sio_tls_read(struct sio_conn *c, void *buf, size_t n);
/* Decrypted bytes held inside OpenSSL that the socket will not signal. */
bool sio_tls_pending(const struct sio_conn *c);
/*
 * OpenSSL may need the other direction before it can go on: a read that
 * waits for the socket to take handshake bytes, a write that waits for
 * input. conn.c retries the blocked call when that direction is ready.
 */
bool sio_tls_read_blocked(const struct sio_conn *c);
bool sio_tls_write_blocked(const struct sio_conn *c);
/* Writes the connection's output queue; returns as sio_outq_flush(). */
int sio_tls_flush(struct sio_conn *c);
/* Sends close_notify if the socket takes it now; never blocks. */
void sio_tls_shutdown(struct sio_conn *c);
/* The negotiated protocol ("TLSv1.3"), or NULL before the handshake. */
const char *sio_tls_version(const struct sio_conn *c);

#endif
