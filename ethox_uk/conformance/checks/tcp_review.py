"""The TCP review's findings as a peer sees them: a window shut with data in flight (probed, never
timed out), window updates that move the edge, retransmissions within what was sent and
the window, no window inflation from duplicate ACKs after an RTO, a RST for data sent to a
closed socket, RST ignored in TIME-WAIT (RFC 1337), and a SYN-ACK that offers no more than
the target can hold (RFC 9293 §3.8.6, RFC 5681, RFC 3042, RFC 1122 §4.2.2.13, §4.2.2.17).

Each check names the fault switch (ethox_uk/stack/faults.py) that brings the old behaviour
back; NEGATIVE_CONTROLS below is merged into ethox_uk/conformance/negative.py's table."""

from ..registry import MAY, MUST, SHOULD, check
from ..tcp_peer import (CHARGEN, ECHO, HTTP, TcpConn, check_seg, data_segs, extent, opt_mss,
                   quiet_collect, seq_add, seq_diff)

QOTD = 17  # RFC 865 quote of the day: images/echo serves it on the socket API

# fault switch -> (what the stack then does wrong, the checks that must fail under it)
NEGATIVE_CONTROLS = {
    "no_probe_in_flight": ("a window shut with data in flight is never probed (the RTO "
                           "resends into it: nothing goes, then the connection times out)",
                           ["tcp_review.shut_window_with_data_in_flight_probed"]),
    "window_update_unmoved": ("a window update goes whenever the free space exceeds the "
                              "advertised window, even when its right edge does not move",
                              ["tcp_review.window_updates_move_the_edge"]),
    "rexmit_past_window": ("fast retransmissions take a full MSS from SND.UNA, past SND.MAX "
                           "and the peer's window",
                           ["tcp_review.retransmission_within_window"]),
    "dupack_inflation": ("every duplicate ACK outside fast recovery opens the window by a "
                         "segment, after an RTO too",
                         ["tcp_review.no_window_inflation_after_rto"]),
    "ack_data_after_close": ("data arriving after the application closed its socket is "
                             "acknowledged and dropped instead of reset",
                             ["tcp_review.data_after_close_reset"]),
    "time_wait_rst_accepted": ("an acceptable RST ends TIME-WAIT",
                               ["tcp_review.time_wait_ignores_rst"]),
    "syn_window_default": ("the SYN-ACK offers the stack's default window (64 KiB), not the "
                           "smaller receive buffer of the service",
                           ["tcp_review.syn_window_held"]),
}


def _first_flight(ctx, c, mss=536):
    """Open with MSS `mss`; (RCV.NXT at the start, the data segments of the first flight)."""
    c.open(options=opt_mss(mss))
    una = c.rcv_nxt
    segs = data_segs(quiet_collect(c, 0.4))
    ctx.require(segs, "chargen sent no data within 0.4 s")
    for s in segs:
        check_seg(ctx, s)
    return una, segs


@check("tcp_review.shut_window_with_data_in_flight_probed", level=MUST, description="a window shut while data is "
       "in flight is probed on each retransmission timeout, and a peer that answers the "
       "probes is never timed out", rfc="RFC 9293 §3.8.6.1 (MUST-35), RFC 1122 §4.2.2.17",
       accepts="at least two probes (any segment at or below the acknowledged point, with or "
       "without a byte of data) within 4 s of the window shutting; data from the acknowledged "
       "point within 1.5 s of it opening", timeout=9)
def shut_window_with_data_in_flight_probed(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        una, segs = _first_flight(ctx, c)
        first = min(segs, key=lambda s: seq_diff(s.seq, una))
        edge = seq_add(first.seq, len(first.data))
        c.window = 0
        shut = c.ack(ack=edge, note="the first segment only, window 0: the rest is in flight")
        probes = []
        end = shut.t + 4.0 * ctx.timescale
        while len(probes) < 2:
            s = c.wait(timeout=max(end - ctx.peer.clock(), 0.01), what="a probe")
            if s is None:
                break
            check_seg(ctx, s)
            ctx.require(not s.rst, "%s: the target reset the connection while the peer "
                        "answered" % s.words())
            probes.append(s)
            c.ack(ack=edge, note="window still 0")
        ctx.note("probes after %s s" % ", ".join("%.2f" % (s.t - shut.t) for s in probes))
        ctx.require(len(probes) >= 2, "%d segment(s) in %.1f s after the window shut with "
                    "data in flight: the target must keep probing it" % (
                        len(probes), 4.0 * ctx.timescale))
        c.window = 65535
        c.ack(ack=edge, note="the window opens")
        s = c.expect(lambda s: s.data and s.seq == edge, "data from %d once the window "
                     "opened" % edge, timeout=1.5 * ctx.timescale)
        check_seg(ctx, s)


@check("tcp_review.window_updates_move_the_edge", level=MUST, description="a pure window update moves the right "
       "edge of the window by at least min(MSS, half the largest window); none repeats the "
       "last ACK", rfc="RFC 1122 §4.2.3.3, RFC 9293 §3.8.6.2.2 (receiver SWS avoidance), "
       "RFC 5681 §2 (a repeated ACK is a duplicate ACK)",
       accepts="echo with our window shut: our ACKs of its echo free 500 bytes at a time; "
       "any update the target sends then moves the edge by at least min(1460, half its "
       "largest window)", timeout=8)
def window_updates_move_the_edge(ctx):
    with TcpConn(ctx, ECHO, window=0) as c:
        c.open()
        for i in range(4):
            c.send(ctx.pattern(1000, i))
        c.expect(lambda s: s.has_ack and s.ack == c.snd_nxt, "the ACK of 4000 bytes")
        start = len(c.segs)
        for i in range(8):
            c.ack(window=500, note="room for 500 bytes")
            c.expect(lambda s: s.data, "500 bytes of echo", timeout=ctx.reply)
            c.window = 0
            c.ack(note="the echo taken, window 0")
            quiet_collect(c, 0.1, gap=0.05)
        segs = c.since(start - 1)
        largest = max(s.window for s in c.segs if s.has_ack)
        need = min(1460, largest // 2)
        updates = 0
        for prev, s in zip(segs, segs[1:]):
            if s.data or s.syn or s.fin or s.rst or not s.has_ack or s.ack != prev.ack:
                continue  # data, or an ACK of new data
            if seq_diff(s.seq, seq_add(prev.seq, len(prev.data))) < 0:
                continue  # a probe of our shut window (an old sequence number)
            moved = seq_diff(seq_add(s.ack, s.window), seq_add(prev.ack, prev.window))
            updates += 1
            ctx.require(moved >= need, "%s: a window update moving the edge by %d bytes "
                        "(at least %d): to the sender it is a duplicate ACK" % (
                            s.words(), moved, need))
        ctx.note("%d window update(s), each moving the edge by %d bytes or more"
                 % (updates, need))


@check("tcp_review.retransmission_within_window", level=MUST, description="a fast retransmission to a 200-byte "
       "window resends no more than was sent and the window allows", rfc="RFC 9293 §3.8.6 "
       "(send within SND.WND), RFC 5681 §3.2, RFC 6582 §3.2",
       accepts="every resent byte (if any) within the first 200; the target goes on with new "
       "data once they are acknowledged", timeout=6)
def retransmission_within_window(ctx):
    with TcpConn(ctx, CHARGEN, window=200) as c:
        c.open()
        una = c.rcv_nxt
        first = data_segs(quiet_collect(c, 0.4))
        ctx.require(first, "chargen sent nothing into a 200-byte window")
        top = seq_add(una, extent(first, una))
        ctx.require(extent(first, una) <= 200, "%d bytes sent into a 200-byte window"
                    % extent(first, una))
        for i in range(3):
            c.ack(ack=una, note="duplicate %d" % (i + 1))
        resent = data_segs(quiet_collect(c, 1.2))
        if not resent:
            # Linux answers nothing here (a one-segment flight into a full window is no
            # loss it acts on): nothing resent is nothing resent past the window either
            ctx.note("nothing resent within 1.2 s of three duplicate ACKs")
        for s in resent:
            check_seg(ctx, s)
            end = seq_add(s.seq, len(s.data))
            ctx.require(seq_diff(end, top) <= 0, "%s resends up to %d bytes past what was "
                        "sent and the 200-byte window allows" % (s.words(),
                                                                 seq_diff(end, top)))
        c.ack(ack=top, note="everything sent so far")
        s = c.expect(lambda s: s.data and s.seq == top or s.rst, "new data from %d" % top,
                     timeout=1.0 * ctx.timescale)
        ctx.require(not s.rst, "%s after its data was acknowledged" % s.words())


@check("tcp_review.no_window_inflation_after_rto", level=MUST, description="after a retransmission timeout, ten "
       "duplicate ACKs release at most two segments", rfc="RFC 5681 §3.1 (loss window: one "
       "segment), RFC 3042 (limited transmit: two segments), RFC 6582 §3.2 (no fast "
       "recovery for the flight before the timeout)", accepts="at most two data segments "
       "within 0.4 s of ten duplicates of the retransmitted segment's ACK", timeout=8)
def no_window_inflation_after_rto(ctx):
    with TcpConn(ctx, CHARGEN) as c:
        una, segs = _first_flight(ctx, c)
        first = min(segs, key=lambda s: seq_diff(s.seq, una))
        c.expect(lambda s: s.data and s.seq == first.seq, "the retransmission after the RTO",
                 timeout=3.5 * ctx.timescale)
        quiet_collect(c, 0.2)
        for i in range(10):
            c.ack(ack=una, note="duplicate %d" % (i + 1))
        after = data_segs(quiet_collect(c, 0.4))
        ctx.note("%d data segment(s) after ten duplicate ACKs" % len(after))
        ctx.require(len(after) <= 2, "%d segments (%d bytes) after ten duplicate ACKs with a "
                    "one-segment window: each duplicate opened it further" % (
                        len(after), sum(len(s.data) for s in after)))


@check("tcp_review.data_after_close_reset", level=SHOULD, description="data sent after the target's application "
       "closed its socket (quote of the day, port 17) is answered with a RST",
       rfc="RFC 1122 §4.2.2.13, RFC 2525 §2.17", accepts="a RST at the target's SND.MAX "
       "within 1 s; not applicable without a quote of the day on port 17", timeout=6)
def data_after_close_reset(ctx):
    with TcpConn(ctx, QOTD) as c:
        s = c.syn()
        if s is None or s.rst:
            ctx.not_applicable("no quote of the day (RFC 865) on port 17 to close a socket")
        c.ack()
        quote = c.read(0, fin=True, what="the quote and the target's FIN")
        ctx.note("quote of %d bytes, then FIN" % len(quote))
        c.send(b"thank you!", note="after the target closed")
        r = c.expect(lambda s: s.rst or s.has_ack and s.ack == c.snd_nxt,
                     "the answer to data after close", timeout=1.0 * ctx.timescale)
        ctx.require(r.rst, "%s: the data was acknowledged (and dropped) instead of reset"
                    % r.words())
        ctx.require(r.seq == c.rcv_nxt, "%s: the RST is not at the target's SND.MAX %d"
                    % (r.words(), c.rcv_nxt))
        c.closed = True


@check("tcp_review.time_wait_ignores_rst", level=MAY, description="a RST does not end TIME-WAIT: after it, a "
       "retransmitted FIN is still acknowledged", rfc="RFC 1337 (TIME-WAIT assassination, "
       "fix TW1), RFC 9293 §3.10.7.4", accepts="no answer to the RST; an ACK (not a RST) "
       "for our FIN sent again after it", timeout=6)
def time_wait_ignores_rst(ctx):
    with TcpConn(ctx, HTTP) as c:
        c.open()
        c.send(b"GET /bytes/64 HTTP/1.1\r\nHost: target\r\nConnection: close\r\n\r\n")
        c.read(0, fin=True, timeout=2 * ctx.reply, what="the response and the target's FIN")
        fin_seq = c.snd_nxt
        c.fin()
        a = c.expect(lambda s: s.has_ack and s.ack == c.snd_nxt, "the ACK of our FIN (the "
                     "target enters TIME-WAIT)")
        check_seg(ctx, a)
        c.send_seg("R", seq=c.snd_nxt, ack=0, window=0, note="an exact RST in TIME-WAIT")
        quiet = quiet_collect(c, 0.3)
        ctx.require(not quiet, "%s: the RST was answered" % (quiet[0].words() if quiet else ""))
        c.send_seg("FA", seq=fin_seq, note="our FIN again")
        b = c.expect(lambda s: True, "the answer to our FIN sent again")
        ctx.require(not b.rst and b.has_ack and b.ack == c.snd_nxt, "%s: the RST ended "
                    "TIME-WAIT (an ACK of %d was due)" % (b.words(), c.snd_nxt))
        c.closed = True  # the clean-up RST would be ignored anyway


@check("tcp_review.syn_window_held", level=SHOULD, description="everything sent within the window the SYN-ACK offered "
       "is acknowledged, even when the target can answer none of it (HTTP, our window shut)",
       rfc="RFC 9293 §3.8.6 (the window offered is room to receive), §3.8.6.2.2 (no shrinking)",
       accepts="pipelined GET requests filling the SYN-ACK's window (at most 64 KiB) all "
       "acknowledged within 2 s", timeout=8)
def syn_window_held(ctx):
    with TcpConn(ctx, HTTP, window=0) as c:
        sa = c.open()
        mss = min(sa.mss or 536, 1460)
        req = b"GET /bytes/100000 HTTP/1.1\r\nHost: target\r\n\r\n"
        offered = sa.window
        stream = (req * (offered // len(req) + 1))[:offered]
        ctx.note("the SYN-ACK offered %d bytes" % offered)
        for off in range(0, offered, mss):
            c.send(stream[off:off + mss], note="requests %d-%d" % (off, off + mss))
        a = c.wait(lambda s: s.has_ack and s.ack == c.snd_nxt, 2 * ctx.timescale,
                   "the ACK of all %d bytes" % offered)
        if a is None:
            got = max([seq_diff(s.ack, seq_add(c.iss, 1)) for s in c.segs if s.has_ack])
            ctx.fail("%d of the %d bytes the SYN-ACK offered were acknowledged: the rest "
                     "did not fit" % (got, offered))
