# What every socket type shares: SocketBase (timeouts, options, readiness,
# the wait loop that drives the stack) and the address helpers.
import errno

from ..compat import MICROPYTHON, ticks_ms
from ..config import parse_ip, format_ip, parse_ip6, format_ip6
from . import (AF_INET, AF_INET6, ENOPROTOOPT, MP_STREAM_POLL, MP_STREAM_CLOSE,
               POLLIN, POLLOUT, POLLNVAL)

ANY6 = bytes(16)


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


def _addr6_bytes(host):
    if isinstance(host, (bytes, bytearray)) and len(host) == 16:
        return bytes(host)
    if host == "":
        return ANY6
    try:
        return parse_ip6(host.split("%", 1)[0])
    except (ValueError, AttributeError, TypeError):
        raise OSError(errno.EINVAL)


def sockaddr(addr, af=AF_INET):
    """(address bytes, port) of a socket address tuple; OSError(EINVAL) otherwise."""
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


def addr_text(ip):
    return format_ip6(ip) if len(ip) == 16 else format_ip(ip)


def check_local6(stack, ip):
    """OSError(EINVAL) unless ip is :: or one of our IPv6 addresses."""
    if ip != ANY6 and stack.ip6.find_addr(ip, 0) < 0:
        raise OSError(errno.EINVAL)


def no_route(stack, ip):
    if len(ip) == 16:
        return stack.ip6.next_hop(ip) is None
    return stack.ip.route(ip) is None


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
        clock = stack.clock if stack.clock is not None else ticks_ms
        idle = stack.idle
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
            if idle is not None:
                w = stack.next_timeout(now)
                if w < 0 or w > 10:
                    w = 10
                idle(w)

