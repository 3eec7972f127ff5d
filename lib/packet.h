/*
 * packet: the Socket.IO v5 packet codec.
 *
 *   <type>[<attachments>-][<nsp>,][<ack id>][<JSON payload>]
 *
 * Parsing validates the whole packet (including its JSON, through json.c)
 * and points into the caller's text: nothing is copied. Encoding writes
 * the packet once into a shared Engine.IO message (sio_pkt).
 */
#ifndef SIO_PACKET_H
#define SIO_PACKET_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"

enum sio_packet_type {
	SIO_PACKET_CONNECT = 0,
	SIO_PACKET_DISCONNECT = 1,
	SIO_PACKET_EVENT = 2,
	SIO_PACKET_ACK = 3,
	SIO_PACKET_CONNECT_ERROR = 4,
	SIO_PACKET_BINARY_EVENT = 5,
	SIO_PACKET_BINARY_ACK = 6,
};

#define SIO_MAX_ATTACHMENTS 10

struct sio_packet {
	int type;
	int attachments;	/* binary types: how many binary messages follow */
	const char *nsp;	/* "/" when absent; may carry "?query" */
	size_t nsplen;
	long long ack;		/* -1 when absent */
	const char *data;	/* JSON payload, or NULL */
	size_t datalen;
};

/*
 * Parses text[0..len) into p and its payload into doc (reused). Returns
 * SIO_OK, or SIO_EPROTO / SIO_ELIMIT with a reason in err (SIO_ERRLEN).
 */
int sio_packet_parse(const char *text, size_t len, struct sio_packet *p,
    struct sio_json *doc, int maxdepth, char *err);

/* Is name one of the events a Socket.IO application may not use? */
bool sio_event_reserved(const char *name, size_t len);

/*
 * Encodes a packet as an Engine.IO message "4<packet>" into a new shared
 * sio_pkt (refs = 1). nsp "/" is omitted; ack < 0 is omitted; data may
 * be NULL. Returns the packet; the caller owns the reference.
 */
struct sio_pkt *sio_packet_encode(int type, int attachments, const char *nsp,
    size_t nsplen, long long ack, const char *data, size_t datalen);

#endif
