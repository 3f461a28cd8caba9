# Helpers shared by tests/unit (MicroPython-compatible: these tests also run under
# the MicroPython unix port through tests/mprun.py; no pytest imports here).
import sys

from ethox_uk.stack.iface import Stack

MICROPYTHON = sys.implementation.name == "micropython"


def raises(exc, fn, *args, **kw):
    """Call fn(*args, **kw) and assert it raises exc (pytest.raises is not available)."""
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%s not raised by %r" % (exc.__name__, fn))


# -- Ethernet/ARP helpers (frame builders, a stub stack for eth+arp tests) -----
def mac(text):
    """b'...' for 'xx:xx:xx:xx:xx:xx' (group addresses allowed, unlike parse_mac)."""
    parts = text.split(":")
    assert len(parts) == 6, text
    return bytes([int(p, 16) for p in parts])


def ip4(text):
    from ethox_uk.stack.config import parse_ip

    return parse_ip(text)


BCAST_MAC = b"\xff\xff\xff\xff\xff\xff"


def eth_frame(dst, src, ethertype, payload=b""):
    """An Ethernet II frame as bytes (no padding, no FCS)."""
    return bytes(dst) + bytes(src) + bytes(((ethertype >> 8) & 255, ethertype & 255)) + bytes(payload)


def arp_body(op, sha, spa, tha, tpa, htype=1, ptype=0x0800, hlen=6, plen=4):
    """The 28-byte ARP packet (fields overridable to build malformed ones)."""
    head = bytes(((htype >> 8) & 255, htype & 255, (ptype >> 8) & 255, ptype & 255,
                  hlen, plen, (op >> 8) & 255, op & 255))
    return head + bytes(sha) + bytes(spa) + bytes(tha) + bytes(tpa)


def nic_pair(seed=1, loss=0, reorder=0, duplicate=0, corrupt=0):
    from ethox_uk.stack.nic.pair import make_pair

    return make_pair(seed, loss, reorder, duplicate, corrupt)


def tx_free(end):
    """How many tx buffers a pair end has free (to catch leaks)."""
    return len(end._tx_free)


class _NoFragments:
    timer_at = -1  # StubIp has no reassembly: Stack.poll and next_timeout see no timer


class StubIp:
    """Stands in for the IPv4 layer: records frames; `reply(view, length, now)`
    may answer in place."""

    def __init__(self, stack):
        self.stack = stack
        self.got = []
        self.reply = None
        self.frag = _NoFragments()

    def receive(self, view, length, now):
        self.got.append(bytes(view[0:length]))
        if self.reply is not None:
            return self.reply(view, length, now)
        return 0

    def poll(self, now):
        pass


class EthArpStack(Stack):
    """A Stack with only its Ethernet and ARP layers real and a StubIp above them:
    Stack's own frame callback and poll round drive them."""

    def __init__(self, nic, config=None, faults=()):
        from ethox_uk.stack.config import Config
        from ethox_uk.stack.counters import Counters
        from ethox_uk.stack.layer.arp import ArpLayer
        from ethox_uk.stack.layer.eth import EthLayer

        self.nic = nic
        self.config = config if config is not None else Config()
        self.mac = self.config.mac
        self.ip_addr = self.config.ip
        self.counters = Counters()
        self.now = 0
        self.last_error = None
        self.faults = frozenset(faults)
        self.eth = EthLayer(self)
        self.arp = ArpLayer(self)
        self.ip = StubIp(self)
        self.icmp = None
        self.udp = None
        self.tcp = None
        self.ip6 = None
        self._pollers = []
        self._timer_sources = []
        self._clients = []
        self._timer = None
        self._on_frame_cb = self._on_frame

    def rx(self, frame, now):
        """Deliver one frame to the stack and run a poll round at `now`."""
        self.nic.inject(frame)
        return self.poll(now)


def eth_arp_setup(config=None):
    """(stack, peer): an EthArpStack on one end of a NIC pair, the peer end."""
    a, b = nic_pair()
    return EthArpStack(a, config), b


# -- IPv4/ICMP/UDP helpers (frame builders, whole stacks on a pair) ------------
OUR_IP = b"\x0a\x00\x02\x0f"  # 10.0.2.15, the default Config
OUR_MAC = b"\x52\x54\x00\x12\x34\x56"
PEER_IP = b"\x0a\x00\x02\x02"  # 10.0.2.2
PEER_MAC = b"\x52\x54\x00\x00\x00\x02"
SUBNET_BCAST = b"\x0a\x00\x02\xff"
ALL_ONES = b"\xff\xff\xff\xff"


def csum16(data, initial=0):
    """Plain Internet checksum (RFC 1071) of bytes, already inverted."""
    s = initial
    n = len(data)
    for i in range(0, n - 1, 2):
        s += (data[i] << 8) | data[i + 1]
    if n & 1:
        s += data[n - 1] << 8
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def u16(v):
    return bytes(((v >> 8) & 255, v & 255))


def ipv4_hdr(src, dst, proto, payload_len, ident=1, flags_off=0, ttl=64, tos=0,
             options=b"", csum=None, ihl=None, total=None, version=4):
    """An IPv4 header as bytes; every field overridable (csum=None: correct one)."""
    hl = 20 + len(options)
    if ihl is None:
        ihl = hl // 4
    if total is None:
        total = hl + payload_len
    h = bytearray(bytes(((version << 4) | (ihl & 15), tos)) + u16(total) + u16(ident)
                  + u16(flags_off) + bytes((ttl, proto, 0, 0)) + bytes(src) + bytes(dst)
                  + bytes(options))
    c = csum16(h) if csum is None else csum
    h[10] = c >> 8
    h[11] = c & 255
    return bytes(h)


def ipv4_pkt(src, dst, proto, payload, **kw):
    return ipv4_hdr(src, dst, proto, len(payload), **kw) + bytes(payload)


def icmp_msg(msg_type, code=0, rest=0, data=b"", csum=None):
    m = bytearray(bytes((msg_type, code, 0, 0)) + u16(rest >> 16) + u16(rest & 0xFFFF)
                  + bytes(data))
    c = csum16(m) if csum is None else csum
    m[2] = c >> 8
    m[3] = c & 255
    return bytes(m)


def echo_req(ident, seq, data=b""):
    return icmp_msg(8, 0, (ident << 16) | seq, data)


def udp_dgram(src, dst, sport, dport, payload, csum=None, length=None):
    """A UDP datagram; csum None = correct, 0 = none; length overrides the field."""
    ulen = 8 + len(payload) if length is None else length
    d = bytearray(u16(sport) + u16(dport) + u16(ulen) + b"\x00\x00" + bytes(payload))
    if csum is None:
        pseudo = bytes(src) + bytes(dst) + bytes((0, 17)) + u16(len(d))
        c = csum16(pseudo + d) or 0xFFFF
    else:
        c = csum
    d[6] = c >> 8
    d[7] = c & 255
    return bytes(d)


def frame_in(ip_packet, dst_mac=OUR_MAC, src_mac=PEER_MAC, pad_to=0):
    """Ethernet frame carrying ip_packet to the stack (padded with junk to pad_to)."""
    f = bytes(dst_mac) + bytes(src_mac) + b"\x08\x00" + bytes(ip_packet)
    if len(f) < pad_to:
        f += b"\xee" * (pad_to - len(f))
    return f


def ip_stack(seed=1, ip="10.0.2.15/24", gw="10.0.2.2", mac="52:54:00:12:34:56", faults=()):
    """(stack, peer_end): a full Stack on one end of a NIC pair (faults: test-only switches)."""
    from ethox_uk.stack.config import Config
    from ethox_uk.stack.iface import Stack

    a, b = nic_pair(seed)
    return Stack(a, Config(ip, gw, mac), seed=seed, faults=faults), b


def stack_rx(stack, peer, frame, now=0):
    """Inject one frame into the stack, run a poll round; frames it sent (bytes)."""
    stack.nic.inject(frame)
    stack.poll(now)
    return peer.frames()


def prime_arp(stack, peer, now=0, peer_ip=PEER_IP, peer_mac=PEER_MAC):
    """Let the stack learn the peer's MAC (an ARP request from the peer)."""
    body = arp_body(1, peer_mac, peer_ip, b"\x00" * 6, stack.ip_addr)
    stack_rx(stack, peer, eth_frame(BCAST_MAC, peer_mac, 0x0806, body), now)


def ip_of(frame):
    """The IPv4 datagram inside an Ethernet frame, trimmed to its total length."""
    total = (frame[16] << 8) | frame[17]
    return frame[14:14 + total]


def udp_datagrams(frames):
    """[(frame, ip bytes, sport, dport, payload bytes)] of the IPv4 UDP datagrams in frames."""
    out = []
    for f in frames:
        if f[12:14] != b"\x08\x00" or f[23] != 17:
            continue
        ip = ip_of(f)
        u = ip[(ip[0] & 15) * 4:]
        out.append((f, ip, (u[0] << 8) | u[1], (u[2] << 8) | u[3], bytes(u[8:])))
    return out


def counters_are(stack, **expect):
    """Assert each named counter and that internal_error is 0; names not given
    that are drops must be 0 too (so nothing else went wrong silently)."""
    c = stack.counters
    assert c["internal_error"] == 0, stack.last_error
    for k in expect:
        assert c[k] == expect[k], "%s = %d, expected %d (drops %r)" % (k, c[k], expect[k], c.drops())
    for k, v in c.drops().items():
        assert k in expect, "unexpected drop %s = %d" % (k, v)


class SimClock:
    """A simulated millisecond clock for socket tests: each call advances `step`."""

    def __init__(self, start=0, step=1):
        self.t = start
        self.step = step

    def __call__(self):
        self.t += self.step
        return self.t


def two_stacks(seed=1, loss=0, reorder=0, duplicate=0, corrupt=0, faults=()):
    """(A, B): A = 10.0.2.15 (gw B), B = 10.0.2.2, on one NIC pair; faults: A's
    test-only switches."""
    from ethox_uk.stack.config import Config
    from ethox_uk.stack.iface import Stack

    a, b = nic_pair(seed, loss, reorder, duplicate, corrupt)
    A = Stack(a, Config("10.0.2.15/24", "10.0.2.2", "52:54:00:12:34:56"), seed=seed,
              faults=faults)
    B = Stack(b, Config("10.0.2.2/24", None, "52:54:00:00:00:02"), seed=seed + 1)
    return A, B


def socket_net(**kw):
    """(A, B, clock): two_stacks(**kw) whose sockets share a simulated clock and an idle hook
    polling both stacks, so a socket blocked on one stack sees the other answer;
    socket() makes A's until on(stack) says otherwise."""
    from ethox_uk.stack import socket

    A, B = two_stacks(**kw)
    clock = SimClock(step=1)

    def idle(ms):
        A.poll(clock.t)
        B.poll(clock.t)

    socket.use(A, clock=clock, idle=idle)
    return A, B, clock


def on(stack):
    """Make the next socket() on `stack`, with the current stack's clock and idle hook."""
    from ethox_uk.stack import socket

    cur = socket.current_stack()
    socket.use(stack, clock=cur.clock, idle=cur.idle)


def http_app():
    """images/http's app module, imported afresh."""
    import sys

    path = __file__.rsplit("/", 3)[0] + "/images/http"
    if path not in sys.path:
        sys.path.insert(0, path)
    if "app" in sys.modules:
        del sys.modules["app"]
    import app

    return app


def run_both(A, B, start, end, step=1):
    """Poll both stacks from `start` to `end` ms."""
    t = start
    while t < end:
        A.poll(t)
        B.poll(t)
        t += step
    return t


def frag_pkts(src, dst, proto, payload, size=1480, ident=0x4242):
    """The IPv4 fragments (bytes) of a datagram, `size` payload bytes each (a multiple of 8)."""
    out = []
    pos = 0
    n = len(payload)
    while pos < n:
        m = n - pos if n - pos < size else size
        more = 0x2000 if pos + m < n else 0
        out.append(ipv4_pkt(src, dst, proto, payload[pos:pos + m], ident=ident,
                            flags_off=more | (pos >> 3)))
        pos += m
    return out


def defrag(frames):
    """Rebuild (first IPv4 header, payload) from fragment frames; asserts they fit."""
    parts = []
    for f in frames:
        p = ip_of(f)
        hl = (p[0] & 15) * 4
        assert csum16(p[:hl]) == 0, "bad header checksum"
        fo = (p[6] << 8) | p[7]
        parts.append(((fo & 0x1FFF) * 8, fo & 0x2000, p[:hl], p[hl:]))
    parts.sort(key=lambda x: x[0])
    data = b""
    for off, more, hdr, body in parts:
        assert off == len(data), "hole or overlap at %d" % off
        data += body
    assert not parts[-1][1], "last fragment has MF"
    for off, more, hdr, body in parts:
        assert hdr[4:6] == parts[0][2][4:6], "identification differs"
    return parts[0][2], data
