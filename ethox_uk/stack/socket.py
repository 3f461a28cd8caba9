# A socket-style API close to MicroPython's own `socket` module (the lwIP
# flavour: same constants, recvfrom returns (bytes, ("a.b.c.d", port)),
# getaddrinfo returns [(AF_INET, type, proto, "", ("a.b.c.d", port))], names
# resolved by the stack's DNS resolver).
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
# ENOTCONN, EHOSTUNREACH, EOPNOTSUPP; TCP adds ECONNREFUSED, ECONNRESET,
# EPIPE, EINPROGRESS (non-blocking connect), EALREADY, EISCONN, ENOBUFS.
#
# Readiness: sock.readable()/writable(), and ioctl(MP_STREAM_POLL, events)
# answering POLLIN/POLLOUT, so MicroPython's select.poll and asyncio can wait
# on these objects (under MicroPython they derive from io.IOBase).
#
# Socket types plug in through register(type, cls): SOCK_DGRAM is UdpSocket,
# SOCK_STREAM is TcpSocket (both below).
#
# AF_INET6 (when the stack has IPv6; EAFNOSUPPORT with ip6=off): addresses are
# ("2001:db8::1", port) (a 4-tuple's flow info and scope are accepted and
# ignored; "" is ::), and come back as 2-tuples like AF_INET's. SOCK_DGRAM is
# Udp6Socket; a TCP listener takes both families on its port (dual stack, as
# Linux with IPV6_V6ONLY off), so an AF_INET6 and an AF_INET socket cannot
# listen on one port.
#
# TCP: one TcpMux per stack is the TcpLayer's user (layer/tcp/io.py): it hands
# each In to the handler of its connection -- a socket's _Conn or a service's
# handler (services.py) -- and a new passive connection to the listener of its
# port (`mux.listen(port, listener, backlog)`, listener.tcp_accept(key) ->
# handler). `tcp_mux(stack)` makes the TcpLayer on first use. Handlers have
# tcp_open(pkt) (an OPEN In: an arrival, or a send opportunity with no data)
# and tcp_closed(pkt) (CLOSED: reset, timeout or orderly end; the key is gone).
import errno

from .compat import const, MICROPYTHON
from .config import parse_ip, format_ip, parse_ip6, format_ip6
from .layer.udp import PAYLOAD_OFF as _UDP_PAYLOAD_OFF
from .layer.tcp import TcpLayer, RingSendBuf, RingRecvBuf
from .layer.tcp import io as _tcpio
from .layer.tcp.connection import TIME_WAIT as _TIME_WAIT

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
SO_KEEPALIVE = const(8)  # lwIP's values, as MicroPython's socket module has them
SO_ERROR = const(0x1007)
SO_LINGER = const(0x0080)  # lwIP's value; the option is (l_onoff, l_linger) or struct linger
SHUT_RD = const(0)
SHUT_WR = const(1)
SHUT_RDWR = const(2)

MP_STREAM_POLL = const(3)
MP_STREAM_CLOSE = const(4)
POLLIN = const(1)
POLLOUT = const(4)
POLLERR = const(8)
POLLHUP = const(16)
POLLNVAL = const(32)

RX_SLOTS = const(8)  # receive queue of a UDP socket: RX_SLOTS x RX_SLOT_SIZE bytes,
RX_SLOT_SIZE = const(1500)  # a datagram takes ceil(len / RX_SLOT_SIZE) slots

TCP_RCVBUF = const(65536)  # per-connection rings of TCP sockets (the window we offer)
TCP_SNDBUF = const(65536)
TCP_WSCALE = const(7)  # the window scale the stack's TCP layer offers
TCP_ORPHAN_MS = const(60000)  # a closed socket's connection gets this long to finish
TCP_POOL = const(8)  # spare ring pairs kept for new connections


def _errno(name, linux):
    # MicroPython's errno module lacks a few names (EPIPE, EISCONN): Linux numbers then
    return getattr(errno, name, linux)


EPIPE = _errno("EPIPE", 32)
EINPROGRESS = _errno("EINPROGRESS", 115)
EALREADY = _errno("EALREADY", 114)
EISCONN = _errno("EISCONN", 106)
ECONNREFUSED = _errno("ECONNREFUSED", 111)
ECONNRESET = _errno("ECONNRESET", 104)
ENOTCONN = _errno("ENOTCONN", 107)
ETIMEDOUT = _errno("ETIMEDOUT", 110)
ENOBUFS = _errno("ENOBUFS", 105)
ENOPROTOOPT = _errno("ENOPROTOOPT", 92)
EADDRINUSE = _errno("EADDRINUSE", 98)

_stack = None
_clock = None
_idle = None
_batching = 0  # > 0 while aio's pump runs: it flushes the NIC once at its end


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


_ANY6 = bytes(16)
EAFNOSUPPORT = _errno("EAFNOSUPPORT", 97)


def _addr6_bytes(host):
    if isinstance(host, (bytes, bytearray)) and len(host) == 16:
        return bytes(host)
    if host == "":
        return _ANY6
    try:
        return parse_ip6(host.split("%", 1)[0])
    except (ValueError, AttributeError, TypeError):
        raise OSError(errno.EINVAL)


def _sockaddr(addr, af=AF_INET):
    try:
        if af == AF_INET6 and len(addr) == 4:
            addr = addr[:2]
        host, port = addr
        port = int(port)
    except (ValueError, TypeError):
        raise OSError(errno.EINVAL)
    if not 0 <= port <= 65535:
        raise OSError(errno.EINVAL)
    return _addr6_bytes(host) if af == AF_INET6 else _addr_bytes(host), port


def _fmt(ip):
    return format_ip6(ip) if len(ip) == 16 else format_ip(ip)


def _local6(stack, ip):
    """OSError(EINVAL) unless ip is :: or one of our IPv6 addresses."""
    if ip != _ANY6 and stack.ip6.find_addr(ip, 0) < 0:
        raise OSError(errno.EINVAL)


def _no_route(stack, ip):
    if len(ip) == 16:
        return stack.ip6.next_hop(ip) is None
    return stack.ip.route(ip) is None


EAI_NONAME = const(-2)
EAI_AGAIN = const(-3)
EAI_FAIL = const(-4)
EAI_FAMILY = const(-6)
EAI_SERVICE = const(-8)


def _gai_port(port):
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise OSError(EAI_SERVICE, "getaddrinfo: port %r is not a number 0-65535" % (port,))
    return port


def _numeric(host, port, af, type, proto):
    """getaddrinfo's answer for an address written as one (no network), None
    for a name; OSError(EAI_NONAME) for what is neither."""
    if not isinstance(host, str) or not host:
        raise OSError(EAI_NONAME, "getaddrinfo: %r is neither an address nor a name" % (host,))
    t = type or SOCK_STREAM
    if ":" in host:
        try:
            a = parse_ip6(host.split("%", 1)[0])  # a link-local's %zone: one link here
        except ValueError as e:
            raise OSError(EAI_NONAME, str(e))
        if af == AF_INET:
            raise OSError(EAI_NONAME, "getaddrinfo: %s is an IPv6 address; AF_INET asked"
                          % host)
        return [(AF_INET6, t, proto, "", (format_ip6(a), port))]
    try:
        a = parse_ip(host)
    except ValueError as e:
        last = host.rstrip(".").rsplit(".", 1)[-1]
        if last.isdigit():  # RFC 1123 §2.1: no name ends in a number
            raise OSError(EAI_NONAME, str(e))
        return None
    if af == AF_INET6:
        raise OSError(EAI_NONAME, "getaddrinfo: %s is an IPv4 address; AF_INET6 asked" % host)
    return [(AF_INET, t, proto, "", (format_ip(a), port))]


def _resolver():
    """The stack's DNS resolver module; OSError(EAI_FAIL) saying what to do when the
    image was built without it (the recipe's features leave out "dns")."""
    try:
        from . import resolver
    except ImportError:
        raise OSError(EAI_FAIL, "getaddrinfo: this image has no DNS resolver (its recipe's "
                      "features leave out \"dns\"): add it and rebuild, or use an address")
    return resolver


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """[(family, type, proto, "", (address text, port))], MicroPython's shape
    (2-tuples for IPv6 too). Addresses are taken as they are; "localhost"
    is the loopback address (RFC 6761 §6.3); names are resolved by the
    stack's DNS resolver (resolver.py), blocking and driving the stack: A
    records for AF_INET, AAAA for AF_INET6, A (and AAAA once the stack has
    IPv6) for 0. Errors: OSError(code, text) with code EAI_NONAME (-2),
    EAI_AGAIN (-3), EAI_FAIL (-4), EAI_FAMILY (-6) or EAI_SERVICE (-8)."""
    if af != 0 and af != AF_INET and af != AF_INET6:
        raise OSError(EAI_FAMILY, "getaddrinfo: family %r: use AF_INET, AF_INET6 or 0" % (af,))
    port = _gai_port(port)
    r = _numeric(host, port, af, type, proto)
    if r is not None:
        return r
    t = type or SOCK_STREAM
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        if af == AF_INET6:
            return [(AF_INET6, t, proto, "", ("::1", port))]
        return [(AF_INET, t, proto, "", ("127.0.0.1", port))]
    resolver = _resolver()
    from .wire.dns import TYPE_A, TYPE_AAAA

    stack = current_stack()
    kinds = (TYPE_AAAA,) if af == AF_INET6 else (TYPE_A,)
    if af == 0 and getattr(stack, "ip6", None) is not None:
        kinds = (TYPE_A, TYPE_AAAA)
    out = []
    failed = None
    clock = _clock if _clock is not None else _default_clock
    for k in kinds:
        q = resolver.resolve(stack, host, k, clock, _idle)
        if q.error:
            if failed is None or failed.error == EAI_NONAME:
                failed = q
            continue
        for a in q.addrs:
            if k == TYPE_A:
                out.append((AF_INET, t, proto, "", (format_ip(a), port)))
            else:
                out.append((AF_INET6, t, proto, "", (format_ip6(a), port)))
    if not out:
        failed.raise_error()
    return out


_types = {}


def register(sock_type, cls):
    """Make socket(AF_INET, sock_type) build cls(stack, af, sock_type, proto)."""
    _types[sock_type] = cls


def socket(af=AF_INET, type=SOCK_STREAM, proto=0):
    if af == AF_INET6:
        stack = current_stack()
        if stack.ip6 is None:
            raise OSError(EAFNOSUPPORT)  # the stack runs with ip6=off
        cls = Udp6Socket if type == SOCK_DGRAM else _types.get(type)
        if cls is None:
            raise OSError(errno.EOPNOTSUPP)
        return cls(stack, af, type, proto)
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

    OPTIONS = ()  # the (level, option) pairs a socket type knows

    def setsockopt(self, level, opt, value):
        """Known options are kept (and acted on by the subclass); anything
        else is refused with ENOPROTOOPT rather than silently ignored."""
        self._check()
        if (level, opt) not in self.OPTIONS:
            raise OSError(ENOPROTOOPT)
        self._opts[(level, opt)] = value

    def getsockopt(self, level, opt):
        if (level, opt) not in self.OPTIONS:
            raise OSError(ENOPROTOOPT)
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
        ip, port = _sockaddr(addr, self.family)
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
        ip, port = _sockaddr(addr, self.family)
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
        ip, port = _sockaddr(addr, self.family)
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


class Udp6Socket(UdpSocket):
    """SOCK_DGRAM over IPv6: the same ring, 16-byte source addresses."""

    def _alloc_ring(self):
        UdpSocket._alloc_ring(self)
        self._e_ip = bytearray(16 * RX_SLOTS)

    def _on_datagram(self, view, off, n, src_off, sport, now):
        # UdpSocket's, with 16 address bytes per entry (a copy: the IPv4 one
        # stays free of family tests)
        r = self._remote
        if r is not None and (sport != self._rport or bytes(view[src_off:src_off + 16]) != r):
            self._stack.counters.c["udp_no_listener"] += 1  # not from our peer
            return None
        k = (n + RX_SLOT_SIZE - 1) // RX_SLOT_SIZE or 1
        if self._count >= RX_SLOTS or self._used + k > RX_SLOTS:
            self._stack.counters.c["udp_socket_full"] += 1
            return None
        e = (self._head + self._count) % RX_SLOTS
        s = (self._slot_head + self._used) % RX_SLOTS
        self._e_slot[e] = s
        self._e_len[e] = n
        self._e_port[e] = sport
        self._e_ip[16 * e:16 * e + 16] = view[src_off:src_off + 16]
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

    def _peer(self, e):
        return (format_ip6(self._e_ip[16 * e:16 * e + 16]), self._e_port[e])

    def _bind_port(self, port):
        udp = self._stack.udp
        if port == 0:
            port = udp.ephemeral_port()
            if port == 0:
                raise OSError(errno.EADDRINUSE)
        udp.bind6(port, self._handler)
        self._port = port
        if self._slots is None:
            self._alloc_ring()

    def _check_local(self, ip):
        _local6(self._stack, ip)

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
        if ip == _ANY6 or _no_route(stack, ip):
            raise OSError(errno.EHOSTUNREACH)
        if not self._port:
            self._bind_port(0)
        if not self._wait_for(lambda: udp.send6(ip, port, self._port, data, _now(stack)) or None):
            raise OSError(errno.EHOSTUNREACH)
        return n

    def _close(self):
        if self._port:
            self._stack.udp.unbind6(self._port)
            self._port = 0
        self._slots = None
        self._remote = None


# -- TCP ------------------------------------------------------------------------
def _now(stack):
    return _clock() if _clock is not None else stack.now


def _flush(stack):
    """Send what the NIC batched (virtio kicks once per batch); the pump of
    aio.py flushes once at its end instead."""
    if not _batching:
        stack.nic.flush()


def tcp_mux(stack):
    """The stack's TcpMux, making the TcpLayer (window = TCP_RCVBUF) on first use."""
    layer = stack.tcp
    if layer is None:
        mux = TcpMux(stack)
        # window scale 7 (as Linux offers): receivers that can take more than
        # 64 KiB in flight (discard, sockets with big buffers) may say so
        layer = TcpLayer(stack, mux, rcv_window=TCP_RCVBUF, wscale=TCP_WSCALE)
        mux.layer = layer
        stack.tcp = layer
        return mux
    u = layer.user
    if isinstance(u, TcpMux):
        return u
    if u is not None:
        raise ValueError("stack.tcp already has a user that is not a TcpMux")
    mux = TcpMux(stack)
    mux.layer = layer
    layer.user = mux
    return mux


class _RecvRing(RingRecvBuf):
    """RingRecvBuf with a fast find() (bytearray.find instead of a byte loop)."""

    def __init__(self, capacity):
        RingRecvBuf.__init__(self, 0)  # every field, but no ring: ours keeps its bytearray
        self.cap = capacity
        self.ba = bytearray(capacity)
        self.mv = memoryview(self.ba)

    def find(self, byte, limit=-1, start=0):
        """Offset of the first `byte` in unread bytes [start, limit), or -1."""
        n = self.count if limit < 0 or limit > self.count else limit
        if start >= n:
            return -1
        ba = self.ba
        sub = b"\n" if byte == 10 else bytes((byte,))
        cap = self.cap
        h = self.head
        a = h + start
        b = h + n
        if b <= cap:
            i = ba.find(sub, a, b)
            return -1 if i < 0 else i - h
        if a >= cap:
            i = ba.find(sub, a - cap, b - cap)
            return -1 if i < 0 else i + cap - h
        i = ba.find(sub, a, cap)
        if i >= 0:
            return i - h
        i = ba.find(sub, 0, b - cap)
        return -1 if i < 0 else i + cap - h

    def at(self, i):
        """The unread byte at offset i (i < count)."""
        p = self.head + i
        if p >= self.cap:
            p -= self.cap
        return self.ba[p]


class TcpMux:
    """The TcpLayer's user: one per stack (see the top of this file)."""

    def __init__(self, stack):
        self.stack = stack
        self.layer = None
        # test-only fault switch (stack/faults.py), read once: data arriving
        # after close() is acknowledged and dropped instead of reset
        self.ack_after_close = "ack_data_after_close" in getattr(stack, "faults", ())
        self.conns = {}  # SlotKey -> handler
        self.ports = {}  # listening port -> listener (tcp_accept(key) -> handler or None)
        self.bound = {}  # local port -> the socket or service holding it
        self.orphans = []  # _Conns of closed sockets still finishing (FIN, retransmissions)
        self._spare = []  # (RingSendBuf, _RecvRing) of the default sizes, reset
        self._port_next = 49152

    # -- the layer's user interface ----------------------------------------------
    def receive(self, pkt):
        kind = pkt.kind
        if self.orphans and kind != _tcpio.CLOSED:
            # first: an orphan past its deadline ends before a segment of its own counts
            # (not on a CLOSED: the layer has just ended one itself, e.g. FIN-WAIT-2's
            # timeout at the same deadline, and must not be counted twice)
            self._reap(self.layer.now)
        if kind == _tcpio.OPEN:
            h = self.conns.get(pkt.key)
            if h is None:
                if self.layer.connection(pkt.key) is None:
                    return  # just reaped
                h = self._new(pkt)
                if h is None:
                    return
            h.tcp_open(pkt)
        elif kind == _tcpio.CLOSED or kind == _tcpio.CLOSING:
            h = self.conns.pop(pkt.key, None)
            if h is not None:
                h.tcp_closed(pkt)

    def send(self, raw):
        key = raw.key
        h = self.conns.get(key)
        if h is None:
            return
        o = raw.attach(key)
        if o is not None:
            h.tcp_open(o)

    def _new(self, pkt):
        key = pkt.key
        layer = self.layer
        conn = layer.connection(key)
        lst = None
        if conn is not None and conn.listener is not None:
            lst = self.ports.get(conn.lport)
        try:
            h = lst.tcp_accept(key) if lst is not None else None
        except MemoryError:
            # its buffers do not fit in the heap: refused cleanly (RST), the
            # connections already served keep theirs
            self.stack.counters.c["tcp_no_memory"] += 1
            h = None
        if h is None:
            pkt.abort()  # nobody takes it (listener closed meanwhile, no memory): RST
            return None
        self.conns[key] = h
        return h

    # -- listeners and ports -----------------------------------------------------
    def listen(self, port, listener, backlog=16, window=TCP_RCVBUF):
        """Route new connections to port to listener.tcp_accept(key); window:
        the receive buffer its handlers give each connection."""
        owner = self.bound.get(port)
        if port in self.ports or (owner is not None and owner is not listener
                                  and getattr(listener, "sock", None) is not owner):
            raise OSError(EADDRINUSE)
        self.ports[port] = listener
        self.bound[port] = getattr(listener, "sock", None) or listener
        self.layer.listen(port, backlog, window)

    def unlisten(self, port):
        """Stop listening; connections not yet accepted are reset."""
        layer = self.layer
        if port in layer.listeners:
            now = layer.now
            while True:
                key = layer.accept(port)
                if key is None:
                    break
                self.abort(key, now)
            layer.unlisten(port)
        self.ports.pop(port, None)
        self.bound.pop(port, None)

    def free_port(self):
        """An ephemeral port no socket, listener or service holds."""
        for _ in range(16384):
            p = self._port_next
            self._port_next = 49152 if p >= 65535 else p + 1
            if p not in self.bound and p not in self.layer.listeners:
                return p
        raise OSError(EADDRINUSE)

    # -- connections --------------------------------------------------------------
    def buffers(self, snd=TCP_SNDBUF, rcv=TCP_RCVBUF):
        if snd == TCP_SNDBUF and rcv == TCP_RCVBUF and self._spare:
            return self._spare.pop()
        return RingSendBuf(snd), _RecvRing(rcv)

    def release(self, c):
        """Give c's rings back (reset) for the next connection."""
        sb = c.sb
        rb = c.rb
        c.sb = None
        c.rb = None
        if sb is None or rb is None:
            return
        if sb.cap == TCP_SNDBUF and rb.cap == TCP_RCVBUF and len(self._spare) < TCP_POOL:
            sb.reset()
            rb.reset()
            self._spare.append((sb, rb))

    def push(self, c):
        """The application wrote or read: send what TCP allows now (data, FIN,
        window update). While aio's pump runs, only ask for a send opportunity
        in the next poll round, so the writes of all its tasks coalesce into
        full segments."""
        if c.gone or c.rb is None:
            return
        if _batching:
            self.layer.wake(c.key)
            return
        o = self.layer.raw(_now(self.stack)).attach(c.key)
        if o is None:
            return
        o.read(c.rb)
        o.write(c.sb)
        c.told = c.rb.window()
        _flush(self.stack)

    def abort(self, key, now):
        """RST and forget (the handler is not told)."""
        h = self.conns.pop(key, None)
        self.layer.abort(key, now)
        if h is not None and isinstance(h, _Conn):
            h.gone = True
            if h.orphan:
                self.release(h)
        _flush(self.stack)

    def close_conn(self, c, reset=False):
        """The socket owning c is closed: FIN after the data sent (RST when
        received data was never read, as Linux does, or when `reset`: SO_LINGER
        {on, 0}); rings come back when the connection ends, or after
        TCP_ORPHAN_MS."""
        c.orphan = True
        if c.gone:
            self.release(c)
            return
        now = _now(self.stack)
        if reset or not c.est or (c.rb.count and not c.rd_shut):
            self.abort(c.key, now)
            return
        c.sb.close()
        c.dead_at = now + TCP_ORPHAN_MS
        self.orphans.append(c)
        self.push(c)

    def data_after_close(self, c):
        """Data arrived for a closed socket: nobody will ever read it, so the
        peer hears of the loss by a RST rather than an ACK (RFC 1122
        §4.2.2.13, RFC 2525 §2.17)."""
        self.stack.counters.c["tcp_data_after_close"] += 1
        self.abort(c.key, self.layer.now)

    def time_wait(self, c):
        """A closed socket's connection reached TIME-WAIT: both streams are
        over, so its rings go back now rather than 2 MSL later (the layer
        keeps the four-tuple for TIME-WAIT on its own)."""
        if c in self.orphans:
            self.orphans.remove(c)
        self.layer.drop_buffers(c.key)
        self.release(c)

    def _reap(self, now):
        keep = []
        for c in self.orphans:
            if c.gone:
                self.release(c)
            elif now - c.dead_at >= 0:
                self.stack.counters.c["tcp_aborted"] += 1
                self.abort(c.key, now)
            else:
                keep.append(c)
        self.orphans = keep


class _Conn:
    """One TCP connection of a socket: its rings and what TCP told about it."""

    def __init__(self, mux, key):
        self.mux = mux
        self.key = key
        self.sb, self.rb = mux.buffers()
        self.est = False  # the handshake completed
        self.eof = False  # the peer's FIN arrived (no more data will come)
        self.err = 0  # errno of a reset / refusal / timeout
        self.gone = False  # the layer forgot the connection
        self.rd_shut = False
        self.wr_shut = False
        self.orphan = False  # the socket is closed
        self.dead_at = 0
        self.peer = None  # ("a.b.c.d", port)
        self.lport = 0
        self.told = self.rb.window()  # the free space TCP last heard of

    def tcp_open(self, pkt):
        rb = self.rb
        if rb is None:
            return  # rings given back (TIME-WAIT of a closed socket): nothing to do
        sig = pkt.signals
        if sig.established:
            self.est = True
        pkt.read(rb)
        if sig.half_closed:
            self.eof = True
        if self.orphan and rb.count and not self.rd_shut and not self.mux.ack_after_close:
            # (after shutdown(SHUT_RD) the application said it reads no more: a
            # lingering close, RFC 9112 §9.6, whose response must not be cut by a RST)
            self.mux.data_after_close(self)
            return
        if (self.rd_shut or self.orphan) and rb.count:
            rb.skip(rb.count)  # nobody will read it
            pkt.read(rb)
        pkt.write(self.sb)
        self.told = rb.window()
        if self.orphan and self.mux.layer.state(self.key) == _TIME_WAIT:
            self.mux.time_wait(self)

    def tcp_closed(self, pkt):
        self.gone = True
        if pkt.signals.reset and not self.err:
            if pkt is self.mux.layer.note:
                self.err = ETIMEDOUT  # retransmissions / keepalives gave up
            elif not self.est:
                self.err = ECONNREFUSED
            else:
                self.err = ECONNRESET
        if self.orphan:
            self.mux.release(self)


class _SockListener:
    def __init__(self, sock):
        self.sock = sock

    def tcp_accept(self, key):
        # the key stays in the layer's accept queue (it bounds the backlog);
        # the connection gets its rings now so data before accept() is kept
        s = self.sock
        mux = s._mux
        c = _Conn(mux, key)
        c.est = True
        if s._nodelay:
            mux.layer.set_nodelay(key, True)
        if s._keepalive:
            mux.layer.set_keepalive(key, KEEPALIVE_IDLE_MS)
        return c


KEEPALIVE_IDLE_MS = const(7200000)  # RFC 1122 §4.2.3.6: no less than two hours


def _linger(value):
    """(l_onoff, l_linger) from a pair or an 8-byte struct linger (two native
    ints, little-endian here); OSError(EINVAL) otherwise."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) != 8:
            raise OSError(errno.EINVAL)
        return (int.from_bytes(bytes(value[0:4]), "little"),
                int.from_bytes(bytes(value[4:8]), "little"))
    try:
        on, secs = value
        on = int(on)
        secs = int(secs)
    except (TypeError, ValueError):
        raise OSError(errno.EINVAL)
    if secs < 0:
        raise OSError(errno.EINVAL)
    return on, secs


class TcpSocket(SocketBase):
    """SOCK_STREAM over the TCP layer. Blocking calls drive the stack (see the
    top of this file); non-blocking ones raise EAGAIN, except the stream
    methods read/readinto/readline/write, which return None (as MicroPython's
    streams do) so asyncio can use them."""

    OPTIONS = ((SOL_SOCKET, SO_REUSEADDR), (SOL_SOCKET, SO_KEEPALIVE),
               (SOL_SOCKET, SO_LINGER), (SOL_SOCKET, SO_ERROR), (IPPROTO_TCP, TCP_NODELAY))

    def __init__(self, stack, af=AF_INET, type=SOCK_STREAM, proto=0):
        SocketBase.__init__(self, stack, af, type, proto)
        self._mux = tcp_mux(stack)
        self._port = 0  # bound (or listening) local port
        self._lst = None  # _SockListener while listening
        self._c = None  # _Conn once connecting / accepted
        self._nodelay = False
        self._keepalive = False
        self._reset_on_close = False  # SO_LINGER {on, 0}

    # -- options ---------------------------------------------------------------
    def setsockopt(self, level, opt, value):
        if level == SOL_SOCKET and opt == SO_ERROR:
            raise OSError(ENOPROTOOPT)  # read-only
        if level == SOL_SOCKET and opt == SO_LINGER:
            on, secs = _linger(value)
            SocketBase.setsockopt(self, level, opt, (on, secs))
            # {on, 0}: close() resets the connection (RST, unsent data
            # dropped). {on, N > 0} is kept but close() never blocks: the
            # FIN follows the data as without the option.
            self._reset_on_close = bool(on) and secs == 0
            return
        SocketBase.setsockopt(self, level, opt, value)
        if isinstance(value, (bytes, bytearray)):
            value = value[0] if len(value) else 0
        c = self._c
        layer = self._mux.layer
        if level == IPPROTO_TCP and opt == TCP_NODELAY:
            self._nodelay = bool(value)
            if c is not None and not c.gone:
                layer.set_nodelay(c.key, self._nodelay)
        elif level == SOL_SOCKET and opt == SO_KEEPALIVE:
            self._keepalive = bool(value)
            if c is not None and not c.gone:
                layer.set_keepalive(c.key, KEEPALIVE_IDLE_MS if value else 0)
        # SO_REUSEADDR is accepted and always in effect: a port is only ever
        # refused while a socket or listener holds it, never for TIME-WAIT

    def getsockopt(self, level, opt):
        if level == SOL_SOCKET and opt == SO_ERROR:
            c = self._c
            if c is None or not c.err:
                return 0
            e = c.err
            c.err = 0 if c.gone else c.err
            return e
        if level == IPPROTO_TCP and opt == TCP_NODELAY:
            return 1 if self._nodelay else 0
        if level == SOL_SOCKET and opt == SO_LINGER:
            return self._opts.get((level, opt), (0, 0))
        return SocketBase.getsockopt(self, level, opt)

    # -- addresses -------------------------------------------------------------
    def bind(self, addr):
        self._check()
        ip, port = _sockaddr(addr, self.family)
        if self._port or self._c is not None:
            raise OSError(errno.EINVAL)  # already bound
        if self.family == AF_INET6:
            _local6(self._stack, ip)
        elif ip != b"\x00\x00\x00\x00" and ip != bytes(self._stack.ip_addr):
            raise OSError(errno.EINVAL)  # not one of our addresses
        mux = self._mux
        if port == 0:
            port = mux.free_port()
        elif port in mux.bound or port in mux.layer.listeners:
            raise OSError(EADDRINUSE)
        mux.bound[port] = self
        self._port = port

    def getsockname(self):
        port = self._port
        if not port and self._c is not None:
            port = self._c.lport
        c = self._c
        if c is not None and not c.gone:
            t = self._mux.layer.four_tuple(c.key)
            if t is not None:
                return (_fmt(t[0]), port)
        if self.family == AF_INET6:
            return ("::", port)
        return (format_ip(self._stack.ip_addr), port)

    def getpeername(self):
        self._check()
        c = self._c
        if c is None or c.peer is None or not c.est:
            raise OSError(ENOTCONN)
        return c.peer

    # -- server side -----------------------------------------------------------
    def listen(self, backlog=5):
        self._check()
        if self._c is not None:
            raise OSError(EISCONN)
        if self._lst is not None:
            return
        if not self._port:
            self.bind(("", 0))
        lst = _SockListener(self)
        self._mux.listen(self._port, lst, backlog if backlog > 0 else 1)
        self._lst = lst

    def _accept_one(self):
        mux = self._mux
        layer = mux.layer
        while True:
            key = layer.accept(self._port)
            if key is None:
                return None
            c = mux.conns.get(key)
            if c is not None:
                return c
            mux.abort(key, layer.now)  # never handed to us: cannot happen

    def accept(self):
        self._check()
        if self._lst is None:
            raise OSError(errno.EINVAL)  # not listening
        c = self._wait_for(self._accept_one)
        t = self._mux.layer.four_tuple(c.key)
        if t is not None:
            c.peer = (_fmt(t[2]), t[3])
            c.lport = t[1]
        s = TcpSocket(self._stack, self.family, self.type, self.proto)
        s._c = c
        s._nodelay = self._nodelay
        s._keepalive = self._keepalive
        return s, c.peer

    # -- client side -----------------------------------------------------------
    def connect(self, addr):
        self._check()
        c = self._c
        if c is not None:
            if c.err:
                e = c.err
                raise OSError(e)
            raise OSError(EISCONN if c.est else EALREADY)
        if self._lst is not None:
            raise OSError(EISCONN)
        ip, port = _sockaddr(addr, self.family)
        if port == 0 or ip == b"\x00\x00\x00\x00" or ip == _ANY6:
            raise OSError(errno.EINVAL)
        stack = self._stack
        if _no_route(stack, ip):
            raise OSError(errno.EHOSTUNREACH)
        mux = self._mux
        layer = mux.layer
        o = layer.raw(_now(stack)).open(ip, port, self._port, TCP_RCVBUF)
        if o is None:
            raise OSError(EADDRINUSE if self._port else ENOBUFS)
        key = o.key
        c = _Conn(mux, key)
        c.peer = (_fmt(ip), port)
        t = layer.four_tuple(key)
        c.lport = t[1] if t is not None else self._port
        mux.conns[key] = c
        self._c = c
        if self._nodelay:
            layer.set_nodelay(key, True)
        if self._keepalive:
            layer.set_keepalive(key, KEEPALIVE_IDLE_MS)
        _flush(stack)
        if self._timeout == 0:
            raise OSError(EINPROGRESS)
        try:
            self._wait_for(self._connected)
        except OSError as e:
            if e.args[0] == ETIMEDOUT and not c.est:
                mux.abort(key, _now(stack))
                c.err = ETIMEDOUT
            raise
        if c.err:
            raise OSError(c.err)

    def _connected(self):
        c = self._c
        return True if (c.est or c.err or c.gone) else None

    # -- sending ---------------------------------------------------------------
    def _conn(self):
        self._check()
        c = self._c
        if c is None:
            raise OSError(ENOTCONN)
        return c

    def _try_send(self, data, start):
        c = self._c
        if c.err:
            raise OSError(c.err)
        if c.wr_shut or c.gone:
            raise OSError(EPIPE)
        if not c.est:
            return None  # still connecting
        k = c.sb.write(data, start, len(data))
        if k == 0:
            return None
        self._mux.push(c)
        return k

    def send(self, data):
        self._conn()
        if not len(data):
            return 0
        return self._wait_for(lambda: self._try_send(data, 0))

    def sendall(self, data):
        self._conn()
        n = len(data)
        off = 0
        while off < n:
            o = off
            off += self._wait_for(lambda: self._try_send(data, o))

    def write(self, data):
        """Stream write: all of it (blocking); what fits or None (non-blocking)."""
        self._conn()
        if self._timeout == 0:
            return self._try_send(data, 0) if len(data) else 0
        self.sendall(data)
        return len(data)

    # -- receiving -------------------------------------------------------------
    def _ready(self):
        c = self._c
        return True if (c.rb.count or c.eof or c.err or c.gone or c.rd_shut) else None

    def _took(self, c):
        # reading freed space: tell the peer once it is worth a window update
        rb = c.rb
        t = rb.cap >> 1
        if t > 2920:
            t = 2920
        if rb.window() - c.told >= t:
            self._mux.push(c)

    def _end(self, c):
        """Nothing to read: b'' at the end of the stream, the error otherwise."""
        if c.err and not c.rd_shut:
            raise OSError(c.err)
        return b""

    def recv(self, bufsize):
        c = self._conn()
        if bufsize < 0:
            raise OSError(errno.EINVAL)
        if bufsize == 0:
            # asks for nothing: never waits (as Linux and CPython); an error
            # with nothing left to read is still reported
            return self._end(c) if not c.rb.count else b""
        self._wait_for(self._ready)
        rb = c.rb
        if rb.count and bufsize:
            data = rb.read(bufsize)
            self._took(c)
            return data
        return self._end(c) if not rb.count else b""

    def recv_into(self, buf, nbytes=0):
        c = self._conn()
        n = nbytes if 0 < nbytes <= len(buf) else len(buf)
        if n == 0:
            if not c.rb.count:
                self._end(c)
            return 0  # no room: never waits
        self._wait_for(self._ready)
        rb = c.rb
        if rb.count and n:
            k = rb.readinto(buf, n)
            self._took(c)
            return k
        if not rb.count:
            self._end(c)
        return 0

    def readinto(self, buf, nbytes=0):
        """Stream readinto: None when nothing is there yet (non-blocking)."""
        self._conn()
        if self._timeout == 0 and self._ready() is None:
            return None
        return self.recv_into(buf, nbytes)

    def read(self, n=-1):
        """Stream read: up to n bytes (n < 0: to the end of the stream when
        blocking, what is there when not); None when nothing is there yet
        (non-blocking); b'' at the end."""
        c = self._conn()
        if self._timeout == 0:
            if self._ready() is None:
                return None
            return self.recv(c.rb.count if n < 0 else n)
        if n >= 0:
            return self.recv(n)
        out = []
        while True:
            d = self.recv(TCP_RCVBUF)
            if not d:
                return b"".join(out)
            out.append(d)

    def readline(self):
        """Stream readline: a line with its b'\\n' (or what is left at the end);
        non-blocking: what there is of a line so far, None when nothing."""
        c = self._conn()
        rb = c.rb
        if self._timeout == 0:
            if self._ready() is None:
                return None
            i = rb.find(10)
            if rb.count == 0:
                return self._end(c)
            data = rb.read(rb.count if i < 0 else i + 1)
            self._took(c)
            return data
        out = []
        while True:
            self._wait_for(self._ready)
            if rb.count == 0:
                if not out:
                    self._end(c)
                return b"".join(out)
            i = rb.find(10)
            out.append(rb.read(rb.count if i < 0 else i + 1))
            self._took(c)
            if i >= 0:
                return b"".join(out)

    def makefile(self, mode="rb", buffering=0):
        return self

    # -- ending ----------------------------------------------------------------
    def shutdown(self, how):
        c = self._conn()
        if how != SHUT_RD and how != SHUT_WR and how != SHUT_RDWR:
            raise OSError(errno.EINVAL)
        if how != SHUT_WR:
            c.rd_shut = True
            if c.rb is not None and c.rb.count:
                c.rb.skip(c.rb.count)
        if how != SHUT_RD and not c.wr_shut:
            c.wr_shut = True
            c.sb.close()
        self._mux.push(c)

    def abort(self):
        """Reset the connection now (RST) and close the socket -- also after
        close(), while its connection still finishes -- unless the connection
        is over or in TIME-WAIT. For a server whose peer neither reads nor
        answers. True if a connection was reset."""
        c = self._c
        reset = False
        if c is not None and not c.gone and self._mux.layer.state(c.key) != _TIME_WAIT:
            self._mux.abort(c.key, _now(self._stack))
            if not c.err:
                c.err = ECONNRESET
            reset = True
        self.close()
        return reset

    def _close(self):
        mux = self._mux
        if self._lst is not None:
            mux.unlisten(self._port)
            self._lst = None
        c = self._c
        if c is not None:
            mux.close_conn(c, self._reset_on_close)
        if self._port and mux.bound.get(self._port) is self:
            del mux.bound[self._port]

    # -- readiness -------------------------------------------------------------
    def readable(self):
        if self._closed:
            return False
        if self._lst is not None:
            lst = self._mux.layer.listeners.get(self._port)
            return lst is not None and len(lst.queue) > 0
        c = self._c
        if c is None:
            return False
        return bool(c.rb.count or c.eof or c.err or c.gone or c.rd_shut)

    def writable(self):
        c = self._c
        if self._closed or c is None:
            return False
        if c.err or c.gone or c.wr_shut:
            return True  # the next write reports it
        return c.est and c.sb.free() > 0

    def ioctl(self, req, arg):
        if req == MP_STREAM_POLL and not self._closed:
            r = 0
            if arg & POLLIN and self.readable():
                r |= POLLIN
            if arg & POLLOUT and self.writable():
                r |= POLLOUT
            c = self._c
            if c is not None:
                if c.err:
                    r |= POLLERR
                if c.gone or (c.eof and c.wr_shut):
                    r |= POLLHUP
            return r
        return SocketBase.ioctl(self, req, arg)


register(SOCK_STREAM, TcpSocket)
