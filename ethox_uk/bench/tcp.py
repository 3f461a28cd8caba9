# TCP throughput, connection rate and per-segment allocations of the stack,
# run BY the interpreter being measured (CPython or the MicroPython unix port):
#
#   python3 ethox_uk/bench/tcp.py SOCKDIR [MIB [PARTS [REPEATS [quick]]]]
#   micropython -X heapsize=64M ethox_uk/bench/tcp.py SOCKDIR [MIB [PARTS [REPEATS [quick]]]]
#
# Two Stacks in this process (A = 10.0.2.15 opens, B = 10.0.2.2 listens), each
# with a TcpLayer driven through the raw TCP user interface (layer/tcp/io.py)
# and large ring buffers; MSS 1460 (1500-byte MTU).
#   bulk   MIB MiB one way (A->B: the opener sends; B->A: the listener sends)
#          over the in-memory pair (nic/pair.py) and over two DgramNics on unix
#          datagram sockets in SOCKDIR; Mbit/s of payload, wall clock from the
#          SYN to the last byte received (bounded by TIME_LIMIT s); the median
#          of REPEATS runs (default 3), every run's figure in runs_mbit_s, and
#          the CPU time this process used (mbit_per_cpu_s: other load on the
#          machine lowers mbit_s but hardly this)
#   bulk_pair_offload   the same over the pair in its offload mode (a veth: 64 KiB
#          segments, partial checksums), 4 x MIB
#   loss   a->b over the pair at 0, 0.1, 1 and 5 % loss each way, with and
#          without SACK: Mbit/s, retransmissions and RTOs (LOSS_BYTES each)
#   conn   connections per second over the pair: open, 1 byte each way,
#          close both ways (the opener closes first and keeps TIME-WAIT)
#   alloc  (MicroPython) bytes allocated per data segment in steady-state bulk
#          transfer over the pair, both stacks and the ACKs included, the
#          application copying into and out of its rings (gc.mem_alloc deltas,
#          gc disabled)
# PARTS: comma-separated subset of bulk_pair,bulk_pair_offload,bulk_dgram,conn,alloc,loss.
# quick (`ethox-uk bench --quick`): every figure once, small -- the loss table at
# 1 % only, 1 s of connections -- to see that the bench runs, not to compare.
# Prints one JSON object per line. MicroPython-compatible.
import gc
import json
import sys
import time

MP = sys.implementation.name == "micropython"
A_IP = b"\x0a\x00\x02\x0f"
B_IP = b"\x0a\x00\x02\x02"
A_MAC = b"\x52\x54\x00\x12\x34\x56"
B_MAC = b"\x52\x54\x00\x12\x34\x57"
PORT = 5001
MSS = 1460
TIME_LIMIT = 60  # seconds per bulk run: a slow run reports what it moved
CONN_SECONDS = 3
# windows / rings: the pair queues 1024 frames per end, a dgram socket 10 (plus
# the NIC's backlog of 128): the window keeps what is in flight below that
PAIR_WINDOW = 1 << 20
DGRAM_WINDOW = 96 * 1024
PAIR_SLOTS = 1024


def cpu_s():
    """CPU seconds used by this process (user + system), or -1: with other
    work on the machine, wall-clock figures drop while this one does not."""
    if not MP:
        return time.process_time()
    try:
        with open("/proc/self/stat") as f:
            st = f.read()
        fields = st[st.rfind(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / 100.0  # utime, stime in 1/100 s
    except (OSError, ValueError, IndexError):
        return -1.0


if MP:
    def ticks():
        return time.ticks_us()

    def elapsed_us(t0):
        return time.ticks_diff(time.ticks_us(), t0)

    def now_ms():
        return time.ticks_ms()
else:
    def ticks():
        return time.perf_counter()

    def elapsed_us(t0):
        return (time.perf_counter() - t0) * 1e6

    def now_ms():
        return int(time.monotonic() * 1000)


_PATTERN = []


def pattern():
    """65521 pseudo-random bytes (a prime length, so segment boundaries drift)."""
    if _PATTERN:
        return _PATTERN[0]
    p = bytearray(65521)
    x = 2463534242
    for i in range(len(p)):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        p[i] = x & 255
    _PATTERN.append(memoryview(p))
    return _PATTERN[0]


class Bulk:
    """A TCP user for one connection: sends `size` pattern bytes when `sending`,
    counts (and discards) what arrives. Also a connection-rate user (see Conns)."""

    def __init__(self, sending, size, ring, pat):
        from ethox_uk.stack.layer.tcp import RingSendBuf, RingRecvBuf

        self.sending = sending
        self.size = size
        self.sb = RingSendBuf(ring if sending else 4096)
        self.rb = RingRecvBuf(4096 if sending else ring)
        self.pat = pat
        self.queued = 0
        self.got = 0
        self.key = None
        self.closed = False
        self.reset = False
        self.layer = None

    def _top_up(self):
        sb = self.sb
        pat = self.pat
        plen = len(pat)
        while self.queued < self.size:
            p = self.queued % plen
            k = plen - p
            if k > self.size - self.queued:
                k = self.size - self.queued
            w = sb.write(pat, p, p + k)
            self.queued += w
            if w < k:
                return

    def _serve(self, pkt):
        rb = self.rb
        pkt.read(rb)
        n = rb.count
        if n:
            rb.skip(n)
            self.got += n
            pkt.read(rb)  # the window after draining
        if self.sending:
            self._top_up()
        pkt.write(self.sb)

    def receive(self, pkt):
        k = pkt.kind
        if k == 1:  # OPEN
            if self.key is None:
                self.key = pkt.key
            if pkt.signals.established and self.sending:
                # the last partial segment must not wait for a delayed ACK (Nagle)
                self.layer.set_nodelay(pkt.key)
            self._serve(pkt)
        elif k == 2 or k == 3:  # CLOSING / CLOSED
            if pkt.key == self.key:
                self.closed = True
                self.reset = self.reset or pkt.signals.reset

    def send(self, raw):
        o = raw.attach(raw.key)
        if o is not None:
            self._serve(o)


def make_stack(nic, ip, mac, user, window, **tcp):
    from ethox_uk.stack.config import Config
    from ethox_uk.stack.iface import Stack
    from ethox_uk.stack.layer.tcp import TcpLayer

    s = Stack(nic, Config(ip=(ip, 24), gw="10.0.2.1", mac=mac), seed=7)
    s.tcp = TcpLayer(s, user, rcv_window=window, slots=256, **tcp)
    user.layer = s.tcp
    return s


def _errors(*stacks):
    n = 0
    for s in stacks:
        n += s.counters.c["internal_error"]
    return n


def _retrans(*stacks):
    n = 0
    for s in stacks:
        n += s.counters.c["tcp_retrans_sent"]
    return n


def bulk(na, nb, nic_kind, direction, size, window, **tcp):
    """One bulk transfer of `size` bytes; the JSON row."""
    pat = pattern()
    ua = Bulk(direction == "a->b", size, window, pat)
    ub = Bulk(direction == "b->a", size, window, pat)
    a = make_stack(na, A_IP, A_MAC, ua, window, **tcp)
    b = make_stack(nb, B_IP, B_MAC, ub, window, **tcp)
    b.tcp.listen(PORT)
    recv = ub if direction == "a->b" else ua
    gc.collect()
    c0 = cpu_s()
    t0 = ticks()
    now = now_ms()
    o = a.tcp.raw(now).open(B_IP, PORT)
    ua.key = o.key
    deadline = TIME_LIMIT * 1000000
    rounds = 0
    while recv.got < size:
        now = now_ms()
        a.poll(now)
        b.poll(now)
        rounds += 1
        if rounds & 255 == 0 and elapsed_us(t0) > deadline:
            break
    us = elapsed_us(t0)
    cpu = cpu_s() - c0 if c0 >= 0 else -1.0
    c = a.counters.c if direction == "a->b" else b.counters.c
    segs = c["tcp_tx"]
    return {"kind": "tcp_bulk", "interp": sys.implementation.name, "nic": nic_kind,
            "dir": direction, "bytes": recv.got, "want": size, "seconds": us / 1e6,
            "mbit_s": recv.got * 8 / us if us else 0.0, "cpu_seconds": cpu,
            "mbit_per_cpu_s": recv.got * 8 / (cpu * 1e6) if cpu > 0 else 0.0,
            "segments": segs, "us_per_segment": us / segs if segs else 0.0,
            "retrans": _retrans(a, b), "rounds": rounds, "window": window,
            "timeouts": a.counters.c["tcp_timeouts"] + b.counters.c["tcp_timeouts"],
            "internal_error": _errors(a, b)}


def _median(runs):
    """The run with the median throughput, listing every run's figure."""
    runs = sorted(runs, key=lambda r: r["mbit_s"])
    row = runs[len(runs) // 2]
    row["runs_mbit_s"] = [r["mbit_s"] for r in runs]
    row["repeats"] = len(runs)
    for r in runs:  # a short or faulty run anywhere is reported
        if r["bytes"] < row["bytes"] or r["internal_error"]:
            row["bytes"] = r["bytes"]
            row["internal_error"] += r["internal_error"]
    return row


def bench_pair(size, repeats):
    from ethox_uk.stack.nic.pair import make_pair

    out = []
    for d in ("a->b", "b->a"):
        runs = []
        for _ in range(repeats):
            na, nb = make_pair(rx_slots=PAIR_SLOTS)
            runs.append(bulk(na, nb, "pair", d, size, PAIR_WINDOW))
        out.append(_median(runs))
    return out


def bench_pair_offload(size, repeats):
    """The pair as a veth/loopback is: 64 KiB segments (TSO/GRO), checksums left partial."""
    from ethox_uk.stack.nic.pair import make_pair

    out = []
    for d in ("a->b", "b->a"):
        runs = []
        for _ in range(repeats):
            na, nb = make_pair(rx_slots=128, offloads=True)
            runs.append(bulk(na, nb, "pair+offloads", d, size, PAIR_WINDOW))
        out.append(_median(runs))
    return out


LOSS_RATES = (0, 0.001, 0.01, 0.05)
LOSS_BYTES = 2 << 20
LOSS_WINDOW = 256 * 1024


def bench_loss(repeats, rates=LOSS_RATES):
    """Throughput over the pair (MTU 1500) with seeded random loss in both directions,
    with and without SACK (smoltcp publishes such a table); wall clock, so each RTO
    (1 s minimum, RFC 6298) shows in full."""
    from ethox_uk.stack.nic.pair import make_pair

    out = []
    for loss in rates:
        for sack in (True, False):
            runs = []
            for r in range(repeats):
                na, nb = make_pair(seed=11 + r, loss=loss, rx_slots=PAIR_SLOTS)
                row = bulk(na, nb, "pair", "a->b", LOSS_BYTES, LOSS_WINDOW,
                           sack_permitted=sack)
                runs.append(row)
            row = _median(runs)
            row["kind"] = "tcp_loss"
            row["loss"] = loss
            row["sack"] = sack
            out.append(row)
    return out


def bench_dgram(size, sockdir, repeats):
    from ethox_uk.stack.nic.dgram import DgramNic

    out = []
    for d in ("a->b", "b->a"):
        runs = []
        for _ in range(repeats):
            pa = sockdir + "/ta"
            pb = sockdir + "/tb"
            na = DgramNic(pa, pb)
            nb = DgramNic(pb, pa)
            try:
                runs.append(bulk(na, nb, "dgram", d, size, DGRAM_WINDOW))
            finally:
                na.close()
                nb.close()
        out.append(_median(runs))
    return out


class Conns:
    """Connection-rate users: A opens, sends 1 byte, waits for 1 byte back and
    closes; B answers each byte with one byte and closes on the peer's FIN."""

    def __init__(self, client):
        from ethox_uk.stack.layer.tcp import RingSendBuf, RingRecvBuf

        self.client = client
        self.sb = {}
        self.rb = {}
        self.done = 0
        self.layer = None
        self.one = b"x"
        self.RS = RingSendBuf
        self.RR = RingRecvBuf

    def bufs(self, key):
        sb = self.sb.get(key)
        if sb is None:
            sb = self.sb[key] = self.RS(4096)
            self.rb[key] = self.RR(4096)
        return sb, self.rb[key]

    def _serve(self, pkt):
        key = pkt.key
        sb, rb = self.bufs(key)
        pkt.read(rb)
        sig = pkt.signals
        if self.client:
            if sig.established:
                sb.write(self.one)
            if rb.count:
                rb.skip(rb.count)
                sb.close()
        else:
            if rb.count:
                rb.skip(rb.count)
                sb.write(self.one)
            if sig.half_closed:
                sb.close()
        pkt.write(sb)

    def receive(self, pkt):
        k = pkt.kind
        if k == 1:
            self._serve(pkt)
        elif k == 2 or k == 3:
            key = pkt.key
            if key in self.sb:
                del self.sb[key]
                del self.rb[key]
                self.done += 1

    def send(self, raw):
        o = raw.attach(raw.key)
        if o is not None:
            self._serve(o)


def bench_conns(seconds):
    from ethox_uk.stack.nic.pair import make_pair

    na, nb = make_pair(rx_slots=64)
    ua = Conns(True)
    ub = Conns(False)
    a = make_stack(na, A_IP, A_MAC, ua, 65536)
    b = make_stack(nb, B_IP, B_MAC, ub, 65536)
    b.tcp.listen(PORT, 64)
    opened = 0
    served = 0
    t0 = ticks()
    limit = seconds * 1000000
    us = 0
    rounds = 0
    while True:
        now = now_ms()
        rounds += 1
        # the listener's side ends with LAST-ACK -> CLOSED (ub.done); the
        # opener's connection waits in TIME-WAIT (evicted when slots run out)
        if ub.done == served:
            us = elapsed_us(t0)
            if us > limit:
                break
            o = a.tcp.raw(now).open(B_IP, PORT)
            if o is None:
                break
            ua.bufs(o.key)
            opened += 1
            served += 1
        elif rounds & 63 == 0 and elapsed_us(t0) > limit + 5000000:
            break  # a connection that never completes: reported, not waited for
        a.poll(now)
        b.poll(now)
        while b.tcp.accept(PORT) is not None:
            pass
    # let the last one finish
    for _ in range(50):
        if ub.done == served:
            break
        now = now_ms()
        a.poll(now)
        b.poll(now)
    return [{"kind": "tcp_conn", "interp": sys.implementation.name, "nic": "pair",
             "count": opened, "completed": ub.done, "stalled": ub.done < served,
             "seconds": us / 1e6,
             "per_s": ub.done * 1e6 / us if us else 0.0,
             "us_per_conn": us / ub.done if ub.done else 0.0,
             "internal_error": _errors(a, b)}]


def bench_alloc(size):
    """Bytes allocated per data segment (MicroPython): a transfer over the pair,
    warmed up, then gc.mem_alloc() across a measured stretch with gc off."""
    if not MP:
        return []
    from ethox_uk.stack.nic.pair import make_pair

    out = []
    for d in ("a->b", "b->a"):
        na, nb = make_pair(rx_slots=PAIR_SLOTS)
        pat = pattern()
        window = 256 * 1024
        ua = Bulk(d == "a->b", 1 << 40, window, pat)
        ub = Bulk(d == "b->a", 1 << 40, window, pat)
        a = make_stack(na, A_IP, A_MAC, ua, window)
        b = make_stack(nb, B_IP, B_MAC, ub, window)
        b.tcp.listen(PORT)
        recv = ub if d == "a->b" else ua
        sender_c = (a if d == "a->b" else b).counters.c
        now = now_ms()
        ua.key = a.tcp.raw(now).open(B_IP, PORT).key
        while recv.got < 2 * window:  # warm up: slow start done, rings wrapped
            now = now_ms()
            a.poll(now)
            b.poll(now)
        got0 = recv.got
        tx0 = a.counters.c["tcp_tx"] + b.counters.c["tcp_tx"]
        gc.collect()
        gc.disable()
        try:
            a0 = gc.mem_alloc()
            probe = bytearray(100)
            probe_bytes = gc.mem_alloc() - a0
            del probe
            a0 = gc.mem_alloc()
            seg0 = sender_c["tcp_tx"]
            while recv.got - got0 < size:
                a.poll(now)
                b.poll(now)
            total = gc.mem_alloc() - a0
            segs = sender_c["tcp_tx"] - seg0
        finally:
            gc.enable()
        tx = a.counters.c["tcp_tx"] + b.counters.c["tcp_tx"] - tx0
        out.append({"kind": "tcp_alloc", "interp": sys.implementation.name, "nic": "pair",
                    "dir": d, "bytes": recv.got - got0, "segments": segs,
                    "acks": tx - segs, "bytes_per_segment": total / segs if segs else 0.0,
                    "probe_bytes": probe_bytes, "internal_error": _errors(a, b)})
    return out


PARTS = ("bulk_pair", "bulk_pair_offload", "bulk_dgram", "conn", "alloc", "loss")


def main(argv):
    if len(argv) < 1:
        print("usage: tcp.py SOCKDIR [MIB [PARTS [REPEATS]]]")
        return 2
    try:
        from ethox_uk.bench.scriptpath import add_repo_root
    except ImportError:  # run as a file: its own folder is sys.path[0]
        from scriptpath import add_repo_root
    add_repo_root()
    sockdir = argv[0]
    mib = float(argv[1]) if len(argv) > 1 else (16 if MP else 32)
    parts = argv[2].split(",") if len(argv) > 2 and argv[2] else PARTS
    repeats = int(argv[3]) if len(argv) > 3 and argv[3] else 3
    quick = len(argv) > 4 and argv[4] == "quick"
    size = int(mib * 1048576)
    for part in parts:
        if part == "bulk_pair":
            rows = bench_pair(size, repeats)
        elif part == "bulk_pair_offload":
            rows = bench_pair_offload(size * 4, repeats)
        elif part == "loss":
            # wall clock with whole RTOs in it: one run each
            rows = bench_loss(1, (0.01,) if quick else LOSS_RATES)
        elif part == "bulk_dgram":
            rows = bench_dgram(size, sockdir, repeats)
        elif part == "conn":
            rows = bench_conns(1 if quick else CONN_SECONDS)
        elif part == "alloc":
            rows = bench_alloc(1 << 20)
        else:
            print("unknown part %r" % part)
            return 2
        for row in rows:
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
