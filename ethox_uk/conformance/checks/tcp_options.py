"""TCP header and options: MSS, window scale, unknown and malformed options, reserved bits,
timestamps and SACK when negotiated (RFC 9293 §3.1, §3.7.1; RFC 1122 §4.2.2.5-6;
RFC 7323; RFC 2018)."""

import struct

from ..registry import MUST, SHOULD, check
from ..tcp_peer import (CHARGEN, DEFAULT_MSS, ECHO, EOL, NOP, TcpConn, check_seg, data_segs,
                   extent, opt_mss, opt_sack_ok, opt_timestamps, opt_wscale, quiet_collect,
                   seq_add, still_alive)

MTU_MSS = 1460  # a 1500-byte MTU less 40 bytes of headers


def _chargen_sizes(ctx, c, options, window=65535, bound=0.6):
    """Open chargen with `options` and return the data segments of its first flight."""
    c.window = window
    c.open(options)
    segs = data_segs(quiet_collect(c, bound))
    ctx.require(segs, "chargen (port %d) sent no data within %.1f s" % (CHARGEN, bound))
    for s in segs:
        check_seg(ctx, s)
    return segs


@check("tcp_options.mss_in_synack", "the SYN-ACK carries an MSS option no larger than the "
       "link allows", level=SHOULD, rfc="RFC 9293 §3.7.1, RFC 1122 §4.2.2.6",
       accepts="an MSS option with 1 <= value <= 1460 (1500-byte MTU)")
def mss_in_synack(ctx):
    with TcpConn(ctx, ECHO) as c:
        s = c.syn(options=b"")
        ctx.require(s is not None and s.syn, "no SYN-ACK within %.1f s" % ctx.reply)
        check_seg(ctx, s)
        ctx.require(s.mss is not None, "%s: the SYN-ACK has no MSS option" % s.words())
        ctx.require(0 < s.mss <= MTU_MSS, "%s: MSS %d exceeds what a 1500-byte MTU allows"
                    % (s.words(), s.mss))


@check("tcp_options.mss_default_536", "with no MSS option in our SYN the target sends "
       "segments of at most 536 data bytes", level=MUST, rfc="RFC 9293 §3.7.1, RFC 1122 §4.2.2.6")
def mss_default_536(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        segs = _chargen_sizes(ctx, c, b"")
        big = max(len(s.data) for s in segs)
        ctx.require(big <= DEFAULT_MSS, "segment of %d data bytes without an MSS option "
                    "(default 536): %s" % (big, max(segs, key=lambda s: len(s.data)).words()))


@check("tcp_options.mss_option_honoured", "the target's segments respect the MSS we "
       "announce (600)", level=MUST, rfc="RFC 9293 §3.7.1 (Eff.snd.MSS), RFC 1122 §4.2.2.6")
def mss_option_honoured(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        segs = _chargen_sizes(ctx, c, opt_mss(600))
        big = max(len(s.data) for s in segs)
        ctx.require(big <= 600, "segment of %d data bytes though our MSS is 600" % big)


@check("tcp_options.segments_fit_mtu", "with a large MSS announced (9000) the target's "
       "segments still fit its 1500-byte MTU", level=MUST, rfc="RFC 9293 §3.7.1, RFC 1122 §4.2.2.6")
def segments_fit_mtu(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        segs = _chargen_sizes(ctx, c, opt_mss(9000))
        for s in segs:
            total = len(s.frame.raw) - 14
            ctx.require(total <= 1500 and len(s.data) <= MTU_MSS, "%s: an IP datagram of "
                        "%d bytes" % (s.words(), total))


@check("tcp_options.nop_eol_parsed", "an option list with NOPs before and EOL after the MSS "
       "is parsed: the MSS (300) is honoured", level=MUST,
       rfc="RFC 9293 §3.1 (Options: kinds 0 and 1)")
def nop_eol_parsed(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        segs = _chargen_sizes(ctx, c, NOP * 3 + opt_mss(300) + EOL + b"\x02\x04\x00\x40")
        big = max(len(s.data) for s in segs)
        ctx.require(big <= 300, "segment of %d data bytes: the MSS 300 after three NOPs "
                    "was not used" % big)
        ctx.require(big > 64, "segments of only %d bytes: the bytes after EOL (MSS 64) "
                    "were taken as an option" % big)


@check("tcp_options.unknown_option_in_syn_ignored", "an unknown option in a SYN is skipped "
       "by its length: the SYN-ACK comes, without echoing it", level=MUST, rfc="RFC 9293 §3.1 "
       "(MUST ignore an option it does not implement), RFC 1122 §4.2.2.5")
def unknown_option_in_syn_ignored(ctx):
    with TcpConn(ctx, ECHO) as c:
        unknown = b"\xfd\x06\xab\xcd\xef\x01"  # experimental kind 253, 6 bytes
        s = c.open(options=unknown + opt_mss(1460))
        check_seg(ctx, s)
        ctx.require(s.option(253) is None, "%s echoes the unknown option" % s.words())
        still_alive(ctx, c)


@check("tcp_options.unknown_option_in_data_ignored", "an unknown option on a data segment "
       "is skipped and the data delivered", level=MUST, rfc="RFC 9293 §3.1, RFC 1122 §4.2.2.5")
def unknown_option_in_data_ignored(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        c.send(b"with an odd option", options=b"\xc8\x06\x01\x02\x03\x04" + NOP * 2)
        got = c.read(18, what="the echo of data with an unknown option")
        ctx.require(got == b"with an odd option", "echoed %r" % got)


def _malformed_syn(ctx, options, what):
    """Send a SYN with malformed options; the target must not open a connection on a
    misread, and must stay healthy: a normal connection works afterwards."""
    c = TcpConn(ctx, ECHO)
    c.send_seg("S", seq=c.iss, options=options, note=what)
    ctx.barrier("a ping after a SYN with %s" % what)
    c.snd_nxt = seq_add(c.iss, 1)
    for s in c.collect(0):
        check_seg(ctx, s)
        if s.syn:
            ctx.require(s.ack == seq_add(c.iss, 1), "%s: a SYN-ACK of the wrong ISN" %
                        s.words())
            c.rcv_nxt = seq_add(s.seq, 1)
    c.abort()
    with TcpConn(ctx, ECHO) as good:
        good.open()
        still_alive(ctx, good, "a normal connection after the malformed SYN")


@check("tcp_options.option_length_zero_handled", "a SYN with an option of length 0 neither "
       "hangs nor confuses the target", level=MUST,
       rfc="RFC 9293 §3.1 (MUST be prepared to handle an "
       "illegal option length, e.g. zero)",
       accepts="the SYN dropped, a RST, or a SYN-ACK; the target keeps answering and a "
       "normal connection works afterwards")
def option_length_zero_handled(ctx):
    _malformed_syn(ctx, opt_mss(1460) + b"\xfd\x00" + NOP * 2, "option kind 253 length 0")


@check("tcp_options.option_length_one_handled", "a SYN with an option of length 1 neither "
       "hangs nor confuses the target", level=MUST, rfc="RFC 9293 §3.1",
       accepts="the SYN dropped, a RST, or a SYN-ACK; the target keeps answering and a "
       "normal connection works afterwards")
def option_length_one_handled(ctx):
    _malformed_syn(ctx, b"\x02\x01" + NOP * 2 + opt_mss(1460), "an MSS option of length 1")


@check("tcp_options.option_past_header_handled", "a SYN whose last option runs past the "
       "data offset neither hangs nor confuses the target", level=MUST, rfc="RFC 9293 §3.1",
       accepts="the SYN dropped, a RST, or a SYN-ACK; the target keeps answering and a "
       "normal connection works afterwards")
def option_past_header_handled(ctx):
    _malformed_syn(ctx, opt_mss(1460) + b"\x03\x08\x07\x00", "a window scale option of "
                   "length 8 in 4 bytes")


@check("tcp_options.reserved_bits_ignored", "reserved header bits set by the peer are "
       "ignored (SYN and data), and the target sends them as zero",
       level=MUST, rfc="RFC 9293 §3.1 (Rsrvd: zero when generated, ignored when received)")
def reserved_bits_ignored(ctx):
    with TcpConn(ctx, ECHO) as c:
        s = c.syn(reserved=0x0F)
        ctx.require(s is not None and s.syn and not s.rst, "no SYN-ACK to a SYN with the "
                    "reserved bits set")
        check_seg(ctx, s)
        c.ack(reserved=0x0F)
        c.send(b"reserved", reserved=0x0F)
        got = c.read(8, what="the echo of data with the reserved bits set")
        ctx.require(got == b"reserved", "echoed %r" % got)
        for s in c.segs:
            check_seg(ctx, s)


@check("tcp_options.wscale_absent_unless_offered", "a SYN without window scale gets a "
       "SYN-ACK without window scale", level=MUST,
       rfc="RFC 7323 §2.2 (MUST NOT send it in a SYN-ACK "
       "unless received in the SYN)")
def wscale_absent_unless_offered(ctx):
    with TcpConn(ctx, ECHO) as c:
        s = c.open(options=opt_mss(1460))
        ctx.require(s.option(3) is None, "%s carries a window scale option" % s.words())


def _ws_synack(ctx, c, shift=7, mss=1460, window=65535):
    c.window = window
    s = c.syn(options=opt_mss(mss) + NOP + opt_wscale(shift))
    ctx.require(s is not None and s.syn and not s.rst, "no SYN-ACK to a SYN offering window "
                "scaling")
    check_seg(ctx, s)
    if s.option(3) is None:
        c.ack()
        ctx.not_applicable("the target does not offer window scaling")
    return s


@check("tcp_options.wscale_shift_at_most_14", "the shift the target offers is at most 14",
       level=MUST, rfc="RFC 7323 §2.3")
def wscale_shift_at_most_14(ctx):
    with TcpConn(ctx, ECHO) as c:
        s = _ws_synack(ctx, c)
        ctx.require(s.wscale is not None, "%s: malformed window scale option" % s.words())
        ctx.require(s.wscale <= 14, "%s offers shift %d" % (s.words(), s.wscale))


@check("tcp_options.wscale_not_in_non_syn", "with window scaling negotiated, no segment "
       "but the SYN-ACK carries the option", level=MUST, rfc="RFC 7323 §2.2 (only in SYN segments)")
def wscale_not_in_non_syn(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        _ws_synack(ctx, c, shift=2, window=16000)
        c.ack()
        segs = quiet_collect(c, 0.5)
        ctx.require(data_segs(segs), "chargen sent no data within 0.5 s")
        for s in segs:
            ctx.require(s.option(3) is None, "%s (not a SYN) carries a window scale option"
                        % s.words())


@check("tcp_options.wscale_applied_to_window", "the window we advertise after the SYN is "
       "taken scaled by our shift (4: a field of 64 means 1024 bytes)",
       level=MUST, rfc="RFC 7323 §2.2, §2.3",
       accepts="more than 64 and at most 1024 bytes in flight before we acknowledge any")
def wscale_applied_to_window(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        _ws_synack(ctx, c, shift=4, mss=DEFAULT_MSS, window=1024)
        c.window = 64
        c.ack()
        una = c.rcv_nxt
        segs = quiet_collect(c, 0.6)
        n = extent(segs, una)
        ctx.require(n <= 1024, "%d bytes in flight: the window field 64 << 4 = 1024 was not "
                    "respected" % n)
        ctx.require(n > 64, "%d bytes in flight: the window field 64 was not scaled by our "
                    "shift 4" % n)


@check("tcp_options.wscale_ignored_in_non_syn", "a window scale option outside a SYN does "
       "not scale our window", level=MUST,
       rfc="RFC 7323 §2.2 (MUST be ignored in a non-SYN segment)",
       accepts="at most 512 bytes in flight for a 512-byte window")
def wscale_ignored_in_non_syn(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        c.window = 512
        c.open(options=opt_mss(DEFAULT_MSS), check=True)
        c.ack(options=NOP + opt_wscale(8), note="window scale in an ACK")
        una = c.rcv_nxt
        segs = quiet_collect(c, 0.6)
        n = extent(segs, una)
        ctx.require(n <= 512, "%d bytes in flight for a 512-byte window: the window scale "
                    "option in a non-SYN segment was applied" % n)


@check("tcp_options.no_unsolicited_ts_sack", "a SYN without timestamps or SACK-permitted "
       "gets a SYN-ACK without them", level=MUST,
       rfc="RFC 7323 §3.2, RFC 2018 §2 (MUST NOT be sent "
       "unless received in the SYN)")
def no_unsolicited_ts_sack(ctx):
    with TcpConn(ctx, ECHO) as c:
        s = c.open(options=opt_mss(1460))
        ctx.require(s.option(8) is None, "%s carries a timestamps option" % s.words())
        ctx.require(s.option(4) is None, "%s carries SACK-permitted" % s.words())


@check("tcp_options.timestamps_echoed", "when the target negotiates timestamps, its SYN-ACK "
       "echoes our TSval and every later segment carries TSopt",
       level=MUST, rfc="RFC 7323 §3.2, §4.3", accepts="not applicable when the SYN-ACK carries no "
       "timestamps")
def timestamps_echoed(ctx):
    with TcpConn(ctx, ECHO) as c:
        s = c.syn(options=opt_mss(1460) + NOP * 2 + opt_timestamps(0x01020304))
        ctx.require(s is not None and s.syn and not s.rst, "no SYN-ACK")
        if s.timestamps is None:
            c.ack()
            ctx.not_applicable("the target does not negotiate timestamps")
        ctx.require(s.timestamps[1] == 0x01020304, "%s echoes TSecr %#x, sent TSval "
                    "0x01020304" % (s.words(), s.timestamps[1]))
        c.ack(options=NOP * 2 + opt_timestamps(0x01020305, s.timestamps[0]))
        c.send(b"stamped", options=NOP * 2 + opt_timestamps(0x01020306, s.timestamps[0]))
        c.read(7, ack=False)
        for seg in c.segs[1:]:
            if not seg.rst:
                ctx.require(seg.timestamps is not None, "%s carries no timestamps option"
                            % seg.words())


@check("tcp_options.sack_blocks_reported", "when the target negotiates SACK, out-of-order "
       "data is reported in a SACK block of the duplicate ACK", level=SHOULD, rfc="RFC 2018 §4",
       accepts="not applicable when the SYN-ACK carries no SACK-permitted")
def sack_blocks_reported(ctx):
    with TcpConn(ctx, ECHO) as c:
        s = c.syn(options=opt_mss(1460) + NOP * 2 + opt_sack_ok())
        ctx.require(s is not None and s.syn and not s.rst, "no SYN-ACK")
        if not s.sack_ok:
            c.ack()
            ctx.not_applicable("the target does not negotiate SACK")
        c.ack()
        left = seq_add(c.snd_nxt, 100)
        c.send_seg("PA", seq=left, data=b"x" * 50)
        a = c.expect(lambda s: s.has_ack and s.ack == c.snd_nxt and s.option(5),
                     "a duplicate ACK with a SACK block")
        blocks = a.option(5)
        pairs = [struct.unpack("!II", blocks[i:i + 8]) for i in range(0, len(blocks) - 7, 8)]
        ctx.require((left, seq_add(left, 50)) in pairs, "%s reports SACK blocks %s, expected "
                    "%d-%d" % (a.words(), pairs, left, seq_add(left, 50)))
