"""Hypothesis properties of the TCP wire format (CPython only)."""
from hypothesis import given, settings, strategies as st

from ethox_uk.stack.wire import tcp
from ethox_uk.stack.wire import tcp as wtcp

ADDR = st.binary(min_size=4, max_size=4)
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def reprs(draw):
    mss = draw(st.none() | U16)
    wscale = draw(st.none() | st.integers(0, 14))
    sack_perm = draw(st.booleans())
    ts = draw(st.none() | st.tuples(U32, U32))
    used = (4 if mss is not None else 0) + (4 if wscale is not None else 0)
    used += (4 if sack_perm else 0) + (12 if ts is not None else 0)
    room = (40 - used - 4) // 8 if used <= 28 else 0
    nsack = draw(st.integers(0, max(0, min(4, room))))
    sack = draw(st.lists(st.tuples(U32, U32), min_size=nsack, max_size=nsack))
    return wtcp.Repr(draw(U16), draw(U16), draw(U32), draw(U32), draw(st.integers(0, 255)),
                   draw(U16), draw(U16), mss=mss, wscale=wscale, sack_perm=sack_perm,
                   sack=sack, timestamp=ts, payload=draw(st.binary(max_size=64)))


@settings(max_examples=400, deadline=None)
@given(reprs(), ADDR, ADDR)
def test_parse_emit_roundtrip(r, src, dst):
    buf = bytearray(r.buffer_len())
    n = r.emit(buf, src, dst)
    assert n == len(buf) and n - r.header_len() == len(r.payload)
    assert wtcp.Packet(buf).check(src, dst) is None
    assert wtcp.Repr.parse(buf, src, dst) == r


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=120), ADDR, ADDR)
def test_random_bytes_never_raise(data, src, dst):
    seg = wtcp.Packet(bytearray(data))
    reason = seg.check(src, dst)
    assert reason is None or reason in (tcp.TRUNCATED, tcp.BAD_OFFSET, tcp.BAD_CHECKSUM,
                                        tcp.BAD_OPTIONS)
    r = wtcp.Repr.parse(bytearray(data), src, dst)
    assert (r is None) == (reason is not None)
    o = tcp.Options()
    if len(data) >= 20:
        end = min(len(data), tcp.header_len(data, 0))
        assert tcp.parse_options(data, 20, end, o) in (None, tcp.BAD_OPTIONS)
        assert o.sack_n <= 4 and -1 <= o.wscale <= 14


@settings(max_examples=500, deadline=None)
@given(reprs(), ADDR, ADDR, st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)),
                                     min_size=1, max_size=6), st.integers(0, 100))
def test_mutated_segments_never_raise(r, src, dst, edits, cut):
    buf = bytearray(r.buffer_len())
    r.emit(buf, src, dst)
    for pos, val in edits:
        if buf:
            buf[pos % len(buf)] = val
    buf = buf[:max(0, len(buf) - cut)]
    reason = wtcp.Packet(buf).check(src, dst)
    assert reason is None or reason.startswith("tcp_")
    p = wtcp.Repr.parse(buf, src, dst)
    if p is not None and p.header_len() <= 60:
        # whatever parses re-emits to something that parses to the same thing
        out = bytearray(p.buffer_len())
        p.emit(out, src, dst)
        assert wtcp.Repr.parse(out, src, dst) == p
