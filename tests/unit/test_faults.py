# stack/faults.py: the test-only fault switches (negative controls). parse(), and
# for each switch: the stack misbehaves exactly as named with it on, and does
# not with it off (the same frames through a stack without the switch).
from ethox_uk.stack import faults
from ethox_uk.stack.layer.tcp import TcpLayer
import tcp_support as T
from tcp_support import R, SYN, ACK, RST
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
    e = raises(ValueError, faults.parse, "ttl_zero,fixed_mac")
    msg = str(e)
    assert "fixed_mac" in msg
    for n in faults.NAMES:
        assert n in msg, n
    raises(ValueError, faults.parse, "TTL_ZERO")  # names are exact


def test_names():
    assert type(faults.NAMES) is tuple and len(set(faults.NAMES)) == len(faults.NAMES) == 24


def test_default_stack_has_every_switch_off():
    s, peer = ip_stack()
    assert s.faults == frozenset()
    assert not (s.arp.answer_any or s.arp.no_learn or s.ip.ignore_checksum
                or s.ip.errors_unrestricted or s.ip.frag.accept_overlap
                or s.icmp.ignore_checksum or s.icmp.errors_unrestricted
                or s.udp.ignore_checksum or s.udp.no_checksum)
    assert s.ip.ttl == 64
    lo = _tcp()
    t = lo.s.tcp
    assert not (t.ignore_checksum or t.no_challenge_ack or t.ep.fixed_isn or t.no_rto_backoff
                or t.answer_rst or t.no_mss_option or t.accept_out_of_window
                or t.syn_window_default or t.no_probe_in_flight or t.window_update_unmoved
                or t.rexmit_past_window or t.dupack_inflation or t.time_wait_rst_accepted)
    assert t.dupthresh == 3 and t.early_rexmit


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


# -- TCP switches (one Lone stack against hand-made segments each) ------------------
def _tcp(name=None):
    lo = T.Lone()
    if name is not None:
        lo.s.faults = faults.parse(name)
        lo.s.tcp = TcpLayer(lo.s, lo.app)
        lo.app.layer = lo.s.tcp
    return lo


def _tcp_pair(name):
    return _tcp(), _tcp(name)


def test_ignore_tcp_checksum():
    for lo in _tcp_pair("ignore_tcp_checksum"):
        lo.s.tcp.listen(80)
        r = R(40000, 80, 1000, 0, SYN, mss=1460)
        seg = bytearray(r.buffer_len())
        r.emit(seg, T.B_IP, T.A_IP)
        seg[16] ^= 0x5A
        lo.inject_segment(seg)
        out = lo.out()
        if lo.s.tcp.ignore_checksum:
            assert len(out) == 1 and out[0].flags == SYN | ACK
            assert lo.s.counters["tcp_bad_checksum"] == 0
        else:
            assert out == [] and lo.s.counters["tcp_bad_checksum"] == 1


def test_no_challenge_ack():
    for lo in _tcp_pair("no_challenge_ack"):
        key, iss = lo.handshake()
        lo.send(R(40000, 80, 1500, 0, RST))  # in the window, not at RCV.NXT
        lo.send(R(40000, 80, 1001, 0, SYN, mss=1460))  # SYN when synchronized
        out = lo.out()
        assert lo.s.tcp.state_name(key) == "ESTABLISHED"
        if lo.s.tcp.no_challenge_ack:
            assert out == [] and lo.s.counters["tcp_challenge_acks_sent"] == 0
        else:
            assert len(out) == 2 and out[0].flags == ACK and out[0].ack == 1001
            assert lo.s.counters["tcp_challenge_acks_sent"] == 2


def test_fixed_isn():
    for lo in _tcp_pair("fixed_isn"):
        lo.app.connect(0, T.B_IP, 8080)
        lo.app.connect(7, T.B_IP, 8081)
        a, b = lo.out()
        assert a.flags == SYN and b.flags == SYN
        if lo.s.tcp.ep.fixed_isn:
            assert a.seq == b.seq
        else:
            assert a.seq != b.seq


def test_no_rto_backoff():
    for lo in _tcp_pair("no_rto_backoff"):
        key = lo.app.connect(0, T.B_IP, 8080)
        syn = lo.out()[0]
        c = lo.s.tcp.connection(key)
        assert c.rto == 1000
        lo.tick(1000)
        again = lo.out()
        assert len(again) == 1 and again[0].seq == syn.seq
        assert lo.s.counters["tcp_timeouts"] == 1
        assert c.rto == (1000 if lo.s.tcp.no_rto_backoff else 2000)


def test_answer_rst():
    for lo in _tcp_pair("answer_rst"):
        lo.send(R(40000, 81, 5000, 0, RST))  # no connection
        stray = lo.out()
        key, iss = lo.handshake()
        lo.send(R(40000, 80, 1001 + 200000, 0, RST))  # outside the window
        inconn = lo.out()
        assert lo.s.tcp.state_name(key) == "ESTABLISHED"
        if lo.s.tcp.answer_rst:
            assert len(stray) == 1 and stray[0].flags == RST | ACK and stray[0].ack == 5000
            assert len(inconn) == 1 and inconn[0].flags == ACK and inconn[0].ack == 1001
        else:
            assert stray == [] and inconn == []
            assert lo.s.counters["tcp_rst_ignored"] == 1


def test_no_mss_option():
    for lo in _tcp_pair("no_mss_option"):
        lo.s.tcp.listen(80)
        lo.send(R(40000, 80, 1000, 0, SYN, mss=600))
        synack = lo.out()[0]
        lo.app.connect(1, T.B_IP, 8080)
        syn = lo.out()[0]
        assert synack.flags == SYN | ACK and syn.flags == SYN
        c = lo.s.tcp.connection(lo.s.tcp.keys()[0])
        if lo.s.tcp.no_mss_option:
            assert synack.mss is None and syn.mss is None and c.mss == 1460
        else:
            assert synack.mss == 1460 and syn.mss == 1460 and c.mss == 600


def test_accept_out_of_window():
    for lo in _tcp_pair("accept_out_of_window"):
        key, iss = lo.handshake()
        lo.send(R(40000, 80, 1001 + 70000, iss + 1, ACK, payload=b"far"))
        out = lo.out()
        assert lo.app.get(key).received == b""  # never delivered either way
        if lo.s.tcp.accept_out_of_window:
            assert out == [] and lo.s.counters["tcp_out_of_window"] == 0
        else:
            assert len(out) == 1 and out[0].ack == 1001
            assert lo.s.counters["tcp_out_of_window"] == 1


def test_no_fast_retransmit():
    for lo in _tcp_pair("no_fast_retransmit"):
        key, iss = lo.handshake()
        lo.app.push(key, bytes(3 * 1460), 1)
        sent = lo.out()
        assert len(sent) == 3
        for t in (10, 11, 12, 13):
            lo.send(R(40000, 80, 1001, iss + 1, ACK), now=t)  # duplicate ACKs
        lo.tick(14)
        out = lo.out()
        n = lo.s.counters["tcp_fast_retrans_sent"]
        if lo.s.tcp.early_rexmit:
            assert n == 1 and out and out[0].seq == iss + 1 and len(out[0].payload) == 1460
        else:
            assert n == 0 and out == [] and lo.s.counters["tcp_retrans_sent"] == 0


def test_ack_data_after_close():
    for name in (None, "ack_data_after_close"):
        A, B, clock, c, ls, socket = T.closed_server_socket(
            faults.parse(name) if name else ())
        c.send(b"late")
        T.run_both(A, B, clock, 200)
        if name:
            assert [A.tcp.state_name(k) for k in A.tcp.keys()] == ["FIN-WAIT-2"]
            assert A.counters["tcp_data_after_close"] == 0 and A.counters["tcp_rst_sent"] == 0
        else:
            assert A.tcp.keys() == [] and A.counters["tcp_data_after_close"] == 1
        c.close()
        ls.close()
        assert A.counters["internal_error"] == 0


def test_syn_window_default():
    assert T.syn_window_overrun() == (4000, 4000, 4000)
    win, sent, acked = T.syn_window_overrun(
        faults=faults.parse("syn_window_default"))
    assert win == 65535 and sent == 8000 and acked == 4000  # the rest was lost


def _lone_pair(name, **tcp_args):
    return T.Lone(**tcp_args), T.Lone(faults=faults.parse(name), **tcp_args)


def test_no_probe_in_flight():
    for lo in _lone_pair("no_probe_in_flight"):
        key, iss = lo.handshake()
        lo.app.push(key, bytes(2920), 0)
        lo.out()
        lo.send(R(40000, 80, 1001, iss + 1461, ACK, wnd=0), now=10)
        sent = 0
        for t in range(100, 8000, 100):
            lo.tick(t)
            sent += len(lo.out())
        if lo.s.tcp.no_probe_in_flight:
            assert sent == 0 and lo.s.counters["tcp_probes_sent"] == 0
        else:
            assert sent == 3 and lo.s.counters["tcp_probes_sent"] == 3  # 1 s, 3 s, 7 s


def test_window_update_unmoved():
    for lo in _lone_pair("window_update_unmoved"):
        lo.app.setup = lambda ca: setattr(ca, "consume", False)
        key, iss = lo.handshake()
        lo.send(R(40000, 80, 1001, iss + 1, ACK, payload=bytes(1000)), now=1)
        lo.tick(100)
        lo.out()
        ca = lo.app.get(key)
        ca.rb.read(500)  # 500 bytes freed: below any SWS threshold
        lo.app.consume_now(key, 200)
        out = lo.out()
        if lo.s.tcp.window_update_unmoved:
            # the same ACK again: the edge (2001 + 64535) did not move
            assert len(out) == 1 and out[0].ack == 2001 and out[0].window == 64535
        else:
            assert out == []


def test_rexmit_past_window():
    for lo in _lone_pair("rexmit_past_window", tail_loss_probe=False):
        key, iss = lo.handshake(wnd=200)
        lo.app.push(key, bytes(3000), 0)
        lo.out()
        for i in range(3):
            lo.send(R(40000, 80, 1001, iss + 1, ACK, wnd=200), now=10 + i)
        re = [r for r in lo.out() if r.payload]
        assert re and re[0].seq == iss + 1
        assert len(re[0].payload) == (1460 if lo.s.tcp.rexmit_past_window else 200)


def test_dupack_inflation():
    for lo in _lone_pair("dupack_inflation", tail_loss_probe=False):
        key, iss = lo.handshake()
        lo.app.push(key, bytes(1460 * 20), 0)
        lo.out()
        lo.tick(1000)
        lo.out()
        extra = 0
        for i in range(10):
            lo.send(R(40000, 80, 1001, iss + 1, ACK), now=1010 + i)
            extra += len([r for r in lo.out() if r.payload])
        assert extra == (10 if lo.s.tcp.dupack_inflation else 0), extra


def test_time_wait_rst_accepted():
    for lo in _lone_pair("time_wait_rst_accepted"):
        key, iss = lo.handshake()
        lo.app.close(key, 0)
        lo.out()
        lo.send(R(40000, 80, 1001, iss + 2, ACK | T.FIN), now=10)
        lo.send(R(40000, 80, 1002, 0, RST, wnd=0), now=20)
        want = "CLOSED" if lo.s.tcp.time_wait_rst_accepted else "TIME-WAIT"
        assert lo.s.tcp.state_name(key) == want
