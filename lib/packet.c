#include "packet.h"
#include "pkt.h"

#include <stdio.h>
#include <string.h>

static const char *const reserved[] = {
	"connect", "connect_error", "disconnect", "disconnecting",
	"newListener", "removeListener",
};

bool
sio_event_reserved(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
		if (strlen(reserved[i]) == len && memcmp(reserved[i], name, len) == 0)
			return true;
	return false;
}

static int
fail(char *err, const char *msg)
{
	if (err)
		snprintf(err, SIO_ERRLEN, "%s", msg);
	return SIO_EPROTO;
}

/* The payload must have the shape its packet type requires. */
static int
check_payload(const struct sio_packet *p, const char *text,
    const struct sio_json *doc, char *err)
{
	const struct sio_json_tok *t = doc->tok;

	switch (p->type) {
	case SIO_PACKET_CONNECT:
		if (p->data && t[0].type != SIO_JSON_OBJECT)
			return fail(err, "CONNECT payload must be an object");
		return SIO_OK;
	case SIO_PACKET_DISCONNECT:
		if (p->data)
			return fail(err, "DISCONNECT takes no payload");
		return SIO_OK;
	case SIO_PACKET_CONNECT_ERROR:
		if (!p->data || (t[0].type != SIO_JSON_OBJECT && t[0].type != SIO_JSON_STRING))
			return fail(err, "CONNECT_ERROR payload must be an object or a string");
		return SIO_OK;
	case SIO_PACKET_EVENT:
	case SIO_PACKET_BINARY_EVENT:
		if (!p->data || t[0].type != SIO_JSON_ARRAY || t[0].size == 0)
			return fail(err, "EVENT payload must be a non-empty array");
		if (t[1].type == SIO_JSON_STRING) {
			struct sio_buf name = SIO_BUF_INIT;
			sio_json_str_decode(doc, text, 1, &name);
			bool bad = sio_event_reserved(name.data, name.len);
			sio_buf_free(&name);
			if (bad)
				return fail(err, "reserved event name");
		} else if (t[1].type != SIO_JSON_NUMBER) {
			return fail(err, "event name must be a string or a number");
		}
		return SIO_OK;
	case SIO_PACKET_ACK:
	case SIO_PACKET_BINARY_ACK:
		if (!p->data || t[0].type != SIO_JSON_ARRAY)
			return fail(err, "ACK payload must be an array");
		return SIO_OK;
	}
	return fail(err, "unknown packet type");
}

/*
 * Every placeholder's index must name one of the attachments; an object
 * that says "_placeholder": true but is not a well-formed placeholder is
 * refused too, as the reference parser refuses it ("illegal
 * attachments"), rather than passed on as if it were data.
 */
static int
check_placeholders(const struct sio_packet *p, const char *text,
    const struct sio_json *doc, char *err)
{
	for (size_t i = 0; i < doc->n; i++) {
		long num;
		if (doc->tok[i].type != SIO_JSON_OBJECT)
			continue;
		if (!sio_json_is_placeholder(doc, text, (int)i, &num)) {
			int flag = sio_json_get(doc, text, (int)i, "_placeholder");
			if (flag >= 0 && doc->tok[flag].type == SIO_JSON_TRUE)
				return fail(err, "illegal attachments: a malformed placeholder");
			continue;
		}
		if (num >= p->attachments)
			return fail(err, "placeholder index out of range");
	}
	return SIO_OK;
}

int
sio_packet_parse(const char *text, size_t len, struct sio_packet *p,
    struct sio_json *doc, int maxdepth, char *err)
{
	size_t i = 0;

	memset(p, 0, sizeof *p);
	p->ack = -1;
	p->nsp = "/";
	p->nsplen = 1;
	if (len == 0 || text[0] < '0' || text[0] > '6')
		return fail(err, "unknown packet type");
	p->type = text[0] - '0';
	i = 1;

	if (p->type == SIO_PACKET_BINARY_EVENT || p->type == SIO_PACKET_BINARY_ACK) {
		long n = 0;
		size_t start = i;
		while (i < len && text[i] >= '0' && text[i] <= '9' && i - start < 4)
			n = n * 10 + (text[i++] - '0');
		if (i == start || i >= len || text[i] != '-')
			return fail(err, "bad attachment count");
		i++;
		if (n < 1 || n > SIO_MAX_ATTACHMENTS)
			return fail(err, "attachment count out of range");
		p->attachments = (int)n;
	}

	if (i < len && text[i] == '/') {
		size_t start = i;
		while (i < len && text[i] != ',')
			i++;
		p->nsp = text + start;
		p->nsplen = i - start;
		if (i < len)
			i++;	/* the ',' */
	}

	if (i < len && text[i] >= '0' && text[i] <= '9') {
		long long id = 0;
		size_t start = i;
		while (i < len && text[i] >= '0' && text[i] <= '9') {
			if (i - start >= 15)
				return fail(err, "ack id too long");
			id = id * 10 + (text[i++] - '0');
		}
		p->ack = id;
	}

	if (i < len) {
		p->data = text + i;
		p->datalen = len - i;
		int rc = sio_json_parse(doc, p->data, p->datalen, maxdepth, err);
		if (rc != SIO_OK)
			return rc;
	} else {
		doc->n = 0;
	}
	int rc = check_payload(p, p->data, doc, err);
	if (rc != SIO_OK)
		return rc;
	if (p->attachments > 0)
		return check_placeholders(p, p->data, doc, err);
	return SIO_OK;
}

struct sio_pkt *
sio_packet_encode(int type, int attachments, const char *nsp, size_t nsplen,
    long long ack, const char *data, size_t datalen)
{
	char head[64];
	size_t h = 0;
	bool root = nsplen == 1 && nsp[0] == '/';

	head[h++] = '4';
	head[h++] = (char)('0' + type);
	if (attachments > 0)
		h += (size_t)snprintf(head + h, sizeof head - h, "%d-", attachments);
	size_t total = h + (root ? 0 : nsplen + 1) + datalen;
	char ackbuf[24];
	size_t acklen = 0;
	if (ack >= 0)
		acklen = (size_t)snprintf(ackbuf, sizeof ackbuf, "%lld", ack);
	total += acklen;

	struct sio_pkt *p = sio_pkt_new(false, total);
	uint8_t *o = sio_pkt_data(p);
	memcpy(o, head, h);
	o += h;
	if (!root) {
		memcpy(o, nsp, nsplen);
		o += nsplen;
		*o++ = ',';
	}
	memcpy(o, ackbuf, acklen);
	o += acklen;
	if (datalen)
		memcpy(o, data, datalen);
	return p;
}
