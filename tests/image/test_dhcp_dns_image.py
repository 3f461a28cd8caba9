"""The echo image takes its address from DHCP and resolves names, against real peers:

- QEMU's own user-mode network as DHCP server (`-netdev user,restrict=on`: nothing leaves the
  VM; the only way in is a hostfwd bound to 127.0.0.1), under KVM and TCG;
- dnsmasq in a private namespace (tests/dnsmasq_net.py) over a tap: `ethox-uk exec IMAGE --net
  tap:tap0 --ip dhcp CODE` runs socket.getaddrinfo at the image's REPL (A, CNAME, AAAA, a
  40-record answer that needs TCP, NXDOMAIN); an address the namespace's kernel holds is
  declined (dnsmasq logs the DHCPDECLINE) and the guest ends with status 5;
- nobody answering at all: status 5 and the console says what was tried.
The time from QEMU's start to the ready line is printed (-s shows it). Root for the namespace
tests (CI runs as root); every wait is bounded.
"""

import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dnsmasq_net import BIG, DnsmasqNet  # noqa: E402
from test_pipeline import free_port  # noqa: E402

from ethox_uk.build import image as image_mod  # noqa: E402
from ethox_uk.netspec import NetOpts, parse_spec  # noqa: E402
from ethox_uk.publish import parse_publish  # noqa: E402
from ethox_uk.qemu import kvm  # noqa: E402
from ethox_uk.qemu.cmdline import Serial, assemble  # noqa: E402
from ethox_uk.qemu.status import guest_status  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
KVM = "kvm" if kvm.usable() else "tcg"
READY = re.compile(rb"^ethox-uk: ready ip=(\d+(?:\.\d+){3}) mac=52:54:00:12:34:56(?: ip6=\S+)?\r?$",
                   re.M)
BOOT_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def image():
    return image_mod.build("images/echo", output=REPO / "build" / "test-dhcp" / "echo.elf",
                           quiet=True)


class Console:
    """QEMU started from an argv, its console (stdout) collected."""

    def __init__(self, argv):
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.out = b""

    def wait_for(self, pattern, timeout):
        """The match of pattern in the console, or None at the deadline / QEMU's end."""
        dl = time.monotonic() + timeout
        while True:
            m = pattern.search(self.out)
            if m:
                return m
            left = dl - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.2))
            if r:
                d = os.read(self.proc.stdout.fileno(), 65536)
                if not d:
                    self.proc.wait(10)
                    return pattern.search(self.out)
                self.out += d

    def wait_exit(self, timeout):
        dl = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < dl:
            self.wait_for(re.compile(rb"(?!x)x"), 0.2)
        self.wait_for(re.compile(rb"(?!x)x"), 0.1)
        return self.proc.poll()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.mark.parametrize("accel", sorted({KVM, "tcg"}))
def test_image_lease_from_qemu_user_network(image, accel):
    port = free_port()
    # what `ethox-uk run IMAGE --ip dhcp -p PORT:80` builds
    net = NetOpts(parse_spec("user"), publish=(parse_publish("%d:80" % port),))
    argv = assemble(image, accel=accel, append="ip=dhcp", net=net, serial=Serial("stdio"))
    assert "restrict=on" in " ".join(argv) and "hostfwd=tcp:127.0.0.1:" in " ".join(argv)
    c = Console(argv)
    try:
        m = c.wait_for(READY, BOOT_TIMEOUT)
        took = time.monotonic() - c.t0
        assert m, c.out.decode(errors="replace")
        assert m.group(1) == b"10.0.2.15"  # the first address of slirp's pool
        assert b"ethox-uk: dhcp: bound 10.0.2.15/24 gw 10.0.2.2, lease 86400 s from 10.0.2.2" \
            in c.out, c.out
        print("%s: QEMU start -> ready line with ip=dhcp (RFC 5227 check included): %.2f s"
              % (accel, took))
        r = subprocess.run(["curl", "-s", "-m", "20", "http://127.0.0.1:%d/" % port],
                           capture_output=True, text=True, timeout=30)
        assert "<title>ethox-uk 10.0.2.15</title>" in r.stdout, r.stdout + r.stderr
        assert re.search(r"^dhcp_rx 2$", r.stdout, re.M) and \
            re.search(r"^internal_error 0$", r.stdout, re.M), r.stdout
    finally:
        c.stop()


EXEC = """
import socket
for name, fam in (("alpha.test", 0), ("www.test", 0), ("six.test", socket.AF_INET6),
                  ("big.test", socket.AF_INET), ("nowhere.test", 0)):
    try:
        print("resolved", name, " ".join([a[4][0] for a in socket.getaddrinfo(name, 80, fam)]))
    except OSError as e:
        print("failed", name, e.args[0])
c = net.config
print("config", ".".join([str(x) for x in c.ip]), c.prefix, ".".join([str(x) for x in c.gw]),
      [".".join([str(x) for x in d]) for d in c.dns], net.dhcp.state_name())
print("counters", net.counters["dns_tcp_queries_sent"], net.counters["internal_error"])
"""


def test_image_lease_and_names_from_dnsmasq(image):
    with DnsmasqNet() as net:
        t0 = time.monotonic()
        r = net.inside([sys.executable, "-m", "ethox_uk.cli", "exec", str(image), "--accel",
                        KVM, "--net", "tap:tap0", "--ip", "dhcp", EXEC], timeout=120,
                       cwd=str(REPO))
        took = time.monotonic() - t0
        log = net.log()
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    m = re.search(r"^config (10\.0\.2\.(\d+)) 24 10\.0\.2\.2 \['10\.0\.2\.2'\] bound$", out, re.M)
    assert m and 50 <= int(m.group(2)) <= 60, out
    ip = m.group(1)
    assert "resolved alpha.test 10.0.2.7" in out and "resolved www.test 10.0.2.7" in out, out
    assert "resolved six.test 2001:db8::7" in out, out
    big = re.search(r"^resolved big\.test (.*)$", out, re.M)
    assert big and sorted(big.group(1).split()) == sorted(BIG), out
    assert "failed nowhere.test -2" in out and "counters 1 0" in out, out
    assert "DHCPACK(veth0) %s 52:54:00:12:34:56" % ip in log, log
    assert "query[A] big.test from %s" % ip in log, log
    print("exec with ip=dhcp (boot, lease, 5 lookups, exit): %.2f s" % took)


def test_image_declines_an_address_in_use_then_exits_5(image):
    with DnsmasqNet(dhcp_range=("10.0.2.50", "10.0.2.50")) as net:
        net.ns.ip("addr", "add", "10.0.2.50/32", "dev", "lo")
        argv = net.prefix() + assemble(image, accel=KVM,
                                       append="ip=dhcp acd=700 dhcp_timeout=12",
                                       net=NetOpts(parse_spec("tap:tap0")),
                                       serial=Serial("stdio"))
        c = Console(argv)
        try:
            rc = c.wait_exit(60)
        finally:
            c.stop()
        log = net.log()
    out = c.out.decode(errors="replace")
    assert guest_status(rc) == 5, (rc, out)
    assert "ethox-uk: dhcp: 10.0.2.50 is in use by " in out, out
    assert re.search(r"every address offered was in use \([12] declined\) within 12 s", out), out
    assert "ethox-uk: ready" not in out
    assert "DHCPDECLINE(veth0) 10.0.2.50 52:54:00:12:34:56" in log, log


def test_image_without_a_server_exits_5(image):
    d = tempfile.mkdtemp(prefix="exdi", dir="/tmp")
    try:
        spec = parse_spec("dgram:%s/g,%s/p" % (d, d))
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        peer.bind(spec.remote)  # someone on the link, but no DHCP server
        argv = assemble(image, accel=KVM, append="ip=dhcp dhcp_timeout=5", net=NetOpts(spec),
                        serial=Serial("stdio"))
        c = Console(argv)
        try:
            rc = c.wait_exit(60)
        finally:
            c.stop()
        frames = []
        peer.setblocking(False)
        try:
            while True:
                frames.append(peer.recv(2048))
        except BlockingIOError:
            pass
        peer.close()
    finally:
        subprocess.run(["rm", "-rf", d])
    out = c.out.decode(errors="replace")
    assert guest_status(rc) == 5, (rc, out)
    assert ("ethox-uk: dhcp: no DHCP server answered 2 DISCOVERs within 5 s (MAC "
            "52:54:00:12:34:56): no address, exiting with status 5") in out, out
    discovers = [f for f in frames if len(f) == 14 + 576 and f[12:14] == b"\x08\x00"
                 and f[36:38] == b"\x00\x43"]
    assert len(discovers) == 2, [len(f) for f in frames]
