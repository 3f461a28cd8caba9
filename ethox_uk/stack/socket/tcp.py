# TCP sockets: TcpSocket (SOCK_STREAM, both families) over the stack's TcpMux
# (layer/tcp/mux.py), whose Conn holds each connection's rings.
import errno

from ..compat import const
from ..config import format_ip
from ..layer.tcp.mux import Conn, TCP_RCVBUF
from ..layer.tcp.connection import TIME_WAIT as _TIME_WAIT
from . import (AF_INET, AF_INET6, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR, SO_KEEPALIVE,
               SO_LINGER, SO_ERROR, IPPROTO_TCP, TCP_NODELAY, SHUT_RD, SHUT_WR, SHUT_RDWR,
               MP_STREAM_POLL, POLLIN, POLLOUT, POLLERR, POLLHUP, EADDRINUSE, EALREADY,
               ECONNRESET, EINPROGRESS, EISCONN, ENOBUFS, ENOPROTOOPT, ENOTCONN, EPIPE,
               ETIMEDOUT)
from .base import SocketBase, ANY6, sockaddr, addr_text, check_local6, no_route

KEEPALIVE_IDLE_MS = const(7200000)  # RFC 1122 §4.2.3.6: no less than two hours


class _Listener:
    def __init__(self, sock):
        self.sock = sock

    def tcp_accept(self, key):
        # the key stays in the layer's accept queue (it bounds the backlog);
        # the connection gets its rings now so data before accept() is kept
        s = self.sock
        mux = s._mux
        c = Conn(mux, key)
        c.est = True
        if s._nodelay:
            mux.layer.set_nodelay(key, True)
        if s._keepalive:
            mux.layer.set_keepalive(key, KEEPALIVE_IDLE_MS)
        return c


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
    """SOCK_STREAM over the TCP layer. Blocking calls drive the stack (see
    socket/__init__.py); non-blocking ones raise EAGAIN, except the stream
    methods read/readinto/readline/write, which return None (as MicroPython's
    streams do) so asyncio can use them."""

    OPTIONS = ((SOL_SOCKET, SO_REUSEADDR), (SOL_SOCKET, SO_KEEPALIVE),
               (SOL_SOCKET, SO_LINGER), (SOL_SOCKET, SO_ERROR), (IPPROTO_TCP, TCP_NODELAY))

    def __init__(self, stack, af=AF_INET, type=SOCK_STREAM, proto=0):
        SocketBase.__init__(self, stack, af, type, proto)
        self._mux = stack.tcp_mux()
        self._port = 0  # bound (or listening) local port
        self._lst = None  # _Listener while listening
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
        ip, port = sockaddr(addr, self.family)
        if self._port or self._c is not None:
            raise OSError(errno.EINVAL)  # already bound
        if self.family == AF_INET6:
            check_local6(self._stack, ip)
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
                return (addr_text(t[0]), port)
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
        lst = _Listener(self)
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
            c.peer = (addr_text(t[2]), t[3])
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
        ip, port = sockaddr(addr, self.family)
        if port == 0 or ip == b"\x00\x00\x00\x00" or ip == ANY6:
            raise OSError(errno.EINVAL)
        stack = self._stack
        if no_route(stack, ip):
            raise OSError(errno.EHOSTUNREACH)
        mux = self._mux
        layer = mux.layer
        o = layer.raw(stack.clock_ms()).open(ip, port, self._port, TCP_RCVBUF)
        if o is None:
            raise OSError(EADDRINUSE if self._port else ENOBUFS)
        key = o.key
        c = Conn(mux, key)
        c.peer = (addr_text(ip), port)
        t = layer.four_tuple(key)
        c.lport = t[1] if t is not None else self._port
        mux.conns[key] = c
        self._c = c
        if self._nodelay:
            layer.set_nodelay(key, True)
        if self._keepalive:
            layer.set_keepalive(key, KEEPALIVE_IDLE_MS)
        stack.flush()
        if self._timeout == 0:
            raise OSError(EINPROGRESS)
        try:
            self._wait_for(self._connected)
        except OSError as e:
            if e.args[0] == ETIMEDOUT and not c.est:
                mux.abort(key, stack.clock_ms())
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
            self._mux.abort(c.key, self._stack.clock_ms())
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
