# wire/icmp.py: message view, checks, incremental checksum, Repr round trip.
from support import icmp_msg, echo_req, ipv4_pkt, udp_dgram, csum16, OUR_IP, PEER_IP
from ethox_uk.stack.wire import icmp


def test_check_truncated_and_checksum():
    m = echo_req(1, 2, b"abc")
    assert icmp.check(m, 0, len(m)) is None
    assert icmp.check(m, 0, 7) == "icmp_truncated"
    bad = bytearray(m)
    bad[9] ^= 0x40
    assert icmp.check(bad, 0, len(bad)) == "icmp_bad_checksum"


def test_error_quote_check():
    orig = ipv4_pkt(PEER_IP, OUR_IP, 17, udp_dgram(PEER_IP, OUR_IP, 1, 2, b"zz"))
    ok = icmp_msg(3, 3, 0, orig[:28])
    assert icmp.check_error_quote(ok, 0, len(ok)) is None
    short = icmp_msg(3, 3, 0, orig[:27])
    assert icmp.check_error_quote(short, 0, len(short)) == "icmp_truncated"
    notip = icmp_msg(3, 3, 0, b"\x65" + orig[1:28])
    assert icmp.check_error_quote(notip, 0, len(notip)) == "icmp_truncated"


def test_error_and_query_types():
    for t in (3, 4, 5, 11, 12):
        assert icmp.is_error(t) and not icmp.is_query(t)
    for t in (0, 8, 13, 14, 15, 16, 17, 18):
        assert icmp.is_query(t) and not icmp.is_error(t)
    assert not icmp.is_error(42) and not icmp.is_query(42)


def test_incremental_update_matches_full_checksum():
    for data in (b"", b"a", b"hello world", bytes(range(256)), b"\xff" * 33, b"\x00\xf7"):
        for ident, seq in ((0, 0), (0xFFFF, 0xFFFF), (0x1234, 7), (0xF7FF, 0)):
            m = bytearray(echo_req(ident, seq, data))
            icmp.update_checksum_type(m, 0, 8, 0)
            m[0] = 0
            assert icmp.check(m, 0, len(m)) is None, (data, ident, seq)


def test_packet_accessors():
    buf = bytearray(b"\x00\x00" + echo_req(0x0102, 0x0304, b"xyz"))
    p = icmp.Packet(buf, 2)
    assert p.check_len(11) is None
    assert p.msg_type() == 8 and p.msg_code() == 0
    assert p.ident() == 0x0102 and p.seq_no() == 0x0304 and p.rest() == 0x01020304
    assert p.data_off() == 10 and p.verify_checksum(11)
    p.set_seq_no(9)
    assert not p.verify_checksum(11)
    p.fill_checksum(11)
    assert p.verify_checksum(11) and p.seq_no() == 9
    assert p.checksum() == csum16(bytes(buf[2:4]) + b"\x00\x00" + bytes(buf[6:13]))


def test_repr_round_trip_echo_and_error():
    for r in (icmp.Repr.echo(7, 9, b"payload"), icmp.Repr.echo(1, 2, b"", reply=True),
              icmp.Repr(3, 3, 0, ipv4_pkt(PEER_IP, OUR_IP, 17, b"12345678")),
              icmp.Repr(3, 4, 1400, ipv4_pkt(PEER_IP, OUR_IP, 6, b"abcdefgh"))):
        buf = bytearray(r.buffer_len())
        r.emit(icmp.Packet(buf))
        assert icmp.Repr.parse(icmp.Packet(buf), len(buf)) == r
    e = icmp.Repr.echo(0xABCD, 0x0102)
    assert e.ident == 0xABCD and e.seq == 0x0102 and e.msg_type == 8


def test_repr_parse_rejects():
    bad = bytearray(echo_req(1, 1, b"x"))
    bad[2] ^= 1
    assert icmp.Repr.parse(icmp.Packet(bad), len(bad)) is None
    short = bytearray(icmp_msg(3, 1, 0, b"\x45" + b"\x00" * 10))
    assert icmp.Repr.parse(icmp.Packet(short), len(short)) is None
    assert icmp.Repr.parse(icmp.Packet(short), 7) is None
