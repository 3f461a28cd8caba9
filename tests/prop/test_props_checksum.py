"""Hypothesis properties of the Internet checksum (CPython only): the fast
CPython `csum` (big integer modulo 0xFFFF) equals the portable word-by-word
`_csum_py` for every buffer type, range (odd lengths, empty), and initial value,
including the 0 / 0xFFFF edge cases of one's-complement arithmetic."""
from hypothesis import example, given, settings, strategies as st

from ethox_uk.stack.wire.checksum import _csum_py, csum, pseudo_header

# byte values biased towards 0x00 and 0xFF: all-zero data (sum 0), all-ones
# data (a non-zero sum congruent to 0 mod 0xFFFF) and sums near 0xFFFF
BYTES = st.binary(max_size=1600) | st.lists(
    st.sampled_from([0, 0xFF, 0x01, 0xFE, 0x80, 0x7F]), max_size=200).map(bytes)
INITIAL = st.integers(0, 0xFFFF) | st.sampled_from([0, 1, 0xFFFE, 0xFFFF, 0x10000, 0x1FFFE,
                                                    0x3FFFF])


def _ref(buf, start, end, initial):
    return _csum_py(buf, start, end, initial)


@settings(max_examples=3000, deadline=None)
@given(BYTES, st.data(), INITIAL, st.sampled_from([bytes, bytearray, memoryview]))
@example(b"", None, 0, bytes)
@example(b"\x00\x00", None, 0, bytes)
@example(b"\xff\xff", None, 0, bytes)
@example(b"\xff\xff", None, 0xFFFF, bytes)
@example(b"\x00", None, 0xFFFF, bytes)
@example(b"\xff", None, 0xFF, bytes)
@example(b"\xff\x00", None, 0xFF, bytes)
@example(b"\xff\xff\xff\xff", None, 0, bytearray)
@example(b"\x12\x34\xed\xcb", None, 0, memoryview)
def test_csum_equals_reference(data, draw, initial, kind):
    n = len(data)
    if draw is None:
        start, end = 0, n
    else:
        start = draw.draw(st.integers(0, n))
        end = draw.draw(st.integers(start, n))
    buf = kind(data) if kind is not memoryview else memoryview(bytearray(data))
    want = _ref(data, start, end, initial)
    assert csum(buf, start, end, initial) == want
    if start == 0 and end == n:
        assert csum(buf, 0, -1, initial) == want  # end=-1: the whole buffer
    if initial == 0 and start == 0 and end == n:
        assert csum(buf) == want
    assert 0 <= want <= 0xFFFF
    assert (want == 0) == (not any(data[start:end]) and initial == 0)


@settings(max_examples=500, deadline=None)
@given(st.binary(min_size=2, max_size=1500), st.binary(min_size=4, max_size=4),
       st.binary(min_size=4, max_size=4), st.integers(0, 255))
def test_filled_checksum_verifies(data, src, dst, proto):
    # the round trip every layer relies on: write ~sum, the sum over the whole is 0xFFFF
    buf = bytearray(data)
    if len(buf) & 1:
        buf.append(0)
    ps = pseudo_header(src, dst, proto, len(data))
    buf[0] = buf[1] = 0
    s = ~csum(buf, 0, len(buf), ps) & 0xFFFF
    buf[0] = s >> 8
    buf[1] = s & 0xFF
    assert csum(buf, 0, len(buf), ps) == 0xFFFF
    assert _ref(buf, 0, len(buf), ps) == 0xFFFF
