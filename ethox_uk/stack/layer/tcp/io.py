# The user-facing TCP interface, after ethox's layer/tcp/io (our own code).
#
# The layer calls a user object with two methods:
#   user.receive(pkt)   for every valid arriving segment, and for connections
#                       the layer closes on its own (timeouts, TIME-WAIT end);
#                       pkt is an `In`
#   user.send(raw)      from poll(), when a connection needs the user's send
#                       buffer (retransmission timeout, fast retransmit, a
#                       wake()); raw.key names that connection
# and the user may ask for `layer.raw(now)` at any time to open or attach.
#
# An `In` is one of (pkt.kind):
#   SENDING  the layer already answered (SYN-ACK, challenge ACK, ACK of an
#            unacceptable segment); nothing to read or write
#   OPEN     an open connection: pkt.read(recv_buf) takes the segment's data
#            (if any), pkt.write(send_buf) sends what the window allows
#            (data, FIN, or just the ACK that is due)
#   CLOSING  we reset the connection (abort); the key is gone
#   CLOSED   the connection was just closed (RST, last ACK, timeout,
#            TIME-WAIT end); the key is gone. pkt.into_raw() reuses the turn.
#   STRAY    a valid segment for no connection (answered with RST per
#            RFC 9293 §3.10.7.1 unless it was a RST itself)
# pkt.key is the connection's SlotKey (None for STRAY); pkt.signals the
# UserSignals. An In (and a Raw) is only valid during the call that got it:
# the layer reuses the objects.
#
# Buffers are the user's. The SendBuf holds every byte not yet acknowledged
# (it is the retransmit buffer); the RecvBuf reassembles out-of-order data.
# buffers.py has ring implementations of both.
from ...compat import const

SENDING = const(0)
OPEN = const(1)
CLOSING = const(2)
CLOSED = const(3)
STRAY = const(4)

KIND_NAMES = ("Sending", "Open", "Closing", "Closed", "Stray")


class SendBuf:
    """The interface TCP uses on a send buffer (sequence numbers are TCP's)."""

    fin = False  # True once the application ended its stream: FIN after the data

    def available(self):
        """Bytes held: sent-but-unacknowledged plus unsent."""
        raise NotImplementedError

    def fill(self, dst, off, n, seq):
        """Copy the n bytes starting at sequence number seq into dst[off:off+n].
        Bytes already sent must not change (retransmissions resend them)."""
        raise NotImplementedError

    def ack(self, seq):
        """Everything before seq is acknowledged and may be dropped. The first
        call gives the sequence number of the first byte of the stream."""
        raise NotImplementedError


class RecvBuf:
    """The interface TCP uses on a receive buffer."""

    def start(self, seq):
        """The stream begins at seq (called once per connection and buffer)."""
        raise NotImplementedError

    def receive(self, view, off, n, seq):
        """Take view[off:off+n], the bytes from sequence number seq on (they may
        lie before ack(), overlap, or leave a gap). Keep what fits."""
        raise NotImplementedError

    def ack(self):
        """The sequence number of the first byte not yet received in order."""
        raise NotImplementedError

    def window(self):
        """Free space in bytes (the receive window to offer)."""
        raise NotImplementedError


class UserSignals:
    """Flags for the user about the segment just handled."""

    def __init__(self):
        self.reset = False  # the connection was reset (RST, timeout, refused)
        self.data = False  # the segment carries data to read
        self.half_closed = False  # the peer's FIN arrived: no more data will come
        self.relisten = False  # a passive open fell back: the listener just listens on
        self.established = False  # the handshake completed with this segment

    def clear(self):
        self.reset = False
        self.data = False
        self.half_closed = False
        self.relisten = False
        self.established = False

    def any(self):
        return self.reset or self.data or self.half_closed or self.relisten or self.established

    def __repr__(self):
        out = []
        for name in ("reset", "data", "half_closed", "relisten", "established"):
            if getattr(self, name):
                out.append(name)
        return "UserSignals(%s)" % ",".join(out)


class In:
    """One arriving segment (or a send opportunity) as the user sees it."""

    def __init__(self, layer):
        self.layer = layer
        self.kind = STRAY
        self.key = None
        self.conn = None
        self.signals = UserSignals()
        self.view = None
        self.data_off = 0
        self.data_len = 0  # unread data of this segment (0 once read)
        self.seq = 0
        self.remote = None  # STRAY: remote address bytes, ports below
        self.remote_port = 0
        self.local_port = 0

    def kind_name(self):
        return KIND_NAMES[self.kind]

    def payload(self):
        """The segment's data as a memoryview (allocates; tests and tools)."""
        if self.view is None:
            return memoryview(b"")
        return self.view[self.data_off:self.data_off + self.data_len]

    def read(self, recv_buf):
        """OPEN: hand the segment's data to recv_buf and record the progress
        (the ACK follows); also refreshes the receive window offered."""
        if self.kind != OPEN or self.conn is None:
            return
        self.layer.conn_read(self, recv_buf)

    def write(self, send_buf):
        """OPEN: send what send_buf, the windows and Nagle allow, or the ACK
        that is due. Returns the number of segments sent."""
        if self.kind != OPEN or self.conn is None:
            return 0
        layer = self.layer
        return layer.output(self.conn, send_buf, layer.now)  # = layer.conn_write

    def abort(self):
        """OPEN: reset the connection (RST to the peer); this In becomes CLOSING."""
        if self.kind == OPEN and self.conn is not None:
            self.layer.abort(self.key, self.layer.now)
            self.kind = CLOSING
            self.conn = None
        return self

    def into_raw(self):
        """CLOSED / STRAY (any kind, really): a Raw to open or attach with."""
        return self.layer.raw(self.layer.now)


class Raw:
    """A chance to send: open a new connection or attach to an existing one."""

    def __init__(self, layer):
        self.layer = layer
        self.key = None  # when poll() calls user.send: the connection that asked

    def open(self, addr, port, local_port=0, window=0):
        """Active open to addr:port (addr: 4 bytes). An OPEN In for the new
        connection (its SYN is sent), or None when no slot or port is free.
        window: the size of the RecvBuf the connection will get (the SYN
        offers no more; 0: the layer's rcv_window)."""
        return self.layer.conn_open(addr, port, local_port, window)

    def attach(self, key):
        """An OPEN In for connection `key` (no segment in it), or None."""
        return self.layer.conn_attach(key)
