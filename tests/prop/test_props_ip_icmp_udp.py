"""Hypothesis properties of IPv4/ICMP/UDP: every Repr survives emit -> parse,
the wire checks never raise on any bytes, and random or mutated frames through a
whole Stack never raise (internal_error stays 0), never leak transmit buffers,
keep reassembly bounded, and only ever answer with well-formed datagrams.
CPython only."""
import os
import sys

from hypothesis import example, given, settings, strategies as st

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit")))
import support  # noqa: E402
from support import (OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, csum16, echo_req, frag_pkts,  # noqa: E402
                     frame_in, ip_of, ipv4_pkt, udp_dgram)

from ethox_uk.stack.layer.frag import SLOTS  # noqa: E402
from ethox_uk.stack.wire import icmp, ipv4, udp  # noqa: E402

IP = st.binary(min_size=4, max_size=4)
U16 = st.integers(0, 0xFFFF)

IPV4_REASONS = {None, "ipv4_truncated", "ipv4_bad_version", "ipv4_bad_header_len",
                "ipv4_bad_total_len", "ipv4_bad_checksum", "ipv4_bad_options",
                "ipv4_frag_bad", "ipv4_frag_too_big"}


# -- wire round trips ------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(IP, IP, st.integers(0, 255), st.integers(0, 1480), st.integers(0, 255), U16,
       st.booleans(), st.booleans(), st.integers(0, 0x1FFF), st.integers(0, 255),
       st.integers(0, 16))
def test_ipv4_repr_roundtrip(src, dst, proto, plen, ttl, ident, df, mf, off8, tos, at):
    r = ipv4.Repr(src, dst, proto, plen, ttl, ident, df, mf, off8 * 8, tos)
    buf = bytearray(at + 20 + plen)
    r.emit(ipv4.Packet(buf, at))
    # fragment sanity is the layer's business: parse the header checks alone
    if mf or off8:
        reason = ipv4.check(buf, at, 20 + plen)
        assert reason in (None, "ipv4_frag_bad", "ipv4_frag_too_big")
        if reason is not None:
            return
    assert ipv4.Repr.parse(ipv4.Packet(buf, at), 20 + plen) == r


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 0xFFFFFFFF),
       st.binary(max_size=200), st.integers(0, 8))
def test_icmp_repr_roundtrip(t, code, rest, data, at):
    if icmp.is_error(t):  # an error must quote a header + 8 bytes
        data = ipv4_pkt(PEER_IP, OUR_IP, 17, b"12345678") + data
    r = icmp.Repr(t, code, rest, data)
    buf = bytearray(at + r.buffer_len())
    r.emit(icmp.Packet(buf, at))
    assert icmp.Repr.parse(icmp.Packet(buf, at), r.buffer_len()) == r


@settings(max_examples=300, deadline=None)
@given(U16, U16, st.binary(max_size=300), IP, IP, st.integers(0, 8))
def test_udp_repr_roundtrip(sp, dp, payload, src, dst, at):
    r = udp.Repr(sp, dp, payload)
    buf = bytearray(at + r.buffer_len())
    p = udp.Packet(buf, at)
    r.emit(p, src, dst)
    assert p.checksum() != 0
    assert udp.Repr.parse(udp.Packet(buf, at), r.buffer_len(), src, dst) == r


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120), st.integers(0, 130))
def test_wire_checks_never_raise(data, length):
    length = min(length, len(data))
    r = ipv4.check(data, 0, length)
    assert r in IPV4_REASONS
    rep = ipv4.Repr.parse(ipv4.Packet(data), length)
    assert (rep is None) == (r is not None)
    assert icmp.check(data, 0, length) in (None, "icmp_truncated", "icmp_bad_checksum")
    icmp.Repr.parse(icmp.Packet(data), length)
    if length >= 20:
        assert udp.check(data, 0, 20, length - 20) in (
            None, "udp_truncated", "udp_bad_length", "udp_bad_checksum")


# -- whole stack -----------------------------------------------------------------
def _stack():
    s, peer = support.ip_stack()
    support.prime_arp(s, peer)
    s.udp.bind(7, lambda v, o, n, src, sp, now: n)  # echo
    s.udp.bind(9, lambda v, o, n, src, sp, now: None)  # discard
    return s, peer


def _well_formed(frame):
    """A frame the stack sent: IPv4 with a sound header and transport checksum."""
    if frame[12:14] == b"\x08\x06":
        return
    assert frame[12:14] == b"\x08\x00"
    ip = ip_of(frame)
    assert ipv4.check(ip, 0, len(ip)) is None
    if (ip[6] & 0x3F) | ip[7]:
        return  # a fragment: the transport checksum spans the datagram
    if ip[9] == 1:
        assert csum16(ip[20:]) == 0
    elif ip[9] == 17:
        assert udp.check(ip, 0, 20, len(ip) - 20) is None


def _healthy(s, peer):
    assert s.counters.c["internal_error"] == 0, s.last_error
    assert support.tx_free(s.nic) == 16
    assert s.ip.frag.in_use() <= SLOTS
    for f in peer.frames():
        _well_formed(f)


def _valid_frames():
    return [
        frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 2, b"ping data"))),
        frame_in(ipv4_pkt(PEER_IP, OUR_IP, 17, udp_dgram(PEER_IP, OUR_IP, 1000, 7, b"echo me"))),
        frame_in(ipv4_pkt(PEER_IP, OUR_IP, 17, udp_dgram(PEER_IP, OUR_IP, 1000, 4444, b"closed"))),
        frame_in(ipv4_pkt(PEER_IP, OUR_IP, 17, udp_dgram(PEER_IP, OUR_IP, 1000, 9, b"x"),
                          options=b"\x07\x07\x04\x00\x00\x00\x00\x01")),
        frame_in(ipv4_pkt(PEER_IP, OUR_IP, 99, b"unknown protocol")),
    ] + [frame_in(f) for f in frag_pkts(PEER_IP, OUR_IP, 1, echo_req(3, 4, bytes(100)), size=48)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=8), st.integers(0, 100000))
def test_random_ipv4_frames_never_raise(payloads, now):
    s, peer = _stack()
    for p in payloads:
        s.nic.inject(OUR_MAC + PEER_MAC + b"\x08\x00" + p)
    s.poll(now)
    s.poll(now + 40000)  # reassembly timeouts
    _healthy(s, peer)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 300), st.integers(0, 255),
                          st.sampled_from(["flip", "set", "cut", "none"])),
                min_size=1, max_size=10),
       st.integers(0, 1000))
def test_mutated_frames_never_raise(edits, now):
    s, peer = _stack()
    valid = _valid_frames()
    for which, pos, val, how in edits:
        f = bytearray(valid[which % len(valid)])
        pos = 14 + pos % (len(f) - 14)
        if how == "flip":
            f[pos] ^= val or 1
        elif how == "set":
            f[pos] = val
        elif how == "cut":
            f = f[:pos]
        s.nic.inject(bytes(f))
        s.poll(now)
        now += 7
    s.poll(now + 31000)
    _healthy(s, peer)
    # and the stack still answers a clean ping afterwards
    out = support.stack_rx(s, peer, valid[0], now + 32000)
    assert len(out) == 1 and ip_of(out[0])[20] == 0
    _healthy(s, peer)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 3000), st.sampled_from([8, 16, 64, 512, 1480]),
       st.randoms(use_true_random=False), st.floats(0, 0.3), st.floats(0, 0.3))
def test_fragment_streams(size, step, rnd, p_drop, p_dup):
    """Fragments shuffled, dropped and duplicated: the datagram arrives intact or
    not at all, memory stays bounded, nothing raises."""
    s, peer = support.ip_stack()
    got = []
    s.udp.bind(7, lambda v, o, n, src, sp, now: got.append(bytes(v[o:o + n])))
    data = bytes([rnd.randrange(256) for _ in range(size)])
    frags = frag_pkts(PEER_IP, OUR_IP, 17, udp_dgram(PEER_IP, OUR_IP, 1, 7, data), size=step)
    stream = []
    for f in frags:
        if rnd.random() >= p_drop:
            stream.append(f)
        if rnd.random() < p_dup:
            stream.append(f)
    rnd.shuffle(stream)
    for f in stream:
        s.nic.inject(frame_in(f))
        s.poll(0)
    complete = set(frags) <= set(stream)
    for d in got:  # IP may duplicate, never corrupt
        assert d == data
    if complete and s.counters.c["ipv4_frag_no_memory"] == 0:  # not too many holes
        assert got
    if not complete:
        assert got == []
    s.poll(30000)
    assert s.ip.frag.in_use() == 0
    assert s.counters.c["internal_error"] == 0, s.last_error


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2 ** 31), st.floats(0, 0.2), st.floats(0, 0.2), st.floats(0, 0.2),
       st.floats(0, 0.1))
@example(21433924, 0.125, 0.125, 0.125, 0.0625)  # an echo's fragments 3 s late behind ARP
def test_two_stacks_with_faults_exchange_intact_datagrams(seed, loss, reorder, dup, corrupt):
    A, B = support.two_stacks(seed, loss, reorder, dup, corrupt)
    got = []
    B.udp.bind(7, lambda v, o, n, src, sp, now: got.append(bytes(v[o:o + n])) or n)
    back = []
    A.udp.bind(5000, lambda v, o, n, src, sp, now: back.append(bytes(v[o:o + n])))
    sent = set()
    t = 0
    for i in range(12):
        d = bytes([i]) * (1 + (i * 397) % 3500)
        sent.add(d)
        A.udp.send(b"\x0a\x00\x02\x02", 7, 5000, d, t)
        t = support.run_both(A, B, t, t + 100, 10)
    # every reassembly ends within its 30 s timeout of its first fragment, and the last
    # fragment may leave up to MAX_TRIES * RETRY_MS late: queued behind ARP retries
    from ethox_uk.stack.layer import arp

    t = support.run_both(A, B, t, t + 31000 + arp.MAX_TRIES * arp.RETRY_MS, 1000)
    assert set(got) <= sent and set(back) <= sent
    for st_ in (A, B):
        assert st_.counters.c["internal_error"] == 0, st_.last_error
        assert st_.ip.frag.in_use() == 0
        assert support.tx_free(st_.nic) == 16
