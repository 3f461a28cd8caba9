# ICMPv4 (RFC 792): message view, Repr, and the checks on untrusted bytes.
#
#   check(buf, off, length) -> None | reason    header length + checksum
#   check_error_quote(buf, off, length) -> None | reason
#       an error message must quote an IPv4 header (IHL >= 5, inside the
#       message) and the first 8 bytes of its payload (RFC 792/1122)
#   Packet(buf, off=0)       type/code/checksum/ident/seq/rest getters+setters
#   Repr(msg_type, code, rest, data) with parse/emit; echo() builds echo messages
from ..compat import const
from .checksum import csum

HEADER_LEN = const(8)

TYPE_ECHO_REPLY = const(0)
TYPE_DEST_UNREACHABLE = const(3)
TYPE_SOURCE_QUENCH = const(4)
TYPE_REDIRECT = const(5)
TYPE_ECHO_REQUEST = const(8)
TYPE_TIME_EXCEEDED = const(11)
TYPE_PARAM_PROBLEM = const(12)
TYPE_TIMESTAMP = const(13)
TYPE_TIMESTAMP_REPLY = const(14)

CODE_NET_UNREACHABLE = const(0)
CODE_HOST_UNREACHABLE = const(1)
CODE_PROTO_UNREACHABLE = const(2)
CODE_PORT_UNREACHABLE = const(3)
CODE_FRAG_NEEDED = const(4)

CODE_TTL_EXCEEDED = const(0)
CODE_REASSEMBLY_EXCEEDED = const(1)

# Quote in error messages: the original header and payload up to a 576-byte
# error datagram (20 IP + 8 ICMP + 548), RFC 1812 4.3.2.3; at least header + 8.
MAX_QUOTE = const(548)


def is_error(msg_type):
    """True for the error messages of RFC 792/1122 (never answered with an error)."""
    return (msg_type == TYPE_DEST_UNREACHABLE or msg_type == TYPE_SOURCE_QUENCH
            or msg_type == TYPE_REDIRECT or msg_type == TYPE_TIME_EXCEEDED
            or msg_type == TYPE_PARAM_PROBLEM)


def is_query(msg_type):
    """Informational types (echo, timestamp, information, address mask)."""
    return msg_type == 0 or msg_type == 8 or 13 <= msg_type <= 18


def check(buf, off, length):
    """Validate an ICMP message of `length` bytes at buf[off:]: None when sound."""
    if length < HEADER_LEN:
        return "icmp_truncated"
    if csum(buf, off, off + length) != 0xFFFF:  # last: a test-only fault may ignore it alone
        return "icmp_bad_checksum"
    return None


def check_error_quote(buf, off, length):
    """For an error message: the quoted IPv4 header and 8 bytes must be present."""
    q = off + HEADER_LEN
    n = length - HEADER_LEN
    if n < 20 + 8:
        return "icmp_truncated"
    vi = buf[q]
    hl = (vi & 15) << 2
    if vi >> 4 != 4 or hl < 20 or hl + 8 > n:
        return "icmp_truncated"
    return None


def fill_checksum(buf, off, length):
    buf[off + 2] = 0
    buf[off + 3] = 0
    s = ~csum(buf, off, off + length) & 0xFFFF
    buf[off + 2] = s >> 8
    buf[off + 3] = s & 255


def update_checksum_type(buf, off, old_type, new_type):
    """RFC 1624 incremental update after changing the type byte (code unchanged)."""
    hc = (buf[off + 2] << 8) | buf[off + 3]
    s = (~hc & 0xFFFF) + (~(old_type << 8) & 0xFFFF) + (new_type << 8)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    s = ~s & 0xFFFF
    if s == 0:
        s = 0xFFFF  # -0: also right when every other word is zero (RFC 1624 §3)
    buf[off + 2] = s >> 8
    buf[off + 3] = s & 255


class Packet:
    def __init__(self, buf, off=0):
        self.buf = buf
        self.off = off

    def attach(self, buf, off=0):
        self.buf = buf
        self.off = off
        return self

    def check_len(self, length):
        return check(self.buf, self.off, length)

    def _u16(self, i):
        i += self.off
        return (self.buf[i] << 8) | self.buf[i + 1]

    def _set16(self, i, v):
        i += self.off
        self.buf[i] = (v >> 8) & 255
        self.buf[i + 1] = v & 255

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


class Repr:
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

    def __eq__(self, other):
        return (isinstance(other, Repr) and self.msg_type == other.msg_type
                and self.code == other.code and self.rest == other.rest
                and self.data == other.data)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "IcmpRepr(type=%d code=%d rest=0x%08x data=%d bytes)" % (
            self.msg_type, self.code, self.rest, len(self.data))
