# ethox_uk.stack.wire.ethernet: fast-path functions, eth.Packet view, eth.Repr.
import support
from ethox_uk.stack.wire import ethernet as eth

DST = b"\x52\x54\x00\x12\x34\x56"
SRC = b"\x52\x55\x0a\x00\x02\x02"
FRAME = DST + SRC + b"\x08\x06" + b"payload"


def test_constants():
    assert eth.HEADER_LEN == 14
    assert eth.PAYLOAD_OFF == 14
    assert eth.MIN_FRAME_LEN == 60
    assert eth.ETHERTYPE_IPV4 == 0x0800
    assert eth.ETHERTYPE_ARP == 0x0806
    assert eth.BROADCAST == b"\xff" * 6


def test_check_len():
    assert eth.check(14) is None
    assert eth.check(13) == "eth_truncated"
    assert eth.check(0) == "eth_truncated"
    assert eth.Packet(FRAME[:13]).check_len() == "eth_truncated"
    assert eth.Packet(FRAME, 0, 13).check_len() == "eth_truncated"
    assert eth.Packet(FRAME[:14]).check_len() is None


def test_getters():
    f = eth.Packet(FRAME)
    assert f.dst_addr() == DST
    assert f.src_addr() == SRC
    assert f.ethertype() == 0x0806
    assert f.payload_offset() == 14
    assert bytes(f.payload()) == b"payload"
    assert eth.ethertype(FRAME) == 0x0806


def test_setters():
    buf = bytearray(20)
    f = eth.Packet(buf)
    f.set_dst_addr(DST)
    f.set_src_addr(SRC)
    f.set_ethertype(0x86DD)
    assert bytes(buf[0:14]) == DST + SRC + b"\x86\xdd"
    assert bytes(buf[14:]) == bytes(6)


def test_group_address_tests():
    b = bytearray(FRAME)
    assert not eth.dst_is_broadcast(b)
    assert not eth.dst_is_multicast(b)
    assert not eth.src_is_multicast(b)
    b[0:6] = eth.BROADCAST
    assert eth.dst_is_broadcast(b)
    assert eth.dst_is_multicast(b)
    b[0:6] = b"\x01\x00\x5e\x00\x00\x01"
    assert eth.dst_is_multicast(b)
    assert not eth.dst_is_broadcast(b)
    b[6] = 0x33
    assert eth.src_is_multicast(b)


def test_mac_helpers():
    b = bytearray(20)
    eth.put_mac(b, 3, DST)
    assert bytes(b[3:9]) == DST
    assert eth.mac_at_is(b, 3, DST)
    assert not eth.mac_at_is(b, 3, SRC)
    eth.copy_mac(b, 10, b, 3)
    assert bytes(b[10:16]) == DST


def test_fill_header_and_reply_header():
    b = bytearray(FRAME)
    eth.fill_header(b, SRC, DST, 0x0800)
    assert bytes(b[0:14]) == SRC + DST + b"\x08\x00"
    assert bytes(b[14:]) == b"payload"
    eth.reply_header(b, b"\x02\x00\x00\x00\x00\x01")
    assert bytes(b[0:14]) == DST + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"


def test_pad_zeroes_to_minimum():
    b = bytearray(b"\xaa" * 100)
    assert eth.pad(b, 42) == 60
    assert bytes(b[0:42]) == b"\xaa" * 42
    assert bytes(b[42:60]) == bytes(18)
    assert bytes(b[60:]) == b"\xaa" * 40  # nothing past the minimum is touched


def test_pad_leaves_long_frames():
    b = bytearray(b"\xaa" * 100)
    assert eth.pad(b, 60) == 60
    assert eth.pad(b, 99) == 99
    assert bytes(b) == b"\xaa" * 100


def test_pad_works_on_memoryview():
    b = bytearray(b"\xbb" * 64)
    assert eth.pad(memoryview(b), 14) == 60
    assert bytes(b[14:60]) == bytes(46)


def test_repr_parse():
    r = eth.Repr.parse(eth.Packet(FRAME))
    assert r == eth.Repr(DST, SRC, 0x0806)
    assert r.dst == DST and r.src == SRC and r.ethertype == 0x0806
    assert r.buffer_len() == 14


def test_repr_parse_truncated_is_none():
    assert eth.Repr.parse(eth.Packet(FRAME[:13])) is None
    assert eth.Repr.parse(eth.Packet(b"")) is None


def test_repr_emit_bytes():
    buf = bytearray(b"\xcc" * 16)
    eth.Repr(eth.BROADCAST, SRC, 0x0806).emit(eth.Packet(buf))
    assert bytes(buf) == b"\xff" * 6 + SRC + b"\x08\x06" + b"\xcc\xcc"


def test_repr_round_trip_and_inequality():
    r = eth.Repr(DST, SRC, 0x1234)
    buf = bytearray(14)
    r.emit(eth.Packet(buf))
    assert eth.Repr.parse(eth.Packet(buf)) == r
    assert r != eth.Repr(DST, SRC, 0x1235)
    assert r != eth.Repr(SRC, SRC, 0x1234)
    assert r != "x"
    assert "0x1234" in repr(r)


def test_support_frame_builder():
    assert support.eth_frame(DST, SRC, 0x0806, b"payload") == FRAME
