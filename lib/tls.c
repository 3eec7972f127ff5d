#include "tls.h"
#include "conn.h"
#include "hub.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct sio_tls {
	SSL_CTX *ctx;
};

/* One per TLS connection, hung off struct sio_conn. */
struct sio_tls_conn {
	SSL *ssl;
	ev_timer handshake;
	bool handshaken;
	bool read_wants_write;		/* SSL_read must be retried when writable */
	bool write_wants_read;		/* SSL_write must be retried when readable */
};

/*
 * Output is gathered from the queue into one record-sized buffer, so a
 * burst of small frames leaves as one TLS record and one write, not one
 * per frame. One buffer serves every connection: the loop is single
 * threaded and nothing stays in it between calls (a retried write is
 * gathered again from the same queue, which only grows at its tail).
 */
#define GATHER_MAX 16384
static unsigned char gather[GATHER_MAX];

static void
openssl_error(char *err, const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char why[160];

	if (e)
		ERR_error_string_n(e, why, sizeof why);
	else
		snprintf(why, sizeof why, "%s", strerror(errno));
	snprintf(err, SIO_ERRLEN, "%.60s %.80s: %.100s", what, file, why);
	ERR_clear_error();
}

struct sio_tls *
sio_tls_new(const char *cert_file, const char *key_file, char *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		openssl_error(err, "TLS:", "context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Renegotiation is a DoS lever and nothing we need; compression
	 * leaks secrets (CRIME). Browsers often close without close_notify:
	 * that is an ordinary end here, since HTTP and WebSocket frame
	 * their own messages. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Idle connections give their record buffers back: thousands of
	 * quiet sockets must not hold 34 KiB each. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		openssl_error(err, "cannot load the TLS certificate", cert_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		openssl_error(err, "cannot load the TLS key", key_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		openssl_error(err, "the TLS key does not match the certificate", key_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	struct sio_tls *t = sio_xcalloc(1, sizeof *t);
	t->ctx = ctx;
	return t;
}

void
sio_tls_free(struct sio_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

static void
handshake_timeout_cb(EV_P_ ev_timer *w, int revents)
{
	struct sio_conn *c = w->data;
	(void)EV_A;
	(void)revents;
	sio_log_info("%s: TLS handshake not done in time", c->peer);
	sio_conn_close(c, "TLS handshake timeout");
}

int
sio_tls_attach(struct sio_tls *t, struct sio_conn *c, double timeout)
{
	struct sio_tls_conn *tc = calloc(1, sizeof *tc);
	if (!tc)
		return SIO_ENOMEM;
	tc->ssl = SSL_new(t->ctx);
	if (!tc->ssl || SSL_set_fd(tc->ssl, c->fd) != 1) {
		SSL_free(tc->ssl);
		free(tc);
		ERR_clear_error();
		return SIO_ENOMEM;
	}
	SSL_set_accept_state(tc->ssl);
	ev_timer_init(&tc->handshake, handshake_timeout_cb, timeout, 0.);
	tc->handshake.data = c;
	ev_timer_start(sio_hub_loop(c->hub), &tc->handshake);
	c->tls = tc;
	return SIO_OK;
}

void
sio_tls_detach(struct sio_conn *c)
{
	struct sio_tls_conn *tc = c->tls;
	if (!tc)
		return;
	ev_timer_stop(sio_hub_loop(c->hub), &tc->handshake);
	SSL_free(tc->ssl);
	free(tc);
	c->tls = NULL;
}

static void
handshake_done(struct sio_conn *c)
{
	struct sio_tls_conn *tc = c->tls;
	tc->handshaken = true;
	ev_timer_stop(sio_hub_loop(c->hub), &tc->handshake);
	sio_log_debug("%s: %s, %s", c->peer, SSL_get_version(tc->ssl),
	    SSL_get_cipher_name(tc->ssl));
}

/*
 * A plain HTTP request on the TLS port gets a plain answer saying so,
 * as nginx does; it is written raw, since there is no TLS to speak.
 */
static void
refuse_plain_http(struct sio_conn *c)
{
	static const char msg[] =
	    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 37\r\nConnection: close\r\n\r\n"
	    "Plain HTTP request sent to TLS port.\n";
	ssize_t w = write(c->fd, msg, sizeof msg - 1);
	(void)w;	/* best effort: the connection closes either way */
}

ssize_t
sio_tls_read(struct sio_conn *c, void *buf, size_t n)
{
	struct sio_tls_conn *tc = c->tls;
	size_t got = 0;

	tc->read_wants_write = false;
	ERR_clear_error();
	int ok = SSL_read_ex(tc->ssl, buf, n, &got);
	if (!tc->handshaken && SSL_is_init_finished(tc->ssl))
		handshake_done(c);
	if (ok)
		return (ssize_t)got;
	int e = SSL_get_error(tc->ssl, ok);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return SIO_EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		tc->read_wants_write = true;
		ev_io_start(sio_hub_loop(c->hub), &c->wio);
		return SIO_EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;	/* close_notify */
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return SIO_EAGAIN;
			/* EOF without close_notify: a peer that just went away. */
			if (errno == 0)
				return 0;
			return SIO_ESYS;
		}
		break;
	default:
		break;
	}
	unsigned long err = ERR_peek_error();
	if (ERR_GET_REASON(err) == SSL_R_HTTP_REQUEST)
		refuse_plain_http(c);
	if (!tc->handshaken)
		sio_log_info("%s: TLS handshake failed: %s", c->peer,
		    err ? ERR_reason_error_string(err) : "connection reset");
	else
		sio_log_info("%s: TLS error: %s", c->peer,
		    err ? ERR_reason_error_string(err) : "connection reset");
	ERR_clear_error();
	return SIO_EPROTO;
}

bool
sio_tls_pending(const struct sio_conn *c)
{
	return c->tls && SSL_has_pending(c->tls->ssl);
}

bool
sio_tls_read_blocked(const struct sio_conn *c)
{
	return c->tls && c->tls->read_wants_write;
}

bool
sio_tls_write_blocked(const struct sio_conn *c)
{
	return c->tls && c->tls->write_wants_read;
}

int
sio_tls_flush(struct sio_conn *c)
{
	struct sio_tls_conn *tc = c->tls;

	tc->write_wants_read = false;
	while (!sio_outq_empty(&c->out)) {
		size_t n = sio_outq_gather(&c->out, gather, sizeof gather);
		size_t written = 0;
		ERR_clear_error();
		if (SSL_write_ex(tc->ssl, gather, n, &written)) {
			sio_outq_consume(&c->out, written);
			continue;
		}
		switch (SSL_get_error(tc->ssl, 0)) {
		case SSL_ERROR_WANT_WRITE:
			return SIO_EAGAIN;
		case SSL_ERROR_WANT_READ:
			tc->write_wants_read = true;
			return SIO_EAGAIN;
		default:
			ERR_clear_error();
			return SIO_ESYS;
		}
	}
	return SIO_OK;
}

void
sio_tls_shutdown(struct sio_conn *c)
{
	if (!c->tls || !c->tls->handshaken)
		return;
	ERR_clear_error();
	SSL_shutdown(c->tls->ssl);
	ERR_clear_error();
}

const char *
sio_tls_version(const struct sio_conn *c)
{
	return c->tls && c->tls->handshaken ? SSL_get_version(c->tls->ssl) : NULL;
}
