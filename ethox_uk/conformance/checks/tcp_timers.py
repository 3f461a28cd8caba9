"""TCP timers, timed with a tolerance: the initial RTO and its doubling, the ACK delay bound,
keepalive off by default (RFC 6298 §2, §5; RFC 1122 §4.2.3.2, §4.2.3.6; RFC 9293 §3.8.6.3).

Timings come from the peer's receive times; lower bounds are the RFC's, upper bounds leave
room for a busy host and scale with the session's timescale."""

from ..registry import MUST, SHOULD, check
from ..tcp_peer import DISCARD, ECHO, TcpConn, check_seg


@check("tcp_timers.initial_rto", "an unanswered SYN-ACK is retransmitted, with the same ISN, "
       "after the initial RTO (1 s; 3 s accepted)", level=SHOULD,
       rfc="RFC 6298 §2.1 (initial RTO SHOULD be 1 s), §5.7; RFC 1122 §4.2.3.1; RFC 9293 "
       "§3.8.1 (MUST retransmit)",
       accepts="the SYN-ACK again with the same ISN about 1 s later, or about 3 s later (the "
       "older initial RTO); both judged with the target's clock slack",
       variants={"rto_3s": "an initial RTO of 3 s: RFC 1122 §4.2.3.1's value, which RFC 6298 "
                 "§2.1 replaced with a SHOULD of 1 s (RFC 6298 Appendix A)"},
       negative=("drop_retransmissions", "synack_isn_changes"), timeout=7)
def initial_rto(ctx):
    with TcpConn(ctx, ECHO) as c:
        first = c.syn()
        ctx.require(first is not None and first.syn and not first.rst, "no SYN-ACK")
        again = c.wait(lambda s: s.syn, ctx.late(3.0) + ctx.reply, "the SYN-ACK retransmitted")
        ctx.must(again is not None, "the SYN-ACK was not retransmitted within %.1f s (RFC 9293 "
                 "§3.8.1: a TCP MUST retransmit)" % (ctx.late(3.0) + ctx.reply))
        check_seg(ctx, again)
        gap = again.t - first.t
        ctx.note("SYN-ACK retransmitted after %.3f s" % gap)
        ctx.must(again.seq == first.seq, "the retransmitted SYN-ACK has a new ISN")
        if ctx.early(3.0) <= gap <= ctx.late(3.0):
            ctx.variant("rto_3s", "the SYN-ACK came again after %.2f s" % gap)
        else:
            ctx.require(ctx.early(1.0) <= gap <= ctx.late(1.0), "the SYN-ACK came again after "
                        "%.2f s; the initial RTO SHOULD be 1 s (accepted %.2f-%.2f s with the "
                        "clock slack, or about 3 s)" % (gap, ctx.early(1.0), ctx.late(1.0)))


# RFC 8985 §7: a sender may probe the tail of a flight once, about two round trips after
# it, before the RTO; §7.3 then arms the RTO from the probe
TLP_VARIANT = ("a tail loss probe (RFC 8985 §7): the last segment sent once more before the "
               "RTO, which then runs from the probe (at least 1 s) and doubles")


@check("tcp_timers.rto_doubles", "unacknowledged data is retransmitted after the RTO (at "
       "least 1 s), then after twice that (exponential backoff)", level=MUST,
       rfc="RFC 6298 §5.4-5.5 (MUST retransmit the earliest segment and double the RTO), "
       "§2.4 (RTO SHOULD be at least 1 s); RFC 8985 §7 (tail loss probe)",
       accepts="the same bytes from SND.UNA each time, the second gap about twice the first "
       "(MUST); a first gap under 1 s is a SHOULD not met (Linux: 200 ms); a tail loss probe "
       "before the first timeout is a variant when the timeouts after it are 1 s and doubling",
       variants={"tlp": TLP_VARIANT}, negative=("drop_first_retransmission",
                                                "drop_retransmissions"), timeout=10)
def rto_doubles(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        c.send(b"retransmit me")
        first = c.expect(lambda s: s.data, "the echo")
        times = [first.t]
        for n in (1, 2, 3):
            if n == 3 and times[1] - times[0] >= ctx.early(1.0):
                break  # no probe: two gaps decide
            s = c.expect(lambda s: s.data, "retransmission %d of the echo" % n,
                         timeout=ctx.late(3.5 if n == 1 else 7.0))
            check_seg(ctx, s)
            ctx.require(s.seq == first.seq and s.data == first.data, "%s is not the "
                        "unacknowledged segment (seq=%d, %dB) again" % (s.words(), first.seq,
                                                                       len(first.data)))
            times.append(s.t)
        gaps = [b - a for a, b in zip(times, times[1:])]
        ctx.note("retransmission gaps %s s" % " and ".join("%.3f" % g for g in gaps))
        if len(gaps) == 3 and gaps[1] >= ctx.early(1.0) and _doubles(ctx, gaps[1], gaps[2]):
            ctx.variant("tlp", "a probe after %.2f s, then timeouts after %.2f s and %.2f s"
                        % tuple(gaps))
            gaps = gaps[1:]
        g1, g2 = gaps[0], gaps[1]
        ctx.should(g1 >= ctx.early(1.0), "the first retransmission came after %.2f s: RFC 6298 "
                   "§2.4 rounds an RTO below 1 s up to 1 s" % g1)
        ctx.require(g1 <= ctx.late(3.0), "the first retransmission came after %.2f s" % g1)
        lo, hi = _doubling_bounds(ctx, g1)
        ctx.require(lo <= g2 / g1 <= hi, "the second gap (%.2f s) is %.2f times the first "
                    "(%.2f s): the RTO did not double (accepted %.2f-%.2f times)"
                    % (g2, g2 / g1, g1, lo, hi))
        c.ack()


def _doubling_bounds(ctx, g1):
    # both gaps run on the same clock, so its rate error cancels out of the ratio; what
    # is left is timer granularity and scheduling: 15 % of the gap, at least 0.1 s
    jitter = max(0.1, 0.15 * g1) * ctx.timescale
    return 2 - jitter / g1, 2 + jitter / g1


def _doubles(ctx, g1, g2):
    lo, hi = _doubling_bounds(ctx, g1)
    return lo <= g2 / g1 <= hi


@check("tcp_timers.delayed_ack_bound", "a lone data segment is acknowledged within 0.5 s",
       level=MUST, rfc="RFC 1122 §4.2.3.2, RFC 9293 §3.8.6.3 (the delay MUST be less than 0.5 s)",
       accepts="an ACK within 0.5 s (+0.1 s of host jitter)")
def delayed_ack_bound(ctx):
    with TcpConn(ctx, DISCARD) as c:
        c.open()
        for i in range(2):
            sent = c.send(b"one lone segment %d" % i)
            a = c.expect(lambda s: s.has_ack and s.ack == c.snd_nxt, "the ACK of the segment",
                         timeout=1.0 * ctx.timescale)
            delay = a.t - sent.t
            ctx.require(delay <= ctx.late(0.5) + 0.05, "acknowledged after %.3f s (MUST be "
                        "less than 0.5 s)" % delay)


@check("tcp_timers.keepalive_off_by_default", "an idle connection sees no keepalive probes "
       "(keepalives default off; at least 2 h when on)", level=MUST, rfc="RFC 1122 §4.2.3.6, "
       "RFC 9293 §3.8.4", accepts="no segment at all on an idle connection for 1.5 s",
       timeout=5)
def keepalive_off_by_default(ctx):
    with TcpConn(ctx, DISCARD) as c:
        c.open()
        c.send(b"then silence")
        c.expect(lambda s: s.has_ack and s.ack == c.snd_nxt, "the ACK of the data")
        segs = c.collect(1.5)
        ctx.require(not segs, "%s on an idle connection" % (segs[0].words() if segs else ""))
