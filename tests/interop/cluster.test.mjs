// --redis: two sio-hubs and one Node socket.io 4.8 server with the
// official @socket.io/redis-adapter 8.x on one redis-server (Debian's,
// started here on a free loopback port), a real socket.io-client on each.
// Broadcasts from every side, sio-emit --redis and the official
// @socket.io/redis-emitter reach exactly the room's clients on all three
// servers with the bytes sent; room operations cross in both directions;
// Redis restarts mid-test; a hub is killed with SIGKILL mid-test.
//
// No redis-server is a failure, not a skip: `make deps` installs it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import {
	startHub, client, connected, waitFor, collect, expectNone, freePort, defer, sleep, until,
} from "./hub.mjs";

const BIN = (name) => fileURLToPath(new URL(`../../cmd/${name}`, import.meta.url));

// A redis-server with no persistence on a free loopback port.
async function startRedis(t, port) {
	port ??= await freePort();
	const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no"], { stdio: ["ignore", "pipe", "pipe"] });
	let out = "";
	proc.stdout.on("data", (d) => { out += d; });
	proc.stderr.on("data", (d) => { out += d; });
	const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
	proc.on("error", (err) => { out += String(err); });
	const r = { port, proc, exited, url: `redis://127.0.0.1:${port}`,
		async stop() {
			if (proc.exitCode !== null || proc.signalCode !== null)
				return;
			proc.kill("SIGTERM");
			const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
			await exited;
			clearTimeout(timer);
		} };
	defer(t, () => r.stop());
	await until(() => out.includes("Ready to accept connections") || proc.exitCode !== null, 5000,
		"redis-server to start");
	assert.ok(out.includes("Ready to accept connections"), `redis-server did not start:\n${out}`);
	return r;
}

// A Node socket.io 4.8 server using the official adapter over node-redis.
async function startNode(t, redisUrl) {
	const pub = createClient({ url: redisUrl, socket: { reconnectStrategy: () => 100 } });
	const sub = pub.duplicate();
	// node-redis reports lost connections as errors and reconnects by itself.
	pub.on("error", () => {});
	sub.on("error", () => {});
	await Promise.all([pub.connect(), sub.connect()]);
	const httpServer = http.createServer();
	const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });
	io.on("connection", (socket) => {
		socket.on("join", (room, ack) => { socket.join(room); ack(); });
	});
	const port = await freePort();
	await new Promise((resolve) => httpServer.listen(port, "127.0.0.1", resolve));
	let closed = false;
	const close = async () => {
		if (closed)
			return;
		closed = true;
		io.close();
		// The adapter unsubscribes on close without waiting: let it finish
		// before the clients go, or their quit races its commands.
		await sleep(100);
		await Promise.allSettled([pub.quit(), sub.quit()]);
	};
	defer(t, close);
	return { io, url: `http://127.0.0.1:${port}`, pub, close };
}

function run(name, args, opts = {}) {
	return new Promise((resolve) => {
		execFile(BIN(name), args, { timeout: 15000, ...opts }, (err, stdout, stderr) =>
			resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
	});
}

async function ok(name, args) {
	const r = await run(name, args);
	assert.equal(r.code, 0, `${name} ${args.join(" ")}: ${r.stderr}`);
	return r.stdout;
}

const sorted = (a) => [...a].sort();

test("cluster: sio-hubs and a Node socket.io server on one Redis", { timeout: 120000 }, async (t) => {
	const redis = await startRedis(t);
	const hubArgs = ["--redis", redis.url, "--relay=rooms"];
	const hubA = await startHub(t, hubArgs);
	const hubB = await startHub(t, hubArgs);
	const node = await startNode(t, redis.url);
	const rooms = (hub, ...args) => ok("sio-rooms", ["-S", hub.socketPath, ...args]);
	// sio-rooms count exits 1 for 0: that is an answer here.
	const count = async (hub, room) =>
		(await run("sio-rooms", ["-S", hub.socketPath, "count", room])).stdout.trim();

	// In r1: a1 (hub A), b1 (hub B), n1 (Node). Outside: a2, b2, n2.
	const a1 = client(t, hubA.url, { transports: ["websocket"] });
	const a2 = client(t, hubA.url);
	const b1 = client(t, hubB.url, { transports: ["websocket"] });
	const b2 = client(t, hubB.url, { transports: ["websocket"] });
	const n1 = client(t, node.url, { transports: ["websocket"] });
	const n2 = client(t, node.url, { transports: ["websocket"] });
	const all = [a1, a2, b1, b2, n1, n2];
	await Promise.all(all.map((s) => connected(s)));
	await rooms(hubA, "join", "r1", "--sid", a1.id);
	await rooms(hubB, "join", "r1", "--sid", b1.id);
	await n1.timeout(3000).emitWithAck("join", "r1");
	const inR1 = [a1, b1, n1], outR1 = [a2, b2, n2];

	// Sends with send(), then checks that exactly the room got `event`
	// with exactly `args` (once), and nobody else.
	async function roomGets(event, args, send, members = inR1, others = outR1) {
		const got = members.map((s) => waitFor(s, event, 5000));
		const none = others.map((s) => expectNone(s, event, 600));
		const inbox = members.map((s) => collect(s, event));
		await send();
		const res = await Promise.all(got);
		for (const r of res)
			assert.deepEqual(r, args);
		await Promise.all(none);
		for (const c of inbox)
			assert.equal(c.list.length, 1, `"${event}" arrived more than once`);
	}

	const payload = { s: "héllo \u2603 \"q\"", n: [1, -2, 3.5, 1e21, null, true], deep: { a: { b: [] } } };

	await t.test("sio-emit through hub A reaches r1 on both hubs and on Node, with the bytes sent", () =>
		roomGets("news", [payload, 42], () => ok("sio-emit",
			["-S", hubA.socketPath, "-t", "r1", "news", JSON.stringify(payload), "42"])));

	await t.test("binary through hub B reaches Node's and hub A's clients as binary", async () => {
		const got = [waitFor(a1, "bin", 5000), waitFor(n1, "bin", 5000)];
		await ok("sio-emit", ["-S", hubB.socketPath, "-t", "r1", "bin", '{"_binary":"AQID"}', '"x"']);
		for (const [buf, x] of await Promise.all(got)) {
			assert.deepEqual([...new Uint8Array(buf)], [1, 2, 3]);
			assert.equal(x, "x");
		}
	});

	await t.test("Node io.to(room).emit reaches the room's sio clients", () =>
		roomGets("fromnode", [{ x: [1, "two"] }], () => { node.io.to("r1").emit("fromnode", { x: [1, "two"] }); }));

	await t.test("Node io.except(room).emit skips the room everywhere", () =>
		roomGets("notr1", ["y"], () => { node.io.except("r1").emit("notr1", "y"); }, outR1, inR1));

	await t.test("sio-emit --redis (no hub) reaches every server's room members", () =>
		roomGets("direct", ["d", { k: 1 }], () => ok("sio-emit",
			["--redis", redis.url, "-t", "r1", "direct", '"d"', '{"k":1}'])));

	await t.test("the official @socket.io/redis-emitter reaches sio clients", () =>
		roomGets("official", ["e", 7], () => { new Emitter(node.pub).to("r1").emit("official", "e", 7); }));

	await t.test("a client's event on hub A is relayed to its room on hub B and on Node", () =>
		roomGets("chat", ["hi", { n: 1 }], () => { a1.emit("chat", "hi", { n: 1 }); },
			[b1, n1], [a1, ...outR1]));

	await t.test("sio-listen --cluster on hub B prints the events of hub A's clients", async () => {
		const ls = spawn(BIN("sio-listen"), ["-S", hubB.socketPath, "--cluster", "--json",
			"-e", "hello-cluster"], { stdio: ["ignore", "pipe", "pipe"] });
		defer(t, () => { try { process.kill(ls.pid, "SIGTERM"); } catch { /* gone */ } });
		const lines = [];
		let buf = "";
		ls.stdout.on("data", (d) => {
			buf += d;
			let nl;
			while ((nl = buf.indexOf("\n")) >= 0) {
				lines.push(JSON.parse(buf.slice(0, nl)));
				buf = buf.slice(nl + 1);
			}
		});
		// Hub A polls once a second for cluster listeners before it publishes.
		let i = 0;
		await until(async () => {
			a1.emit("hello-cluster", { i: i++ });
			await sleep(100);
			return lines.some((l) => l.sid === a1.id);
		}, 8000, "hub A's event on hub B's listener");
		const l = lines.find((x) => x.sid === a1.id);
		assert.equal(l.type, "event");
		assert.equal(l.event, "hello-cluster");
		assert.equal(typeof l.data[0].i, "number");
		b1.emit("hello-cluster", "local");
		await until(() => lines.some((x) => x.sid === b1.id), 3000, "hub B's own event");
		process.kill(ls.pid, "SIGTERM");
	});

	await t.test("sio-rooms sockets lists the sockets of every server", async () => {
		const out = await rooms(hubA, "sockets", "--json");
		const ids = out.trim().split("\n").map((l) => JSON.parse(l).sid);
		assert.deepEqual(sorted(ids), sorted(all.map((s) => s.id)));
		const inr1 = (await rooms(hubB, "sockets", "--in", "r1", "--except", b1.id)).trim()
			.split("\n").map((l) => l.split("\t")[0]);
		assert.deepEqual(sorted(inr1), sorted([a1.id, n1.id]));
		const local = (await rooms(hubA, "sockets", "--local")).trim().split("\n").map((l) => l.split("\t")[0]);
		assert.deepEqual(sorted(local), sorted([a1.id, a2.id]));
	});

	await t.test("Node's io.fetchSockets() sees sio's sockets, rooms included", async () => {
		const socks = await node.io.in("r1").fetchSockets();
		assert.deepEqual(sorted(socks.map((s) => s.id)), sorted(inR1.map((s) => s.id)));
		const a = socks.find((s) => s.id === a1.id);
		assert.ok(a.rooms.has("r1") && a.rooms.has(a1.id));
		assert.equal(typeof a.handshake.address, "string");
	});

	await t.test("Node's allRooms() has sio's rooms; its emit with acks gets sio clients' acks", async () => {
		const all = await node.io.of("/").adapter.allRooms();
		for (const r of ["r1", a1.id, b1.id, n1.id])
			assert.ok(all.has(r), `allRooms() lacks ${r}`);
		for (const [s, name] of [[a1, "a1"], [b1, "b1"], [n1, "n1"]])
			s.on("ackme", (x, cb) => cb(`${name}:${x}`));
		a2.on("ackme", (x, cb) => cb("a2 is not in r1"));
		const res = await node.io.to("r1").timeout(3000).emitWithAck("ackme", 5);
		assert.deepEqual(sorted(res), ["a1:5", "b1:5", "n1:5"]);
		// Binary both ways: the ack's buffer comes back as a buffer.
		a1.on("ackbin", (buf, cb) => cb(buf));
		const [back] = await node.io.to(a1.id).timeout(3000).emitWithAck("ackbin", Buffer.from([7, 8]));
		assert.deepEqual([...back], [7, 8]);
	});

	await t.test("sio-emit --ack through hub A gets the acks of hub B's and Node's clients", async () => {
		for (const [sock, name] of [[a1, "a1"], [b1, "b1"], [n1, "n1"]])
			sock.on("ack2", (x, cb) => cb(`${name}:${x}`, "only the first goes across"));
		const r = await run("sio-emit", ["-S", hubA.socketPath, "-t", "r1", "--ack",
			"--timeout", "3s", "ack2", "7"]);
		assert.equal(r.code, 0, r.stderr);
		const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
		const local = lines.filter((l) => l.sid !== null);
		assert.deepEqual(local, [{ sid: a1.id, data: ["a1:7", "only the first goes across"] }]);
		assert.deepEqual(sorted(lines.filter((l) => l.sid === null).map((l) => l.data[0])),
			["b1:7", "n1:7"]);
		// A client that does not answer is counted as missing, not named.
		b1.on("ack3", () => {});
		const m = await run("sio-emit", ["-S", hubA.socketPath, "-t", b1.id, "--ack",
			"--timeout", "500ms", "ack3", "1"]);
		assert.equal(m.code, 1);
		assert.deepEqual(m.stdout.trim().split("\n").map((l) => JSON.parse(l)), [{ remote_missing: 1 }]);
	});

	await t.test("sio-rooms join/leave on hub A moves sockets on hub B and on Node", async () => {
		await rooms(hubA, "join", "vip", "--in", "r1");
		await until(async () => (await node.io.in("vip").fetchSockets()).length === 3, 3000, "vip to fill");
		await roomGets("vip-ev", [1], () => { node.io.to("vip").emit("vip-ev", 1); });
		// members and count answer for the whole cluster too.
		const members = (await rooms(hubB, "members", "vip")).trim().split("\n");
		assert.deepEqual(sorted(members), sorted(inR1.map((s) => s.id)));
		assert.equal(await count(hubB, "vip"), "3");
		assert.equal((await rooms(hubB, "members", "vip", "--json")).includes(a1.id), true);
		await rooms(hubA, "leave", "vip", "--in", "vip", "--except", a1.id);
		await until(async () => (await node.io.in("vip").fetchSockets()).length === 1, 3000, "vip to empty");
		assert.equal(await count(hubB, "vip"), "1");
	});

	await t.test("Node socketsJoin / socketsLeave move sio's sockets", async () => {
		node.io.in("r1").socketsJoin("gold");
		await until(async () => await count(hubB, "gold") === "3", 3000, "r1 in gold");
		node.io.in("gold").socketsLeave("gold");
		await until(async () => await count(hubA, "gold") === "0", 3000, "gold to empty");
	});

	await t.test("disconnect both ways: sio-rooms on Node's socket, Node on sio's", async () => {
		await n2.timeout(3000).emitWithAck("join", "bye");
		const n2gone = waitFor(n2, "disconnect", 5000);
		await rooms(hubA, "disconnect", "--in", "bye");
		assert.equal((await n2gone)[0], "io server disconnect");
		const b2gone = waitFor(b2, "disconnect", 5000);
		node.io.in(b2.id).disconnectSockets();
		assert.equal((await b2gone)[0], "io server disconnect");
	});

	await t.test("a stalled Redis: the hub's pending output stays under --redis-max-pending", async () => {
		const hubC = await startHub(t, ["--redis", redis.url, "--redis-max-pending", "65536"]);
		const metric = async (name) => Number(new RegExp(`^${name} (\\d+)$`, "m")
			.exec(await (await fetch(`${hubC.url}/metrics`)).text())?.[1]);
		await until(async () => await metric("sio_redis_up") === 1, 5000, "hub C to connect");
		redis.proc.kill("SIGSTOP");
		try {
			// 40 broadcasts of 10 kB to a room nobody is in: 400 kB for Redis.
			const big = JSON.stringify("x".repeat(10000));
			const lines = Array.from({ length: 40 }, () =>
				`{"event":"big","to":["nobody"],"data":[${big}]}`).join("\n") + "\n";
			const r = await new Promise((resolve) => {
				const p = execFile(BIN("sio-emit"), ["-S", hubC.socketPath], { timeout: 15000 },
					(err) => resolve(err ? err.code : 0));
				p.stdin.end(lines);
			});
			assert.equal(r, 0);
			assert.ok(await metric("sio_redis_pending_bytes") <= 65536, "pending is bounded");
			assert.ok(await metric("sio_redis_lost_total") >= 30, "the rest is dropped, counted");
		} finally {
			redis.proc.kill("SIGCONT");
		}
		await until(async () => await metric("sio_redis_pending_bytes") === 0, 5000, "Redis to catch up");
		assert.equal((await hubC.stop()).code, 0, hubC.stderr);
	});

	await t.test("a namespace made on demand (--any-nsp) joins the cluster when it is made", async () => {
		const hubD = await startHub(t, ["--redis", redis.url, "--any-nsp"]);
		const d = client(t, `${hubD.url}/dyn-7`, { transports: ["websocket"] });
		await connected(d);
		await until(async () => {
			const got = waitFor(d, "to-dyn", 300).then(() => true, () => false);
			node.io.of("/dyn-7").emit("to-dyn", 1);
			return got;
		}, 5000, "Node's emit on /dyn-7 to reach hub D's client");
		const r = await run("sio-rooms", ["-S", hubB.socketPath, "-n", "/dyn-7", "sockets"]);
		assert.equal(r.stdout.trim().split("\t")[0], d.id, "hub D answers for /dyn-7 too");
		assert.equal((await hubD.stop()).code, 0, hubD.stderr);
	});

	await t.test("sio-emit --redis: Redis unreachable is status 69, --ack a usage error", async () => {
		const gone = await run("sio-emit", ["--redis", `redis://127.0.0.1:${await freePort()}`, "ev", "1"]);
		assert.equal(gone.code, 69, gone.stderr);
		const ack = await run("sio-emit", ["--redis", redis.url, "--ack", "ev", "1"]);
		assert.equal(ack.code, 64, ack.stderr);
	});

	await t.test("a Redis with a password: the hub and sio-emit --redis log in", async () => {
		const port = await freePort();
		const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--requirepass", "s3cret"], { stdio: "ignore" });
		defer(t, () => { try { process.kill(proc.pid, "SIGKILL"); } catch { /* gone */ } });
		const url = `redis://:s3cret@127.0.0.1:${port}`;
		await until(async () => (await run("sio-emit", ["--redis", url, "warmup", "1"])).code === 0,
			5000, "the password Redis to start");
		const hubP = await startHub(t, ["--redis", url]);
		const c = client(t, hubP.url, { transports: ["websocket"] });
		await connected(c);
		await until(async () => {
			const got = waitFor(c, "pw", 300).then(() => true, () => false);
			await ok("sio-emit", ["--redis", url, "pw", "1"]);
			return got;
		}, 5000, "an event through the password Redis");
		const wrong = await run("sio-emit", ["--redis", `redis://:nope@127.0.0.1:${port}`, "x", "1"]);
		assert.equal(wrong.code, 69, "a wrong password is refused");
		assert.match(wrong.stderr, /AUTH/);
		assert.equal((await hubP.stop()).code, 0, hubP.stderr);
		process.kill(proc.pid, "SIGKILL");
	});

	await t.test("Redis restarts: local delivery goes on, the loss is counted, the cluster resumes", async () => {
		await redis.stop();
		// Local delivery does not wait for Redis.
		await roomGets("local", ["only-a"], () => ok("sio-emit",
			["-S", hubA.socketPath, "-t", "r1", "local", '"only-a"']), [a1], [a2, b1, n1]);
		await until(() => hubA.stderr.includes("redis:"), 3000, "hub A to notice");
		const again = await startRedis(t, redis.port);
		// Resumed when an emit through A reaches B again (reconnect backoff ≤ 5 s).
		await until(async () => {
			const got = waitFor(b1, "resumed", 400).then(() => true, () => false);
			await ok("sio-emit", ["-S", hubA.socketPath, "-t", "r1", "resumed", "1"]);
			return got;
		}, 15000, "hub A to hub B through the restarted Redis");
		await until(() => /could not be published/.test(hubA.stderr), 3000, "the loss to be logged");
		const metrics = await (await fetch(`${hubA.url}/metrics`)).text();
		assert.match(metrics, /^sio_redis_up 1$/m);
		assert.ok(Number(/^sio_redis_lost_total (\d+)$/m.exec(metrics)?.[1]) >= 1,
			"the message of the outage is counted");
		// And Node is back in the cluster too (node-redis reconnects itself).
		await until(async () => {
			const got = waitFor(n1, "resumed2", 400).then(() => true, () => false);
			await ok("sio-emit", ["-S", hubB.socketPath, "-t", "r1", "resumed2", "1"]);
			return got;
		}, 15000, "hub B to Node through the restarted Redis");
		redis.stop = again.stop;
	});

	await t.test("hub B killed with SIGKILL: the others go on, its sockets leave fetchSockets", async () => {
		process.kill(hubB.pid, "SIGKILL");
		await hubB.exited;
		const socks = await node.io.fetchSockets();
		assert.ok(!socks.some((s) => s.id === b1.id), "b1 is gone with its hub");
		assert.ok(socks.some((s) => s.id === a1.id));
		await roomGets("after-kill", ["k"], () => { node.io.to("r1").emit("after-kill", "k"); },
			[a1, n1], [a2]);
		const out = await rooms(hubA, "sockets", "--json");
		const ids = out.trim().split("\n").map((l) => JSON.parse(l).sid);
		assert.deepEqual(sorted(ids), sorted([a1.id, a2.id, n1.id]));
	});

	// Before the Redis of the restart test (deferred last) is stopped.
	await node.close();
	// A clean exit (and, in sanitized builds, no leak) after all of it.
	const end = await hubA.stop();
	assert.equal(end.code, 0, hubA.stderr);
});
