# The DNS stub resolver (RFC 1035 §7, RFC 1123 §6.1.3; AAAA: RFC 3596): what
# socket.getaddrinfo and aio.open_connection use for names.
#
#   r = resolver.of(stack)                    made on first use, a stack client
#   q = r.lookup("alpha.test", TYPE_A, now)   a Query: done at once from the
#                                             cache, else asked over the network
#   q.done, q.addrs (4- or 16-byte bytes), q.error (EAI_* code), q.reason (text)
#
# Servers: config.dns (the dns= boot word or --dns, else DHCP's option 6).
# A query goes out over UDP from a random source port in 1024-65535 with a
# random ID (RFC 5452 §9.2: both unpredictable, each query its own port); an
# answer counts only when it comes from a server we asked, from port 53, to
# that port, with our ID and our question (§9.1) -- anything else is a
# counted drop (dns_not_ours) and we keep waiting. Retries: TRIES sends,
# rotating over the servers, waiting 1, 2, 4 s (RETRY_MS doubling); a
# truncated answer (TC) is asked again over TCP (RFC 7766 §5); SERVFAIL,
# REFUSED and the like move on to the next server.
#
# Results: the addresses of the name's records of the type asked, CNAMEs
# followed. Cached by (name, type) until the smallest TTL of the records used
# runs out (capped at MAX_TTL s; TTL 0 is not cached), CACHE_SIZE entries, the
# one expiring first evicted. Errors, as getaddrinfo raises them (negative
# codes as MicroPython's ports do; glibc's values, which CPython's gaierror
# uses too): EAI_NONAME -2 (no such name, or no address of that family),
# EAI_AGAIN -3 (no answer in time, SERVFAIL, no server configured), EAI_FAIL
# -4 (the servers refused or answered nonsense).
#
# The resolver is a stack client: Stack.poll calls poll(now) when `timer_at`
# (the earliest retry deadline) is due; with no query in flight timer_at is
# -1 and nothing runs. During a TCP fallback it polls the connection every
# TCP_POLL_MS.
from .compat import const, MICROPYTHON
from .config import format_ip
from .layer.udp import PAYLOAD_OFF
from .rand import Rand
from .wire import dns as W

EAI_NONAME = const(-2)
EAI_AGAIN = const(-3)
EAI_FAIL = const(-4)

TRIES = const(3)
RETRY_MS = const(1000)
TCP_POLL_MS = const(10)
CACHE_SIZE = const(16)
MAX_TTL = const(3600)

_PENDING = const(0)
_TCP = const(1)
_DONE = const(2)

_Base = object
if MICROPYTHON:
    try:
        from io import IOBase as _Base  # select.poll/asyncio call our ioctl()
    except ImportError:
        pass


class Query(_Base):
    """One lookup. Readable (POLLIN through ioctl) once done, so asyncio can wait."""

    def __init__(self, name, qname, qtype):
        self.name = name
        self.qname = qname
        self.qtype = qtype
        self.state = _PENDING
        self.addrs = []
        self.ttl = -1
        self.error = 0
        self.reason = ""
        self.ident = 0
        self.port = 0
        self.tries = 0
        self.asked = []  # the servers this query went to
        self.deadline = -1
        self.sock = None  # the TCP fallback's socket
        self.tcp_buf = None
        self.on_done = None  # called (no arguments) when the lookup ends

    @property
    def done(self):
        return self.state == _DONE

    def ioctl(self, req, arg):
        if req == 3:  # MP_STREAM_POLL
            return arg & 1 if self.state == _DONE else 0
        return 0

    def readable(self):
        return self.state == _DONE

    def raise_error(self):
        raise OSError(self.error, self.reason)


class Resolver:
    def __init__(self, stack, seed=None):
        self.stack = stack
        self.c = stack.counters.c
        self.rand = Rand(stack.rng_seed if seed is None else seed)
        self.queries = []
        self.cache = {}  # (qname, qtype) -> (expiry ms, [addresses])
        self.timer_at = -1
        self.retry_ms = RETRY_MS
        self.tries = TRIES
        # test-only fault switches (negative controls of the conformance suite)
        f = stack.faults
        self.rd = "dns_no_rd" not in f
        self.predictable = "dns_predictable" in f
        self.accept_any = "dns_accept_any" in f
        self.no_tcp = "dns_no_tcp" in f
        if "dns_no_retry" in f:
            self.tries = 1
        self.max_ttl = 1000000000 if "dns_cache_forever" in f else MAX_TTL
        self._count = 0
        stack.add_client(self)

    # -- the cache ---------------------------------------------------------------
    def cached(self, qname, qtype, now):
        e = self.cache.get((qname, qtype))
        if e is None:
            return None
        if now >= e[0]:
            del self.cache[(qname, qtype)]
            return None
        return e[1]

    def _store(self, q, now):
        if q.ttl <= 0 or not q.addrs:
            return
        cache = self.cache
        if len(cache) >= CACHE_SIZE and (q.qname, q.qtype) not in cache:
            first = None
            for k in cache:
                if first is None or cache[k][0] < cache[first][0]:
                    first = k
            del cache[first]
        ttl = q.ttl if q.ttl < self.max_ttl else self.max_ttl
        if self.max_ttl > MAX_TTL:  # test-only fault switch: no expiry at all
            ttl = self.max_ttl
        cache[(q.qname, q.qtype)] = (now + 1000 * ttl, q.addrs)

    # -- lookups -----------------------------------------------------------------
    def lookup(self, name, qtype, now):
        """A Query for `name` (text) and qtype (W.TYPE_A / W.TYPE_AAAA). A name
        that cannot be a DNS name fails at once with EAI_NONAME."""
        try:
            qname = W.encode_name(name)
        except ValueError as e:
            q = Query(name, b"", qtype)
            return self._finish(q, EAI_NONAME, "%r is not a host name: %s" % (name, e), now)
        q = Query(name, qname, qtype)
        hit = self.cached(qname, qtype, now)
        if hit is not None:
            q.addrs = hit
            q.state = _DONE
            return q
        if not self.stack.config.dns:
            return self._finish(q, EAI_AGAIN, "no name server to ask for %s: boot with "
                                "dns=A.B.C.D (or --dns), or ip=dhcp from a server that names "
                                "one" % name, now)
        udp = self.stack.udp
        self.rand.stir(now)
        q.ident = self.rand.below(65536)
        for _ in range(64):
            p = 1024 + self.rand.below(64512)
            if self.predictable:  # test-only fault switch
                q.ident = 0x1234
                self._count += 1
                p = 50000 + self._count
            if not udp.is_bound(p):
                break
        else:
            return self._finish(q, EAI_AGAIN, "no free UDP port for a query", now)
        q.port = p
        udp.bind(p, self._handler(q))
        self.queries.append(q)
        self._send(q, now)
        return q

    def _handler(self, q):
        def on_datagram(view, off, n, src_off, sport, now):
            self._on_answer(q, view, off, n, src_off, sport, now)
        return on_datagram

    def _server(self, q):
        dns = self.stack.config.dns
        return dns[(q.tries - 1) % len(dns)]

    def _send(self, q, now):
        """The next try of q over UDP (or the end of q when no tries are left)."""
        if q.tries >= self.tries:
            return self._finish(q, EAI_AGAIN, "no answer for %s from %s after %d tries"
                                % (q.name, ", ".join([format_ip(a) for a in q.asked]),
                                   q.tries), now)
        q.tries += 1
        server = self._server(q)
        if server not in q.asked:
            q.asked.append(server)
        udp = self.stack.udp
        buf = udp.send_begin(W.HEADER_LEN + len(q.qname) + 4)
        if buf is not None:
            n = W.write_query(buf, PAYLOAD_OFF, q.ident, q.qname, q.qtype, self.rd)
            self.c["dns_queries_sent"] += 1
            udp.send_finish(buf, server, W.PORT, q.port, n, now)
        q.deadline = now + (self.retry_ms << (q.tries - 1))
        self._arm()

    def _arm(self):
        t = -1
        for q in self.queries:
            d = q.deadline
            if d >= 0 and (t < 0 or d < t):
                t = d
        self.timer_at = t

    def _finish(self, q, error, reason, now):
        q.error = error
        q.reason = reason
        q.state = _DONE
        if q.port:
            self.stack.udp.unbind(q.port)
            q.port = 0
        if q.sock is not None:
            q.sock.close()
            q.sock = None
        if q in self.queries:
            self.queries.remove(q)
            if not error:
                self._store(q, now)
        self._arm()
        cb = q.on_done
        if cb is not None:
            q.on_done = None
            cb()
        return q

    # -- answers -----------------------------------------------------------------
    def _on_answer(self, q, view, off, n, src_off, sport, now):
        c = self.c
        src = bytes(view[src_off:src_off + 4])
        if q.state != _PENDING or (not self.accept_any and (sport != W.PORT
                                                            or src not in q.asked)):
            c["dns_not_ours"] += 1
            return
        r = W.check_answer(view, off, n, q.ident, q.qname, q.qtype)
        if r == "dns_not_ours" and self.accept_any and n >= W.HEADER_LEN:
            r = None  # test-only fault switch: any ID, any question
        if r is None:
            r = self._take(q, view, off, n, src, now, False)
        if r is not None:
            c[r] += 1

    def _take(self, q, buf, off, n, server, now, tcp):
        """Act on an answer that passed check_answer; a reason string to drop it."""
        out = []
        r = W.read_answers(buf, off, n, q.qname, q.qtype, out)
        if isinstance(r, str):
            return r
        self.c["dns_rx"] += 1
        rcode, tc, ttl = r
        if tc and not tcp and not self.no_tcp:  # (no_tcp: test-only fault switch)
            return self._start_tcp(q, server, now)
        if rcode == W.RCODE_OK:
            if out:
                q.addrs = out
                q.ttl = ttl
                self._finish(q, 0, "", now)
            else:
                self._finish(q, EAI_NONAME, "%s has no %s record" % (
                    q.name, "A" if q.qtype == W.TYPE_A else "AAAA"), now)
        elif rcode == W.RCODE_NXDOMAIN:
            self._finish(q, EAI_NONAME, "%s does not exist (NXDOMAIN from %s)"
                         % (q.name, format_ip(server)), now)
        else:
            # SERVFAIL, REFUSED, FORMERR, NOTIMP: the next server (or the end)
            if q.state == _TCP:
                self._stop_tcp(q)
            self._send(q, now)
            if q.state == _DONE and q.error == EAI_AGAIN and rcode != W.RCODE_SERVFAIL:
                q.error = EAI_FAIL
                q.reason = "%s: the name servers refused or failed (rcode %d)" % (q.name,
                                                                                  rcode)
        return None

    # -- TCP fallback (RFC 7766) ---------------------------------------------------
    def _start_tcp(self, q, server, now):
        from . import socket as _s
        from .socket.tcp import TcpSocket

        q.state = _TCP
        self.c["dns_tcp_queries_sent"] += 1
        s = TcpSocket(self.stack)
        s.setblocking(False)
        try:
            s.connect((format_ip(server), W.PORT))
        except OSError as e:
            if e.args[0] != _s.EINPROGRESS:
                s.close()
                self._tcp_failed(q, "no TCP connection (errno %d)" % e.args[0], now)
                return None
        q.sock = s
        msg = bytearray(2 + W.HEADER_LEN + len(q.qname) + 4)
        k = W.write_query(msg, 2, q.ident, q.qname, q.qtype)
        msg[0] = k >> 8
        msg[1] = k & 255
        q.tcp_out = msg
        q.tcp_buf = bytearray()
        q.deadline = now + TCP_POLL_MS
        q.tcp_end = now + (self.retry_ms << TRIES)
        self._arm()
        return None

    def _stop_tcp(self, q):
        if q.sock is not None:
            q.sock.close()
            q.sock = None
        q.state = _PENDING

    def _pump_tcp(self, q, now):
        s = q.sock
        try:
            if q.tcp_out and s.writable():
                k = s.write(q.tcp_out)
                if k:
                    q.tcp_out = q.tcp_out[k:]
            eof = False
            while s.readable():
                data = s.read(4096)
                if not data:
                    eof = data is not None
                    break
                q.tcp_buf += data
        except OSError as e:
            return self._tcp_failed(q, "the TCP connection failed (errno %d)" % e.args[0],
                                    now)
        b = q.tcp_buf
        if len(b) >= 2 and len(b) >= 2 + ((b[0] << 8) | b[1]):
            n = (b[0] << 8) | b[1]
            server = q.asked[-1]
            r = W.check_answer(b, 2, n, q.ident, q.qname, q.qtype)
            if r is None:
                r = self._take(q, b, 2, n, server, now, True)
            if r is not None:
                self.c[r] += 1
                return self._tcp_failed(q, "an unusable answer over TCP", now)
            return None
        if eof:
            return self._tcp_failed(q, "the server closed the connection mid-answer", now)
        if now >= q.tcp_end:
            return self._tcp_failed(q, "no answer over TCP in time", now)
        q.deadline = now + TCP_POLL_MS
        return None

    def _tcp_failed(self, q, why, now):
        self._stop_tcp(q)
        self._finish(q, EAI_AGAIN, "%s: the answer was too long for UDP and %s"
                     % (q.name, why), now)

    # -- timers ------------------------------------------------------------------
    def poll(self, now):
        for q in list(self.queries):
            if q.state == _TCP:
                if now >= q.deadline:
                    self._pump_tcp(q, now)
            elif 0 <= q.deadline <= now:
                if q.tries >= self.tries:
                    self.c["dns_timeouts"] += 1
                self._send(q, now)
        self._arm()


def of(stack):
    """The stack's resolver (made on first use)."""
    r = getattr(stack, "resolver", None)
    if r is None:
        r = stack.resolver = Resolver(stack)
    return r


def resolve(stack, name, qtype, clock, idle):
    """Block until the lookup ends, driving the stack; the Query."""
    r = of(stack)
    q = r.lookup(name, qtype, clock())
    while not q.done:
        now = clock()
        stack.poll(now)
        if q.done:
            break
        t = stack.next_timeout(now)
        if idle is not None:
            idle(t if 0 <= t < 10 else 10)
    return q
