// The well-behaved client of the robustness suite: a real socket.io-client
// over WebSocket that stays connected while hostile_test.py attacks the hub.
//
//   node tests/robustness/good_client.mjs http://127.0.0.1:PORT
//
// Prints one JSON line per thing that happens, to stdout:
//   {"type":"connect","id":SID,"transport":"websocket"}
//   {"type":"event","event":NAME,"args":[...]}
//   {"type":"disconnect","reason":REASON}
//   {"type":"connect_error","message":MSG}
//   {"type":"bye"}                      on SIGTERM/SIGINT, then exits 0
// Writes to a pipe are synchronous on Linux, so nothing is lost at exit.

import { createRequire } from "node:module";

const require = createRequire(new URL("../interop/package.json", import.meta.url));
const { io } = require("socket.io-client");

const url = process.argv[2];
if (!url) {
	process.stderr.write("usage: good_client.mjs URL\n");
	process.exit(64);
}

const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

const socket = io(url, {
	transports: ["websocket"],
	reconnectionDelay: 200,
	reconnectionDelayMax: 500,
	timeout: 5000,
});

socket.on("connect", () =>
	out({ type: "connect", id: socket.id, transport: socket.io.engine.transport.name }));
socket.on("disconnect", (reason) => out({ type: "disconnect", reason }));
socket.on("connect_error", (e) => out({ type: "connect_error", message: String(e && e.message) }));
socket.onAny((event, ...args) => out({ type: "event", event, args }));

let stopping = false;
const stop = () => {
	if (stopping)
		return;
	stopping = true;
	out({ type: "bye" });
	socket.close();
	process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
