// --jwt-alg / --jwt-key: a CONNECT must carry {"token": JWT} that the
// configured key verifies. Tokens are signed here with Node's crypto, the
// way an application server would; forged, expired, early, alg-none and
// key-confusion tokens never get a socket, while the refused client may
// try again. The token's sub is the socket's user (sio-listen, sio-rooms)
// and its rooms claim is joined at connect.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startHub, client, connected, waitFor, defer, until } from "./hub.mjs";

const BIN = (name) => new URL(`../../cmd/${name}`, import.meta.url).pathname;
const b64u = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

function sign(alg, key, claims, header = {}) {
	const h = b64u({ alg, typ: "JWT", ...header });
	const p = b64u(claims);
	const data = `${h}.${p}`;
	let sig;
	if (alg === "HS256")
		sig = crypto.createHmac("sha256", key).update(data).digest();
	else if (alg === "RS256")
		sig = crypto.sign("sha256", Buffer.from(data), key);
	else if (alg === "ES256")
		sig = crypto.sign("sha256", Buffer.from(data), { key, dsaEncoding: "ieee-p1363" });
	else
		sig = Buffer.alloc(0);
	return `${data}.${sig.toString("base64url")}`;
}

function keyDir(t) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-jwt-"));
	defer(t, () => fs.rmSync(dir, { recursive: true, force: true }));
	return dir;
}

async function refused(t, hub, auth) {
	const s = client(t, hub.url, { transports: ["websocket"], auth });
	const [err] = await waitFor(s, "connect_error");
	assert.ok(!s.connected);
	return err.message;
}

function rooms(hub, ...args) {
	const r = spawnSync(BIN("sio-rooms"), ["-S", hub.socketPath, "--json", ...args], { encoding: "utf8" });
	assert.equal(r.status, 0, r.stderr);
	return r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

test("HS256: a good token connects as its sub, joins its rooms; bad ones get connect_error", async (t) => {
	const dir = keyDir(t);
	const secret = crypto.randomBytes(32).toString("hex");
	fs.writeFileSync(path.join(dir, "secret"), secret + "\n");
	const hub = await startHub(t, ["--jwt-alg", "HS256", "--jwt-key", path.join(dir, "secret")]);

	// a listener started first sees the user on the connect line
	const listen = spawn(BIN("sio-listen"), ["-S", hub.socketPath], { stdio: ["ignore", "pipe", "ignore"] });
	defer(t, () => listen.kill());
	let lines = "";
	listen.stdout.on("data", (d) => { lines += d; });
	await new Promise((r) => setTimeout(r, 300));

	const good = sign("HS256", secret, { sub: "alice@example", rooms: ["vip", "team-7"], exp: now() + 60 });
	const a = client(t, hub.url, { transports: ["websocket"], auth: { token: good } });
	await connected(a);
	const [me] = rooms(hub, "sockets", "--sid", a.id);
	assert.equal(me.user, "alice@example");
	assert.deepEqual(me.rooms.filter((r) => r !== a.id).sort(), ["team-7", "vip"]);
	await until(() => lines.includes('"type":"connect"'), 2000, "the connect line");
	const conn = JSON.parse(lines.split("\n").find((l) => l.includes('"type":"connect"')));
	assert.equal(conn.user, "alice@example");
	assert.equal(conn.sid, a.id);

	// the rooms claim works for delivery
	const got = waitFor(a, "news");
	const r = spawnSync(BIN("sio-emit"), ["-S", hub.socketPath, "--to", "team-7", "news", '"for the team"']);
	assert.equal(r.status, 0);
	assert.deepEqual(await got, ["for the team"]);

	const cases = [
		[{}, /authentication required/],
		[{ token: 42 }, /authentication required/],
		[{ token: sign("HS256", secret, { sub: "x", exp: now() - 5 }) }, /token expired/],
		[{ token: sign("HS256", secret, { sub: "x", nbf: now() + 300 }) }, /not yet valid/],
		[{ token: sign("HS256", "another secret of thirty-two bytes!", { sub: "mallory" }) }, /bad token signature/],
		[{ token: sign("none", null, { sub: "mallory" }) }, /algorithm|signature/],
		[{ token: good.slice(0, -2) + (good.endsWith("AA") ? "BB" : "AA") }, /signature|malformed/],
		[{ token: good.split(".").slice(0, 2).join(".") }, /malformed/],
		[{ token: "not a jwt" }, /malformed/],
	];
	// forged payload: alice's signature on mallory's claims
	const [h, , sig] = good.split(".");
	cases.push([{ token: `${h}.${b64u({ sub: "mallory", rooms: ["vip"] })}.${sig}` }, /bad token signature/]);
	for (const [auth, re] of cases) {
		const msg = await refused(t, hub, auth);
		assert.match(msg, re, `auth ${JSON.stringify(auth).slice(0, 80)}`);
	}
	// nobody but alice got a socket
	const all = rooms(hub, "sockets");
	assert.deepEqual(all.map((s) => s.user), ["alice@example"]);
	assert.match(hub.stderr, /CONNECT refused: bad token signature/);

	// a refused client may try again on the same connection with a good token
	const b = client(t, hub.url, { transports: ["polling"], auth: { token: "bad" } });
	await waitFor(b, "connect_error");
	b.auth = { token: sign("HS256", secret, { sub: "bob" }) };
	b.connect();
	await connected(b);
	assert.equal(rooms(hub, "sockets", "--sid", b.id)[0].user, "bob");
});

test("RS256 and ES256 with public keys; an HS256 token keyed with the public key is refused", async (t) => {
	for (const [alg, type, opts] of [["RS256", "rsa", { modulusLength: 2048 }], ["ES256", "ec", { namedCurve: "P-256" }]]) {
		const dir = keyDir(t);
		const { publicKey, privateKey } = crypto.generateKeyPairSync(type, opts);
		const pem = publicKey.export({ type: "spki", format: "pem" });
		fs.writeFileSync(path.join(dir, "pub.pem"), pem);
		const hub = await startHub(t, ["--jwt-alg", alg, "--jwt-key", path.join(dir, "pub.pem"), "--jwt-leeway", "30"]);

		const ok = client(t, hub.url, { transports: ["websocket"], auth: { token: sign(alg, privateKey, { sub: `u-${alg}` }) } });
		await connected(ok);
		assert.equal(rooms(hub, "sockets", "--sid", ok.id)[0].user, `u-${alg}`);
		// within the leeway: expired 10 s ago still passes; 60 s ago does not
		const late = client(t, hub.url, { transports: ["websocket"],
			auth: { token: sign(alg, privateKey, { sub: "late", exp: now() - 10 }) } });
		await connected(late);
		assert.match(await refused(t, hub, { token: sign(alg, privateKey, { sub: "x", exp: now() - 60 }) }), /token expired/);

		const other = crypto.generateKeyPairSync(type, opts).privateKey;
		assert.match(await refused(t, hub, { token: sign(alg, other, { sub: "mallory" }) }), /bad token signature/);
		assert.match(await refused(t, hub, { token: sign("HS256", pem, { sub: "mallory" }) }), /algorithm/);
		assert.match(await refused(t, hub, { token: sign("HS256", pem.trim(), { sub: "mallory" }) }), /algorithm/);
		assert.deepEqual(rooms(hub, "sockets").map((s) => s.user).sort(), ["late", `u-${alg}`]);
	}
});

test("a missing or unusable key stops the hub at start, with the reason", async (t) => {
	const dir = keyDir(t);
	let r = spawnSync(BIN("sio-hub"), ["--port", "0", "--no-control", "--jwt-alg", "HS256"], { encoding: "utf8" });
	assert.equal(r.status, 78);
	assert.match(r.stderr, /jwt-alg and jwt-key go together/);
	r = spawnSync(BIN("sio-hub"), ["--check-config", "--jwt-alg", "HS512", "--jwt-key", "/x"], { encoding: "utf8" });
	assert.equal(r.status, 64);
	assert.match(r.stderr, /not HS256, RS256 or ES256/);
	fs.writeFileSync(path.join(dir, "short"), "tooshort\n");
	r = spawnSync(BIN("sio-hub"), ["--check-config", "--jwt-alg", "HS256", "--jwt-key", path.join(dir, "short")], { encoding: "utf8" });
	assert.equal(r.status, 78);
	assert.match(r.stderr, /short/);
});
