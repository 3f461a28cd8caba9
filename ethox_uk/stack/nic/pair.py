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
# Per frame: one copy (under MicroPython through wire/copy_viper.py, which
# allocates nothing; a slice assignment there costs 96 B per frame) and an
# O(1) return of the transmit buffer.
from ..compat import const
from .base import BUF_SIZE, CopyingNic

try:
    from ..wire.copy_viper import copy as _copy

    _VIPER = True
except (ImportError, SyntaxError, ValueError, NotImplementedError):
    _VIPER = False

    def _copy(dst, doff, src, soff, n):
        dst[doff:doff + n] = src[soff:soff + n]

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
    def __init__(self, faults, rx_slots=256, tx_slots=16):
        self.faults = faults
        self.peer = None
        self._rx_bufs = [memoryview(bytearray(BUF_SIZE)) for _ in range(rx_slots)]
        self._rx_free = list(range(rx_slots))
        # FIFO of (slot, length) as a ring of two preallocated lists
        self._q_slot = [0] * rx_slots
        self._q_len = [0] * rx_slots
        self._q_head = 0
        self._q_count = 0
        CopyingNic.__init__(self, tx_slots)
        self._tx_index = {}  # id(transmit buffer) -> its index in _tx_bufs
        for i in range(tx_slots):
            self._tx_index[id(self._tx_bufs[i])] = i
        self._held = bytearray(BUF_SIZE)  # one frame held back for reordering
        self._held_len = 0
        self.overflow = 0
        self.sent = 0
        self.received = 0

    # -- delivery into this end -------------------------------------------
    def _deliver(self, src, length):
        if not self._rx_free:
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
            slot = self._q_slot[self._q_head]
            length = self._q_len[self._q_head]
            self._q_head = (self._q_head + 1) % n
            self._q_count -= 1
            view = self._rx_bufs[slot]
            self.received += 1
            reply = handler(view, length)
            if reply > 0:
                self.send(view, reply)
            self._rx_free.append(slot)
            done += 1
        return done

    def send(self, view, length):
        # CopyingNic.send with _transmit's fault-free case inlined
        if self.faults.any:
            self._transmit(view, length)
        else:
            self.sent += 1
            self.peer._deliver(view, length)
        self.release(view)

    def release(self, view):
        # as CopyingNic.release, without the search: in-place replies send a
        # receive buffer, and only transmit buffers go back
        i = self._tx_index.get(id(view), -1)
        if i >= 0 and i not in self._tx_free:
            self._tx_free.append(i)

    def _transmit(self, view, length):
        self.sent += 1
        peer = self.peer
        f = self.faults
        if not f.any:
            peer._deliver(view, length)
            return
        if f.hit(f.loss):
            return
        if f.hit(f.corrupt) and length:
            view[f.rng.below(length)] ^= 1 << f.rng.below(8)
        if self._held_len == 0 and f.hit(f.reorder):
            _copy(self._held, 0, view, 0, length)
            self._held_len = length
            return
        peer._deliver(view, length)
        if f.hit(f.duplicate):
            peer._deliver(view, length)
        if self._held_len:
            peer._deliver(self._held, self._held_len)
            self._held_len = 0

    def flush(self):
        # A held-back frame is overtaken by at most one round: release it.
        if self._held_len:
            self.peer._deliver(self._held, self._held_len)
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


def make_pair(seed=1, loss=0, reorder=0, duplicate=0, corrupt=0, rx_slots=256):
    f = Faults(seed, loss, reorder, duplicate, corrupt)
    a = PairEnd(f, rx_slots)
    b = PairEnd(f, rx_slots)
    a.peer = b
    b.peer = a
    return a, b
