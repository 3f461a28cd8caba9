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


class Packet:
    """A view of an IPv4 header at buf[off:]. Getters read, setters write in place."""

    def __init__(self, buf, off=0):
        self.buf = buf
        self.off = off

    def attach(self, buf, off=0):
        self.buf = buf
        self.off = off
        return self

    def check_len(self, length):
        """None when the header at off is sound within `length` bytes, else the reason."""
        return check(self.buf, self.off, length)

    def _u16(self, i):
        b = self.buf
        i += self.off
        return (b[i] << 8) | b[i + 1]

    def _set16(self, i, v):
        b = self.buf
        i += self.off
        b[i] = (v >> 8) & 255
        b[i + 1] = v & 255

    def version(self):
        return self.buf[self.off] >> 4

    def header_len(self):
        return (self.buf[self.off] & 15) << 2

    def tos(self):
        return self.buf[self.off + _TOS]

    def total_len(self):
        return self._u16(_LEN)

    def ident(self):
        return self._u16(_ID)

    def dont_frag(self):
        return bool(self.buf[self.off + _FLG_OFF] & 0x40)

    def more_frags(self):
        return bool(self.buf[self.off + _FLG_OFF] & 0x20)

    def frag_offset(self):
        """Fragment offset in bytes."""
        return (self._u16(_FLG_OFF) & OFFSET_MASK) << 3

    def ttl(self):
        return self.buf[self.off + _TTL]

    def protocol(self):
        return self.buf[self.off + _PROTO]

    def checksum(self):
        return self._u16(_CSUM)

    def src_addr(self):
        o = self.off + SRC
        return bytes(self.buf[o:o + 4])

    def dst_addr(self):
        o = self.off + DST
        return bytes(self.buf[o:o + 4])

    def payload_off(self):
        return self.off + self.header_len()

    def set_version_ihl(self, version, header_len):
        self.buf[self.off] = (version << 4) | (header_len >> 2)

    def set_tos(self, v):
        self.buf[self.off + _TOS] = v

    def set_total_len(self, v):
        self._set16(_LEN, v)

    def set_ident(self, v):
        self._set16(_ID, v)

    def set_flags_offset(self, dont_frag, more_frags, offset):
        v = (offset >> 3) & OFFSET_MASK
        if dont_frag:
            v |= FLAG_DF
        if more_frags:
            v |= FLAG_MF
        self._set16(_FLG_OFF, v)

    def set_ttl(self, v):
        self.buf[self.off + _TTL] = v

    def set_protocol(self, v):
        self.buf[self.off + _PROTO] = v

    def set_checksum(self, v):
        self._set16(_CSUM, v)

    def set_src_addr(self, a):
        o = self.off + SRC
        for i in range(4):
            self.buf[o + i] = a[i]

    def set_dst_addr(self, a):
        o = self.off + DST
        for i in range(4):
            self.buf[o + i] = a[i]

    def verify_checksum(self):
        return csum(self.buf, self.off, self.off + self.header_len()) == 0xFFFF

    def fill_checksum(self):
        fill_checksum(self.buf, self.off)


class Repr:
    """The header as values. emit() always writes a 20-byte header (no options)."""

    def __init__(self, src, dst, protocol, payload_len, ttl=DEFAULT_TTL, ident=0,
                 dont_frag=False, more_frags=False, frag_offset=0, tos=0):
        self.src = bytes(src)
        self.dst = bytes(dst)
        self.protocol = protocol
        self.payload_len = payload_len
        self.ttl = ttl
        self.ident = ident
        self.dont_frag = dont_frag
        self.more_frags = more_frags
        self.frag_offset = frag_offset
        self.tos = tos

    @staticmethod
    def parse(packet, length):
        """An Ipv4Repr, or None when packet.check_len(length) names a reason."""
        if packet.check_len(length) is not None:
            return None
        return Repr(packet.src_addr(), packet.dst_addr(), packet.protocol(),
                    packet.total_len() - packet.header_len(), packet.ttl(),
                    packet.ident(), packet.dont_frag(), packet.more_frags(),
                    packet.frag_offset(), packet.tos())

    def buffer_len(self):
        return HEADER_LEN

    def emit(self, packet):
        p = packet
        p.set_version_ihl(VERSION, HEADER_LEN)
        p.set_tos(self.tos)
        p.set_total_len(HEADER_LEN + self.payload_len)
        p.set_ident(self.ident)
        p.set_flags_offset(self.dont_frag, self.more_frags, self.frag_offset)
        p.set_ttl(self.ttl)
        p.set_protocol(self.protocol)
        p.set_src_addr(self.src)
        p.set_dst_addr(self.dst)
        p.fill_checksum()

    def __eq__(self, other):
        return (isinstance(other, Repr) and self.src == other.src and self.dst == other.dst
                and self.protocol == other.protocol and self.payload_len == other.payload_len
                and self.ttl == other.ttl and self.ident == other.ident
                and self.dont_frag == other.dont_frag and self.more_frags == other.more_frags
                and self.frag_offset == other.frag_offset and self.tos == other.tos)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "Ipv4Repr(%d.%d.%d.%d -> %d.%d.%d.%d proto=%d len=%d ttl=%d id=%d%s%s off=%d)" % (
            self.src[0], self.src[1], self.src[2], self.src[3],
            self.dst[0], self.dst[1], self.dst[2], self.dst[3],
            self.protocol, self.payload_len, self.ttl, self.ident,
            " DF" if self.dont_frag else "", " MF" if self.more_frags else "", self.frag_offset)
