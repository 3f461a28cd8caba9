# View and Repr classes for udp (wire/udp.py has the checks and writers the
# layers use): parse/emit for tests and tools. Not frozen into images.
from .view import ReprBase, View
from ..udp import HEADER_LEN, PROTO_UDP, check, csum, fill_checksum_addrs, pseudo_header


class Packet(View):
    """A view of a UDP header and its payload at buf[off:end]."""

    def check_len(self, length, ip_off=None):
        """Length checks; with ip_off (IPv4 header in the same buffer) the checksum too."""
        if ip_off is not None:
            return check(self.buf, ip_off, self.off, length)
        if length < HEADER_LEN:
            return "udp_truncated"
        ulen = self.length()
        if ulen < HEADER_LEN or ulen > length:
            return "udp_bad_length"
        return None

    def src_port(self):
        return self._u16(0)

    def dst_port(self):
        return self._u16(2)

    def length(self):
        return self._u16(4)

    def checksum(self):
        return self._u16(6)

    def payload_off(self):
        return self.off + HEADER_LEN

    def set_src_port(self, v):
        self._set16(0, v)

    def set_dst_port(self, v):
        self._set16(2, v)

    def set_length(self, v):
        self._set16(4, v)

    def set_checksum(self, v):
        self._set16(6, v)

    def verify_checksum(self, src, dst):
        """With the addresses given as 4-byte values (not in the same buffer)."""
        if self.checksum() == 0:
            return True
        n = self.length()
        s = csum(self.buf, self.off, self.off + n, pseudo_header(src, dst, PROTO_UDP, n))
        return s == 0xFFFF

    def fill_checksum(self, src, dst):
        fill_checksum_addrs(self.buf, self.off, self.length(), src, dst)


class Repr(ReprBase):
    def __init__(self, src_port, dst_port, payload=b""):
        self.src_port = src_port
        self.dst_port = dst_port
        self.payload = bytes(payload)

    @staticmethod
    def parse(packet, length, src, dst):
        """A UdpRepr, or None when the length or checksum check fails."""
        if packet.check_len(length) is not None or not packet.verify_checksum(src, dst):
            return None
        o = packet.payload_off()
        return Repr(packet.src_port(), packet.dst_port(),
                    bytes(packet.buf[o:packet.off + packet.length()]))

    def buffer_len(self):
        return HEADER_LEN + len(self.payload)

    def emit(self, packet, src, dst):
        packet.set_src_port(self.src_port)
        packet.set_dst_port(self.dst_port)
        n = len(self.payload)
        packet.set_length(HEADER_LEN + n)
        o = packet.payload_off()
        packet.buf[o:o + n] = self.payload
        packet.fill_checksum(src, dst)


    def __repr__(self):
        return "UdpRepr(%d -> %d, %d bytes)" % (self.src_port, self.dst_port, len(self.payload))
