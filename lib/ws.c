/*
 * ws: RFC 6455 on a connection. The handshake uses OpenSSL's SHA-1 and
 * base64; wslay parses client frames (masking, fragments, control
 * frames, the close handshake, the message size limit) and writes the
 * control frames it owes the peer.
 *
 * Data frames do not go through wslay's send queue, which copies every
 * message: sio_pkt keeps its payload behind a headroom where the frame
 * header (produced once by wslay_frame_send) is written, so every
 * recipient of a broadcast writes the same bytes.
 */
#include "conn.h"
#include "hub.h"
#include "log.h"
#include "pkt.h"

#include <stdint.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include <openssl/sha.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---- frame headers through wslay ------------------------------------- */

struct header_sink {
	uint8_t *out;
	size_t len;
	bool header_done;
};

static ssize_t
header_sink_send(const uint8_t *data, size_t len, int flags, void *user)
{
	struct header_sink *s = user;
	(void)flags;
	/* wslay hands over the header first, then the payload, which already
	 * sits where it belongs and is not copied. */
	if (!s->header_done) {
		memcpy(s->out, data, len);
		s->len = len;
		s->header_done = true;
	}
	return (ssize_t)len;
}

size_t
sio_ws_frame_header(uint8_t *out, bool binary, const uint8_t *payload, size_t len)
{
	static wslay_frame_context_ptr fctx;
	static struct header_sink sink;
	static const struct wslay_frame_callbacks cbs = { header_sink_send, NULL, NULL };

	if (!fctx && wslay_frame_context_init(&fctx, &cbs, &sink) != 0)
		abort();
	sink.out = out;
	sink.len = 0;
	sink.header_done = false;
	struct wslay_frame_iocb iocb = {
		.fin = 1,
		.opcode = binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME,
		.payload_length = len,
		.data = payload,
		.data_length = len,
	};
	/* The sink takes everything at once, so one call ends the frame and
	 * leaves the context ready for the next. */
	if (wslay_frame_send(fctx, &iocb) < 0 || sink.len == 0)
		abort();
	return sink.len;
}

/* ---- handshake --------------------------------------------------------- */

static bool
header_has_token(const char *v, const char *token)
{
	size_t tl = strlen(token);
	while (v && *v) {
		while (*v == ' ' || *v == ',' || *v == '\t')
			v++;
		const char *end = v;
		while (*end && *end != ',')
			end++;
		const char *e = end;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - v) == tl && strncasecmp(v, token, tl) == 0)
			return true;
		v = end;
	}
	return false;
}

bool
sio_ws_is_upgrade(const struct sio_web_req *r)
{
	const char *up = sio_web_header(r, "upgrade");
	return up && strcasecmp(up, "websocket") == 0;
}

/* ---- wslay event callbacks --------------------------------------------- */

/*
 * The length of the frame that starts at p (header and payload), or 0
 * while its header is incomplete. Only the lengths are read, so that wslay
 * is handed whole frames' worth of bytes and never holds a part of one
 * when the input runs dry; checking the frame is wslay's work.
 */
static uint64_t
frame_length(const uint8_t *p, size_t n)
{
	if (n < 2)
		return 0;
	size_t hl = 2 + ((p[1] & 0x80) ? 4 : 0);
	uint64_t len = p[1] & 0x7f;
	if (len == 126) {
		hl += 2;
		if (n < hl)
			return 0;
		len = sio_be_uint(p + 2, 2);
	} else if (len == 127) {
		hl += 8;
		if (n < hl)
			return 0;
		len = sio_be_uint(p + 2, 8);
		/* wslay refuses a length with the top bit set; let it see one */
		if (len > UINT64_MAX / 2)
			len = UINT64_MAX / 2;
	}
	if (n < hl)
		return 0;
	return hl + len;
}

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *user)
{
	struct sio_conn *c = user;
	(void)flags;
	if (c->ws_left == 0 && !c->closed)
		c->ws_left = frame_length((const uint8_t *)c->in.data, c->in.len);
	if (c->ws_left == 0 || c->in.len == 0 || c->closed) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	size_t n = len < c->in.len ? len : c->in.len;
	if (n > c->ws_left)
		n = (size_t)c->ws_left;
	memcpy(buf, c->in.data, n);
	sio_buf_consume(&c->in, n);
	c->ws_left -= n;
	return (ssize_t)n;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *user)
{
	struct sio_conn *c = user;
	(void)ctx;
	(void)flags;
	sio_outq_copy(&c->out, data, len);
	return (ssize_t)len;
}

/*
 * wslay keeps a chunk per frame until a message is whole, so a message in
 * a flood of tiny fragments could pin far more memory than its bytes.
 */
static void
ws_frame_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_frame_recv_start_arg *arg,
    void *user)
{
	struct sio_conn *c = user;

	if (wslay_is_ctrl_frame(arg->opcode))
		return;
	c->ws_frames = arg->opcode == WSLAY_CONTINUATION_FRAME ? c->ws_frames + 1 : 1;
	c->ws_midmsg = !arg->fin;
	if (c->ws_frames > sio_hub_cfg(c->hub)->max_fragments && !c->close_after_flush) {
		sio_log_info("%s: more than %u fragments in one message", c->peer,
		    sio_hub_cfg(c->hub)->max_fragments);
		wslay_event_queue_close(ctx, WSLAY_CODE_MESSAGE_TOO_BIG, NULL, 0);
		wslay_event_shutdown_read(ctx);
		c->close_after_flush = true;
	}
}

static void
ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
    void *user)
{
	struct sio_conn *c = user;

	if (c->closed || c->close_after_flush)
		return;
	if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
		return;
	if (arg->opcode == WSLAY_TEXT_FRAME && !sio_utf8_valid(arg->msg, arg->msg_length)) {
		sio_log_info("%s: invalid UTF-8 in a text frame", c->peer);
		wslay_event_queue_close(ctx, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA, NULL, 0);
		wslay_event_shutdown_read(ctx);
		c->close_after_flush = true;
		return;
	}
	if (c->on_ws_message)
		c->on_ws_message(c, arg->opcode == WSLAY_BINARY_FRAME, arg->msg, arg->msg_length);
}

int
sio_ws_accept(struct sio_conn *c, size_t max_msg)
{
	const char *key = sio_web_header(&c->req, "sec-websocket-key");
	const char *ver = sio_web_header(&c->req, "sec-websocket-version");
	const char *conn = sio_web_header(&c->req, "connection");
	unsigned char digest[SHA_DIGEST_LENGTH];
	struct sio_buf b = SIO_BUF_INIT;

	if (c->req.method != HTTP_GET || !key || strlen(key) != 24 || !ver ||
	    strcmp(ver, "13") != 0 || !header_has_token(conn, "upgrade"))
		return SIO_EPROTO;

	sio_buf_adds(&b, key);
	sio_buf_adds(&b, ws_guid);
	SHA1((const unsigned char *)b.data, b.len, digest);
	sio_buf_reset(&b);
	sio_buf_adds(&b, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
	sio_base64_encode(&b, digest, sizeof digest);
	sio_buf_adds(&b, "\r\n\r\n");
	sio_outq_copy(&c->out, b.data, b.len);
	sio_buf_free(&b);

	c->ws_max = max_msg;
	c->mode = SIO_CONN_WS;
	c->busy = false;
	c->parked = false;
	sio_conn_want_flush(c);
	return SIO_OK;
}

/*
 * wslay's contexts cost about 8.6 KB a connection (a 4 KiB buffer in each
 * of the event and frame contexts), more than everything else an idle
 * connection holds. So a connection has one only while wslay has
 * something to keep: a frame not yet whole, a fragmented message, a
 * control frame to write, a close under way. The price is a context set
 * up and freed around each burst of input (two allocations, about 9 KB
 * zeroed).
 */
static int
ws_ctx(struct sio_conn *c)
{
	static const struct wslay_event_callbacks cbs = {
		.recv_callback = ws_recv_cb,
		.send_callback = ws_send_cb,
		.on_frame_recv_start_callback = ws_frame_cb,
		.on_msg_recv_callback = ws_msg_cb,
	};
	if (c->ws)
		return SIO_OK;
	if (wslay_event_context_server_init(&c->ws, &cbs, c) != 0)
		return SIO_ENOMEM;
	wslay_event_config_set_max_recv_msg_length(c->ws, c->ws_max);
	return SIO_OK;
}

static void
ws_ctx_release_if_idle(struct sio_conn *c)
{
	if (c->ws && c->ws_left == 0 && !c->ws_midmsg && !c->close_after_flush &&
	    !c->closed && wslay_event_get_read_enabled(c->ws) &&
	    !wslay_event_want_write(c->ws) && !wslay_event_get_close_received(c->ws) &&
	    !wslay_event_get_close_sent(c->ws)) {
		wslay_event_context_free(c->ws);
		c->ws = NULL;
	}
}

void
sio_ws_process(struct sio_conn *c)
{
	if (c->mode != SIO_CONN_WS || c->closed)
		return;
	if (ws_ctx(c) != SIO_OK) {
		sio_conn_close(c, "transport error");
		return;
	}
	if (wslay_event_get_read_enabled(c->ws) && c->in.len > 0) {
		int rc = wslay_event_recv(c->ws);
		if (rc == WSLAY_ERR_NOMEM) {
			sio_conn_close(c, "transport error");
			return;
		}
		if (rc != 0) {
			/* A frame wslay refuses (it reports some as a callback
			 * failure, though ours cannot fail, and may have queued a
			 * codeless close): say 1002 before the FIN, as RFC 6455
			 * 7.1.7 asks, written here since wslay will not. */
			static const char close_1002[] = "\x88\x02\x03\xea";
			sio_log_info("%s: WebSocket protocol error", c->peer);
			wslay_event_shutdown_read(c->ws);
			wslay_event_shutdown_write(c->ws);
			sio_buf_reset(&c->in);
			sio_outq_push(&c->out, close_1002, 4, SIO_REF_STATIC, NULL);
			c->close_after_flush = true;
			sio_conn_want_flush(c);
			return;
		}
	}
	if (c->closed)
		return;
	if (!wslay_event_get_read_enabled(c->ws))
		sio_buf_reset(&c->in);	/* nothing more is read after a close */
	if (wslay_event_want_write(c->ws))
		wslay_event_send(c->ws);
	if (wslay_event_get_close_received(c->ws) || !wslay_event_get_read_enabled(c->ws))
		c->close_after_flush = true;
	ws_ctx_release_if_idle(c);
	sio_conn_want_flush(c);
}

void
sio_ws_send(struct sio_conn *c, struct sio_pkt *p)
{
	size_t len;
	const uint8_t *f = sio_pkt_ws_frame(p, &len);

	if (c->closed || c->close_after_flush) {
		sio_pkt_unref(p);
		return;
	}
	sio_outq_push(&c->out, f, len, SIO_REF_PKT, p);
	sio_conn_want_flush(c);
}

void
sio_ws_close(struct sio_conn *c, uint16_t code)
{
	if (c->closed || c->close_after_flush || c->mode != SIO_CONN_WS)
		return;
	if (ws_ctx(c) != SIO_OK) {
		sio_conn_close(c, "transport error");
		return;
	}
	wslay_event_queue_close(c->ws, code, NULL, 0);
	wslay_event_send(c->ws);
	c->close_after_flush = true;
	sio_conn_want_flush(c);
}
