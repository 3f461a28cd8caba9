"""TCP connection setup (RFC 9293 §3.5, §3.10.7.1-2; RFC 1122 §4.2.3.10; RFC 6528)."""

from ..context import BROADCAST_MAC
from ..registry import MUST, SHOULD, check
from ..tcp_peer import (ECHO, HTTP, Seg, TcpConn, check_seg, http_request, is_tcp, opt_mss,
                   seq_add, seq_diff, still_alive, tcp_ports)


def _closed_rst(ctx, c, s, seq, ack, what):
    """s must be the RST a segment to no connection gets (RFC 9293 §3.10.7.1)."""
    check_seg(ctx, s)
    ctx.require(s.rst, "%s was answered by %s, expected a RST" % (what, s.words()))
    ctx.require(not s.data and not s.flags & 0x03, "%s: the RST carries data or SYN/FIN"
                % s.words())
    ctx.require(s.seq == seq, "%s: RST seq=%d, expected %d" % (s.words(), s.seq, seq))
    if ack is None:
        ctx.require(not s.has_ack, "%s: a RST answering an ACK carries no ACK" % s.words())
    else:
        ctx.require(s.has_ack and s.ack == ack, "%s: RST ack=%d, expected RST/ACK ack=%d"
                    % (s.words(), s.ack, ack))


@check("tcp_handshake.syn_to_closed_port_rst", "a SYN to a closed port is answered by "
       "RST/ACK with SEQ 0 and ACK = ISN+1", level=MUST, rfc="RFC 9293 §3.10.7.1, §3.5.2",
       accepts="exactly <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>")
def syn_to_closed_port_rst(ctx):
    c = TcpConn(ctx, ctx.closed_port())
    c.send_seg("S", seq=c.iss, options=opt_mss(1460))
    s = c.expect(what="RST")
    _closed_rst(ctx, c, s, 0, seq_add(c.iss, 1), "the SYN")


@check("tcp_handshake.syn_with_data_to_closed_port", "a SYN carrying data to a closed "
       "port gets a RST/ACK acknowledging the SYN and every data byte",
       level=MUST, rfc="RFC 9293 §3.10.7.1 (SEG.LEN counts the data and the SYN)")
def syn_with_data_to_closed_port(ctx):
    c = TcpConn(ctx, ctx.closed_port())
    c.send_seg("S", seq=c.iss, data=b"0123456789")
    s = c.expect(what="RST")
    _closed_rst(ctx, c, s, 0, seq_add(c.iss, 11), "the SYN with 10 data bytes")


@check("tcp_handshake.ack_to_closed_port_rst", "an ACK-bearing segment to a closed port "
       "gets a RST with SEQ = SEG.ACK and no ACK", level=MUST, rfc="RFC 9293 §3.10.7.1",
       accepts="exactly <SEQ=SEG.ACK><CTL=RST>")
def ack_to_closed_port_rst(ctx):
    c = TcpConn(ctx, ctx.closed_port())
    c.send_seg("PA", seq=c.iss, ack=0x12345678, data=b"anyone?")
    s = c.expect(what="RST")
    _closed_rst(ctx, c, s, 0x12345678, None, "the ACK")


@check("tcp_handshake.ack_to_listener_rst", "an ACK to a listening port (no connection) "
       "gets a RST with SEQ = SEG.ACK", level=MUST, rfc="RFC 9293 §3.10.7.2 (LISTEN, second check)",
       accepts="exactly <SEQ=SEG.ACK><CTL=RST>")
def ack_to_listener_rst(ctx):
    c = TcpConn(ctx, ECHO)
    c.send_seg("A", seq=c.iss, ack=0x2468ACE0)
    s = c.expect(what="RST")
    _closed_rst(ctx, c, s, 0x2468ACE0, None, "the ACK to the listener")


@check("tcp_handshake.synack_to_listener_rst", "a SYN-ACK to a listening port gets a RST "
       "with SEQ = SEG.ACK and opens no connection", level=MUST, rfc="RFC 9293 §3.10.7.2")
def synack_to_listener_rst(ctx):
    c = TcpConn(ctx, ECHO)
    c.send_seg("SA", seq=c.iss, ack=0x0BADF00D, options=opt_mss(1460))
    s = c.expect(what="RST")
    _closed_rst(ctx, c, s, 0x0BADF00D, None, "the SYN-ACK to the listener")


@check("tcp_handshake.syn_gets_synack", "a SYN to a listening port gets a well-formed "
       "SYN-ACK acknowledging ISN+1 with an open window", level=MUST,
       rfc="RFC 9293 §3.5, §3.10.7.2")
def syn_gets_synack(ctx):
    with TcpConn(ctx, ECHO) as c:
        s = c.syn()
        ctx.require(s is not None, "no SYN-ACK from port %d within %.1f s" % (ECHO, ctx.reply))
        check_seg(ctx, s)
        ctx.require(s.syn and s.has_ack and not s.flags & 0x05, "%s: expected SYN+ACK"
                    % s.words())
        ctx.require(s.ack == seq_add(c.iss, 1), "%s acknowledges %d, expected ISN+1 = %d"
                    % (s.words(), s.ack, seq_add(c.iss, 1)))
        ctx.require(s.window > 0, "%s offers a zero window" % s.words())
        ctx.require(not s.data, "%s carries %d data bytes" % (s.words(), len(s.data)))
        c.ack()
        still_alive(ctx, c, "the echo after the handshake")


@check("tcp_handshake.duplicate_syn_answered", "a retransmitted SYN in SYN-RECEIVED gets the "
       "SYN-ACK (same ISN) again, and the handshake still completes",
       level=MUST, rfc="RFC 9293 §3.5 (recovery from a lost SYN-ACK), §3.10.7.4",
       accepts="the SYN-ACK again with the same ISN, or an ACK of the segment (§3.10.7.4 "
       "first check); never a RST or a new ISN")
def duplicate_syn_answered(ctx):
    with TcpConn(ctx, ECHO) as c:
        first = c.syn()
        ctx.require(first is not None and first.syn, "no SYN-ACK to the first SYN")
        c.send_seg("S", seq=c.iss, ack=0, options=opt_mss(1460), note="again")
        s = c.expect(lambda s: True, "an answer to the retransmitted SYN")
        ctx.require(not s.rst, "the retransmitted SYN was answered by a RST: %s" % s.words())
        if s.syn:
            ctx.require(s.seq == first.seq, "%s: the second SYN-ACK has ISN %d, the first "
                        "had %d" % (s.words(), s.seq, first.seq))
        else:
            ctx.require(s.has_ack and s.ack == seq_add(c.iss, 1), "%s: expected a SYN-ACK "
                        "or an ACK of ISN+1" % s.words())
        c.ack()
        still_alive(ctx, c, "the echo after the duplicate SYN")


@check("tcp_handshake.syn_fin_dropped", "a segment with both SYN and FIN opens no "
       "connection", level=MUST,
       rfc="RFC 9293 §3.10.7.2 (SYN+FIN is not a valid open); RFC 9293 §3.1",
       accepts="silence or a RST; never a SYN-ACK")
def syn_fin_dropped(ctx):
    c = TcpConn(ctx, ECHO)
    start = ctx.mark()
    c.send_seg("SF", seq=c.iss, options=opt_mss(1460))
    ctx.silent(lambda f: c.mine(f) and f.raw[14 + (f.raw[14] & 15) * 4 + 13] & 0x02,
               "a SYN-ACK to a SYN+FIN segment", start=start)
    c.closed = False
    c.rcv_nxt = 0  # a RST at ISN+1 removes a connection opened by mistake
    c.snd_nxt = seq_add(c.iss, 1)
    c.abort()


@check("tcp_handshake.syn_bad_checksum_dropped", "a SYN with a wrong TCP checksum gets no "
       "answer", level=MUST, rfc="RFC 9293 §3.1 (Checksum), §3.10.7; RFC 1122 §4.2.2.7")
def syn_bad_checksum_dropped(ctx):
    c = TcpConn(ctx, ECHO)
    start = ctx.mark()
    c.send_seg("S", seq=c.iss, options=opt_mss(1460), checksum="bad")
    ctx.silent(c.mine, "an answer to a SYN with a bad checksum", start=start)
    c.snd_nxt = seq_add(c.iss, 1)
    c.rcv_nxt = 0
    c.abort()


@check("tcp_handshake.syn_to_broadcast_dropped", "a SYN to a broadcast or multicast address "
       "is silently discarded", level=MUST, rfc="RFC 1122 §4.2.3.10, RFC 9293 §3.9.1")
def syn_to_broadcast_dropped(ctx):
    conns = []
    start = ctx.mark()
    for dst, mac in ((ctx.broadcast, BROADCAST_MAC), ("255.255.255.255", BROADCAST_MAC),
                     ("224.0.0.1", "01:00:5e:00:00:01")):
        c = TcpConn(ctx, ECHO)
        c.send_seg("S", seq=c.iss, options=opt_mss(1460), ip=ctx.ip(dst=dst, proto=6),
                   eth=ctx.eth(dst=mac), note="to %s" % dst)
        conns.append(c)
    ctx.silent(lambda f: any(c.mine(f) for c in conns), "an answer to a SYN sent to a "
               "broadcast or multicast address", start=start)


@check("tcp_handshake.isn_unpredictable", "initial sequence numbers of connections from "
       "different ports are unpredictable: not equal, not a constant or linear step, not "
       "small increments", level=SHOULD, rfc="RFC 6528 §3, RFC 9293 §3.4.1",
       accepts="any ISNs whose successive differences are neither all equal, nor evenly "
       "growing, nor all below 2**24 (what a counter or a bare clock gives)")
def isn_unpredictable(ctx):
    isns = []
    for i in range(8):
        with TcpConn(ctx, ECHO) as c:
            s = c.syn()
            ctx.require(s is not None and s.syn, "no SYN-ACK to SYN %d" % (i + 1))
            isns.append(s.seq)
    ctx.note("ISNs: %s" % " ".join("%08x" % x for x in isns))
    ctx.must(len(set(isns)) == len(isns), "the target reused an ISN: %s"
             % " ".join("%08x" % x for x in isns))
    d = [(b - a) & 0xFFFFFFFF for a, b in zip(isns, isns[1:])]
    ctx.must(len(set(d)) > 1, "the ISNs grow by a constant %d per connection (RFC 9293 "
             "§3.4.1 MUST-8: clock-driven, MUST-9: not computable from outside)" % d[0])
    d2 = [(b - a) & 0xFFFFFFFF for a, b in zip(d, d[1:])]
    ctx.require(len(set(d2)) > 1, "the ISNs follow a linear progression")
    ctx.require(not all(x < 1 << 24 for x in d), "the ISNs only advance by small "
                "increments (%s): a counter or clock, not RFC 6528's keyed hash"
                % ", ".join(str(x) for x in d))


def _active_open_trigger(ctx, port):
    """Ask the target to open a connection to the peer's port `port` (the echo recipe:
    `GET /connect/PORT` on its HTTP port). True when it accepted."""
    with TcpConn(ctx, HTTP) as h:
        h.open()
        h.send(http_request("/connect/%d" % port))
        try:
            head = h.read(12, what="the HTTP status line")
        except Exception:
            return False
        return head.startswith(b"HTTP/1.") and head[9:12] == b"200"


@check("tcp_handshake.simultaneous_open", "a SYN crossing the target's own SYN leads "
       "through SYN-RECEIVED to an established connection", level=MUST,
       rfc="RFC 9293 §3.5 (figure 8)",
       accepts="SYN-ACK answering our SYN with the target's own ISN, then ESTABLISHED on "
       "our SYN-ACK; data then flows", timeout=8)
def simultaneous_open(ctx):
    port = ctx.new_port()
    start = ctx.mark()
    if not _active_open_trigger(ctx, port):
        ctx.not_applicable("the target offers no way to make it open a connection "
                           "(GET /connect/PORT on port 80)")
    # the target's SYN comes from one of its ports to our `port`
    syn = None
    clock = ctx.peer.clock
    end = clock() + ctx.reply * 2
    log = ctx.peer.rx_log
    i = start
    while syn is None:
        while i < len(log) and syn is None:
            f = log[i]
            i += 1
            if is_tcp(f) and tcp_ports(f)[1] == port:
                s = Seg(f)
                if s.syn and not s.has_ack:
                    syn = s
        if syn is None:
            left = end - clock()
            ctx.require(left > 0, "the target accepted GET /connect/%d but sent no SYN "
                        "within %.1f s" % (port, ctx.reply * 2))
            ctx.peer.recv(left)
    c = TcpConn(ctx, syn.sport, sport=port)
    c.cursor = i
    c.rcv_nxt = seq_add(syn.seq, 1)
    c.irs = syn.seq
    with c:
        # our own SYN (no ACK): the target is in SYN-SENT and must go to SYN-RECEIVED
        c.send_seg("S", seq=c.iss, ack=0, options=opt_mss(1460), advance=True,
                   note="crossing")
        s = c.expect(lambda s: s.syn or s.rst, "the target's SYN-ACK")
        check_seg(ctx, s)
        ctx.require(not s.rst, "the target reset the crossing SYN: %s" % s.words())
        ctx.require(s.has_ack and s.ack == seq_add(c.iss, 1) and s.seq == syn.seq,
                    "%s: expected SYN-ACK seq=%d (its ISN) ack=%d" % (
                        s.words(), syn.seq, seq_add(c.iss, 1)))
        c.send_seg("SA", seq=c.iss, options=opt_mss(1460), note="our SYN-ACK")
        # established: whatever the target's service does, data we send is acknowledged
        c.send(b"simultaneous")
        a = c.expect(lambda s: s.has_ack and seq_diff(s.ack, c.snd_nxt) >= 0 and not s.syn,
                     "an ACK of data on the simultaneously opened connection")
        check_seg(ctx, a)
