#include "conn.h"
#include "hub.h"
#include "log.h"
#include "stats.h"
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A connection reads this much at a time and holds at most in_limit. */
#define READ_CHUNK 16384
/*
 * A control client reads more at a time: each read's lines are handled
 * in one go, so a bigger read batches more events per recipient write.
 */
#define CTL_READ_CHUNK (256u << 10)

/*
 * Every connection reads into this one buffer, and keeps a buffer of its
 * own only for bytes a layer left unconsumed (a partial frame, a request
 * that waits): an idle connection then holds no input buffer at all,
 * instead of 16 KiB each. One thread, and a read is handled before the
 * next starts, so sharing is safe; a layer never appends to c->in.
 */
static char shared_in[CTL_READ_CHUNK + 1];

static size_t
in_limit(struct sio_conn *c)
{
	const struct sio_hub_config *cfg = sio_hub_cfg(c->hub);
	if (c->mode == SIO_CONN_CTL)	/* ctl.c refuses longer lines itself */
		return sio_hub_max_control_line(cfg) + 2 * READ_CHUNK;
	return cfg->max_payload + cfg->max_header_bytes + READ_CHUNK;
}

static ssize_t
conn_recv(struct sio_conn *c, void *buf, size_t n)
{
	if (c->tls)
		return sio_tls_read(c, buf, n);
	ssize_t r = read(c->fd, buf, n);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ?
		    SIO_EAGAIN : SIO_ESYS;
	return r;
}

/* After a read: what the layers left in the shared buffer moves to one
 * of the connection's own, sized to fit. */
static void
keep_leftover(struct sio_conn *c)
{
	if (c->in.data != shared_in)
		return;
	struct sio_buf own = SIO_BUF_INIT;
	if (c->in.len > 0)
		sio_buf_add(&own, c->in.data, c->in.len);
	c->in = own;
}

static void
conn_read(struct sio_conn *c)
{
	if (c->in.len >= in_limit(c)) {
		/* The layer above is not consuming: stop reading (back-pressure). */
		sio_conn_pause_reading(c, true);
		return;
	}
	size_t chunk = c->mode == SIO_CONN_CTL ? CTL_READ_CHUNK : READ_CHUNK;
	if (c->in.len == 0) {
		sio_buf_free(&c->in);
		c->in = (struct sio_buf){ shared_in, 0, sizeof shared_in };
	} else {
		sio_buf_reserve(&c->in, chunk);
	}
	ssize_t r = conn_recv(c, c->in.data + c->in.len, chunk);
	if (r <= 0) {
		keep_leftover(c);
		if (r != SIO_EAGAIN)
			sio_conn_close(c, r == 0 ? "transport close" : "transport error");
		return;
	}
	c->in.len += (size_t)r;
	c->in.data[c->in.len] = '\0';
	if (c->mode != SIO_CONN_CTL)
		sio_hub_stats(c->hub)->bytes_in += (uint64_t)r;
	if (c->mode == SIO_CONN_HTTP)
		sio_web_process(c);
	else if (c->mode == SIO_CONN_WS)
		sio_ws_process(c);
	else
		sio_ctl_process(c);
	keep_leftover(c);
	/* TLS may hold decrypted bytes the socket will never signal again. */
	if (!c->closed && !c->reading_paused && sio_tls_pending(c))
		ev_feed_event(sio_hub_loop(c->hub), &c->rio, EV_READ);
}

static void
conn_read_cb(EV_P_ ev_io *w, int revents)
{
	struct sio_conn *c = SIO_CONTAINER_OF(w, struct sio_conn, rio);
	(void)EV_A;
	(void)revents;

	if (sio_tls_write_blocked(c))
		sio_conn_flush(c);
	if (!c->closed)
		conn_read(c);
}

static void
conn_write_cb(EV_P_ ev_io *w, int revents)
{
	struct sio_conn *c = SIO_CONTAINER_OF(w, struct sio_conn, wio);
	(void)EV_A;
	(void)revents;
	if (sio_tls_read_blocked(c))
		conn_read(c);
	sio_conn_flush(c);
}

struct sio_conn *
sio_conn_new(struct sio_hub *hub, int fd)
{
	struct sio_conn *c = sio_xcalloc(1, sizeof *c);
	struct ev_loop *loop = sio_hub_loop(hub);

	c->fd = fd;
	c->hub = hub;
	c->mode = SIO_CONN_HTTP;
	sio_net_peer(fd, c->peer, sizeof c->peer);
	ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
	ev_io_start(loop, &c->rio);
	return c;
}

struct sio_conn *
sio_conn_new_http(struct sio_hub *hub, int fd)
{
	struct sio_conn *c = sio_conn_new(hub, fd);
	sio_web_start(c);
	return c;
}

struct sio_conn *
sio_conn_new_ctl(struct sio_hub *hub, int fd)
{
	struct sio_conn *c = sio_conn_new(hub, fd);
	c->mode = SIO_CONN_CTL;
	snprintf(c->peer, sizeof c->peer, "control client %d", fd);
	return c;
}

void
sio_conn_pause_reading(struct sio_conn *c, bool pause)
{
	if (c->closed || pause == c->reading_paused)
		return;
	c->reading_paused = pause;
	if (pause) {
		ev_io_stop(sio_hub_loop(c->hub), &c->rio);
	} else {
		ev_io_start(sio_hub_loop(c->hub), &c->rio);
		if (sio_tls_pending(c))
			ev_feed_event(sio_hub_loop(c->hub), &c->rio, EV_READ);
	}
}

void
sio_conn_want_flush(struct sio_conn *c)
{
	if (!c->closed)
		sio_hub_schedule_flush(c->hub, c);
}

/* A shutdown waits for client connections whose output is not yet out. */
static void
set_blocked(struct sio_conn *c, bool blocked)
{
	if (c->blocked == blocked || c->mode == SIO_CONN_CTL)
		return;
	c->blocked = blocked;
	sio_hub_blocked(c->hub, blocked ? 1 : -1);
}

void
sio_conn_flush(struct sio_conn *c)
{
	struct ev_loop *loop = sio_hub_loop(c->hub);

	if (c->closed)
		return;
	size_t before = c->out.bytes;
	int rc = c->tls ? sio_tls_flush(c) : sio_outq_flush(&c->out, c->fd);
	if (c->mode != SIO_CONN_CTL)
		sio_hub_stats(c->hub)->bytes_out += before - c->out.bytes;
	if (rc == SIO_EAGAIN) {
		ev_io_start(loop, &c->wio);
		set_blocked(c, true);
		return;
	}
	set_blocked(c, false);
	if (!sio_tls_read_blocked(c))
		ev_io_stop(loop, &c->wio);
	if (rc != SIO_OK) {
		sio_conn_close(c, "transport error");
		return;
	}
	if (c->on_drain)
		c->on_drain(c);
	if (c->close_after_flush) {
		/* Let the peer see our last bytes before the FIN. */
		sio_tls_shutdown(c);
		shutdown(c->fd, SHUT_WR);
		sio_conn_close(c, "closed");
	}
}

void
sio_conn_close(struct sio_conn *c, const char *reason)
{
	struct ev_loop *loop = sio_hub_loop(c->hub);

	if (c->closed)
		return;
	c->closed = true;
	set_blocked(c, false);
	ev_io_stop(loop, &c->rio);
	ev_io_stop(loop, &c->wio);
	ev_timer_stop(loop, &c->timer);
	sio_log_debug("%s: connection closed (%s)", c->peer, reason);
	if (c->ipslot)
		sio_hub_conn_gone(c->hub, c);
	if (c->on_close)
		c->on_close(c, reason);
	close(c->fd);
	c->fd = -1;
	sio_hub_bury(c->hub, c);
}

void
sio_conn_free(struct sio_conn *c)
{
	sio_outq_clear(&c->out);
	sio_buf_free(&c->in);
	sio_web_req_reset(&c->req);
	sio_buf_free(&c->req.url);
	sio_buf_free(&c->req.headers);
	sio_buf_free(&c->req.body);
	if (c->ws)
		wslay_event_context_free(c->ws);
	sio_tls_detach(c);
	free(c);
}
