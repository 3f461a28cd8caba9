# A DNS server played by a test (MicroPython-compatible): builds answers to
# the queries the resolver sends, as bytes, and frames carrying them.
import support
from support import PEER_IP, PEER_MAC, OUR_IP, OUR_MAC
from ethox_uk.stack.wire.dns import encode_name

A, CNAME, AAAA = 1, 5, 28


def u16(v):
    return bytes(((v >> 8) & 255, v & 255))


def u32(v):
    return bytes(((v >> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255))


def question(msg):
    """(id, qname wire, qtype, end offset) of a query message."""
    i = 12
    while msg[i]:
        i += 1 + msg[i]
    i += 1
    return (msg[0] << 8) | msg[1], bytes(msg[12:i]), (msg[i] << 8) | msg[i + 1], i + 4


def rr(name, rtype, ttl, rdata, rclass=1):
    """One resource record; name: text, wire bytes, or b'\\xc0\\x0c' (a pointer)."""
    if isinstance(name, str):
        name = encode_name(name)
    return bytes(name) + u16(rtype) + u16(rclass) + u32(ttl) + u16(len(rdata)) + bytes(rdata)


def answer(query, records=(), rcode=0, tc=False, ident=None, qname=None, qtype=None,
           flags=None, qdcount=1, count=None):
    """An answer to `query` (bytes); every field overridable to build bad ones."""
    qid, qn, qt, end = question(query)
    f = 0x8180 | rcode | (0x0200 if tc else 0) if flags is None else flags
    head = (u16(qid if ident is None else ident) + u16(f) + u16(qdcount)
            + u16(len(records) if count is None else count) + u16(0) + u16(0))
    q = (qn if qname is None else qname) + u16(qt if qtype is None else qtype) + u16(1)
    return head + q + b"".join(records)


def queries(frames):
    """[(frame, ip, sport, dport, dns message)] of the UDP datagrams in frames."""
    return support.udp_datagrams(frames)


def reply_frame(q, msg, src_ip=PEER_IP, sport=53, dport=None):
    """The frame carrying DNS message msg back for query tuple q (from queries())."""
    f, ip, qsport, qdport, _ = q
    udp = support.udp_dgram(src_ip, OUR_IP, sport, qsport if dport is None else dport, msg)
    return support.frame_in(support.ipv4_pkt(src_ip, OUR_IP, 17, udp), dst_mac=OUR_MAC,
                            src_mac=PEER_MAC)


def dns_stack(words="ip=10.0.2.15/24 gw=10.0.2.2 dns=10.0.2.2", seed=5):
    """(stack, peer) with the peer's ARP entry known."""
    from ethox_uk.stack.config import Config
    from ethox_uk.stack.iface import Stack

    a, b = support.nic_pair(seed)
    # IPv6 off unless the words turn it on: the query counts here are IPv4's A lookups
    stack = Stack(a, Config.from_words(words if "ip6=" in words else words + " ip6=off"),
                  seed=seed)
    support.prime_arp(stack, b)
    return stack, b


def resolver_of(stack):
    from ethox_uk.stack import resolver

    return resolver.of(stack)
