#include "pkt.h"
#include "conn.h"

#include <stdlib.h>
#include <string.h>

struct sio_pkt *
sio_pkt_new(bool binary, size_t len)
{
	struct sio_pkt *p = sio_xmalloc(sizeof *p + SIO_PKT_HEADROOM + len);
	p->refs = 1;
	p->len = (uint32_t)len;
	p->binary = binary;
	p->hlen = 0;
	p->b64 = NULL;
	return p;
}

struct sio_pkt *
sio_pkt_from(bool binary, const void *data, size_t len)
{
	struct sio_pkt *p = sio_pkt_new(binary, len);
	if (len)
		memcpy(sio_pkt_data(p), data, len);
	return p;
}

struct sio_pkt *
sio_pkt_text(char type, const void *body, size_t len)
{
	struct sio_pkt *p = sio_pkt_new(false, len + 1);
	sio_pkt_data(p)[0] = (uint8_t)type;
	if (len)
		memcpy(sio_pkt_data(p) + 1, body, len);
	return p;
}

void
sio_pkt_unref(struct sio_pkt *p)
{
	if (p && --p->refs == 0) {
		sio_rc_unref(p->b64);
		free(p);
	}
}

const uint8_t *
sio_pkt_ws_frame(struct sio_pkt *p, size_t *len)
{
	if (p->hlen == 0) {
		uint8_t hdr[SIO_PKT_HEADROOM];
		p->hlen = (uint8_t)sio_ws_frame_header(hdr, p->binary, sio_pkt_data(p), p->len);
		memcpy(p->buf + SIO_PKT_HEADROOM - p->hlen, hdr, p->hlen);
	}
	*len = p->hlen + (size_t)p->len;
	return p->buf + SIO_PKT_HEADROOM - p->hlen;
}

const uint8_t *
sio_pkt_poll_form(struct sio_pkt *p, size_t *len)
{
	if (!p->binary) {
		*len = p->len;
		return sio_pkt_data(p);
	}
	if (!p->b64) {
		struct sio_buf b = SIO_BUF_INIT;
		sio_buf_addc(&b, 'b');
		sio_base64_encode(&b, sio_pkt_data(p), p->len);
		p->b64 = sio_rc_from(b.data, b.len);
		sio_buf_free(&b);
	}
	*len = p->b64->len;
	return p->b64->data;
}
