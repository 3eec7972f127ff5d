// The sio demo page: one Socket.IO client (the official bundle, default
// transports: polling first, then an upgrade to WebSocket) talking to the
// hub that serves this page. Everything it receives goes to the log.
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_LOG = 500;

// Binary values are shown (and may be typed) as {"_binary":"<base64>"},
// as sio-listen prints them and sio-emit reads them.
function toBase64(bytes) {
	let s = "";
	for (let i = 0; i < bytes.length; i++)
		s += String.fromCharCode(bytes[i]);
	return btoa(s);
}
function show(v) {
	return JSON.stringify(v, (k, x) => {
		if (x instanceof ArrayBuffer)
			return { _binary: toBase64(new Uint8Array(x)) };
		if (ArrayBuffer.isView(x))
			return { _binary: toBase64(new Uint8Array(x.buffer, x.byteOffset, x.byteLength)) };
		return x;
	});
}
function parseArgs(text) {
	if (text.trim() === "")
		return [];
	return JSON.parse(`[${text}]`, (k, x) => {
		if (x && typeof x === "object" && !Array.isArray(x) && typeof x._binary === "string"
		    && Object.keys(x).length === 1) {
			const s = atob(x._binary);
			return Uint8Array.from(s, (c) => c.charCodeAt(0));
		}
		return x;
	});
}

function clock() {
	const d = new Date();
	const p = (n, w = 2) => String(n).padStart(w, "0");
	return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

// kind: "in" (received), "out" (sent), "ack" (an ack answer), "sys".
function log(kind, event, text) {
	const list = $("log");
	const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
	const li = document.createElement("li");
	li.className = kind;
	li.dataset.event = event;
	const time = document.createElement("time");
	time.textContent = clock();
	const name = document.createElement("b");
	name.textContent = event;
	const args = document.createElement("code");
	args.textContent = text;
	li.append(time, name, args);
	list.append(li);
	while (list.children.length > MAX_LOG)
		list.firstElementChild.remove();
	if (stick)
		list.scrollTop = list.scrollHeight;
}

function setState(state, detail) {
	const el = $("state");
	el.dataset.state = state;
	el.textContent = detail ? `${state} (${detail})` : state;
	$("toggle").textContent = state === "disconnected" ? "connect" : "disconnect";
}

function showTransport() {
	$("transport").textContent = socket.io.engine?.transport?.name ?? "–";
}

const socket = io();
window.sioDemo = socket;	// for the console

socket.io.on("open", () => {
	showTransport();
	socket.io.engine.on("upgrade", (transport) => {
		$("transport").textContent = transport.name;
		log("sys", "upgrade", transport.name);
	});
});

socket.on("connect", () => {
	setState("connected");
	$("sid").textContent = socket.id;
	showTransport();
	log("sys", "connect", `id ${socket.id}`);
});

socket.on("disconnect", (reason) => {
	setState("disconnected", reason);
	$("sid").textContent = "–";
	$("transport").textContent = "–";
	log("sys", "disconnect", reason);
	if (socket.active)
		setState("connecting", reason);
});

socket.on("connect_error", (err) => {
	setState(socket.active ? "connecting" : "disconnected", err.message);
	log("sys", "connect_error", err.message);
});

socket.onAny((event, ...args) => {
	// An event that asks for an ack ends with a callback: answer "ok".
	let ack = null;
	if (typeof args[args.length - 1] === "function")
		ack = args.pop();
	log("in", event, show(args) + (ack ? "  (ack requested: answered \"ok\")" : ""));
	if (ack)
		ack("ok");
});

$("form").addEventListener("submit", (e) => {
	e.preventDefault();
	const error = $("error");
	const reply = $("reply");
	const event = $("event").value.trim();
	let args;
	try {
		args = parseArgs($("args").value);
	} catch (err) {
		error.textContent = `bad JSON: ${err.message}`;
		error.hidden = false;
		$("args").setAttribute("aria-invalid", "true");
		$("args").focus();
		return;
	}
	error.hidden = true;
	$("args").removeAttribute("aria-invalid");
	if (!event)
		return;
	if ($("ack").checked) {
		reply.hidden = false;
		reply.className = "waiting";
		reply.textContent = `waiting for the ack of "${event}"…`;
		socket.timeout(10000).emit(event, ...args, (err, ...answer) => {
			if (err) {
				reply.className = "failed";
				reply.textContent = `no ack for "${event}": ${err.message}`;
				log("ack", event, `no answer: ${err.message}`);
			} else {
				reply.className = "answered";
				reply.textContent = `ack for "${event}": ${show(answer)}`;
				log("ack", event, show(answer));
			}
		});
	} else {
		reply.hidden = true;
		socket.emit(event, ...args);
	}
	log("out", event, show(args) + (socket.connected ? "" : "  (buffered until connected)"));
});

$("toggle").addEventListener("click", () => {
	if (socket.active) {
		socket.disconnect();
	} else {
		setState("connecting");
		socket.connect();
	}
});

$("clear").addEventListener("click", () => $("log").replaceChildren());
