# ethox_uk.stack.wire.tcp: the segment view, tcp.Repr parse/emit, options and
# every malformed-input reason (both interpreters).
from ethox_uk.stack.wire import tcp

SRC = b"\x0a\x00\x02\x02"
DST = b"\x0a\x00\x02\x0f"


def _emit(r):
    buf = bytearray(r.buffer_len())
    n = r.emit(buf, SRC, DST)
    assert n == len(buf)
    return buf


def test_roundtrip_plain_segment():
    r = tcp.Repr(40000, 80, 0x12345678, 0x9ABCDEF0, tcp.ACK | tcp.PSH, 29200,
                payload=b"hello world")
    buf = _emit(r)
    assert len(buf) == 20 + 11
    assert tcp.Repr.parse(buf, SRC, DST) == r


def test_roundtrip_every_flag_and_wraparound_numbers():
    r = tcp.Repr(1, 65535, 0xFFFFFFFF, 0, 0xFF, 65535, urgent=7)
    buf = _emit(r)
    p = tcp.Repr.parse(buf, SRC, DST)
    assert p == r
    assert p.flags & tcp.CWR and p.flags & tcp.ECE and p.flags & tcp.URG
    assert tcp.flag_str(tcp.SYN | tcp.ACK) == "SA"


def test_roundtrip_all_options():
    r = tcp.Repr(1234, 80, 1, 2, tcp.SYN, 1000, mss=1460, wscale=7, sack_perm=True,
                timestamp=(0xDEADBEEF, 17))
    buf = _emit(r)
    assert len(buf) == 20 + 4 + 4 + 4 + 12
    assert tcp.Repr.parse(buf, SRC, DST) == r
    r2 = tcp.Repr(1234, 80, 1, 2, tcp.ACK, 1000, sack=[(10, 20), (30, 40), (50, 60)])
    buf = _emit(r2)
    assert tcp.Repr.parse(buf, SRC, DST) == r2


def test_emit_refuses_options_over_40_bytes():
    r = tcp.Repr(mss=1460, wscale=1, sack_perm=True, timestamp=(1, 2),
                sack=[(1, 2), (3, 4), (5, 6)])
    try:
        r.emit(bytearray(100))
    except ValueError:
        return
    assert False, "ValueError expected"


def test_view_getters_and_setters():
    buf = _emit(tcp.Repr(1000, 2000, 5, 6, tcp.SYN | tcp.ACK, 100, mss=536, payload=b"xy"))
    v = tcp.Packet(buf)
    assert v.check(SRC, DST) is None
    assert (v.src_port(), v.dst_port(), v.seq(), v.ack()) == (1000, 2000, 5, 6)
    assert v.header_len() == 24 and v.window() == 100 and v.urgent() == 0
    assert bytes(v.payload()) == b"xy"
    v.set_seq(0x01020304)
    v.set_ack(9)
    v.set_window(7)
    v.set_src_port(1)
    v.set_dst_port(2)
    v.set_flags(tcp.RST)
    assert v.check(SRC, DST) == "tcp_bad_checksum"
    v.fill_checksum(SRC, DST)
    assert v.check(SRC, DST) is None
    p = tcp.Repr.parse(buf, SRC, DST)
    assert (p.seq, p.ack, p.window, p.src_port, p.dst_port, p.flags) == (
        0x01020304, 9, 7, 1, 2, tcp.RST)


def test_truncated():
    buf = _emit(tcp.Repr(1, 2, 3, 4, tcp.ACK, 5))
    assert tcp.Packet(buf[:19]).check(SRC, DST) == "tcp_truncated"
    assert tcp.Packet(buf[:0]).check_len() == "tcp_truncated"
    assert tcp.Repr.parse(buf[:19], SRC, DST) is None


def test_bad_data_offset():
    buf = _emit(tcp.Repr(1, 2, 3, 4, tcp.ACK, 5))
    for doff in (0, 1, 4):
        b = bytearray(buf)
        b[12] = doff << 4
        assert tcp.Packet(b).check(SRC, DST) == "tcp_bad_offset"
    b = bytearray(buf)
    b[12] = 6 << 4  # 24-byte header in a 20-byte segment
    assert tcp.Packet(b).check(SRC, DST) == "tcp_bad_offset"
    assert tcp.Repr.parse(b, SRC, DST) is None


def test_bad_checksum_and_pseudo_header():
    buf = _emit(tcp.Repr(1, 2, 3, 4, tcp.ACK, 5, payload=b"abc"))
    assert tcp.Packet(buf).check(SRC, DST) is None
    assert tcp.Packet(buf).check(DST, SRC) is None  # the sum is symmetric in the addresses
    assert tcp.Packet(buf).check(SRC, b"\x0a\x00\x02\x10") == "tcp_bad_checksum"
    b = bytearray(buf)
    b[-1] ^= 0x40
    assert tcp.Packet(b).check(SRC, DST) == "tcp_bad_checksum"
    # odd length payload: the checksum pads with a zero byte
    assert tcp.Packet(buf).size() & 1


def _with_options(opts):
    """A segment with raw option bytes (padded with EOL to a multiple of 4)."""
    opts = bytes(opts)
    while len(opts) % 4:
        opts += b"\x00"
    r = tcp.Repr(1, 2, 3, 4, tcp.SYN, 5)
    buf = bytearray(20 + len(opts))
    r.emit(buf)
    buf[12] = ((20 + len(opts)) >> 2) << 4
    buf[20:] = opts
    tcp.Packet(buf).fill_checksum(SRC, DST)
    return buf


def test_malformed_option_lengths():
    for opts in ([2, 0, 0, 0], [2, 1, 0, 0], [2, 8, 5, 180], [1, 1, 1, 2],
                 [3, 3, 1, 99, 9, 0, 0, 0], [8, 10, 0, 0]):
        b = _with_options(opts)
        assert tcp.Packet(b).check(SRC, DST) == "tcp_bad_options", opts
        assert tcp.Repr.parse(b, SRC, DST) is None


def test_options_nop_eol_unknown_and_odd_lengths():
    # NOP NOP, unknown kind 30 (len 4), MSS, EOL then garbage that must be ignored
    b = _with_options([1, 1, 30, 4, 9, 9, 2, 4, 5, 180, 0, 77, 1, 0])
    p = tcp.Repr.parse(b, SRC, DST)
    assert p is not None and p.mss == 1460 and p.wscale is None and not p.sack_perm
    # a known option with the wrong length is skipped, not fatal
    b = _with_options([2, 3, 1, 3, 3, 7])
    p = tcp.Repr.parse(b, SRC, DST)
    assert p is not None and p.mss is None and p.wscale == 7
    # window scale above 14 is taken as 14
    p = tcp.Repr.parse(_with_options([3, 3, 200]), SRC, DST)
    assert p.wscale == 14
    # SACK with a length that is not 2 + 8n is skipped
    p = tcp.Repr.parse(_with_options([5, 6, 0, 0, 0, 1]), SRC, DST)
    assert p is not None and p.sack == []


def test_fast_path_parse_options_reuses_object():
    b = _with_options([2, 4, 5, 180, 1, 3, 3, 2, 1, 1, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2])
    o = tcp.Options()
    assert tcp.parse_options(b, 20, tcp.header_len(b, 0), o) is None
    assert (o.mss, o.wscale, o.sack_perm, o.ts_val, o.ts_ecr) == (1460, 2, True, 1, 2)
    b = _with_options([1])
    assert tcp.parse_options(b, 20, tcp.header_len(b, 0), o) is None
    assert (o.mss, o.wscale, o.sack_perm, o.ts_val, o.sack_n) == (-1, -1, False, -1, 0)


def test_fast_path_header_helpers():
    b = bytearray(64)
    n = tcp.put_syn_options(b, 20, 1460, 7, True)
    assert n == 12 and tcp.syn_options_len(1460, 7, True) == 12
    assert tcp.syn_options_len(-1, -1, False) == 0
    tcp.put_header(b, 0, 80, 4321, 100, 200, 20 + n, tcp.SYN | tcp.ACK, 65535)
    tcp.fill_checksum(b, 0, 32, tcp.pseudo_sum(SRC, DST, 32))
    assert tcp.check(b, 0, 32, tcp.pseudo_sum(DST, SRC, 32)) is None
    p = tcp.Repr.parse(b[:32], SRC, DST)
    assert (p.src_port, p.dst_port, p.seq, p.ack, p.window) == (80, 4321, 100, 200, 65535)
    assert (p.mss, p.wscale, p.sack_perm) == (1460, 7, True)
    # pseudo header sum read in place from an IPv4 header
    ip = bytearray(20)
    ip[12:16] = SRC
    ip[16:20] = DST
    assert tcp.pseudo_sum_at(ip, 0, 32) == tcp.pseudo_sum(SRC, DST, 32)


def test_reserved_bits_are_ignored():
    buf = _emit(tcp.Repr(1, 2, 3, 4, tcp.ACK, 5))
    buf[12] |= 0x0F
    tcp.Packet(buf).fill_checksum(SRC, DST)
    assert tcp.Packet(buf).reserved() == 0x0F
    assert tcp.Repr.parse(buf, SRC, DST) == tcp.Repr(1, 2, 3, 4, tcp.ACK, 5)


def test_mutations_never_raise():
    base = _emit(tcp.Repr(1, 2, 3, 4, tcp.SYN, 5, mss=1460, wscale=3, sack_perm=True,
                         timestamp=(1, 2), payload=b"0123456789"))
    x = 12345
    for i in range(600):
        b = bytearray(base)
        for _ in range(1 + i % 4):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            b[x % len(b)] = (x >> 8) & 0xFF
        cut = len(b) - (x >> 3) % 8 if i % 3 == 0 else len(b)
        seg = tcp.Packet(b, 0, cut)
        r = seg.check(SRC, DST)
        assert r is None or r.startswith("tcp_")
        tcp.Repr.parse(b[:cut], SRC, DST)
        if seg.check_len() is None:
            tcp.Repr.parse_unchecked(tcp.Packet(b, 0, cut))
