"""The Linux kernel's own TCP/IP as the client of `ethox-uk host images/echo --net dgram:L,R`.

Layout (ethox_uk.netsetup.KernelPeer): a private namespace this module creates and removes,
holding tap0 = 10.0.2.2/24 (the tester); a relay thread moves frames between tap0 and the
dgram sockets (it binds R and sends to L; the host stack binds L and sends to R). Every client
runs inside the namespace (`ip netns exec`), every step is bounded by timeouts, and the
teardown asserts that the namespace and the socket files are gone and that the host stopped
cleanly. Runs as root (CI does): a missing capability is a failure, never a skip.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest
from hostutil import ECHO, READY_TIMEOUT

from ethox_uk.host.process import HostProcess
from ethox_uk.netsetup import KernelPeer, list_namespaces

GUEST = "10.0.2.15"
GUEST_MAC = "52:54:00:12:34:56"
RELAY_LIMIT = 600  # seconds: the relay thread cannot outlive a hung module by more


class Harness:
    def __init__(self, dirname):
        self.dir = dirname
        self.local = os.path.join(dirname, "s")
        self.remote = os.path.join(dirname, "p")
        self.spec = "dgram:%s,%s" % (self.local, self.remote)
        self.kp = KernelPeer(self.spec, limit=RELAY_LIMIT)
        self.host = None
        try:
            self.host = HostProcess(ECHO, self.spec).start()
            self.ip, self.mac = self.host.wait_ready(READY_TIMEOUT)
        except BaseException:
            self.close()
            raise

    def run(self, argv, timeout=60, **kw):
        return self.kp.run(argv, timeout=timeout, **kw)

    def py(self, script, *args, timeout=60):
        """Run a Python client inside the namespace; its stdout lines (asserts status 0)."""
        r = self.kp.run([sys.executable, "-c", script, *map(str, args)], timeout=timeout)
        assert r.returncode == 0, "client failed (%d):\n%s\n%s\nrelay %s" % (
            r.returncode, r.stdout, r.stderr, self.kp.relay.stats())
        return r.stdout.splitlines()

    def close(self):
        status = out = err = None
        try:
            if self.host is not None and self.host.proc is not None:
                status = self.host.stop()
                out, err = self.host.communicate()
        finally:
            self.kp.close()
        return status, out, err


@pytest.fixture(scope="module")
def net():
    if os.geteuid() != 0:
        pytest.fail("this test needs root (network namespaces, /dev/net/tun); CI runs as root")
    d = tempfile.mkdtemp(prefix="exl", dir="/tmp")
    h = None
    try:
        h = Harness(d)
        yield h
    finally:
        try:
            status, out, err = h.close() if h is not None else (0, "", "")
        finally:
            shutil.rmtree(d, ignore_errors=True)
    name = h.kp.name
    assert name not in list_namespaces(), "namespace %s left behind" % name
    assert not os.path.exists(h.local) and not os.path.exists(h.remote)
    assert status == 0, err
    assert "internal error" not in (err or ""), err
    stats = h.kp.relay.stats()
    assert stats["sock_error"] == 0 and stats["tap_error"] == 0 and stats["oversize"] == 0, stats
    assert h.kp.relay.error is None, repr(h.kp.relay.error)


# -- clients (run inside the namespace) ---------------------------------------------------

UDP_ECHO = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = DONT: fragment 4000 locally
    s.settimeout(3)
    n = 0
    for size in (1, 64, 512, 1472, 4000) * 20:
        data = bytes((n + i) & 255 for i in range(size))
        s.sendto(data, (sys.argv[1], 7))
        got, addr = s.recvfrom(65535)
        assert got == data and addr == (sys.argv[1], 7), (size, len(got), addr)
        n += 1
    print("udp", n)
""")

# the shared raw-socket ping client (ethox_uk/netsetup/ping.py), run inside the namespace
PING = "import sys; from ethox_uk.netsetup.ping import ping; print('ping', ping(sys.argv[1]))"

TCP_ECHO = textwrap.dedent("""
    import hashlib, socket, sys, threading
    host, size = sys.argv[1], int(sys.argv[2])
    data = hashlib.shake_256(b"ethox-uk tcp echo").digest(size)
    s = socket.create_connection((host, 7), timeout=20)
    s.settimeout(20)
    err = []
    def writer():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except Exception as e:
            err.append(e)
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    h = hashlib.sha256()
    got = 0
    while True:
        b = s.recv(65536)
        if not b:
            break
        h.update(b)
        got += len(b)
    t.join(20)
    assert not err, err
    s.close()
    print("sent", hashlib.sha256(data).hexdigest(), size)
    print("got", h.hexdigest(), got)
""")

PARALLEL = textwrap.dedent("""
    import hashlib, socket, sys, threading
    host, conns, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    results = {}
    def one(i):
        data = hashlib.shake_256(b"conn %d" % i).digest(size)
        try:
            s = socket.create_connection((host, 7), timeout=30)
            s.settimeout(30)
            w = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)),
                                 daemon=True)
            w.start()
            got = bytearray()
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
            w.join(30)
            s.close()
            results[i] = "ok" if bytes(got) == data else "mismatch %d/%d" % (len(got), size)
        except Exception as e:
            results[i] = repr(e)
    ts = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(90)
    for i in range(conns):
        print(i, results.get(i, "hung"))
""")

REFUSED = textwrap.dedent("""
    import errno, socket, sys, time
    t = time.monotonic()
    s = socket.socket()
    s.settimeout(10)
    try:
        s.connect((sys.argv[1], int(sys.argv[2])))
        print("connected")
    except OSError as e:
        print(errno.errorcode.get(e.errno, e.errno), "%.3f" % (time.monotonic() - t))
""")


def pattern(n):
    return (bytes(range(256)) * (n // 256 + 1))[:n]


# -- without TCP: ARP, ICMP and UDP through the relay -------------------------------------

def test_kernel_resolves_and_udp_echoes_through_the_relay(net):
    assert (net.ip, net.mac) == (GUEST, GUEST_MAC)
    assert net.py(UDP_ECHO, GUEST, timeout=60) == ["udp 100"]
    neigh = net.run(["ip", "neigh", "show", GUEST]).stdout
    assert GUEST_MAC in neigh, neigh
    assert net.kp.relay.stats()["to_stack"] > 0


def test_kernel_pings_through_the_relay(net):
    assert net.py(PING, GUEST, timeout=60) == ["ping 20"]


# -- TCP against the echo image's services -------------------------------------------------

def test_tcp_echo_of_1_mib_with_sha256(net):
    size = 1 << 20
    t = time.monotonic()
    sent, got = net.py(TCP_ECHO, GUEST, size, timeout=120)
    took = time.monotonic() - t
    assert sent.split()[0] == "sent" and got.split()[0] == "got"
    assert got.split()[1:] == sent.split()[1:], (sent, got, "%.1f s" % took)


def test_16_parallel_echo_connections(net):
    lines = net.py(PARALLEL, GUEST, 16, 64 * 1024, timeout=150)
    assert lines == ["%d ok" % i for i in range(16)], lines


def test_closed_port_answers_rst(net):
    (line,) = net.py(REFUSED, GUEST, 81, timeout=30)
    what, took = line.split()
    assert what == "ECONNREFUSED", line  # an RST, not a timeout or an ICMP error
    assert float(took) < 3.0, line


def test_curl_bytes_1000000(net):
    n = 1000000
    r = net.run(["curl", "--silent", "--show-error", "--fail", "--max-time", "90",
                 "--http1.1", "http://%s/bytes/%d" % (GUEST, n)], timeout=120, text=False)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    body = r.stdout
    assert len(body) == n
    assert hashlib.sha256(body).digest() == hashlib.sha256(pattern(n)).digest(), \
        "body differs from the 0x00..0xff pattern at byte %d" % next(
            (i for i, (a, b) in enumerate(zip(body, pattern(n))) if a != b), -1)


def test_nc_to_discard(net):
    blob = os.path.join(net.dir, "blob")
    with open(blob, "wb") as f:
        f.write(pattern(1 << 20))
    try:
        t = time.monotonic()
        with open(blob, "rb") as f:
            # -N: shut down the write side at EOF; the discard service then closes; -w: idle cap
            r = net.run(["nc", "-N", "-w", "10", GUEST, "9"], stdin=f, timeout=60)
        took = time.monotonic() - t
    finally:
        os.remove(blob)
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert r.stdout == ""
    # well under nc's 10 s idle limit: the service closed after our FIN, nc did not time out
    assert took < 8, took


def test_counters_page_shows_no_internal_error(net):
    r = net.run(["curl", "--silent", "--show-error", "--fail", "--max-time", "20",
                 "http://%s/" % GUEST], timeout=30)
    assert r.returncode == 0, r.stderr
    counters = dict(line.split() for line in r.stdout.splitlines()
                    if len(line.split()) == 2 and line.split()[1].isdigit())
    assert counters["internal_error"] == "0", r.stdout
    # the kernel's checksums are all correct, so nothing may be dropped as corrupt
    for name in ("ipv4_bad_checksum", "tcp_bad_checksum", "udp_bad_checksum"):
        assert counters.get(name, "0") == "0", (name, r.stdout)
    assert int(counters["tcp_rx"]) > 1000 and int(counters["tcp_tx"]) > 1000, r.stdout


def test_no_address_of_the_test_net_in_the_root_namespace(net):
    out = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True,
                         timeout=10).stdout
    assert "10.0.2." not in out
