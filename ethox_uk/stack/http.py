# A tiny HTTP/1.1 server core (RFC 9110 / 9112), shared by the echo image's
# zero-copy service (services.py) and the asyncio app (images/http):
#
#   end = head_end(data)             offset just past the blank line, -1: not yet
#   req = parse_head(data[:end])     a Request, or HttpError(status, text)
#   r = respond(req, page, max_body) a Response: head bytes, then `body` bytes
#                                    or `pattern` bytes of PATTERN (HEAD: none)
#   error_response(e, keep_alive)    a Response for an HttpError
#   lim = Limits.from_config(config) body cap and timeouts from the boot words
#
# Resources (DESIGN §5):
#   GET /          a small HTML page with the stack's counters (`page()` builds it;
#                  each counter is a `name value` line inside <pre>)
#   GET /bytes/N   N bytes (0 <= N <= 64 MiB) of the repeating pattern 0x00 0x01 ..
#                  0xff (`fill_pattern` writes any stretch of it)
# HEAD works for both. Anything else: 404 (unknown path), 405 (a method other
# than GET/HEAD; the connection closes, its body unread), 400 (malformed
# request line or header, bad or too large N, an HTTP/1.1 request without Host),
# 413 (a Content-Length over the body cap; the connection closes, the body
# unread), 431 (header section over MAX_HEAD bytes), 501 (a chunked request
# body), 505 (not HTTP/1.x). Every error has a one-line text/plain body saying
# why. Request bodies are never kept: both servers read and drop them (a GET's
# body) through a fixed scratch buffer.
#
# Limits (boot words, so a recipe's cmdline sets them; timeouts in whole
# seconds, 0 turns one off):
#   http_max_body=BYTES        the largest request body read (and dropped);
#                              above it 413. Default 1 MiB (as nginx's
#                              client_max_body_size)
#   http_head_timeout=S        a request head must be complete S after its
#                              first byte, else 408 and close. Default 20 (as
#                              Apache's mod_reqtimeout header=20)
#   http_keepalive_timeout=S   an idle connection between requests closes
#                              after S. Default 15
#   http_idle_timeout=S        no progress while a body arrives or a response
#                              leaves (nothing read, nothing acknowledged)
#                              for S: close. Default 60 (as nginx's
#                              client_body_timeout and send_timeout)
#
# Keep-alive: HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0
# closes unless `Connection: keep-alive`. Responses always carry Content-Length
# (no chunked encoding) and no Date header (RFC 9110 §6.6.1: no clock).
# Requests are parsed as bytes (no decoding: bad UTF-8 is never an exception).
from .compat import const
from .wire.copy import copy as _copy

MAX_BYTES = const(67108864)  # 64 MiB: the largest /bytes/N
MAX_HEAD = const(8192)  # request line + header fields
MAX_HEADERS = const(64)
MAX_BODY = const(1048576)  # default http_max_body
HEAD_TIMEOUT_MS = const(20000)  # default http_head_timeout
KEEPALIVE_MS = const(15000)  # default http_keepalive_timeout
IDLE_MS = const(60000)  # default http_idle_timeout
SERVER = b"ethox-uk"

_WIN = const(65600)  # >= one TSO segment: a pattern stretch is one copy
_PAT = None


def pattern_window():
    """A memoryview of 256 + _WIN bytes: [i] = i & 255 (made on first use)."""
    global _PAT
    if _PAT is None:
        b = bytearray(256 + _WIN)
        for i in range(256):
            b[i] = i
        _PAT = memoryview(b)
        n = 256
        while n < len(b):  # doubling copies: a Python loop of 66K steps takes ~30 ms under TCG
            k = n if 2 * n <= len(b) else len(b) - n
            _copy(_PAT, n, _PAT, 0, k)
            n += k
    return _PAT


def fill_pattern(dst, off, n, pos):
    """dst[off:off+n] = bytes pos .. pos+n-1 of the pattern 0x00..0xff repeated."""
    w = _PAT if _PAT is not None else pattern_window()
    p = pos & 255
    while n > 0:
        k = n if n <= _WIN else _WIN
        _copy(dst, off, w, p, k)
        off += k
        n -= k
        p = (p + k) & 255


def pattern_bytes(pos, n):
    """The pattern as bytes (tests and small bodies)."""
    b = bytearray(n)
    fill_pattern(b, 0, n, pos)
    return bytes(b)


class HttpError(Exception):
    def __init__(self, status, text):
        super().__init__(status, text)
        self.status = status
        self.text = text


class Request:
    def __init__(self):
        self.method = b""
        self.target = b""
        self.path = b""
        self.minor = 1  # HTTP/1.<minor>
        self.keep_alive = True
        self.content_length = 0
        self.host = None


class Response:
    def __init__(self, head, body=None, pattern=0, keep_alive=True):
        self.head = head  # status line + header fields + blank line
        self.body = body  # bytes, or None
        self.pattern = pattern  # else this many pattern bytes follow the head
        self.keep_alive = keep_alive

    def length(self):
        return len(self.head) + (len(self.body) if self.body is not None else self.pattern)


class Limits:
    """The body cap and the timeouts of an HTTP server (see the top of this
    file); from_config reads them from the boot words."""

    def __init__(self, max_body=MAX_BODY, head_ms=HEAD_TIMEOUT_MS, keepalive_ms=KEEPALIVE_MS,
                 idle_ms=IDLE_MS):
        self.max_body = max_body
        self.head_ms = head_ms
        self.keepalive_ms = keepalive_ms
        self.idle_ms = idle_ms

    @classmethod
    def from_config(cls, config):
        return cls(config.word_int("http_max_body", MAX_BODY),
                   config.word_ms("http_head_timeout", HEAD_TIMEOUT_MS),
                   config.word_ms("http_keepalive_timeout", KEEPALIVE_MS),
                   config.word_ms("http_idle_timeout", IDLE_MS))


REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed",
           408: b"Request Timeout", 413: b"Content Too Large",
           431: b"Request Header Fields Too Large", 501: b"Not Implemented",
           503: b"Service Unavailable", 505: b"HTTP Version Not Supported"}


def head_end(data, start=0):
    """Offset just past the empty line ending the header section, or -1.
    Bare LF line ends are accepted (RFC 9112 §2.2)."""
    i = data.find(b"\n", start)
    while i >= 0:
        j = i + 1
        if j < len(data) and data[j] == 13:
            j += 1
        if j < len(data) and data[j] == 10:
            return j + 1
        i = data.find(b"\n", i + 1)
    return -1


def _token(b):
    if not b:
        return False
    for c in b:
        # tchar (RFC 9110 §5.6.2): visible ASCII except delimiters
        if c <= 32 or c >= 127 or c in b'"(),/:;<=>?@[\\]{}':
            return False
    return True


def parse_head(data):
    """A Request from the header section (request line .. blank line)."""
    if len(data) > MAX_HEAD:
        raise HttpError(431, "the request header section is over %d bytes" % MAX_HEAD)
    lines = data.split(b"\n")
    i = 0
    while i < len(lines) and lines[i] in (b"", b"\r"):
        i += 1  # RFC 9112 §2.2: ignore empty lines before the request line
    if i >= len(lines):
        raise HttpError(400, "empty request")
    line = lines[i]
    if line.endswith(b"\r"):
        line = line[:-1]
    parts = line.split(b" ")
    if len(parts) != 3 or not _token(parts[0]) or not parts[1]:
        raise HttpError(400, "malformed request line: expected METHOD TARGET HTTP/1.1")
    req = Request()
    req.method = parts[0]
    req.target = parts[1]
    ver = parts[2]
    if not ver.startswith(b"HTTP/") or len(ver) != 8 or ver[6] != 46 \
            or not (48 <= ver[5] <= 57) or not (48 <= ver[7] <= 57):
        raise HttpError(400, "malformed HTTP version: expected HTTP/1.1 or HTTP/1.0")
    if ver[5] != 49:
        raise HttpError(505, "only HTTP/1.x is served")
    req.minor = ver[7] - 48
    conn_close = False
    conn_keep = False
    has_length = False
    count = 0
    for line in lines[i + 1:]:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            break
        count += 1
        if count > MAX_HEADERS:
            raise HttpError(431, "more than %d header fields" % MAX_HEADERS)
        c = line.find(b":")
        if c <= 0 or not _token(line[:c]):
            raise HttpError(400, "malformed header field (no name: value)")
        name = line[:c].lower()
        value = line[c + 1:].strip()
        if name == b"host":
            if req.host is not None:
                raise HttpError(400, "more than one Host header")
            req.host = value
        elif name == b"connection":
            for opt in value.lower().split(b","):
                opt = opt.strip()
                if opt == b"close":
                    conn_close = True
                elif opt == b"keep-alive":
                    conn_keep = True
        elif name == b"content-length":
            if not value.isdigit() or len(value) > 12:
                raise HttpError(400, "bad Content-Length")
            n = int(value)
            if has_length and n != req.content_length:
                raise HttpError(400, "conflicting Content-Length headers")
            has_length = True
            req.content_length = n
        elif name == b"transfer-encoding":
            raise HttpError(501, "request bodies with Transfer-Encoding are not supported")
    if req.minor >= 1:
        if req.host is None:
            raise HttpError(400, "an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)")
        req.keep_alive = not conn_close
    else:
        req.keep_alive = conn_keep and not conn_close
    t = req.target
    if t.startswith(b"http://") or t.startswith(b"https://"):
        s = t.find(b"/", t.find(b"//") + 2)
        t = t[s:] if s >= 0 else b"/"
    q = t.find(b"?")
    if q >= 0:
        t = t[:q]
    if not t.startswith(b"/"):
        raise HttpError(400, "the request target must be a path starting with /")
    req.path = t
    return req


def head(status, length, ctype, keep_alive, extra=b""):
    """Status line and header fields (with the blank line) as bytes."""
    return b"".join((b"HTTP/1.1 %d " % status, REASONS.get(status, b"Error"),
                     b"\r\nServer: ", SERVER, b"\r\nContent-Type: ", ctype,
                     b"\r\nContent-Length: %d\r\n" % length,
                     b"" if keep_alive else b"Connection: close\r\n", extra, b"\r\n"))


def error_response(e, keep_alive=False, is_head=False):
    body = ("%d %s: %s\n" % (e.status, REASONS.get(e.status, b"Error").decode(),
                             e.text)).encode()
    extra = b"Allow: GET, HEAD\r\n" if e.status == 405 else b""
    h = head(e.status, len(body), b"text/plain; charset=utf-8", keep_alive, extra)
    return Response(h, None if is_head else body, 0, keep_alive)


def parse_count(s):
    """N of /bytes/N: decimal digits, at most MAX_BYTES; HttpError otherwise."""
    if not s or not s.isdigit():
        raise HttpError(400, "/bytes/N needs N as decimal digits, e.g. /bytes/1000")
    if len(s) > 12 or int(s) > MAX_BYTES:
        raise HttpError(400, "/bytes/%s asks for more than the limit of %d bytes (64 MiB)"
                        % (s.decode(), MAX_BYTES))
    return int(s)


def respond(req, page, max_body=MAX_BODY):
    """The Response to a parsed request; page() returns the / page as bytes;
    a body over max_body bytes is refused (413)."""
    m = req.method
    ka = req.keep_alive
    is_head = m == b"HEAD"
    try:
        if m != b"GET" and not is_head:
            # the body (if any) is never read: the connection must close
            raise HttpError(405, "only GET and HEAD are served")
        if req.content_length > max_body:
            ka = False  # the body is never read: the connection must close
            raise HttpError(413, "a request body of %d bytes is over the limit of %d "
                            "(boot word http_max_body)" % (req.content_length, max_body))
        path = req.path
        if path == b"/":
            body = page()
            h = head(200, len(body), b"text/html; charset=utf-8", ka)
            return Response(h, None if is_head else body, 0, ka)
        if path.startswith(b"/bytes/"):
            n = parse_count(path[7:])
            h = head(200, n, b"application/octet-stream", ka)
            return Response(h, None, 0 if is_head else n, ka)
        raise HttpError(404, "no such resource: try / or /bytes/N")
    except HttpError as e:
        return error_response(e, ka and e.status != 405, is_head)


def timeout_response():
    """408, closing: a request head that did not arrive in time."""
    return error_response(HttpError(408, "the request head did not arrive within the time "
                                    "allowed (boot word http_head_timeout)"))


def page(stack):
    """The / page: address, MAC and every counter, one `name value` per line."""
    from .counters import NAMES
    from .config import format_ip, format_mac

    c = stack.counters.c
    ip = format_ip(stack.ip_addr).encode()
    out = [b"<!DOCTYPE html>\n<html><head><title>ethox-uk ", ip,
           b"</title></head>\n<body><h1>ethox-uk</h1>\n<p>ip ", ip, b" mac ",
           format_mac(stack.mac).encode(), b"</p>\n<pre>\n"]
    for n in NAMES:
        out.append(b"%s %d\n" % (n.encode(), c[n]))
    tcp = stack.tcp
    if tcp is not None:
        out.append(b"tcp_connections %d\n" % len(tcp.keys()))
    out.append(b"</pre></body></html>\n")
    return b"".join(out)


def parse_page(text):
    """{name: value} from a / page (tests and tools)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode()
    out = {}
    s = text.find("<pre>")
    e = text.find("</pre>")
    for line in text[s + 5:e].split("\n"):
        parts = line.split(" ")
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out
