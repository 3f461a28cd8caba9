"""Neighbour discovery for a host (RFC 4861), stateless autoconfiguration with duplicate
address detection (RFC 4862), MLDv2 reports (RFC 3810). The router advertisements here
carry a router lifetime of 0 (no default router is left behind), a random prefix and short
prefix lifetimes (20 s valid: the target's few address slots are free again for the next
run)."""

import os
import struct

from .. import build6 as b6
from .. import wire6
from ..common6 import echo_frame, expect_echo6
from ..context6 import ipv6_applies
from ..registry import MUST, SHOULD, check

A = ipv6_applies


def _ns(ctx, target, src=None, dst=None, hlim=255, sllao=True, dst_mac=None):
    src = ctx.peer_ip6 if src is None else src
    dst = dst or wire6.solicited_node(target)
    body = bytes(4) + b6.a6(target)
    if sllao:
        body += bytes((1, 1)) + b6.mac_bytes(ctx.peer_mac)
    m = b6.icmp6(src, dst, 135, 0, body)
    return b6.frame(dst_mac or (wire6.mcast_mac(dst) if dst.startswith("ff") else
                                ctx.target_mac), ctx.peer_mac, b6.packet(src, dst, 58, m, hlim))


def _is_na(target, dst=None):
    t = b6.a6(target)

    def match(f):
        m = wire6.icmp6(f.raw)
        return (m is not None and m[0] == 136 and bytes(f.raw[m[2] + 8:m[2] + 24]) == t
                and (dst is None or wire6.dst(f.raw) == dst))
    return match


@check("ndp.ns_answered", "a solicitation for its address is answered with a solicited, "
       "override advertisement carrying its MAC, hop limit 255, to the solicitor",
       level=MUST, rfc="RFC 4861 §7.2.4, §7.1.2, §4.4", applies=A)
def ns_answered(ctx):
    ctx.send(_ns(ctx, ctx.target_ip6))
    f = ctx.expect(_is_na(ctx.target_ip6), "a neighbour advertisement")
    t, code, m = ctx.icmp6_of(f)
    ctx.require(wire6.hop_limit(f.raw) == 255, "#%d: hop limit %d" % (f.index, f.raw[21]))
    ctx.require(wire6.upper_sum_ok(f.raw, 58), "#%d: wrong ICMPv6 checksum" % f.index)
    ctx.require(wire6.dst(f.raw) == ctx.peer_ip6 and wire6.src(f.raw) == ctx.target_ip6,
                "#%d: from %s to %s" % (f.index, wire6.src(f.raw), wire6.dst(f.raw)))
    ctx.require(m[4] & 0x40, "#%d: the Solicited flag is clear" % f.index)
    ctx.should(m[4] & 0x20, "#%d: the Override flag is clear" % f.index)
    ctx.require(m[4] & 0x80 == 0, "#%d: a host claims to be a router" % f.index)
    opt = m[24:32]
    ctx.require(len(opt) == 8 and opt[0] == 2 and opt[2:8] == b6.mac_bytes(ctx.target_mac),
                "#%d: no target link-layer address option with its MAC (answering a "
                "multicast solicitation)" % f.index)


@check("ndp.ns_bad_hop_limit_ignored", "ignores a solicitation whose hop limit is not 255",
       level=MUST, rfc="RFC 4861 §7.1.1", applies=A)
def ns_bad_hop_limit_ignored(ctx):
    ctx.send(_ns(ctx, ctx.target_ip6, hlim=254))
    ctx.silent(_is_na(ctx.target_ip6), "an advertisement answering hop limit 254")


@check("ndp.ns_other_target_ignored", "does not answer a solicitation for another address",
       level=MUST, rfc="RFC 4861 §7.2.3", applies=A)
def ns_other_target_ignored(ctx):
    other = "fe80::e7:4242"
    ctx.send(_ns(ctx, other))
    ctx.silent(_is_na(other), "an advertisement for %s" % other)


@check("ndp.dad_probe_answered_to_all_nodes", "a duplicate address probe (from ::) for its "
       "address is answered to ff02::1 with the Solicited flag clear", level=MUST,
       rfc="RFC 4861 §7.2.4, RFC 4862 §5.4.3", applies=A)
def dad_probe_answered_to_all_nodes(ctx):
    ctx.send(_ns(ctx, ctx.target_ip6, src="::", sllao=False))
    f = ctx.expect(_is_na(ctx.target_ip6), "an advertisement defending its address")
    ctx.require(wire6.dst(f.raw) == "ff02::1", "#%d: sent to %s, not ff02::1"
                % (f.index, wire6.dst(f.raw)))
    ctx.require(not ctx.icmp6_of(f)[2][4] & 0x40, "#%d: Solicited flag set" % f.index)


@check("ndp.ns_unspecified_to_unicast_ignored", "ignores a solicitation from :: that is "
       "not sent to a solicited-node group", level=MUST, rfc="RFC 4861 §7.1.1", applies=A)
def ns_unspecified_to_unicast_ignored(ctx):
    ctx.send(_ns(ctx, ctx.target_ip6, src="::", dst=ctx.target_ip6, sllao=False))
    ctx.silent(_is_na(ctx.target_ip6), "an advertisement answering an invalid probe")


@check("ndp.resolves_unknown_neighbour", "to send to an on-link neighbour it has not heard "
       "of it multicasts a solicitation for it (with its own MAC) and sends once answered",
       level=MUST, rfc="RFC 4861 §7.2.2", applies=A)
def resolves_unknown_neighbour(ctx):
    me = "fe80::e7:%x" % ctx.new_id()
    ctx.peer.answers6[me] = ctx.peer_mac
    u = b6.udp6(me, ctx.target_ip6, ctx.new_port(), ctx.closed_port(), ctx.pattern(8, 2))
    ctx.send(b6.frame(ctx.target_mac, ctx.peer_mac, b6.packet(me, ctx.target_ip6, 17, u)))
    t = b6.a6(me)
    f = ctx.expect(lambda g: ctx.is_icmp6((135,))(g) and bytes(g.raw[62:78]) == t,
                   "a neighbour solicitation for %s" % me)
    ctx.require(wire6.dst(f.raw) == wire6.solicited_node(me), "#%d: sent to %s, not the "
                "solicited-node group" % (f.index, wire6.dst(f.raw)))
    ctx.should(bytes(f.raw[78:80]) == b"\x01\x01" and bytes(f.raw[80:86])
               == b6.mac_bytes(ctx.target_mac), "#%d: no source link-layer option" % f.index)
    ctx.expect(lambda g: ctx.is_icmp6((1,))(g) and wire6.dst(g.raw) == me,
               "the port unreachable, once %s was resolved" % me)


@check("ndp.rs_not_answered", "a host answers no router solicitation", level=MUST,
       rfc="RFC 4861 §6.2.6", applies=A)
def rs_not_answered(ctx):
    m = b6.icmp6(ctx.peer_ip6, "ff02::2", 133, 0, bytes(4) + bytes((1, 1))
                 + b6.mac_bytes(ctx.peer_mac))
    ctx.send(b6.frame("33:33:00:00:00:02", ctx.peer_mac,
                      b6.packet(ctx.peer_ip6, "ff02::2", 58, m, 255)))
    ctx.silent(ctx.is_icmp6((134,)), "a router advertisement")


@check("ndp.mld_query_answered", "answers an MLDv2 general query with a report naming "
       "its solicited-node group within the maximum response delay", level=MUST,
       rfc="RFC 3810 §6.2, §5.2; RFC 4861 §7.2.1", applies=A, timeout=8)
def mld_query_answered(ctx):
    q = b6.icmp6(ctx.peer_ip6, "ff02::1", 130, 0, struct.pack("!HH", 1000, 0) + bytes(16)
                 + bytes((2, 125, 0, 0)))
    hbh = b6.ext(58, bytes((5, 2, 0, 0, 1, 0)))
    ctx.send(b6.frame("33:33:00:00:00:01", ctx.peer_mac,
                      b6.packet(ctx.peer_ip6, "ff02::1", 0, hbh + q, 1)))
    sn = b6.a6(wire6.solicited_node(ctx.target_ip6))

    def report(f):
        r = f.raw
        if r[12:14] != b"\x86\xdd" or r[20] != 0 or len(r) < 70 or r[62] != 143:
            return False
        return sn in bytes(r[70:])
    f = ctx.expect(report, "an MLDv2 report naming %s" % wire6.solicited_node(ctx.target_ip6),
                   timeout=1.0 * (1 + ctx.slack) * ctx.timescale + ctx.reply)
    ctx.require(wire6.hop_limit(f.raw) == 1, "#%d: hop limit %d" % (f.index, f.raw[21]))
    ctx.require(wire6.dst(f.raw) == "ff02::16", "#%d: sent to %s" % (f.index,
                                                                      wire6.dst(f.raw)))


def _ra(ctx, hlim=255, src=None, prefix=None):
    """A router advertisement (router lifetime 0) with one autonomous, on-link prefix;
    (frame, prefix text, the address the target should form)."""
    src = src or ctx.peer_ip6
    # a prefix no earlier run used: the target keeps an address until its lifetime ends
    prefix = prefix or "2001:db8:%x:%x::" % struct.unpack("!HH", os.urandom(4))
    pio = struct.pack("!BBBBIII", 3, 4, 64, 0xC0, 20, 10, 0) + b6.a6(prefix)
    body = struct.pack("!BBHII", 64, 0, 0, 0, 0) + bytes((1, 1)) + b6.mac_bytes(ctx.peer_mac) \
        + pio
    m = b6.icmp6(src, "ff02::1", 134, 0, body)
    iid = b6.a6(ctx.target_ip6)[8:]
    addr = wire6.socket.inet_ntop(wire6.socket.AF_INET6, b6.a6(prefix)[:8] + iid)
    return (b6.frame("33:33:00:00:00:01", ctx.peer_mac,
                     b6.packet(src, "ff02::1", 58, m, hlim)), prefix, addr)


def _is_dad_for(addr):
    t = b6.a6(addr)
    return lambda f: (wire6.icmp6(f.raw) is not None and f.raw[54] == 135
                      and bytes(f.raw[22:38]) == bytes(16) and bytes(f.raw[62:78]) == t)


@check("ndp.ra_prefix_gives_address", "a router advertisement's autonomous prefix gives "
       "it an address (prefix + its interface identifier) that it probes from :: first "
       "and then answers at", level=MUST, rfc="RFC 4862 §5.5.3, §5.4.2", applies=A,
       timeout=10)
def ra_prefix_gives_address(ctx):
    frame, prefix, addr = _ra(ctx)
    ctx.send(frame)
    f = ctx.expect(_is_dad_for(addr), "duplicate address detection for %s" % addr,
                   timeout=2 * (1 + ctx.slack) * ctx.timescale + ctx.reply)
    ctx.require(wire6.dst(f.raw) == wire6.solicited_node(addr), "#%d: the probe went to %s"
                % (f.index, wire6.dst(f.raw)))
    ctx.require(len(f.raw) - 54 < 32 or f.raw[78] != 1, "#%d: a probe from :: with a "
                "source link-layer option" % f.index)
    data = ctx.pattern(16)
    deadline = 3 * (1 + ctx.slack) * ctx.timescale
    import time

    end = time.monotonic() + deadline
    while True:
        frame, ident, seq = echo_frame(ctx, data, dst=addr)
        ctx.send(frame)
        g = ctx.wait(ctx.is_echo6_reply(ident, seq), "an echo reply from %s" % addr)
        if g is not None or time.monotonic() > end:
            break
    ctx.require(g is not None, "no echo reply from %s within %.1f s" % (addr, deadline))
    ctx.require(wire6.src(g.raw) == addr, "#%d: answered from %s" % (g.index,
                                                                    wire6.src(g.raw)))


@check("ndp.ra_bad_hop_limit_ignored", "ignores a router advertisement whose hop limit is "
       "not 255 (no address from its prefix)", level=MUST, rfc="RFC 4861 §6.1.2", applies=A,
       timeout=8)
def ra_bad_hop_limit_ignored(ctx):
    frame, prefix, addr = _ra(ctx, hlim=64)
    start = ctx.mark()
    ctx.send(frame)
    ctx.peer.collect(1.5 * ctx.timescale)
    ctx.silent(_is_dad_for(addr), "duplicate address detection for %s" % addr, start)


@check("ndp.ra_from_global_source_ignored", "ignores a router advertisement from a "
       "source that is not link-local", level=MUST, rfc="RFC 4861 §6.1.2", applies=A,
       timeout=8)
def ra_from_global_source_ignored(ctx):
    frame, prefix, addr = _ra(ctx, src="2001:db8:e7::1")
    start = ctx.mark()
    ctx.send(frame)
    ctx.peer.collect(1.5 * ctx.timescale)
    ctx.silent(_is_dad_for(addr), "duplicate address detection for %s" % addr, start)


__all__ = ["expect_echo6", "SHOULD"]
