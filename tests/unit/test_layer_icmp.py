# layer/icmp.py: echo identity, checksum and length drops, broadcast pings,
# error generation and its suppression rules, rate limit, received errors,
# and a ping between two stacks.
from support import (ip_stack, stack_rx, prime_arp, frame_in, ipv4_pkt, echo_req, icmp_msg,
                     udp_dgram, ip_of, counters_are, csum16, two_stacks, run_both,
                     OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, SUBNET_BCAST, ALL_ONES, BCAST_MAC)


def test_echo_identity():
    s, peer = ip_stack()
    for ident, seq, data in ((0, 0, b""), (0xFFFF, 0xFFFF, b"\xff" * 7),
                             (0xABCD, 0x1234, bytes(range(256)) * 5)):
        req = echo_req(ident, seq, data)
        out = stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, req, ident=5, ttl=3)))
        assert len(out) == 1
        ip = ip_of(out[0])
        rep = ip[20:]
        assert rep[0] == 0 and rep[1] == 0 and csum16(rep) == 0
        assert rep[4:] == req[4:]  # identifier, sequence number and data untouched
        assert ip[12:16] == OUR_IP and ip[16:20] == PEER_IP and ip[8] == 64
        assert ip[6] & 0x40 == 0  # DF clear
    counters_are(s, icmp_echo_replies=3)


def test_bad_checksum_and_truncated():
    s, peer = ip_stack()
    bad = bytearray(echo_req(1, 2, b"data"))
    bad[8] ^= 0xFF
    assert stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, bytes(bad)))) == []
    assert stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 2)[:7]))) == []
    assert stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, b""))) == []
    counters_are(s, icmp_bad_checksum=1, icmp_truncated=2)
    assert len(stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 3))))) == 1
    counters_are(s, icmp_bad_checksum=1, icmp_truncated=2, icmp_echo_replies=1)


def test_broadcast_ping_ignored_unless_enabled():
    s, peer = ip_stack()
    for dst in (SUBNET_BCAST, ALL_ONES):
        f = frame_in(ipv4_pkt(PEER_IP, dst, 1, echo_req(1, 1)), dst_mac=BCAST_MAC)
        assert stack_rx(s, peer, f) == []
    counters_are(s, icmp_broadcast_echo_ignored=2)
    s.icmp.answer_broadcast_echo = True
    f = frame_in(ipv4_pkt(PEER_IP, SUBNET_BCAST, 1, echo_req(1, 2)), dst_mac=BCAST_MAC)
    out = stack_rx(s, peer, f)
    assert len(out) == 1
    ip = ip_of(out[0])
    assert ip[12:16] == OUR_IP and ip[16:20] == PEER_IP and out[0][0:6] == PEER_MAC
    counters_are(s, icmp_broadcast_echo_ignored=2, icmp_echo_replies=1)


def test_port_unreachable_quotes_header_and_data():
    s, peer = ip_stack()
    prime_arp(s, peer)
    pkt = ipv4_pkt(PEER_IP, OUR_IP, 17, udp_dgram(PEER_IP, OUR_IP, 4000, 4444, b"Q" * 1000))
    out = stack_rx(s, peer, frame_in(pkt), 1)
    assert len(out) == 1
    ip = ip_of(out[0])
    assert len(ip) == 576  # quote capped: 20 + 8 + 548
    icmp = ip[20:]
    assert icmp[0:2] == b"\x03\x03" and csum16(icmp) == 0 and icmp[8:] == pkt[:548]
    counters_are(s, udp_no_listener=1, icmp_errors_sent=1)


def _udp_to(dst, src=PEER_IP, dst_mac=OUR_MAC, flags_off=0, payload=b"x"):
    return frame_in(ipv4_pkt(src, dst, 17, udp_dgram(src, dst, 1, 4444, payload),
                             flags_off=flags_off), dst_mac=dst_mac)


def test_no_errors_about_broadcasts_or_bad_sources():
    s, peer = ip_stack()
    prime_arp(s, peer)
    frames = (
        _udp_to(SUBNET_BCAST, dst_mac=BCAST_MAC),  # IP broadcast
        _udp_to(ALL_ONES, dst_mac=BCAST_MAC),
        _udp_to(OUR_IP, dst_mac=BCAST_MAC),  # link-layer broadcast to our address
        _udp_to(ALL_ONES, src=b"\x00\x00\x00\x00", dst_mac=BCAST_MAC),  # from 0.0.0.0
    )
    for f in frames:
        assert stack_rx(s, peer, f, 1) == []
    counters_are(s, udp_no_listener=4, icmp_error_suppressed=4)


def _view_of(pkt, dst_mac=OUR_MAC):
    return memoryview(bytearray(frame_in(pkt, dst_mac=dst_mac)))


def test_no_errors_about_icmp_errors_or_non_first_fragments():
    s, peer = ip_stack()
    prime_arp(s, peer)
    quote = ipv4_pkt(OUR_IP, PEER_IP, 17, udp_dgram(OUR_IP, PEER_IP, 1, 2, b"abc"))
    for t in (3, 4, 5, 11, 12, 99):  # errors, and a type we do not know
        v = _view_of(ipv4_pkt(PEER_IP, OUR_IP, 1, icmp_msg(t, 0, 0, quote)))
        assert not s.icmp.send_dest_unreachable(v, 14, 2, 1)
    frag = ipv4_pkt(PEER_IP, OUR_IP, 17, b"12345678", flags_off=0x2000 | 1)
    assert not s.icmp.send_dest_unreachable(_view_of(frag), 14, 3, 1)
    assert peer.frames() == []
    counters_are(s, icmp_error_suppressed=7)
    # but an error about an echo request, or a first fragment, is fine
    v = _view_of(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 1)))
    assert s.icmp.send_dest_unreachable(v, 14, 2, 1)
    first = ipv4_pkt(PEER_IP, OUR_IP, 17, b"12345678", flags_off=0x2000)
    assert s.icmp.send_dest_unreachable(_view_of(first), 14, 3, 1)
    assert len(peer.frames()) == 2
    counters_are(s, icmp_error_suppressed=7, icmp_errors_sent=2)


def test_unknown_protocol_about_icmp_layer_never_loops():
    # an unknown-protocol datagram from a broadcast MAC: suppressed
    s, peer = ip_stack()
    prime_arp(s, peer)
    f = frame_in(ipv4_pkt(PEER_IP, OUR_IP, 200, b"abc"), dst_mac=BCAST_MAC)
    assert stack_rx(s, peer, f, 1) == []
    counters_are(s, ipv4_unknown_protocol=1, icmp_error_suppressed=1)


def test_error_rate_limit():
    s, peer = ip_stack()
    prime_arp(s, peer)
    for i in range(12):
        s.nic.inject(_udp_to(OUR_IP))
    s.poll(1000)
    assert len(peer.frames()) == 10
    counters_are(s, udp_no_listener=12, icmp_errors_sent=10, icmp_rate_limited=2)
    stack_rx(s, peer, _udp_to(OUR_IP), 1050)  # half a token
    counters_are(s, udp_no_listener=13, icmp_errors_sent=10, icmp_rate_limited=3)
    assert len(stack_rx(s, peer, _udp_to(OUR_IP), 1100)) == 1
    assert len(stack_rx(s, peer, _udp_to(OUR_IP), 1100)) == 0
    # a quiet second refills the bucket completely
    for i in range(12):
        s.nic.inject(_udp_to(OUR_IP))
    s.poll(3000)
    assert len(peer.frames()) == 10
    counters_are(s, udp_no_listener=27, icmp_errors_sent=21, icmp_rate_limited=6)


def test_received_errors_counted_and_handed_on():
    s, peer = ip_stack()
    seen = []
    s.icmp.error_handler = lambda v, ip_off, o, end, now: seen.append((v[o], v[o + 1], end - o))
    quote = ipv4_pkt(OUR_IP, PEER_IP, 17, udp_dgram(OUR_IP, PEER_IP, 1, 2, b"abc"))
    stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, icmp_msg(3, 3, 0, quote))))
    stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, icmp_msg(11, 0, 0, quote[:28]))))
    assert seen == [(3, 3, 8 + len(quote)), (11, 0, 36)]
    # too short a quote
    stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, icmp_msg(3, 1, 0, quote[:27]))))
    # not an error and not an echo
    stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, icmp_msg(13, 0, 0, b"\x00" * 12))))
    assert peer.frames() == []
    counters_are(s, icmp_errors_received=2, icmp_truncated=1, icmp_unhandled_type=1)


def test_echo_reply_handler():
    s, peer = ip_stack()
    got = []
    s.icmp.echo_handler = lambda v, o, i, q, d, n, now: got.append((i, q, bytes(v[d:d + n])))
    stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, icmp_msg(0, 0, 0x00070009, b"pong"))))
    assert got == [(7, 9, b"pong")]
    counters_are(s, icmp_echo_replies_rx=1)


def test_ping_between_two_stacks():
    A, B = two_stacks()
    got = []
    A.icmp.echo_handler = lambda v, o, i, q, d, n, now: got.append((i, q, bytes(v[d:d + n])))
    assert A.icmp.ping(b"\x0a\x00\x02\x02", 0x77, 1, b"hello B", 0)
    run_both(A, B, 0, 5)
    assert got == [(0x77, 1, b"hello B")]
    big = bytes([i & 255 for i in range(6000)])
    assert A.icmp.ping(b"\x0a\x00\x02\x02", 0x77, 2, big, 10)
    run_both(A, B, 10, 15)
    assert got[1] == (0x77, 2, big)
    counters_are(A, icmp_echo_requests_sent=2, icmp_echo_replies_rx=2, ipv4_reassembled=1,
                 ipv4_fragments_sent=5)
    counters_are(B, icmp_echo_replies=2, ipv4_reassembled=1, ipv4_fragments_sent=5)


def test_ping_between_two_stacks_with_faults():
    A, B = two_stacks(seed=7, loss=0.1, reorder=0.1, duplicate=0.1, corrupt=0.05)
    got = []
    A.icmp.echo_handler = lambda v, o, i, q, d, n, now: got.append((q, bytes(v[d:d + n])))
    t = 0
    for seq in range(60):
        A.icmp.ping(b"\x0a\x00\x02\x02", 1, seq, bytes([seq]) * 64, t)
        t = run_both(A, B, t, t + 50, 10)
    seqs = set([q for q, data in got])
    assert 30 < len(seqs) <= 60
    for q, data in got:  # duplicates happen; corrupted data never gets through
        assert data == bytes([q]) * 64
    for st in (A, B):
        assert st.counters["internal_error"] == 0, st.last_error


def test_errors_about_tcp_reach_the_tcp_layer():
    s, peer = ip_stack()

    class FakeTcp:
        def __init__(self):
            self.errors = []
            self.due = []
            self.timer_at = -1
            self.batch = False
            self.acks = []

        def receive(self, view, ip_off, ip_hlen, end, now):
            return 0

        def poll(self, now):
            pass

        def end_batch(self, now):
            pass

        def next_timeout(self, now):
            return -1

        def icmp_error(self, view, ip_off, icmp_off, end, now):
            q = icmp_off + 8
            self.errors.append((view[icmp_off], view[icmp_off + 1], bytes(view[q + 20:q + 24])))

    s.tcp = FakeTcp()
    tcp_quote = ipv4_pkt(OUR_IP, PEER_IP, 6, b"\x00\x50\x12\x34" + b"\x00" * 16)
    udp_quote = ipv4_pkt(OUR_IP, PEER_IP, 17, udp_dgram(OUR_IP, PEER_IP, 1, 2, b""))
    stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, icmp_msg(3, 4, 1400, tcp_quote))))
    stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, icmp_msg(3, 3, 0, udp_quote))))
    assert s.tcp.errors == [(3, 4, b"\x00\x50\x12\x34")]
    counters_are(s, icmp_errors_received=2)
