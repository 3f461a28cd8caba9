"""The echo image over IPv6 (`ethox-uk run IMAGE --net bridge`, KVM when there is one, else
TCG): the ready line's ip6= field, the Linux kernel in the bridge's namespace reaching the
link-local address (ping -6, fragmented both ways, ndisc6) and, once radvd advertises a
prefix there, the SLAAC address (ping -6, UDP echo from a kernel socket). The virtio-net
device delivers group frames without any filter set up (QEMU resets it promiscuous, and
we negotiate no VIRTIO_NET_F_CTRL_RX): the stack's Ethernet layer keeps 33:33 frames for the
IPv6 layer, which checks the groups it joined. Root (CI is); every wait is bounded."""

import hashlib
import os
import re
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ethox_uk.build import image as image_mod
from ethox_uk.netsetup import list_namespaces
from ethox_uk.netsetup.radvd import Radvd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_bridge import Run, bridge_run, pattern  # noqa: E402,F401 (bridge_run: the fixture)

REPO = Path(__file__).resolve().parents[2]
LL = "fe80::5054:ff:fe12:3456"
GLOBAL = "2001:db8:1:0:5054:ff:fe12:3456"
READY6 = re.compile(rb"^ethox-uk: ready ip=10\.0\.2\.15 mac=52:54:00:12:34:56 "
                    rb"ip6=fe80::5054:ff:fe12:3456/64\r?$", re.M)

UDP6_CLIENT = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(5)
    for size in (8, 1400, 3000):
        data = bytes(i & 255 for i in range(size))
        s.sendto(data, (sys.argv[1], 7))
        got, addr = s.recvfrom(65536)
        assert got == data, "bad echo of %d bytes" % size
        print("echo", size)
""")


@pytest.fixture(scope="module")
def image():
    return image_mod.build("images/echo", output=REPO / "build" / "test-ipv6" / "echo.elf",
                           quiet=True)


def _until(run, argv, timeout):
    deadline = time.monotonic() + timeout
    while True:
        r = run.inside(argv, timeout=30, text=True)
        if r.returncode == 0 or time.monotonic() > deadline:
            return r
        time.sleep(0.3)


def test_linux_reaches_the_image_over_ipv6(bridge_run):
    run = bridge_run
    ns = run.wait_ready()
    assert READY6.search(run.out), bytes(run.out)
    run.inside(["ip", "-6", "addr", "add", "2001:db8:1::2/64", "dev", "veth0", "nodad"],
               check=True)
    # the guest's DAD ends about a second after the ready line; the tester's own too
    r = _until(run, ["ping", "-6", "-n", "-c", "1", "-W", "1", LL + "%veth0"], 30)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run.inside(["ping", "-6", "-n", "-c", "3", "-i", "0.2", "-W", "3", "-s", "3000",
                    LL + "%veth0"], text=True)
    assert r.returncode == 0 and "3 received" in r.stdout, r.stdout + r.stderr
    r = run.inside(["ndisc6", "-1", "-r", "3", LL, "veth0"], text=True)
    assert r.returncode == 0 and "52:54:00:12:34:56" in r.stdout.lower(), r.stdout + r.stderr
    with Radvd(["ip", "netns", "exec", ns], "veth0", "2001:db8:1::/64"):
        r = _until(run, ["ping", "-6", "-n", "-c", "1", "-W", "1", GLOBAL], 40)
        assert r.returncode == 0, r.stdout + r.stderr
        r = run.inside([sys.executable, "-c", UDP6_CLIENT, GLOBAL], text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.split() == ["echo", "8", "echo", "1400", "echo", "3000"]
        # TCP: curl -6 (sha256 of 1 MB from /bytes/N) and nc -6 through echo
        r = run.inside(["curl", "-6", "-g", "-sS", "-m", "60",
                        "http://[%s]/bytes/1000000" % GLOBAL])
        assert r.returncode == 0, r.stderr
        assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(pattern(1000000)).hexdigest()
        data = hashlib.shake_256(b"ethox-uk image ipv6").digest(300000)
        r = run.inside(["nc", "-6", "-N", "-w", "20", LL + "%veth0", "7"], input=data,
                       timeout=90)
        assert r.returncode == 0, r.stderr
        assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(data).hexdigest()
    assert os.path.exists(str(REPO / "build" / "test-ipv6" / "echo.elf"))


def test_http_image_serves_curl_over_ipv6():
    img = image_mod.build("images/http", output=REPO / "build" / "test-ipv6" / "http.elf",
                          quiet=True)
    run = Run(img)
    try:
        run.wait_ready()
        r = _until(run, ["ping", "-6", "-n", "-c", "1", "-W", "1", LL + "%veth0"], 30)
        assert r.returncode == 0, r.stdout + r.stderr
        r = run.inside(["curl", "-6", "-g", "-sS", "-m", "60",
                        "http://[%s%%25veth0]/bytes/1000000" % LL])
        assert r.returncode == 0, r.stderr
        assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(pattern(1000000)).hexdigest()
    finally:
        run.stop()
    assert run.ns not in list_namespaces()
    assert b"internal error" not in run.out
