# Ethernet II frames (IEEE 802.3 with an EtherType; no FCS: NICs strip it).
#
#    0                   6                  12        14
#   +-------------------+-------------------+---------+---------
#   | destination (6)   | source (6)        | type (2)| payload
#   +-------------------+-------------------+---------+---------
#
# Two ways in, one set of checks:
#   * fast path for the layers: offset constants and plain functions that index
#     the buffer in place and allocate nothing (`check`, `ethertype`,
#     `dst_is_broadcast`, `put_mac`, `fill_header`, `pad`);
#   * `Packet` (a view with getters/setters and `check_len`) and
#     `Repr` (`parse`/`emit`) for tests and tools; they call the same
#     functions.
# A failed check is reported as the counter name of the drop reason, never as
# an exception.
from ..compat import const

HEADER_LEN = const(14)
MIN_FRAME_LEN = const(60)  # shortest frame on the wire without FCS: pad up to it
DST_OFF = const(0)
SRC_OFF = const(6)
TYPE_OFF = const(12)
PAYLOAD_OFF = const(14)

ETHERTYPE_IPV4 = const(0x0800)
ETHERTYPE_ARP = const(0x0806)
ETHERTYPE_VLAN = const(0x8100)
ETHERTYPE_IPV6 = const(0x86DD)

BROADCAST = b"\xff\xff\xff\xff\xff\xff"
ZERO_MAC = b"\x00\x00\x00\x00\x00\x00"

TRUNCATED = "eth_truncated"


# -- fast path ----------------------------------------------------------------
def check(length):
    """None when `length` bytes can hold an Ethernet header, else the reason."""
    if length < HEADER_LEN:
        return TRUNCATED
    return None


def ethertype(b):
    return (b[12] << 8) | b[13]


def set_ethertype(b, t):
    b[12] = (t >> 8) & 0xFF
    b[13] = t & 0xFF


def dst_is_broadcast(b):
    return (b[0] & b[1] & b[2] & b[3] & b[4] & b[5]) == 0xFF


def dst_is_multicast(b):
    """True for group addresses (the I/G bit), broadcast included."""
    return b[0] & 1 == 1


def src_is_multicast(b):
    return b[6] & 1 == 1


def mac_at_is(b, at, mac):
    """True when the 6 bytes at b[at] equal mac (no allocation)."""
    return (b[at] == mac[0] and b[at + 1] == mac[1] and b[at + 2] == mac[2]
            and b[at + 3] == mac[3] and b[at + 4] == mac[4] and b[at + 5] == mac[5])


def put_mac(b, at, mac):
    b[at] = mac[0]
    b[at + 1] = mac[1]
    b[at + 2] = mac[2]
    b[at + 3] = mac[3]
    b[at + 4] = mac[4]
    b[at + 5] = mac[5]


def copy_mac(dst, dst_at, src, src_at):
    dst[dst_at] = src[src_at]
    dst[dst_at + 1] = src[src_at + 1]
    dst[dst_at + 2] = src[src_at + 2]
    dst[dst_at + 3] = src[src_at + 3]
    dst[dst_at + 4] = src[src_at + 4]
    dst[dst_at + 5] = src[src_at + 5]


def fill_header(b, dst, src, t):
    put_mac(b, 0, dst)
    put_mac(b, 6, src)
    b[12] = (t >> 8) & 0xFF
    b[13] = t & 0xFF


def reply_header(b, src):
    """Turn a received frame's header into its reply's: dst = old src, src = src."""
    copy_mac(b, 0, b, 6)
    put_mac(b, 6, src)


def pad(b, length):
    """Zero b[length:60] and return the padded length (>= 60)."""
    if length >= MIN_FRAME_LEN:
        return length
    i = length
    while i < MIN_FRAME_LEN:
        b[i] = 0
        i += 1
    return MIN_FRAME_LEN


# -- view ---------------------------------------------------------------------


def _fmt(mac):
    return ":".join(["%02x" % x for x in mac])


# The view and Repr classes (tests and tools) live in model/ethernet.py, which images
# leave out (build/image.py): re-exported here where it exists.
try:
    from .model.ethernet import Packet, Repr  # noqa: E402, F401
except ImportError:
    pass
