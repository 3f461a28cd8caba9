# The Internet checksum (RFC 1071): 16-bit one's-complement sum.
#
# `csum(buf, start, end, initial)` returns the folded 16-bit sum, NOT inverted;
# callers invert (`~s & 0xffff`) when writing a checksum field, and a received
# packet is intact when the sum over it (checksum field included) is 0xffff.
# The guest's native module `_ethox.checksum` has the same signature; the
# MicroPython unix build uses the viper version; CPython sums 16-bit words in
# one call. The sum is byte-order independent (RFC 1071 §2(B)): summing
# native-order words and swapping once at the end gives the network-order sum.
import sys

_LITTLE = sys.byteorder == "little"


def _fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _csum_py(buf, start, end, initial):
    # Portable fallback (MicroPython without viper/native).
    s = 0
    i = start
    stop = end - 1
    while i < stop:
        s += (buf[i] << 8) | buf[i + 1]
        i += 2
    if i < end:
        s += buf[i] << 8
    return _fold(s + initial)


try:
    memoryview(b"ab").cast("H")  # CPython

    def csum(buf, start=0, end=-1, initial=0):
        if end < 0:
            end = len(buf)
        mv = memoryview(buf)[start:end]
        odd = len(mv) & 1
        s = sum(mv[: len(mv) - odd].cast("H"))
        s = _fold(s)
        if _LITTLE:
            s = ((s & 0xFF) << 8) | (s >> 8)
        if odd:
            s += mv[-1] << 8
        return _fold(s + initial)

except (AttributeError, TypeError, NotImplementedError):
    try:
        from _ethox import checksum as _native  # the guest's C implementation

        def csum(buf, start=0, end=-1, initial=0):
            if end < 0:
                end = len(buf)
            return _native(buf, start, end, initial)

    except ImportError:
        try:
            from .checksum_viper import csum_viper as _viper

            def csum(buf, start=0, end=-1, initial=0):
                if end < 0:
                    end = len(buf)
                return _fold(_viper(buf, start, end) + initial)

        except (ImportError, SyntaxError, ValueError):

            def csum(buf, start=0, end=-1, initial=0):
                if end < 0:
                    end = len(buf)
                return _csum_py(buf, start, end, initial)


def pseudo_header(src, dst, proto, length):
    """Sum of the IPv4 pseudo-header (RFC 793/768) as a folded 16-bit value."""
    s = ((src[0] << 8) | src[1]) + ((src[2] << 8) | src[3])
    s += ((dst[0] << 8) | dst[1]) + ((dst[2] << 8) | dst[3])
    s += proto + length
    return _fold(s)
