#!/usr/bin/env python3
"""The hardening issue's attacks, rerun against a running confab server.

Each attack is what one signed-in (or anonymous) stranger could do, bounded
in seconds, and prints one JSON line of figures: what got through and what
was refused, and what it cost the server (its RSS from /proc/<pid>/status).
Standard library only, so it runs on any machine with Python 3.

    python3 bench/attacks.py --url http://127.0.0.1:8000 --pid PID \
        --confab target/release/confab --db /tmp/attack/confab.db [ATTACK ...]

ATTACK is any of: frames writes sockets reactions rooms login keepalive
chunked rights (default: all). The server must run with its default limits;
`rights` runs `confab user demote` on the same database, as an operator
would. Accounts are created on the way (`atk-*`); use a scratch database.
"""

import argparse
import base64
import http.client
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

PASSWORD = "attack-password-7319"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Site:
    """Forms and cookies of one browser, over http.client."""

    def __init__(self, base, source="127.0.0.1"):
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port or 80
        self.cookie = ""
        # Another loopback address is another client address to the server.
        self.source = (source, 0)

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(
            self.host, self.port, timeout=30, source_address=self.source
        )
        head = {"Cookie": self.cookie} if self.cookie else {}
        head.update(headers or {})
        if body is not None:
            body = urllib.parse.urlencode(body)
            head["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=head)
        res = conn.getresponse()
        data = res.read()
        for name, value in res.getheaders():
            if name.lower() == "set-cookie" and value.startswith("confab_session="):
                self.cookie = value.split(";", 1)[0]
        conn.close()
        return res.status, data.decode("utf-8", "replace"), dict(res.getheaders())

    def form(self, path, fields):
        status, page, _ = self.request("GET", path)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        fields = dict(fields, csrf_token=token.group(1) if token else "")
        return self.request("POST", path, fields)

    def sign_in(self, name):
        status, _, _ = self.form(
            "/accounts/signup/",
            {"username": name, "password": PASSWORD, "password2": PASSWORD, "next": ""},
        )
        if status != 303:
            self.cookie = ""
            status, _, _ = self.form(
                "/accounts/login/", {"username": name, "password": PASSWORD, "next": ""}
            )
        if status != 303:
            raise SystemExit(f"cannot sign {name} in: {status}")
        return self


class Ws:
    """A minimal WebSocket client (RFC 6455) on a raw socket."""

    def __init__(self, site, room, timeout=10, visit=True):
        if visit:
            # The tutorial's way to create a room (and to check entry).
            site.request("GET", f"/chat/{room}/")
        self.sock = socket.create_connection((site.host, site.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /ws/chat/{room}/ HTTP/1.1\r\nHost: {site.host}:{site.port}\r\n"
                f"Origin: http://{site.host}:{site.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nCookie: {site.cookie}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        self.status = int(head.split(b" ", 2)[1]) if head else 0
        self.buf = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""

    @staticmethod
    def header(length, opcode=1):
        mask = os.urandom(4)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        return head + mask, mask

    def send(self, obj):
        data = json.dumps(obj).encode()
        head, mask = self.header(len(data))
        self.sock.sendall(head + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def recv(self):
        """(opcode, payload bytes) of the next frame."""
        self._need(2)
        b1, b2 = self.buf[0], self.buf[1]
        length, at = b2 & 0x7F, 2
        if length == 126:
            self._need(4)
            length, at = struct.unpack("!H", self.buf[2:4])[0], 4
        elif length == 127:
            self._need(10)
            length, at = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(at + length)
        payload, self.buf = self.buf[at : at + length], self.buf[at + length :]
        return b1 & 0x0F, payload

    def recv_json(self):
        while True:
            opcode, payload = self.recv()
            if opcode == 1:
                return json.loads(payload)
            if opcode == 9:
                head, mask = self.header(len(payload), opcode=10)
                self.sock.sendall(head + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
            if opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise ConnectionError(f"closed {code}")

    def until(self, kind):
        while True:
            frame = self.recv_json()
            if frame.get("type") == kind:
                return frame

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def attack_frames(args):
    """20 sockets each announce a 1 GiB frame and stream toward it for 1 s."""
    site = Site(args.url).sign_in("atk-frames")
    before = rss_kib(args.pid)
    socks = [Ws(site, "frames") for _ in range(20)]
    peak, sent, closed = before, 0, 0
    chunk = b"\0" * 65536
    for ws in socks:
        head, _ = Ws.header(1 << 30)
        ws.sock.sendall(head)
        ws.sock.setblocking(False)
    deadline = time.time() + 1.0
    while time.time() < deadline:
        for ws in socks:
            try:
                sent += ws.sock.send(chunk)
            except BlockingIOError:
                pass
            except OSError:
                pass
        peak = max(peak, rss_kib(args.pid))
    for ws in socks:
        ws.sock.setblocking(True)
        ws.sock.settimeout(2)
        try:
            ws.buf = b""
            while True:
                opcode, payload = ws.recv()
                if opcode == 8:
                    closed += struct.unpack("!H", payload[:2])[0] == 1009
                    break
        except (OSError, ConnectionError, ValueError):
            pass
        ws.close()
    return {"sockets": 20, "bytes_sent": sent, "closed_1009": closed,
            "rss_before_mib": round(before / 1024, 1), "rss_peak_mib": round(peak / 1024, 1)}


def attack_writes(args):
    """One socket posts 4,000-character messages as fast as it can for 10 s."""
    site = Site(args.url).sign_in("atk-writes")
    ws = Ws(site, "writes")
    ws.until("user_list")
    text = "x" * 4000
    stored, limited, stop = [0], [0], time.time() + 10

    def read():
        ws.sock.settimeout(2)
        try:
            while True:
                frame = ws.recv_json()
                if frame.get("type") == "chat_message":
                    stored[0] += 1
                elif frame.get("code") == "rate_limited":
                    limited[0] += 1
        except (OSError, ConnectionError):
            pass

    reader = threading.Thread(target=read)
    reader.start()
    sent = 0
    while time.time() < stop:
        ws.send({"type": "chat_message", "message": text})
        sent += 1
        if sent % 50 == 0:
            time.sleep(0.01)
    reader.join()
    ws.close()
    return {"seconds": 10, "sent": sent, "stored": stored[0], "rate_limited": limited[0],
            "stored_per_sec": round(stored[0] / 10, 1)}


def attack_sockets(args):
    """One user opens 2,000 sockets as fast as it can (3 s at most)."""
    site = Site(args.url).sign_in("atk-sockets")
    statuses, held, stop = {}, [], time.time() + 3
    for _ in range(2000):
        if time.time() > stop:
            break
        ws = Ws(site, "sockets", visit=not held)
        statuses[ws.status] = statuses.get(ws.status, 0) + 1
        if ws.status == 101:
            held.append(ws)
        else:
            ws.close()
    for ws in held:
        ws.close()
    return {"attempts": sum(statuses.values()), "by_status": statuses}


def attack_reactions(args):
    """Distinct emoji on one message, then the size of one toggle's frame."""
    site = Site(args.url).sign_in("atk-reactions")
    watcher = Ws(Site(args.url).sign_in("atk-watcher"), "reactions")
    watcher.until("user_list")
    ws = Ws(site, "reactions")
    ws.until("user_list")
    ws.send({"type": "chat_message", "message": "react to me"})
    mid = ws.until("chat_message")["id"]
    candidates = [chr(c) for c in range(0x1F300, 0x1F5FF)] + [chr(c) for c in range(0x1F680, 0x1F6C5)]
    accepted, refused = 0, {}
    for emoji in candidates:
        ws.send({"type": "react", "id": mid, "emoji": emoji})
    ws.sock.settimeout(3)
    try:
        while True:
            frame = ws.recv_json()
            if frame.get("type") in ("reaction", "reactions"):
                accepted += 1
            elif frame.get("type") == "error":
                refused[frame["code"]] = refused.get(frame["code"], 0) + 1
    except (OSError, ConnectionError):
        pass
    # The watcher's view of one more toggle of an emoji already there.
    watcher.sock.settimeout(3)
    watcher.buf = b""
    ws.sock.settimeout(10)
    sizes = []
    try:
        while True:
            opcode, payload = watcher.recv()
            sizes.append(len(payload))
    except (OSError, ConnectionError):
        pass
    ws2 = Ws(site, "reactions")
    ws2.until("user_list")
    ws2.send({"type": "react", "id": mid, "emoji": candidates[0]})
    opcode, payload = watcher.recv()
    ws.close(), ws2.close(), watcher.close()
    return {"tried": len(candidates), "accepted": accepted, "refused": refused,
            "watcher_bytes_during_flood": sum(sizes), "toggle_frame_bytes": len(payload)}


def attack_rooms(args):
    """One user visits new room names as fast as it can for 15 s."""
    site = Site(args.url).sign_in("atk-rooms")
    statuses, stop, i = {}, time.time() + 15, 0
    tag = random.randrange(1 << 30)
    while time.time() < stop and i < 20000:
        status, _, _ = site.request("GET", f"/chat/r{tag}-{i}/")
        statuses[status] = statuses.get(status, 0) + 1
        i += 1
    status, index, _ = site.request("GET", "/chat/")
    return {"visits": i, "by_status": statuses, "index_bytes": len(index)}


def attack_login(args):
    """128 parallel password guessers for 10 s; a real login in the middle.

    The guessers come from 127.0.0.1, the real user from 127.0.0.2."""
    Site(args.url, source="127.0.0.2").sign_in("atk-alice")
    counts, lock, stop = {}, threading.Lock(), time.time() + 10

    def guess():
        site = Site(args.url)
        while time.time() < stop:
            site.cookie = ""
            status, _, _ = site.form(
                "/accounts/login/",
                {"username": "atk-alice", "password": f"guess{random.random()}", "next": ""},
            )
            with lock:
                counts[status] = counts.get(status, 0) + 1

    threads = [threading.Thread(target=guess) for _ in range(128)]
    for t in threads:
        t.start()
    time.sleep(5)
    real = Site(args.url, source="127.0.0.2")
    started = time.time()
    status, _, _ = real.form(
        "/accounts/login/", {"username": "atk-alice", "password": PASSWORD, "next": ""}
    )
    real_ms = (time.time() - started) * 1000
    for t in threads:
        t.join()
    weak = Site(args.url, source="127.0.0.3").form(
        "/accounts/signup/",
        {"username": "atk-weak", "password": "12345678", "password2": "12345678", "next": ""},
    )[0]
    lookalike = Site(args.url, source="127.0.0.3").form(
        "/accounts/signup/",
        {"username": "atk-aIice", "password": PASSWORD, "password2": PASSWORD, "next": ""},
    )[0]
    return {"seconds": 10, "guesses_by_status": counts,
            "guesses_checked_per_sec": round(
                sum(n for code, n in counts.items() if code not in (429, 503)) / 10, 1),
            "real_login_status": status, "real_login_ms": round(real_ms),
            "signup_12345678_status": weak, "signup_lookalike_status": lookalike}


def attack_keepalive(args):
    """A first request, then one byte: how long the connection stays open."""
    site = Site(args.url)
    sock = socket.create_connection((site.host, site.port), timeout=40)
    sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {site.host}\r\n\r\n".encode())
    time.sleep(0.2)
    sock.recv(65536)
    started = time.time()
    try:
        sock.sendall(b"G")
        while sock.recv(65536):
            pass
    except OSError:
        pass
    return {"held_after_one_byte_s": round(time.time() - started, 2)}


def attack_chunked(args):
    """A chunked body on a route that takes none (request smuggling's way in)."""
    site = Site(args.url)
    sock = socket.create_connection((site.host, site.port), timeout=10)
    sock.sendall(
        (
            f"GET /healthz HTTP/1.1\r\nHost: {site.host}\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        ).encode()
    )
    answer = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    except OSError:
        pass
    statuses = re.findall(rb"HTTP/1\.1 (\d{3})", answer)
    return {"responses": [int(s) for s in statuses]}


def attack_rights(args):
    """A staff member in an admin-only room is demoted by the CLI."""
    name = f"atk-staff{random.randrange(1 << 20)}"
    site = Site(args.url).sign_in(name)
    env = dict(os.environ, DATABASE_URL=args.db)
    room = f"staff{random.randrange(1 << 20)}"
    subprocess.run([args.confab, "user", "promote", name], env=env, check=True,
                   capture_output=True)
    subprocess.run([args.confab, "room", "create", room, "--admin-only"], env=env,
                   check=True, capture_output=True)
    ws = Ws(site, room)
    ws.until("user_list")
    subprocess.run([args.confab, "user", "demote", name], env=env, check=True,
                   capture_output=True)
    started = time.time()
    ws.sock.settimeout(1)
    code = "still open after 15 s"
    while time.time() - started < 15:
        try:
            ws.recv_json()
        except ConnectionError as e:
            code = str(e)
            break
        except OSError:
            pass  # a quiet second; the pings are answered
    return {"closed": code, "after_s": round(time.time() - started, 2)}


ATTACKS = {
    "frames": attack_frames, "writes": attack_writes, "sockets": attack_sockets,
    "reactions": attack_reactions, "rooms": attack_rooms, "login": attack_login,
    "keepalive": attack_keepalive, "chunked": attack_chunked, "rights": attack_rights,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--pid", type=int, required=True, help="the server's process id")
    parser.add_argument("--confab", default="target/release/confab")
    parser.add_argument("--db", default="confab.db", help="the server's DATABASE_URL")
    parser.add_argument("attacks", nargs="*", metavar="ATTACK", help=" ".join(ATTACKS))
    args = parser.parse_args()
    unknown = [name for name in args.attacks if name not in ATTACKS]
    if unknown:
        parser.error(f"unknown attack {unknown}; choose from {' '.join(ATTACKS)}")
    for name in args.attacks or ATTACKS:
        try:
            result = ATTACKS[name](args)
        except Exception as e:  # one attack's failure is its result
            result = {"error": repr(e)}
        result["rss_mib"] = round(rss_kib(args.pid) / 1024, 1)
        print(json.dumps({"attack": name, **result}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
