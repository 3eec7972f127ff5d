// Binary attachments relayed between clients, byte for byte, on every
// transport combination.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
	startHub, client, connected, waitFor, collect, normalize, isBinary, toBuffer, rawSocket,
} from "./hub.mjs";

function pattern(n, seed) {
	const b = Buffer.alloc(n);
	for (let i = 0; i < n; i++)
		b[i] = (i * 31 + seed) & 0xff;
	return b;
}

// Several attachments, nested in objects and arrays, of assorted types.
function payload() {
	return [
		Buffer.from([0, 1, 2, 3, 255]),
		{ name: "file", data: new Uint8Array([9, 8, 7]), meta: { parts: [Buffer.from("héllo"), 5] } },
		[Buffer.from([0xde, 0xad, 0xbe, 0xef]), "text", [new Uint8Array([0x80, 0x00, 0x7f]).buffer]],
		pattern(70000, 3),		// > 64 KiB: a WebSocket frame with a 64-bit length
		"plain",
	];
}

const combos = [
	["websocket", "websocket"],
	["polling", "polling"],
	["polling", "websocket"],
	["websocket", "polling"],
];

for (const [ta, tb] of combos) {
	test(`binary args relayed exactly: ${ta} -> ${tb} and back`, async (t) => {
		const hub = await startHub(t, ["--relay"]);
		const a = client(t, hub.url, { transports: [ta] });
		const b = client(t, hub.url, { transports: [tb] });
		await Promise.all([connected(a), connected(b)]);

		const sent = payload();
		let got = waitFor(b, "bin");
		a.emit("bin", ...sent);
		let args = await got;
		assert.equal(args.length, sent.length);
		assert.deepEqual(normalize(args), normalize(sent));
		assert.ok(isBinary(args[0]) && isBinary(args[1].data) && isBinary(args[2][2][0]));
		assert.equal(toBuffer(args[3]).length, 70000);

		got = waitFor(a, "bin-back");
		b.emit("bin-back", { echo: args[1].data }, Buffer.from([42]));
		args = await got;
		assert.deepEqual(normalize(args), normalize([{ echo: new Uint8Array([9, 8, 7]) }, Buffer.from([42])]));
	});
}

test("binary and text events keep their order", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	const a = client(t, hub.url, { transports: ["websocket"] });
	const b = client(t, hub.url, { transports: ["polling"] });
	await Promise.all([connected(a), connected(b)]);
	const seq = collect(b, "m");
	for (let i = 0; i < 30; i++)
		a.emit("m", i, i % 2 ? Buffer.from([i, i + 1]) : `t${i}`);
	await seq.wait(30);
	assert.deepEqual(
		normalize(seq.list),
		normalize(Array.from({ length: 30 }, (_, i) => [i, i % 2 ? Buffer.from([i, i + 1]) : `t${i}`])),
	);
});

test("ten attachments in one event", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	const a = client(t, hub.url, { transports: ["websocket"] });
	const b = client(t, hub.url, { transports: ["websocket"] });
	await Promise.all([connected(a), connected(b)]);
	const bufs = Array.from({ length: 10 }, (_, i) => pattern(i * 100 + 1, i));
	const got = waitFor(b, "ten");
	a.emit("ten", { bufs });
	assert.deepEqual(normalize(await got), normalize([{ bufs }]));
});

test("an empty buffer is relayed as an empty attachment", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	for (const transports of [["websocket"], ["polling"]]) {
		const a = client(t, hub.url, { transports });
		const b = client(t, hub.url, { transports });
		await Promise.all([connected(a), connected(b)]);
		const got = waitFor(b, "empty");
		a.emit("empty", Buffer.alloc(0), Buffer.from([1]));
		const args = await got;
		assert.deepEqual(normalize(args), normalize([Buffer.alloc(0), Buffer.from([1])]), transports[0]);
	}
});

test("raw: binary event frames pass through unchanged", async (t) => {
	const hub = await startHub(t, ["--relay"]);
	const a = await rawSocket(t, hub);
	const b = await rawSocket(t, hub);
	const head = '452-["raw",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]';
	a.send(head);
	a.send(Buffer.from([1, 2, 3]));
	a.send(Buffer.from([4, 5, 6, 0]));
	assert.equal(await b.next(), head);
	assert.deepEqual(await b.next(), Buffer.from([1, 2, 3]));
	assert.deepEqual(await b.next(), Buffer.from([4, 5, 6, 0]));
	// and a text event right after is not mistaken for an attachment
	a.send('42["after"]');
	assert.equal(await b.next(), '42["after"]');
});
