"""ICMP (RFC 792; host rules of RFC 1122 §3.2.2)."""

from scapy.layers.inet import ICMP, IP, UDP

from .. import wire
from ..common import check_echo_reply
from ..context import BROADCAST_MAC
from ..fragments import fragment_frames, make_fragment
from ..registry import MUST, check


def _echo(ctx, size, seq=1, data=None):
    pkt, ident, seq, data = ctx.echo_request(size, seq=seq, data=data)
    ctx.send(pkt)
    f = ctx.expect(ctx.is_echo_reply(ident, seq), "echo reply (%d data bytes)" % len(data))
    check_echo_reply(ctx, f, ident, seq, data)
    return f


@check("icmp.echo_reply_identity", "echo replies carry the request's identifier, sequence "
       "number and data unchanged (0, 1, 56 and 200 bytes)",
       level=MUST, rfc="RFC 792 (Echo), RFC 1122 §3.2.2.6")
def echo_reply_identity(ctx):
    for seq, size in enumerate((0, 1, 56, 200), 1):
        _echo(ctx, size, seq)


@check("icmp.echo_reply_1472", "answers the largest unfragmented ping (1472 data bytes) "
       "in full", level=MUST, rfc="RFC 1122 §3.2.2.6 (data entirely included)")
def echo_reply_1472(ctx):
    _echo(ctx, 1472)


@check("icmp.echo_reply_checksum", "the echo reply's checksum is right for odd lengths and "
       "for data of all-ones and all-zero bytes", level=MUST, rfc="RFC 792 (Checksum), RFC 1071")
def echo_reply_checksum(ctx):
    seq = 0
    for data in (b"\x01", b"\xff" * 3, b"\xff" * 57, bytes(58), bytes(range(256)) * 5 + b"x",
                 b"\xf7\xff" + b"\xff" * 30):
        seq += 1
        _echo(ctx, len(data), seq, data)


@check("icmp.echo_burst", "answers each of 8 pings sent back to back, in order",
       level=MUST, rfc="RFC 1122 §3.2.2.6 (every host MUST implement an echo server)")
def echo_burst(ctx):
    ident = ctx.new_id()
    sent = []
    for seq in range(1, 9):
        pkt, _, _, data = ctx.echo_request(48, ident=ident, seq=seq)
        ctx.send(pkt)
        sent.append(data)
    for seq in range(1, 9):
        f = ctx.expect(ctx.is_echo_reply(ident, seq), "echo reply seq=%d" % seq)
        check_echo_reply(ctx, f, ident, seq, sent[seq - 1])


@check("icmp.echo_large_fragmented", "answers a 3000-byte ping that arrived in fragments "
       "with all of its data", level=MUST, rfc="RFC 1122 §3.2.2.6, §3.2.1.4",
       accepts="a fragmented reply carrying all the data, or one truncated to the MTU "
       "(allowed when the stack does not fragment)")
def echo_large_fragmented(ctx):
    pkt, ident, seq, data = ctx.echo_request(3000, ip=ctx.ip(id=ctx.new_id()))
    for fr in fragment_frames(pkt, [1480, 2960]):
        ctx.send(fr)
    f, pieces = ctx.expect_datagram(ctx.is_echo_reply(ident, seq), "echo reply to the "
                                    "3000-byte ping", timeout=2 * ctx.reply)
    for p in pieces:
        ctx.require(wire.ip_header_ok(p.raw), "fragment #%d has a bad header checksum"
                    % p.index)
        ctx.require(len(p.raw) <= 1514, "fragment #%d is %d bytes, over the MTU"
                    % (p.index, len(p.raw)))
    if pieces:
        check_echo_reply(ctx, f, ident, seq, data)
    else:
        got = bytes(wire.ip_payload(f.raw)[8:])
        ctx.require(len(f.raw) <= 1514 and got == data[:len(got)], "#%d: an unfragmented "
                    "reply must be the data truncated to the MTU" % f.index)


@check("icmp.bad_checksum_dropped", "does not answer an echo request with a wrong ICMP "
       "checksum", level=MUST, rfc="RFC 792 (Checksum), RFC 1122 §3.2.2")
def bad_checksum_dropped(ctx):
    pkt, ident, seq, data = ctx.echo_request(32)
    pkt[ICMP].chksum = 0x1234 if pkt[ICMP].chksum != 0x1234 else 0x4321
    ctx.send(pkt)
    ctx.silent(ctx.is_echo_reply(ident), "an echo reply to a request with a bad checksum")


@check("icmp.echo_reply_not_answered", "does not answer an echo reply",
       level=MUST, rfc="RFC 792 (Echo Reply), RFC 1122 §3.2.2")
def echo_reply_not_answered(ctx):
    ident = ctx.new_id()
    ctx.send(ctx.eth() / ctx.ip() / ICMP(type=0, id=ident, seq=1) / ctx.pattern(16))
    ctx.silent(lambda f: ctx.is_icmp()(f) and f.raw[ctx.icmp_offset(f) + 4:
                                                    ctx.icmp_offset(f) + 6]
               == bytes((ident >> 8, ident & 255)) or ctx.is_icmp_error()(f),
               "an ICMP message about an echo reply")


@check("icmp.unknown_type_discarded", "silently discards ICMP messages of unknown type",
       level=MUST, rfc="RFC 1122 §3.2.2 (unknown type MUST be silently discarded)")
def unknown_type_discarded(ctx):
    for t in (99, 250):
        ctx.send(ctx.eth() / ctx.ip() / ICMP(type=t, code=0) / ctx.pattern(16))
    ctx.silent(ctx.is_icmp(), "an ICMP message about an unknown ICMP type")


def _error_about_us(ctx, icmp_type, code):
    """An ICMP error as a router would send it about a UDP datagram from the target."""
    inner = (IP(src=ctx.target_ip, dst="192.0.2.1", id=7) / UDP(sport=7, dport=40000)
             / b"12345678")
    return ctx.eth() / ctx.ip() / ICMP(type=icmp_type, code=code) / bytes(inner)[:28]


@check("icmp.no_error_about_icmp_error", "sends no ICMP message in response to ICMP errors "
       "(unreachable, time exceeded, parameter problem, source quench)",
       level=MUST, rfc="RFC 1122 §3.2.2 (no error about an ICMP error)")
def no_error_about_icmp_error(ctx):
    for t, c in ((3, 1), (3, 3), (11, 0), (12, 0), (4, 0)):
        ctx.send(_error_about_us(ctx, t, c))
    # also errors that cannot be delivered anywhere: a bad quote, a non-UDP quote
    ctx.send(ctx.eth() / ctx.ip() / ICMP(type=3, code=3) / b"\x45\x00short")
    ctx.silent(ctx.is_icmp(), "an ICMP message about an ICMP error")


@check("icmp.no_error_to_broadcast_destination", "sends no ICMP error about a datagram "
       "addressed to a broadcast address", level=MUST, rfc="RFC 1122 §3.2.2")
def no_error_to_broadcast_destination(ctx):
    for dst in (ctx.broadcast, "255.255.255.255"):
        ctx.send(ctx.eth(dst=BROADCAST_MAC) / ctx.ip(dst=dst, proto=253) / ctx.pattern(16))
    ctx.silent(ctx.is_icmp_error(), "an ICMP error about a broadcast datagram")


@check("icmp.no_error_for_link_broadcast", "sends no ICMP error about a datagram that came "
       "in a link-layer broadcast", level=MUST, rfc="RFC 1122 §3.2.2")
def no_error_for_link_broadcast(ctx):
    ctx.send(ctx.eth(dst=BROADCAST_MAC) / ctx.ip(proto=253) / ctx.pattern(16))
    ctx.silent(ctx.is_icmp_error(), "an ICMP error about a link-layer broadcast")


@check("icmp.no_error_about_non_first_fragment", "sends no ICMP error about a lone "
       "non-first fragment (unknown protocol or closed UDP port)", level=MUST,
       rfc="RFC 1122 §3.2.2")
def no_error_about_non_first_fragment(ctx):
    pkt = ctx.eth() / ctx.ip(proto=253, id=ctx.new_id()) / ctx.pattern(64)
    ctx.send(make_fragment(pkt, 16, 64, False))
    upkt, sport = ctx.udp(ctx.closed_port(), ctx.pattern(64), ip=ctx.ip(id=ctx.new_id()))
    ctx.send(make_fragment(upkt, 24, 72, False))
    ctx.send(make_fragment(upkt, 8, 24, True))
    ctx.silent(ctx.is_icmp_error(), "an ICMP error about a non-first fragment")


@check("icmp.no_error_to_unspecified_source", "sends no ICMP error to a datagram whose "
       "source is not a single host (0.0.0.0)", level=MUST, rfc="RFC 1122 §3.2.2, §3.2.1.3")
def no_error_to_unspecified_source(ctx):
    pkt, sport = ctx.udp(ctx.closed_port(), b"from nowhere", ip=ctx.ip(src="0.0.0.0"))
    ctx.send(pkt)
    ctx.send(ctx.eth() / ctx.ip(src="0.0.0.0", proto=253) / ctx.pattern(8))
    ctx.silent(ctx.is_icmp_error(), "an ICMP error to 0.0.0.0")


@check("icmp.echo_to_broadcast", "a ping to the subnet broadcast is ignored or answered "
       "from the target's own address", level=MUST, rfc="RFC 1122 §3.2.2.6, §3.2.1.3",
       accepts="silence (MAY discard), or a reply whose source is the target's unicast "
       "address")
def echo_to_broadcast(ctx):
    pkt, ident, seq, data = ctx.echo_request(16, ip=ctx.ip(dst=ctx.broadcast),
                                             eth=ctx.eth(dst=BROADCAST_MAC))
    ctx.send(pkt)
    start = ctx.mark()
    ctx.barrier()
    for f in ctx.peer.rx_log[start:]:
        if ctx.is_echo_reply(ident)(f):
            check_echo_reply(ctx, f, ident, seq, data)
