"""Raw-byte helpers the checks use to judge frames independently of the stack under test
(and of scapy's own fixing-up): the Internet checksum, header offsets, checksum verdicts.

Every function takes the whole Ethernet frame as bytes (IPv4 at offset 14).
"""

import struct

from ..checksum import inet_checksum, inet_sum  # noqa: F401 (the checks use them from here)

ETH_LEN = 14


def ipv4(frame):
    """(ihl_bytes, total_length) of the IPv4 header at offset 14, or None if not IPv4."""
    if len(frame) < ETH_LEN + 20 or frame[12:14] != b"\x08\x00" or frame[14] >> 4 != 4:
        return None
    return (frame[14] & 15) * 4, (frame[16] << 8) | frame[17]


def udp4(frame):
    """Where the UDP header of an IPv4 UDP datagram starts in frame, or None (not one)."""
    info = ipv4(frame)
    if info is None or frame[23] != 17:
        return None
    return ETH_LEN + info[0]


def ip_header_ok(frame):
    info = ipv4(frame)
    if info is None or info[0] < 20 or len(frame) < ETH_LEN + info[0]:
        return False
    return inet_sum(frame[ETH_LEN:ETH_LEN + info[0]]) == 0xFFFF


def ip_payload(frame):
    """The IPv4 payload bytes as bounded by the total length field (no Ethernet padding)."""
    ihl, total = ipv4(frame)
    return frame[ETH_LEN + ihl:ETH_LEN + total]


def pseudo_sum(frame, proto, length):
    src = frame[ETH_LEN + 12:ETH_LEN + 16]
    dst = frame[ETH_LEN + 16:ETH_LEN + 20]
    return inet_sum(src + dst + struct.pack("!BBH", 0, proto, length))


def icmp_checksum_ok(frame):
    return inet_sum(ip_payload(frame)) == 0xFFFF


def udp_checksum_ok(frame):
    """True when the UDP checksum is valid (a zero field, "no checksum", counts as valid)."""
    seg = ip_payload(frame)
    if len(seg) < 8:
        return False
    if seg[6:8] == b"\0\0":
        return True
    ulen = (seg[4] << 8) | seg[5]
    seg = seg[:ulen]
    return inet_sum(seg, pseudo_sum(frame, 17, len(seg))) == 0xFFFF


def udp_checksum_field(frame):
    seg = ip_payload(frame)
    return (seg[6] << 8) | seg[7]
