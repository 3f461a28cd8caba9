"""RST handling and RFC 5961's blind-attack defences: resets never answered, the exact RST
closes, in-window RST and SYN draw challenge ACKs, unacceptable ACKs are dropped, challenge
ACKs are rate-limited (RFC 9293 §3.5.2, §3.10.7; RFC 5961 §3-§5, §7)."""

import time

from ..registry import MAY, MUST, SHOULD, check
from ..tcp_peer import ECHO, TcpConn, check_seg, opt_mss, seq_add, seq_diff, still_alive


def _is_challenge(c, s):
    return (s.has_ack and not s.rst and not s.syn and not s.data and s.ack == c.snd_nxt
            and s.seq == c.peer_seq())


def _no_data_accepted(ctx, c, mark, what):
    """Nothing since c.mark() gave `mark` acknowledged or echoed `what`; the connection
    survives."""
    ctx.barrier()
    for s in c.since(mark):
        ctx.require(not s.rst, "%s: the %s reset the connection" % (s.words(), what))
        ctx.require(not s.data, "%s: the data of the %s came back" % (s.words(), what))
        if s.has_ack:
            ctx.require(seq_diff(s.ack, c.snd_nxt) <= 0, "%s: the %s was accepted"
                        % (s.words(), what))
    still_alive(ctx, c)


@check("tcp_rst.rst_never_answered", "a RST is never answered: to a closed port, to a "
       "listener, with and without ACK and data", level=MUST,
       rfc="RFC 9293 §3.10.7.1-2 (an incoming RST "
       "is discarded), §3.5.2")
def rst_never_answered(ctx):
    conns = []
    start = ctx.mark()
    for port in (ctx.closed_port(), ECHO):
        for flags, data in (("R", b""), ("RA", b""), ("RA", b"reset with data")):
            c = TcpConn(ctx, port)
            c.send_seg(flags, seq=c.iss, ack=0x13572468, data=data)
            conns.append(c)
    ctx.silent(lambda f: any(c.mine(f) for c in conns), "an answer to a RST", start=start)


@check("tcp_rst.rst_exact_closes", "a RST whose SEQ equals RCV.NXT closes the connection "
       "at once", level=MUST,
       rfc="RFC 5961 §3.2 (exact match: reset), RFC 9293 §3.10.7.4 (second check)",
       accepts="no answer to the RST; a later segment on the pair gets a RST")
def rst_exact_closes(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        still_alive(ctx, c, "the echo before the RST")
        start = ctx.mark()
        c.send_seg("R", ack=0, window=0, note="exact")
        ctx.silent(c.mine, "an answer to the exact RST", start=start)
        c.send_seg("PA", data=b"are you there?")
        s = c.expect(lambda s: True, "the RST for a segment on the closed connection")
        ctx.require(s.rst and s.seq == c.rcv_nxt, "%s: the connection survived the exact RST"
                    " (expected RST seq=%d)" % (s.words(), c.rcv_nxt))
        c.closed = True


@check("tcp_rst.rst_in_window_challenge_ack", "a RST inside the window but not at RCV.NXT "
       "draws a challenge ACK and leaves the connection open", level=SHOULD, rfc="RFC 5961 §3.2",
       accepts="a pure ACK with SEQ = SND.NXT, ACK = RCV.NXT; the connection then works")
def rst_in_window_challenge_ack(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        c.send_seg("R", seq=seq_add(c.snd_nxt, 1000), ack=0, window=0, note="in window")
        a = c.expect(lambda s: s.has_ack or s.rst, "a challenge ACK")
        check_seg(ctx, a)
        ctx.require(_is_challenge(c, a), "%s: expected a challenge ACK seq=%d ack=%d"
                    % (a.words(), c.peer_seq(), c.snd_nxt))
        still_alive(ctx, c)


@check("tcp_rst.rst_out_of_window_ignored", "a RST outside the window is silently discarded",
       level=MUST,
       rfc="RFC 5961 §3.2, RFC 9293 §3.10.7.4 (first check: RST not acceptable -> drop)")
def rst_out_of_window_ignored(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        start = ctx.mark()
        c.send_seg("R", seq=seq_add(c.snd_nxt, 0x40000000), ack=0, window=0,
                   note="far outside the window")
        c.send_seg("RA", seq=seq_add(c.snd_nxt, -70000), note="behind the window")
        ctx.silent(c.mine, "an answer to an out-of-window RST", start=start)
        still_alive(ctx, c)


@check("tcp_rst.syn_in_established_challenge_ack", "a SYN on an established connection "
       "draws a challenge ACK (in and out of the window) and resets nothing", level=SHOULD,
       rfc="RFC 5961 §4.2, §7; RFC 9293 §3.10.7.4 (fourth check)",
       accepts="a pure ACK of RCV.NXT for the first SYN; for the second one as well, or "
       "silence when the target rate-limits challenge ACKs (variant); the connection then "
       "works",
       variants={"rate_limited": "no challenge ACK to the second SYN sent right after the "
                 "first: RFC 5961 §7 lets a stack rate-limit challenge ACKs (Linux: one per "
                 "0.5 s per connection)"},
       negative=("no_challenge_ack", "drop_duplicate_acks"))
def syn_in_established_challenge_ack(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        for n, (where, seq) in enumerate((("in the window", seq_add(c.snd_nxt, 100)),
                                          ("outside the window",
                                           seq_add(c.snd_nxt, 0x20000000)))):
            c.send_seg("S", seq=seq, ack=0, options=opt_mss(1460), note=where)
            a = c.wait(lambda s: True, None, "a challenge ACK to a SYN %s" % where)
            if a is None and n == 1:
                ctx.variant("rate_limited", "no challenge ACK to the SYN %s within %.1f s"
                            % (where, ctx.reply))
                break
            ctx.require(a is not None, "no challenge ACK to a SYN %s within %.1f s"
                        % (where, ctx.reply))
            check_seg(ctx, a)
            ctx.must(not a.rst, "%s: a SYN on an established connection reset it" % a.words())
            ctx.require(_is_challenge(c, a), "%s: expected a challenge ACK seq=%d ack=%d to "
                        "a SYN %s" % (a.words(), c.peer_seq(), c.snd_nxt, where))
        still_alive(ctx, c)


@check("tcp_rst.ack_of_unsent_data", "a segment acknowledging data the target never sent is "
       "dropped (an ACK may answer it); its data is not accepted",
       level=MUST, rfc="RFC 5961 §5.2, RFC 9293 §3.10.7.4 (fifth check: SEG.ACK > SND.NXT)",
       accepts="a challenge ACK or silence; never the data acknowledged or echoed")
def ack_of_unsent_data(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        m = c.mark()
        c.send_seg("PA", data=b"bad ack", ack=seq_add(c.rcv_nxt, 100000),
                   note="acknowledges 100000 unsent bytes")
        _no_data_accepted(ctx, c, m, "segment acknowledging unsent data")


@check("tcp_rst.ack_too_old_dropped", "a segment whose ACK lies more than MAX.SND.WND behind "
       "SND.UNA is dropped", level=MAY, rfc="RFC 5961 §5.2",
       accepts="a challenge ACK or silence; never the data acknowledged or echoed")
def ack_too_old_dropped(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        m = c.mark()
        c.send_seg("PA", data=b"old ack", ack=seq_add(c.rcv_nxt, -(1 << 20)),
                   note="acknowledges 1 MiB behind SND.UNA")
        _no_data_accepted(ctx, c, m, "segment with a too old ACK")


@check("tcp_rst.rst_in_syn_received", "the exact RST in SYN-RECEIVED removes the half-open "
       "connection", level=MUST,
       rfc="RFC 9293 §3.10.7.4 (second check, SYN-RECEIVED: back to LISTEN)",
       accepts="the ACK that would have completed the handshake then gets a RST")
def rst_in_syn_received(ctx):
    with TcpConn(ctx, ECHO) as c:
        s = c.syn()
        ctx.require(s is not None and s.syn and not s.rst, "no SYN-ACK")
        c.send_seg("R", ack=0, window=0, note="exact, in SYN-RECEIVED")
        c.send_seg("A", note="completing the handshake too late")
        r = c.expect(lambda s: True, "a RST for the late handshake ACK")
        ctx.require(r.rst and r.seq == c.rcv_nxt, "%s: the half-open connection survived the "
                    "RST (expected RST seq=%d)" % (r.words(), c.rcv_nxt))
        c.closed = True


@check("tcp_rst.challenge_ack_rate_limited", "a burst of 30 in-window RSTs draws fewer than "
       "30 challenge ACKs, and the connection survives", level=SHOULD,
       rfc="RFC 5961 §7 (SHOULD limit "
       "challenge ACKs)", accepts="any limit below one per RST; the check then waits 1.1 s so "
       "that later checks find the budget refilled", timeout=6)
def challenge_ack_rate_limited(ctx):
    with TcpConn(ctx, ECHO) as c:
        c.open()
        for i in range(30):
            c.send_seg("R", seq=seq_add(c.snd_nxt, 1000 + i), ack=0, window=0)
        segs = c.collect(0.4 * ctx.timescale)
        acks = [s for s in segs if _is_challenge(c, s)]
        ctx.note("%d challenge ACKs for 30 RSTs" % len(acks))
        ctx.require(len(acks) < 30, "%d challenge ACKs for 30 RSTs: not rate-limited"
                    % len(acks))
        ctx.require(not [s for s in segs if s.rst], "the burst reset the connection")
        time.sleep(1.1)
        still_alive(ctx, c)
