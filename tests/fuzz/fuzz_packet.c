/*
 * fuzz_packet: sio_packet_parse on the input as a Socket.IO v5 packet
 * (the maxdepth the hub uses); a packet that parses is encoded again with
 * sio_packet_encode and the result must parse to the same fields (type,
 * attachments, namespace, ack id, payload bytes). Built by run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "packet.h"
#include "pkt.h"
#include "util.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_packet: %s:%d: check failed: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

#define MAXDEPTH 1000	/* as lib/sio.c */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sio_json doc = SIO_JSON_INIT, doc2 = SIO_JSON_INIT;

static int
inside(const char *p, size_t n, const char *text, size_t len)
{
	return p >= text && p + n <= text + len;
}

/* The payload's shape is what the packet type requires. */
static void
check_shape(const struct sio_packet *p, const struct sio_json *d, const char *text)
{
	const struct sio_json_tok *t = d->tok;

	switch (p->type) {
	case SIO_PACKET_CONNECT:
		CHECK(!p->data || (d->n > 0 && t[0].type == SIO_JSON_OBJECT));
		break;
	case SIO_PACKET_DISCONNECT:
		CHECK(!p->data);
		break;
	case SIO_PACKET_CONNECT_ERROR:
		CHECK(p->data && (t[0].type == SIO_JSON_OBJECT || t[0].type == SIO_JSON_STRING));
		break;
	case SIO_PACKET_EVENT:
	case SIO_PACKET_BINARY_EVENT:
		CHECK(p->data && t[0].type == SIO_JSON_ARRAY && t[0].size > 0);
		CHECK(t[1].type == SIO_JSON_STRING || t[1].type == SIO_JSON_NUMBER);
		if (t[1].type == SIO_JSON_STRING) {
			struct sio_buf name = SIO_BUF_INIT;
			sio_json_str_decode(d, text, 1, &name);
			CHECK(!sio_event_reserved(name.data, name.len));
			sio_buf_free(&name);
		}
		break;
	case SIO_PACKET_ACK:
	case SIO_PACKET_BINARY_ACK:
		CHECK(p->data && t[0].type == SIO_JSON_ARRAY);
		break;
	default:
		CHECK(!"type out of range");
	}
	if (p->type == SIO_PACKET_BINARY_EVENT || p->type == SIO_PACKET_BINARY_ACK)
		CHECK(p->attachments >= 1 && p->attachments <= SIO_MAX_ATTACHMENTS);
	else
		CHECK(p->attachments == 0);
	/* Every placeholder names an attachment. */
	for (size_t i = 0; p->data && i < d->n; i++) {
		long num;
		if (sio_json_is_placeholder(d, text, (int)i, &num))
			CHECK(p->attachments > 0 ? num < p->attachments : 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	char err[SIO_ERRLEN];
	struct sio_packet p, q;

	memcpy(text, data, size);
	int rc = sio_packet_parse(text, size, &p, &doc, MAXDEPTH, err);
	CHECK(rc == SIO_OK || rc == SIO_EPROTO || rc == SIO_ELIMIT);
	if (rc != SIO_OK) {
		CHECK(strlen(err) > 0 && strlen(err) < SIO_ERRLEN);
		free(text);
		return 0;
	}
	CHECK(p.type >= SIO_PACKET_CONNECT && p.type <= SIO_PACKET_BINARY_ACK);
	CHECK(p.nsplen >= 1 && p.nsp[0] == '/');
	CHECK(memchr(p.nsp, ',', p.nsplen) == NULL);
	CHECK(inside(p.nsp, p.nsplen, text, size) || (p.nsplen == 1 && p.nsp[0] == '/'));
	CHECK(p.ack >= -1 && p.ack < 1000000000000000LL);
	if (p.data) {
		CHECK(p.datalen > 0 && inside(p.data, p.datalen, text, size));
		CHECK(p.data + p.datalen == text + size);
	} else {
		CHECK(p.datalen == 0);
	}
	check_shape(&p, &doc, p.data);

	/* Encode what was parsed; the packet comes back field for field. */
	struct sio_pkt *pk = sio_packet_encode(p.type, p.attachments, p.nsp, p.nsplen, p.ack,
	    p.data, p.datalen);
	CHECK(pk && pk->refs == 1 && !pk->binary && pk->len >= 2);
	const char *enc = (const char *)sio_pkt_data(pk);
	CHECK(enc[0] == '4' && enc[1] == '0' + p.type);
	/* Never longer than what came in, plus the ',' a bare namespace gets. */
	CHECK(pk->len - 1 <= size + 1);
	char *copy = malloc(pk->len - 1);
	memcpy(copy, enc + 1, pk->len - 1);
	rc = sio_packet_parse(copy, pk->len - 1, &q, &doc2, MAXDEPTH, err);
	if (rc != SIO_OK) {
		fprintf(stderr, "fuzz_packet: re-encoded packet does not parse: %s\n"
		    "  in:  %.*s\n  out: %.*s\n", err, (int)size, text, (int)(pk->len - 1), copy);
		abort();
	}
	CHECK(q.type == p.type);
	CHECK(q.attachments == p.attachments);
	CHECK(q.nsplen == p.nsplen && memcmp(q.nsp, p.nsp, p.nsplen) == 0);
	CHECK(q.ack == p.ack);
	CHECK((q.data == NULL) == (p.data == NULL));
	CHECK(q.datalen == p.datalen && (!p.data || memcmp(q.data, p.data, p.datalen) == 0));
	CHECK(doc2.n == (p.data ? doc.n : 0));
	/* Encoding the re-parsed packet is a fixed point. */
	struct sio_pkt *pk2 = sio_packet_encode(q.type, q.attachments, q.nsp, q.nsplen, q.ack,
	    q.data, q.datalen);
	CHECK(pk2->len == pk->len && memcmp(sio_pkt_data(pk2), sio_pkt_data(pk), pk->len) == 0);

	/* The polling and WebSocket forms of the shared packet. */
	size_t flen;
	const uint8_t *f = sio_pkt_poll_form(pk, &flen);
	CHECK(flen == pk->len && memcmp(f, sio_pkt_data(pk), flen) == 0);
	f = sio_pkt_ws_frame(pk, &flen);
	CHECK(flen > pk->len && flen - pk->len <= SIO_PKT_HEADROOM);
	CHECK(f[0] == 0x81 && memcmp(f + (flen - pk->len), sio_pkt_data(pk), pk->len) == 0);

	sio_pkt_unref(pk2);
	sio_pkt_unref(pk);
	free(copy);
	free(text);
	return 0;
}
