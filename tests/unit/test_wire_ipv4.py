# wire/ipv4.py: the header view, Repr round trip, and every check on untrusted bytes.
from support import ipv4_hdr, ipv4_pkt, OUR_IP, PEER_IP
from ethox_uk.stack.wire import ipv4


def _check(pkt, length=None):
    b = bytearray(b"\x00" * 14 + pkt)
    return ipv4.check(b, 14, len(pkt) if length is None else length)


def test_valid_header_passes():
    assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"x" * 12)) is None


def test_truncated():
    p = ipv4_pkt(PEER_IP, OUR_IP, 17, b"")
    assert _check(p[:19]) == "ipv4_truncated"
    assert _check(b"") == "ipv4_truncated"


def test_bad_version():
    assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"abcd", version=6)) == "ipv4_bad_version"


def test_ihl_below_five():
    for ihl in (0, 1, 4):
        assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"abcd", ihl=ihl)) == "ipv4_bad_header_len"


def test_ihl_past_the_data():
    # IHL 15 (60 bytes) but only 24 bytes there
    assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"abcd", ihl=15)) == "ipv4_truncated"


def test_total_length_below_header_or_past_frame():
    assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"abcd", total=19)) == "ipv4_bad_total_len"
    assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"abcd", total=25)) == "ipv4_bad_total_len"
    assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"abcd", total=24)) is None
    # shorter total than the data present: padding, accepted
    assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"abcd", total=22)) is None


def test_bad_checksum():
    p = ipv4_pkt(PEER_IP, OUR_IP, 17, b"abcd")
    c = (p[10] << 8) | p[11]
    assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"abcd", csum=c ^ 1)) == "ipv4_bad_checksum"
    flipped = bytearray(p)
    flipped[15] ^= 0x10  # a source address bit
    assert _check(bytes(flipped)) == "ipv4_bad_checksum"


def test_options_valid():
    for opts in (b"\x01\x01\x01\x00",  # NOP NOP NOP EOL
                 b"\x07\x07\x04\x00\x00\x00\x00\x00",  # record route, 1 slot + EOL
                 b"\x00\x99\x99\x99",  # EOL then padding garbage: ignored
                 b"\x94\x04\x00\x00"):  # router alert
        assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"abcd", options=opts)) is None, opts


def test_options_bad_lengths():
    for opts in (b"\x07\x00\x00\x00",  # length 0
                 b"\x07\x01\x00\x00",  # length 1
                 b"\x07\x09\x00\x00\x00\x00\x00\x00",  # runs past the header
                 b"\x01\x01\x01\x07"):  # type without a length byte
        r = _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"abcd", options=opts))
        assert r == "ipv4_bad_options", opts
    assert ipv4.check_options(b"\x44\x02", 0, 2) is None
    assert ipv4.check_options(b"\x44", 0, 1) == "ipv4_bad_options"


def test_fragment_sanity():
    # MF with a payload that is not a multiple of 8
    assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"x" * 12, flags_off=0x2000)) == "ipv4_frag_bad"
    assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"x" * 16, flags_off=0x2000)) is None
    # a fragment without data
    assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"", flags_off=0x0001)) == "ipv4_frag_bad"
    # last fragment ends past 65535 bytes (ping of death)
    assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"x" * 16, flags_off=0x1FFF)) == "ipv4_frag_too_big"
    # the reserved bit alone is tolerated (be liberal)
    assert _check(ipv4_pkt(PEER_IP, OUR_IP, 17, b"x" * 16, flags_off=0x8000)) is None


def test_packet_getters():
    p = bytearray(ipv4_pkt(PEER_IP, OUR_IP, 17, b"x" * 16, ident=0xBEEF, flags_off=0x2003,
                           ttl=17, tos=0x28, options=b"\x01\x01\x01\x00"))
    v = ipv4.Packet(memoryview(p))
    assert v.check_len(len(p)) is None
    assert v.version() == 4 and v.header_len() == 24 and v.total_len() == 40
    assert v.ident() == 0xBEEF and v.more_frags() and not v.dont_frag()
    assert v.frag_offset() == 24 and v.ttl() == 17 and v.tos() == 0x28
    assert v.protocol() == 17 and v.src_addr() == PEER_IP and v.dst_addr() == OUR_IP
    assert v.payload_off() == 24 and v.verify_checksum()
    v.set_ttl(3)
    assert not v.verify_checksum()
    v.fill_checksum()
    assert v.verify_checksum()


def test_packet_attach_reuses_one_view():
    a = bytearray(b"\x00" * 4 + ipv4_pkt(PEER_IP, OUR_IP, 1, b"", ident=5))
    b = bytearray(ipv4_pkt(OUR_IP, PEER_IP, 6, b"", ident=6))
    v = ipv4.Packet(a, 4)
    assert v.ident() == 5
    assert v.attach(b) is v and v.ident() == 6 and v.protocol() == 6


def test_repr_round_trip():
    r = ipv4.Repr(PEER_IP, OUR_IP, 17, 100, ttl=9, ident=0x1234, dont_frag=True, tos=4)
    buf = bytearray(20 + 100)
    p = ipv4.Packet(buf)
    r.emit(p)
    assert p.verify_checksum()
    r2 = ipv4.Repr.parse(p, len(buf))
    assert r2 == r and not (r2 != r)
    r3 = ipv4.Repr(PEER_IP, OUR_IP, 17, 64, more_frags=True, frag_offset=1480)
    r3.emit(p)
    assert ipv4.Repr.parse(p, len(buf)) == r3


def test_repr_parse_rejects():
    buf = bytearray(ipv4_pkt(PEER_IP, OUR_IP, 17, b"abcd", version=5))
    assert ipv4.Repr.parse(ipv4.Packet(buf), len(buf)) is None
    assert ipv4.Packet(buf).check_len(len(buf)) == "ipv4_bad_version"


def test_write_header_and_addr_eq():
    buf = bytearray(40)
    ipv4.write_header(buf, 14, 26, 0xABCD, ipv4.FLAG_DF, 64, 1, OUR_IP, PEER_IP)
    assert ipv4.check(buf, 14, 26) is None
    assert bytes(buf[14:34]) == ipv4_hdr(OUR_IP, PEER_IP, 1, 6, ident=0xABCD, flags_off=0x4000)
    assert ipv4.addr_eq(buf, 14 + ipv4.SRC, OUR_IP)
    assert not ipv4.addr_eq(buf, 14 + ipv4.DST, OUR_IP)
