#include "packet.h"
#include "pkt.h"
#include "t.h"

#include <stdlib.h>

#define NONE (-1)		/* no payload / no ack id */

struct pcase {
	const char *text;
	int rc;
	int type;
	int att;
	const char *nsp;	/* NULL: "/" */
	long long ack;		/* NONE: absent */
	const char *data;	/* NULL: no payload */
	int depth;		/* 0: 64 */
};

#define PH(n) "{\"_placeholder\":true,\"num\":" #n "}"

static const struct pcase pcases[] = {
	/* CONNECT */
	{ "0", SIO_OK, 0, 0, NULL, NONE, NULL, 0 },
	{ "0{\"token\":\"123\"}", SIO_OK, 0, 0, NULL, NONE,
	    "{\"token\":\"123\"}", 0 },
	{ "0{}", SIO_OK, 0, 0, NULL, NONE, "{}", 0 },
	{ "0/custom,", SIO_OK, 0, 0, "/custom", NONE, NULL, 0 },
	{ "0/custom", SIO_OK, 0, 0, "/custom", NONE, NULL, 0 },
	{ "0/custom,{\"a\":1}", SIO_OK, 0, 0, "/custom", NONE, "{\"a\":1}", 0 },
	{ "0/custom?x=1,", SIO_OK, 0, 0, "/custom?x=1", NONE, NULL, 0 },
	{ "0/", SIO_OK, 0, 0, "/", NONE, NULL, 0 },
	/* DISCONNECT */
	{ "1", SIO_OK, 1, 0, NULL, NONE, NULL, 0 },
	{ "1/custom,", SIO_OK, 1, 0, "/custom", NONE, NULL, 0 },
	{ "1/custom", SIO_OK, 1, 0, "/custom", NONE, NULL, 0 },
	/* EVENT */
	{ "2[\"a\"]", SIO_OK, 2, 0, NULL, NONE, "[\"a\"]", 0 },
	{ "2[1]", SIO_OK, 2, 0, NULL, NONE, "[1]", 0 },
	{ "2[-1.5e3,\"x\"]", SIO_OK, 2, 0, NULL, NONE, "[-1.5e3,\"x\"]", 0 },
	{ "2[\"\"]", SIO_OK, 2, 0, NULL, NONE, "[\"\"]", 0 },
	{ "212[\"a\"]", SIO_OK, 2, 0, NULL, 12, "[\"a\"]", 0 },
	{ "20[\"a\"]", SIO_OK, 2, 0, NULL, 0, "[\"a\"]", 0 },
	{ "2/nsp,12[\"a\",{}]", SIO_OK, 2, 0, "/nsp", 12, "[\"a\",{}]", 0 },
	{ "2/nsp,[\"a\"]", SIO_OK, 2, 0, "/nsp", NONE, "[\"a\"]", 0 },
	{ "2123456789012345[\"a\"]", SIO_OK, 2, 0, NULL, 123456789012345LL,
	    "[\"a\"]", 0 },
	{ "2[\"Disconnect\"]", SIO_OK, 2, 0, NULL, NONE, "[\"Disconnect\"]", 0 },
	{ "2[\"connects\"]", SIO_OK, 2, 0, NULL, NONE, "[\"connects\"]", 0 },
	{ "2[\"a\"," PH(0) "]", SIO_OK, 2, 0, NULL, NONE,
	    "[\"a\"," PH(0) "]", 0 },
	{ "2[\"a\",[[1]]]", SIO_OK, 2, 0, NULL, NONE, "[\"a\",[[1]]]", 3 },
	/* ACK */
	{ "3[]", SIO_OK, 3, 0, NULL, NONE, "[]", 0 },
	{ "313[1]", SIO_OK, 3, 0, NULL, 13, "[1]", 0 },
	{ "3/nsp,0[null,\"x\"]", SIO_OK, 3, 0, "/nsp", 0, "[null,\"x\"]", 0 },
	/* CONNECT_ERROR */
	{ "4{\"message\":\"x\"}", SIO_OK, 4, 0, NULL, NONE,
	    "{\"message\":\"x\"}", 0 },
	{ "4\"str\"", SIO_OK, 4, 0, NULL, NONE, "\"str\"", 0 },
	{ "4/nsp,{\"message\":\"Invalid namespace\"}", SIO_OK, 4, 0, "/nsp",
	    NONE, "{\"message\":\"Invalid namespace\"}", 0 },
	/* BINARY_EVENT / BINARY_ACK */
	{ "51-[\"a\"," PH(0) "]", SIO_OK, 5, 1, NULL, NONE,
	    "[\"a\"," PH(0) "]", 0 },
	{ "51-[\"a\",{\"x\":[" PH(0) "]}]", SIO_OK, 5, 1, NULL, NONE,
	    "[\"a\",{\"x\":[" PH(0) "]}]", 0 },
	{ "52-/nsp,3[\"a\"," PH(1) "," PH(0) "]", SIO_OK, 5, 2, "/nsp", 3,
	    "[\"a\"," PH(1) "," PH(0) "]", 0 },
	{ "510-[\"a\"," PH(9) "]", SIO_OK, 5, 10, NULL, NONE,
	    "[\"a\"," PH(9) "]", 0 },
	{ "62-/nsp,7[" PH(0) "," PH(1) "]", SIO_OK, 6, 2, "/nsp", 7,
	    "[" PH(0) "," PH(1) "]", 0 },
	{ "61-4[" PH(0) "]", SIO_OK, 6, 1, NULL, 4, "[" PH(0) "]", 0 },

	/* bad type */
	{ "", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "7", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "9[\"a\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "a", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "abc", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "/0", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ " 2[\"a\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	/* EVENT payload */
	{ "2", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2{}", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2\"a\"", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2abc[\"a\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "212", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2/nsp,", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[null]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[{}]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[[\"a\"]]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[true]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[\"connect\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[\"connect_error\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[\"disconnect\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[\"disconnecting\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[\"newListener\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[\"removeListener\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2/nsp,5[\"disconnect\",1]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[\"disconnec\\u0074\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "51-[\"connect\"," PH(0) "]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "21234567890123456[\"a\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	/* other payload shapes */
	{ "0[]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "0\"x\"", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "0/custom,[]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "1[]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "1{}", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "1/custom,{}", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "3", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "31", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "3{}", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "3\"a\"", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "4", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "4[1]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "4null", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "4/nsp,", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	/* attachments */
	{ "5-[\"a\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "50-[\"a\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "511-[\"a\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "599999-[\"a\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "51[\"a\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "5[\"a\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "51", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "51-", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "5a-[\"a\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "51-[\"a\"," PH(1) "]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "52-[\"a\"," PH(0) "," PH(2) "]", SIO_EPROTO, 0, 0, NULL, NONE,
	    NULL, 0 },
	{ "51-[\"a\",{\"x\":" PH(5) "}]", SIO_EPROTO, 0, 0, NULL, NONE,
	    NULL, 0 },
	{ "51-[]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "61-{}", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "6-[]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "611-[]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "62-[" PH(2) "]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	/* invalid JSON */
	{ "2[\"a\"", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[\"a\",]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2['a']", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[\"a\"]x", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "2[\"\xc3\"]", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "0{a:1}", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	{ "3[1,2", SIO_EPROTO, 0, 0, NULL, NONE, NULL, 0 },
	/* depth */
	{ "2[[[[1]]]]", SIO_ELIMIT, 0, 0, NULL, NONE, NULL, 3 },
	{ "2[\"a\",{\"b\":{\"c\":{}}}]", SIO_ELIMIT, 0, 0, NULL, NONE,
	    NULL, 3 },
	{ "0{\"a\":{\"b\":1}}", SIO_ELIMIT, 0, 0, NULL, NONE, NULL, 1 },
};

/* Keeps each "ok N - what" on one printable line. */
static const char *
show(const char *s, size_t n)
{
	static char out[200];
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < sizeof out; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, sizeof out - o,
			    "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

static void
test_parse_table(void)
{
	struct sio_json doc = SIO_JSON_INIT;
	struct sio_packet p;
	char err[SIO_ERRLEN], what[300];
	size_t nvalid = 0, ninvalid = 0;

	for (size_t i = 0; i < sizeof pcases / sizeof pcases[0]; i++) {
		const struct pcase *c = &pcases[i];
		size_t len = strlen(c->text);
		int depth = c->depth ? c->depth : 64;

		/* Copy without a NUL: the parser must stop at len. */
		char *text = malloc(len ? len : 1);
		memcpy(text, c->text, len);
		err[0] = '\0';
		int rc = sio_packet_parse(text, len, &p, &doc, depth, err);
		snprintf(what, sizeof what, "parse case %zu (%s) -> %d", i,
		    show(c->text, len), c->rc);
		T_EQ_INT(rc, c->rc, what);
		if (c->rc != SIO_OK) {
			ninvalid++;
			if (rc != SIO_OK)
				T_OK(err[0] != '\0', "error message set");
			free(text);
			continue;
		}
		nvalid++;
		if (rc != SIO_OK) {
			printf("#   err: %s\n", err);
			free(text);
			continue;
		}
		const char *nsp = c->nsp ? c->nsp : "/";
		T_EQ_INT(p.type, c->type, "type");
		T_EQ_INT(p.attachments, c->att, "attachments");
		T_EQ_MEM(p.nsp, p.nsplen, nsp, "nsp");
		if (c->nsp)
			T_OK(p.nsp >= text && p.nsp < text + len,
			    "nsp points into the text");
		T_EQ_INT(p.ack, c->ack, "ack id");
		if (c->data) {
			T_OK(p.data == text + len - strlen(c->data),
			    "data points into the text");
			T_EQ_MEM(p.data, p.datalen, c->data, "data span");
			T_OK(doc.n > 0 && doc.tok[0].next == doc.n,
			    "payload tokens filled");
		} else {
			T_OK(p.data == NULL && p.datalen == 0, "no data");
			T_EQ_INT(doc.n, 0, "no payload tokens");
		}
		free(text);
	}
	snprintf(what, sizeof what, "table has %zu valid, %zu invalid cases",
	    nvalid, ninvalid);
	T_OK(nvalid >= 20 && ninvalid >= 40, what);
	sio_json_free(&doc);
}

static void
test_parse_misc(void)
{
	struct sio_json doc = SIO_JSON_INIT;
	struct sio_packet p;
	char err[SIO_ERRLEN];
	const char *s;

	/* len shorter than the string: nothing past len is read. */
	s = "2[\"a\"]garbage";
	T_EQ_INT(sio_packet_parse(s, 6, &p, &doc, 64, err), SIO_OK,
	    "trailing bytes past len ignored");
	T_EQ_MEM(p.data, p.datalen, "[\"a\"]", "data ends at len");
	s = "0/custom,{}";
	T_EQ_INT(sio_packet_parse(s, 5, &p, &doc, 64, err), SIO_OK,
	    "nsp cut by len");
	T_EQ_MEM(p.nsp, p.nsplen, "/cus", "nsp ends at len");
	T_OK(p.data == NULL, "no data after cut nsp");
	T_EQ_INT(sio_packet_parse(s, 0, &p, &doc, 64, err), SIO_EPROTO,
	    "len 0 is empty");

	/* A failed parse still resets the fields. */
	T_EQ_INT(sio_packet_parse("212[\"a\"]", 8, &p, &doc, 64, err), SIO_OK,
	    "event with ack");
	T_EQ_INT(sio_packet_parse("1", 1, &p, &doc, 64, err), SIO_OK,
	    "then a disconnect");
	T_EQ_INT(p.ack, -1, "ack reset");
	T_OK(p.data == NULL, "data reset");
	T_EQ_MEM(p.nsp, p.nsplen, "/", "nsp reset to /");

	/* err may be NULL. */
	T_EQ_INT(sio_packet_parse("7", 1, &p, &doc, 64, NULL), SIO_EPROTO,
	    "NULL err, bad type");
	T_EQ_INT(sio_packet_parse("2[]", 3, &p, &doc, 64, NULL), SIO_EPROTO,
	    "NULL err, bad payload");
	T_EQ_INT(sio_packet_parse("2[", 2, &p, &doc, 64, NULL), SIO_EPROTO,
	    "NULL err, bad JSON");

	/* Embedded NUL in the payload. */
	static const char nul[] = "2[\"a\"]\0";
	T_EQ_INT(sio_packet_parse(nul, sizeof nul - 1, &p, &doc, 64, err),
	    SIO_EPROTO, "NUL after the payload");

	/* The event name comes from the decoded string. */
	s = "2[\"a\\u0062c\",1]";
	T_EQ_INT(sio_packet_parse(s, strlen(s), &p, &doc, 64, err), SIO_OK,
	    "escaped event name");
	T_EQ_INT(doc.tok[0].size, 2, "payload array size");
	T_OK(sio_json_str_eq(&doc, p.data, 1, "abc"), "name token decodes");

	/* Deep nesting: the limit is the caller's. */
	struct sio_buf b = SIO_BUF_INIT;
	sio_buf_adds(&b, "2[\"a\",");
	for (int i = 0; i < 1000; i++)
		sio_buf_addc(&b, '[');
	for (int i = 0; i < 1000; i++)
		sio_buf_addc(&b, ']');
	sio_buf_addc(&b, ']');
	T_EQ_INT(sio_packet_parse(b.data, b.len, &p, &doc, 1001, err), SIO_OK,
	    "depth 1001 at the limit");
	T_EQ_INT(sio_packet_parse(b.data, b.len, &p, &doc, 1000, err),
	    SIO_ELIMIT, "depth 1001 over the limit");
	T_OK(err[0] != '\0', "depth error message");
	T_EQ_INT(sio_packet_parse(b.data, b.len, &p, &doc, 64, err),
	    SIO_ELIMIT, "depth 1001 over the default");
	sio_buf_free(&b);
	sio_json_free(&doc);
}

static void
test_reserved(void)
{
	static const struct {
		const char *name;
		bool reserved;
	} cases[] = {
		{ "connect", true },
		{ "connect_error", true },
		{ "disconnect", true },
		{ "disconnecting", true },
		{ "newListener", true },
		{ "removeListener", true },
		{ "", false },
		{ "a", false },
		{ "connection", false },
		{ "Connect", false },
		{ "CONNECT", false },
		{ "connec", false },
		{ "connect ", false },
		{ " connect", false },
		{ "disconnected", false },
		{ "newlistener", false },
		{ "message", false },
		{ "error", false },
	};
	char what[100];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(what, sizeof what, "reserved(\"%s\") == %d",
		    cases[i].name, cases[i].reserved);
		T_EQ_INT(sio_event_reserved(cases[i].name,
		    strlen(cases[i].name)), cases[i].reserved, what);
	}
	/* The length decides, not a NUL. */
	T_OK(sio_event_reserved("connectXYZ", 7), "prefix by length");
	T_OK(!sio_event_reserved("connect", 6), "short length");
	T_OK(sio_event_reserved("disconnecting", 13), "full length");
	T_OK(sio_event_reserved("disconnecting", 10), "disconnect by length");
	static const char withnul[] = "connect\0";
	T_OK(!sio_event_reserved(withnul, sizeof withnul - 1),
	    "embedded NUL is not reserved");
}

struct ecase {
	int type;
	int att;
	const char *nsp;	/* NULL: "/" */
	long long ack;
	const char *data;	/* NULL: none */
	const char *want;
};

static const struct ecase ecases[] = {
	{ SIO_PACKET_EVENT, 0, NULL, -1, "[\"a\"]", "42[\"a\"]" },
	{ SIO_PACKET_EVENT, 0, "/x", -1, "[\"a\"]", "42/x,[\"a\"]" },
	{ SIO_PACKET_EVENT, 0, NULL, 5, "[\"a\"]", "425[\"a\"]" },
	{ SIO_PACKET_EVENT, 0, NULL, 0, "[\"a\"]", "420[\"a\"]" },
	{ SIO_PACKET_EVENT, 0, "/x", 5, "[\"a\",1]", "42/x,5[\"a\",1]" },
	{ SIO_PACKET_EVENT, 0, NULL, 123456789012345LL, "[1]",
	    "42123456789012345[1]" },
	{ SIO_PACKET_EVENT, 0, NULL, -7, "[1]", "42[1]" },
	{ SIO_PACKET_BINARY_EVENT, 2, NULL, -1, "[\"a\"," PH(0) "," PH(1) "]",
	    "452-[\"a\"," PH(0) "," PH(1) "]" },
	{ SIO_PACKET_BINARY_EVENT, 10, "/nsp", 3, "[\"a\"]",
	    "4510-/nsp,3[\"a\"]" },
	{ SIO_PACKET_BINARY_ACK, 1, "/x", 5, "[" PH(0) "]",
	    "461-/x,5[" PH(0) "]" },
	{ SIO_PACKET_ACK, 0, NULL, 13, "[1]", "4313[1]" },
	{ SIO_PACKET_ACK, 0, "/nsp", 0, "[]", "43/nsp,0[]" },
	{ SIO_PACKET_CONNECT, 0, NULL, -1, "{\"sid\":\"x\"}",
	    "40{\"sid\":\"x\"}" },
	{ SIO_PACKET_CONNECT, 0, "/custom", -1, "{\"sid\":\"x\"}",
	    "40/custom,{\"sid\":\"x\"}" },
	{ SIO_PACKET_CONNECT, 0, NULL, -1, NULL, "40" },
	{ SIO_PACKET_DISCONNECT, 0, NULL, -1, NULL, "41" },
	{ SIO_PACKET_DISCONNECT, 0, "/x", -1, NULL, "41/x," },
	{ SIO_PACKET_CONNECT_ERROR, 0, "/custom?x=1", -1,
	    "{\"message\":\"Invalid namespace\"}",
	    "44/custom?x=1,{\"message\":\"Invalid namespace\"}" },
	{ SIO_PACKET_CONNECT_ERROR, 0, NULL, -1, "\"str\"", "44\"str\"" },
};

static void
test_encode(void)
{
	struct sio_json doc = SIO_JSON_INIT;
	struct sio_packet p;
	char err[SIO_ERRLEN], what[300];

	for (size_t i = 0; i < sizeof ecases / sizeof ecases[0]; i++) {
		const struct ecase *c = &ecases[i];
		const char *nsp = c->nsp ? c->nsp : "/";
		size_t dlen = c->data ? strlen(c->data) : 0;
		struct sio_pkt *pk = sio_packet_encode(c->type, c->att, nsp,
		    strlen(nsp), c->ack, c->data, dlen);

		snprintf(what, sizeof what, "encode case %zu -> %s", i,
		    c->want);
		T_EQ_MEM(sio_pkt_data(pk), pk->len, c->want, what);
		T_OK(!pk->binary && pk->refs == 1 && pk->hlen == 0 &&
		    pk->b64 == NULL, "fresh text packet, one reference");

		/* Round trip: the Socket.IO part parses back. */
		const char *text = (const char *)sio_pkt_data(pk);
		int rc = sio_packet_parse(text + 1, pk->len - 1, &p, &doc, 64,
		    err);
		T_EQ_INT(rc, SIO_OK, "round trip parses");
		if (rc == SIO_OK) {
			T_EQ_INT(p.type, c->type, "round trip type");
			T_EQ_INT(p.attachments, c->att, "round trip attachments");
			T_EQ_MEM(p.nsp, p.nsplen, nsp, "round trip nsp");
			T_EQ_INT(p.ack, c->ack < 0 ? -1 : c->ack,
			    "round trip ack");
			if (c->data)
				T_EQ_MEM(p.data, p.datalen, c->data,
				    "round trip data");
			else
				T_OK(p.data == NULL, "round trip no data");
		} else {
			printf("#   err: %s\n", err);
		}
		sio_pkt_unref(pk);
	}
	sio_json_free(&doc);
}

/* Every valid table case, re-encoded, parses to the same fields. */
static void
test_reencode(void)
{
	struct sio_json doc = SIO_JSON_INIT;
	struct sio_packet p, q;
	char what[300];

	for (size_t i = 0; i < sizeof pcases / sizeof pcases[0]; i++) {
		const struct pcase *c = &pcases[i];
		if (c->rc != SIO_OK)
			continue;
		if (sio_packet_parse(c->text, strlen(c->text), &p, &doc, 64,
		    NULL) != SIO_OK)
			continue;	/* reported by test_parse_table */
		struct sio_pkt *pk = sio_packet_encode(p.type, p.attachments,
		    p.nsp, p.nsplen, p.ack, p.data, p.datalen);
		const char *t = (const char *)sio_pkt_data(pk);
		snprintf(what, sizeof what, "re-encode case %zu (%s)", i,
		    show(c->text, strlen(c->text)));
		int rc = sio_packet_parse(t + 1, pk->len - 1, &q, &doc, 64,
		    NULL);
		T_OK(t[0] == '4' && rc == SIO_OK && q.type == p.type &&
		    q.attachments == p.attachments && q.ack == p.ack &&
		    q.nsplen == p.nsplen &&
		    memcmp(q.nsp, p.nsp, p.nsplen) == 0 &&
		    q.datalen == p.datalen &&
		    (p.datalen == 0 || memcmp(q.data, p.data, p.datalen) == 0),
		    what);
		sio_pkt_unref(pk);
	}
	sio_json_free(&doc);
}

int
main(void)
{
	test_parse_table();
	test_parse_misc();
	test_reserved();
	test_encode();
	test_reencode();
	T_DONE();
}
