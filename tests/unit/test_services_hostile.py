# The services (services.py, http.py) against hostile and careless peers
# (issue 11): UDP echo loops, request bodies, header dribble, idle timeouts.
# Stack A serves, stack B (or injected frames) plays the peer; simulated time.
import support
from support import (ip_stack, stack_rx, prime_arp, frame_in, ipv4_pkt, udp_dgram,
                     counters_are, two_stacks, run_both,
                     OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, SUBNET_BCAST, ALL_ONES, BCAST_MAC)
from ethox_uk.stack import services


# -- UDP echo ------------------------------------------------------------------------
def _dgram_to(dst, sport, payload=b"ping", src=PEER_IP, src_mac=PEER_MAC, dst_mac=None):
    if dst_mac is None:
        dst_mac = OUR_MAC if dst == OUR_IP else BCAST_MAC
    return frame_in(ipv4_pkt(src, dst, 17, udp_dgram(src, dst, sport, 7, payload)),
                    dst_mac=dst_mac, src_mac=src_mac)


def test_udp_echo_ignores_broadcasts_and_well_known_source_ports():
    s, peer = ip_stack()
    services.serve_udp_echo(s)
    prime_arp(s, peer)
    for dst in (SUBNET_BCAST, ALL_ONES):
        assert stack_rx(s, peer, _dgram_to(dst, 40000)) == []
    for sport in (7, 13, 19, 37, 1023):
        assert stack_rx(s, peer, _dgram_to(OUR_IP, sport)) == []
    out = stack_rx(s, peer, _dgram_to(OUR_IP, 1024, b"still served"))
    assert len(out) == 1 and support.ip_of(out[0]).endswith(b"still served")
    counters_are(s, udp_rx=8, udp_tx=1, udp_echo_refused=7)


def test_udp_echo_loop_between_two_servers_is_gone():
    # A spoofed datagram "from B:7" to A:7: before, A echoed it to B:7, B
    # echoed that back to A:7, and so on for ever.
    A, B = two_stacks()
    services.serve_udp_echo(A)
    services.serve_udp_echo(B)
    B.udp.send(A.ip_addr, 7, 7, b"bounce", 0)  # B's own echo port as the source
    run_both(A, B, 0, 2000)
    assert A.counters["udp_rx"] == 1 and A.counters["udp_tx"] == 0
    assert B.counters["udp_rx"] == 0
    counters_are(A, udp_rx=1, udp_echo_refused=1)
    # a client on an ordinary port is still answered
    got = []
    B.udp.bind(40000, lambda v, o, n, src, sp, now: got.append(bytes(v[o:o + n])))
    B.udp.send(A.ip_addr, 7, 40000, b"hello", 2000)
    run_both(A, B, 2000, 2100)
    assert got == [b"hello"]
    counters_are(A, udp_rx=2, udp_tx=1, udp_echo_refused=1)


# -- HTTP on the echo image's service ------------------------------------------------
from test_services import Pair, _http, _responses  # noqa: E402


def _http_conn(p):
    """The server side (an HttpConn) of the only HTTP connection on A."""
    for h in p.a.tcp.user.conns.values():
        if isinstance(h, services.HttpConn):
            return h
    raise AssertionError("no HTTP connection on A")


def _count_scans(rb):
    """Make rb record how many buffered bytes its find/peek calls look at."""
    seen = [0]
    find = rb.find
    peek = rb.peek

    def counting_find(byte, limit=-1, start=0):
        n = rb.count if limit < 0 or limit > rb.count else limit
        if n > start:
            seen[0] += n - start
        return find(byte, limit, start)

    def counting_peek(n=-1):
        seen[0] += rb.count if n < 0 or n > rb.count else n
        return peek(n)

    rb.find = counting_find
    rb.peek = counting_peek
    return seen


def test_http_head_dribble_scans_each_byte_once():
    p = Pair()
    k = p.connect(80)
    ca = p.ca(k)
    head = b"GET /bytes/5 HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"y" * 6000 + b"\r\n\r\n"
    _http(p, k, head[:10])
    p.run(lambda: False, 5)
    seen = _count_scans(_http_conn(p).rb)
    for i in range(10, len(head), 40):  # 40-byte segments: 151 of them
        _http(p, k, head[i:i + 40])
        p.run(lambda: False, 3)
    assert p.run(lambda: ca.received.endswith(b"\x00\x01\x02\x03\x04"))
    # before: every segment re-read the whole head so far (~450 KB here)
    assert seen[0] <= 3 * len(head), seen[0]
    assert [r[0] for r in _responses(bytes(ca.received))] == [200]
    p.ok()


def test_http_head_end_found_across_segment_edges():
    # the blank line split at every place, CRLF and bare LF
    for head in (b"GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n", b"GET /bytes/1 HTTP/1.1\nHost: a\n\n",
                 b"GET /bytes/1 HTTP/1.1\r\nHost: a\n\r\n"):
        for cut in range(len(head) - 4, len(head)):
            p = Pair()
            k = p.connect(80)
            ca = p.ca(k)
            _http(p, k, head[:cut])
            p.run(lambda: False, 5)
            assert ca.received == bytearray()
            _http(p, k, head[cut:])
            assert p.run(lambda: ca.received.endswith(b"\r\n\r\n\x00")), (head, cut)
            p.ok()


def test_recv_ring_find_from_an_offset_across_the_wrap():
    from ethox_uk.stack.socket import _RecvRing

    rb = _RecvRing(16)
    rb.start(0)
    rb.receive(memoryview(b"0123456789"), 0, 10, 0)
    rb.skip(10)
    rb.receive(memoryview(b"ab\ncd\nefgh\nij"), 0, 13, 10)  # wraps after "ab\ncd\n"
    assert rb.count == 13
    assert [rb.at(i) for i in range(13)] == list(b"ab\ncd\nefgh\nij")
    assert rb.find(10) == 2 and rb.find(10, -1, 3) == 5 and rb.find(10, -1, 6) == 10
    assert rb.find(10, 10, 6) == -1 and rb.find(10, -1, 11) == -1 and rb.find(10, 3, 5) == -1
    assert rb.find(ord("h")) == 9 and rb.find(ord("a"), -1, 1) == -1


# -- request bodies and the cap (boot words) -------------------------------------------
from ethox_uk.stack import http  # noqa: E402
from ethox_uk.stack.config import Config  # noqa: E402


def _serving(words=()):
    p = Pair(serve=False)
    for w in words:
        k, v = w.split("=")
        p.a.config.words[k] = v
    p.svcs = services.serve_all(p.a)
    return p


def test_http_service_body_over_the_cap_gets_413_and_close():
    p = _serving(["http_max_body=1000"])
    k = p.connect(80)
    ca = p.ca(k)
    _http(p, k, b"GET /bytes/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n" + b"x" * 1001)
    assert p.run(lambda: ca.half_closed)
    rs = _responses(bytes(ca.received))
    assert [r[0] for r in rs] == [413] and rs[0][1]["connection"] == "close"
    assert b"http_max_body" in rs[0][2]
    p.app.close(k, p.now)
    assert p.run(lambda: ca.closed)
    p.ok()


def test_http_service_streams_a_large_body_past_and_serves_on():
    p = _serving(["http_max_body=2000000"])
    k = p.connect(80)
    ca = p.ca(k)
    n = 1500000
    _http(p, k, b"GET /bytes/1 HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % n)
    left = [n]
    zeros = bytes(4096)

    def source(c):
        while left[0] > 0:
            m = c.sb.write(zeros, 0, min(left[0], 4096))
            if not m:
                return
            left[0] -= m
        if left[0] == 0:
            c.sb.write(b"GET /bytes/2 HTTP/1.1\r\nHost: a\r\n\r\n")
            left[0] = -1

    ca.source = source
    source(ca)
    p.app.push(k, b"", p.now)
    assert p.run(lambda: ca.received.endswith(b"\r\n\r\n\x00\x01"), 600000)
    assert [r[0] for r in _responses(bytes(ca.received))] == [200, 200]
    assert _http_conn(p).rb.cap == services.HTTP_RING  # 16 KiB held, whatever the body
    p.ok()


def test_boot_words_for_limits():
    c = Config(words={"http_max_body": "5000", "http_head_timeout": "2.5",
                      "http_keepalive_timeout": "0", "http_idle_timeout": "7"})
    lim = http.Limits.from_config(c)
    assert (lim.max_body, lim.head_ms, lim.keepalive_ms, lim.idle_ms) == (5000, 2500, 0, 7000)
    lim = http.Limits.from_config(Config())
    assert (lim.max_body, lim.head_ms, lim.keepalive_ms, lim.idle_ms) == (
        1048576, 20000, 15000, 60000)
    assert Config(words={"t": "0.05"}).word_ms("t", 1) == 50
    for bad in ("-1", "1e3", "", "ten", "1.", "1.2345", ".5"):
        e = support.raises(ValueError, Config(words={"t": bad}).word_ms, "t", 1)
        assert "t=" in str(e)
    for bad in ("-1", "1.5", "x", "9" * 13):
        e = support.raises(ValueError, Config(words={"n": bad}).word_int, "n", 1)
        assert "n=" in str(e)
    a = Pair(serve=False).a
    a.config.words["http_head_timeout"] = "soon"
    e = support.raises(ValueError, services.serve_http, a)  # at start, naming the word
    assert "http_head_timeout" in str(e)
