# One TCP connection: its control block and the RFC 9293 §3.10.7 segment
# arrival rules, with RFC 5961 (challenge ACKs), RFC 6298 (RTO, Karn),
# RFC 5681 + RFC 6582 (slow start, congestion avoidance, NewReno fast
# retransmit / recovery) and RFC 7323 window scaling.
#
# Segments go out through the layer (layer.py: send_ack, send_syn, send_rst,
# output); buffers are the user's (io.py) and only reached through In.read /
# In.write. Sequence numbers are 32-bit and compared modulo 2**32 inline:
# `(a - b) & MASK` is the distance from b forward to a.
from ...compat import const, micropython
from . import io
from . import sack

MASK = const(0xFFFFFFFF)
HALF = const(0x80000000)

_FIN = const(0x01)
_SYN = const(0x02)
_RST = const(0x04)
_ACK = const(0x10)

# States (RFC 9293 §3.3.2). LISTEN is a Listener (endpoint.py), not a connection.
CLOSED = const(0)
LISTEN = const(1)
SYN_SENT = const(2)
SYN_RECEIVED = const(3)
ESTABLISHED = const(4)
FIN_WAIT_1 = const(5)
FIN_WAIT_2 = const(6)
CLOSE_WAIT = const(7)
CLOSING = const(8)
LAST_ACK = const(9)
TIME_WAIT = const(10)

STATE_NAMES = ("CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
               "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT")

# arrive() results besides the io kinds: the segment was dropped without an
# answer (the user is not called), or a TIME-WAIT connection gave way to a new SYN
DROP = const(-1)
REOPEN = const(-2)

MAX_RTO = const(60000)
TS_VALID_MS = const(2073600000)  # RFC 7323 §5.5: TS.Recent is stale after 24 days


class Seg:
    """The arriving segment's fields (one preallocated object in the layer)."""

    def __init__(self):
        self.view = None
        self.seq = 0
        self.ack = 0
        self.flags = 0
        self.wnd = 0
        self.doff = 0  # offset of the data in view
        self.dlen = 0


class Connection:
    def __init__(self, layer, lport, rip, rip_int, rport, iss, now):
        self.key = None
        self.shadowed = False  # another connection holds its endpoint table entry
        self.lport = lport
        self.rip = rip  # remote address, 4 bytes (16: IPv6, layer._v6 sets the rest)
        self.rip_int = rip_int
        self.lip = None  # our IPv6 address (None: IPv4, the stack's address)
        self.off = 34  # where the TCP header goes in a frame
        self.net = layer.stack.ip  # the IP layer segments go through
        self.rport = rport
        self.state = CLOSED
        self.listener = None  # the Listener of a passive open
        self.queued = False  # waiting in the listener's accept queue
        # send sequence space
        self.iss = iss
        self.snd_una = iss
        self.snd_nxt = iss
        self.snd_max = iss  # highest sequence number sent + 1 (snd_nxt goes back on RTO)
        self.snd_wnd = 0
        self.snd_wl1 = 0
        self.snd_wl2 = 0
        self.max_snd_wnd = 0
        self.snd_wscale = 0  # the peer's shift (applied to windows we receive)
        self.rcv_wscale = 0  # ours (applied to windows we send); 0 unless both agreed
        self.peer_ws = False  # the peer's SYN offered window scaling
        self.mss = 536  # send MSS: RFC 9293 default until the peer's option says more
        self.fin_seq = -1  # sequence number of our FIN once sent
        # receive sequence space
        self.irs = 0
        self.rcv_nxt = 0
        self.rcv_adv = 0  # right edge of the window we advertised
        self.rcv_space = layer.rcv_window  # free space the RecvBuf last reported
        self.rcv_space_max = layer.rcv_window
        self.rcv_fin = -1  # sequence number of the peer's FIN, seen but not yet reached
        # RFC 6298
        self.srtt8 = -1  # smoothed RTT * 8 (ms); -1 before the first sample
        self.rttvar4 = 0  # RTT variation * 4
        self.rto = layer.rto_initial
        self.rtt_seq = 0  # timing the segment that ends before rtt_seq
        self.rtt_at = -1  # when it was sent; -1: not timing
        self.retries = 0
        # RFC 5681 / 6582
        self.cwnd = 0
        self.ssthresh = 0x3FFFFFFF
        self.dupacks = 0
        self.recover = iss
        self.in_recovery = False
        self.partial_seen = False
        self.rexmit = False  # retransmit the first unacknowledged segment on the next write
        self.unsent = 0  # bytes the send buffer held beyond snd_nxt at the last write
        self.syn_rexmit = False  # our SYN was retransmitted (RFC 5681 §3.1: IW = 1 MSS)
        # acknowledgments
        self.ack_pending = 0  # in-order segments received and not yet acknowledged
        self.ack_now = False
        self.ack_queued = False  # in the layer's list of ACKs due at the batch's end
        self.tso = False  # segments of several MSS went out (the NIC cuts them)
        # timers (absolute ms, -1 = off)
        self.rto_at = -1
        self.delack_at = -1
        self.persist_at = -1
        self.persist_shift = 0
        self.ka_at = -1
        self.tw_at = -1
        self.pto_at = -1  # RFC 8985 tail loss probe (layer.arm_pto)
        self.fw2_at = -1  # FIN-WAIT-2: when a silent peer is given up on
        self.chal_t = -1000000  # this connection's challenge-ACK second and budget
        self.chal_left = 0
        self.tlp_sent = False  # a probe went out and no ACK of new data came since
        # options
        self.nodelay = False
        self.ka_idle = 0  # keepalive: 0 = off (RFC 1122 §4.2.3.6 default)
        self.ka_intvl = 75000
        self.ka_cnt = 9
        self.ka_sent = 0
        self.last_rx = now
        # the user's side
        self.due = False  # in the layer's list of connections wanting user.send
        self.rbuf = None  # the RecvBuf last met (start() is called on a new one)
        self.sbuf = None
        # the addresses' part of the pseudo-header sum, for the address it used
        self.psum_src = None
        self.psum = 0
        # the Ethernet + IPv4 headers of our segments (ip.header_template), and
        # until when they are trusted without asking routing and ARP again
        self.tmpl = bytearray(34)
        self.tmpl_sum = -1
        self.tmpl_until = -1
        self.tmpl_src = None
        # RFC 7323 timestamps (ts_ok once both SYNs carried one)
        self.ts_ok = False
        self.ts_recent = 0
        self.ts_recent_at = now  # when TS.Recent was taken (PAWS trusts it 24 days)
        self.ts_off = iss  # our TSval = now + ts_off: a per-connection offset (§7.1)
        self.last_ack_sent = 0  # RCV.NXT of the last segment we sent (§4.3)
        # RFC 2018 SACK (sack_ok once both SYNs carried SACK-permitted)
        self.sack_ok = False
        self.sack_out = None  # the blocks our ACKs report: [left, right, ...]
        self.sack_n = 0
        self.sacked = []  # the sender's scoreboard (sack.py)
        self.sacked_bytes = 0
        self.high_rxt = iss  # RFC 6675 HighRxt: retransmitted up to here
        self.hole_len = 0

    def state_name(self):
        return STATE_NAMES[self.state]

    def flight(self):
        return (self.snd_max - self.snd_una) & MASK

    # -- RFC 6298 -----------------------------------------------------------
    def rtt_sample(self, r, layer):
        if r < 0:
            r = 0
        if self.srtt8 < 0:
            self.srtt8 = r << 3
            self.rttvar4 = r << 1
        else:
            delta = r - (self.srtt8 >> 3)
            self.srtt8 += delta
            if self.srtt8 <= 0:
                self.srtt8 = 1
            if delta < 0:
                delta = -delta
            self.rttvar4 += delta - (self.rttvar4 >> 2)
        var = self.rttvar4 if self.rttvar4 > 1 else 1
        rto = (self.srtt8 >> 3) + var
        if rto < layer.rto_min:
            rto = layer.rto_min
        elif rto > MAX_RTO:
            rto = MAX_RTO
        self.rto = rto

    # -- segment arrival (RFC 9293 §3.10.7.3 / .4) ------------------------------
    def arrive(self, L, sg, now):
        """Apply an arriving segment; returns an io kind, DROP or REOPEN.
        L.sig collects the user signals; L.pkt.data_* the data to read."""
        st = self.state
        if st == SYN_SENT:
            return self._arrive_syn_sent(L, sg, now)
        c = L.c
        flags = sg.flags
        seq = sg.seq
        dlen = sg.dlen

        if flags & _SYN:
            if st == SYN_RECEIVED and seq == self.irs:
                if not flags & _ACK:
                    # the peer never saw our SYN-ACK: send it again now
                    L.send_syn(self, now)
                    return io.SENDING
                # a SYN-ACK crossing ours (simultaneous open): its SYN is old news
                flags &= ~_SYN
                seq = (seq + 1) & MASK
            elif st == TIME_WAIT and not flags & (_ACK | _RST) and (seq - self.rcv_nxt) & MASK < HALF \
                    and seq != self.rcv_nxt and L.listeners.get(self.lport) is not None:
                # RFC 9293 §3.10.7.4 / RFC 6191: a new incarnation may reuse the pair
                return REOPEN

        if st == TIME_WAIT and flags & _RST and not L.time_wait_rst_accepted:
            # RFC 1337 ("TIME-WAIT assassination", fix TW1): a RST would end
            # TIME-WAIT early and let an old duplicate into a new incarnation;
            # TIME-WAIT ends by its timer (or a new SYN, RFC 6191) only
            c["tcp_time_wait_rst_ignored"] += 1
            return DROP

        # RFC 7323 §5.3 R1 (PAWS): an older timestamp than TS.Recent is an old
        # duplicate: not acceptable (an ACK answers it, as for any such segment)
        ts = -1
        if self.ts_ok and L.has_opts and L.opts.ts_val >= 0:
            ts = L.opts.ts_val
            if (ts - self.ts_recent) & MASK >= HALF and not flags & _RST \
                    and now - self.ts_recent_at < TS_VALID_MS:
                c["tcp_paws_dropped"] += 1
                L.send_ack(self, now)
                return io.SENDING

        # 1. sequence number acceptability
        wnd = (self.rcv_adv - self.rcv_nxt) & MASK
        if wnd >= HALF:
            wnd = 0
        seglen = dlen
        if flags & _SYN:
            seglen += 1
        if flags & _FIN:
            seglen += 1
        d = (seq - self.rcv_nxt) & MASK
        if d >= HALF:
            d -= 0x100000000
        if seglen == 0:
            ok = d == 0 if wnd == 0 else 0 <= d < wnd
        elif wnd == 0:
            # RFC 9293: with a zero window still take the ACK (and RST) of a
            # segment at RCV.NXT; its data is dropped
            ok = d == 0
            if ok:
                dlen = 0
                flags &= ~(_FIN | _SYN)
                self.ack_now = True
        else:
            ok = (0 <= d < wnd) or (0 <= d + seglen - 1 < wnd)
        if not ok and L.accept_out_of_window:
            ok = True  # fault switch: no acceptability test
        if not ok:
            if flags & _RST:
                c["tcp_rst_ignored"] += 1
                if L.answer_rst:  # fault switch: answer it with an ACK
                    L.send_ack(self, now)
                    return io.SENDING
                return DROP
            if d < 0:
                c["tcp_duplicate"] += 1
            else:
                c["tcp_out_of_window"] += 1
            if st == TIME_WAIT and flags & _FIN:
                self.tw_at = now + L.time_wait
                L.arm(self.tw_at)
            L.send_ack(self, now)
            return io.SENDING
        # an acceptable segment shows the peer alive (keepalive, RFC 1122
        # §4.2.3.6); an old duplicate or a blind guess does not
        self.last_rx = now
        self.ka_sent = 0
        if ts >= 0 and ((seq - self.last_ack_sent) & MASK == 0
                        or (seq - self.last_ack_sent) & MASK >= HALF):
            # R3 / §4.3: SEG.SEQ <= Last.ACK.sent (the segment reaches the edge
            # we acknowledged): its TSval is the one to echo
            if (ts - self.ts_recent) & MASK < HALF:
                self.ts_recent = ts
                self.ts_recent_at = now
        # trim to the window
        doff = sg.doff
        if d < 0:
            if flags & _SYN:
                flags &= ~_SYN
                d += 1
            if d < 0:
                doff -= d
                dlen += d
                d = 0
                if dlen < 0:
                    dlen = 0
        if d + dlen > wnd:
            dlen = wnd - d if wnd > d else 0
            flags &= ~_FIN
        if self.rcv_fin >= 0:
            # nothing exists beyond the FIN already seen (a peer saying otherwise
            # must not push data past it)
            room = (self.rcv_fin - self.rcv_nxt) & MASK
            if d + dlen > room:
                dlen = room - d if room > d else 0

        # 2. RST (RFC 5961 §3.2)
        if flags & _RST:
            if seq != self.rcv_nxt:
                L.challenge_ack(self, now)
                return io.SENDING
            c["tcp_rst_rx"] += 1
            if st == SYN_RECEIVED and self.listener is not None:
                L.sig.relisten = True
            elif st <= CLOSE_WAIT:
                L.sig.reset = True
            L.delete(self)
            return io.CLOSED

        # 4. SYN in a synchronized state (RFC 5961 §4)
        if flags & _SYN:
            if st == SYN_RECEIVED and self.listener is not None:
                L.sig.relisten = True
                L.delete(self)
                return io.CLOSED
            L.challenge_ack(self, now)
            return io.SENDING

        # 5. ACK
        if not flags & _ACK:
            c["tcp_no_ack"] += 1
            return DROP
        ack = sg.ack
        if st == SYN_RECEIVED:
            kind = self._ack_of_synack(L, sg, seq, ack, now)
            if kind != io.OPEN:
                return kind
            st = self.state
        ua = (ack - self.snd_una) & MASK
        if ua >= HALF:
            ua -= 0x100000000
        if ua > ((self.snd_max - self.snd_una) & MASK):
            # acknowledges data never sent (RFC 5961 §5.2)
            c["tcp_bad_ack"] += 1
            L.challenge_ack(self, now)
            return io.SENDING
        if ua < -self.max_snd_wnd:
            c["tcp_bad_ack"] += 1
            L.challenge_ack(self, now)
            return io.SENDING
        swnd = sg.wnd << self.snd_wscale
        if self.sack_ok and L.has_opts and L.opts.sack_n:
            sack.update(self, L.opts.sack, L.opts.sack_n)
        if ua > 0:
            self._new_ack(L, ack, ua, now, ts)
        elif ua == 0 and dlen == 0 and not flags & (_SYN | _FIN) and swnd == self.snd_wnd \
                and self.snd_max != self.snd_una and swnd:
            # (with the window shut they answer our probes: no sign of loss)
            self._dupack(L, now)
        self._update_window(swnd, seq, ack)
        if st >= FIN_WAIT_1:
            kind = self._closing_on_ack(L, st, flags, now)
            if kind != io.OPEN:
                return kind
            st = self.state

        # 7. data (8. FIN)
        return self._deliver(L, st, flags, d, doff, dlen, now)

    # (arrive's later steps, per state; each returns an io kind, io.OPEN to go on)
    def _ack_of_synack(self, L, sg, seq, ack, now):
        """SYN-RECEIVED: the ACK of our SYN-ACK establishes the connection (RFC 9293
        §3.10.7.4, fifth check, SYN-RECEIVED) unless the accept queue is full."""
        if not (0 < (ack - self.snd_una) & MASK <= (self.snd_max - self.snd_una) & MASK):
            L.c["tcp_bad_ack"] += 1
            L.send_rst(self.rip, self.rport, self.lport, ack, 0, _RST, now)
            return io.SENDING
        lst = self.listener
        if lst is not None and len(lst.queue) >= lst.backlog:
            L.c["tcp_backlog_full"] += 1
            return DROP  # stay half-open: the peer's retransmission may find room
        L.establish(self, now)
        self.snd_wnd = sg.wnd << self.snd_wscale
        self.snd_wl1 = seq
        self.snd_wl2 = ack
        if self.snd_wnd > self.max_snd_wnd:
            self.max_snd_wnd = self.snd_wnd
        return io.OPEN

    def _update_window(self, swnd, seq, ack):
        """The send window from an acceptable ACK (RFC 9293 §3.10.7.4, fifth check)."""
        if (self.snd_wl1 - seq) & MASK >= HALF or (
                self.snd_wl1 == seq and (ack - self.snd_wl2) & MASK < HALF):
            old = self.snd_wnd
            self.snd_wnd = swnd
            self.snd_wl1 = seq
            self.snd_wl2 = ack
            if swnd > self.max_snd_wnd:
                self.max_snd_wnd = swnd
            if swnd and not old:
                self.persist_at = -1
                self.persist_shift = 0
                self.retries = 0  # the persist timer's unanswered probes end here
        if self.snd_wnd == 0:
            # the peer answers while its window is shut: it is alive (RFC 1122
            # §4.2.2.17: probing goes on as long as it acknowledges the probes)
            self.retries = 0

    def _closing_on_ack(self, L, st, flags, now):
        """FIN-WAIT-1, FIN-WAIT-2, CLOSING, LAST-ACK, TIME-WAIT: what the ACK of our
        FIN (or the peer's silence so far) moves on."""
        fin_acked = self.fin_seq >= 0 and self.snd_una == (self.fin_seq + 1) & MASK
        if st == FIN_WAIT_1:
            if fin_acked:
                self.state = FIN_WAIT_2
                if L.fin_wait2:
                    self.fw2_at = now + L.fin_wait2
                    L.arm(self.fw2_at)
        elif st == FIN_WAIT_2:
            if L.fin_wait2:
                self.fw2_at = now + L.fin_wait2  # the peer is alive: its silence counts anew
                L.arm(self.fw2_at)
        elif st == CLOSING:
            if fin_acked:
                L.enter_time_wait(self, now)
        elif st == LAST_ACK:
            if fin_acked:
                L.delete(self)
                return io.CLOSED
        elif st == TIME_WAIT:
            # only a retransmitted FIN can arrive: acknowledge it, restart 2 MSL
            if flags & _FIN:
                self.tw_at = now + L.time_wait
                L.arm(self.tw_at)
                L.send_ack(self, now)
                return io.SENDING
            return DROP
        return io.OPEN

    def _deliver(self, L, st, flags, d, doff, dlen, now):
        """Data and FIN of an acceptable segment (RFC 9293 §3.10.7.4, seventh and eighth
        checks): handed to the user in ESTABLISHED and FIN-WAIT-1/2, counted after a FIN."""
        pkt = L.pkt
        if dlen:
            if st == ESTABLISHED or st == FIN_WAIT_1 or st == FIN_WAIT_2:
                pkt.data_off = doff
                pkt.data_len = dlen
                pkt.seq = (self.rcv_nxt + d) & MASK
                L.sig.data = True
            else:
                L.c["tcp_data_after_fin"] += 1
                dlen = 0
        if flags & _FIN:
            if st == ESTABLISHED or st == FIN_WAIT_1 or st == FIN_WAIT_2:
                if self.rcv_fin < 0:
                    self.rcv_fin = (self.rcv_nxt + d + dlen) & MASK
                if self.rcv_fin == self.rcv_nxt:
                    self.consume_fin(L, now)
                else:
                    self.ack_now = True  # out of order: a duplicate ACK
            else:
                self.ack_now = True  # a retransmitted FIN: acknowledge again
        return io.OPEN

    def _arrive_syn_sent(self, L, sg, now):
        c = L.c
        flags = sg.flags
        ack = sg.ack
        if flags & _ACK:
            if not (0 < (ack - self.iss) & MASK <= (self.snd_max - self.iss) & MASK):
                if not flags & _RST:
                    c["tcp_bad_ack"] += 1
                    L.send_rst(self.rip, self.rport, self.lport, ack, 0, _RST, now)
                    return io.SENDING
                c["tcp_rst_ignored"] += 1
                return DROP
        if flags & _RST:
            if flags & _ACK:
                c["tcp_rst_rx"] += 1
                L.sig.reset = True  # connection refused
                L.delete(self)
                return io.CLOSED
            c["tcp_rst_ignored"] += 1
            return DROP
        if not flags & _SYN:
            c["tcp_no_ack"] += 1
            return DROP
        self.last_rx = now
        self.irs = sg.seq
        self.rcv_nxt = (sg.seq + 1) & MASK
        # the window our SYN offered, now that it has a left edge (before the
        # IRS, _xmit could only place it relative to RCV.NXT = 0)
        w = self.rcv_space if self.rcv_space < 65535 else 65535
        self.rcv_adv = (self.rcv_nxt + w) & MASK
        L.take_syn_options(self)
        self.snd_wnd = sg.wnd  # never scaled in a SYN (RFC 7323 §2.2)
        if self.snd_wnd > self.max_snd_wnd:
            self.max_snd_wnd = self.snd_wnd
        self.snd_wl1 = sg.seq
        self.snd_wl2 = ack
        if flags & _ACK:
            self.snd_una = ack
            if self.rtt_at >= 0:
                self.rtt_sample(now - self.rtt_at, L)
                self.rtt_at = -1
            L.establish(self, now)
            self.ack_now = True
            return io.OPEN
        # simultaneous open (RFC 9293 §3.5, figure 8)
        self.state = SYN_RECEIVED
        self.rtt_at = -1
        L.send_syn(self, now)
        return io.SENDING

    @micropython.native
    def _new_ack(self, L, ack, acked, now, ts):
        """SND.UNA < SEG.ACK <= SND.MAX: data (or our SYN/FIN) acknowledged.
        ts: the segment's TSval (-1: none); its TSecr times the round trip."""
        mss = self.mss
        flight_before = (self.snd_max - self.snd_una) & MASK
        self.snd_una = ack
        if (self.snd_nxt - ack) & MASK >= HALF:
            self.snd_nxt = ack  # after a go-back-N the peer may be ahead of snd_nxt
        self.retries = 0
        if self.sacked:
            sack.prune(self)
        elif self.sack_ok:
            self.high_rxt = ack
        if ts >= 0 and L.opts.ts_ecr:
            # RFC 7323 §4.1: every ACK of new data is an RTT sample (TSecr is
            # our clock when the data that triggered it went out)
            r = (now + self.ts_off - L.opts.ts_ecr) & MASK
            if r < HALF:
                self.rtt_sample(r, L)
            self.rtt_at = -1
        elif self.rtt_at >= 0 and (ack - self.rtt_seq) & MASK < HALF:
            self.rtt_sample(now - self.rtt_at, L)
            self.rtt_at = -1
        if self.in_recovery:
            if (ack - self.recover) & MASK < HALF:
                # full acknowledgment (RFC 6582 §3.2 step 3): cwnd = min(ssthresh,
                # FlightSize + SMSS) after NewReno, whose inflated window kept new
                # data flowing; SACK recovery is paced by pipe and ends with
                # little in flight, so it goes on at ssthresh (RFC 6937 §3, as
                # Linux) rather than restart from one segment
                fl = (self.snd_max - ack) & MASK
                w = fl + mss
                if self.sack_ok or self.ssthresh < w:
                    self.cwnd = self.ssthresh
                else:
                    self.cwnd = w
                self.in_recovery = False
                self.dupacks = 0
            elif self.sack_ok:
                # RFC 6675: the scoreboard says what to resend; pipe, not cwnd
                # deflation, paces it
                if not self.partial_seen:
                    self.partial_seen = True
                    self.rto_at = now + self.rto
                    L.arm(self.rto_at)
                L.want_send(self)
            else:
                # partial acknowledgment: resend the next hole, deflate
                self.rexmit = True
                self.cwnd -= acked
                if acked >= mss:
                    self.cwnd += mss
                if self.cwnd < mss:
                    self.cwnd = mss
                if not self.partial_seen:
                    self.partial_seen = True
                    self.rto_at = now + self.rto
                    L.arm(self.rto_at)
                L.want_send(self)
        else:
            self.dupacks = 0
            if flight_before + mss >= self.cwnd:  # grow only when cwnd was the limit
                if self.cwnd < self.ssthresh:
                    # RFC 5681 §3.1: at most one MSS per ACK. An ACK of a TSO
                    # segment stands for the ACKs its pieces would have drawn
                    # (the receiver saw one segment): it grows by what it covers.
                    lim = acked if self.tso else mss
                    self.cwnd += acked if acked < lim else lim
                else:
                    inc = mss * mss // self.cwnd
                    self.cwnd += inc if inc else 1
        self.tlp_sent = False
        if self.snd_una == self.snd_max:
            self.rto_at = -1
            self.pto_at = -1
        elif not self.in_recovery:  # in recovery: only the first partial ACK restarts it
            self.rto_at = now + self.rto
            L.arm(self.rto_at)
            L.arm_pto(self, now)
        else:
            self.pto_at = -1

    def _dupack(self, L, now):
        self.dupacks += 1
        mss = self.mss
        if self.in_recovery:
            if self.sack_ok:
                L.want_send(self)  # pipe shrank by what the ACK SACKed
            else:
                self.cwnd += mss  # each further duplicate: a segment has left the network
            return
        thresh = L.dupthresh
        fl = (self.snd_max - self.snd_una) & MASK
        if fl < 4 * mss and not self.unsent and L.early_rexmit:
            # RFC 5827 early retransmit: too few segments out for three duplicates
            oseg = (fl + mss - 1) // mss
            thresh = oseg - 1 if oseg > 2 else 1
        # RFC 6675 §5: with SACK, also enter recovery once more than
        # (DupThresh - 1) * SMSS bytes above SND.UNA are SACKed (IsLost(SND.UNA))
        lost = self.sack_ok and self.sacked_bytes > (L.dupthresh - 1) * mss \
            and L.dupthresh < 0x3FFFFFFF
        if self.dupacks < thresh and not lost:
            # RFC 3042 limited transmit: one new segment for each of the first
            # two duplicates (output() allows min(dupacks, 2) MSS more)
            if self.unsent and self.dupacks <= 2:
                L.want_send(self)
            return
        if self.dupacks == thresh or lost:
            # RFC 6582 §3.2 step 2: only when the ACK covers more than `recover`
            # (`recover` here is one past the highest byte sent, hence >=)
            if (self.snd_una - self.recover) & MASK >= HALF:
                return
            fl = (self.snd_max - self.snd_una) & MASK
            half = fl >> 1
            self.ssthresh = half if half > 2 * mss else 2 * mss
            self.recover = self.snd_max
            self.in_recovery = True
            self.partial_seen = False
            self.rtt_at = -1  # Karn: never time a retransmitted segment
            if self.sack_ok:
                self.cwnd = self.ssthresh  # RFC 6675 §5 (4.2): pipe paces recovery
                self.high_rxt = self.snd_una
            else:
                self.cwnd = self.ssthresh + 3 * mss
                self.rexmit = True
            L.c["tcp_fast_retrans_sent"] += 1
            L.want_send(self)

    def _probe_shut_window(self, L, now):
        """The peer shut its window with data in flight (RFC 9293 §3.8.6.1,
        MUST-35; RFC 1122 §4.2.2.17): each RTO probes it instead of resending
        into it. Its answers reset `retries` (arrive), so only a silent peer
        times out. Not congestion: cwnd stays; what lay beyond the window goes
        again once it opens."""
        L.window_probe(self, now)
        self.snd_nxt = self.snd_una
        self.rto_at = now + self.rto
        L.arm(self.rto_at)

    def consume_fin(self, L, now):
        """The peer's FIN is next in sequence: the stream from the peer ends."""
        self.rcv_nxt = (self.rcv_fin + 1) & MASK
        self.rcv_fin = -1
        self.ack_now = True
        L.sig.half_closed = True
        st = self.state
        if st == ESTABLISHED:
            self.state = CLOSE_WAIT
        elif st == FIN_WAIT_1:
            self.state = CLOSING
        elif st == FIN_WAIT_2:
            L.enter_time_wait(self, now)

    def on_rto(self, L, now):
        """The retransmission timer expired (RFC 6298 §5.4-5.6, RFC 5681 §3.1)."""
        c = L.c
        st = self.state
        if st != SYN_SENT and st != SYN_RECEIVED and self.snd_una == self.snd_max:
            self.rto_at = -1  # nothing outstanding
            return
        self.retries += 1
        if st == SYN_SENT or st == SYN_RECEIVED:
            limit = L.syn_retries
        else:
            limit = L.max_retries
        if self.retries > limit:
            c["tcp_aborted"] += 1
            if st == SYN_RECEIVED and self.listener is not None:
                L.close_by_timer(self, False, True)
            else:
                L.close_by_timer(self, True, False)
            return
        c["tcp_timeouts"] += 1
        if not L.no_rto_backoff:
            rto = self.rto << 1
            self.rto = rto if rto < MAX_RTO else MAX_RTO
        self.rtt_at = -1
        if st == SYN_SENT or st == SYN_RECEIVED:
            self.syn_rexmit = True
            L.send_syn(self, now)
            return
        if self.snd_wnd == 0 and not L.no_probe_in_flight:
            self._probe_shut_window(L, now)
            return
        if self.retries == 1:
            fl = (self.snd_max - self.snd_una) & MASK
            half = fl >> 1
            mss = self.mss
            self.ssthresh = half if half > 2 * mss else 2 * mss
        self.cwnd = self.mss
        self.in_recovery = False
        self.dupacks = 0
        self.recover = self.snd_max
        if self.sack_ok:
            sack.clear(self)  # RFC 6675 §5.1: after an RTO the scoreboard is not trusted
        self.snd_nxt = self.snd_una  # go back N
        self.rto_at = now + self.rto
        L.arm(self.rto_at)
        L.want_send(self)
