"""Hypothesis properties of Ethernet/ARP: wire round trips, and the layers never
raise (internal_error stays 0), never leak tx buffers, keep the table bounded
and never send two requests for one address within RETRY_MS. CPython only."""
import os
import sys

from hypothesis import given, settings, strategies as st

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit")))
import support  # noqa: E402
from support import BCAST_MAC, arp_body, eth_frame  # noqa: E402

from ethox_uk.stack.layer.arp import RETRY_MS, TABLE_SIZE  # noqa: E402
from ethox_uk.stack.wire import arp, ethernet  # noqa: E402

MAC = st.binary(min_size=6, max_size=6)
IP = st.binary(min_size=4, max_size=4)
OUR_MAC = support.mac("52:54:00:12:34:56")
OUR_IP = support.ip4("10.0.2.15")
PEER_MAC = support.mac("52:55:0a:00:02:02")
PEER_IP = support.ip4("10.0.2.2")


# -- wire ----------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(MAC, MAC, st.integers(0, 0xFFFF), st.binary(max_size=64))
def test_ethernet_parse_emit_roundtrip(dst, src, t, payload):
    r = ethernet.Repr(dst, src, t)
    buf = bytearray(r.buffer_len() + len(payload))
    buf[14:] = payload
    r.emit(ethernet.Packet(buf))
    assert ethernet.Repr.parse(ethernet.Packet(buf)) == r
    assert bytes(buf[14:]) == payload


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([1, 2]), MAC, IP, MAC, IP, st.integers(0, 20))
def test_arp_parse_emit_roundtrip(op, sha, spa, tha, tpa, off):
    r = arp.Repr(op, sha, spa, tha, tpa)
    buf = bytearray(off + r.buffer_len())
    r.emit(arp.Packet(buf, off))
    assert arp.Packet(buf, off).check() is None
    assert arp.Repr.parse(arp.Packet(buf, off)) == r


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes_parse_never_raises(data):
    e = ethernet.Repr.parse(ethernet.Packet(data))
    assert (e is None) == (len(data) < 14)
    p = arp.Packet(data)
    reason = p.check()
    assert reason in (None, "arp_truncated", "arp_bad_format")
    assert reason == arp.check(data, 0, len(data))
    r = arp.Repr.parse(p)
    assert (r is None) == (reason is not None)
    if r is not None:  # a valid packet re-emits to the same 28 bytes
        buf = bytearray(28)
        r.emit(arp.Packet(buf))
        assert bytes(buf) == data[:28]


# -- layers: random and mutated frames -------------------------------------------
def _check(s):
    assert s.counters.c["internal_error"] == 0, s.last_error
    assert support.tx_free(s.nic) == 16
    assert len(s.arp.entries()) <= TABLE_SIZE


def _accounted(s, frames):
    """Every frame reached the layers, and none was dropped without a reason
    from the Ethernet/ARP groups."""
    assert s.counters.c["rx_frames"] == frames
    for name in s.counters.drops():
        assert name.startswith("eth_") or name.startswith("arp_"), name


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=8))
def test_random_frames_never_raise(frames):
    s, peer = support.eth_arp_setup()
    for i, f in enumerate(frames):
        s.rx(f, i * 10)
        _check(s)
    _accounted(s, len(frames))
    for f in peer.frames():
        assert len(f) >= 60
        assert f[6:12] == OUR_MAC


def _valid_arp_frames():
    return [
        eth_frame(BCAST_MAC, PEER_MAC, 0x0806, arp_body(1, PEER_MAC, PEER_IP, bytes(6), OUR_IP)),
        eth_frame(OUR_MAC, PEER_MAC, 0x0806, arp_body(2, PEER_MAC, PEER_IP, OUR_MAC, OUR_IP)),
        eth_frame(BCAST_MAC, PEER_MAC, 0x0806, arp_body(1, PEER_MAC, PEER_IP, bytes(6), PEER_IP)),
        eth_frame(BCAST_MAC, PEER_MAC, 0x0806, arp_body(1, PEER_MAC, bytes(4), bytes(6), OUR_IP)),
    ]


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(range(4)),
       st.lists(st.tuples(st.integers(0, 59), st.integers(0, 255)), max_size=6),
       st.one_of(st.none(), st.integers(0, 60)))
def test_mutated_arp_frames_never_raise(which, flips, cut):
    s, peer = support.eth_arp_setup()
    s.arp.send_request(PEER_IP, 0)  # a pending entry makes learning paths live
    f = bytearray(_valid_arp_frames()[which] + bytes(18))
    for pos, val in flips:
        f[pos] = val
    if cut is not None:
        f = f[:cut]
    s.rx(bytes(f), 5)
    _check(s)
    _accounted(s, 1)
    for out in peer.frames():
        assert len(out) >= 60
        if out[12:14] == b"\x08\x06" and out[20:22] == b"\x00\x02":
            # any reply we sent is a well-formed answer from our address
            r = arp.Repr.parse(arp.Packet(out, 14))
            assert r is not None
            assert r.source_hardware_addr == OUR_MAC and r.source_protocol_addr == OUR_IP


# -- layers: random operation sequences -------------------------------------------
HOSTS = [bytes((10, 0, 2, 100 + i)) for i in range(20)]
HOST_MACS = [bytes((2, 0, 0, 0, 1, i)) for i in range(20)]

OPS = st.lists(
    st.tuples(st.sampled_from(["out", "reply", "request", "grat", "poll", "probe", "send_req"]),
              st.integers(0, 19), st.integers(0, 2500)),
    max_size=60)


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_operation_sequences_keep_invariants(ops):
    s, peer = support.eth_arp_setup()
    now = 0
    last_req = {}  # target ip -> time of the last request seen on the wire
    for op, h, dt in ops:
        now += dt
        ip, hw = HOSTS[h], HOST_MACS[h]
        if op == "out":
            tx = s.nic.tx_buffer()
            tx[14:34] = b"\x45" * 20
            r = s.arp.output(tx, 34, ip, now)
            assert r in (0, 1)
        elif op == "reply":
            s.rx(eth_frame(OUR_MAC, hw, 0x0806, arp_body(2, hw, ip, OUR_MAC, OUR_IP)), now)
        elif op == "request":
            s.rx(eth_frame(BCAST_MAC, hw, 0x0806, arp_body(1, hw, ip, bytes(6), OUR_IP)), now)
        elif op == "grat":
            s.rx(eth_frame(BCAST_MAC, hw, 0x0806, arp_body(1, hw, ip, bytes(6), ip)), now)
        elif op == "probe":
            s.rx(eth_frame(BCAST_MAC, hw, 0x0806, arp_body(1, hw, bytes(4), bytes(6), OUR_IP)), now)
        elif op == "send_req":
            s.arp.send_request(ip, now)
        s.poll(now)
        _check(s)
        t = s.arp.next_timeout(now)
        assert t >= -1
        for f in peer.frames():
            assert len(f) >= 60 and f[6:12] == OUR_MAC
            if f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x01":
                tpa = bytes(f[38:42])
                if tpa in last_req:
                    assert now - last_req[tpa] >= RETRY_MS, (tpa, last_req[tpa], now)
                last_req[tpa] = now
            elif f[12:14] == b"\x08\x00":
                # data only ever goes to the MAC that host announced
                assert f[0:6] in HOST_MACS
                assert ethernet.ethertype(f) == 0x0800
        for ipb, hwb, state in s.arp.entries(now):
            if hwb is not None:
                assert hwb == HOST_MACS[HOSTS.index(ipb)]
