// Heartbeat: the hub pings every --ping-interval and drops clients that do
// not answer within --ping-timeout.

import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startHub, client, connected, waitFor, collect, expectNone, rawEngine, sleep } from "./hub.mjs";

const HB = ["--relay", "--ping-interval", "200", "--ping-timeout", "200"];

for (const transports of [["websocket"], ["polling"], ["polling", "websocket"]]) {
	test(`${transports.join("+")}: a socket.io-client answering pings stays connected`, async (t) => {
		const hub = await startHub(t, HB);
		const a = client(t, hub.url, { transports });
		const b = client(t, hub.url, { transports: ["websocket"] });
		await Promise.all([connected(a), connected(b)]);
		const pings = collect(a.io.engine, "ping");
		const id = a.id;
		await expectNone(a, "disconnect", 1500);
		assert.ok(a.connected);
		assert.equal(a.id, id);
		assert.ok(pings.list.length >= 4, `only ${pings.list.length} pings in 1.5 s`);
		// and the connection still carries events
		const got = waitFor(b, "alive");
		a.emit("alive", 1);
		assert.deepEqual(await got, [1]);
	});
}

test("raw websocket that never answers pings is closed after interval + timeout", async (t) => {
	const hub = await startHub(t, HB);
	const c = await rawEngine(t, hub, { answerPings: false });
	const t0 = Date.now();
	c.send("40");
	assert.match(await c.next(), /^40\{"sid":/);
	assert.equal(await c.next(), "2", "the hub pings first");
	const firstPing = Date.now() - t0;
	assert.ok(firstPing >= 150 && firstPing <= 500, `first ping after ${firstPing} ms`);
	const { at } = await Promise.race([
		c.closed,
		sleep(2000).then(() => { throw new Error("not closed within 2 s"); }),
	]);
	const elapsed = at - t0;
	assert.ok(elapsed >= 350 && elapsed <= 900, `closed after ${elapsed} ms`);
});

test("raw websocket answering pings stays open", async (t) => {
	const hub = await startHub(t, HB);
	const c = await rawEngine(t, hub);	// answers "2" with "3"
	c.send("40");
	await c.next();
	await sleep(1000);
	assert.equal(c.closeInfo, null);
	c.send('42["x"]');
	await c.nothing(50);
});

test("a client that stops answering is dropped; its peers are not", async (t) => {
	const hub = await startHub(t, HB);
	const mute = await rawEngine(t, hub, { answerPings: false });
	mute.send("40");
	await mute.next();
	const b = client(t, hub.url, { transports: ["websocket"] });
	const c = client(t, hub.url, { transports: ["polling"] });
	await Promise.all([connected(b), connected(c)]);
	await Promise.race([mute.closed, sleep(2000).then(() => { throw new Error("mute client not closed"); })]);
	await sleep(300);
	assert.ok(b.connected && c.connected);
	const got = waitFor(c, "still");
	b.emit("still", "here");
	assert.deepEqual(await got, ["here"]);
});

function get(port, path) {
	return new Promise((resolve, reject) => {
		const r = http.get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
			let body = "";
			res.setEncoding("utf8");
			res.on("data", (d) => { body += d; });
			res.on("end", () => resolve({ status: res.statusCode, body }));
		});
		r.setTimeout(3000, () => r.destroy(new Error("request timed out")));
		r.on("error", reject);
	});
}

test("polling session that never polls is gone after interval + timeout", async (t) => {
	const hub = await startHub(t, HB);
	const q = "/socket.io/?EIO=4&transport=polling";
	const open = await get(hub.port, q);
	assert.equal(open.status, 200);
	const sid = JSON.parse(open.body.slice(1)).sid;
	await sleep(600);
	const r = await get(hub.port, `${q}&sid=${sid}`);
	assert.equal(r.status, 400);
	assert.deepEqual(JSON.parse(r.body), { code: 1, message: "Session ID unknown" });
});
