"""DHCPv4 client (RFC 2131, options RFC 2132, the address check of RFC 5227).

Every check starts a fresh client of the target's kind (ctx.dhcp_client(): the same recipe
or image with `--ip dhcp`, on a link of its own) and plays the DHCP server on that link at
the peer's address, offering the target's usual address. Targets that cannot be started
afresh (--attach, --linux) are n/a. Times are the client's defaults (RFC 5227's probe takes
up to 7 s), so the lease checks use leases of a few seconds with T1 passing while the
address is still being checked.
"""

import socket

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from .. import wire
from ..context import BROADCAST_MAC
from ..registry import MUST, SHOULD, check

DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK = 1, 2, 3, 4, 5, 6
START = 20.0  # s: from starting the client to its first DISCOVER (host mode imports, boots)
ZERO = "0.0.0.0"
ALL = "255.255.255.255"


class Msg:
    """A client's DHCP message in frame f: BOOTP fields and the options as a dict."""

    def __init__(self, f):
        self.f = f
        b = f.pkt[BOOTP]
        self.op, self.htype, self.hlen = b.op, b.htype, b.hlen
        self.xid, self.flags = b.xid, b.flags
        self.ciaddr, self.yiaddr = b.ciaddr, b.yiaddr
        self.chaddr = bytes(b.chaddr)
        self.cookie = bytes(f.raw[14 + (f.raw[14] & 15) * 4 + 8 + 236:][:4])
        self.opts = {}
        for o in f.pkt[DHCP].options if f.pkt.haslayer(DHCP) else ():
            if isinstance(o, tuple) and len(o) >= 2:
                self.opts.setdefault(o[0], o[1])
        self.kind = self.opts.get("message-type")
        self.ip_src, self.ip_dst = f.pkt[IP].src, f.pkt[IP].dst
        self.eth_dst = f.pkt[Ether].dst
        self.eth_src = f.pkt[Ether].src

    def words(self):
        return "#%d %s xid %#x ciaddr %s from %s to %s" % (
            self.f.index, {1: "DISCOVER", 3: "REQUEST", 4: "DECLINE", 7: "RELEASE",
                           8: "INFORM"}.get(self.kind, "type %s" % self.kind),
            self.xid, self.ciaddr, self.ip_src, self.ip_dst)


def is_dhcp(kind=None):
    """A client message (UDP 68 -> 67) of type `kind` (any when None)."""
    def match(f):
        r = f.raw
        o = wire.udp4(r)
        if o is None or len(r) < o + 8 + 240 or r[o:o + 4] != b"\x00\x44\x00\x43":
            return False
        if kind is None:
            return True
        try:
            return Msg(f).kind == kind
        except Exception:
            return False
    return match


def is_probe_for(ip):
    """An ARP probe (RFC 5227 §2.1.1: a request from 0.0.0.0) for ip."""
    def match(f):
        r = f.raw
        return (len(r) >= 42 and r[12:14] == b"\x08\x06" and r[20:22] == b"\x00\x01"
                and r[28:32] == bytes(4) and r[32:38] == bytes(6)
                and socket.inet_ntoa(r[38:42]) == ip)
    return match


def uses(ip):
    """A frame from the client that claims ip: ARP with sender ip, or IPv4 from ip."""
    def match(f):
        r = f.raw
        if len(r) >= 42 and r[12:14] == b"\x08\x06":
            return socket.inet_ntoa(r[28:32]) == ip
        info = wire.ipv4(r)
        return info is not None and socket.inet_ntoa(r[26:30]) == ip
    return match


def first(cl, kind, what, timeout=None):
    f = cl.expect(is_dhcp(kind), what, timeout if timeout is not None else cl.reply)
    return Msg(f)


def server_msg(cl, m, kind, yiaddr=None, xid=None, chaddr=None, lease=60, t1=None, t2=None,
               server=None, dst=ALL, eth_dst=BROADCAST_MAC, extra=()):
    """The server's answer of type kind (OFFER 2, ACK 5, NAK 6) to the client's Msg m."""
    srv = server or cl.peer_ip
    opts = [("message-type", kind), ("server_id", srv)]
    if kind in (OFFER, ACK):
        opts += [("lease_time", lease), ("subnet_mask", "255.255.255.0"),
                 ("router", cl.peer_ip), ("name_server", cl.peer_ip)]
        if t1 is not None:
            opts.append(("renewal_time", t1))
        if t2 is not None:
            opts.append(("rebinding_time", t2))
    opts += list(extra) + ["end"]
    b = BOOTP(op=2, xid=m.xid if xid is None else xid, flags=m.flags,
              yiaddr=(yiaddr or cl.target_ip) if kind != NAK else ZERO,
              siaddr=srv, chaddr=(m.chaddr if chaddr is None else chaddr))
    return (Ether(dst=eth_dst, src=cl.peer_mac) / IP(src=srv, dst=dst)
            / UDP(sport=67, dport=68) / b / DHCP(options=opts))


def offer_and_request(cl):
    """DISCOVER, our OFFER of cl.target_ip, the client's REQUEST: (discover, request)."""
    d = first(cl, DISCOVER, "the client's DHCPDISCOVER", START)
    cl.target_mac = d.eth_src
    cl.send(server_msg(cl, d, OFFER), note="OFFER")
    r = first(cl, REQUEST, "a DHCPREQUEST answering the OFFER")
    return d, r


def lease(cl, seconds, t1=None, t2=None):
    """A lease of `seconds` (T1, T2 as given) ACKed; the REQUEST's Frame time."""
    d, r = offer_and_request(cl)
    cl.send(server_msg(cl, r, ACK, lease=seconds, t1=t1, t2=t2), note="ACK")
    return r


def bound(cl, timeout=12.0):
    """Wait until the client announces or uses its address (after its RFC 5227 check)."""
    f = cl.expect(uses(cl.target_ip), "the client using %s (its ARP announcement) after "
                  "its address check" % cl.target_ip, timeout * cl.timescale)
    return f


def client(ctx):
    return ctx.dhcp_client()


@check("dhcp.discover_format", "the first DHCPDISCOVER is a broadcast BOOTREQUEST from "
       "0.0.0.0:68 with the client's hardware address, the magic cookie and option 53, and "
       "no server identifier", level=MUST,
       rfc="RFC 2131 §4.1, §4.4.1 (table 5); RFC 2132 §9.6", timeout=30)
def discover_format(ctx):
    with client(ctx) as cl:
        d = first(cl, DISCOVER, "the client's DHCPDISCOVER", START)
        f = d.f
        ctx.require(d.op == 1 and d.htype == 1 and d.hlen == 6, "%s: op %d htype %d hlen %d, "
                    "expected a BOOTREQUEST (1) for Ethernet (1, 6)" % (d.words(), d.op,
                                                                         d.htype, d.hlen))
        ctx.require(d.cookie == b"\x63\x82\x53\x63", "%s: the options do not start with the "
                    "magic cookie 99.130.83.99 (RFC 2131 §3)" % d.words())
        ctx.require(d.chaddr[:6] == bytes.fromhex(d.eth_src.replace(":", "")),
                    "%s: chaddr %s is not the client's hardware address %s"
                    % (d.words(), d.chaddr[:6].hex(":"), d.eth_src))
        ctx.require(d.ip_src == ZERO and d.ip_dst == ALL and d.eth_dst == BROADCAST_MAC,
                    "%s: expected 0.0.0.0 -> 255.255.255.255 to Ethernet broadcast"
                    % d.words())
        ctx.require(d.ciaddr == ZERO, "%s: ciaddr must be 0 in a DISCOVER (table 5)"
                    % d.words())
        ctx.require("server_id" not in d.opts, "%s carries a server identifier (table 5: "
                    "MUST NOT)" % d.words())
        ctx.require(wire.udp_checksum_ok(f.raw) or wire.udp_checksum_field(f.raw) == 0,
                    "%s: bad UDP checksum" % d.words())
        ctx.should(d.flags & 0x8000, "%s: the BROADCAST flag is clear, though the client "
                   "cannot take unicast before it is configured (RFC 2131 §4.1)" % d.words())


@check("dhcp.discover_retransmitted", "an unanswered DHCPDISCOVER is sent again after about "
       "4 s, then after about 8 s more (randomized by +-1 s)", level=SHOULD,
       rfc="RFC 2131 §4.1 (retransmission)", timeout=45)
def discover_retransmitted(ctx):
    with client(ctx) as cl:
        times = [first(cl, DISCOVER, "the client's DHCPDISCOVER", START).f.t]
        while len(times) < 3:
            m = first(cl, DISCOVER, "DHCPDISCOVER number %d" % (len(times) + 1),
                      cl.late(10.0))
            times.append(m.f.t)
        g1, g2 = times[1] - times[0], times[2] - times[1]
        ctx.require(cl.early(3.0) <= g1 <= cl.late(5.0), "the first retransmission came "
                    "after %.2f s, expected 4 +- 1 s" % g1)
        ctx.require(cl.early(7.0) <= g2 <= cl.late(9.0), "the second came %.2f s after the "
                    "first, expected 8 +- 1 s (doubled)" % g2)


@check("dhcp.request_after_offer", "the DHCPREQUEST answering an OFFER keeps the xid, names "
       "the server (option 54) and the offered address (option 50), ciaddr 0, broadcast",
       level=MUST, rfc="RFC 2131 §3.1.3, §4.4.1 (table 5)", timeout=30)
def request_after_offer(ctx):
    with client(ctx) as cl:
        d, r = offer_and_request(cl)
        ctx.require(r.xid == d.xid, "%s: xid %#x differs from the DISCOVER's %#x"
                    % (r.words(), r.xid, d.xid))
        ctx.require(r.opts.get("server_id") == cl.peer_ip, "%s: option 54 is %r, expected the "
                    "OFFER's server %s" % (r.words(), r.opts.get("server_id"), cl.peer_ip))
        ctx.require(r.opts.get("requested_addr") == cl.target_ip, "%s: option 50 is %r, "
                    "expected the offered %s" % (r.words(), r.opts.get("requested_addr"),
                                                  cl.target_ip))
        ctx.require(r.ciaddr == ZERO, "%s: ciaddr must be 0 while selecting" % r.words())
        ctx.require(r.ip_dst == ALL and r.ip_src == ZERO, "%s: a REQUEST in SELECTING goes "
                    "from 0.0.0.0 to 255.255.255.255" % r.words())
        ctx.require(r.chaddr == d.chaddr, "%s: chaddr changed" % r.words())


@check("dhcp.ignores_foreign_replies", "an OFFER for another transaction (xid) or another "
       "client (chaddr) is not answered; the OFFER for this one is", level=MUST,
       rfc="RFC 2131 §4.1 (the xid matches replies to requests), §2 (chaddr)", timeout=30)
def ignores_foreign_replies(ctx):
    with client(ctx) as cl:
        d = first(cl, DISCOVER, "the client's DHCPDISCOVER", START)
        other = "10.0.2.%d" % (100 + (d.xid & 63))
        cl.send(server_msg(cl, d, OFFER, yiaddr=other, xid=d.xid ^ 0x5A5A),
                note="OFFER, another xid")
        cl.send(server_msg(cl, d, OFFER, yiaddr=other, chaddr=b"\x02\xbb" + d.chaddr[2:]),
                note="OFFER, another chaddr")
        start = cl.mark()
        cl.peer.collect(cl.reply)
        took = [Msg(f) for f in cl.peer.rx_log[start:] if is_dhcp(REQUEST)(f)]
        ctx.require(not took, "%s answers an OFFER that was not for this client"
                    % (took[0].words() if took else ""))
        cl.send(server_msg(cl, d, OFFER), note="OFFER")
        r = first(cl, REQUEST, "a DHCPREQUEST answering the OFFER for this transaction")
        ctx.require(r.opts.get("requested_addr") == cl.target_ip, "%s asks for %r"
                    % (r.words(), r.opts.get("requested_addr")))


@check("dhcp.nak_restarts", "a DHCPNAK to the REQUEST sends the client back to DISCOVER "
       "without using the address", level=MUST,
       rfc="RFC 2131 §3.1 (step 5), §4.4.1", timeout=40)
def nak_restarts(ctx):
    with client(ctx) as cl:
        d, r = offer_and_request(cl)
        start = cl.mark()
        cl.send(server_msg(cl, r, NAK), note="NAK")
        m = cl.expect(lambda f: is_dhcp(DISCOVER)(f) or uses(cl.target_ip)(f),
                      "a DHCPDISCOVER after the NAK", cl.late(11.0))
        ctx.require(is_dhcp(DISCOVER)(m), "the client used %s after a DHCPNAK (#%d)"
                    % (cl.target_ip, m.index))
        bad = [f for f in cl.peer.rx_log[start:] if uses(cl.target_ip)(f)]
        ctx.require(not bad, "the client used %s after a DHCPNAK (#%d)"
                    % (cl.target_ip, bad[0].index if bad else 0))


@check("dhcp.probes_before_use", "before using the address of an ACK the client sends ARP "
       "probes for it from 0.0.0.0, and only after them announces it", level=SHOULD,
       rfc="RFC 2131 §4.4.1 (check the address, e.g. with ARP); RFC 5227 §2.1.1, §2.3",
       timeout=40)
def probes_before_use(ctx):
    with client(ctx) as cl:
        lease(cl, 600)
        start = cl.mark()
        f = bound(cl)
        probes = [g for g in cl.peer.rx_log[start:] if is_probe_for(cl.target_ip)(g)]
        ctx.require(probes, "the client used %s (#%d) without an ARP probe first"
                    % (cl.target_ip, f.index))
        ctx.should(f.t - probes[-1].t >= cl.early(2.0), "the address was announced %.2f s "
                   "after the last probe: RFC 5227 §2.1.1 waits ANNOUNCE_WAIT (2 s)"
                   % (f.t - probes[-1].t))


@check("dhcp.declines_address_in_use", "an ARP reply for the address being probed makes "
       "the client send DHCPDECLINE (options 50 and 54, ciaddr 0) and not use it",
       level=MUST, rfc="RFC 2131 §3.1 (step 5), §4.4.1 (table 5); RFC 5227 §2.1.1",
       timeout=40)
def declines_address_in_use(ctx):
    with client(ctx) as cl:
        lease(cl, 600)
        start = cl.mark()
        p = cl.expect(lambda f: is_probe_for(cl.target_ip)(f) or uses(cl.target_ip)(f),
                      "an ARP probe for %s" % cl.target_ip, 3.0 * cl.timescale)
        ctx.require(is_probe_for(cl.target_ip)(p), "the client used %s (#%d) without "
                    "probing: nothing to answer" % (cl.target_ip, p.index))
        holder = "02:ee:00:00:00:01"
        cl.send(Ether(dst=cl.target_mac, src=holder)
                / ARP(op=2, hwsrc=holder, psrc=cl.target_ip, hwdst=cl.target_mac, pdst=ZERO),
                note="the address is someone else's")
        m = first(cl, DECLINE, "a DHCPDECLINE", cl.reply * 2)
        ctx.require(m.opts.get("requested_addr") == cl.target_ip and
                    m.opts.get("server_id") == cl.peer_ip, "%s: options 50/54 are %r/%r, "
                    "expected %s/%s" % (m.words(), m.opts.get("requested_addr"),
                                        m.opts.get("server_id"), cl.target_ip, cl.peer_ip))
        ctx.require(m.ciaddr == ZERO, "%s: ciaddr must be 0 (table 5)" % m.words())
        cl.peer.collect(2.5 * cl.timescale)
        bad = [f for f in cl.peer.rx_log[start:] if uses(cl.target_ip)(f)
               and not is_probe_for(cl.target_ip)(f)]
        ctx.require(not bad, "the client used %s after declining it (#%d)"
                    % (cl.target_ip, bad[0].index if bad else 0))


@check("dhcp.renews_by_unicast", "at T1 the client asks the server that leased the address "
       "to extend it: a DHCPREQUEST unicast to it, ciaddr set, no options 50/54",
       level=MUST, rfc="RFC 2131 §4.4.5, §4.4.1 (table 5)", timeout=40)
def renews_by_unicast(ctx):
    with client(ctx) as cl:
        r = lease(cl, 30, t1=3, t2=25)
        m = first(cl, REQUEST, "a DHCPREQUEST renewing the lease", 10.0 * cl.timescale)
        ctx.require(m.f.t - r.f.t >= cl.early(3.0), "%s came %.2f s after the REQUEST "
                    "that got the lease, before T1 (3 s)" % (m.words(), m.f.t - r.f.t))
        ctx.require(m.ip_dst == cl.peer_ip and m.eth_dst == cl.peer_mac,
                    "%s: renewing goes to the server %s (unicast), not %s / %s"
                    % (m.words(), cl.peer_ip, m.ip_dst, m.eth_dst))
        ctx.require(m.ciaddr == cl.target_ip and m.ip_src == cl.target_ip,
                    "%s: ciaddr and the source must be the leased %s" % (m.words(),
                                                                          cl.target_ip))
        ctx.require("requested_addr" not in m.opts and "server_id" not in m.opts,
                    "%s: options 50/54 MUST NOT be in a renewing REQUEST (table 5)"
                    % m.words())
        cl.send(server_msg(cl, m, ACK, lease=30, t1=20, t2=25, dst=cl.target_ip,
                           eth_dst=cl.target_mac), note="ACK")
        f, _, _, _ = cl.ping(what="an echo reply from the renewed address")
        ctx.require(f is not None, "the client stopped answering on %s after the renewal"
                    % cl.target_ip)


@check("dhcp.rebinds_by_broadcast", "with no answer to renewing, at T2 the client "
       "broadcasts a DHCPREQUEST with ciaddr set", level=MUST,
       rfc="RFC 2131 §4.4.5, §4.4.1 (table 5)", timeout=45)
def rebinds_by_broadcast(ctx):
    with client(ctx) as cl:
        r = lease(cl, 40, t1=3, t2=10)
        while True:
            m = first(cl, REQUEST, "a DHCPREQUEST rebinding the lease at T2 (10 s)",
                      16.0 * cl.timescale)
            if m.ip_dst != cl.peer_ip:
                break  # the renewals (unicast) go unanswered
        ctx.require(m.f.t - r.f.t >= cl.early(10.0), "%s broadcast %.2f s after the "
                    "REQUEST that got the lease, before T2 (10 s)" % (m.words(),
                                                                      m.f.t - r.f.t))
        ctx.require(m.ip_dst == ALL and m.eth_dst == BROADCAST_MAC, "%s: rebinding is a "
                    "broadcast" % m.words())
        ctx.require(m.ciaddr == cl.target_ip, "%s: ciaddr must be the leased %s"
                    % (m.words(), cl.target_ip))
        ctx.require("requested_addr" not in m.opts and "server_id" not in m.opts,
                    "%s: options 50/54 MUST NOT be in a rebinding REQUEST (table 5)"
                    % m.words())


@check("dhcp.stops_using_expired_address", "when the lease runs out unrenewed the client "
       "stops using the address and starts over with DHCPDISCOVER", level=MUST,
       rfc="RFC 2131 §4.4.5", timeout=45)
def stops_using_expired_address(ctx):
    with client(ctx) as cl:
        r = lease(cl, 12, t1=3, t2=7)
        m = cl.expect(is_dhcp(DISCOVER), "a DHCPDISCOVER once the lease (12 s) is over",
                      20.0 * cl.timescale)
        d = Msg(m)
        ctx.require(m.t - r.f.t >= cl.early(12.0), "%s came %.2f s into a 12 s lease"
                    % (d.words(), m.t - r.f.t))
        f, _, _, _ = cl.ping(what="no echo reply: the address is gone")
        ctx.require(f is None, "the client still answers on %s after its lease ended (#%d)"
                    % (cl.target_ip, f.index if f is not None else 0))
