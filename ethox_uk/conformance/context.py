"""Ctx: what a check receives. Addresses, packet builders, and the few exchanges every group
needs, each bounded in time and logged in the check's transcript.

    ctx.target_ip / target_mac / peer_ip / peer_mac / broadcast / prefix
    ctx.eth(dst=None, src=None)           Ether addressed to the target (from the peer)
    ctx.ip(**fields)                      IP from the peer to the target
    ctx.new_id() / ctx.new_port() / ctx.new_ip()   values no other check uses in this run
    ctx.send(pkt)                         one frame
    ctx.expect(match, what, timeout)      the matching frame or CheckFailed
    ctx.ping(size) / ctx.echo_request(...) ICMP echo helpers
    ctx.barrier()                         a ping answered = everything sent before was handled
    ctx.silent(match, what)               barrier, then fail if any frame matched
    ctx.fail(msg) / ctx.require(cond, msg)   a violation at the check's own level
    ctx.must(cond, msg)                   a MUST violation whatever the check's level
    ctx.should(cond, msg)                 a SHOULD not met: noted, the check goes on
    ctx.variant(key, detail)              the target took a declared accepted variant
    ctx.not_applicable(reason)
    ctx.early(s) / ctx.late(s)            timing bounds with the target's clock slack
    ctx.dhcp_client()                     a fresh client of the target's kind on a link of
                                          its own (sidelink.py), or n/a

Timing: REPLY (an answer that must come) and GRACE (extra wait after a barrier) are scaled
by the session's `timescale` (slower targets, e.g. TCG images). RFC timer values are judged
with the target's clock `slack` (a fraction: a timer of T s may fire anywhere in
[T*(1-slack), T*(1+slack)*timescale]): an emulated guest's clock can run fast or slow, and
no fixed window that one emulator happens to meet is the RFC's.
"""

import itertools
import socket
import struct

from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether

from . import wire
from .context6 import Ctx6
from .registry import CheckFailed, MustFailed, NotApplicable

BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
REPLY = 1.0  # seconds an answer that must come may take
GRACE = 0.15  # seconds to keep listening after a barrier's answer
SLACK = 0.1  # default clock slack (fraction) of a target running on real time

_ids = itertools.count(0x1001)
_ports = itertools.count(40001)
_hosts = itertools.count(0)
_closed = itertools.count(0)


def ip_int(text):
    return struct.unpack("!I", socket.inet_aton(text))[0]


def ip_str(value):
    return socket.inet_ntoa(struct.pack("!I", value & 0xFFFFFFFF))


def mac_str(raw6):
    return ":".join("%02x" % b for b in raw6)


class Ctx(Ctx6):
    def __init__(self, peer, target_ip, target_mac, peer_ip, peer_mac, prefix=24,
                 timescale=1.0, services=None, slack=SLACK, client_factory=None,
                 target_ip6=None, peer_ip6=None):
        self.peer = peer
        self.target_ip6 = target_ip6
        self.peer_ip6 = peer_ip6
        self.target_ip = target_ip
        self.target_mac = target_mac
        self.peer_ip = peer_ip
        self.peer_mac = peer_mac
        self.prefix = prefix
        self.timescale = timescale
        mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
        self.network = ip_int(target_ip) & mask
        self.broadcast = ip_str(self.network | (~mask & 0xFFFFFFFF))
        self.services = services or {}
        self.barrier_ids = set()
        self.reply = REPLY * timescale
        self.grace = GRACE * timescale
        self.slack = slack
        self.findings = []  # ("deviates", text) and ("variant", key, text), in order
        self.client_factory = client_factory  # () -> an unstarted target asking DHCP

    def dhcp_client(self):
        """A context manager: a fresh target of the session's kind asking DHCP for its
        address on a link of its own, the check as its server (n/a when the target cannot
        be started afresh: --attach, --linux)."""
        from .sidelink import ClientRun

        t = self.client_factory() if self.client_factory is not None else None
        if t is None:
            self.not_applicable("the target cannot be started afresh as a DHCP client "
                                "(only --host and --image targets can)")
        return ClientRun(self, t)

    # -- verdicts ---------------------------------------------------------------------
    def fail(self, msg):
        raise CheckFailed(msg)

    def require(self, cond, msg):
        if not cond:
            raise CheckFailed(msg)

    def not_applicable(self, reason):
        raise NotApplicable(reason)

    def must(self, cond, msg):
        if not cond:
            raise MustFailed(msg)

    def should(self, cond, msg):
        """A SHOULD sub-requirement: when not met, the verdict is at least "deviates" and
        msg says why; the check goes on. Returns cond."""
        if not cond:
            self.findings.append(("deviates", msg))
            self.note("SHOULD not met: " + msg)
        return bool(cond)

    def variant(self, key, detail=""):
        """The target did what the check's declared variant KEY accepts (detail: what)."""
        self.findings.append(("variant", key, detail))
        self.note("variant %s: %s" % (key, detail))

    def early(self, seconds):
        """The earliest a timer of `seconds` may fire on the target's clock."""
        return seconds * (1 - self.slack)

    def late(self, seconds):
        """The latest a timer of `seconds` may be seen to fire (clock slack and time scale)."""
        return seconds * (1 + self.slack) * self.timescale

    def note(self, text):
        self.peer.note(text)

    # -- fresh values -----------------------------------------------------------------
    def new_id(self):
        """A 16-bit identifier (ICMP id, IP id) unused so far in this run."""
        return next(_ids) & 0xFFFF or next(_ids) & 0xFFFF

    def new_port(self):
        """A UDP/TCP source port unused so far in this run (40001..60000)."""
        return 40001 + (next(_ports) - 40001) % 20000

    def new_ip(self):
        """An on-link address that is neither the target, the peer nor the broadcast."""
        taken = {ip_int(self.target_ip), ip_int(self.peer_ip), ip_int(self.broadcast),
                 self.network}
        size = 1 << (32 - self.prefix)
        while True:
            n = self.network + 100 + next(_hosts) % max(size - 101, 1)
            if n not in taken:
                return ip_str(n)

    def closed_port(self):
        """A UDP port the echo recipe does not serve (33434..34433)."""
        return 33434 + next(_closed) % 1000

    def new_mac(self):
        """A locally administered unicast MAC unused so far in this run."""
        n = next(_hosts)
        return "02:e0:%02x:%02x:%02x:%02x" % ((n >> 24) & 255, (n >> 16) & 255,
                                              (n >> 8) & 255, n & 255)

    # -- builders ---------------------------------------------------------------------
    def eth(self, dst=None, src=None, **kw):
        return Ether(dst=dst or self.target_mac, src=src or self.peer_mac, **kw)

    def ip(self, **kw):
        kw.setdefault("src", self.peer_ip)
        kw.setdefault("dst", self.target_ip)
        kw.setdefault("id", self.new_id())
        return IP(**kw)

    @staticmethod
    def pattern(size, seed=0):
        return bytes((seed + i * 7 + (i >> 8)) & 0xFF for i in range(size))

    def echo_request(self, size=56, ident=None, seq=1, data=None, ip=None, eth=None):
        """(packet, ident, seq, data) of an ICMP echo request."""
        ident = self.new_id() if ident is None else ident
        data = self.pattern(size, ident) if data is None else data
        pkt = (eth or self.eth()) / (ip or self.ip()) / ICMP(type=8, id=ident, seq=seq) / data
        return pkt, ident, seq, data

    def udp(self, dport, data, sport=None, ip=None, eth=None, **kw):
        """(packet, sport) of a UDP datagram to the target."""
        sport = self.new_port() if sport is None else sport
        pkt = (eth or self.eth()) / (ip or self.ip()) / UDP(sport=sport, dport=dport, **kw)
        return pkt / data, sport

    # -- matchers (over peer.Frame) --------------------------------------------------
    @staticmethod
    def is_echo_reply(ident, seq=None):
        def match(f):
            r = f.raw
            info = wire.ipv4(r)
            if info is None or r[23] != 1 or (r[20] & 0x3F) or r[21]:
                return False
            o = 14 + info[0]
            return (len(r) >= o + 8 and r[o] == 0 and (r[o + 4] << 8 | r[o + 5]) == ident
                    and (seq is None or (r[o + 6] << 8 | r[o + 7]) == seq))
        return match

    @staticmethod
    def is_udp_from(sport, dport):
        """A UDP datagram from port `sport` to port `dport`."""
        def match(f):
            r = f.raw
            o = wire.udp4(r)
            return (o is not None and len(r) >= o + 8 and (r[o] << 8 | r[o + 1]) == sport
                    and (r[o + 2] << 8 | r[o + 3]) == dport)
        return match

    @staticmethod
    def is_icmp(types=None):
        def match(f):
            r = f.raw
            info = wire.ipv4(r)
            if info is None or r[23] != 1:
                return False
            return types is None or r[14 + info[0]] in types
        return match

    @staticmethod
    def is_icmp_error():
        return Ctx.is_icmp((3, 4, 5, 11, 12))

    @staticmethod
    def icmp_offset(f):
        """Offset of the ICMP header in frame f (IPv4 assumed)."""
        return 14 + (f.raw[14] & 15) * 4

    @staticmethod
    def quoted(f):
        """The datagram quoted by an ICMP error frame f (bytes after the 8-byte header)."""
        o = Ctx.icmp_offset(f)
        ihl, total = wire.ipv4(f.raw)
        return f.raw[o + 8:14 + total]

    @staticmethod
    def quoted_sport(f):
        """The UDP/TCP source port in the datagram an ICMP error quotes, or None."""
        q = Ctx.quoted(f)
        if len(q) < 20:
            return None
        qihl = (q[0] & 15) * 4
        if len(q) < qihl + 2:
            return None
        return q[qihl] << 8 | q[qihl + 1]

    def is_error_about_port(self, sport, types=(3, 4, 5, 11, 12)):
        """An ICMP error quoting a datagram from our UDP/TCP source port `sport`."""
        icmp = self.is_icmp(types)
        return lambda f: icmp(f) and self.quoted_sport(f) == sport

    @staticmethod
    def is_ip():
        return lambda f: wire.ipv4(f.raw) is not None

    @staticmethod
    def from_target():
        """Any frame except ARP (which the peer answers by itself)."""
        return lambda f: f.raw[12:14] != b"\x08\x06"

    def is_arp_reply_to(self, requester_ip, about_ip=None):
        about = about_ip or self.target_ip

        def match(f):
            if f.raw[12:14] != b"\x08\x06" or len(f.raw) < 42:
                return False
            a = f.pkt[ARP]
            return a.op == 2 and a.psrc == about and a.pdst == requester_ip
        return match

    @staticmethod
    def is_arp_request_for(ip):
        def match(f):
            if f.raw[12:14] != b"\x08\x06" or len(f.raw) < 42:
                return False
            return f.raw[20:22] == b"\x00\x01" and socket.inet_ntoa(f.raw[38:42]) == ip
        return match

    def expect_datagram(self, match, what, timeout=None):
        """Like expect(), but the target's fragments are put back together first; returns
        (Frame of the whole datagram, [fragment Frames])."""
        from .fragments import Reassembler

        return self.expect_reassembled(match, what, timeout, Reassembler(),
                                       lambda r: wire.ipv4(r) is not None,
                                       lambda r: (r[20] << 8 | r[21]) & 0x3FFF)

    def expect_reassembled(self, match, what, timeout, reassembler, of_family, is_fragment):
        """expect_datagram's body for either family: frames for which of_family(raw) holds
        go through reassembler.feed(raw) (it returns the whole datagram's frame or None),
        is_fragment(raw) picks the pieces to return beside it."""
        from .peer import Frame

        t = self.reply if timeout is None else timeout
        pieces = []

        def whole(f):
            if not of_family(f.raw):
                return False
            if is_fragment(f.raw):
                pieces.append(f)
            raw = reassembler.feed(f.raw)
            if raw is None:
                return False
            g = f if raw is f.raw else Frame(raw, f.t, f.index, False)
            if match(g):
                whole.frame = g
                return True
            return False

        if self.peer.wait(whole, t, what) is None:
            raise CheckFailed("no %s within %.1f s" % (what, t))
        return whole.frame, pieces

    # -- exchanges --------------------------------------------------------------------
    def send(self, pkt, note=None):
        return self.peer.send(pkt, note)

    def expect(self, match, what, timeout=None):
        """The first matching frame, or fail: "no WHAT within T s"."""
        t = self.reply if timeout is None else timeout
        f = self.peer.wait(match, t, what)
        if f is None:
            raise CheckFailed("no %s within %.1f s" % (what, t))
        return f

    def wait(self, match, what, timeout=None, since=None):
        """The first matching frame, or None (no failure). since: a mark() -- a frame
        received since then counts too, even one that a wait for something else (a TCP
        send waiting for its ACK, say) has already read past."""
        if since is not None:
            for f in self.peer.rx_log[since:]:
                if match(f):
                    return f
        return self.peer.wait(match, self.reply if timeout is None else timeout, what)

    def ping(self, size=56, what="echo reply", **kw):
        """Send an echo request; (reply Frame or None, ident, seq, data)."""
        return self.echo_exchange(self.echo_request, self.is_echo_reply, size, what, kw)

    def echo_exchange(self, request, is_reply, size, what, kw):
        """ping's body for either family: request(size, **kw) builds it, is_reply(ident, seq)
        matches the answer."""
        pkt, ident, seq, data = request(size, **kw)
        self.send(pkt)
        return self.wait(is_reply(ident, seq), what), ident, seq, data

    def barrier(self, what="the barrier ping"):
        """Ping and wait for the answer, then listen GRACE longer: whatever the target does
        about the frames sent before has been done (it handles frames in order). Fails when
        the target no longer answers. Returns the frames received meanwhile."""
        start = len(self.peer.rx_log)
        pkt, ident, seq, _ = self.echo_request(8)
        self.barrier_ids.add(ident)
        self.send(pkt, note="barrier")
        if self.peer.wait(self.is_echo_reply(ident, seq), self.reply, what) is None:
            raise CheckFailed("the target stopped answering pings (no answer to %s within "
                              "%.1f s)" % (what, self.reply))
        self.peer.collect(self.grace)
        return self.peer.rx_log[start:]

    def silent(self, match, what, start=None):
        """Barrier, then fail if a frame received since `start` (an index into the peer's
        rx_log; default: now) matched: the target must not have sent WHAT."""
        start = len(self.peer.rx_log) if start is None else start
        self.barrier()
        bad = [f for f in self.peer.rx_log[start:] if match(f) and not self.is_barrier(f)]
        if bad:
            raise CheckFailed("the target sent %s: #%d" % (what, bad[0].index))

    def is_barrier(self, f):
        """f answers one of this check's barrier pings."""
        return any(self.is_echo_reply(i)(f) for i in self.barrier_ids)

    def mark(self):
        """An index into the frames received so far (for silent(start=...))."""
        return len(self.peer.rx_log)

    def arp_request(self, pdst=None, psrc=None, hwsrc=None, eth_dst=BROADCAST_MAC, op=1,
                    hwdst="00:00:00:00:00:00"):
        hwsrc = hwsrc or self.peer_mac
        return (Ether(dst=eth_dst, src=hwsrc)
                / ARP(op=op, hwsrc=hwsrc, psrc=psrc or self.peer_ip, hwdst=hwdst,
                      pdst=pdst or self.target_ip))
