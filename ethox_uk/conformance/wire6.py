"""Raw-byte helpers for IPv6 frames (wire.py's counterpart): the checks judge what the target
sent from the bytes, independently of scapy's fixing-up. Every function takes the whole
Ethernet frame (IPv6 at offset 14)."""

import socket

from .wire import inet_sum


def ipv6(frame):
    """(upper-layer offset, next header, end) after the extension headers, or None when the
    frame is no well-formed IPv6 packet. A non-first fragment gives next header 44."""
    if len(frame) < 54 or frame[12:14] != b"\x86\xdd" or frame[14] >> 4 != 6:
        return None
    end = 54 + (frame[18] << 8 | frame[19])
    if end > len(frame):
        return None
    nh = frame[20]
    p = 54
    while nh in (0, 43, 60, 44):
        if p + 8 > end:
            return None
        if nh == 44:
            if (frame[p + 2] << 8 | frame[p + 3]) & 0xFFF8:
                return p, 44, end
            nh = frame[p]
            p += 8
        else:
            nh, p = frame[p], p + ((frame[p + 1] + 1) << 3)
    return p, nh, end


def src(frame):
    return socket.inet_ntop(socket.AF_INET6, bytes(frame[22:38]))


def dst(frame):
    return socket.inet_ntop(socket.AF_INET6, bytes(frame[38:54]))


def hop_limit(frame):
    return frame[21]


def upper_sum_ok(frame, nh):
    """The ICMPv6/UDP/TCP checksum of the packet (pseudo-header of RFC 8200 §8.1)."""
    info = ipv6(frame)
    if info is None or info[1] != nh:
        return False
    p, _, end = info
    ps = inet_sum(bytes(frame[22:54]) + (end - p).to_bytes(4, "big") + bytes((0, 0, 0, nh)))
    return inet_sum(bytes(frame[p:end]), ps) == 0xFFFF


def icmp6(frame):
    """(type, code, offset of the message, end) of an ICMPv6 frame, or None."""
    info = ipv6(frame)
    if info is None or info[1] != 58 or info[0] + 4 > info[2]:
        return None
    p, _, end = info
    return frame[p], frame[p + 1], p, end


def fragment(frame):
    """(offset in bytes, more, identification, next header, data offset) when the frame
    is a fragment (a Fragment header right after the fixed one), else None."""
    if len(frame) < 62 or frame[12:14] != b"\x86\xdd" or frame[20] != 44:
        return None
    fo = frame[56] << 8 | frame[57]
    return fo & 0xFFF8, fo & 1, int.from_bytes(frame[58:62], "big"), frame[54], 62


def eui64_ll(mac):
    """The link-local address (RFC 4291 Appendix A) a MAC "52:54:00:12:34:56" gives."""
    b = bytes(int(x, 16) for x in mac.split(":"))
    iid = bytes((b[0] ^ 2,)) + b[1:3] + b"\xff\xfe" + b[3:6]
    return socket.inet_ntop(socket.AF_INET6, b"\xfe\x80" + bytes(6) + iid)


def solicited_node(addr):
    a = socket.inet_pton(socket.AF_INET6, addr)
    return socket.inet_ntop(socket.AF_INET6, bytes.fromhex("ff0200000000000000000001ff")
                            + a[13:16])


def mcast_mac(addr):
    a = socket.inet_pton(socket.AF_INET6, addr)
    return "33:33:" + ":".join("%02x" % x for x in a[12:16])


class Reassembler6:
    """Put the target's IPv6 fragments back together (one datagram at a time is enough for
    the checks): feed(frame) -> the whole frame, or None while pieces are missing."""

    def __init__(self):
        self.parts = {}

    def feed(self, frame):
        fr = fragment(frame)
        if fr is None:
            return frame
        off, more, ident, nh, d = fr
        end = 54 + (frame[18] << 8 | frame[19])
        got = self.parts.setdefault(ident, {})
        got[off] = (more, bytes(frame[d:end]), bytes(frame[:54]), nh)
        data = b""
        while len(data) in got:
            more, body, head, nh = got[len(data)]
            data += body
            if not more:
                head = bytearray(got[0][2])
                head[18:20] = len(data).to_bytes(2, "big")
                head[20] = got[0][3]
                del self.parts[ident]
                return bytes(head) + data
        return None
