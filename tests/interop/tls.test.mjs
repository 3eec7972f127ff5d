// --tls-cert / --tls-key: https polling and wss through OpenSSL, with a
// throwaway CA the clients pin; TLS 1.2 and 1.3 only;
// the certificate reloaded on SIGHUP without dropping live clients; a
// silent, trickling or plaintext peer closed by the handshake timeout.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { startHub, client, connected, waitFor, collect, until, sleep, defer } from "./hub.mjs";

const EMIT_BIN = new URL("../../cmd/sio-emit", import.meta.url).pathname;

// A throwaway CA and a leaf certificate for 127.0.0.1 / localhost that
// it signed, in a fresh dir. makeCert(t, cn, ca) signs with an existing CA.
function makeCert(t, cn = "sio-test", ca = null) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-tls-"));
	defer(t, () => fs.rmSync(dir, { recursive: true, force: true }));
	const run = (...args) => execFileSync("openssl", args, { stdio: "ignore" });
	const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
	if (!ca) {
		ca = { cert: path.join(dir, "ca.pem"), key: path.join(dir, "ca-key.pem") };
		run("req", "-x509", ...ec, "-keyout", ca.key, "-out", ca.cert, "-days", "1",
			"-subj", "/CN=sio test CA");
		ca.pem = fs.readFileSync(ca.cert);
	}
	const cert = path.join(dir, "cert.pem"), key = path.join(dir, "key.pem");
	const csr = path.join(dir, "leaf.csr"), ext = path.join(dir, "leaf.ext");
	fs.writeFileSync(ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
	run("req", "-new", ...ec, "-keyout", key, "-out", csr, "-subj", `/CN=${cn}`);
	run("x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
		"-out", cert, "-days", "1", "-extfile", ext);
	return { dir, cert, key, ca, pem: ca.pem, leaf: fs.readFileSync(cert) };
}

async function tlsHub(t, c, extra = []) {
	const hub = await startHub(t, ["--tls-cert", c.cert, "--tls-key", c.key, ...extra]);
	hub.url = `https://127.0.0.1:${hub.port}`;
	return hub;
}

function emit(hub, ...args) {
	const r = spawnSync(EMIT_BIN, ["-S", hub.socketPath, ...args], { encoding: "utf8" });
	assert.equal(r.status, 0, r.stderr);
}

// The certificate a fresh TLS connection is served, as a SHA-256 fingerprint.
function servedCert(port, opts = {}) {
	return new Promise((resolve, reject) => {
		const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...opts }, () => {
			const fp = s.getPeerCertificate().fingerprint256;
			const proto = s.getProtocol();
			s.destroy();
			resolve({ fp, proto });
		});
		s.on("error", reject);
	});
}

// Resolves with { ms, data } when the server closes a raw TCP socket.
function closedAfter(sock) {
	const t0 = Date.now();
	let data = "";
	sock.on("data", (d) => { data += d.toString("latin1"); });
	return new Promise((resolve) => {
		sock.on("close", () => resolve({ ms: Date.now() - t0, data }));
		sock.on("error", () => {});
	});
}

for (const transport of ["websocket", "polling"]) {
	test(`${transport} over TLS with the certificate pinned: both directions`, async (t) => {
		const c = makeCert(t);
		const hub = await tlsHub(t, c, ["--relay"]);
		const a = client(t, hub.url, { transports: [transport], ca: c.pem });
		const b = client(t, hub.url, { transports: [transport], ca: c.pem });
		await Promise.all([connected(a), connected(b)]);
		assert.equal(a.io.engine.transport.name, transport);

		const got = collect(b, "chat");
		for (let i = 0; i < 50; i++)
			a.emit("chat", { i, text: "é".repeat(i * 40) });
		await got.wait(50);
		assert.deepEqual(got.list.map(([m]) => m.i), [...Array(50).keys()]);
		assert.equal(got.list[49][0].text, "é".repeat(49 * 40));

		const news = waitFor(a, "news");
		emit(hub, "news", '{"big":"' + "x".repeat(100000) + '"}');
		const [m] = await news;
		assert.equal(m.big.length, 100000);
	});
}

test("a client that does not trust the certificate cannot connect", async (t) => {
	const c = makeCert(t);
	const hub = await tlsHub(t, c);
	const s = client(t, hub.url, { transports: ["websocket"] });
	const [err] = await waitFor(s, "connect_error", 4000);
	assert.ok(err instanceof Error);
	assert.ok(!s.connected);
});

test("TLS 1.2 and 1.3 are served; 1.1 is refused with a log line", async (t) => {
	const c = makeCert(t);
	const hub = await tlsHub(t, c);
	assert.equal((await servedCert(hub.port, { maxVersion: "TLSv1.2" })).proto, "TLSv1.2");
	assert.equal((await servedCert(hub.port)).proto, "TLSv1.3");
	await assert.rejects(servedCert(hub.port, { minVersion: "TLSv1", maxVersion: "TLSv1.1",
		ciphers: "DEFAULT@SECLEVEL=0" }));
	await until(() => /TLS handshake failed: (unsupported protocol|no protocols available)/
		.test(hub.stderr), 2000, "the refusal in the log");
});

test("SIGHUP reloads the certificate; live clients stay connected", async (t) => {
	const c1 = makeCert(t, "first");
	const c2 = makeCert(t, "second", c1.ca);	/* a renewal: same CA, new key */
	// The hub reads the files named at start again on SIGHUP.
	const live = fs.mkdtempSync(path.join(os.tmpdir(), "sio-tls-live-"));
	defer(t, () => fs.rmSync(live, { recursive: true, force: true }));
	const cert = path.join(live, "cert.pem"), key = path.join(live, "key.pem");
	fs.copyFileSync(c1.cert, cert);
	fs.copyFileSync(c1.key, key);
	const hub = await tlsHub(t, { cert, key });

	const fp1 = new crypto.X509Certificate(c1.leaf).fingerprint256;
	const fp2 = new crypto.X509Certificate(c2.leaf).fingerprint256;
	assert.equal((await servedCert(hub.port)).fp, fp1);

	const ws = client(t, hub.url, { transports: ["websocket"], ca: c1.pem });
	const poll = client(t, hub.url, { transports: ["polling"], ca: c1.pem });
	await Promise.all([connected(ws), connected(poll)]);
	const gone = [];
	ws.on("disconnect", (r) => gone.push(`ws: ${r}`));
	poll.on("disconnect", (r) => gone.push(`polling: ${r}`));

	fs.copyFileSync(c2.cert, cert);
	fs.copyFileSync(c2.key, key);
	process.kill(hub.pid, "SIGHUP");
	await until(() => /TLS certificate and key reloaded/.test(hub.stderr), 2000, "the reload");
	assert.equal((await servedCert(hub.port)).fp, fp2);

	// The old connections still work both ways after the reload.
	const a = waitFor(ws, "after"), b = waitFor(poll, "after");
	emit(hub, "after", "1");
	assert.deepEqual(await a, [1]);
	assert.deepEqual(await b, [1]);
	// New clients get in with the renewed certificate.
	const fresh = client(t, hub.url, { transports: ["polling"], ca: c2.pem });
	await connected(fresh);
	assert.deepEqual(gone, []);

	// A broken file on the next reload keeps the running certificate.
	fs.writeFileSync(key, "not a key\n");
	process.kill(hub.pid, "SIGHUP");
	await until(() => /SIGHUP: cannot load the TLS key/.test(hub.stderr), 2000, "the refusal");
	assert.equal((await servedCert(hub.port)).fp, fp2);
	assert.ok(ws.connected && poll.connected);
});

test("the handshake timeout closes silent, trickling and plaintext peers", async (t) => {
	const c = makeCert(t);
	const hub = await tlsHub(t, c, ["--tls-handshake-timeout", "400", "--relay"]);
	const good = client(t, hub.url, { transports: ["websocket"], ca: c.pem });
	const other = client(t, hub.url, { transports: ["websocket"], ca: c.pem });
	await Promise.all([connected(good), connected(other)]);
	const chat = collect(good, "chat");

	// silent: a plaintext client that waits for the server to speak
	const silent = net.connect(hub.port, "127.0.0.1");
	const silentDone = closedAfter(silent);
	// trickling: a real ClientHello, one byte every 100 ms
	const hello = await new Promise((resolve) => {
		const srv = net.createServer((s) => s.once("data", (d) => { resolve(d); s.destroy(); srv.close(); }));
		srv.listen(0, "127.0.0.1", () => {
			const x = tls.connect({ host: "127.0.0.1", port: srv.address().port });
			x.on("error", () => {});
		});
	});
	const trickle = net.connect(hub.port, "127.0.0.1");
	const trickleDone = closedAfter(trickle);
	let i = 0;
	const timer = setInterval(() => { if (i < hello.length) trickle.write(hello.subarray(i, ++i)); }, 100);
	defer(t, () => { clearInterval(timer); trickle.destroy(); silent.destroy(); });
	// plaintext HTTP: answered in plain text and closed at once
	const plain = net.connect(hub.port, "127.0.0.1");
	const plainDone = closedAfter(plain);
	plain.write("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n");

	for (let k = 0; k < 10; k++) {
		other.emit("chat", k);
		await sleep(60);
	}
	const [s, tr, p] = await Promise.all([silentDone, trickleDone, plainDone]);
	clearInterval(timer);
	assert.ok(s.ms >= 350 && s.ms < 2000, `silent peer closed after ${s.ms} ms`);
	assert.ok(tr.ms >= 350 && tr.ms < 2000, `trickling peer closed after ${tr.ms} ms`);
	assert.ok(i < hello.length, "the trickle was cut before the hello was complete");
	assert.match(p.data, /^HTTP\/1\.1 400 Bad Request\r\n[^]*Plain HTTP request sent to TLS port/);
	assert.ok(p.ms < 1000);
	await chat.wait(10);
	assert.deepEqual(chat.list.map(([k]) => k), [...Array(10).keys()]);
	assert.ok(good.connected);
	assert.match(hub.stderr, /TLS handshake not done in time/);
});

test("a certificate without its key, or a bad file, is refused at start", () => {
	const hub = new URL("../../cmd/sio-hub", import.meta.url).pathname;
	let r = spawnSync(hub, ["--port", "0", "--no-control", "--tls-cert", "/nonexistent.pem"], { encoding: "utf8" });
	assert.equal(r.status, 78);
	assert.match(r.stderr, /tls-cert and tls-key go together: tls-key is missing/);
	r = spawnSync(hub, ["--check-config", "--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.pem"], { encoding: "utf8" });
	assert.equal(r.status, 78);
	assert.match(r.stderr, /cannot load the TLS certificate \/nonexistent.pem/);
});
