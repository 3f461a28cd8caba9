"""TCP connection release: half-close, passive close through CLOSE-WAIT and LAST-ACK, active
close into TIME-WAIT, simultaneous close (RFC 9293 §3.6, §3.10.7.4; RFC 1122 §4.2.2.13)."""

from ..registry import MUST, check
from ..tcp_peer import (ECHO, HTTP, TcpConn, check_seg, http_request, seq_add,
                   seq_diff)


def _acks(c, seq):
    return lambda s: s.has_ack and seq_diff(s.ack, seq) >= 0


def _gone(ctx, c):
    """The connection no longer exists at the target: a segment on it draws a RST with
    SEQ = SEG.ACK (RFC 9293 §3.10.7.1)."""
    c.send_seg("PA", data=b"anyone?", note="after the close")
    s = c.expect(lambda s: True, "the RST of a closed connection")
    ctx.require(s.rst and s.seq == c.rcv_nxt, "%s: expected a RST seq=%d (no connection "
                "any more)" % (s.words(), c.rcv_nxt))
    c.closed = True


@check("tcp_close.half_close_keeps_sending", "after our FIN (right behind an HTTP request "
       "for 20000 bytes) the target acknowledges it and still sends the whole response, "
       "then its own FIN", level=MUST, rfc="RFC 9293 §3.6 (half-close: CLOSE-WAIT may still send), "
       "RFC 1122 §4.2.2.13", timeout=8)
def half_close_keeps_sending(ctx):
    with TcpConn(ctx, HTTP) as c:
        c.open()
        c.send(http_request("/bytes/20000"))
        c.fin()
        a = c.expect(_acks(c, c.snd_nxt), "the ACK of our FIN")
        check_seg(ctx, a)
        got = c.read(100000, fin=True, timeout=3 * ctx.reply,
                     what="the HTTP response after our FIN, and the target's FIN")
        head, _, body = got.partition(b"\r\n\r\n")
        ctx.require(head.startswith(b"HTTP/1.1 200"), "the response starts %r" % head[:40])
        ctx.require(len(body) == 20000, "%d body bytes of 20000 after our FIN" % len(body))
        late = [s for s in c.segs if s.data and s.index > a.index]
        ctx.require(late, "no data after our FIN was acknowledged")


@check("tcp_close.echo_finishes_then_fin", "data and FIN in one segment: the echo returns "
       "all the data, then its own FIN right after it", level=MUST, rfc="RFC 9293 §3.6, §3.10.7.4 "
       "(eighth: FIN), RFC 862", accepts="the FIN within 2 s, at the end of the echoed data")
def echo_finishes_then_fin(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        data = ctx.pattern(300, 4)
        c.fin(data)
        got = c.read(1000, fin=True, timeout=2 * ctx.reply, what="the echo and its FIN")
        ctx.require(got == data, "echoed %d bytes that differ from the 300 sent" % len(got))
        fin = [s for s in c.segs if s.fin][0]
        check_seg(ctx, fin)


@check("tcp_close.passive_close", "our FIN is acknowledged (CLOSE-WAIT), the target's FIN "
       "follows (LAST-ACK), and our ACK of it ends the connection", level=MUST, rfc="RFC 9293 §3.6 "
       "(figure 12), §3.10.7.4", accepts="the ACK of our FIN alone or on the FIN; the "
       "connection gone (a RST for a later segment) after our last ACK")
def passive_close(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        c.fin()
        a = c.expect(_acks(c, c.snd_nxt), "the ACK of our FIN")
        check_seg(ctx, a)
        c.read(0, fin=True, ack=False, timeout=2 * ctx.reply, what="the target's FIN")
        c.ack(note="the last ACK")
        _gone(ctx, c)


@check("tcp_close.fin_retransmitted_in_last_ack", "in LAST-ACK an unacknowledged FIN is sent "
       "again after a retransmission timeout", level=MUST, rfc="RFC 9293 §3.6, §3.8.1 (MUST "
       "retransmit); RFC 6298 §5 (the RTO), §2.4 (SHOULD be at least 1 s); RFC 8985 §7",
       accepts="the FIN again, at the same sequence number, within 3.3 s (MUST); sooner than "
       "1 s is a SHOULD not met (Linux: 200 ms) unless it was a tail loss probe followed by "
       "the FIN again at least 1 s later (variant)",
       variants={"tlp": "a tail loss probe (RFC 8985 §7): the FIN sent once more before the "
                 "RTO, which then runs from the probe (at least 1 s)"},
       negative=("drop_retransmissions", "drop_fin_out"), timeout=10)
def fin_retransmitted_in_last_ack(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        c.fin()
        first = c.expect(lambda s: s.fin, "the target's FIN", timeout=2 * ctx.reply)
        again = c.expect(lambda s: s.fin, "the FIN retransmitted", timeout=ctx.late(3.3)
                         + ctx.reply)
        gap = again.t - first.t
        ctx.require(again.seq == first.seq, "%s: the FIN moved from seq %d" % (again.words(),
                                                                              first.seq))
        ctx.require(gap <= ctx.late(3.3), "the FIN came again after %.2f s" % gap)
        if gap < ctx.early(1.0):
            third = c.wait(lambda s: s.fin, ctx.late(3.3) + ctx.reply, "the FIN once more")
            if third is not None and third.seq == first.seq and \
                    ctx.early(1.0) <= third.t - again.t <= ctx.late(3.3):
                ctx.variant("tlp", "a probe after %.2f s, the RTO %.2f s after it"
                            % (gap, third.t - again.t))
                gap = third.t - again.t
                again = third
        ctx.should(gap >= ctx.early(1.0), "the FIN came again after %.2f s: RFC 6298 §2.4 "
                   "rounds an RTO below 1 s up to 1 s" % gap)
        c.take(again)
        c.ack(ack=seq_add(first.seq, len(first.data) + 1))


def _http_until_fin(ctx, c, ack):
    c.open()
    c.send(http_request())
    c.read(100000, fin=True, ack=ack, timeout=2 * ctx.reply,
           what="the HTTP response and the target's FIN (Connection: close)")
    return [s for s in c.segs if s.fin][0]


@check("tcp_close.time_wait_reacks_fin", "after the target closes first (HTTP with "
       "Connection: close), a retransmission of our FIN in TIME-WAIT is acknowledged again",
       level=MUST,
       rfc="RFC 9293 §3.6 (figure 12), §3.10.7.4 (TIME-WAIT: acknowledge a retransmitted FIN "
       "and restart the 2 MSL timeout)")
def time_wait_reacks_fin(ctx):
    with TcpConn(ctx, HTTP) as c:
        _http_until_fin(ctx, c, ack=True)
        fin_seq = c.snd_nxt
        c.fin()
        a = c.expect(_acks(c, c.snd_nxt), "the ACK of our FIN (the target enters TIME-WAIT)")
        check_seg(ctx, a)
        c.send_seg("FA", seq=fin_seq, note="our FIN again")
        b = c.expect(lambda s: True, "the ACK of the retransmitted FIN in TIME-WAIT")
        check_seg(ctx, b)
        ctx.require(not b.rst and b.has_ack and b.ack == c.snd_nxt, "%s: expected an ACK "
                    "of %d" % (b.words(), c.snd_nxt))


@check("tcp_close.simultaneous_close", "FINs crossing: the target acknowledges ours while "
       "its own is outstanding (CLOSING), then reaches TIME-WAIT", level=MUST, rfc="RFC 9293 §3.6 "
       "(figure 13), §3.10.7.4")
def simultaneous_close(ctx):
    with TcpConn(ctx, HTTP) as c:
        fin = _http_until_fin(ctx, c, ack=False)
        before_fin = seq_add(fin.seq, len(fin.data))
        fin_seq = c.snd_nxt
        c.fin(ack=before_fin, note="crossing: its FIN not acknowledged")
        a = c.expect(_acks(c, c.snd_nxt), "the ACK of our FIN (CLOSING)")
        check_seg(ctx, a)
        c.ack(ack=seq_add(before_fin, 1), note="now its FIN")
        c.send_seg("FA", seq=fin_seq, ack=seq_add(before_fin, 1), note="our FIN again")
        b = c.expect(lambda s: True, "the ACK in TIME-WAIT")
        ctx.require(not b.rst and b.has_ack and b.ack == c.snd_nxt, "%s: expected an ACK of "
                    "%d (TIME-WAIT)" % (b.words(), c.snd_nxt))


@check("tcp_close.data_after_fin_ignored", "data beyond our FIN is not delivered",
       level=MUST,
       rfc="RFC 9293 §3.10.7.4 (seventh: CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT ignore "
       "segment text)")
def data_after_fin_ignored(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        c.fin()
        c.expect(_acks(c, c.snd_nxt), "the ACK of our FIN")
        m = c.mark()
        c.send_seg("PA", data=b"after the end", note="past our FIN")
        ctx.barrier()
        for s in c.since(m):
            ctx.require(not s.data, "%s: data came back after our FIN" % s.words())
            if s.has_ack:
                ctx.require(seq_diff(s.ack, c.snd_nxt) <= 0, "%s acknowledges data past "
                            "our FIN" % s.words())


@check("tcp_close.fin_out_of_order_waits", "a FIN beyond a hole is not acknowledged until "
       "the hole is filled", level=MUST,
       rfc="RFC 9293 §3.10.7.4 (eighth check: FIN only when in order)")
def fin_out_of_order_waits(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        base = c.snd_nxt
        m = c.mark()
        c.send_seg("FA", seq=seq_add(base, 10), data=b"tail", note="FIN after a 10-byte hole")
        ctx.barrier()
        for s in c.since(m):
            if s.has_ack:
                ctx.require(seq_diff(s.ack, base) <= 0, "%s acknowledges past the hole"
                            % s.words())
        c.send_seg("PA", seq=base, data=b"0123456789", note="the hole")
        c.snd_nxt = seq_add(base, 15)
        a = c.expect(_acks(c, c.snd_nxt), "the ACK of the data and the FIN")
        ctx.require(a.ack == c.snd_nxt, "%s: expected ack=%d" % (a.words(), c.snd_nxt))
