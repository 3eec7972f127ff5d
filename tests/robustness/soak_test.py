#!/usr/bin/python3
"""A short soak of sio-hub: a couple of minutes of idle crowds, churn, slow
readers, killed listeners and one hostile input a second, while real
clients keep a stream and a chat going.

    /usr/bin/python3 tests/robustness/soak_test.py [-v]

SOAK_SECONDS (default 120) is the length of the loaded phase; setup and
teardown add about 20 s. One hub on a free 127.0.0.1 port, private control
socket, --ping-interval/--ping-timeout 5000, --relay (to the namespace the
clients share), -n /idle.

What runs at once:
  idle      SOAK_IDLE (default 3000) raw WebSocket sessions joined to /idle,
            answering heartbeats and nothing else (one selector thread)
  steady    4 socket.io-client WebSocket and 2 polling sockets (node) that
            must get every message: a numbered stream from sio-emit (50/s),
            a relayed chat (10/s), and a 1,000-message relayed burst of 1 KB
            messages every 20 s
  churn     10 socket.io-client sockets closed and reopened in turn, and raw
            WebSocket sessions opened and dropped (clean close or TCP reset)
            ten a second
  slow      a raw reader that reads nothing every 10 s; the hub must cut it
            off (heartbeat or --max-output) and what it got must have no gap
  listeners a sio-listen started every 15 s and killed (SIGKILL) 5 s later
  hostile   one malformed input a second, round the list, each checked for
            the answer it must get

At the end: every steady client got every message once, in order, and was
never disconnected; every idle session is still there; the hub's RSS grew
less than RSS_GROWTH_MAX_KB from the warmed-up baseline; once every client
is gone, the hub holds the descriptors it started with; SIGTERM ends it
with status 0. One summary line gives the figures:

  # soak: sockets held N, inputs tried N, faults survived N, messages lost N,
  #   duplicates N, RSS growth N KB (A -> B), fd leaks N, ...

Assumes an RLIMIT_NOFILE hard limit of at least SOAK_IDLE + 500 (the soft
limit is raised to that; the hub inherits it).
"""

import json
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rlib import (EMIT_BIN, Ctl, Fail, Fleet, Hub, Listen, RawWS, Report, check,  # noqa: E402
                  cpu_seconds, describe_seq, emit, event_number, fd_count, fd_list,
                  raise_nofile, rss_kb, sanitized, start_watchdog, stop_all, stop_process,
                  track, wait_until, ws_frame)

VERBOSE = "-v" in sys.argv[1:]
SOAK_S = float(os.environ.get("SOAK_SECONDS", "120"))
N_IDLE = int(os.environ.get("SOAK_IDLE", "3000"))
RSS_GROWTH_MAX_KB = 24 * 1024
STREAM_RATE = 50        # sio-emit stream, messages a second
CHAT_EVERY_MS = 100     # relayed chat, one message each
BURST_EVERY_S = 20
BURST_N = 1000
PING_MS = 5000
HOSTILE_EVERY_S = 1.0


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}

    def add(self, key, n=1):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + n

    def get(self, key):
        with self.lock:
            return self.c.get(key, 0)


ST = Stats()
STOP = threading.Event()
ERRORS = []       # failures seen by the threads: (what, details)


def error(what, why):
    with ST.lock:
        ERRORS.append((what, why))


# ---- idle sessions -------------------------------------------------------------------

class IdlePool(threading.Thread):
    """n raw WebSocket sessions in /idle, answering pings, in one thread."""

    def __init__(self, hub, n):
        super().__init__(daemon=True)
        self.hub = hub
        self.sel = selectors.DefaultSelector()
        self.socks = {}
        self.lost = []         # (eio sid, how) of sessions the hub ended
        self.pings = 0
        for _ in range(n):
            w = RawWS("127.0.0.1", hub.port, join=False)
            w.send_text("40/idle,")
            m = w.text()
            check(m.startswith('40/idle,{"sid":"'), "idle: no CONNECT answer: %r" % m[:60])
            w.s.setblocking(False)
            self.socks[w.s] = w
            self.sel.register(w.s, selectors.EVENT_READ, w)

    def run(self):
        while not STOP.is_set() and self.socks:
            for key, _ in self.sel.select(0.5):
                w = key.data
                try:
                    d = w.s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    d = b""
                if not d:
                    self._lost(w, "eof")
                    continue
                w.buf += d
                while len(w.buf) >= 2:
                    n = w.buf[1] & 0x7F
                    if n >= 126 or len(w.buf) < 2 + n:
                        break      # the hub sends idle sessions only short frames
                    op, p = w.buf[0] & 0x0F, w.buf[2:2 + n]
                    w.buf = w.buf[2 + n:]
                    if op == 8:
                        self._lost(w, "close %r" % p[:2])
                        break
                    if op == 1 and p == b"2":
                        try:
                            w.s.setblocking(True)
                            w.s.sendall(ws_frame(1, "3"))
                            w.s.setblocking(False)
                            self.pings += 1
                        except OSError:
                            self._lost(w, "send failed")
                            break

    def _lost(self, w, how):
        if w.s in self.socks:
            self.lost.append((w.eio_sid, how))
            self.sel.unregister(w.s)
            del self.socks[w.s]
            w.close()

    def held(self):
        return len(self.socks)

    def close_all(self):
        for s, w in list(self.socks.items()):
            self.sel.unregister(s)
            w.close()
        self.socks.clear()


# ---- the steady stream -----------------------------------------------------------------

class Stream(threading.Thread):
    """sio-emit fed "seq" [n, pad] at STREAM_RATE a second until STOP."""

    def __init__(self, hub):
        super().__init__(daemon=True)
        self.proc = track(subprocess.Popen([EMIT_BIN, "-S", hub.sock], stdin=subprocess.PIPE,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        self.sent = 0

    def run(self):
        t0 = time.monotonic()
        try:
            while not STOP.is_set():
                due = int((time.monotonic() - t0) * STREAM_RATE)
                lines = []
                while self.sent < due:
                    self.sent += 1
                    lines.append(json.dumps({"event": "seq", "data": [self.sent, "s" * 200]}))
                if lines:
                    self.proc.stdin.write(("\n".join(lines) + "\n").encode())
                    self.proc.stdin.flush()
                time.sleep(0.02)
        except OSError as e:
            error("stream", "sio-emit pipe: %s" % e)
        try:
            self.proc.stdin.close()
        except OSError:
            pass


# ---- churn, slow readers, listeners ------------------------------------------------------

class Churn(threading.Thread):
    def __init__(self, hub, fleet):
        super().__init__(daemon=True)
        self.hub, self.fleet = hub, fleet

    def run(self):
        k = 0
        next_node = time.monotonic()
        while not STOP.is_set():
            k += 1
            try:
                w = RawWS("127.0.0.1", self.hub.port, timeout=5)
                if k % 2:
                    w.rst()
                    ST.add("vanished (TCP reset)")
                else:
                    w.s.sendall(ws_frame(8, struct.pack(">H", 1000)))
                    w.close()
                    ST.add("closed cleanly")
            except (Fail, OSError, EOFError) as e:
                error("churn", "a raw session failed to open: %s" % e)
            if time.monotonic() >= next_node:
                c = (k // 2) % self.fleet.n
                self.fleet.cmd({"c": c, "close": True})
                time.sleep(0.05)
                self.fleet.cmd({"c": c, "open": True})
                ST.add("node reconnects")
                next_node = time.monotonic() + 0.5
            time.sleep(0.1)


class SlowReaders(threading.Thread):
    """A reader that reads nothing every 10 s, until `until` (monotonic):
    late enough that the hub must have cut off the last one by the end."""

    def __init__(self, hub, until):
        super().__init__(daemon=True)
        self.hub = hub
        self.until = until
        self.readers = []

    def run(self):
        while not STOP.wait(10 if self.readers else 2) and time.monotonic() < self.until:
            try:
                self.readers.append(RawWS("127.0.0.1", self.hub.port, rcvbuf=4096))
            except (Fail, OSError, EOFError) as e:
                error("slow", "a slow reader failed to open: %s" % e)

    def verdicts(self):
        """For each reader: (ended by the hub, numbers contiguous)."""
        res = []
        for w in self.readers:
            nums = []
            how, _ = w.drain(0.5, lambda t: nums.append(event_number(t, "seq")))
            nums = [x for x in nums if x is not None]
            contiguous = not nums or nums == list(range(nums[0], nums[0] + len(nums)))
            res.append((how != "open", contiguous, len(nums)))
            w.close()
        return res


class Listeners(threading.Thread):
    def __init__(self, hub, tmp):
        super().__init__(daemon=True)
        self.hub, self.tmp = hub, tmp

    def run(self):
        k = 0
        while not STOP.wait(15 if k else 3):
            k += 1
            l = Listen(self.tmp, "killed%d" % k, self.hub.sock, ["--json"])
            if STOP.wait(5):
                stop_process(l.proc)
                break
            lines = l.nlines()
            l.proc.kill()
            l.proc.wait()
            if lines == 0:
                error("listeners", "killed listener %d had got nothing in 5 s" % k)
            ST.add("killed listeners")


# ---- hostile inputs ------------------------------------------------------------------------

def tcp_answer(port, data, timeout=3.0):
    """Sends data; returns everything read until the hub closes (or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


def status_of(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def ws_then(port, frames, join=True):
    """A joined raw WebSocket sends frames; returns how it ended (drain)."""
    w = RawWS("127.0.0.1", port, join=join)
    try:
        for f in frames:
            w.s.sendall(f)
        return w.drain(3)
    finally:
        w.close()


def raw_frame(b0, payload, mask=True, length=None):
    n = len(payload) if length is None else length
    m = 0x80 if mask else 0
    if n < 126:
        hdr = bytes([b0, m | n])
    elif n < 65536:
        hdr = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, m | 127]) + struct.pack(">Q", n)
    return hdr + (b"\0\0\0\0" if mask else b"") + payload


def ctl_error(sock, line):
    c = Ctl(sock)
    try:
        c.send(line)
        a = c.line(3)
        return a.get("error", {}).get("code")
    finally:
        c.close()


def hostile_inputs(hub):
    """(name, function returning (ok, what it got))."""
    p = hub.port
    get = b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

    def http(req, want):
        r = tcp_answer(p, req)
        return status_of(r) in want, r[:60]

    def ws_close(frames, want, join=True):
        how, code = ws_then(p, frames, join)
        return (how, code) in want or (how == "eof" and "eof" in want), (how, code)

    return [
        ("not HTTP", lambda: http(b"\x16\x03\x01\x02\x00GARBAGE\r\n\r\n", (400,))),
        ("request head over --max-header-bytes",
         lambda: http(b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", (431, 400, 413))),
        ("Engine.IO v3", lambda: http(get % b"/socket.io/?EIO=3&transport=polling", (400,))),
        ("unknown transport", lambda: http(get % b"/socket.io/?EIO=4&transport=flash", (400,))),
        ("unknown session", lambda: http(get % b"/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA",
                                         (400,))),
        ("POST handshake (a bad method) announcing 5 MB",
         lambda: http(b"POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 5000000\r\n\r\n" + b"4" * 1000, (400, 413))),
        ("upgrade without a key",
         lambda: http(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
                      b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
                      (400, 426))),
        ("WebSocket RSV bits", lambda: ws_close([raw_frame(0xF1, b"42[\"x\"]")], {("close", 1002), "eof"})),
        ("WebSocket unmasked frame", lambda: ws_close([raw_frame(0x81, b"42[\"x\"]", mask=False)],
                                                      {("close", 1002), "eof"})),
        ("WebSocket 2^40-byte frame", lambda: ws_close([raw_frame(0x82, b"", length=1 << 40) + b"\0" * 16],
                                                       {("close", 1009), "eof"})),
        ("WebSocket invalid UTF-8", lambda: ws_close([raw_frame(0x81, b"42[\"\xff\xfe\"]")],
                                                     {("close", 1007), "eof"})),
        ("Engine.IO packet type 9", lambda: ws_close([ws_frame(1, "9")], {("close", 1000), "eof"})),
        ("event name an object", lambda: ws_close([ws_frame(1, '42[{"toString":"x"}]')],
                                                  {("close", 1000), "eof"})),
        ("Socket.IO packet type 8", lambda: ws_close([ws_frame(1, "48")], {("close", 1000), "eof"})),
        ("control: not JSON", lambda: (lambda c: (c == "bad_json", c))(ctl_error(hub.sock, b"{nope\n"))),
        ("control: reserved event", lambda: (lambda c: (c == "bad_request", c))(
            ctl_error(hub.sock, b'{"op":"emit","event":"connect"}\n'))),
        ("control: unknown op", lambda: (lambda c: (c == "unknown_op", c))(
            ctl_error(hub.sock, b'{"op":"format-disk"}\n'))),
        ("control: bad ack handle", lambda: (lambda c: (c in ("bad_request", "not_found"), c))(
            ctl_error(hub.sock, b'{"op":"reply","ack":"x:y:z","data":[]}\n'))),
    ]


class Hostile(threading.Thread):
    def __init__(self, hub):
        super().__init__(daemon=True)
        self.inputs = hostile_inputs(hub)
        self.tried = 0
        self.bad = []

    def run(self):
        i = 0
        while not STOP.wait(HOSTILE_EVERY_S):
            name, fn = self.inputs[i % len(self.inputs)]
            i += 1
            self.tried += 1
            try:
                ok, got = fn()
            except (Fail, OSError, EOFError, ValueError) as e:
                ok, got = False, "%s: %s" % (type(e).__name__, e)
            if not ok:
                self.bad.append("%s: %r" % (name, got))


# ---- the run ------------------------------------------------------------------------------------

def main():
    start_watchdog(int(SOAK_S) + 150, "soak")
    R = Report("soak")
    tmp = tempfile.mkdtemp(prefix="sio-soak-")
    t_start = time.monotonic()
    summary = {}
    hub = None
    try:
        limit = raise_nofile(N_IDLE + 1000)
        check(limit >= N_IDLE + 500, "RLIMIT_NOFILE is %d; the soak needs %d" % (limit, N_IDLE + 500))
        hub = Hub(tmp, ["--relay", "-n", "/idle", "--ping-interval", str(PING_MS),
                        "--ping-timeout", str(PING_MS), "--http-timeout", "3000",
                        "--max-output", str(4 << 20), "--max-payload", "100000",
                        "--max-header-bytes", "8192"])
        fd0 = fd_count(hub.pid)
        steady = Fleet(hub.url, 4, "websocket")
        steadyp = Fleet(hub.url, 2, "polling")
        chatter = Fleet(hub.url, 1, "websocket")
        churn_fleet = Fleet(hub.url, 10, "both")
        for f in (steady, steadyp, chatter, churn_fleet):
            check(f.wait_connected(20), "clients did not connect: %s" % f.stderr[-3:])
        n_active = steady.n + steadyp.n + chatter.n + churn_fleet.n
        t0 = time.monotonic()
        idle = IdlePool(hub, N_IDLE)
        R.note("%d idle sessions opened in %.1f s" % (N_IDLE, time.monotonic() - t0))
        idle.start()
        t_load = time.monotonic()
        t_end = t_load + SOAK_S
        threads = [idle, Stream(hub), Churn(hub, churn_fleet),
                   SlowReaders(hub, t_end - 2 * PING_MS / 1000 - 3),
                   Listeners(hub, tmp), Hostile(hub)]
        stream, churn, slow, listeners, hostile = threads[1:]
        for t in threads[1:]:
            t.start()
        n_chat = int(max(1, SOAK_S - 5) * 1000 / CHAT_EVERY_MS)
        chatter.cmd({"c": 0, "seq": "chat", "from": 1, "to": n_chat, "batch": 1, "every": CHAT_EVERY_MS})

        # warm up, then the baseline
        time.sleep(min(10, SOAK_S / 4))
        rss0 = rss_kb(hub.pid)
        cpu0, tcpu0 = cpu_seconds(hub.pid), time.monotonic()
        peak_rss, peak_fds = rss0, fd_count(hub.pid)
        bursts = 0
        next_burst = time.monotonic() + 5
        while time.monotonic() < t_end and hub.alive():
            if time.monotonic() >= next_burst:
                chatter.cmd({"c": 0, "seq": "burst", "from": bursts * BURST_N + 1,
                             "to": (bursts + 1) * BURST_N, "batch": 20, "every": 5, "pad": 1000})
                bursts += 1
                next_burst += BURST_EVERY_S
            time.sleep(1)
            try:
                peak_rss = max(peak_rss, rss_kb(hub.pid))
                peak_fds = max(peak_fds, fd_count(hub.pid))
            except OSError:
                break
        STOP.set()
        if not hub.alive():
            R(False, "the hub survives the soak", hub.died_of())
            return 1
        for t in threads[1:]:
            t.join(15)
        cpu = (cpu_seconds(hub.pid) - cpu0) / (time.monotonic() - tcpu0)
        stream_n = stream.sent
        rc = stream.proc.wait(30)
        R(rc == 0, "the stream's sio-emit exits 0 (%d messages)" % stream_n,
          "status %s: %s" % (rc, stream.proc.stderr.read().decode()[-200:]))
        chatter.wait_count(lambda o: o.get("type") == "sent" and o.get("event") == "chat", 1, 30)
        n_burst = bursts * BURST_N
        chatter.wait_count(lambda o: o.get("type") == "sent" and o.get("event") == "burst", bursts, 30)
        rc, _ = emit(hub.sock, "end", 1)
        for f in (steady, steadyp):
            f.wait_count(lambda o: o.get("event") == "end", f.n, 30)
        rss1 = rss_kb(hub.pid)
        held = idle.held()

        # ---- the well-behaved clients: everything once, in order
        lost = dups = 0
        total = 0
        for name, f in (("websocket", steady), ("polling", steadyp)):
            for c in range(f.n):
                for ev, want in (("seq", stream_n), ("chat", n_chat), ("burst", n_burst)):
                    got = f.numbers(c, ev)
                    total += len(got)
                    lost += len(set(range(1, want + 1)) - set(got))
                    dups += len(got) - len(set(got))
                    if got != list(range(1, want + 1)):
                        R(False, "steady %s client %d: %s" % (name, c, ev), describe_seq(got, want))
            bad = f.of(type="disconnect") + f.of(type="connect_error")
            R(not bad, "the steady %s clients were never disconnected" % name, str(bad[:3]))
        R(lost == 0 and dups == 0,
          "steady clients: %d messages (stream %d, chat %d, bursts %d, to each of 6), none lost, "
          "none twice, all in order" % (total, stream_n, n_chat, n_burst),
          "lost %d, duplicated %d" % (lost, dups))
        R(held == N_IDLE, "all %d idle sessions are still open (heartbeats answered: %d)" % (
            N_IDLE, idle.pings), "%d held; ended by the hub: %s" % (held, idle.lost[:5]))
        verdicts = slow.verdicts()
        cut = sum(1 for v in verdicts if v[0])
        R(verdicts and cut == len(verdicts),
          "every slow reader was cut off by the hub (%d of %d)" % (cut, len(verdicts)),
          "%d of %d still open" % (len(verdicts) - cut, len(verdicts)))
        R(all(v[1] for v in verdicts), "no slow reader got a gap in the stream",
          "gaps: %s" % [v for v in verdicts if not v[1]])
        R(not hostile.bad, "every hostile input got the answer it must (%d tried)" % hostile.tried,
          "; ".join(hostile.bad[:5]))
        R(not ERRORS, "churn, slow readers and listeners ran without errors",
          "; ".join("%s: %s" % e for e in ERRORS[:5]))
        growth = rss1 - rss0
        asan = sanitized(hub.pid)
        if asan:
            # ASan's allocator holds freed memory back: not counted either way
            R.note("RSS growth not judged under ASan (%d KB -> %d KB)" % (rss0, rss1))
        else:
            R(growth < RSS_GROWTH_MAX_KB,
              "RSS growth under %d MB (%d KB -> %d KB)" % (RSS_GROWTH_MAX_KB // 1024, rss0, rss1),
              "grew by %d KB" % growth)

        # ---- everything away: the hub's descriptors back to the start
        idle.close_all()
        for f in (steady, steadyp, chatter, churn_fleet):
            f.stop()
        h = wait_until(lambda: (lambda h: h if h.get("sessions") == 0 else None)(hub.health()),
                       2 * PING_MS / 1000 + 5) or hub.health()
        R(h.get("sessions") == 0 and h.get("sockets") == 0,
          "with every client gone, no session or socket is left (/health)", "/health: %s" % h)
        fds = wait_until(lambda: fd_count(hub.pid) <= fd0 and fd_count(hub.pid), 5) or fd_count(hub.pid)
        R(fds <= fd0, "the hub's descriptors are back to the start (%d -> %d)" % (fd0, fds),
          "%d more: %s" % (fds - fd0, fd_list(hub.pid)[:8]))
        t_term = time.monotonic()
        hub.proc.send_signal(signal.SIGTERM)
        try:
            rc = hub.proc.wait(8)
        except subprocess.TimeoutExpired:
            rc = None
        R(rc == 0 and not os.path.exists(hub.sock),
          "SIGTERM: exit status 0 in %.2f s, control socket removed" % (time.monotonic() - t_term),
          "status %s, socket %s" % (rc, "left" if os.path.exists(hub.sock) else "removed"))
        faults = (hostile.tried + len(verdicts) + ST.get("vanished (TCP reset)") +
                  ST.get("closed cleanly") + ST.get("killed listeners") + ST.get("node reconnects"))
        summary = {
            "sockets held": "%d (%d idle + %d active; peak hub fds %d)" % (
                held + n_active, held, n_active, peak_fds),
            "inputs tried": hostile.tried,
            "faults survived": "%d (%d hostile, %d slow readers cut off, %d reset, %d closed, "
                               "%d killed listeners, %d client reconnects)" % (
                                   faults, hostile.tried, cut, ST.get("vanished (TCP reset)"),
                                   ST.get("closed cleanly"), ST.get("killed listeners"),
                                   ST.get("node reconnects")),
            "messages lost": lost,
            "duplicates": dups,
            "RSS growth": "%d KB (%d -> %d KB, peak %d KB)" % (growth, rss0, rss1, peak_rss),
            "fd leaks": fds - fd0,
            "hub CPU": "%.0f%%" % (cpu * 100),
        }
    except Fail as e:
        R(False, "soak", str(e))
    except Exception as e:
        R(False, "soak", "%s: %s" % (type(e).__name__, " / ".join(traceback.format_exc().splitlines()[-3:])))
    finally:
        STOP.set()
        stop_all()
        if hub and not R.passed() and VERBOSE:
            for line in hub.log().splitlines()[-10:]:
                print("#   hub: " + line)
        if summary:
            print("# soak: %s; %.0f s" % ("; ".join("%s %s" % kv for kv in summary.items()),
                                           time.monotonic() - t_start), flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if R.passed() else 1


if __name__ == "__main__":
    sys.exit(main())
