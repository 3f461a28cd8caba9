# images/http: an HTTP/1.1 server written on the asyncio streams API
# (ethox_uk/stack/aio/); the same file runs under CPython (`ethox-uk host
# images/http`) and frozen into the image.
#
#   GET /          a small HTML page with the stack's counters
#   GET /bytes/N   N bytes (N <= 64 MiB) of the repeating pattern 0x00..0xff
# HEAD, keep-alive, pipelining and the error statuses as in ethox_uk/stack/http.py
# (parsing and responses are shared with images/echo's zero-copy service); the
# limits (body cap, timeouts) are its boot words http_max_body, http_*_timeout.
# A request body is read through a small shared scratch buffer and dropped.
#
# THE APP CONTRACT for asyncio apps: main(net) schedules its coroutine with
# aio.start(net, coro) and RETURNS; every poll round of the runner (or of the
# image's poll hook, so the REPL stays alive) steps asyncio's scheduler.
from ethox_uk.stack import aio, http, socket, timeouts

PORT = 80
CHUNK = 16384  # bytes of pattern per write
_WIN = None  # CHUNK + 256 bytes of the pattern, made once: any phase is one slice
SCRATCH = 2048  # request bodies are read through this many bytes and dropped
_SCRATCH = None


def scratch():
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = memoryview(bytearray(SCRATCH))
    return _SCRATCH


def window():
    global _WIN
    if _WIN is None:
        b = bytearray(CHUNK + 256)
        for i in range(len(b)):
            b[i] = i & 255
        _WIN = memoryview(b)
    return _WIN


# A connection's timeouts (http.Limits) run on the stack's clock, in the
# stack's timeout sweeper (ethox_uk/stack/timeouts.py) -- not asyncio timers:
# nothing wakes up for them, and tests run them on simulated time. The
# handler tells its Watch what it is doing: IDLE (waiting for a request:
# http_keepalive_timeout), HEAD (a request line came, the rest of the head
# has not: http_head_timeout from that line) or BUSY (a response leaving or a
# body arriving: http_idle_timeout from the latest progress). When one runs
# out the Watch shuts the socket down under the handler (reading; writing too
# when BUSY), the handler ends the connection -- with 408 when a request was
# under way -- and if the connection has not ended CLOSE_GRACE_MS later the
# Watch resets it. A request line not yet complete counts as IDLE (the stream
# holds its bytes out of sight): it gets 408 at the keep-alive timeout.
IDLE = 0
HEAD = 1
BUSY = 2
CLOSE_GRACE_MS = 10000


class Watch:
    def __init__(self, net, limits, sock):
        self.net = net
        self.lim = limits
        self.sock = sock
        self.state = IDLE
        self.since = net.now
        self.closing_at = -1  # after a timeout: reset if not ended by then
        self.cut = False  # a timeout ended the input: a request cut short gets 408
        self.sw = timeouts.sweeper(net)
        self.sw.add(self, self.deadline())

    def set(self, state):
        """A new state, or progress in this one: its clock restarts."""
        self.state = state
        self.since = self.net.now
        self.sw.want(self.deadline())

    def deadline(self):
        lim = self.lim
        st = self.state
        ms = lim.keepalive_ms if st == IDLE else lim.head_ms if st == HEAD else lim.idle_ms
        return self.since + ms if ms > 0 else -1

    def check(self, now):
        if self.closing_at >= 0:
            if now < self.closing_at:
                return self.closing_at
            self.sw.remove(self)
            if self.sock.abort():
                self.net.counters.c["svc_idle_reset"] += 1
            return -1
        d = self.deadline()
        if d < 0 or now < d:
            return d
        self.closing_at = now + CLOSE_GRACE_MS
        try:
            self._cut()
        except OSError:
            pass  # the socket closed meanwhile: only the grace check is left
        return self.closing_at

    def _cut(self):
        if self.state == BUSY:
            self.net.counters.c["svc_idle_closed"] += 1
            self.sock.shutdown(socket.SHUT_RDWR)  # the handler's next write fails
            return
        self.cut = True  # the handler counts it: it knows whether a request had begun
        self.sock.shutdown(socket.SHUT_RD)  # the handler reads the end of the stream

    def done(self):
        """The handler ended; a Watch that cut the connection stays for its grace."""
        if self.closing_at < 0:
            self.sw.remove(self)


async def read_head(reader, watch):
    """The header section as bytes; None at a clean end of stream;
    HttpError for an oversized or truncated one."""
    lines = []
    size = 0
    while True:
        line = await reader.readline()
        if not line:
            if lines:
                raise http.HttpError(400, "the connection ended inside a request")
            return None
        if not lines and line in (b"\r\n", b"\n"):
            continue  # empty lines before a request line are ignored (RFC 9112 §2.2)
        if not lines:
            watch.set(HEAD)
        size += len(line)
        if size > http.MAX_HEAD:
            raise http.HttpError(431, "the request header section is over %d bytes"
                                 % http.MAX_HEAD)
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)
        if line[-1] != 10:  # the stream ended inside a line
            raise http.HttpError(400, "the connection ended inside a request")


async def send_pattern(writer, n, watch):
    w = window()
    pos = 0
    while pos < n:
        k = n - pos
        if k > CHUNK:
            k = CHUNK
        p = pos & 255
        writer.write(w[p:p + k])
        await writer.drain()
        watch.set(BUSY)  # progress
        pos += k


async def discard(reader, n, watch):
    """Read n bytes and drop them, through one shared scratch buffer: a
    request body is never held whole (EOFError if the stream ends first)."""
    s = scratch()
    whole = len(s)
    while n > 0:
        k = await reader.readinto(s if n >= whole else s[:n])
        if not k:
            raise EOFError("the stream ended %d bytes into a request body" % n)
        watch.set(BUSY)  # progress
        n -= k


def handler(net, limits):
    def page():
        return http.page(net)

    def count(name):
        net.counters.c[name] += 1

    async def answer(reader, watch):
        """(request or None, Response) for the next request; None at a clean end."""
        try:
            head = await read_head(reader, watch)
            if head is None:
                if watch.cut:
                    count("svc_idle_closed")  # idle between requests
                return None
            watch.set(BUSY)
            req = http.parse_head(head)
            return req, http.respond(req, page, limits.max_body)
        except http.HttpError as e:
            if watch.cut:  # the timeout cut a request short
                count("http_head_timeout")
                return None, http.timeout_response()
            return None, http.error_response(e)
        except ValueError:  # a line over the stream's limit
            return None, http.error_response(http.HttpError(431, "a header line is too long"))

    async def handle(reader, writer):
        reader.limit = http.MAX_HEAD  # a longer request line is refused (431)
        watch = Watch(net, limits, writer.get_extra_info("socket"))
        try:
            while True:
                watch.set(IDLE)
                got = await answer(reader, watch)
                if got is None:
                    break
                req, r = got
                watch.set(BUSY)
                writer.write(r.head)
                if r.body is not None:
                    writer.write(r.body)
                await writer.drain()
                if r.pattern:
                    await send_pattern(writer, r.pattern, watch)
                if not r.keep_alive:
                    break
                if req is not None and req.content_length:
                    await discard(reader, req.content_length, watch)  # a GET's body
        except (OSError, EOFError):
            pass  # the peer went away, or a timeout shut the socket
        finally:
            watch.done()
            # lingering close: drop what the client sent beyond the last answer,
            # so closing sends FIN after the response rather than RST (RFC 9112 §9.6)
            try:
                writer.get_extra_info("socket").shutdown(socket.SHUT_RD)
            except OSError:
                pass
            writer.close()
            await writer.wait_closed()

    return handle


async def serve(net, port, limits):
    await aio.start_server(handler(net, limits), "0.0.0.0", port, net=net)


def main(net):
    port = int(net.config.words.get("port", PORT))
    limits = http.Limits.from_config(net.config)  # bad boot words fail here, at start
    aio.start(net, serve(net, port, limits))
