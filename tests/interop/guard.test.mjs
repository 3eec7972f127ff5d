// Who may connect and how much one peer may take: --allow-origin,
// --max-connections(-per-ip), --max-packets, --max-attachments,
// --max-depth and the soft output limit. Each refusal is a fixed answer
// plus one log line, and the well-behaved client next to it loses nothing.

import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startHub, client, connected, waitFor, collect, until, sleep, WebSocket, rawSocket } from "./hub.mjs";

// One raw HTTP/1.1 exchange; resolves with { status, head, body }.
function http(port, reqText) {
	return new Promise((resolve, reject) => {
		const s = net.connect(port, "127.0.0.1");
		let data = "";
		s.on("data", (d) => { data += d.toString("latin1"); });
		s.on("error", reject);
		s.on("close", () => {
			const i = data.indexOf("\r\n\r\n");
			resolve({ status: Number(data.split(" ")[1]), head: data.slice(0, i), body: data.slice(i + 4), raw: data });
		});
		s.write(reqText);
	});
}

const get = (port, url, headers = "") =>
	http(port, `GET ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Connection: close\r\n\r\n`);

test("--allow-origin: other origins get 403 on both transports; listed and absent pass", async (t) => {
	const ok = "https://app.example";
	const hub = await startHub(t, ["--allow-origin", ok, "--allow-origin", "http://localhost:8080"]);
	const hs = "/socket.io/?EIO=4&transport=polling";

	let r = await get(hub.port, hs, "Origin: https://evil.example\r\n");
	assert.equal(r.status, 403);
	assert.deepEqual(JSON.parse(r.body), { code: 4, message: "Forbidden" });
	await until(() => hub.stderr.includes("HTTP 403: origin https://evil.example is not allowed"),
		2000, "the log line");

	r = await get(hub.port, hs, `Origin: ${ok}\r\n`);
	assert.equal(r.status, 200);
	assert.match(r.body, /^0\{"sid":/);
	// the allowed origin may read the answer (CORS follows the list)
	assert.match(r.head, /Access-Control-Allow-Origin: https:\/\/app\.example/);
	r = await get(hub.port, hs);
	assert.equal(r.status, 200, "no Origin: not a cross-site page");

	// WebSocket: the ws library sends the Origin given
	const wsUrl = `ws://127.0.0.1:${hub.port}/socket.io/?EIO=4&transport=websocket`;
	const bad = new WebSocket(wsUrl, { origin: "https://evil.example" });
	const [, res] = await waitFor(bad, "unexpected-response");
	assert.equal(res.statusCode, 403);
	const good = new WebSocket(wsUrl, { origin: ok });
	const [msg] = await waitFor(good, "message");
	assert.match(msg.toString(), /^0\{"sid":/);
	good.close();

	// A stock client with the wrong Origin gets connect_error; with the right one, in.
	const evil = client(t, `http://127.0.0.1:${hub.port}`, { transports: ["websocket"],
		extraHeaders: { Origin: "https://evil.example" } });
	await waitFor(evil, "connect_error");
	const fine = client(t, `http://127.0.0.1:${hub.port}`, { transports: ["polling"],
		extraHeaders: { Origin: ok } });
	await connected(fine);
});

test("--max-connections-per-ip and --max-connections: 503 and a log line, others unharmed", async (t) => {
	const hub = await startHub(t, ["--max-connections-per-ip", "5", "--max-connections", "8", "--relay"]);
	const a = client(t, hub.url, { transports: ["websocket"] });
	const b = client(t, hub.url, { transports: ["websocket"] });
	await Promise.all([connected(a), connected(b)]);
	const got = collect(b, "n");

	// From 127.0.0.1: a and b hold 2, so 3 more fit and the 4th is refused.
	const held = [];
	const open = (host) => new Promise((resolve) => {
		const s = net.connect({ port: hub.port, host: "127.0.0.1", localAddress: host });
		s.on("connect", () => { held.push(s); setTimeout(() => resolve(s), 50); });
		s.on("error", () => resolve(null));
	});
	t.after(() => held.forEach((s) => s.destroy()));
	for (let i = 0; i < 3; i++)
		await open("127.0.0.1");
	let r = await get(hub.port, "/socket.io/?EIO=4&transport=polling");
	assert.equal(r.status, 503);
	assert.equal(r.body, "Too many connections\n");
	await until(() => /127\.0\.0\.1: connection refused: over --max-connections-per-ip/.test(hub.stderr),
		2000, "the per-ip log line");

	// Another address still gets in, up to the total of 8.
	for (let i = 0; i < 3; i++)
		await open("127.0.0.2");
	r = await http(hub.port, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n\r\n").catch(() => null);
	const r2 = await new Promise((resolve) => {
		const s = net.connect({ port: hub.port, host: "127.0.0.1", localAddress: "127.0.0.3" });
		let data = "";
		s.on("data", (d) => { data += d; });
		s.on("close", () => resolve(data));
		s.on("error", () => resolve(data));
		s.write("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n");
	});
	assert.match(r2, /^HTTP\/1\.1 503 /);
	await until(() => /connection refused: over --max-connections \(/.test(hub.stderr), 2500,
		"the total-limit log line");

	// Meanwhile the chat went on, and closing the held ones frees room.
	for (let i = 0; i < 20; i++)
		a.emit("n", i);
	await got.wait(20);
	assert.deepEqual(got.list.map(([i]) => i), [...Array(20).keys()]);
	held.forEach((s) => s.destroy());
	await sleep(100);
	r = await get(hub.port, "/socket.io/?EIO=4&transport=polling");
	assert.equal(r.status, 200);
	const m = await get(hub.port, "/metrics");
	assert.match(m.body, /^sio_refused_connections_total [1-9]/m);
});

test("--max-packets: a polling payload with too many packets ends that session with 400", async (t) => {
	const hub = await startHub(t, ["--max-packets", "50"]);
	const open = await get(hub.port, "/socket.io/?EIO=4&transport=polling");
	const sid = JSON.parse(open.body.slice(1)).sid;
	const post = (body) => http(hub.port, `POST /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\n` +
		`Host: x\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
	let r = await post(Array(50).fill("3").join("\x1e"));
	assert.equal(r.status, 200, "50 packets are fine");
	r = await post(Array(51).fill("3").join("\x1e"));
	assert.equal(r.status, 400);
	assert.deepEqual(JSON.parse(r.body), { code: 3, message: "Bad request" });
	assert.match(hub.stderr, /over 50 packets in one payload/);
	r = await get(hub.port, `/socket.io/?EIO=4&transport=polling&sid=${sid}`);
	assert.equal(r.status, 400, "the session is gone");
});

test("--max-attachments and --max-depth close only the offending client", async (t) => {
	const hub = await startHub(t, ["--max-attachments", "2", "--max-depth", "20", "--relay"]);
	const good = client(t, hub.url, { transports: ["websocket"] });
	await connected(good);
	const got = collect(good, "ok");

	const a = await rawSocket(t, hub);
	a.send('453-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]');
	await a.closed;
	await until(() => hub.stderr.includes("over 2 attachments in one packet"), 2000, "the log line");

	const b = await rawSocket(t, hub);
	b.send(`42["ok",${"[".repeat(20)}${"]".repeat(20)}]`);	// depth 21
	await b.closed;
	await until(() => /nest/.test(hub.stderr), 2000, "the depth log line");

	const c = await rawSocket(t, hub);
	c.send(`42["ok",${"[".repeat(19)}${"]".repeat(19)}]`);	// depth 20: fine
	c.send('452-["ok",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
	c.send(Buffer.from([1]));
	c.send(Buffer.from([2]));
	await got.wait(2);
	assert.ok(good.connected);
});

test("the soft output limit drops a client that stays behind, not one that catches up", async (t) => {
	const hub = await startHub(t, ["--max-output-soft", "200000", "--max-output-soft-time", "600",
		"--max-output", "50000000"]);
	// A reader that never reads: its queue passes the soft limit and stays there.
	const stuck = await rawSocket(t, hub);
	stuck.ws._socket.pause();	// stop reading: the kernel buffers fill, then our queue
	const quick = client(t, hub.url, { transports: ["websocket"] });
	await connected(quick);
	const got = collect(quick, "blob");
	const { spawnSync } = await import("node:child_process");
	const emitBin = new URL("../../cmd/sio-emit", import.meta.url).pathname;
	// 1 MB every 50 ms, as NDJSON on sio-emit's stdin: enough to fill the
	// kernel's buffers for the stuck reader within a second or so.
	const line = JSON.stringify({ event: "blob", data: ["y".repeat(200000)] }) + "\n";
	const started = Date.now();
	let n = 0;
	while (!/behind for too long/.test(hub.stderr) && Date.now() - started < 8000) {
		const r = spawnSync(emitBin, ["-S", hub.socketPath], { input: line.repeat(5), encoding: "utf8" });
		assert.equal(r.status, 0, r.stderr);
		n += 5;
		await sleep(50);
	}
	assert.match(hub.stderr, /session \S+ dropped: \d+ bytes queued, behind for too long \(soft output limit\)/);
	const after = Date.now() - started;
	assert.ok(after >= 600, `dropped after ${after} ms, before the soft time`);
	await got.wait(n, 8000);
	assert.ok(quick.connected, "the client that keeps up stays");
});
