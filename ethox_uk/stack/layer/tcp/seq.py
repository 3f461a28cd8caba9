# 32-bit sequence-number arithmetic (RFC 9293 §3.4): comparisons are modulo
# 2**32, valid while the numbers compared lie within 2**31 of each other.
# The connection code inlines these on its hot path; they are here for
# readability elsewhere and for the tests.
from ...compat import const

MASK = const(0xFFFFFFFF)
HALF = const(0x80000000)


def add(a, n):
    return (a + n) & MASK


def diff(a, b):
    """a - b as a signed 32-bit distance."""
    d = (a - b) & MASK
    return d - 0x100000000 if d & HALF else d


def lt(a, b):
    return (a - b) & MASK >= HALF


def le(a, b):
    return a == b or (a - b) & MASK >= HALF


def gt(a, b):
    return (b - a) & MASK >= HALF


def ge(a, b):
    return a == b or (b - a) & MASK >= HALF


def in_window(x, start, size):
    """start <= x < start + size (size may be 0: always False)."""
    return (x - start) & MASK < size
