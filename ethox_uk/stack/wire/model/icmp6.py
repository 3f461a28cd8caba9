# View and Repr classes for icmp6 (wire/icmp6.py has the checks the layers
# use): parse/emit for tests and tools. Not frozen into images.
from ..icmp6 import check, fill_checksum


class Packet:
    """An ICMPv6 message at buf[off:end] behind the IPv6 header at ip_off."""

    def __init__(self, buf, ip_off, off, end):
        self.buf = buf
        self.ip_off = ip_off
        self.off = off
        self.end = end

    def check(self):
        return check(self.buf, self.ip_off, self.off, self.end)

    def msg_type(self):
        return self.buf[self.off]

    def code(self):
        return self.buf[self.off + 1]

    def checksum(self):
        return (self.buf[self.off + 2] << 8) | self.buf[self.off + 3]

    def rest(self):
        """The 32 bits after the checksum (identifier+sequence, MTU, pointer, flags)."""
        b = self.buf
        o = self.off + 4
        return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]

    def body(self):
        return bytes(self.buf[self.off + 8:self.end])


class Repr:
    def __init__(self, msg_type, code=0, rest=0, body=b""):
        self.msg_type = msg_type
        self.code = code
        self.rest = rest
        self.body = bytes(body)

    @classmethod
    def parse(cls, packet):
        r = packet.check()
        if r is not None:
            raise ValueError(r)
        return cls(packet.msg_type(), packet.code(), packet.rest(), packet.body())

    def emit(self, packet):
        """Write the message at packet.off (the IPv6 header at ip_off must hold
        the addresses: the checksum covers them)."""
        b = packet.buf
        o = packet.off
        b[o] = self.msg_type
        b[o + 1] = self.code
        r = self.rest
        b[o + 4] = (r >> 24) & 255
        b[o + 5] = (r >> 16) & 255
        b[o + 6] = (r >> 8) & 255
        b[o + 7] = r & 255
        b[o + 8:o + 8 + len(self.body)] = self.body
        packet.end = o + 8 + len(self.body)
        fill_checksum(b, packet.ip_off, o, packet.end)

    def __eq__(self, other):
        return isinstance(other, Repr) and (self.msg_type, self.code, self.rest, self.body) == (
            other.msg_type, other.code, other.rest, other.body)

    def __ne__(self, other):
        return not self.__eq__(other)
