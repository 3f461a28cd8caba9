"""TCP congestion control as seen from the wire: the initial window, slow start's growth,
immediate duplicate ACKs, fast retransmit, the loss window after a timeout
(RFC 5681 §3.1, §3.2, §4.2; RFC 6928; RFC 6582).

Chargen (port 19) always has data to send, so its flights show the target's congestion
window; MSS 536 keeps the segment counts small."""

from ..registry import MUST, SHOULD, check
from ..tcp_peer import (CHARGEN, ECHO, TcpConn, check_seg, data_segs, extent, opt_mss,
                   quiet_collect, seq_add, seq_diff)

MSS = 536


def _iw_bounds(mss):
    """(RFC 5681 §3.1 IW, RFC 6928 IW) in bytes."""
    return (min(4 * mss, max(2 * mss, 4380)), min(10 * mss, max(2 * mss, 14600)))


def _first_flight(ctx, c):
    c.open(options=opt_mss(MSS))
    una = c.rcv_nxt
    # the whole flight: listen 0.6 s (the RTO is at least 1 s, RFC 6298 §2.4)
    segs = data_segs(c.collect(0.6))
    ctx.require(segs, "chargen sent no data within 0.6 s")
    for s in segs:
        check_seg(ctx, s)
    return una, segs


@check("tcp_congestion.initial_window_bound", "the first flight is no larger than the "
       "initial window", level=MUST,
       rfc="RFC 5681 §3.1 (IW = min(4*MSS, max(2*MSS, 4380))), RFC 6928 "
       "(IW10)", accepts="at most min(10*MSS, max(2*MSS, 14600)) bytes before our first ACK "
       "(RFC 6928; the note says whether RFC 5681's smaller IW was kept)")
def initial_window_bound(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        una, segs = _first_flight(ctx, c)
        n = extent(segs, una)
        iw5681, iw6928 = _iw_bounds(MSS)
        ctx.note("first flight %d bytes in %d segments (RFC 5681 IW %d, RFC 6928 IW %d)"
                 % (n, len(segs), iw5681, iw6928))
        ctx.require(n <= iw6928, "the first flight holds %d bytes; the initial window is at "
                    "most %d (RFC 6928) for MSS %d" % (n, iw6928, MSS))


@check("tcp_congestion.slow_start_growth", "in slow start one ACK grows the window by at "
       "most one MSS", level=MUST, rfc="RFC 5681 §3.1 (cwnd += min(N, SMSS) per ACK)",
       accepts="after one ACK of the whole first flight F, at most F + MSS bytes in flight")
def slow_start_growth(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        una, segs = _first_flight(ctx, c)
        flight = extent(segs, una)
        top = seq_add(una, flight)
        c.ack(ack=top, note="everything so far")
        more = c.collect(0.5)
        n = extent(more, top)
        ctx.require(n > 0, "nothing sent after the first flight was acknowledged")
        ctx.require(n <= flight + MSS, "%d bytes sent after one ACK of a %d-byte flight: the "
                    "window grew by more than one MSS (%d)" % (n, flight, MSS))


@check("tcp_congestion.dup_ack_on_out_of_order", "every out-of-order segment draws an "
       "immediate duplicate ACK, and the one filling the hole an immediate full ACK",
       level=SHOULD, rfc="RFC 5681 §4.2, RFC 9293 §3.10.7.4, RFC 1122 §4.2.2.21",
       accepts="one ACK of the hole's start per out-of-order segment, each within 0.3 s")
def dup_ack_on_out_of_order(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        base = c.snd_nxt
        for i in range(3):
            sent = c.send_seg("PA", seq=seq_add(base, 100 + 100 * i), data=b"o" * 100,
                              note="out of order %d" % (i + 1))
            a = c.expect(lambda s: s.has_ack, "duplicate ACK %d" % (i + 1),
                         timeout=0.5 * ctx.timescale)
            ctx.require(a.ack == base, "%s: expected a duplicate ACK of %d" % (a.words(), base))
            ctx.require(a.t - sent.t <= 0.3 * ctx.timescale, "duplicate ACK %d after %.3f s"
                        % (i + 1, a.t - sent.t))
        sent = c.send_seg("PA", seq=base, data=b"h" * 100, note="the hole")
        c.snd_nxt = seq_add(base, 400)
        a = c.expect(lambda s: s.has_ack and seq_diff(s.ack, base) > 0, "the ACK of the fill",
                     timeout=0.5 * ctx.timescale)
        ctx.require(a.ack == c.snd_nxt, "%s: expected ack=%d" % (a.words(), c.snd_nxt))
        ctx.require(a.t - sent.t <= 0.3 * ctx.timescale, "the fill was acknowledged after "
                    "%.3f s" % (a.t - sent.t))


@check("tcp_congestion.fast_retransmit", "the third duplicate ACK makes the target resend "
       "the missing segment before its RTO", level=SHOULD, rfc="RFC 5681 §3.2 (the sender "
       "SHOULD use fast retransmit), RFC 6582 §3.2; RFC 5827, RFC 8985",
       accepts="the segment at the duplicated ACK resent within 0.5 s of the third duplicate; "
       "resent after the first or second already (early retransmit, RACK: variant); new data "
       "after the first two (limited transmit, RFC 3042) is fine",
       variants={"early": "the segment resent after fewer than three duplicate ACKs: early "
                 "retransmit (RFC 5827) or RACK-TLP's time-based loss detection (RFC 8985)"},
       negative=("no_fast_retransmit", "drop_retransmissions"), timeout=6)
def fast_retransmit(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        una, segs = _first_flight(ctx, c)
        ctx.require(len(segs) >= 2, "a first flight of %d segment(s)" % len(segs))
        first = min(segs, key=lambda s: seq_diff(s.seq, una))
        hole = seq_add(first.seq, len(first.data))
        t_ack = c.ack(ack=hole, note="the first segment only").t
        quiet_collect(c, 0.15)

        def resent(s):
            return s.data and s.seq == hole

        early = None
        for i in (1, 2):
            d = c.ack(ack=hole, note="duplicate %d" % i)
            got = [s for s in quiet_collect(c, 0.1) if resent(s)]
            if got and early is None:
                early = (i, got[0], d)
        if early is not None:
            i, s, d = early
            ctx.require(s.t - t_ack < ctx.early(1.0) or s.t - d.t < 0.1 * ctx.timescale,
                        "%s came back %.2f s after the last new ACK: that is the RTO, not a "
                        "retransmission on duplicate ACKs" % (s.words(), s.t - t_ack))
            ctx.variant("early", "%s resent %.3f s after duplicate ACK %d"
                        % (s.words(), s.t - d.t, i))
            return
        dup3 = c.ack(ack=hole, note="duplicate 3")
        s = c.expect(resent, "the fast retransmission of seq %d" % hole,
                     timeout=0.5 * ctx.timescale)
        ctx.note("resent %.3f s after the third duplicate, %.3f s after the last new ACK"
                 % (s.t - dup3.t, s.t - t_ack))
        ctx.require(s.t - dup3.t < 0.25 * ctx.timescale or s.t - t_ack < ctx.early(1.0),
                    "the segment came back %.2f s after the last new ACK: that is the RTO, "
                    "not fast retransmit" % (s.t - t_ack))


@check("tcp_congestion.rto_loss_window", "after a retransmission timeout the target resends "
       "one segment only, then grows from there", level=MUST, rfc="RFC 5681 §3.1 (cwnd MUST be "
       "at most LW = 1 SMSS after a timeout; slow start from there), RFC 6298 §5.4; RFC 5682",
       accepts="until it is acknowledged, only that segment (again, if the RTO fires again); "
       "after its ACK at most two segments (slow start), or up to two new ones (F-RTO: "
       "variant); more is a SHOULD not met",
       variants={"frto": "new (never sent) segments after the ACK of the timeout "
                 "retransmission: F-RTO's step 2b (RFC 5682 §2.1) probes with up to two"},
       negative=("drop_retransmissions",), timeout=8)
def rto_loss_window(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        una, segs = _first_flight(ctx, c)
        first = min(segs, key=lambda s: seq_diff(s.seq, una))
        top_sent = max(seq_add(s.seq, len(s.data)) for s in segs)
        r = c.expect(lambda s: s.data and s.seq == first.seq, "the retransmission after the "
                     "RTO", timeout=ctx.late(3.5))
        later = [s for s in data_segs(quiet_collect(c, 0.4)) if s.seq != first.seq]
        ctx.require(not later, "%d more segment(s) after the timeout retransmission, the "
                    "first %s: the loss window is one segment" % (len(later), later[0].words()
                                                                  if later else ""))
        top = seq_add(r.seq, len(r.data))
        c.ack(ack=top, note="the retransmitted segment")
        after = data_segs(quiet_collect(c, 0.15))
        new = [s for s in after if seq_diff(s.seq, top_sent) >= 0]
        old = [s for s in after if seq_diff(s.seq, top_sent) < 0]
        if new and len(new) <= 2:
            ctx.variant("frto", "%d new segment(s) after the ACK" % len(new))
        ctx.should(len(old) <= 2 and len(after) - min(len(new), 2) <= 2 and
                   extent(old, top) <= 2 * MSS,
                   "%d segments after one ACK with a one-segment window (%d retransmitted, %d "
                   "new): slow start allows two, F-RTO two new ones instead"
                   % (len(after), len(old), len(new)))
