# ICMPv6 for a host (RFC 4443), and the dispatch of neighbour discovery
# (ndp.py) and MLD (mld.py) messages.
#
# Receive: length and checksum over the pseudo-header (wire.icmp6.check). The
# unspecified source is only for a Neighbor Solicitation (DAD); a tentative
# destination only takes NS/NA (RFC 4862 §5.4.3). Echo requests are answered
# in place -- to a group too (RFC 4443 §4.2 SHOULD), from our unicast address.
# Echo replies go to `echo_handler(view, ip_off, ident, seq, data_off,
# data_len, now)`. Error messages (types < 128, RFC 4443 §2.4 (a): unknown ones
# included) must quote an IPv6 header; Packet Too Big updates the path MTU
# (RFC 8201) and every error goes to `stack.tcp.icmp6_error` when TCP has it
# and to `error_handler` if set. Unknown informational types are discarded.
#
# Errors we send quote as much of the packet as fits in 1280 bytes. Never
# (RFC 4443 §2.4 (e)) about an ICMPv6 error or a Redirect, about a packet to a
# group or in a link-layer group frame -- except Packet Too Big and Parameter
# Problem code 2 for an option whose type asks for it -- or about a packet
# whose source is not one unicast host. Rate limit (§2.4 (f)): icmp.py's token
# bucket, ERR_BURST refilled one per ERR_INTERVAL_MS.
from ..compat import const
from ..wire import icmp6 as _m
from ..wire import ipv6 as _w
from .icmp import TokenBucket
from .ip6 import PAYLOAD_OFF

ERR_BURST = const(10)
ERR_INTERVAL_MS = const(100)

_ECHO_REQUEST = const(128)
_ECHO_REPLY = const(129)


class Icmp6Layer:
    def __init__(self, stack):
        self.stack = stack
        self.ip6 = stack.ip6
        self.c = stack.counters.c
        self.echo_handler = None
        self.error_handler = None
        self.errors = TokenBucket(ERR_BURST, ERR_INTERVAL_MS)  # the errors we send
        self._dst = bytearray(16)

    # -- receive -------------------------------------------------------------------
    def receive(self, view, o, p, end, now):
        c = self.c
        r = _m.check(view, o, p, end)
        if r is not None:
            c[r] += 1
            return 0
        ip6 = self.ip6
        t = view[p]
        if (t != 135 and t != 136) and ip6.rx_tentative:
            c["ipv6_not_for_us"] += 1  # a tentative address takes only NS/NA
            return 0
        if _w.is_unspecified(view, o + 8) and t != 135 and t != 143:
            c["ipv6_bad_source"] += 1  # only DAD probes and MLD reports come from ::
            return 0
        n = end - p
        if t == _ECHO_REQUEST:
            if n < 8:
                c["icmp6_truncated"] += 1
                return 0
            q = ip6.reply_prepare(view, o, p, n, 58)
            if q < 0:
                return 0
            view[q] = _ECHO_REPLY
            _m.fill_checksum(view, o, q, q + n)
            c["icmp6_echo_replies"] += 1
            return ip6.reply_finish(view, o, now)
        if t == _ECHO_REPLY:
            c["icmp6_echo_replies_rx"] += 1
            h = self.echo_handler
            if h is not None and n >= 8:
                h(view, o, (view[p + 4] << 8) | view[p + 5], (view[p + 6] << 8) | view[p + 7],
                  p + 8, n - 8, now)
            return 0
        if t < 128:
            return self._error(view, o, p, end, now)
        nd = self.stack.nd
        if t == 135:
            return nd.receive_ns(view, o, p, end, now)
        if t == 136:
            return nd.receive_na(view, o, p, end, now)
        if t == 134:
            return nd.receive_ra(view, o, p, end, now)
        if t == 130:
            return self.stack.mld.receive_query(view, o, p, end, now)
        if t == 133 or t == 137 or t == 131 or t == 132 or t == 143:
            # a host discards solicitations (RFC 4861 §6.2.6) and others'
            # reports; redirects are not followed (the default router forwards)
            c["icmp6_ignored"] += 1
            return 0
        c["icmp6_unhandled_type"] += 1
        return 0

    def _error(self, view, o, p, end, now):
        c = self.c
        q = p + 8
        if end - q < 40 or view[q] >> 4 != 6:
            c["icmp6_truncated"] += 1  # must quote at least the IPv6 header
            return 0
        c["icmp6_errors_received"] += 1
        t = view[p]
        if t == 2:
            # Packet Too Big about one of our packets (its source: one of ours)
            if self.ip6.find_addr(view, q + 8) >= 0:
                c["icmp6_too_big_rx"] += 1
                mtu = (view[p + 4] << 24) | (view[p + 5] << 16) | (view[p + 6] << 8) | view[p + 7]
                self.ip6.too_big(view, q + 24, mtu, now)
        tcp = self.stack.tcp
        f = getattr(tcp, "icmp6_error", None) if tcp is not None else None
        if f is not None:
            f(view, o, p, end, now)
        h = self.error_handler
        if h is not None:
            h(view, o, p, end, now)
        return 0

    # -- errors ----------------------------------------------------------------------
    def _suppressed(self, view, o, t, code):
        """RFC 4443 §2.4 (e)."""
        mcast_ok = t == 2 or (t == 4 and code == 2)
        if not mcast_ok and (view[o + 24] == 0xFF or (o >= 14 and view[o - 14] & 1)):
            return True
        s = o + 8
        if view[s] == 0xFF or _w.is_unspecified(view, s):
            return True
        # about an ICMPv6 error or a redirect? (follow the chain inside the packet)
        end = o + 40 + ((view[o + 4] << 8) | view[o + 5])
        if end > len(view):
            end = len(view)
        nh = view[o + 6]
        p = o + 40
        while (nh == 0 or nh == 43 or nh == 60 or nh == 44) and p + 8 <= end:
            if nh == 44:
                if (view[p + 2] << 8 | view[p + 3]) & 0xFFF8:
                    return False  # a later fragment: the type is not in it
                nh = view[p]
                p += 8
            else:
                nh = view[p]
                p += (view[p + 1] + 1) << 3
        return nh == 58 and p < end and (view[p] < 128 or view[p] == 137)

    def send_error(self, view, o, t, code, param, now):
        """An ICMPv6 error about the packet at view[o:]. True if sent."""
        c = self.c
        if self._suppressed(view, o, t, code):
            c["icmp6_error_suppressed"] += 1
            return False
        if not self.errors.take(now):
            c["icmp6_rate_limited"] += 1
            return False
        ip6 = self.ip6
        tx = ip6.send_begin()
        if tx is None:
            return False
        q = 40 + ((view[o + 4] << 8) | view[o + 5])
        if q > _m.MAX_QUOTE:
            q = _m.MAX_QUOTE
        if o + q > len(view):
            q = len(view) - o
        p = PAYLOAD_OFF
        tx[p] = t
        tx[p + 1] = code
        tx[p + 4] = (param >> 24) & 255
        tx[p + 5] = (param >> 16) & 255
        tx[p + 6] = (param >> 8) & 255
        tx[p + 7] = param & 255
        tx[p + 8:p + 8 + q] = view[o:o + q]
        dst = self._dst
        for k in range(16):
            dst[k] = view[o + 8 + k]
        src = None
        if view[o + 24] != 0xFF and ip6.find_addr(view, o + 24) >= 0:
            src = view[o + 24:o + 40]
        else:
            src = ip6.select_source(dst)
            if src is None:
                c["ipv6_no_source"] += 1
                ip6.send_abort(tx)
                return False
        # the header first: the checksum's pseudo-header is read from it
        _w.write_header(tx, 14, 8 + q, 58, ip6.hops, src, dst)
        _m.fill_checksum(tx, 14, p, p + 8 + q)
        c["icmp6_errors_sent"] += 1
        return ip6.send_finish(tx, dst, 58, 8 + q, now, src)

    def dest_unreachable(self, view, o, code, now):
        """Code 4: port unreachable; 1: administratively prohibited; 3: address."""
        return self.send_error(view, o, 1, code, 0, now)

    def param_problem(self, view, o, code, pointer, now):
        """Code 0: erroneous header field, 1: unknown next header, 2: unknown option
        (code 2 goes to a group too: RFC 8200 §4.2 and _suppressed() allow it)."""
        return self.send_error(view, o, 4, code, pointer, now)

    def ping(self, dst, ident, seq, data, now):
        """An echo request to dst (16 bytes) with `data`."""
        ip6 = self.ip6
        n = len(data)
        if 8 + n > 1452:
            raise ValueError("ping6 data too long")
        tx = ip6.send_begin()
        if tx is None:
            return False
        p = PAYLOAD_OFF
        tx[p] = _ECHO_REQUEST
        tx[p + 1] = 0
        tx[p + 4] = ident >> 8
        tx[p + 5] = ident & 255
        tx[p + 6] = seq >> 8
        tx[p + 7] = seq & 255
        tx[p + 8:p + 8 + n] = data
        src = ip6.select_source(dst)
        if src is None:
            self.c["ipv6_no_source"] += 1
            ip6.send_abort(tx)
            return False
        _w.write_header(tx, 14, 8 + n, 58, ip6.hops, src, dst)
        _m.fill_checksum(tx, 14, p, p + 8 + n)
        self.c["icmp6_echo_requests_sent"] += 1
        return ip6.send_finish(tx, dst, 58, 8 + n, now, src)
