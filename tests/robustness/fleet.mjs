// Well-behaved clients for the fault and soak tests: N real socket.io-client
// sockets in one node process, driven by JSON lines on stdin.
//
//   node tests/robustness/fleet.mjs --url http://127.0.0.1:PORT [--n N]
//        [--transport websocket|polling|both] [--no-reconnect] [--tag T]
//
// Each socket is its own Manager (forceNew), so N sockets are N client
// connections. Prints one JSON line per thing that happens, to stdout:
//   {"c":I,"type":"connect","id":SID,"transport":T}
//   {"c":I,"type":"event","event":NAME,"args":[...]}      args as received;
//       an event whose args are [n, t, ...] with t a Date.now() of its sender
//       also carries "lat": milliseconds from the send to now
//   {"c":I,"type":"disconnect","reason":REASON}
//   {"c":I,"type":"connect_error","message":MSG}
//   {"c":I,"type":"sent","event":NAME,"n":LAST}            after a "seq" command
//   {"type":"bye"}                                         on SIGTERM, then exit 0
// Commands, one JSON object a line on stdin:
//   {"c":I,"emit":NAME,"args":[...]}     socket I emits once
//   {"c":I,"seq":NAME,"from":A,"to":B,"batch":K,"every":MS,"pad":P}
//       socket I emits NAME with args [n, Date.now()] for n = A..B,
//       K at a time every MS milliseconds (K = 1, MS = 0: as fast as it can);
//       with P, a third argument of P bytes
//   {"c":I,"close":true} / {"c":I,"open":true}
// Writes to a pipe are synchronous in node, so nothing printed is lost at exit.

import { createRequire } from "node:module";
import readline from "node:readline";

const require = createRequire(new URL("../interop/package.json", import.meta.url));
const { io } = require("socket.io-client");

const opts = { url: null, n: 1, transport: "websocket", reconnect: true, tag: "" };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
	const a = argv[i];
	const val = () => argv[++i];
	if (a === "--url") opts.url = val();
	else if (a === "--n") opts.n = Number(val());
	else if (a === "--transport") opts.transport = val();
	else if (a === "--no-reconnect") opts.reconnect = false;
	else if (a === "--tag") opts.tag = val();
	else {
		process.stderr.write(`fleet.mjs: unknown option ${a}\n`);
		process.exit(64);
	}
}
if (!opts.url) {
	process.stderr.write("usage: fleet.mjs --url URL [--n N] [--transport T]\n");
	process.exit(64);
}

const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const transports = opts.transport === "both" ? ["polling", "websocket"] : [opts.transport];

const sockets = [];
for (let c = 0; c < opts.n; c++) {
	const s = io(opts.url, {
		forceNew: true,
		transports,
		reconnection: opts.reconnect,
		reconnectionDelay: 200,
		reconnectionDelayMax: 1000,
		timeout: 5000,
	});
	s.on("connect", () => out({ c, type: "connect", id: s.id, transport: s.io.engine.transport.name }));
	s.on("disconnect", (reason) => out({ c, type: "disconnect", reason }));
	s.on("connect_error", (e) => out({ c, type: "connect_error", message: String(e && e.message) }));
	s.onAny((event, ...args) => {
		const o = { c, type: "event", event, args };
		if (args.length >= 2 && typeof args[1] === "number" && args[1] > 1e12)
			o.lat = Date.now() - args[1];
		out(o);
	});
	sockets.push(s);
}

function seq(c, cmd) {
	const s = sockets[c];
	const batch = cmd.batch || 1;
	const every = cmd.every || 0;
	const pad = cmd.pad ? ["p".repeat(cmd.pad)] : [];
	let n = cmd.from;
	const step = () => {
		for (let k = 0; k < batch && n <= cmd.to; k++, n++)
			s.emit(cmd.seq, n, Date.now(), ...pad);
		if (n <= cmd.to)
			setTimeout(step, every);
		else
			out({ c, type: "sent", event: cmd.seq, n: cmd.to });
	};
	step();
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
	if (!line.trim())
		return;
	let cmd;
	try {
		cmd = JSON.parse(line);
	} catch {
		process.stderr.write(`fleet.mjs: bad command ${line}\n`);
		return;
	}
	const s = sockets[cmd.c || 0];
	if (!s)
		return;
	if (cmd.emit !== undefined)
		s.emit(cmd.emit, ...(cmd.args || []));
	else if (cmd.seq !== undefined)
		seq(cmd.c || 0, cmd);
	else if (cmd.close)
		s.close();
	else if (cmd.open)
		s.connect();
});

let stopping = false;
const stop = () => {
	if (stopping)
		return;
	stopping = true;
	out({ type: "bye" });
	for (const s of sockets)
		s.close();
	process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
