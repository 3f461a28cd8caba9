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


# The view and Repr classes (tests and tools) live in model/icmp.py, which images
# leave out (build/image.py): re-exported here where it exists.
try:
    from .model.icmp import Packet, Repr  # noqa: E402, F401
except ImportError:
    pass
