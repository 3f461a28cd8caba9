"""A SYN flood from 1,000 spoofed on-link sources against a booted echo image on a tap (the
hostile-peers issue): an established transfer keeps at least half its throughput, a new
client gets in (SYN cookies), the live peer's ARP entry survives. 4 s in make test, 10 s in
make soak (ETHOX_UK_SOAK=1)."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guest_on_link import GuestOnLink  # noqa: E402

from ethox_uk.build import image as image_mod  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FULL = os.environ.get("ETHOX_UK_SOAK") == "1"


@pytest.fixture(scope="module")
def image():
    return image_mod.build("images/echo", output=REPO / "build" / "test-soak" / "echo.elf",
                           quiet=True)


FLOOD = textwrap.dedent("""
    # SYNs to 10.0.2.15:80 from `sources` spoofed on-link addresses (random MACs), through
    # a packet socket on tap0, for `seconds` at about `rate` a second
    import random, socket, struct, sys, time
    sources, seconds, rate = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    def csum(b):
        if len(b) % 2:
            b += b"\\0"
        s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        while s >> 16:
            s = (s & 0xffff) + (s >> 16)
        return ~s & 0xffff
    rng = random.Random(7)
    hosts = [x for x in range(3, 255) if x != 15]
    src = []
    for i in range(sources):
        ip = bytes((10, 0, 2, hosts[i % len(hosts)])) if i < len(hosts) else \\
            bytes((10, 0, 2, rng.choice(hosts)))
        src.append((ip, bytes((0x52, 0x54, 0x01, rng.randrange(256), rng.randrange(256),
                               rng.randrange(256)))))
    dst_ip = bytes((10, 0, 2, 15))
    dst_mac = bytes.fromhex("525400123456")
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind(("tap0", 0))
    sent = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        ip, mac = src[sent % len(src)]
        sport = 1024 + rng.randrange(60000)
        tcp = struct.pack("!HHIIBBHHH", sport, 80, rng.getrandbits(32), 0, 0x50, 0x02, 65535, 0, 0)
        ph = ip + dst_ip + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
        iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, sent & 0xffff, 0, 64, 6, 0, ip, dst_ip)
        iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
        s.send(dst_mac + mac + b"\\x08\\x00" + iph + tcp)
        sent += 1
        lag = sent / rate - (time.monotonic() - t0)
        if lag > 0:
            time.sleep(lag)
    print("flood", sent)
""")

DISCARD = textwrap.dedent("""
    import socket, sys, time
    seconds = float(sys.argv[1])
    s = socket.create_connection(("10.0.2.15", 9), timeout=10)
    chunk = bytes(65536)
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        s.sendall(chunk)
        n += len(chunk)
    s.close()
    print("%.1f" % (n * 8 / (time.monotonic() - t0) / 1e6))
""")


def test_a_syn_flood_from_spoofed_on_link_sources_leaves_the_guest_serving(image):
    sources = 1000
    seconds = 10 if FULL else 4
    with GuestOnLink(image, "tap") as g:
        r = g.inside([sys.executable, "-c", DISCARD, "3"], timeout=60, text=True)
        assert r.returncode == 0, r.stderr
        before = float(r.stdout)
        flood = g.link.ns.popen([sys.executable, "-c", FLOOD, str(sources), str(seconds),
                                 "500"], stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)
            r = g.inside([sys.executable, "-c", DISCARD, str(seconds - 1.5)], timeout=60,
                         text=True)
            assert r.returncode == 0, r.stderr
            during = float(r.stdout)
            r = g.inside(["curl", "-s", "-m", "10", "http://10.0.2.15/bytes/1000"],
                         timeout=30, text=False)  # the body is bytes 0x00..0xff
            assert r.returncode == 0 and len(r.stdout) == 1000, "a new client did not get in"
        finally:
            out, _ = flood.communicate(timeout=seconds + 30)
        st = g.exec("c = net.counters.c; print(c['tcp_syncookies_sent'], c['internal_error'],"
                    " net.arp.mac_for(b'\\x0a\\x00\\x02\\x02', net.now) is not None)")
        cookies, errors, peer_known = st.split()
        print("discard %.0f Mbit/s before, %.0f during a flood of %s SYNs; %s cookies"
              % (before, during, out.split()[-1], cookies))
        assert int(errors) == 0
        assert int(cookies) > 0
        assert during >= before * 0.5, (before, during)
        assert peer_known == "True", "the live peer's ARP entry was lost"
