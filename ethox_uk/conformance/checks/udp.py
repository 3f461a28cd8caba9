"""UDP (RFC 768; RFC 1122 §4.1; the echo service of RFC 862 on port 7)."""

import struct

from .. import wire
from ..common import check_icmp_error_quote, check_ip_header
from ..context import BROADCAST_MAC
from ..registry import MUST, check

ECHO = 7


def _check_echo(ctx, f, sport, data, zero_ok=False):
    """Fail unless f is the echo service's answer to `data` sent from port `sport`."""
    check_ip_header(ctx, f, 17)
    seg = wire.ip_payload(f.raw)
    ctx.require(len(seg) >= 8, "#%d: UDP datagram of %d bytes" % (f.index, len(seg)))
    sp, dp, ulen, ck = struct.unpack("!HHHH", seg[:8])
    ctx.require((sp, dp) == (ECHO, sport), "#%d goes %d→%d, expected %d→%d"
                % (f.index, sp, dp, ECHO, sport))
    ctx.require(ulen == len(seg), "#%d has UDP length %d for a %d-byte datagram"
                % (f.index, ulen, len(seg)))
    if ck == 0:
        ctx.require(zero_ok, "#%d carries no UDP checksum (0): checksums MUST be on by "
                    "default" % f.index)
    else:
        ctx.require(wire.udp_checksum_ok(f.raw), "#%d has a bad UDP checksum %#06x"
                    % (f.index, ck))
    got = bytes(seg[8:])
    ctx.require(got == data, "#%d echoes %d bytes that differ from the %d sent"
                % (f.index, len(got), len(data)))


def _echo(ctx, data, **kw):
    pkt, sport = ctx.udp(ECHO, data, **kw)
    ctx.send(pkt)
    return ctx.expect(ctx.is_udp_from(ECHO, sport), "UDP echo of %d bytes" % len(data)), sport


@check("udp.echo_identity", "the echo service on port 7 returns each datagram unchanged "
       "(0, 1, 100, 1472 bytes) with ports swapped and a valid checksum",
       level=MUST, rfc="RFC 768, RFC 862, RFC 1122 §4.1.3.4")
def echo_identity(ctx):
    for i, size in enumerate((0, 1, 100, 1472)):
        data = ctx.pattern(size, i)
        f, sport = _echo(ctx, data)
        _check_echo(ctx, f, sport, data)


def _raw_udp(ctx, dport, data, ulen=None, checksum="auto", sport=None, cover=None):
    """A UDP datagram with a chosen length field and checksum ("auto": computed over
    `cover` bytes of the segment (default: the length field's), an int: that value)."""
    sport = ctx.new_port() if sport is None else sport
    seg = bytearray(struct.pack("!HHHH", sport, dport, 8 + len(data) if ulen is None
                                else ulen, 0) + data)
    if checksum == "auto":
        n = cover if cover is not None else min(len(seg), struct.unpack("!H", seg[4:6])[0])
        ip = bytes(ctx.ip(proto=17) / bytes(seg))
        ps = wire.inet_sum(ip[12:20] + struct.pack("!BBH", 0, 17, n))
        ck = wire.inet_checksum(bytes(seg[:n]), ps) or 0xFFFF
    else:
        ck = checksum
    struct.pack_into("!H", seg, 6, ck)
    return ctx.eth() / ctx.ip(proto=17) / bytes(seg), sport


@check("udp.bad_checksum_dropped", "silently discards a datagram with a wrong non-zero "
       "checksum", level=MUST, rfc="RFC 1122 §4.1.3.4")
def bad_checksum_dropped(ctx):
    data = b"bad checksum"
    good, sport = _raw_udp(ctx, ECHO, data)
    ck = struct.unpack("!H", bytes(good)[40:42])[0]
    pkt, _ = _raw_udp(ctx, ECHO, data, checksum=(ck ^ 0x0101) or 1, sport=sport)
    ctx.send(pkt)
    ctx.silent(lambda f: ctx.is_udp_from(ECHO, sport)(f) or ctx.is_error_about_port(sport)(f),
               "an answer to a datagram with a bad checksum")


@check("udp.zero_checksum_accepted", "accepts a datagram sent without a checksum (0)",
       level=MUST, rfc="RFC 768 (all zero: no checksum), RFC 1122 §4.1.3.4")
def zero_checksum_accepted(ctx):
    data = b"no checksum here"
    pkt, sport = _raw_udp(ctx, ECHO, data, checksum=0)
    ctx.send(pkt)
    f = ctx.expect(ctx.is_udp_from(ECHO, sport), "UDP echo")
    _check_echo(ctx, f, sport, data, zero_ok=True)


@check("udp.reply_checksum_on", "answers a datagram that had no checksum with a checksummed "
       "one", level=MUST, rfc="RFC 1122 §4.1.3.4 (checksums MUST default to on)")
def reply_checksum_on(ctx):
    data = b"checksum me"
    pkt, sport = _raw_udp(ctx, ECHO, data, checksum=0)
    ctx.send(pkt)
    f = ctx.expect(ctx.is_udp_from(ECHO, sport), "UDP echo")
    _check_echo(ctx, f, sport, data)


@check("udp.checksum_zero_sent_as_ffff", "a checksum that computes to zero is sent as "
       "0xffff, never as 0 (which means none)", level=MUST, rfc="RFC 768 (Checksum)")
def checksum_zero_sent_as_ffff(ctx):
    sport = ctx.new_port()
    body = bytearray(ctx.pattern(30, 9) + b"\0\0")
    # make the one's-complement sum of pseudo-header + segment 0xffff: checksum 0
    seg = struct.pack("!HHHH", sport, ECHO, 8 + len(body), 0) + bytes(body)
    ip = bytes(ctx.ip(proto=17) / seg)
    s = wire.inet_sum(seg, wire.inet_sum(ip[12:20] + struct.pack("!BBH", 0, 17, len(seg))))
    struct.pack_into("!H", body, len(body) - 2, (0xFFFF - s) & 0xFFFF)
    pkt, _ = _raw_udp(ctx, ECHO, bytes(body), sport=sport)
    ctx.require(bytes(pkt)[40:42] == b"\xff\xff", "internal: crafted checksum is not 0xffff")
    ctx.send(pkt)
    f = ctx.expect(ctx.is_udp_from(ECHO, sport), "UDP echo")
    ck = wire.udp_checksum_field(f.raw)
    ctx.require(ck == 0xFFFF, "#%d carries checksum %#06x; a computed zero is sent as 0xffff"
                % (f.index, ck))
    _check_echo(ctx, f, sport, bytes(body))


@check("udp.port_unreachable", "a datagram to a closed port gets an ICMP port unreachable "
       "quoting its IP header and at least 8 bytes", level=MUST, rfc="RFC 1122 §4.1.3.1, §3.2.2.1, "
       "§3.2.2; RFC 792", accepts="type 3 code 3 from the target; the quote byte-exact")
def port_unreachable(ctx):
    pkt, sport = ctx.udp(ctx.closed_port(), ctx.pattern(40))
    sent = ctx.send(pkt)
    f = ctx.expect(ctx.is_error_about_port(sport), "ICMP port unreachable")
    check_icmp_error_quote(ctx, f, sent.raw, 3, 3)


@check("udp.no_unreachable_for_broadcast", "sends no port unreachable about a datagram to a "
       "broadcast address", level=MUST, rfc="RFC 1122 §3.2.2, §4.1.3.1")
def no_unreachable_for_broadcast(ctx):
    port = ctx.closed_port()
    sports = []
    for dst in (ctx.broadcast, "255.255.255.255"):
        pkt, sport = ctx.udp(port, b"anyone?", ip=ctx.ip(dst=dst),
                             eth=ctx.eth(dst=BROADCAST_MAC))
        ctx.send(pkt)
        sports.append(sport)
    ctx.silent(lambda f: ctx.is_icmp_error()(f), "an ICMP error about a broadcast datagram")


@check("udp.no_unreachable_for_link_broadcast", "sends no port unreachable about a datagram "
       "that came in a link-layer broadcast", level=MUST, rfc="RFC 1122 §3.2.2")
def no_unreachable_for_link_broadcast(ctx):
    pkt, sport = ctx.udp(ctx.closed_port(), b"anyone?", eth=ctx.eth(dst=BROADCAST_MAC))
    ctx.send(pkt)
    ctx.silent(ctx.is_icmp_error(), "an ICMP error about a link-layer broadcast")


@check("udp.length_larger_than_datagram_dropped", "discards a datagram whose UDP length "
       "exceeds the IP payload", level=MUST, rfc="RFC 768 (Length), RFC 1122 §4.1.3.4")
def length_larger_than_datagram_dropped(ctx):
    data = ctx.pattern(30)
    pkt, sport = _raw_udp(ctx, ECHO, data, ulen=8 + len(data) + 10, checksum=0)
    ctx.send(pkt)
    ctx.silent(lambda f: ctx.is_udp_from(ECHO, sport)(f) or ctx.is_error_about_port(sport)(f),
               "an answer to a datagram whose UDP length runs past its end")


@check("udp.length_below_header_dropped", "discards a datagram whose UDP length is below "
       "the 8-byte header", level=MUST, rfc="RFC 768 (Length: minimum 8)")
def length_below_header_dropped(ctx):
    pkt, sport = _raw_udp(ctx, ECHO, b"abcdefgh", ulen=4, checksum=0)
    ctx.send(pkt)
    ctx.silent(lambda f: ctx.is_udp_from(ECHO, sport)(f) or ctx.is_error_about_port(sport)(f),
               "an answer to a datagram whose UDP length is 4")


@check("udp.length_smaller_than_datagram", "bytes past the UDP length are not data",
       level=MUST,
       rfc="RFC 768 (Length)", accepts="an echo of exactly the first length-8 bytes, or "
       "silence (discarded)")
def length_smaller_than_datagram(ctx):
    data = ctx.pattern(30, 5)
    pkt, sport = _raw_udp(ctx, ECHO, data, ulen=8 + 10)
    ctx.send(pkt)
    start = ctx.mark()
    ctx.barrier()
    for f in ctx.peer.rx_log[start:]:
        if ctx.is_udp_from(ECHO, sport)(f):
            _check_echo(ctx, f, sport, data[:10])


@check("udp.broadcast_reply_from_unicast", "an echo to the subnet broadcast is ignored or "
       "answered from the target's own unicast address", level=MUST,
       rfc="RFC 1122 §3.2.1.3, §4.1.3.5",
       accepts="silence, or a reply whose source is the target's address")
def broadcast_reply_from_unicast(ctx):
    data = b"who echoes?"
    pkt, sport = ctx.udp(ECHO, data, ip=ctx.ip(dst=ctx.broadcast),
                         eth=ctx.eth(dst=BROADCAST_MAC))
    ctx.send(pkt)
    start = ctx.mark()
    ctx.barrier()
    for f in ctx.peer.rx_log[start:]:
        if ctx.is_udp_from(ECHO, sport)(f):
            _check_echo(ctx, f, sport, data)
