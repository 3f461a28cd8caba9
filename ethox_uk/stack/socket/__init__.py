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
# Blocking calls drive the stack themselves: they call stack.poll(now) until
# the call can complete or its timeout passes. `use(stack, clock=fn,
# idle=fn)` makes `stack` the one new sockets use and gives it its
# millisecond clock (tests pass a simulated one) and an optional idle(ms)
# called between polls (host mode may wait on the NIC's descriptor there):
# both are the Stack's app edge (iface.py). Errors are OSError(errno): EAGAIN
# (non-blocking, nothing ready), ETIMEDOUT, EADDRINUSE, EINVAL, EBADF (closed),
# ENOTCONN, EHOSTUNREACH, EOPNOTSUPP; TCP adds ECONNREFUSED, ECONNRESET,
# EPIPE, EINPROGRESS (non-blocking connect), EALREADY, EISCONN, ENOBUFS.
#
# Readiness: sock.readable()/writable(), and ioctl(MP_STREAM_POLL, events)
# answering POLLIN/POLLOUT, so MicroPython's select.poll and asyncio can wait
# on these objects (under MicroPython they derive from io.IOBase).
#
# AF_INET6 (when the stack has IPv6; EAFNOSUPPORT with ip6=off): addresses are
# ("2001:db8::1", port) (a 4-tuple's flow info and scope are accepted and
# ignored; "" is ::), and come back as 2-tuples like AF_INET's. A TCP listener
# takes both families on its port (dual stack, as Linux with IPV6_V6ONLY
# off), so an AF_INET6 and an AF_INET socket cannot listen on one port.
#
# The package: this file has the constants, use() and socket(); the rest is
# imported on first use, as MicroPython's asyncio does, so an app pays only for
# what it uses --
#   base.py      SocketBase (timeouts, options, readiness, the wait loop), addresses
#   udp.py       UdpSocket, Udp6Socket
#   tcp.py       TcpSocket over the stack's TcpMux (layer/tcp/mux.py)
#   addrinfo.py  getaddrinfo: numeric addresses, "localhost", the DNS resolver
import errno

from ..compat import const, errno_code

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

EAI_NONAME = const(-2)
EAI_AGAIN = const(-3)
EAI_FAIL = const(-4)
EAI_FAMILY = const(-6)
EAI_SERVICE = const(-8)

EPIPE = errno_code("EPIPE", 32)
EINPROGRESS = errno_code("EINPROGRESS", 115)
EALREADY = errno_code("EALREADY", 114)
EISCONN = errno_code("EISCONN", 106)
ECONNREFUSED = errno_code("ECONNREFUSED", 111)
ECONNRESET = errno_code("ECONNRESET", 104)
ENOTCONN = errno_code("ENOTCONN", 107)
ETIMEDOUT = errno_code("ETIMEDOUT", 110)
ENOBUFS = errno_code("ENOBUFS", 105)
ENOPROTOOPT = errno_code("ENOPROTOOPT", 92)
EADDRINUSE = errno_code("EADDRINUSE", 98)
EAFNOSUPPORT = errno_code("EAFNOSUPPORT", 97)

_stack = None


def use(stack, clock=None, idle=None):
    """Make `stack` the one new sockets use, with its ms clock (default: real
    time) and idle hook."""
    global _stack
    from ..compat import ticks_ms

    _stack = stack
    stack.clock = clock if clock is not None else ticks_ms
    stack.idle = idle


def current_stack():
    if _stack is None:
        raise OSError(errno.ENODEV)  # socket.use(stack) was never called
    return _stack


def socket(af=AF_INET, type=SOCK_STREAM, proto=0):
    stack = current_stack()
    if af == AF_INET6:
        if stack.ip6 is None:
            raise OSError(EAFNOSUPPORT)  # the stack runs with ip6=off
    elif af != AF_INET:
        raise OSError(errno.EOPNOTSUPP)
    if type == SOCK_DGRAM:
        cls = _lazy("Udp6Socket" if af == AF_INET6 else "UdpSocket")
    elif type == SOCK_STREAM:
        cls = _lazy("TcpSocket")
    else:
        raise OSError(errno.EOPNOTSUPP)
    return cls(stack, af, type, proto)


_LAZY = {"UdpSocket": "udp", "Udp6Socket": "udp", "TcpSocket": "tcp",
         "KEEPALIVE_IDLE_MS": "tcp", "getaddrinfo": "addrinfo", "SocketBase": "base"}


def _lazy(attr):
    """attr of this package: the loaded value, or __getattr__'s first import of it."""
    v = globals().get(attr)
    return v if v is not None else __getattr__(attr)


def __getattr__(attr):
    # the rest of the package, imported on first use (see the top of this
    # file); by full name, as `from . import x` inside a module's own
    # __getattr__ would ask __getattr__ again under MicroPython
    sub = _LAZY.get(attr)
    if sub is None:
        raise AttributeError(attr)
    value = getattr(__import__(__name__ + "." + sub, None, None, (attr,), 0), attr)
    globals()[attr] = value
    return value
