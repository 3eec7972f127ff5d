// A test client for the shell tests in tests/cli, driven by arguments.
//
// Two kinds:
//   socket.io-client (default): a real socket.io-client@4 socket.
//   --raw: a hand-driven Engine.IO v4 WebSocket (the 'ws' package) that
//          sends and records Socket.IO packets as exact text frames.
//
// Options (both kinds unless said):
//   --url URL            http://127.0.0.1:PORT (required)
//   --nsp NSP            namespace (default /)
//   --transport T        websocket (default), polling, or both
//   --auth JSON          handshake auth object
//   --id-file F          written (atomically) with the socket id once connected
//   --out F              one JSON line per received event, appended:
//                          {"event":..,"args":[..]}          (binary -> {"_binary":b64},
//                                                             "binaries":N when N > 0)
//                          {"event":..,"args":[..],"ack":true} the server asked for an ack
//                          {"ackof":EVENT,"args":[..]}       the answer to our --emit-ack
//                          {"event":"disconnect","args":[reason]}
//                        --raw: every text frame received, as is, one per line
//   --ack-reply JSONARR  answer server acks with these arguments (default: never answer)
//   --emit EVENT:JSONARR emit after --go-file (repeatable, in order); {"_binary":b64} -> Buffer
//   --emit-ack EVENT:JSONARR  the same, with an ack callback (answer goes to --out)
//   --emit-count EVENT:N emit EVENT N times with the argument 1..N (a number)
//   --emit-ack-count EVENT:N  the same with ack callbacks
//   --batch B --pause MS pace --emit-count: B events, then a pause of MS (default: no pause)
//   --go-file F          wait until F exists before emitting (default: emit at once)
//   --count-event EVENT  count EVENT without writing it to --out; check that the
//                        k-th one has the single argument String(k)
//   --expect N           with --count-event: write --result once N have come
//   --result F           {"count":..,"last":..,"inorder":bool,"first_bad":..} (atomically)
//   --raw                raw WebSocket mode; sends "40" (or "40/nsp," + auth) itself
//   --send TEXT          --raw: a text frame sent as is after the connect (repeatable)
//
// The process stays until SIGTERM (or SIGINT), then writes --result (if any),
// closes the connection and exits 0. A failed connect writes a line
// {"event":"connect_error","args":[message]} to --out and exits 2.

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(new URL("../interop/package.json", import.meta.url));

const opts = {
	url: null, nsp: "/", transport: "websocket", auth: null, idFile: null, out: null,
	ackReply: null, emits: [], go: null, countEvent: null, expect: 0, result: null,
	raw: false, sends: [], batch: 0, pause: 0,
};

function die(msg) {
	process.stderr.write(`client.mjs: ${msg}\n`);
	process.exit(64);
}

function splitEv(s, what) {
	const i = s.indexOf(":");
	if (i <= 0)
		die(`${what}: expected EVENT:VALUE, got ${s}`);
	return [s.slice(0, i), s.slice(i + 1)];
}

const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
	const a = argv[i];
	const val = () => {
		if (i + 1 >= argv.length)
			die(`${a} needs a value`);
		return argv[++i];
	};
	switch (a) {
	case "--url": opts.url = val(); break;
	case "--nsp": opts.nsp = val(); break;
	case "--transport": opts.transport = val(); break;
	case "--auth": opts.auth = JSON.parse(val()); break;
	case "--id-file": opts.idFile = val(); break;
	case "--out": opts.out = val(); break;
	case "--ack-reply": opts.ackReply = JSON.parse(val()); break;
	case "--emit":
	case "--emit-ack": {
		const [ev, json] = splitEv(val(), a);
		const args = JSON.parse(json);
		if (!Array.isArray(args))
			die(`${a}: the arguments must be a JSON array`);
		opts.emits.push({ ev, args, ack: a === "--emit-ack" });
		break;
	}
	case "--emit-count":
	case "--emit-ack-count": {
		const [ev, n] = splitEv(val(), a);
		opts.emits.push({ ev, count: Number(n), ack: a === "--emit-ack-count" });
		break;
	}
	case "--batch": opts.batch = Number(val()); break;
	case "--pause": opts.pause = Number(val()); break;
	case "--go-file": opts.go = val(); break;
	case "--count-event": opts.countEvent = val(); break;
	case "--expect": opts.expect = Number(val()); break;
	case "--result": opts.result = val(); break;
	case "--raw": opts.raw = true; break;
	case "--send": opts.sends.push(val()); break;
	default: die(`unknown option ${a}`);
	}
}
if (!opts.url)
	die("--url is required");

/* ---- output ------------------------------------------------------------- */

function writeAtomic(file, text) {
	const tmp = `${file}.tmp${process.pid}`;
	fs.writeFileSync(tmp, text);
	fs.renameSync(tmp, file);
}

function record(obj) {
	if (opts.out)
		fs.appendFileSync(opts.out, JSON.stringify(obj) + "\n");
}

function isBinary(x) {
	return Buffer.isBuffer(x) || x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

function toBuffer(x) {
	if (Buffer.isBuffer(x))
		return x;
	if (x instanceof ArrayBuffer)
		return Buffer.from(x);
	return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

// Binary values -> {"_binary":"<base64>"}; counts them in nbin.n.
function printable(v, nbin) {
	if (isBinary(v)) {
		nbin.n++;
		return { _binary: toBuffer(v).toString("base64") };
	}
	if (Array.isArray(v))
		return v.map((x) => printable(x, nbin));
	if (v && typeof v === "object") {
		const o = {};
		for (const [k, x] of Object.entries(v))
			o[k] = printable(x, nbin);
		return o;
	}
	return v;
}

// {"_binary":"<base64>"} -> Buffer, for what we emit.
function withBuffers(v) {
	if (Array.isArray(v))
		return v.map(withBuffers);
	if (v && typeof v === "object") {
		const keys = Object.keys(v);
		if (keys.length === 1 && keys[0] === "_binary" && typeof v._binary === "string")
			return Buffer.from(v._binary, "base64");
		const o = {};
		for (const [k, x] of Object.entries(v))
			o[k] = withBuffers(x);
		return o;
	}
	return v;
}

function eventLine(ev, args, extra) {
	const nbin = { n: 0 };
	const line = { event: ev, args: printable(args, nbin), ...extra };
	if (nbin.n)
		line.binaries = nbin.n;
	return line;
}

/* ---- counting (--count-event) ------------------------------------------------ */

const counter = { count: 0, last: null, inorder: true, first_bad: null };
let resultWritten = false;

function writeResult() {
	if (opts.result && !resultWritten) {
		resultWritten = true;
		writeAtomic(opts.result, JSON.stringify(counter) + "\n");
	}
}

function count(args) {
	counter.count++;
	const v = args[0];
	counter.last = v;
	if (counter.inorder && (args.length !== 1 || v !== String(counter.count))) {
		counter.inorder = false;
		counter.first_bad = { at: counter.count, args: printable(args, { n: 0 }) };
	}
	if (opts.expect && counter.count === opts.expect)
		writeResult();
}

/* ---- emitting ------------------------------------------------------------- */

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitGo() {
	if (!opts.go)
		return;
	while (!fs.existsSync(opts.go))
		await sleep(20);
}

async function runEmits(emit) {
	await waitGo();
	for (const e of opts.emits) {
		if (e.count === undefined) {
			emit(e.ev, withBuffers(e.args), e.ack);
			continue;
		}
		for (let k = 1; k <= e.count; k++) {
			emit(e.ev, [k], e.ack);
			if (opts.batch && opts.pause && k % opts.batch === 0 && k < e.count)
				await sleep(opts.pause);
		}
	}
}

/* ---- shutdown ------------------------------------------------------------- */

let closeConn = () => {};
function shutdown() {
	writeResult();
	try { closeConn(); } catch { /* going anyway */ }
	process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

/* ---- socket.io-client ----------------------------------------------------- */

function runClient() {
	const { io } = require("socket.io-client");
	const transports = opts.transport === "both" ? ["polling", "websocket"] : [opts.transport];
	const url = opts.url.replace(/\/$/, "") + (opts.nsp === "/" ? "" : opts.nsp);
	const s = io(url, {
		forceNew: true, reconnection: false, timeout: 5000, transports,
		...(opts.auth ? { auth: opts.auth } : {}),
	});
	closeConn = () => s.disconnect();
	let started = false;

	s.on("connect", () => {
		if (opts.idFile)
			writeAtomic(opts.idFile, s.id + "\n");
		if (started)
			return;
		started = true;
		runEmits((ev, args, ack) => {
			if (ack)
				s.emit(ev, ...args, (...answer) => record(eventLine(undefined, answer, { ackof: ev })));
			else
				s.emit(ev, ...args);
		});
	});
	s.on("connect_error", (err) => {
		record({ event: "connect_error", args: [String(err?.message ?? err)] });
		writeResult();
		process.exit(2);
	});
	s.on("disconnect", (reason) => record({ event: "disconnect", args: [reason] }));
	s.onAny((ev, ...args) => {
		let ackFn = null;
		if (args.length && typeof args[args.length - 1] === "function")
			ackFn = args.pop();
		if (opts.countEvent !== null && ev === opts.countEvent) {
			count(args);
		} else {
			record(eventLine(ev, args, ackFn ? { ack: true } : {}));
		}
		if (ackFn && opts.ackReply)
			ackFn(...withBuffers(opts.ackReply));
	});
}

/* ---- raw WebSocket -------------------------------------------------------- */

function runRaw() {
	const WebSocket = require("ws");
	const base = opts.url.replace(/^http/, "ws").replace(/\/$/, "");
	const ws = new WebSocket(`${base}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
	closeConn = () => ws.terminate();
	const nsp = opts.nsp === "/" ? "" : `${opts.nsp},`;
	const prefix = `40${nsp}`;
	let state = "open";	// open -> connecting -> connected

	ws.on("error", (err) => {
		record({ event: "connect_error", args: [String(err?.message ?? err)] });
		process.exit(2);
	});
	ws.on("close", () => record({ event: "disconnect", args: ["closed"] }));
	ws.on("message", (data, isBin) => {
		if (isBin) {
			record(eventLine("binary-frame", [Buffer.from(data)], {}));
			return;
		}
		const f = data.toString("utf8");
		if (f === "2") {		// ping: answer, do not record
			ws.send("3");
			return;
		}
		if (state === "open" && f[0] === "0") {
			state = "connecting";
			ws.send(prefix + (opts.auth ? JSON.stringify(opts.auth) : ""));
			return;
		}
		if (state === "connecting" && f.startsWith(prefix + "{")) {
			state = "connected";
			const sid = JSON.parse(f.slice(prefix.length)).sid;
			if (opts.idFile)
				writeAtomic(opts.idFile, sid + "\n");
			(async () => {
				await waitGo();
				for (const t of opts.sends)
					ws.send(t);
			})();
			return;
		}
		if (opts.out)
			fs.appendFileSync(opts.out, f + "\n");
	});
}

if (opts.raw)
	runRaw();
else
	runClient();
