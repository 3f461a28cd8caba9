# The TCP connection multiplexer: the one user of a stack's TcpLayer (io.py's
# user interface), shared by the sockets (stack/socket/tcp.py) and the
# zero-copy services (stack/services.py).
#
# The layer hands every In to mux.receive(); the mux passes it to the handler
# of its connection -- a socket's Conn (below) or a service's handler -- and a
# new passive connection to the listener of its port (`mux.listen(port,
# listener, backlog)`; listener.tcp_accept(key) -> handler). Handlers have
# tcp_open(pkt) (an OPEN In: an arrival, or a send opportunity with no data)
# and tcp_closed(pkt) (CLOSED: reset, timeout or orderly end; the key is
# gone). The mux also owns the ports (listeners, bound sockets, ephemeral
# ports), a pool of spare rings, and the connections of closed sockets that
# are still finishing (orphans). `stack.tcp_mux()` makes it, with the layer,
# on first use (attach() below).
#
# Time and batching come from the Stack's app edge (iface.py): stack.clock_ms()
# for calls made outside a poll round, and stack.batching > 0 while aio's pump
# runs -- a push then only asks for a send opportunity in the next round, so
# the writes of all its tasks coalesce into full segments.
from ...compat import const, errno_code
from . import io as _tcpio
from .buffers import RingSendBuf, RingRecvBuf
from .connection import TIME_WAIT as _TIME_WAIT
from .layer import TcpLayer

TCP_RCVBUF = const(65536)  # per-connection rings (the window we offer)
TCP_SNDBUF = const(65536)
TCP_WSCALE = const(7)  # the window scale the layer offers
TCP_ORPHAN_MS = const(60000)  # a closed socket's connection gets this long to finish
TCP_POOL = const(8)  # spare ring pairs kept for new connections

EADDRINUSE = errno_code("EADDRINUSE", 98)
ETIMEDOUT = errno_code("ETIMEDOUT", 110)
ECONNREFUSED = errno_code("ECONNREFUSED", 111)
ECONNRESET = errno_code("ECONNRESET", 104)


def attach(stack):
    """The stack's TcpMux, making the TcpLayer (window = TCP_RCVBUF) on first
    use; Stack.tcp_mux() is the way in."""
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


class RecvRing(RingRecvBuf):
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
        self.orphans = []  # Conns of closed sockets still finishing (FIN, retransmissions)
        self._spare = []  # (RingSendBuf, RecvRing) of the default sizes, reset
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
        return RingSendBuf(snd), RecvRing(rcv)

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
        if self.stack.batching:
            self.layer.wake(c.key)
            return
        o = self.layer.raw(self.stack.clock_ms()).attach(c.key)
        if o is None:
            return
        o.read(c.rb)
        o.write(c.sb)
        c.told = c.rb.window()
        self.stack.flush()

    def abort(self, key, now):
        """RST and forget (the handler is not told)."""
        h = self.conns.pop(key, None)
        self.layer.abort(key, now)
        if h is not None and isinstance(h, Conn):
            h.gone = True
            if h.orphan:
                self.release(h)
        self.stack.flush()

    def close_conn(self, c, reset=False):
        """The socket owning c is closed: FIN after the data sent (RST when
        received data was never read, as Linux does, or when `reset`: SO_LINGER
        {on, 0}); rings come back when the connection ends, or after
        TCP_ORPHAN_MS."""
        c.orphan = True
        if c.gone:
            self.release(c)
            return
        now = self.stack.clock_ms()
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


class Conn:
    """A connection whose rings belong to an application object (a socket):
    the rings, and what TCP told about it (errors as errno values)."""

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
