"""The DNS stub resolver (RFC 1035; AAAA RFC 3596; answer matching RFC 5452; TCP RFC 7766).

The trigger: `GET /resolve/NAME` (`/resolve6/NAME` for AAAA) on the target's HTTP port makes
it look NAME up and answer with the addresses, one a line (images/echo serves it). The
target's name server is the peer (the suite starts --host and --image targets with
`--dns PEER`), so each check sees the query and plays the server. Targets without the trigger
(404), or without a name server, are n/a.
"""

import itertools
import socket
import struct

from scapy.layers.inet import IP, UDP

from .. import wire
from ..registry import MUST, SHOULD, check
from ..tcp_peer import Seg, TcpConn, is_tcp, opt_mss, seq_add, tcp_ports

HTTP = 80
A, AAAA, CNAME = 1, 28, 5
_names = itertools.count(1)


def new_name(tag):
    return "c%d-%s.conformance.test" % (next(_names), tag)


def encode(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes((len(label),)) + label.encode()
    return out + b"\x00"


class Query:
    """A DNS query from the target in frame f (UDP to port 53), parsed."""

    def __init__(self, f):
        r = f.raw
        o = 14 + (r[14] & 15) * 4
        self.f = f
        self.sport, self.dport = struct.unpack("!HH", r[o:o + 4])
        self.src = socket.inet_ntoa(r[26:30])
        m = bytes(r[o + 8:14 + (r[16] << 8 | r[17])])
        self.msg = m
        self.ident, self.flags, self.qd, self.an, self.ns, self.ar = struct.unpack(
            "!HHHHHH", m[:12])
        i = 12
        labels = []
        while i < len(m) and m[i]:
            labels.append(m[i + 1:i + 1 + m[i]].decode(errors="replace"))
            i += 1 + m[i]
        self.qname = ".".join(labels)
        self.qname_raw = m[12:i + 1]
        self.qtype, self.qclass = struct.unpack("!HH", m[i + 1:i + 5]) if i + 5 <= len(m) \
            else (None, None)

    def words(self):
        return "#%d query id %#06x %s type %s from port %d" % (
            self.f.index, self.ident, self.qname, self.qtype, self.sport)


def is_query(f):
    r = f.raw
    o = wire.udp4(r)
    return o is not None and len(r) >= o + 8 + 12 and r[o + 2:o + 4] == b"\x00\x35"


def is_query_for(name):
    """A DNS query from the target asking `name` (any case)."""
    name = name.lower()
    return lambda f: is_query(f) and Query(f).qname.lower() == name


def rr(name_raw, rtype, ttl, rdata):
    return name_raw + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def answer_msg(q, records=(), rcode=0, tc=False, ident=None, qname_raw=None, qtype=None):
    """An answer to Query q (bytes); fields overridable to build mismatched ones."""
    flags = 0x8180 | rcode | (0x0200 if tc else 0)
    head = struct.pack("!HHHHHH", q.ident if ident is None else ident, flags, 1,
                       len(records), 0, 0)
    return (head + (q.qname_raw if qname_raw is None else qname_raw)
            + struct.pack("!HH", q.qtype if qtype is None else qtype, 1) + b"".join(records))


def send_answer(ctx, q, msg, sport=53, src=None, note=None):
    src = src or ctx.peer_ip
    ctx.send(ctx.eth() / IP(src=src, dst=ctx.target_ip, id=ctx.new_id())
             / UDP(sport=sport, dport=q.sport) / msg, note=note)


def a_records(q, addrs, ttl=60):
    return [rr(b"\xc0\x0c", A, ttl, socket.inet_aton(a)) for a in addrs]


class Lookup:
    """One GET /resolve/NAME on its own connection; response() reads the answer."""

    def __init__(self, ctx, name, six=False):
        self.ctx = ctx
        self.name = name
        self.c = TcpConn(ctx, HTTP)
        self.c.open()
        # the query may come before the request's ACK, while send() waits for it
        self.start = ctx.mark()
        self.c.send(("GET /resolve%s/%s HTTP/1.1\r\nHost: target\r\nConnection: close"
                     "\r\n\r\n" % ("6" if six else "", name)).encode())

    def query(self, what="the target's DNS query", timeout=None):
        """The query it sends for our name, or n/a / fail when none comes."""
        ctx = self.ctx
        f = ctx.wait(is_query_for(self.name), what, timeout, since=self.start)
        if f is None:
            status, body = self.response(ctx.reply)
            if status == 404:
                ctx.not_applicable("the target has no lookup trigger (GET /resolve/NAME on "
                                   "port 80: images/echo serves it)")
            if status == 502 and b"no name server" in body:
                ctx.not_applicable("the target has no name server configured (start it "
                                   "with --dns %s)" % ctx.peer_ip)
            ctx.fail("no DNS query for %s within %.1f s after GET /resolve/%s (the target "
                     "answered %s %r)" % (self.name, ctx.reply, self.name, status, body[:80]))
        return Query(f)

    def response(self, timeout=None):
        """(HTTP status, body) of the lookup's response (the connection then closes)."""
        data = self.c.read(0, timeout=timeout, fin=True, what="the /resolve response")
        self.close()
        head, _, body = data.partition(b"\r\n\r\n")
        try:
            status = int(head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            status = None
        return status, body

    def close(self):
        if not self.c.closed:
            try:
                if not self.c.fin_seen:
                    self.c.abort()
                else:
                    self.c.fin()
                    self.c.closed = True
            except Exception:
                pass


def ask(ctx, tag):
    """A lookup of a fresh name (GET /resolve/NAME) and the DNS query it makes the target
    send: (Lookup, Query)."""
    lk = Lookup(ctx, new_name(tag))
    return lk, lk.query()


def expect_body(ctx, lk):
    """The addresses in lk's response (fails unless it is a 200)."""
    status, body = lk.response()
    got = body.decode(errors="replace").split()
    ctx.require(status == 200, "GET /resolve/%s answered %s %r" % (lk.name, status,
                                                                    body[:100]))
    return got


def answer_and_expect(ctx, lk, q, addr, ttl=60, why=""):
    """Answer Query q (lk's) with one A record for addr; lk's response must be addr alone
    (else the check fails: what it gave, and `why` that matters)."""
    send_answer(ctx, q, answer_msg(q, a_records(q, [addr], ttl)))
    got = expect_body(ctx, lk)
    ctx.require(got == [addr], "GET /resolve/%s gave %s%s" % (lk.name, got, why))


@check("dns.query_format", "a lookup is a standard recursive query (QR 0, opcode 0, RD 1, one "
       "question: the name, type A or AAAA, class IN) to port 53; the answer's addresses "
       "come back", level=MUST,
       rfc="RFC 1035 §4.1.1, §4.1.2, §4.2.1; RFC 1034 §5.3.1 (a stub asks for recursion); "
       "RFC 3596 §2.1", timeout=15)
def query_format(ctx):
    for six in (False, True):
        name = new_name("fmt")
        lk = Lookup(ctx, name.upper() if not six else name, six)
        q = lk.query()
        ctx.require(q.dport == 53 and q.src == ctx.target_ip, "%s goes to port %d from %s"
                    % (q.words(), q.dport, q.src))
        ctx.require(wire.udp_checksum_ok(q.f.raw) or wire.udp_checksum_field(q.f.raw) == 0,
                    "%s: bad UDP checksum" % q.words())
        ctx.require(q.flags & 0x8000 == 0 and q.flags & 0x7800 == 0, "%s: flags %#06x: not a "
                    "standard query (QR 0, opcode 0)" % (q.words(), q.flags))
        ctx.require(q.flags & 0x0100, "%s: RD is clear: a stub resolver asks the server to "
                    "recurse" % q.words())
        ctx.require((q.qd, q.an, q.ns) == (1, 0, 0) and q.ar <= 1, "%s: counts QD %d AN %d "
                    "NS %d AR %d, expected one question" % (q.words(), q.qd, q.an, q.ns, q.ar))
        ctx.require(q.qname.lower() == name and q.qtype == (AAAA if six else A)
                    and q.qclass == 1, "%s: asks %s type %s class %s, expected %s %s IN"
                    % (q.words(), q.qname, q.qtype, q.qclass, name, "AAAA" if six else "A"))
        if six:
            addr = "2001:db8::%x" % (q.ident or 1)
            recs = [rr(b"\xc0\x0c", AAAA, 60, socket.inet_pton(socket.AF_INET6, addr))]
        else:
            addr = "10.0.2.%d" % (100 + q.ident % 100)
            recs = a_records(q, [addr])
        send_answer(ctx, q, answer_msg(q, recs))
        got = expect_body(ctx, lk)
        ctx.require(got == [addr], "GET /resolve%s/%s gave %s, the answer said %s"
                    % ("6" if six else "", name, got, addr))


@check("dns.id_and_port_unpredictable", "each query has its own unpredictable ID and UDP "
       "source port (1024-65535), neither counting up", level=MUST,
       rfc="RFC 5452 §9.2", timeout=20)
def id_and_port_unpredictable(ctx):
    ids, ports = [], []
    for i in range(6):
        lk, q = ask(ctx, "rnd")
        ids.append(q.ident)
        ports.append(q.sport)
        send_answer(ctx, q, answer_msg(q, a_records(q, ["10.0.2.%d" % (10 + i)])))
        lk.response()
    ctx.note("IDs %s, ports %s" % (ids, ports))
    ctx.require(len(set(ids)) == len(ids), "query IDs repeat: %s" % ids)
    ctx.require(len(set(ports)) == len(ports), "source ports repeat: %s" % ports)
    ctx.require(all(1024 <= p <= 65535 for p in ports), "a source port below 1024: %s" % ports)
    for what, v in (("IDs", ids), ("ports", ports)):
        steps = {(b - a) & 0xFFFF for a, b in zip(v, v[1:])}
        ctx.require(len(steps) > 1, "the %s move by a constant %d: predictable" % (
            what, steps.pop()))
        ctx.require(not all(s < 64 for s in steps), "the %s only move in small steps (%s): "
                    "a counter, not random" % (what, v))


@check("dns.ignores_mismatched_answers", "answers with another ID, another question, from "
       "another port or address are ignored; the matching one is taken", level=MUST,
       rfc="RFC 5452 §9.1; RFC 1035 §7.3", timeout=15)
def ignores_mismatched_answers(ctx):
    lk, q = ask(ctx, "spoof")
    name = lk.name
    bogus = a_records(q, ["10.66.0.1"])
    send_answer(ctx, q, answer_msg(q, bogus, ident=q.ident ^ 0x4242), note="another ID")
    send_answer(ctx, q, answer_msg(q, bogus, qname_raw=encode("other." + name)),
                note="another question")
    send_answer(ctx, q, answer_msg(q, bogus, qtype=AAAA), note="another type")
    send_answer(ctx, q, answer_msg(q, bogus), sport=5353, note="from port 5353")
    send_answer(ctx, q, answer_msg(q, bogus), src=ctx.new_ip(), note="from another address")
    ctx.barrier()
    answer_and_expect(ctx, lk, q, "10.0.2.7", why=": a mismatched answer was taken (only "
                      "10.0.2.7 came from the server asked, with the query's ID and question)")


@check("dns.tcp_on_truncation", "a truncated answer (TC) makes the resolver ask again over "
       "TCP (a 2-byte length before each message) and use the whole answer", level=MUST,
       rfc="RFC 1035 §4.2.1, §4.2.2; RFC 7766 §5", timeout=15)
def tcp_on_truncation(ctx):
    lk, q = ask(ctx, "tc")
    name = lk.name
    start = ctx.mark()
    send_answer(ctx, q, answer_msg(q, [], tc=True), note="truncated")
    syn = ctx.expect(lambda f: is_tcp(f) and tcp_ports(f)[1] == 53 and Seg(f).syn,
                     "a TCP SYN to port 53 after the truncated answer", ctx.reply * 2)
    s = Seg(syn)
    c = TcpConn(ctx, s.sport, sport=53)
    c.cursor = ctx.peer.rx_log.index(syn, start) + 1
    c.irs = s.seq
    c.rcv_nxt = seq_add(s.seq, 1)
    with c:
        c.send_seg("SA", seq=c.iss, options=opt_mss(1460), advance=True, note="DNS over TCP")
        n = int.from_bytes(c.read(2, what="the query's length prefix"), "big")
        raw = c.read(n, what="the %d-byte query over TCP" % n)
        tq = Query.__new__(Query)
        tq.f, tq.msg, tq.sport = syn, raw, s.sport
        ident, flags = struct.unpack("!HH", raw[:4])
        ctx.require(raw[12:12 + len(q.qname_raw)].lower() == q.qname_raw.lower(),
                    "the TCP query asks another name: %r" % raw[12:])
        tq.ident, tq.qname_raw, tq.qtype = ident, raw[12:12 + len(q.qname_raw)], q.qtype
        addrs = ["10.9.0.%d" % i for i in range(1, 41)]  # 40 records: over 512 bytes
        msg = answer_msg(tq, a_records(tq, addrs))
        c.send(len(msg).to_bytes(2, "big") + msg)
        c.fin()
        got = expect_body(ctx, lk)
    ctx.require(sorted(got) == sorted(addrs), "GET /resolve/%s gave %d addresses, the answer "
                "over TCP had %d" % (name, len(got), len(addrs)))


@check("dns.retransmits_unanswered", "an unanswered query is sent again, after at least a "
       "second and within 5 s, and its answer is used", level=SHOULD,
       rfc="RFC 1035 §4.2.1 (retransmission); RFC 1123 §6.1.3.3", timeout=15)
def retransmits_unanswered(ctx):
    lk, q1 = ask(ctx, "retry")
    f = ctx.expect(is_query_for(lk.name), "the query sent again", ctx.late(5.0))
    q2 = Query(f)
    gap = q2.f.t - q1.f.t
    ctx.require(gap >= ctx.early(1.0), "sent again after %.2f s: too soon (RFC 1123 "
                "§6.1.3.3 asks for backoff from at least about a second)" % gap)
    answer_and_expect(ctx, lk, q2, "10.0.2.9")


@check("dns.cache_honours_ttl", "an answer is not used past its TTL: once it ran out, the "
       "name is asked again", level=SHOULD,
       rfc="RFC 1035 §3.2.1, §4.1.3 (TTL); RFC 2181 §8", timeout=15)
def cache_honours_ttl(ctx):
    lk, q = ask(ctx, "ttl")
    name = lk.name
    answer_and_expect(ctx, lk, q, "10.0.2.11", ttl=1, why=" (the first lookup)")
    ctx.peer.collect(ctx.late(1.0) + 0.5)
    lk = Lookup(ctx, name)
    f = ctx.wait(is_query_for(name), "a new query once the 1 s TTL ran out")
    if f is None:
        status, body = lk.response()
        ctx.fail("no new query %.1f s after a 1 s TTL: GET /resolve/%s answered %s %r from "
                 "a record past its TTL" % (ctx.late(1.0) + 0.5, name, status, body[:60]))
    answer_and_expect(ctx, lk, Query(f), "10.0.2.12", why=" (the second lookup)")
