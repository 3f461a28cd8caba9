# ARP for Ethernet/IPv4 (RFC 826, with the probe/announce rules of RFC 5227).
#
# Receive: answers requests for our address in place (probes from 0.0.0.0
# included), learns the sender of a request addressed to us or of a reply to
# us, and otherwise only refreshes entries it already has (RFC 826's merge
# step; gratuitous ARP -- sender IP == target IP -- never creates an entry).
#
# Transmit: `output` sends an IPv4 frame to the next hop's MAC, or queues a
# COPY of it (one frame per pending address; the newest replaces the oldest,
# counted arp_queue_full) and broadcasts a request. Requests for one address
# go out at most once per RETRY_MS (suppressed ones count arp_rate_limited);
# `poll` retries, and after MAX_TRIES requests without an answer gives up and
# drops the queued frame (arp_unresolved). An entry in use is re-confirmed by
# unicast requests during its last MAX_TRIES * RETRY_MS, so busy flows never
# stall on expiry; an idle entry simply expires after REACHABLE_MS.
#
# The table is a fixed set of TABLE_SIZE slots in preallocated arrays (state,
# IPv4 address as an int, MAC bytes, times, one frame buffer each). It must
# survive spoofed traffic: a flood of SYNs from random on-link sources makes
# us resolve addresses nobody answers for, and ARP packets from strangers ask
# to be learned. So:
#   - at most max_pending (half the table) addresses are being resolved at
#     once; a new resolution beyond that fails (arp_pending_limit), except
#     for the gateway
#   - a new entry takes a free or expired slot, else the least recently used
#     resolved entry -- entries learned from the wire and never used first --
#     but never one used in the last recent_ms, never the gateway's while it
#     is confirmed (it answers), and never a slot still being resolved; with
#     none of those left a new resolution fails (arp_table_full)
#
# Broadcast next hops (255.255.255.255 and the subnet broadcast) map to
# ff:ff:ff:ff:ff:ff and multicast ones to 01:00:5e + the low 23 bits
# (RFC 1112), without ARP.
#
# Times are the callers' `now` (monotonic integer milliseconds).
from ..compat import const
from ..nic.base import MAX_FRAME
from ..wire import arp as _arp
from ..wire import ethernet as _eth

TABLE_SIZE = const(16)
REACHABLE_MS = const(60000)  # an entry is trusted this long after confirmation
RETRY_MS = const(1000)  # at most one request per address per RETRY_MS
MAX_TRIES = const(3)  # requests per resolution before giving up
RECENT_MS = const(10000)  # a resolved entry used this recently is never replaced

_FREE = const(0)
_PENDING = const(1)
_REACHABLE = const(2)

# absolute offsets of the ARP fields in a frame (ARP at 14)
_ARP = const(14)
_OP_LO = const(21)
_SHA = const(22)
_SPA = const(28)
_THA = const(32)
_TPA = const(38)
_ARP_END = const(42)
_TYPE_IPV4 = const(0x0800)
_TYPE_ARP = const(0x0806)
_ALL_ONES = const(0xFFFFFFFF)


class ArpLayer:
    def __init__(self, stack, size=TABLE_SIZE):
        self.stack = stack
        self.size = size
        # tunables (per instance, so tests and apps can shorten them)
        self.reachable_ms = REACHABLE_MS
        self.retry_ms = RETRY_MS
        self.max_tries = MAX_TRIES
        self.max_pending = size // 2
        self.recent_ms = RECENT_MS
        self._state = bytearray(size)
        self._ip = [0] * size
        self._macs = bytearray(6 * size)
        mv = memoryview(self._macs)
        self._mac = [mv[6 * i:6 * i + 6] for i in range(size)]
        self._confirmed = [0] * size  # when the MAC was last confirmed
        self._req = [0] * size  # when the last request for it went out
        self._used = [0] * size  # last use by output (LRU); -1: learned, never used
        self._tries = bytearray(size)
        self._qbuf = [memoryview(bytearray(MAX_FRAME)) for _ in range(size)]
        self._qlen = [0] * size
        self._hit = 0  # slot of the last lookup: most frames go to one next hop
        self.timer_at = -1  # earliest retry deadline of a pending slot, -1: none
        self._now = 0
        self._mcast_mac = bytearray(b"\x01\x00\x5e\x00\x00\x00")
        self._addr_src = None  # the stack.ip_addr object _our/_bcast derive from
        self._our = 0
        self._bcast = _ALL_ONES
        self._gw_src = None  # the config.gw object _gw derives from
        self._gw = -1  # the gateway as an int, -1: none
        faults = stack.faults
        # test-only (negative control): answer requests for any address (proxy ARP)
        self.answer_any = "arp_answer_any" in faults
        # test-only (negative control): never create or update entries from received ARP
        self.no_learn = "arp_no_learn" in faults

    # -- addresses -------------------------------------------------------------
    def _addr(self):
        """Our IPv4 address as an int (recomputed only when it changes)."""
        gw = self.stack.config.gw
        if gw is not self._gw_src:
            self._gw_src = gw
            self._gw = -1 if gw is None else _arp.read_ip(gw, 0)
        ip = self.stack.ip_addr
        if ip is not self._addr_src:
            self._addr_src = ip
            self._our = _arp.read_ip(ip, 0)
            pfx = self.stack.config.prefix
            if pfx >= 31:  # /31 (RFC 3021) and /32 have no subnet broadcast
                self._bcast = _ALL_ONES
            else:
                self._bcast = self._our | ((1 << (32 - pfx)) - 1)
        return self._our

    def _special_mac(self, n):
        """The MAC for a broadcast/multicast IPv4 address, else None."""
        if n == _ALL_ONES or n == self._bcast:
            return _eth.BROADCAST
        if (n >> 28) == 14:
            m = self._mcast_mac
            m[3] = (n >> 16) & 0x7F
            m[4] = (n >> 8) & 0xFF
            m[5] = n & 0xFF
            return m
        return None

    # -- table -----------------------------------------------------------------
    def _find(self, n):
        h = self._hit
        if self._ip[h] == n and self._state[h] != _FREE:
            return h
        st = self._state
        ips = self._ip
        for i in range(self.size):
            if ips[i] == n and st[i] != _FREE:
                self._hit = i
                return i
        return -1

    def _victim(self, now):
        """A slot for a new entry: free, expired, or the least recently used
        resolved entry that is neither recently used nor the gateway's
        (entries never used go first, the oldest confirmed of them); -1: none."""
        st = self._state
        best = -1
        best_used = 0
        for i in range(self.size):
            s = st[i]
            if s == _FREE:
                return i
            if s != _REACHABLE:
                continue  # being resolved: keep
            if now - self._confirmed[i] >= self.reachable_ms:
                st[i] = _FREE
                return i
            if self._ip[i] == self._gw:
                continue  # pinned while it answers
            u = self._used[i]
            if u >= 0 and now - u < self.recent_ms:
                continue  # in use
            if (best < 0 or u < best_used
                    or (u == best_used and self._confirmed[i] < self._confirmed[best])):
                best = i
                best_used = u
        return best

    def _new_pending(self, n, now):
        """Claim a slot to resolve n; -1 (counted) when the pending limit or a
        table without a slot to give refuses it."""
        c = self.stack.counters.c
        if n != self._gw and self._pending() >= self.max_pending:
            c["arp_pending_limit"] += 1
            return -1
        i = self._victim(now)
        if i < 0:
            c["arp_table_full"] += 1
            return -1
        self._claim(i, n, now)
        self._state[i] = _PENDING
        return i

    def _pending(self):
        st = self._state
        k = 0
        for i in range(self.size):
            if st[i] == _PENDING:
                k += 1
        return k

    def _claim(self, i, n, now):
        self._ip[i] = n
        self._used[i] = now
        self._req[i] = now - self.retry_ms  # nothing asked yet: a request may go now
        self._tries[i] = 0
        self._qlen[i] = 0
        self._hit = i

    def _learn(self, view, now, create):
        """Record SPA -> SHA from the ARP packet in view; flush a queued frame."""
        if self.no_learn:  # test-only (negative control): arp_no_learn
            return
        n = _arp.read_ip(view, _SPA)
        i = self._find(n)
        if i < 0:
            if not create:
                return
            i = self._victim(now)
            if i < 0:
                return  # nothing may be replaced: keep what we have
            self._claim(i, n, now)
            self._used[i] = -1  # learned, not used: the first to go
        _eth.copy_mac(self._mac[i], 0, view, _SHA)
        was = self._state[i]
        self._state[i] = _REACHABLE
        self._confirmed[i] = now
        self._tries[i] = 0
        if was == _PENDING and self._qlen[i]:
            self._flush(i)

    def _flush(self, i):
        n = self._qlen[i]
        self._qlen[i] = 0
        stack = self.stack
        tx = stack.nic.tx_buffer()
        if tx is None:
            stack.counters.c["tx_no_buffer"] += 1
            return
        tx[0:n] = self._qbuf[i][0:n]
        stack.eth.send(tx, n, self._mac[i], _TYPE_IPV4)

    def _queue(self, i, view, length):
        c = self.stack.counters.c
        if self._qlen[i]:
            c["arp_queue_full"] += 1  # the newest frame replaces the oldest
            self._qlen[i] = 0
        if length > MAX_FRAME:
            c["arp_queue_full"] += 1
            return
        self._qbuf[i][0:length] = view[0:length]
        self._qlen[i] = length

    def _release(self, view):
        # A tx buffer we neither send nor keep goes back to the NIC.
        rel = getattr(self.stack.nic, "release", None)
        if rel is not None:
            rel(view)

    def _emit_request(self, b, target):
        our = self._our
        _arp.write_fixed(b, _ARP, _arp.OP_REQUEST)
        _eth.put_mac(b, _SHA, self.stack.mac)
        _arp.write_ip(b, _SPA, our)
        _eth.put_mac(b, _THA, _eth.ZERO_MAC)
        _arp.write_ip(b, _TPA, target)

    def _solicit(self, i, view, now, dst):
        """Send a request for slot i's address (in view, or a fresh tx buffer)."""
        stack = self.stack
        self._req[i] = now
        if self._state[i] == _PENDING:
            self._tries[i] += 1
            d = now + self.retry_ms
            if self.timer_at < 0 or d < self.timer_at:
                self.timer_at = d
        if view is None:
            view = stack.nic.tx_buffer()
            if view is None:
                stack.counters.c["tx_no_buffer"] += 1
                return False
        self._emit_request(view, self._ip[i])
        stack.eth.send(view, _ARP_END, dst, _TYPE_ARP)
        stack.counters.c["arp_requests_sent"] += 1
        return True

    # -- receive ---------------------------------------------------------------
    def receive(self, view, length, now):
        """An ARP frame (ARP at 14): returns the in-place reply's length or 0."""
        self._now = now
        stack = self.stack
        c = stack.counters.c
        bad = _arp.check(view, _ARP, length)
        if bad is not None:
            c[bad] += 1
            return 0
        our = self._addr()
        mac = stack.mac
        spa = _arp.read_ip(view, _SPA)
        tpa = _arp.read_ip(view, _TPA)
        if (view[_SHA] & 1 or (spa >> 28) >= 14 or (spa >> 24) == 127 or spa == our
                or spa == self._bcast or _eth.mac_at_is(view, _SHA, mac)):
            # a group MAC or IP as sender (multicast, broadcast, class E),
            # loopback, our own address (a conflict, or our frame looped
            # back): never learn or answer that
            c["arp_bad_source"] += 1
            return 0
        if tpa == our or (self.answer_any and view[_OP_LO] == _arp.OP_REQUEST):
            # ^ test-only (negative control): arp_answer_any answers for every address
            if view[_OP_LO] == _arp.OP_REQUEST:
                if spa != 0:  # 0.0.0.0 is a probe (RFC 5227): answer, don't learn
                    self._learn(view, now, tpa == our)
                # answer in place: target := sender, sender := us (tpa is our address)
                _eth.copy_mac(view, _THA, view, _SHA)
                view[_TPA] = view[_SPA]
                view[_TPA + 1] = view[_SPA + 1]
                view[_TPA + 2] = view[_SPA + 2]
                view[_TPA + 3] = view[_SPA + 3]
                _eth.put_mac(view, _SHA, mac)
                _arp.write_ip(view, _SPA, tpa)
                view[_OP_LO] = _arp.OP_REPLY
                c["arp_replies_sent"] += 1
                return _ARP_END
            if spa == 0:
                c["arp_bad_source"] += 1  # a reply must come from an address
                return 0
            self._learn(view, now, True)
            return 0
        if spa == 0:
            c["arp_not_for_us"] += 1  # someone else's probe
            return 0
        if spa == tpa:
            self._learn(view, now, False)  # gratuitous: update, never create
            return 0
        self._learn(view, now, False)  # RFC 826 merge: refresh what we know
        c["arp_not_for_us"] += 1
        return 0

    # -- transmit --------------------------------------------------------------
    def mac_for(self, hop, now):
        """The MAC of next hop `hop` (4 bytes) when it is resolved and not about
        to need re-confirming, else None (then output() does what is needed).
        For senders that cache a frame header for a while (the TCP layer)."""
        n = _arp.read_ip(hop, 0)
        self._addr()
        i = self._find(n)
        if i < 0 or self._state[i] != _REACHABLE:
            return None
        if now - self._confirmed[i] >= self.reachable_ms - self.max_tries * self.retry_ms:
            return None
        self._used[i] = now
        return self._mac[i]

    def output(self, view, length, next_hop_ip, now):
        """Send the IPv4 frame view[:length] (header filled here) to next_hop_ip.

        next_hop_ip: 4 bytes (any indexable) or an int. Returns 1 if the frame
        went out now, 0 if it was queued or dropped (counted). The view (a tx
        buffer) is always consumed: sent, or handed back to the NIC."""
        self._now = now
        stack = self.stack
        c = stack.counters.c
        n = next_hop_ip if isinstance(next_hop_ip, int) else _arp.read_ip(next_hop_ip, 0)
        self._addr()
        m = self._special_mac(n)
        if m is not None:
            stack.eth.send(view, length, m, _TYPE_IPV4)
            return 1
        i = self._find(n)
        if i >= 0:
            if self._state[i] == _REACHABLE:
                age = now - self._confirmed[i]
                if age < self.reachable_ms:
                    self._used[i] = now
                    stack.eth.send(view, length, self._mac[i], _TYPE_IPV4)
                    if (age >= self.reachable_ms - self.max_tries * self.retry_ms
                            and now - self._req[i] >= self.retry_ms):
                        self._solicit(i, None, now, self._mac[i])  # re-confirm, unicast
                    return 1
                self._state[i] = _FREE  # expired: resolve afresh below
            else:
                self._queue(i, view, length)
                if now - self._req[i] >= self.retry_ms and self._tries[i] < self.max_tries:
                    self._solicit(i, view, now, _eth.BROADCAST)
                else:
                    c["arp_rate_limited"] += 1
                    self._release(view)
                return 0
        if n == 0:
            c["arp_unresolved"] += 1
            self._release(view)
            return 0
        i = self._new_pending(n, now)
        if i < 0:
            self._release(view)
            return 0
        self._queue(i, view, length)
        self._solicit(i, view, now, _eth.BROADCAST)
        return 0

    def send_request(self, ip, now):
        """Start (or hurry) resolving ip without a frame. True if a request went out."""
        self._now = now
        c = self.stack.counters.c
        n = ip if isinstance(ip, int) else _arp.read_ip(ip, 0)
        self._addr()
        i = self._find(n)
        if i < 0:
            i = self._new_pending(n, now)
            if i < 0:
                return False
        elif now - self._req[i] < self.retry_ms or (
                self._state[i] == _PENDING and self._tries[i] >= self.max_tries):
            c["arp_rate_limited"] += 1
            return False
        return self._solicit(i, None, now, _eth.BROADCAST)

    def announce(self, now):
        """Broadcast a gratuitous ARP request for our address (RFC 5227 announce)."""
        self._now = now
        stack = self.stack
        tx = stack.nic.tx_buffer()
        if tx is None:
            stack.counters.c["tx_no_buffer"] += 1
            return False
        self._emit_request(tx, self._addr())
        stack.eth.send(tx, _ARP_END, _eth.BROADCAST, _TYPE_ARP)
        stack.counters.c["arp_requests_sent"] += 1
        return True

    def lookup(self, ip, now=-1):
        """The MAC for ip, or None. A table MAC is a view into the table: copy
        it to keep it. `now` defaults to the latest time this layer saw."""
        if now < 0:
            now = self._now
        n = ip if isinstance(ip, int) else _arp.read_ip(ip, 0)
        self._addr()
        m = self._special_mac(n)
        if m is not None:
            return bytes(m)
        i = self._find(n)
        if i >= 0 and self._state[i] == _REACHABLE and now - self._confirmed[i] < self.reachable_ms:
            return self._mac[i]
        return None

    def entries(self, now=-1):
        """[(ip bytes, mac bytes or None, state name)] for reports (allocates)."""
        if now < 0:
            now = self._now
        out = []
        for i in range(self.size):
            s = self._state[i]
            if s == _FREE:
                continue
            n = self._ip[i]
            ipb = bytes(((n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255))
            if s == _PENDING:
                out.append((ipb, None, "pending"))
            elif now - self._confirmed[i] < self.reachable_ms:
                out.append((ipb, bytes(self._mac[i]), "reachable"))
        return out

    # -- timers ----------------------------------------------------------------
    def poll(self, now):
        """Retry pending requests; give up after max_tries (arp_unresolved)."""
        self._now = now
        if self.timer_at < 0 or now < self.timer_at:
            return
        self._addr()
        st = self._state
        retry = self.retry_ms
        due = -1
        for i in range(self.size):
            if st[i] != _PENDING:
                continue
            d = self._req[i] + retry
            if now >= d:
                if self._tries[i] >= self.max_tries:
                    if self._qlen[i]:
                        self.stack.counters.c["arp_unresolved"] += 1
                        self._qlen[i] = 0
                    st[i] = _FREE
                    continue
                self._solicit(i, None, now, _eth.BROADCAST)
                d = now + retry
            if due < 0 or d < due:
                due = d
        self.timer_at = due

    def next_timeout(self, now):
        """ms until the next retry/give-up, or -1 (expiry needs no timer)."""
        if self.timer_at < 0:
            return -1
        d = self.timer_at - now
        return d if d > 0 else 0
