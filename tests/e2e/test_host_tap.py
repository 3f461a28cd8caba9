"""`ethox-uk host images/echo --net tap:tap0` inside a private network namespace this test
creates and removes; the Linux kernel in that namespace is the peer (ping, a UDP socket).
Runs as root (CI does); nothing touches the root namespace."""

import os
import sys
import textwrap
import time

import pytest
from hostutil import ECHO, ip, ns_run, tap_namespace

from ethox_uk.host.process import HostProcess

NS = "exuk-tap-%d" % os.getpid()


def in_ns(*argv, timeout=30):
    return ns_run(NS, *argv, timeout=timeout)


@pytest.fixture
def tap_ns():
    with tap_namespace(NS, ("10.0.2.2/24",)) as ns:
        yield ns


# ping(8) is not among the packages we install: the same from a raw socket (root, in the ns).
PINGER = textwrap.dedent("""
    import os, socket, sys
    def csum(b):
        if len(b) % 2:
            b += b"\\0"
        s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2))
        while s >> 16:
            s = (s & 0xffff) + (s >> 16)
        return ~s & 0xffff
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = DONT: fragment locally
    s.settimeout(3)
    ident = os.getpid() & 0xffff
    for seq, size in enumerate(int(a) for a in sys.argv[1:]):
        data = bytes(i & 255 for i in range(size))
        hdr = bytes([8, 0, 0, 0]) + ident.to_bytes(2, "big") + seq.to_bytes(2, "big")
        c = csum(hdr + data)
        s.sendto(hdr[:2] + c.to_bytes(2, "big") + hdr[4:] + data, ("10.0.2.15", 0))
        while True:
            pkt = s.recv(65535)
            icmp = pkt[(pkt[0] & 15) * 4:]
            if icmp[0] == 0 and icmp[4:6] == ident.to_bytes(2, "big"):
                break
        assert icmp[6:8] == seq.to_bytes(2, "big") and icmp[8:] == data, "bad reply"
        assert csum(icmp) == 0, "bad checksum"
        print("reply", seq, len(icmp) - 8)
""")

UDP_CLIENT = textwrap.dedent("""
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(b"over the tap", ("10.0.2.15", 7))
    data, addr = s.recvfrom(2048)
    print(data.decode(), addr[0], addr[1])
""")


def test_linux_pings_and_udp_echo_over_tap(tap_ns):
    h = HostProcess(ECHO, "tap:tap0", prefix=["ip", "netns", "exec", tap_ns]).start()
    try:
        assert h.wait_ready(30) == ("10.0.2.15", "52:54:00:12:34:56")
        # the kernel drops what it sends on the tap until its link watch marks it up
        deadline = time.monotonic() + 5
        while "state UP" not in ip("-n", tap_ns, "-o", "link", "show", "tap0").stdout:
            assert time.monotonic() < deadline, "tap0 never came up"
            time.sleep(0.05)
        r = in_ns(sys.executable, "-c", PINGER, "56", "1000", "1000", "4000")  # 4000: fragments
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.splitlines() == ["reply 0 56", "reply 1 1000", "reply 2 1000",
                                         "reply 3 4000"]
        r = in_ns(sys.executable, "-c", UDP_CLIENT)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["over", "the", "tap", "10.0.2.15", "7"]
        neigh = in_ns("ip", "neigh", "show", "10.0.2.15").stdout
        assert "52:54:00:12:34:56" in neigh
    finally:
        status = h.stop()
        out, err = h.communicate()
    assert status == 0, err
    assert "internal error" not in err


TCP_CLIENT = textwrap.dedent("""
    import hashlib, socket, sys, time
    n = int(sys.argv[1])
    # HTTP: the image's pattern, 0x00..0xff repeating
    s = socket.create_connection(("10.0.2.15", 80), timeout=10)
    s.sendall(b"GET /bytes/%d HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n" % n)
    data = b""
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        data += d
    body = data.split(b"\\r\\n\\r\\n", 1)[1]
    want = (bytes(range(256)) * (n // 256 + 1))[:n]
    print("http", len(body), hashlib.sha256(body).hexdigest() == hashlib.sha256(want).hexdigest())
    # discard: n bytes in, every byte acknowledged before the close completes
    s = socket.create_connection(("10.0.2.15", 9), timeout=10)
    chunk = bytes(65536)
    left = n
    while left:
        k = min(left, len(chunk))
        s.sendall(chunk[:k])
        left -= k
    s.shutdown(socket.SHUT_WR)
    print("discard", s.recv(1) == b"")
""")


def test_offloads_carry_64k_segments_both_ways_over_tap(tap_ns):
    """The tap NIC's vnet header (the guest driver's offload path, without a VM):
    the kernel hands over merged segments and takes ours to cut; what arrives is
    byte for byte the stream."""
    h = HostProcess(ECHO, "tap:tap0", prefix=["ip", "netns", "exec", tap_ns]).start()
    try:
        h.wait_ready(30)
        deadline = time.monotonic() + 5
        while "state UP" not in ip("-n", tap_ns, "-o", "link", "show", "tap0").stdout:
            assert time.monotonic() < deadline, "tap0 never came up"
            time.sleep(0.05)
        r = in_ns(sys.executable, "-c", TCP_CLIENT, str(16 << 20), timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.splitlines() == ["http %d True" % (16 << 20), "discard True"]
    finally:
        status = h.stop()
        out, err = h.communicate()
    assert status == 0, err
    assert "internal error" not in err
    import re
    m = re.search(r"offloads csum tso4: (\d+) merged frames in, (\d+) segmentation frames out",
                  err)
    assert m, err
    assert int(m.group(1)) > 0 and int(m.group(2)) > 0, err
