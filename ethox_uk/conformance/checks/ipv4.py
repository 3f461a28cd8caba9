"""IPv4 (RFC 791; host rules of RFC 1122 §3.2.1; RFC 6864 for the ID field)."""

from scapy.layers.inet import IPOption, IPOption_NOP, IPOption_RR

from .. import wire
from ..common import check_echo_reply, check_icmp_error_quote, check_ip_header
from ..fragments import fragment_frames, make_fragment
from ..registry import MUST, SHOULD, check


def _bad_ping(ctx, what, **ipfields):
    """Send an echo request with the given (bad) IPv4 fields; no echo reply may follow."""
    pkt, ident, seq, _ = ctx.echo_request(32, ip=ctx.ip(**ipfields))
    ctx.send(pkt)
    ctx.silent(ctx.is_echo_reply(ident), "an echo reply to a datagram with %s" % what)


def _ping_ok(ctx, pkt, ident, seq, data, what="echo reply"):
    ctx.send(pkt)
    f = ctx.expect(ctx.is_echo_reply(ident, seq), what)
    check_echo_reply(ctx, f, ident, seq, data)
    return f


@check("ipv4.bad_header_checksum_dropped", "silently discards a datagram whose header "
       "checksum is wrong", level=MUST, rfc="RFC 1122 §3.2.1.2")
def bad_header_checksum_dropped(ctx):
    pkt, ident, seq, _ = ctx.echo_request(32)
    raw = bytearray(bytes(pkt))
    raw[24] ^= 0x5A  # checksum byte
    ctx.send(bytes(raw))
    ctx.silent(lambda f: ctx.is_echo_reply(ident)(f) or ctx.is_icmp_error()(f),
               "an answer to a datagram with a bad header checksum")


@check("ipv4.bad_version_dropped", "silently discards a datagram whose version is not 4",
       level=MUST, rfc="RFC 1122 §3.2.1.1")
def bad_version_dropped(ctx):
    _bad_ping(ctx, "version 6", version=6)
    _bad_ping(ctx, "version 5", version=5)


@check("ipv4.ihl_below_5_dropped", "discards a datagram whose header length is below 5 "
       "words", level=MUST, rfc="RFC 791 §3.1 (IHL: minimum value 5)")
def ihl_below_5_dropped(ctx):
    _bad_ping(ctx, "IHL 4", ihl=4)


@check("ipv4.total_length_past_frame_dropped", "discards a datagram whose total length "
       "claims more bytes than the frame holds", level=MUST, rfc="RFC 791 §3.1 (Total Length)")
def total_length_past_frame_dropped(ctx):
    _bad_ping(ctx, "total length 40 past the frame", len=20 + 8 + 32 + 40)


@check("ipv4.total_length_below_header_dropped", "discards a datagram whose total length is "
       "smaller than its header", level=MUST, rfc="RFC 791 §3.1 (Total Length)")
def total_length_below_header_dropped(ctx):
    _bad_ping(ctx, "total length 12", len=12)


@check("ipv4.link_padding_ignored", "bytes after the total length (link-layer padding) are "
       "not part of the datagram", level=MUST, rfc="RFC 791 §3.1 (Total Length), RFC 894")
def link_padding_ignored(ctx):
    pkt, ident, seq, data = ctx.echo_request(10)
    _ping_ok(ctx, bytes(pkt) + b"\xa5" * 30, ident, seq, data)


@check("ipv4.options_nop_eol_accepted", "answers a ping whose header carries NOP and "
       "end-of-list options", level=MUST, rfc="RFC 791 §3.1 (Options), RFC 1122 §3.2.1.8")
def options_nop_eol_accepted(ctx):
    ip = ctx.ip(options=[IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption(b"\x00")])
    pkt, ident, seq, data = ctx.echo_request(40, ip=ip)
    _ping_ok(ctx, pkt, ident, seq, data)


@check("ipv4.options_record_route_echo", "answers a ping carrying a Record Route option",
       level=MUST, rfc="RFC 1122 §3.2.2.6, §3.2.1.8",
       accepts="a reply with the option updated (SHOULD) or without options")
def options_record_route_echo(ctx):
    ip = ctx.ip(options=[IPOption_RR(routers=["0.0.0.0"] * 4)])
    pkt, ident, seq, data = ctx.echo_request(40, ip=ip)
    f = _ping_ok(ctx, pkt, ident, seq, data)
    ihl = (f.raw[14] & 15) * 4
    if ihl > 20:  # options came back: then they hold the Record Route
        opts, i, kinds = f.raw[34:14 + ihl], 0, []
        while i < len(opts) and opts[i] != 0:
            kinds.append(opts[i])
            i += 1 if opts[i] == 1 else max(opts[i + 1] if i + 1 < len(opts) else 1, 2)
        ctx.require(7 in kinds, "#%d carries options %s but no Record Route"
                    % (f.index, opts.hex()))


@check("ipv4.options_unknown_ignored", "ignores an IP option it does not know and answers",
       level=MUST, rfc="RFC 1122 §3.2.1.8 (silently ignore options not understood)")
def options_unknown_ignored(ctx):
    ip = ctx.ip(options=[IPOption(b"\x1b\x04\xab\xcd")])  # type 27: unassigned
    pkt, ident, seq, data = ctx.echo_request(24, ip=ip)
    _ping_ok(ctx, pkt, ident, seq, data)


@check("ipv4.options_malformed_not_answered", "does not answer a datagram whose option "
       "length runs past the header", level=MUST, rfc="RFC 1122 §3.2.2.5, RFC 791 §3.1 (Options)",
       accepts="silence, or an ICMP parameter problem about it; never an echo reply")
def options_malformed_not_answered(ctx):
    ip = ctx.ip(options=[IPOption(b"\x01\x1b\x10\xab")])  # NOP, type 27 with length 16
    pkt, ident, seq, _ = ctx.echo_request(24, ip=ip)
    sent = ctx.send(pkt)
    start = ctx.mark()
    ctx.silent(ctx.is_echo_reply(ident), "an echo reply to a datagram with a malformed option",
               start=start)
    for f in ctx.peer.rx_log[start:]:
        if ctx.is_icmp_error()(f):  # only about our datagram can come in this window
            check_icmp_error_quote(ctx, f, sent.raw, 12, f.raw[ctx.icmp_offset(f) + 1])


@check("ipv4.ttl_one_accepted", "accepts a datagram that arrives with TTL 1 and answers it "
       "with a fresh TTL", level=MUST, rfc="RFC 1122 §3.2.1.7",
       accepts="reply TTL from 32 to 255 (not copied from the request)")
def ttl_one_accepted(ctx):
    pkt, ident, seq, data = ctx.echo_request(16, ip=ctx.ip(ttl=1))
    f = _ping_ok(ctx, pkt, ident, seq, data)
    ctx.should(f.raw[22] >= 32, "#%d has TTL %d: expected a default TTL (64 recommended)"
               % (f.index, f.raw[22]))


@check("ipv4.reply_ttl_sane", "replies carry a sane, non-zero TTL", level=MUST,
       rfc="RFC 1122 §3.2.1.7, "
       "RFC 1700", accepts="TTL from 32 to 255")
def reply_ttl_sane(ctx):
    pkt, ident, seq, data = ctx.echo_request(16, ip=ctx.ip(ttl=200))
    f = _ping_ok(ctx, pkt, ident, seq, data)
    ctx.should(f.raw[22] >= 32, "#%d has TTL %d (64 recommended)" % (f.index, f.raw[22]))


@check("ipv4.reply_header_valid", "the reply's IPv4 header is valid: version, IHL, checksum, "
       "total length, addresses swapped", level=MUST,
       rfc="RFC 791 §3.1, RFC 1122 §3.2.2.6 (source = the "
       "request's destination)")
def reply_header_valid(ctx):
    pkt, ident, seq, data = ctx.echo_request(57)
    f = _ping_ok(ctx, pkt, ident, seq, data)
    check_ip_header(ctx, f, 1)
    ctx.require(not (f.raw[20] & 0x3F or f.raw[21]), "#%d is a fragment" % f.index)


@check("ipv4.df_request_answered", "answers a ping sent with Don't Fragment",
       level=MUST, rfc="RFC 791 §3.1 (Flags)")
def df_request_answered(ctx):
    pkt, ident, seq, data = ctx.echo_request(100, ip=ctx.ip(flags="DF"))
    _ping_ok(ctx, pkt, ident, seq, data)


@check("ipv4.id_unique_when_fragmentable", "replies that may be fragmented (DF clear) never "
       "repeat an IP ID, even when the requests all carry the same ID",
       level=MUST, rfc="RFC 6864 §4.1, RFC 791 §3.2 (Identification)",
       accepts="DF set (atomic: any ID), or DF clear with distinct IDs")
def id_unique_when_fragmentable(ctx):
    ids = []
    for seq in range(1, 5):
        pkt, ident, _, data = ctx.echo_request(20, seq=seq, ip=ctx.ip(id=0x4242))
        f = _ping_ok(ctx, pkt, ident, seq, data)
        df = f.raw[20] & 0x40
        ip_id = f.raw[18] << 8 | f.raw[19]
        if not df:
            ctx.require(ip_id not in ids, "#%d repeats IP ID %#x with DF clear"
                        % (f.index, ip_id))
            ids.append(ip_id)


@check("ipv4.fragments_in_order", "reassembles a ping sent as three fragments in order",
       level=MUST, rfc="RFC 1122 §3.2.1.4, RFC 791 §3.2")
def fragments_in_order(ctx):
    pkt, ident, seq, data = ctx.echo_request(1000, ip=ctx.ip(id=ctx.new_id()))
    for fr in fragment_frames(pkt, [336, 672]):
        ctx.send(fr)
    f = ctx.expect(ctx.is_echo_reply(ident, seq), "echo reply to the reassembled ping")
    check_echo_reply(ctx, f, ident, seq, data)


@check("ipv4.fragments_out_of_order", "reassembles a ping whose fragments arrive last "
       "first", level=MUST, rfc="RFC 1122 §3.2.1.4, RFC 791 §3.2")
def fragments_out_of_order(ctx):
    pkt, ident, seq, data = ctx.echo_request(1000, ip=ctx.ip(id=ctx.new_id()))
    frs = fragment_frames(pkt, [256, 512, 768])
    for fr in (frs[3], frs[1], frs[0], frs[2]):
        ctx.send(fr)
    f = ctx.expect(ctx.is_echo_reply(ident, seq), "echo reply to the reassembled ping")
    check_echo_reply(ctx, f, ident, seq, data)


@check("ipv4.fragment_duplicate_tolerated", "a duplicated fragment does not spoil "
       "reassembly", level=MUST, rfc="RFC 791 §3.2 (reassembly)")
def fragment_duplicate_tolerated(ctx):
    pkt, ident, seq, data = ctx.echo_request(600, ip=ctx.ip(id=ctx.new_id()))
    frs = fragment_frames(pkt, [200, 400])
    for fr in (frs[0], frs[1], frs[1], frs[2]):
        ctx.send(fr)
    f = ctx.expect(ctx.is_echo_reply(ident, seq), "echo reply to the reassembled ping")
    check_echo_reply(ctx, f, ident, seq, data)


@check("ipv4.fragments_udp_echo", "reassembles a fragmented UDP datagram for the echo "
       "service", level=MUST, rfc="RFC 1122 §3.2.1.4, RFC 862")
def fragments_udp_echo(ctx):
    data = ctx.pattern(900, 3)
    pkt, sport = ctx.udp(7, data, ip=ctx.ip(id=ctx.new_id()))
    frs = fragment_frames(pkt, [304, 608])
    for fr in (frs[1], frs[2], frs[0]):
        ctx.send(fr)
    f, _ = ctx.expect_datagram(ctx.is_udp_from(7, sport), "UDP echo of the reassembled "
                               "datagram")
    got = bytes(wire.ip_payload(f.raw)[8:])
    ctx.require(got == data, "#%d echoes %d bytes that differ from the %d sent"
                % (f.index, len(got), len(data)))


@check("ipv4.fragments_overlapping_dropped", "drops a datagram whose fragments overlap with "
       "different data", level=SHOULD,
       rfc="RFC 791 §3.2, RFC 1858 §4 (overlapping fragment attack)",
       accepts="no answer at all (neither reading of the overlap is trusted)")
def fragments_overlapping_dropped(ctx):
    pkt, ident, seq, data = ctx.echo_request(120, ip=ctx.ip(id=ctx.new_id()))
    total = 8 + 120
    ctx.send(make_fragment(pkt, 0, 64, True))
    # payload bytes 48..(end) again, with other data where they overlap
    evil = bytes(b ^ 0xFF for b in bytes(pkt)[34 + 48:34 + 64])
    ctx.send(make_fragment(pkt, 48, total, False,
                           data=evil + bytes(pkt)[34 + 64:34 + total]))
    ctx.silent(ctx.is_echo_reply(ident), "an echo reply built from overlapping fragments")


@check("ipv4.fragments_incomplete_not_answered", "never answers a datagram whose middle "
       "fragment is missing", level=MUST, rfc="RFC 791 §3.2, RFC 1122 §3.2.1.4")
def fragments_incomplete_not_answered(ctx):
    pkt, ident, seq, data = ctx.echo_request(600, ip=ctx.ip(id=ctx.new_id()))
    frs = fragment_frames(pkt, [200, 400])
    ctx.send(frs[0])
    ctx.send(frs[2])
    ctx.silent(ctx.is_echo_reply(ident), "an echo reply to an incomplete datagram")


@check("ipv4.source_broadcast_dropped", "discards datagrams whose source is a broadcast "
       "address (limited or the subnet's)", level=MUST, rfc="RFC 1122 §3.2.1.3")
def source_broadcast_dropped(ctx):
    _bad_ping(ctx, "source 255.255.255.255", src="255.255.255.255")
    _bad_ping(ctx, "source %s" % ctx.broadcast, src=ctx.broadcast)


@check("ipv4.source_multicast_dropped", "discards datagrams whose source is a multicast "
       "address", level=MUST, rfc="RFC 1122 §3.2.1.3")
def source_multicast_dropped(ctx):
    _bad_ping(ctx, "source 224.0.0.1", src="224.0.0.1")


@check("ipv4.source_loopback_dropped", "discards datagrams from 127.0.0.1 arriving on the "
       "network", level=MUST, rfc="RFC 1122 §3.2.1.3 (g)")
def source_loopback_dropped(ctx):
    _bad_ping(ctx, "source 127.0.0.1", src="127.0.0.1")


@check("ipv4.not_for_us_not_answered", "does not answer or forward a datagram addressed to "
       "another host", level=MUST, rfc="RFC 1122 §3.1, §3.3.1 (a host is not a router)")
def not_for_us_not_answered(ctx):
    other = ctx.new_ip()
    pkt, ident, seq, _ = ctx.echo_request(32, ip=ctx.ip(dst=other))
    ctx.send(pkt)
    ctx.silent(lambda f: ctx.is_echo_reply(ident)(f) or (wire.ipv4(f.raw) is not None and
                                                          f.raw[30:34] == bytes(
                                                              int(x) for x in
                                                              other.split("."))),
               "an answer for, or a forwarded copy of, a datagram to %s" % other)


@check("ipv4.unknown_protocol", "a datagram for an unknown protocol gets a protocol "
       "unreachable quoting it, or nothing", level=MUST, rfc="RFC 1122 §3.2.2.1, RFC 792",
       accepts="ICMP destination unreachable code 2 quoting the IP header + 8 bytes "
       "(SHOULD), or silence")
def unknown_protocol(ctx):
    pkt = ctx.eth() / ctx.ip(proto=253, id=ctx.new_id()) / ctx.pattern(24)
    sent = ctx.send(pkt)
    start = ctx.mark()
    ctx.barrier()
    for f in ctx.peer.rx_log[start:]:
        if ctx.is_icmp_error()(f):  # only about our datagram can come in this window
            check_icmp_error_quote(ctx, f, sent.raw, 3, 2)
