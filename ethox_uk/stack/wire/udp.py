# UDP (RFC 768): datagram view, Repr, and the checks on untrusted bytes.
#
#   check(buf, ip_off, off, length) -> None | reason
#       `length` bytes of IP payload at buf[off:]; the IPv4 header at ip_off
#       supplies the pseudo-header addresses (summed straight from the buffer).
#       A zero checksum field means "none" and is accepted (RFC 768).
#   fill_checksum(buf, ip_off, off, udp_len)   computed 0 is sent as 0xffff
#   fill_checksum_addrs(buf, off, udp_len, src, dst)   addresses given separately
#   Packet(buf, off=0) / Repr(src_port, dst_port, payload)
from ..compat import const
from .checksum import csum, pseudo_header

HEADER_LEN = const(8)
PROTO_UDP = const(17)


def _sum(buf, ip_off, off, udp_len):
    # Pseudo-header: source and destination addresses are bytes 12..20 of the
    # IPv4 header, contiguous: sum them in place, plus protocol and length.
    s = csum(buf, ip_off + 12, ip_off + 20, PROTO_UDP + udp_len)
    return csum(buf, off, off + udp_len, s)


def check(buf, ip_off, off, length, verify=True):
    """Validate the datagram at buf[off:off+length]: None when sound, else the
    reason. verify=False: the NIC vouched for the checksum (or left it partial)."""
    if length < HEADER_LEN:
        return "udp_truncated"
    ulen = (buf[off + 4] << 8) | buf[off + 5]
    if ulen < HEADER_LEN or ulen > length:
        return "udp_bad_length"
    # last: a test-only fault may ignore this reason alone
    if verify and (buf[off + 6] | buf[off + 7]) and _sum(buf, ip_off, off, ulen) != 0xFFFF:
        return "udp_bad_checksum"
    return None


def fill_checksum(buf, ip_off, off, udp_len):
    """Write the checksum of the datagram at off (IPv4 header at ip_off already written)."""
    buf[off + 6] = 0
    buf[off + 7] = 0
    s = ~_sum(buf, ip_off, off, udp_len) & 0xFFFF
    if s == 0:
        s = 0xFFFF
    buf[off + 6] = s >> 8
    buf[off + 7] = s & 255


def fill_checksum_addrs(buf, off, udp_len, src, dst):
    """Write the checksum with the addresses given as 4-byte values (sending:
    the IPv4 header is not written yet)."""
    buf[off + 6] = 0
    buf[off + 7] = 0
    s = ~csum(buf, off, off + udp_len, pseudo_header(src, dst, PROTO_UDP, udp_len)) & 0xFFFF
    if s == 0:
        s = 0xFFFF
    buf[off + 6] = s >> 8
    buf[off + 7] = s & 255


class Packet:
    def __init__(self, buf, off=0):
        self.buf = buf
        self.off = off

    def attach(self, buf, off=0):
        self.buf = buf
        self.off = off
        return self

    def _u16(self, i):
        i += self.off
        return (self.buf[i] << 8) | self.buf[i + 1]

    def _set16(self, i, v):
        i += self.off
        self.buf[i] = (v >> 8) & 255
        self.buf[i + 1] = v & 255

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


class Repr:
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

    def __eq__(self, other):
        return (isinstance(other, Repr) and self.src_port == other.src_port
                and self.dst_port == other.dst_port and self.payload == other.payload)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "UdpRepr(%d -> %d, %d bytes)" % (self.src_port, self.dst_port, len(self.payload))
