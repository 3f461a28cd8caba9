"""virtio-net offloads against QEMU's own device: the echo image on a tap in a private namespace
this test makes and removes (QEMU offers checksum, TSO and GRO there: tap has a vnet header),
and on the default private dgram link (no vnet header: no offloads, the plain path).

Over the tap, the Linux kernel in the namespace is the peer: 64 MiB through TCP echo (both
ways at once) and GET /bytes/64MiB, sha256 checked; the guest's counters must show merged
(GRO) frames received and segments handed to the device to cut (TSO), and no internal error.
KVM on microvm when /dev/kvm works, TCG otherwise (never skipped). Root is required (CI runs as
root). Throughput is printed (-s), never asserted."""

import hashlib
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from ethox_uk.build import image as image_mod
from ethox_uk.qemu import kvm

REPO = Path(__file__).resolve().parents[2]
GUEST = "10.0.2.15"
ACCEL = "kvm" if kvm.usable() else "tcg"
NS = "exuk-offl-%d" % os.getpid()
SIZE = 64 << 20


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "ethox_uk.cli", *args], cwd=REPO,
                          capture_output=True, text=True, **kw)


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


@pytest.fixture(scope="module")
def image():
    return image_mod.build("images/echo", output=REPO / "build" / "test-offloads" / "echo.elf",
                           quiet=True)


@pytest.fixture
def tap_guest(image):
    if os.geteuid() != 0:
        pytest.fail("a tap in a private namespace needs root; CI runs as root")
    ip("netns", "del", NS, check=False)
    ip("netns", "add", NS)
    d = tempfile.mkdtemp(prefix="exoff", dir="/tmp")
    con = os.path.join(d, "con")
    proc = None
    try:
        ip("-n", NS, "link", "set", "lo", "up")
        ip("-n", NS, "tuntap", "add", "dev", "tap0", "mode", "tap")
        ip("-n", NS, "addr", "add", "10.0.2.2/24", "dev", "tap0")
        ip("-n", NS, "link", "set", "tap0", "up")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", NS, sys.executable, "-m", "ethox_uk.cli", "run", str(image),
             "--net", "tap:tap0", "--accel", ACCEL, "--serial", "unix:" + con],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        ok = False
        while time.monotonic() < deadline:
            r = cli("exec", "--attach", "unix:" + con, "print('up', net.config.ip)", timeout=30) \
                if os.path.exists(con) else None
            if r is not None and r.returncode == 0 and "up" in r.stdout:
                ok = True
                break
            time.sleep(0.3)
        assert ok, "the guest never answered on its console: %s" % (r and (r.stdout + r.stderr))
        yield con
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        ip("netns", "del", NS, check=False)
        subprocess.run(["rm", "-rf", d])
    assert NS not in ip("netns", "list").stdout


CLIENT = textwrap.dedent("""
    import hashlib, socket, sys, threading, time
    size = int(sys.argv[1])
    data = hashlib.shake_256(b"ethox-uk offloads").digest(1 << 20) * (size >> 20)
    # TCP echo: the whole stream out while reading it back
    s = socket.create_connection(("10.0.2.15", 7), timeout=30)
    s.settimeout(60)
    t0 = time.monotonic()
    th = threading.Thread(target=s.sendall, args=(data,))
    th.start()
    h = hashlib.sha256()
    got = 0
    while got < size:
        b = s.recv(1 << 20)
        if not b:
            break
        h.update(b)
        got += len(b)
    th.join()
    t = time.monotonic() - t0
    print("echo", got, h.hexdigest() == hashlib.sha256(data).hexdigest(),
          "%.0f" % (got * 8 / t / 1e6))
    s.close()
    # HTTP: the 0x00..0xff pattern
    s = socket.create_connection(("10.0.2.15", 80), timeout=30)
    s.settimeout(60)
    s.sendall(b"GET /bytes/%d HTTP/1.1\\r\\nHost: g\\r\\nConnection: close\\r\\n\\r\\n" % size)
    t0 = time.monotonic()
    buf = bytearray()
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        buf += b
    t = time.monotonic() - t0
    body = bytes(buf.split(b"\\r\\n\\r\\n", 1)[1])
    want = hashlib.sha256((bytes(range(256)) * (size // 256))[:size]).hexdigest()
    print("http", len(body), hashlib.sha256(body).hexdigest() == want,
          "%.0f" % (len(body) * 8 / t / 1e6))
""")


def test_64mib_each_way_with_offloads_over_tap(tap_guest):
    con = tap_guest
    r = cli("exec", "--attach", "unix:" + con, "print(' '.join(net.nic.offloads()))", timeout=30)
    assert r.returncode == 0, r.stderr
    offl = r.stdout.split()
    for f in ("csum", "guest_csum", "host_tso4", "guest_tso4", "mrg_rxbuf"):
        assert f in offl, r.stdout
    r = subprocess.run(["ip", "netns", "exec", NS, sys.executable, "-c", CLIENT, str(SIZE)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.split("\n")
    echo = lines[0].split()
    http = lines[1].split()
    assert echo[:3] == ["echo", str(SIZE), "True"], r.stdout
    assert http[:3] == ["http", str(SIZE), "True"], r.stdout
    print("%s: echo 64 MiB each way %s Mbit/s, GET /bytes/64MiB %s Mbit/s"
          % (ACCEL, echo[3], http[3]))
    r = cli("exec", "--attach", "unix:" + con,
            "st = net.nic.stats(); c = net.counters.c; "
            "print(st['rx_merged'], st['tx_tso'], c['internal_error'], c['tcp_bad_checksum'])",
            timeout=30)
    assert r.returncode == 0, r.stderr
    merged, tso, errors, bad = [int(x) for x in r.stdout.split()]
    assert merged > 0, "no merged (GRO) frame came in"
    assert tso > 0, "no segment went to the device to cut (TSO)"
    assert errors == 0 and bad == 0


def test_without_a_vnet_header_no_offload_is_negotiated(image):
    # exec's default link is a private dgram pair: QEMU offers no offloads there
    r = cli("exec", str(image), "--accel", ACCEL,
            "print(' '.join(net.nic.offloads()), net.nic.tx_csum, net.nic.tso_max)", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    words = r.stdout.split()
    assert words[-2:] == ["False", "0"], r.stdout
    for f in ("csum", "guest_csum", "host_tso4", "guest_tso4"):
        assert f not in words, r.stdout
    assert "mrg_rxbuf" in words and "event_idx" in words
