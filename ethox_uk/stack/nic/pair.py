# An in-memory NIC pair with seeded fault injection, for tests and benches.
#
#   a, b = make_pair(seed=1, loss=0.1, reorder=0.05, duplicate=0.01, corrupt=0.01)
#
# What one end sends, the other receives. Faults apply to every frame sent in
# either direction, drawn from one xorshift generator so that a seed gives the
# same run under CPython and MicroPython. Each end owns preallocated receive
# slots; a frame arriving when all are full is dropped and counted in
# `overflow` (like a real NIC ring). Tests craft input with `inject(frame)`
# and read what a stack sent with `frames()` on the other end.
#
# Per frame: one copy (under MicroPython through wire/copy.py, which
# allocates nothing; a slice assignment there costs 96 B per frame) and an
# O(1) return of the transmit buffer.
#
# make_pair(offloads=True) is a link like a veth pair (or Linux loopback):
# frames up to 64 KiB, TCP checksums left partial (tx_csum) and TCP segments
# of several MSS passed on whole (tso_max) -- the receiver sees them with
# rx_csum = RX_CSUM_PARTIAL, as a guest sees the host's GSO frames. Corruption
# cannot be combined with it: a checksum the link vouches for would hide it.
# `end.filter = fn(view, length)` lets a test drop chosen frames (False: dropped).
from ..compat import const, MICROPYTHON
from ..wire.copy import copy as _copy
from .base import BUF_SIZE, CopyingNic, RX_CSUM_PARTIAL

BIG_BUF = const(65536 + 64)  # offload mode: a 64 KiB TCP segment with its headers
BIG_TX = const(8)  # offload mode: big transmit buffers per end

_VIPER = MICROPYTHON  # copy() allocates nothing there

_SCALE = const(1000000)  # fault rates are fractions, compared as integers


class XorShift:
    """Tiny deterministic PRNG (xorshift32): identical on both interpreters."""

    def __init__(self, seed):
        self.s = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s

    def below(self, n):
        return self.next() % n


def _rate(x):
    if not 0 <= x <= 1:
        raise ValueError("fault rate %r must be between 0 and 1" % (x,))
    return int(x * _SCALE)


class Faults:
    def __init__(self, seed, loss, reorder, duplicate, corrupt):
        self.rng = XorShift(seed)
        self.loss = _rate(loss)
        self.reorder = _rate(reorder)
        self.duplicate = _rate(duplicate)
        self.corrupt = _rate(corrupt)
        self.any = self.loss or self.reorder or self.duplicate or self.corrupt

    def hit(self, rate):
        return rate and self.rng.below(_SCALE) < rate


class PairEnd(CopyingNic):
    def __init__(self, faults, rx_slots=256, tx_slots=16, offloads=False):
        self.faults = faults
        self.peer = None
        size = BIG_BUF if offloads else BUF_SIZE
        self._rx_bufs = [memoryview(bytearray(size)) for _ in range(rx_slots)]
        self._rx_free = list(range(rx_slots))
        # FIFO of (slot, length, checksum state) as a ring of preallocated lists
        self._q_slot = [0] * rx_slots
        self._q_len = [0] * rx_slots
        self._q_csum = bytearray(rx_slots)
        self._q_head = 0
        self._q_count = 0
        CopyingNic.__init__(self, tx_slots)
        nbig = BIG_TX if offloads else 0
        for _ in range(nbig):
            self._tx_bufs.append(memoryview(bytearray(BIG_BUF)))
        self._big_free = list(range(tx_slots, tx_slots + nbig))
        self._small = tx_slots
        self._tx_index = {}  # id(transmit buffer) -> its index in _tx_bufs
        for i in range(tx_slots + nbig):
            self._tx_index[id(self._tx_bufs[i])] = i
        self._marked = bytearray(tx_slots + nbig)  # tx_offload() was called
        self.tx_csum = offloads
        self.tso_max = 65535 if offloads else 0
        self._held = bytearray(size)  # one frame held back for reordering
        self._held_len = 0
        self._held_csum = 0
        self.overflow = 0
        self.filter = None  # tests: fn(view, length) -> False drops that frame on send
        self.filtered = 0
        self.sent = 0
        self.received = 0

    # -- delivery into this end -------------------------------------------
    def _deliver(self, src, length, csum=0):
        if not self._rx_free or length > len(self._rx_bufs[0]):
            self.overflow += 1
            return
        slot = self._rx_free.pop()
        if _VIPER:
            _copy(self._rx_bufs[slot], 0, src, 0, length)
        else:
            self._rx_bufs[slot][:length] = src[:length]
        n = len(self._q_slot)
        i = (self._q_head + self._q_count) % n
        self._q_slot[i] = slot
        self._q_len[i] = length
        self._q_csum[i] = csum
        self._q_count += 1

    def inject(self, frame):
        """Deliver bytes to this end as if the peer had sent them (no faults)."""
        self._deliver(memoryview(frame), len(frame))

    def pending(self):
        return self._q_count

    # -- Nic interface -----------------------------------------------------
    def receive(self, handler, budget):
        done = 0
        n = len(self._q_slot)
        while done < budget and self._q_count:
            h = self._q_head
            slot = self._q_slot[h]
            length = self._q_len[h]
            self.rx_csum = self._q_csum[h]
            self._q_head = (h + 1) % n
            self._q_count -= 1
            view = self._rx_bufs[slot]
            self.received += 1
            try:
                reply = handler(view, length)
            finally:
                self.rx_csum = 0
            if reply > 0:
                self.send(view, reply)
            self._rx_free.append(slot)
            done += 1
        return done

    def tx_buffer(self, size=BUF_SIZE):
        if size <= BUF_SIZE:
            return CopyingNic.tx_buffer(self, size)
        if not self._big_free:
            return None
        return self._tx_bufs[self._big_free.pop()]

    def tx_offload(self, view, csum_start, csum_offset, gso_size, hdr_len):
        if not self.tx_csum:
            raise ValueError("tx_offload on a pair made without offloads")
        self._marked[self._tx_index[id(view)]] = 1

    def send(self, view, length):
        # CopyingNic.send with _transmit's fault-free case inlined
        if self.filter is not None and not self.filter(view, length):
            self.filtered += 1  # a test dropped this very frame
            self.release(view)
            return
        i = self._tx_index.get(id(view), -1)
        csum = 0
        if i >= 0 and self._marked[i]:
            self._marked[i] = 0
            csum = RX_CSUM_PARTIAL
        if self.faults.any:
            self._transmit(view, length, csum)
        else:
            self.sent += 1
            self.peer._deliver(view, length, csum)
        self.release(view)

    def release(self, view):
        # as CopyingNic.release, without the search: in-place replies send a
        # receive buffer, and only transmit buffers go back
        i = self._tx_index.get(id(view), -1)
        if i < 0:
            return
        self._marked[i] = 0
        free = self._tx_free if i < self._small else self._big_free
        if i not in free:
            free.append(i)

    def _transmit(self, view, length, csum=0):
        self.sent += 1
        peer = self.peer
        f = self.faults
        if not f.any:
            peer._deliver(view, length, csum)
            return
        if f.hit(f.loss):
            return
        if f.hit(f.corrupt) and length:
            view[f.rng.below(length)] ^= 1 << f.rng.below(8)
        if self._held_len == 0 and f.hit(f.reorder):
            _copy(self._held, 0, view, 0, length)
            self._held_len = length
            self._held_csum = csum
            return
        peer._deliver(view, length, csum)
        if f.hit(f.duplicate):
            peer._deliver(view, length, csum)
        if self._held_len:
            peer._deliver(self._held, self._held_len, self._held_csum)
            self._held_len = 0

    def flush(self):
        # A held-back frame is overtaken by at most one round: release it.
        if self._held_len:
            self.peer._deliver(self._held, self._held_len, self._held_csum)
            self._held_len = 0

    # -- test helpers (allocate; not for hot paths) --------------------------
    def frames(self):
        """Take every frame waiting at this end, as a list of bytes."""
        out = []

        def grab(view, length):
            out.append(bytes(view[:length]))
            return 0

        while self._q_count:
            self.receive(grab, 1 << 30)
        return out


def make_pair(seed=1, loss=0, reorder=0, duplicate=0, corrupt=0, rx_slots=256,
              offloads=False):
    if offloads and corrupt:
        raise ValueError("corrupt=%r with offloads=True: the receiver trusts checksums the "
                         "link leaves partial, so corruption would go unseen; use one or "
                         "the other" % (corrupt,))
    f = Faults(seed, loss, reorder, duplicate, corrupt)
    a = PairEnd(f, rx_slots, offloads=offloads)
    b = PairEnd(f, rx_slots, offloads=offloads)
    a.peer = b
    b.peer = a
    return a, b
