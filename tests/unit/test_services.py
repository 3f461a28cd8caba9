# ethox_uk.stack.services and http: echo / discard / chargen / HTTP on stack A
# (10.0.2.15), driven by tcp_support's App on stack B (10.0.2.2) over the
# in-memory pair, on simulated time.
import hashlib

import support
import tcp_support as T
from ethox_uk.stack import services, http, socket
from ethox_uk.stack.config import Config
from ethox_uk.stack.iface import Stack
from ethox_uk.stack.nic.pair import make_pair
from ethox_uk.stack.layer.tcp import TcpLayer
from ethox_uk.stack.layer.tcp.mux import RecvRing

M = 0xFFFFFFFF


class Pair:
    """A: the services (serve_all); B: a tcp_support App as the client."""

    def __init__(self, seed=1, loss=0, reorder=0, duplicate=0, corrupt=0, serve=True,
                 connect_back=False):
        self.na, self.nb = make_pair(seed, loss, reorder, duplicate, corrupt)
        self.a = Stack(self.na, Config("10.0.2.15/24", "10.0.2.2", "52:54:00:12:34:56"), seed=seed)
        self.b = Stack(self.nb, Config("10.0.2.2/24", None, "52:54:00:12:34:57"), seed=seed + 9)
        self.app = T.App()
        self.b.tcp = TcpLayer(self.b, self.app)
        self.app.layer = self.b.tcp
        self.now = 0
        # the socket API's clock (quote of the day is on sockets) is this pair's
        socket.use(self.a, clock=lambda: self.now)
        self.svcs = services.serve_all(self.a, connect_back) if serve else None

    def step(self):
        self.a.poll(self.now)
        self.b.poll(self.now)
        self.now += 1

    def run(self, cond, limit=200000):
        end = self.now + limit
        while self.now < end:
            if cond():
                return True
            self.step()
            if not (self.na.pending() or self.nb.pending()):
                t = -1
                for s in (self.a, self.b):
                    x = s.next_timeout(self.now)
                    if x >= 0 and (t < 0 or x < t):
                        t = x
                if t > 1:
                    self.now += t - 1
        return cond()

    def connect(self, port):
        k = self.app.connect(self.now, T.A_IP, port)
        assert self.run(lambda: self.b.tcp.state_name(k) == "ESTABLISHED")
        return k

    def ca(self, key):
        return self.app.conns[key]

    def ok(self, **drops):
        support.counters_are(self.a, **drops)
        assert self.b.counters["internal_error"] == 0, self.b.last_error


def _http(p, key, raw):
    p.app.push(key, raw, p.now)


def _responses(data, heads=()):
    """Split a byte stream into (status, headers, body) responses; the ones
    numbered in `heads` answer HEAD (no body)."""
    out = []
    while data:
        i = data.find(b"\r\n\r\n")
        assert i >= 0, data
        lines = data[:i].decode().split("\r\n")
        hdrs = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        n = 0 if len(out) in heads else int(hdrs["content-length"])
        body = data[i + 4:i + 4 + n]
        out.append((int(lines[0].split(" ")[1]), hdrs, body))
        data = data[i + 4 + n:]
    return out


# -- echo ------------------------------------------------------------------------
def test_echo_returns_everything_then_fin():
    p = Pair()
    k = p.connect(7)
    data = bytes(range(256)) * 800  # 200 KiB: more than the ring, so the window cycles
    sent = [0]

    def source(ca):
        if sent[0] < len(data):
            sent[0] += ca.sb.write(data, sent[0], len(data))
        elif not ca.sb.fin:
            ca.sb.close()

    p.ca(k).source = source
    source(p.ca(k))
    p.app.push(k, b"", p.now)
    assert p.run(lambda: p.ca(k).closed)
    assert bytes(p.ca(k).received) == data
    assert p.ca(k).half_closed and not p.ca(k).reset
    assert p.svcs[0].accepted == 1 and p.svcs[0].active == 0
    assert p.run(lambda: not p.a.tcp.keys(), 200000)  # TIME-WAIT on B's side only
    p.ok()


def test_echo_under_loss_and_reorder():
    p = Pair(seed=3, loss=0.05, reorder=0.05, duplicate=0.01)
    k = p.connect(7)
    data = bytes(T.pattern()[:60000]) * 2
    h = hashlib.sha256(data).digest()
    p.app.push(k, data[:30000], p.now)
    got = p.ca(k)

    def source(ca):
        if not hasattr(ca, "off"):
            ca.off = 30000
        if ca.off < len(data):
            ca.off += ca.sb.write(data, ca.off, len(data))

    got.source = source
    assert p.run(lambda: len(got.received) >= len(data), 2000000)
    assert hashlib.sha256(bytes(got.received)).digest() == h
    p.app.close(k, p.now)
    assert p.run(lambda: got.closed, 2000000)
    assert p.a.counters["internal_error"] == 0


def test_echo_rings_are_reused():
    p = Pair()
    svc = p.svcs[0]
    for i in range(3):
        k = p.connect(7)
        p.app.push(k, b"x%d" % i, p.now)
        assert p.run(lambda: len(p.ca(k).received) == 2)
        p.app.close(k, p.now)
        assert p.run(lambda: p.ca(k).closed)
    assert svc.accepted == 3 and svc.active == 0 and len(svc.spare) == 1
    p.ok()


# -- discard / chargen -------------------------------------------------------------
def test_discard_counts_and_answers_fin_with_fin():
    p = Pair()
    k = p.connect(9)
    p.app.push(k, bytes(50000), p.now)
    p.app.close(k, p.now)
    assert p.run(lambda: p.ca(k).closed)
    assert p.ca(k).received == bytearray() and not p.ca(k).reset
    conn = None
    for h in p.a.tcp.user.conns.values():
        conn = h
    assert conn is None  # gone from the mux
    assert p.svcs[1].accepted == 1 and p.svcs[1].active == 0
    p.ok()


def test_sink_takes_in_order_bytes_only():
    s = services.Sink()
    s.start(100)
    v = memoryview(bytearray(50))
    s.receive(v, 0, 10, 100)
    assert s.ack() == 110 and s.total == 10
    s.receive(v, 0, 10, 120)  # a gap: dropped
    assert s.ack() == 110
    s.receive(v, 0, 10, 105)  # overlaps: 5 new bytes
    assert s.ack() == 115 and s.total == 15
    s.start(M - 3)  # wraps
    s.receive(v, 0, 8, M - 3)
    assert s.ack() == 4 and s.window() == services.SINK_WINDOW == 1 << 20


def test_chargen_pattern_and_stop_on_fin():
    p = Pair()
    k = p.connect(19)
    ca = p.ca(k)
    assert p.run(lambda: len(ca.received) >= 30000)
    n = len(ca.received)
    assert bytes(ca.received) == services.chargen_bytes(0, n)
    line0 = bytes(range(32, 104)) + b"\r\n"
    line1 = bytes(range(33, 105)) + b"\r\n"
    assert bytes(ca.received[:148]) == line0 + line1
    p.app.close(k, p.now)
    assert p.run(lambda: ca.closed)
    total = len(ca.received)
    assert bytes(ca.received) == services.chargen_bytes(0, total)
    assert not ca.reset
    p.ok()


def test_chargen_window_wraps_the_period():
    w = services.chargen_window()
    assert len(w) >= services.CHARGEN_PERIOD + 65536  # a TSO segment is one copy
    # every line is RFC 864's: 72 rotated printable characters, CR LF
    for k in (0, 1, 94, 95, 96, 940):
        line = bytes(w[74 * k:74 * k + 74])
        assert line[:72] == bytes([32 + (k + i) % 95 for i in range(72)]) and line[72:] == b"\r\n"
    a = services.chargen_bytes(services.CHARGEN_PERIOD - 10, 30)
    b = services.chargen_bytes(2 * services.CHARGEN_PERIOD - 10, 30)
    assert a == b and a[10:] == services.chargen_bytes(0, 20)
    big = services.chargen_bytes(5, 5000)
    assert big == bytes(w[5:5005])


# -- buffers ------------------------------------------------------------------------
def test_chunk_send_fills_across_chunks_and_acks():
    sb = services.ChunkSend()
    sb.write(b"head:")
    sb.write_pattern(300)
    sb.write(b":tail")
    assert sb.available() == 310 and sb.queued() == 3
    sb.ack(M - 1)  # the stream starts at M-1: sequence numbers wrap
    dst = bytearray(310)
    sb.fill(dst, 0, 310, M - 1)
    assert bytes(dst) == b"head:" + http.pattern_bytes(0, 300) + b":tail"
    d2 = bytearray(10)
    sb.fill(d2, 0, 10, (M - 1 + 300) & M)
    assert bytes(d2) == http.pattern_bytes(295, 5) + b":tail"
    sb.ack((M - 1 + 7) & M)  # into the pattern run
    assert sb.available() == 303 and sb.queued() == 2 and sb.off == 2
    d3 = bytearray(4)
    sb.fill(d3, 0, 4, (M - 1 + 7) & M)
    assert bytes(d3) == http.pattern_bytes(2, 4)
    sb.ack((M - 1 + 310) & M)
    assert sb.available() == 0 and sb.queued() == 0
    sb.close()
    assert sb.write(b"late") == 4 and sb.available() == 0  # nothing after the FIN


def test_pattern_send_is_endless_until_stopped():
    ps = services.PatternSend(http.fill_pattern)
    ps.ack(1000)
    assert ps.available() == ps.TOP
    dst = bytearray(600)
    ps.fill(dst, 0, 600, 1000)
    assert bytes(dst) == http.pattern_bytes(0, 600)
    ps.ack(1000 + 600000)
    assert ps.available() == ps.TOP  # topped up
    ps.fill(dst, 0, 100, 1000 + 600000)
    assert bytes(dst[:100]) == http.pattern_bytes(600000, 100)
    ps.stop()
    assert ps.fin and ps.available() == 100


def test_echo_send_reads_the_receive_ring():
    rb = RecvRing(16)
    rb.start(500)
    es = services.EchoSend(rb)
    es.ack(500)
    rb.receive(memoryview(b"abcdefghij"), 0, 10, 500)
    assert es.available() == 10 and rb.window() == 6
    dst = bytearray(4)
    es.fill(dst, 0, 4, 503)
    assert bytes(dst) == b"defg"
    es.ack(508)
    assert rb.count == 2 and rb.window() == 14
    rb.receive(memoryview(b"KLMNOPQRST"), 0, 10, 510)  # wraps the ring
    dst = bytearray(12)
    es.fill(dst, 0, 12, 508)
    assert bytes(dst) == b"ijKLMNOPQRST"


# -- HTTP over TCP -----------------------------------------------------------------
def test_http_page_and_bytes_with_keep_alive_and_pipelining():
    p = Pair()
    k = p.connect(80)
    ca = p.ca(k)
    _http(p, k, b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /bytes/70000 HTTP/1.1\r\nHost: a\r\n\r\n"
          b"HEAD /bytes/9 HTTP/1.1\r\nHost: a\r\n\r\nGET /bytes/3 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert p.run(lambda: ca.received.endswith(b"\x00\x01\x02"))
    rs = _responses(bytes(ca.received), (2,))
    assert [r[0] for r in rs] == [200, 200, 200, 200]
    page = http.parse_page(rs[0][2])
    assert page["internal_error"] == 0 and "tcp_rx" in page
    assert rs[0][1]["content-type"] == "text/html; charset=utf-8"
    assert rs[1][2] == http.pattern_bytes(0, 70000)
    # HEAD: headers only (its Content-Length tells what GET would send)
    assert rs[2][1]["content-length"] == "9" and rs[3][2] == b"\x00\x01\x02"
    assert not ca.closed and p.a.tcp.state_name(p.a.tcp.keys()[0]) == "ESTABLISHED"
    p.app.close(k, p.now)
    assert p.run(lambda: ca.closed)
    p.ok()


def test_http_split_request_and_get_with_body():
    p = Pair()
    k = p.connect(80)
    ca = p.ca(k)
    for part in (b"GET /bytes/", b"4 HTTP/1.1\r\nHo", b"st: a\r\nContent-Length: 5\r\n"):
        _http(p, k, part)
        p.run(lambda: False, 30)
    assert ca.received == bytearray()  # no complete request yet
    _http(p, k, b"\r\nhel")
    _http(p, k, b"loGET /bytes/2 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert p.run(lambda: ca.received.endswith(b"\r\n\r\n\x00\x01"))
    rs = _responses(bytes(ca.received))
    assert [(r[0], r[2]) for r in rs] == [(200, b"\x00\x01\x02\x03"), (200, b"\x00\x01")]
    p.ok()


def _one(p, raw):
    """One request on a new connection; the server must answer and close."""
    k = p.connect(80)
    ca = p.ca(k)
    _http(p, k, raw)
    assert p.run(lambda: ca.half_closed)
    r = _responses(bytes(ca.received))
    assert len(r) == 1, r
    assert r[0][1]["connection"] == "close"
    p.app.close(k, p.now)
    assert p.run(lambda: ca.closed)
    return r[0]


def test_http_errors():
    p = Pair()
    st, h, body = _one(p, b"GET /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert st == 404 and body.startswith(b"404 Not Found: ") and h["content-type"].startswith(
        "text/plain")
    st, h, body = _one(p, b"GET /bytes/67108865 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert st == 400 and b"67108864" in body
    k = p.connect(80)  # the limit itself is served
    _http(p, k, b"GET /bytes/67108864 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert p.run(lambda: len(p.ca(k).received) > 100000)
    assert p.ca(k).received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: 67108864\r\n" in p.ca(k).received
    p.b.tcp.abort(k, p.now)  # the client goes away: RST
    assert p.run(lambda: not p.a.tcp.keys())
    st, h, body = _one(p, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd")
    assert st == 405 and h["allow"] == "GET, HEAD"
    st, h, body = _one(p, b"GET / HTTP/1.1\r\n\r\n")
    assert st == 400 and b"Host" in body
    st, h, body = _one(p, b"GET / HTTP/2.0\r\nHost: a\r\n\r\n")
    assert st == 505
    st, h, body = _one(p, b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert st == 501
    st, h, body = _one(p, b"GET / HTTP/1.1\r\nHost: a\r\nbad header\r\n\r\n")
    assert st == 400 and b"header" in body
    st, h, body = _one(p, b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 9000)
    assert st == 431
    st, h, body = _one(p, b"\x00\xff\xfe garbage\r\n\r\n")
    assert st == 400
    st, h, body = _one(p, b"GET /bytes/10 HTTP/1.0\r\n\r\n")  # 1.0: no Host needed, closes
    assert st == 200 and body == http.pattern_bytes(0, 10)
    # after the client's RST, A's segments still in flight draw RSTs (strays at A)
    p.ok(tcp_rst_rx=1, tcp_stray_rst=p.a.counters["tcp_stray_rst"])


def test_http_connect_back_opens_an_echo_connection_to_the_requester():
    p = Pair(connect_back=True)
    p.b.tcp.listen(5555)
    k = p.connect(80)
    ca = p.ca(k)
    _http(p, k, b"GET /connect/5555 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert p.run(lambda: b"\n" in ca.received.partition(b"\r\n\r\n")[2])
    rs = _responses(bytes(ca.received))
    assert [(r[0], r[2]) for r in rs] == [(200, b"connecting to 10.0.2.2:5555\n")]
    back = [x for x in p.b.tcp.keys() if x != k]
    assert len(back) == 1  # A opened it: B's listener on 5555 holds the new connection
    back = back[0]
    assert p.run(lambda: p.b.tcp.state_name(back) == "ESTABLISHED")
    assert p.b.tcp.four_tuple(back)[1] == 5555
    p.app.push(back, b"anyone home?", p.now)
    assert p.run(lambda: bytes(p.app.get(back).received) == b"anyone home?")  # echoed
    assert p.svcs[3].active == 2  # the HTTP connection and the one it opened
    p.app.close(back, p.now)
    # A's side ends at its LAST-ACK (B waits in TIME-WAIT longer than HTTP's keep-alive)
    assert p.run(lambda: p.svcs[3].active == 1)
    assert not ca.closed  # keep-alive: the HTTP connection goes on
    p.ok()


def test_http_connect_back_refuses_bad_ports_and_is_off_by_default():
    p = Pair(connect_back=True)
    for bad in (b"0", b"65536", b"x1", b"123456"):
        st, h, body = _one(p, b"GET /connect/" + bad + b" HTTP/1.1\r\nHost: a\r\n"
                           b"Connection: close\r\n\r\n")
        assert st == 400 and b"1-65535" in body
    q = Pair()
    st, h, body = _one(q, b"GET /connect/5555 HTTP/1.1\r\nHost: a\r\nConnection: close"
                       b"\r\n\r\n")
    assert st == 404
    assert len(q.a.tcp.keys()) <= 1  # nothing opened towards B
    p.ok()
    q.ok()


def test_http_peer_fin_mid_request():
    p = Pair()
    k = p.connect(80)
    ca = p.ca(k)
    _http(p, k, b"GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /by")
    p.app.close(k, p.now)
    assert p.run(lambda: ca.closed)
    rs = _responses(bytes(ca.received))
    assert [r[0] for r in rs] == [200, 400]
    p.ok()


def test_service_close_refuses_new_connections():
    p = Pair()
    p.svcs[3].close()
    k = p.app.connect(p.now, T.A_IP, 80)
    assert p.run(lambda: p.ca(k).closed)
    assert p.ca(k).reset
    p.ok(tcp_no_listener=1)
    e = support.raises(OSError, services.serve_echo, p.a, 7)  # port 7 is taken
    assert e.args[0] == support_errno_addrinuse()


def support_errno_addrinuse():
    from ethox_uk.stack import socket

    return socket.EADDRINUSE


# -- http.py on its own -------------------------------------------------------------
def test_head_end_and_parse():
    assert http.head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest") == 27
    assert http.head_end(b"GET / HTTP/1.1\nHost: a\n\nrest") == 24
    assert http.head_end(b"GET / HTTP/1.1\r\nHost: a\r\n") == -1
    r = http.parse_head(b"\r\nGET http://x/bytes/7?q=1 HTTP/1.1\r\nHOST: x\r\n"
                        b"Connection: Keep-Alive, Close\r\n\r\n")
    assert r.method == b"GET" and r.path == b"/bytes/7" and r.minor == 1
    assert not r.keep_alive and r.host == b"x"
    r = http.parse_head(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert r.keep_alive and r.minor == 0
    for bad, status in ((b"GET /\r\n\r\n", 400), (b"GET / HTTP/1.1 x\r\n\r\n", 400),
                        (b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
                        (b"GET x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
                        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
                        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
                        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                         b"Content-Length: 2\r\n\r\n", 400),
                        (b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
                        (b"GET / HTTP/1.1\r\n" + b"A: b\r\n" * 70 + b"\r\n", 431),
                        (b"\r\n\r\n", 400)):
        e = support.raises(http.HttpError, http.parse_head, bad)
        assert e.status == status, (bad, e.status)


def test_respond_and_counts():
    def page():
        return b"<p>x</p>"

    r = http.respond(http.parse_head(b"GET /bytes/0 HTTP/1.1\r\nHost: a\r\n\r\n"), page)
    assert r.pattern == 0 and r.body is None and b"Content-Length: 0\r\n" in r.head
    r = http.respond(http.parse_head(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"), page)
    assert r.body is None and b"Content-Length: 8\r\n" in r.head
    r = http.respond(http.parse_head(b"DELETE / HTTP/1.1\r\nHost: a\r\n\r\n"), page)
    assert not r.keep_alive and r.head.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    for s in (b"", b"1e3", b"+5", b" 5", b"0x10", b"9" * 13):
        assert support.raises(http.HttpError, http.parse_count, s).status == 400
    assert http.parse_count(b"0") == 0 and http.parse_count(b"0067108864") == 67108864


def test_pattern_fill_wraps():
    w = http.pattern_window()
    assert w[0] == 0 and w[255] == 255 and w[256] == 0 and len(w) >= 256 + 65536
    for i in range(0, len(w), 97):
        assert w[i] == i & 255
    b = http.pattern_bytes(250, 140000)  # longer than the window: two copies
    for i in range(0, 140000, 97):
        assert b[i] == (250 + i) & 255
    dst = bytearray(10)
    http.fill_pattern(dst, 3, 4, 254)
    assert bytes(dst) == b"\x00\x00\x00\xfe\xff\x00\x01\x00\x00\x00"


def test_page_lists_every_counter():
    p = Pair(serve=False)
    body = http.page(p.a)
    vals = http.parse_page(body)
    from ethox_uk.stack.counters import NAMES

    for n in NAMES:
        assert n in vals
    assert body.startswith(b"<!DOCTYPE html>")


def test_http_ring_goes_back_at_time_wait():
    # Connection: close: the service closes first and sits in TIME-WAIT for
    # 2 MSL; its 16 KiB ring is free from the moment both streams are over
    p = Pair()
    svc = p.svcs[3]
    k = p.connect(80)
    ca = p.ca(k)
    _http(p, k, b"GET /bytes/10 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert p.run(lambda: ca.half_closed)
    p.app.close(k, p.now)
    assert p.run(lambda: ca.closed)
    ka = p.a.tcp.keys()
    assert [p.a.tcp.state_name(x) for x in ka] == ["TIME-WAIT"]
    assert svc.active == 0 and len(svc.spare) == 1
    assert p.a.tcp.connection(ka[0]).rbuf is None
    assert p.run(lambda: not p.a.tcp.keys(), 70000)
    assert svc.active == 0 and len(svc.spare) == 1
    p.ok()


def test_qotd_sends_the_quote_closes_and_resets_late_data():
    p = Pair()
    qotd = p.svcs[4]
    k = p.connect(17)
    ca = p.ca(k)
    assert p.run(lambda: ca.half_closed)
    assert bytes(ca.received) == services.QUOTE and qotd.served == 1
    # the server's socket is closed: data sent now is answered with a RST
    p.app.push(k, b"thanks!", p.now)
    assert p.run(lambda: ca.closed)
    assert ca.reset and p.a.counters["tcp_data_after_close"] == 1
    assert p.a.tcp.keys() == []
    # a client that just closes ends it cleanly
    k = p.connect(17)
    ca = p.ca(k)
    assert p.run(lambda: ca.half_closed)
    p.app.close(k, p.now)
    assert p.run(lambda: ca.closed) and not ca.reset and qotd.served == 2
    p.ok(tcp_data_after_close=1)
