# IPv6 helpers for tests/unit (MicroPython-compatible, like support.py): packet
# builders with correct checksums unless told otherwise, a stack with IPv6 on
# one end of a NIC pair, and readers for what it sends.
from support import OUR_MAC, PEER_MAC, csum16, nic_pair, u16


def a6(text):
    from ethox_uk.stack.config import parse_ip6

    return parse_ip6(text)


OUR_LL = a6("fe80::5054:ff:fe12:3456")  # from OUR_MAC (EUI-64)
PEER_LL = a6("fe80::5054:ff:fe00:2")  # from PEER_MAC
OUR_SN = a6("ff02::1:ff12:3456")  # our solicited-node group
ALL_NODES = a6("ff02::1")
ALL_ROUTERS = a6("ff02::2")
MLD_ROUTERS = a6("ff02::16")
UNSPEC = bytes(16)
PREFIX = a6("2001:db8:1::")
OUR_GLOBAL = a6("2001:db8:1::5054:ff:fe12:3456")  # SLAAC from PREFIX
PEER_GLOBAL = a6("2001:db8:1::2")


def ipv6_pkt(src, dst, nh, payload, hops=64, plen=None, version=6):
    n = len(payload) if plen is None else plen
    return (bytes(((version << 4), 0, 0, 0)) + u16(n) + bytes((nh, hops)) + bytes(src)
            + bytes(dst) + bytes(payload))


def pseudo6(src, dst, nh, length):
    return bytes(src) + bytes(dst) + u16(length >> 16) + u16(length & 0xFFFF) + bytes((0, 0, 0, nh))


def icmp6(src, dst, msg_type, code=0, body=b"", csum=None):
    """An ICMPv6 message: type, code, checksum, then `body` (the 4 bytes after the
    checksum included)."""
    m = bytearray(bytes((msg_type, code, 0, 0)) + bytes(body))
    c = csum16(pseudo6(src, dst, 58, len(m)) + bytes(m)) if csum is None else csum
    m[2] = c >> 8
    m[3] = c & 255
    return bytes(m)


def echo6(src, dst, ident, seq, data=b"", msg_type=128):
    return icmp6(src, dst, msg_type, 0, u16(ident) + u16(seq) + bytes(data))


def udp6(src, dst, sport, dport, payload, csum=None):
    d = bytearray(u16(sport) + u16(dport) + u16(8 + len(payload)) + b"\x00\x00" + bytes(payload))
    c = (csum16(pseudo6(src, dst, 17, len(d)) + bytes(d)) or 0xFFFF) if csum is None else csum
    d[6] = c >> 8
    d[7] = c & 255
    return bytes(d)


def frame6(pkt, dst_mac=OUR_MAC, src_mac=PEER_MAC):
    return bytes(dst_mac) + bytes(src_mac) + b"\x86\xdd" + bytes(pkt)


def mcast_mac(group):
    return b"\x33\x33" + bytes(group[12:16])


def sllao(kind, m):
    return bytes((kind, 1)) + bytes(m)


def ns(src, dst, target, opts=b"", hops=255, code=0):
    return ipv6_pkt(src, dst, 58, icmp6(src, dst, 135, code, bytes(4) + bytes(target) + opts),
                    hops)


def na(src, dst, target, flags, opts=b"", hops=255):
    return ipv6_pkt(src, dst, 58, icmp6(src, dst, 136, 0, bytes((flags, 0, 0, 0)) + bytes(target)
                                        + opts), hops)


def pio(prefix, plen=64, flags=0xC0, valid=86400, pref=14400):
    return (bytes((3, 4, plen, flags)) + u32(valid) + u32(pref) + bytes(4) + bytes(prefix))


def u32(v):
    return u16((v >> 16) & 0xFFFF) + u16(v & 0xFFFF)


def ra(src, opts=b"", lifetime=1800, hops=255, cur_hops=64, reachable=0, retrans=0,
       dst=ALL_NODES):
    body = bytes((cur_hops, 0)) + u16(lifetime) + u32(reachable) + u32(retrans) + opts
    return ipv6_pkt(src, dst, 58, icmp6(src, dst, 134, 0, body), hops)


def stack6(ip6="auto", gw6=None, seed=1, ip="10.0.2.15/24", gw="10.0.2.2",
           mac="52:54:00:12:34:56"):
    """(stack, peer_end): a Stack with IPv6 on one end of a NIC pair."""
    from ethox_uk.stack.config import Config
    from ethox_uk.stack.iface import Stack

    a, b = nic_pair(seed)
    return Stack(a, Config(ip, gw, mac, ip6=ip6, gw6=gw6), seed=seed), b


def run(stack, peer, start, end, step=10):
    """Poll from start to end ms; every frame sent meanwhile."""
    out = []
    t = start
    while t <= end:
        stack.poll(t)
        out += peer.frames()
        t += step
    return out


def settled(ip6="auto", gw6=None, seed=1):
    """A stack whose link-local (and static) address passed DAD; its startup frames."""
    s, peer = stack6(ip6, gw6, seed)
    out = run(s, peer, 0, 2000)
    assert s.ip6.link_local() is not None
    s.nd.rs_left = 0  # no router solicitations among the frames of the tests that follow
    return s, peer, out


def rx(stack, peer, frame, now):
    stack.nic.inject(frame)
    stack.poll(now)
    return peer.frames()


def is6(f):
    return f[12:14] == b"\x86\xdd"


def ip6_of(f):
    """The IPv6 packet in a frame, trimmed to its payload length."""
    n = (f[18] << 8) | f[19]
    return f[14:54 + n]


def icmp6_of(f):
    """(type, code, message) of an ICMPv6 frame without extension headers, else None;
    asserts the checksum."""
    p = ip6_of(f)
    if p[6] != 58:
        return None
    m = p[40:]
    assert csum16(pseudo6(p[8:24], p[24:40], 58, len(m)) + bytes(m)) == 0, "bad ICMPv6 checksum"
    return m[0], m[1], m


def of_type(frames, t):
    out = []
    for f in frames:
        if is6(f):
            r = icmp6_of(f)
            if r is not None and r[0] == t:
                out.append(f)
    return out


def learn_peer(stack, peer, now, src=PEER_LL, mac=PEER_MAC):
    """Let the stack learn src -> mac (a solicitation for our link-local)."""
    rx(stack, peer, frame6(ns(src, OUR_SN, OUR_LL, sllao(1, mac)), mcast_mac(OUR_SN), mac), now)
