# The IPv4 layer (RFC 791, host rules of RFC 1122 §3): receive, in-place
# replies, sending with routing and fragmentation; reassembly lives in frag.py.
#
# Receive (view = whole frame, IPv4 at offset 14): every header check is
# wire.ipv4.check (one call, a counter name back); then the source must be a
# single host (not multicast/broadcast/loopback/ourselves; 0.0.0.0 only for
# UDP, as DHCP needs) and the destination ours, the subnet broadcast or
# 255.255.255.255 (we are not a router). Ethernet padding is trimmed by the
# total length. Fragments go to the reassembler; whole datagrams to
# icmp/udp/tcp as (view, ip_off, ip_hlen, end, now) where `end` is the offset
# just past the datagram (ip_off + total length). Unknown protocols (and TCP
# while no TCP layer is attached) get an ICMP protocol unreachable.
#
# In-place replies: the upper layer writes its answer over the request and
# calls reply_in_place(view, ip_off, payload_len, now) -- or reply_prepare()
# (rewrites the IPv4 header: destination := the request's source, source :=
# our address, a fresh ID, TTL 64, no options; returns the payload offset,
# where the upper layer then fixes its checksum) followed by reply_finish().
# reply_finish returns the frame length for the Ethernet layer, or 0 after
# sending the reply itself: for a reassembled datagram (the buffer is not the
# NIC's) or a reply larger than the MTU, it copies the reply into transmit
# buffers, fragmenting as needed, and routes it through ARP.
#
# Send: send_begin() -> a NIC transmit buffer (payload at PAYLOAD_OFF), or
# scratch() for payloads up to the reassembly size; send_finish() writes the
# header (ID from a counter starting at a seeded random value, TTL 64, DF
# clear: we do no path-MTU discovery, so routers may fragment), routes
# (on-link or broadcast -> the destination, else the gateway, else
# ipv4_no_route), fragments above the MTU and hands each frame to
# stack.arp.output. A buffer that is not sent goes back through
# nic.release() when the NIC has it, else it is kept for the next send_begin.
from ..compat import const, micropython
from ..nic.base import BUF_SIZE
from ..wire import ipv4 as _ip
from ..wire.checksum import csum
from ..wire import ethernet as _eth
from ..wire.copy import copy as _copy
from .frag import Reassembler, SLOTS, SLOT_DATA

IP_OFF = const(14)
PAYLOAD_OFF = const(34)
MTU = const(1500)
MAX_PAYLOAD = const(1480)  # MTU - 20: the payload of one unfragmented datagram
_FRAG_STEP = const(1480)  # payload per fragment, a multiple of 8
_TTL = const(64)


def seed16(seed):
    """A 16-bit start value from the stack's seed (random when None)."""
    if seed is None:
        try:
            import os

            b = os.urandom(2)
            return (b[0] << 8) | b[1]
        except Exception:
            seed = 0x2545
    return (seed * 40503 + 0x3C6E) & 0xFFFF


class IpLayer:
    def __init__(self, stack, frag_slots=SLOTS, frag_size=SLOT_DATA):
        self.stack = stack
        self.c = stack.counters.c
        self.addr = bytearray(4)  # our address (kept in step with stack.ip_addr)
        self.mask = bytearray(4)
        self.bcast = bytearray(b"\xff\xff\xff\xff")  # subnet broadcast (all ones for /31, /32)
        self.gw = bytearray(4)
        self.has_gw = False
        self.has_bcast = False
        self._addr_src = None
        self._hop = bytearray(4)  # next hop handed to ARP (read at once, never kept)
        self._ident = seed16(stack.rng_seed)
        self._spares = []
        self.max_payload = frag_size  # largest datagram payload we send or reassemble
        self._scratch = memoryview(bytearray(PAYLOAD_OFF + frag_size))
        self.frag = Reassembler(self, frag_slots, frag_size)
        self.reasm_view = None  # the reassembly buffer while it is being delivered
        faults = stack.faults
        # test-only (negative control): accept IPv4 headers with a bad checksum
        self.ignore_checksum = "ignore_ip_checksum" in faults
        # test-only (negative control): send every datagram with TTL 0
        self.ttl = 0 if "ttl_zero" in faults else _TTL
        # test-only (negative control), icmp_errors_unrestricted: refuse an unknown
        # protocol per fragment, before reassembly (so errors go out about non-first
        # fragments too), and route 0.0.0.0 via the gateway (so errors reach it)
        self.errors_unrestricted = "icmp_errors_unrestricted" in faults
        self.refresh()

    # -- addresses -------------------------------------------------------------
    def refresh(self):
        """Re-read address, prefix and gateway from the stack (when stack.ip_addr changes)."""
        stack = self.stack
        a = stack.ip_addr
        self._addr_src = a
        cfg = stack.config
        pfx = cfg.prefix
        m = (0xFFFFFFFF << (32 - pfx)) & 0xFFFFFFFF
        for k in range(4):
            self.addr[k] = a[k]
            self.mask[k] = (m >> (24 - 8 * k)) & 255
            self.bcast[k] = 255 if pfx >= 31 else (a[k] | (~self.mask[k] & 255))
        self.has_bcast = pfx < 31
        gw = cfg.gw
        self.has_gw = gw is not None
        if gw is not None:
            for k in range(4):
                self.gw[k] = gw[k]

    def source_addr(self):
        """Our address (a bytearray kept current): the source of what we send."""
        if self.stack.ip_addr is not self._addr_src:
            self.refresh()
        return self.addr

    def dst_is_broadcast(self, view, ip_off):
        """Destination is limited/subnet broadcast or multicast."""
        d = ip_off + 16
        if view[d] >= 224:
            return True
        return self.has_bcast and _ip.addr_eq(view, d, self.bcast)

    def src_is_host(self, view, ip_off):
        """Source names a single host (RFC 1122 3.2.2: what ICMP errors may go to)."""
        s = ip_off + 12
        a = view[s]
        if a == 0 or a == 127 or a >= 224:
            return False
        return not (self.has_bcast and _ip.addr_eq(view, s, self.bcast))

    def route(self, dst, off=0):
        """Next hop for the address dst[off:off+4] (a reused 4-byte buffer), or None."""
        a = dst[off]
        h = self._hop
        if a == 0 or a == 127 or _ip.addr_eq(dst, off, self.addr):
            if a == 0 and self.errors_unrestricted and self.has_gw:
                return self.gw  # test-only (negative control): icmp_errors_unrestricted
            return None  # nowhere on the wire (no loopback interface)
        m = self.mask
        ip = self.addr
        on_link = a >= 224 or (
            not ((a ^ ip[0]) & m[0]) and not ((dst[off + 1] ^ ip[1]) & m[1])
            and not ((dst[off + 2] ^ ip[2]) & m[2]) and not ((dst[off + 3] ^ ip[3]) & m[3]))
        if on_link:
            h[0] = a
            h[1] = dst[off + 1]
            h[2] = dst[off + 2]
            h[3] = dst[off + 3]
            return h
        if self.has_gw:
            return self.gw
        return None

    def _next_ident(self):
        i = (self._ident + 1) & 0xFFFF
        self._ident = i
        return i

    # -- receive ---------------------------------------------------------------
    @micropython.native
    def receive(self, view, length, now):
        """A frame with IPv4 at offset 14; returns the in-place reply's length or 0."""
        c = self.c
        if self.stack.ip_addr is not self._addr_src:
            self.refresh()
        o = IP_OFF
        me = self.addr
        if (view[o] == 0x45 and length >= 34 and view[o + 19] == me[3] and view[o + 18] == me[2]
                and view[o + 17] == me[1] and view[o + 16] == me[0]
                and ((view[o + 6] & 0x3F) | view[o + 7]) == 0):
            # the common case -- a 20-byte header, to our address, not a
            # fragment -- checked here in line: wire.ipv4.check's tests, in its
            # order, for what is left (length, total length, checksum last)
            total = (view[o + 2] << 8) | view[o + 3]
            if total < 20 or total > length - o:
                c["ipv4_bad_total_len"] += 1
                return 0
            if csum(view, o, o + 20) != 0xFFFF and not self.ignore_checksum:
                c["ipv4_bad_checksum"] += 1
                return 0
            a = view[o + 12]
            if a >= 224 or a == 127 or a == 0 or (
                    view[o + 15] == me[3] and view[o + 14] == me[2] and view[o + 13] == me[1]
                    and a == me[0]) or (self.has_bcast and _ip.addr_eq(view, o + 12, self.bcast)):
                if a != 0 or view[o + 9] != 17 or view[o + 13] or view[o + 14] or view[o + 15]:
                    c["ipv4_bad_source"] += 1  # 0.0.0.0 only while configuring (DHCP, UDP)
                    return 0
            return self.dispatch(view, o, 20, o + total, now)
        r = _ip.check(view, o, length - o)
        if r is not None:
            # test-only (negative control): ignore_ip_checksum accepts a header whose
            # only fault is its checksum (check() tests the checksum last)
            if not self.ignore_checksum or r != "ipv4_bad_checksum":
                c[r] += 1
                return 0
        hl = (view[o] & 15) << 2
        total = (view[o + 2] << 8) | view[o + 3]
        # the source must be one host
        s = o + 12
        a = view[s]
        if (a >= 224 or a == 127 or _ip.addr_eq(view, s, self.addr)
                or (self.has_bcast and _ip.addr_eq(view, s, self.bcast))):
            c["ipv4_bad_source"] += 1
            return 0
        if a == 0 and (view[o + 9] != 17 or view[s + 1] or view[s + 2] or view[s + 3]):
            c["ipv4_bad_source"] += 1  # 0.0.0.0 only while configuring (DHCP over UDP)
            return 0
        # the destination must be us
        d = o + 16
        if not _ip.addr_eq(view, d, self.addr):
            if (view[d] & view[d + 1] & view[d + 2] & view[d + 3]) != 255 and not (
                    self.has_bcast and _ip.addr_eq(view, d, self.bcast)):
                c["ipv4_not_for_us"] += 1
                return 0
        if ((view[o + 6] & 0x3F) | view[o + 7]) != 0:  # MF or an offset: a fragment
            if self.errors_unrestricted:  # test-only (negative control)
                p = view[o + 9]
                if p != 1 and p != 17 and p != 6:
                    return self.dispatch(view, o, hl, o + total, now)
            return self.frag.receive(view, o, hl, total, now)
        return self.dispatch(view, o, hl, o + total, now)

    @micropython.native
    def dispatch(self, view, o, hl, end, now):
        """Hand a whole datagram to its protocol."""
        stack = self.stack
        p = view[o + 9]
        if p == 17:
            return stack.udp.receive(view, o, hl, end, now)
        if p == 1:
            return stack.icmp.receive(view, o, hl, end, now)
        if p == 6 and stack.tcp is not None:
            return stack.tcp.receive(view, o, hl, end, now)
        self.c["ipv4_unknown_protocol"] += 1
        stack.icmp.send_dest_unreachable(view, o, 2, now)
        return 0

    def poll(self, now):
        self.frag.poll(now)

    def next_timeout(self, now):
        return self.frag.next_timeout(now)

    # -- in-place replies ------------------------------------------------------
    @micropython.native
    def reply_prepare(self, view, ip_off, payload_len):
        """Turn the request's IPv4 header into the reply's; returns the payload offset.

        The reply's payload (payload_len bytes, already written where the
        request's payload was) moves down if the request carried options."""
        o = ip_off
        hl = (view[o] & 15) << 2
        p = o + 20
        if hl != 20:
            view[p:p + payload_len] = view[o + hl:o + hl + payload_len]
        a = self.addr
        view[o + 16] = view[o + 12]
        view[o + 17] = view[o + 13]
        view[o + 18] = view[o + 14]
        view[o + 19] = view[o + 15]
        view[o + 12] = a[0]
        view[o + 13] = a[1]
        view[o + 14] = a[2]
        view[o + 15] = a[3]
        total = 20 + payload_len
        ident = (self._ident + 1) & 0xFFFF
        self._ident = ident
        view[o] = 0x45
        view[o + 1] = 0
        view[o + 2] = total >> 8
        view[o + 3] = total & 255
        view[o + 4] = ident >> 8
        view[o + 5] = ident & 255
        view[o + 6] = 0
        view[o + 7] = 0
        view[o + 8] = self.ttl
        view[o + 10] = 0
        view[o + 11] = 0
        s = ~csum(view, o, o + 20) & 0xFFFF
        view[o + 10] = s >> 8
        view[o + 11] = s & 255
        return p

    @micropython.native
    def reply_finish(self, view, ip_off, now):
        """Frame length of the prepared reply for the Ethernet layer, or 0 if sent here."""
        total = (view[ip_off + 2] << 8) | view[ip_off + 3]
        if view is self.reasm_view or total > MTU:
            self.output_datagram(view, ip_off, now)
            return 0
        return ip_off + total

    @micropython.native
    def reply_in_place(self, view, ip_off, payload_len, now):
        self.reply_prepare(view, ip_off, payload_len)
        return self.reply_finish(view, ip_off, now)

    # -- send ------------------------------------------------------------------
    def send_begin(self, size=0):
        """A transmit buffer (payload at PAYLOAD_OFF) or None (counted
        tx_no_buffer). size > BUF_SIZE asks the NIC for a big one (TSO); None
        then only means "none free": the caller falls back to a small one."""
        if size > BUF_SIZE:
            return self.stack.nic.tx_buffer(size)
        if self._spares:
            return self._spares.pop()
        tx = self.stack.nic.tx_buffer()
        if tx is None:
            self.c["tx_no_buffer"] += 1
        return tx

    def scratch(self):
        """A buffer for one payload of up to max_payload bytes at PAYLOAD_OFF;
        send_finish fragments it into transmit buffers. Valid until that call."""
        return self._scratch

    def send_abort(self, view):
        """Give back a buffer from send_begin() that will not be sent."""
        if view is self._scratch or view is self.reasm_view:
            return
        rel = getattr(self.stack.nic, "release", None)
        if rel is not None:
            rel(view)
        else:
            self._spares.append(view)

    def send_finish(self, view, dst_ip, proto, payload_len, now, segments=0):
        """Write the IPv4 header for the payload at PAYLOAD_OFF and send to dst_ip.
        segments > 0: a TCP segment the NIC cuts into that many (TSO): never
        fragmented here, and that many IDs are used up."""
        c = self.c
        if self.stack.ip_addr is not self._addr_src:
            self.refresh()
        if segments:
            hop = self.route(dst_ip)
            if hop is None:
                c["ipv4_no_route"] += 1
                self.send_abort(view)
                return False
            ident = self._next_ident()
            self._ident = (ident + segments - 1) & 0xFFFF
            _ip.write_header(view, IP_OFF, 20 + payload_len, ident, 0, self.ttl, proto,
                             self.addr, dst_ip)
            self.stack.arp.output(view, IP_OFF + 20 + payload_len, hop, now)
            return True
        if payload_len > self.max_payload:
            c["ipv4_frag_too_big"] += 1
            self.send_abort(view)
            return False
        hop = self.route(dst_ip)
        if hop is None:
            c["ipv4_no_route"] += 1
            self.send_abort(view)
            return False
        total = 20 + payload_len
        _ip.write_header(view, IP_OFF, total, self._next_ident(), 0, self.ttl, proto,
                         self.addr, dst_ip)
        if view is self._scratch or total > MTU:
            ok = self._send_copy(view, IP_OFF, total, hop, now)
            self.send_abort(view)
            return ok
        self.stack.arp.output(view, IP_OFF + total, hop, now)
        return True

    def header_template(self, dst_ip, proto, t, now):
        """Fill t[0:34] with the Ethernet and IPv4 headers of our datagrams to
        dst_ip (total length, ID and checksum zero) when the next hop's MAC is
        known; the header's checksum sum (folded, not inverted), or -1 when
        send_finish() must go first (no route, ARP not resolved). A sender that
        keeps the template sends with send_prepared() -- routing, ARP and the
        header writing are done once, not per segment."""
        if self.stack.ip_addr is not self._addr_src:
            self.refresh()
        hop = self.route(dst_ip)
        if hop is None:
            return -1
        mac = self.stack.arp.mac_for(hop, now)
        if mac is None:
            return -1
        _eth.fill_header(t, mac, self.stack.mac, 0x0800)
        _ip.write_header(t, IP_OFF, 0, 0, 0, self.ttl, proto, self.addr, dst_ip)
        t[IP_OFF + 10] = 0
        t[IP_OFF + 11] = 0
        return csum(t, IP_OFF, PAYLOAD_OFF)

    @micropython.native
    def send_prepared(self, view, t, tsum, payload_len, segments):
        """Send the payload at PAYLOAD_OFF behind template t's headers
        (header_template(); tsum its result): length, ID and checksum filled
        in. segments > 0: a TSO segment using up that many IDs."""
        _copy(view, 0, t, 0, PAYLOAD_OFF)
        total = 20 + payload_len
        ident = (self._ident + 1) & 0xFFFF
        self._ident = (ident + segments - 1) & 0xFFFF if segments > 1 else ident
        view[16] = total >> 8
        view[17] = total & 255
        view[18] = ident >> 8
        view[19] = ident & 255
        s = tsum + total + ident
        s = (s & 0xFFFF) + (s >> 16)
        s = ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF
        view[24] = s >> 8
        view[25] = s & 255
        n = PAYLOAD_OFF + payload_len
        if n < 60:
            n = _eth.pad(view, n)
        self.stack.nic.send(view, n)
        self.c["tx_frames"] += 1

    def output_datagram(self, view, ip_off, now):
        """Send the complete datagram at view[ip_off:] (not a NIC buffer) by copying."""
        hop = self.route(view, ip_off + 16)
        if hop is None:
            self.c["ipv4_no_route"] += 1
            return False
        total = (view[ip_off + 2] << 8) | view[ip_off + 3]
        return self._send_copy(view, ip_off, total, hop, now)

    def _send_copy(self, src, o, total, hop, now):
        """Copy the datagram at src[o:o+total] (20-byte header) into transmit
        buffers, fragmenting above the MTU, and hand each to ARP."""
        arp = self.stack.arp
        data = total - 20
        pos = 0
        while True:
            n = data - pos
            if n > _FRAG_STEP:
                n = _FRAG_STEP
            tx = self.send_begin()
            if tx is None:
                return False
            for k in range(20):
                tx[IP_OFF + k] = src[o + k]
            more = pos + n < data
            fo = (pos >> 3) | (0x2000 if more else 0)
            if pos or more:
                tx[IP_OFF + 6] = fo >> 8
                tx[IP_OFF + 7] = fo & 255
                tl = 20 + n
                tx[IP_OFF + 2] = tl >> 8
                tx[IP_OFF + 3] = tl & 255
                _ip.fill_checksum(tx, IP_OFF)
                self.c["ipv4_fragments_sent"] += 1
            if n:
                tx[PAYLOAD_OFF:PAYLOAD_OFF + n] = src[o + 20 + pos:o + 20 + pos + n]
            arp.output(tx, PAYLOAD_OFF + n, hop, now)
            pos += n
            if pos >= data:
                return True
