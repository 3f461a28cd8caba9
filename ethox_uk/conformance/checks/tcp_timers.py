"""TCP timers, timed with a tolerance: the initial RTO and its doubling, the ACK delay bound,
keepalive off by default (RFC 6298 §2, §5; RFC 1122 §4.2.3.2, §4.2.3.6; RFC 9293 §3.8.6.3).

Timings come from the peer's receive times; lower bounds are the RFC's, upper bounds leave
room for a busy host and scale with the session's timescale."""

from ..registry import check
from ..tcp import DISCARD, ECHO, TcpConn, check_seg, past_tail_probe


@check("tcp_timers.initial_rto", "an unanswered SYN-ACK is retransmitted after the initial "
       "RTO (1 s; 3 s accepted)", rfc="RFC 6298 §2.1, §5.7; RFC 1122 §4.2.3.1",
       accepts="the first retransmission 0.9-3.3 s after the SYN-ACK, with the same ISN",
       timeout=6)
def initial_rto(ctx):
    with TcpConn(ctx, ECHO) as c:
        first = c.syn()
        ctx.require(first is not None and first.syn and not first.rst, "no SYN-ACK")
        again = c.expect(lambda s: s.syn, "the SYN-ACK retransmitted",
                         timeout=3.5 * ctx.timescale)
        check_seg(ctx, again)
        gap = again.t - first.t
        ctx.note("SYN-ACK retransmitted after %.3f s" % gap)
        ctx.require(again.seq == first.seq, "the retransmitted SYN-ACK has a new ISN")
        ctx.require(0.9 <= gap <= 3.3 * ctx.timescale, "the SYN-ACK came again after %.2f s;"
                    " the initial RTO is 1 s (3 s accepted)" % gap)


@check("tcp_timers.rto_doubles", "unacknowledged data is retransmitted after at least 1 s, "
       "then after twice that (exponential backoff)", rfc="RFC 6298 §2.4 (RTO >= 1 s), "
       "§5.4-5.5 (retransmit the earliest segment, double the RTO)",
       accepts="first gap 0.9-3.3 s; second gap 1.6-2.5 times the first; the same bytes "
       "from SND.UNA each time; one RFC 8985 tail loss probe before the first RTO (the RTO "
       "then counts from it)", timeout=10)
def rto_doubles(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        c.send(b"retransmit me")
        first = c.expect(lambda s: s.data, "the echo")
        times = [first.t]
        for n in (1, 2):
            s = c.expect(lambda s: s.data, "retransmission %d of the echo" % n,
                         timeout=(3.5 if n == 1 else 7) * ctx.timescale)
            if n == 1:
                probe, s = past_tail_probe(ctx, c, first, s, lambda s: s.data,
                                           "retransmission 1 of the echo after its tail "
                                           "loss probe", 3.5 * ctx.timescale)
                times = [probe.t]
            check_seg(ctx, s)
            ctx.require(s.seq == first.seq and s.data == first.data, "%s is not the "
                        "unacknowledged segment (seq=%d, %dB) again" % (s.words(), first.seq,
                                                                       len(first.data)))
            times.append(s.t)
        g1, g2 = times[1] - times[0], times[2] - times[1]
        ctx.note("retransmission gaps %.3f s and %.3f s" % (g1, g2))
        ctx.require(0.9 <= g1 <= 3.3 * ctx.timescale, "the first retransmission came after "
                    "%.2f s (RTO at least 1 s)" % g1)
        ctx.require(1.6 <= g2 / g1 <= 2.5, "the second gap (%.2f s) is %.2f times the first "
                    "(%.2f s): the RTO did not double" % (g2, g2 / g1, g1))
        c.ack()


@check("tcp_timers.delayed_ack_bound", "a lone data segment is acknowledged within 0.5 s",
       rfc="RFC 1122 §4.2.3.2, RFC 9293 §3.8.6.3 (the delay MUST be less than 0.5 s)",
       accepts="an ACK within 0.5 s (+0.1 s of host jitter)")
def delayed_ack_bound(ctx):
    with TcpConn(ctx, DISCARD) as c:
        c.open()
        for i in range(2):
            sent = c.send(b"one lone segment %d" % i)
            a = c.expect(lambda s: s.has_ack and s.ack == c.snd_nxt, "the ACK of the segment",
                         timeout=1.0 * ctx.timescale)
            delay = a.t - sent.t
            ctx.require(delay <= 0.6 * ctx.timescale, "acknowledged after %.3f s" % delay)


@check("tcp_timers.keepalive_off_by_default", "an idle connection sees no keepalive probes "
       "(keepalives default off; at least 2 h when on)", rfc="RFC 1122 §4.2.3.6, "
       "RFC 9293 §3.8.4", accepts="no segment at all on an idle connection for 1.5 s",
       timeout=5)
def keepalive_off_by_default(ctx):
    with TcpConn(ctx, DISCARD) as c:
        c.open()
        c.send(b"then silence")
        c.expect(lambda s: s.has_ack and s.ack == c.snd_nxt, "the ACK of the data")
        segs = c.collect(1.5)
        ctx.require(not segs, "%s on an idle connection" % (segs[0].words() if segs else ""))
