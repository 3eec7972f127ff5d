// Transports: polling + upgrade, WebSocket only, polling only, and mixes,
// each checked by relaying events between two socket.io-client sockets.

import { test } from "node:test";
import assert from "node:assert/strict";
import { startHub, client, connected, upgraded, waitFor, collect } from "./hub.mjs";

const RELAY = ["--relay"];

test("default transports: polling handshake, upgrade to websocket, relay", async (t) => {
	const hub = await startHub(t, RELAY);
	const a = client(t, hub.url);
	const b = client(t, hub.url, { transports: ["websocket"] });
	await Promise.all([connected(a), connected(b)]);

	assert.equal(typeof a.id, "string");
	assert.equal(a.id.length, 20);
	assert.equal(typeof a.io.engine.id, "string");
	assert.equal(a.io.engine.id.length, 20);
	assert.notEqual(a.id, a.io.engine.id, "the Socket.IO id must not be the Engine.IO sid");
	assert.notEqual(a.id, b.id);
	assert.notEqual(a.io.engine.id, b.io.engine.id);

	await upgraded(a);
	assert.equal(a.io.engine.transport.name, "websocket");

	const got = waitFor(b, "chat");
	a.emit("chat", "hello", 42, { nested: [true, null, "x"] });
	assert.deepEqual(await got, ["hello", 42, { nested: [true, null, "x"] }]);

	// and back, B -> A over the upgraded transport
	const back = waitFor(a, "reply");
	b.emit("reply", [1, 2, 3]);
	assert.deepEqual(await back, [[1, 2, 3]]);
	assert.ok(a.connected && b.connected);
});

test("events emitted while upgrading arrive complete and in order", async (t) => {
	const hub = await startHub(t, RELAY);
	const b = client(t, hub.url);
	await connected(b);
	const got = collect(b, "seq");
	const a = client(t, hub.url);
	// emitted before and during the polling -> websocket upgrade
	for (let i = 0; i < 50; i++)
		a.emit("seq", i);
	await connected(a);
	for (let i = 50; i < 100; i++)
		a.emit("seq", i);
	await upgraded(a);
	for (let i = 100; i < 150; i++)
		a.emit("seq", i);
	await got.wait(150, 5000);
	assert.deepEqual(got.list.map((x) => x[0]), Array.from({ length: 150 }, (_, i) => i));
	await upgraded(b);
	assert.equal(a.io.engine.transport.name, "websocket");
});

for (const transports of [["websocket"], ["polling"]]) {
	test(`${transports[0]} only: relay both ways`, async (t) => {
		const hub = await startHub(t, RELAY);
		const a = client(t, hub.url, { transports });
		const b = client(t, hub.url, { transports });
		await Promise.all([connected(a), connected(b)]);
		assert.equal(a.io.engine.transport.name, transports[0]);
		assert.equal(b.io.engine.transport.name, transports[0]);
		assert.notEqual(a.id, b.id);

		let got = waitFor(b, "ab");
		a.emit("ab", "from a", 1.5, false);
		assert.deepEqual(await got, ["from a", 1.5, false]);

		got = waitFor(a, "ba");
		b.emit("ba", { from: "b" }, ["x"]);
		assert.deepEqual(await got, [{ from: "b" }, ["x"]]);

		// several events in a row keep their order
		const seq = collect(b, "n");
		for (let i = 0; i < 20; i++)
			a.emit("n", i);
		await seq.wait(20);
		assert.deepEqual(seq.list.map((x) => x[0]), [...Array(20).keys()]);
		// still on the same transport (no upgrade when it is not allowed)
		assert.equal(a.io.engine.transport.name, transports[0]);
	});
}

test("polling client <-> websocket client", async (t) => {
	const hub = await startHub(t, RELAY);
	const p = client(t, hub.url, { transports: ["polling"] });
	const w = client(t, hub.url, { transports: ["websocket"] });
	await Promise.all([connected(p), connected(w)]);
	assert.equal(p.io.engine.transport.name, "polling");
	assert.equal(w.io.engine.transport.name, "websocket");

	let got = waitFor(w, "p2w");
	p.emit("p2w", "polling says hi", { n: 1 });
	assert.deepEqual(await got, ["polling says hi", { n: 1 }]);

	got = waitFor(p, "w2p");
	w.emit("w2p", "websocket says hi", [null]);
	assert.deepEqual(await got, ["websocket says hi", [null]]);
});

test("--transports websocket: a websocket-only client works", async (t) => {
	const hub = await startHub(t, [...RELAY, "--transports", "websocket"]);
	const a = client(t, hub.url, { transports: ["websocket"] });
	const b = client(t, hub.url, { transports: ["websocket"] });
	await Promise.all([connected(a), connected(b)]);
	const got = waitFor(b, "x");
	a.emit("x", 1);
	assert.deepEqual(await got, [1]);
});

test("--transports polling: a polling-only client works and is not upgraded", async (t) => {
	const hub = await startHub(t, [...RELAY, "--transports", "polling"]);
	const a = client(t, hub.url);
	const b = client(t, hub.url, { transports: ["polling"] });
	await Promise.all([connected(a), connected(b)]);
	const got = waitFor(b, "x");
	a.emit("x", 1);
	assert.deepEqual(await got, [1]);
	assert.equal(a.io.engine.transport.name, "polling");
});

test("--path: a custom path is served", async (t) => {
	const hub = await startHub(t, [...RELAY, "--path", "/rt/"]);
	const a = client(t, hub.url, { path: "/rt/" });
	const b = client(t, hub.url, { path: "/rt/", transports: ["websocket"] });
	await Promise.all([connected(a), connected(b)]);
	const got = waitFor(b, "x");
	a.emit("x", "custom path");
	assert.deepEqual(await got, ["custom path"]);
	// the default path is not served any more
	const c = client(t, hub.url, { transports: ["websocket"] });
	const [err] = await waitFor(c, "connect_error");
	assert.ok(err instanceof Error);
});
