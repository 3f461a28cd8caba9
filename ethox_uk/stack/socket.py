# A socket-style API close to MicroPython's own `socket` module (the lwIP
# flavour: same constants, recvfrom returns (bytes, ("a.b.c.d", port)),
# getaddrinfo returns [(AF_INET, type, proto, "", ("a.b.c.d", port))]).
#
#   import ethox_uk.stack.socket as socket
#   socket.use(stack)                    # the host runner / runtime does this
#   s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
#   s.bind(("", 7)); data, addr = s.recvfrom(1500); s.sendto(data, addr)
#
# Blocking calls drive the stack themselves: they call stack.poll(now) with
# now = clock() until the call can complete or its timeout passes. `use(stack,
# clock=fn, idle=fn)` sets the module's stack, its millisecond clock (tests pass
# a simulated one) and an optional idle(ms) called between polls (host mode may
# wait on the NIC's descriptor there). Errors are OSError(errno): EAGAIN
# (non-blocking, nothing ready), ETIMEDOUT, EADDRINUSE, EINVAL, EBADF (closed),
# ENOTCONN, EHOSTUNREACH, EOPNOTSUPP.
#
# Readiness: sock.readable()/writable(), and ioctl(MP_STREAM_POLL, events)
# answering POLLIN/POLLOUT, so MicroPython's select.poll and asyncio can wait
# on these objects (under MicroPython they derive from io.IOBase).
#
# Socket types plug in through register(type, cls): SOCK_DGRAM is UdpSocket
# below; the TCP layer registers SOCK_STREAM with a SocketBase subclass (its
# accept() returns instances of that class).
import errno

from .compat import const, MICROPYTHON
from .config import parse_ip, format_ip
from .layer.udp import PAYLOAD_OFF as _UDP_PAYLOAD_OFF

AF_INET = const(2)
AF_INET6 = const(10)
SOCK_STREAM = const(1)
SOCK_DGRAM = const(2)
SOCK_RAW = const(3)
SOL_SOCKET = const(1)
SO_REUSEADDR = const(4)
SO_BROADCAST = const(0x20)
IPPROTO_IP = const(0)
IPPROTO_ICMP = const(1)
IPPROTO_TCP = const(6)
IPPROTO_UDP = const(17)
TCP_NODELAY = const(1)

MP_STREAM_POLL = const(3)
MP_STREAM_CLOSE = const(4)
POLLIN = const(1)
POLLOUT = const(4)
POLLERR = const(8)
POLLHUP = const(16)
POLLNVAL = const(32)

RX_SLOTS = const(8)  # receive queue of a UDP socket: RX_SLOTS x RX_SLOT_SIZE bytes,
RX_SLOT_SIZE = const(1500)  # a datagram takes ceil(len / RX_SLOT_SIZE) slots

_stack = None
_clock = None
_idle = None


def _default_clock():
    import time

    if MICROPYTHON:
        return time.ticks_ms()
    return int(time.monotonic() * 1000)


def use(stack, clock=None, idle=None):
    """Set the stack that new sockets use, the ms clock and the idle hook."""
    global _stack, _clock, _idle
    _stack = stack
    _clock = clock if clock is not None else _default_clock
    _idle = idle


def current_stack():
    if _stack is None:
        raise OSError(errno.ENODEV)  # socket.use(stack) was never called
    return _stack


def _addr_bytes(host):
    """4 address bytes for a dotted quad ('' = 0.0.0.0); OSError(EINVAL) otherwise."""
    if isinstance(host, (bytes, bytearray)) and len(host) == 4:
        return bytes(host)
    if host == "":
        return b"\x00\x00\x00\x00"
    try:
        return parse_ip(host)
    except (ValueError, AttributeError, TypeError):
        raise OSError(errno.EINVAL)


def _sockaddr(addr):
    try:
        host, port = addr
        port = int(port)
    except (ValueError, TypeError):
        raise OSError(errno.EINVAL)
    if not 0 <= port <= 65535:
        raise OSError(errno.EINVAL)
    return _addr_bytes(host), port


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """Dotted quads only (there is no resolver); OSError(-2) for names, like lwIP."""
    try:
        ip = parse_ip(host)
    except (ValueError, AttributeError, TypeError):
        raise OSError(-2)
    return [(AF_INET, type or SOCK_STREAM, proto, "", (format_ip(ip), port))]


_types = {}


def register(sock_type, cls):
    """Make socket(AF_INET, sock_type) build cls(stack, af, sock_type, proto)."""
    _types[sock_type] = cls


def socket(af=AF_INET, type=SOCK_STREAM, proto=0):
    if af != AF_INET:
        raise OSError(errno.EOPNOTSUPP)
    cls = _types.get(type)
    if cls is None:
        raise OSError(errno.EOPNOTSUPP)
    return cls(current_stack(), af, type, proto)


_Base = object
if MICROPYTHON:
    try:
        from io import IOBase as _Base  # select.poll/asyncio call our ioctl()
    except ImportError:
        pass


class SocketBase(_Base):
    """What every socket type shares: timeouts, options, readiness, the wait loop.

    Subclasses define readable(), writable(), _close() and their operations."""

    def __init__(self, stack, af, type, proto):
        self._stack = stack
        self.family = af
        self.type = type
        self.proto = proto
        self._timeout = -1  # ms; -1 blocks forever, 0 is non-blocking
        self._closed = False
        self._opts = {}

    # -- options ---------------------------------------------------------------
    def setblocking(self, flag):
        self._timeout = -1 if flag else 0

    def settimeout(self, t):
        if t is None:
            self._timeout = -1
        elif t < 0:
            raise OSError(errno.EINVAL)
        else:
            self._timeout = int(t * 1000)

    def gettimeout(self):
        return None if self._timeout < 0 else self._timeout / 1000

    def setsockopt(self, level, opt, value):
        self._check()
        self._opts[(level, opt)] = value

    def getsockopt(self, level, opt):
        return self._opts.get((level, opt), 0)

    # -- readiness -------------------------------------------------------------
    def readable(self):
        return False

    def writable(self):
        return False

    def ioctl(self, req, arg):
        if req == MP_STREAM_POLL:
            if self._closed:
                return POLLNVAL
            r = 0
            if arg & POLLIN and self.readable():
                r |= POLLIN
            if arg & POLLOUT and self.writable():
                r |= POLLOUT
            return r
        if req == MP_STREAM_CLOSE:
            self.close()
            return 0
        return -errno.EINVAL

    # -- lifetime --------------------------------------------------------------
    def _check(self):
        if self._closed:
            raise OSError(errno.EBADF)

    def close(self):
        if not self._closed:
            self._closed = True
            self._close()

    def _close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the wait loop ---------------------------------------------------------
    def _wait_for(self, fn):
        """fn() until it returns non-None, driving the stack; EAGAIN/ETIMEDOUT."""
        r = fn()
        if r is not None:
            return r
        t = self._timeout
        if t == 0:
            raise OSError(errno.EAGAIN)
        stack = self._stack
        clock = _clock if _clock is not None else _default_clock
        start = clock()
        while True:
            now = clock()
            stack.poll(now)
            r = fn()
            if r is not None:
                return r
            self._check()
            if t > 0 and now - start >= t:
                raise OSError(errno.ETIMEDOUT)
            if _idle is not None:
                w = stack.next_timeout(now)
                if w < 0 or w > 10:
                    w = 10
                _idle(w)


class UdpSocket(SocketBase):
    """SOCK_DGRAM. Received datagrams wait in a ring of RX_SLOTS preallocated
    slots (allocated at bind time); a full ring drops them (udp_socket_full).
    A connected socket only accepts datagrams from its peer."""

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
        k = (n + RX_SLOT_SIZE - 1) // RX_SLOT_SIZE
        if k == 0:
            k = 1
        if self._count >= RX_SLOTS or self._used + k > RX_SLOTS:
            self._stack.counters.c["udp_socket_full"] += 1
            return None
        e = (self._head + self._count) % RX_SLOTS
        s = (self._slot_head + self._used) % RX_SLOTS
        self._e_slot[e] = s
        self._e_len[e] = n
        self._e_port[e] = sport
        ips = self._e_ip
        ips[4 * e] = view[src_off]
        ips[4 * e + 1] = view[src_off + 1]
        ips[4 * e + 2] = view[src_off + 2]
        ips[4 * e + 3] = view[src_off + 3]
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
        return None

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
        udp.bind(port, self._handler)  # OSError(EADDRINUSE) when taken
        self._port = port
        if self._slots is None:
            self._alloc_ring()

    def bind(self, addr):
        self._check()
        ip, port = _sockaddr(addr)
        if self._port:
            raise OSError(errno.EINVAL)  # already bound
        our = self._stack.ip_addr
        if ip != b"\x00\x00\x00\x00" and ip != bytes(our):
            raise OSError(errno.EINVAL)  # not one of our addresses
        self._bind_port(port)

    def connect(self, addr):
        self._check()
        ip, port = _sockaddr(addr)
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
        ip, port = _sockaddr(addr)
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
            self._stack.udp.unbind(self._port)
            self._port = 0
        self._slots = None
        self._remote = None


register(SOCK_DGRAM, UdpSocket)
