# layer/ip.py + layer/frag.py through a whole Stack: crafted frames in, the
# stack's answers checked byte by byte, every drop under its named counter.
import support
from support import (ip_stack, stack_rx, prime_arp, frame_in, ipv4_pkt, ipv4_hdr, echo_req,
                     udp_dgram, ip_of, counters_are, frag_pkts, defrag, csum16,
                     OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, SUBNET_BCAST, ALL_ONES, BCAST_MAC)


def _ping(ident=1, seq=1, data=b"ping!", src=PEER_IP, **kw):
    return frame_in(ipv4_pkt(src, OUR_IP, 1, echo_req(ident, seq, data), **kw))


def _expect_echo_reply(reply, request_ip_payload, ident_field=None):
    """The reply frame is the request's echo, our header, byte for byte."""
    ip = ip_of(reply)
    ident = (ip[4] << 8) | ip[5]
    want_icmp = bytearray(request_ip_payload)
    want_icmp[0] = 0
    want_icmp[2] = 0
    want_icmp[3] = 0
    c = csum16(want_icmp)
    want_icmp[2] = c >> 8
    want_icmp[3] = c & 255
    want_ip = ipv4_hdr(OUR_IP, PEER_IP, 1, len(want_icmp), ident=ident, ttl=64) + bytes(want_icmp)
    frame = PEER_MAC + OUR_MAC + b"\x08\x00" + want_ip
    if len(frame) < 60:
        frame += b"\x00" * (60 - len(frame))
    assert reply == frame, (reply, frame)
    return ident


def test_ping_answered_byte_by_byte():
    s, peer = ip_stack()
    out = stack_rx(s, peer, _ping(0x1234, 0x0001, b"abcdefgh"))
    assert len(out) == 1
    _expect_echo_reply(out[0], echo_req(0x1234, 0x0001, b"abcdefgh"))
    counters_are(s, icmp_echo_replies=1, rx_frames=1, tx_frames=1)


def test_ethernet_padding_trimmed():
    s, peer = ip_stack()
    out = stack_rx(s, peer, _ping(5, 6, b"x"))
    assert len(out) == 1 and len(out[0]) == 60  # the reply is padded to the minimum
    # the same ping padded with junk up to 80 bytes: the junk is not data
    out = stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(5, 7, b"x")),
                                     pad_to=80))
    assert len(out) == 1
    _expect_echo_reply(out[0], echo_req(5, 7, b"x"))
    counters_are(s, icmp_echo_replies=2)


def _malformed():
    good = ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 1, b"abcd"))
    c = (good[10] << 8) | good[11]
    return [
        (frame_in(good[:19]), "ipv4_truncated"),
        (frame_in(b""), "ipv4_truncated"),
        (frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 1), version=6)), "ipv4_bad_version"),
        (frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 1), ihl=4)), "ipv4_bad_header_len"),
        (frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 1), ihl=0)), "ipv4_bad_header_len"),
        (frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, b"", ihl=15)), "ipv4_truncated"),
        (frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 1), total=12)), "ipv4_bad_total_len"),
        (frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 1), total=200)), "ipv4_bad_total_len"),
        (frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 1, b"abcd"), csum=c ^ 0x100)),
         "ipv4_bad_checksum"),
        (frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 1), options=b"\x07\x00\x00\x00")),
         "ipv4_bad_options"),
        (frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 1), options=b"\x07\x10\x00\x00")),
         "ipv4_bad_options"),
        (frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(1, 1),
                           options=b"\x01\x01\x01\x83")), "ipv4_bad_options"),
    ]


def test_malformed_headers_counted_then_ping_still_answered():
    s, peer = ip_stack()
    want = {}
    for frame, reason in _malformed():
        assert stack_rx(s, peer, frame) == [], reason
        want[reason] = want.get(reason, 0) + 1
        counters_are(s, **want)
    out = stack_rx(s, peer, _ping(9, 9))
    assert len(out) == 1
    _expect_echo_reply(out[0], echo_req(9, 9, b"ping!"))
    want["icmp_echo_replies"] = 1
    counters_are(s, **want)


def test_bad_sources_dropped():
    s, peer = ip_stack()
    bad = (b"\xe0\x00\x00\x01", ALL_ONES, SUBNET_BCAST, b"\x7f\x00\x00\x01", OUR_IP,
           b"\x00\x00\x00\x00", b"\xf0\x01\x02\x03")
    for src in bad:
        assert stack_rx(s, peer, _ping(src=src)) == []
    # 0.x.y.z other than 0.0.0.0 is never a source, not even for UDP
    z = b"\x00\x01\x02\x03"
    f = frame_in(ipv4_pkt(z, OUR_IP, 17, udp_dgram(z, OUR_IP, 68, 67, b"")))
    assert stack_rx(s, peer, f) == []
    counters_are(s, ipv4_bad_source=len(bad) + 1)


def test_zero_source_accepted_for_udp_only():
    s, peer = ip_stack()
    got = []
    s.udp.bind(67, lambda v, o, n, src, sp, now:
               got.append((bytes(v[src:src + 4]), sp, bytes(v[o:o + n]))))
    zero = b"\x00\x00\x00\x00"
    f = frame_in(ipv4_pkt(zero, ALL_ONES, 17, udp_dgram(zero, ALL_ONES, 68, 67, b"discover")),
                 dst_mac=BCAST_MAC)
    assert stack_rx(s, peer, f) == []
    assert got == [(zero, 68, b"discover")]
    counters_are(s, udp_rx=1)


def test_destinations():
    s, peer = ip_stack()
    got = []
    s.udp.bind(9, lambda v, o, n, src, sp, now: got.append(bytes(v[o:o + n])))
    other = b"\x0a\x00\x02\x10"
    for dst, data in ((other, b"a"), (b"\xe0\x00\x00\x01", b"b"), (b"\x0a\x00\x03\xff", b"c")):
        f = frame_in(ipv4_pkt(PEER_IP, dst, 17, udp_dgram(PEER_IP, dst, 1, 9, data)))
        assert stack_rx(s, peer, f) == []
    counters_are(s, ipv4_not_for_us=3)
    for dst, data in ((SUBNET_BCAST, b"d"), (ALL_ONES, b"e"), (OUR_IP, b"f")):
        f = frame_in(ipv4_pkt(PEER_IP, dst, 17, udp_dgram(PEER_IP, dst, 1, 9, data)),
                     dst_mac=BCAST_MAC if dst != OUR_IP else OUR_MAC)
        assert stack_rx(s, peer, f) == []
    assert got == [b"d", b"e", b"f"]
    counters_are(s, ipv4_not_for_us=3, udp_rx=3)


def _check_unreachable(frame, code, orig_ip):
    ip = ip_of(frame)
    assert frame[0:6] == PEER_MAC and frame[6:12] == OUR_MAC
    assert csum16(ip[:20]) == 0 and ip[9] == 1 and ip[8] == 64
    assert ip[12:16] == OUR_IP and ip[16:20] == PEER_IP
    icmp = ip[20:]
    assert icmp[0] == 3 and icmp[1] == code and icmp[4:8] == b"\x00\x00\x00\x00"
    assert csum16(icmp) == 0
    assert icmp[8:] == orig_ip[:548]


def test_unknown_protocol_and_tcp_without_layer():
    s, peer = ip_stack()
    prime_arp(s, peer)
    for proto in (99, 6):
        pkt = ipv4_pkt(PEER_IP, OUR_IP, proto, b"0123456789abcdefXYZ")
        out = stack_rx(s, peer, frame_in(pkt), 10)
        assert len(out) == 1
        _check_unreachable(out[0], 2, pkt)
    counters_are(s, ipv4_unknown_protocol=2, icmp_errors_sent=2)


def test_options_stripped_from_reply():
    s, peer = ip_stack()
    opts = b"\x07\x07\x04\x00\x00\x00\x00\x01"  # record route + NOP
    out = stack_rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(3, 4, b"opt-data"),
                                              options=opts)))
    assert len(out) == 1
    _expect_echo_reply(out[0], echo_req(3, 4, b"opt-data"))
    counters_are(s, icmp_echo_replies=1)


def test_fragmented_ping_reassembled_and_answered_fragmented():
    s, peer = ip_stack()
    prime_arp(s, peer)
    data = bytes([i & 255 for i in range(3000)])
    req = echo_req(0x0102, 0x0304, data)
    frags = frag_pkts(PEER_IP, OUR_IP, 1, req)
    assert len(frags) == 3
    for i in (2, 0, 1):  # out of order
        out = stack_rx(s, peer, frame_in(frags[i]), 5)
    assert len(out) == 3
    hdr, payload = defrag(out)
    assert hdr[12:16] == OUR_IP and hdr[16:20] == PEER_IP and hdr[9] == 1 and hdr[8] == 64
    want = bytearray(req)
    want[0] = 0
    want[2] = want[3] = 0
    c = csum16(want)
    want[2] = c >> 8
    want[3] = c & 255
    assert payload == bytes(want)
    for f in out:
        assert len(f) <= 1514 and f[0:6] == PEER_MAC
    assert s.ip.frag.in_use() == 0
    counters_are(s, ipv4_reassembled=1, icmp_echo_replies=1, ipv4_fragments_sent=3)


def test_overlapping_fragments_drop_the_datagram():
    s, peer = ip_stack()
    body = echo_req(7, 7, b"A" * 40)  # 48 bytes
    f1 = ipv4_pkt(PEER_IP, OUR_IP, 1, body[0:24], ident=9, flags_off=0x2000)
    f2 = ipv4_pkt(PEER_IP, OUR_IP, 1, body[16:40], ident=9, flags_off=0x2000 | 2)  # 16..40
    f3 = ipv4_pkt(PEER_IP, OUR_IP, 1, body[24:48], ident=9, flags_off=3)
    assert stack_rx(s, peer, frame_in(f1)) == []
    assert stack_rx(s, peer, frame_in(f2)) == []
    counters_are(s, ipv4_frag_overlap=1)
    # the rest of that datagram is dropped too, never delivered
    assert stack_rx(s, peer, frame_in(f3)) == []
    counters_are(s, ipv4_frag_overlap=2)
    out = stack_rx(s, peer, _ping(1, 2))
    assert len(out) == 1
    counters_are(s, ipv4_frag_overlap=2, icmp_echo_replies=1)


def test_duplicate_fragment_ignored_changed_duplicate_is_overlap():
    s, peer = ip_stack()
    body = echo_req(7, 8, b"B" * 40)
    frags = frag_pkts(PEER_IP, OUR_IP, 1, body, size=16, ident=10)
    assert len(frags) == 3
    stack_rx(s, peer, frame_in(frags[0]))
    stack_rx(s, peer, frame_in(frags[0]))  # exact duplicate
    stack_rx(s, peer, frame_in(frags[1]))
    out = stack_rx(s, peer, frame_in(frags[2]))
    assert len(out) == 1
    counters_are(s, ipv4_frag_duplicate=1, ipv4_reassembled=1, icmp_echo_replies=1)
    # the same offsets with different bytes: an overlap
    frags = frag_pkts(PEER_IP, OUR_IP, 1, body, size=16, ident=11)
    stack_rx(s, peer, frame_in(frags[0]))
    changed = frag_pkts(PEER_IP, OUR_IP, 1, echo_req(7, 8, b"C" * 40), size=16, ident=11)
    stack_rx(s, peer, frame_in(changed[0]))
    assert stack_rx(s, peer, frame_in(frags[1])) == []
    assert stack_rx(s, peer, frame_in(frags[2])) == []
    counters_are(s, ipv4_frag_duplicate=1, ipv4_reassembled=1, icmp_echo_replies=1,
                 ipv4_frag_overlap=3)


def test_fragment_timeout_sends_time_exceeded():
    s, peer = ip_stack()
    prime_arp(s, peer)
    req = echo_req(1, 1, b"Z" * 100)
    frags = frag_pkts(PEER_IP, OUR_IP, 1, req, size=56, ident=77)
    assert stack_rx(s, peer, frame_in(frags[0]), 1000) == []
    assert s.next_timeout(1000) == 30000
    s.poll(30999)
    assert peer.frames() == []
    assert s.next_timeout(30999) == 1
    s.poll(31000)
    out = peer.frames()
    assert len(out) == 1
    ip = ip_of(out[0])
    icmp = ip[20:]
    assert icmp[0] == 11 and icmp[1] == 1 and csum16(icmp) == 0
    quoted = icmp[8:]
    assert quoted[12:16] == PEER_IP and quoted[16:20] == OUR_IP and quoted[4:6] == b"\x00\x4d"
    assert quoted[20:] == req[:56]  # what arrived from offset 0
    assert s.ip.frag.in_use() == 0 and s.next_timeout(31000) == -1
    counters_are(s, ipv4_frag_timeout=1, icmp_errors_sent=1)


def test_fragment_timeout_without_first_fragment_is_silent():
    s, peer = ip_stack()
    prime_arp(s, peer)
    frags = frag_pkts(PEER_IP, OUR_IP, 1, echo_req(1, 1, b"Z" * 100), size=56, ident=78)
    stack_rx(s, peer, frame_in(frags[1]), 0)
    s.poll(30000)
    assert peer.frames() == []
    counters_are(s, ipv4_frag_timeout=1)
    # and a late fragment starts a fresh reassembly (which times out again)
    stack_rx(s, peer, frame_in(frags[0]), 30001)
    assert s.ip.frag.in_use() == 1


def test_fragment_beyond_bound_is_too_big():
    s, peer = ip_stack()
    # 8 KiB is the reassembly bound: a fragment ending past it
    f = ipv4_pkt(PEER_IP, OUR_IP, 1, b"x" * 16, ident=5, flags_off=8184 // 8)
    assert stack_rx(s, peer, frame_in(f)) == []
    counters_are(s, ipv4_frag_too_big=1)
    # a datagram in progress is killed by one
    ok = ipv4_pkt(PEER_IP, OUR_IP, 1, b"y" * 16, ident=6, flags_off=0x2000)
    big = ipv4_pkt(PEER_IP, OUR_IP, 1, b"y" * 16, ident=6, flags_off=0x2000 | (8192 // 8))
    last = ipv4_pkt(PEER_IP, OUR_IP, 1, b"y" * 8, ident=6, flags_off=2)
    stack_rx(s, peer, frame_in(ok))
    stack_rx(s, peer, frame_in(big))
    assert stack_rx(s, peer, frame_in(last)) == []
    counters_are(s, ipv4_frag_too_big=3)


def _src(n):
    return bytes((10, 0, 2, n))


def _first_frag(src, ident):
    return frame_in(ipv4_pkt(src, OUR_IP, 1, b"q" * 16, ident=ident, flags_off=0x2000))


def test_reassembly_slots_are_bounded():
    s, peer = ip_stack()
    for i in range(5):  # four slots, four senders, then a fifth
        stack_rx(s, peer, _first_frag(_src(100 + i), 100 + i), i)
    assert s.ip.frag.in_use() == 4
    counters_are(s, ipv4_frag_no_memory=1)
    # a new datagram from a sender holding nothing takes the oldest, and completes
    frags = frag_pkts(PEER_IP, OUR_IP, 1, echo_req(1, 2, b"s" * 24), size=16, ident=200)
    for f in frags:
        out = stack_rx(s, peer, frame_in(f), 10)
    assert len(out) == 1
    counters_are(s, ipv4_frag_no_memory=2, ipv4_reassembled=1, icmp_echo_replies=1)


def test_one_sender_holds_at_most_half_the_reassembly_slots():
    s, peer = ip_stack()
    for i in range(5):
        stack_rx(s, peer, _first_frag(_src(66), 300 + i), i)
    assert s.ip.frag.in_use() == 2  # it recycles its own oldest
    counters_are(s, ipv4_frag_source_limit=3)


def test_fragment_flood_from_one_sender_evicts_nobody_else():
    # three senders each have a datagram half reassembled; one sender then
    # starts 1,000 datagrams it never finishes; the three still complete
    s, peer = ip_stack()
    prime_arp(s, peer)
    victims = (PEER_IP, _src(3), _src(4))
    halves = []
    for n in range(3):
        frags = frag_pkts(victims[n], OUR_IP, 1, echo_req(n, 1, b"v" * 40), size=24, ident=7)
        assert len(frags) == 2
        assert stack_rx(s, peer, frame_in(frags[0]), n) == []
        halves.append(frags[1])
    for i in range(1000):
        stack_rx(s, peer, _first_frag(_src(66), i), 10 + i // 100)
    assert s.ip.frag.in_use() == 4
    for n in range(3):
        stack_rx(s, peer, frame_in(halves[n]), 20)
    assert s.counters["ipv4_reassembled"] == 3
    counters_are(s, ipv4_reassembled=3, ipv4_frag_source_limit=999, icmp_echo_replies=3,
                 arp_requests_sent=2)
    # the flood kept one slot; a sender with nothing going gets a free one
    stack_rx(s, peer, _first_frag(_src(5), 1), 30)
    counters_are(s, ipv4_reassembled=3, ipv4_frag_source_limit=999, icmp_echo_replies=3,
                 arp_requests_sent=2)
    assert s.ip.frag.in_use() == 2


def test_inconsistent_fragment_ends():
    s, peer = ip_stack()
    a = ipv4_pkt(PEER_IP, OUR_IP, 1, b"x" * 8, ident=1, flags_off=2)  # last: ends at 24
    b = ipv4_pkt(PEER_IP, OUR_IP, 1, b"x" * 8, ident=1, flags_off=4)  # another last: ends at 40
    stack_rx(s, peer, frame_in(a))
    stack_rx(s, peer, frame_in(b))
    counters_are(s, ipv4_frag_bad=1)
    c = ipv4_pkt(PEER_IP, OUR_IP, 1, b"x" * 8, ident=2, flags_off=2)  # last: ends at 24
    d = ipv4_pkt(PEER_IP, OUR_IP, 1, b"x" * 16, ident=2, flags_off=0x2000 | 2)  # past the end
    stack_rx(s, peer, frame_in(c))
    stack_rx(s, peer, frame_in(d))
    counters_are(s, ipv4_frag_bad=2)
    e = ipv4_pkt(PEER_IP, OUR_IP, 1, b"x" * 12, ident=3, flags_off=0x2000)  # MF, 12 bytes
    stack_rx(s, peer, frame_in(e))
    counters_are(s, ipv4_frag_bad=3)


def test_send_routes_on_link_gateway_and_none():
    s, peer = ip_stack()
    prime_arp(s, peer)
    # off-link: to the gateway's MAC, the final address in the header
    assert s.udp.send(b"\x08\x08\x08\x08", 53, 1234, b"dns?", 1)
    out = peer.frames()
    assert len(out) == 1 and out[0][0:6] == PEER_MAC and ip_of(out[0])[16:20] == b"\x08\x08\x08\x08"
    # on-link, unknown: an ARP request for it (the datagram waits)
    assert s.udp.send(b"\x0a\x00\x02\x03", 53, 1234, b"dns?", 2)
    out = peer.frames()
    assert len(out) == 1 and out[0][12:14] == b"\x08\x06" and out[0][38:42] == b"\x0a\x00\x02\x03"
    # broadcast: straight to ff:ff:ff:ff:ff:ff
    assert s.udp.send(ALL_ONES, 9, 9, b"hi", 3)
    out = peer.frames()
    assert len(out) == 1 and out[0][0:6] == BCAST_MAC
    counters_are(s, udp_tx=3)


def test_no_route_without_gateway_and_no_leak():
    from ethox_uk.stack.config import Config
    from ethox_uk.stack.iface import Stack

    a, b = support.nic_pair()
    s = Stack(a, Config("10.0.2.15/24", None, "52:54:00:12:34:56"), seed=3)
    free = support.tx_free(a)
    for i in range(40):
        assert not s.udp.send(b"\x08\x08\x08\x08", 53, 1234, b"x" * 3000 if i & 1 else b"x", i)
    assert support.tx_free(a) == free
    assert not s.udp.send(OUR_IP, 53, 1234, b"to myself", 50)
    counters_are(s, ipv4_no_route=41, udp_tx=41)


def test_ident_counter_seeded():
    s1, p1 = ip_stack(seed=5)
    s2, p2 = ip_stack(seed=5)
    s3, p3 = ip_stack(seed=6)
    ids = []
    for s, p in ((s1, p1), (s2, p2), (s3, p3)):
        r1 = stack_rx(s, p, _ping())[0]
        r2 = stack_rx(s, p, _ping())[0]
        a = (ip_of(r1)[4] << 8) | ip_of(r1)[5]
        b = (ip_of(r2)[4] << 8) | ip_of(r2)[5]
        assert b == (a + 1) & 0xFFFF
        ids.append(a)
    assert ids[0] == ids[1] and ids[0] != ids[2]


def test_large_udp_send_is_fragmented():
    s, peer = ip_stack()
    prime_arp(s, peer)
    data = bytes([(i * 7) & 255 for i in range(4000)])
    assert s.udp.send(PEER_IP, 7, 5000, data, 1)
    out = peer.frames()
    assert len(out) == 3
    hdr, payload = defrag(out)
    assert payload == udp_dgram(OUR_IP, PEER_IP, 5000, 7, data)
    assert hdr[9] == 17 and hdr[12:16] == OUR_IP and hdr[16:20] == PEER_IP
    counters_are(s, udp_tx=1, ipv4_fragments_sent=3)
    support.raises(ValueError, s.udp.send, PEER_IP, 7, 5000, b"x" * 9000, 2)


def test_reply_to_reassembled_datagram_goes_out_fragmented():
    s, peer = ip_stack()
    prime_arp(s, peer)

    def echo(view, off, n, src, sport, now):
        return n  # the payload is already in place

    s.udp.bind(7, echo)
    data = bytes([i & 255 for i in range(2500)])
    dg = udp_dgram(PEER_IP, OUR_IP, 3333, 7, data)
    for f in frag_pkts(PEER_IP, OUR_IP, 17, dg, size=1200):
        out = stack_rx(s, peer, frame_in(f), 2)
    hdr, payload = defrag(out)
    assert len(out) == 2
    assert payload == udp_dgram(OUR_IP, PEER_IP, 7, 3333, data)
    # a short answer to a reassembled datagram leaves whole, not in place
    s.udp.unbind(7)
    s.udp.bind(7, lambda v, o, n, src, sp, now: 3)
    for f in frag_pkts(PEER_IP, OUR_IP, 17, dg, size=1200, ident=2):
        out = stack_rx(s, peer, frame_in(f), 3)
    assert len(out) == 1 and ip_of(out[0])[20:] == udp_dgram(OUR_IP, PEER_IP, 7, 3333, data[:3])
    counters_are(s, ipv4_reassembled=2, udp_rx=2, udp_tx=2, ipv4_fragments_sent=2)


def test_next_timeout_and_refresh():
    s, peer = ip_stack()
    assert s.ip.next_timeout(0) == -1
    s.ip.refresh()
    assert bytes(s.ip.addr) == OUR_IP and bytes(s.ip.bcast) == SUBNET_BCAST
    assert bytes(s.ip.mask) == b"\xff\xff\xff\x00" and s.ip.has_gw
