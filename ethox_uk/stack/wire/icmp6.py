# ICMPv6 (RFC 4443) and the neighbour discovery messages it carries (RFC 4861),
# MLDv2 (RFC 3810): types, the checksum over the pseudo-header, and the
# checks on untrusted bytes.
#
#   check(buf, ip_off, off, end) -> None | reason   length and checksum
#   nd_options(buf, start, end) -> None | reason    every option's length > 0
#                                                   and inside the message
#   find_option(buf, start, end, kind) -> offset | -1
#   fill_checksum(buf, ip_off, off, end)            pseudo-header from the IPv6
#                                                   header at ip_off (written)
# The view and Repr classes (tests and tools) live in model/icmp6.py.
from ..compat import const
from .checksum import csum

DEST_UNREACHABLE = const(1)
PACKET_TOO_BIG = const(2)
TIME_EXCEEDED = const(3)
PARAM_PROBLEM = const(4)
ECHO_REQUEST = const(128)
ECHO_REPLY = const(129)
MLD_QUERY = const(130)
MLD_REPORT = const(131)
MLD_DONE = const(132)
ROUTER_SOLICIT = const(133)
ROUTER_ADVERT = const(134)
NEIGHBOR_SOLICIT = const(135)
NEIGHBOR_ADVERT = const(136)
REDIRECT = const(137)
MLD2_REPORT = const(143)

OPT_SOURCE_LL = const(1)
OPT_TARGET_LL = const(2)
OPT_PREFIX = const(3)
OPT_MTU = const(5)

NA_ROUTER = const(0x80)
NA_SOLICITED = const(0x40)
NA_OVERRIDE = const(0x20)

# an error message quotes as much of the packet as keeps it within the
# minimum MTU (RFC 4443 §2.4 (c)): 1280 - 40 IPv6 - 8 ICMPv6
MAX_QUOTE = const(1232)


def pseudo_sum(buf, ip_off, nh, length):
    """Folded sum of the IPv6 pseudo-header (RFC 8200 §8.1): the addresses are
    contiguous in the header, next header and upper-layer length added."""
    return csum(buf, ip_off + 8, ip_off + 40, nh + length)


def check(buf, ip_off, off, end):
    if end - off < 4:
        return "icmp6_truncated"
    if csum(buf, off, end, pseudo_sum(buf, ip_off, 58, end - off)) != 0xFFFF:
        return "icmp6_bad_checksum"
    return None


def fill_checksum(buf, ip_off, off, end):
    buf[off + 2] = 0
    buf[off + 3] = 0
    s = ~csum(buf, off, end, pseudo_sum(buf, ip_off, 58, end - off)) & 0xFFFF
    buf[off + 2] = s >> 8
    buf[off + 3] = s & 255


def nd_options(buf, start, end):
    i = start
    while i < end:
        if i + 2 > end or buf[i + 1] == 0 or i + 8 * buf[i + 1] > end:
            return "nd_bad_message"  # RFC 4861 §4.6: a zero length is invalid
        i += 8 * buf[i + 1]
    return None


def find_option(buf, start, end, kind):
    """Offset of the first option of `kind` (nd_options() passed), or -1."""
    i = start
    while i + 2 <= end:
        if buf[i] == kind:
            return i
        n = buf[i + 1]
        if n == 0:
            return -1
        i += 8 * n
    return -1


def is_error(t):
    return t < 128


try:
    from .model.icmp6 import Packet, Repr  # noqa: E402, F401
except ImportError:
    pass
