# The DNS stub resolver (ethox_uk/stack/resolver.py, wire/dns.py) against a test
# playing the server, on simulated time: the query's form, answers matched to
# the question (RFC 5452 §9.1), random IDs and ports (§9.2), CNAMEs, the TTL
# cache, retries and rotation, rcodes, malformed answers, and getaddrinfo.
import errno

import support
from support import counters_are, PEER_IP
from dns_support import (A, AAAA, CNAME, answer, dns_stack, queries, question, reply_frame,
                         resolver_of, rr)
from ethox_uk.stack import socket
from ethox_uk.stack.wire import dns as W

ALPHA = b"\x0a\x00\x02\x07"


def _lookup(stack, peer, name="alpha.test", qtype=A, now=10):
    q = resolver_of(stack).lookup(name, qtype, now)
    sent = queries(peer.frames())
    return q, sent


def test_encode_name():
    assert W.encode_name("Alpha.Test.") == b"\x05alpha\x04test\x00"
    assert W.encode_name("a") == b"\x01a\x00"
    for bad, why in (("", "empty"), ("a..b", "empty label"), ("a" * 64 + ".b", "63"),
                     ("a b", "character"), ("caf\xe9.test", "character"),
                     (".".join(["a" * 63] * 4), "255")):
        e = support.raises(ValueError, W.encode_name, bad)
        assert why in str(e), (bad, str(e))


def test_query_form_and_answer():
    stack, peer = dns_stack()
    q, sent = _lookup(stack, peer)
    assert not q.done and len(sent) == 1
    f, ip, sport, dport, msg = sent[0]
    assert ip[16:20] == PEER_IP and dport == 53 and 1024 <= sport <= 65535
    qid, qn, qt, end = question(msg)
    assert msg[2:4] == b"\x01\x00" and msg[4:6] == b"\x00\x01" and msg[6:12] == bytes(6)
    assert qn == b"\x05alpha\x04test\x00" and qt == A and msg[end - 2:end] == b"\x00\x01"
    assert len(msg) == end
    rec = [rr(b"\xc0\x0c", A, 300, ALPHA), rr(b"\xc0\x0c", A, 200, b"\x0a\x00\x02\x08")]
    support.stack_rx(stack, peer, reply_frame(sent[0], answer(msg, rec)), 20)
    assert q.done and q.error == 0 and q.addrs == [ALPHA, b"\x0a\x00\x02\x08"] and q.ttl == 200
    r = resolver_of(stack)
    assert r.timer_at == -1 and not stack.udp.is_bound(sport)  # nothing left running
    counters_are(stack, dns_queries_sent=1, dns_rx=1, udp_tx=1, udp_rx=1)


def test_cache_honours_ttl_and_bounds():
    stack, peer = dns_stack()
    q, sent = _lookup(stack, peer, now=0)
    msg = sent[0][4]
    support.stack_rx(stack, peer, reply_frame(sent[0], answer(msg, [rr("alpha.test", A, 5,
                                                                        ALPHA)])), 10)
    q2, sent2 = _lookup(stack, peer, "ALPHA.test.", now=4000)
    assert q2.done and q2.addrs == [ALPHA] and sent2 == []  # from the cache, case-blind
    q3, sent3 = _lookup(stack, peer, now=5010)  # 5 s after the answer: asked again
    assert not q3.done and len(sent3) == 1
    # TTL 0: used once, never cached
    support.stack_rx(stack, peer, reply_frame(sent3[0], answer(sent3[0][4], [rr(
        "alpha.test", A, 0, ALPHA)])), 5020)
    assert q3.addrs == [ALPHA]
    q4, sent4 = _lookup(stack, peer, now=5030)
    assert len(sent4) == 1
    # at most CACHE_SIZE names, the one expiring first goes; TTLs capped at MAX_TTL
    r = resolver_of(stack)
    from ethox_uk.stack import resolver as R

    for i in range(R.CACHE_SIZE + 3):
        qi, si = _lookup(stack, peer, "h%d.test" % i, now=6000)
        ttl = 1000 + i if i else 10 ** 6
        support.stack_rx(stack, peer, reply_frame(si[0], answer(si[0][4], [rr(
            "h%d.test" % i, A, ttl, ALPHA)])), 6000)
        assert qi.addrs == [ALPHA]
    assert len(r.cache) == R.CACHE_SIZE
    assert r.cached(W.encode_name("h0.test"), A, 6000) is not None  # capped, kept longest
    assert r.cache[(W.encode_name("h0.test"), A)][0] == 6000 + 1000 * R.MAX_TTL
    for i in (1, 2, 3):
        assert r.cached(W.encode_name("h%d.test" % i), A, 6000) is None  # expiring first
    assert r.cached(W.encode_name("h4.test"), A, 6000) is not None
    n = R.CACHE_SIZE + 3
    counters_are(stack, dns_queries_sent=3 + n, dns_rx=2 + n, udp_tx=3 + n, udp_rx=2 + n)


def test_cname_chain_and_aaaa():
    stack, peer = dns_stack()
    q, sent = _lookup(stack, peer, "www.test", AAAA)
    msg = sent[0][4]
    six = bytes(range(0x20, 0x30))
    rec = [rr(b"\xc0\x0c", CNAME, 600, W.encode_name("web.test")),
           rr("web.test", CNAME, 60, b"\x04real\xc0\x10"),  # compressed: "real" + ".test"
           rr("other.test", AAAA, 60, bytes(16)),  # not on the chain: ignored
           rr("real.test", AAAA, 120, six)]
    support.stack_rx(stack, peer, reply_frame(sent[0], answer(msg, rec)), 20)
    assert q.error == 0 and q.addrs == [six] and q.ttl == 60


def test_answers_not_matching_the_query_are_ignored():
    stack, peer = dns_stack()
    q, sent = _lookup(stack, peer)
    msg = sent[0][4]
    good = answer(msg, [rr(b"\xc0\x0c", A, 60, ALPHA)])
    qid = (msg[0] << 8) | msg[1]
    bad = [
        reply_frame(sent[0], answer(msg, [rr(b"\xc0\x0c", A, 60, b"\x06\x06\x06\x06")],
                                    ident=qid ^ 0x5555)),  # another ID
        reply_frame(sent[0], good, src_ip=b"\x0a\x00\x02\x09"),  # a server not asked
        reply_frame(sent[0], good, sport=5353),  # not from port 53
        reply_frame(sent[0], answer(msg, [], qname=W.encode_name("beta.test"))),
        reply_frame(sent[0], answer(msg, [], qtype=AAAA)),
        reply_frame(sent[0], answer(msg, [], qdcount=2)),
    ]
    for f in bad:
        assert support.stack_rx(stack, peer, f, 20) == []
        assert not q.done
    assert stack.counters["dns_not_ours"] == len(bad)
    support.stack_rx(stack, peer, reply_frame(sent[0], good), 30)
    assert q.done and q.addrs == [ALPHA]
    counters_are(stack, dns_queries_sent=1, dns_rx=1, udp_tx=1, udp_rx=len(bad) + 1,
                 dns_not_ours=len(bad))


def test_malformed_answers_are_counted_drops():
    stack, peer = dns_stack()
    q, sent = _lookup(stack, peer)
    msg = sent[0][4]
    qid, qn, qt, end = question(msg)
    loop = answer(msg, [b"\xc0\x1d" + rr(b"", A, 60, ALPHA)[1:]])  # a pointer to itself
    fwd = answer(msg, [b"\xc0\x40" + rr(b"", A, 60, ALPHA)[1:]])  # forward pointer
    short = answer(msg, [rr(b"\xc0\x0c", A, 60, ALPHA)])[:-2]  # rdata cut short
    wrong_len = answer(msg, [rr(b"\xc0\x0c", A, 60, b"\x01\x02\x03")])
    label_type = answer(msg, [b"\x80" + rr(b"", A, 60, ALPHA)[1:]])
    not_response = answer(msg, [], flags=0x0100)
    bad_opcode = answer(msg, [], flags=0x8900)
    cases = [(loop, "dns_bad_format"), (fwd, "dns_bad_format"), (short, "dns_bad_format"),
             (wrong_len, "dns_bad_format"), (label_type, "dns_bad_format"),
             (not_response, "dns_bad_format"), (bad_opcode, "dns_bad_format"),
             (msg[:11], "dns_truncated"), (answer(msg, [])[:end - 2], "dns_truncated")]
    n = {}
    for m, reason in cases:
        support.stack_rx(stack, peer, reply_frame(sent[0], m), 20)
        n[reason] = n.get(reason, 0) + 1
        assert stack.counters[reason] == n[reason], reason
        assert not q.done
    support.stack_rx(stack, peer, reply_frame(sent[0], answer(msg, [rr(b"\xc0\x0c", A, 60,
                                                                       ALPHA)])), 30)
    assert q.addrs == [ALPHA]
    counters_are(stack, dns_queries_sent=1, dns_rx=1, udp_tx=1, udp_rx=len(cases) + 1, **n)


def test_ids_and_ports_vary():
    stack, peer = dns_stack()
    ids, ports = set(), set()
    for i in range(40):
        q, sent = _lookup(stack, peer, "n%d.test" % i, now=10 + i)
        ids.add(question(sent[0][4])[0])
        ports.add(sent[0][2])
    assert len(ids) >= 38 and len(ports) >= 38  # 16-bit ID, ~16-bit port: random
    assert len(resolver_of(stack).queries) == 40


def test_retries_rotate_servers_then_time_out():
    stack, peer = dns_stack("ip=10.0.2.15/24 gw=10.0.2.2 dns=10.0.2.2,10.0.2.3")
    support.prime_arp(stack, peer, peer_ip=b"\x0a\x00\x02\x03")
    q, sent = _lookup(stack, peer, now=0)
    times = [(0, sent[0][1][16:20], sent[0][2], question(sent[0][4])[0])]
    t = 0
    while not q.done and t < 20000:
        t += 10
        stack.poll(t)
        for s in queries(peer.frames()):
            times.append((t, s[1][16:20], s[2], question(s[4])[0]))
    assert [x[0] for x in times] == [0, 1000, 3000], times  # waits of 1 s, 2 s (then 4 s)
    assert [x[1][3] for x in times] == [2, 3, 2]  # servers in turn
    assert len(set([(x[2], x[3]) for x in times])) == 1  # one port and ID per query
    assert q.done and q.error == socket.EAI_AGAIN and t == 7000
    assert "10.0.2.2, 10.0.2.3" in q.reason and "3 tries" in q.reason
    # a late answer: its port is closed now (ICMP port unreachable), counted
    assert stack.counters["dns_timeouts"] == 1 and resolver_of(stack).timer_at == -1


def test_rcodes():
    stack, peer = dns_stack("ip=10.0.2.15/24 gw=10.0.2.2 dns=10.0.2.2,10.0.2.3")
    support.prime_arp(stack, peer, peer_ip=b"\x0a\x00\x02\x03")
    q, sent = _lookup(stack, peer, "gone.test")
    support.stack_rx(stack, peer, reply_frame(sent[0], answer(sent[0][4], [], rcode=3)), 20)
    assert q.error == -2 and "does not exist" in q.reason
    q, sent = _lookup(stack, peer, "nodata.test")
    support.stack_rx(stack, peer, reply_frame(sent[0], answer(sent[0][4], [])), 20)
    assert q.error == -2 and "no A record" in q.reason
    # SERVFAIL from the first server: the next one is asked at once
    q, sent = _lookup(stack, peer, "flaky.test")
    nxt = support.stack_rx(stack, peer, reply_frame(sent[0], answer(sent[0][4], [],
                                                                    rcode=2)), 20)
    s2 = queries(nxt)
    assert not q.done and len(s2) == 1 and s2[0][1][16:20] == b"\x0a\x00\x02\x03"
    support.stack_rx(stack, peer, reply_frame(s2[0], answer(s2[0][4], [rr(
        b"\xc0\x0c", A, 60, ALPHA)]), src_ip=b"\x0a\x00\x02\x03"), 30)
    assert q.addrs == [ALPHA]
    # REFUSED everywhere: EAI_FAIL
    q, sent = _lookup(stack, peer, "refused.test")
    s = sent[0]
    t = 40
    for i in range(3):
        src = s[1][16:20]
        nxt = queries(support.stack_rx(stack, peer, reply_frame(s, answer(s[4], [], rcode=5),
                                                                src_ip=src), t))
        t += 10
        if i < 2:
            s = nxt[0]
    assert q.error == -4 and "refused" in q.reason, q.reason


def test_no_server_and_bad_names_fail_without_traffic():
    stack, peer = dns_stack("ip=10.0.2.15/24 gw=10.0.2.2")
    q, sent = _lookup(stack, peer)
    assert q.done and q.error == -3 and "dns=" in q.reason and sent == []
    stack, peer = dns_stack()
    q, sent = _lookup(stack, peer, "a..b")
    assert q.done and q.error == -2 and sent == []


ANSWERS = {}  # the played server's records: {(qname wire, qtype): [records]}


def _sock_net(words="ip=10.0.2.15/24 gw=10.0.2.2 dns=10.0.2.2"):
    """A stack with socket.use(): the idle hook plays the server for the frames
    the stack sends (answers = {(qname text, qtype): [records]})."""
    stack, peer = dns_stack(words)
    clock = support.SimClock(step=1)
    served = []

    def idle(ms):
        clock.t += ms
        for s in queries(peer.frames()):
            qid, qn, qt, end = question(s[4])
            served.append((qn, qt))
            recs = ANSWERS.get((qn, qt))
            if recs is None:
                m = answer(s[4], [], rcode=3)
            else:
                m = answer(s[4], recs)
            stack.nic.inject(reply_frame(s, m))

    socket.use(stack, clock=clock, idle=idle)
    return stack, peer, served


def test_getaddrinfo():
    ANSWERS.clear()
    ANSWERS.update({
        (W.encode_name("alpha.test"), A): [rr(b"\xc0\x0c", A, 60, ALPHA)],
        (W.encode_name("six.test"), AAAA): [rr(b"\xc0\x0c", AAAA, 60,
                                               b"\x20\x01\x0d\xb8" + bytes(11) + b"\x07")],
    })
    stack, peer, served = _sock_net()
    ga = socket.getaddrinfo
    assert ga("alpha.test", 80) == [(2, 1, 0, "", ("10.0.2.7", 80))]
    assert ga("alpha.test", "53", 0, socket.SOCK_DGRAM) == [(2, 2, 0, "", ("10.0.2.7", 53))]
    assert len(served) == 1  # the second came from the cache
    assert ga("six.test", 80, socket.AF_INET6) == [(10, 1, 0, "", ("2001:db8::7", 80))]
    e = support.raises(OSError, ga, "nowhere.test", 80)
    assert e.args[0] == -2 and "nowhere.test does not exist" in e.args[1]
    n = len(served)
    # numbers and localhost never touch the network
    assert ga("10.1.2.3", 7) == [(2, 1, 0, "", ("10.1.2.3", 7))]
    assert ga("FE80::0:1", 7) == [(10, 1, 0, "", ("fe80::1", 7))]
    assert ga("localhost", 7) == [(2, 1, 0, "", ("127.0.0.1", 7))]
    assert ga("LocalHost.", 7, socket.AF_INET6) == [(10, 1, 0, "", ("::1", 7))]
    assert support.raises(OSError, ga, "10.1.2.3", 7, socket.AF_INET6).args[0] == -2
    assert support.raises(OSError, ga, "::1", 7, socket.AF_INET).args[0] == -2
    assert support.raises(OSError, ga, "1.2.3.4.5", 7).args[0] == -2
    assert support.raises(OSError, ga, "alpha.test", 7, 99).args[0] == -6
    for bad in (-1, 65536, "http", None):
        assert support.raises(OSError, ga, "alpha.test", bad).args[0] == -8
    assert len(served) == n
    counters_are(stack, dns_queries_sent=3, dns_rx=3, udp_tx=3, udp_rx=3)


def test_aio_open_connection_resolves_without_blocking():
    # B serves TCP echo at 10.0.2.2:7 and answers A queries for echo.test in place
    from ethox_uk.stack import aio, services

    aio.reset()
    A_, B = support.two_stacks()
    A_.config.dns = [PEER_IP]
    services.serve_echo(B, 7)
    clock = support.SimClock(step=1)

    def dns(view, off, n, src_off, sport, now):
        r = answer(bytes(view[off:off + n]), [rr(b"\xc0\x0c", A, 60, PEER_IP)])
        view[off:off + len(r)] = r
        return len(r)

    B.udp.bind(53, dns)

    def idle(ms):
        A_.poll(clock.t)
        B.poll(clock.t)

    socket.use(A_, clock=clock, idle=idle)
    got = []

    async def client():
        r, w = await aio.open_connection("echo.test", 7)
        w.write(b"hello")
        await w.drain()
        got.append(await r.readexactly(5))
        w.close()

    aio.run(client())
    assert got == [b"hello"]
    assert A_.counters["dns_queries_sent"] == 1 and A_.counters["internal_error"] == 0


def test_truncated_answer_is_asked_again_over_tcp():
    # B: UDP answers come back truncated (TC, no records); over TCP (RFC 1035
    # §4.2.2: a 2-byte length first) the whole answer, 40 addresses
    A_, B = support.two_stacks()
    A_.config.dns = [PEER_IP]
    clock = support.SimClock(step=1)
    many = [rr(b"\xc0\x0c", A, 60, bytes((10, 9, 0, i))) for i in range(1, 41)]

    def udp53(view, off, n, src_off, sport, now):
        r = answer(bytes(view[off:off + n]), [], tc=True)
        view[off:off + len(r)] = r
        return len(r)

    B.udp.bind(53, udp53)
    lst = socket.TcpSocket(B)
    lst.setblocking(False)
    lst.bind(("", 53))
    lst.listen(2)
    conns = []

    def serve():
        try:
            c, _ = lst.accept()
            c.setblocking(False)
            conns.append([c, b""])
        except OSError:
            pass
        for e in conns:
            d = e[0].read(512)
            if d:
                e[1] += d
            m = e[1]
            if len(m) >= 2 and len(m) >= 2 + (m[0] << 8 | m[1]):
                r = answer(m[2:], many)
                e[0].write(bytes(((len(r) >> 8) & 255, len(r) & 255)) + r)
                e[1] = b"x"  # answered

    def idle(ms):
        A_.poll(clock.t)
        B.poll(clock.t)
        serve()

    socket.use(A_, clock=clock, idle=idle)
    ai = socket.getaddrinfo("many.test", 80)
    assert len(ai) == 40 and ai[0][4] == ("10.9.0.1", 80) and ai[39][4] == ("10.9.0.40", 80)
    c = A_.counters
    assert c["dns_queries_sent"] == 1 and c["dns_tcp_queries_sent"] == 1 and c["dns_rx"] == 2
    assert c["internal_error"] == 0 and resolver_of(A_).queries == []


def test_http_resolve_trigger():
    # A serves HTTP with GET /resolve/NAME; B is its name server and the HTTP client.
    # B holds each answer back ~50 ms, so the response must wait for the lookup.
    from ethox_uk.stack import services

    A_, B = support.two_stacks()
    A_.config.dns = [PEER_IP]
    services.serve_http(A_, 80, resolve=True)
    clock = support.SimClock(step=1)
    held = []

    def dns(view, off, n, src_off, sport, now):
        m = bytes(view[off:off + n])
        qid, qn, qt, end = question(m)
        if qn == W.encode_name("alpha.test"):
            r = answer(m, [rr(b"\xc0\x0c", A, 60, ALPHA)])
        elif qn == W.encode_name("six.test") and qt == AAAA:
            r = answer(m, [rr(b"\xc0\x0c", AAAA, 60, b"\x20\x01\x0d\xb8" + bytes(12))])
        else:
            r = answer(m, [], rcode=3)
        held.append((now + 50, r, sport))
        return None

    B.udp.bind(53, dns)

    def idle(ms):
        A_.poll(clock.t)
        B.poll(clock.t)
        for h in list(held):
            if clock.t >= h[0]:
                held.remove(h)
                B.udp.send(b"\x0a\x00\x02\x0f", h[2], 53, h[1], clock.t)

    socket.use(B, clock=clock, idle=idle)
    s = socket.socket()
    s.settimeout(5)
    s.connect(("10.0.2.15", 80))
    s.sendall(b"GET /resolve/alpha.test HTTP/1.1\r\nHost: a\r\n\r\n"
              b"GET /resolve6/six.test HTTP/1.1\r\nHost: a\r\n\r\n"
              b"GET /resolve/gone.test HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    got = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        got += d
    s.close()
    parts = got.split(b"HTTP/1.1 ")[1:]
    assert len(parts) == 3, got
    assert parts[0].startswith(b"200 ") and parts[0].endswith(b"\r\n\r\n10.0.2.7\n"), got
    assert parts[1].startswith(b"200 ") and parts[1].endswith(b"\r\n\r\n2001:db8::\n"), got
    assert parts[2].startswith(b"502 ") and b"error -2: gone.test does not exist" in parts[2]
    assert A_.counters["internal_error"] == 0 and A_.counters["dns_queries_sent"] == 3


def test_http_resolve_without_a_resolver_is_501_saying_what_to_do():
    # an image whose recipe leaves out "dns": socket.addrinfo.resolver() raises
    # EAI_FAIL, which the HTTP service answers as 501 with the same advice
    from ethox_uk.stack import services
    from ethox_uk.stack.socket import addrinfo

    A_, B = support.two_stacks()
    services.serve_http(A_, 80, resolve=True)
    clock = support.SimClock(step=1)

    def idle(ms):
        A_.poll(clock.t)
        B.poll(clock.t)

    def no_resolver(caller="getaddrinfo"):
        raise OSError(socket.EAI_FAIL, "%s: this image has no DNS resolver (its recipe's "
                      "features leave out \"dns\"): add it and rebuild" % caller)

    real = addrinfo.resolver
    addrinfo.resolver = no_resolver
    try:
        socket.use(B, clock=clock, idle=idle)
        s = socket.socket()
        s.settimeout(5)
        s.connect(("10.0.2.15", 80))
        s.sendall(b"GET /resolve/alpha.test HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        got = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
        s.close()
    finally:
        addrinfo.resolver = real
    assert got.startswith(b"HTTP/1.1 501 "), got
    assert b"GET /resolve: this image has no DNS resolver" in got and b"add it and rebuild" in got
    assert A_.counters["internal_error"] == 0 and A_.counters["dns_queries_sent"] == 0


# -- the test-only fault switches (negative controls): each misbehaves as named ---------
def _fstack(fault):
    from ethox_uk.stack import faults

    stack, peer = dns_stack()
    stack.faults = faults.parse(fault)
    return stack, peer


def test_fault_dns_no_rd_predictable_no_retry():
    stack, peer = _fstack("dns_no_rd,dns_predictable,dns_no_retry")
    q1, s1 = _lookup(stack, peer, "a.test")
    q2, s2 = _lookup(stack, peer, "b.test")
    m1, m2 = s1[0][4], s2[0][4]
    assert m1[2] & 1 == 0 and m1[0:2] == m2[0:2] == b"\x12\x34"
    assert s2[0][2] == s1[0][2] + 1
    t = 10
    while not q1.done and t < 5000:
        t += 10
        stack.poll(t)
    assert q1.error == -3 and queries(peer.frames()) == [] and t <= 1020  # one try


def test_fault_dns_accept_any_and_cache_forever():
    stack, peer = _fstack("dns_accept_any,dns_cache_forever")
    q, sent = _lookup(stack, peer, now=0)
    m = sent[0][4]
    qid = (m[0] << 8) | m[1]
    support.stack_rx(stack, peer, reply_frame(sent[0], answer(m, [rr(b"\xc0\x0c", A, 1, ALPHA)],
                                                              ident=qid ^ 1), sport=5353), 5)
    assert q.addrs == [ALPHA]  # a foreign ID from a foreign port, taken
    q2, s2 = _lookup(stack, peer, now=10 ** 6)
    assert q2.done and s2 == []  # a 1 s TTL, still cached


def test_fault_dns_no_tcp():
    stack, peer = _fstack("dns_no_tcp")
    q, sent = _lookup(stack, peer)
    support.stack_rx(stack, peer, reply_frame(sent[0], answer(sent[0][4], [rr(
        b"\xc0\x0c", A, 60, ALPHA)], tc=True)), 20)
    assert q.done and q.addrs == [ALPHA] and stack.counters["dns_tcp_queries_sent"] == 0
