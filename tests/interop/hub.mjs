// Shared helpers for the interop tests: start and stop a sio-hub, connect
// real socket.io-client sockets and raw Engine.IO/Socket.IO WebSocket
// clients, and wait for events with timeouts.
//
// Every resource is registered on the test context (t.after), so a test
// that fails half-way still stops its hubs and closes its clients.
//
// Set SIO_TEST_DEBUG=1 to copy the hub's stderr to this process's stderr.

import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { io, Manager } from "socket.io-client";
import WebSocket from "ws";

export { io, Manager, WebSocket, sleep };

export const HUB_BIN = fileURLToPath(new URL("../../cmd/sio-hub", import.meta.url));
const DEBUG = !!process.env.SIO_TEST_DEBUG;

/* ---- cleanup ------------------------------------------------------------- */

// Cleanups registered with defer(t, fn) run when the test ends, last
// registered first (clients close before the hub they talk to stops).
const stacks = new WeakMap();
export function defer(t, fn) {
	let stack = stacks.get(t);
	if (!stack) {
		stack = [];
		stacks.set(t, stack);
		t.after(async () => {
			while (stack.length) {
				const f = stack.pop();
				try { await f(); } catch { /* keep cleaning */ }
			}
		});
	}
	stack.push(fn);
}

/* ---- waiting ------------------------------------------------------------- */

// Resolves with the event's arguments (an array) the next time `emitter`
// emits `event`; rejects after `ms`. Works for socket.io-client emitters,
// Node EventEmitters and ws sockets (all have on/off).
export function waitFor(emitter, event, ms = 3000) {
	return new Promise((resolve, reject) => {
		const off = (emitter.off ?? emitter.removeListener).bind(emitter);
		const timer = setTimeout(() => {
			off(event, handler);
			reject(new Error(`timed out after ${ms} ms waiting for "${event}"`));
		}, ms);
		function handler(...args) {
			clearTimeout(timer);
			off(event, handler);
			resolve(args);
		}
		emitter.on(event, handler);
	});
}

// Collects every emission of `event` into an array (each entry is the args
// array). Returns { list, wait(n, ms) } where wait resolves once n have come.
export function collect(emitter, event) {
	const list = [];
	const waiters = [];
	emitter.on(event, (...args) => {
		list.push(args);
		for (const w of [...waiters]) {
			if (list.length >= w.n) {
				clearTimeout(w.timer);
				waiters.splice(waiters.indexOf(w), 1);
				w.resolve(list);
			}
		}
	});
	return {
		list,
		wait(n = 1, ms = 3000) {
			if (list.length >= n)
				return Promise.resolve(list);
			return new Promise((resolve, reject) => {
				const w = { n, resolve };
				w.timer = setTimeout(() => {
					waiters.splice(waiters.indexOf(w), 1);
					reject(new Error(`timed out after ${ms} ms waiting for ${n} "${event}" (got ${list.length})`));
				}, ms);
				waiters.push(w);
			});
		},
	};
}

// Rejects if `event` is emitted within `ms`; resolves otherwise.
export function expectNone(emitter, event, ms = 300) {
	return new Promise((resolve, reject) => {
		const off = (emitter.off ?? emitter.removeListener).bind(emitter);
		const timer = setTimeout(() => {
			off(event, handler);
			resolve();
		}, ms);
		function handler(...args) {
			clearTimeout(timer);
			off(event, handler);
			reject(new Error(`unexpected "${event}": ${JSON.stringify(args).slice(0, 200)}`));
		}
		emitter.on(event, handler);
	});
}

// Polls `fn` until it returns a truthy value.
export async function until(fn, ms = 3000, what = "condition") {
	const end = Date.now() + ms;
	for (;;) {
		const v = await fn();
		if (v)
			return v;
		if (Date.now() > end)
			throw new Error(`timed out after ${ms} ms waiting for ${what}`);
		await sleep(20);
	}
}

/* ---- ports --------------------------------------------------------------- */

export function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.on("error", reject);
		srv.listen(0, "127.0.0.1", () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

function tryConnect(port) {
	return new Promise((resolve) => {
		const c = net.connect({ port, host: "127.0.0.1" });
		c.once("connect", () => { c.destroy(); resolve(true); });
		c.once("error", () => { c.destroy(); resolve(false); });
	});
}

/* ---- the hub process ----------------------------------------------------- */

class Hub {
	constructor(port, args) {
		this.port = port;
		this.args = args;
		this.url = `http://127.0.0.1:${port}`;
		this.stderr = "";
		this.exit = null;		// { code, signal } once exited
		// A private control socket, so hubs never share the default path.
		this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-interop-"));
		this.socketPath = path.join(this.dir, "hub.sock");
		this.proc = spawn(HUB_BIN, ["--bind", "127.0.0.1", "--port", String(port), ...args], {
			stdio: ["ignore", "ignore", "pipe"],
			env: { ...process.env, SIO_SOCKET: this.socketPath },
		});
		this.pid = this.proc.pid;
		this.proc.stderr.setEncoding("utf8");
		this.proc.stderr.on("data", (d) => {
			this.stderr += d;
			if (this.stderr.length > 1 << 20)
				this.stderr = this.stderr.slice(-(1 << 19));
			if (DEBUG)
				process.stderr.write(d.replace(/^/gm, `[hub:${port}] `));
		});
		this.exited = new Promise((resolve) => {
			this.proc.on("exit", (code, signal) => {
				this.exit = { code, signal };
				fs.rmSync(this.dir, { recursive: true, force: true });
				resolve(this.exit);
			});
			this.proc.on("error", (err) => {
				this.exit = { code: null, signal: null, error: err };
				resolve(this.exit);
			});
		});
	}

	get running() { return this.exit === null; }

	// Waits until the port accepts TCP connections (100 x 50 ms).
	async ready() {
		for (let i = 0; i < 100; i++) {
			if (!this.running)
				return false;
			if (await tryConnect(this.port))
				return true;
			await sleep(50);
		}
		throw new Error(`sio-hub on port ${this.port} did not accept connections in 5 s\n${this.stderr}`);
	}

	// SIGTERM, wait for the exit, SIGKILL after `killAfter` ms.
	// Resolves with { code, signal, ms } (ms = time from SIGTERM to exit).
	async stop(killAfter = 3000) {
		if (!this.running)
			return { ...this.exit, ms: 0 };
		const t0 = Date.now();
		try {
			process.kill(this.pid, "SIGTERM");
		} catch {
			/* exited already; the exit event is on its way */
		}
		let timer;
		const killed = new Promise((resolve) => {
			timer = setTimeout(() => {
				if (this.running)
					try { process.kill(this.pid, "SIGKILL"); } catch { /* gone */ }
				resolve();
			}, killAfter);
		});
		const res = await Promise.race([this.exited, killed.then(() => this.exited)]);
		clearTimeout(timer);
		return { ...res, ms: Date.now() - t0 };
	}
}

// Starts `cmd/sio-hub --bind 127.0.0.1 --port <port> ...args` and waits
// until it listens. Registers stop() on t.after. opts.port reuses a port.
export async function startHub(t, args = [], opts = {}) {
	for (let attempt = 0; ; attempt++) {
		const port = opts.port ?? await freePort();
		const hub = new Hub(port, args);
		if (t) {
			defer(t, async () => {
				if (!hub.running)
					return;
				// let the hub see the clients' goodbyes (closed just before)
				await sleep(50);
				const res = await hub.stop();
				if (res.signal === "SIGKILL")
					t.diagnostic(`sio-hub on port ${port} ignored SIGTERM for 3 s and was killed`);
			});
		}
		if (await hub.ready())
			return hub;
		await hub.exited;
		// 69: cannot listen (the free port was taken meanwhile); try another
		if (hub.exit.code === 69 && attempt < 5 && opts.port === undefined)
			continue;
		if (hub.exit.code === 69 && opts.port !== undefined && attempt < 40) {
			await sleep(50);	// the old hub's socket may linger briefly
			continue;
		}
		throw new Error(`sio-hub exited (${JSON.stringify(hub.exit)}) before listening\n${hub.stderr}`);
	}
}

/* ---- socket.io-client ---------------------------------------------------- */

// A socket.io-client socket with its own Manager (forceNew), no automatic
// reconnection unless asked, closed on t.after.
export function client(t, url, opts = {}) {
	const s = io(url, { forceNew: true, reconnection: false, timeout: 3000, ...opts });
	defer(t, () => closeSocket(s));
	return s;
}

// A Manager whose sockets are all closed on t.after.
export function manager(t, url, opts = {}) {
	const m = new Manager(url, { reconnection: false, timeout: 3000, ...opts });
	defer(t, () => {
		for (const s of Object.values(m.nsps))
			s.disconnect();
		m._close?.();
		m.engine?.close();
	});
	return m;
}

export function closeSocket(s) {
	s.disconnect();
	s.io._close?.();
	s.io.engine?.close();
}

// Resolves with the socket once it is connected (rejects on connect_error).
export function connected(s, ms = 3000) {
	if (s.connected)
		return Promise.resolve(s);
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => { cleanup(); reject(new Error(`connect timed out after ${ms} ms`)); }, ms);
		function ok() { cleanup(); resolve(s); }
		function bad(err) { cleanup(); reject(new Error(`connect_error: ${err?.message}`)); }
		function cleanup() {
			clearTimeout(timer);
			s.off("connect", ok);
			s.off("connect_error", bad);
		}
		s.on("connect", ok);
		s.on("connect_error", bad);
	});
}

// Resolves once the socket's engine runs over WebSocket.
export async function upgraded(s, ms = 3000) {
	const engine = s.io.engine;
	if (engine?.transport?.name === "websocket")
		return;
	await waitFor(engine, "upgrade", ms);
}

/* ---- binary comparison --------------------------------------------------- */

export function isBinary(x) {
	return Buffer.isBuffer(x) || x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

export function toBuffer(x) {
	if (Buffer.isBuffer(x))
		return x;
	if (x instanceof ArrayBuffer)
		return Buffer.from(x);
	if (ArrayBuffer.isView(x))
		return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
	throw new TypeError("not binary");
}

// Replaces every binary value by { $bin: "<hex>" } so deepStrictEqual
// compares bytes whatever the binary type (Buffer, ArrayBuffer, Uint8Array).
export function normalize(v) {
	if (isBinary(v))
		return { $bin: toBuffer(v).toString("hex") };
	if (Array.isArray(v))
		return v.map(normalize);
	if (v && typeof v === "object") {
		const o = {};
		for (const [k, x] of Object.entries(v))
			o[k] = normalize(x);
		return o;
	}
	return v;
}

/* ---- raw WebSocket client ------------------------------------------------ */

// A hand-driven Engine.IO v4 WebSocket client. Frames are queued so none is
// lost between awaits: next() returns the next frame (string for text,
// Buffer for binary). Pings are answered automatically unless
// opts.answerPings === false (answered pings are not queued).
export class RawClient {
	constructor(url, opts = {}) {
		this.frames = [];
		this.waiters = [];
		this.answerPings = opts.answerPings !== false;
		this.closeInfo = null;
		this.ws = new WebSocket(url, { perMessageDeflate: false });
		this.opened = new Promise((resolve, reject) => {
			this.ws.once("open", resolve);
			this.ws.once("error", reject);
		});
		this.opened.catch(() => {});
		this.closed = new Promise((resolve) => {
			this.ws.on("close", (code, reason) => {
				this.closeInfo = { code, reason: reason.toString(), at: Date.now() };
				resolve(this.closeInfo);
				for (const w of this.waiters.splice(0))
					w.reject(new Error(`connection closed (${code}) while waiting for a frame`));
			});
		});
		this.ws.on("error", () => {});
		this.ws.on("message", (data, isBinary) => {
			const f = isBinary ? Buffer.from(data) : data.toString("utf8");
			if (!isBinary && f === "2" && this.answerPings) {
				this.ws.send("3");
				return;
			}
			const w = this.waiters.shift();
			if (w) {
				clearTimeout(w.timer);
				w.resolve(f);
			} else {
				this.frames.push(f);
			}
		});
	}

	next(ms = 3000) {
		if (this.frames.length)
			return Promise.resolve(this.frames.shift());
		if (this.closeInfo)
			return Promise.reject(new Error(`connection closed (${this.closeInfo.code})`));
		return new Promise((resolve, reject) => {
			const w = { resolve, reject };
			w.timer = setTimeout(() => {
				this.waiters.splice(this.waiters.indexOf(w), 1);
				reject(new Error(`timed out after ${ms} ms waiting for a frame`));
			}, ms);
			this.waiters.push(w);
		});
	}

	// Resolves if no frame arrives within ms.
	async nothing(ms = 300) {
		await sleep(ms);
		if (this.frames.length)
			throw new Error(`unexpected frame(s): ${JSON.stringify(this.frames.map(String)).slice(0, 300)}`);
	}

	send(data) { this.ws.send(data); }

	close() {
		if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
			this.ws.terminate();
	}
}

// Opens a raw WebSocket session on the hub: waits for the open packet and
// returns the client with .open (the parsed handshake). opts.query adds
// query parameters; opts.path defaults to /socket.io/.
export async function rawEngine(t, hub, opts = {}) {
	const path = opts.path ?? "/socket.io/";
	const q = new URLSearchParams({ EIO: "4", transport: "websocket", ...(opts.query ?? {}) });
	const c = new RawClient(`ws://127.0.0.1:${hub.port}${path}?${q}`, opts);
	defer(t, () => c.close());
	await c.opened;
	const open = await c.next();
	if (open[0] !== "0")
		throw new Error(`expected an open packet, got ${JSON.stringify(open)}`);
	c.open = JSON.parse(open.slice(1));
	return c;
}

// rawEngine + Socket.IO CONNECT to "/" (or opts.nsp): returns the client
// with .sid (the Socket.IO id).
export async function rawSocket(t, hub, opts = {}) {
	const c = await rawEngine(t, hub, opts);
	const nsp = opts.nsp && opts.nsp !== "/" ? `${opts.nsp},` : "";
	c.send(`40${nsp}${opts.auth ?? ""}`);
	const reply = await c.next();
	const prefix = `40${nsp}`;
	if (!reply.startsWith(prefix + "{"))
		throw new Error(`expected ${prefix}{...}, got ${JSON.stringify(reply)}`);
	c.connectReply = reply;
	c.sid = JSON.parse(reply.slice(prefix.length)).sid;
	return c;
}
