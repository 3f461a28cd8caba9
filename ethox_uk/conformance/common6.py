"""Exchanges the ipv6, icmpv6 and ndp groups share: raw echo requests and their replies,
Parameter Problems, and the silence checks (a barrier ping, then nothing of a kind)."""

import struct

from . import build6 as b6
from . import wire6


def echo_frame(ctx, data, ident=None, seq=1, dst=None, dst_mac=None, hlim=64, chain=(),
               src=None):
    """(frame bytes, ident, seq): an echo request from the peer behind the extension
    headers in chain ((type, body), ...), to the target's link-local address by default."""
    ident = ctx.new_id() if ident is None else ident
    src = src or ctx.peer_ip6
    dst = dst or ctx.target_ip6
    msg = b6.icmp6(src, dst, 128, 0, b6.echo_body(ident, seq, data))
    payload, first = _chain(chain, 58, msg)
    pkt = b6.packet(src, dst, first, payload, hlim)
    return b6.frame(dst_mac or ctx.target_mac, ctx.peer_mac, pkt), ident, seq


def _chain(chain, last, upper):
    types = [t for t, _ in chain] + [last]
    out = b""
    for k, (t, body) in enumerate(chain):
        out += b6.ext(types[k + 1], body)
    return out + upper, types[0]


def chained(ctx, chain, last, upper, dst=None, dst_mac=None, src=None):
    """A frame of the peer's: extension headers in chain, then `upper` (next header last)."""
    payload, first = _chain(chain, last, upper)
    return b6.frame(dst_mac or ctx.target_mac, ctx.peer_mac,
                    b6.packet(src or ctx.peer_ip6, dst or ctx.target_ip6, first, payload))


def expect_echo6(ctx, frame, ident, seq, data, what="ICMPv6 echo reply", peer=None):
    """Send the request frame; the reply, checked: data unchanged, checksum, addresses
    (to `peer`, by default the peer's link-local address)."""
    ctx.send(frame)
    f, pieces = ctx.expect_datagram6(ctx.is_echo6_reply(ident, seq), what)
    check_echo6(ctx, f, data, peer=peer)
    return f, pieces


def check_echo6(ctx, f, data, src=None, peer=None):
    t, code, m = ctx.icmp6_of(f)
    ctx.require(code == 0, "#%d: echo reply code %d (must be 0)" % (f.index, code))
    ctx.require(m[8:] == data, "#%d: the reply's data differ from the request's (%d vs %d "
                "bytes)" % (f.index, len(m) - 8, len(data)))
    ctx.require(wire6.upper_sum_ok(f.raw, 58), "#%d: wrong ICMPv6 checksum" % f.index)
    peer = peer or ctx.peer_ip6
    ctx.require(wire6.dst(f.raw) == peer, "#%d: reply to %s, not the requester %s"
                % (f.index, wire6.dst(f.raw), peer))
    want = src or ctx.target_ip6
    ctx.require(wire6.src(f.raw) == want, "#%d: reply from %s, not %s"
                % (f.index, wire6.src(f.raw), want))


def param_problem(ctx, frame, code, pointer, what):
    """Send frame; a Parameter Problem (code, pointer) quoting it must come back."""
    marker = bytes(frame[14:14 + 40 + 8])
    ctx.send(frame)
    f = ctx.expect(lambda g: ctx.is_icmp6((4,))(g) and marker in bytes(g.raw[62:]),
                   "Parameter Problem about %s" % what)
    t, c, m = ctx.icmp6_of(f)
    ptr = struct.unpack("!I", m[4:8])[0]
    ctx.require(c == code, "#%d: Parameter Problem code %d, expected %d" % (f.index, c, code))
    ctx.require(ptr == pointer, "#%d: Parameter Problem pointer %d, expected %d (%s)"
                % (f.index, ptr, pointer, what))
    ctx.require(wire6.upper_sum_ok(f.raw, 58), "#%d: wrong ICMPv6 checksum" % f.index)
    ctx.require(m[8:8 + len(frame) - 14] == bytes(frame[14:14 + len(m) - 8]),
                "#%d: the quote is not the packet that caused it" % f.index)
    return f


def no_error_about(ctx, frame, what):
    """Send frame; no ICMPv6 error may quote it."""
    marker = bytes(frame[14 + 8:14 + 40])  # its addresses
    start = ctx.mark()
    ctx.send(frame)
    tail = bytes(frame[-8:])
    ctx.silent(lambda g: ctx.is_icmp6_error()(g) and marker in bytes(g.raw[62:])
               and tail in bytes(g.raw[62:]), "an ICMPv6 error about %s" % what, start)
