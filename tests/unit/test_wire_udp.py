# wire/udp.py: length checks, checksum (pseudo-header from the IPv4 header in
# the same buffer, zero = none, computed 0 sent as 0xffff), view and Repr.
import support
from support import ipv4_pkt, udp_dgram, OUR_IP, PEER_IP
from ethox_uk.stack.wire import udp


def _frame(dgram, ip_len=None):
    # IPv4 header at 14, UDP at 34
    return bytearray(b"\x00" * 14 + ipv4_pkt(PEER_IP, OUR_IP, 17, dgram))


def test_valid_and_zero_checksum():
    d = udp_dgram(PEER_IP, OUR_IP, 1000, 7, b"hello")
    f = _frame(d)
    assert udp.check(f, 14, 34, len(d)) is None
    d0 = udp_dgram(PEER_IP, OUR_IP, 1000, 7, b"hello", csum=0)
    f0 = _frame(d0)
    assert udp.check(f0, 14, 34, len(d0)) is None


def test_bad_checksum():
    d = bytearray(udp_dgram(PEER_IP, OUR_IP, 1000, 7, b"hello"))
    d[9] ^= 1
    f = _frame(bytes(d))
    assert udp.check(f, 14, 34, len(d)) == "udp_bad_checksum"
    # the pseudo-header counts: same datagram, other destination address
    d = udp_dgram(PEER_IP, b"\x0a\x00\x02\x10", 1000, 7, b"hello")
    f = _frame(d)
    assert udp.check(f, 14, 34, len(d)) == "udp_bad_checksum"


def test_truncated_and_bad_length():
    d = udp_dgram(PEER_IP, OUR_IP, 1, 2, b"abcd")
    f = _frame(d)
    assert udp.check(f, 14, 34, 7) == "udp_truncated"
    for ln in (0, 7, 13):  # below the header, or past the IP payload (12 bytes)
        d = udp_dgram(PEER_IP, OUR_IP, 1, 2, b"abcd", length=ln)
        assert udp.check(_frame(d), 14, 34, len(d)) == "udp_bad_length", ln
    # a UDP length shorter than the IP payload is fine (the rest is ignored)
    d = udp_dgram(PEER_IP, OUR_IP, 1, 2, b"ab", csum=0) + b"junk"
    assert udp.check(_frame(d), 14, 34, len(d)) is None


def test_fill_checksum_in_buffer_and_with_addresses():
    d = udp_dgram(PEER_IP, OUR_IP, 4321, 53, b"query!", csum=0)
    f = _frame(d)
    udp.fill_checksum(f, 14, 34, len(d))
    assert bytes(f[34:]) == udp_dgram(PEER_IP, OUR_IP, 4321, 53, b"query!")
    g = bytearray(d)
    udp.fill_checksum_addrs(g, 0, len(g), PEER_IP, OUR_IP)
    assert bytes(g) == bytes(f[34:])


def test_computed_zero_is_sent_as_ffff():
    # choose two payload bytes so that the one's complement sum is 0xffff
    base = udp_dgram(PEER_IP, OUR_IP, 1, 2, b"\x00\x00", csum=0)
    s = 0
    pseudo = PEER_IP + OUR_IP + b"\x00\x11" + support.u16(len(base))
    data = pseudo + base
    for i in range(0, len(data), 2):
        s += (data[i] << 8) | data[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    fill = 0xFFFF - s
    d = bytearray(udp_dgram(PEER_IP, OUR_IP, 1, 2, support.u16(fill), csum=0))
    udp.fill_checksum_addrs(d, 0, len(d), PEER_IP, OUR_IP)
    assert d[6] == 0xFF and d[7] == 0xFF
    f = _frame(bytes(d))
    assert udp.check(f, 14, 34, len(d)) is None


def test_packet_and_repr():
    buf = bytearray(8 + 5)
    r = udp.Repr(5353, 7, b"abcde")
    p = udp.Packet(buf)
    r.emit(p, PEER_IP, OUR_IP)
    assert p.src_port() == 5353 and p.dst_port() == 7 and p.length() == 13
    assert p.payload_off() == 8 and p.verify_checksum(PEER_IP, OUR_IP)
    assert not p.verify_checksum(OUR_IP, OUR_IP)
    assert p.check_len(13) is None and p.check_len(7) == "udp_truncated"
    assert udp.Repr.parse(p, 13, PEER_IP, OUR_IP) == r
    assert bytes(buf) == udp_dgram(PEER_IP, OUR_IP, 5353, 7, b"abcde")
    assert udp.Repr.parse(p, 13, OUR_IP, OUR_IP) is None
    assert udp.Repr.parse(p, 12, PEER_IP, OUR_IP) is None
    p.set_checksum(0)
    assert udp.Repr.parse(p, 13, OUR_IP, OUR_IP) == r  # zero: no checksum
