"""IPv6 in host mode (`ethox-uk host images/echo --net tap:tap0`) against the Linux
kernel in a private network namespace this test creates and removes: ping -6 to the
link-local address and, after radvd advertised a prefix, to the SLAAC address (also
fragmented both ways), ndisc6 resolving us, rdisc6 finding no router in us, UDP echo
from a kernel socket. Root only (CI is); nothing touches the root namespace."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hostutil import ECHO, ip, ns_run, tap_namespace

from ethox_uk.host.process import HostProcess
from ethox_uk.netsetup.radvd import Radvd

NS = "exuk-v6-%d" % os.getpid()
LL = "fe80::5054:ff:fe12:3456"
GLOBAL = "2001:db8:1:0:5054:ff:fe12:3456"  # SLAAC from radvd's prefix and our MAC
MAC = "52:54:00:12:34:56"


def in_ns(*argv, timeout=30):
    return ns_run(NS, *argv, timeout=timeout)


@pytest.fixture
def tap_ns():
    with tap_namespace(NS, ("10.0.2.2/24",), ("2001:db8:1::2/64", "nodad")) as ns:
        yield ns


def _host(ns):
    h = HostProcess(ECHO, "tap:tap0", prefix=["ip", "netns", "exec", ns]).start()
    h.wait_ready(30)
    # the kernel drops what it sends on the tap until its link watch marks it up, and
    # its own link-local passes DAD a second or two later
    deadline = time.monotonic() + 10
    while "tentative" in ip("-n", ns, "-6", "-o", "addr", "show", "dev", "tap0").stdout or \
            "state UP" not in ip("-n", ns, "-o", "link", "show", "tap0").stdout:
        assert time.monotonic() < deadline, "tap0 never came up"
        time.sleep(0.1)
    return h


def _ping_until(target, timeout=20.0, size=56):
    """ping -6 until one reply comes (the target's DAD may still run); the last result."""
    deadline = time.monotonic() + timeout
    while True:
        r = in_ns("ping", "-6", "-n", "-c", "1", "-W", "1", "-s", str(size), target)
        if r.returncode == 0 or time.monotonic() > deadline:
            return r
        time.sleep(0.3)


def _stop(h):
    status = h.stop()
    out, err = h.communicate()
    assert status == 0, err
    assert "internal error" not in err
    return out, err


UDP6_CLIENT = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(3)
    for size in (8, 1400, 4000):
        data = bytes(i & 255 for i in range(size))
        s.sendto(data, (sys.argv[1], 7, 0, socket.if_nametoindex("tap0")))
        got, addr = s.recvfrom(65536)
        assert got == data, "bad echo of %d bytes" % size
        print("echo", size, addr[0].split("%")[0])
""")


def test_linux_reaches_the_link_local_address(tap_ns):
    h = _host(tap_ns)
    try:
        assert h.ip6 == LL + "/64"
        r = _ping_until(LL + "%tap0")
        assert r.returncode == 0, r.stdout + r.stderr
        r = in_ns("ping", "-6", "-n", "-c", "3", "-i", "0.2", "-W", "2", LL + "%tap0")
        assert r.returncode == 0 and "3 received" in r.stdout, r.stdout + r.stderr
        # a ping that travels in fragments both ways
        r = in_ns("ping", "-6", "-n", "-c", "2", "-i", "0.2", "-W", "2", "-s", "3000",
                  LL + "%tap0")
        assert r.returncode == 0 and "2 received" in r.stdout, r.stdout + r.stderr
        # ndisc6: a solicitation answered with our MAC
        r = in_ns("ndisc6", "-1", "-r", "3", LL, "tap0")
        assert r.returncode == 0 and MAC.upper() in r.stdout.upper(), r.stdout + r.stderr
        # rdisc6: a host never answers router solicitations (RFC 4861 §6.2.6)
        r = in_ns("rdisc6", "-1", "-r", "2", "-w", "500", "tap0")
        assert r.returncode != 0 and "Router" not in r.stdout, r.stdout + r.stderr
        r = in_ns(sys.executable, "-c", UDP6_CLIENT, LL)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.split() == ["echo", "8", LL, "echo", "1400", LL, "echo", "4000", LL]
        neigh = in_ns("ip", "-6", "neigh", "show", LL).stdout
        assert MAC in neigh
    finally:
        out, err = _stop(h)


def test_radvd_prefix_gives_a_slaac_address_linux_reaches(tap_ns):
    h = _host(tap_ns)
    try:
        with Radvd(["ip", "netns", "exec", tap_ns], "tap0", "2001:db8:1::/64"):
            r = _ping_until(GLOBAL, timeout=30)
            assert r.returncode == 0, r.stdout + r.stderr
            r = in_ns("ping", "-6", "-n", "-c", "2", "-i", "0.2", "-W", "2", "-s", "2000",
                      GLOBAL)
            assert r.returncode == 0 and "2 received" in r.stdout, r.stdout + r.stderr
            r = in_ns(sys.executable, "-c", UDP6_CLIENT.replace(
                ", 0, socket.if_nametoindex(\"tap0\"))", ")"), GLOBAL)
            assert r.returncode == 0, r.stdout + r.stderr
            assert r.stdout.split()[-1] == GLOBAL
    finally:
        out, err = _stop(h)


def _pattern_sha(n):
    import hashlib

    return hashlib.sha256((bytes(range(256)) * (n // 256 + 1))[:n]).hexdigest()


def _tcp_checks(ns, target, http_only=False):
    """curl -6 /bytes/N (sha256 of the body) and, for images/echo, nc -6 through echo."""
    import hashlib

    url = "http://[%s]/bytes/1000000" % target.replace("%", "%25")
    r = subprocess.run(["ip", "netns", "exec", ns, "curl", "-6", "-g", "-sS", "-m", "60", url],
                       capture_output=True, timeout=90)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == 1000000
    assert hashlib.sha256(r.stdout).hexdigest() == _pattern_sha(1000000)
    if http_only:
        return
    data = hashlib.shake_256(b"ethox-uk ipv6 echo").digest(300000)
    r = subprocess.run(["ip", "netns", "exec", ns, "nc", "-6", "-N", "-w", "20", target, "7"],
                       input=data, capture_output=True, timeout=90)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(data).hexdigest()


def test_curl_and_nc_over_ipv6_to_echo_and_http(tap_ns):
    h = _host(tap_ns)
    try:
        assert _ping_until(LL + "%tap0").returncode == 0
        _tcp_checks(tap_ns, LL + "%tap0")
        r = in_ns("curl", "-6", "-g", "-sS", "-m", "20", "http://[%s%%25tap0]/" % LL)
        assert r.returncode == 0 and "rx_frames" in r.stdout, r.stderr
    finally:
        _stop(h)
    # images/http: the asyncio streams server, on the same dual-stack listener
    h = HostProcess(str(Path(ECHO).parent / "http"), "tap:tap0",
                    prefix=["ip", "netns", "exec", tap_ns]).start()
    try:
        h.wait_ready(30)
        assert _ping_until(LL + "%tap0").returncode == 0
        _tcp_checks(tap_ns, LL + "%tap0", http_only=True)
    finally:
        _stop(h)
