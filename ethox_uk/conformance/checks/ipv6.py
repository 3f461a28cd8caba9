"""IPv6 for a host (RFC 8200): the fixed header, extension headers and their options, the
Routing header, fragments (RFC 5722, RFC 6946). Every check is n/a for a target that does
not answer a ping to its link-local address."""

import struct

from .. import build6 as b6
from .. import wire6
from ..common6 import chained, check_echo6, echo_frame, expect_echo6, no_error_about, param_problem
from ..context6 import ipv6_applies
from ..registry import MUST, SHOULD, check

A = ipv6_applies
PADN4 = bytes((1, 4, 0, 0, 0, 0))  # a PadN option with 4 bytes: an 8-byte header


@check("ipv6.echo_link_local", "answers echo requests to its link-local address from that "
       "address, data unchanged (0, 56 and 1232 bytes)", level=MUST,
       rfc="RFC 4291 §2.5.6, RFC 4443 §4.2", applies=A)
def echo_link_local(ctx):
    for seq, size in enumerate((0, 56, 1232), 1):
        data = ctx.pattern(size, seq)
        frame, ident, seq = echo_frame(ctx, data, seq=seq)
        expect_echo6(ctx, frame, ident, seq, data)


@check("ipv6.reply_header_valid", "its replies are version 6 with a payload length that "
       "matches and a hop limit above 1", level=MUST, rfc="RFC 8200 §3, RFC 4861 §6.3.2",
       applies=A)
def reply_header_valid(ctx):
    data = ctx.pattern(40)
    frame, ident, seq = echo_frame(ctx, data)
    f, _ = expect_echo6(ctx, frame, ident, seq, data)
    r = f.raw
    ctx.require(r[14] >> 4 == 6, "#%d: version %d" % (f.index, r[14] >> 4))
    plen = r[18] << 8 | r[19]
    ctx.require(plen == 8 + len(data), "#%d: payload length %d for %d bytes"
                % (f.index, plen, 8 + len(data)))
    ctx.must(r[21] >= 1, "#%d: hop limit 0" % f.index)
    ctx.should(r[21] > 1, "#%d: hop limit %d (the default is 64: RFC 4861 §6.3.2's "
               "CurHopLimit)" % (f.index, r[21]))


@check("ipv6.hop_limit_one_accepted", "a packet that arrives with hop limit 1 is delivered "
       "(only forwarding decrements it)", level=MUST, rfc="RFC 8200 §3 (Hop Limit)", applies=A)
def hop_limit_one_accepted(ctx):
    data = ctx.pattern(16)
    frame, ident, seq = echo_frame(ctx, data, hlim=1)
    expect_echo6(ctx, frame, ident, seq, data)


@check("ipv6.bad_version_dropped", "drops a packet of EtherType 0x86DD whose version is not 6",
       level=MUST, rfc="RFC 8200 §3 (Version), RFC 2464 §3", applies=A)
def bad_version_dropped(ctx):
    frame, ident, seq = echo_frame(ctx, ctx.pattern(16))
    b = bytearray(frame)
    b[14] = 0x40
    ctx.send(bytes(b))
    ctx.silent(ctx.is_echo6_reply(ident), "an echo reply to a packet of version 4")


@check("ipv6.payload_length_past_frame_dropped", "drops a packet whose payload length "
       "runs past the frame", level=MUST, rfc="RFC 8200 §3 (Payload Length)", applies=A)
def payload_length_past_frame_dropped(ctx):
    frame, ident, seq = echo_frame(ctx, ctx.pattern(16))
    b = bytearray(frame)
    b[18:20] = struct.pack("!H", (b[18] << 8 | b[19]) + 8)
    ctx.send(bytes(b))
    ctx.silent(ctx.is_echo6_reply(ident), "an echo reply to a truncated packet")


@check("ipv6.not_for_us_dropped", "does not answer a packet to another unicast address "
       "sent to its MAC", level=MUST, rfc="RFC 4291 §2.8, RFC 8504 §5", applies=A)
def not_for_us_dropped(ctx):
    frame, ident, seq = echo_frame(ctx, ctx.pattern(16), dst="fe80::e7:99")
    ctx.send(frame)
    ctx.silent(ctx.is_echo6_reply(ident), "an echo reply for fe80::e7:99")


@check("ipv6.extension_headers_processed", "answers an echo request behind Hop-by-Hop "
       "(PadN), Destination Options (an unknown option of type 00), a Routing header "
       "with no segments left and an atomic Fragment header", level=MUST,
       rfc="RFC 8200 §4, §4.2, §4.4; RFC 5095 §3; RFC 6946 §4", applies=A)
def extension_headers_processed(ctx):
    data = ctx.pattern(24)
    atomic = struct.pack("!BHI", 0, 0, ctx.new_id())  # offset 0, M clear: one fragment
    chain = ((0, PADN4), (60, bytes((0x1E, 4, 0, 0, 0, 0))), (43, bytes((0, 0)) + bytes(4)),
             (44, atomic[1:]))
    frame, ident, seq = echo_frame(ctx, data, chain=chain)
    f, _ = expect_echo6(ctx, frame, ident, seq, data)


@check("ipv6.unknown_next_header", "answers an unknown next header with Parameter Problem "
       "code 1 pointing at the Next Header field", level=SHOULD, rfc="RFC 8200 §4",
       applies=A)
def unknown_next_header(ctx):
    frame = b6.frame(ctx.target_mac, ctx.peer_mac, b6.packet(
        ctx.peer_ip6, ctx.target_ip6, 253, ctx.pattern(16, ctx.new_id())))
    param_problem(ctx, frame, 1, 6, "next header 253")


@check("ipv6.hop_by_hop_only_first", "a Hop-by-Hop header anywhere but first gets "
       "Parameter Problem code 1 at the field that names it", level=SHOULD,
       rfc="RFC 8200 §4.1, §4", applies=A)
def hop_by_hop_only_first(ctx):
    frame, ident, seq = echo_frame(ctx, ctx.pattern(8, 3), chain=((60, PADN4), (0, PADN4)))
    param_problem(ctx, frame, 1, 40, "a Hop-by-Hop header second")


def _option_frame(ctx, otype, dst=None, dst_mac=None):
    opt = bytes((1, 0, otype, 2, 0, 0))  # PadN(0), then the option at offset 44
    return echo_frame(ctx, ctx.pattern(8, otype), chain=((60, opt),), dst=dst,
                      dst_mac=dst_mac)


@check("ipv6.unknown_option_actions", "an unknown option acts by its two high bits: 01 "
       "discards silently, 10 and 11 discard with Parameter Problem code 2 at the option",
       level=MUST, rfc="RFC 8200 §4.2", applies=A)
def unknown_option_actions(ctx):
    frame, ident, seq = _option_frame(ctx, 0x7E)
    ctx.send(frame)
    ctx.silent(lambda f: ctx.is_echo6_reply(ident)(f) or ctx.is_icmp6_error()(f),
               "an answer to a packet with an option of type 01")
    for otype in (0x9E, 0xDE):
        frame, ident, seq = _option_frame(ctx, otype)
        param_problem(ctx, frame, 2, 44, "an unknown option of type %s" % bin(otype >> 6)[2:])


@check("ipv6.option_to_group_actions", "to a group address an unknown option of type 10 "
       "still gets a Parameter Problem, one of type 11 does not", level=MUST,
       rfc="RFC 8200 §4.2, RFC 4443 §2.4 (e.3)", applies=A)
def option_to_group_actions(ctx):
    frame, ident, seq = _option_frame(ctx, 0xDE, "ff02::1", "33:33:00:00:00:01")
    no_error_about(ctx, frame, "an option of type 11 sent to ff02::1")
    frame, ident, seq = _option_frame(ctx, 0x9E, "ff02::1", "33:33:00:00:00:01")
    param_problem(ctx, frame, 2, 44, "an option of type 10 sent to ff02::1")


@check("ipv6.routing_header_segments_left", "a Routing header of unknown type with "
       "segments left gets Parameter Problem code 0 at its Routing Type", level=MUST,
       rfc="RFC 8200 §4.4", applies=A)
def routing_header_segments_left(ctx):
    rh = bytes((253, 1)) + bytes(4) + b6.a6("2001:db8::1")
    frame, ident, seq = echo_frame(ctx, ctx.pattern(8, 4), chain=((43, rh),))
    param_problem(ctx, frame, 0, 42, "routing type 253 with a segment left")


def _frag_echo(ctx, size, order, step=1232):
    """Send an echo request in fragments (indexes in `order`) from a fresh address of the
    peer's (fragments a target still holds from an earlier run count against the
    per-source cap); (ident, seq, data, that address)."""
    me = ctx.fresh_peer6()
    data = ctx.pattern(size, 9)
    ident = ctx.new_id()
    msg = b6.icmp6(me, ctx.target_ip6, 128, 0, b6.echo_body(ident, 1, data))
    pkts = b6.fragments(me, ctx.target_ip6, 58, msg, step, ctx.new_id() << 8 | 7)
    for k in order:
        ctx.send(b6.frame(ctx.target_mac, ctx.peer_mac, pkts[k]))
    return ident, 1, data, me


@check("ipv6.fragments_reassembled", "answers a 3000-byte echo request that came in three "
       "fragments out of order", level=MUST, rfc="RFC 8200 §4.5", applies=A)
def fragments_reassembled(ctx):
    ident, seq, data, me = _frag_echo(ctx, 3000, (2, 0, 1))
    f, pieces = ctx.expect_datagram6(ctx.is_echo6_reply(ident, seq), "the echo reply",
                                     timeout=2 * ctx.reply)
    check_echo6(ctx, f, data, peer=me)


@check("ipv6.large_reply_fragmented", "sends a reply larger than the link MTU in "
       "fragments of at most 1500 bytes, every one but the last a multiple of 8 long",
       level=MUST, rfc="RFC 8200 §4.5, §5", applies=A)
def large_reply_fragmented(ctx):
    ident, seq, data, me = _frag_echo(ctx, 3000, (0, 1, 2))
    f, pieces = ctx.expect_datagram6(ctx.is_echo6_reply(ident, seq), "the echo reply",
                                     timeout=2 * ctx.reply)
    ctx.require(len(pieces) >= 3, "the 3008-byte reply came in %d fragments" % len(pieces))
    ids = set()
    for p in pieces:
        fr = wire6.fragment(p.raw)
        plen = p.raw[18] << 8 | p.raw[19]
        ctx.require(40 + plen <= 1500, "#%d: a %d-byte packet" % (p.index, 40 + plen))
        ctx.require(not fr[1] or (plen - 8) % 8 == 0, "#%d: a middle fragment of %d bytes"
                    % (p.index, plen - 8))
        ids.add(fr[2])
    ctx.require(len(ids) == 1, "the fragments carry %d identifications" % len(ids))


@check("ipv6.fragments_overlapping_dropped", "drops a datagram whose fragments overlap",
       level=MUST, rfc="RFC 5722 §4, RFC 8200 §4.5", applies=A)
def fragments_overlapping_dropped(ctx):
    me = ctx.fresh_peer6()
    data = ctx.pattern(2000, 5)
    ident = ctx.new_id()
    msg = b6.icmp6(me, ctx.target_ip6, 128, 0, b6.echo_body(ident, 1, data))
    fid = ctx.new_id() << 8 | 9
    a, b = b6.fragments(me, ctx.target_ip6, 58, msg, 1232, fid)
    over = b6.packet(me, ctx.target_ip6, 44,
                     struct.pack("!BBHI", 58, 0, 1224 | 1, fid) + bytes(16))
    for p in (a, over, b):
        ctx.send(b6.frame(ctx.target_mac, ctx.peer_mac, p))
    ctx.silent(ctx.is_echo6_reply(ident), "an echo reply to overlapping fragments")


@check("ipv6.fragment_length_not_multiple_of_8", "a fragment with M set whose length is "
       "not a multiple of 8 gets Parameter Problem code 0 at the Payload Length",
       level=MUST, rfc="RFC 8200 §4.5", applies=A)
def fragment_length_not_multiple_of_8(ctx):
    body = struct.pack("!BBHI", 58, 0, 1, ctx.new_id()) + bytes((128,)) + ctx.pattern(12)
    frame = b6.frame(ctx.target_mac, ctx.peer_mac,
                     b6.packet(ctx.peer_ip6, ctx.target_ip6, 44, body))
    param_problem(ctx, frame, 0, 4, "a 13-byte fragment with M set")


__all__ = ["chained"]
