// Namespaces: several on one Engine.IO connection, relay confined to the
// namespace, unknown namespaces refused without harming the connection.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
	startHub, client, manager, connected, waitFor, expectNone, rawSocket, rawEngine,
} from "./hub.mjs";

test("two namespaces share one engine; relay stays inside each namespace", async (t) => {
	const hub = await startHub(t, ["--relay", "--nsp", "/custom"]);
	const mx = manager(t, hub.url);
	const xRoot = mx.socket("/");
	const xCustom = mx.socket("/custom");
	const my = manager(t, hub.url, { transports: ["websocket"] });
	const yRoot = my.socket("/");
	const yCustom = my.socket("/custom");
	await Promise.all([xRoot, xCustom, yRoot, yCustom].map((s) => connected(s)));

	// one Engine.IO session per manager, distinct Socket.IO ids per namespace
	assert.equal(xRoot.io, xCustom.io);
	assert.equal(xRoot.io.engine.id, xCustom.io.engine.id);
	assert.equal(xRoot.io.engine.id.length, 20);
	assert.notEqual(xRoot.io.engine.id, yRoot.io.engine.id);
	const ids = new Set([xRoot.id, xCustom.id, yRoot.id, yCustom.id, xRoot.io.engine.id]);
	assert.equal(ids.size, 5, "socket ids are distinct and differ from the engine id");

	// /custom -> /custom only
	let got = waitFor(yCustom, "hello");
	let none = [expectNone(yRoot, "hello"), expectNone(xRoot, "hello"), expectNone(xCustom, "hello")];
	xCustom.emit("hello", "custom", 1);
	assert.deepEqual(await got, ["custom", 1]);
	await Promise.all(none);

	// / -> / only
	got = waitFor(xRoot, "hello");
	none = [expectNone(xCustom, "hello"), expectNone(yCustom, "hello"), expectNone(yRoot, "hello")];
	yRoot.emit("hello", "root", 2);
	assert.deepEqual(await got, ["root", 2]);
	await Promise.all(none);
});

test("leaving one namespace keeps the other one on the same engine", async (t) => {
	const hub = await startHub(t, ["--relay", "--nsp", "/custom"]);
	const m = manager(t, hub.url, { transports: ["websocket"] });
	const root = m.socket("/");
	const custom = m.socket("/custom");
	const other = client(t, hub.url + "/custom", { transports: ["websocket"] });
	await Promise.all([connected(root), connected(custom), connected(other)]);
	const engineId = m.engine.id;

	root.disconnect();
	const got = waitFor(other, "still");
	custom.emit("still", "here");
	assert.deepEqual(await got, ["here"]);
	assert.equal(m.engine.id, engineId);
	assert.ok(custom.connected);

	const back = waitFor(custom, "back");
	other.emit("back", true);
	assert.deepEqual(await back, [true]);
});

test("unknown namespace: connect_error 'Invalid namespace', connection stays usable", async (t) => {
	const hub = await startHub(t, ["--relay", "--nsp", "/custom"]);
	const peer = client(t, hub.url, { transports: ["websocket"] });
	const m = manager(t, hub.url);
	const root = m.socket("/");
	await Promise.all([connected(root), connected(peer)]);
	const engineId = m.engine.id;

	const bad = m.socket("/nope");
	const [err] = await waitFor(bad, "connect_error");
	assert.ok(err instanceof Error);
	assert.equal(err.message, "Invalid namespace");
	assert.equal(bad.connected, false);

	// the engine and the "/" socket are still there and work both ways
	assert.ok(root.connected);
	assert.equal(m.engine.id, engineId);
	let got = waitFor(peer, "after");
	root.emit("after", "bad nsp");
	assert.deepEqual(await got, ["bad nsp"]);
	got = waitFor(root, "reply");
	peer.emit("reply", 7);
	assert.deepEqual(await got, [7]);

	// a namespace asked for later on the same engine still works
	const custom = m.socket("/custom");
	await connected(custom);
	assert.equal(m.engine.id, engineId);
});

test("unknown namespace on a fresh connection (io(url + '/nope'))", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	for (const transports of [["polling"], ["websocket"]]) {
		const s = client(t, hub.url + "/nope", { transports });
		const [err] = await waitFor(s, "connect_error");
		assert.equal(err.message, "Invalid namespace", transports[0]);
	}
	// "/custom" is not accepted without --nsp
	const c = client(t, hub.url + "/custom", { transports: ["websocket"] });
	const [err] = await waitFor(c, "connect_error");
	assert.equal(err.message, "Invalid namespace");
});

test("raw: CONNECT_ERROR packet for an unknown namespace, then / still joins", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	const c = await rawEngine(t, hub);
	c.send("40/nope,");
	assert.equal(await c.next(), '44/nope,{"message":"Invalid namespace"}');
	c.send("40");
	const reply = await c.next();
	assert.match(reply, /^40\{"sid":"[^"]{20}"\}$/);
});

test("--any-nsp accepts any namespace and relays within it", async (t) => {
	const hub = await startHub(t, ["--relay", "--any-nsp"]);
	const a = client(t, hub.url + "/whatever-1", { transports: ["websocket"] });
	const b = client(t, hub.url + "/whatever-1");
	const c = client(t, hub.url + "/whatever-2", { transports: ["websocket"] });
	await Promise.all([connected(a), connected(b), connected(c)]);
	const got = waitFor(b, "x");
	const none = expectNone(c, "x");
	a.emit("x", "dyn");
	assert.deepEqual(await got, ["dyn"]);
	await none;
});

test("raw: two namespaces on one websocket, packets carry the namespace", async (t) => {
	const hub = await startHub(t, ["--relay", "--nsp", "/custom"]);
	const a = await rawSocket(t, hub);
	a.send("40/custom,");
	assert.match(await a.next(), /^40\/custom,\{"sid":"[^"]{20}"\}$/);
	const b = await rawSocket(t, hub, { nsp: "/custom" });
	a.send('42/custom,["n",1]');
	assert.equal(await b.next(), '42/custom,["n",1]');
	b.send('42/custom,["m",2]');
	assert.equal(await a.next(), '42/custom,["m",2]');
	await a.nothing(200);
});
