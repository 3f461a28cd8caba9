# MicroPython-only: imported by layer/tcp/buffers.py and nic/pair.py when
# running under MicroPython with the viper emitter (the unix port; the image
# freezes it with -march=x64). Each importer keeps a slice-assignment fallback.
# CPython never imports this file (viper annotations are not Python).
#
# copy(dst, doff, src, soff, n): dst[doff:doff+n] = src[soff:soff+n] without
# allocating. In MicroPython 1.25 a slice assignment allocates a slice object
# per side and a memoryview for the source (96 B per copy, measured), and
# memmoves the destination's tail onto itself (the whole rest of a large ring
# under the guest's memmove). Copies words (unaligned 32-bit accesses: fine on
# x86) and the last 0-3 bytes singly; dst and src must not overlap. Ranges
# are checked (ValueError, as a mismatched slice assignment raises): viper
# itself would read or write past the buffers.
import micropython


@micropython.viper
def copy(dst, doff: int, src, soff: int, n: int):
    if n < 0 or doff < 0 or soff < 0 or doff + n > int(len(dst)) or soff + n > int(len(src)):
        raise ValueError("copy out of range")
    da = uint(ptr8(dst)) + uint(doff)  # noqa: F821 (viper builtins)
    sa = uint(ptr8(src)) + uint(soff)  # noqa: F821
    d = ptr32(da)  # noqa: F821
    s = ptr32(sa)  # noqa: F821
    w = n >> 2
    i = 0
    while i < w:
        d[i] = s[i]
        i += 1
    i <<= 2
    d8 = ptr8(da)  # noqa: F821
    s8 = ptr8(sa)  # noqa: F821
    while i < n:
        d8[i] = s8[i]
        i += 1
