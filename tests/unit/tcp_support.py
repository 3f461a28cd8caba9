# Helpers for the TCP tests (MicroPython-compatible): two full stacks on an
# in-memory NIC pair, a simple TCP user holding ring buffers per connection,
# a simulated-time driver, and a segment crafter for hand-written input.
from ethox_uk.stack.config import Config
from ethox_uk.stack.iface import Stack
from ethox_uk.stack.nic.pair import make_pair
from ethox_uk.stack.layer.tcp import TcpLayer, RingSendBuf, RingRecvBuf
from ethox_uk.stack.layer.tcp import io
from ethox_uk.stack.wire import tcp as wtcp
from ethox_uk.stack.wire import ipv4 as wip

A_IP = b"\x0a\x00\x02\x0f"  # 10.0.2.15 (the stack under test)
B_IP = b"\x0a\x00\x02\x02"  # 10.0.2.2
A_MAC = b"\x52\x54\x00\x12\x34\x56"
B_MAC = b"\x52\x54\x00\x12\x34\x57"


class ConnApp:
    """What the App keeps per connection."""

    def __init__(self, key, sbuf_size, rbuf_size):
        self.key = key
        self.sb = RingSendBuf(sbuf_size)
        self.rb = RingRecvBuf(rbuf_size)
        self.received = bytearray()
        self.events = []
        self.closed = False
        self.reset = False
        self.half_closed = False
        self.source = None  # a callable topping up sb, or None
        self.consume = True  # drain the RecvBuf on every segment (False: let it fill)
        self.auto_write = True
        self.sink = None  # callable(memoryview) taking received bytes instead of .received

    def drain(self):
        rb = self.rb
        while rb.readable():
            if self.sink is not None:
                n = rb.readinto(self._tmp())
                self.sink(memoryview(self._tmpbuf)[:n])
            else:
                self.received += rb.read()

    def _tmp(self):
        try:
            return self._tmpbuf
        except AttributeError:
            self._tmpbuf = bytearray(4096)
            return self._tmpbuf


class App:
    """A TCP user: a SendBuf/RecvBuf pair per connection, reading and writing
    on every Open, logging every In."""

    def __init__(self, sbuf_size=65536, rbuf_size=65536):
        self.conns = {}
        self.log = []  # (kind, key, signals string)
        self.sbuf_size = sbuf_size
        self.rbuf_size = rbuf_size
        self.layer = None
        self.setup = None  # callable(ConnApp) for each new connection

    def get(self, key):
        ca = self.conns.get(key)
        if ca is None:
            ca = ConnApp(key, self.sbuf_size, self.rbuf_size)
            self.conns[key] = ca
            if self.setup is not None:
                self.setup(ca)
        return ca

    def receive(self, pkt):
        sig = pkt.signals
        self._receive(pkt, sig)
        self.log.append((pkt.kind, pkt.key, repr(sig)))  # after read(): FIN signals are in

    def _receive(self, pkt, sig):
        if pkt.kind == io.OPEN:
            ca = self.get(pkt.key)
            pkt.read(ca.rb)
            if ca.consume:
                ca.drain()
                pkt.read(ca.rb)  # report the window after draining
            if sig.half_closed:
                ca.half_closed = True
            if sig.reset:
                ca.reset = True
            if ca.source is not None:
                ca.source(ca)
            if ca.auto_write:
                pkt.write(ca.sb)
        elif pkt.kind in (io.CLOSED, io.CLOSING):
            ca = self.conns.get(pkt.key)
            if ca is not None:
                ca.closed = True
                ca.reset = ca.reset or sig.reset
                ca.events.append(repr(sig))

    def send(self, raw):
        key = raw.key
        ca = self.conns.get(key)
        if ca is None:
            ca = self.get(key)
        o = raw.attach(key)
        if o is None:
            return
        o.read(ca.rb)
        if ca.consume:
            ca.drain()
            o.read(ca.rb)
        if ca.source is not None:
            ca.source(ca)
        o.write(ca.sb)

    def connect(self, now, addr, port, local_port=0):
        o = self.layer.raw(now).open(addr, port, local_port)
        assert o is not None
        self.get(o.key)
        return o.key

    def push(self, key, data, now):
        """Queue data on key and send what can go now."""
        ca = self.get(key)
        n = ca.sb.write(data)
        o = self.layer.raw(now).attach(key)
        if o is not None:
            o.write(ca.sb)
        return n

    def consume_now(self, key, now):
        """The application reads everything buffered; the window reopens."""
        ca = self.get(key)
        ca.drain()
        o = self.layer.raw(now).attach(key)
        if o is not None:
            o.read(ca.rb)
            o.write(ca.sb)

    def close(self, key, now):
        ca = self.get(key)
        ca.sb.close()
        o = self.layer.raw(now).attach(key)
        if o is not None:
            o.write(ca.sb)

    def kinds(self):
        return [k for k, _, _ in self.log]


def make_stack(nic, ip, mac, seed, user, faults=(), **tcp_args):
    cfg = Config(ip=(ip, 24), gw="10.0.2.1", mac=mac)
    s = Stack(nic, cfg, seed=seed, faults=faults)
    s.tcp = TcpLayer(s, user, **tcp_args)
    if user is not None:
        user.layer = s.tcp
    return s


class Net:
    """Two stacks (a = 10.0.2.15, b = 10.0.2.2) on a faulty pair; simulated time."""

    def __init__(self, seed=1, loss=0, reorder=0, duplicate=0, corrupt=0, app_a=None,
                 app_b=None, tcp_a=None, tcp_b=None):
        self.na, self.nb = make_pair(seed, loss, reorder, duplicate, corrupt)
        self.app_a = app_a if app_a is not None else App()
        self.app_b = app_b if app_b is not None else App()
        self.a = make_stack(self.na, A_IP, A_MAC, seed, self.app_a, **(tcp_a or {}))
        self.b = make_stack(self.nb, B_IP, B_MAC, seed + 1000, self.app_b, **(tcp_b or {}))
        self.now = 0
        self.rounds = 0

    def step(self):
        self.a.poll(self.now)
        self.b.poll(self.now)
        self.rounds += 1
        if self.na.pending() or self.nb.pending() or self.a.tcp.due or self.b.tcp.due:
            self.now += 1
            return True
        t = -1
        for s in (self.a, self.b):
            x = s.next_timeout(self.now)
            if x >= 0 and (t < 0 or x < t):
                t = x
        if t < 0:
            return False
        self.now += t if t > 0 else 1
        return True

    def run(self, cond=None, limit=600000):
        """Step until cond() is true (or nothing is left to do); False on time out."""
        end = self.now + limit
        while self.now < end:
            if cond is not None and cond():
                return True
            if not self.step():  # nothing in flight and no timer: nothing will change
                return cond is None or cond()
        return cond is not None and cond()

    def settle(self, ms=5):
        """Run ms of simulated time (frames in flight get delivered)."""
        end = self.now + ms
        while self.now < end:
            self.a.poll(self.now)
            self.b.poll(self.now)
            self.now += 1

    def errors(self):
        return self.a.counters["internal_error"] + self.b.counters["internal_error"]


# -- one stack against hand-made segments -------------------------------------------
class Lone:
    """Stack `s` (10.0.2.15) on one end; the test speaks raw segments from
    10.0.2.2 on the other end (ARP answered by hand)."""

    def __init__(self, app=None, faults=(), **tcp_args):
        self.nic, self.peer = make_pair(1)
        self.app = app if app is not None else App()
        self.s = make_stack(self.nic, A_IP, A_MAC, 7, self.app, faults, **tcp_args)
        self.now = 0
        # an ARP request from B teaches the stack B's MAC: answers need no ARP round
        req = bytearray(42)
        req[0:6] = b"\xff\xff\xff\xff\xff\xff"
        req[6:12] = B_MAC
        req[12:14] = b"\x08\x06"
        req[14:22] = b"\x00\x01\x08\x00\x06\x04\x00\x01"
        req[22:28] = B_MAC
        req[28:32] = B_IP
        req[38:42] = A_IP
        self.nic.inject(bytes(req))
        self.s.poll(0)
        self.peer.frames()

    def send(self, r, now=None, ip_src=B_IP):
        """Deliver wtcp.Repr r (from B) to the stack and run one poll."""
        if now is not None:
            self.now = now
        seg = bytearray(r.buffer_len())
        r.emit(seg, ip_src, A_IP)
        self.inject_segment(seg, ip_src)

    def inject_segment(self, seg, ip_src=B_IP, dst=A_IP):
        frame = bytearray(34 + len(seg))
        frame[0:6] = A_MAC
        frame[6:12] = B_MAC
        frame[12] = 0x08
        frame[13] = 0x00
        wip.write_header(frame, 14, 20 + len(seg), 1, 0, 64, 6, ip_src, dst)
        frame[34:] = seg
        self.nic.inject(bytes(frame))
        self.s.poll(self.now)

    def out(self):
        """Every TCP segment the stack sent since the last call, as wire Reprs
        (ARP requests are answered on the way)."""
        res = []
        while True:
            frames = self.peer.frames()
            if not frames:
                return res
            for f in frames:
                t = (f[12] << 8) | f[13]
                if t == 0x0806:
                    self._answer_arp(f)
                    continue
                if t != 0x0800 or f[23] != 6:
                    continue
                hl = (f[14] & 15) * 4
                total = (f[16] << 8) | f[17]
                seg = f[14 + hl:14 + total]
                r = wtcp.Repr.parse(seg, f[26:30], f[30:34])
                assert r is not None, "the stack sent a malformed segment"
                res.append(r)

    def _answer_arp(self, f):
        if f[21] != 1:
            return
        rep = bytearray(42)
        rep[0:6] = A_MAC
        rep[6:12] = B_MAC
        rep[12] = 0x08
        rep[13] = 0x06
        rep[14:22] = b"\x00\x01\x08\x00\x06\x04\x00\x02"
        rep[22:28] = B_MAC
        rep[28:32] = f[38:42]
        rep[32:38] = A_MAC
        rep[38:42] = f[28:32]
        self.nic.inject(bytes(rep))
        self.s.poll(self.now)

    def tick(self, now):
        self.now = now
        self.s.poll(now)

    def handshake(self, port=80, sport=40000, iss=1000, wscale=None, mss=1460, wnd=65535,
                  sack_perm=False, ts=None):
        """Listen on port and complete a passive open from B; returns (key, our iss).
        ts: B's TSval for the SYN (and the ACK), None for no timestamps."""
        if port not in self.s.tcp.listeners:
            self.s.tcp.listen(port)
        self.send(wtcp.Repr(sport, port, iss, 0, wtcp.SYN, wnd, mss=mss, wscale=wscale,
                               sack_perm=sack_perm, timestamp=None if ts is None else (ts, 0)))
        out = self.out()
        synack = out[-1]
        assert synack.flags == wtcp.SYN | wtcp.ACK, out
        self.synack = synack
        self.send(wtcp.Repr(sport, port, iss + 1, (synack.seq + 1) & 0xFFFFFFFF, wtcp.ACK, wnd,
                               timestamp=None if ts is None else (ts, synack.timestamp[0])))
        key = self.s.tcp.accept(port)
        assert key is not None
        return key, synack.seq


def R(sport, dport, seq, ack, flags, wnd=65535, payload=b"", **kw):
    return wtcp.Repr(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, flags, wnd,
                        payload=payload, **kw)


SYN = wtcp.SYN
ACK = wtcp.ACK
FIN = wtcp.FIN
RST = wtcp.RST
PSH = wtcp.PSH


# -- bulk transfer ----------------------------------------------------------------------
_PATTERN = []


def pattern():
    """65521 pseudo-random bytes (a prime length, so segment boundaries drift)."""
    if not _PATTERN:
        p = bytearray(65521)
        x = 2463534242
        for i in range(len(p)):
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            p[i] = x & 255
        _PATTERN.append(p)
    return _PATTERN[0]


def stream_sha256(size):
    import hashlib

    pat = pattern()
    h = hashlib.sha256()
    left = size
    while left:
        k = left if left < len(pat) else len(pat)
        h.update(pat[:k])
        left -= k
    return h.digest()


class Transfer:
    """Per-connection source of `size` pattern bytes (then FIN) and a sha256 sink."""

    def __init__(self, size):
        import hashlib

        self.size = size
        self.sent = 0
        self.got = 0
        self.h = hashlib.sha256()

    def attach(self, ca):
        ca.source = self.source
        ca.sink = self.sink

    def source(self, ca):
        pat = pattern()
        plen = len(pat)
        sb = ca.sb
        while self.sent < self.size:
            p = self.sent % plen
            k = plen - p
            if k > self.size - self.sent:
                k = self.size - self.sent
            w = sb.write(pat, p, p + k)
            self.sent += w
            if w < k:
                return
        if not sb.fin:
            sb.close()

    def sink(self, mv):
        self.h.update(mv)
        self.got += len(mv)


def bulk(seed, size, loss=0, reorder=0, duplicate=0, corrupt=0, both=True, limit=5000000):
    """Connect a -> b:80, send `size` bytes a->b (and b->a when both), close
    both ways. Returns (net, transfers a->b, b->a, ok)."""
    n = Net(seed, loss, reorder, duplicate, corrupt)
    ab = Transfer(size)
    ba = Transfer(size if both else 0)

    def setup_a(ca):
        ca.sink = ba.sink
        ca.source = ab.source

    def setup_b(ca):
        ca.sink = ab.sink
        ca.source = ba.source

    n.app_a.setup = setup_a
    n.app_b.setup = setup_b
    n.b.tcp.listen(80)
    ka = n.app_a.connect(0, B_IP, 80)

    def done():
        return (ab.got == size and ba.got == ba.size and not n.a.tcp.keys()
                and not n.b.tcp.keys())

    ok = n.run(done, limit)
    n.key_a = ka
    return n, ab, ba, ok


# -- sockets (ethox_uk.stack.socket) on two stacks, simulated time -------------------------
def sock_net(faults=()):
    """(A, B, clock): support.socket_net (A 10.0.2.15 with the test-only `faults`)."""
    import support

    return support.socket_net(faults=faults)


def sock_on(stack):
    """A new TCP socket on `stack` (same clock and idle hook)."""
    import support
    from ethox_uk.stack import socket

    support.on(stack)
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def run_both(A, B, clock, ms):
    end = clock.t + ms
    while clock.t < end:
        A.poll(clock.t)
        B.poll(clock.t)
        clock.t += 1


def closed_server_socket(faults=()):
    """A listens on 5000, B connects, A's application closes its side (FIN,
    nothing left to read): (A, B, clock, B's socket, A's listener, socket module)."""
    from ethox_uk.stack import socket

    A, B, clock = sock_net(faults)
    ls = sock_on(A)
    ls.bind(("", 5000))
    ls.listen(2)
    c = sock_on(B)
    c.setblocking(False)
    try:
        c.connect(("10.0.2.15", 5000))
    except OSError as e:
        assert e.args[0] == socket.EINPROGRESS
    sock_on(A)
    s, _ = ls.accept()
    s.close()
    run_both(A, B, clock, 200)
    assert A.tcp.state_name(A.tcp.keys()[0]) == "FIN-WAIT-2"
    c.setblocking(True)
    return A, B, clock, c, ls, socket


# -- the SYN's window (issue 16) -------------------------------------------------------------
def syn_window_overrun(**tcp_args):
    """Listen with a 4000-byte RecvBuf the application does not drain; the
    peer sends what the SYN-ACK offered (at most 8000 bytes). Returns (the
    SYN-ACK's window, bytes sent, bytes acknowledged)."""
    app = App(rbuf_size=4000)
    app.setup = lambda ca: setattr(ca, "consume", False)
    lo = Lone(app=app, **tcp_args)
    lo.s.tcp.listen(80, 4, 4000)
    lo.send(R(40000, 80, 1000, 0, SYN, mss=1000))
    sa = lo.out()[-1]
    lo.send(R(40000, 80, 1001, sa.seq + 1, ACK), now=1)
    offered = sa.window if sa.window < 8000 else 8000
    for off in range(0, offered, 1000):
        lo.send(R(40000, 80, 1001 + off, sa.seq + 1, ACK, payload=bytes(1000)), now=2)
    lo.tick(300)
    acked = max([r.ack for r in lo.out()]) - 1001
    return sa.window, offered, acked
