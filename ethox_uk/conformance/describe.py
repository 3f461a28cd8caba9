"""A frame in words, for the per-check transcript of a failure:

    → ICMP echo request id=0x1001 seq=1 56B  10.0.2.2→10.0.2.15 ttl=64
    ← ARP reply 10.0.2.15 is-at 52:54:00:12:34:56 (to 10.0.2.2)
    → UDP 10.0.2.2:40001→10.0.2.15:7 12B [bad UDP checksum]
    ← ICMP port unreachable about UDP 10.0.2.2:40001→10.0.2.15:9  10.0.2.15→10.0.2.2 ttl=64
    ← nothing within 1.0 s

"NB" is the number of payload bytes of the innermost protocol (ICMP echo data, UDP data).
Anomalies the checks create on purpose (or the target gets wrong) are named in brackets.
"""

import logging

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.layers.inet import ICMP, IP, UDP, TCP  # noqa: E402
from scapy.layers.l2 import ARP, Ether  # noqa: E402

from . import wire  # noqa: E402

BROADCAST = "ff:ff:ff:ff:ff:ff"

_ICMP_TYPES = {0: "echo reply", 3: "destination unreachable", 4: "source quench",
               5: "redirect", 8: "echo request", 11: "time exceeded",
               12: "parameter problem", 13: "timestamp request", 14: "timestamp reply"}
_UNREACH = {0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable",
            3: "port unreachable", 4: "fragmentation needed", 13: "administratively "
            "prohibited"}


def _ip_brief(ip_bytes):
    """'UDP 10.0.2.2:1→10.0.2.15:9' for a quoted datagram (header + 8 bytes)."""
    try:
        q = IP(ip_bytes)
    except Exception:
        return "%d quoted bytes" % len(ip_bytes)
    l4 = q.payload
    if q.proto == 17 and len(ip_bytes) >= (q.ihl or 5) * 4 + 4:
        return "UDP %s:%s→%s:%s" % (q.src, l4.sport if isinstance(l4, UDP) else "?", q.dst,
                                    l4.dport if isinstance(l4, UDP) else "?")
    if q.proto == 1:
        return "ICMP %s→%s" % (q.src, q.dst)
    if q.proto == 6:
        return "TCP %s→%s" % (q.src, q.dst)
    return "proto %d %s→%s" % (q.proto, q.src, q.dst)


def _icmp(frame, ip, notes):
    ic = ip[ICMP]
    t, code = ic.type, ic.code
    if t in (0, 8):
        data = len(wire.ip_payload(frame)) - 8
        text = "ICMP %s id=%#x seq=%d %dB" % (_ICMP_TYPES[t], ic.id, ic.seq, max(data, 0))
    elif t == 3:
        text = "ICMP %s" % _UNREACH.get(code, "destination unreachable code %d" % code)
        text += " about " + _ip_brief(wire.ip_payload(frame)[8:])
    elif t in _ICMP_TYPES:
        text = "ICMP %s code %d" % (_ICMP_TYPES[t], code)
        if t in (11, 12, 4):
            text += " about " + _ip_brief(wire.ip_payload(frame)[8:])
    else:
        text = "ICMP type %d code %d" % (t, code)
    if ip.frag == 0 and not ip.flags.MF and not wire.icmp_checksum_ok(frame):
        notes.append("bad ICMP checksum")
    return text


def _udp(frame, ip, notes):
    u = ip[UDP]
    seg = wire.ip_payload(frame)
    ulen = u.len
    text = "UDP %s:%d→%s:%d %dB" % (ip.src, u.sport, ip.dst, u.dport, max(len(seg) - 8, 0))
    if ulen != len(seg):
        notes.append("UDP length %d, datagram %d" % (ulen, len(seg)))
    if u.chksum == 0:
        notes.append("no UDP checksum")
    elif ulen <= len(seg) and not wire.udp_checksum_ok(frame):
        notes.append("bad UDP checksum")
    return text


def _tcp(ip):
    t = ip[TCP]
    return "TCP %s:%d→%s:%d [%s] seq=%d ack=%d win=%d" % (
        ip.src, t.sport, ip.dst, t.dport, t.sprintf("%flags%"), t.seq, t.ack, t.window)


def _ipv4(frame, eth, notes):
    ip = eth[IP]
    info = []
    if ip.version != 4:
        notes.append("IP version %d" % ip.version)
    if ip.ihl is not None and ip.ihl < 5:
        notes.append("IHL %d" % ip.ihl)
    elif not wire.ip_header_ok(frame):
        notes.append("bad IP checksum")
    avail = len(frame) - wire.ETH_LEN
    if ip.len is not None and ip.len > avail:
        notes.append("total length %d, frame holds %d" % (ip.len, avail))
    elif ip.len is not None and ip.len < avail:
        info.append("+%dB pad" % (avail - ip.len))
    info.append("ttl=%d" % ip.ttl)
    if ip.flags.DF:
        info.append("DF")
    if ip.frag or ip.flags.MF:
        info.append("frag id=%#x off=%d%s" % (ip.id, ip.frag * 8, " MF" if ip.flags.MF else ""))
    if ip.ihl is not None and ip.ihl > 5:
        names = [type(o).__name__.replace("IPOption_", "") for o in ip.options]
        info.append("options %s" % (",".join(names) or "%dB" % ((ip.ihl - 5) * 4)))
    first = ip.frag == 0
    head = None
    if first and ip.proto == 1 and ip.haslayer(ICMP):
        head = _icmp(frame, ip, notes)
    elif first and ip.proto == 17 and ip.haslayer(UDP):
        head = _udp(frame, ip, notes)
    elif first and ip.proto == 6 and ip.haslayer(TCP):
        head = _tcp(ip)
    if head is None:
        name = {1: "ICMP", 17: "UDP", 6: "TCP"}.get(ip.proto, "proto %d" % ip.proto)
        size = max(min(ip.len or avail, avail) - (ip.ihl or 5) * 4, 0)
        head = "IPv4 %s %dB" % (name, size)
    if ip.haslayer(UDP) and head.startswith("UDP"):
        where = ""
    else:
        where = "%s→%s " % (ip.src, ip.dst)
    return "%s  %s%s" % (head, where, " ".join(info))


def _arp(frame, eth, notes):
    a = eth[ARP]
    if len(frame) < wire.ETH_LEN + 28:
        notes.append("ARP truncated to %dB" % (len(frame) - wire.ETH_LEN))
    if a.hwtype != 1 or a.ptype != 0x0800 or a.hwlen != 6 or a.plen != 4:
        notes.append("htype=%d ptype=%#x hlen=%d plen=%d" % (a.hwtype, a.ptype, a.hwlen,
                                                              a.plen))
        return "ARP op=%d" % a.op
    if a.op == 1:
        if a.psrc == a.pdst:
            return "ARP announcement %s is-at %s" % (a.psrc, a.hwsrc)
        return "ARP request who-has %s tell %s (%s)" % (a.pdst, a.psrc, a.hwsrc)
    if a.op == 2:
        return "ARP reply %s is-at %s (to %s %s)" % (a.psrc, a.hwsrc, a.pdst, a.hwdst)
    return "ARP op=%d %s→%s" % (a.op, a.psrc, a.pdst)


def describe(frame):
    """One line for the raw Ethernet frame `frame` (bytes)."""
    frame = bytes(frame)
    if len(frame) < wire.ETH_LEN:
        return "runt frame of %dB" % len(frame)
    notes = []
    try:
        eth = Ether(frame)
        if eth.type == 0x0806 and eth.haslayer(ARP):
            text = _arp(frame, eth, notes)
        elif eth.type == 0x0800 and eth.haslayer(IP):
            text = _ipv4(frame, eth, notes)
        else:
            text = "EtherType %#06x %dB" % (eth.type, len(frame) - wire.ETH_LEN)
        if eth.dst == BROADCAST:
            notes.append("Ethernet broadcast")
    except Exception as e:  # describing must never break a check
        text = "%dB frame (%s: %s)" % (len(frame), type(e).__name__, e)
    if notes:
        text += " [" + "; ".join(notes) + "]"
    return text
