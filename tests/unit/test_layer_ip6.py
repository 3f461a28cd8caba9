# layer/ip6.py, icmp6.py, frag6.py and UDP over IPv6: what the stack accepts and
# answers, the extension-header rules of RFC 8200, ICMPv6 errors and the
# RFC 4443 §2.4 rules that silence them, reassembly, path MTU, two stacks.
from support import OUR_MAC, PEER_MAC, csum16, nic_pair, u16
from support6 import (ALL_NODES, OUR_LL, OUR_SN, PEER_LL, UNSPEC, a6, echo6, frame6, icmp6,
                      icmp6_of, ip6_of, ipv6_pkt, learn_peer, mcast_mac, of_type, pseudo6, run,
                      rx, settled, stack6, udp6)


def _ready():
    s, peer, _ = settled()
    learn_peer(s, peer, 2050)
    return s, peer


def _echo_in(data=b"ping", dst=OUR_LL, ident=0x1234, seq=7, dst_mac=OUR_MAC, **kw):
    return frame6(ipv6_pkt(PEER_LL, dst, 58, echo6(PEER_LL, dst, ident, seq, data), **kw),
                  dst_mac)


def _drops(s, **expect):
    c = s.counters
    assert c["internal_error"] == 0, s.last_error
    for k, v in expect.items():
        assert c[k] == v, "%s = %d, expected %d (drops %r)" % (k, c[k], v, c.drops())


def test_echo_to_the_link_local_is_answered_in_place():
    s, peer = _ready()
    for data in (b"", b"x", bytes(range(256)) * 5 + b"odd"):
        out = rx(s, peer, _echo_in(data), 2100)
        assert len(out) == 1
        f = out[0]
        assert f[0:6] == PEER_MAC and f[6:12] == OUR_MAC and f[12:14] == b"\x86\xdd"
        p = ip6_of(f)
        assert p[8:24] == OUR_LL and p[24:40] == PEER_LL and p[7] == 64 and p[6] == 58
        t, code, m = icmp6_of(f)
        assert (t, code) == (129, 0) and m[4:8] == u16(0x1234) + u16(7) and m[8:] == data
    _drops(s, icmp6_echo_replies=3)


def test_echo_to_all_nodes_is_answered_from_our_unicast_address():
    s, peer = _ready()
    out = rx(s, peer, _echo_in(b"all", ALL_NODES, dst_mac=mcast_mac(ALL_NODES)), 2100)
    assert len(out) == 1
    p = ip6_of(out[0])
    assert p[8:24] == OUR_LL and p[24:40] == PEER_LL and out[0][0:6] == PEER_MAC


def test_what_is_not_ours_is_dropped():
    s, peer = _ready()
    for f in (_echo_in(dst=a6("fe80::99")),  # another host
              _echo_in(dst=a6("ff02::1:ff00:99"), dst_mac=mcast_mac(a6("ff02::1:ff00:99"))),
              _echo_in(version=4),
              _echo_in()[:60]):  # payload length past the frame
        assert rx(s, peer, f, 2100) == []
    for src in (a6("ff02::1"), a6("::1"), OUR_LL, UNSPEC):
        f = frame6(ipv6_pkt(src, OUR_LL, 58, echo6(src, OUR_LL, 1, 1)))
        assert rx(s, peer, f, 2100) == []
    bad = bytearray(_echo_in(b"abcd"))
    bad[-1] ^= 1
    assert rx(s, peer, bytes(bad), 2100) == []
    _drops(s, ipv6_not_for_us=2, ipv6_bad_version=1, ipv6_bad_length=1, ipv6_bad_source=4,
           icmp6_bad_checksum=1)


def test_a_tentative_address_takes_no_traffic():
    s, peer = stack6()
    s.poll(0)  # started: the link-local is tentative until DAD ends
    peer.frames()
    assert rx(s, peer, _echo_in(), 10) == []
    _drops(s, ipv6_not_for_us=1, icmp6_echo_replies=0)


def _pp(out):
    """(code, pointer, quoted packet) of the one Parameter Problem in out."""
    pps = of_type(out, 4)
    assert len(pps) == 1, out
    t, code, m = icmp6_of(pps[0])
    return code, (m[4] << 24) | (m[5] << 16) | (m[6] << 8) | m[7], m[8:]


def _with_ext(nh_chain, dst=OUR_LL, upper=None):
    """A packet whose payload is the extension headers in nh_chain ((type, body))
    followed by an echo request."""
    body = b""
    types = [t for t, _ in nh_chain] + [58]
    for k in range(len(nh_chain)):
        h = nh_chain[k][1]
        body += bytes((types[k + 1],)) + h
    body += upper if upper is not None else echo6(PEER_LL, dst, 1, 1, b"ext")
    return ipv6_pkt(PEER_LL, dst, types[0], body)


def test_extension_headers_are_walked():
    s, peer = _ready()
    pad = bytes((0, 1, 4, 0, 0, 0, 0))  # len 0 (8 bytes): PadN(4) + ... wait below
    hbh = bytes((0, 1, 4, 0, 0, 0, 0))  # hdr ext len 0, PadN with 4 bytes of padding
    dst_opts = bytes((0, 0x3e, 4, 0, 0, 0, 0))  # an unknown 00-type option: skipped
    route0 = bytes((0, 0, 0, 0, 0, 0, 0))  # routing type 0, segments left 0: skipped
    atomic = bytes((0, 0, 0, 0, 0, 0, 9))  # a Fragment header of one fragment
    pkt = _with_ext([(0, hbh), (60, dst_opts), (43, route0), (44, atomic)])
    out = rx(s, peer, frame6(pkt), 2100)
    assert len(out) == 1 and icmp6_of(out[0])[0] == 129, out
    assert ip6_of(out[0])[6] == 58  # the reply carries none of them
    assert pad


def test_parameter_problems():
    s, peer = _ready()
    s.icmp6.errors.burst = 100
    s.icmp6.errors.tokens = 100
    # unknown next header: code 1, pointing at the Next Header field
    pkt = ipv6_pkt(PEER_LL, OUR_LL, 253, b"12345678")
    code, ptr, quote = _pp(rx(s, peer, frame6(pkt), 2100))
    assert (code, ptr) == (1, 6) and quote == pkt
    # the same behind a Destination Options header: the pointer is that header's field
    pkt = _with_ext([(60, bytes(7))], upper=b"12345678")
    pkt = pkt[:40] + bytes((253,)) + pkt[41:]
    code, ptr, quote = _pp(rx(s, peer, frame6(pkt), 2100))
    assert (code, ptr) == (1, 40)
    # Hop-by-Hop anywhere but first is an unknown next header
    pkt = _with_ext([(60, bytes(7)), (0, bytes(7))])
    code, ptr, _ = _pp(rx(s, peer, frame6(pkt), 2100))
    assert (code, ptr) == (1, 40)
    # a routing header with segments left: code 0 at its Routing Type (RFC 8200 §4.4)
    pkt = _with_ext([(43, bytes((2, 0, 1, 0, 0, 0, 0)) + bytes(16))])
    code, ptr, _ = _pp(rx(s, peer, frame6(pkt), 2100))
    assert (code, ptr) == (0, 42)
    # unknown options by their two high bits (RFC 8200 §4.2): 10 and 11 answer, 01 not
    for t, answered in ((0x9e, True), (0xde, True), (0x7e, False)):
        pkt = _with_ext([(60, bytes((0, t, 4, 0, 0, 0, 0)))])
        out = rx(s, peer, frame6(pkt), 2100)
        if answered:
            code, ptr, _ = _pp(out)
            assert (code, ptr) == (2, 42)
        else:
            assert out == []
    # to a group: only the 10 type is answered (and 11 is not)
    for t, answered in ((0x9e, True), (0xde, False)):
        pkt = _with_ext([(60, bytes((0, t, 4, 0, 0, 0, 0)))], dst=ALL_NODES)
        out = rx(s, peer, frame6(pkt, mcast_mac(ALL_NODES)), 2100)
        assert len(of_type(out, 4)) == (1 if answered else 0)
    _drops(s, ipv6_unknown_next_header=3, ipv6_routing_header=1, ipv6_bad_option=5)


def test_no_error_about_errors_groups_or_odd_sources():
    s, peer = _ready()
    # an ICMPv6 error (dest unreachable) carrying an unknown option: not answered
    inner = ipv6_pkt(OUR_LL, PEER_LL, 17, b"12345678")
    err = icmp6(PEER_LL, OUR_LL, 1, 4, bytes(4) + inner)
    pkt = ipv6_pkt(PEER_LL, OUR_LL, 60, bytes((58, 0, 0xde, 4, 0, 0, 0, 0)) + err)
    assert of_type(rx(s, peer, frame6(pkt), 2100), 4) == []
    # a closed UDP port reached through a group address: no port unreachable
    u = udp6(PEER_LL, ALL_NODES, 1000, 4444, b"x")
    out = rx(s, peer, frame6(ipv6_pkt(PEER_LL, ALL_NODES, 17, u), mcast_mac(ALL_NODES)), 2100)
    assert out == []
    # ... nor in a link-layer group frame
    u = udp6(PEER_LL, OUR_LL, 1000, 4444, b"x")
    assert rx(s, peer, frame6(ipv6_pkt(PEER_LL, OUR_LL, 17, u), mcast_mac(ALL_NODES)), 2100) == []
    _drops(s, icmp6_error_suppressed=3, icmp6_errors_sent=0)


def test_udp_echo_port_unreachable_and_checksums():
    from ethox_uk.stack import services

    s, peer = _ready()
    services.serve_udp_echo(s)
    u = udp6(PEER_LL, OUR_LL, 4000, 7, b"over six")
    out = rx(s, peer, frame6(ipv6_pkt(PEER_LL, OUR_LL, 17, u)), 2100)
    assert len(out) == 1
    p = ip6_of(out[0])
    assert p[6] == 17 and p[8:24] == OUR_LL and p[24:40] == PEER_LL
    d = p[40:]
    assert d[0:2] == u16(7) and d[2:4] == u16(4000) and d[8:] == b"over six"
    assert csum16(pseudo6(p[8:24], p[24:40], 17, len(d)) + d) == 0
    u = udp6(PEER_LL, OUR_LL, 4000, 4444, b"closed")
    pkt = ipv6_pkt(PEER_LL, OUR_LL, 17, u)
    out = rx(s, peer, frame6(pkt), 2100)
    t, code, m = icmp6_of(out[0])
    assert (t, code) == (1, 4) and m[8:] == pkt
    for bad in (udp6(PEER_LL, OUR_LL, 4000, 7, b"zero", csum=0),
                udp6(PEER_LL, OUR_LL, 4000, 7, b"wrong", csum=0x1234)):
        assert rx(s, peer, frame6(ipv6_pkt(PEER_LL, OUR_LL, 17, bad)), 2100) == []
    _drops(s, udp_no_checksum=1, udp_bad_checksum=1, udp_no_listener=1)


def test_udp_echo_refuses_groups_and_low_ports():
    """No echo loops over IPv6 either (services.udp6_echo_handler)."""
    from ethox_uk.stack import services

    s, peer = _ready()
    services.serve_udp_echo(s)
    u = udp6(PEER_LL, OUR_LL, 7, 7, b"loop?")
    assert rx(s, peer, frame6(ipv6_pkt(PEER_LL, OUR_LL, 17, u)), 2100) == []
    u = udp6(PEER_LL, ALL_NODES, 4000, 7, b"to all")
    assert rx(s, peer, frame6(ipv6_pkt(PEER_LL, ALL_NODES, 17, u), mcast_mac(ALL_NODES)),
              2100) == []
    assert s.counters.c["udp_echo_refused"] == 2
    u = udp6(PEER_LL, OUR_LL, 1024, 7, b"fine")
    assert len(rx(s, peer, frame6(ipv6_pkt(PEER_LL, OUR_LL, 17, u)), 2100)) == 1


def test_errors_are_rate_limited():
    s, peer = _ready()
    out = []
    for k in range(25):
        pkt = ipv6_pkt(PEER_LL, OUR_LL, 253, b"%8d" % k)
        out += rx(s, peer, frame6(pkt), 2100)
    assert len(of_type(out, 4)) == 10
    _drops(s, icmp6_rate_limited=15)
    out = rx(s, peer, frame6(ipv6_pkt(PEER_LL, OUR_LL, 253, b"later...")), 2300)
    assert len(of_type(out, 4)) == 1  # refilled, one per 100 ms


def test_a_refilled_bucket_banks_no_time_while_full():
    # Drained at 2100, full again by 3100: at 3150 ten go at once, and the next
    # token comes 100 ms after that (3250), not on the old refill grid (3200).
    s, peer = _ready()
    for k in range(10):
        rx(s, peer, frame6(ipv6_pkt(PEER_LL, OUR_LL, 253, b"%8d" % k)), 2100)
    sent = []
    for now in (3150,) * 11 + (3200, 3249, 3250):
        pkt = ipv6_pkt(PEER_LL, OUR_LL, 253, b"%8d" % now)
        sent.append(len(of_type(rx(s, peer, frame6(pkt), now), 4)))
    assert sent == [1] * 10 + [0, 0, 0, 1], sent
    _drops(s, icmp6_rate_limited=3)


def _frags(src, dst, nh, payload, size, ident=0x1234567, first=b""):
    """IPv6 fragments (packets) of payload, `size` bytes each (a multiple of 8)."""
    out = []
    pos = 0
    while pos < len(payload):
        n = min(size, len(payload) - pos)
        more = 1 if pos + n < len(payload) else 0
        fh = bytes((nh, 0)) + u16(pos | more) + u16(ident >> 16) + u16(ident & 0xFFFF)
        out.append(ipv6_pkt(src, dst, 44, fh + payload[pos:pos + n]))
        pos += n
    return out


def _defrag(frames):
    """Rebuild the payload from our fragment frames (asserting their shape)."""
    parts = []
    for f in frames:
        p = ip6_of(f)
        assert p[6] == 44 and len(f) <= 1514
        off = ((p[42] << 8) | p[43]) & 0xFFF8
        parts.append((off, p[43] & 1, p[40], p[48:]))
    parts.sort()
    data = b""
    for off, more, nh, body in parts:
        assert off == len(data)
        data += body
    assert parts[-1][1] == 0
    return parts[0][2], data


def test_a_fragmented_ping_is_reassembled_and_answered_fragmented():
    s, peer = _ready()
    data = bytes(range(256)) * 12
    m = echo6(PEER_LL, OUR_LL, 9, 9, data)
    fr = _frags(PEER_LL, OUR_LL, 58, m, 1232)
    out = []
    for p in reversed(fr):  # out of order
        out += rx(s, peer, frame6(p), 2100)
    assert len(out) == 3
    nh, reply = _defrag(out)
    assert nh == 58 and reply[0] == 129 and reply[8:] == data
    assert csum16(pseudo6(OUR_LL, PEER_LL, 58, len(reply)) + reply) == 0
    _drops(s, ipv6_reassembled=1, ipv6_fragments_sent=3)


def test_fragment_rules():
    s, peer = _ready()
    s.icmp6.errors.burst = 100
    s.icmp6.errors.tokens = 100
    m = echo6(PEER_LL, OUR_LL, 9, 9, bytes(2000))
    a, b = _frags(PEER_LL, OUR_LL, 58, m, 1232, ident=1)
    # overlap: the datagram goes (RFC 5722), its late fragments with it
    c = ipv6_pkt(PEER_LL, OUR_LL, 44, a[40:42] + u16(1224 | 1) + a[44:48] + bytes(16))
    assert rx(s, peer, frame6(a), 2100) == [] and rx(s, peer, frame6(c), 2100) == []
    assert rx(s, peer, frame6(b), 2100) == []
    _drops(s, ipv6_frag_overlap=2)
    # M set and a length that is no multiple of 8: Parameter Problem at the Payload Length
    odd = ipv6_pkt(PEER_LL, OUR_LL, 44, bytes((58, 0, 0, 1, 0, 0, 0, 2, 128)) + bytes(12))
    code, ptr, _ = _pp(rx(s, peer, frame6(odd), 2100))
    assert (code, ptr) == (0, 4)
    # past 65535 bytes: at the Fragment Offset
    far = ipv6_pkt(PEER_LL, OUR_LL, 44, bytes((58, 0, 0xFF, 0xF9, 0, 0, 0, 3)) + bytes(16))
    code, ptr, _ = _pp(rx(s, peer, frame6(far), 2100))
    assert (code, ptr) == (0, 42)
    # a first fragment whose header chain stops short of the upper-layer header
    short = ipv6_pkt(PEER_LL, OUR_LL, 44, bytes((60, 0, 0, 1, 0, 0, 0, 4)) + bytes((58, 3))
                     + bytes(6))
    assert rx(s, peer, frame6(short), 2100) == []
    _drops(s, ipv6_frag_overlap=2, ipv6_frag_bad=3)


def test_reassembly_times_out_with_time_exceeded_and_caps_each_source():
    s, peer = _ready()
    m = echo6(PEER_LL, OUR_LL, 9, 9, bytes(3000))
    fr = _frags(PEER_LL, OUR_LL, 58, m, 1232, ident=5)
    assert rx(s, peer, frame6(fr[0]), 2100) == []
    out = run(s, peer, 2200, 62200, 1000)
    te = of_type(out, 3)
    assert len(te) == 1
    t, code, q = icmp6_of(te[0])
    assert code == 1 and q[8 + 40] == 58 and q[8 + 6] == 44  # quotes the first fragment
    # per source: two reassemblies at once, a third waits
    for ident in (10, 11, 12):
        fr = _frags(PEER_LL, OUR_LL, 58, m, 1232, ident=ident)
        rx(s, peer, frame6(fr[1]), 63000)
    assert s.ip6.frag.in_use() == 2
    _drops(s, ipv6_frag_timeout=1, ipv6_frag_source_limit=1)


def test_a_repeated_fragment_is_a_duplicate_and_data_past_the_bound_is_too_big():
    s, peer = _ready()
    m = echo6(PEER_LL, OUR_LL, 9, 9, bytes(2000))
    a, b = _frags(PEER_LL, OUR_LL, 58, m, 1232, ident=1)
    assert rx(s, peer, frame6(a), 2100) == [] and rx(s, peer, frame6(a), 2100) == []
    assert len(rx(s, peer, frame6(b), 2100)) == 2  # the reply, fragmented
    _drops(s, ipv6_frag_duplicate=1, ipv6_reassembled=1)
    # past the 8192-byte slot: alone, then into a reassembly (which it kills)
    far = ipv6_pkt(PEER_LL, OUR_LL, 44, bytes((58, 0)) + u16(8192 | 1) + u16(0) + u16(2)
                   + bytes(8))
    assert rx(s, peer, frame6(far), 2100) == []
    a, b = _frags(PEER_LL, OUR_LL, 58, m, 1232, ident=3)
    past = ipv6_pkt(PEER_LL, OUR_LL, 44, bytes((58, 0)) + u16(8184 | 1) + u16(0) + u16(3)
                    + bytes(16))
    for p in (a, past, b):  # b finds the tombstone
        assert rx(s, peer, frame6(p), 2100) == []
    assert s.ip6.frag.in_use() == 1
    _drops(s, ipv6_frag_duplicate=1, ipv6_reassembled=1, ipv6_frag_too_big=3)


def test_a_full_reassembly_table_gives_the_oldest_slot_to_a_new_source():
    s, peer = _ready()
    one, two, three = a6("fe80::a1"), a6("fe80::a2"), a6("fe80::a3")
    t = 2100
    for src, ident in ((one, 1), (one, 2), (two, 3), (two, 4)):
        fr = _frags(src, OUR_LL, 58, echo6(src, OUR_LL, 9, 9, bytes(3000)), 1232, ident=ident)
        assert rx(s, peer, frame6(fr[0]), t) == []
        t += 1
    assert s.ip6.frag.in_use() == 4
    fr = _frags(three, OUR_LL, 58, echo6(three, OUR_LL, 9, 9, bytes(3000)), 1232, ident=5)
    for p in fr:
        rx(s, peer, frame6(p), t)
    _drops(s, ipv6_frag_no_memory=1, ipv6_reassembled=1)
    assert s.ip6.frag.in_use() == 3  # ident 1 (the oldest) went; ident 5 is done
    done = 1
    for src, ident, whole in ((one, 1, 0), (one, 2, 1), (two, 3, 1), (two, 4, 1)):
        fr = _frags(src, OUR_LL, 58, echo6(src, OUR_LL, 9, 9, bytes(3000)), 1232, ident=ident)
        for p in fr[1:]:  # the rest of the datagram
            rx(s, peer, frame6(p), t)
        done += whole
        _drops(s, ipv6_frag_no_memory=1, ipv6_reassembled=done)
    assert s.ip6.frag.in_use() == 1  # ident 1 afresh, without its first fragment


def test_a_reassembly_without_its_first_fragment_times_out_silently():
    s, peer = _ready()
    fr = _frags(PEER_LL, OUR_LL, 58, echo6(PEER_LL, OUR_LL, 9, 9, bytes(3000)), 1232, ident=7)
    assert rx(s, peer, frame6(fr[1]), 2100) == []
    assert of_type(run(s, peer, 2200, 62200, 1000), 3) == []
    assert s.ip6.frag.in_use() == 0
    _drops(s, ipv6_frag_timeout=1)


def test_packet_too_big_lowers_the_path_mtu_never_below_1280():
    s, peer = _ready()
    big = bytes(1300)
    out = rx(s, peer, _echo_in(big), 2100)
    assert len(out) == 1 and len(out[0]) == 14 + 40 + 8 + 1300
    for mtu in (1400, 500):
        quoted = ip6_of(out[0])
        ptb = icmp6(PEER_LL, OUR_LL, 2, 0, bytes((0, 0, mtu >> 8, mtu & 255)) + quoted[:1232])
        rx(s, peer, frame6(ipv6_pkt(PEER_LL, OUR_LL, 58, ptb)), 2200)
    assert s.ip6.path_mtu(PEER_LL) == 1280
    out = rx(s, peer, _echo_in(big, seq=8), 2300)
    assert len(out) == 2  # fragmented at 1280
    assert max(len(ip6_of(f)) for f in out) <= 1280
    _, data = _defrag(out)
    assert data[8:] == big
    # RFC 8201 §4: after 10 minutes the link MTU is tried again
    assert s.ip6.path_mtu(PEER_LL) == 1280
    s.poll(2300 + 600001)
    assert s.ip6.path_mtu(PEER_LL) == 1500
    _drops(s, icmp6_too_big_rx=2)


def test_two_stacks_ping_and_udp_over_link_local():
    from ethox_uk.stack.config import Config
    from ethox_uk.stack.iface import Stack

    na, nb = nic_pair(3)
    A = Stack(na, Config("10.0.2.15/24", None, "52:54:00:12:34:56", ip6="auto"), seed=3)
    B = Stack(nb, Config("10.0.2.2/24", None, "52:54:00:00:00:02", ip6="auto"), seed=4)
    t = 0
    while t < 2100:
        A.poll(t)
        B.poll(t)
        t += 5
    got = []
    A.icmp6.echo_handler = lambda v, o, i, q, d, n, now: got.append((i, q, bytes(v[d:d + n])))
    assert A.icmp6.ping(PEER_LL, 5, 6, b"hello", t)
    for k in range(10):  # neighbour discovery first: it queues one packet per neighbour
        A.poll(t)
        B.poll(t)
        t += 5
    rxd = []
    B.udp.bind6(7000, lambda v, off, n, so, sp, now: rxd.append((bytes(v[so:so + 16]), sp,
                                                                 len(v[off:off + n]))) or n)
    A.udp.bind6(5000, lambda v, off, n, so, sp, now: rxd.append((sp, bytes(v[off:off + 4]))))
    A.udp.send6(PEER_LL, 7000, 5000, b"abcd" * 900, t)  # 3600 bytes: fragmented both ways
    for k in range(40):
        A.poll(t)
        B.poll(t)
        t += 5
    assert got == [(5, 6, b"hello")]
    assert rxd == [(OUR_LL, 5000, 3600), (7000, b"abcd")]
    for S in (A, B):
        assert S.counters["internal_error"] == 0
        assert S.counters["ipv6_reassembled"] == 1


def test_ipv4_keeps_working_beside_ipv6():
    from support import PEER_IP, OUR_IP, echo_req, frame_in, ipv4_pkt

    s, peer = _ready()
    out = rx(s, peer, frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(3, 4, b"v4"))), 2100)
    assert len(out) == 1 and out[0][12:14] == b"\x08\x00" and out[0][34] == 0
    out = rx(s, peer, _echo_in(b"v6"), 2100)
    assert len(out) == 1 and icmp6_of(out[0])[0] == 129
