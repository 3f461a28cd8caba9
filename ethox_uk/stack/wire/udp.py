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


# The view and Repr classes (tests and tools) live in model/udp.py, which images
# leave out (build/image.py): re-exported here where it exists.
try:
    from .model.udp import Packet, Repr  # noqa: E402, F401
except ImportError:
    pass
