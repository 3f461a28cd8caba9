# The Internet checksum (RFC 1071): 16-bit one's-complement sum.
#
# `csum(buf, start, end, initial)` returns the folded 16-bit sum, NOT inverted;
# callers invert (`~s & 0xffff`) when writing a checksum field, and a received
# packet is intact when the sum over it (checksum field included) is 0xffff.
# The guest's native module `_ethox.checksum` has the same signature; the
# MicroPython unix build uses the viper version; CPython reduces the bytes,
# read as one big integer, modulo 0xFFFF (see csum below).
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
    _from_bytes = int.from_bytes

    def csum(buf, start=0, end=-1, initial=0):
        # The bytes as one big-endian integer v = sum(w_i * 2**(16*k_i)) over
        # the 16-bit words: since 2**16 == 1 (mod 0xFFFF), v % 0xFFFF is the
        # one's-complement sum modulo 0xFFFF (an odd length pads a zero byte:
        # times 2**8). The folded sum is that residue, except that a non-zero
        # total congruent to 0 folds to 0xFFFF and only an all-zero total to 0.
        # ~5x faster than summing memoryview.cast("H") (3 vs 15 us per 1480 B).
        if end < 0:
            end = len(buf)
        v = _from_bytes(buf[start:end], "big")
        if v:
            r = v % 0xFFFF
            if (end - start) & 1:
                r <<= 8
            return (r + initial) % 0xFFFF or 0xFFFF
        if initial:
            return initial % 0xFFFF or 0xFFFF
        return 0

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
