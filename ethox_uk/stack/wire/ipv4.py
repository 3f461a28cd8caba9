# IPv4 header (RFC 791): a view over a buffer at an offset, a Repr, and the
# one validation function the IP layer calls per packet.
#
#   check(buf, off, length) -> None | reason
#       Every check on untrusted header bytes: length, version, IHL, total
#       length, option lengths, fragment sanity, and last the header checksum
#       (a test-only fault may ignore ipv4_bad_checksum alone). `length` is
#       the number of bytes available at buf[off:]. The reason is a counter
#       name (counters.py), so the caller counts `c[reason] += 1` without
#       allocating anything.
#   Packet(buf, off=0)         field getters/setters by indexing; attach() re-points
#                              one preallocated view at another buffer
#   Repr                       parse(packet) / emit(packet): header fields as Python
#                              values (tools and tests; not the hot path)
#
# Addresses stay in the buffer: the layer compares them byte by byte.
from ..compat import const
from .checksum import csum

HEADER_LEN = const(20)
MAX_HEADER_LEN = const(60)
VERSION = const(4)

PROTO_ICMP = const(1)
PROTO_TCP = const(6)
PROTO_UDP = const(17)

FLAG_DF = const(0x4000)
FLAG_MF = const(0x2000)
OFFSET_MASK = const(0x1FFF)

DEFAULT_TTL = const(64)

OPT_EOL = const(0)
OPT_NOP = const(1)

# Field offsets inside the header.
_VER_IHL = const(0)
_TOS = const(1)
_LEN = const(2)
_ID = const(4)
_FLG_OFF = const(6)
_TTL = const(8)
_PROTO = const(9)
_CSUM = const(10)
SRC = const(12)
DST = const(16)


def check_options(buf, start, end):
    """Walk the options in buf[start:end]: None, or 'ipv4_bad_options'.

    EOL ends the list (the rest is padding); NOP is one byte; every other
    option has a length byte >= 2 that must stay inside the header."""
    i = start
    while i < end:
        t = buf[i]
        if t == OPT_EOL:
            return None
        if t == OPT_NOP:
            i += 1
            continue
        if i + 1 >= end:
            return "ipv4_bad_options"
        n = buf[i + 1]
        if n < 2 or i + n > end:
            return "ipv4_bad_options"
        i += n
    return None


def check(buf, off, length):
    """Validate the IPv4 header at buf[off:off+length]; None when it is sound."""
    if length < HEADER_LEN:
        return "ipv4_truncated"
    vi = buf[off]
    if vi >> 4 != VERSION:
        return "ipv4_bad_version"
    hl = (vi & 15) << 2
    if hl < HEADER_LEN:
        return "ipv4_bad_header_len"
    if hl > length:
        return "ipv4_truncated"
    total = (buf[off + _LEN] << 8) | buf[off + _LEN + 1]
    if total < hl or total > length:
        return "ipv4_bad_total_len"
    if hl > HEADER_LEN and check_options(buf, off + HEADER_LEN, off + hl) is not None:
        return "ipv4_bad_options"
    fo = (buf[off + _FLG_OFF] << 8) | buf[off + _FLG_OFF + 1]
    if fo & (FLAG_MF | OFFSET_MASK):
        data = total - hl
        if data == 0:
            return "ipv4_frag_bad"
        if fo & FLAG_MF and data & 7:
            return "ipv4_frag_bad"  # every fragment but the last carries 8-byte blocks
        if ((fo & OFFSET_MASK) << 3) + data > 65535 - hl:
            return "ipv4_frag_too_big"  # would reassemble beyond 65535 bytes
    if csum(buf, off, off + hl) != 0xFFFF:  # last: see the top of the file
        return "ipv4_bad_checksum"
    return None


def fill_checksum(buf, off):
    """Compute and write the header checksum of the header at buf[off:]."""
    hl = (buf[off] & 15) << 2
    buf[off + _CSUM] = 0
    buf[off + _CSUM + 1] = 0
    s = ~csum(buf, off, off + hl) & 0xFFFF
    buf[off + _CSUM] = s >> 8
    buf[off + _CSUM + 1] = s & 255


def write_header(buf, off, total, ident, flags_off, ttl, proto, src, dst):
    """Write a 20-byte header (no options) with its checksum; src/dst indexable by 0..3."""
    buf[off] = 0x45
    buf[off + _TOS] = 0
    buf[off + _LEN] = total >> 8
    buf[off + _LEN + 1] = total & 255
    buf[off + _ID] = ident >> 8
    buf[off + _ID + 1] = ident & 255
    buf[off + _FLG_OFF] = flags_off >> 8
    buf[off + _FLG_OFF + 1] = flags_off & 255
    buf[off + _TTL] = ttl
    buf[off + _PROTO] = proto
    buf[off + SRC] = src[0]
    buf[off + SRC + 1] = src[1]
    buf[off + SRC + 2] = src[2]
    buf[off + SRC + 3] = src[3]
    buf[off + DST] = dst[0]
    buf[off + DST + 1] = dst[1]
    buf[off + DST + 2] = dst[2]
    buf[off + DST + 3] = dst[3]
    fill_checksum(buf, off)


def addr_eq(buf, off, addr):
    """buf[off:off+4] == addr, byte by byte (no slice)."""
    return (buf[off] == addr[0] and buf[off + 1] == addr[1]
            and buf[off + 2] == addr[2] and buf[off + 3] == addr[3])


# The view and Repr classes (tests and tools) live in model/ipv4.py, which images
# leave out (build/image.py): re-exported here where it exists.
try:
    from .model.ipv4 import Packet, Repr  # noqa: E402, F401
except ImportError:
    pass
