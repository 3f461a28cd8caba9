# View and Repr classes for icmp (wire/icmp.py has the checks and writers the
# layers use): parse/emit for tests and tools. Not frozen into images.
from .view import ReprBase, View
from ..icmp import HEADER_LEN, TYPE_ECHO_REPLY, TYPE_ECHO_REQUEST, check, check_error_quote, csum, fill_checksum, is_error


class Packet(View):
    """A view of an ICMP message at buf[off:end]."""

    def check_len(self, length=-1):
        return check(self.buf, self.off, self.size() if length < 0 else length)

    def msg_type(self):
        return self.buf[self.off]

    def msg_code(self):
        return self.buf[self.off + 1]

    def checksum(self):
        return self._u16(2)

    def ident(self):
        return self._u16(4)

    def seq_no(self):
        return self._u16(6)

    def rest(self):
        """The second 32-bit word (echo: ident/seq; frag-needed: next-hop MTU)."""
        return (self._u16(4) << 16) | self._u16(6)

    def data_off(self):
        return self.off + HEADER_LEN

    def set_msg_type(self, v):
        self.buf[self.off] = v

    def set_msg_code(self, v):
        self.buf[self.off + 1] = v

    def set_checksum(self, v):
        self._set16(2, v)

    def set_ident(self, v):
        self._set16(4, v)

    def set_seq_no(self, v):
        self._set16(6, v)

    def set_rest(self, v):
        self._set16(4, (v >> 16) & 0xFFFF)
        self._set16(6, v & 0xFFFF)

    def verify_checksum(self, length):
        return csum(self.buf, self.off, self.off + length) == 0xFFFF

    def fill_checksum(self, length):
        fill_checksum(self.buf, self.off, length)


class Repr(ReprBase):
    """msg_type, code, rest (second word) and data (bytes after the 8-byte header)."""

    def __init__(self, msg_type, code=0, rest=0, data=b""):
        self.msg_type = msg_type
        self.code = code
        self.rest = rest
        self.data = bytes(data)

    @staticmethod
    def echo(ident, seq, data=b"", reply=False):
        return Repr(TYPE_ECHO_REPLY if reply else TYPE_ECHO_REQUEST, 0,
                    ((ident & 0xFFFF) << 16) | (seq & 0xFFFF), data)

    @property
    def ident(self):
        return self.rest >> 16

    @property
    def seq(self):
        return self.rest & 0xFFFF

    @staticmethod
    def parse(packet, length):
        """An IcmpRepr, or None when a check fails (check_len, and for error
        messages check_error_quote, name the reason)."""
        r = packet.check_len(length)
        if r is None and is_error(packet.msg_type()):
            r = check_error_quote(packet.buf, packet.off, length)
        if r is not None:
            return None
        o = packet.data_off()
        return Repr(packet.msg_type(), packet.msg_code(), packet.rest(),
                    bytes(packet.buf[o:packet.off + length]))

    def buffer_len(self):
        return HEADER_LEN + len(self.data)

    def emit(self, packet):
        packet.set_msg_type(self.msg_type)
        packet.set_msg_code(self.code)
        packet.set_rest(self.rest)
        o = packet.data_off()
        n = len(self.data)
        packet.buf[o:o + n] = self.data
        packet.fill_checksum(HEADER_LEN + n)


    def __repr__(self):
        return "IcmpRepr(type=%d code=%d rest=0x%08x data=%d bytes)" % (
            self.msg_type, self.code, self.rest, len(self.data))
