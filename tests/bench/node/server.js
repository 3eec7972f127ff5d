// The reference server of make bench: socket.io 4.8 doing what sio-hub
// does in each scenario. Options: --port N, --relay (socket.broadcast.emit
// of every client event, as sio-hub --relay), --ping-interval MS,
// --ping-timeout MS. A client whose handshake query has room=R is put in
// room R (sio-hub gets the same rooms through its control socket). NDJSON
// lines on stdin, {"event":E,"data":[...],"to":[ROOM]}, are emitted to
// everyone or to the rooms, as sio-emit does through sio-hub.
"use strict";
const { Server } = require("socket.io");
const readline = require("readline");

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? def : process.argv[i + 1];
};
const relay = process.argv.includes("--relay");
const io = new Server(Number(arg("--port", 3000)), {
  pingInterval: Number(arg("--ping-interval", 25000)),
  pingTimeout: Number(arg("--ping-timeout", 20000)),
  serveClient: false,
});

io.on("connection", (socket) => {
  const room = socket.handshake.query.room;
  if (room) socket.join(room);
  if (relay) socket.onAny((event, ...args) => socket.broadcast.emit(event, ...args));
});

// --fault drop|dup|reorder spoils every 100th stdin event, so that
// selftest.sh can see siobench count what it should.
const fault = arg("--fault", "");
let nline = 0, held = null;
const emit = (m) => (m.to ? io.to(m.to) : io).emit(m.event, ...(m.data || []));
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line) return;
  const m = JSON.parse(line);
  if (fault && ++nline % 100 === 0) {
    if (fault === "drop") return;
    if (fault === "dup") emit(m);
    if (fault === "reorder") { held = m; return; }
  }
  emit(m);
  if (held) { emit(held); held = null; }
});
process.on("SIGTERM", () => process.exit(0));
console.error("node socket.io ready on port", arg("--port", 3000));
