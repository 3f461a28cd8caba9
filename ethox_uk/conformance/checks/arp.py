"""ARP (RFC 826; RFC 1122 §2.3.2; RFC 5227 probes)."""

import struct

from scapy.layers.l2 import ARP, Ether

from ..context import BROADCAST_MAC
from ..registry import MUST, check
from ..fragments import fragment_frames


def _valid_reply(ctx, f, requester_ip, requester_mac, unicast=True):
    """Fail unless f is a well-formed ARP reply claiming the target's address for the
    requester (RFC 826 "Packet Reception": swap, fill in, op := REPLY, send)."""
    a = f.pkt[ARP]
    e = f.pkt[Ether]
    ctx.require((a.hwtype, a.ptype, a.hwlen, a.plen) == (1, 0x0800, 6, 4),
                "reply #%d has htype=%d ptype=%#x hlen=%d plen=%d, expected 1/0x800/6/4"
                % (f.index, a.hwtype, a.ptype, a.hwlen, a.plen))
    ctx.require(a.op == 2, "#%d has op=%d, expected 2 (reply)" % (f.index, a.op))
    ctx.require(a.psrc == ctx.target_ip and a.hwsrc == ctx.target_mac,
                "#%d claims %s is-at %s, expected %s is-at %s"
                % (f.index, a.psrc, a.hwsrc, ctx.target_ip, ctx.target_mac))
    ctx.require(a.pdst == requester_ip and a.hwdst == requester_mac,
                "#%d is addressed (ARP) to %s %s, expected the requester %s %s"
                % (f.index, a.pdst, a.hwdst, requester_ip, requester_mac))
    ctx.require(e.src == ctx.target_mac, "#%d comes from Ethernet %s, not the target's %s"
                % (f.index, e.src, ctx.target_mac))
    if unicast:
        ctx.require(e.dst == requester_mac, "#%d goes to Ethernet %s, expected the "
                    "requester %s (unicast)" % (f.index, e.dst, requester_mac))


def _learn(ctx, ip, mac):
    """Introduce ip -> mac with an ARP request addressed to the target; check the reply."""
    ctx.send(ctx.arp_request(psrc=ip, hwsrc=mac))
    f = ctx.expect(ctx.is_arp_reply_to(ip), "ARP reply to %s" % ip)
    _valid_reply(ctx, f, ip, mac)


def _mac_used_for(ctx, ip, probe_mac):
    """Which MAC the target's ARP table holds for `ip`, seen from the outside.

    Sends traffic from `ip` inside frames whose Ethernet source is `probe_mac` (a MAC the
    table never saw) and watches where the answer goes: to some other MAC -> that is the
    table's entry; an ARP request for `ip` first -> no entry ("arp"); to probe_mac -> this
    answer was addressed to the frame's source, try the next kind of traffic. Triggers: a
    fragmented ping (a reassembled datagram is answered through the table by many stacks),
    a UDP datagram to a closed port (ICMP error), a plain ping.
    Returns a MAC string, "arp", or None when every answer went to the frame's source."""
    unresolved_mac = ctx.new_mac()
    ctx.peer.answers[ip] = unresolved_mac  # an ARP request for ip gets this MAC
    try:
        for kind in ("fragmented ping", "UDP to a closed port", "ping"):
            eth = ctx.eth(src=probe_mac)
            ipl = ctx.ip(src=ip)
            if kind == "UDP to a closed port":
                pkt, sport = ctx.udp(ctx.closed_port(), b"where-to", ip=ipl, eth=eth)
                frames = [pkt]

                def match(f, sport=sport):
                    return ctx.is_icmp((3,))(f) and ctx.quoted_sport(f) == sport
            else:
                req, ident, seq, _ = ctx.echo_request(64, ip=ipl, eth=eth)
                frames = fragment_frames(req, [32]) if kind == "fragmented ping" else [req]
                match = ctx.is_echo_reply(ident, seq)
            ctx.note("observing the ARP entry for %s with a %s from Ethernet %s"
                     % (ip, kind, probe_mac))
            start = ctx.mark()
            for fr in frames:
                ctx.send(fr)
            f = ctx.wait(match, "answer to the %s" % kind)
            asked = [g for g in ctx.peer.rx_log[start:] if ctx.is_arp_request_for(ip)(g)]
            if asked:
                return "arp"
            if f is None:
                continue
            dst = f.pkt[Ether].dst
            if dst != probe_mac:
                return dst
        return None
    finally:
        ctx.peer.answers.pop(ip, None)


def _observe(ctx, ip, expected_mac, after):
    probe = ctx.new_mac()
    got = _mac_used_for(ctx, ip, probe)
    if got is None:
        ctx.not_applicable("the target answers every probe to the frame's Ethernet source; "
                           "its ARP table cannot be observed through echo services")
    if got == "arp":
        ctx.fail("after %s the target still asked for %s with an ARP request: no entry"
                 % (after, ip))
    ctx.require(got == expected_mac, "after %s the target sends to %s at %s, expected %s"
                % (after, ip, got, expected_mac))


@check("arp.reply_to_request", "answers a broadcast ARP request for its address with a "
       "well-formed unicast reply", level=MUST, rfc="RFC 826 (Packet Reception)",
       accepts="op=2, sender = the target's IP/MAC, target = the requester's IP/MAC, "
       "Ethernet unicast to the requester")
def reply_to_request(ctx):
    ip, mac = ctx.new_ip(), ctx.new_mac()
    ctx.send(ctx.arp_request(psrc=ip, hwsrc=mac))
    f = ctx.expect(ctx.is_arp_reply_to(ip), "ARP reply")
    _valid_reply(ctx, f, ip, mac)


@check("arp.reply_to_unicast_request", "answers an ARP request sent unicast to its MAC "
       "(cache validation poll)", level=MUST, rfc="RFC 1122 §2.3.2.1")
def reply_to_unicast_request(ctx):
    ip, mac = ctx.new_ip(), ctx.new_mac()
    ctx.send(ctx.arp_request(psrc=ip, hwsrc=mac, eth_dst=ctx.target_mac,
                             hwdst=ctx.target_mac))
    f = ctx.expect(ctx.is_arp_reply_to(ip), "ARP reply")
    _valid_reply(ctx, f, ip, mac)


@check("arp.probe_answered", "answers an ARP probe (sender IP 0.0.0.0) for its address",
       level=MUST, rfc="RFC 5227 §2.1.1, RFC 826",
       accepts="a reply claiming the address, unicast to the prober or broadcast")
def probe_answered(ctx):
    mac = ctx.new_mac()
    ctx.send(ctx.arp_request(psrc="0.0.0.0", hwsrc=mac))
    f = ctx.expect(lambda f: f.raw[12:14] == b"\x08\x06" and len(f.raw) >= 42
                   and f.pkt[ARP].op == 2 and f.pkt[ARP].psrc == ctx.target_ip,
                   "ARP reply to the probe")
    a = f.pkt[ARP]
    ctx.require(a.hwsrc == ctx.target_mac, "#%d claims %s for %s, not the target's MAC"
                % (f.index, a.hwsrc, ctx.target_ip))
    ctx.require(f.pkt.dst in (mac, BROADCAST_MAC), "#%d goes to Ethernet %s, expected the "
                "prober %s or broadcast" % (f.index, f.pkt.dst, mac))


@check("arp.ignore_request_for_other_ip", "does not answer an ARP request for another "
       "address on the link", level=MUST, rfc="RFC 826 (Packet Reception)",
       accepts="silence (no proxy ARP)")
def ignore_request_for_other_ip(ctx):
    other = ctx.new_ip()
    ctx.send(ctx.arp_request(pdst=other))
    ctx.silent(lambda f: f.raw[12:14] == b"\x08\x06" and len(f.raw) >= 42
               and f.pkt[ARP].op == 2, "an ARP reply for %s" % other)


@check("arp.no_reply_to_reply", "never answers an ARP reply (only requests are answered)",
       level=MUST, rfc="RFC 826 (Packet Reception: ?Is the opcode ares_op$REQUEST)")
def no_reply_to_reply(ctx):
    ip, mac = ctx.new_ip(), ctx.new_mac()
    ctx.send(ctx.arp_request(psrc=ip, hwsrc=mac, op=2, eth_dst=ctx.target_mac,
                             hwdst=ctx.target_mac))
    ctx.silent(lambda f: f.raw[12:14] == b"\x08\x06" and len(f.raw) >= 42
               and f.pkt[ARP].op == 2, "an ARP reply to an ARP reply")


@check("arp.cache_update_from_request", "an ARP request addressed to it creates, and a "
       "later one updates, the sender's entry", level=MUST, rfc="RFC 826 (Packet Reception: merge)",
       accepts="the entry is visible in where the target sends answers (n/a if every "
       "answer goes to the frame's Ethernet source)", timeout=10)
def cache_update_from_request(ctx):
    ip, mac_a, mac_b = ctx.new_ip(), ctx.new_mac(), ctx.new_mac()
    _learn(ctx, ip, mac_a)
    _observe(ctx, ip, mac_a, "a request from %s at %s" % (ip, mac_a))
    _learn(ctx, ip, mac_b)
    _observe(ctx, ip, mac_b, "a second request from %s, now at %s" % (ip, mac_b))


@check("arp.gratuitous_updates_entry", "a gratuitous ARP (announcement) updates an existing "
       "entry to the new MAC", level=MUST, rfc="RFC 826 (Packet Reception: merge), RFC 5227 §3",
       accepts="the update is visible in where the target sends answers (n/a if every "
       "answer goes to the frame's Ethernet source)", timeout=10)
def gratuitous_updates_entry(ctx):
    ip, mac_a, mac_b = ctx.new_ip(), ctx.new_mac(), ctx.new_mac()
    _learn(ctx, ip, mac_a)
    _observe(ctx, ip, mac_a, "a request from %s at %s" % (ip, mac_a))
    ctx.send(Ether(dst=BROADCAST_MAC, src=mac_b)
             / ARP(op=1, hwsrc=mac_b, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip))
    ctx.silent(lambda f: f.raw[12:14] == b"\x08\x06" and len(f.raw) >= 42
               and f.pkt[ARP].op == 2, "an ARP reply to a gratuitous ARP")
    _observe(ctx, ip, mac_b, "a gratuitous ARP moving %s to %s" % (ip, mac_b))


def _raw_arp(ctx, htype=1, ptype=0x0800, hlen=6, plen=4, op=1, body=None, mac=None):
    mac = mac or ctx.peer_mac
    hdr = struct.pack("!HHBBH", htype, ptype, hlen, plen, op)
    if body is None:
        body = (bytes.fromhex(mac.replace(":", "")) + _ip4(ctx.peer_ip) + bytes(6)
                + _ip4(ctx.target_ip))
    return Ether(dst=BROADCAST_MAC, src=mac, type=0x0806) / (hdr + body)


def _ip4(text):
    return bytes(int(x) for x in text.split("."))


def _no_reply_then_alive(ctx, frame, what):
    ctx.send(frame)
    ctx.silent(lambda f: f.raw[12:14] == b"\x08\x06" and f.raw[20:22] == b"\x00\x02",
               "an ARP reply to %s" % what)
    ctx.note("the target must still answer a well-formed request")
    ip, mac = ctx.new_ip(), ctx.new_mac()
    _learn(ctx, ip, mac)


@check("arp.malformed_truncated_ignored", "ignores an ARP request cut short after the "
       "sender fields and still answers a good one", level=MUST, rfc="RFC 826 (Packet Format)")
def malformed_truncated_ignored(ctx):
    full = bytes(_raw_arp(ctx))
    _no_reply_then_alive(ctx, full[:14 + 18], "a truncated request")


@check("arp.malformed_hlen_ignored", "ignores an ARP request whose hardware length is not "
       "6 (even if the target address sits at the usual offset)",
       level=MUST, rfc="RFC 826 (Packet Reception: ar$hln)")
def malformed_hlen_ignored(ctx):
    mac = ctx.new_mac()
    sha = bytes.fromhex(mac.replace(":", "")) + b"\0\0"  # 8-byte hardware addresses
    # With hlen=8 the fields shift; bytes 24..27 of the body (where a fixed-layout parser
    # reads the target IP) are made the target's address as well.
    tha = bytes(4) + _ip4(ctx.target_ip)
    body = sha + _ip4(ctx.peer_ip) + tha + _ip4(ctx.target_ip)
    _no_reply_then_alive(ctx, _raw_arp(ctx, hlen=8, body=body, mac=mac), "hlen=8")


@check("arp.unknown_hardware_type_ignored", "ignores an ARP request for an unknown hardware "
       "type", level=MUST, rfc="RFC 826 (Packet Reception: ar$hrd)")
def unknown_hardware_type_ignored(ctx):
    _no_reply_then_alive(ctx, _raw_arp(ctx, htype=0x1234), "htype=0x1234")


@check("arp.unknown_protocol_type_ignored", "ignores an ARP request for a protocol other "
       "than IPv4", level=MUST, rfc="RFC 826 (Packet Reception: ar$pro)")
def unknown_protocol_type_ignored(ctx):
    _no_reply_then_alive(ctx, _raw_arp(ctx, ptype=0x86DD), "ptype=0x86dd")


@check("arp.unknown_opcode_ignored", "does not answer an ARP packet whose opcode is neither "
       "request nor reply", level=MUST, rfc="RFC 826 (Packet Reception: ar$op)")
def unknown_opcode_ignored(ctx):
    _no_reply_then_alive(ctx, _raw_arp(ctx, op=10), "op=10")
