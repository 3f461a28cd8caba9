# ICMPv4 for a host (RFC 792, RFC 1122 §3.2.2).
#
# Receive: the checksum is verified (icmp_bad_checksum). An echo request is
# answered in place: type 8 -> 0 with an incremental checksum update
# (RFC 1624), identifier, sequence number and data untouched, through
# ip.reply_in_place (so a reassembled ping is answered fragmented). Echo
# requests to a broadcast/multicast address are ignored by default
# (RFC 1122 3.2.2.6 allows it; it denies smurf amplification):
# icmp_broadcast_echo_ignored; set `answer_broadcast_echo = True` to answer.
# Echo replies go to `echo_handler(view, ip_off, ident, seq, data_off,
# data_len, now)` if set; error messages (whose quote must hold an IPv4 header
# and 8 bytes) are counted icmp_errors_received and passed to
# `stack.tcp.icmp_error(view, ip_off, icmp_off, end, now)` when they quote TCP
# and the TCP layer has that method, and to `error_handler(...)` (same
# arguments) if set.
#
# Errors we send (destination unreachable, time exceeded) quote the original
# IPv4 header and as much of its payload as keeps the error within 576 bytes.
# Never about (icmp_error_suppressed, RFC 1122 3.2.2): an ICMP error (or an
# ICMP message of unknown type), a datagram to a broadcast/multicast address or
# in a link-layer broadcast, a non-first fragment, a datagram whose source is
# not one host (0.x, 127.x, broadcast, multicast). Rate limit: TokenBucket
# below (icmp6.py's too), ERR_BURST messages refilled at one per
# ERR_INTERVAL_MS (10 at once, 10 per second sustained) on the callers' `now`;
# over it: icmp_rate_limited.
from ..compat import const, micropython
from ..wire import icmp as _icmp
from ..wire.checksum import csum
from .ip import PAYLOAD_OFF, MAX_PAYLOAD

ERR_BURST = const(10)
ERR_INTERVAL_MS = const(100)

_PROTO_ICMP = const(1)


class TokenBucket:
    """The rate limit of the ICMP errors we send, in both families (RFC 1122
    3.2.2, RFC 4443 §2.4 (f)): `burst` at once, then one per `interval_ms` on
    the callers' `now`. A full bucket banks no time: after a pause the next
    token comes interval_ms after the bucket is next drawn from."""

    def __init__(self, burst, interval_ms):
        self.burst = burst
        self.interval_ms = interval_ms
        self.tokens = burst
        self.last = 0  # when the refill clock last started or ticked

    def take(self, now):
        """True (and one token fewer) if a message may go at `now`."""
        if self.tokens >= self.burst:
            self.last = now
        else:
            el = now - self.last
            if el >= self.interval_ms:
                k = el // self.interval_ms
                t = self.tokens + k
                if t >= self.burst:
                    t = self.burst
                    self.last = now
                else:
                    self.last += k * self.interval_ms
                self.tokens = t
        if self.tokens <= 0:
            return False
        self.tokens -= 1
        return True


class IcmpLayer:
    def __init__(self, stack):
        self.stack = stack
        self.c = stack.counters.c
        self.answer_broadcast_echo = False
        self.echo_handler = None
        self.error_handler = None
        self.errors = TokenBucket(ERR_BURST, ERR_INTERVAL_MS)  # the errors we send
        self._dst = bytearray(4)
        faults = stack.faults
        # test-only (negative control): accept ICMP messages with a bad checksum
        self.ignore_checksum = "ignore_icmp_checksum" in faults
        # test-only (negative control): send errors the RFC 1122 3.2.2 rules forbid
        # (_suppressed is not asked), and answer an ICMP error nobody takes with a
        # protocol unreachable (an error about an error)
        self.errors_unrestricted = "icmp_errors_unrestricted" in faults

    # -- receive ---------------------------------------------------------------
    @micropython.native
    def receive(self, view, ip_off, ip_hlen, end, now):
        c = self.c
        o = ip_off + ip_hlen
        n = end - o
        # wire.icmp.check in line (the length, then the checksum)
        if n < 8:
            c["icmp_truncated"] += 1
            return 0
        if csum(view, o, end) != 0xFFFF and not self.ignore_checksum:
            c["icmp_bad_checksum"] += 1
            return 0
        t = view[o]
        if t == 8:
            ip = self.stack.ip
            d = view[ip_off + 16]
            if not self.answer_broadcast_echo and (
                    d >= 224 or (d == ip.bcast[0] and ip.dst_is_broadcast(view, ip_off))):
                c["icmp_broadcast_echo_ignored"] += 1
                return 0
            view[o] = 0
            # RFC 1624 in line: the type byte went from 8 to 0
            s = (~((view[o + 2] << 8) | view[o + 3]) & 0xFFFF) + 0xF7FF
            s = (s & 0xFFFF) + (s >> 16)
            s = ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF
            if s == 0:
                s = 0xFFFF
            view[o + 2] = s >> 8
            view[o + 3] = s & 255
            c["icmp_echo_replies"] += 1
            return ip.reply_in_place(view, ip_off, n, now)
        if t == 0:
            c["icmp_echo_replies_rx"] += 1
            h = self.echo_handler
            if h is not None:
                h(view, ip_off, (view[o + 4] << 8) | view[o + 5],
                  (view[o + 6] << 8) | view[o + 7], o + 8, n - 8, now)
            return 0
        if _icmp.is_error(t):
            r = _icmp.check_error_quote(view, o, n)
            if r is not None:
                c[r] += 1
                return 0
            c["icmp_errors_received"] += 1
            if view[o + 8 + 9] == 6:  # about one of our TCP segments
                tcp = self.stack.tcp
                f = getattr(tcp, "icmp_error", None) if tcp is not None else None
                if f is not None:
                    f(view, ip_off, o, end, now)
            h = self.error_handler
            if h is not None:
                h(view, ip_off, o, end, now)
            elif self.errors_unrestricted:  # test-only (negative control)
                self.send_dest_unreachable(view, ip_off, 2, now)
            return 0
        c["icmp_unhandled_type"] += 1
        return 0

    # -- errors ----------------------------------------------------------------
    def _suppressed(self, view, o):
        """RFC 1122 3.2.2: never send an error about this datagram."""
        if o >= 14 and view[o - 14] & 1:  # link-layer broadcast/multicast
            return True
        ip = self.stack.ip
        if ip.dst_is_broadcast(view, o) or not ip.src_is_host(view, o):
            return True
        if (view[o + 6] & 0x1F) | view[o + 7]:  # not the first fragment
            return True
        if view[o + 9] == _PROTO_ICMP:
            hl = (view[o] & 15) << 2
            total = (view[o + 2] << 8) | view[o + 3]
            if total <= hl or not _icmp.is_query(view[o + hl]):
                return True
        return False

    def send_error(self, view, ip_off, msg_type, code, now, rest=0):
        """Send an ICMP error about the datagram at view[ip_off:]. True if sent."""
        c = self.c
        # test-only (negative control): icmp_errors_unrestricted skips the rules
        if not self.errors_unrestricted and self._suppressed(view, ip_off):
            c["icmp_error_suppressed"] += 1
            return False
        if not self.errors.take(now):
            c["icmp_rate_limited"] += 1
            return False
        ip = self.stack.ip
        tx = ip.send_begin()
        if tx is None:
            return False
        q = (view[ip_off + 2] << 8) | view[ip_off + 3]
        if q > _icmp.MAX_QUOTE:
            q = _icmp.MAX_QUOTE
        p = PAYLOAD_OFF
        tx[p] = msg_type
        tx[p + 1] = code
        tx[p + 4] = (rest >> 24) & 255
        tx[p + 5] = (rest >> 16) & 255
        tx[p + 6] = (rest >> 8) & 255
        tx[p + 7] = rest & 255
        tx[p + 8:p + 8 + q] = view[ip_off:ip_off + q]
        _icmp.fill_checksum(tx, p, 8 + q)
        s = ip_off + 12
        dst = self._dst
        dst[0] = view[s]
        dst[1] = view[s + 1]
        dst[2] = view[s + 2]
        dst[3] = view[s + 3]
        c["icmp_errors_sent"] += 1
        return ip.send_finish(tx, dst, _PROTO_ICMP, 8 + q, now)

    def send_dest_unreachable(self, view, ip_off, code, now):
        """Destination unreachable (type 3): code 2 protocol, 3 port."""
        return self.send_error(view, ip_off, _icmp.TYPE_DEST_UNREACHABLE, code, now)

    def send_time_exceeded(self, view, ip_off, code, now):
        """Time exceeded (type 11): code 1 = fragment reassembly time exceeded."""
        return self.send_error(view, ip_off, _icmp.TYPE_TIME_EXCEEDED, code, now)

    # -- echo requests (ping) --------------------------------------------------
    def ping(self, dst_ip, ident, seq, data, now):
        """Send an echo request with `data` (up to ip.max_payload - 8 bytes)."""
        ip = self.stack.ip
        n = len(data)
        if 8 + n > ip.max_payload:
            raise ValueError("ping data too long")
        buf = ip.send_begin() if 8 + n <= MAX_PAYLOAD else ip.scratch()
        if buf is None:
            return False
        p = PAYLOAD_OFF
        buf[p] = 8
        buf[p + 1] = 0
        buf[p + 4] = (ident >> 8) & 255
        buf[p + 5] = ident & 255
        buf[p + 6] = (seq >> 8) & 255
        buf[p + 7] = seq & 255
        if n:
            buf[p + 8:p + 8 + n] = data
        _icmp.fill_checksum(buf, p, 8 + n)
        self.c["icmp_echo_requests_sent"] += 1
        return ip.send_finish(buf, dst_ip, _PROTO_ICMP, 8 + n, now)
