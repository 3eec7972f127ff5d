// --relay: who receives a client's event, reserved event names, acks.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
	startHub, client, connected, waitFor, collect, expectNone, rawSocket, sleep,
} from "./hub.mjs";

test("relay=all: A's event reaches B and C exactly once, not A, not another namespace", async (t) => {
	const hub = await startHub(t, ["--relay", "--nsp", "/custom"]);
	const a = client(t, hub.url, { transports: ["websocket"] });
	const b = client(t, hub.url);
	const c = client(t, hub.url, { transports: ["polling"] });
	const d = client(t, hub.url + "/custom", { transports: ["websocket"] });
	await Promise.all([a, b, c, d].map((s) => connected(s)));

	const inbox = new Map([a, b, c, d].map((s) => [s, collect(s, "ev")]));
	const anyA = collect(a, "end");
	const anyD = collect(d, "end");
	a.emit("ev", "once", { n: 1 });
	a.emit("end");	// a marker after it: in-order delivery means "ev" came first
	await Promise.all([waitFor(b, "end"), waitFor(c, "end")]);
	await sleep(200);	// room for a duplicate to show up
	assert.deepEqual(inbox.get(b).list, [["once", { n: 1 }]]);
	assert.deepEqual(inbox.get(c).list, [["once", { n: 1 }]]);
	assert.deepEqual(inbox.get(a).list, [], "the sender must not get its own event");
	assert.deepEqual(anyA.list, []);
	assert.deepEqual(inbox.get(d).list, [], "another namespace must not get it");
	assert.deepEqual(anyD.list, []);

	// each client can be the sender
	const got = [waitFor(a, "from-c"), waitFor(b, "from-c")];
	const none = [expectNone(c, "from-c"), expectNone(d, "from-c")];
	c.emit("from-c", 3);
	assert.deepEqual(await Promise.all(got), [[3], [3]]);
	await Promise.all(none);
});

test("relay=all: a socket that left no longer receives; a new one does", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	const a = client(t, hub.url, { transports: ["websocket"] });
	const b = client(t, hub.url, { transports: ["websocket"] });
	await Promise.all([connected(a), connected(b)]);
	b.disconnect();
	const c = client(t, hub.url, { transports: ["websocket"] });
	await connected(c);
	const got = waitFor(c, "x");
	const none = expectNone(b, "x");
	a.emit("x", 1);
	assert.deepEqual(await got, [1]);
	await none;
});

test("no --relay: events are not re-broadcast", async (t) => {
	const hub = await startHub(t, []);
	const a = client(t, hub.url, { transports: ["websocket"] });
	const b = client(t, hub.url, { transports: ["websocket"] });
	await Promise.all([connected(a), connected(b)]);
	const none = expectNone(b, "x", 300);
	a.emit("x", 1);
	await none;
	assert.ok(a.connected && b.connected);
});

test("relay=rooms: a sender in no room but its own reaches nobody", async (t) => {
	const hub = await startHub(t, ["--relay=rooms"]);
	const a = client(t, hub.url, { transports: ["websocket"] });
	const b = client(t, hub.url, { transports: ["websocket"] });
	const c = client(t, hub.url, { transports: ["polling"] });
	await Promise.all([connected(a), connected(b), connected(c)]);
	const none = [expectNone(a, "x"), expectNone(b, "x"), expectNone(c, "x")];
	a.emit("x", "nobody");
	await Promise.all(none);
	assert.ok(a.connected && b.connected && c.connected);
});

test("reserved event name 'disconnecting' closes the sender's connection only", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	const bad = client(t, hub.url, { transports: ["websocket"] });
	const b = client(t, hub.url, { transports: ["websocket"] });
	const c = client(t, hub.url);
	await Promise.all([connected(bad), connected(b), connected(c)]);

	const gone = waitFor(bad, "disconnect");
	const notRelayed = expectNone(b, "disconnecting");
	// socket.io-client refuses to emit reserved names: write the packet by hand
	bad.io.engine.send('2["disconnecting",1]');
	const [reason] = await gone;
	assert.ok(["transport close", "transport error", "parse error"].includes(reason), reason);
	await notRelayed;

	assert.ok(b.connected && c.connected);
	const got = waitFor(b, "later");
	c.emit("later", "still fine");
	assert.deepEqual(await got, ["still fine"]);
});

for (const name of ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]) {
	test(`raw: reserved event "${name}" closes the connection and is not relayed`, async (t) => {
		const hub = await startHub(t, ["--relay"]);
		const bad = await rawSocket(t, hub);
		const peer = await rawSocket(t, hub);
		bad.send(`42${JSON.stringify([name, 1])}`);
		await Promise.race([bad.closed, sleep(2000).then(() => { throw new Error("not closed in 2 s"); })]);
		// the peer is untouched and nothing was relayed to it
		await peer.nothing(100);
		const other = await rawSocket(t, hub);
		other.send('42["ok",1]');
		assert.equal(await peer.next(), '42["ok",1]');
	});
}

test("malformed event packets close the sender only", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	const peer = await rawSocket(t, hub);
	for (const frame of ["42{}", '42abc["x"]', "42[]", "42[1", "4abc", '42[{"a":1}]', "42null"]) {
		const bad = await rawSocket(t, hub);
		bad.send(frame);
		await Promise.race([bad.closed, sleep(2000).then(() => { throw new Error(`${frame}: not closed in 2 s`); })]);
	}
	await peer.nothing(100);
	const other = await rawSocket(t, hub);
	other.send('42["ok"]');
	assert.equal(await peer.next(), '42["ok"]');
});

test("numeric event names are relayed", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	const a = await rawSocket(t, hub);
	const b = await rawSocket(t, hub);
	a.send("42[7,\"seven\"]");
	assert.equal(await b.next(), '42[7,"seven"]');
});

test("ack: the relayed copy carries no ack and the sender's ack is not answered", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	const a = client(t, hub.url, { transports: ["websocket"] });
	const b = client(t, hub.url);
	await Promise.all([connected(a), connected(b)]);

	const got = waitFor(b, "ask");
	let acked = false;
	a.emit("ask", "q", { x: 1 }, () => { acked = true; });
	const args = await got;
	assert.deepEqual(args, ["q", { x: 1 }]);
	assert.notEqual(typeof args[args.length - 1], "function", "B must not get an ack callback");
	await sleep(300);
	assert.equal(acked, false, "nobody may answer A's ack");

	// a timed-out ack reports the timeout (nothing answered it)
	const err = await new Promise((resolve) => a.timeout(300).emit("ask", 2, (e) => resolve(e)));
	assert.ok(err instanceof Error);
	assert.match(err.message, /timed out/);
	assert.ok(a.connected && b.connected);
});

test("raw: an event with an ack id is relayed without it, binary too", async (t) => {
	const hub = await startHub(t, ["--relay", "--nsp", "/custom"]);
	const a = await rawSocket(t, hub);
	const b = await rawSocket(t, hub);
	a.send('4212["ask",1]');
	assert.equal(await b.next(), '42["ask",1]');
	a.send('451-7["bin",{"_placeholder":true,"num":0}]');
	a.send(Buffer.from([1, 2]));
	assert.equal(await b.next(), '451-["bin",{"_placeholder":true,"num":0}]');
	assert.deepEqual(await b.next(), Buffer.from([1, 2]));
	a.send("40/custom,");
	await a.next();
	const c = await rawSocket(t, hub, { nsp: "/custom" });
	a.send('42/custom,99["ask",2]');
	assert.equal(await c.next(), '42/custom,["ask",2]');
	await a.nothing(100);
	await b.nothing(0);
});
