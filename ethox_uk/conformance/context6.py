"""Ctx's IPv6 half (a mixin): addresses, builders and matchers for the ipv6, icmpv6 and ndp
groups.

    ctx.target_ip6 / peer_ip6        link-local addresses (EUI-64 from the MACs, unless the
                                     target's ready line names its own)
    ctx.eth6(dst=None) / ctx.ip6(**fields)
    ctx.echo6_request(size, ...)     (packet, ident, seq, data)
    ctx.is_echo6_reply(ident, seq) / ctx.is_icmp6(types) / ctx.is_icmp6_error()
    ctx.fresh_peer6()                another link-local address of the peer's, unused so far
    ctx.expect_datagram6(match, what)    the target's fragments put back together first
    ctx.ipv6_applies(ctx)            the `applies` of every IPv6 check: the target answers a
                                     ping to its link-local address (cached per peer)

The peer answers neighbour solicitations for peer_ip6 by itself (peer.py), as it does ARP.
"""

import os
import struct

from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

from . import wire6


class Ctx6:
    target_ip6 = None
    peer_ip6 = None

    def eth6(self, dst=None, src=None):
        return self.eth(dst, src, type=0x86DD)

    def ip6(self, **kw):
        kw.setdefault("src", self.peer_ip6)
        kw.setdefault("dst", self.target_ip6)
        return IPv6(**kw)

    def echo6_request(self, size=56, ident=None, seq=1, data=None, ip=None, eth=None, ext=None):
        ident = self.new_id() if ident is None else ident
        data = self.pattern(size, ident) if data is None else data
        pkt = (eth or self.eth6()) / (ip or self.ip6())
        if ext is not None:
            pkt = pkt / ext
        return pkt / ICMPv6EchoRequest(id=ident, seq=seq, data=data), ident, seq, data

    @staticmethod
    def is_echo6_reply(ident, seq=None):
        def match(f):
            m = wire6.icmp6(f.raw)
            if m is None or m[0] != 129 or m[2] + 8 > m[3]:
                return False
            r, p = f.raw, m[2]
            return ((r[p + 4] << 8 | r[p + 5]) == ident
                    and (seq is None or (r[p + 6] << 8 | r[p + 7]) == seq))
        return match

    @staticmethod
    def is_icmp6(types=None):
        def match(f):
            m = wire6.icmp6(f.raw)
            return m is not None and (types is None or m[0] in types)
        return match

    @staticmethod
    def is_icmp6_error():
        return Ctx6.is_icmp6((1, 2, 3, 4))

    @staticmethod
    def icmp6_of(f):
        """(type, code, message bytes) of an ICMPv6 frame."""
        m = wire6.icmp6(f.raw)
        return m[0], m[1], bytes(f.raw[m[2]:m[3]])

    def is_error6_quoting(self, marker, types=(1, 2, 3, 4)):
        """An ICMPv6 error whose quoted packet contains the bytes `marker`."""
        icmp = self.is_icmp6(types)
        return lambda f: icmp(f) and marker in bytes(f.raw[wire6.icmp6(f.raw)[2] + 8:])

    def expect_datagram6(self, match, what, timeout=None):
        """(whole Frame, [fragment Frames]) as Ctx.expect_datagram, for IPv6."""
        return self.expect_reassembled(match, what, timeout, wire6.Reassembler6(),
                                       lambda r: r[12:14] == b"\x86\xdd",
                                       lambda r: wire6.fragment(r) is not None)

    def fresh_peer6(self):
        """A link-local address of the peer's that no earlier run used (the peer answers
        solicitations for it): for checks whose exchange leaves per-source state in the
        target (a learnt path MTU, fragments held against the per-source cap)."""
        me = "fe80::e7:%x:%x" % (struct.unpack("!H", os.urandom(2))[0], self.new_id())
        self.peer.answers6[me] = self.peer_mac
        return me

    def ping6(self, size=56, what="ICMPv6 echo reply", **kw):
        return self.echo_exchange(self.echo6_request, self.is_echo6_reply, size, what, kw)


_seen = {}


def ipv6_applies(ctx):
    """True when the target answers an ICMPv6 echo at its link-local address (asked once
    per peer: targets with IPv6 off, or an attached one whose link-local is not EUI-64,
    make every IPv6 check n/a)."""
    key = id(ctx.peer)
    if key not in _seen:
        if ctx.target_ip6 is None:
            _seen[key] = False
        else:
            ok = False
            for _ in range(3):  # its duplicate address detection may still run
                f, _, _, _ = ctx.ping6(8, what="IPv6 probe")
                if f is not None:
                    ok = True
                    break
            _seen[key] = ok
    return _seen[key]
