# Neighbour discovery for a host (RFC 4861) and stateless address
# autoconfiguration with duplicate address detection (RFC 4862).
#
# Neighbour cache: SIZE slots in preallocated arrays, states INCOMPLETE,
# REACHABLE, STALE, DELAY, PROBE (RFC 4861 §7.3.2). `output` sends an IPv6
# frame to a next hop: a group's MAC directly (RFC 2464 §7); a known
# neighbour's MAC (a STALE one moves to DELAY, then PROBE after
# DELAY_FIRST_PROBE_MS: unicast solicitations, the entry goes after
# MAX_UNICAST_SOLICIT unanswered); else a new INCOMPLETE entry holding a copy
# of the frame (the newest replaces the older: nd_queue_full) and multicast
# solicitations every retrans_ms, MAX_MULTICAST_SOLICIT of them
# (nd_unresolved). Bounded like ARP: at most PENDING entries are being
# resolved (nd_pending_full; their frame buffers are the only queue memory),
# and entries that neighbours create unasked (a solicitation's or an
# advertisement's link-layer option) never evict one used in the last
# PROTECT_MS (nd_table_full); our own traffic takes the least recently used.
#
# Messages (checks of RFC 4861 §6.1.2, §7.1.1, §7.1.2; failures count
# nd_bad_message): a Neighbor Solicitation for one of our addresses is
# answered in place with a solicited, override advertisement carrying our
# MAC (from the unspecified address -- someone's DAD -- to all-nodes);
# advertisements update the cache by the rules of §7.2.5; a router
# advertisement gives the default router, hop limit, timers, MTU, on-link
# prefixes and, with ip6=auto, addresses (RFC 4862 §5.5.3, lifetimes with
# the two-hour rule).
#
# DAD (RFC 4862 §5.4): every new address is tentative; after a random delay
# below 1 s one solicitation from :: goes to its solicited-node group; a
# solicitation from :: or an advertisement for it means someone has it
# (nd_dad_failed: the address is given up, and a duplicate link-local stops
# autoconfiguration, §5.4.5); else it is preferred retrans_ms later. The
# link-local's completion starts router solicitation (§6.3.7: up to 3, 4 s
# apart, until an advertisement with a router lifetime arrives).
from ..compat import const
from ..nic.base import MAX_FRAME
from ..wire import icmp6 as _m
from ..wire import ipv6 as _w
from . import ip6 as _ip6
from .ip6 import PAYLOAD_OFF

SIZE = const(16)
PENDING = const(4)
PROTECT_MS = const(30000)
REACHABLE_MS = const(30000)  # RFC 4861 §10 REACHABLE_TIME
RETRANS_MS = const(1000)  # RETRANS_TIMER
DELAY_FIRST_PROBE_MS = const(5000)
MAX_MULTICAST_SOLICIT = const(3)
MAX_UNICAST_SOLICIT = const(3)
MAX_RTR_SOLICITATIONS = const(3)
RTR_SOLICITATION_MS = const(4000)
MAX_RTR_SOLICITATION_DELAY_MS = const(1000)
DAD_TRANSMITS = const(1)

_FREE = const(0)
INCOMPLETE = const(1)
REACHABLE = const(2)
STALE = const(3)
DELAY = const(4)
PROBE = const(5)
STATE_NAMES = ("free", "incomplete", "reachable", "stale", "delay", "probe")

_ETH_IPV6 = const(0x86DD)


class NdLayer:
    def __init__(self, stack, size=SIZE, pending=PENDING):
        self.stack = stack
        self.ip6 = stack.ip6
        self.c = stack.counters.c
        self.size = size
        self.pending = pending
        self.retrans_ms = RETRANS_MS
        self.base_reachable_ms = REACHABLE_MS
        self.protect_ms = PROTECT_MS
        self.delay_ms = DELAY_FIRST_PROBE_MS
        seed = stack.rng_seed
        r = _ip6._random32() if seed is None else seed * 2654435761 + 0x9E3779B9
        self._rng = (r & 0x3FFFFFFF) or 1
        self.reachable_ms = self._reachable()
        self.st = bytearray(size)
        self.addr = bytearray(16 * size)
        mv = memoryview(bytearray(6 * size))
        self.mac = [mv[6 * i:6 * i + 6] for i in range(size)]
        self.at = [0] * size  # REACHABLE: until; DELAY/PROBE/INCOMPLETE: next step
        self.used = [0] * size
        self.tries = bytearray(size)
        self.router = bytearray(size)
        self.qidx = bytearray(size)  # 1 + the queue buffer an INCOMPLETE entry holds
        self.qbuf = [memoryview(bytearray(MAX_FRAME)) for _ in range(pending)]
        self.qlen = [0] * pending
        self.qfree = list(range(pending))
        self._hit = 0
        self._mmac = bytearray(6)
        self._sn = bytearray(16)
        n = _ip6.ADDRS
        self.dad_at = [-1] * n
        self.dad_left = bytearray(n)
        self.rs_left = 0
        self.rs_at = -1
        self.disabled = False  # the link-local was a duplicate (RFC 4862 §5.4.5)
        self.timer_at = -1

    def _rand(self, n):
        r = self._rng
        r ^= (r << 13) & 0x3FFFFFFF
        r ^= r >> 17
        r ^= (r << 5) & 0x3FFFFFFF
        self._rng = r
        return r % n if n > 0 else 0

    def _reachable(self):
        # RFC 4861 §6.3.2: uniformly between 0.5 and 1.5 times the base value
        b = self.base_reachable_ms
        return (b >> 1) + self._rand(b + 1)

    def arm(self, t):
        if self.timer_at < 0 or t < self.timer_at:
            self.timer_at = t
        self.ip6.arm(t)

    # -- the cache ---------------------------------------------------------------------
    def find(self, b, off=0):
        h = self._hit
        st = self.st
        a = self.addr
        if st[h] and _w.addr_eq(b, off, a, 16 * h):
            return h
        for i in range(self.size):
            if st[i] and _w.addr_eq(b, off, a, 16 * i):
                self._hit = i
                return i
        return -1

    def _pending_count(self):
        n = 0
        for i in range(self.size):
            if self.st[i] == INCOMPLETE:
                n += 1
        return n

    def _victim(self, now, unasked):
        st = self.st
        best = -1
        for i in range(self.size):
            s = st[i]
            if s == _FREE:
                return i
            if s != INCOMPLETE and (best < 0 or self.used[i] < self.used[best]):
                best = i
        if best >= 0 and unasked and now - self.used[best] < self.protect_ms:
            return -1  # every entry is in use: a neighbour's say-so does not evict one
        return best

    def _claim(self, i, b, off, now):
        a = self.addr
        for k in range(16):
            a[16 * i + k] = b[off + k]
        self.used[i] = now - self.protect_ms  # created, not yet used by us
        self.tries[i] = 0
        self.router[i] = 0
        self._hit = i

    def _free(self, i):
        q = self.qidx[i]
        if q:
            self.qidx[i] = 0
            self.qfree.append(q - 1)
        self.st[i] = _FREE

    def _flush(self, i):
        q = self.qidx[i]
        if not q:
            return
        self.qidx[i] = 0
        self.qfree.append(q - 1)
        n = self.qlen[q - 1]
        stack = self.stack
        tx = stack.nic.tx_buffer()
        if tx is None:
            self.c["tx_no_buffer"] += 1
            return
        tx[0:n] = self.qbuf[q - 1][0:n]
        stack.eth.send(tx, n, self.mac[i], _ETH_IPV6)

    def _queue(self, i, view, length):
        q = self.qidx[i]
        if q:
            self.c["nd_queue_full"] += 1  # the newest frame replaces the older one
        else:
            if not self.qfree:  # cannot happen: at most `pending` INCOMPLETE entries
                self.c["nd_queue_full"] += 1
                return
            q = self.qfree.pop() + 1
            self.qidx[i] = q
        if length > MAX_FRAME:
            self.c["nd_queue_full"] += 1
            self.qidx[i] = 0
            self.qfree.append(q - 1)
            return
        self.qbuf[q - 1][0:length] = view[0:length]
        self.qlen[q - 1] = length

    def _release(self, view):
        self.stack.ip.send_abort(view)

    def _learn(self, view, aoff, moff, now, router):
        """A link-layer address neighbours told us unasked (RFC 4861 §7.2.3,
        §6.3.4): create STALE, or update a different MAC to STALE."""
        i = self.find(view, aoff)
        if i < 0:
            i = self._victim(now, True)
            if i < 0:
                self.c["nd_table_full"] += 1
                return
            self._claim(i, view, aoff, now)
            self.st[i] = _FREE
        m = self.mac[i]
        s = self.st[i]
        if s == _FREE or s == INCOMPLETE or not _same_mac(m, view, moff):
            for k in range(6):
                m[k] = view[moff + k]
            self.st[i] = STALE
            if s == INCOMPLETE:
                self._flush(i)
        if router:
            self.router[i] = 1

    # -- output --------------------------------------------------------------------------
    def output(self, view, length, hop, now):
        """Send the IPv6 frame view[:length] to next hop `hop` (16 bytes)."""
        stack = self.stack
        if hop[0] == 0xFF:
            stack.eth.send(view, length, _w.mcast_mac(hop, 0, self._mmac), _ETH_IPV6)
            return 1
        i = self.find(hop)
        if i >= 0:
            s = self.st[i]
            if s == INCOMPLETE:
                self._queue(i, view, length)
                self._release(view)
                return 0
            self.used[i] = now
            if s == REACHABLE and now >= self.at[i]:
                s = STALE
            if s == STALE:
                self.st[i] = DELAY  # RFC 4861 §7.3.3
                self.at[i] = now + self.delay_ms
                self.arm(self.at[i])
            stack.eth.send(view, length, self.mac[i], _ETH_IPV6)
            return 1
        if self._pending_count() >= self.pending:
            self.c["nd_pending_full"] += 1
            self._release(view)
            return 0
        i = self._victim(now, False)
        if i < 0:
            self.c["nd_pending_full"] += 1
            self._release(view)
            return 0
        if self.st[i]:
            self._free(i)
        self._claim(i, hop, 0, now)
        self.used[i] = now
        self.st[i] = INCOMPLETE
        self._queue(i, view, length)
        self._release(view)
        self._solicit(i, now, False)
        return 0

    def mac_for(self, hop, now):
        """The MAC of a reachable next hop, else None (output() resolves)."""
        if hop[0] == 0xFF:
            return _w.mcast_mac(hop, 0, self._mmac)
        i = self.find(hop)
        if i < 0 or self.st[i] != REACHABLE or now >= self.at[i]:
            return None
        self.used[i] = now
        return self.mac[i]

    def entries(self, now):
        """[(addr bytes, mac bytes or None, state name, router)] (allocates)."""
        out = []
        for i in range(self.size):
            s = self.st[i]
            if s:
                if s == REACHABLE and now >= self.at[i]:
                    s = STALE
                out.append((bytes(self.addr[16 * i:16 * i + 16]),
                            None if s == INCOMPLETE else bytes(self.mac[i]), STATE_NAMES[s],
                            bool(self.router[i])))
        return out

    # -- sending solicitations ----------------------------------------------------------
    def _ns(self, target, toff, src, dst, now):
        """A Neighbor Solicitation for target; src None: from :: (DAD), no option."""
        ip6 = self.ip6
        tx = ip6.send_begin()
        if tx is None:
            return False
        p = PAYLOAD_OFF
        n = self._ns_message(tx, target, toff, src is not None)
        _w.write_header(tx, 14, n, 58, 255, src if src is not None else _ip6.UNSPECIFIED, dst)
        _m.fill_checksum(tx, 14, p, p + n)
        self.c["nd_ns_sent"] += 1
        return ip6.send_finish(tx, dst, 58, n, now, src if src is not None else _ip6.UNSPECIFIED,
                               255)

    def _ns_message(self, tx, target, toff, sllao):
        """A Neighbor Solicitation for target[toff:toff+16] at PAYLOAD_OFF, with our
        link-layer address option when sllao (not from ::); its length."""
        p = PAYLOAD_OFF
        tx[p] = 135
        tx[p + 1] = 0
        for k in range(4):
            tx[p + 4 + k] = 0
        for k in range(16):
            tx[p + 8 + k] = target[toff + k]
        if not sllao:
            return 24
        _sllao(tx, p + 24, 1, self.stack.mac)
        return 32

    def _solicit(self, i, now, unicast):
        self.tries[i] += 1
        self.at[i] = now + self.retrans_ms
        self.arm(self.at[i])
        a = memoryview(self.addr)[16 * i:16 * i + 16]
        src = self.ip6.select_source(a)
        if src is None:
            self.c["ipv6_no_source"] += 1
            return False
        dst = a if unicast else _w.solicited_node(a, self._sn)
        if unicast:
            # unicast probes go to the cached MAC (output() would find this entry)
            return self._ns_unicast(i, a, src, now)
        return self._ns(a, 0, src, dst, now)

    def _ns_unicast(self, i, a, src, now):
        ip6 = self.ip6
        tx = ip6.send_begin()
        if tx is None:
            return False
        p = PAYLOAD_OFF
        self._ns_message(tx, a, 0, True)
        _w.write_header(tx, 14, 32, 58, 255, src, a)
        _m.fill_checksum(tx, 14, p, p + 32)
        self.c["nd_ns_sent"] += 1
        self.stack.eth.send(tx, p + 32, self.mac[i], _ETH_IPV6)
        return True

    def send_rs(self, now):
        ip6 = self.ip6
        tx = ip6.send_begin()
        if tx is None:
            return False
        src = ip6.link_local()
        p = PAYLOAD_OFF
        tx[p] = 133
        tx[p + 1] = 0
        for k in range(4):
            tx[p + 4 + k] = 0
        n = 8
        if src is not None:  # no source link-layer option from :: (RFC 4861 §4.1)
            _sllao(tx, p + 8, 1, self.stack.mac)
            n = 16
        else:
            src = _ip6.UNSPECIFIED
        _w.write_header(tx, 14, n, 58, 255, src, _ip6.ALL_ROUTERS)
        _m.fill_checksum(tx, 14, p, p + n)
        self.c["nd_rs_sent"] += 1
        return ip6.send_finish(tx, _ip6.ALL_ROUTERS, 58, n, now, src, 255)

    # -- DAD and router solicitation --------------------------------------------------
    def start_dad(self, i, now):
        self.dad_left[i] = DAD_TRANSMITS
        self.dad_at[i] = now + self._rand(MAX_RTR_SOLICITATION_DELAY_MS)
        self.arm(self.dad_at[i])

    def _dad_failed(self, i, now):
        self.c["nd_dad_failed"] += 1
        self.dad_at[i] = -1
        self.ip6.remove_address(i, now)
        if i == 0:
            self.disabled = True  # the global ones share its identifier (§5.4.5)
            self.rs_left = 0

    def _dad_step(self, i, now):
        ip6 = self.ip6
        if ip6.astate[i] != _ip6.TENTATIVE:
            self.dad_at[i] = -1
            return
        if self.dad_left[i]:
            self.dad_left[i] -= 1
            a = ip6.addrs[i]
            self._ns(a, 0, None, _w.solicited_node(a, self._sn), now)
            self.dad_at[i] = now + self.retrans_ms
            return
        self.dad_at[i] = -1
        ip6.astate[i] = _ip6.PREFERRED
        if i == 0:
            # RFC 4861 §6.3.7: solicit routers once we have a source address
            self.rs_left = MAX_RTR_SOLICITATIONS
            self.rs_at = now + self._rand(MAX_RTR_SOLICITATION_DELAY_MS)

    # -- receive -----------------------------------------------------------------------
    def _looped(self, view, o):
        # our own frame handed back (a reflecting link): not a conflict
        m = self.stack.mac
        return o >= 14 and _same_mac(m, view, o - 8)

    def receive_ns(self, view, o, p, end, now):
        c = self.c
        n = end - p
        if view[o + 7] != 255 or view[p + 1] != 0 or n < 24 or view[p + 8] == 0xFF \
                or _m.nd_options(view, p + 24, end) is not None:
            c["nd_bad_message"] += 1
            return 0
        unspec = _w.is_unspecified(view, o + 8)
        sll = _m.find_option(view, p + 24, end, 1)
        if unspec and (sll >= 0 or not _w.is_solicited_node(view, o + 24)):
            c["nd_bad_message"] += 1  # RFC 4861 §7.1.1
            return 0
        ip6 = self.ip6
        i = ip6.find_addr(view, p + 8)
        if i < 0:
            c["nd_not_for_us"] += 1
            return 0
        c["nd_ns_rx"] += 1
        if ip6.astate[i] == _ip6.TENTATIVE:
            if unspec and not self._looped(view, o):
                self._dad_failed(i, now)  # another node is claiming it too
            return 0  # RFC 4862 §5.4.3: no answer for a tentative address
        if not unspec and sll >= 0 and view[sll + 1] == 1:
            self._learn(view, o + 8, sll + 2, now, False)
        # the advertisement, written over the solicitation
        view[p] = 136
        view[p + 1] = 0
        view[p + 4] = (0 if unspec else _m.NA_SOLICITED) | _m.NA_OVERRIDE
        view[p + 5] = 0
        view[p + 6] = 0
        view[p + 7] = 0
        _sllao(view, p + 24, 2, self.stack.mac)
        c["nd_na_sent"] += 1
        a = ip6.addrs[i]
        if unspec:
            # to all-nodes (§7.2.4): not an in-place reply to the frame's sender
            tx = ip6.send_begin()
            if tx is None:
                return 0
            tx[PAYLOAD_OFF:PAYLOAD_OFF + 32] = view[p:p + 32]
            _w.write_header(tx, 14, 32, 58, 255, a, _ip6.ALL_NODES)
            _m.fill_checksum(tx, 14, PAYLOAD_OFF, PAYLOAD_OFF + 32)
            ip6.send_finish(tx, _ip6.ALL_NODES, 58, 32, now, a, 255)
            return 0
        q = ip6.reply_prepare(view, o, p, 32, 58, a, 255)
        _m.fill_checksum(view, o, q, q + 32)
        return ip6.reply_finish(view, o, now)

    def receive_na(self, view, o, p, end, now):
        c = self.c
        n = end - p
        if view[o + 7] != 255 or view[p + 1] != 0 or n < 24 or view[p + 8] == 0xFF \
                or (view[o + 24] == 0xFF and view[p + 4] & _m.NA_SOLICITED) \
                or _m.nd_options(view, p + 24, end) is not None:
            c["nd_bad_message"] += 1
            return 0
        c["nd_na_rx"] += 1
        ip6 = self.ip6
        k = ip6.find_addr(view, p + 8)
        if k >= 0:
            if not self._looped(view, o):
                if ip6.astate[k] == _ip6.TENTATIVE:
                    self._dad_failed(k, now)
                else:
                    c["nd_address_conflict"] += 1  # RFC 4862 §5.4.4: noted, kept
            return 0
        i = self.find(view, p + 8)
        if i < 0:
            return 0  # §7.2.5: no entry, nothing to do
        fl = view[p + 4]
        tll = _m.find_option(view, p + 24, end, 2)
        if tll >= 0 and view[tll + 1] != 1:
            tll = -1
        m = self.mac[i]
        s = self.st[i]
        if s == INCOMPLETE:
            if tll < 0:
                return 0
            for j in range(6):
                m[j] = view[tll + 2 + j]
            self._set_reached(i, fl & _m.NA_SOLICITED, now)
            self.router[i] = 1 if fl & _m.NA_ROUTER else 0
            self._flush(i)
            return 0
        same = tll < 0 or _same_mac(m, view, tll + 2)
        if not fl & _m.NA_OVERRIDE and not same:
            if s == REACHABLE:
                self.st[i] = STALE
            return 0
        if tll >= 0:
            for j in range(6):
                m[j] = view[tll + 2 + j]
        if fl & _m.NA_SOLICITED:
            self._set_reached(i, True, now)
        elif not same:
            self.st[i] = STALE
        if self.router[i] and not fl & _m.NA_ROUTER:
            ip6.set_router(view, p + 8, 0, now)  # no longer a router: not our default
        self.router[i] = 1 if fl & _m.NA_ROUTER else 0
        return 0

    def _set_reached(self, i, solicited, now):
        if solicited:
            self.st[i] = REACHABLE
            self.at[i] = now + self.reachable_ms
            self.tries[i] = 0
        else:
            self.st[i] = STALE

    def receive_ra(self, view, o, p, end, now):
        c = self.c
        n = end - p
        if not _w.is_link_local(view, o + 8) or view[o + 7] != 255 or view[p + 1] != 0 \
                or n < 16 or _m.nd_options(view, p + 16, end) is not None:
            c["nd_bad_message"] += 1  # RFC 4861 §6.1.2
            return 0
        c["nd_ra_rx"] += 1
        ip6 = self.ip6
        if view[p + 4]:
            ip6.hops = view[p + 4]
        life = (view[p + 6] << 8) | view[p + 7]
        ip6.set_router(view, o + 8, life, now)
        if life:
            self.rs_left = 0  # §6.3.7: a router answered
        r = _u32(view, p + 8)
        if r and r <= 3600000 and r != self.base_reachable_ms:
            self.base_reachable_ms = r
            self.reachable_ms = self._reachable()
        r = _u32(view, p + 12)
        if r and 10 <= r <= 60000:
            self.retrans_ms = r
        q = p + 16
        while q + 8 <= end:
            t = view[q]
            ln = view[q + 1] << 3
            if t == 1 and ln == 8:
                self._learn(view, o + 8, q + 2, now, True)
            elif t == 5 and ln == 8:
                mtu = _u32(view, q + 4)
                if _w.MIN_MTU <= mtu <= _ip6.MTU:
                    ip6.mtu = mtu
            elif t == 3 and ln == 32:
                self._prefix(view, q, now)
            q += ln
        return 0

    def _prefix(self, view, q, now):
        """RFC 4861 §6.3.4 (on-link) and RFC 4862 §5.5.3 (autonomous)."""
        ip6 = self.ip6
        plen = view[q + 2]
        fl = view[q + 3]
        valid = _u32(view, q + 4)
        pref = _u32(view, q + 8)
        pf = q + 16
        if _w.is_link_local(view, pf) or plen > 128:
            return
        if fl & 0x80:
            ip6.set_prefix(view, pf, plen, valid, now)
        if not fl & 0x40 or not ip6.auto or self.disabled or pref > valid:
            return
        if plen != 64:
            self.c["nd_prefix_ignored"] += 1  # our identifiers are 64 bits (RFC 4862 §5.5.3 d)
            return
        for i in range(1, _ip6.ADDRS):
            if ip6.astate[i] and _w.prefix_match(view, pf, ip6.addrs[i], 0, 64):
                left = ip6.avalid[i] - now if ip6.avalid[i] >= 0 else 0x7FFFFFFFFFFF
                # e): the two-hour rule against a forged short lifetime
                if valid > 7200 or valid * 1000 > left:
                    ip6.set_lifetimes(i, valid, pref, now)
                elif left <= 7200000:
                    ip6.set_lifetimes(i, None, pref, now)  # the valid lifetime stays
                else:
                    ip6.set_lifetimes(i, 7200, pref, now)
                return
        if valid == 0:
            return
        a = self._sn  # scratch: prefix + our interface identifier
        for k in range(8):
            a[k] = view[pf + k]
        _w.eui64(self.stack.mac, a)
        ip6.add_address(a, 64, now, valid, pref)

    # -- timers --------------------------------------------------------------------------
    def poll(self, now):
        due = -1
        st = self.st
        for i in range(self.size):
            s = st[i]
            if s == INCOMPLETE or s == DELAY or s == PROBE:
                t = self.at[i]
                if now >= t:
                    if s == INCOMPLETE:
                        if self.tries[i] >= MAX_MULTICAST_SOLICIT:
                            if self.qidx[i]:
                                self.c["nd_unresolved"] += 1
                            self._free(i)
                            continue
                        self._solicit(i, now, False)
                    elif s == DELAY:
                        st[i] = PROBE
                        self.tries[i] = 0
                        self._solicit(i, now, True)
                    else:
                        if self.tries[i] >= MAX_UNICAST_SOLICIT:
                            self._free(i)  # §7.3.3: unreachable, forgotten
                            continue
                        self._solicit(i, now, True)
                    t = self.at[i]
                if due < 0 or t < due:
                    due = t
        ip6 = self.ip6
        for i in range(_ip6.ADDRS):
            t = self.dad_at[i]
            if t >= 0:
                if now >= t:
                    self._dad_step(i, now)
                    t = self.dad_at[i]
                if t >= 0 and (due < 0 or t < due):
                    due = t
        if self.rs_left:
            if now >= self.rs_at:
                self.rs_left -= 1
                self.send_rs(now)
                self.rs_at = now + RTR_SOLICITATION_MS
            if self.rs_left and (due < 0 or self.rs_at < due):
                due = self.rs_at
        self.timer_at = due


def _sllao(b, off, kind, mac):
    b[off] = kind
    b[off + 1] = 1
    for k in range(6):
        b[off + 2 + k] = mac[k]


def _same_mac(m, b, off):
    for k in range(6):
        if m[k] != b[off + k]:
            return False
    return True


def _u32(b, off):
    return (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]
