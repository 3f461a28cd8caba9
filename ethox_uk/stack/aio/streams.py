# asyncio streams over the stack's TCP sockets: Stream (reader and writer in
# one, as in MicroPython), Server, start_server and open_connection.
import errno

from ..compat import const
from .. import socket as _socket
from ..socket.tcp import TcpSocket
from ..socket.addrinfo import check_port, numeric, resolver
from .pump import pump, report, wait

import asyncio

_COALESCE = const(32)  # readline joins this many pieces of a line into one

# -- streams ------------------------------------------------------------------------
class Stream:
    """Reader and writer of one TCP socket (non-blocking underneath)."""

    limit = 65536  # readline() longer than this: ValueError

    def __init__(self, sock, extra=None):
        self.s = sock
        self.e = extra if extra is not None else {}
        self.out = []  # bytes write() could not hand to the socket yet
        self.out_off = 0  # how much of out[0] the socket took already
        self.closing = False
        self.err = None
        self._closer = None

    def get_extra_info(self, name, default=None):
        try:
            if name == "peername":
                return self.s.getpeername()
            if name == "sockname":
                return self.s.getsockname()
        except OSError:
            return self.e.get(name, default)
        if name == "socket":
            return self.s
        return self.e.get(name, default)

    # -- reading -------------------------------------------------------------------
    async def read(self, n=-1):
        """Up to n bytes as soon as there are some (b'' at the end); n < 0:
        everything up to the end of the stream."""
        s = self.s
        if n == 0:
            return b""
        if n < 0:
            out = []
            while True:
                d = s.read(-1)
                if d is None:
                    await wait(s, False)
                elif not d:
                    return b"".join(out)
                else:
                    out.append(d)
        while True:
            d = s.read(n)
            if d is not None:
                return d
            await wait(s, False)

    async def readinto(self, buf):
        s = self.s
        while True:
            k = s.readinto(buf)
            if k is not None:
                return k
            await wait(s, False)

    async def readexactly(self, n):
        s = self.s
        out = []
        left = n
        while left > 0:
            d = s.read(left)
            if d is None:
                await wait(s, False)
                continue
            if not d:
                raise EOFError("the stream ended %d bytes short of %d" % (left, n))
            out.append(d)
            left -= len(d)
        return b"".join(out)

    async def readline(self):
        s = self.s
        out = []  # pieces of the line so far
        small = 0  # how many of them at the end came as they arrived
        size = 0
        while True:
            d = s.readline()
            if d is None:
                await wait(s, False)
                continue
            if not d:
                return b"".join(out)
            out.append(d)
            size += len(d)
            if d[-1] == 10:
                return b"".join(out) if len(out) > 1 else d
            if size > self.limit:
                raise ValueError("line longer than %d bytes" % self.limit)
            small += 1
            if small == _COALESCE:
                # a line dribbled a byte per segment would keep one object per
                # byte: join each run of pieces (every byte is copied once more)
                tail = b"".join(out[-_COALESCE:])
                del out[-_COALESCE:]
                out.append(tail)
                small = 0

    def at_eof(self):
        c = self.s._c
        return c is None or ((c.eof or c.gone or c.err) and (c.rb is None or not c.rb.count))

    # -- writing -------------------------------------------------------------------
    def write(self, data):
        """Queue data (never blocks); drain() waits until the socket took it."""
        if not len(data):
            return
        if not self.out and self.err is None:
            try:
                k = self.s.write(data)
            except OSError as e:
                self.err = e  # drain() raises it
                return
            if k is None:
                k = 0
            if k == len(data):
                return
            data = memoryview(data)[k:]
        self.out.append(bytes(data))

    async def drain(self):
        s = self.s
        out = self.out
        while out:
            if self.err is not None:
                break
            d = out[0]
            off = self.out_off
            # the rest of a partly taken buffer as a view: slicing the bytes
            # would copy the remainder on every partial write (quadratic)
            k = s.write(memoryview(d)[off:] if off else d)
            if k:
                off += k
                if off >= len(d):
                    out.pop(0)
                    off = 0
                self.out_off = off
            else:
                await wait(s, True)
        if self.err is not None:
            e = self.err
            raise e
        await asyncio.sleep(0)  # always yield: a write/drain loop cannot starve others

    awrite = None  # set below (MicroPython's legacy name)

    # -- closing -------------------------------------------------------------------
    def close(self):
        """Close after the queued data has gone to the socket (FIN follows it)."""
        if self.closing:
            return
        self.closing = True
        if self.out and self.err is None:
            self._closer = pump().spawn(self._drain_close())
        else:
            self.s.close()

    async def _drain_close(self):
        try:
            await self.drain()
        except OSError:
            pass
        self.s.close()

    async def wait_closed(self):
        self.close()
        if self._closer is not None:
            t = self._closer
            self._closer = None
            await t

    aclose = wait_closed

    def is_closing(self):
        return self.closing


async def _awrite(self, buf, off=0, sz=-1):
    if off or sz >= 0:
        buf = memoryview(buf)[off:(off + sz) if sz >= 0 else len(buf)]
    self.write(buf)
    await self.drain()


Stream.awrite = _awrite
StreamReader = Stream
StreamWriter = Stream


async def _client(cb, st):
    try:
        await cb(st, st)
    except Exception as e:  # the handler's bug: report it, end this connection only
        pump().errors += 1
        print("ethox-uk: connection handler raised %s: %s" % (type(e).__name__, e))
        report(e)
        st.closing = True
        st.s.close()


class Server:
    def __init__(self, sock, cb):
        self.s = sock
        self.cb = cb
        self.task = None
        self.closed = False

    async def _serve(self):
        s = self.s
        cb = self.cb
        while not self.closed:
            try:
                s2, addr = s.accept()
            except OSError as e:
                if self.closed or e.args[0] != errno.EAGAIN:
                    return
                await wait(s, False)
                continue
            s2.setblocking(False)
            pump().spawn(_client(cb, Stream(s2, {"peername": addr})))

    def close(self):
        if not self.closed:
            self.closed = True
            self.s.close()  # wakes _serve (POLLNVAL), which returns

    async def wait_closed(self):
        t = self.task
        if t is not None:
            self.task = None
            await t

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()
        await self.wait_closed()


def _sock(net, af=_socket.AF_INET):
    if net is None:
        return _socket.socket(af, _socket.SOCK_STREAM)
    return TcpSocket(net, af)


async def start_server(cb, host, port, backlog=5, ssl=None, net=None):
    """Listen on host:port ('' / '0.0.0.0' / '::' / our address); cb(reader, writer)
    runs as a task per connection, from either family (the TCP layer's listeners
    are dual stack). net: the stack (default: socket.use()'s)."""
    if ssl:
        raise OSError(errno.EOPNOTSUPP)
    s = _sock(net, _socket.AF_INET6 if host and ":" in host else _socket.AF_INET)
    try:
        s.setblocking(False)
        s.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)  # inherited by accept()
        s.bind(("" if host is None else host, port))
        s.listen(backlog)
    except OSError:
        s.close()
        raise
    srv = Server(s, cb)
    srv.task = pump().spawn(srv._serve())
    return srv


async def _resolve(host, port, net):
    """getaddrinfo's first IPv4 address for host, a name resolved without
    blocking the scheduler (the task waits on the resolver's Query)."""
    port = check_port(port)
    ai = numeric(host, port, 0, _socket.SOCK_STREAM, 0)
    name = host.lower().rstrip(".")
    if ai is None and (name == "localhost" or name.endswith(".localhost")):
        ai = _socket.getaddrinfo(host, port)
    if ai is not None:
        return ai[0][-1]
    dns = resolver()
    from ..config import format_ip
    from ..wire.dns import TYPE_A

    stack = net if net is not None else _socket.current_stack()
    q = dns.of(stack).lookup(host, TYPE_A, stack.now)
    while not q.done:
        await wait(q, False)
    if q.error:
        q.raise_error()
    return (format_ip(q.addrs[0]), port)


async def open_connection(host, port, ssl=None, net=None):
    """(reader, writer) connected to host:port (an IPv4 or IPv6 address, or a name
    the stack's resolver looks up first)."""
    if ssl:
        raise OSError(errno.EOPNOTSUPP)
    ai = await _resolve(host, port, net)
    s = _sock(net, _socket.AF_INET6 if ":" in ai[0] else _socket.AF_INET)
    s.setblocking(False)
    s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    try:
        s.connect(ai)
    except OSError as e:
        if e.args[0] != _socket.EINPROGRESS:
            s.close()
            raise
    try:
        while not s.writable():
            await wait(s, True)
        c = s._c
        if c.err:
            raise OSError(c.err)
        if c.gone:
            raise OSError(_socket.ECONNRESET)
    except BaseException:
        s.close()
        raise
    st = Stream(s)
    return st, st

