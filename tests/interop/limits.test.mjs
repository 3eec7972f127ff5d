// --max-payload: messages under the limit pass intact, one over it closes
// the sender's connection only.

import { test } from "node:test";
import assert from "node:assert/strict";
import { startHub, client, connected, waitFor, collect, expectNone, rawEngine, normalize } from "./hub.mjs";

const LIMIT = 100000;
const ARGS = ["--relay", "--max-payload", String(LIMIT)];
const TRANSPORT_REASONS = ["transport close", "transport error"];

function text(n) {
	// varied ASCII so truncation or corruption anywhere shows
	let s = "";
	for (let i = 0; s.length < n; i++)
		s += String.fromCharCode(33 + (i % 90));
	return s.slice(0, n);
}

test("the handshake advertises --max-payload", async (t) => {
	const hub = await startHub(t, ARGS);
	const c = await rawEngine(t, hub);
	assert.equal(c.open.maxPayload, LIMIT);
});

for (const transport of ["websocket", "polling"]) {
	test(`${transport}: a 90,000-char payload under the limit is relayed intact`, async (t) => {
		const hub = await startHub(t, ARGS);
		const a = client(t, hub.url, { transports: [transport] });
		const b = client(t, hub.url, { transports: [transport] });
		await Promise.all([connected(a), connected(b)]);
		const big = text(90000);
		let got = waitFor(b, "big");
		a.emit("big", big);
		const [s] = await got;
		assert.equal(s.length, 90000);
		assert.ok(s === big, "payload differs");

		// and the other way, with a binary attachment under the limit (on
		// polling it travels as base64: 70,000 bytes make 93,336 chars)
		const bin = Buffer.alloc(70000, 0xab);
		got = waitFor(a, "bigbin");
		b.emit("bigbin", bin);
		assert.deepEqual(normalize(await got), normalize([bin]));
		assert.ok(a.connected && b.connected);
	});

	test(`${transport}: a 150,000-char payload over the limit closes that client only`, async (t) => {
		const hub = await startHub(t, ARGS);
		const a = client(t, hub.url, { transports: [transport] });
		const b = client(t, hub.url, { transports: ["websocket"] });
		const c = client(t, hub.url, { transports: ["polling"] });
		await Promise.all([connected(a), connected(b), connected(c)]);

		const gone = waitFor(a, "disconnect");
		const none = [expectNone(b, "huge", 500), expectNone(c, "huge", 500)];
		a.emit("huge", text(150000));
		const [reason] = await gone;
		assert.ok(TRANSPORT_REASONS.includes(reason), `disconnect reason: ${reason}`);
		await Promise.all(none);

		assert.ok(b.connected && c.connected);
		const got = waitFor(c, "after");
		b.emit("after", "ok");
		assert.deepEqual(await got, ["ok"]);
	});
}

test("websocket: an attachment over the limit closes that client only", async (t) => {
	const hub = await startHub(t, ARGS);
	const a = client(t, hub.url, { transports: ["websocket"] });
	const b = client(t, hub.url, { transports: ["websocket"] });
	await Promise.all([connected(a), connected(b)]);
	const gone = waitFor(a, "disconnect");
	const none = expectNone(b, "huge", 500);
	a.emit("huge", Buffer.alloc(150000, 1));
	const [reason] = await gone;
	assert.ok(TRANSPORT_REASONS.includes(reason), `disconnect reason: ${reason}`);
	await none;
	assert.ok(b.connected);
});

test("raw websocket: a frame over the limit is closed with 1009", async (t) => {
	const hub = await startHub(t, ARGS);
	const c = await rawEngine(t, hub);
	c.send("4" + "x".repeat(LIMIT + 1000));
	const { code } = await Promise.race([
		c.closed,
		new Promise((_, rej) => setTimeout(() => rej(new Error("not closed in 2 s")), 2000)),
	]);
	assert.equal(code, 1009);
});

test("polling: many 60,000-char events in a row all arrive (client splits its POSTs)", async (t) => {
	const hub = await startHub(t, ARGS);
	const a = client(t, hub.url, { transports: ["polling"] });
	const b = client(t, hub.url, { transports: ["polling"] });
	await Promise.all([connected(a), connected(b)]);
	const got = collect(b, "chunk");
	const chunks = Array.from({ length: 5 }, (_, i) => String(i) + text(60000));
	for (const s of chunks)
		a.emit("chunk", s);
	await got.wait(5, 5000);
	assert.deepEqual(got.list.map((x) => x[0]), chunks);
	assert.ok(a.connected && b.connected);
});
