// Hub restarts: clean exit on SIGTERM, and clients reconnecting by
// themselves to a new hub on the same port.

import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startHub, client, connected, upgraded, waitFor, sleep, rawSocket } from "./hub.mjs";

const RECONNECT = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200, randomizationFactor: 0 };

// Three clients (upgraded, websocket, polling) on hub1; hub1 goes away
// (`stop` does it), a new hub starts on the same port, the clients come back
// by themselves with new ids and the relay works again.
async function restartScenario(t, stop) {
	const hub1 = await startHub(t, ["--relay"]);
	const a = client(t, hub1.url, { ...RECONNECT });
	const b = client(t, hub1.url, { ...RECONNECT, transports: ["websocket"] });
	const c = client(t, hub1.url, { ...RECONNECT, transports: ["polling"] });
	await Promise.all([connected(a), connected(b), connected(c)]);
	await upgraded(a);
	const before = [a.id, b.id, c.id];

	let got = waitFor(b, "x");
	a.emit("x", "first hub");
	assert.deepEqual(await got, ["first hub"]);

	const lost = [a, b, c].map((s) => waitFor(s, "disconnect"));
	await stop(hub1);
	const reasons = (await Promise.all(lost)).map(([r]) => r);
	// "io server disconnect" (a DISCONNECT packet) would stop the client
	// from reconnecting: the hub going away must look like a lost transport
	assert.deepEqual(reasons.map((r) => ["transport close", "transport error"].includes(r) ? "lost" : r),
		["lost", "lost", "lost"]);

	const back = [a, b, c].map((s) => waitFor(s, "connect", 5000));
	const hub2 = await startHub(t, ["--relay"], { port: hub1.port });
	await Promise.all(back);
	for (const [i, s] of [a, b, c].entries()) {
		assert.ok(s.connected);
		assert.equal(typeof s.id, "string");
		assert.equal(s.id.length, 20);
		assert.notEqual(s.id, before[i], "a new hub gives a new id");
	}

	got = waitFor(b, "x");
	const got2 = waitFor(a, "y");
	c.emit("x", "second hub");
	b.emit("y", { n: 2 });
	assert.deepEqual(await got, ["second hub"]);
	assert.deepEqual(await got2, [{ n: 2 }]);
	await upgraded(a);
}

test("clients reconnect by themselves after the hub dies (SIGKILL) and restarts", async (t) => {
	await restartScenario(t, async (hub) => {
		process.kill(hub.pid, "SIGKILL");
		await hub.exited;
	});
});

test("clients reconnect by themselves after the hub restarts (SIGTERM)", async (t) => {
	await restartScenario(t, async (hub) => {
		const res = await hub.stop();
		assert.deepEqual([res.code, res.signal], [0, null], hub.stderr);
		assert.ok(res.ms < 2000, `SIGTERM took ${res.ms} ms`);
	});
});

test("SIGTERM sends no Socket.IO DISCONNECT, only closes the transport", async (t) => {
	const hub = await startHub(t, ["--nsp", "/custom"]);
	const c = await rawSocket(t, hub);
	c.send("40/custom,");
	await c.next();
	process.kill(hub.pid, "SIGTERM");
	const frames = [];
	try {
		for (;;)
			frames.push(await c.next(2000));
	} catch { /* closed */ }
	await c.closed;
	assert.deepEqual(frames.filter((f) => f !== "1"), []);
});

test("SIGTERM: exit status 0 within 2 s with websocket clients connected", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	const a = client(t, hub.url, { transports: ["websocket"] });
	const b = client(t, hub.url);
	await Promise.all([connected(a), connected(b)]);
	await upgraded(b);
	const gone = [waitFor(a, "disconnect"), waitFor(b, "disconnect")];
	const res = await hub.stop();
	assert.deepEqual([res.code, res.signal], [0, null]);
	assert.ok(res.ms < 2000, `SIGTERM took ${res.ms} ms`);
	await Promise.all(gone);
});

test("SIGTERM with no client: exit status 0 at once", async (t) => {
	const hub = await startHub(t, []);
	const res = await hub.stop();
	assert.deepEqual([res.code, res.signal], [0, null]);
	assert.ok(res.ms < 1000, `SIGTERM took ${res.ms} ms`);
});

function request(port, method, path, body) {
	return new Promise((resolve, reject) => {
		const r = http.request({ host: "127.0.0.1", port, method, path, agent: false }, (res) => {
			let data = "";
			res.setEncoding("utf8");
			res.on("data", (d) => { data += d; });
			res.on("end", () => resolve({ status: res.statusCode, body: data }));
		});
		r.setTimeout(3000, () => r.destroy(new Error("request timed out")));
		r.on("error", reject);
		r.end(body);
	});
}

test("SIGTERM: exit within 2 s with a polling client between two polls", async (t) => {
	const hub = await startHub(t, []);
	const q = "/socket.io/?EIO=4&transport=polling";
	const open = await request(hub.port, "GET", q);
	const sid = JSON.parse(open.body.slice(1)).sid;
	assert.equal((await request(hub.port, "POST", `${q}&sid=${sid}`, "40")).body, "ok");
	assert.match((await request(hub.port, "GET", `${q}&sid=${sid}`)).body, /^40\{"sid":/);
	const res = await hub.stop(2100);
	assert.deepEqual([res.code, res.signal], [0, null]);
	assert.ok(res.ms < 2000, `SIGTERM took ${res.ms} ms`);
});

test("a client with reconnection waits for a hub that is not there yet", async (t) => {
	const hub1 = await startHub(t, []);
	const port = hub1.port;
	await hub1.stop();
	const a = client(t, `http://127.0.0.1:${port}`, { ...RECONNECT, transports: ["websocket"] });
	await waitFor(a.io, "reconnect_attempt", 2000);
	await sleep(150);
	assert.equal(a.connected, false);
	const hub2 = await startHub(t, [], { port });
	await connected(a, 5000);
	assert.equal(a.id.length, 20);
	assert.ok(hub2.running);
});
