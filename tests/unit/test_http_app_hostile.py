# images/http (the asyncio app) against careless and hostile clients (issue
# 11): request bodies are never held whole, 413 above the cap, and idle
# timeouts. Stack A is the client (aio streams), B serves the app; simulated
# clock (one ms per clock call), as in test_aio.py.
import gc
import sys

import support
from support import two_stacks, SimClock
from ethox_uk.stack import socket, aio, http

B_ADDR = "10.0.2.2"


def _app():
    root = support.__file__.rsplit("/", 3)[0]
    path = root + "/images/http"
    if path not in sys.path:
        sys.path.insert(0, path)
    if "app" in sys.modules:
        del sys.modules["app"]
    import app

    return app


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
    _app().main(B)
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
    e = support.raises(ValueError, _app().main, B)
    assert "http_max_body" in str(e)
