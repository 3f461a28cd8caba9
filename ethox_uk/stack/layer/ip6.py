# The IPv6 layer (RFC 8200, host rules of RFC 8504): our addresses and
# groups, receive with extension headers, in-place replies, sending with
# routing, Path MTU (RFC 8201) and fragmentation; reassembly in frag6.py,
# neighbour discovery and autoconfiguration in ndp.py, MLDv2 in mld.py.
#
# Receive (view = whole frame, IPv6 at offset 14): wire.ipv6.check; the source
# must not be multicast, loopback or one of ours; the destination one of our
# addresses (a tentative one only for NS/NA, RFC 4862 §5.4.3: icmp6 checks
# `rx_tentative`) or a group we joined. Extension headers are walked in
# order: Hop-by-Hop (first only) and Destination Options have their options
# checked (RFC 8200 §4.2 actions for unknown ones), a Routing header with
# segments left gets a Parameter Problem (we are not a router; RFC 5095
# deprecated type 0), Fragment headers go to the reassembler (an atomic
# fragment is just skipped, RFC 6946), No Next Header ends the packet, an
# unknown header gets Parameter Problem code 1. Upper layers get
# (view, ip_off, off, end, now) with off their header's offset.
#
# Addresses: ADDRS slots (0: the link-local), each TENTATIVE (duplicate
# address detection running), PREFERRED or DEPRECATED, with valid/preferred
# deadlines (absolute ms, -1: forever). Groups: all-nodes always, the
# solicited-node group of every address (counted: addresses sharing an
# interface identifier share it); joins and leaves go to mld.py.
#
# Send: send_begin() (the IPv4 layer's buffers: payload at PAYLOAD_OFF = 54),
# send_finish(view, dst, nh, plen, now, src=None, hops=-1): source selection
# (RFC 6724 in short: a link-local destination gets the link-local source,
# else a preferred global one), next hop (multicast and on-link addresses
# directly -- link-local, static prefix, RA prefixes with L set -- else the
# default router), fragmentation above the path MTU (RFC 8200 §4.5, an
# identification counter from a seeded start), then ndp.output.
from ..compat import const
from ..wire import ethernet as _eth
from ..wire import ipv6 as _w
from ..wire.copy import copy as _copy
from .frag6 import Reassembler6

IP_OFF = const(14)
PAYLOAD_OFF = const(54)
MTU = const(1500)
ADDRS = const(4)
PREFIXES = const(4)
ROUTERS = const(2)
PMTU_SLOTS = const(8)
PMTU_MS = const(600000)  # RFC 8201 §4: a lowered estimate is tried again after 10 min

FREE = const(0)
TENTATIVE = const(1)
PREFERRED = const(2)
DEPRECATED = const(3)

_HOPS = const(64)
_FOREVER = const(-1)

ALL_NODES = b"\xff\x02" + b"\x00" * 13 + b"\x01"
ALL_ROUTERS = b"\xff\x02" + b"\x00" * 13 + b"\x02"
UNSPECIFIED = bytes(16)


class Ip6Layer:
    def __init__(self, stack):
        self.stack = stack
        self.c = stack.counters.c
        cfg = stack.config
        self.auto = cfg.ip6_mode == "auto"
        self.mtu = MTU  # the link's (a router advertisement may lower it)
        self.hops = _HOPS
        self.addrs = [bytearray(16) for _ in range(ADDRS)]
        self.astate = bytearray(ADDRS)
        self.aplen = bytearray(ADDRS)
        self.avalid = [_FOREVER] * ADDRS
        self.apref = [_FOREVER] * ADDRS
        self.groups = []  # bytes(16) of the groups joined
        self.grefs = []
        self.pfx = [bytearray(16) for _ in range(PREFIXES)]  # on-link prefixes (RA L flag)
        self.pfx_len = bytearray(PREFIXES)  # 0: slot free
        self.pfx_until = [0] * PREFIXES
        self.rtr = [bytearray(16) for _ in range(ROUTERS)]  # default routers (RA)
        self.rtr_until = [0] * ROUTERS
        self.rtr_used = bytearray(ROUTERS)
        self.gw6 = cfg.gw6
        self.pm_dst = [bytearray(16) for _ in range(PMTU_SLOTS)]
        self.pm_mtu = [0] * PMTU_SLOTS  # 0: slot free
        self.pm_until = [0] * PMTU_SLOTS
        self._tmp = bytearray(16)
        self._hop = bytearray(16)
        self._sn = bytearray(16)
        seed = stack.rng_seed
        self._ident = _random32() if seed is None else (seed * 2654435761) & 0xFFFFFFFF
        self.timer_at = -1  # the earliest of frag, nd, mld and address lifetimes
        self.addr_at = -1
        self.rx_mcast = False  # the packet being handled went to a group
        self.rx_tentative = False  # ... or to a tentative address of ours
        self.reasm_view = None
        self.frag = Reassembler6(self)
        self.nd = None  # set by the Stack (ndp.py), as are mld and icmp6
        self.mld = None
        self.icmp6 = None
        self.started = False

    # -- start -------------------------------------------------------------------
    def start(self, now):
        """All-nodes, the link-local (fe80::EUI-64, RFC 4862 §5.3) and the static
        address: each tentative while DAD runs."""
        self.started = True
        self.join(ALL_NODES, now)
        ll = bytearray(16)
        ll[0] = 0xFE
        ll[1] = 0x80
        _w.eui64(self.stack.mac, ll)
        self.add_address(ll, 64, now)
        cfg = self.stack.config
        if cfg.ip6 is not None:
            self.add_address(cfg.ip6, cfg.prefix6, now)

    def boot_address(self):
        """(address, prefix length) for the ready line."""
        cfg = self.stack.config
        if cfg.ip6 is not None:
            return (cfg.ip6, cfg.prefix6)
        ll = bytearray(16)
        ll[0] = 0xFE
        ll[1] = 0x80
        return (_w.eui64(self.stack.mac, ll), 64)

    # -- addresses and groups --------------------------------------------------
    def find_addr(self, b, off):
        """Slot of our address at b[off:off+16] (any state), or -1."""
        st = self.astate
        for i in range(ADDRS):
            if st[i] and _w.addr_eq(b, off, self.addrs[i]):
                return i
        return -1

    def add_address(self, addr, plen, now, valid_s=_FOREVER, pref_s=_FOREVER, aoff=0):
        """A new tentative address (DAD starts in ndp); its slot or -1 (full)."""
        for i in range(ADDRS):
            if not self.astate[i]:
                a = self.addrs[i]
                for k in range(16):
                    a[k] = addr[aoff + k]
                self.astate[i] = TENTATIVE
                self.aplen[i] = plen
                self.set_lifetimes(i, valid_s, pref_s, now)
                self.join(_w.solicited_node(a, bytearray(16)), now)
                self.nd.start_dad(i, now)
                return i
        self.c["ipv6_no_address_slot"] += 1
        return -1

    def set_lifetimes(self, i, valid_s, pref_s, now):
        """Lifetimes in seconds (0xFFFFFFFF or < 0: forever; valid_s None: kept)."""
        if valid_s is not None:
            self.avalid[i] = _FOREVER if valid_s == 0xFFFFFFFF or valid_s < 0 \
                else now + valid_s * 1000
        self.apref[i] = _FOREVER if pref_s == 0xFFFFFFFF or pref_s < 0 else now + pref_s * 1000
        if self.astate[i] == DEPRECATED and pref_s:
            self.astate[i] = PREFERRED
        self._arm_addrs()

    def remove_address(self, i, now):
        if not self.astate[i]:
            return
        self.astate[i] = FREE
        self.leave(_w.solicited_node(self.addrs[i], self._sn), now)
        self._arm_addrs()

    def _arm_addrs(self):
        t = -1
        for i in range(ADDRS):
            if self.astate[i]:
                for d in (self.avalid[i], self.apref[i]):
                    if d >= 0 and (t < 0 or d < t):
                        t = d
        self.addr_at = t
        if t >= 0:
            self.arm(t)

    def link_local(self):
        """Our link-local address once DAD passed, else None."""
        return self.addrs[0] if self.astate[0] == PREFERRED else None

    def preferred_global(self):
        for i in range(1, ADDRS):
            if self.astate[i] == PREFERRED:
                return self.addrs[i]
        return None

    def select_source(self, dst, doff=0):
        """RFC 6724 in short; None when no usable address (counted by the caller)."""
        if _w.is_link_local(dst, doff) or (dst[doff] == 0xFF and dst[doff + 1] & 15 <= 2):
            return self.link_local()
        g = self.preferred_global()
        if g is not None:
            return g
        for i in range(1, ADDRS):  # deprecated beats nothing (RFC 4862 §5.5.4)
            if self.astate[i] == DEPRECATED:
                return self.addrs[i]
        return self.link_local()

    def join(self, g, now):
        gs = self.groups
        for k in range(len(gs)):
            if _w.addr_eq(gs[k], 0, g):
                self.grefs[k] += 1
                return
        gs.append(bytes(g))
        self.grefs.append(1)
        if self.mld is not None:
            self.mld.changed(gs[-1], True, now)

    def leave(self, g, now):
        gs = self.groups
        for k in range(len(gs)):
            if _w.addr_eq(gs[k], 0, g):
                self.grefs[k] -= 1
                if self.grefs[k] <= 0:
                    old = gs.pop(k)
                    self.grefs.pop(k)
                    if self.mld is not None:
                        self.mld.changed(old, False, now)
                return

    def is_member(self, b, off):
        for g in self.groups:
            if _w.addr_eq(b, off, g):
                return True
        return False

    # -- prefixes, routers, path MTU ---------------------------------------------
    def on_link(self, dst, doff=0):
        if _w.is_link_local(dst, doff):
            return True
        cfg = self.stack.config
        if cfg.ip6 is not None and _w.prefix_match(dst, doff, cfg.ip6, 0, cfg.prefix6):
            return True
        now = self.stack.now
        for k in range(PREFIXES):
            n = self.pfx_len[k]
            if n and (self.pfx_until[k] < 0 or now < self.pfx_until[k]) \
                    and _w.prefix_match(dst, doff, self.pfx[k], 0, n):
                return True
        return False

    def set_prefix(self, p, poff, plen, valid_s, now):
        """An on-link prefix from a router advertisement (valid_s 0: withdrawn)."""
        free = -1
        for k in range(PREFIXES):
            n = self.pfx_len[k]
            if n == plen and _w.prefix_match(p, poff, self.pfx[k], 0, plen):
                free = k
                break
            if not n and free < 0:
                free = k
        if free < 0:
            self.c["ipv6_no_prefix_slot"] += 1
            return
        if valid_s == 0:
            self.pfx_len[free] = 0
            return
        a = self.pfx[free]
        for k in range(16):
            a[k] = p[poff + k]
        self.pfx_len[free] = plen
        self.pfx_until[free] = -1 if valid_s == 0xFFFFFFFF else now + valid_s * 1000

    def set_router(self, r, roff, lifetime_s, now):
        free = -1
        for k in range(ROUTERS):
            if self.rtr_used[k] and _w.addr_eq(r, roff, self.rtr[k]):
                free = k
                break
            if not self.rtr_used[k] and free < 0:
                free = k
        if free < 0:
            return
        if lifetime_s == 0:
            self.rtr_used[free] = 0
            return
        a = self.rtr[free]
        for k in range(16):
            a[k] = r[roff + k]
        self.rtr_used[free] = 1
        self.rtr_until[free] = now + lifetime_s * 1000

    def default_router(self):
        if self.gw6 is not None:
            return self.gw6
        now = self.stack.now
        for k in range(ROUTERS):
            if self.rtr_used[k] and now < self.rtr_until[k]:
                return self.rtr[k]
        return None

    def next_hop(self, dst, doff=0):
        """The neighbour to hand a packet for dst[doff:] to (a reused buffer), or None."""
        if dst[doff] == 0xFF or self.on_link(dst, doff):
            h = self._hop
            for k in range(16):
                h[k] = dst[doff + k]
            return h
        return self.default_router()

    def path_mtu(self, dst, doff=0):
        now = self.stack.now
        for k in range(PMTU_SLOTS):
            m = self.pm_mtu[k]
            if m and _w.addr_eq(dst, doff, self.pm_dst[k]):
                if now < self.pm_until[k]:
                    return m if m < self.mtu else self.mtu
                self.pm_mtu[k] = 0
        return self.mtu

    def too_big(self, dst, doff, mtu, now):
        """RFC 8201 §4: a Packet Too Big about a packet of ours to dst."""
        if mtu < _w.MIN_MTU:
            mtu = _w.MIN_MTU  # never below the minimum link MTU
        best = 0
        for k in range(PMTU_SLOTS):
            if self.pm_mtu[k] and _w.addr_eq(dst, doff, self.pm_dst[k]):
                best = k
                break
            if not self.pm_mtu[k] or self.pm_until[k] < self.pm_until[best]:
                best = k
        if self.pm_mtu[best] and _w.addr_eq(dst, doff, self.pm_dst[best]) \
                and self.pm_mtu[best] <= mtu and now < self.pm_until[best]:
            return  # never raised by a Packet Too Big (§4)
        a = self.pm_dst[best]
        for k in range(16):
            a[k] = dst[doff + k]
        self.pm_mtu[best] = mtu
        self.pm_until[best] = now + PMTU_MS
        tcp = self.stack.tcp
        f = getattr(tcp, "pmtu6", None) if tcp is not None else None
        if f is not None:
            f(dst, doff, mtu, now)

    # -- receive -----------------------------------------------------------------
    def receive(self, view, length, now):
        c = self.c
        o = IP_OFF
        r = _w.check(view, o, length - o)
        if r is not None:
            c[r] += 1
            return 0
        end = o + 40 + ((view[o + 4] << 8) | view[o + 5])
        s = o + 8
        if view[s] == 0xFF or self.find_addr(view, s) >= 0 or (
                view[s + 15] == 1 and _zeros(view, s, 15)):
            c["ipv6_bad_source"] += 1  # multicast, loopback, or ourselves (a loop)
            return 0
        d = o + 24
        if view[d] == 0xFF:
            if not self.is_member(view, d):
                c["ipv6_not_for_us"] += 1
                return 0
            self.rx_mcast = True
            self.rx_tentative = False
        else:
            i = self.find_addr(view, d)
            if i < 0:
                c["ipv6_not_for_us"] += 1
                return 0
            self.rx_mcast = False
            self.rx_tentative = self.astate[i] == TENTATIVE
        return self.walk(view, o, o + 40, view[o + 6], o + 6, end, now)

    def walk(self, view, o, p, nh, nh_off, end, now):
        """Follow the header chain from p (nh: its type, nh_off: the field naming
        it) to the upper layer; also for a reassembled datagram (frag6)."""
        c = self.c
        stack = self.stack
        while True:
            if nh == 58:
                return self.icmp6.receive(view, o, p, end, now)
            if nh == 17:
                return stack.udp.receive6(view, o, p, end, now)
            if nh == 6:
                tcp = stack.tcp
                if tcp is not None and hasattr(tcp, "receive6"):
                    return tcp.receive6(view, o, p, end, now)
                break
            if nh == 0 or nh == 60 or nh == 43:
                if nh == 0 and p != o + 40:
                    break  # Hop-by-Hop only right after the header (RFC 8200 §4.1)
                if p + 8 > end or p + ((view[p + 1] + 1) << 3) > end:
                    c["ipv6_bad_header"] += 1
                    return 0
                hl = (view[p + 1] + 1) << 3
                if nh == 43:
                    if view[p + 3]:  # segments left: we would have to forward it
                        c["ipv6_routing_header"] += 1
                        self.icmp6.param_problem(view, o, 0, p + 2 - o, now)
                        return 0
                else:
                    r = _w.options(view, p + 2, p + hl)
                    if r:
                        act = r >> 16
                        c["ipv6_bad_option"] += 1
                        if act == _w.ACT_ERROR or (act == _w.ACT_ERROR_UNICAST
                                                   and not self.rx_mcast):
                            self.icmp6.param_problem(view, o, 2, (r & 0xFFFF) - o, now)
                        return 0
                nh_off = p
                nh = view[p]
                p += hl
                continue
            if nh == 44:
                if p + 8 > end:
                    c["ipv6_bad_header"] += 1
                    return 0
                if ((view[p + 2] << 8) | view[p + 3]) & 0xFFF9 == 0:
                    nh_off = p  # an atomic fragment: nothing to reassemble (RFC 6946)
                    nh = view[p]
                    p += 8
                    continue
                if view is self.reasm_view:
                    c["ipv6_frag_bad"] += 1  # a fragment inside a reassembled datagram
                    return 0
                return self.frag.receive(view, o, p, end, now)
            if nh == 59:
                c["ipv6_no_next_header"] += 1
                return 0
            break
        c["ipv6_unknown_next_header"] += 1
        self.icmp6.param_problem(view, o, 1, nh_off - o, now)
        return 0

    # -- in-place replies ----------------------------------------------------------
    def reply_prepare(self, view, o, p, plen, nh, src=None, hops=-1):
        """Turn the request's IPv6 header into the reply's: destination := its
        source, source := `src`, else the address it was sent to when that is
        ours and unicast, else select_source(); the reply's payload (plen bytes
        written at p, the request's upper-layer offset) moves to o + 40.
        Returns the payload offset, or -1 when no source address is usable."""
        t = self._tmp
        for k in range(16):
            t[k] = view[o + 8 + k]
        if src is None and (view[o + 24] == 0xFF or self.find_addr(view, o + 24) < 0):
            src = self.select_source(t)
            if src is None:
                self.c["ipv6_no_source"] += 1
                return -1
        for k in range(16):
            view[o + 8 + k] = view[o + 24 + k] if src is None else src[k]
            view[o + 24 + k] = t[k]
        q = o + 40
        if p != q:
            _copy(view, q, view, p, plen)
        _w.write_fixed(view, o, plen, nh, self.hops if hops < 0 else hops)
        return q

    def reply_finish(self, view, o, now):
        """Frame length of the prepared reply for the Ethernet layer, or 0 when
        it was sent here (from a reassembly buffer, or above the path MTU)."""
        total = 40 + ((view[o + 4] << 8) | view[o + 5])
        if view is self.reasm_view or total > self.path_mtu(view, o + 24):
            self.output_datagram(view, o, now)
            return 0
        return o + total

    # -- send ----------------------------------------------------------------------
    def send_begin(self):
        return self.stack.ip.send_begin()

    def send_abort(self, view):
        self.stack.ip.send_abort(view)

    def send_finish(self, view, dst, nh, plen, now, src=None, hops=-1, doff=0):
        """Write the IPv6 header for the payload at PAYLOAD_OFF and send it to
        dst[doff:doff+16]. False when dropped (counted)."""
        c = self.c
        if src is None:
            src = self.select_source(dst, doff)
            if src is None:
                c["ipv6_no_source"] += 1
                self.send_abort(view)
                return False
        o = IP_OFF
        _w.write_header(view, o, plen, nh, self.hops if hops < 0 else hops, src, dst, doff)
        if view is self.stack.ip.scratch() or 40 + plen > self.path_mtu(view, o + 24):
            ok = self.output_datagram(view, o, now)
            self.send_abort(view)
            return ok
        hop = self.next_hop(view, o + 24)
        if hop is None:
            c["ipv6_no_route"] += 1
            self.send_abort(view)
            return False
        self.nd.output(view, o + 40 + plen, hop, now)
        return True

    def header_template6(self, src, dst, nh, t, now):
        """Fill t[0:54] with the Ethernet and IPv6 headers of our packets from src
        to dst (payload length 0) when the next hop's MAC is known: 0, else -1
        (send_finish() goes first). As IpLayer.header_template, for TCP."""
        hop = self.next_hop(dst)
        if hop is None:
            return -1
        mac = self.nd.mac_for(hop, now)
        if mac is None:
            return -1
        _eth.fill_header(t, mac, self.stack.mac, 0x86DD)
        _w.write_header(t, IP_OFF, 0, nh, self.hops, src, dst)
        return 0

    def send_prepared(self, view, t, tsum, plen, segments):
        """Send the payload at PAYLOAD_OFF behind template t's headers."""
        _copy(view, 0, t, 0, PAYLOAD_OFF)
        view[18] = plen >> 8
        view[19] = plen & 255
        n = PAYLOAD_OFF + plen
        if n < 60:
            n = _eth.pad(view, n)
        self.stack.nic.send(view, n)
        self.c["tx_frames"] += 1

    def output_datagram(self, view, o, now):
        """Send the datagram at view[o:] (not a NIC buffer) by copying it into
        transmit buffers, in fragments when it exceeds the path MTU."""
        c = self.c
        hop = self.next_hop(view, o + 24)
        if hop is None:
            c["ipv6_no_route"] += 1
            return False
        t = hop
        plen = (view[o + 4] << 8) | view[o + 5]
        mtu = self.path_mtu(view, o + 24)
        ip = self.stack.ip
        if 40 + plen <= mtu:
            tx = ip.send_begin()
            if tx is None:
                return False
            _copy(tx, IP_OFF, view, o, 40 + plen)
            self.nd.output(tx, IP_OFF + 40 + plen, t, now)
            return True
        # RFC 8200 §4.5: no extension headers of ours, so the unfragmentable part
        # is the fixed header; every fragment but the last carries 8-byte blocks
        step = (mtu - 48) & ~7
        ident = self._ident = (self._ident + 1) & 0xFFFFFFFF
        nh = view[o + 6]
        pos = 0
        while pos < plen:
            n = plen - pos
            if n > step:
                n = step
            tx = ip.send_begin()
            if tx is None:
                return False
            _copy(tx, IP_OFF, view, o, 40)
            fl = 48 + n - 40
            tx[IP_OFF + 4] = fl >> 8
            tx[IP_OFF + 5] = fl & 255
            tx[IP_OFF + 6] = 44
            f = IP_OFF + 40
            tx[f] = nh
            tx[f + 1] = 0
            more = 1 if pos + n < plen else 0
            tx[f + 2] = pos >> 8
            tx[f + 3] = (pos & 0xF8) | more
            tx[f + 4] = ident >> 24
            tx[f + 5] = (ident >> 16) & 255
            tx[f + 6] = (ident >> 8) & 255
            tx[f + 7] = ident & 255
            _copy(tx, f + 8, view, o + 40 + pos, n)
            c["ipv6_fragments_sent"] += 1
            self.nd.output(tx, f + 8 + n, t, now)
            pos += n
        return True

    # -- timers --------------------------------------------------------------------
    def arm(self, t):
        if self.timer_at < 0 or t < self.timer_at:
            self.timer_at = t

    def poll(self, now):
        self.timer_at = -1
        if not self.started:
            self.start(now)
        f = self.frag
        if 0 <= f.timer_at <= now:
            f.poll(now)
        if 0 <= self.addr_at <= now:
            self._lifetimes(now)
        nd = self.nd
        if 0 <= nd.timer_at <= now:
            nd.poll(now)
        m = self.mld
        if 0 <= m.timer_at <= now:
            m.poll(now)
        for t in (f.timer_at, self.addr_at, nd.timer_at, m.timer_at):
            if t >= 0:
                self.arm(t)

    def _lifetimes(self, now):
        """RFC 4862 §5.5.4: a deprecated address stays for what exists; an
        invalid one goes."""
        for i in range(ADDRS):
            s = self.astate[i]
            if not s:
                continue
            if 0 <= self.avalid[i] <= now:
                self.remove_address(i, now)
            elif s == PREFERRED and 0 <= self.apref[i] <= now:
                self.astate[i] = DEPRECATED
        self._arm_addrs()

    def next_timeout(self, now):
        if self.timer_at < 0:
            return -1
        d = self.timer_at - now
        return d if d > 0 else 0


def _zeros(b, off, n):
    for k in range(n):
        if b[off + k]:
            return False
    return True


def _random32():
    try:
        import os

        b = os.urandom(4)
        return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
    except Exception:
        return 0x2545F491
