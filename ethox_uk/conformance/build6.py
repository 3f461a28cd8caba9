"""Raw IPv6 frames for the ipv6, icmpv6 and ndp checks, byte for byte (malformed ones
included: scapy would fix lengths and checksums up). Addresses are text."""

import socket
import struct

from .wire import inet_checksum, inet_sum


def a6(text):
    return socket.inet_pton(socket.AF_INET6, text)


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def header(src, dst, nh, plen, hlim=64, version=6):
    return (bytes((version << 4, 0, 0, 0)) + struct.pack("!HBB", plen, nh, hlim) + a6(src)
            + a6(dst))


def upper(src, dst, nh, msg, csum_at):
    """msg with its checksum (at byte csum_at) over the IPv6 pseudo-header filled in."""
    m = bytearray(msg)
    m[csum_at:csum_at + 2] = b"\0\0"
    ps = inet_sum(a6(src) + a6(dst) + struct.pack("!IxxxB", len(m), nh))
    c = inet_checksum(bytes(m), ps)
    if nh == 17 and c == 0:
        c = 0xFFFF
    m[csum_at:csum_at + 2] = struct.pack("!H", c)
    return bytes(m)


def icmp6(src, dst, t, code, body):
    """An ICMPv6 message (body: the bytes after the checksum) with its checksum."""
    return upper(src, dst, 58, bytes((t, code, 0, 0)) + bytes(body), 2)


def udp6(src, dst, sport, dport, data):
    return upper(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data, 6)


def ext(nh, body):
    """An extension header (Hop-by-Hop, Destination Options, Routing): body without its
    first two bytes, padded by the caller to 8n - 2 bytes."""
    assert (len(body) + 2) % 8 == 0
    return bytes((nh, (len(body) + 2) // 8 - 1)) + bytes(body)


def frame(dst_mac, src_mac, packet):
    return mac_bytes(dst_mac) + mac_bytes(src_mac) + b"\x86\xdd" + bytes(packet)


def packet(src, dst, nh, payload, hlim=64, plen=None, version=6):
    return header(src, dst, nh, len(payload) if plen is None else plen, hlim, version) \
        + bytes(payload)


def fragments(src, dst, nh, payload, size, ident, hlim=64):
    """IPv6 packets carrying payload (the fragmentable part) in `size`-byte pieces."""
    out = []
    pos = 0
    while pos < len(payload):
        n = min(size, len(payload) - pos)
        more = 1 if pos + n < len(payload) else 0
        fh = struct.pack("!BBHI", nh, 0, pos | more, ident)
        out.append(packet(src, dst, 44, fh + payload[pos:pos + n], hlim))
        pos += n
    return out


def echo_body(ident, seq, data):
    return struct.pack("!HH", ident, seq) + bytes(data)
