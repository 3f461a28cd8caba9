# ethox_uk.stack.wire.arp: check(), warp.Packet view, warp.Repr parse/emit.
import support
from ethox_uk.stack.wire import arp
from ethox_uk.stack.wire import arp as warp

SHA = b"\x52\x55\x0a\x00\x02\x02"
SPA = b"\x0a\x00\x02\x02"
THA = b"\x00\x00\x00\x00\x00\x00"
TPA = b"\x0a\x00\x02\x0f"
# who-has 10.0.2.15 tell 10.0.2.2, written out by hand
REQUEST = (b"\x00\x01" b"\x08\x00" b"\x06" b"\x04" b"\x00\x01"
           + SHA + SPA + THA + TPA)


def test_constants():
    assert arp.PACKET_LEN == 28
    assert (arp.SHA_OFF, arp.SPA_OFF, arp.THA_OFF, arp.TPA_OFF) == (8, 14, 18, 24)
    assert arp.OP_REQUEST == 1 and arp.OP_REPLY == 2


def test_check_good():
    assert len(REQUEST) == 28
    assert arp.check(REQUEST, 0, 28) is None
    assert arp.check(b"\x00" * 14 + REQUEST, 14, 42) is None
    assert arp.check(REQUEST + b"\x00" * 18, 0, 46) is None  # trailing padding is fine


def test_check_truncated():
    for n in (0, 1, 8, 27):
        assert arp.check(REQUEST, 0, n) == "arp_truncated"
    assert arp.check(b"\x00" * 14 + REQUEST, 14, 41) == "arp_truncated"
    assert warp.Packet(REQUEST[:27]).check_len() == "arp_truncated"
    assert warp.Packet(REQUEST[:27]).check() == "arp_truncated"
    assert warp.Packet(REQUEST).check_len() is None


def _with(i, v):
    b = bytearray(REQUEST)
    b[i] = v
    return bytes(b)


def test_check_bad_htype():
    assert arp.check(_with(1, 6), 0, 28) == "arp_bad_format"  # IEEE 802
    assert arp.check(_with(0, 1), 0, 28) == "arp_bad_format"  # 0x0101


def test_check_bad_ptype():
    assert arp.check(_with(2, 0x86), 0, 28) == "arp_bad_format"
    assert arp.check(_with(3, 0x06), 0, 28) == "arp_bad_format"


def test_check_bad_hlen_plen():
    assert arp.check(_with(4, 8), 0, 28) == "arp_bad_format"
    assert arp.check(_with(5, 16), 0, 28) == "arp_bad_format"


def test_check_bad_operation():
    for op in (0, 3, 4, 8, 9, 255):
        assert arp.check(_with(7, op), 0, 28) == "arp_bad_format"
    assert arp.check(_with(6, 1), 0, 28) == "arp_bad_format"  # 0x0101
    assert arp.check(_with(7, 2), 0, 28) is None


def test_check_truncated_wins_over_format():
    assert arp.check(_with(0, 9)[:20], 0, 20) == "arp_truncated"


def test_view_getters():
    p = warp.Packet(REQUEST)
    assert p.hardware_type() == 1
    assert p.protocol_type() == 0x0800
    assert p.hardware_len() == 6
    assert p.protocol_len() == 4
    assert p.operation() == 1
    assert p.source_hardware_addr() == SHA
    assert p.source_protocol_addr() == SPA
    assert p.target_hardware_addr() == THA
    assert p.target_protocol_addr() == TPA


def test_view_at_offset():
    frame = b"\xee" * 14 + REQUEST
    p = warp.Packet(frame, 14)
    assert p.check() is None
    assert p.source_protocol_addr() == SPA
    assert p.target_protocol_addr() == TPA
    assert warp.Packet(frame, 14, 41).check() == "arp_truncated"


def test_view_setters():
    buf = bytearray(28)
    p = warp.Packet(buf)
    p.set_hardware_type(1)
    p.set_protocol_type(0x0800)
    p.set_hardware_len(6)
    p.set_protocol_len(4)
    p.set_operation(1)
    p.set_source_hardware_addr(SHA)
    p.set_source_protocol_addr(SPA)
    p.set_target_hardware_addr(THA)
    p.set_target_protocol_addr(TPA)
    assert bytes(buf) == REQUEST


def test_fast_helpers():
    assert arp.operation(REQUEST, 0) == 1
    assert arp.read_ip(REQUEST, 14) == 0x0A000202
    b = bytearray(4)
    arp.write_ip(b, 0, 0xC0A80101)
    assert bytes(b) == b"\xc0\xa8\x01\x01"
    b = bytearray(b"\xff" * 8)
    arp.write_fixed(b, 0, 2)
    assert bytes(b) == b"\x00\x01\x08\x00\x06\x04\x00\x02"


def test_repr_parse():
    r = warp.Repr.parse(warp.Packet(REQUEST))
    assert r == warp.Repr(1, SHA, SPA, THA, TPA)
    assert r.operation == 1
    assert r.source_hardware_addr == SHA
    assert r.target_protocol_addr == TPA
    assert r.buffer_len() == 28


def test_repr_parse_rejects():
    assert warp.Repr.parse(warp.Packet(REQUEST[:27])) is None
    assert warp.Repr.parse(warp.Packet(_with(1, 6))) is None
    assert warp.Repr.parse(warp.Packet(_with(3, 6))) is None
    assert warp.Repr.parse(warp.Packet(_with(4, 7))) is None
    assert warp.Repr.parse(warp.Packet(_with(5, 5))) is None
    assert warp.Repr.parse(warp.Packet(_with(7, 3))) is None


def test_repr_emit_bytes():
    buf = bytearray(b"\xaa" * 30)
    reply = warp.Repr(2, b"\x52\x54\x00\x12\x34\x56", TPA, SHA, SPA)
    reply.emit(warp.Packet(buf, 1))
    assert bytes(buf) == (b"\xaa" + b"\x00\x01\x08\x00\x06\x04\x00\x02"
                          + b"\x52\x54\x00\x12\x34\x56" + TPA + SHA + SPA + b"\xaa")


def test_repr_round_trip_and_inequality():
    r = warp.Repr(2, SHA, SPA, b"\x02\x00\x00\x00\x00\x09", TPA)
    buf = bytearray(28)
    r.emit(warp.Packet(buf))
    assert warp.Repr.parse(warp.Packet(buf)) == r
    assert r != warp.Repr(1, SHA, SPA, b"\x02\x00\x00\x00\x00\x09", TPA)
    assert r != warp.Repr(2, SHA, TPA, b"\x02\x00\x00\x00\x00\x09", TPA)
    assert r != None  # noqa: E711
    assert "10.0.2.2" in repr(r)


def test_support_builder_matches():
    assert support.arp_body(1, SHA, SPA, THA, TPA) == REQUEST
