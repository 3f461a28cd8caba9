# Malformed and hostile segments: each is a named drop or the RFC's answer,
# never an exception; floods stay bounded and established connections live on.
import tcp_support as T
from tcp_support import R, SYN, ACK, FIN, RST, PSH
from ethox_uk.stack.wire import tcp as wtcp

M = 0xFFFFFFFF


def test_syn_with_fin_or_rst_is_dropped():
    lo = T.Lone()
    lo.s.tcp.listen(80)
    for fl in (SYN | FIN, SYN | RST, SYN | FIN | ACK, SYN | RST | ACK | FIN | PSH):
        lo.send(R(40000, 80, 1, 0, fl))
    assert lo.out() == [] and lo.s.tcp.keys() == []
    assert lo.s.counters["tcp_bad_flags"] == 4


def test_malformed_headers_are_counted():
    lo = T.Lone()
    lo.s.tcp.listen(80)
    seg = bytearray(24)
    wtcp.Repr(40000, 80, 1, 0, SYN, 1000, mss=1460).emit(seg, T.B_IP, T.A_IP)
    bad = bytearray(seg)
    bad[20] = 2
    bad[21] = 9  # MSS option running past the header
    wtcp.Packet(bad).fill_checksum(T.B_IP, T.A_IP)
    lo.inject_segment(bad)
    bad = bytearray(seg)
    bad[12] = 0x30  # data offset 3
    wtcp.Packet(bad).fill_checksum(T.B_IP, T.A_IP)
    lo.inject_segment(bad)
    bad = bytearray(seg)
    bad[5] ^= 1  # checksum now wrong
    lo.inject_segment(bad)
    lo.inject_segment(seg[:12])
    assert lo.out() == [] and lo.s.tcp.keys() == []
    c = lo.s.counters
    assert (c["tcp_bad_options"], c["tcp_bad_offset"], c["tcp_bad_checksum"],
            c["tcp_truncated"]) == (1, 1, 1, 1)
    lo.inject_segment(seg)  # the intact one is answered
    assert lo.out()[0].flags == SYN | ACK
    assert c["internal_error"] == 0


def test_reserved_bits_are_ignored():
    lo = T.Lone()
    lo.s.tcp.listen(80)
    seg = bytearray(24)
    wtcp.Repr(40000, 80, 1, 0, SYN, 1000, mss=1460).emit(seg)
    seg[12] |= 0x0E
    wtcp.Packet(seg).fill_checksum(T.B_IP, T.A_IP)
    lo.inject_segment(seg)
    assert lo.out()[0].flags == SYN | ACK


def test_segments_to_a_broadcast_address_are_never_answered():
    lo = T.Lone()
    lo.s.tcp.listen(80)
    seg = bytearray(24)
    wtcp.Repr(40000, 80, 1, 0, SYN, 1000, mss=1460).emit(seg, T.B_IP, b"\x0a\x00\x02\xff")
    lo.inject_segment(seg, dst=b"\x0a\x00\x02\xff")
    assert lo.out() == [] and lo.s.counters["tcp_bad_address"] == 1


def test_syn_data_is_not_taken_and_tiny_mss_is_clamped():
    lo = T.Lone()
    lo.s.tcp.listen(80)
    lo.send(R(40000, 80, 1, 0, SYN, payload=b"early data", mss=1))
    sa = lo.out()[0]
    assert sa.ack == 2  # only the SYN is acknowledged
    key = lo.s.tcp.keys()[0]
    assert lo.s.tcp.connection(key).mss == 64


def test_syn_flood_is_bounded_and_established_connections_survive():
    lo = T.Lone(slots=32, syn_max=8)
    key, iss = lo.handshake(port=80, sport=39999)
    for i in range(300):
        lo.send(R(1024 + i, 80, i * 7919, 0, SYN, mss=1460), now=i)
        out = lo.out()
        assert len(out) == 1 and out[0].flags == SYN | ACK  # every SYN is answered
        ep = lo.s.tcp.ep
        assert len(ep.half_open) <= 8 and ep.count <= 32
    # past the half-open queue the answers are SYN cookies: no state kept
    assert lo.s.counters["tcp_syncookies_sent"] == 300 - 8
    assert lo.s.counters["tcp_syn_queue_full"] == 0
    # the established connection still works
    lo.send(R(39999, 80, 1001, iss + 1, ACK | PSH, payload=b"still here"), now=400)
    assert bytes(lo.app.get(key).received) == b"still here"
    assert lo.s.tcp.state_name(key) == "ESTABLISHED"
    # and new clients still get in (through a cookie: the queue is still full)
    k2, _ = lo.handshake(port=80, sport=38000)
    assert lo.s.tcp.state_name(k2) == "ESTABLISHED"
    assert lo.s.counters["tcp_syncookies_rx"] == 1
    assert lo.s.counters["internal_error"] == 0


def test_rst_storm_challenge_acks_are_rate_limited():
    lo = T.Lone()
    key, iss = lo.handshake()
    for i in range(200):
        lo.send(R(40000, 80, 1002 + i * 97, 0, RST), now=10 + i)  # in window, never exact
    out = lo.out()
    assert len(out) == 10
    c = lo.s.counters
    assert c["tcp_challenge_acks_sent"] == 10 and c["tcp_challenge_suppressed"] == 190
    assert lo.s.tcp.state_name(key) == "ESTABLISHED"
    lo.send(R(40000, 80, 1002, 0, RST), now=2000)  # a new second: one more challenge
    assert len(lo.out()) == 1


def test_syn_and_bad_ack_storm_is_rate_limited():
    lo = T.Lone()
    key, iss = lo.handshake()
    for i in range(50):
        lo.send(R(40000, 80, 5000 + i, 0, SYN, mss=1460), now=5)
        lo.send(R(40000, 80, 1001, iss + 100000 + i, ACK), now=5)
    assert len(lo.out()) == 10
    assert lo.s.tcp.state_name(key) == "ESTABLISHED"


def test_data_beyond_the_window_is_trimmed():
    lo = T.Lone(app=T.App(rbuf_size=4096), rcv_window=4096)
    lo.app.setup = lambda ca: setattr(ca, "consume", False)
    key, iss = lo.handshake()
    for i in range(3):
        lo.send(R(40000, 80, 1001 + 1460 * i, iss + 1, ACK, payload=bytes(1460)))
    lo.tick(100)
    out = lo.out()
    assert out[-1].ack == 1001 + 4096 and out[-1].window == 0
    assert lo.app.get(key).rb.readable() == 4096


def test_random_segments_never_raise():
    lo = T.Lone()
    key, iss = lo.handshake(port=80, sport=40000)
    x = 0x12345
    flags_choice = (SYN, ACK, RST, FIN | ACK, SYN | ACK, PSH | ACK, 0, 0xFF, RST | ACK)
    for i in range(1500):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        sport = (40000, 40001, x & 0xFFFF)[x % 3]
        dport = (80, 81, (x >> 5) & 0xFFFF)[(x >> 3) % 3]
        seq = (1001 + ((x >> 7) % 200000) - 100000) & M
        ack = (iss + ((x >> 9) % 200000) - 100000) & M
        fl = flags_choice[(x >> 11) % len(flags_choice)]
        olen = ((x >> 13) % 4) * 4
        seg = bytearray(20 + olen + (x >> 15) % 40)
        wtcp.put_header(seg, 0, sport, dport, seq, ack, 20 + olen, fl, (x >> 4) & 0xFFFF)
        y = x
        for j in range(20, len(seg)):
            y = (y * 69069 + 1) & 0xFFFFFFFF
            seg[j] = (y >> 24) if j < 20 + olen and (y >> 8) % 3 else (y >> 16) & 0xFF
        wtcp.Packet(seg).fill_checksum(T.B_IP, T.A_IP)
        lo.inject_segment(seg)
        lo.tick(i * 10)
        lo.out()
    assert lo.s.counters["internal_error"] == 0, lo.s.last_error
    k2, _ = lo.handshake(port=80, sport=38001)
    assert lo.s.tcp.state_name(k2) == "ESTABLISHED"


def test_no_data_is_taken_beyond_the_peers_fin():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1011, iss + 1, ACK | FIN, payload=b"0123456789"))  # FIN at 1021
    lo.send(R(40000, 80, 1021, iss + 1, ACK, payload=b"BEYOND"))  # claims more after it
    lo.send(R(40000, 80, 1001, iss + 1, ACK, payload=b"abcdefghij"))
    assert bytes(lo.app.get(key).received) == b"abcdefghij0123456789"
    assert lo.s.tcp.state_name(key) == "CLOSE-WAIT"
    assert lo.out()[-1].ack == 1022
