#!/usr/bin/python3
"""Interop tests: Debian's python3-socketio client against sio-hub.

Run from the top of the tree with /usr/bin/python3 (the Debian packages
python3-socketio 5.7 / python3-engineio 4.3 are what is under test):

    /usr/bin/python3 tests/interop/python_test.py [-v] [name-substring ...]

Prints one line per test, "ok - NAME" or "not ok - NAME: REASON" (details
follow as "# " lines), and exits 1 if any test failed. Every test starts its
own hub on a free loopback port with a private control socket, and every
wait is bounded. Set SIO_TEST_DEBUG=1 to copy the hubs' stderr to stderr.
"""

import base64
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest

import engineio.packet
import requests
import socketio
import socketio.exceptions

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CMD = os.path.join(ROOT, "cmd")
HUB_BIN = os.path.join(CMD, "sio-hub")
DEBUG = bool(os.environ.get("SIO_TEST_DEBUG"))
SID_RE = re.compile(r"^[A-Za-z0-9_-]{20}$")
BIG = 12345678901234567890          # > 2**63: exact only if nobody uses doubles
WATCHDOG_S = 150                     # the whole run, hard limit

# Every child process, so the watchdog can stop them by PID.
_children = set()
_children_lock = threading.Lock()


def _track(proc):
    with _children_lock:
        _children.add(proc)
    return proc


def _untrack(proc):
    with _children_lock:
        _children.discard(proc)


def stop_process(proc, grace=3.0):
    """SIGTERM, wait up to `grace` s, SIGKILL. Returns the exit status."""
    if proc.poll() is None:
        try:
            proc.terminate()
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    _untrack(proc)
    return proc.returncode


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def until(fn, timeout=3.0, what="condition", step=0.02):
    """Polls fn() until it returns something truthy; fails after timeout."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(step)


def b64(data):
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------
# the hub and its tools


class Hub:
    """One cmd/sio-hub on 127.0.0.1:<port> with its own control socket."""

    def __init__(self, tmpdir, args=(), port=None):
        self.tmpdir = tmpdir
        self.args = list(args)
        self.sock = os.path.join(tmpdir, "hub.sock")
        self.fixed_port = port
        self.proc = None
        self.port = None
        self.n = 0

    @property
    def url(self):
        scheme = "https" if "--tls-cert" in self.args else "http"
        return "%s://127.0.0.1:%d" % (scheme, self.port)

    def env(self):
        env = dict(os.environ)
        env["SIO_SOCKET"] = self.sock
        env.pop("NO_COLOR", None)
        return env

    def start(self):
        """Starts the hub; retries when the port is taken (exit 69)."""
        attempts = 40 if self.fixed_port else 5
        for attempt in range(attempts):
            self.port = self.fixed_port or free_port()
            self.n += 1
            self.errpath = os.path.join(self.tmpdir, "hub-%d.err" % self.n)
            with open(self.errpath, "wb") as err:
                self.proc = _track(subprocess.Popen(
                    [HUB_BIN, "--bind", "127.0.0.1", "--port", str(self.port),
                     "-S", self.sock] + self.args,
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=err, env=self.env(), cwd=ROOT))
            end = time.monotonic() + 5
            while time.monotonic() < end:
                if self.proc.poll() is not None:
                    break
                if port_open(self.port) and os.path.exists(self.sock):
                    return self
                time.sleep(0.02)
            code = self.proc.poll()
            if code is None:
                stop_process(self.proc)
                raise AssertionError("sio-hub did not listen within 5 s:\n" + self.stderr())
            _untrack(self.proc)
            if code == 69 and attempt + 1 < attempts:
                time.sleep(0.05)
                continue
            raise AssertionError("sio-hub exited with %s before listening:\n%s"
                                 % (code, self.stderr()))
        raise AssertionError("sio-hub could not listen")

    def stop(self):
        if self.proc is None:
            return None
        code = stop_process(self.proc)
        if DEBUG:
            sys.stderr.write(self.stderr())
        return code

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        try:
            with open(self.errpath, "r", errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    # ---- tools

    def tool(self, name, *args, input=None, timeout=10):
        """Runs cmd/NAME ARGS against this hub; returns CompletedProcess."""
        proc = _track(subprocess.Popen(
            [os.path.join(CMD, name), "-S", self.sock] + [str(a) for a in args],
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self.env(), cwd=ROOT))
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process(proc, 1)
            out, err = proc.communicate()
            raise AssertionError("%s %s did not finish within %s s (stderr: %s)"
                                 % (name, " ".join(map(str, args)), timeout, err))
        finally:
            _untrack(proc)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def ok(self, name, *args, input=None, timeout=10):
        r = self.tool(name, *args, input=input, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("%s %s exited %d\nstdout: %s\nstderr: %s"
                                 % (name, " ".join(map(str, args)), r.returncode,
                                    r.stdout, r.stderr))
        return r

    def emit(self, *args, input=None):
        return self.ok("sio-emit", *args, input=input)

    def sockets(self, *args):
        """sio-rooms sockets --json ARGS, as (raw lines, parsed objects)."""
        r = self.tool("sio-rooms", "sockets", "--json", *args)
        if r.returncode not in (0, 1):
            raise AssertionError("sio-rooms sockets exited %d: %s" % (r.returncode, r.stderr))
        lines = [l for l in r.stdout.splitlines() if l.strip()]
        return lines, [json.loads(l) for l in lines]

    def listen(self, *args):
        return Listener(self, args)


class Listener:
    """A running sio-listen --json; its lines are read by a thread."""

    def __init__(self, hub, args):
        self.q = queue.Queue()
        self.proc = _track(subprocess.Popen(
            [os.path.join(CMD, "sio-listen"), "-S", hub.sock, "--json"] + [str(a) for a in args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=hub.env(), cwd=ROOT))
        self.err = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line)

    def settle(self):
        """sio-listen gives no sign of having subscribed; give it a moment
        and make sure it is still alive."""
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise AssertionError("sio-listen exited %s: %s" % (self.proc.returncode, "".join(self.err)))

    def line(self, timeout=3.0):
        """The next raw line (str); fails after timeout or at EOF."""
        try:
            l = self.q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no sio-listen line within %.1f s" % timeout) from None
        if l is None:
            self.q.put(None)
            raise AssertionError("sio-listen ended (status %s) %s"
                                 % (self.proc.poll(), "".join(self.err)))
        return l

    def lines(self, n, timeout=3.0):
        """n raw lines, each parsed too: list of (raw, obj)."""
        end = time.monotonic() + timeout
        out = []
        for _ in range(n):
            raw = self.line(max(0.01, end - time.monotonic()))
            out.append((raw, json.loads(raw)))
        return out

    def until(self, pred, timeout=3.0, what="a matching sio-listen line"):
        end = time.monotonic() + timeout
        seen = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s within %.1f s; saw %r" % (what, timeout, seen))
            try:
                raw = self.line(left)
            except AssertionError:
                raise AssertionError("no %s; saw %r" % (what, seen)) from None
            obj = json.loads(raw)
            seen.append(obj)
            if pred(obj):
                return raw, obj

    def wait_exit(self, timeout=3.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("sio-listen did not exit within %.1f s" % timeout) from None

    def close(self):
        stop_process(self.proc, 1)


class Inbox:
    """Collects the arguments of one event on one client (handlers run on
    python-engineio's threads)."""

    def __init__(self, client, event, namespace="/", reply=None):
        self.items = []
        self.cond = threading.Condition()

        def handler(*args):
            with self.cond:
                self.items.append(args)
                self.cond.notify_all()
            return reply(*args) if reply else None

        client.on(event, handler, namespace=namespace)

    def wait(self, n=1, timeout=3.0):
        end = time.monotonic() + timeout
        with self.cond:
            while len(self.items) < n:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out after %.1f s waiting for %d event(s), got %r"
                                         % (timeout, n, self.items))
                self.cond.wait(left)
            return list(self.items)

    def first(self, timeout=3.0):
        return self.wait(1, timeout)[0]

    def none(self, ms=300):
        time.sleep(ms / 1000.0)
        with self.cond:
            if self.items:
                raise AssertionError("unexpected event(s): %r" % (self.items,))


# --------------------------------------------------------------------------
# test base


class HubTest(unittest.TestCase):
    maxDiff = 4000

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sio-py-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def hub(self, *args, port=None, subdir=None):
        d = self.tmp
        if subdir:
            d = os.path.join(self.tmp, subdir)
            os.makedirs(d, exist_ok=True)
        h = Hub(d, args, port=port)
        self.addCleanup(h.stop)
        h.start()
        return h

    def listen(self, hub, *args):
        l = hub.listen(*args)
        self.addCleanup(l.close)
        return l

    def client(self, **kw):
        opts = dict(reconnection=False, request_timeout=3, handle_sigint=False)
        opts.update(kw)
        c = socketio.Client(**opts)

        def close():
            try:
                c.disconnect()
            except Exception:
                pass
        self.addCleanup(close)
        return c

    def connect(self, c, hub, wait_timeout=3, **kw):
        c.connect(hub.url, wait_timeout=wait_timeout, **kw)
        return c

    def connected_client(self, hub, **kw):
        ckw = {k: kw.pop(k) for k in list(kw) if k in ("reconnection", "reconnection_delay",
                                                       "reconnection_delay_max",
                                                       "randomization_factor")}
        return self.connect(self.client(**ckw), hub, **kw)

    def assertSid(self, sid):
        self.assertIsInstance(sid, str)
        self.assertRegex(sid, SID_RE)

    def socket_of(self, hub, sid, nsp="/"):
        lines, objs = hub.sockets("--nsp", nsp, "--sid", sid)
        self.assertEqual(len(objs), 1, "sio-rooms sockets --sid %s: %r" % (sid, lines))
        return lines[0], objs[0]


# --------------------------------------------------------------------------
# 1. transports


class Transports(HubTest):

    def roundtrip(self, hub, c):
        """An event each way over whatever transport c uses."""
        inbox = Inbox(c, "ping-me")
        l = self.listen(hub, "--events-only", "--count", "1")
        l.settle()
        hub.emit("--to", c.get_sid(), "ping-me", '"hi"', "1")
        self.assertEqual(inbox.first(), ("hi", 1))
        # The sid is read before the emit: over wss, python-engineio 4.3
        # writes from one thread while its reader waits in another on the
        # same ssl socket, which has a timeout (non-blocking inside), and
        # that reader now and then takes the write for an EOF and drops the
        # connection right after the event went out (2 runs in 223
        # with both cores busy; the client's log says "WebSocket connection
        # was closed" while the hub's says the client closed). The event
        # still arrives, from the socket that sent it.
        sid = c.get_sid()
        c.emit("pong-me", {"x": [1, 2]})
        _, ev = l.lines(1)[0]
        self.assertEqual((ev["event"], ev["data"], ev["sid"]), ("pong-me", [{"x": [1, 2]}], sid))
        self.assertEqual(l.wait_exit(), 0)

    def make_cert(self):
        """A throwaway CA and a localhost certificate it signed: (ca, cert, key)."""
        ca, cakey = os.path.join(self.tmp, "ca.pem"), os.path.join(self.tmp, "ca-key.pem")
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        csr, ext = os.path.join(self.tmp, "leaf.csr"), os.path.join(self.tmp, "leaf.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        for cmd in (["req", "-x509"] + ec + ["-keyout", cakey, "-out", ca, "-days", "1",
                                              "-subj", "/CN=sio test CA"],
                    ["req", "-new"] + ec + ["-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
                    ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-CAcreateserial",
                     "-out", cert, "-days", "1", "-extfile", ext]):
            subprocess.run(["openssl"] + cmd, check=True, capture_output=True)
        return ca, cert, key

    def connect_wss_race(self, session, hub, transports):
        """Connects; over wss, up to three times. "One or more namespaces
        failed to connect" came once in 250 runs here with both cores
        busy, taken to be python-engineio's race (see roundtrip) on the
        namespace CONNECT its writer thread sends while the reader starts;
        not confirmed: 600 runs with the client's log on did not show it.
        The hub's side of wss is tested without retries by tls.test.mjs."""
        for attempt in range(3):
            try:
                return self.connect(self.client(http_session=session), hub, transports=transports)
            except socketio.exceptions.ConnectionError as e:
                if transports != ["websocket"] or attempt == 2:
                    raise
                print("# wss connect attempt %d: %s (python-engineio's thread race)" % (attempt + 1, e),
                      flush=True)

    def test_tls_with_the_ca_pinned(self):
        ca, cert, key = self.make_cert()
        hub = self.hub("--tls-cert", cert, "--tls-key", key)
        self.assertTrue(hub.url.startswith("https://"))
        for transports in (["polling"], ["websocket"]):
            with self.subTest(transports=transports):
                # python-engineio pins the websocket through the session's
                # verify, while its polling requests pass verify=True, which
                # requests resolves through REQUESTS_CA_BUNDLE.
                session = requests.Session()
                session.verify = ca
                os.environ["REQUESTS_CA_BUNDLE"] = ca
                self.addCleanup(os.environ.pop, "REQUESTS_CA_BUNDLE", None)
                c = self.connect_wss_race(session, hub, transports)
                self.assertEqual(c.transport(), transports[0])
                self.roundtrip(hub, c)
                c.disconnect()
        # without the CA, verification fails and nothing connects
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
        c = self.client()
        with self.assertRaises(socketio.exceptions.ConnectionError):
            c.connect(hub.url, transports=["polling"], wait_timeout=3)

    def test_jwt_token_in_auth(self):
        import hashlib
        import hmac

        def b64u(b):
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

        def token(secret, claims):
            head = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
            body = b64u(json.dumps(claims).encode())
            sig = hmac.new(secret, ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest()
            return "%s.%s.%s" % (head, body, b64u(sig))

        secret = os.urandom(32)
        path = os.path.join(self.tmp, "secret")
        with open(path, "wb") as f:
            f.write(secret)
        hub = self.hub("--jwt-alg", "HS256", "--jwt-key", path)
        c = self.connect(self.client(), hub, transports=["websocket"],
                         auth={"token": token(secret, {"sub": "py-user", "rooms": ["py"],
                                                       "exp": time.time() + 60})})
        _, sock = self.socket_of(hub, c.get_sid())
        self.assertEqual(sock["user"], "py-user")
        self.assertIn("py", sock["rooms"])
        # a forged token gets no socket
        bad = self.client()
        with self.assertRaises(socketio.exceptions.ConnectionError):
            bad.connect(hub.url, transports=["polling"], wait_timeout=3,
                        auth={"token": token(b"x" * 32, {"sub": "mallory"})})
        lines, objs = hub.sockets()
        self.assertEqual([o.get("user") for o in objs], ["py-user"])

    def test_default_transports_upgrade_to_websocket(self):
        hub = self.hub()
        c = self.connected_client(hub)
        until(lambda: c.transport() == "websocket", 3, "the upgrade to websocket")
        self.assertSid(c.get_sid())
        self.assertSid(c.sid)          # the Engine.IO session id
        self.assertNotEqual(c.sid, c.get_sid())
        until(lambda: self.socket_of(hub, c.get_sid())[1]["transport"] == "websocket",
              3, "sio-rooms to report transport websocket")
        self.roundtrip(hub, c)

    def test_websocket_only(self):
        hub = self.hub()
        c = self.connected_client(hub, transports=["websocket"])
        self.assertEqual(c.transport(), "websocket")
        self.assertSid(c.get_sid())
        self.assertEqual(self.socket_of(hub, c.get_sid())[1]["transport"], "websocket")
        self.roundtrip(hub, c)

    def test_polling_only(self):
        hub = self.hub()
        c = self.connected_client(hub, transports=["polling"])
        self.assertEqual(c.transport(), "polling")
        self.assertSid(c.get_sid())
        self.assertEqual(self.socket_of(hub, c.get_sid())[1]["transport"], "polling")
        self.roundtrip(hub, c)
        self.assertEqual(c.transport(), "polling")

    def test_hub_without_websocket_keeps_polling(self):
        hub = self.hub("--transports", "polling")
        c = self.connected_client(hub)
        time.sleep(0.3)
        self.assertEqual(c.transport(), "polling")
        self.roundtrip(hub, c)

    def test_websocket_only_refused_by_polling_only_hub(self):
        hub = self.hub("--transports", "polling")
        c = self.client()
        with self.assertRaises(socketio.exceptions.ConnectionError):
            self.connect(c, hub, transports=["websocket"], wait_timeout=1)


# --------------------------------------------------------------------------
# 2. namespaces


class Namespaces(HubTest):

    def test_two_namespaces_on_one_connection(self):
        hub = self.hub("--nsp", "/custom")
        c = self.client()
        root = Inbox(c, "news", "/")
        custom = Inbox(c, "news", "/custom")
        self.connect(c, hub, namespaces=["/", "/custom"])
        self.assertEqual(set(c.namespaces), {"/", "/custom"})
        s1, s2 = c.get_sid("/"), c.get_sid("/custom")
        self.assertSid(s1)
        self.assertSid(s2)
        self.assertNotEqual(s1, s2)
        # both sockets share the one Engine.IO connection
        self.assertEqual(self.socket_of(hub, s2, "/custom")[1]["nsp"], "/custom")
        self.assertEqual(self.socket_of(hub, s1, "/")[1]["nsp"], "/")

        hub.emit("--nsp", "/custom", "news", '"for custom"')
        self.assertEqual(custom.first(), ("for custom",))
        root.none(200)
        hub.emit("news", '"for root"')
        self.assertEqual(root.first(), ("for root",))
        self.assertEqual(custom.wait(1), [("for custom",)])

        l = self.listen(hub, "--events-only", "--count", "2")
        l.settle()
        c.emit("up", "r", namespace="/")
        c.emit("up", "c", namespace="/custom")
        got = sorted((o["nsp"], o["sid"], o["data"]) for _, o in l.lines(2))
        self.assertEqual(got, [("/", s1, ["r"]), ("/custom", s2, ["c"])])

    def test_unknown_namespace_refused(self):
        hub = self.hub("--nsp", "/custom")
        c = self.client()
        errors = Inbox(c, "connect_error", "/nope")
        with self.assertRaises(socketio.exceptions.ConnectionError):
            self.connect(c, hub, namespaces=["/nope"], wait_timeout=1)
        data = errors.first()
        self.assertEqual(len(data), 1, data)
        self.assertIsInstance(data[0], dict)
        self.assertIsInstance(data[0].get("message"), str)
        self.assertEqual(hub.sockets("--nsp", "/nope")[1], [])
        # the hub is fine afterwards
        self.connected_client(hub, namespaces=["/custom"])

    def test_any_nsp(self):
        hub = self.hub("--any-nsp")
        c = self.client()
        inbox = Inbox(c, "hey", "/whatever")
        self.connect(c, hub, namespaces=["/whatever"])
        self.assertSid(c.get_sid("/whatever"))
        hub.emit("--nsp", "/whatever", "hey", "[1,2]")
        self.assertEqual(inbox.first(), ([1, 2],))


# --------------------------------------------------------------------------
# 3. server -> client events via sio-emit


class ServerEmit(HubTest):

    def test_emit_to_all(self):
        hub = self.hub()
        a, b = self.client(), self.client()
        ia, ib = Inbox(a, "hello"), Inbox(b, "hello")
        self.connect(a, hub)
        self.connect(b, hub, transports=["polling"])
        hub.emit("hello", '"world"', "42", '{"k":[true,null,1.5]}', '"h\\u00e9 \\ud83d\\ude00"')
        want = ("world", 42, {"k": [True, None, 1.5]}, "h\u00e9 \U0001F600")
        self.assertEqual(ia.first(), want)
        self.assertEqual(ib.first(), want)

    def test_emit_no_arguments_and_stdin_lines(self):
        hub = self.hub()
        c = self.connected_client(hub)
        bare, lines = Inbox(c, "bare"), Inbox(c, "line")
        hub.emit("bare")
        self.assertEqual(bare.first(), ())
        hub.emit(input='{"event":"line","data":[1]}\n{"event":"line","data":["two",{"n":2}]}\n')
        got = lines.wait(2)
        self.assertEqual(sorted(map(repr, got)), sorted(map(repr, [(1,), ("two", {"n": 2})])))

    def test_emit_to_room(self):
        hub = self.hub()
        a, b = self.client(), self.client()
        ia, ib = Inbox(a, "news"), Inbox(b, "news")
        self.connect(a, hub)
        self.connect(b, hub)
        hub.ok("sio-rooms", "join", "lobby", "--sid", a.get_sid())
        members = hub.ok("sio-rooms", "members", "lobby").stdout.split()
        self.assertEqual(members, [a.get_sid()])
        hub.emit("--to", "lobby", "news", '"lobby only"')
        self.assertEqual(ia.first(), ("lobby only",))
        ib.none(300)
        # --except the room: b only
        hub.emit("--except", "lobby", "news", '"not lobby"')
        self.assertEqual(ib.first(), ("not lobby",))
        self.assertEqual(ia.wait(1), [("lobby only",)])

    def test_emit_to_socket_id(self):
        hub = self.hub()
        a, b = self.client(), self.client()
        ia, ib = Inbox(a, "dm"), Inbox(b, "dm")
        self.connect(a, hub, transports=["websocket"])
        self.connect(b, hub, transports=["polling"])
        hub.emit("--to", b.get_sid(), "dm", '"for b"')
        self.assertEqual(ib.first(), ("for b",))
        hub.emit("--to", a.get_sid(), "dm", '"for a"')
        self.assertEqual(ia.first(), ("for a",))
        time.sleep(0.2)
        self.assertEqual(ia.items, [("for a",)])
        self.assertEqual(ib.items, [("for b",)])

    def test_rooms_leave(self):
        hub = self.hub()
        a = self.connected_client(hub)
        ia = Inbox(a, "news")
        hub.ok("sio-rooms", "join", "lobby", "--sid", a.get_sid())
        hub.ok("sio-rooms", "leave", "lobby", "--sid", a.get_sid())
        r = hub.tool("sio-rooms", "count", "lobby")
        self.assertIn(r.stdout.strip(), ("0", ""), r)
        hub.emit("--to", "lobby", "news", "1")
        ia.none(300)


# --------------------------------------------------------------------------
# 4. client -> server events seen by sio-listen


class ClientEvents(HubTest):

    def check_events(self, transports):
        hub = self.hub()
        c = self.connected_client(hub, transports=transports)
        l = self.listen(hub, "--events-only", "--count", "4")
        l.settle()
        c.emit("plain", "text")
        c.emit("multi", (1, "two", [3], {"four": 4}, None, True, -2.5))
        c.emit("big", BIG)
        c.emit("unicode \u00e9", {"s": "h\u00e9llo \u2713 \U0001F600", "q": "a\"b\\c\n"})
        lines = l.lines(4)
        self.assertEqual(l.wait_exit(), 0)
        for _, o in lines:
            self.assertEqual(o["type"], "event")
            self.assertEqual(o["nsp"], "/")
            self.assertEqual(o["sid"], c.get_sid())
            self.assertIsNone(o.get("ack"))
        self.assertEqual([(o["event"], o["data"]) for _, o in lines], [
            ("plain", ["text"]),
            ("multi", [1, "two", [3], {"four": 4}, None, True, -2.5]),
            ("big", [BIG]),
            ("unicode \u00e9", [{"s": "h\u00e9llo \u2713 \U0001F600", "q": "a\"b\\c\n"}]),
        ])
        raw = lines[2][0]
        self.assertIn("12345678901234567890", raw)
        self.assertIs(type(lines[2][1]["data"][0]), int)

    def test_events_websocket(self):
        self.check_events(["websocket"])

    def test_events_polling(self):
        self.check_events(["polling"])

    def test_listen_filters(self):
        hub = self.hub("--nsp", "/custom")
        c = self.connected_client(hub, namespaces=["/", "/custom"])
        l = self.listen(hub, "--events-only", "--nsp", "/custom", "--event", "want", "--count", "1")
        l.settle()
        c.emit("want", 1, namespace="/")
        c.emit("other", 2, namespace="/custom")
        c.emit("want", 3, namespace="/custom")
        _, o = l.lines(1)[0]
        self.assertEqual((o["nsp"], o["event"], o["data"]), ("/custom", "want", [3]))
        self.assertEqual(l.wait_exit(), 0)

    def test_connect_and_disconnect_lines(self):
        hub = self.hub()
        l = self.listen(hub, "--count", "2")
        l.settle()
        c = self.connected_client(hub, transports=["websocket"])
        sid = c.get_sid()
        _, con = l.lines(1)[0]
        self.assertEqual((con["type"], con["nsp"], con["sid"], con["transport"]),
                         ("connect", "/", sid, "websocket"))
        c.disconnect()
        _, dis = l.lines(1)[0]
        self.assertEqual((dis["type"], dis["nsp"], dis["sid"]), ("disconnect", "/", sid))
        self.assertIsInstance(dis["reason"], str)
        self.assertEqual(l.wait_exit(), 0)
        until(lambda: hub.sockets()[1] == [], 2, "the socket to be gone")


# --------------------------------------------------------------------------
# 5. acks


class Acks(HubTest):

    def test_client_ack_answered_by_reply(self):
        hub = self.hub()
        c = self.connected_client(hub)
        l = self.listen(hub, "--events-only", "--count", "1")
        l.settle()
        got = []
        done = threading.Event()

        def cb(*args):
            got.append(args)
            done.set()
        c.emit("question", {"x": 1}, callback=cb)
        _, ev = l.lines(1)[0]
        self.assertEqual((ev["event"], ev["data"]), ("question", [{"x": 1}]))
        handle = ev.get("ack")
        self.assertIsNotNone(handle, ev)
        hub.ok("sio-emit", "--reply", str(handle), '"answer"', '{"z":[1,2]}', str(BIG))
        self.assertTrue(done.wait(3), "the ack callback was not called")
        self.assertEqual(got, [("answer", {"z": [1, 2]}, BIG)])
        # an ack is answered once
        r = hub.tool("sio-emit", "--reply", str(handle), '"again"')
        self.assertEqual(r.returncode, 1, r)
        time.sleep(0.2)
        self.assertEqual(len(got), 1)

    def test_client_call_over_polling(self):
        hub = self.hub()
        c = self.connected_client(hub, transports=["polling"])
        l = self.listen(hub, "--events-only", "--count", "1")
        l.settle()
        out = {}

        def caller():
            try:
                out["r"] = c.call("sum", (2, 3), timeout=5)
            except Exception as e:  # noqa
                out["e"] = e
        t = threading.Thread(target=caller, daemon=True)
        t.start()
        _, ev = l.lines(1)[0]
        self.assertEqual(ev["data"], [2, 3])
        hub.ok("sio-emit", "--reply", str(ev["ack"]), "5")
        t.join(5)
        self.assertEqual(out, {"r": 5})

    def test_server_ack_answered_by_python(self):
        hub = self.hub()
        c = self.client()
        asked = Inbox(c, "ask", reply=lambda *a: {"got": list(a), "ok": True})
        self.connect(c, hub)
        r = hub.ok("sio-emit", "--ack", "--timeout", "2s", "ask", "1")
        self.assertEqual(asked.first(), (1,))
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        self.assertEqual(json.loads(lines[0]), {"sid": c.get_sid(), "data": [{"got": [1], "ok": True}]})

    def test_server_ack_from_two_clients(self):
        hub = self.hub()
        a, b = self.client(), self.client()
        Inbox(a, "ask", reply=lambda *x: ("a", x[0] + 1))     # a tuple: two ack args
        Inbox(b, "ask", reply=lambda *x: None)                 # no args
        self.connect(a, hub, transports=["websocket"])
        self.connect(b, hub, transports=["polling"])
        r = hub.ok("sio-emit", "--ack", "--timeout", "2s", "ask", "41")
        got = sorted((json.loads(l) for l in r.stdout.splitlines()), key=lambda o: o["sid"])
        want = sorted([{"sid": a.get_sid(), "data": ["a", 42]},
                       {"sid": b.get_sid(), "data": []}], key=lambda o: o["sid"])
        self.assertEqual(got, want)


# --------------------------------------------------------------------------
# 6. binary


BYTES = b"\x00\x01\x02\xff"
ALL = bytes(range(256))


class Binary(HubTest):

    def client_to_server(self, transports):
        hub = self.hub()
        c = self.connected_client(hub, transports=transports)
        l = self.listen(hub, "--events-only", "--count", "2")
        l.settle()
        c.emit("bin", BYTES)
        c.emit("mixed", ({"a": ALL, "n": 1, "list": [b"", b"x"]}, "text", b"\x80"))
        (raw1, e1), (_, e2) = l.lines(2)
        self.assertEqual((e1["event"], e1["data"]), ("bin", [{"_binary": "AAEC/w=="}]))
        self.assertIn('{"_binary":"AAEC/w=="}', raw1)
        self.assertEqual(e2["event"], "mixed")
        self.assertEqual(e2["data"], [{"a": {"_binary": b64(ALL)}, "n": 1,
                                       "list": [{"_binary": ""}, {"_binary": "eA=="}]},
                                      "text", {"_binary": "gA=="}])

    def server_to_client(self, transports):
        hub = self.hub()
        c = self.client()
        inbox = Inbox(c, "bin")
        self.connect(c, hub, transports=transports)
        hub.emit(input='{"event":"bin","data":[{"_binary":"AAEC/w=="}]}\n')
        self.assertEqual(inbox.first(), (BYTES,))
        hub.emit(input=json.dumps({"event": "bin", "data": [
            {"a": {"_binary": b64(ALL)}, "b": [{"_binary": ""}, 7]}, "t", {"_binary": "gA=="}]}) + "\n")
        got = inbox.wait(2)[1]
        self.assertEqual(got, ({"a": ALL, "b": [b"", 7]}, "t", b"\x80"))
        self.assertIs(type(got[2]), bytes)

    def test_client_to_server_websocket(self):
        self.client_to_server(["websocket"])

    def test_client_to_server_polling(self):
        self.client_to_server(["polling"])

    def test_server_to_client_websocket(self):
        self.server_to_client(["websocket"])

    def test_server_to_client_polling(self):
        self.server_to_client(["polling"])

    def test_binary_acks(self):
        hub = self.hub()
        c = self.client()
        Inbox(c, "ask", reply=lambda *a: (b"\xde\xad", a[0]))
        self.connect(c, hub)
        r = hub.ok("sio-emit", "--ack", "--timeout", "2s", "ask", '{"_binary":"AQI="}')
        self.assertEqual(json.loads(r.stdout), {"sid": c.get_sid(),
                                                "data": [{"_binary": "3q0="}, {"_binary": "AQI="}]})
        l = self.listen(hub, "--events-only", "--count", "1")
        l.settle()
        got, done = [], threading.Event()
        c.emit("q", b"\x01", callback=lambda *a: (got.append(a), done.set()))
        _, ev = l.lines(1)[0]
        self.assertEqual(ev["data"], [{"_binary": "AQ=="}])
        hub.ok("sio-emit", "--reply", str(ev["ack"]), '{"_binary":"AAEC/w=="}', '"s"')
        self.assertTrue(done.wait(3), "the ack callback was not called")
        self.assertEqual(got, [(BYTES, "s")])


# --------------------------------------------------------------------------
# 7. handshake / auth


class Handshake(HubTest):

    def test_auth_in_sockets_and_connect_line(self):
        hub = self.hub()
        l = self.listen(hub, "--count", "1")
        l.settle()
        c = self.connected_client(hub, auth={"token": "abc"})
        raw, obj = self.socket_of(hub, c.get_sid())
        self.assertIn('"auth":{"token":"abc"}', raw)
        self.assertEqual(obj["handshake"]["auth"], {"token": "abc"})
        self.assertEqual(obj["handshake"]["address"], "127.0.0.1")
        raw, con = l.lines(1)[0]
        self.assertEqual((con["type"], con["sid"]), ("connect", c.get_sid()))
        self.assertIn('"auth":{"token":"abc"}', raw)
        self.assertEqual(con["handshake"]["auth"], {"token": "abc"})

    def test_no_auth_is_empty_object(self):
        hub = self.hub()
        c = self.connected_client(hub)
        self.assertEqual(self.socket_of(hub, c.get_sid())[1]["handshake"]["auth"], {})

    def check_query_headers(self, transports):
        hub = self.hub()
        c = self.client()
        # Known hub bug over polling: the handshake's headers, query and url
        # are empty (on_open runs after the open response reset the request).
        c.connect(hub.url + "/?room=blue", wait_timeout=3, transports=transports,
                  headers={"X-Test": "yes"})
        hs = self.socket_of(hub, c.get_sid())[1]["handshake"]
        self.assertEqual(hs["query"].get("room"), "blue", hs)
        self.assertEqual(hs["query"].get("EIO"), "4", hs)
        self.assertEqual(hs["headers"].get("x-test"), "yes", hs)
        self.assertTrue(hs["url"].startswith("/socket.io/?"), hs)

    def test_query_and_headers_websocket(self):
        self.check_query_headers(["websocket"])

    def test_query_and_headers_polling(self):
        self.check_query_headers(["polling"])


# --------------------------------------------------------------------------
# 8. relay


class Relay(HubTest):

    def test_relay_all(self):
        hub = self.hub("--relay")
        a, b = self.client(), self.client()
        ia, ib = Inbox(a, "chat"), Inbox(b, "chat")
        self.connect(a, hub)
        self.connect(b, hub, transports=["polling"])
        a.emit("chat", ("hi from a", {"n": BIG}))
        self.assertEqual(ib.first(), ("hi from a", {"n": BIG}))
        b.emit("chat", BYTES)
        self.assertEqual(ia.first(), (BYTES,))
        time.sleep(0.3)
        self.assertEqual(ia.items, [(BYTES,)], "the sender got its own event back")
        self.assertEqual(ib.items, [("hi from a", {"n": BIG})], "the sender got its own event back")

    def test_relay_rooms(self):
        hub = self.hub("--relay=rooms")
        a, b, c = self.client(), self.client(), self.client()
        ia, ib, ic = Inbox(a, "chat"), Inbox(b, "chat"), Inbox(c, "chat")
        for x in (a, b, c):
            self.connect(x, hub)
        hub.ok("sio-rooms", "join", "red", "--sid", a.get_sid(), "--sid", b.get_sid())
        a.emit("chat", "to red")
        self.assertEqual(ib.first(), ("to red",))
        ic.none(300)
        self.assertEqual(ia.items, [])


# --------------------------------------------------------------------------
# 9. reserved event names


RESERVED = ["connect", "connect_error", "disconnect", "disconnecting",
            "newListener", "removeListener"]


class Reserved(HubTest):

    def bystander(self, hub):
        b = self.client()
        inbox = Inbox(b, "after")
        self.connect(b, hub)
        return b, inbox

    def expect_closed(self, hub, c, sid, name):
        until(lambda: not c.connected and c.eio.state != "connected", 3,
              "the hub to close the client that sent %r" % name)
        until(lambda: not any(o["sid"] == sid for o in hub.sockets()[1]), 2,
              "the socket of the client that sent %r to be gone" % name)

    def test_reserved_names_close_the_sender_websocket(self):
        hub = self.hub()
        b, inbox = self.bystander(hub)
        l = self.listen(hub, "--events-only")
        l.settle()
        for name in RESERVED:
            with self.subTest(name=name):
                c = self.client()
                gone = Inbox(c, "disconnect")
                self.connect(c, hub, transports=["websocket"])
                sid = c.get_sid()
                c.emit(name, 1)      # python-socketio 5.7 does not refuse these
                gone.first(3)
                self.expect_closed(hub, c, sid, name)
        self.assertTrue(b.connected)
        hub.emit("after", '"still here"')
        self.assertEqual(inbox.first(), ("still here",))
        # no reserved event reached the listeners
        b.emit("fine", 1)
        _, o = l.until(lambda o: True)
        self.assertEqual((o["event"], o["data"]), ("fine", [1]))

    def test_reserved_name_closes_the_sender_polling(self):
        # The hub must close the session, and the python client must see
        # that (its "disconnect" handler runs). socket.io's server answers
        # the POST that carried the bad packet "ok" and ends the session
        # through the pending GET ("1"). If the POST is answered with an
        # error status instead, python-engineio 4.3 resets silently, without
        # a disconnect event, whenever that answer beats the GET's "1".
        hub = self.hub()
        b, inbox = self.bystander(hub)
        c = self.client()
        gone = Inbox(c, "disconnect")
        self.connect(c, hub, transports=["polling"])
        sid = c.get_sid()
        posts = []
        send_request = c.eio._send_request

        def recording(method, url, headers=None, body=None, timeout=None):
            r = send_request(method, url, headers=headers, body=body, timeout=timeout)
            if method == "POST":
                posts.append((body, getattr(r, "status_code", r)))
            return r
        c.eio._send_request = recording
        c.emit("disconnecting", 1)
        until(lambda: not any(o["sid"] == sid for o in hub.sockets()[1]), 2,
              "the socket of the client that sent 'disconnecting' to be gone")
        hub.emit("after", "3")
        self.assertEqual(inbox.first(), (3,))
        until(lambda: posts, 2, "the POST to be answered")
        body, status = posts[0]
        self.assertEqual(status, 200, "the hub answered the POST %r with %r" % (body, status))
        gone.first(3)
        self.assertFalse(c.connected)

    def test_raw_engine_packet(self):
        hub = self.hub()
        b, inbox = self.bystander(hub)
        c = self.connected_client(hub)
        sid = c.get_sid()
        c.eio.send('2["disconnecting",1]')     # "42[...]" on the wire
        self.expect_closed(hub, c, sid, "disconnecting")
        hub.emit("after", "2")
        self.assertEqual(inbox.first(), (2,))

    def test_server_refuses_reserved_emit(self):
        hub = self.hub()
        c = self.connected_client(hub)
        inbox = Inbox(c, "disconnecting")
        r = hub.tool("sio-emit", "disconnecting", "1")
        self.assertNotEqual(r.returncode, 0, r)
        inbox.none(200)
        self.assertTrue(c.connected)


# --------------------------------------------------------------------------
# 10. reconnection


class Reconnect(HubTest):

    def restart(self, stop):
        args = ("--ping-interval", "2000", "--ping-timeout", "2000")
        hub = self.hub(*args, subdir="one")
        c = self.client(reconnection=True, reconnection_delay=0.2,
                        reconnection_delay_max=0.5, randomization_factor=0)
        connects = Inbox(c, "connect")
        drops = Inbox(c, "disconnect")
        news = Inbox(c, "news")
        self.connect(c, hub)
        connects.first()
        until(lambda: c.transport() == "websocket", 3, "the upgrade")
        sid1 = c.get_sid()
        hub.emit("news", "1")
        self.assertEqual(news.first(), (1,))

        # what the client receives from the dying hub, for the report
        received = []
        receive_packet = c.eio._receive_packet

        def recording(pkt):
            received.append((engineio.packet.packet_names[pkt.packet_type], pkt.data))
            return receive_packet(pkt)
        c.eio._receive_packet = recording
        stop(hub)
        drops.first(5)
        hub2 = self.hub(*args, port=hub.port, subdir="two")
        try:
            connects.wait(2, 6)
        except AssertionError:
            raise AssertionError("the client did not reconnect within 6 s; from the stopped "
                                 "hub it received the Engine.IO packets %r" % (received,)) from None
        until(lambda: c.connected and c.get_sid(), 3, "the client to be connected again")
        sid2 = c.get_sid()
        self.assertSid(sid2)
        self.assertNotEqual(sid1, sid2)
        self.assertEqual([o["sid"] for o in hub2.sockets()[1]], [sid2])
        hub2.emit("news", "2")
        self.assertEqual(news.wait(2)[1], (2,))
        l = self.listen(hub2, "--events-only", "--count", "1")
        l.settle()
        c.emit("back", "again")
        _, o = l.lines(1)[0]
        self.assertEqual((o["sid"], o["event"], o["data"]), (sid2, "back", ["again"]))

    def test_reconnect_after_hub_killed_and_restarted(self):
        def kill(hub):
            hub.proc.kill()
            hub.proc.wait(5)
        self.restart(kill)

    def test_reconnect_after_hub_sigterm_and_restart(self):
        # socket.io's own io.close() only closes the WebSocket, and the
        # client reconnects. python-socketio 5.7 takes a Socket.IO DISCONNECT
        # ("41") and python-engineio 4.3 an Engine.IO CLOSE ("1") as the
        # server ending the session for good: no reconnection if the hub
        # sends either on SIGTERM (known hub bug at the time of writing).
        def term(hub):
            t0 = time.monotonic()
            self.assertEqual(hub.stop(), 0, "hub exit status after SIGTERM")
            self.assertLess(time.monotonic() - t0, 2.5, "SIGTERM took too long")
        self.restart(term)


# --------------------------------------------------------------------------
# runner


def test_name(test):
    cls = type(test).__name__
    method = test._testMethodName
    if method.startswith("test_"):
        method = method[5:]
    return "%s: %s" % (cls, method.replace("_", " "))


class TapResult(unittest.TestResult):
    def __init__(self, verbose=False):
        super().__init__()
        self.verbose = verbose
        self.started = {}
        self.failed_names = set()
        self.sub_failed = {}

    def out(self, s):
        sys.stdout.write(s + "\n")
        sys.stdout.flush()

    def startTest(self, test):
        super().startTest(test)
        self.started[test.id()] = time.monotonic()

    def _fail(self, test, err, label=None):
        name = label or test_name(test)
        etype, value, tb = err
        reason = (str(value).strip().splitlines() or [etype.__name__])[0]
        if etype is not AssertionError and not issubclass(etype, AssertionError):
            reason = "%s: %s" % (etype.__name__, reason)
        self.out("not ok - %s: %s" % (name, reason))
        for line in "".join(traceback.format_exception(etype, value, tb)).splitlines():
            self.out("# " + line)

    def addSuccess(self, test):
        super().addSuccess(test)
        if test.id() in self.sub_failed:
            return
        ms = (time.monotonic() - self.started.get(test.id(), time.monotonic())) * 1000
        self.out("ok - %s" % test_name(test) + (" (%d ms)" % ms if self.verbose else ""))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.sub_failed[test.id()] = True
            self._fail(test, err, "%s %s" % (test_name(test), subtest._subDescription()))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.out("ok - %s # SKIP %s" % (test_name(test), reason))


def watchdog():
    sys.stdout.write("not ok - watchdog: the run took more than %d s\n" % WATCHDOG_S)
    sys.stdout.flush()
    with _children_lock:
        procs = list(_children)
    for p in procs:
        try:
            p.kill()
        except Exception:
            pass
    os._exit(1)


def main():
    args = [a for a in sys.argv[1:] if a not in ("-v", "--verbose")]
    verbose = len(args) != len(sys.argv) - 1
    if not os.access(HUB_BIN, os.X_OK):
        print("not ok - setup: %s is missing (run make)" % HUB_BIN)
        return 1
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    tests = []

    def flatten(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                flatten(t)
            else:
                tests.append(t)
    flatten(suite)
    if args:
        tests = [t for t in tests if any(a in test_name(t) or a in t.id() for a in args)]
    timer = threading.Timer(WATCHDOG_S, watchdog)
    timer.daemon = True
    timer.start()
    result = TapResult(verbose)
    t0 = time.monotonic()
    unittest.TestSuite(tests).run(result)
    timer.cancel()
    nfail = len(result.failures) + len(result.errors)
    print("# %d tests, %d failed, %.1f s" % (len(tests), nfail, time.monotonic() - t0))
    return 1 if (result.failures or result.errors or result.sub_failed) else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # python-engineio's threads are not daemons: do not wait for stragglers.
    os._exit(code)
