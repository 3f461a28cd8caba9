# Round trips per second and receive-path allocations of the stack, run BY the
# interpreter being measured (CPython or the MicroPython unix port):
#
#   python3 ethox_uk/bench/rtt.py RECIPE_DIR APP COUNT SOCKDIR [CMDLINE]
#   micropython -X heapsize=64M ethox_uk/bench/rtt.py ...
#
# The server is a Stack running the recipe's app (main(net)); the peer is a raw
# frame source that sends prebuilt requests and checks the answers (and answers
# the server's ARP requests), so the figures are the stack's and the NIC's own.
#   pair    the in-memory NIC pair (nic/pair.py), both ends in this process
#   dgram   two DgramNics on unix datagram sockets in SOCKDIR, both in this process
#   alloc   (MicroPython) bytes allocated per packet on the receive path: whole
#           poll rounds over a NIC that lends prefilled copies of one request
#           and copies nothing (gc disabled, gc.mem_alloc() deltas per round)
# Prints one JSON object per line. MicroPython-compatible: no f-strings, no
# pathlib, no struct on the hot path.
import gc
import json
import sys
import time

MP = sys.implementation.name == "micropython"
SERVER_MAC = b"\x52\x54\x00\x12\x34\x56"
PEER_MAC = b"\x52\x54\x00\x00\x00\x02"
SERVER_IP = bytes((10, 0, 2, 15))
PEER_IP = bytes((10, 0, 2, 2))
ICMP_PAYLOAD = 56  # as ping(8)
UDP_PAYLOAD = 32
UDP_PORT = 7
PEER_PORT = 40000


if MP:
    def ticks():
        return time.ticks_us()

    def elapsed_us(t0):
        return time.ticks_diff(time.ticks_us(), t0)
else:
    def ticks():
        return time.perf_counter()

    def elapsed_us(t0):
        return (time.perf_counter() - t0) * 1e6


# -- frame templates (built once) -------------------------------------------------
def csum(buf, start=0, end=-1, initial=0):
    # the stack's checksum (imported late: main() puts the repository on sys.path first)
    from ethox_uk.stack.wire.checksum import csum as stack_csum

    return stack_csum(buf, start, end, initial)


def _put16(b, off, v):
    b[off] = (v >> 8) & 255
    b[off + 1] = v & 255


def ipv4_frame(proto, payload_len):
    n = 14 + 20 + payload_len
    f = bytearray(n)
    f[0:6] = SERVER_MAC
    f[6:12] = PEER_MAC
    _put16(f, 12, 0x0800)
    f[14] = 0x45
    _put16(f, 16, 20 + payload_len)
    _put16(f, 18, 0x1234)
    f[22] = 64
    f[23] = proto
    f[26:30] = PEER_IP
    f[30:34] = SERVER_IP
    _put16(f, 24, ~csum(f, 14, 34) & 0xFFFF)
    return f


def icmp_echo_request():
    f = ipv4_frame(1, 8 + ICMP_PAYLOAD)
    f[34] = 8
    _put16(f, 38, 0xBEEF)
    _put16(f, 40, 1)
    for i in range(ICMP_PAYLOAD):
        f[42 + i] = i & 255
    _put16(f, 36, ~csum(f, 34, len(f)) & 0xFFFF)
    return bytes(f)


def udp_request(port=UDP_PORT):
    f = ipv4_frame(17, 8 + UDP_PAYLOAD)
    _put16(f, 34, PEER_PORT)
    _put16(f, 36, port)
    _put16(f, 38, 8 + UDP_PAYLOAD)
    for i in range(UDP_PAYLOAD):
        f[42 + i] = 0x41 + (i % 26)
    pseudo = csum(PEER_IP + SERVER_IP + bytes((0, 17, 0, 8 + UDP_PAYLOAD)), 0, 12)
    s = ~csum(f, 34, len(f), pseudo) & 0xFFFF
    _put16(f, 40, s or 0xFFFF)
    return bytes(f)


# -- the peer -------------------------------------------------------------------
class Peer:
    """Sends one request, then counts the matching answer; answers ARP for PEER_IP."""

    def __init__(self, nic, request, want_proto):
        self.nic = nic
        self.request = request
        self.n = len(request)
        self.want_proto = want_proto
        self.answers = 0
        self.other = 0
        self.arp_answered = 0
        self._cb = self._on_frame

    def send(self):
        buf = self.nic.tx_buffer()
        buf[0:self.n] = self.request
        self.nic.send(buf, self.n)

    def _on_frame(self, v, n):
        if n >= 42 and v[12] == 0x08 and v[13] == 0x06 and v[21] == 1 \
                and v[38] == 10 and v[39] == 0 and v[40] == 2 and v[41] == 2:
            # ARP request for us: answer in place
            v[0:6] = v[6:12]
            v[6:12] = PEER_MAC
            v[21] = 2
            tha = bytes(v[22:32])  # sender hw+ip become target
            v[22:28] = PEER_MAC
            v[28:32] = PEER_IP
            v[32:42] = tha
            self.arp_answered += 1
            return 42
        if n >= 34 and v[12] == 0x08 and v[13] == 0x00 and v[23] == self.want_proto \
                and (self.want_proto != 1 or v[34] == 0):
            self.answers += 1
        else:
            self.other += 1
        return 0

    def receive(self):
        return self.nic.receive(self._cb, 8)


def now_ms():
    if MP:
        return time.ticks_ms()
    return int(time.monotonic() * 1000)


def make_stack(nic, recipe_dir, app_name, cmdline):
    from ethox_uk.stack import socket as stack_socket
    from ethox_uk.stack.config import Config
    from ethox_uk.stack.iface import Stack

    stack = Stack(nic, Config.from_words(cmdline))
    stack_socket.use(stack, clock=now_ms)
    if recipe_dir not in sys.path:
        sys.path.insert(0, recipe_dir)
    app = __import__(app_name)
    app.main(stack)
    return stack


REPEATS = 5  # each figure is the median of this many timed runs


def round_trips(stack, peer, count):
    """Time `count` request/answer exchanges, REPEATS times; returns
    (list of elapsed_us per run, answered in total)."""
    t = now_ms()
    for _ in range(3):  # warm up (ARP, caches)
        peer.send()
        for _ in range(4):
            stack.poll(t)
            peer.receive()
    peer.answers = 0
    runs = []
    for _ in range(REPEATS):
        t0 = ticks()
        for _ in range(count):
            peer.send()
            before = peer.answers
            for _ in range(4):
                stack.poll(t)
                peer.receive()
                if peer.answers != before:
                    break
        runs.append(elapsed_us(t0))
    return runs, peer.answers


def result(nic_kind, proto, count, runs, answered, stack):
    c = stack.counters.c
    us = sorted(runs)[len(runs) // 2]
    return {"kind": "rtt", "interp": sys.implementation.name, "nic": nic_kind,
            "proto": proto, "count": count * len(runs), "answered": answered,
            "per_s": count * 1e6 / us if us else 0.0, "us_per_rtt": us / count,
            "runs_us": runs, "internal_error": c["internal_error"]}


def bench_pair(recipe_dir, app_name, cmdline, count):
    from ethox_uk.stack.nic.pair import make_pair

    out = []
    for proto, req, pnum in (("icmp", icmp_echo_request(), 1), ("udp", udp_request(), 17)):
        a, b = make_pair()
        stack = make_stack(a, recipe_dir, app_name, cmdline)
        runs, answered = round_trips(stack, Peer(b, req, pnum), count)
        out.append(result("pair", proto, count, runs, answered, stack))
    return out


def bench_dgram(recipe_dir, app_name, cmdline, count, sockdir):
    from ethox_uk.stack.nic.dgram import DgramNic

    out = []
    for proto, req, pnum in (("icmp", icmp_echo_request(), 1), ("udp", udp_request(), 17)):
        srv_path = sockdir + "/s-" + proto
        peer_path = sockdir + "/p-" + proto
        srv = DgramNic(srv_path, peer_path)
        pn = DgramNic(peer_path, srv_path)
        try:
            stack = make_stack(srv, recipe_dir, app_name, cmdline)
            runs, answered = round_trips(stack, Peer(pn, req, pnum), count)
            out.append(result("dgram", proto, count, runs, answered, stack))
        finally:
            srv.close()
            pn.close()
    return out


class LoopNic:
    """Lends `budget` copies of one request per receive call, from buffers filled
    beforehand by refill() (outside the measured window), so a poll round's
    allocations are the stack's alone. Replies and sends are counted, not sent."""

    hw_mac = None
    rx_csum = 0  # no offloads (nic/base.py)
    tx_csum = False
    tso_max = 0

    def __init__(self, request, slots=32):
        self.request = request
        self.n = len(request)
        self.bufs = [bytearray(2048) for _ in range(slots)]
        self.views = [memoryview(b) for b in self.bufs]
        self.tx = memoryview(bytearray(2048))
        self.frames = 0
        self.replies = 0
        self.sent = 0

    def refill(self):
        for b in self.bufs:
            b[0:self.n] = self.request

    def receive(self, handler, budget):
        views = self.views
        n = self.n
        i = 0
        k = len(views)
        if budget > k:
            budget = k
        while i < budget:
            if handler(views[i], n) > 0:
                self.replies += 1
            i += 1
        self.frames += budget
        return budget

    def tx_buffer(self):
        return self.tx

    def send(self, view, length):
        self.sent += 1

    def release(self, view):
        pass

    def flush(self):
        pass

    def fileno(self):
        return None

    def close(self):
        pass


def bench_alloc(recipe_dir, app_name, cmdline, count):
    """Bytes allocated per received packet (MicroPython): gc.mem_alloc() before and
    after each poll round of 32 frames, gc disabled, the NIC copying nothing.
    (mem_alloc scans the heap, so it is called per round, not per frame.)"""
    out = []
    if not MP:
        return out
    rounds = max(1, count // 32)
    for proto, req in (("icmp", icmp_echo_request()), ("udp", udp_request()),
                       ("udp_closed_port", udp_request(9999))):
        nic = LoopNic(req)
        stack = make_stack(nic, recipe_dir, app_name, cmdline)
        t = now_ms()
        for _ in range(4):  # warm up: first-use allocations do not count
            nic.refill()
            stack.poll(t)
        nic.frames = nic.replies = nic.sent = 0
        total = 0
        gc.collect()
        gc.disable()
        try:
            a0 = gc.mem_alloc()
            probe = bytearray(100)  # proves the measurement sees allocations
            probe_bytes = gc.mem_alloc() - a0
            del probe
            for _ in range(rounds):
                nic.refill()
                a0 = gc.mem_alloc()
                stack.poll(t)
                total += gc.mem_alloc() - a0
        finally:
            gc.enable()
        frames = nic.frames or 1
        out.append({"kind": "alloc", "interp": sys.implementation.name, "proto": proto,
                    "frames": nic.frames, "answered": nic.replies + nic.sent,
                    "bytes_per_packet": total / frames, "probe_bytes": probe_bytes,
                    "internal_error": stack.counters.c["internal_error"]})
    return out


def main(argv):
    if len(argv) < 4:
        print("usage: rtt.py RECIPE_DIR APP COUNT SOCKDIR [CMDLINE]")
        return 2
    try:
        from ethox_uk.bench.scriptpath import add_repo_root
    except ImportError:  # run as a file: its own folder is sys.path[0]
        from scriptpath import add_repo_root
    add_repo_root()
    recipe_dir, app_name, count, sockdir = argv[0], argv[1], int(argv[2]), argv[3]
    cmdline = argv[4] if len(argv) > 4 else "ip=10.0.2.15/24 gw=10.0.2.2"
    for part in (bench_pair, bench_dgram, bench_alloc):
        if part is bench_dgram:
            rows = part(recipe_dir, app_name, cmdline, count, sockdir)
        else:
            rows = part(recipe_dir, app_name, cmdline, count)
        for row in rows:
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
