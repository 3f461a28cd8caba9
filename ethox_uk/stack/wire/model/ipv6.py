# View and Repr classes for ipv6 (wire/ipv6.py has the checks and writers the
# layers use): parse/emit for tests and tools. Not frozen into images.
from ..ipv6 import DST, HEADER_LEN, SRC, check, write_header


class Packet:
    """A view of an IPv6 header at buf[off:]."""

    def __init__(self, buf, off=0):
        self.buf = buf
        self.off = off

    def attach(self, buf, off=0):
        self.buf = buf
        self.off = off
        return self

    def check_len(self, length):
        return check(self.buf, self.off, length)

    def version(self):
        return self.buf[self.off] >> 4

    def traffic_class(self):
        b = self.buf
        o = self.off
        return ((b[o] & 15) << 4) | (b[o + 1] >> 4)

    def flow_label(self):
        b = self.buf
        o = self.off
        return ((b[o + 1] & 15) << 16) | (b[o + 2] << 8) | b[o + 3]

    def payload_len(self):
        return (self.buf[self.off + 4] << 8) | self.buf[self.off + 5]

    def next_header(self):
        return self.buf[self.off + 6]

    def hop_limit(self):
        return self.buf[self.off + 7]

    def src_addr(self):
        o = self.off + SRC
        return bytes(self.buf[o:o + 16])

    def dst_addr(self):
        o = self.off + DST
        return bytes(self.buf[o:o + 16])

    def payload(self):
        o = self.off + HEADER_LEN
        return self.buf[o:o + self.payload_len()]


class Repr:
    """The fixed header's fields (traffic class and flow label are emitted as 0)."""

    def __init__(self, src, dst, next_header, payload_len, hop_limit=64):
        self.src = bytes(src)
        self.dst = bytes(dst)
        self.next_header = next_header
        self.payload_len = payload_len
        self.hop_limit = hop_limit

    @classmethod
    def parse(cls, packet, length=None):
        """A Repr from a Packet, or ValueError(reason) when the header is unsound."""
        if length is None:
            length = len(packet.buf) - packet.off
        r = packet.check_len(length)
        if r is not None:
            raise ValueError(r)
        return cls(packet.src_addr(), packet.dst_addr(), packet.next_header(),
                   packet.payload_len(), packet.hop_limit())

    def emit(self, packet):
        write_header(packet.buf, packet.off, self.payload_len, self.next_header, self.hop_limit,
                     self.src, self.dst)

    def __eq__(self, other):
        return isinstance(other, Repr) and (self.src, self.dst, self.next_header,
                                            self.payload_len, self.hop_limit) == (
            other.src, other.dst, other.next_header, other.payload_len, other.hop_limit)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "ipv6.Repr(nh=%d, plen=%d, hops=%d)" % (self.next_header, self.payload_len,
                                                      self.hop_limit)
