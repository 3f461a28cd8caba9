# UDP sockets: UdpSocket (AF_INET) and Udp6Socket (AF_INET6) over the stack's
# UdpLayer. Each bound socket keeps a ring of RX_SLOTS preallocated slots.
import errno

from ..compat import const
from ..config import format_ip, format_ip6
from ..layer.udp import PAYLOAD_OFF as _UDP_PAYLOAD_OFF
from . import AF_INET, SOCK_DGRAM, SOL_SOCKET, SO_REUSEADDR, SO_BROADCAST
from .base import SocketBase, ANY6, sockaddr, check_local6, no_route

RX_SLOTS = const(8)  # receive queue of a UDP socket: RX_SLOTS x RX_SLOT_SIZE bytes,
RX_SLOT_SIZE = const(1500)  # a datagram takes ceil(len / RX_SLOT_SIZE) slots


class UdpSocket(SocketBase):
    """SOCK_DGRAM. Received datagrams wait in a ring of RX_SLOTS preallocated
    slots (allocated at bind time); a full ring drops them (udp_socket_full).
    A connected socket only accepts datagrams from its peer."""

    # accepted and kept: a port is refused only while bound, and broadcasts
    # may always be sent
    OPTIONS = ((SOL_SOCKET, SO_REUSEADDR), (SOL_SOCKET, SO_BROADCAST))

    def __init__(self, stack, af=AF_INET, type=SOCK_DGRAM, proto=0):
        SocketBase.__init__(self, stack, af, type, proto)
        self._port = 0
        self._remote = None  # connected peer address (4 bytes) and port
        self._rport = 0
        self._handler = self._on_datagram  # bound once: the layer calls it per datagram
        self._slots = None

    # -- the receive ring -------------------------------------------------------
    def _alloc_ring(self):
        self._slots = [memoryview(bytearray(RX_SLOT_SIZE)) for _ in range(RX_SLOTS)]
        self._e_slot = [0] * RX_SLOTS
        self._e_len = [0] * RX_SLOTS
        self._e_port = [0] * RX_SLOTS
        self._e_ip = bytearray(4 * RX_SLOTS)
        self._head = 0  # oldest entry
        self._count = 0
        self._slot_head = 0  # first slot of the oldest entry
        self._used = 0  # slots in use

    def _on_datagram(self, view, off, n, src_off, sport, now):
        r = self._remote
        if r is not None and (sport != self._rport or view[src_off] != r[0]
                              or view[src_off + 1] != r[1] or view[src_off + 2] != r[2]
                              or view[src_off + 3] != r[3]):
            self._stack.counters.c["udp_no_listener"] += 1  # not from our peer
            return None
        e = self._enqueue(view, off, n, sport)
        if e >= 0:
            ips = self._e_ip
            ips[4 * e] = view[src_off]
            ips[4 * e + 1] = view[src_off + 1]
            ips[4 * e + 2] = view[src_off + 2]
            ips[4 * e + 3] = view[src_off + 3]
        return None

    def _enqueue(self, view, off, n, sport):
        """Copy a datagram's n bytes at view[off:] into the ring: its entry
        (the caller keeps the source address), or -1 when full (counted)."""
        k = (n + RX_SLOT_SIZE - 1) // RX_SLOT_SIZE or 1
        if self._count >= RX_SLOTS or self._used + k > RX_SLOTS:
            self._stack.counters.c["udp_socket_full"] += 1
            return -1
        e = (self._head + self._count) % RX_SLOTS
        s = (self._slot_head + self._used) % RX_SLOTS
        self._e_slot[e] = s
        self._e_len[e] = n
        self._e_port[e] = sport
        pos = 0
        slots = self._slots
        while pos < n:
            m = n - pos
            if m > RX_SLOT_SIZE:
                m = RX_SLOT_SIZE
            slots[s][:m] = view[off + pos:off + pos + m]
            s = (s + 1) % RX_SLOTS
            pos += m
        self._count += 1
        self._used += k
        return e

    def _pending(self):
        return self if self._count else None

    def _pop_into(self, out, limit):
        """Copy the oldest datagram (at most `limit` bytes) into `out`; drop it."""
        e = self._head
        n = self._e_len[e]
        s = self._e_slot[e]
        k = (n + RX_SLOT_SIZE - 1) // RX_SLOT_SIZE or 1
        take = n if n < limit else limit
        pos = 0
        while pos < take:
            m = take - pos
            if m > RX_SLOT_SIZE:
                m = RX_SLOT_SIZE
            out[pos:pos + m] = self._slots[s][:m]
            s = (s + 1) % RX_SLOTS
            pos += m
        self._head = (e + 1) % RX_SLOTS
        self._count -= 1
        self._used -= k
        self._slot_head = (self._slot_head + k) % RX_SLOTS
        return take

    def _peer(self, e):
        i = 4 * e
        ips = self._e_ip
        return ("%d.%d.%d.%d" % (ips[i], ips[i + 1], ips[i + 2], ips[i + 3]), self._e_port[e])

    # -- binding -----------------------------------------------------------------
    def _bind_port(self, port):
        udp = self._stack.udp
        if port == 0:
            port = udp.ephemeral_port()
            if port == 0:
                raise OSError(errno.EADDRINUSE)
        self._layer_bind(udp, port)  # OSError(EADDRINUSE) when taken
        self._port = port
        if self._slots is None:
            self._alloc_ring()

    def _layer_bind(self, udp, port):
        udp.bind(port, self._handler)

    def _layer_unbind(self, udp, port):
        udp.unbind(port)

    def bind(self, addr):
        self._check()
        ip, port = sockaddr(addr, self.family)
        if self._port:
            raise OSError(errno.EINVAL)  # already bound
        self._check_local(ip)
        self._bind_port(port)

    def _check_local(self, ip):
        our = self._stack.ip_addr
        if ip != b"\x00\x00\x00\x00" and ip != bytes(our):
            raise OSError(errno.EINVAL)  # not one of our addresses

    def connect(self, addr):
        self._check()
        ip, port = sockaddr(addr, self.family)
        if port == 0:
            raise OSError(errno.EINVAL)
        if not self._port:
            self._bind_port(0)
        self._remote = ip
        self._rport = port

    def getsockname(self):
        return (format_ip(self._stack.ip_addr), self._port)

    # -- sending -----------------------------------------------------------------
    def sendto(self, data, addr):
        self._check()
        ip, port = sockaddr(addr, self.family)
        if port == 0:
            raise OSError(errno.EINVAL)
        return self._send(data, ip, port)

    def send(self, data):
        self._check()
        if self._remote is None:
            raise OSError(errno.ENOTCONN)
        return self._send(data, self._remote, self._rport)

    write = send

    def _send(self, data, ip, port):
        stack = self._stack
        udp = stack.udp
        n = len(data)
        if n > udp.max_payload():
            raise OSError(errno.EINVAL)  # larger than we fragment/reassemble
        if stack.ip.route(ip) is None:
            raise OSError(errno.EHOSTUNREACH)
        if not self._port:
            self._bind_port(0)
        buf = self._wait_for(lambda: udp.send_begin(n))
        if n:
            buf[_UDP_PAYLOAD_OFF:_UDP_PAYLOAD_OFF + n] = data
        if not udp.send_finish(buf, ip, port, self._port, n, stack.now):
            raise OSError(errno.EHOSTUNREACH)
        return n

    # -- receiving ---------------------------------------------------------------
    def recvfrom(self, bufsize):
        self._check()
        if self._slots is None:
            raise OSError(errno.EINVAL)  # never bound: nothing can arrive
        self._wait_for(self._pending)
        e = self._head
        peer = self._peer(e)
        n = self._e_len[e]
        out = bytearray(n if n < bufsize else bufsize)
        self._pop_into(out, len(out))
        return bytes(out), peer

    def recv(self, bufsize):
        return self.recvfrom(bufsize)[0]

    read = recv

    def recv_into(self, buf, nbytes=0):
        """Copy the next datagram into buf (truncated to nbytes or len(buf))."""
        self._check()
        if self._slots is None:
            raise OSError(errno.EINVAL)
        self._wait_for(self._pending)
        limit = nbytes if 0 < nbytes <= len(buf) else len(buf)
        return self._pop_into(buf, limit)

    readinto = recv_into

    # -- readiness / close -------------------------------------------------------
    def readable(self):
        return not self._closed and self._slots is not None and self._count > 0

    def writable(self):
        return not self._closed

    def _close(self):
        if self._port:
            self._layer_unbind(self._stack.udp, self._port)
            self._port = 0
        self._slots = None
        self._remote = None



class Udp6Socket(UdpSocket):
    """SOCK_DGRAM over IPv6: the same ring, 16-byte source addresses."""

    def _alloc_ring(self):
        UdpSocket._alloc_ring(self)
        self._e_ip = bytearray(16 * RX_SLOTS)

    def _on_datagram(self, view, off, n, src_off, sport, now):
        r = self._remote
        if r is not None and (sport != self._rport or bytes(view[src_off:src_off + 16]) != r):
            self._stack.counters.c["udp_no_listener"] += 1  # not from our peer
            return None
        e = self._enqueue(view, off, n, sport)
        if e >= 0:
            self._e_ip[16 * e:16 * e + 16] = view[src_off:src_off + 16]
        return None

    def _peer(self, e):
        return (format_ip6(self._e_ip[16 * e:16 * e + 16]), self._e_port[e])

    def _layer_bind(self, udp, port):
        udp.bind6(port, self._handler)

    def _layer_unbind(self, udp, port):
        udp.unbind6(port)

    def _check_local(self, ip):
        check_local6(self._stack, ip)

    def getsockname(self):
        ip6 = self._stack.ip6
        a = ip6.preferred_global() or ip6.link_local()
        return (format_ip6(a) if a is not None else "::", self._port)

    def _send(self, data, ip, port):
        stack = self._stack
        udp = stack.udp
        n = len(data)
        if n > udp.max_payload() - 20:
            raise OSError(errno.EINVAL)  # larger than we fragment/reassemble
        if ip == ANY6 or no_route(stack, ip):
            raise OSError(errno.EHOSTUNREACH)
        if not self._port:
            self._bind_port(0)
        if not self._wait_for(
                lambda: udp.send6(ip, port, self._port, data, stack.clock_ms()) or None):
            raise OSError(errno.EHOSTUNREACH)
        return n

