"""Verdicts several groups share."""

import socket

from . import wire


def check_ip_header(ctx, f, proto, src=None, dst=None):
    """Fail unless f carries a valid IPv4 header from `src` (the target) to `dst` (the peer)
    with protocol `proto`: version 4, IHL >= 5, header checksum right, total length within
    the frame, TTL > 0 (RFC 791 §3.1, RFC 1122 §3.2.1.7)."""
    r = f.raw
    src = src or ctx.target_ip
    dst = dst or ctx.peer_ip
    ctx.require(len(r) >= 34 and r[12:14] == b"\x08\x00", "#%d is not IPv4" % f.index)
    ctx.require(r[14] >> 4 == 4, "#%d has IP version %d" % (f.index, r[14] >> 4))
    ihl = (r[14] & 15) * 4
    ctx.require(ihl >= 20, "#%d has IHL %d" % (f.index, ihl // 4))
    total = r[16] << 8 | r[17]
    ctx.require(ihl <= total <= len(r) - 14, "#%d has total length %d for %d bytes of "
                "frame" % (f.index, total, len(r) - 14))
    ctx.require(wire.ip_header_ok(r), "#%d has a bad IP header checksum" % f.index)
    ctx.require(r[22] > 0, "#%d was sent with TTL 0" % f.index)
    ctx.require(r[23] == proto, "#%d has protocol %d, expected %d" % (f.index, r[23], proto))
    s, d = socket.inet_ntoa(r[26:30]), socket.inet_ntoa(r[30:34])
    ctx.require(s == src, "#%d comes from %s, expected %s" % (f.index, s, src))
    ctx.require(d == dst, "#%d goes to %s, expected %s" % (f.index, d, dst))


def check_echo_reply(ctx, f, ident, seq, data, dst=None):
    """Fail unless f is a correct echo reply to (ident, seq, data): RFC 792 Echo Reply and
    RFC 1122 §3.2.2.6 (source = the request's destination, data entirely included)."""
    check_ip_header(ctx, f, 1, dst=dst)
    r = f.raw
    o = 14 + (r[14] & 15) * 4
    msg = wire.ip_payload(r)
    ctx.require(len(msg) >= 8, "#%d: ICMP message of %d bytes" % (f.index, len(msg)))
    ctx.require(r[o] == 0 and r[o + 1] == 0, "#%d has ICMP type %d code %d, expected echo "
                "reply 0/0" % (f.index, r[o], r[o + 1]))
    ctx.require(wire.inet_sum(msg) == 0xFFFF, "#%d has a bad ICMP checksum" % f.index)
    got_id, got_seq = r[o + 4] << 8 | r[o + 5], r[o + 6] << 8 | r[o + 7]
    ctx.require((got_id, got_seq) == (ident, seq), "#%d echoes id=%#x seq=%d, sent id=%#x "
                "seq=%d" % (f.index, got_id, got_seq, ident, seq))
    got = bytes(msg[8:])
    if got != data:
        first = next((i for i in range(min(len(got), len(data))) if got[i] != data[i]),
                     min(len(got), len(data)))
        ctx.fail("#%d echoes %d data bytes, sent %d; first difference at byte %d"
                 % (f.index, len(got), len(data), first))


def check_icmp_error_quote(ctx, f, sent_raw, icmp_type, code):
    """Fail unless f is an ICMP error (type, code) from the target quoting the IPv4 header
    of `sent_raw` (a frame we sent) exactly and at least the 8 bytes after it
    (RFC 792; RFC 1122 §3.2.2)."""
    check_ip_header(ctx, f, 1)
    r = f.raw
    o = 14 + (r[14] & 15) * 4
    ctx.require((r[o], r[o + 1]) == (icmp_type, code), "#%d is ICMP type %d code %d, expected "
                "%d/%d" % (f.index, r[o], r[o + 1], icmp_type, code))
    msg = wire.ip_payload(r)
    ctx.require(wire.inet_sum(msg) == 0xFFFF, "#%d has a bad ICMP checksum" % f.index)
    sent_ihl = (sent_raw[14] & 15) * 4
    want = bytes(sent_raw[14:14 + sent_ihl + 8])
    quote = bytes(msg[8:])
    ctx.require(len(quote) >= len(want), "#%d quotes %d bytes; the IP header (%d) and 8 "
                "bytes after it are required" % (f.index, len(quote), sent_ihl))
    if quote[:len(want)] != want:
        diff = next(i for i in range(len(want)) if quote[i] != want[i])
        ctx.fail("#%d quotes the original datagram wrongly: byte %d is %#04x, sent %#04x"
                 % (f.index, diff, quote[diff], want[diff]))
