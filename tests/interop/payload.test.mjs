// Payloads pass through the relay unchanged (values for socket.io-client,
// exact bytes for raw clients), and the CONNECT auth payload.

import { test } from "node:test";
import assert from "node:assert/strict";
import { startHub, client, connected, waitFor, rawEngine, rawSocket } from "./hub.mjs";

// JSON values that survive a JS round trip exactly
const VALUES = [
	0, -1, 1.5, -0.000001, 1e21, 2 ** 53 - 1, Number.MIN_VALUE, Number.MAX_VALUE,
	"", "plain", "quote \" backslash \\ slash / tab \t newline \n nul \u0000 del \u007f",
	"é ü 中文 😀 \u2028 \u2029 \ufeff", true, false, null,
	[], {}, [[[[[]]]]], { "": 1, "a b": [null, { x: "y" }], "€": "€" },
	{ z: 1, a: 2, m: { c: 3, b: [1, "2", { d: null }] } },
];

for (const transports of [["websocket"], ["polling"]]) {
	test(`${transports[0]}: JSON values arrive exactly (socket.io-client)`, async (t) => {
		const hub = await startHub(t, ["--relay"]);
		const a = client(t, hub.url, { transports });
		const b = client(t, hub.url, { transports });
		await Promise.all([connected(a), connected(b)]);
		const got = waitFor(b, "values");
		a.emit("values", ...VALUES);
		const args = await got;
		assert.deepEqual(args, VALUES);
		// key order is kept too
		assert.deepEqual(Object.keys(args.at(-1)), ["z", "a", "m"]);
		assert.deepEqual(Object.keys(args.at(-1).m), ["c", "b"]);
		// event names with unusual characters
		const odd = "ev 😀 \"quoted\" \\";
		const got2 = waitFor(b, odd);
		a.emit(odd, 1);
		assert.deepEqual(await got2, [1]);
	});
}

// Written exactly so: a 20-digit integer (beyond double precision),
// \u escapes (a surrogate pair too), an escaped backslash, key order, an
// exponent. A server that parses and re-serializes would change it.
const RAW_FRAMES = [
	String.raw`42["big",12345678901234567890,"\u00e9\ud83d\ude00\\u2028",{"b":1,"a":2},1.0e+2]`,
	'42["utf8","é😀\u2028\u2029",-0,0.1e-7,1E400,{"a":{"a":{"a":[]}}}]',
	String.raw`42["ws",  [ 1 , 2 ] , { "k" : "v" } ]`,
	String.raw`42["esc","\/\b\f\n\r\t\"\u0000\u001f"]`,
];

test("raw websocket: event frames are relayed byte for byte", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	const a = await rawSocket(t, hub);
	const b = await rawSocket(t, hub);
	for (const frame of RAW_FRAMES) {
		a.send(frame);
		const got = await b.next();
		assert.equal(got, frame);
	}
	// and from b to a
	b.send(RAW_FRAMES[0]);
	assert.equal(await a.next(), RAW_FRAMES[0]);
	await a.nothing(100);
});

test("raw websocket -> socket.io-client: values parse as JS would", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	const a = await rawSocket(t, hub);
	const b = client(t, hub.url, { transports: ["polling"] });
	await connected(b);
	const got = waitFor(b, "big");
	a.send(RAW_FRAMES[0]);
	assert.deepEqual(await got, JSON.parse(RAW_FRAMES[0].slice(2)).slice(1));
});

test("socket.io-client connects with an auth payload", async (t) => {
	const hub = await startHub(t, ["--relay", "--nsp", "/custom"]);
	for (const transports of [["websocket"], ["polling"]]) {
		const s = client(t, hub.url, { transports, auth: { token: "abc" } });
		await connected(s);
		assert.equal(s.id.length, 20);
		const c = client(t, hub.url + "/custom", { transports, auth: (cb) => cb({ token: "abc", n: [1, 2] }) });
		await connected(c);
	}
});

test("raw: CONNECT with auth gets a reply whose only key is sid", async (t) => {
	const hub = await startHub(t, ["--relay", "--nsp", "/custom"]);
	const c = await rawEngine(t, hub);
	c.send('40{"token":"123"}');
	const reply = await c.next();
	assert.match(reply, /^40\{/);
	const body = JSON.parse(reply.slice(2));
	assert.deepEqual(Object.keys(body), ["sid"]);
	assert.equal(typeof body.sid, "string");
	assert.equal(body.sid.length, 20);
	assert.notEqual(body.sid, c.open.sid, "the socket id is not the engine sid");
	assert.equal(reply, `40{"sid":"${body.sid}"}`, "compact JSON");

	c.send('40/custom,{"token":"456"}');
	const r2 = await c.next();
	assert.match(r2, /^40\/custom,\{"sid":"[^"]{20}"\}$/);
	assert.notEqual(JSON.parse(r2.slice("40/custom,".length)).sid, body.sid);
});

test("raw: handshake has exactly the five keys", async (t) => {
	const hub = await startHub(t, ["--ping-interval", "1234", "--ping-timeout", "567", "--max-payload", "4321"]);
	const c = await rawEngine(t, hub);
	assert.deepEqual(Object.keys(c.open).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
	assert.equal(c.open.sid.length, 20);
	assert.deepEqual(c.open.upgrades, []);
	assert.equal(c.open.pingInterval, 1234);
	assert.equal(c.open.pingTimeout, 567);
	assert.equal(c.open.maxPayload, 4321);
});

test("lone surrogates and deep nesting pass through", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	const a = client(t, hub.url, { transports: ["websocket"] });
	const b = client(t, hub.url, { transports: ["polling"] });
	await Promise.all([connected(a), connected(b)]);
	// JSON.stringify escapes them as "\ud800": valid JSON, JS accepts it
	const lone = ["a\ud800b", "\udc00", "x\udbff"];
	let got = waitFor(b, "lone");
	a.emit("lone", ...lone);
	assert.deepEqual(await got, lone);

	let deep = [1];
	for (let i = 0; i < 30; i++)
		deep = i % 2 ? [deep] : { d: deep };
	got = waitFor(b, "deep");
	a.emit("deep", deep);
	assert.deepEqual(await got, [deep]);
});
