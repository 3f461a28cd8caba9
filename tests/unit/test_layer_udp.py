# layer/udp.py: checks, port dispatch, in-place replies from handlers, port
# unreachable, sending, and datagrams between two stacks.
import errno

import support
from support import (ip_stack, stack_rx, prime_arp, frame_in, ipv4_pkt, udp_dgram, ip_of,
                     counters_are, csum16, two_stacks, run_both,
                     OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, SUBNET_BCAST, BCAST_MAC)


def _echo(view, off, n, src, sport, now):
    return n


def _dg(sport, dport, payload, csum=None, length=None, dst=OUR_IP, options=b""):
    return frame_in(ipv4_pkt(PEER_IP, dst, 17, udp_dgram(PEER_IP, dst, sport, dport, payload,
                                                         csum=csum, length=length),
                             options=options),
                    dst_mac=OUR_MAC if dst == OUR_IP else BCAST_MAC)


def _expect_reply(frame, sport, dport, payload):
    ip = ip_of(frame)
    assert frame[0:6] == PEER_MAC and frame[6:12] == OUR_MAC
    assert csum16(ip[:20]) == 0 and ip[0] == 0x45 and ip[9] == 17 and ip[8] == 64
    assert ip[12:16] == OUR_IP and ip[16:20] == PEER_IP
    assert ip[20:] == udp_dgram(OUR_IP, PEER_IP, sport, dport, payload)


def test_handler_sees_payload_and_replies_in_place():
    s, peer = ip_stack()
    seen = []

    def h(view, off, n, src, sport, now):
        seen.append((bytes(view[off:off + n]), bytes(view[src:src + 4]), sport, now))
        view[off:off + 6] = b"answer"
        return 6

    s.udp.bind(5000, h)
    out = stack_rx(s, peer, _dg(4321, 5000, b"question?"), 42)
    assert seen == [(b"question?", PEER_IP, 4321, 42)]
    assert len(out) == 1
    _expect_reply(out[0], 5000, 4321, b"answer")
    counters_are(s, udp_rx=1, udp_tx=1)


def test_zero_checksum_accepted():
    s, peer = ip_stack()
    s.udp.bind(7, _echo)
    out = stack_rx(s, peer, _dg(1111, 7, b"no checksum", csum=0))
    assert len(out) == 1
    _expect_reply(out[0], 7, 1111, b"no checksum")  # our reply carries one
    counters_are(s, udp_rx=1, udp_tx=1)


def test_bad_checksum_truncated_bad_length():
    s, peer = ip_stack()
    s.udp.bind(7, _echo)
    good = udp_dgram(PEER_IP, OUR_IP, 1, 7, b"abcdef")
    c = (good[6] << 8) | good[7]
    cases = (
        (_dg(1, 7, b"abcdef", csum=c ^ 0x0101), "udp_bad_checksum"),
        (frame_in(ipv4_pkt(PEER_IP, OUR_IP, 17, good[:7])), "udp_truncated"),
        (frame_in(ipv4_pkt(PEER_IP, OUR_IP, 17, b"")), "udp_truncated"),
        (_dg(1, 7, b"abcdef", length=7), "udp_bad_length"),
        (_dg(1, 7, b"abcdef", length=15), "udp_bad_length"),
        (_dg(1, 7, b"abcdef", length=0), "udp_bad_length"),
    )
    want = {}
    for f, reason in cases:
        assert stack_rx(s, peer, f) == []
        want[reason] = want.get(reason, 0) + 1
        counters_are(s, **want)
    # still served afterwards
    assert len(stack_rx(s, peer, _dg(1, 7, b"ok"))) == 1
    want["udp_rx"] = want["udp_tx"] = 1
    counters_are(s, **want)


def test_short_udp_length_inside_longer_ip_payload():
    s, peer = ip_stack()
    got = []
    s.udp.bind(9, lambda v, o, n, src, sp, now: got.append(bytes(v[o:o + n])))
    d = udp_dgram(PEER_IP, OUR_IP, 1, 9, b"abc") + b"trailing"
    stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 17, d)))
    assert got == [b"abc"]
    counters_are(s, udp_rx=1)


def test_no_listener_port_unreachable():
    s, peer = ip_stack()
    prime_arp(s, peer)
    f = _dg(1234, 4444, b"anyone?")
    out = stack_rx(s, peer, f, 1)
    assert len(out) == 1
    ip = ip_of(out[0])
    assert ip[20] == 3 and ip[21] == 3 and ip[28:] == ip_of(f)
    counters_are(s, udp_no_listener=1, icmp_errors_sent=1)
    # to the broadcast address: counted, no ICMP
    assert stack_rx(s, peer, _dg(1234, 4444, b"anyone?", dst=SUBNET_BCAST), 2) == []
    counters_are(s, udp_no_listener=2, icmp_errors_sent=1, icmp_error_suppressed=1)


def test_reply_to_broadcast_comes_from_our_address():
    s, peer = ip_stack()
    s.udp.bind(7, _echo)
    out = stack_rx(s, peer, _dg(2000, 7, b"who is there", dst=SUBNET_BCAST))
    assert len(out) == 1
    _expect_reply(out[0], 7, 2000, b"who is there")
    counters_are(s, udp_rx=1, udp_tx=1)


def test_reply_to_datagram_with_ip_options():
    s, peer = ip_stack()
    s.udp.bind(7, _echo)
    out = stack_rx(s, peer, _dg(2000, 7, b"with options", options=b"\x01\x01\x01\x00"))
    assert len(out) == 1
    _expect_reply(out[0], 7, 2000, b"with options")
    counters_are(s, udp_rx=1, udp_tx=1)


def test_source_port_zero_gets_no_reply():
    s, peer = ip_stack()
    s.udp.bind(7, _echo)
    assert stack_rx(s, peer, _dg(0, 7, b"fire and forget")) == []
    counters_are(s, udp_rx=1)


def test_oversized_handler_reply_is_a_bug_not_a_crash():
    s, peer = ip_stack()
    s.udp.bind(7, lambda v, o, n, src, sp, now: 5000)
    assert stack_rx(s, peer, _dg(1, 7, b"x")) == []
    assert s.counters["internal_error"] == 1  # the app's bug, counted loudly
    s.counters.c["internal_error"] = 0


def test_reply_larger_than_mtu_is_fragmented():
    s, peer = ip_stack()
    prime_arp(s, peer)

    def h(view, off, n, src, sport, now):
        for i in range(1800):
            view[off + i] = i & 255
        return 1800

    s.udp.bind(7, h)
    out = stack_rx(s, peer, _dg(2000, 7, b"big please"), 1)
    assert len(out) == 2
    hdr, payload = support.defrag(out)
    assert payload == udp_dgram(OUR_IP, PEER_IP, 7, 2000, bytes([i & 255 for i in range(1800)]))
    counters_are(s, udp_rx=1, udp_tx=1, ipv4_fragments_sent=2)


def test_bind_rules_and_ephemeral_ports():
    s, peer = ip_stack()
    s.udp.bind(7, _echo)
    e = support.raises(OSError, s.udp.bind, 7, _echo)
    assert e.args[0] == errno.EADDRINUSE
    assert support.raises(OSError, s.udp.bind, 0, _echo).args[0] == errno.EINVAL
    assert support.raises(OSError, s.udp.bind, 70000, _echo).args[0] == errno.EINVAL
    ports = set()
    for i in range(20):
        p = s.udp.ephemeral_port()
        assert 49152 <= p <= 65535
        s.udp.bind(p, _echo)
        ports.add(p)
    assert len(ports) == 20
    s.udp.unbind(7)
    assert not s.udp.is_bound(7)
    s.udp.bind(7, _echo)
    counters_are(s)


def test_send_and_zero_copy_send():
    s, peer = ip_stack()
    prime_arp(s, peer)
    assert s.udp.send(PEER_IP, 53, 1000, b"hello", 1)
    buf = s.udp.send_begin(3)
    buf[42:45] = b"abc"
    assert s.udp.send_finish(buf, PEER_IP, 54, 1001, 3, 2)
    out = peer.frames()
    assert [ip_of(f)[20:] for f in out] == [udp_dgram(OUR_IP, PEER_IP, 1000, 53, b"hello"),
                                            udp_dgram(OUR_IP, PEER_IP, 1001, 54, b"abc")]
    counters_are(s, udp_tx=2)


def test_datagrams_between_two_stacks():
    A, B = two_stacks()
    got = []

    def b_echo(view, off, n, src, sport, now):
        got.append(bytes(view[off:off + n]))
        return n

    B.udp.bind(7, b_echo)
    back = []
    A.udp.bind(40000, lambda v, o, n, src, sp, now: back.append((sp, bytes(v[o:o + n]))))
    for data in (b"one", b"", bytes(range(200)) * 20):
        assert A.udp.send(b"\x0a\x00\x02\x02", 7, 40000, data, 0)
        run_both(A, B, 0, 5)
    assert got == [b"one", b"", bytes(range(200)) * 20]
    assert back == [(7, b"one"), (7, b""), (7, bytes(range(200)) * 20)]
    counters_are(A, udp_tx=3, udp_rx=3, ipv4_fragments_sent=3, ipv4_reassembled=1)
    counters_are(B, udp_tx=3, udp_rx=3, ipv4_fragments_sent=3, ipv4_reassembled=1)


def test_handler_returning_zero_sends_an_empty_reply():
    s, peer = ip_stack()
    s.udp.bind(7, lambda v, o, n, src, sp, now: 0)
    s.udp.bind(9, lambda v, o, n, src, sp, now: None)
    out = stack_rx(s, peer, _dg(1234, 7, b"make it empty"))
    assert len(out) == 1
    _expect_reply(out[0], 7, 1234, b"")
    assert stack_rx(s, peer, _dg(1234, 9, b"discard")) == []
    counters_are(s, udp_rx=2, udp_tx=1)
