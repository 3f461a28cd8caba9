# IPv6 header and extension headers (RFC 8200): the checks on untrusted bytes
# and the writers the IPv6 layer calls per packet; addresses stay in the buffer.
#
#   check(buf, off, length) -> None | reason     fixed header: length, version,
#                                                payload length inside the frame
#   options(buf, start, end) -> 0 | action<<16 | pointer
#       Walk the TLV options of a Hop-by-Hop or Destination Options header
#       (start: its first option). 0: every option known or skippable; else the
#       RFC 8200 §4.2 action of the first one that is not (ACT_*), and the
#       option's offset in buf (the Parameter Problem pointer's target).
#   write_header(buf, off, plen, nh, hops, src, dst, doff=0)   (traffic class, flow 0)
#   write_fixed(buf, off, plen, nh, hops)   its first 8 bytes alone
#   solicited_node(addr, out)                    RFC 4291 §2.7.1 ff02::1:ffXX:XXXX
#   mcast_mac(buf, off, out)                     RFC 2464 §7: 33:33 + low 32 bits
# The view and Repr classes (tests and tools) live in model/ipv6.py.
from ..compat import const

HEADER_LEN = const(40)
MIN_MTU = const(1280)
SRC = const(8)
DST = const(24)

NH_HOPOPT = const(0)
NH_TCP = const(6)
NH_UDP = const(17)
NH_ROUTING = const(43)
NH_FRAGMENT = const(44)
NH_ICMP6 = const(58)
NH_NONE = const(59)
NH_DSTOPT = const(60)

OPT_PAD1 = const(0)
OPT_PADN = const(1)
OPT_ROUTER_ALERT = const(5)

# RFC 8200 §4.2: the two high bits of an unknown option's type say what to do
ACT_DISCARD = const(1)  # 01: discard silently
ACT_ERROR = const(2)  # 10: discard, Parameter Problem code 2 even to multicast
ACT_ERROR_UNICAST = const(3)  # 11: discard, Parameter Problem code 2 unless multicast
ACT_MALFORMED = const(4)  # an option runs past its header: discard


def check(buf, off, length):
    """Validate the fixed header at buf[off:off+length]; None when sound."""
    if length < HEADER_LEN:
        return "ipv6_truncated"
    if buf[off] >> 4 != 6:
        return "ipv6_bad_version"
    if HEADER_LEN + ((buf[off + 4] << 8) | buf[off + 5]) > length:
        return "ipv6_bad_length"
    return None


def options(buf, start, end):
    i = start
    while i < end:
        t = buf[i]
        if t == OPT_PAD1:
            i += 1
            continue
        if i + 2 > end or i + 2 + buf[i + 1] > end:
            return (ACT_MALFORMED << 16) | i
        if t != OPT_PADN and t != OPT_ROUTER_ALERT:
            a = t >> 6
            if a:
                return ((ACT_DISCARD if a == 1 else ACT_ERROR if a == 2 else ACT_ERROR_UNICAST)
                        << 16) | i
        i += 2 + buf[i + 1]
    return 0


def write_header(buf, off, plen, nh, hops, src, dst, doff=0):
    """The whole header; the destination is dst[doff:doff+16]."""
    write_fixed(buf, off, plen, nh, hops)
    for k in range(16):
        buf[off + 8 + k] = src[k]
        buf[off + 24 + k] = dst[doff + k]


def write_fixed(buf, off, plen, nh, hops):
    """The header's first 8 bytes (version 6, traffic class and flow label 0); the
    addresses are left as they are."""
    buf[off] = 0x60
    buf[off + 1] = 0
    buf[off + 2] = 0
    buf[off + 3] = 0
    buf[off + 4] = plen >> 8
    buf[off + 5] = plen & 255
    buf[off + 6] = nh
    buf[off + 7] = hops


def addr_eq(buf, off, a, aoff=0):
    """buf[off:off+16] == a[aoff:aoff+16], no slice."""
    k = 15
    while k >= 0 and buf[off + k] == a[aoff + k]:  # the low bytes differ first
        k -= 1
    return k < 0


def is_unspecified(buf, off):
    for k in range(16):
        if buf[off + k]:
            return False
    return True


def is_link_local(buf, off):
    return buf[off] == 0xFE and buf[off + 1] & 0xC0 == 0x80


def solicited_node(addr, out, aoff=0):
    for k in range(16):
        out[k] = 0
    out[0] = 0xFF
    out[1] = 2
    out[11] = 1
    out[12] = 0xFF
    out[13] = addr[aoff + 13]
    out[14] = addr[aoff + 14]
    out[15] = addr[aoff + 15]
    return out


def is_solicited_node(buf, off):
    return (buf[off] == 0xFF and buf[off + 1] == 2 and buf[off + 11] == 1
            and buf[off + 12] == 0xFF and not any(buf[off + 2:off + 11]))


def mcast_mac(buf, off, out):
    out[0] = 0x33
    out[1] = 0x33
    out[2] = buf[off + 12]
    out[3] = buf[off + 13]
    out[4] = buf[off + 14]
    out[5] = buf[off + 15]
    return out


def prefix_match(a, aoff, b, boff, plen):
    """The first plen bits of a[aoff:] and b[boff:] agree."""
    k = 0
    while plen >= 8:
        if a[aoff + k] != b[boff + k]:
            return False
        k += 1
        plen -= 8
    if plen:
        m = (0xFF << (8 - plen)) & 0xFF
        return (a[aoff + k] ^ b[boff + k]) & m == 0
    return True


def eui64(mac, out, off=8):
    """RFC 4291 Appendix A: the interface identifier from a MAC at out[off:off+8]."""
    out[off] = mac[0] ^ 2
    out[off + 1] = mac[1]
    out[off + 2] = mac[2]
    out[off + 3] = 0xFF
    out[off + 4] = 0xFE
    out[off + 5] = mac[3]
    out[off + 6] = mac[4]
    out[off + 7] = mac[5]
    return out


try:
    from .model.ipv6 import Packet, Repr  # noqa: E402, F401
except ImportError:
    pass
