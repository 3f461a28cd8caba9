# The TCP layer: validates arriving segments (wire/tcp.py), finds their
# connection (endpoint.py), applies them (connection.py), hands the result to
# the user as an `In` (io.py), and sends segments through the IPv4 layer:
#   view = stack.ip.send_begin()            a transmit buffer (None: none free)
#   TCP header + data at PAYLOAD_OFF (34)
#   stack.ip.send_finish(view, dst, 6, n, now)
#
# Layer contract (iface.py): receive(view, ip_off, ip_hlen, end, now) -> 0
# (answers are never written in place), poll(now), next_timeout(now).
#
# IPv6 (layer/ip6.py calls receive6(view, ip_off, off, end, now)): the same
# layer, the family carried by the connection -- `rip` 16 bytes, `lip` the
# local address (None for IPv4), `off` where its TCP header goes in a frame
# (34 or 54), `net` the IP layer it sends through, a 54-byte frame template,
# and `rip_int` a keyed 32-bit digest of the address above 2**32 (endpoint.py;
# lookups then compare the addresses). receive() takes both families: the
# IPv4 path pays one test of `fam`. IPv6 connections send no TSO segments (the
# NICs offer TSO4 only) and their MSS comes from the link's MTU.
#
# Every timer runs on the `now` the caller passes (ms). Parameters are
# constructor arguments; the defaults follow the RFCs (RTO 1 s initial and
# minimum, RFC 6298; delayed ACK 40 ms, RFC 1122 allows up to 500 ms; MSL 30 s
# so TIME-WAIT lasts 60 s).
from ...compat import const, micropython
from ...wire import tcp as W
from ...wire.checksum import csum
from . import io
from . import cookie, sack
from .connection import (Connection, Seg, REOPEN, CLOSED, SYN_SENT, SYN_RECEIVED,
                         ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, FIN_WAIT_2, LAST_ACK, TIME_WAIT,
                         STATE_NAMES,
                         MAX_RTO)
from .endpoint import Endpoint, Listener

MASK = const(0xFFFFFFFF)
HALF = const(0x80000000)
PAYLOAD_OFF = const(34)  # Ethernet 14 + IPv4 20: where send_begin() wants the TCP header
PAYLOAD6_OFF = const(54)  # Ethernet 14 + IPv6 40
PROTO_TCP = const(6)
RCV_MSS = const(1460)  # 1500-byte MTU - 40
TEMPLATE_MS = const(100)  # a connection's cached frame header is checked with ARP this often
# A deliberate deviation from RFC 9293 MUST-16 (docs/TCP.md): an MSS option
# below this is raised to it (counted, tcp_mss_raised), as Linux raises one
# below tcp_min_snd_mss (48) since CVE-2019-11479 -- a peer could otherwise
# make us cut every byte it asks for into its own segment.
MIN_MSS = const(64)

_FIN = const(0x01)
_SYN = const(0x02)
_RST = const(0x04)
_PSH = const(0x08)
_ACK = const(0x10)


class TcpLayer:
    def __init__(self, stack, user=None, slots=128, syn_max=32, rcv_window=65536,
                 rto_initial=1000, rto_min=1000, delack=40, msl=30000, max_retries=12,
                 syn_retries=6, challenge_limit=10, burst=32, isn_seed=None, wscale=0,
                 iw10=True, timestamps=True, sack_permitted=True, tail_loss_probe=True,
                 syncookies=True, per_source=32, fin_wait2=60000, challenge_global=1000):
        self.stack = stack
        self.nic = stack.nic
        self.c = stack.counters.c
        self.user = user
        seed = isn_seed if isn_seed is not None else getattr(stack, "rng_seed", None)
        self.ep = Endpoint(slots, syn_max, seed)
        self.listeners = {}
        self.rcv_window = rcv_window
        ws = wscale if 0 <= wscale <= W.MAX_WSCALE else W.MAX_WSCALE
        while (rcv_window >> ws) > 65535 and ws < W.MAX_WSCALE:
            ws += 1
        self.wscale = ws  # the shift we offer (RFC 7323): at least `wscale`, enough for rcv_window
        self.rto_initial = rto_initial
        self.rto_min = rto_min
        self.delack = delack
        self.time_wait = 2 * msl
        self.max_retries = max_retries
        self.syn_retries = syn_retries
        # RFC 5961 §7 challenge ACKs: `challenge_limit` a second per connection,
        # and a global budget drawn at random each second around
        # `challenge_global` (CVE-2016-5696: a fixed global count lets an
        # off-path attacker learn a connection's four-tuple by counting its own)
        self.challenge_limit = challenge_limit
        self.challenge_global = challenge_global
        self._chal_left = challenge_global
        self._chal_t = -1000000
        self._rng = (self.ep.kw[2] | 1) & MASK
        self.syncookies = syncookies  # once the half-open queue is full (cookie.py)
        self._cookie_at = -1000000  # when the last cookie went out
        self.per_source = per_source  # connections one remote address may hold (0: any)
        self.fin_wait2 = fin_wait2  # ms a FIN-WAIT-2 connection may stay silent
        self.use_ts = timestamps  # offer / accept RFC 7323 timestamps
        self.use_sack = sack_permitted  # offer / accept RFC 2018 SACK
        self.tlp = tail_loss_probe  # RFC 8985 §7
        self._iw_bytes = 14600 if iw10 else 4380
        self._iw_segs = 10 if iw10 else 4
        self.dupthresh = 3
        self.early_rexmit = True  # RFC 5827 early retransmit
        # test-only fault switches (stack/faults.py), read once
        faults = getattr(stack, "faults", ())
        self.ignore_checksum = "ignore_tcp_checksum" in faults
        self.no_challenge_ack = "no_challenge_ack" in faults
        self.ep.fixed_isn = "fixed_isn" in faults
        self.no_rto_backoff = "no_rto_backoff" in faults
        self.answer_rst = "answer_rst" in faults
        self.no_mss_option = "no_mss_option" in faults
        self.accept_out_of_window = "accept_out_of_window" in faults
        self.syn_window_default = "syn_window_default" in faults
        self.no_probe_in_flight = "no_probe_in_flight" in faults
        self.window_update_unmoved = "window_update_unmoved" in faults
        self.rexmit_past_window = "rexmit_past_window" in faults
        self.dupack_inflation = "dupack_inflation" in faults
        self.time_wait_rst_accepted = "time_wait_rst_accepted" in faults
        if "no_fast_retransmit" in faults:
            self.dupthresh = 0x3FFFFFFF
            self.early_rexmit = False
            self.tlp = False  # nothing before the RTO
        self.burst = burst
        self.now = 0
        self.timer_at = -1  # earliest timer of any connection (may be early, never late)
        self.due = []  # connections waiting for user.send
        self._due_spare = []
        # While the stack hands over a batch of received frames (Stack.poll sets
        # `batch`), pure ACKs wait for its end: one ACK covers every segment of
        # the batch (at most one per two full segments, RFC 5681 §4.2).
        self.batch = False
        self.acks = []
        self._edge = 0  # _adv_field's second result
        self.seg = Seg()
        self.opts = W.Options()
        self.has_opts = False
        self.pkt = io.In(self)  # arrivals
        self.out = io.In(self)  # Raw.open / Raw.attach
        self.note = io.In(self)  # closures by timer
        self.rawobj = io.Raw(self)
        self.sig = self.pkt.signals
        self.rx6 = 0  # the segment being handled came over IPv6 (receive6)
        self.rx_key = 0
        self.rx_lip = bytearray(16)  # ... to this address of ours

    # -- public API ---------------------------------------------------------------
    def listen(self, port, backlog=16, window=0):
        """Accept connections to port. window: the size of the RecvBuf its
        connections will get, so that the SYN-ACK offers no more than that
        (0: rcv_window)."""
        lst = self.listeners.get(port)
        if lst is not None:
            # listening already: the same Listener (with its half-open and
            # queued connections) takes the new backlog
            lst.backlog = backlog if backlog > 0 else 1
            lst.window = window
            return
        self.listeners[port] = Listener(port, backlog, window)

    def unlisten(self, port):
        """Stop listening on port. Its half-open connections are reset: they
        could only complete onto a listener nobody accepts from (established
        ones not yet accepted stay the user's)."""
        lst = self.listeners.pop(port, None)
        if lst is None:
            return
        for conn in list(self.ep.half_open):
            if conn.listener is lst:
                self.abort(conn.key, self.now)

    def accept(self, port):
        """The key of an established connection from the listener on port, or None."""
        lst = self.listeners.get(port)
        if lst is None:
            return None
        while lst.queue:
            key = lst.queue.pop(0)
            conn = self.ep.get(key)
            if conn is not None:
                conn.queued = False
                return key
        return None

    def raw(self, now):
        """A Raw: open or attach outside of the layer's calls."""
        self.now = now
        r = self.rawobj
        r.key = None
        return r

    def connection(self, key):
        return self.ep.get(key)

    def state(self, key):
        conn = self.ep.get(key)
        return CLOSED if conn is None else conn.state

    def state_name(self, key):
        return STATE_NAMES[self.state(key)]

    def four_tuple(self, key):
        """(local address, local port, remote address, remote port) or None."""
        conn = self.ep.get(key)
        if conn is None:
            return None
        return (self.stack.ip_addr if conn.lip is None else conn.lip, conn.lport, conn.rip,
                conn.rport)

    def set_nodelay(self, key, on=True):
        conn = self.ep.get(key)
        if conn is not None:
            conn.nodelay = bool(on)

    def set_keepalive(self, key, idle, interval=75000, count=9):
        """Keepalive probes after `idle` ms without traffic (0 turns them off)."""
        conn = self.ep.get(key)
        if conn is None:
            return
        conn.ka_idle = idle
        conn.ka_intvl = interval
        conn.ka_cnt = count
        conn.ka_sent = 0
        if idle and conn.state >= ESTABLISHED:
            conn.ka_at = conn.last_rx + idle
            self.arm(conn.ka_at)
        elif not idle:
            conn.ka_at = -1

    def drop_buffers(self, key):
        """TIME-WAIT: the layer lets go of the user's buffers (nothing is sent
        or received any more), so a user may free or reuse them."""
        conn = self.ep.get(key)
        if conn is not None and conn.state == TIME_WAIT:
            conn.sbuf = None
            conn.rbuf = None

    def wake(self, key):
        """Ask for a user.send opportunity for key on the next poll (new data, close)."""
        conn = self.ep.get(key)
        if conn is not None:
            self.want_send(conn)

    def abort(self, key, now):
        """RFC 9293 ABORT: RST to the peer when synchronized, forget the connection."""
        self.now = now
        conn = self.ep.get(key)
        if conn is None:
            return False
        st = conn.state
        if st == SYN_RECEIVED or (ESTABLISHED <= st <= CLOSE_WAIT):
            # SND.MAX, not SND.NXT: after a go-back-N the peer may already
            # hold more than SND.NXT, and a RST below its RCV.NXT is dropped
            self.send_rst(conn.rip, conn.rport, conn.lport, conn.snd_max, 0, _RST, now,
                          conn.lip)
        self.c["tcp_aborts_sent"] += 1
        self.delete(conn)
        return True

    def keys(self):
        return self.ep.keys()

    # -- the layer contract ----------------------------------------------------------
    def receive6(self, view, ip_off, off, end, now):
        """A segment over IPv6 (header at ip_off, TCP at off; ip6.py checked that
        it came to one of our unicast addresses)."""
        c = self.c
        stack = self.stack
        n = end - off
        if stack.ip6.rx_mcast:
            c["tcp_bad_address"] += 1  # never to a group
            return 0
        if n >= 20 and (self.nic.rx_csum == 0 or view is stack.ip6.reasm_view) and csum(
                view, off, off + n, csum(view, ip_off + 8, ip_off + 40, PROTO_TCP + n)) != 0xFFFF \
                and not self.ignore_checksum:
            c[W.BAD_CHECKSUM] += 1
            return 0
        self.rx_key = self.ep.key6(view, ip_off + 8)
        lip = self.rx_lip
        for k in range(16):
            lip[k] = view[ip_off + 24 + k]
        return self.receive(view, ip_off, off - ip_off, end, now, 1)

    def receive(self, view, ip_off, ip_hlen, length, now, fam=0):
        """fam 0: IPv4; 1: IPv6 through receive6 (checksum and addresses checked)."""
        self.now = now
        self.rx6 = fam
        c = self.c
        off = ip_off + ip_hlen
        n = length - off  # length: the offset just past the datagram (ip.py)
        # W.check and W.pseudo_sum_at inlined (the same checks, in order)
        if n < 20:
            c[W.TRUNCATED] += 1
            return 0
        hlen = (view[off + 12] >> 4) << 2
        if hlen < 20 or hlen > n:
            c[W.BAD_OFFSET] += 1
            return 0
        i = ip_off + 12  # pseudo-header: addresses, protocol, TCP length (csum folds)
        if fam == 0 and (self.nic.rx_csum == 0 or view is self.stack.ip.reasm_view) and csum(
                view, off, off + n, ((view[i] << 8) | view[i + 1]) + ((view[i + 2] << 8) | view[i + 3])
                + ((view[i + 4] << 8) | view[i + 5]) + ((view[i + 6] << 8) | view[i + 7])
                + PROTO_TCP + n) != 0xFFFF and not self.ignore_checksum:
            c[W.BAD_CHECKSUM] += 1
            return 0
        if hlen == 32 and view[off + 20] == 1 and view[off + 21] == 1 \
                and view[off + 22] == 8 and view[off + 23] == 10:
            # the layout nearly every segment of a timestamped connection has
            # (RFC 7323 Appendix A): read in place, no option loop
            o = self.opts
            o.mss = -1
            o.wscale = -1
            o.sack_perm = False
            o.sack_n = 0
            i = off + 24
            o.ts_val = (view[i] << 24) | (view[i + 1] << 16) | (view[i + 2] << 8) | view[i + 3]
            o.ts_ecr = (view[i + 4] << 24) | (view[i + 5] << 16) | (view[i + 6] << 8) | view[i + 7]
            self.has_opts = True
        elif hlen > 20:
            r = W.parse_options(view, off + 20, off + hlen, self.opts)
            if r is not None:
                c[r] += 1
                return 0
            self.has_opts = True
        else:
            self.has_opts = False
        flags = view[off + 13]
        if flags & _SYN and flags & (_FIN | _RST):
            c["tcp_bad_flags"] += 1
            return 0
        if fam:
            s = ip_off + 8
            rip_int = self.rx_key
        else:
            my = self.stack.ip_addr
            a = ip_off + 16
            s = ip_off + 12
            if view[a] != my[0] or view[a + 1] != my[1] or view[a + 2] != my[2] \
                    or view[a + 3] != my[3] or view[s] >= 224 or view[s] == 0 or view[s] == 127:
                c["tcp_bad_address"] += 1  # never answer broadcast, multicast or martians
                return 0
            rip_int = (view[s] << 24) | (view[s + 1] << 16) | (view[s + 2] << 8) | view[s + 3]
        c["tcp_rx"] += 1
        sport = (view[off] << 8) | view[off + 1]
        dport = (view[off + 2] << 8) | view[off + 3]
        sg = self.seg
        sg.view = view
        sg.seq = (view[off + 4] << 24) | (view[off + 5] << 16) | (view[off + 6] << 8) | view[off + 7]
        sg.ack = (view[off + 8] << 24) | (view[off + 9] << 16) | (view[off + 10] << 8) | view[off + 11]
        sg.flags = flags
        sg.wnd = (view[off + 14] << 8) | view[off + 15]
        sg.doff = off + hlen
        sg.dlen = n - hlen
        pkt = self.pkt
        sig = pkt.signals
        sig.clear()
        self.sig = sig
        pkt.view = view
        pkt.data_len = 0
        conn = self.ep.lookup(rip_int, sport, dport)
        if fam and conn is not None and not self.ep.same6(conn, view, s, self.rx_lip):
            conn = self.ep.lookup6(view, s, self.rx_lip, rip_int, sport, dport)
        if conn is None:
            if flags & (_SYN | _RST | _ACK) == _ACK and now - self._cookie_at < 130000:
                conn = self._from_cookie(view, s, rip_int, sport, dport, now)
            if conn is None:
                return self._no_conn(view, s, rip_int, sport, dport, now)
        key = conn.key
        kind = conn.arrive(self, sg, now)
        if kind < 0:
            if kind == REOPEN:
                self.close_by_timer(conn, False, False)  # the user hears of the old one
                return self._no_conn(view, s, rip_int, sport, dport, now)
            pkt.view = None
            return 0
        pkt.kind = kind
        pkt.key = key
        pkt.conn = conn if kind <= io.OPEN else None
        user = self.user
        if user is not None:
            user.receive(pkt)
        if kind == io.OPEN:
            if pkt.data_len:
                c["tcp_unread"] += 1  # the user did not take the data: the peer resends
                pkt.data_len = 0
            if conn.state != CLOSED:
                if conn.ack_now:
                    self.ack_soon(conn, now)
                elif conn.ack_pending and conn.delack_at < 0:
                    conn.delack_at = now + self.delack
                    self.arm(conn.delack_at)
        pkt.conn = None
        pkt.view = None
        return 0

    def _no_conn(self, view, s, rip_int, sport, dport, now):
        """RFC 9293 §3.10.7.1 (CLOSED) and §3.10.7.2 (LISTEN)."""
        c = self.c
        sg = self.seg
        flags = sg.flags
        lst = self.listeners.get(dport)
        rip = bytes(view[s:s + (16 if self.rx6 else 4)])
        pkt = self.pkt
        if lst is not None and flags & (_SYN | _ACK | _RST) == _SYN:
            if len(lst.queue) >= lst.backlog:
                # nobody would take it: no SYN-ACK (its ACK would meet no room and
                # an RST, RFC 9293 §3.10.7.2 leaves it to us); the peer retries
                c["tcp_backlog_full"] += 1
                pkt.view = None
                return 0
            if self.per_source and self._source_count(rip_int) >= self.per_source:
                c["tcp_source_limit"] += 1
                pkt.view = None
                return 0
            if self.syncookies and len(self.ep.half_open) >= self.ep.syn_max:
                self._send_cookie(view, s, rip, rip_int, sport, dport, now)
                pkt.view = None
                return 0
            conn = self._passive_open(lst, rip, rip_int, sport, dport, now)
            if conn is not None:
                pkt.kind = io.SENDING
                pkt.key = conn.key
                pkt.conn = None
                if self.user is not None:
                    self.user.receive(pkt)
            pkt.view = None
            return 0
        if flags & _RST:
            c["tcp_stray_rst"] += 1
            if self.answer_rst:  # fault switch: RFC 9293 says never answer a RST
                seglen = sg.dlen
                if flags & _FIN:
                    seglen += 1
                self.send_rst(rip, sport, dport, sg.ack if flags & _ACK else 0,
                              (sg.seq + seglen) & MASK, _RST | _ACK, now)
        else:
            if lst is None:
                c["tcp_no_listener"] += 1
            else:
                c["tcp_no_connection"] += 1
            if flags & _ACK:
                self.send_rst(rip, sport, dport, sg.ack, 0, _RST, now)
            else:
                seglen = sg.dlen
                if flags & _SYN:
                    seglen += 1
                if flags & _FIN:
                    seglen += 1
                self.send_rst(rip, sport, dport, 0, (sg.seq + seglen) & MASK, _RST | _ACK, now)
        pkt.kind = io.STRAY
        pkt.key = None
        pkt.conn = None
        pkt.remote = rip
        pkt.remote_port = sport
        pkt.local_port = dport
        pkt.data_off = sg.doff
        pkt.data_len = sg.dlen
        if self.user is not None:
            self.user.receive(pkt)
        pkt.data_len = 0
        pkt.view = None
        pkt.remote = None
        return 0

    def _source_count(self, rip_int):
        """Connections (not in TIME-WAIT) with remote address rip_int."""
        n = 0
        for conn in self.ep.conns:
            if conn is not None and conn.rip_int == rip_int and conn.state != TIME_WAIT:
                n += 1
        return n

    def _send_cookie(self, view, s, rip, rip_int, sport, dport, now):
        """The SYN-ACK of a SYN the full half-open queue has no room for: its ISN
        (and TSval) carry the connection (cookie.py); nothing is kept."""
        c = self.c
        sg = self.seg
        o = self.opts
        has = self.has_opts
        mss = o.mss if has and o.mss >= 0 else 536
        idx = cookie.mss_index(mss)
        opts = 0
        ts = self.use_ts and has and o.ts_val >= 0
        if ts:
            opts = cookie.TS_MARK | (o.wscale if has and o.wscale >= 0 else cookie.NO_WSCALE)
            if self.use_sack and o.sack_perm:
                opts |= cookie.TS_SACK
        isn = cookie.make(self.ep, rip_int, sport, dport, sg.seq, now, idx, opts)
        v6 = self.rx6
        ip = self.stack.ip6 if v6 else self.stack.ip
        out = ip.send_begin()
        if out is None:
            c["tcp_no_buffer"] += 1
            return
        p = PAYLOAD6_OFF if v6 else PAYLOAD_OFF
        hlen = 20 + W.put_syn_options(
            out, p + 20, self._mss6() if v6 else ip.mtu - 40,
            self.wscale if ts and o.wscale >= 0 else -1, self.use_sack and ts and o.sack_perm)
        if ts:
            hlen += W.put_ts(out, p + hlen, (((now + isn) & ~0x3F) | opts) & MASK, o.ts_val)
        win = self.rcv_window if self.rcv_window < 65535 else 65535
        W.put_header(out, p, dport, sport, isn, (sg.seq + 1) & MASK, hlen, _SYN | _ACK, win)
        lip = self.rx_lip if v6 else self.stack.ip_addr
        W.fill_checksum(out, p, hlen, W.pseudo_sum(lip, rip, hlen))
        if v6:
            ip.send_finish(out, rip, PROTO_TCP, hlen, now, lip)
        else:
            ip.send_finish(out, rip, PROTO_TCP, hlen, now)
        c["tcp_tx"] += 1
        c["tcp_syncookies_sent"] += 1
        self._cookie_at = now

    def _from_cookie(self, view, s, rip_int, sport, dport, now):
        """The connection an ACK to a cookie SYN-ACK brings back (in SYN-RECEIVED,
        for arrive() to establish), or None (not ours: it gets the usual RST)."""
        lst = self.listeners.get(dport)
        if lst is None:
            return None
        sg = self.seg
        o = self.opts
        opts = 0
        tsval = -1
        if self.has_opts and o.ts_val >= 0:
            tsval = o.ts_val
            opts = o.ts_ecr & 0x3F
            if not opts & cookie.TS_MARK:
                opts = 0
        isn = (sg.ack - 1) & MASK
        peer_isn = (sg.seq - 1) & MASK
        idx = cookie.check(self.ep, rip_int, sport, dport, peer_isn, now, isn, opts)
        if idx < 0:
            self.c["tcp_syncookies_failed"] += 1
            return None
        if len(lst.queue) >= lst.backlog or not self._make_room():
            self.c["tcp_backlog_full"] += 1
            return None  # (counted; the RST that follows tells the peer to retry)
        rip = bytes(view[s:s + (16 if self.rx6 else 4)])
        conn = Connection(self, dport, rip, rip_int, sport, isn, now)
        if self.rx6:
            self._v6(conn, self.rx_lip)
        self.ep.add(conn)
        conn.listener = lst
        conn.state = SYN_RECEIVED
        conn.irs = peer_isn
        conn.rcv_nxt = sg.seq
        conn.snd_nxt = conn.snd_max = sg.ack
        mss = cookie.MSS_TABLE[idx]
        if conn.lip is not None and mss > self._mss6():
            mss = self._mss6()
        ws = opts & 15 if opts & cookie.TS_MARK else cookie.NO_WSCALE
        conn.peer_ws = ws != cookie.NO_WSCALE
        conn.snd_wscale = ws if conn.peer_ws else 0
        conn.rcv_wscale = self.wscale if conn.peer_ws else 0
        conn.ts_ok = self.use_ts and tsval >= 0 and opts != 0
        if conn.ts_ok:
            conn.ts_recent = tsval
            conn.ts_recent_at = now
            mss -= 12
        conn.mss = mss
        conn.sack_ok = self.use_sack and bool(opts & cookie.TS_SACK)
        if conn.sack_ok:
            conn.sack_out = [0] * 8
            conn.high_rxt = isn
        w = conn.rcv_space if conn.rcv_space < 65535 else 65535
        conn.rcv_adv = (conn.rcv_nxt + w) & MASK
        conn.snd_wl1 = peer_isn
        conn.snd_wl2 = isn
        self.c["tcp_syncookies_rx"] += 1
        return conn

    def _make_room(self):
        ep = self.ep
        if not ep.full():
            return True
        tw = ep.oldest_time_wait(TIME_WAIT)
        if tw is not None:
            self.close_by_timer(tw, False, False)
            return not ep.full()
        self.c["tcp_no_slot"] += 1
        return False

    def _passive_open(self, lst, rip, rip_int, sport, dport, now):
        ep = self.ep
        sg = self.seg
        if len(ep.half_open) >= ep.syn_max:
            # bounded SYN queue: the oldest half-open connection gives way
            self.c["tcp_syn_queue_full"] += 1
            self.close_by_timer(ep.half_open[0], False, True)
        if not self._make_room():
            return None
        try:
            conn = Connection(self, dport, rip, rip_int, sport, ep.isn(dport, rip_int, sport, now),
                              now)
            if self.rx6:
                self._v6(conn, self.rx_lip)
        except MemoryError:
            self.c["tcp_no_memory"] += 1  # no SYN-ACK: the peer retries later
            return None
        ep.add(conn)
        conn.listener = lst
        self._offer(conn, lst.window)
        ep.half_open.append(conn)
        conn.state = SYN_RECEIVED
        conn.irs = sg.seq
        conn.rcv_nxt = (sg.seq + 1) & MASK
        self.take_syn_options(conn)
        conn.snd_wnd = sg.wnd
        conn.max_snd_wnd = sg.wnd
        conn.snd_wl1 = sg.seq
        conn.snd_wl2 = conn.iss
        self.send_syn(conn, now)
        return conn

    def _v6(self, conn, lip):
        """Make a new connection an IPv6 one (see the top of this file)."""
        conn.lip = bytes(lip)
        conn.off = PAYLOAD6_OFF
        conn.net = self.stack.ip6
        conn.tmpl = bytearray(PAYLOAD6_OFF)

    def _mss6(self, rip=None):
        """The MSS an IPv6 connection offers, or takes at most: the link's MTU (or the
        path's, for rip) less the IPv6 and TCP headers."""
        ip6 = self.stack.ip6
        return (ip6.mtu if rip is None else ip6.path_mtu(rip)) - 60

    def pmtu6(self, dst, doff, mtu, now):
        """A Packet Too Big lowered the path MTU to dst (RFC 8201 §5.2: the MSS of
        connections there shrinks; what is lost is resent by the usual timers)."""
        for conn in self.ep.conns:
            if conn is not None and conn.lip is not None:
                r = conn.rip
                k = 0
                while k < 16 and r[k] == dst[doff + k]:
                    k += 1
                if k == 16:
                    m = mtu - 60 - (12 if conn.ts_ok else 0)
                    if MIN_MSS <= m < conn.mss:
                        conn.mss = m

    def take_syn_options(self, conn):
        """MSS (536 when absent, RFC 9293 §3.7.1), window scale, timestamps and
        SACK-permitted from a SYN (or SYN-ACK): each is on only when both SYNs
        carry it (we always offer ours in a SYN)."""
        o = self.opts
        has = self.has_opts
        mss = o.mss if has and o.mss >= 0 else 536
        if self.no_mss_option:
            mss = RCV_MSS  # fault switch: whatever the peer's SYN said
        # RCV_MSS unless DHCP gave a smaller link MTU; IPv6's from its path
        top = self.stack.ip.mtu - 40 if conn.lip is None else self._mss6(conn.rip)
        if mss > top:
            mss = top
        elif mss < MIN_MSS:
            mss = MIN_MSS
            self.c["tcp_mss_raised"] += 1
        conn.peer_ws = has and o.wscale >= 0
        if conn.peer_ws:
            conn.snd_wscale = o.wscale
            conn.rcv_wscale = self.wscale
        else:
            conn.snd_wscale = 0
            conn.rcv_wscale = 0
        conn.ts_ok = self.use_ts and has and o.ts_val >= 0
        if conn.ts_ok:
            conn.ts_recent = o.ts_val
            conn.ts_recent_at = self.now
            # every segment carries the 12-byte option: the data shrinks (RFC 6691)
            mss -= 12
            if mss < MIN_MSS:
                mss = MIN_MSS
                self.c["tcp_mss_raised"] += 1
        conn.mss = mss
        conn.sack_ok = self.use_sack and has and o.sack_perm
        if conn.sack_ok:
            conn.sack_out = [0] * 8  # up to 4 blocks (3 fit beside a timestamp)
            conn.high_rxt = conn.snd_una

    def poll(self, now):
        self.now = now
        if self.timer_at >= 0 and now >= self.timer_at:
            self._run_timers(now)  # first: a timer may ask for a send opportunity
        if self.due:
            due = self.due
            self.due = self._due_spare
            self._due_spare = due
            user = self.user
            raw = self.rawobj
            for conn in due:
                conn.due = False
                if conn.state != CLOSED and user is not None:
                    raw.key = conn.key
                    user.send(raw)
            raw.key = None
            while due:
                due.pop()

    def next_timeout(self, now):
        if self.due:
            return 0
        if self.timer_at < 0:
            return -1
        t = self.timer_at - now
        return t if t > 0 else 0

    # -- user operations (through io.In / io.Raw) ------------------------------------
    def _offer(self, conn, window):
        """The SYN offers the RecvBuf the user will give (when known): a peer
        trusting rcv_window would overrun a smaller one."""
        if window > 0 and not self.syn_window_default:
            conn.rcv_space = conn.rcv_space_max = window

    def conn_open(self, addr, port, local_port=0, window=0):
        now = self.now
        ep = self.ep
        rip = bytes(addr)
        lip = None
        if len(rip) == 16:
            lip = self.stack.ip6.select_source(rip)
            if lip is None:
                return None
            rip_int = ep.key6(rip, 0)
        else:
            rip_int = (rip[0] << 24) | (rip[1] << 16) | (rip[2] << 8) | rip[3]
        if local_port:
            if ep.lookup(rip_int, port, local_port) is not None:
                return None
            lport = local_port
        else:
            lport = ep.ephemeral_port(rip_int, port, self.listeners)
            if not lport:
                return None
        if not self._make_room():
            return None
        conn = Connection(self, lport, rip, rip_int, port, ep.isn(lport, rip_int, port, now), now)
        if lip is not None:
            self._v6(conn, lip)
        ep.add(conn)
        conn.state = SYN_SENT
        self._offer(conn, window)
        self.send_syn(conn, now)
        return self._out_for(conn)

    def conn_attach(self, key):
        conn = self.ep.get(key)
        if conn is None:
            return None
        return self._out_for(conn)

    def _out_for(self, conn):
        out = self.out
        out.kind = io.OPEN
        out.key = conn.key
        out.conn = conn
        out.signals.clear()
        out.view = None
        out.data_len = 0
        return out

    @micropython.native
    def conn_read(self, pkt, rb):
        conn = pkt.conn
        self.sig = pkt.signals
        if conn.rbuf is not rb:
            if conn.state == SYN_SENT:
                return  # the peer's first sequence number is not known yet
            conn.rbuf = rb
            rb.start(conn.rcv_nxt)
            # receiver SWS avoidance measures against this buffer (RCV.BUFF),
            # not the layer's default: a buffer under 2 MSS must still reopen
            conn.rcv_space = conn.rcv_space_max = rb.window()
        n = pkt.data_len
        if n:
            pkt.data_len = 0
            before = conn.rcv_nxt
            rb.receive(pkt.view, pkt.data_off, n, pkt.seq)
            nxt = rb.ack()
            if nxt != before:
                conn.rcv_nxt = nxt
                if pkt.seq == before and ((nxt - before) & MASK) == n:
                    # RFC 5681 §4.2: an ACK at least every second segment (a
                    # merged GRO segment counts as two or more)
                    conn.ack_pending += 1 if n <= RCV_MSS else 2
                    if conn.ack_pending >= 2:
                        conn.ack_now = True
                else:
                    conn.ack_now = True  # a hole was filled
            else:
                # out of order (or no room): an immediate pure duplicate ACK
                # (RFC 5681 §4.2), not one riding on data, so it counts as one;
                # with SACK it says what did arrive (RFC 2018 §4)
                w = rb.window()
                conn.rcv_space = w
                if conn.sack_ok:
                    self._sack_blocks(conn, rb)
                self.send_ack(conn, self.now)
            if conn.sack_n and nxt != before:
                self._sack_blocks(conn, rb)  # a hole filled: the blocks changed
            if conn.rcv_fin >= 0 and conn.rcv_fin == conn.rcv_nxt:
                conn.consume_fin(self, self.now)
        w = rb.window()
        conn.rcv_space = w
        if w > conn.rcv_space_max:
            conn.rcv_space_max = w

    def _sack_blocks(self, conn, rb):
        f = getattr(rb, "sack_blocks", None)
        conn.sack_n = f(conn.sack_out) if f is not None else 0

    def conn_write(self, pkt, sb):
        return self.output(pkt.conn, sb, self.now)

    # -- sending --------------------------------------------------------------------
    def output(self, conn, sb, now):
        """Send what the send buffer, the windows, Nagle and SWS avoidance allow."""
        st = conn.state
        if st < ESTABLISHED or st == TIME_WAIT:
            return 0
        c = self.c
        conn.sbuf = sb
        una = conn.snd_una
        fin_seq = conn.fin_seq
        data_una = una
        if fin_seq >= 0 and una == (fin_seq + 1) & MASK:
            data_una = fin_seq
        sb.ack(data_una)
        data_end = (data_una + sb.available()) & MASK
        fin_wanted = fin_seq >= 0 or (sb.fin and (st == ESTABLISHED or st == CLOSE_WAIT))
        mss = conn.mss
        sent = 0
        smax = conn.snd_max
        if conn.rexmit:
            # NewReno (no SACK): resend the first unacknowledged segment -- only
            # what was sent before (never past SND.MAX: new data goes through
            # the window checks below)
            conn.rexmit = False
            n = (smax - una) & MASK
            if self.rexmit_past_window:
                n = (data_end - una) & MASK  # fault switch: what the buffer holds
            if n >= HALF:
                n = 0
            if fin_seq >= 0 and n:
                n -= 1  # the FIN's sequence number holds no data
            if n > mss:
                n = mss
            if n > conn.snd_wnd and not self.rexmit_past_window:
                # a window shrunk since: no further than it reaches (shut: the
                # RTO probes it)
                n = conn.snd_wnd
            fl = _ACK
            if fin_seq >= 0 and (una + n) & MASK == fin_seq:
                fl |= _FIN
            if (n or fl & _FIN) and una != smax:
                if self._xmit(conn, una, fl, n, sb, now, None):
                    sent += 1
                    c["tcp_retrans_sent"] += 1
                    if conn.rto_at < 0:
                        conn.rto_at = now + conn.rto
                        self.arm(conn.rto_at)
        sack_rec = conn.in_recovery and conn.sack_ok
        if sack_rec:
            # RFC 6675 §5 (NextSeg rule 1): resend the holes below the highest
            # SACKed byte while the pipe leaves room for a segment
            while conn.cwnd - sack.pipe(conn) >= mss:
                h = sack.next_hole(conn)
                if h < 0:
                    break
                n = conn.hole_len if conn.hole_len < mss else mss
                w = (una + conn.snd_wnd - h) & MASK
                if w >= HALF or w == 0:
                    break  # the hole lies beyond a window shrunk since
                if n > w:
                    n = w
                fl = _ACK
                if fin_seq >= 0 and (h + n) & MASK == (fin_seq + 1) & MASK:
                    n -= 1  # a hole ending with our FIN
                    fl |= _FIN
                if not self._xmit(conn, h, fl, n, sb, now, None):
                    self.want_send(conn)
                    break
                conn.high_rxt = (h + n + (1 if fl & _FIN else 0)) & MASK
                sent += 1
                c["tcp_retrans_sent"] += 1
        # the most one segment may carry: one MSS, or with TSO a run of them
        seg_max = mss
        tso = self.nic.tso_max if conn.lip is None else 0  # (TSO4 only)
        if tso:
            k = (tso - 80) // mss
            if k > 1:
                seg_max = k * mss
        nxt = conn.snd_nxt
        force = conn.persist_at == -2
        unsent = 0
        while True:
            if fin_seq >= 0 and nxt == (fin_seq + 1) & MASK:
                break
            unsent = (data_end - nxt) & MASK
            if unsent >= HALF:
                unsent = 0
            if sack_rec:
                # new data in SACK recovery: what the pipe and the peer's window allow
                usable = conn.cwnd - sack.pipe(conn)
                w = (una + conn.snd_wnd - nxt) & MASK
                if w >= HALF:
                    w = 0
                if w < usable:
                    usable = w
                if usable < 0:
                    usable = 0
            else:
                cw = conn.cwnd
                d = conn.dupacks
                if d and not conn.in_recovery:
                    if self.dupack_inflation:
                        cw += d * mss  # fault switch: every duplicate opens the window
                    elif nxt == conn.snd_max:
                        # limited transmit (RFC 3042): two segments at most, and
                        # only new data (after an RTO's go-back-N it would resend)
                        cw += (d if d < 2 else 2) * mss
                wnd = conn.snd_wnd if conn.snd_wnd < cw else cw
                usable = (una + wnd - nxt) & MASK
                if usable >= HALF:
                    usable = 0
            n = unsent if unsent < usable else usable
            view = None
            if n > mss:
                if n > seg_max:
                    n = seg_max
                if n > mss:
                    view = self.stack.ip.send_begin(PAYLOAD_OFF + 60 + n)
                    if view is None:
                        # every big buffer is with the device: wait for them
                        # (the next round, after the kick) rather than cut the
                        # run into plain segments, each costing a whole pass
                        # through the stack
                        self.want_send(conn)
                        break
            fin_now = fin_wanted and n == unsent
            if n == 0 and not fin_now:
                break
            smax = conn.snd_max
            retrans = nxt != smax and (smax - nxt) & MASK < HALF
            if not (n >= mss or retrans or n == 0
                    or (n == unsent and (conn.nodelay or nxt == una))
                    or n >= (conn.max_snd_wnd >> 1) or force):
                break  # Nagle (RFC 896) / sender SWS avoidance (RFC 9293 §3.8.6.2.1)
            force = False
            fl = _ACK
            if n and n == unsent:
                fl |= _PSH
            if fin_now:
                fl |= _FIN
            if not self._xmit(conn, nxt, fl, n, sb, now, view):
                self.want_send(conn)
                break
            sent += 1
            if retrans:
                c["tcp_retrans_sent"] += 1
            end = (nxt + n) & MASK
            if fin_now:
                if fin_seq < 0:
                    fin_seq = conn.fin_seq = end
                    conn.state = FIN_WAIT_1 if conn.state == ESTABLISHED else LAST_ACK
                end = (end + 1) & MASK
            if not retrans and conn.rtt_at < 0:
                conn.rtt_at = now
                conn.rtt_seq = end
            nxt = conn.snd_nxt = end
            if (end - smax) & MASK < HALF:
                conn.snd_max = end
            if conn.rto_at < 0:
                conn.rto_at = now + conn.rto
                self.arm(conn.rto_at)
            if sent >= self.burst:
                self.want_send(conn)
                break
        conn.unsent = unsent
        if sent and conn.snd_una != conn.snd_max:
            self.arm_pto(conn, now)
        if conn.persist_at == -2:
            conn.persist_at = -1
        if sent == 0 and (conn.ack_now or self._window_update_due(conn)):
            self.ack_soon(conn, now)
        if unsent and conn.snd_una == conn.snd_max and conn.persist_at < 0 and conn.rto_at < 0:
            # window-limited with nothing in flight: the persist timer probes a
            # zero window, or forces a small segment (SWS override timeout)
            t = conn.rto << conn.persist_shift
            conn.persist_at = now + (t if t < MAX_RTO else MAX_RTO)
            self.arm(conn.persist_at)
        return sent

    @micropython.native
    def ack_soon(self, conn, now):
        """A pure ACK is due: sent now, or at the end of the receive batch."""
        if self.batch:
            if not conn.ack_queued:
                conn.ack_queued = True
                self.acks.append(conn)
        else:
            self.send_ack(conn, now)

    @micropython.native
    def end_batch(self, now):
        """The receive batch is over: send the ACKs it left due (unless data
        carried them meanwhile)."""
        self.batch = False
        acks = self.acks
        if acks:
            self.now = now
            for conn in acks:
                conn.ack_queued = False
                if conn.state != CLOSED and (conn.ack_now or self._window_update_due(conn)):
                    self.send_ack(conn, now)
            acks.clear()

    @micropython.native
    def _adv_field(self, conn):
        """The window field the next segment carries (receiver SWS avoidance:
        the right edge moves on by at least min(buffer/2, MSS), never back;
        scaled fields round down). The edge it advertises goes to _edge (no
        tuple: the hot path allocates nothing)."""
        nxt = conn.rcv_nxt
        adv = (conn.rcv_adv - nxt) & MASK
        if adv >= HALF:
            adv = 0
        space = conn.rcv_space
        if space > adv:
            t = conn.rcv_space_max >> 1
            if t > RCV_MSS:
                t = RCV_MSS
            if space - adv >= t:
                adv = space
        shift = conn.rcv_wscale
        f = adv >> shift
        if f > 65535:
            f = 65535
        self._edge = (nxt + (f << shift)) & MASK
        return f

    def _window_update_due(self, conn):
        """Would an ACK move the advertised right edge on by enough to be worth
        one: min(2 MSS, buffer/2), measured on the edge the field can carry."""
        if self.window_update_unmoved:
            # fault switch: judged on the raw free space, whatever the edge does
            return conn.rcv_space > (conn.rcv_adv - conn.rcv_nxt) & MASK
        self._adv_field(conn)
        grow = (self._edge - conn.rcv_adv) & MASK
        if grow >= HALF or grow == 0:
            return False
        t = conn.rcv_space_max >> 1
        if t > 2 * RCV_MSS:
            t = 2 * RCV_MSS
        return grow >= t

    @micropython.native
    def _wnd_field(self, conn):
        """The window to put in a segment (see _adv_field); records the edge."""
        f = self._adv_field(conn)
        if (self._edge - conn.rcv_adv) & MASK < HALF:
            conn.rcv_adv = self._edge
        return f

    @micropython.native
    def _xmit(self, conn, seq, flags, n, sb, now, view):
        ip = conn.net
        if view is None:
            view = ip.send_begin()
            if view is None:
                self.c["tcp_no_buffer"] += 1
                return False
        o = conn.off
        hlen = 20
        if flags & _SYN:
            # a SYN offers window scale, SACK-permitted and a timestamp; a
            # SYN-ACK carries each only in reply to the SYN's
            syn = conn.state == SYN_SENT
            ws = self.wscale if (syn or conn.peer_ws) else -1
            hlen += W.put_syn_options(view, o + 20, -1 if self.no_mss_option else
                                      self.stack.ip.mtu - 40 if conn.lip is None else
                                      self._mss6(), ws,
                                      self.use_sack and (syn or conn.sack_ok))
            if self.use_ts and (syn or conn.ts_ok):
                hlen += W.put_ts(view, o + hlen, (now + conn.ts_off) & MASK,
                                 0 if syn else conn.ts_recent)
            win = conn.rcv_space if conn.rcv_space < 65535 else 65535
            conn.rcv_adv = (conn.rcv_nxt + win) & MASK
        else:
            win = self._wnd_field(conn)
            if conn.ts_ok:
                hlen += W.put_ts(view, o + 20, (now + conn.ts_off) & MASK, conn.ts_recent)
            k = conn.sack_n
            if k and flags & _ACK:
                # RFC 2018: the blocks ride on ACKs while data is held out of
                # order; a full data segment has no room left for them
                if k > 3 and conn.ts_ok:
                    k = 3
                if n == 0 or n + hlen - 20 + 4 + 8 * k <= conn.mss + (12 if conn.ts_ok else 0):
                    hlen += W.put_sack(view, o + hlen, conn.sack_out, k)
        W.put_header(view, o, conn.lport, conn.rport, seq, conn.rcv_nxt if flags & _ACK else 0,
                     hlen, flags, win)
        if n:
            sb.fill(view, o + hlen, n, seq)
        total = hlen + n
        my = self.stack.ip_addr if conn.lip is None else conn.lip
        if conn.psum_src is not my:
            conn.psum_src = my
            conn.psum = W.pseudo_sum(my, conn.rip, 0)
        segs = 0
        if n > conn.mss:
            # TSO: the NIC completes the checksum (the field holds the
            # pseudo-header sum) and cuts the segment into MSS pieces
            s = conn.psum + total
            s = (s & 0xFFFF) + (s >> 16)
            s = (s & 0xFFFF) + (s >> 16)
            view[o + 16] = s >> 8
            view[o + 17] = s & 0xFF
            self.nic.tx_offload(view, o, 16, conn.mss, o + hlen)
            segs = (n + conn.mss - 1) // conn.mss
            conn.tso = True
        else:
            # W.fill_checksum with the addresses' part of the pseudo-header kept
            # per connection (put_header zeroed the field)
            s = ~csum(view, o, o + total, conn.psum + total) & 0xFFFF
            view[o + 16] = s >> 8
            view[o + 17] = s & 0xFF
        if conn.tmpl_until <= now or conn.tmpl_src is not my:
            conn.tmpl_src = my
            if conn.lip is None:
                conn.tmpl_sum = ip.header_template(conn.rip, PROTO_TCP, conn.tmpl, now)
            else:
                conn.tmpl_sum = ip.header_template6(conn.lip, conn.rip, PROTO_TCP, conn.tmpl, now)
            conn.tmpl_until = now + TEMPLATE_MS if conn.tmpl_sum >= 0 else now
        if conn.tmpl_sum >= 0:
            ip.send_prepared(view, conn.tmpl, conn.tmpl_sum, total, segs)
        elif conn.lip is None:
            ip.send_finish(view, conn.rip, PROTO_TCP, total, now, segs)
        else:
            ip.send_finish(view, conn.rip, PROTO_TCP, total, now, conn.lip)
        self.c["tcp_tx"] += 1
        if flags & _ACK:
            conn.ack_pending = 0
            conn.ack_now = False
            conn.delack_at = -1
            conn.last_ack_sent = conn.rcv_nxt
        return True

    def send_ack(self, conn, now):
        # SEQ = SND.MAX rather than SND.NXT (as BSD does): after a go-back-N
        # retransmission SND.NXT lies behind what the peer already holds, and a
        # pure ACK below its RCV.NXT would fail its acceptability test, its
        # acknowledgment lost -- both ends could stall retransmitting.
        return self._xmit(conn, conn.snd_max, _ACK, 0, None, now, None)

    def challenge_ack(self, conn, now):
        """RFC 5961 §3-5 challenge ACK: at most challenge_limit a second for this
        connection, and within a global budget drawn at random every second
        (RFC 5961 §7; CVE-2016-5696): what one connection's challenges reveal
        about another's is noise."""
        if self.no_challenge_ack:
            return
        if now - self._chal_t >= 1000:
            self._chal_t = now
            r = self._rng
            r ^= (r << 13) & MASK
            r ^= r >> 17
            r ^= (r << 5) & MASK
            self._rng = r
            g = self.challenge_global
            self._chal_left = (g >> 1) + r % (g + 1) if g else 0
        if now - conn.chal_t >= 1000:
            conn.chal_t = now
            conn.chal_left = self.challenge_limit
        if self._chal_left <= 0 or conn.chal_left <= 0:
            self.c["tcp_challenge_suppressed"] += 1
            return
        self._chal_left -= 1
        conn.chal_left -= 1
        self.c["tcp_challenge_acks_sent"] += 1
        self.send_ack(conn, now)

    def send_syn(self, conn, now):
        """SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), first or again."""
        fl = _SYN | _ACK if conn.state == SYN_RECEIVED else _SYN
        if conn.retries == 0 and conn.rtt_at < 0 and not conn.syn_rexmit:
            conn.rtt_at = now
            conn.rtt_seq = (conn.iss + 1) & MASK
        self._xmit(conn, conn.iss, fl, 0, None, now, None)
        conn.snd_nxt = conn.snd_max = (conn.iss + 1) & MASK
        conn.rto_at = now + conn.rto
        self.arm(conn.rto_at)

    def send_rst(self, rip, rport, lport, seq, ack, flags, now, lip=None):
        """lip: our IPv6 address (None: the one the segment being handled came to)."""
        v6 = len(rip) == 16
        ip = self.stack.ip6 if v6 else self.stack.ip
        view = ip.send_begin()
        if view is None:
            self.c["tcp_no_buffer"] += 1
            return False
        o = PAYLOAD6_OFF if v6 else PAYLOAD_OFF
        W.put_header(view, o, lport, rport, seq, ack, 20, flags, 0)
        if v6:
            if lip is None:
                lip = self.rx_lip
            W.fill_checksum(view, o, 20, W.pseudo_sum(lip, rip, 20))
            ip.send_finish(view, rip, PROTO_TCP, 20, now, lip)
        else:
            W.fill_checksum(view, o, 20, W.pseudo_sum(self.stack.ip_addr, rip, 20))
            ip.send_finish(view, rip, PROTO_TCP, 20, now)
        c = self.c
        c["tcp_tx"] += 1
        c["tcp_rst_sent"] += 1
        return True

    # -- state changes the connection asks for ----------------------------------------
    def establish(self, conn, now):
        conn.state = ESTABLISHED
        ep = self.ep
        if conn in ep.half_open:
            ep.half_open.remove(conn)
        lst = conn.listener
        if lst is not None:
            lst.queue.append(conn.key)
            conn.queued = True
        mss = conn.mss
        if conn.syn_rexmit:
            conn.cwnd = mss  # RFC 5681 §3.1: the SYN was lost, so IW is one segment
            if conn.srtt8 < 0:
                conn.rto = 3000  # RFC 6298 §5.7
        else:
            # RFC 6928 (as Linux): min(10 MSS, max(2 MSS, 14600)); with
            # iw10=False RFC 5681's min(4 MSS, max(2 MSS, 4380))
            iw = self._iw_bytes
            iw = 2 * mss if 2 * mss > iw else iw
            k = self._iw_segs * mss
            conn.cwnd = iw if iw < k else k
        conn.rto_at = -1
        conn.retries = 0
        conn.recover = conn.snd_una
        if conn.ka_idle:
            conn.ka_at = now + conn.ka_idle
            self.arm(conn.ka_at)
        self.sig.established = True

    def enter_time_wait(self, conn, now):
        conn.state = TIME_WAIT
        conn.rto_at = -1
        conn.pto_at = conn.fw2_at = -1
        conn.persist_at = -1
        conn.ka_at = -1
        conn.delack_at = -1
        conn.tw_at = now + self.time_wait
        self.arm(conn.tw_at)

    def delete(self, conn):
        if conn.state == CLOSED:
            return
        conn.state = CLOSED
        lst = conn.listener
        if conn.queued and lst is not None and conn.key in lst.queue:
            lst.queue.remove(conn.key)
        conn.queued = False
        self.ep.remove(conn)
        conn.rto_at = conn.delack_at = conn.persist_at = conn.ka_at = conn.tw_at = -1
        conn.pto_at = conn.fw2_at = -1
        if not self.ep.count:
            self.timer_at = -1  # nothing left to time: an idle stack sleeps

    def close_by_timer(self, conn, reset, relisten):
        """Delete conn and tell the user (a CLOSED In carrying the signals)."""
        key = conn.key
        self.delete(conn)
        note = self.note
        note.kind = io.CLOSED
        note.key = key
        note.conn = None
        sig = note.signals
        sig.clear()
        sig.reset = reset
        sig.relisten = relisten
        if self.user is not None:
            self.user.receive(note)

    def want_send(self, conn):
        if not conn.due:
            conn.due = True
            self.due.append(conn)

    def arm(self, t):
        if self.timer_at < 0 or t < self.timer_at:
            self.timer_at = t

    # -- timers ----------------------------------------------------------------------
    def _run_timers(self, now):
        self.timer_at = -1
        for conn in self.ep.conns:
            if conn is None:
                continue
            if conn.tw_at >= 0:
                if now >= conn.tw_at:
                    self.close_by_timer(conn, False, False)
                else:
                    self.arm(conn.tw_at)
                continue
            if 0 <= conn.rto_at <= now:
                conn.rto_at = -1
                conn.pto_at = -1
                conn.on_rto(self, now)
                if conn.state == CLOSED:
                    continue
            if 0 <= conn.pto_at <= now:
                conn.pto_at = -1
                self._on_pto(conn, now)
            if 0 <= conn.fw2_at <= now:
                conn.fw2_at = -1
                if conn.state == FIN_WAIT_2:
                    # our side is done and the peer has been silent for fin_wait2
                    # ms: give the slot back (Linux's tcp_fin_timeout does the same
                    # for closed sockets); a late segment meets an RST
                    self.c["tcp_fin_wait2_timeouts"] += 1
                    self.close_by_timer(conn, False, False)
                    continue
            if 0 <= conn.delack_at <= now:
                conn.delack_at = -1
                if conn.ack_pending:
                    self.send_ack(conn, now)
            if 0 <= conn.persist_at <= now:
                self._on_persist(conn, now)
            if 0 <= conn.ka_at <= now:
                self._on_keepalive(conn, now)
                if conn.state == CLOSED:
                    continue
            if conn.rto_at >= 0:
                self.arm(conn.rto_at)
            if conn.pto_at >= 0:
                self.arm(conn.pto_at)
            if conn.fw2_at >= 0:
                self.arm(conn.fw2_at)
            if conn.delack_at >= 0:
                self.arm(conn.delack_at)
            if conn.persist_at >= 0:
                self.arm(conn.persist_at)
            if conn.ka_at >= 0:
                self.arm(conn.ka_at)

    def arm_pto(self, conn, now):
        """RFC 8985 §7 tail loss probe: 2 SRTT after the last send with data
        outstanding (+ a peer's delayed ACK when one segment is out), unless the
        RTO comes first. Its probe draws an ACK or SACK when the tail of a flight
        -- or the one ACK that covered it -- was lost: recovery then starts
        without waiting for the RTO (one second at least, RFC 6298)."""
        if conn.srtt8 < 0 or conn.tlp_sent or conn.in_recovery or not self.tlp:
            return
        if 0 < (conn.recover - conn.snd_una) & MASK < HALF:
            return  # §7.2: none in loss recovery -- after an RTO too, until SND.UNA passes it
        p = conn.srtt8 >> 2
        if p < 10:
            p = 10
        if (conn.snd_max - conn.snd_una) & MASK <= conn.mss:
            p += 200  # RFC 8985's WCDelAckT
        t = now + p
        if conn.rto_at >= 0 and t >= conn.rto_at:
            return
        conn.pto_at = t
        self.arm(t)

    def _on_pto(self, conn, now):
        una = conn.snd_una
        smax = conn.snd_max
        if conn.in_recovery or una == smax or conn.state < ESTABLISHED or conn.sbuf is None \
                or conn.snd_wnd == 0:
            return  # (a shut window is probed by the RTO, connection.on_rto)
        # the probe: the last segment again (it carries the FIN if that was last)
        n = (smax - una) & MASK
        fl = _ACK
        fin_seq = conn.fin_seq
        if fin_seq >= 0 and (fin_seq + 1) & MASK == smax:
            n -= 1
            fl |= _FIN
        if n > conn.mss:
            n = conn.mss
        seq = (smax - n - (1 if fl & _FIN else 0)) & MASK
        if self._xmit(conn, seq, fl, n, conn.sbuf, now, None):
            conn.tlp_sent = True
            self.c["tcp_tail_probes_sent"] += 1
            self.c["tcp_retrans_sent"] += 1
            conn.rto_at = now + conn.rto
            self.arm(conn.rto_at)

    def _on_persist(self, conn, now):
        if conn.snd_una != conn.snd_max:
            conn.persist_at = -1  # data in flight: the retransmission timer runs
            conn.persist_shift = 0
            return
        if conn.snd_wnd == 0:
            # RFC 1122 §4.2.2.17: probing goes on while the peer acknowledges the
            # probes (an answer sets retries back to 0); a peer silent for
            # max_retries of them is gone (Linux gives up after tcp_retries2 too)
            if conn.retries >= self.max_retries:
                self.c["tcp_persist_timeouts"] += 1
                self.c["tcp_aborted"] += 1
                self.close_by_timer(conn, True, False)
                return
            conn.retries += 1
            self.window_probe(conn, now)
            if conn.persist_shift < 12:
                conn.persist_shift += 1
            t = conn.rto << conn.persist_shift
            conn.persist_at = now + (t if t < MAX_RTO else MAX_RTO)
        else:
            conn.persist_at = -2  # output() may send one small segment
            self.want_send(conn)

    def window_probe(self, conn, now):
        """Zero-window probe: an old sequence number makes the peer answer with
        its current window (RFC 9293 §3.8.6.1)."""
        self.c["tcp_probes_sent"] += 1
        self._xmit(conn, (conn.snd_una - 1) & MASK, _ACK, 0, None, now, None)

    def _on_keepalive(self, conn, now):
        st = conn.state
        if conn.ka_idle == 0 or st < ESTABLISHED or st == TIME_WAIT:
            conn.ka_at = -1
            return
        idle = now - conn.last_rx
        if idle < conn.ka_idle and conn.ka_sent == 0:
            conn.ka_at = conn.last_rx + conn.ka_idle
            return
        if conn.ka_sent >= conn.ka_cnt:
            self.c["tcp_aborted"] += 1
            self.close_by_timer(conn, True, False)
            return
        conn.ka_sent += 1
        self.c["tcp_keepalives_sent"] += 1
        self._xmit(conn, (conn.snd_una - 1) & MASK, _ACK, 0, None, now, None)
        conn.ka_at = now + conn.ka_intvl
