"""Host NICs: DgramNic (unix datagram sockets), PcapNic (pcap recording), TapNic (Linux tap
inside a network namespace this test creates and removes). CPython only; the dgram NIC is also
exercised under the MicroPython unix port (the bench runs it there)."""

import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether
from scapy.utils import rdpcap

from ethox_uk.build import toolchain
from ethox_uk.stack.nic.base import BUF_SIZE, MAX_FRAME
from ethox_uk.stack.nic.dgram import DgramNic, check_path
from ethox_uk.stack.nic.pair import make_pair
from ethox_uk.stack.nic.pcap import PcapNic
from ethox_uk.stack.nic.tap import check_ifname

ROOT = Path(__file__).resolve().parent.parent
WAIT = 5.0  # seconds: every wait here is bounded


@pytest.fixture
def sockdir():
    d = tempfile.mkdtemp(prefix="exnic", dir="/tmp")  # short: sun_path < 100 bytes
    yield d
    shutil.rmtree(d, ignore_errors=True)


def frame(n=60, fill=0xAB):
    f = bytearray([fill]) * n
    f[0:6] = b"\x52\x54\x00\x00\x00\x02"
    f[6:12] = b"\x52\x54\x00\x00\x00\x01"
    f[12:14] = b"\x08\x00"
    return bytes(f)


def recv_all(nic, budget=64, timeout=WAIT, want=1):
    """Frames received by nic (as bytes), waiting up to timeout for at least `want`."""
    out = []

    def grab(view, length):
        out.append(bytes(view[:length]))
        return 0

    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        select.select([nic.fileno()], [], [], 0.05)
        nic.receive(grab, budget)
    return out


def send(nic, data):
    buf = nic.tx_buffer()
    assert buf is not None
    buf[: len(data)] = data
    nic.send(buf, len(data))


def pair_of_dgram(d):
    a_path, b_path = os.path.join(d, "a"), os.path.join(d, "b")
    return DgramNic(a_path, b_path), DgramNic(b_path, a_path)


# -- DgramNic -----------------------------------------------------------------------------

def test_dgram_back_to_back_frames_and_in_place_reply(sockdir):
    a, b = pair_of_dgram(sockdir)
    try:
        sent = [frame(60 + i, i) for i in range(10)] + [frame(MAX_FRAME, 0x55)]
        for f in sent:
            send(a, f)
        got = recv_all(b, want=len(sent))
        assert got == sent  # one frame per datagram, order kept, lengths kept

        def reply(view, length):  # answer in place: swap MACs, shorter frame
            view[0:6], view[6:12] = bytes(view[6:12]), bytes(view[0:6])
            view[14] = 0x42
            return 40

        send(a, frame(100, 7))
        deadline = time.monotonic() + WAIT
        handled = 0
        while not handled and time.monotonic() < deadline:
            select.select([b.fileno()], [], [], 0.05)
            handled = b.receive(reply, 8)
        assert handled == 1
        back = recv_all(a)
        assert len(back) == 1 and len(back[0]) == 40
        assert back[0][0:6] == frame()[6:12] and back[0][14] == 0x42
        assert a.stats()["tx_frames"] == 12 and b.stats()["tx_frames"] == 1
        assert b.stats()["rx_frames"] == 12
    finally:
        a.close()
        b.close()


def test_dgram_budget_limits_one_receive_call(sockdir):
    a, b = pair_of_dgram(sockdir)
    try:
        for i in range(5):
            send(a, frame(60, i))
        time.sleep(0.05)
        seen = []
        assert b.receive(lambda v, n: seen.append(n) or 0, 3) == 3
        assert b.receive(lambda v, n: seen.append(n) or 0, 3) == 2
        assert b.receive(lambda v, n: seen.append(n) or 0, 3) == 0  # non-blocking
        assert len(seen) == 5
    finally:
        a.close()
        b.close()


def test_dgram_missing_peer_is_a_counted_drop(sockdir):
    a = DgramNic(os.path.join(sockdir, "a"), os.path.join(sockdir, "nobody"))
    try:
        send(a, frame())  # ENOENT
        assert a.stats()["tx_no_peer"] == 1 and a.stats()["tx_frames"] == 0
        # a stale socket file with nobody bound to it: ECONNREFUSED
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        stale.bind(os.path.join(sockdir, "nobody"))
        stale.close()
        send(a, frame())
        assert a.stats()["tx_no_peer"] == 2
    finally:
        a.close()


def test_dgram_full_peer_queue_is_a_counted_drop(sockdir):
    a = DgramNic(os.path.join(sockdir, "a"), os.path.join(sockdir, "b"))
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    peer.bind(os.path.join(sockdir, "b"))
    try:
        for _ in range(5000):  # the peer never reads
            send(a, frame(MAX_FRAME))
            if a.stats()["tx_peer_full"]:
                break
        assert a.stats()["tx_peer_full"] >= 1
    finally:
        a.close()
        peer.close()


def test_dgram_full_peer_queue_defers_in_order_then_delivers(sockdir):
    a, b = pair_of_dgram(sockdir)
    try:
        sent = [frame(60 + i, i) for i in range(40)]  # Linux queues only ~10 per socket
        for f in sent:
            send(a, f)
        assert a.tx_pending() > 0 and a.stats()["tx_deferred"] > 0
        got = []
        deadline = time.monotonic() + WAIT
        while len(got) < len(sent) and time.monotonic() < deadline:
            got += recv_all(b, timeout=0.05, want=1)
            a.flush()
        assert got == sent
        assert a.tx_pending() == 0 and a.stats()["tx_peer_full"] == 0
    finally:
        a.close()
        b.close()


def test_dgram_stale_socket_file_is_replaced_and_removed_on_close(sockdir):
    path = os.path.join(sockdir, "a")
    old = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    old.bind(path)
    old.close()  # leaves the file behind, as QEMU does
    assert os.path.exists(path)
    a = DgramNic(path, os.path.join(sockdir, "b"))
    assert os.path.exists(path)
    a.close()
    assert not os.path.exists(path)
    a.close()  # twice is harmless


def test_dgram_refuses_to_remove_a_regular_file(sockdir):
    path = os.path.join(sockdir, "a")
    Path(path).write_text("precious")
    with pytest.raises(ValueError, match="not a socket"):
        DgramNic(path, os.path.join(sockdir, "b"))
    assert Path(path).read_text() == "precious"


def test_dgram_oversize_and_runt_datagrams(sockdir):
    b = DgramNic(os.path.join(sockdir, "b"), os.path.join(sockdir, "a"))
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    raw.bind(os.path.join(sockdir, "a"))
    try:
        raw.sendto(b"\x00" * (BUF_SIZE + 100), b.local)  # longer than the buffer
        raw.sendto(b"\x00" * (MAX_FRAME + 1), b.local)
        raw.sendto(b"\x01\x02", b.local)  # a runt still goes up: the stack counts it
        got = recv_all(b)
        assert got == [b"\x01\x02"]
        assert b.stats()["rx_oversize"] == 2
    finally:
        b.close()
        raw.close()


def test_dgram_tx_buffers_are_a_fixed_pool(sockdir):
    a = DgramNic(os.path.join(sockdir, "a"), os.path.join(sockdir, "b"), tx_slots=2)
    try:
        x, y = a.tx_buffer(), a.tx_buffer()
        assert x is not None and y is not None and a.tx_buffer() is None
        assert len(x) >= BUF_SIZE
        a.send(x, 60)  # no peer: dropped, but the buffer comes back
        assert a.tx_buffer() is x
    finally:
        a.close()


def test_dgram_socket_path_length_is_checked():
    with pytest.raises(ValueError, match="under 100"):
        check_path("/tmp/" + "x" * 100)
    check_path("/tmp/" + "x" * 94)  # 99 bytes is fine
    with pytest.raises(ValueError, match="under 100"):
        DgramNic("/tmp/" + "y" * 120, "/tmp/z")


def test_dgram_nic_runs_under_micropython(sockdir):
    """The bench drives DgramNic from the MicroPython unix port: frames and replies."""
    mp = toolchain.micropython_unix()
    a_path, b_path = os.path.join(sockdir, "a"), os.path.join(sockdir, "b")
    peer = DgramNic(a_path, b_path)
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from ethox_uk.stack.nic.dgram import DgramNic
        nic = DgramNic({b_path!r}, {a_path!r})
        print("bound")
        seen = 0
        def echo(view, n):
            global seen
            seen += 1
            view[14] = 0x99
            return n
        t0 = time.ticks_ms()
        while seen < 3 and time.ticks_diff(time.ticks_ms(), t0) < 5000:
            nic.receive(echo, 8)
            time.sleep_ms(5)
        nic.close()
        print("seen", seen, nic.stats()["tx_frames"])
    """)
    p = subprocess.Popen([str(mp), "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "bound"
        for i in range(3):
            send(peer, frame(60 + i, 1))
        got = recv_all(peer, want=3)
        out, _ = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        peer.close()
    assert out.split() == ["seen", "3", "3"]
    assert [len(g) for g in got] == [60, 61, 62] and all(g[14] == 0x99 for g in got)
    assert not os.path.exists(b_path)


# -- PcapNic ------------------------------------------------------------------------------

def test_pcap_records_received_replied_and_sent_frames(tmp_path):
    a, b = make_pair()
    path = tmp_path / "t.pcap"
    nic = PcapNic(a, str(path))
    req = bytes(Ether(dst="52:54:00:12:34:56", src="52:54:00:00:00:02")
                / IP(src="10.0.2.2", dst="10.0.2.15") / ICMP(id=1, seq=1) / b"hello")
    a.inject(req)
    a.inject(frame(70))

    def handler(view, length):
        if length == len(req):
            view[14 + 20] = 0  # "echo reply", in place
            return length
        return 0

    assert nic.receive(handler, 8) == 2
    out = b"\x52\x54\x00\x00\x00\x02" + b"\x52\x54\x00\x12\x34\x56" + b"\x08\x06" + b"\x01" * 28
    send(nic, out)
    # readable before close: every record is flushed
    pk = rdpcap(str(path))
    assert [bytes(p) for p in pk] == [req, req[:34] + b"\x00" + req[35:], frame(70), out]
    assert pk[0][ICMP].type == 8 and pk[1][ICMP].type == 0
    assert b.frames() == [req[:34] + b"\x00" + req[35:], out]  # the inner NIC still sends
    nic.close()
    raw = path.read_bytes()
    assert raw[:4] == b"\xd4\xc3\xb2\xa1" and raw[20:24] == b"\x01\x00\x00\x00"
    assert len(rdpcap(str(path))) == 4
    assert rdpcap(str(path))[0].time > time.time() - 60


def test_pcap_timestamps_come_from_the_clock(tmp_path):
    a, _ = make_pair()
    ticks = iter([1_700_000_000_123_456_000, 1_700_000_001_000_001_000])
    nic = PcapNic(a, str(tmp_path / "c.pcap"), clock=lambda: next(ticks))
    send(nic, frame())
    send(nic, frame())
    nic.close()
    pk = rdpcap(str(tmp_path / "c.pcap"))
    assert [int(p.time * 1_000_000) for p in pk] == [1_700_000_000_123_456,
                                                     1_700_000_001_000_001]


# -- TapNic (inside a private namespace) --------------------------------------------------

def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20,
                          check=check)


@pytest.fixture
def netns():
    name = "exuk-nic-%d" % os.getpid()
    _ip("netns", "del", name, check=False)
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        _ip("netns", "del", name, check=False)
    assert name not in _ip("netns", "list").stdout


TAP_HELPER = textwrap.dedent("""
    import select, sys, time
    sys.path.insert(0, sys.argv[1])
    from scapy.layers.l2 import ARP, Ether
    from scapy.layers.inet import IP, ICMP
    from ethox_uk.stack.nic.tap import TapNic
    MAC, ME, PEER = "52:54:00:12:34:56", "10.0.2.15", "10.0.2.2"
    nic = TapNic("tap0")
    got = []
    def grab(view, n):
        got.append(bytes(view[:n]))
        return 0
    def send(pkt):
        data = bytes(pkt)
        buf = nic.tx_buffer()
        buf[:len(data)] = data
        nic.send(buf, len(data))
    def exchange(pkt, pred):
        # resend every 0.3 s: until the kernel's link watch activates the freshly
        # attached tap (carrier up), what it transmits on it is dropped
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            send(pkt)
            again = time.monotonic() + 0.3
            while time.monotonic() < again:
                select.select([nic.fileno()], [], [], 0.05)
                nic.receive(grab, 16)
                for f in got:
                    p = Ether(f)
                    if pred(p):
                        return p
        raise SystemExit("timed out; saw %d frames" % len(got))
    r = exchange(Ether(dst="ff:ff:ff:ff:ff:ff", src=MAC)
                 / ARP(op=1, hwsrc=MAC, psrc=ME, pdst=PEER),
                 lambda p: ARP in p and p[ARP].op == 2)
    print("arp", r[ARP].psrc, r[ARP].hwdst, r.dst)
    r = exchange(Ether(dst=r[ARP].hwsrc, src=MAC) / IP(src=ME, dst=PEER)
                 / ICMP(id=77, seq=5) / b"tap-payload",
                 lambda p: ICMP in p and p[ICMP].type == 0)
    print("icmp", r[IP].src, r[ICMP].id, r[ICMP].seq, bytes(r[ICMP].payload).decode())
    print("stats", nic.stats()["rx_oversize"], nic.stats()["tx_error"])
    nic.close()
""")


def test_tap_nic_talks_to_the_kernel_inside_a_namespace(netns):
    _ip("-n", netns, "tuntap", "add", "dev", "tap0", "mode", "tap")
    _ip("-n", netns, "addr", "add", "10.0.2.2/24", "dev", "tap0")
    _ip("-n", netns, "link", "set", "tap0", "up")
    r = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", TAP_HELPER,
                        str(ROOT)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "arp 10.0.2.2 52:54:00:12:34:56 52:54:00:12:34:56"
    assert lines[1] == "icmp 10.0.2.2 77 5 tap-payload"
    assert lines[2] == "stats 0 0"


def test_tap_ifname_is_checked():
    for bad in ("", "x" * 16, "a/b", " tap0"):
        with pytest.raises(ValueError, match="interface name"):
            check_ifname(bad)
    check_ifname("tap0")
