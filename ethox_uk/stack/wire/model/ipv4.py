# View and Repr classes for ipv4 (wire/ipv4.py has the checks and writers the
# layers use): parse/emit for tests and tools. Not frozen into images.
from .view import ReprBase, View
from ..ipv4 import DEFAULT_TTL, DST, FLAG_DF, FLAG_MF, HEADER_LEN, OFFSET_MASK, SRC, VERSION, check, csum, fill_checksum
from ...compat import const

# field offsets (wire/ipv4.py's private consts: MicroPython keeps no global for them)
_CSUM = const(10)
_FLG_OFF = const(6)
_ID = const(4)
_LEN = const(2)
_PROTO = const(9)
_TOS = const(1)
_TTL = const(8)


class Packet(View):
    """A view of an IPv4 header at buf[off:end]."""

    def check_len(self, length=-1):
        """None when the header at off is sound within `length` bytes (default: up to end),
        else the reason."""
        return check(self.buf, self.off, self.size() if length < 0 else length)

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


class Repr(ReprBase):
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


    def __repr__(self):
        return "Ipv4Repr(%d.%d.%d.%d -> %d.%d.%d.%d proto=%d len=%d ttl=%d id=%d%s%s off=%d)" % (
            self.src[0], self.src[1], self.src[2], self.src[3],
            self.dst[0], self.dst[1], self.dst[2], self.dst[3],
            self.protocol, self.payload_len, self.ttl, self.ident,
            " DF" if self.dont_frag else "", " MF" if self.more_frags else "", self.frag_offset)
