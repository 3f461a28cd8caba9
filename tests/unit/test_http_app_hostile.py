# images/http (the asyncio app) against careless and hostile clients (issue
# 11): request bodies are never held whole, 413 above the cap, a dribbled line
# stays small, and idle timeouts. Body tests: stack A is the client (aio
# streams), B serves the app, on a simulated clock (one ms per clock call) as
# in test_aio.py; timeout tests: the app serves on A of test_services' Pair,
# whose tcp_support client on B lets idle stretches pass in one jump.
import gc

import support
from support import two_stacks, SimClock
from ethox_uk.stack import socket, aio
from test_services import Pair, _http, _responses
from test_services_hostile import _until

B_ADDR = "10.0.2.2"


class Heap:
    """Samples the live heap (after a collection) now and then; `peak`."""

    def __init__(self, every):
        self.every = every
        self.calls = 0
        self.peak = 0
        self.tracing = False
        if not support.MICROPYTHON:
            import tracemalloc

            self.tm = tracemalloc
            if not tracemalloc.is_tracing():
                tracemalloc.start()
                self.tracing = True
        self.base = self.live()

    def live(self):
        gc.collect()
        if support.MICROPYTHON:
            return gc.mem_alloc()
        return self.tm.get_traced_memory()[0]

    def tick(self):
        self.calls += 1
        if self.calls % self.every == 0:
            d = self.live() - self.base
            if d > self.peak:
                self.peak = d

    def stop(self):
        if self.tracing:
            self.tm.stop()


def _net(words=(), heap=None):
    """(A, B, clock) with the app serving on B; words: B's boot words."""
    aio.reset()
    A, B = two_stacks()
    for w in words:
        k, v = w.split("=")
        B.config.words[k] = v
    clock = SimClock(step=1)

    def idle(ms):
        A.poll(clock.t)
        B.poll(clock.t)
        if heap is not None:
            heap.tick()

    socket.use(A, clock=clock, idle=idle)
    support.http_app().main(B)
    for t in range(3):
        B.poll(t)
    return A, B, clock


ZEROS = bytes(65536)


def _exchange(A, raw, until, body=0, after=b"", timeout_ms=60000):
    """Send raw, then `body` zero bytes (from one shared buffer: the client
    holds no body either), then after; read until until(data) or the end of
    the stream: (data, eof)."""
    async def client():
        r, w = await aio.open_connection(B_ADDR, 80, net=A)
        w.write(raw)
        left = body
        while left > 0:
            k = left if left < len(ZEROS) else len(ZEROS)
            w.write(memoryview(ZEROS)[:k])
            await w.drain()
            left -= k
        w.write(after)
        await w.drain()
        out = b""
        while not until(out):
            d = await r.read(65536)
            if not d:
                w.close()
                return out, True
            out += d
        w.close()
        return out, False

    return aio.run(client(), A, timeout_ms=timeout_ms)


def _clean(A, B):
    assert A.counters["internal_error"] == 0, A.last_error
    assert B.counters["internal_error"] == 0, B.last_error


# -- item 5: request bodies ----------------------------------------------------------
def _get_with_body(A, n):
    out, eof = _exchange(A, b"GET /bytes/3 HTTP/1.1\r\nHost: b\r\nContent-Length: %d\r\n\r\n"
                         % n, lambda o: o.endswith(b"\r\n\r\n\x00\x01"), n,
                         b"GET /bytes/2 HTTP/1.1\r\nHost: b\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"\r\n\r\n\x00\x01")
    assert out.count(b"HTTP/1.1 200 OK") == 2


def test_body_is_dropped_as_it_arrives_never_held():
    heap = Heap(every=1)
    try:
        A, B, clock = _net(["http_max_body=4000000"], heap)
        _get_with_body(A, 1000)  # the same exchange with a small body: the baseline
        small = heap.peak
        heap.peak = 0
        _get_with_body(A, 1500000)
        big = heap.peak
    finally:
        heap.stop()
    # before: readexactly held the whole 1.5 MB body (big - small ~ 1.8 MB);
    # now ~0.35 MB: the new connection's rings (the first one's are still
    # held while it finishes) and a write queued on the client's stream
    assert big - small < 600000, (small, big)
    _clean(A, B)


def test_body_over_the_cap_gets_413_and_close():
    A, B, clock = _net(["http_max_body=1000"])
    raw = b"GET / HTTP/1.1\r\nHost: b\r\nContent-Length: 1001\r\n\r\n" + b"x" * 1001
    out, eof = _exchange(A, raw, lambda o: False)
    assert out.startswith(b"HTTP/1.1 413 Content Too Large\r\n"), out[:60]
    assert b"Connection: close\r\n" in out and b"http_max_body" in out and eof
    raw = b"GET /bytes/1 HTTP/1.1\r\nHost: b\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000
    out, eof = _exchange(A, raw, lambda o: o.endswith(b"\r\n\r\n\x00"))
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    _clean(A, B)


def test_bad_limit_words_fail_at_start_naming_the_word():
    aio.reset()
    A, B = two_stacks()
    B.config.words["http_max_body"] = "lots"
    e = support.raises(ValueError, support.http_app().main, B)
    assert "http_max_body" in str(e)


# -- item 1: timeouts on the stack's clock -------------------------------------------
# (asyncio clients would have to spin through the idle stretches: see the top)


def _app_pair(words=()):
    aio.reset()
    p = Pair(serve=False)
    for w in words:
        k, v = w.split("=")
        p.a.config.words[k] = v
    socket.use(p.a, clock=lambda: p.now)
    support.http_app().main(p.a)
    _until(p, lambda: False, 5)
    return p


def _done(p):
    assert p.a.counters["internal_error"] == 0, p.a.last_error
    assert p.b.counters["internal_error"] == 0, p.b.last_error


def test_silent_and_keep_alive_idle_connections_close_after_the_keepalive_timeout():
    p = _app_pair()
    k = p.connect(80)
    ca = p.ca(k)
    t0 = p.now
    assert _until(p, lambda: ca.half_closed, 30000)
    assert 15000 <= p.now - t0 <= 15100, p.now - t0
    assert ca.received == bytearray()
    p.app.close(k, p.now)  # a client that closes its side too: no reset
    k = p.connect(80)
    ca = p.ca(k)
    _http(p, k, b"GET /bytes/3 HTTP/1.1\r\nHost: b\r\n\r\n")
    assert _until(p, lambda: ca.received.endswith(b"\x00\x01\x02"))
    t0 = p.now
    assert _until(p, lambda: ca.half_closed, 30000)
    assert 15000 <= p.now - t0 <= 15100, p.now - t0
    assert [r[0] for r in _responses(bytes(ca.received))] == [200]
    p.app.close(k, p.now)
    _until(p, lambda: not p.a.tcp.keys(), 20000)
    assert p.a.counters["svc_idle_closed"] == 2 and p.a.counters["svc_idle_reset"] == 0
    _done(p)


def test_dribbled_head_gets_408_after_the_head_timeout():
    p = _app_pair()
    k = p.connect(80)
    ca = p.ca(k)
    _http(p, k, b"GET /bytes/3 HTTP/1.1\r\n")
    t0 = p.now
    for c in b"Host: b\r\nX: yyyyyyyyyyyyy":  # a byte every 3 s
        if _until(p, lambda: ca.half_closed, 3000):
            break
        _http(p, k, bytes((c,)))
    assert ca.half_closed
    assert 20000 <= p.now - t0 <= 20100, p.now - t0  # from the request line on
    rs = _responses(bytes(ca.received))
    assert [r[0] for r in rs] == [408] and rs[0][1]["connection"] == "close"
    assert p.a.counters["http_head_timeout"] == 1
    _done(p)


def test_partial_request_line_gets_408_after_the_keepalive_timeout():
    p = _app_pair(["http_keepalive_timeout=2"])
    k = p.connect(80)
    ca = p.ca(k)
    _http(p, k, b"GET /bytes/3 HT")
    t0 = p.now
    assert _until(p, lambda: ca.half_closed, 10000)
    assert 2000 <= p.now - t0 <= 2100, p.now - t0
    assert [r[0] for r in _responses(bytes(ca.received))] == [408]
    assert p.a.counters["http_head_timeout"] == 1
    _done(p)


def test_client_that_stops_reading_is_reset():
    p = _app_pair(["http_idle_timeout=5"])
    k = p.connect(80)
    ca = p.ca(k)
    ca.consume = False  # takes 64 KiB, then its window stays shut
    _http(p, k, b"GET /bytes/10000000 HTTP/1.1\r\nHost: b\r\n\r\n")
    t0 = p.now
    assert _until(p, lambda: ca.closed, 60000)
    assert ca.reset
    # ~1 s of sending, 5 s without progress, then 10 s of grace for the FIN
    assert 15000 <= p.now - t0 <= 17000, p.now - t0
    assert p.a.counters["svc_idle_closed"] == 1 and p.a.counters["svc_idle_reset"] == 1
    assert not p.a.tcp.keys()
    _done(p)


def test_timeouts_off_keep_a_silent_connection():
    p = _app_pair(["http_keepalive_timeout=0"])
    k = p.connect(80)
    _until(p, lambda: False, 3600000)
    assert not p.ca(k).half_closed and p.a.counters["svc_idle_closed"] == 0
    _done(p)


def test_header_line_dribbled_a_byte_per_segment_stays_small():
    p = _app_pair()
    k = p.connect(80)
    p.b.tcp.set_nodelay(k, True)  # one byte, one segment
    ca = p.ca(k)
    heap = Heap(every=500)
    try:
        _http(p, k, b"GET /bytes/3 HTTP/1.1\r\nHost: b\r\nX-Pad: ")
        _until(p, lambda: False, 5)
        heap.base = heap.live()
        for i in range(2000):
            _http(p, k, b"y")
            p.step()
            p.step()
            p.app.log = []  # the client's own record of every segment: not the server's
            heap.tick()
        _http(p, k, b"\r\n\r\n")
        assert _until(p, lambda: ca.received.endswith(b"\x00\x01\x02"))
    finally:
        heap.stop()
    # before: one object per byte held until the line ended (~85 KB here)
    assert heap.peak < 30000, heap.peak
    _done(p)
