"""TCP data transfer: integrity, checksum, acceptability of segments, reassembly, windows
and zero-window probing (RFC 9293 §3.1, §3.4, §3.8.6, §3.10.7.4; RFC 1122 §4.2.2)."""

from ..registry import MUST, SHOULD, check
from ..tcp_peer import (CHARGEN, DISCARD, ECHO, TcpConn, check_seg, data_segs, echo_roundtrip,
                   extent, opt_mss, quiet_collect, seq_add, seq_diff, still_alive)


def _no_answer_but_ack(ctx, c, mark, what, expect_ack):
    """After a segment the target must not accept (sent after c.mark() gave `mark`): no
    data back, and the ACKs it sends acknowledge nothing past SND.NXT. expect_ack: an ACK
    must come (fails otherwise)."""
    if expect_ack:
        a = c.expect(lambda s: s.has_ack, "an ACK of the %s" % what)
        check_seg(ctx, a)
        ctx.require(a.ack == c.snd_nxt and not a.data and not a.rst, "%s: expected a pure "
                    "ACK of %d (RCV.NXT unchanged)" % (a.words(), c.snd_nxt))
    ctx.barrier()
    for s in c.since(mark):
        ctx.require(not s.data, "%s: data came back after the %s" % (s.words(), what))
        ctx.require(not s.rst, "%s: the %s reset the connection" % (s.words(), what))
        if s.has_ack:
            ctx.require(seq_diff(s.ack, c.snd_nxt) <= 0, "%s acknowledges the %s"
                        % (s.words(), what))


@check("tcp_data.echo_integrity", "the echo service returns every byte unchanged: small "
       "segments, a full 1460-byte one, and 4000 bytes in 536-byte segments without PSH",
       level=MUST, rfc="RFC 9293 §3.8, RFC 862", timeout=8)
def echo_integrity(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open(options=opt_mss(1460))
        for i, size in enumerate((1, 100, 1460)):
            echo_roundtrip(ctx, c, ctx.pattern(size, i), "the echo of %d bytes" % size)
        data = ctx.pattern(4000, 7)
        for off in range(0, len(data), 536):
            c.send(data[off:off + 536], flags="A")
        got = c.read(len(data), timeout=2 * ctx.reply, what="the echo of 4000 bytes")
        ctx.require(got == data, "the 4000-byte echo differs from what was sent")
        for s in data_segs(c.segs):
            check_seg(ctx, s)


@check("tcp_data.bad_checksum_dropped", "a data segment with a wrong checksum is neither "
       "acknowledged nor delivered; its good retransmission is", level=MUST, rfc="RFC 9293 §3.1 "
       "(Checksum), RFC 1122 §4.2.2.7 (MUST check, discard on failure)")
def bad_checksum_dropped(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        m = c.mark()
        c.send_seg("PA", data=b"corrupted", checksum="bad")
        _no_answer_but_ack(ctx, c, m, "segment with a bad checksum", expect_ack=False)
        echo_roundtrip(ctx, c, b"corrupted", "the echo of the good retransmission")


@check("tcp_data.bad_data_offset_dropped", "segments whose data offset is below 5 or past "
       "their end are dropped", level=MUST, rfc="RFC 9293 §3.1 (Data Offset)",
       accepts="silence or an ACK of the current RCV.NXT; never the data delivered")
def bad_data_offset_dropped(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        m = c.mark()
        c.send_seg("PA", data=b"offset four bytes!", doff=4, note="data offset 4")
        c.send_seg("PA", data=b"offset 15", doff=15, note="data offset 15")
        _no_answer_but_ack(ctx, c, m, "segment with a bad data offset", expect_ack=False)
        still_alive(ctx, c)


@check("tcp_data.out_of_window_acked", "a data segment beyond the receive window is "
       "answered by an ACK of RCV.NXT and not delivered", level=MUST,
       rfc="RFC 9293 §3.10.7.4 (first "
       "check: not acceptable -> send an ACK)")
def out_of_window_acked(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        m = c.mark()
        c.send_seg("PA", seq=seq_add(c.snd_nxt, 300000), data=b"far away",
                   note="300000 past RCV.NXT")
        _no_answer_but_ack(ctx, c, m, "out-of-window segment", expect_ack=True)
        still_alive(ctx, c)


@check("tcp_data.old_duplicate_acked", "a retransmission of data already received is "
       "acknowledged again and not delivered twice", level=MUST,
       rfc="RFC 9293 §3.10.7.4 (first check)")
def old_duplicate_acked(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        first = c.snd_nxt
        echo_roundtrip(ctx, c, b"only once")
        m = c.mark()
        c.send_seg("PA", seq=first, data=b"only once", note="old duplicate")
        _no_answer_but_ack(ctx, c, m, "old duplicate", expect_ack=True)


@check("tcp_data.reassembly_out_of_order", "segments arriving out of order are delivered "
       "in order once the hole is filled, and the fill is acknowledged at once",
       level=SHOULD, rfc="RFC 9293 §3.10.7.4 (segments beyond RCV.NXT held), RFC 5681 §4.2",
       accepts="an ACK covering both within 0.5 s of the filling segment")
def reassembly_out_of_order(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        base = c.snd_nxt
        a, b = ctx.pattern(300, 1), ctx.pattern(200, 2)
        c.send_seg("PA", seq=seq_add(base, 300), data=b, note="second part first")
        c.send_seg("PA", seq=base, data=a, note="the hole")
        c.snd_nxt = seq_add(base, 500)
        c.expect(lambda s: s.has_ack and s.ack == c.snd_nxt, "the ACK of both parts",
                 timeout=0.5 * ctx.timescale)
        got = c.read(500, what="the echo of the reassembled data")
        ctx.require(got == a + b, "the echo is not the data in order")


@check("tcp_data.overlapping_retransmission", "a segment overlapping data already "
       "received delivers only its new bytes", level=MUST, rfc="RFC 9293 §3.10.7.4 (trim to the "
       "window; the bytes already received are not delivered again)")
def overlapping_retransmission(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        base = c.snd_nxt
        data = ctx.pattern(200, 3)
        c.send(data[:100])
        c.send_seg("PA", seq=seq_add(base, 50), data=data[50:200], note="overlaps 50 bytes")
        c.snd_nxt = seq_add(base, 200)
        got = c.read(200, what="the echo of the overlapping segments")
        ctx.require(got == data, "echoed %d bytes that are not the 200 sent" % len(got))
        m = c.mark()
        ctx.barrier()
        extra = [s for s in c.since(m) if s.data]
        ctx.require(not extra, "%s: bytes delivered twice" % (extra[0].words() if extra else ""))


@check("tcp_data.zero_window_probe", "with a zero window the target sends no data but "
       "probes the window, and resumes when it opens", level=MUST,
       rfc="RFC 9293 §3.8.6.1, RFC 1122 "
       "§4.2.2.17", accepts="a probe of 0 or 1 byte at SND.UNA (or SND.UNA-1) within 3 s; "
       "data within 1 s of the window opening", timeout=8)
def zero_window_probe(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        c.window = 0
        c.open(options=opt_mss(536), window=65535)
        una = c.rcv_nxt
        probe = None
        end = ctx.peer.clock() + 3.0 * ctx.timescale
        while probe is None:
            s = c.wait(timeout=max(end - ctx.peer.clock(), 0.01), what="a zero-window probe")
            ctx.require(s is not None, "no zero-window probe within %.1f s"
                        % (3.0 * ctx.timescale))
            check_seg(ctx, s)
            ctx.require(len(s.data) <= 1, "%s: %d bytes sent into a zero window"
                        % (s.words(), len(s.data)))
            ctx.require(not s.rst and not s.fin, "%s while probing" % s.words())
            if -1 <= seq_diff(s.seq, una) <= 0:
                probe = s
        c.ack(window=0, note="still zero")
        c.window = 65535
        c.ack(note="the window opens")
        segs = quiet_collect(c, 1.0)
        ctx.require(extent(segs, una) > 1, "no data within 1 s of the window opening")


@check("tcp_data.send_window_respected", "the target never sends past the right edge of "
       "the window we offer (1000 bytes, below its initial window), and uses it as it moves "
       "(by all it sent: past the sender's SWS threshold of half the largest window)",
       level=MUST, rfc="RFC 9293 §3.8.6, §3.10.7.4 (SND.WND)")
def send_window_respected(ctx):
    with TcpConn(ctx, CHARGEN, window=1000) as c:
        c.open(options=opt_mss(536))
        una = c.rcv_nxt
        n = extent(quiet_collect(c, 0.5), una)
        ctx.require(0 < n <= 1000, "%d bytes sent into a 1000-byte window" % n)
        # RFC 9293 §3.8.6.2.1: a sender may hold back until a usable window of half the
        # largest one (Fs = 1/2) opens, so everything sent is acknowledged at once
        c.ack(ack=seq_add(una, n), note="all %d bytes acknowledged" % n)
        n2 = extent(quiet_collect(c, 0.5), una)
        ctx.require(n2 <= n + 1000, "%d bytes past the acknowledged point +1000" % (n2 - n))
        ctx.require(n2 > n, "nothing more sent after the window moved by %d bytes" % n)


@check("tcp_data.urgent_data_delivered", "data sent with URG and an urgent pointer is "
       "delivered in the stream", level=MUST,
       rfc="RFC 9293 §3.8.5, RFC 6093 §4 (urgent data inline)")
def urgent_data_delivered(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        c.send(b"urgent!", flags="UPA", urgent=7)
        got = c.read(7, what="the echo of urgent data")
        ctx.require(got == b"urgent!", "echoed %r" % got)


@check("tcp_data.discard_acknowledged", "the discard service acknowledges 3000 bytes and "
       "sends nothing back", level=MUST, rfc="RFC 9293 §3.8.6.3, RFC 863")
def discard_acknowledged(ctx):
    with TcpConn(ctx, DISCARD) as c:
        c.open(options=opt_mss(1000))
        for i in range(3):
            c.send(ctx.pattern(1000, i))
        c.expect(lambda s: s.has_ack and s.ack == c.snd_nxt, "the ACK of 3000 bytes")
        ctx.barrier()
        for s in c.since(0):
            ctx.require(not s.data, "%s: discard sent data" % s.words())
