# ARP for Ethernet and IPv4 (RFC 826). Offsets are relative to the start of
# the ARP packet (14 inside an Ethernet frame):
#
#    0        2        4    5    6        8            14       18           24       28
#   +--------+--------+----+----+--------+------------+--------+------------+--------+
#   | htype  | ptype  |hlen|plen| oper   | sender hw  | sndr ip| target hw  | tgt ip |
#   +--------+--------+----+----+--------+------------+--------+------------+--------+
#
# Only htype 1 (Ethernet), ptype 0x0800 (IPv4), hlen 6, plen 4 and the
# operations request (1) and reply (2) are accepted; anything else is
# `arp_bad_format`, fewer than 28 bytes is `arp_truncated`. As in ethernet.py:
# plain functions for the layers (no allocation), and `Packet` / `Repr`
# for tests and tools, over the same `check`.
from ..compat import const

HTYPE_OFF = const(0)
PTYPE_OFF = const(2)
HLEN_OFF = const(4)
PLEN_OFF = const(5)
OPER_OFF = const(6)
SHA_OFF = const(8)
SPA_OFF = const(14)
THA_OFF = const(18)
TPA_OFF = const(24)
PACKET_LEN = const(28)

HTYPE_ETHERNET = const(1)
PTYPE_IPV4 = const(0x0800)
OP_REQUEST = const(1)
OP_REPLY = const(2)

TRUNCATED = "arp_truncated"
BAD_FORMAT = "arp_bad_format"


# -- fast path ----------------------------------------------------------------
def check(b, off, end):
    """Validate the ARP packet at b[off:end]: None if usable, else the reason."""
    if end - off < PACKET_LEN:
        return TRUNCATED
    if (b[off] != 0 or b[off + 1] != 1 or b[off + 2] != 0x08 or b[off + 3] != 0x00
            or b[off + 4] != 6 or b[off + 5] != 4 or b[off + 6] != 0):
        return BAD_FORMAT
    op = b[off + 7]
    if op != OP_REQUEST and op != OP_REPLY:
        return BAD_FORMAT
    return None


def operation(b, off):
    return (b[off + 6] << 8) | b[off + 7]


def read_ip(b, at):
    """The IPv4 address at b[at:at+4] as an int."""
    return (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]


def write_ip(b, at, n):
    b[at] = (n >> 24) & 0xFF
    b[at + 1] = (n >> 16) & 0xFF
    b[at + 2] = (n >> 8) & 0xFF
    b[at + 3] = n & 0xFF


def write_fixed(b, off, op):
    """Write htype/ptype/hlen/plen for Ethernet+IPv4 and the operation."""
    b[off] = 0
    b[off + 1] = 1
    b[off + 2] = 0x08
    b[off + 3] = 0x00
    b[off + 4] = 6
    b[off + 5] = 4
    b[off + 6] = 0
    b[off + 7] = op


def _put(b, at, src, n):
    for i in range(n):
        b[at + i] = src[i]


# -- view ---------------------------------------------------------------------


def _hex(mac):
    return ":".join(["%02x" % x for x in mac])


def _dot(ip):
    return ".".join(["%d" % x for x in ip])


# The view and Repr classes (tests and tools) live in model/arp.py, which images
# leave out (build/image.py): re-exported here where it exists.
try:
    from .model.arp import Packet, Repr  # noqa: E402, F401
except ImportError:
    pass
