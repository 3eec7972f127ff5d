#include "msgjson.h"
#include "t.h"

#include <stdlib.h>

/*
 * Reference bytes come from notepack.io 3.0.1, the packer of
 * @socket.io/redis-adapter 8 and @socket.io/redis-emitter 5, installed
 * with npm outside the repository:
 *
 *   JSON -> MessagePack: require("notepack.io").encode(JSON.parse(json))
 *   MessagePack -> JSON: JSON.stringify(require("notepack.io").decode(
 *                            Buffer.from(hex, "hex")))
 *
 * Rows marked "exact" differ from notepack.io on purpose: there the
 * JavaScript double cannot hold the integer, and we keep it whole.
 */

/* Bytes of a hex string; the caller frees them. */
static uint8_t *
unhex(const char *h, size_t *n)
{
	size_t len = strlen(h) / 2;
	uint8_t *p = malloc(len + 1);

	for (size_t i = 0; i < len; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		p[i] = (uint8_t)v;
	}
	*n = len;
	return p;
}

static const struct sio_mj_limits lim64 = { 64, 0 };

/* ---- JSON -> MessagePack ------------------------------------------------ */

static const struct {
	const char *json, *hex;
} enc[] = {
	{ "0", "00" },
	{ "-0", "00" },
	{ "1", "01" },
	{ "127", "7f" },
	{ "128", "cc80" },
	{ "255", "ccff" },
	{ "256", "cd0100" },
	{ "65535", "cdffff" },
	{ "65536", "ce00010000" },
	{ "4294967295", "ceffffffff" },
	{ "4294967296", "cf0000000100000000" },
	{ "-1", "ff" },
	{ "-32", "e0" },
	{ "-33", "d0df" },
	{ "-128", "d080" },
	{ "-129", "d1ff7f" },
	{ "-32768", "d18000" },
	{ "-32769", "d2ffff7fff" },
	{ "-2147483648", "d280000000" },
	{ "-2147483649", "d3ffffffff7fffffff" },
	{ "9007199254740991", "cf001fffffffffffff" },
	{ "9007199254740992", "cf0020000000000000" },
	{ "-9007199254740992", "d3ffe0000000000000" },
	{ "-9223372036854775808", "d38000000000000000" },
	{ "18446744073709549568", "cffffffffffffff800" },
	{ "1.5", "cb3ff8000000000000" },
	{ "-1.5", "cbbff8000000000000" },
	{ "0.1", "cb3fb999999999999a" },
	{ "1e3", "cd03e8" },
	{ "1E2", "64" },
	{ "2.0", "02" },
	{ "-0.0", "00" },
	{ "1e-400", "00" },
	{ "1e400", "cb7ff0000000000000" },
	{ "-1e400", "cbfff0000000000000" },
	/* exact: notepack.io writes the double, 9223372036854775808 */
	{ "9223372036854775807", "cf7fffffffffffffff" },
	/* exact: notepack.io writes cfab54a98ceb1f0800 */
	{ "12345678901234567891", "cfab54a98ceb1f0ad3" },
	/* exact: notepack.io wraps 2^64 to cf0000000000000000 */
	{ "18446744073709551615", "cfffffffffffffffff" },
	/* notepack.io wraps doubles >= 2^64 modulo 2^64; we write them as
	 * float 64, which it decodes to the value JSON.parse gave */
	{ "1e20", "cb4415af1d78b58c40" },
	{ "123456789012345678901234567890", "cb45f8ee90ff6c373e" },
	{ "-1e19", "cbc3e158e460913d00" },
	{ "\"\"", "a0" },
	{ "\"a\"", "a161" },
	{ "\"caf\\u00e9\"", "a5636166c3a9" },
	{ "\"\\ud83d\\ude00\"", "a4f09f9880" },
	{ "\"tab\\there\"", "a87461620968657265" },
	{ "\"\\/\"", "a12f" },
	{ "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
	    "bf78787878787878787878787878787878787878787878787878787878787878" },
	{ "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
	    "d92078787878787878787878787878787878787878787878787878787878787878"
	    "78" },
	{ "true", "c3" },
	{ "false", "c2" },
	{ "null", "c0" },
	{ "[]", "90" },
	{ "{}", "80" },
	{ "[1,[2,[3]]]", "920192029103" },
	{ "{\"a\":1,\"b\":[true,null]}", "82a16101a16292c3c0" },
	{ " [ 0 , 1 ] ", "920001" },
	{ "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14]",
	    "9f000102030405060708090a0b0c0d0e" },
	{ "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]",
	    "dc0010000102030405060708090a0b0c0d0e0f" },
	{ "{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,"
	  "\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,"
	  "\"k13\":13,\"k14\":14,\"k15\":15}",
	    "de0010a26b3000a26b3101a26b3202a26b3303a26b3404a26b3505a26b3606"
	    "a26b3707a26b3808a26b3909a36b31300aa36b31310ba36b31320ca36b3133"
	    "0da36b31340ea36b31350f" },
	/* a placeholder with no hook is an ordinary map */
	{ "{\"_placeholder\":true,\"num\":0}",
	    "82ac5f706c616365686f6c646572c3a36e756d00" },
};

/* What the emitter publishes for io.to("room1").emit("hello","world",1). */
static const char emitter_json[] =
    "[\"emitter\",{\"type\":2,\"data\":[\"hello\",\"world\",1],\"nsp\":\"/\"},"
    "{\"rooms\":[\"room1\"],\"flags\":{},\"except\":[]}]";
static const char emitter_hex[] =
    "93a7656d697474657283a47479706502a46461746193a568656c6c6fa5776f72"
    "6c6401a36e7370a12f83a5726f6f6d7391a5726f6f6d31a5666c61677380a665"
    "786365707490";

/* An adapter's broadcast-with-ack request (type 7) with a float. */
static const char request_json[] =
    "{\"uid\":\"abc123\",\"requestId\":\"xyz789\",\"type\":7,\"packet\":"
    "{\"type\":2,\"data\":[\"ev\",1.5],\"nsp\":\"/\"},\"opts\":{\"rooms\":"
    "[],\"except\":[],\"flags\":{\"timeout\":5000}}}";
static const char request_hex[] =
    "85a3756964a6616263313233a9726571756573744964a678797a373839a47479"
    "706507a67061636b657483a47479706502a46461746192a26576cb3ff8000000"
    "000000a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a566"
    "6c61677381a774696d656f7574cd1388";

/* io.except("r2").emit("ev", Buffer.from([1,2,3])) from adapter abc123. */
static const char binary_hex[] =
    "93a661626331323383a47479706502a46461746192a26576c403010203a36e73"
    "70a12f83a5726f6f6d7390a665786365707491a27232a5666c61677380";
static const char binary_json[] =
    "[\"abc123\",{\"type\":2,\"data\":[\"ev\",{\"_placeholder\":true,"
    "\"num\":0}],\"nsp\":\"/\"},{\"rooms\":[],\"except\":[\"r2\"],"
    "\"flags\":{}}]";

static int
to_msgpack(struct sio_buf *out, const char *json, sio_mj_bin_in bin,
    void *arg, char *err)
{
	struct sio_json doc = SIO_JSON_INIT;
	int rc = sio_json_parse(&doc, json, strlen(json), 64, err);
	if (rc == SIO_OK)
		rc = sio_json_to_msgpack(out, &doc, json, 0, bin, arg, err);
	sio_json_free(&doc);
	return rc;
}

static void
test_encode_table(void)
{
	struct sio_buf out = SIO_BUF_INIT;
	char what[200];

	for (size_t i = 0; i < sizeof enc / sizeof enc[0]; i++) {
		sio_buf_reset(&out);
		int rc = to_msgpack(&out, enc[i].json, NULL, NULL, NULL);
		snprintf(what, sizeof what, "encode %.60s -> %.40s",
		    enc[i].json, enc[i].hex);
		T_EQ_INT(rc, SIO_OK, what);
		T_EQ_STR(t_hex(out.data, out.len), enc[i].hex, what);
	}
	sio_buf_free(&out);
}

static void
test_encode_messages(void)
{
	struct sio_buf out = SIO_BUF_INIT;
	struct sio_json doc = SIO_JSON_INIT;

	T_EQ_INT(to_msgpack(&out, emitter_json, NULL, NULL, NULL), SIO_OK,
	    "emitter envelope packs");
	T_EQ_STR(t_hex(out.data, out.len), emitter_hex,
	    "emitter envelope: same bytes as notepack.io");
	sio_buf_reset(&out);
	T_EQ_INT(to_msgpack(&out, request_json, NULL, NULL, NULL), SIO_OK,
	    "broadcast request packs");
	T_EQ_STR(t_hex(out.data, out.len), request_hex,
	    "broadcast request: same bytes as notepack.io");

	/* A subtree: only the data array of a packet. */
	const char *s = "{\"nsp\":\"/\",\"data\":[\"x\",-5]}";
	T_EQ_INT(sio_json_parse(&doc, s, strlen(s), 64, NULL), SIO_OK,
	    "subtree doc");
	sio_buf_reset(&out);
	sio_buf_adds(&out, "KEEP");
	T_EQ_INT(sio_json_to_msgpack(&out, &doc, s,
	    sio_json_get(&doc, s, 0, "data"), NULL, NULL, NULL), SIO_OK,
	    "subtree packs");
	T_EQ_STR(t_hex(out.data, out.len), "4b45455092a178fb",
	    "subtree appended after what out held");

	/* A number that is the whole text, with no byte after it. */
	char five[1] = { '5' };
	T_EQ_INT(sio_json_parse(&doc, five, 1, 64, NULL), SIO_OK,
	    "unterminated number");
	sio_buf_reset(&out);
	T_EQ_INT(sio_json_to_msgpack(&out, &doc, five, 0, NULL, NULL, NULL),
	    SIO_OK, "unterminated number packs");
	T_EQ_STR(t_hex(out.data, out.len), "05", "unterminated number bytes");

	/* A long number takes the heap copy. */
	sio_buf_reset(&out);
	struct sio_buf big = SIO_BUF_INIT;
	sio_buf_adds(&big, "[1");
	for (int i = 0; i < 100; i++)
		sio_buf_addc(&big, '0');
	sio_buf_adds(&big, "e-99]");
	T_EQ_INT(to_msgpack(&out, big.data, NULL, NULL, NULL), SIO_OK,
	    "long number");
	T_EQ_STR(t_hex(out.data, out.len), "910a", "long number is 10");
	sio_buf_free(&big);

	sio_json_free(&doc);
	sio_buf_free(&out);
}

static void
test_encode_binary(void)
{
	struct sio_buf out = SIO_BUF_INIT, scratch = SIO_BUF_INIT;
	static const uint8_t b0[] = { 1, 2, 3 }, b1[] = { 0xff };
	struct sio_mj_span spans[] = { { b0, 3 }, { b1, 1 } };
	struct sio_mj_atts atts = { spans, 2, 0, 0 };
	char err[SIO_ERRLEN];

	T_EQ_INT(to_msgpack(&out, binary_json, sio_mj_placeholder_in, &atts,
	    err), SIO_OK, "placeholder packs as bin");
	T_EQ_STR(t_hex(out.data, out.len), binary_hex,
	    "binary broadcast: same bytes as notepack.io");

	sio_buf_reset(&out);
	T_EQ_INT(to_msgpack(&out, "[{\"num\":1,\"_placeholder\":true},"
	    "{\"_placeholder\":true,\"num\":0,\"x\":1}]", sio_mj_placeholder_in,
	    &atts, err), SIO_OK, "keys in any order; extra key is a map");
	T_EQ_STR(t_hex(out.data, out.len), "92c401ff" "83ac5f706c616365686f6c"
	    "646572c3a36e756d00a17801", "second attachment; map kept");

	sio_buf_reset(&out);
	sio_buf_adds(&out, "KEEP");
	T_EQ_INT(to_msgpack(&out, "[1,{\"_placeholder\":true,\"num\":2}]",
	    sio_mj_placeholder_in, &atts, err), SIO_EPROTO,
	    "placeholder past the attachments");
	T_EQ_STR(err, "placeholder 2 with 2 attachments", "its message");
	T_EQ_STR(out.data, "KEEP", "out as it was");

	sio_buf_reset(&out);
	T_EQ_INT(to_msgpack(&out, "[{\"_binary\":\"AQID\"},{\"_binary\":"
	    "\"\\/w==\"},{\"_binary\":\"\"},{\"_binary\":1}]", sio_mj_base64_in,
	    &scratch, err), SIO_OK, "base64 values pack as bin");
	T_EQ_STR(t_hex(out.data, out.len), "94c403010203c401ffc400"
	    "81a75f62696e61727901", "bytes; \\/ unescaped; non-string is a map");

	sio_buf_reset(&out);
	T_EQ_INT(to_msgpack(&out, "{\"_binary\":\"AQ=\"}", sio_mj_base64_in,
	    &scratch, err), SIO_EPROTO, "bad base64");
	T_EQ_STR(err, "bad base64 in a _binary value", "its message");
	T_EQ_INT(out.len, 0, "nothing appended");

	sio_buf_free(&scratch);
	sio_buf_free(&out);
}

/* ---- MessagePack -> JSON ------------------------------------------------ */

static const struct {
	const char *hex, *json;
} dec[] = {
	{ "00", "0" },
	{ "7f", "127" },
	{ "ff", "-1" },
	{ "e0", "-32" },
	{ "ccff", "255" },
	{ "cd0100", "256" },
	{ "ce00010000", "65536" },
	{ "d0df", "-33" },
	{ "d1ff7f", "-129" },
	{ "d2ffff7fff", "-32769" },
	{ "d3ffffffff7fffffff", "-2147483649" },
	/* exact: JavaScript writes 18446744073709552000 */
	{ "cfffffffffffffffff", "18446744073709551615" },
	/* exact: JavaScript writes -9223372036854776000 */
	{ "d38000000000000000", "-9223372036854775808" },
	{ "cb3fb999999999999a", "0.1" },
	{ "ca3dcccccd", "0.10000000149011612" },
	{ "cb7ff8000000000000", "null" },
	{ "cb7ff0000000000000", "null" },
	{ "cb8000000000000000", "0" },
	{ "cb4415af1d78b58c40", "100000000000000000000" },
	{ "cb444b1ae4d6e2ef50", "1e+21" },
	{ "cb3e7ad7f29abcaf48", "1e-7" },
	{ "cb3eb0c6f7a0b5ed8d", "0.000001" },
	{ "cb3ee4f8b588e368f1", "0.00001" },
	{ "cb0000000000000001", "5e-324" },
	{ "cb7fefffffffffffff", "1.7976931348623157e+308" },
	{ "cb4059000000000000", "100" },
	{ "cbc0c81c8000000000", "-12345" },
	{ "cb3ff0000000000001", "1.0000000000000002" },
	{ "c0", "null" },
	{ "c2", "false" },
	{ "c3", "true" },
	{ "a0", "\"\"" },
	{ "a3e282ac", "\"\xe2\x82\xac\"" },
	{ "a61f22005c7f0a", "\"\\u001f\\\"\\u0000\\\\\x7f\\n\"" },
	{ "d90161", "\"a\"" },
	{ "da000161", "\"a\"" },
	{ "db0000000161", "\"a\"" },
	{ "90", "[]" },
	{ "80", "{}" },
	{ "dc0000", "[]" },
	{ "dd0000000101", "[1]" },
	{ "de0001a16101", "{\"a\":1}" },
	{ "df00000001a16190", "{\"a\":[]}" },
	{ "920192029103", "[1,[2,[3]]]" },
	{ "82a16101a16292c3c0", "{\"a\":1,\"b\":[true,null]}" },
	/* Timestamps become what Date.prototype.toJSON writes. */
	{ "d6ff6553f100", "\"2023-11-14T22:13:20.000Z\"" },
	{ "d7ff1d5353006553f100", "\"2023-11-14T22:13:20.123Z\"" },
	{ "d7ffffffffff00000003", "\"2378-04-22T19:24:52.073Z\"" },
	{ "c70cff1dcd6500ffffffffffffffff", "\"1969-12-31T23:59:59.500Z\"" },
	{ "c70cff00000001ffffffffffffffff", "\"1969-12-31T23:59:59.001Z\"" },
	{ "c70cff3b8b87c0ffffffffffffffff", "\"1969-12-31T23:59:59.999Z\"" },
	{ "c70cff00000000000007dba8218000", "\"+275760-09-13T00:00:00.000Z\"" },
	{ "c70cff00000000000007dba8218001", "null" },
	{ "c70cff00000000fffff82457de8000", "\"-271821-04-20T00:00:00.000Z\"" },
	{ "c70cff00000000fffff82457de7fff", "null" },
	{ "c70cff00000000fffffff184aa5080", "\"-000001-01-01T00:00:00.000Z\"" },
	{ "c70cff3b9ac9ff0000003afff44180", "\"+010000-01-01T00:00:01.000Z\"" },
	{ "c70cff3b8b87c0fffffff1886e08ff", "\"0000-12-31T23:59:59.999Z\"" },
	{ "c70cff000000000000000038bb0c00", "\"2000-02-29T00:00:00.000Z\"" },
	{ "c70cff2f072f40ffffffff7ca2a970", "\"1900-02-28T12:34:56.789Z\"" },
	/* notepack.io 2.x: its date, and its undefined */
	{ "d70000000000000003e8", "\"1970-01-01T00:00:01.000Z\"" },
	{ "92d40000c0", "[null,null]" },
	{ "83a161d40000a16201a163d40000", "{\"b\":1}" },
	{ "82a161d40000a16201", "{\"b\":1}" },
	{ "81a161d40000", "{}" },
	{ "d40000", "null" },
	{ emitter_hex, emitter_json },
	{ request_hex, request_json },
};

static void
test_decode_table(void)
{
	struct sio_buf out = SIO_BUF_INIT;
	char err[SIO_ERRLEN], what[200];

	for (size_t i = 0; i < sizeof dec / sizeof dec[0]; i++) {
		size_t n;
		uint8_t *p = unhex(dec[i].hex, &n);
		sio_buf_reset(&out);
		err[0] = '\0';
		int rc = sio_msgpack_to_json(&out, p, n, &lim64, NULL, NULL, err);
		snprintf(what, sizeof what, "decode %.40s -> %.60s", dec[i].hex,
		    dec[i].json);
		T_EQ_INT(rc, SIO_OK, what);
		if (rc != SIO_OK)
			printf("#   %s\n", err);
		T_EQ_MEM(out.data, out.len, dec[i].json, what);
		free(p);
	}
	sio_buf_free(&out);
}

/* Every JSON row of the encode table comes back as JSON.stringify has it. */
static void
test_round_trip(void)
{
	static const struct {
		const char *in, *out;
	} rt[] = {
		{ "-0", "0" },
		{ "1e3", "1000" },
		{ "2.0", "2" },
		{ "1e400", "null" },
		{ "0.1", "0.1" },
		{ "-1.5e-7", "-1.5e-7" },
		{ "1e21", "1e+21" },
		{ "9223372036854775807", "9223372036854775807" },
		{ "-9223372036854775808", "-9223372036854775808" },
		{ "18446744073709551615", "18446744073709551615" },
		{ "123456789012345678901234567890", "1.2345678901234568e+29" },
		{ "\"\\u00e9\\n\\/\"", "\"\xc3\xa9\\n/\"" },
		{ "\"\\ud800\"", "\"\xef\xbf\xbd\"" },
		{ " { \"a\" : [ 1 , { } ] } ", "{\"a\":[1,{}]}" },
		{ "{\"a\":1,\"a\":2}", "{\"a\":1,\"a\":2}" },
	};
	struct sio_buf mp = SIO_BUF_INIT, js = SIO_BUF_INIT;
	char what[160];

	for (size_t i = 0; i < sizeof rt / sizeof rt[0]; i++) {
		sio_buf_reset(&mp);
		sio_buf_reset(&js);
		int rc = to_msgpack(&mp, rt[i].in, NULL, NULL, NULL);
		if (rc == SIO_OK)
			rc = sio_msgpack_to_json(&js, (const uint8_t *)mp.data,
			    mp.len, &lim64, NULL, NULL, NULL);
		snprintf(what, sizeof what, "round trip %s -> %s", rt[i].in,
		    rt[i].out);
		T_EQ_INT(rc, SIO_OK, what);
		T_EQ_MEM(js.data, js.len, rt[i].out, what);
	}
	for (size_t i = 0; i < sizeof dec / sizeof dec[0]; i++) {
		size_t n;
		uint8_t *p = unhex(dec[i].hex, &n);
		sio_buf_reset(&mp);
		sio_buf_reset(&js);
		int rc = sio_msgpack_to_json(&js, p, n, &lim64, NULL, NULL, NULL);
		if (rc == SIO_OK)
			rc = to_msgpack(&mp, js.data, NULL, NULL, NULL);
		if (rc == SIO_OK) {
			sio_buf_reset(&js);
			rc = sio_msgpack_to_json(&js, (const uint8_t *)mp.data,
			    mp.len, &lim64, NULL, NULL, NULL);
		}
		snprintf(what, sizeof what, "JSON of %.40s is stable", dec[i].hex);
		T_OK(rc == SIO_OK && js.len == strlen(dec[i].json) &&
		    memcmp(js.data, dec[i].json, js.len) == 0, what);
		free(p);
	}
	sio_buf_free(&mp);
	sio_buf_free(&js);
}

static void
test_decode_binary(void)
{
	struct sio_buf out = SIO_BUF_INIT, back = SIO_BUF_INIT;
	struct sio_mj_atts atts = SIO_MJ_ATTS_INIT;
	char err[SIO_ERRLEN];
	size_t n;
	uint8_t *p = unhex(binary_hex, &n);

	T_EQ_INT(sio_msgpack_to_json(&out, p, n, &lim64, sio_mj_placeholder_out,
	    &atts, err), SIO_OK, "bin becomes a placeholder");
	T_EQ_MEM(out.data, out.len, binary_json, "placeholder JSON");
	T_EQ_INT(atts.n, 1, "one attachment");
	T_OK(atts.n == 1 && atts.v[0].len == 3 && atts.v[0].p == p + 26,
	    "attachment points into the input");
	T_EQ_INT(to_msgpack(&back, out.data, sio_mj_placeholder_in, &atts, err),
	    SIO_OK, "and packs back");
	T_EQ_STR(t_hex(back.data, back.len), binary_hex, "to the same bytes");
	free(p);

	/* Numbered in document order, across nesting; empty bin too. */
	sio_mj_atts_free(&atts);
	sio_buf_reset(&out);
	p = unhex("93c401aa81a16291c400c5000201bb", &n);
	T_EQ_INT(sio_msgpack_to_json(&out, p, n, &lim64, sio_mj_placeholder_out,
	    &atts, err), SIO_OK, "three bins");
	T_EQ_MEM(out.data, out.len, "[{\"_placeholder\":true,\"num\":0},{\"b\":"
	    "[{\"_placeholder\":true,\"num\":1}]},{\"_placeholder\":true,"
	    "\"num\":2}]", "numbered in order");
	T_OK(atts.n == 3 && atts.v[1].len == 0 && atts.v[2].len == 2 &&
	    atts.v[2].p[1] == 0xbb, "spans");

	sio_mj_atts_free(&atts);
	atts.max = 2;
	sio_buf_reset(&out);
	sio_buf_adds(&out, "KEEP");
	T_EQ_INT(sio_msgpack_to_json(&out, p, n, &lim64, sio_mj_placeholder_out,
	    &atts, err), SIO_ELIMIT, "attachments over max");
	T_EQ_STR(err, "more than 2 binary attachments", "its message");
	T_EQ_STR(out.data, "KEEP", "out as it was");
	sio_mj_atts_free(&atts);

	sio_buf_reset(&out);
	T_EQ_INT(sio_msgpack_to_json(&out, p, n, &lim64, sio_mj_base64_out, NULL,
	    err), SIO_OK, "bins as base64");
	T_EQ_MEM(out.data, out.len, "[{\"_binary\":\"qg==\"},{\"b\":[{\"_binary\":"
	    "\"\"}]},{\"_binary\":\"Abs=\"}]", "base64 JSON");
	struct sio_buf scratch = SIO_BUF_INIT;
	sio_buf_reset(&back);
	T_EQ_INT(to_msgpack(&back, out.data, sio_mj_base64_in, &scratch, err),
	    SIO_OK, "base64 packs back");
	T_EQ_STR(t_hex(back.data, back.len), "93c401aa81a16291c400c40201bb",
	    "same bins (bin 16 of 2 bytes comes back as bin 8)");
	sio_buf_free(&scratch);

	T_EQ_INT(sio_msgpack_to_json(&out, p, n, &lim64, NULL, NULL, err),
	    SIO_EPROTO, "bin with no hook");
	T_EQ_STR(err, "invalid MessagePack at byte 1: binary value where none "
	    "is expected", "its message");
	free(p);

	/* notepack.io 2.x's ArrayBuffer: ext 8/16/32 of type 0. */
	sio_buf_reset(&out);
	p = unhex("93c70200aabbc8000100ccc90000000000", &n);
	T_EQ_INT(sio_msgpack_to_json(&out, p, n, &lim64, sio_mj_base64_out, NULL,
	    err), SIO_OK, "ext type 0 is bytes");
	T_EQ_MEM(out.data, out.len, "[{\"_binary\":\"qrs=\"},{\"_binary\":\"zA==\"},"
	    "{\"_binary\":\"\"}]", "as bin");
	free(p);

	sio_buf_free(&out);
	sio_buf_free(&back);
}

static void
test_decode_errors(void)
{
	static const struct {
		const char *hex;
		int rc;
		const char *msg;
	} bad[] = {
		{ "", SIO_EPROTO, "invalid MessagePack at byte 0: truncated" },
		{ "c1", SIO_EPROTO,
		    "invalid MessagePack at byte 0: reserved byte 0xc1" },
		{ "c0c0", SIO_EPROTO,
		    "invalid MessagePack at byte 1: trailing bytes" },
		{ "8101a0", SIO_EPROTO,
		    "invalid MessagePack at byte 1: map key is not a string" },
		{ "81c0a0", SIO_EPROTO,
		    "invalid MessagePack at byte 1: map key is not a string" },
		{ "81a161", SIO_EPROTO, "invalid MessagePack at byte 3: truncated" },
		{ "a1ff", SIO_EPROTO,
		    "invalid MessagePack at byte 0: invalid UTF-8 in string" },
		{ "81a1ff00", SIO_EPROTO,
		    "invalid MessagePack at byte 1: invalid UTF-8 in string" },
		{ "a2eda080", SIO_EPROTO,
		    "invalid MessagePack at byte 0: invalid UTF-8 in string" },
		{ "a261", SIO_EPROTO,
		    "invalid MessagePack at byte 0: truncated string" },
		{ "db", SIO_EPROTO, "invalid MessagePack at byte 0: truncated" },
		{ "dbffffffff61", SIO_EPROTO,
		    "invalid MessagePack at byte 0: truncated string" },
		{ "c4", SIO_EPROTO, "invalid MessagePack at byte 0: truncated" },
		{ "cd01", SIO_EPROTO, "invalid MessagePack at byte 0: truncated" },
		{ "cb000000", SIO_EPROTO,
		    "invalid MessagePack at byte 0: truncated" },
		{ "ddffffffff", SIO_EPROTO,
		    "invalid MessagePack at byte 0: array longer than the input" },
		{ "930102", SIO_EPROTO,
		    "invalid MessagePack at byte 0: array longer than the input" },
		{ "82a16101", SIO_EPROTO,
		    "invalid MessagePack at byte 0: map longer than the input" },
		{ "920191", SIO_EPROTO, "invalid MessagePack at byte 2: "
		    "array longer than the input" },
		{ "d40500", SIO_EPROTO,
		    "invalid MessagePack at byte 0: unsupported ext type 5" },
		{ "d4ff00", SIO_EPROTO,
		    "invalid MessagePack at byte 0: unsupported ext type -1" },
		{ "d50000aa", SIO_EPROTO,
		    "invalid MessagePack at byte 0: unsupported ext type 0" },
		{ "c708ff0000000000000000", SIO_EPROTO,
		    "invalid MessagePack at byte 0: unsupported ext type -1" },
		{ "d6ff0000", SIO_EPROTO,
		    "invalid MessagePack at byte 0: truncated ext" },
		{ "c70cff00", SIO_EPROTO,
		    "invalid MessagePack at byte 0: truncated ext" },
		{ "c7", SIO_EPROTO, "invalid MessagePack at byte 0: truncated" },
	};
	struct sio_buf out = SIO_BUF_INIT;
	char err[SIO_ERRLEN], what[120];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t n;
		uint8_t *p = unhex(bad[i].hex, &n);
		sio_buf_reset(&out);
		sio_buf_adds(&out, "KEEP");
		err[0] = '\0';
		int rc = sio_msgpack_to_json(&out, p, n, &lim64, NULL, NULL, err);
		snprintf(what, sizeof what, "bad input %s", bad[i].hex);
		T_EQ_INT(rc, bad[i].rc, what);
		T_EQ_STR(err, bad[i].msg, what);
		T_EQ_STR(out.data, "KEEP", "out as it was");
		T_EQ_INT(sio_msgpack_to_json(&out, p, n, &lim64, NULL, NULL, NULL),
		    bad[i].rc, "NULL err is allowed");
		free(p);
	}
	sio_buf_free(&out);
}

static void
test_limits(void)
{
	struct sio_buf out = SIO_BUF_INIT, in = SIO_BUF_INIT;
	char err[SIO_ERRLEN];
	struct sio_mj_limits lim = { 3, 0 };
	static const uint8_t three[] = { 0x91, 0x91, 0x90 };
	static const uint8_t mapped[] = { 0x81, 0xa1, 'a', 0x81, 0xa1, 'b', 0x80 };
	static const uint8_t scalar[] = { 0x05 };

	T_EQ_INT(sio_msgpack_to_json(&out, three, 3, &lim, NULL, NULL, err),
	    SIO_OK, "depth 3 at limit 3");
	lim.maxdepth = 2;
	T_EQ_INT(sio_msgpack_to_json(&out, three, 3, &lim, NULL, NULL, err),
	    SIO_ELIMIT, "depth 3 over limit 2");
	T_EQ_STR(err, "MessagePack nested deeper than 2 at byte 2",
	    "depth message");
	T_EQ_INT(sio_msgpack_to_json(&out, mapped, 7, &lim, NULL, NULL, err),
	    SIO_ELIMIT, "maps count as nesting");
	lim.maxdepth = 0;
	T_EQ_INT(sio_msgpack_to_json(&out, scalar, 1, &lim, NULL, NULL, err),
	    SIO_OK, "scalar at depth 0");
	T_EQ_INT(sio_msgpack_to_json(&out, three + 2, 1, &lim, NULL, NULL, err),
	    SIO_ELIMIT, "empty array at depth 0, as lib/json.c counts it");

	/* Deep nesting costs no C stack. */
	for (int i = 0; i < 100000; i++)
		sio_buf_addc(&in, (char)0x91);
	sio_buf_addc(&in, (char)0xc0);
	lim.maxdepth = 100000;
	sio_buf_reset(&out);
	T_EQ_INT(sio_msgpack_to_json(&out, (const uint8_t *)in.data, in.len,
	    &lim, NULL, NULL, err), SIO_OK, "depth 100000");
	T_EQ_INT(out.len, 100000 * 2 + 4, "deep JSON length");
	T_OK(memcmp(out.data + 99998, "[[null]]", 8) == 0, "deep JSON middle");
	lim.maxdepth = 99999;
	T_EQ_INT(sio_msgpack_to_json(&out, (const uint8_t *)in.data, in.len,
	    &lim, NULL, NULL, err), SIO_ELIMIT, "depth 100000 over limit");

	/* Output size: escapes make JSON longer than the input. */
	static const uint8_t ctl[] = { 0x92, 0xa3, 1, 2, 3, 0xa1, 'x' };
	lim = (struct sio_mj_limits){ 64, 20 };
	sio_buf_reset(&out);
	T_EQ_INT(sio_msgpack_to_json(&out, ctl, sizeof ctl, &lim, NULL, NULL,
	    err), SIO_ELIMIT, "over maxout");
	T_EQ_STR(err, "JSON text over 20 bytes at MessagePack byte 5",
	    "maxout message");
	T_EQ_INT(out.len, 0, "out as it was");
	lim.maxout = 26;
	T_EQ_INT(sio_msgpack_to_json(&out, ctl, sizeof ctl, &lim, NULL, NULL,
	    err), SIO_OK, "exactly maxout");
	T_EQ_STR(out.data, "[\"\\u0001\\u0002\\u0003\",\"x\"]", "26 bytes");

	sio_buf_free(&in);
	sio_buf_free(&out);
}

/* Number.prototype.toString of each double, from node. */
static void
test_doubles(void)
{
	static const struct {
		double d;
		const char *js;
	} c[] = {
		{ 0.1, "0.1" },
		{ -0.0, "0" },
		{ 1.5, "1.5" },
		{ 100, "100" },
		{ 123456789012345680000.0, "123456789012345680000" },
		{ 1e21, "1e+21" },
		{ 1.5e21, "1.5e+21" },
		{ 0.000001, "0.000001" },
		{ 0.0000015, "0.0000015" },
		{ 1e-7, "1e-7" },
		{ -1.25e-7, "-1.25e-7" },
		{ 5e-324, "5e-324" },
		{ 1.7976931348623157e308, "1.7976931348623157e+308" },
		{ 0x1p-77, "6.617444900424222e-24" },	/* power of two */
		{ 0x1p-1022, "2.2250738585072014e-308" },
		{ 1.0 / 3, "0.3333333333333333" },
		{ 2.0 / 3, "0.6666666666666666" },
		{ 4.35, "4.35" },
		{ 9007199254740993.0, "9007199254740992" },
		{ 1e301, "1e+301" },
	};
	struct sio_buf out = SIO_BUF_INIT;
	char what[80];

	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		sio_buf_reset(&out);
		sio_mj_add_double(&out, c[i].d);
		snprintf(what, sizeof what, "double %s", c[i].js);
		T_EQ_MEM(out.data, out.len, c[i].js, what);
	}
	sio_buf_free(&out);
}

int
main(void)
{
	test_encode_table();
	test_encode_messages();
	test_encode_binary();
	test_decode_table();
	test_round_trip();
	test_decode_binary();
	test_decode_errors();
	test_limits();
	test_doubles();
	T_DONE();
}
