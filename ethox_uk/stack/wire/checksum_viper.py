# MicroPython-only: imported by checksum.py when running under MicroPython
# without the guest's native module. CPython never imports this file (viper
# annotations are not Python).
import micropython


@micropython.viper
def csum_viper(buf, start: int, end: int) -> int:
    p = ptr8(buf)  # noqa: F821 (viper builtin)
    s = 0
    i = start
    stop = end - 1
    while i < stop:
        s += (p[i] << 8) | p[i + 1]
        i += 2
    if i < end:
        s += p[i] << 8
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s
