// The demo page (cmd/demo) in a real browser: headless Chromium, driven by
// playwright-core, loads the page and the official client bundle from a
// sio-hub started with --static, and talks to the shell tools through it.
//
// Needs /usr/bin/chromium (Debian package chromium; `make deps` installs
// it) or CHROMIUM=/path/to/chrome. Without a browser the test FAILS: it is
// never skipped. Writes tests/out/browser-demo.png.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startHub, defer, sleep } from "./hub.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DEMO = path.join(ROOT, "cmd/demo");
const BIN = (name) => path.join(ROOT, "cmd", name);
const OUT = path.join(ROOT, "tests/out");
const SHOT = path.join(OUT, "browser-demo.png");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const WAIT = 5000;	// the bound of every single wait in the browser

// The browser may reach nothing but the hub: no background requests.
const CHROMIUM_ARGS = [
	"--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
	"--disable-dev-shm-usage",
];

// Runs a tool to its end (bounded); resolves with { code, stdout, stderr }.
function run(hub, name, args, ms = WAIT) {
	return new Promise((resolve) => {
		execFile(BIN(name), args, {
			env: { ...process.env, SIO_SOCKET: hub.socketPath },
			timeout: ms, killSignal: "SIGKILL",
		}, (err, stdout, stderr) => {
			resolve({ code: err ? (err.killed ? "timeout" : err.code) : 0, stdout, stderr });
		});
	});
}

async function ok(hub, name, ...args) {
	const r = await run(hub, name, args);
	assert.equal(r.code, 0, `${name} ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
	return r.stdout;
}

// Starts `sio-listen ARGS` and waits (bounded) until it holds a connection
// to the control socket, plus a moment for its subscribe request.
// Returns { done: Promise<{ code, stdout, stderr }> }; the child is
// killed at the end of the test if still running.
async function listen(t, hub, args, ms = WAIT) {
	const p = spawn(BIN("sio-listen"), args, {
		stdio: ["ignore", "pipe", "pipe"],
		env: { ...process.env, SIO_SOCKET: hub.socketPath },
	});
	let stdout = "", stderr = "";
	p.stdout.setEncoding("utf8").on("data", (d) => { stdout += d; });
	p.stderr.setEncoding("utf8").on("data", (d) => { stderr += d; });
	let exited = false;
	const done = new Promise((resolve) => {
		p.on("exit", (code, signal) => { exited = true; resolve({ code: code ?? signal, stdout, stderr }); });
		p.on("error", (err) => { exited = true; resolve({ code: err.message, stdout, stderr }); });
	});
	defer(t, () => { if (!exited) p.kill("SIGKILL"); });
	const end = Date.now() + ms;
	for (;;) {
		if (exited)
			assert.fail(`sio-listen ${args.join(" ")} ended early: ${JSON.stringify(await done)}`);
		let fds = [];
		try {
			fds = fs.readdirSync(`/proc/${p.pid}/fd`).map((f) => {
				try { return fs.readlinkSync(`/proc/${p.pid}/fd/${f}`); } catch { return ""; }
			});
		} catch { /* not there yet */ }
		if (fds.some((l) => l.startsWith("socket:")))
			break;
		if (Date.now() > end)
			assert.fail(`sio-listen did not connect to the hub within ${ms} ms`);
		await sleep(20);
	}
	await sleep(250);
	let timer;
	const late = new Promise((resolve) => {
		timer = setTimeout(() => resolve({ code: "timeout", stdout, stderr }), ms);
	});
	return { done: Promise.race([done, late]).finally(() => clearTimeout(timer)) };
}

async function loadPlaywright() {
	if (!fs.existsSync(CHROMIUM))
		assert.fail(`Chromium is not installed (${CHROMIUM} is missing): the browser test cannot run. ` +
			"Install it with `apt-get install chromium` (or `make deps` as root), or set CHROMIUM=/path/to/chromium.");
	try {
		return (await import("playwright-core")).chromium;
	} catch (err) {
		assert.fail(`playwright-core is not installed (${err.message}): run \`npm ci\` in tests/interop`);
	}
}

// The events the page shows as received, oldest first: [{ event, args }].
function received(page) {
	return page.$$eval("#log li.in", (lis) => lis.map((li) => ({
		event: li.dataset.event, args: li.querySelector("code").textContent,
	})));
}

function waitReceived(page, event, args) {
	return page.waitForFunction(([e, a]) => [...document.querySelectorAll("#log li.in")]
		.some((li) => li.dataset.event === e && (a === null || li.querySelector("code").textContent === a)),
	[event, args], { timeout: WAIT }).catch(async (err) => {
		throw new Error(`the page did not show "${event}" ${args ?? ""} within ${WAIT} ms; ` +
			`log: ${JSON.stringify(await received(page))}\n${err.message}`);
	});
}

test("demo page in headless Chromium: connect, upgrade, events both ways, rooms, acks", async (t) => {
	const chromium = await loadPlaywright();
	const hub = await startHub(t, ["--static", DEMO]);

	const browser = await chromium.launch({
		executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 15000,
	});
	defer(t, () => browser.close());
	const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
	const page = await context.newPage();
	page.setDefaultTimeout(WAIT);

	const problems = [];	// page errors, console errors, requests leaving the hub
	const requests = [];
	const websockets = [];
	page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
	page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
	page.on("websocket", (ws) => websockets.push(ws.url()));
	page.on("request", (r) => {
		requests.push(r.url());
		if (!r.url().startsWith(hub.url + "/") && !r.url().startsWith("data:"))
			problems.push(`request outside the hub: ${r.url()}`);
	});

	const resp = await page.goto(hub.url + "/", { waitUntil: "load" });
	assert.equal(resp.status(), 200);
	assert.equal(await page.title(), "sio demo");

	let sid;
	await t.test("a. connects with the default transports and upgrades to websocket", async () => {
		await page.waitForFunction(() => document.querySelector("#state").dataset.state === "connected",
			null, { timeout: WAIT });
		await page.waitForFunction(() => document.querySelector("#transport").textContent === "websocket",
			null, { timeout: WAIT });
		sid = (await page.textContent("#sid")).trim();
		assert.match(sid, /^[A-Za-z0-9_-]{20}$/, `socket id shown: ${JSON.stringify(sid)}`);
		assert.equal(await page.evaluate(() => window.sioDemo.id), sid);
		// polling first (the handshake), then the WebSocket upgrade
		const eio = requests.filter((u) => u.includes("/socket.io/"));
		assert.match(eio[0] ?? "", /[?&]EIO=4&transport=polling/, `first Engine.IO request: ${eio[0]}`);
		assert.equal(websockets.length, 1, `one WebSocket: ${JSON.stringify(websockets)}`);
		assert.match(websockets[0], /^ws:\/\/127\.0\.0\.1:\d+\/socket\.io\/\?EIO=4&transport=websocket&sid=/);
		assert.ok(websockets[0].startsWith(hub.url.replace("http:", "ws:") + "/"), websockets[0]);
		const ups = await page.$$eval("#log li.sys[data-event=upgrade] code", (c) => c.map((x) => x.textContent));
		assert.deepEqual(ups, ["websocket"]);
		// the hub sees the socket, on WebSocket, with Chromium's User-Agent
		const socks = (await ok(hub, "sio-rooms", "sockets", "--json")).trim().split("\n").map((l) => JSON.parse(l));
		assert.equal(socks.length, 1, JSON.stringify(socks));
		assert.equal(socks[0].sid, sid);
		assert.equal(socks[0].transport, "websocket");
		assert.match(socks[0].handshake.headers["user-agent"], /Chrome\//);
	});

	await t.test("b. shows an event sent with sio-emit", async () => {
		await ok(hub, "sio-emit", "hello", '"world"', '{"n":1,"list":[true,null]}');
		await waitReceived(page, "hello", '["world",{"n":1,"list":[true,null]}]');
		const text = await page.textContent("#log li.in[data-event=hello]");
		assert.match(text, /^\d\d:\d\d:\d\d\.\d{3}/, "the entry starts with the time");
	});

	await t.test("c. sends an event from the form that sio-listen prints", async () => {
		const l = await listen(t, hub, ["--json", "--events-only", "--count", "1"]);
		await page.fill("#event", "from-page");
		await page.fill("#args", '"hi", {"x": [1, 2.5, "é"]}, null');
		await page.uncheck("#ack");
		await page.click("#send");
		const r = await l.done;
		assert.equal(r.code, 0, `sio-listen: ${JSON.stringify(r)}`);
		const lines = r.stdout.trim().split("\n");
		assert.equal(lines.length, 1, r.stdout);
		const ev = JSON.parse(lines[0]);
		assert.equal(ev.type, "event");
		assert.equal(ev.nsp, "/");
		assert.equal(ev.sid, sid);
		assert.equal(ev.event, "from-page");
		assert.deepEqual(ev.data, ["hi", { x: [1, 2.5, "é"] }, null]);
		assert.ok(!ev.ack, "no ack asked for");
		assert.equal(await page.isVisible("#error"), false);
	});

	await t.test("c2. bad JSON in the form shows an error and sends nothing", async () => {
		const before = await page.$$eval("#log li.out", (l) => l.length);
		await page.fill("#event", "never");
		await page.fill("#args", '{"open": ');
		await page.click("#send");
		await page.waitForSelector("#error", { state: "visible", timeout: WAIT });
		assert.match(await page.textContent("#error"), /bad JSON/);
		assert.equal(await page.$$eval("#log li.out", (l) => l.length), before);
		await page.fill("#args", "1");
		await page.click("#send");
		await page.waitForSelector("#error", { state: "hidden", timeout: WAIT });
	});

	await t.test("c3. an ack asked for in the form is answered with sio-emit --reply", async () => {
		const l = await listen(t, hub, ["--json", "--events-only", "--count", "1"]);
		await page.fill("#event", "question");
		await page.fill("#args", '"ready?"');
		await page.check("#ack");
		await page.click("#send");
		const r = await l.done;
		assert.equal(r.code, 0, `sio-listen: ${JSON.stringify(r)}`);
		const ev = JSON.parse(r.stdout.trim());
		assert.equal(ev.event, "question");
		assert.deepEqual(ev.data, ["ready?"]);
		assert.equal(typeof ev.ack, "string", `an ack handle: ${r.stdout}`);
		await ok(hub, "sio-emit", "--reply", ev.ack, '"yes"', "42");
		await page.waitForFunction(() => document.querySelector("#reply").className === "answered",
			null, { timeout: WAIT });
		assert.equal(await page.textContent("#reply"), 'ack for "question": ["yes",42]');
		await page.uncheck("#ack");
	});

	await t.test("c4. the page answers an ack asked for by sio-emit --ack", async () => {
		const out = await ok(hub, "sio-emit", "--ack", "--timeout", "3s", "ping-page", "7");
		const lines = out.trim().split("\n").map((x) => JSON.parse(x));
		assert.deepEqual(lines, [{ sid, data: ["ok"] }]);
		await waitReceived(page, "ping-page", null);
	});

	await t.test("d. a room-targeted event arrives only after sio-rooms join", async () => {
		await ok(hub, "sio-emit", "--to", "vip", "vipnews", "1");
		await sleep(500);
		await ok(hub, "sio-emit", "marker", '"m1"');
		await waitReceived(page, "marker", '["m1"]');
		let got = await received(page);
		assert.deepEqual(got.filter((e) => e.event === "vipnews"), [],
			"vipnews was sent to the room vip before the page joined it");

		await ok(hub, "sio-rooms", "join", "vip", "--sid", sid);
		assert.equal((await ok(hub, "sio-rooms", "members", "vip")).trim(), sid);
		await ok(hub, "sio-emit", "--to", "vip", "vipnews", "2");
		await waitReceived(page, "vipnews", "[2]");
		got = await received(page);
		assert.deepEqual(got.filter((e) => e.event === "vipnews"), [{ event: "vipnews", args: "[2]" }]);
		const names = got.map((e) => e.event);
		assert.ok(names.indexOf("marker") < names.indexOf("vipnews"), JSON.stringify(names));
	});

	await t.test("e. screenshot, and nothing went wrong in the page", async () => {
		fs.mkdirSync(OUT, { recursive: true });
		await page.screenshot({ path: SHOT, fullPage: true });
		const st = fs.statSync(SHOT);
		assert.ok(st.size > 10000, `screenshot ${SHOT} is ${st.size} bytes`);
		assert.deepEqual(problems, []);
		assert.equal((await page.textContent("#state")).trim(), "connected");
	});
});
