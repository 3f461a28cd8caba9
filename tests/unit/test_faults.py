# stack/faults.py: the test-only fault switches (negative controls). parse(), and
# for each switch: the stack misbehaves exactly as named with it on, and does
# not with it off (the same frames through a stack without the switch).
from ethox_uk.stack import faults
from support import (ip_stack, stack_rx, prime_arp, frame_in, ipv4_pkt, echo_req, icmp_msg,
                     udp_dgram, ip_of, counters_are, csum16, raises, arp_body, eth_frame,
                     OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, SUBNET_BCAST, BCAST_MAC)

OTHER_IP = b"\x0a\x00\x02\x07"
ZERO_IP = b"\x00\x00\x00\x00"


def _pair(name):
    """(stack without the switch, its peer end, stack with it, its peer end)."""
    off, p_off = ip_stack()
    on, p_on = ip_stack(faults=faults.parse(name))
    assert on.faults == frozenset((name,)) and off.faults == frozenset()
    return off, p_off, on, p_on


def _echo(view, off, n, src, sport, now):
    return n


def _ping(data=b"ping!", ident=1, seq=1, **kw):
    return frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(ident, seq, data), **kw))


def _udp(dport, payload, csum=None, dst=OUR_IP, dst_mac=OUR_MAC, src=PEER_IP):
    return frame_in(ipv4_pkt(src, dst, 17, udp_dgram(src, dst, 4000, dport, payload,
                                                     csum=csum)), dst_mac=dst_mac)


# -- parse ---------------------------------------------------------------------
def test_parse_empty():
    assert faults.parse("") == frozenset()
    assert faults.parse(None) == frozenset()
    assert faults.parse(" , ,") == frozenset()


def test_parse_names():
    assert faults.parse("ttl_zero") == frozenset(("ttl_zero",))
    got = faults.parse(" arp_no_learn, ttl_zero,,arp_no_learn ")
    assert got == frozenset(("arp_no_learn", "ttl_zero"))
    assert faults.parse(",".join(faults.NAMES)) == frozenset(faults.NAMES)


def test_parse_unknown_names_it_and_lists_known():
    e = raises(ValueError, faults.parse, "ttl_zero,fixed_isn")
    msg = str(e)
    assert "fixed_isn" in msg
    for n in faults.NAMES:
        assert n in msg, n
    raises(ValueError, faults.parse, "TTL_ZERO")  # names are exact


def test_names():
    assert type(faults.NAMES) is tuple and len(set(faults.NAMES)) == len(faults.NAMES) == 9


def test_default_stack_has_every_switch_off():
    s, peer = ip_stack()
    assert s.faults == frozenset()
    assert not (s.arp.answer_any or s.arp.no_learn or s.ip.ignore_checksum
                or s.ip.errors_unrestricted or s.ip.frag.accept_overlap
                or s.icmp.ignore_checksum or s.icmp.errors_unrestricted
                or s.udp.ignore_checksum or s.udp.no_checksum)
    assert s.ip.ttl == 64


# -- one test per switch -------------------------------------------------------
def test_ignore_ip_checksum():
    off, p_off, on, p_on = _pair("ignore_ip_checksum")
    bad = bytearray(_ping())
    bad[24] ^= 0x5A  # header checksum
    assert stack_rx(off, p_off, bytes(bad)) == []
    counters_are(off, ipv4_bad_checksum=1)
    out = stack_rx(on, p_on, bytes(bad))
    assert len(out) == 1 and ip_of(out[0])[20] == 0  # answered: an echo reply
    counters_are(on, icmp_echo_replies=1)
    # only the checksum is ignored: other header faults still drop
    opts = _ping(options=b"\x07\x00\x00\x00")  # a zero option length
    assert stack_rx(on, p_on, opts) == []
    counters_are(on, icmp_echo_replies=1, ipv4_bad_options=1)


def test_ignore_icmp_checksum():
    off, p_off, on, p_on = _pair("ignore_icmp_checksum")
    req = bytearray(echo_req(3, 4, b"data"))
    req[2] ^= 0x11
    f = frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, bytes(req)))
    assert stack_rx(off, p_off, f) == []
    counters_are(off, icmp_bad_checksum=1)
    out = stack_rx(on, p_on, f)
    assert len(out) == 1
    rep = ip_of(out[0])[20:]
    assert rep[0] == 0 and rep[4:] == bytes(req[4:])
    counters_are(on, icmp_echo_replies=1)
    assert stack_rx(on, p_on, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, b"\x08\x00\x00"))) == []
    counters_are(on, icmp_echo_replies=1, icmp_truncated=1)  # still checked


def test_ignore_udp_checksum():
    off, p_off, on, p_on = _pair("ignore_udp_checksum")
    off.udp.bind(7, _echo)
    on.udp.bind(7, _echo)
    good = udp_dgram(PEER_IP, OUR_IP, 4000, 7, b"bad checksum")
    ck = ((good[6] << 8) | good[7]) ^ 0x0101
    f = _udp(7, b"bad checksum", csum=ck)
    assert stack_rx(off, p_off, f) == []
    counters_are(off, udp_bad_checksum=1)
    out = stack_rx(on, p_on, f)
    assert len(out) == 1 and ip_of(out[0])[28:] == b"bad checksum"
    counters_are(on, udp_rx=1, udp_tx=1)
    short = frame_in(ipv4_pkt(PEER_IP, OUR_IP, 17, udp_dgram(PEER_IP, OUR_IP, 4000, 7, b"x",
                                                            csum=1, length=20)))
    assert stack_rx(on, p_on, short) == []
    counters_are(on, udp_rx=1, udp_tx=1, udp_bad_length=1)  # still checked


def test_udp_no_checksum():
    off, p_off, on, p_on = _pair("udp_no_checksum")
    for s, peer in ((off, p_off), (on, p_on)):
        s.udp.bind(7, _echo)
        prime_arp(s, peer)
        out = stack_rx(s, peer, _udp(7, b"echo me"), 1)
        assert s.udp.send(PEER_IP, 5000, 6000, b"sent", 2)
        out += peer.frames()
        assert len(out) == 2
        for frame in out:
            ip = ip_of(frame)
            ck = (ip[26] << 8) | ip[27]
            if s is on:
                assert ck == 0  # sent without a checksum
            else:
                pseudo = ip[12:20] + b"\x00\x11" + bytes((0, len(ip) - 20))
                assert ck != 0 and csum16(pseudo + ip[20:]) == 0
        counters_are(s, udp_rx=1, udp_tx=2)


def test_arp_answer_any():
    off, p_off, on, p_on = _pair("arp_answer_any")
    req = eth_frame(BCAST_MAC, PEER_MAC, 0x0806,
                    arp_body(1, PEER_MAC, PEER_IP, bytes(6), OTHER_IP))
    assert stack_rx(off, p_off, req) == []
    counters_are(off, arp_not_for_us=1)
    out = stack_rx(on, p_on, req)
    assert len(out) == 1
    f = out[0]
    # "OTHER_IP is at our MAC", to the requester
    assert f[0:6] == PEER_MAC and f[20:22] == b"\x00\x02"
    assert f[22:28] == OUR_MAC and f[28:32] == OTHER_IP
    assert f[32:38] == PEER_MAC and f[38:42] == PEER_IP
    assert on.arp.lookup(PEER_IP, 0) is None  # no entry created: the request was not for us
    counters_are(on, arp_replies_sent=1)
    ours = eth_frame(BCAST_MAC, PEER_MAC, 0x0806, arp_body(1, PEER_MAC, PEER_IP, bytes(6), OUR_IP))
    out = stack_rx(on, p_on, ours)
    assert len(out) == 1 and out[0][28:32] == OUR_IP  # our own address as before
    assert on.arp.lookup(PEER_IP, 0) is not None


def test_arp_no_learn():
    off, p_off, on, p_on = _pair("arp_no_learn")
    new_mac = b"\x02\x00\x00\x00\x00\x99"
    for s, peer in ((off, p_off), (on, p_on)):
        prime_arp(s, peer)  # a request for our address from the peer: answered
        assert s.counters["arp_replies_sent"] == 1
        grat = eth_frame(BCAST_MAC, new_mac, 0x0806,
                         arp_body(1, new_mac, PEER_IP, bytes(6), PEER_IP))
        stack_rx(s, peer, grat, 1)
    assert bytes(off.arp.lookup(PEER_IP, 1)) == new_mac  # created, then updated
    assert on.arp.lookup(PEER_IP, 1) is None and on.arp.entries() == []
    # a reply to our own request teaches nothing either
    assert on.arp.send_request(PEER_IP, 2)
    p_on.frames()
    rep = eth_frame(OUR_MAC, PEER_MAC, 0x0806, arp_body(2, PEER_MAC, PEER_IP, OUR_MAC, OUR_IP))
    stack_rx(on, p_on, rep, 3)
    assert on.arp.lookup(PEER_IP, 3) is None
    counters_are(on, arp_replies_sent=1, arp_requests_sent=1)


def test_frag_accept_overlap():
    off, p_off, on, p_on = _pair("frag_accept_overlap")
    body = echo_req(7, 7, bytes(range(120)))  # 128 bytes
    evil = bytes(b ^ 0xFF for b in body[48:64])
    f1 = frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, body[0:64], ident=9, flags_off=0x2000))
    f2 = frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, evil + body[64:], ident=9, flags_off=6))
    stack_rx(off, p_off, f1)
    assert stack_rx(off, p_off, f2) == []
    counters_are(off, ipv4_frag_overlap=1)
    prime_arp(on, p_on)  # a reassembled datagram is answered through ARP
    stack_rx(on, p_on, f1)
    out = stack_rx(on, p_on, f2)
    assert len(out) == 1
    rep = ip_of(out[0])[20:]
    assert rep[0] == 0 and rep[4:] == body[4:]  # the data held first won
    counters_are(on, ipv4_reassembled=1, icmp_echo_replies=1, arp_replies_sent=1)
    # one piece across several held ranges: it fills the gaps, the held bytes stay
    body = echo_req(8, 8, bytes(range(48)))  # 56 bytes
    junk = b"\xee" * 8
    piece = body[0:8] + junk + body[16:24] + junk + body[32:48]  # [0, 48)
    for fo, data in ((6, body[48:56]), (0x2000 | 1, body[8:16]), (0x2000 | 3, body[24:32]),
                     (0x2000, piece)):
        out = stack_rx(on, p_on, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, data, ident=10,
                                                   flags_off=fo)))
    assert len(out) == 1 and ip_of(out[0])[24:] == body[4:]
    counters_are(on, ipv4_reassembled=2, icmp_echo_replies=2, arp_replies_sent=1)
    assert on.ip.frag.in_use() == 0


def test_icmp_errors_unrestricted():
    off, p_off, on, p_on = _pair("icmp_errors_unrestricted")
    quote = ipv4_pkt(OUR_IP, b"\xc0\x00\x02\x01", 17, udp_dgram(OUR_IP, PEER_IP, 7, 40000, b""))
    frames = (
        _udp(9, b"x", dst=SUBNET_BCAST, dst_mac=BCAST_MAC),  # to a broadcast address
        _udp(9, b"x", dst_mac=BCAST_MAC),  # in a link-layer broadcast
        frame_in(ipv4_pkt(PEER_IP, OUR_IP, 253, b"y" * 16, ident=5, flags_off=2)),  # non-first
        frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, icmp_msg(3, 1, 0, quote))),  # an ICMP error
        _udp(9, b"x", src=ZERO_IP),  # from 0.0.0.0
    )
    got = []
    for s, peer in ((off, p_off), (on, p_on)):
        prime_arp(s, peer)
        out = []
        for f in frames:
            out += stack_rx(s, peer, f, 1)
        got.append(out)
    assert got[0] == []
    counters_are(off, udp_no_listener=3, icmp_error_suppressed=3, icmp_errors_received=1)
    assert off.ip.frag.in_use() == 1  # the fragment waits for the rest
    out = got[1]
    assert len(out) == 5
    for f, sent, code in zip(out, frames, (3, 3, 2, 2, 3)):
        ip = ip_of(f)
        assert f[0:6] == PEER_MAC and ip[9] == 1 and ip[20:22] == bytes((3, code))
        assert ip[28:] == ip_of(sent)[:len(ip) - 28]  # about that datagram
    assert ip_of(out[4])[16:20] == ZERO_IP  # routed via the gateway
    counters_are(on, udp_no_listener=3, ipv4_unknown_protocol=1, icmp_errors_received=1,
                 icmp_errors_sent=5)
    assert on.ip.frag.in_use() == 0


def test_ttl_zero():
    off, p_off, on, p_on = _pair("ttl_zero")
    for s, peer, ttl in ((off, p_off, 64), (on, p_on, 0)):
        prime_arp(s, peer)
        out = stack_rx(s, peer, _ping(), 1)
        assert s.udp.send(PEER_IP, 5000, 6000, b"x" * 2000, 2)  # fragmented
        out += peer.frames()
        assert len(out) == 3
        for f in out:
            ip = ip_of(f)
            assert ip[8] == ttl and csum16(ip[:20]) == 0
        counters_are(s, icmp_echo_replies=1, udp_tx=1, ipv4_fragments_sent=2)
