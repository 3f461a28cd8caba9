"""The host side's Internet checksum (RFC 1071), written apart from the stack's own
(ethox_uk/stack/wire/checksum.py) so that the tools judging the stack -- the conformance
suite, the benchmark's raw peer, the namespace ping -- do not share its mistakes."""

import struct


def inet_sum(data, initial=0):
    """16-bit one's-complement sum (not inverted) over data."""
    if len(data) & 1:
        data = bytes(data) + b"\0"
    s = initial + sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def inet_checksum(data, initial=0):
    """The checksum field's value for data (the sum, inverted)."""
    return ~inet_sum(data, initial) & 0xFFFF
