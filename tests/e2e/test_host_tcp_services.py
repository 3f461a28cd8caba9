"""`ethox-uk host images/echo` TCP services end to end over dgram sockets (DESIGN §5): echo 7,
discard 9, chargen 19, HTTP/1.1 80; and `ethox-uk host images/http` (the asyncio streams
server) with the same HTTP checks. The TCP client is our own host-mode stack in this test
process (a DgramNic bound at REMOTE, sockets from ethox_uk.stack.socket); the Linux kernel's
TCP as the client is the namespace/tap/relay harness's job. Every wait is bounded."""

import hashlib
import os
import select
import shutil
import tempfile
import time

import pytest
from hostutil import ECHO, READY_TIMEOUT, ROOT

from ethox_uk.host.dgram_peer import PEER_IP, PEER_MAC
from ethox_uk.host.process import HostProcess
from ethox_uk.stack import http, services
from ethox_uk.stack import socket as esock
from ethox_uk.stack.config import Config
from ethox_uk.stack.iface import Stack
from ethox_uk.stack.nic.dgram import DgramNic

TIMEOUT = 10.0  # seconds, per blocking socket call
HTTP = str(ROOT / "images" / "http")


def now_ms():
    return int(time.monotonic() * 1000)


class Client:
    """Our stack as 10.0.2.2 on the peer's end of the dgram pair; blocking sockets."""

    def __init__(self, local, remote):
        self.nic = DgramNic(remote, local)
        self.stack = Stack(self.nic, Config("%s/24" % PEER_IP, None, PEER_MAC))
        esock.use(self.stack, clock=now_ms, idle=self.idle)

    def idle(self, ms):
        select.select([self.nic.fileno()], [], [], ms / 1000)

    def connect(self, ip, port):
        esock.use(self.stack, clock=now_ms, idle=self.idle)  # this client's stack
        s = esock.socket(esock.AF_INET, esock.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        s.connect((ip, port))
        return s

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.stack.poll(now_ms())
            self.idle(5)

    def close(self):
        self.nic.close()


class Served:
    def __init__(self, recipe=ECHO):
        self.dir = tempfile.mkdtemp(prefix="ext", dir="/tmp")
        local = os.path.join(self.dir, "s")
        remote = os.path.join(self.dir, "p")
        self.host = HostProcess(recipe, "dgram:%s,%s" % (local, remote)).start()
        try:
            self.ip, self.mac = self.host.wait_ready(READY_TIMEOUT)
        except Exception:
            self.host.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        self.client = Client(local, remote)

    def close(self):
        self.client.close()
        status = self.host.stop()
        out, err = self.host.communicate()
        shutil.rmtree(self.dir, ignore_errors=True)
        return status, out, err


@pytest.fixture(scope="module")
def echo_tcp():
    s = Served()
    try:
        yield s
    finally:
        status, out, err = s.close()
    assert status == 0, err
    assert "internal error" not in err, err


def read_response(s):
    """(status, headers dict, body) of one HTTP/1.1 response with Content-Length."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        assert d, "connection closed inside the response head: %r" % buf
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split(" ")[1])
    hdrs = {}
    for ln in lines[1:]:
        k, v = ln.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs["content-length"])
    body = bytearray(rest)
    while len(body) < n:
        d = s.recv(65536)
        assert d, "connection closed inside the body (%d of %d)" % (len(body), n)
        body += d
    return status, hdrs, bytes(body[:n]), bytes(body[n:])


def get(client, ip, path, method="GET", extra=""):
    s = client.connect(ip, 80)
    try:
        s.sendall(("%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s\r\n"
                   % (method, path, ip, extra)).encode())
        if method == "HEAD":
            buf = b""
            while True:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
            return buf
        st, h, body, _ = read_response(s)
        assert s.recv(100) == b""  # Connection: close honoured
        return st, h, body
    finally:
        s.close()


def counters(client, ip):
    st, h, body = get(client, ip, "/")
    assert st == 200 and h["content-type"].startswith("text/html")
    return http.parse_page(body)


def test_tcp_echo_one_mebibyte_sha256(echo_tcp):
    c = echo_tcp.client
    s = c.connect(echo_tcp.ip, 7)
    s.setsockopt(esock.IPPROTO_TCP, esock.TCP_NODELAY, 1)
    data = os.urandom(1 << 20)
    got = bytearray()
    off = 0
    deadline = time.monotonic() + 30
    s.setblocking(False)
    while len(got) < len(data):
        assert time.monotonic() < deadline, "echo stalled at %d bytes" % len(got)
        if off < len(data):
            try:
                off += s.send(data[off:off + 32768])
            except OSError:
                pass
        try:
            got += s.recv(65536)
        except OSError:
            c.stack.poll(now_ms())
            c.idle(2)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    s.setblocking(True)
    s.settimeout(TIMEOUT)
    s.shutdown(esock.SHUT_WR)
    assert s.recv(10) == b""  # our FIN echoed as the server's FIN
    s.close()


def test_echo_parallel_connections(echo_tcp):
    c = echo_tcp.client
    socks = [c.connect(echo_tcp.ip, 7) for _ in range(8)]
    for i, s in enumerate(socks):
        s.sendall(b"connection %d\n" % i)
    for i, s in enumerate(socks):
        assert s.readline() == b"connection %d\n" % i
    for s in socks:
        s.close()


def test_discard_takes_everything_and_closes(echo_tcp):
    c = echo_tcp.client
    before = counters(c, echo_tcp.ip)
    s = c.connect(echo_tcp.ip, 9)
    s.sendall(bytes(300000))
    s.shutdown(esock.SHUT_WR)
    assert s.recv(10) == b""  # nothing comes back but the FIN
    s.close()
    after = counters(c, echo_tcp.ip)
    assert after["tcp_rx"] - before["tcp_rx"] >= 300000 // 1460
    assert after["internal_error"] == 0


def test_chargen_streams_the_rfc_864_pattern(echo_tcp):
    c = echo_tcp.client
    s = c.connect(echo_tcp.ip, 19)
    got = bytearray()
    while len(got) < 100000:
        got += s.recv(65536)
    assert bytes(got) == services.chargen_bytes(0, len(got))
    assert got[:74] == bytes(range(32, 32 + 72)) + b"\r\n"
    s.close()  # unread data: RST, as Linux does; the service just ends


def test_http_bytes_and_keep_alive(echo_tcp):
    c = echo_tcp.client
    s = c.connect(echo_tcp.ip, 80)
    s.sendall(b"GET /bytes/1000000 HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, body, rest = read_response(s)
    assert st == 200 and h["content-length"] == "1000000"
    assert h["content-type"] == "application/octet-stream"
    assert "connection" not in h  # HTTP/1.1: the connection stays
    assert body == http.pattern_bytes(0, 1000000) and rest == b""
    # the same connection, two pipelined requests
    s.sendall(b"GET /bytes/5 HTTP/1.1\r\nHost: x\r\n\r\nGET /bytes/0 HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, body, rest = read_response(s)
    assert st == 200 and body == b"\x00\x01\x02\x03\x04"
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
    s.close()


def test_http_errors_are_clear(echo_tcp):
    c = echo_tcp.client
    ip = echo_tcp.ip
    st, h, body = get(c, ip, "/nothing")
    assert st == 404 and b"no such resource" in body
    st, h, body = get(c, ip, "/bytes/67108865")
    assert st == 400 and b"limit of 67108864" in body
    st, h, body = get(c, ip, "/bytes/-5")
    assert st == 400 and b"decimal digits" in body
    st, h, body = get(c, ip, "/", method="POST", extra="Content-Length: 3\r\n")
    assert st == 405 and h["allow"] == "GET, HEAD" and h["connection"] == "close"
    raw = get(c, ip, "/bytes/1000", method="HEAD")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 1000\r\n" in raw
    assert raw.endswith(b"\r\n\r\n")  # no body
    s = c.connect(ip, 80)
    s.sendall(b"garbage\r\n\r\n")
    st, h, body, _ = read_response(s)
    assert st == 400 and h["connection"] == "close" and b"request line" in body
    assert s.recv(10) == b""
    s.close()


def test_closed_port_refuses(echo_tcp):
    c = echo_tcp.client
    esock.use(c.stack, clock=now_ms, idle=c.idle)
    s = esock.socket()
    s.settimeout(TIMEOUT)
    try:
        s.connect((echo_tcp.ip, 4444))
    except OSError as e:
        assert e.args[0] == esock.ECONNREFUSED
    else:
        raise AssertionError("connect to a closed port succeeded")
    s.close()


def test_page_counters_and_no_internal_errors(echo_tcp):
    c = echo_tcp.client
    page = counters(c, echo_tcp.ip)
    assert page["internal_error"] == 0
    assert page["tcp_rx"] > 0 and page["tcp_tx"] > 0
    assert page["tcp_bad_checksum"] == 0
    assert c.stack.counters["internal_error"] == 0


# -- images/http: the same HTTP, written on asyncio streams -------------------------------
@pytest.fixture(scope="module")
def http_app():
    s = Served(HTTP)
    try:
        yield s
    finally:
        status, out, err = s.close()
    assert status == 0, err
    assert "internal error" not in err and "raised" not in err, err


def test_asyncio_http_bytes_keep_alive_and_page(http_app):
    c = http_app.client
    s = c.connect(http_app.ip, 80)
    s.sendall(b"GET /bytes/1000000 HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, body, rest = read_response(s)
    assert st == 200 and body == http.pattern_bytes(0, 1000000) and rest == b""
    for _ in range(3):  # keep-alive: the same connection
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        st, h, body, rest = read_response(s)
        assert st == 200 and h["content-type"].startswith("text/html")
    page = http.parse_page(body)
    assert page["internal_error"] == 0 and page["tcp_rx"] > 0
    s.close()


def test_asyncio_http_errors(http_app):
    c = http_app.client
    ip = http_app.ip
    st, h, body = get(c, ip, "/nothing")
    assert st == 404
    st, h, body = get(c, ip, "/bytes/67108865")
    assert st == 400 and b"limit of 67108864" in body
    st, h, body = get(c, ip, "/", method="POST", extra="Content-Length: 3\r\n")
    assert st == 405 and h["connection"] == "close"
    raw = get(c, ip, "/bytes/10", method="HEAD")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(b"\r\n\r\n")
    s = c.connect(ip, 80)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"y" * 9000 + b"\r\n\r\n")
    st, h, body, _ = read_response(s)
    assert st == 431 and h["connection"] == "close"
    assert s.recv(10) == b""  # a FIN after the answer, not a reset
    s.close()


def test_asyncio_http_parallel_clients(http_app):
    c = http_app.client
    socks = [c.connect(http_app.ip, 80) for _ in range(8)]
    for i, s in enumerate(socks):
        s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\n\r\n" % (1000 + i))
    for i, s in enumerate(socks):
        st, h, body, _ = read_response(s)
        assert st == 200 and body == http.pattern_bytes(0, 1000 + i)
    for s in socks:
        s.close()


def test_main_returning_a_coroutine_is_refused():
    """The image's runtime ignores main's value: host mode refuses it with the fix (status 1)."""
    from hostutil import run_cli

    d = tempfile.mkdtemp(prefix="exc", dir="/tmp")
    try:
        with open(os.path.join(d, "recipe.toml"), "w") as f:
            f.write('name = "coro"\n')
        with open(os.path.join(d, "app.py"), "w") as f:
            f.write("async def serve():\n    pass\n\n\ndef main(net):\n    return serve()\n")
        spec = "dgram:%s,%s" % (os.path.join(d, "s"), os.path.join(d, "p"))
        r = run_cli("host", d, "--net", spec, timeout=60)
        assert r.returncode == 1, r.stderr
        assert "aio.start(net, coro)" in r.stderr and "ready" not in r.stdout
        assert "never awaited" not in r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)
