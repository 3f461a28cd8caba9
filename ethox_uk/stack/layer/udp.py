# UDP (RFC 768) over the IPv4 layer.
#
# Receive: length and checksum checks live in wire.udp.check (a zero checksum
# means none and is accepted); the datagram goes to the handler bound to its
# destination port, else udp_no_listener and an ICMP port unreachable (which
# the ICMP layer suppresses for broadcasts).
#
# Binding, zero-allocation style:
#   bind(port, handler)   handler(view, payload_off, payload_len, src_ip_off,
#                         src_port, now) -> None (no reply) or the reply's
#                         payload length (0 is an empty reply, as echo needs)
# The handler reads the payload in the NIC's buffer (valid only during the
# call; the source address is view[src_ip_off:src_ip_off+4]). To answer it
# writes the reply payload at payload_off (at most len(view) - payload_off
# bytes) and returns its length; the layer swaps ports and addresses and
# fixes the length and checksums (the reply leaves fragmented if it is larger
# than the MTU). socket/udp.py builds its SOCK_DGRAM sockets on the same call.
#
# IPv6 (RFC 8200 §8.1): bind6(port, handler) takes the same handlers on a table
# of its own (src_ip_off then names 16 address bytes); a zero checksum is a
# drop (udp_no_checksum); closed ports get an ICMPv6 port unreachable;
# send6(dst, dst_port, src_port, data, now).
#
# Send: send(dst_ip, dst_port, src_port, data, now) copies `data`; or
# send_begin(n) -> buffer with the payload at PAYLOAD_OFF, then
# send_finish(view, dst_ip, dst_port, src_port, n, now). Payloads above 1472
# bytes go out fragmented, up to ip.max_payload - 8.
import errno

from ..compat import const
from ..wire import udp as _udp
from ..wire.checksum import csum
from ..wire.ipv6 import write_header as _write6
from .ip import PAYLOAD_OFF as _IP_PAYLOAD, seed16

PAYLOAD_OFF = const(42)  # UDP payload offset in a send buffer (14 + 20 + 8)
MAX_UNFRAGMENTED = const(1472)
EPHEMERAL_LOW = const(49152)
_PROTO_UDP = const(17)


def _zero_checksum(buf, ip_off, off, udp_len):
    # test-only (negative control) udp_no_checksum: field 0 = no checksum
    buf[off + 6] = 0
    buf[off + 7] = 0


def _zero_checksum_addrs(buf, off, udp_len, src, dst):
    # test-only (negative control) udp_no_checksum: field 0 = no checksum
    buf[off + 6] = 0
    buf[off + 7] = 0


class UdpLayer:
    def __init__(self, stack):
        self.stack = stack
        self.c = stack.counters.c
        self._handlers = {}
        self._handlers6 = {}
        self._next_port = EPHEMERAL_LOW + seed16(stack.rng_seed) % 16384
        faults = stack.faults
        # test-only (negative control): accept datagrams with a bad non-zero checksum
        self.ignore_checksum = "ignore_udp_checksum" in faults
        # test-only (negative control): send every datagram with checksum 0 (none);
        # chosen here once, so sending tests nothing per datagram
        self.no_checksum = "udp_no_checksum" in faults
        self._fill_checksum = _zero_checksum if self.no_checksum else _udp.fill_checksum
        self._fill_checksum_addrs = (_zero_checksum_addrs if self.no_checksum
                                     else _udp.fill_checksum_addrs)

    # -- binding ---------------------------------------------------------------
    def bind(self, port, handler):
        """Deliver datagrams for `port` to handler; OSError(EADDRINUSE) if taken."""
        if not 0 < port < 65536:
            raise OSError(errno.EINVAL)
        if port in self._handlers:
            raise OSError(errno.EADDRINUSE)
        self._handlers[port] = handler

    def unbind(self, port):
        self._handlers.pop(port, None)

    def bind6(self, port, handler):
        if not 0 < port < 65536:
            raise OSError(errno.EINVAL)
        if port in self._handlers6:
            raise OSError(errno.EADDRINUSE)
        self._handlers6[port] = handler

    def unbind6(self, port):
        self._handlers6.pop(port, None)

    def is_bound(self, port):
        return port in self._handlers

    def ephemeral_port(self):
        """A free port in 49152..65535 (RFC 6335), or 0 when all are taken."""
        p = self._next_port
        for _ in range(16384):
            p += 1
            if p > 65535:
                p = EPHEMERAL_LOW
            if p not in self._handlers and p not in self._handlers6:
                self._next_port = p
                return p
        return 0

    # -- receive ---------------------------------------------------------------
    def receive(self, view, ip_off, ip_hlen, end, now):
        c = self.c
        u = ip_off + ip_hlen
        stack = self.stack
        # a checksum the NIC vouched for (or left partial) is not checked again;
        # a reassembled datagram is ours to check (the NIC saw one fragment)
        r = _udp.check(view, ip_off, u, end - u,
                       stack.nic.rx_csum == 0 or view is stack.ip.reasm_view)
        if r is not None:
            # test-only (negative control): ignore_udp_checksum accepts a datagram
            # whose only fault is its checksum (check() tests the checksum last)
            if not self.ignore_checksum or r != "udp_bad_checksum":
                c[r] += 1
                return 0
        port = (view[u + 2] << 8) | view[u + 3]
        h = self._handlers.get(port)
        if h is None:
            c["udp_no_listener"] += 1
            self.stack.icmp.send_dest_unreachable(view, ip_off, 3, now)
            return 0
        c["udp_rx"] += 1
        ulen = (view[u + 4] << 8) | view[u + 5]
        sport = (view[u] << 8) | view[u + 1]
        n = h(view, u + 8, ulen - 8, ip_off + 12, sport, now)
        if n is None or n is False or sport == 0:  # source port 0: no answer expected
            return 0
        if n < 0 or n > len(view) - u - 8:
            raise ValueError("UDP handler reply length %d out of range" % n)
        return self._reply(view, ip_off, u, n, now)

    def _reply(self, view, ip_off, u, n, now):
        a = view[u]
        b = view[u + 1]
        view[u] = view[u + 2]
        view[u + 1] = view[u + 3]
        view[u + 2] = a
        view[u + 3] = b
        ulen = 8 + n
        view[u + 4] = ulen >> 8
        view[u + 5] = ulen & 255
        ip = self.stack.ip
        p = ip.reply_prepare(view, ip_off, ulen)
        self._fill_checksum(view, ip_off, p, ulen)
        self.c["udp_tx"] += 1
        return ip.reply_finish(view, ip_off, now)

    def receive6(self, view, o, u, end, now):
        """A UDP datagram over IPv6 (header at o, UDP at u)."""
        c = self.c
        stack = self.stack
        n = end - u
        if n < 8:
            c["udp_truncated"] += 1
            return 0
        ulen = (view[u + 4] << 8) | view[u + 5]
        if ulen < 8 or ulen > n:
            c["udp_bad_length"] += 1
            return 0
        if not (view[u + 6] | view[u + 7]):
            c["udp_no_checksum"] += 1  # mandatory over IPv6
            return 0
        ip6 = stack.ip6
        if (stack.nic.rx_csum == 0 or view is ip6.reasm_view) and csum(
                view, u, u + ulen, csum(view, o + 8, o + 40, 17 + ulen)) != 0xFFFF \
                and not self.ignore_checksum:
            c["udp_bad_checksum"] += 1
            return 0
        h = self._handlers6.get((view[u + 2] << 8) | view[u + 3])
        if h is None:
            c["udp_no_listener"] += 1
            stack.icmp6.dest_unreachable(view, o, 4, now)
            return 0
        c["udp_rx"] += 1
        sport = (view[u] << 8) | view[u + 1]
        r = h(view, u + 8, ulen - 8, o + 8, sport, now)
        if r is None or r is False or sport == 0:
            return 0
        if r < 0 or r > len(view) - u - 8:
            raise ValueError("UDP handler reply length %d out of range" % r)
        ulen = 8 + r
        q = ip6.reply_prepare(view, o, u, ulen, 17)
        if q < 0:
            return 0
        dport = (view[q + 2] << 8) | view[q + 3]
        view[q + 2] = view[q]
        view[q + 3] = view[q + 1]
        view[q] = dport >> 8
        view[q + 1] = dport & 255
        view[q + 4] = ulen >> 8
        view[q + 5] = ulen & 255
        self._checksum6(view, o, q, ulen)
        c["udp_tx"] += 1
        return ip6.reply_finish(view, o, now)

    def _checksum6(self, view, o, q, ulen):
        view[q + 6] = 0
        view[q + 7] = 0
        s = ~csum(view, q, q + ulen, csum(view, o + 8, o + 40, 17 + ulen)) & 0xFFFF
        if s == 0:
            s = 0xFFFF
        view[q + 6] = s >> 8
        view[q + 7] = s & 255

    def send6(self, dst, dst_port, src_port, data, now):
        """Send `data` to [dst]:dst_port (dst: 16 bytes). False when dropped
        (counted); ValueError above what we fragment."""
        ip6 = self.stack.ip6
        n = len(data)
        ulen = 8 + n
        ip = self.stack.ip
        if ulen > 1500 - 40:
            if ulen > ip.max_payload - 20:
                raise ValueError("UDP payload of %d bytes is too long" % n)
            buf = ip.scratch()
        else:
            buf = ip.send_begin()
            if buf is None:
                return False
        src = ip6.select_source(dst)
        if src is None:
            self.c["ipv6_no_source"] += 1
            ip6.send_abort(buf)
            return False
        q = 54
        buf[q] = src_port >> 8
        buf[q + 1] = src_port & 255
        buf[q + 2] = dst_port >> 8
        buf[q + 3] = dst_port & 255
        buf[q + 4] = ulen >> 8
        buf[q + 5] = ulen & 255
        if n:
            buf[q + 8:q + 8 + n] = data
        _write6(buf, 14, ulen, 17, ip6.hops, src, dst)
        self._checksum6(buf, 14, q, ulen)
        self.c["udp_tx"] += 1
        return ip6.send_finish(buf, dst, 17, ulen, now, src)

    def poll(self, now):
        pass

    def next_timeout(self, now):
        return -1

    # -- send ------------------------------------------------------------------
    def max_payload(self):
        return self.stack.ip.max_payload - 8

    def send_begin(self, size=0):
        """A buffer for a payload of `size` bytes at PAYLOAD_OFF, or None."""
        ip = self.stack.ip
        if size <= MAX_UNFRAGMENTED:
            return ip.send_begin()
        if size > ip.max_payload - 8:
            raise ValueError("UDP payload of %d bytes is too long" % size)
        return ip.scratch()

    def send_finish(self, view, dst_ip, dst_port, src_port, payload_len, now):
        o = _IP_PAYLOAD
        ulen = 8 + payload_len
        view[o] = src_port >> 8
        view[o + 1] = src_port & 255
        view[o + 2] = dst_port >> 8
        view[o + 3] = dst_port & 255
        view[o + 4] = ulen >> 8
        view[o + 5] = ulen & 255
        view[o + 6] = 0
        view[o + 7] = 0
        ip = self.stack.ip
        self._fill_checksum_addrs(view, o, ulen, ip.source_addr(), dst_ip)
        self.c["udp_tx"] += 1
        return ip.send_finish(view, dst_ip, _PROTO_UDP, ulen, now)

    def send(self, dst_ip, dst_port, src_port, data, now):
        """Send `data` (bytes-like) from src_port to dst_ip:dst_port. True if handed on."""
        n = len(data)
        buf = self.send_begin(n)
        if buf is None:
            return False
        if n:
            buf[PAYLOAD_OFF:PAYLOAD_OFF + n] = data
        return self.send_finish(buf, dst_ip, dst_port, src_port, n, now)
