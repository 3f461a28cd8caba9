# The classic small services, served straight on the TCP layer's user
# interface (no sockets, no copies beyond the ones TCP needs):
#
#   serve_udp_echo(net, 7)   UDP echo (RFC 862), answered in place; never to a
#                            broadcast/multicast destination or a source port
#                            below 1024 (no echo loops between servers)
#   serve_echo(net, 7)       TCP echo (RFC 862): one ring is both the receive
#                            buffer and the send buffer, so echoed bytes are
#                            never copied between buffers
#   serve_discard(net, 9)    TCP discard (RFC 863): a receive "buffer" that only
#                            counts in-order bytes; the window never closes
#   serve_chargen(net, 19)   TCP chargen (RFC 864): the RFC's 72-character
#                            rotating lines (CHARGEN_PERIOD bytes, then the
#                            stream repeats), copied into each segment from a
#                            preallocated window; stops (FIN) when the peer's
#                            FIN arrives; received data is discarded
#   serve_http(net, 80)      HTTP/1.1 (http.py): GET / (counters page) and
#                            GET /bytes/N, keep-alive and pipelining; a
#                            response is a list of chunks (head bytes, pattern
#                            runs) that segments are filled from directly; a
#                            request body is skipped in the ring as it comes
#                            (never held), 413 above http_max_body; with
#                            connect_back=True also GET /connect/PORT: open a
#                            connection back to the requester's PORT and echo
#                            on it (the conformance suite's trigger for a
#                            simultaneous open; only ever towards the address
#                            the request came from); with resolve=True also
#                            GET /resolve/NAME and /resolve6/NAME: the stack's
#                            resolver looks NAME up (A / AAAA) and the answer
#                            is one address a line (200), or "error CODE: why"
#                            (502) -- the DNS conformance checks' trigger, and
#                            a way to see what the guest resolves
#   serve_qotd(net, 17)      TCP quote of the day (RFC 865), written on the socket
#                            API: the quote, then a full close (the image's one
#                            service on sockets, so conformance sees their close)
#   serve_all(net)           all of the above on their usual ports
#
# Each serve_* returns a Service (`.close()` stops listening; `.accepted`,
# `.active` count connections) -- quote of the day a Qotd (`.close()`,
# `.served`). They are apps' building blocks: call them in main(net)
# (images/echo does). Data is read and sent from the TCP layer's callbacks, so
# nothing here needs a poller -- except quote of the day, whose socket is
# accepted from one (net.add_poller).
#
# Idle timeouts (so silent or vanished clients cannot hold every connection):
# a connection's "progress" is bytes received in order or acknowledged by the
# peer; the clock restarts on each. Echo, discard and chargen close a
# connection without progress for svc_idle_timeout (boot word, seconds,
# default 60, 0: never); HTTP applies http.Limits (head, keep-alive and
# busy timeouts, see http.py; a late request head gets 408). Closing is
# graceful -- FIN after what is queued (svc_idle_closed, http_head_timeout) --
# and if the connection has not ended CLOSE_GRACE_MS later (a peer that
# neither reads nor answers) it is reset (svc_idle_reset). One timer per stack
# watches every connection (timeouts.py): no poller, no periodic wake-up.
from .compat import const
from .wire.copy import copy as _copy
from . import http
from .timeouts import sweeper as _sweeper
from .layer.tcp.connection import TIME_WAIT
from .layer.tcp.buffers import OutOfOrder
from .layer.tcp.mux import RecvRing
from .socket.tcp import TcpSocket

_MASK = const(0xFFFFFFFF)
_HALF = const(0x80000000)
ECHO_RING = const(65536)
HTTP_RING = const(16384)  # holds a request's header section (http.MAX_HEAD) and more
SINK_WINDOW = const(1048576)  # discard keeps nothing: offer what a fast link needs in flight
PIPELINE = const(8)  # responses queued per HTTP connection before reading on
_POOL = const(4)
IDLE_MS = const(60000)  # default svc_idle_timeout (echo, discard, chargen)
CLOSE_GRACE_MS = const(10000)  # after an idle close, a connection not ended by then is reset
_PRIVILEGED_PORTS = const(1024)  # UDP echo never answers a source port below this

HEAD_SCAN = http.MAX_HEAD + 2  # how far into the buffer a request head's end is looked for

CHARGEN_LINE = const(72)
CHARGEN_PERIOD = const(7030)  # 95 lines of 72 characters + CR LF
_CG = None


_CG_WIN = const(65600)  # >= one TSO segment: a stretch of the stream is one copy


def chargen_window():
    """CHARGEN_PERIOD + _CG_WIN bytes of the RFC 864 pattern (made on first
    use): line k is the 95 printable ASCII characters rotated by k, 72 of
    them, then CR LF."""
    global _CG
    if _CG is None:
        b = bytearray(CHARGEN_PERIOD + _CG_WIN)
        p = 0
        for k in range(CHARGEN_PERIOD // (CHARGEN_LINE + 2)):
            for i in range(CHARGEN_LINE):
                b[p] = 32 + (k + i) % 95
                p += 1
            b[p] = 13
            b[p + 1] = 10
            p += 2
        w = memoryview(b)
        while p < len(b):  # the stream repeats: doubling copies of one period
            n = p if 2 * p <= len(b) else len(b) - p
            _copy(w, p, w, 0, n)
            p += n
        _CG = w
    return _CG


def fill_chargen(dst, off, n, pos):
    w = _CG if _CG is not None else chargen_window()
    p = pos % CHARGEN_PERIOD
    while n > 0:
        k = n if n <= _CG_WIN else _CG_WIN
        _copy(dst, off, w, p, k)
        off += k
        n -= k
        p = (p + k) % CHARGEN_PERIOD


def chargen_bytes(pos, n):
    b = bytearray(n)
    fill_chargen(b, 0, n, pos)
    return bytes(b)


# -- buffers ----------------------------------------------------------------------
class NoData:
    """A SendBuf with nothing to send (only a FIN once fin is set)."""

    begin = 0  # nothing is sent: no progress to see here

    def __init__(self):
        self.fin = False

    def stop(self):
        self.fin = True

    def available(self):
        return 0

    def fill(self, dst, off, n, seq):
        pass

    def ack(self, seq):
        pass


class Sink:
    """A RecvBuf that takes bytes and forgets them. Out-of-order bytes within
    the window are remembered as ranges (no data kept), so the ACK moves past
    them once the hole is filled and SACK can report them."""

    def __init__(self, window=SINK_WINDOW):
        self.nxt = -1
        self.total = 0  # bytes taken in order (the stream offset of nxt)
        self.win = window
        self.ooo = OutOfOrder()

    def start(self, seq):
        self.nxt = seq
        self.ooo.clear()

    def receive(self, view, off, n, seq):
        if self.nxt < 0:
            return
        d = (seq - self.nxt) & _MASK
        if d & _HALF:
            n += d - 0x100000000  # starts before nxt: only the new part counts
            d = 0
        if n <= 0 or d >= self.win:
            return
        if d:
            self.ooo.add(self.total + d, self.total + d + n)
            return
        end = self.total + n
        if self.ooo.r:
            end = self.ooo.take(end)
        self.nxt = (self.nxt + end - self.total) & _MASK
        self.total = end

    def ack(self):
        return self.nxt

    def window(self):
        return self.win

    def sack_blocks(self, out):
        if not self.ooo.r:
            return 0
        return self.ooo.sack(out, self.total, self.nxt)


class EchoSend:
    """The SendBuf side of an echo ring (a RingRecvBuf): what was received in
    order is what there is to send, and acknowledged bytes leave the ring."""

    def __init__(self, rb):
        self.rb = rb
        self.begin = -1
        self.fin = False

    def stop(self):
        self.fin = True  # echo what is left, then FIN

    def available(self):
        return self.rb.count

    def fill(self, dst, off, n, seq):
        rb = self.rb
        cap = rb.cap
        p = rb.head + ((seq - self.begin) & _MASK)
        while p >= cap:
            p -= cap
        first = cap - p
        mv = rb.mv
        if first >= n:
            _copy(dst, off, mv, p, n)
        else:
            _copy(dst, off, mv, p, first)
            _copy(dst, off + first, mv, 0, n - first)

    def ack(self, seq):
        if self.begin < 0:
            self.begin = seq
            return
        d = (seq - self.begin) & _MASK
        if d == 0 or d > self.rb.count:
            return
        self.rb.skip(d)
        self.begin = seq


class PatternSend:
    """An endless SendBuf of a generated pattern (fill(dst, off, n, pos)), until
    stop(): then FIN after the bytes already sent."""

    TOP = 1 << 20  # bytes offered at a time (more than any window)

    def __init__(self, gen):
        self.gen = gen
        self.begin = -1
        self.pos = 0  # stream offset of `begin`
        self.left = self.TOP
        self.top = 0  # stream offset just past the highest byte sent
        self.fin = False

    def available(self):
        return self.left

    def fill(self, dst, off, n, seq):
        p = self.pos + ((seq - self.begin) & _MASK)
        self.gen(dst, off, n, p)
        if p + n > self.top:
            self.top = p + n

    def ack(self, seq):
        if self.begin < 0:
            self.begin = seq
            return
        d = (seq - self.begin) & _MASK
        if d == 0 or d > self.left:
            return
        self.begin = seq
        self.pos += d
        self.left -= d
        if not self.fin and self.left < (self.TOP >> 1):
            self.left = self.TOP

    def stop(self):
        if not self.fin:
            self.fin = True
            self.left = self.top - self.pos if self.top > self.pos else 0


class ChunkSend:
    """A SendBuf made of chunks: byte strings (kept by reference: never change
    them) and runs of the 0x00..0xff pattern, each run starting at 0x00."""

    def __init__(self):
        self.objs = []  # memoryview, or None for a pattern run
        self.lens = []
        self.off = 0  # acknowledged bytes of the first chunk
        self.count = 0  # bytes held from `begin` on
        self.begin = -1
        self.fin = False

    def write(self, data):
        n = len(data)
        if n and not self.fin:
            self.objs.append(memoryview(data))
            self.lens.append(n)
            self.count += n
        return n

    def write_pattern(self, n):
        if n > 0 and not self.fin:
            self.objs.append(None)
            self.lens.append(n)
            self.count += n

    def close(self):
        self.fin = True

    def queued(self):
        return len(self.lens)

    def available(self):
        return self.count

    def fill(self, dst, off, n, seq):
        d = ((seq - self.begin) & _MASK) + self.off
        lens = self.lens
        objs = self.objs
        i = 0
        while d >= lens[i]:
            d -= lens[i]
            i += 1
        while n > 0:
            k = lens[i] - d
            if k > n:
                k = n
            o = objs[i]
            if o is None:
                http.fill_pattern(dst, off, k, d)
            else:
                _copy(dst, off, o, d, k)
            off += k
            n -= k
            d = 0
            i += 1

    def ack(self, seq):
        if self.begin < 0:
            self.begin = seq
            return
        d = (seq - self.begin) & _MASK
        if d == 0 or d > self.count:
            return
        self.begin = seq
        self.count -= d
        d += self.off
        lens = self.lens
        while lens and d >= lens[0]:
            d -= lens.pop(0)
            self.objs.pop(0)
        self.off = d


# -- services ---------------------------------------------------------------------
class Service:
    """A listening port whose connections get handlers from make(service, key)."""

    def __init__(self, net, port, make, backlog=16, nodelay=False, idle_ms=IDLE_MS,
                 window=0):
        self.net = net
        self.port = port
        self.make = make
        self.nodelay = nodelay
        self.idle_ms = idle_ms  # no progress this long: close (0: never)
        self.mux = net.tcp_mux()
        self.sweeper = _sweeper(net)
        self.accepted = 0
        self.active = 0
        self.spare = []  # rings of closed connections, reused
        # window: the receive buffer its connections get (the SYN-ACK offers that)
        self.mux.listen(port, self, backlog, window)

    def tcp_accept(self, key):
        layer = self.mux.layer
        layer.accept(self.port)  # out of the accept queue: ours now
        if self.nodelay:
            layer.set_nodelay(key, True)
        self.accepted += 1
        self.active += 1
        return self.make(self, key)

    def ring(self, size):
        sp = self.spare
        for i in range(len(sp)):
            if sp[i].cap == size:
                rb = sp.pop(i)
                rb.reset()
                return rb
        return RecvRing(size)

    def done(self, rb):
        self.active -= 1
        if rb is not None and len(self.spare) < _POOL:
            self.spare.append(rb)

    def close(self):
        self.mux.unlisten(self.port)


class TimedConn:
    """What the services' connections share: progress bookkeeping and the
    idle close (see the top of this file). A subclass has `rb` and `sb` (its
    buffers), calls _timed() when it is made and touch() at the end of each
    tcp_open; progress(), expire() and release() suit echo, discard and
    chargen as they are."""

    def _timed(self, svc, key, ring):
        self.svc = svc
        self.key = key
        self.ring = ring  # a receive ring to give back to the service, or None
        self.last = svc.mux.layer.now  # the latest progress
        self.mark = 0
        self.closing_at = -1  # after an idle close: reset if not ended by then
        svc.sweeper.add(self, self.deadline())

    def touch(self):
        m = self.progress()
        if m != self.mark:
            self.mark = m
            self.last = self.svc.mux.layer.now

    def progress(self):
        """An int that changes when bytes arrive in order or are acknowledged."""
        return self.rb.nxt + self.sb.begin

    def deadline(self):
        ms = self.svc.idle_ms
        return self.last + ms if ms > 0 else -1

    def check(self, now):
        """The Sweeper's call: the next deadline, after acting on a passed one."""
        if self.closing_at >= 0:
            if now < self.closing_at:
                return self.closing_at
            self._reset(now)
            return -1
        d = self.deadline()
        if d < 0 or now < d:
            return d
        if self.sb.fin:  # closed on our side already: nothing graceful is left
            self._reset(now)
            return -1
        self.expire(now)
        self.closing_at = now + CLOSE_GRACE_MS
        o = self.svc.mux.layer.raw(now).attach(self.key)
        if o is not None:
            self.tcp_open(o)  # send what the close queued (the FIN) now
        return self.closing_at

    def expire(self, now):
        """Idle: end our stream gracefully (FIN after what is queued)."""
        self.svc.net.counters.c["svc_idle_closed"] += 1
        self.sb.stop()

    def _reset(self, now):
        svc = self.svc
        svc.sweeper.remove(self)
        if svc.mux.layer.state(self.key) == TIME_WAIT:
            return  # closed on our side; TIME-WAIT ends by itself and tells us
        svc.net.counters.c["svc_idle_reset"] += 1
        svc.mux.abort(self.key, now)  # RST; the mux forgets us without a tcp_closed
        self.release()

    def tcp_closed(self, pkt):
        self.svc.sweeper.remove(self)
        self.release()

    def release(self):
        self.svc.done(self.ring)
        self.ring = None


class EchoConn(TimedConn):
    def __init__(self, svc, key):
        self.rb = svc.ring(ECHO_RING)
        self.sb = EchoSend(self.rb)
        self._timed(svc, key, self.rb)

    def tcp_open(self, pkt):
        sb = self.sb
        rb = self.rb
        pkt.read(rb)
        if pkt.signals.half_closed:
            sb.fin = True  # echo what is left, then FIN
        held = rb.count
        pkt.write(sb)  # also drops what the peer acknowledged from the ring
        if rb.count < held:
            pkt.read(rb)  # the space freed: a window update if it is worth one
            pkt.write(sb)
        self.touch()


class DiscardConn(TimedConn):
    def __init__(self, svc, key):
        self.rb = Sink()
        self.sb = NoData()
        self._timed(svc, key, None)

    def tcp_open(self, pkt):
        pkt.read(self.rb)
        if pkt.signals.half_closed:
            self.sb.fin = True
        pkt.write(self.sb)
        self.touch()


class ChargenConn(TimedConn):
    def __init__(self, svc, key):
        self.rb = Sink()
        self.sb = PatternSend(fill_chargen)
        self._timed(svc, key, None)

    def tcp_open(self, pkt):
        pkt.read(self.rb)
        if pkt.signals.half_closed:
            self.sb.stop()
        pkt.write(self.sb)
        self.touch()


def resolve_start(svc, path):
    """GET /resolve/NAME or /resolve6/NAME: the resolver's Query for NAME (501 when the
    image was built without the resolver)."""
    from .socket.addrinfo import resolver

    try:
        dns = resolver("GET /resolve")
    except OSError as e:
        raise http.HttpError(501, e.args[1])
    from .wire.dns import TYPE_A, TYPE_AAAA

    six = path.startswith(b"/resolve6/")
    name = path[10 if six else 9:].decode()
    stack = svc.net
    return dns.of(stack).lookup(name, TYPE_AAAA if six else TYPE_A, stack.now)


def resolve_response(q, keep_alive):
    from .config import format_ip, format_ip6

    if q.error:
        body = ("error %d: %s\n" % (q.error, q.reason)).encode()
        status = 502
    else:
        body = "".join([(format_ip(a) if len(a) == 4 else format_ip6(a)) + "\n"
                        for a in q.addrs]).encode()
        status = 200
    return http.Response(http.head(status, len(body), b"text/plain", keep_alive), body, 0,
                         keep_alive)


def connect_back(svc, key, path):
    """GET /connect/PORT: an active open from this stack to the requester's
    PORT (an echo connection once established); the Response saying so."""
    port = path[9:]
    if not port.isdigit() or len(port) > 5 or not 0 < int(port) < 65536:
        raise http.HttpError(400, "/connect/PORT needs a port 1-65535")
    layer = svc.mux.layer
    t = layer.four_tuple(key)
    if t is None:
        raise http.HttpError(400, "the requesting connection is gone")
    rip = t[2]
    if isinstance(rip, int):
        rip = rip.to_bytes(4, "big")
    o = layer.raw(layer.now).open(rip, int(port))
    if o is None:
        raise http.HttpError(503, "no free connection slot or port")
    svc.mux.conns[o.key] = EchoConn(svc, o.key)
    svc.active += 1
    if len(rip) == 16:
        from .config import format_ip6

        body = b"connecting to [%s]:%d\n" % (format_ip6(rip).encode(), int(port))
    else:
        body = b"connecting to %d.%d.%d.%d:%d\n" % (rip[0], rip[1], rip[2], rip[3], int(port))
    return http.Response(http.head(200, len(body), b"text/plain", True), body)



class HttpConn(TimedConn):
    def __init__(self, svc, key):
        self.rb = svc.ring(HTTP_RING)
        self.sb = ChunkSend()
        self.skip = 0  # body bytes of the last request still to drop
        self.scan = 0  # bytes of the pending request head already searched for its end
        self.head_at = -1  # when the first byte of the pending request head came
        self.closing = False  # a response said Connection: close
        self.peer_done = False
        self.lookup = None  # (Query, keep_alive) of a /resolve request being answered
        self._timed(svc, key, self.rb)

    def tcp_open(self, pkt):
        rb = self.rb
        if rb is None:
            return  # TIME-WAIT: the ring went back already
        pkt.read(rb)
        if pkt.signals.half_closed:
            self.peer_done = True
        n = rb.count
        if n or self.lookup is not None:
            if self.closing:
                rb.skip(n)
            else:
                self._serve()
                if self.closing:
                    rb.skip(rb.count)  # nothing after a closing response is read
            if rb.count != n:
                pkt.read(rb)  # report the space freed
        if (self.closing or self.peer_done) and not self.sb.fin:
            self.sb.close()  # FIN after the responses queued
        pkt.write(self.sb)
        if self.sb.fin and self.svc.mux.layer.state(self.key) == TIME_WAIT:
            # we closed first and both streams are over: the ring goes back
            # now, not 2 MSL later
            self.svc.mux.layer.drop_buffers(self.key)
            self.tcp_closed(pkt)
            return
        self.touch()
        if not rb.count:
            self.head_at = -1
        elif self.head_at < 0:
            self.head_at = self.last
        self.svc.sweeper.want(self.deadline())  # a state change may bring it closer

    def tcp_closed(self, pkt):
        if self.rb is not None:  # not given back at TIME-WAIT already
            TimedConn.tcp_closed(self, pkt)
            self.rb = None

    def deadline(self):
        """Busy (a response leaving or a body arriving): http_idle_timeout
        after the latest progress; part of a request head buffered:
        http_head_timeout after its first byte; else (keep-alive, or nothing
        asked yet) http_keepalive_timeout after the latest progress."""
        lim = self.svc.limits
        if self.sb.count or self.skip:
            ms = lim.idle_ms
            at = self.last
        elif self.rb.count and not self.closing:
            ms = lim.head_ms
            at = self.head_at
        else:
            ms = lim.keepalive_ms
            at = self.last
        return at + ms if ms > 0 else -1

    def expire(self, now):
        rb = self.rb
        if rb.count and not (self.sb.count or self.skip or self.closing):
            self.svc.net.counters.c["http_head_timeout"] += 1
            self._send(http.timeout_response())  # 408, Connection: close
        else:
            self.svc.net.counters.c["svc_idle_closed"] += 1
            self.closing = True
        rb.skip(rb.count)
        self.skip = 0
        if not self.sb.fin:
            self.sb.close()

    def _send(self, r):
        sb = self.sb
        sb.write(r.head)
        if r.body is not None:
            sb.write(r.body)
        elif r.pattern:
            sb.write_pattern(r.pattern)
        if not r.keep_alive:
            self.closing = True

    def _serve(self):
        rb = self.rb
        sb = self.sb
        w = self.lookup
        if w is not None:  # the next response waits for a name lookup
            if not w[0].done:
                return
            self.lookup = None
            self._send(resolve_response(w[0], w[1]))
        while not self.closing and sb.queued() < PIPELINE:
            if self.skip:
                self.skip -= rb.skip(self.skip)
                if self.skip:
                    return
            n = rb.count
            if n == 0:
                return
            end = self._head_end(n)
            if end < 0:
                if n > http.MAX_HEAD:
                    self._send(http.error_response(http.HttpError(
                        431, "the request header section is over %d bytes" % http.MAX_HEAD)))
                elif self.peer_done and rb.peek(n).strip():
                    self._send(http.error_response(http.HttpError(
                        400, "the connection ended inside a request")))
                return
            data = rb.peek(end)
            rb.skip(end)
            self.scan = 0
            self.head_at = -1  # the next head starts with the next byte
            try:
                req = http.parse_head(data)
            except http.HttpError as e:
                self._send(http.error_response(e))
                return
            if self.svc.connect_back and req.path.startswith(b"/connect/"):
                try:
                    r = connect_back(self.svc, self.key, req.path)
                except http.HttpError as e:
                    r = http.error_response(e, req.keep_alive)
            elif self.svc.resolve and req.path.startswith(b"/resolve"):
                try:
                    q = resolve_start(self.svc, req.path)
                except http.HttpError as e:
                    self._send(http.error_response(e, req.keep_alive))
                    continue
                if not q.done:
                    self.lookup = (q, req.keep_alive)
                    key = self.key
                    layer = self.svc.mux.layer
                    q.on_done = lambda: layer.wake(key)  # a send opportunity then
                    return
                r = resolve_response(q, req.keep_alive)
            else:
                r = http.respond(req, self.svc.page, self.svc.limits.max_body)
            if r.keep_alive and req.content_length:
                self.skip = req.content_length  # a GET with a body: drop the body
            self._send(r)

    def _head_end(self, n):
        """Offset just past the blank line ending the request head among the
        first n buffered bytes (at most MAX_HEAD + 2 are looked at), -1: not
        there yet. Each call searches only bytes no earlier call searched (a
        line end whose next bytes had not arrived is looked at again), so a
        head dribbled in a byte per segment costs linear time, not quadratic;
        bare LF line ends count, as in http.head_end."""
        rb = self.rb
        lim = n if n <= HEAD_SCAN else HEAD_SCAN
        p = self.scan
        while True:
            i = rb.find(10, lim, p)
            if i < 0:
                self.scan = lim
                return -1
            j = i + 1
            if j < lim and rb.at(j) == 13:
                j += 1
            if j >= lim:
                self.scan = i
                return -1
            if rb.at(j) == 10:
                return j + 1
            p = i + 1


def udp_echo_handler(net):
    """The UDP echo handler of `net`: answers in place, but never a datagram
    sent to a broadcast or multicast address (one spoofed datagram would draw
    an answer from every host) nor one from a port below 1024, where echo,
    chargen, daytime and time live: a spoofed datagram from another server's
    port 7 would bounce between the two for ever (RFC 862 deployments refuse
    these, as inetd's loop check does). Refusals count udp_echo_refused."""
    c = net.counters.c

    def echo(view, payload_off, payload_len, src_ip_off, src_port, now):
        ours = net.ip_addr
        d = src_ip_off + 4  # the destination follows the source in the IPv4 header
        if (src_port < _PRIVILEGED_PORTS or view[d] != ours[0] or view[d + 1] != ours[1]
                or view[d + 2] != ours[2] or view[d + 3] != ours[3]):
            c["udp_echo_refused"] += 1
            return None
        return payload_len  # the payload already sits where the reply's goes

    return echo


def udp6_echo_handler(net):
    """udp_echo_handler's IPv6 twin: never a datagram to a group (ff00::/8)
    nor one from a port below 1024."""
    c = net.counters.c

    def echo(view, payload_off, payload_len, src_ip_off, src_port, now):
        # the destination follows the 16-byte source in the IPv6 header
        if src_port < _PRIVILEGED_PORTS or view[src_ip_off + 16] == 0xFF:
            c["udp_echo_refused"] += 1
            return None
        return payload_len

    return echo


def serve_udp_echo(net, port=7):
    net.udp.bind(port, udp_echo_handler(net))
    if net.ip6 is not None:
        net.udp.bind6(port, udp6_echo_handler(net))


def _idle_ms(net, idle_ms):
    if idle_ms is None:  # from the boot words; a bad one fails here, at start
        return net.config.word_ms("svc_idle_timeout", IDLE_MS)
    return idle_ms


def serve_echo(net, port=7, backlog=16, idle_ms=None):
    return Service(net, port, EchoConn, backlog, True, _idle_ms(net, idle_ms), ECHO_RING)


def serve_discard(net, port=9, backlog=16, idle_ms=None):
    return Service(net, port, DiscardConn, backlog, False, _idle_ms(net, idle_ms),
                   SINK_WINDOW)


def serve_chargen(net, port=19, backlog=16, idle_ms=None):
    return Service(net, port, ChargenConn, backlog, False, _idle_ms(net, idle_ms),
                   SINK_WINDOW)


def serve_http(net, port=80, page=None, backlog=16, limits=None, connect_back=False,
               resolve=False):
    """limits: an http.Limits (default: from the boot words); connect_back:
    also serve GET /connect/PORT; resolve: GET /resolve/NAME and /resolve6/NAME."""
    if limits is None:
        limits = http.Limits.from_config(net.config)  # bad words fail here, at start
    # no Nagle: a response is written whole, so it would only delay its last
    # partial segment until the peer's (delayed) ACK
    svc = Service(net, port, HttpConn, backlog, nodelay=True, window=HTTP_RING)
    svc.page = page if page is not None else (lambda: http.page(net))
    svc.limits = limits
    svc.connect_back = connect_back
    svc.resolve = resolve
    return svc


QUOTE = (b"The reasonable man adapts himself to the world; the unreasonable one "
         b"persists in trying to adapt the world to himself. -- G. B. Shaw\r\n")


class Qotd:
    """RFC 865 on a listening socket: every connection accepted gets the quote
    and is closed at once -- a full close(), so what the client sends after
    it is answered with a RST (RFC 1122 §4.2.2.13)."""

    def __init__(self, net, port=17, quote=QUOTE, backlog=16):
        self.quote = quote
        self.served = 0
        s = TcpSocket(net)
        s.bind(("", port))
        s.listen(backlog)
        s.setblocking(False)
        self.sock = s
        net.add_poller(self.poll)

    def poll(self, now):
        s = self.sock
        while s.readable():  # a connection waits in the accept queue
            c, _ = s.accept()
            c.setblocking(False)
            try:
                c.write(self.quote)  # a short quote: the empty ring takes it whole
            except OSError:
                pass  # reset meanwhile: nothing to tell
            c.close()
            self.served += 1

    def close(self):
        self.sock.close()


def serve_qotd(net, port=17):
    return Qotd(net, port)


def serve_all(net, connect_back=False, resolve=False):
    """UDP echo 7; TCP echo 7, discard 9, chargen 19, HTTP 80 (DESIGN §5), and
    quote of the day 17 (a service on the socket API); connect_back: HTTP also
    serves GET /connect/PORT, resolve: GET /resolve/NAME (see serve_http)."""
    serve_udp_echo(net, 7)
    return [serve_echo(net), serve_discard(net), serve_chargen(net),
            serve_http(net, connect_back=connect_back, resolve=resolve), serve_qotd(net)]
