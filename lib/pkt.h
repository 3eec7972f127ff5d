/*
 * pkt: one Engine.IO packet, encoded once and shared by every recipient.
 *
 * The bytes sit behind a small headroom so the WebSocket frame header can
 * be written in front of them once: all WebSocket recipients then write
 * the same contiguous frame, and polling recipients write the packet
 * bytes (text) or its "b<base64>" form, computed once on first need.
 * Reference-counted; the creator holds the first reference.
 */
#ifndef SIO_PKT_H
#define SIO_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SIO_PKT_HEADROOM 10	/* the longest server frame header */

struct sio_pkt {
	uint32_t refs;
	uint32_t len;		/* packet bytes: "4..." for text, raw for binary */
	uint8_t binary;
	uint8_t hlen;		/* WebSocket header length once framed, else 0 */
	struct sio_rc *b64;	/* "b<base64>" for polling, made on first need */
	uint8_t buf[];		/* SIO_PKT_HEADROOM bytes, then the packet */
};

/* New packet of len bytes (uninitialised) at sio_pkt_data(). */
struct sio_pkt *sio_pkt_new(bool binary, size_t len);
struct sio_pkt *sio_pkt_from(bool binary, const void *p, size_t len);
/* A text packet made of a type digit and a body: "4" + body. */
struct sio_pkt *sio_pkt_text(char type, const void *body, size_t len);
static inline uint8_t *sio_pkt_data(struct sio_pkt *p) { return p->buf + SIO_PKT_HEADROOM; }
static inline struct sio_pkt *sio_pkt_ref(struct sio_pkt *p) { p->refs++; return p; }
void sio_pkt_unref(struct sio_pkt *p);

/* The WebSocket frame (header + payload); frames on first call. */
const uint8_t *sio_pkt_ws_frame(struct sio_pkt *p, size_t *len);
/* The polling form: the text packet as is, or "b<base64>" of a binary one. */
const uint8_t *sio_pkt_poll_form(struct sio_pkt *p, size_t *len);

#endif
