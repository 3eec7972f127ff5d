"""Shared helpers of faults_test.py and soak_test.py (python3 stdlib only).

Processes: Hub (a sio-hub on a free loopback port with a private control
socket), Fleet (fleet.mjs: real socket.io-client sockets in node), Listen
(sio-listen into a file). Sockets: Ctl (the control protocol), RawWS (a
hand-driven Engine.IO/Socket.IO WebSocket client). Every process started
here is registered and stopped by its PID in stop_all(); every wait is
bounded.
"""

import base64
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN_DIR = os.environ.get("SIO_BIN_DIR") or os.path.join(ROOT, "cmd")
HUB_BIN = os.path.join(BIN_DIR, "sio-hub")
EMIT_BIN = os.path.join(BIN_DIR, "sio-emit")
LISTEN_BIN = os.path.join(BIN_DIR, "sio-listen")
ROOMS_BIN = os.path.join(BIN_DIR, "sio-rooms")
FLEET = os.path.join(HERE, "fleet.mjs")
DEBUG = bool(os.environ.get("SIO_TEST_DEBUG"))
CLK_TCK = os.sysconf("SC_CLK_TCK")

_children = []
_lock = threading.Lock()


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def track(proc):
    with _lock:
        _children.append(proc)
    return proc


def stop_process(proc, grace=3.0, sig=signal.SIGTERM):
    """Signal, wait up to `grace` s, SIGKILL. Returns the exit status."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def stop_all():
    with _lock:
        procs = list(_children)
        _children.clear()
    for p in procs:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 3
    for p in procs:
        try:
            p.wait(max(0.05, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def start_watchdog(seconds, name):
    def run():
        time.sleep(seconds)
        sys.stdout.write("not ok - %s: watchdog: the run took more than %d s\n" % (name, seconds))
        sys.stdout.flush()
        with _lock:
            for p in _children:
                try:
                    if p.poll() is None:
                        p.kill()
                except OSError:
                    pass
        os._exit(1)
    threading.Thread(target=run, daemon=True).start()


def raise_nofile(want):
    """Soft RLIMIT_NOFILE up to want (never past the hard limit); returns it."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family)
    s.bind((host, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_until(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(step)


# ---- /proc ------------------------------------------------------------------

def status_kb(pid, field):
    """A kB field of /proc/PID/status: VmRSS, RssAnon, RssFile, ..."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_kb(pid):
    return status_kb(pid, "VmRSS")


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def fd_list(pid):
    """What the descriptors of pid are, for failure messages: ss's lines for
    its sockets, readlink for the rest."""
    try:
        r = subprocess.run(["ss", "-anp"], capture_output=True,
                           timeout=5)
        mine = [" ".join(l.split()[:6]) for l in r.stdout.decode().splitlines()
                if "pid=%d," % pid in l]
    except (OSError, subprocess.SubprocessError):
        mine = []
    others = []
    for fd in sorted(os.listdir("/proc/%d/fd" % pid), key=int):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if not t.startswith("socket:"):
            others.append("%s->%s" % (fd, t))
    return mine + others


def tcp_peer_ports(pid):
    """The remote ports of the TCP sockets pid holds (from /proc/net/tcp*)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[9] in inodes:
                ports.add(int(cols[2].rsplit(":", 1)[1], 16))
    return ports


def cpu_seconds(pid):
    """utime + stime of pid, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        st = f.read()
    fields = st[st.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def sanitized(pid):
    try:
        with open("/proc/%d/maps" % pid) as f:
            return "libasan" in f.read()
    except OSError:
        return False


# ---- the hub ---------------------------------------------------------------

class Hub:
    """sio-hub on a free port of 127.0.0.1 (or `bind`), control socket in tmp."""

    def __init__(self, tmp, args=(), name="hub", bind="127.0.0.1", port=None,
                 nofile=None, sock=None):
        self.tmp = tmp
        self.name = name
        self.bind = bind
        self.args = list(args)
        self.sock = sock or os.path.join(tmp, name + ".sock")
        self.log_path = os.path.join(tmp, name + ".log")
        self.port = port
        self.nofile = nofile
        self.proc = None
        self.start()

    @property
    def host(self):
        return "[%s]" % self.bind if ":" in self.bind else self.bind

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    @property
    def pid(self):
        return self.proc.pid

    def start(self, tries=5):
        fam = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        for _ in range(tries):
            port = self.port or free_port(fam, self.bind)
            log = open(self.log_path, "ab")
            pre = None
            if self.nofile:
                n = self.nofile

                def pre():
                    import resource
                    resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
            self.proc = track(subprocess.Popen(
                [HUB_BIN, "--bind", self.bind, "--port", str(port), "-S", self.sock] + self.args,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=None if DEBUG else log, preexec_fn=pre))
            log.close()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if os.path.exists(self.sock):
                    try:
                        socket.create_connection((self.bind, port), timeout=0.5).close()
                        self.port = port
                        return
                    except OSError:
                        pass
                time.sleep(0.03)
            if self.proc.poll() is None:
                raise Fail("sio-hub did not get ready in 5 s: %s" % self.log_tail(5))
            if self.proc.returncode != 69 or self.port:
                raise Fail("sio-hub exited %s: %s" % (self.proc.returncode, self.log_tail(5)))
        raise Fail("sio-hub found no free port")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=10):
        return " | ".join(self.log().splitlines()[-n:])

    def stop(self, grace=8.0):
        return stop_process(self.proc, grace)

    def health(self, timeout=2.0):
        """GET /health as a dict ({} when it fails)."""
        try:
            s = socket.create_connection((self.bind, self.port), timeout=timeout)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
            s.close()
            head, _, body = data.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                return {}
            return json.loads(body)
        except (OSError, ValueError):
            return {}

    def died_of(self):
        """A readable description of how the hub ended."""
        rc = self.proc.returncode
        if rc is None:
            return "still running"
        if rc < 0:
            return "killed by signal %d (%s)" % (-rc, signal.Signals(-rc).name)
        return "exit status %d" % rc


# ---- the control socket ------------------------------------------------------

class Ctl:
    def __init__(self, path, timeout=5.0, rcvbuf=None):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def send(self, obj):
        data = obj if isinstance(obj, bytes) else (json.dumps(obj) + "\n").encode()
        self.s.sendall(data)

    def line(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("no line from the control socket in %.1f s" % timeout)
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                raise Fail("no line from the control socket in %.1f s" % timeout)
            if not d:
                raise Fail("control socket closed")
            self.buf += d
        l, self.buf = self.buf.split(b"\n", 1)
        return json.loads(l)

    def call(self, obj, timeout=5.0):
        """A request with an id; the answer with that id (stream lines skipped)."""
        self.send(obj)
        deadline = time.monotonic() + timeout
        while True:
            a = self.line(max(0.05, deadline - time.monotonic()))
            if "id" in a and a["id"] == obj.get("id"):
                return a

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def emit(sock, event, *args, volatile=False, timeout=10):
    """One event through sio-emit; returns (exit status, stderr)."""
    cmd = [EMIT_BIN, "-S", sock] + (["--volatile"] if volatile else []) + [event]
    cmd += [json.dumps(a) for a in args]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "sio-emit did not finish in %d s" % timeout
    return r.returncode, r.stderr.decode("utf-8", "replace").strip()


def ctl_emit(sock, event, *args, volatile=False, timeout=10):
    """One event over a fresh control connection (for arguments too long
    for a command line); returns the hub's answer."""
    c = Ctl(sock, timeout)
    try:
        req = {"op": "emit", "id": 1, "event": event, "data": list(args)}
        if volatile:
            req["volatile"] = True
        return c.call(req, timeout)
    finally:
        c.close()


# ---- real clients ---------------------------------------------------------------

class Fleet:
    """fleet.mjs: n socket.io-client sockets; lines parsed into self.lines."""

    def __init__(self, url, n=1, transport="websocket", reconnect=True, tag=""):
        cmd = ["node", FLEET, "--url", url, "--n", str(n), "--transport", transport]
        if not reconnect:
            cmd.append("--no-reconnect")
        if tag:
            cmd += ["--tag", tag]
        self.n = n
        self.proc = track(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, cwd=ROOT))
        self.lines = []
        self.stderr = []
        self.cv = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()

    def _run(self):
        for raw in self.proc.stdout:
            try:
                o = json.loads(raw)
            except ValueError:
                o = {"type": "garbage", "raw": raw.decode("utf-8", "replace")}
            with self.cv:
                self.lines.append(o)
                self.cv.notify_all()

    def _err(self):
        for raw in self.proc.stderr:
            self.stderr.append(raw.decode("utf-8", "replace").rstrip())

    def cmd(self, obj):
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        self.proc.stdin.flush()

    def count(self, pred):
        with self.cv:
            return sum(1 for o in self.lines if pred(o))

    def wait_count(self, pred, n, timeout):
        """Until n lines satisfy pred; returns how many do."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                k = sum(1 for o in self.lines if pred(o))
                left = deadline - time.monotonic()
                if k >= n or left <= 0:
                    return k
                self.cv.wait(min(left, 0.5))

    def wait_connected(self, timeout=10.0, since=0):
        """Until every socket has connected (after line `since`); True/False."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                up = {o["c"] for o in self.lines[since:] if o.get("type") == "connect"}
                if len(up) >= self.n:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(min(left, 0.5))

    def mark(self):
        with self.cv:
            return len(self.lines)

    def of(self, c=None, type=None, event=None, since=0):
        with self.cv:
            return [o for o in self.lines[since:]
                    if (c is None or o.get("c") == c) and (type is None or o.get("type") == type)
                    and (event is None or o.get("event") == event)]

    def numbers(self, c, event, since=0):
        """The first arguments of socket c's `event`s, in arrival order."""
        return [o["args"][0] for o in self.of(c, "event", event, since)]

    def stop(self):
        return stop_process(self.proc, 3)


class Listen:
    """sio-listen [args] with stdout into a file."""

    def __init__(self, tmp, name, sock, args=()):
        self.path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        with open(self.path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = track(subprocess.Popen([LISTEN_BIN, "-S", sock] + list(args),
                                               stdin=subprocess.DEVNULL, stdout=out, stderr=err))

    def objs(self):
        res = []
        try:
            with open(self.path, "rb") as f:
                for raw in f:
                    try:
                        res.append(json.loads(raw))
                    except ValueError:
                        pass      # the last line of a killed listener may be partial
        except OSError:
            pass
        return res

    def nlines(self):
        try:
            with open(self.path, "rb") as f:
                return f.read().count(b"\n")
        except OSError:
            return 0

    def has_socket(self):
        try:
            for fd in os.listdir("/proc/%d/fd" % self.proc.pid):
                if os.readlink("/proc/%d/fd/%s" % (self.proc.pid, fd)).startswith("socket:"):
                    return True
        except OSError:
            pass
        return False

    def ready(self, timeout=5.0):
        """Connected to the control socket, plus a moment for the subscription."""
        ok = wait_until(self.has_socket, timeout)
        time.sleep(0.2)
        return ok


# ---- a raw WebSocket Socket.IO client ---------------------------------------------

WS_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def ws_frame(opcode, payload=b""):
    """A masked client frame."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    if n < 126:
        hdr = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        hdr = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack(">Q", n)
    key = os.urandom(4)
    if payload:
        k = (key * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")
    return hdr + key + payload


class RawWS:
    """Engine.IO v4 over a raw WebSocket, joined to '/' unless join=False.
    rcvbuf: a small SO_RCVBUF (set before connect) makes a slow reader."""

    def __init__(self, host, port, rcvbuf=None, join=True, timeout=5.0, path="/socket.io/",
                 connect_only=False, family=socket.AF_INET):
        self.s = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(timeout)
        self.s.connect((host, port))
        self.buf = b""
        self.eof = False
        self.sid = None
        self.eio_sid = None
        if connect_only:
            return
        self.s.sendall(b"GET " + path.encode() + b"?EIO=4&transport=websocket HTTP/1.1\r\n"
                       b"Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Key: " + WS_KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            check(self._fill(deadline), "closed during the upgrade")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        check(head.startswith(b"HTTP/1.1 101"), "upgrade refused: %r" % head[:80])
        op = self.text(timeout)
        check(op.startswith("0{"), "no open packet: %r" % op[:80])
        self.eio_sid = json.loads(op[1:])["sid"]
        if join:
            self.send_text("40")
            m = self.text(timeout)
            check(m.startswith('40{"sid":"'), "no CONNECT answer: %r" % m[:80])
            self.sid = json.loads(m[2:])["sid"]

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        self.s.settimeout(left)
        try:
            d = self.s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def send_text(self, t):
        self.s.sendall(ws_frame(1, t))

    def frame(self, timeout=5.0):
        """(opcode, payload); EOFError at the end of the connection."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                n = self.buf[1] & 0x7F
                off = 2 + (2 if n == 126 else 8 if n == 127 else 0)
                if len(self.buf) >= off:
                    if n == 126:
                        n = struct.unpack(">H", self.buf[2:4])[0]
                    elif n == 127:
                        n = struct.unpack(">Q", self.buf[2:10])[0]
                    if len(self.buf) >= off + n:
                        op = self.buf[0] & 0x0F
                        p = self.buf[off:off + n]
                        self.buf = self.buf[off + n:]
                        return op, p
            if not self._fill(deadline):
                raise EOFError("connection closed")

    def text(self, timeout=5.0):
        """The next text message that is not a ping (pings are answered)."""
        while True:
            op, p = self.frame(timeout)
            if op == 8:
                raise EOFError("close frame %r" % p[:2])
            if op != 1:
                continue
            if p == b"2":
                self.send_text("3")
                continue
            return p.decode()

    def drain(self, timeout=5.0, on_event=None):
        """Reads until the connection ends or `timeout` passes; answers pings;
        calls on_event(text) for every other text message. Returns how it
        ended: ("close", code), ("eof", None) or ("open", None)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                op, p = self.frame(max(0.01, deadline - time.monotonic()))
            except EOFError:
                return "eof", None
            except socket.timeout:
                return "open", None
            except OSError:
                return "eof", None
            if op == 8:
                return "close", struct.unpack(">H", p[:2])[0] if len(p) >= 2 else None
            if op == 1 and p == b"2":
                try:
                    self.send_text("3")
                except OSError:
                    pass
                continue
            if op == 1 and on_event:
                on_event(p.decode())

    def rst(self):
        """Vanish: close with a TCP reset."""
        try:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def event_number(text, name):
    """42["name",n,...] -> n, else None."""
    pre = '42["%s",' % name
    if not text.startswith(pre):
        return None
    m = re.match(r"-?\d+", text[len(pre):])
    return int(m.group(0)) if m else None


def prefix_ok(nums, upto=None):
    """Are nums exactly 1..k (k = len(nums)), in order? With upto: k <= upto."""
    return nums == list(range(1, len(nums) + 1)) and (upto is None or len(nums) <= upto)


def describe_seq(nums, want):
    """A short account of how nums differ from 1..want."""
    got = set(nums)
    lost = [n for n in range(1, want + 1) if n not in got]
    dups = len(nums) - len(got)
    disorder = sum(1 for a, b in zip(nums, nums[1:]) if b < a)
    return "got %d of %d; lost %d (first %s); duplicates %d; out of order %d" % (
        len(nums), want, len(lost), lost[:5], dups, disorder)


class Report:
    """ok / not ok lines, counted."""

    def __init__(self, name):
        self.name = name
        self.results = []

    def __call__(self, ok, what, why=""):
        self.results.append(bool(ok))
        if ok:
            line = "ok - %s" % what
        else:
            line = "not ok - %s: %s" % (what, why)
        print(line.replace("\n", " "), flush=True)
        return ok

    def note(self, text):
        print("# " + text, flush=True)

    def passed(self):
        return bool(self.results) and all(self.results)


def b64(data):
    return base64.b64encode(data).decode()
