# images/http: an HTTP/1.1 server written on the asyncio streams API
# (ethox_uk/stack/aio.py); the same file runs under CPython (`ethox-uk host
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
from ethox_uk.stack import aio, http, socket

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


async def read_head(reader):
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
        size += len(line)
        if size > http.MAX_HEAD:
            raise http.HttpError(431, "the request header section is over %d bytes"
                                 % http.MAX_HEAD)
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)
        if line[-1] != 10:  # the stream ended inside a line
            raise http.HttpError(400, "the connection ended inside a request")


async def send_pattern(writer, n):
    w = window()
    pos = 0
    while pos < n:
        k = n - pos
        if k > CHUNK:
            k = CHUNK
        p = pos & 255
        writer.write(w[p:p + k])
        await writer.drain()
        pos += k


async def discard(reader, n):
    """Read n bytes and drop them, through one shared scratch buffer: a
    request body is never held whole (EOFError if the stream ends first)."""
    s = scratch()
    whole = len(s)
    while n > 0:
        k = await reader.readinto(s if n >= whole else s[:n])
        if not k:
            raise EOFError("the stream ended %d bytes into a request body" % n)
        n -= k


def handler(net, limits):
    def page():
        return http.page(net)

    async def handle(reader, writer):
        try:
            while True:
                req = None
                try:
                    head = await read_head(reader)
                    if head is None:
                        break
                    req = http.parse_head(head)
                    r = http.respond(req, page, limits.max_body)
                except http.HttpError as e:
                    r = http.error_response(e)
                except ValueError:  # a line over the stream's limit
                    r = http.error_response(http.HttpError(431, "a header line is too long"))
                writer.write(r.head)
                if r.body is not None:
                    writer.write(r.body)
                await writer.drain()
                if r.pattern:
                    await send_pattern(writer, r.pattern)
                if not r.keep_alive:
                    break
                if req is not None and req.content_length:
                    await discard(reader, req.content_length)  # a GET's body
        except (OSError, EOFError):
            pass  # the peer went away
        finally:
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
