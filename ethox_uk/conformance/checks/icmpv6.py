"""ICMPv6 (RFC 4443) for a host: echo, errors and the rules that silence them, the rate
limit, Packet Too Big (RFC 8201)."""

import struct

from .. import build6 as b6
from .. import wire6
from ..common6 import check_echo6, echo_frame, expect_echo6, no_error_about
from ..context6 import ipv6_applies
from ..registry import MUST, SHOULD, check

A = ipv6_applies


@check("icmpv6.echo_identity", "echo replies carry the request's identifier, sequence "
       "number and data unchanged (0, 1, 57 and 1400 bytes)", level=MUST,
       rfc="RFC 4443 §4.2", applies=A)
def echo_identity(ctx):
    for seq, size in enumerate((0, 1, 57, 1400), 1):
        ident = ctx.new_id()
        data = ctx.pattern(size, ident)
        frame, ident, seq = echo_frame(ctx, data, ident=ident, seq=seq)
        f, _ = expect_echo6(ctx, frame, ident, seq, data)
        m = ctx.icmp6_of(f)[2]
        ctx.require(struct.unpack("!HH", m[4:8]) == (ident, seq), "#%d: identifier or "
                    "sequence number changed" % f.index)


@check("icmpv6.echo_reply_checksum", "the echo reply's checksum is right for odd lengths "
       "and data of all-ones and all-zero bytes", level=MUST, rfc="RFC 4443 §2.3", applies=A)
def echo_reply_checksum(ctx):
    for seq, data in enumerate((b"\x01", b"\xff" * 3, b"\xff" * 57, bytes(58),
                                b"\x7f\xff" + b"\xff" * 31), 1):
        frame, ident, seq = echo_frame(ctx, data, seq=seq)
        expect_echo6(ctx, frame, ident, seq, data)


@check("icmpv6.bad_checksum_dropped", "does not answer an echo request with a wrong "
       "checksum", level=MUST, rfc="RFC 4443 §2.3, §2.4", applies=A)
def bad_checksum_dropped(ctx):
    frame, ident, seq = echo_frame(ctx, ctx.pattern(20))
    b = bytearray(frame)
    b[56] ^= 0x5A
    ctx.send(bytes(b))
    ctx.silent(ctx.is_echo6_reply(ident), "an echo reply to a request with a bad checksum")


@check("icmpv6.echo_to_all_nodes", "answers an echo request to ff02::1 from its unicast "
       "address", level=SHOULD, rfc="RFC 4443 §4.2 (source MUST be a unicast address)",
       applies=A)
def echo_to_all_nodes(ctx):
    data = ctx.pattern(16)
    frame, ident, seq = echo_frame(ctx, data, dst="ff02::1", dst_mac="33:33:00:00:00:01")
    ctx.send(frame)
    f = ctx.expect(ctx.is_echo6_reply(ident, seq), "an echo reply to a ping to ff02::1")
    ctx.must(not f.raw[22] == 0xFF, "#%d: the reply's source is the group %s"
             % (f.index, wire6.src(f.raw)))
    check_echo6(ctx, f, data)


def _closed_udp(ctx, size=12, dst=None, dst_mac=None, src=None):
    src = src or ctx.peer_ip6
    dst = dst or ctx.target_ip6
    u = b6.udp6(src, dst, ctx.new_port(), ctx.closed_port(), ctx.pattern(size, ctx.new_id()))
    return b6.frame(dst_mac or ctx.target_mac, ctx.peer_mac, b6.packet(src, dst, 17, u))


@check("icmpv6.port_unreachable", "a UDP datagram to a closed port gets Destination "
       "Unreachable code 4 quoting it, from the address it was sent to", level=SHOULD,
       rfc="RFC 4443 §3.1", applies=A)
def port_unreachable(ctx):
    frame = _closed_udp(ctx)
    quote = bytes(frame[14:])
    ctx.send(frame)
    f = ctx.expect(lambda g: ctx.is_icmp6((1,))(g) and quote[:48] in bytes(g.raw[62:]),
                   "Destination Unreachable for a closed UDP port")
    t, code, m = ctx.icmp6_of(f)
    ctx.require(code == 4, "#%d: code %d, expected 4 (port unreachable)" % (f.index, code))
    ctx.require(m[8:] == quote, "#%d: the quote differs from the datagram" % f.index)
    ctx.require(wire6.upper_sum_ok(f.raw, 58), "#%d: wrong ICMPv6 checksum" % f.index)
    ctx.require(wire6.src(f.raw) == ctx.target_ip6, "#%d: from %s" % (f.index,
                                                                      wire6.src(f.raw)))


@check("icmpv6.error_fits_minimum_mtu", "an error about a 1400-byte datagram quotes as "
       "much as fits and stays within the minimum MTU (1280 bytes)", level=MUST,
       rfc="RFC 4443 §2.4 (c)", applies=A)
def error_fits_minimum_mtu(ctx):
    frame = _closed_udp(ctx, 1352)
    quote = bytes(frame[14:])
    ctx.send(frame)
    f = ctx.expect(lambda g: ctx.is_icmp6((1,))(g) and quote[:48] in bytes(g.raw[62:]),
                   "Destination Unreachable about a 1400-byte datagram")
    n = len(ctx.icmp6_of(f)[2])
    ctx.require(40 + n <= 1280, "#%d: a %d-byte error" % (f.index, 40 + n))
    ctx.require(40 + n == 1280, "#%d: the error quotes %d bytes where 1232 fit"
                % (f.index, n - 8))


@check("icmpv6.no_error_about_error", "sends no error about an ICMPv6 error message "
       "(one carrying an option that would otherwise draw a Parameter Problem)",
       level=MUST, rfc="RFC 4443 §2.4 (e.1)", applies=A)
def no_error_about_error(ctx):
    inner = b6.packet(ctx.target_ip6, ctx.peer_ip6, 17, bytes(8))
    err = b6.icmp6(ctx.peer_ip6, ctx.target_ip6, 1, 4, bytes(4) + inner)
    opt = bytes((1, 0, 0x9E, 2, 0, 0))
    frame = b6.frame(ctx.target_mac, ctx.peer_mac, b6.packet(
        ctx.peer_ip6, ctx.target_ip6, 60, b6.ext(58, opt) + err))
    no_error_about(ctx, frame, "an ICMPv6 error message")


@check("icmpv6.no_error_to_group_destination", "a datagram to a closed port sent to "
       "ff02::1 gets no error", level=MUST, rfc="RFC 4443 §2.4 (e.3)", applies=A)
def no_error_to_group_destination(ctx):
    no_error_about(ctx, _closed_udp(ctx, dst="ff02::1", dst_mac="33:33:00:00:00:01"),
                   "a datagram to ff02::1")


@check("icmpv6.no_error_for_link_multicast", "a datagram to a closed port in a link-layer "
       "multicast frame gets no error", level=MUST, rfc="RFC 4443 §2.4 (e.4)", applies=A)
def no_error_for_link_multicast(ctx):
    no_error_about(ctx, _closed_udp(ctx, dst_mac="33:33:00:00:00:01"),
                   "a datagram in a link-layer multicast frame")


@check("icmpv6.no_error_to_unspecified_source", "a datagram from :: to a closed port gets "
       "no error", level=MUST, rfc="RFC 4443 §2.4 (e.6)", applies=A)
def no_error_to_unspecified_source(ctx):
    no_error_about(ctx, _closed_udp(ctx, src="::"), "a datagram from ::")


@check("icmpv6.errors_rate_limited", "40 datagrams to closed ports within a moment draw "
       "fewer than 40 errors", level=MUST, rfc="RFC 4443 §2.4 (f)", applies=A)
def errors_rate_limited(ctx):
    start = ctx.mark()
    for _ in range(40):
        ctx.send(_closed_udp(ctx))
    ctx.barrier()
    n = len([f for f in ctx.peer.rx_log[start:] if ctx.is_icmp6((1,))(f)])
    ctx.require(n < 40, "%d errors for 40 datagrams: no rate limit" % n)


@check("icmpv6.unknown_informational_dropped", "silently discards an informational "
       "message of unknown type", level=MUST, rfc="RFC 4443 §2.4 (b)", applies=A)
def unknown_informational_dropped(ctx):
    m = b6.icmp6(ctx.peer_ip6, ctx.target_ip6, 200, 0, ctx.pattern(8, ctx.new_id()))
    frame = b6.frame(ctx.target_mac, ctx.peer_mac,
                     b6.packet(ctx.peer_ip6, ctx.target_ip6, 58, m))
    start = ctx.mark()
    ctx.send(frame)
    ctx.silent(lambda f: ctx.is_icmp6()(f) and not ctx.is_icmp6((129, 135, 136, 143))(f),
               "an answer to ICMPv6 type 200", start)


@check("icmpv6.packet_too_big_honoured", "after a Packet Too Big of 1280 its 1400-byte "
       "replies to that peer come in fragments of at most 1280 bytes", level=MUST,
       rfc="RFC 8201 §4, §5.2; RFC 8200 §5", applies=A, timeout=10)
def packet_too_big_honoured(ctx):
    # From an address of its own each run: the path MTU learnt stays (RFC 8201 §4: at
    # least 5 minutes), so a second run from the same address would see 1280 from the start.
    me = ctx.fresh_peer6()
    data = ctx.pattern(1400, 3)
    frame, ident, seq = echo_frame(ctx, data, seq=1, src=me)
    f, pieces = expect_echo6(ctx, frame, ident, seq, data, peer=me)
    ctx.require(not pieces, "the 1448-byte reply came fragmented before any Packet Too Big")
    quoted = bytes(f.raw[14:14 + 1232])
    ptb = b6.icmp6(me, ctx.target_ip6, 2, 0, struct.pack("!I", 1280) + quoted)
    ctx.send(b6.frame(ctx.target_mac, ctx.peer_mac, b6.packet(me, ctx.target_ip6, 58, ptb)))
    ctx.barrier()
    frame, ident, seq = echo_frame(ctx, data, seq=2, src=me)
    f, pieces = expect_echo6(ctx, frame, ident, seq, data, peer=me)
    ctx.require(pieces, "#%d: the 1448-byte reply still came whole" % f.index)
    for p in pieces:
        n = 40 + (p.raw[18] << 8 | p.raw[19])
        ctx.require(n <= 1280, "#%d: a %d-byte fragment" % (p.index, n))
