# The services (services.py, http.py) against hostile and careless peers
# (issue 11): UDP echo loops, request bodies, header dribble, idle timeouts.
# Stack A serves, stack B (or injected frames) plays the peer; simulated time.
import support
from support import (ip_stack, stack_rx, prime_arp, frame_in, ipv4_pkt, udp_dgram,
                     counters_are, two_stacks, run_both,
                     OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, SUBNET_BCAST, ALL_ONES, BCAST_MAC)
from ethox_uk.stack import services, http
from ethox_uk.stack.config import Config
from test_services import Pair, _http, _responses


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
    from ethox_uk.stack.layer.tcp.mux import RecvRing

    rb = RecvRing(16)
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
    c = Config(words={"http_max_body": "5000", "http_head_timeout": "2",
                      "http_keepalive_timeout": "0", "http_idle_timeout": "7"})
    lim = http.Limits.from_config(c)
    assert (lim.max_body, lim.head_ms, lim.keepalive_ms, lim.idle_ms) == (5000, 2000, 0, 7000)
    lim = http.Limits.from_config(Config())
    assert (lim.max_body, lim.head_ms, lim.keepalive_ms, lim.idle_ms) == (
        1048576, 20000, 15000, 60000)
    assert Config(words={"t": "0050"}).word_ms("t", 1) == 50000
    for bad in ("-1", "1e3", "", "ten", "1.", "2.5", ".5", "9" * 10):
        e = support.raises(ValueError, Config(words={"t": bad}).word_ms, "t", 1)
        assert "t=" in str(e)
    for bad in ("-1", "1.5", "x", "9" * 13):
        e = support.raises(ValueError, Config(words={"n": bad}).word_int, "n", 1)
        assert "n=" in str(e)
    a = Pair(serve=False).a
    a.config.words["http_head_timeout"] = "soon"
    e = support.raises(ValueError, services.serve_http, a)  # at start, naming the word
    assert "http_head_timeout" in str(e)


# -- idle timeouts (issue 11 item 1, the services' part) -------------------------------
def _a_keys(p):
    return len(p.a.tcp.keys())


def _until(p, cond, limit=200000):
    """Like Pair.run, but cond is checked after every step and an idle jump
    never passes the next timer of either stack (times measured stay exact)."""
    end = p.now + limit
    while p.now < end:
        if cond():
            return True
        p.step()
        if cond():
            return True
        if not (p.na.pending() or p.nb.pending()):
            t = -1
            for st in (p.a, p.b):
                x = st.next_timeout(p.now)
                if x >= 0 and (t < 0 or x < t):
                    t = x
            if t < 0 or t > end - p.now:
                t = end - p.now
            if t > 1:
                p.now += t - 1
    return cond()


def _settle(p, ms=2000):
    _until(p, lambda: False, ms)


def test_silent_echo_client_is_closed_then_reset():
    p = _serving()
    k = p.connect(7)
    ca = p.ca(k)
    t0 = p.now
    _settle(p)
    # the only timer A keeps is the idle deadline: no periodic wake-up
    assert 57900 <= p.a.next_timeout(p.now) <= 58000
    assert not _until(p, lambda: ca.half_closed, 59000 - (p.now - t0))
    assert _until(p, lambda: ca.half_closed, 2000)  # FIN at 60 s
    assert 60000 <= p.now - t0 <= 60100
    # B never closes its side: 10 s later A resets the connection
    assert _until(p, lambda: ca.closed, 11000)
    assert ca.reset and _a_keys(p) == 0
    assert 70000 <= p.now - t0 <= 70100
    assert p.svcs[0].active == 0
    assert p.a.next_timeout(p.now) == -1  # nothing left to watch
    p.ok(svc_idle_closed=1, svc_idle_reset=1, tcp_aborts_sent=1)


def test_progress_keeps_a_connection_open():
    p = _serving()
    k = p.connect(7)
    ca = p.ca(k)
    for i in range(6):  # a byte every 50 s for five minutes
        _until(p, lambda: False, 50000)
        _http(p, k, b"x")
    _until(p, lambda: False, 100)
    assert bytes(ca.received) == b"xxxxxx" and not ca.half_closed
    p.ok()


def test_discard_and_chargen_time_out_too():
    p = _serving()
    kd = p.connect(9)
    kc = p.connect(19)
    cd = p.ca(kd)
    cc = p.ca(kc)
    cc.consume = False  # a chargen client that stops reading: the window closes
    assert _until(p, lambda: cd.half_closed and cc.closed, 90000)
    assert cd.reset and cc.reset  # B never closes: both reset after the grace
    p.ok(svc_idle_closed=2, svc_idle_reset=2, tcp_aborts_sent=2,
         tcp_probes_sent=p.a.counters["tcp_probes_sent"])


def test_service_timeouts_from_boot_words():
    p = _serving(["svc_idle_timeout=5", "http_keepalive_timeout=3"])
    k = p.connect(7)
    t0 = p.now
    assert _until(p, lambda: p.ca(k).half_closed, 10000)
    assert 5000 <= p.now - t0 <= 5100
    k = p.connect(80)
    t0 = p.now
    assert _until(p, lambda: p.ca(k).half_closed, 10000)
    assert 3000 <= p.now - t0 <= 3100
    p = _serving(["svc_idle_timeout=0", "http_keepalive_timeout=0"])
    k = p.connect(7)
    k2 = p.connect(80)
    _settle(p)
    assert p.a.next_timeout(p.now) == -1
    _until(p, lambda: False, 3600000)  # an hour: never closed
    assert not p.ca(k).half_closed and not p.ca(k2).half_closed
    p.ok()


def test_idle_keep_alive_http_connection_closes_gracefully():
    p = _serving()
    k = p.connect(80)
    ca = p.ca(k)
    _http(p, k, b"GET /bytes/3 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert _until(p, lambda: ca.received.endswith(b"\x00\x01\x02"))
    t0 = p.now
    assert _until(p, lambda: ca.half_closed, 20000)
    assert 15000 <= p.now - t0 <= 15100  # http_keepalive_timeout
    assert [r[0] for r in _responses(bytes(ca.received))] == [200]
    p.app.close(k, p.now)  # a client that answers the FIN: no reset
    assert _until(p, lambda: ca.closed)
    assert not ca.reset
    p.ok(svc_idle_closed=1)


def test_dribbled_request_head_gets_408_after_head_timeout():
    p = _serving()
    k = p.connect(80)
    ca = p.ca(k)
    head = b"GET /bytes/3 HTTP/1.1\r\nHost: a\r\nX: slow"
    _http(p, k, head[:3])
    t0 = p.now
    i = 3
    while not ca.half_closed and p.now - t0 < 60000:  # one byte every 4 s
        _until(p, lambda: ca.half_closed, 4000)
        if i < len(head):
            _http(p, k, head[i:i + 1])
            i += 1
    assert 20000 <= p.now - t0 <= 20100  # http_head_timeout from the first byte
    rs = _responses(bytes(ca.received))
    assert [r[0] for r in rs] == [408] and rs[0][1]["connection"] == "close"
    p.app.close(k, p.now)
    assert _until(p, lambda: ca.closed)
    p.ok(http_head_timeout=1)


def test_http_client_that_stops_reading_is_reset():
    p = _serving()
    k = p.connect(80)
    ca = p.ca(k)
    ca.consume = False  # takes 64 KiB, then its window stays shut
    _http(p, k, b"GET /bytes/10000000 HTTP/1.1\r\nHost: a\r\n\r\n")
    t0 = p.now
    assert _until(p, lambda: ca.closed, 200000)
    assert ca.reset
    # the window shut ~1 s in; 60 s without progress after that
    # (http_idle_timeout), the FIN cannot go, 10 s later: RST
    assert 71000 <= p.now - t0 <= 72000
    p.ok(svc_idle_closed=1, svc_idle_reset=1, tcp_aborts_sent=1,
         tcp_probes_sent=p.a.counters["tcp_probes_sent"])


def test_silent_clients_no_longer_hold_every_slot():
    # 128 clients connect to HTTP and say nothing: before, every slot of A's
    # TCP stayed taken for ever and the next client got no SYN-ACK
    p = _serving()
    p.a.tcp.per_source = 0  # one address plays 128 clients (the per-source cap has its tests)
    p.b.tcp = None
    from ethox_uk.stack.layer.tcp import TcpLayer

    p.b.tcp = TcpLayer(p.b, p.app, slots=256)
    p.app.layer = p.b.tcp
    keys = []
    for i in range(128):  # 8 at a time: A's SYN queue holds 32
        keys.append(p.app.connect(p.now, support.OUR_IP, 80, 20000 + i))
        if i % 8 == 7:
            _until(p, lambda: False, 20)
    assert _until(p, lambda: _a_keys(p) == 128)
    late = p.app.connect(p.now, support.OUR_IP, 80, 30000)
    _until(p, lambda: False, 3000)
    assert p.b.tcp.state_name(late) != "ESTABLISHED"  # no slot for it yet
    assert _until(p, lambda: _a_keys(p) == 0, 60000)  # 15 s idle + 10 s grace
    for k in keys:
        assert p.ca(k).closed
    k = p.connect(80)
    _http(p, k, b"GET /bytes/2 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert _until(p, lambda: p.ca(k).received.endswith(b"\x00\x01"))
    assert p.a.counters["svc_idle_closed"] == 128 and p.a.counters["svc_idle_reset"] == 128
    assert p.a.counters["internal_error"] == 0
