# The bounded fragment-reassembly table that IPv4 (frag.py) and IPv6 (frag6.py)
# share: `slots` preallocated buffers laid out as frames (the Ethernet header at
# 0, the family's IP header at 14, the data from `data`), and per slot a state
# (free, active, or the tombstone of a killed datagram), a deadline, the data's
# total length once its last fragment came, and the byte ranges received so far
# (sorted, merged, at most MAX_RANGES).
#
# Here: storing a fragment's data (overlap kills the datagram, an exact repeat is
# a counted duplicate), the slot helpers a family's choice of slot is built from,
# and the timers. The family's file keeps what differs: how a fragment is matched
# to its datagram and which header is kept, the order of its checks, the slot
# policy when the table is full (_pick_slot / _alloc), how a complete datagram
# goes up, and its ICMP Time Exceeded (_time_exceeded).
#
# The family names its drop counters in `reasons`: literals for bad, overlap,
# duplicate, no memory and timeout, in that order (interned strings: none is
# built per fragment, and the counters dict compares them by pointer).
from ..compat import const

MAX_RANGES = const(16)
_BAD = const(0)
_OVERLAP = const(1)
_DUPLICATE = const(2)
NO_MEMORY = const(3)  # (public: overlap_fault.py counts it too)
_TIMEOUT = const(4)

_FREE = const(0)
_ACTIVE = const(1)
_DEAD = const(2)


class ReassemblyTable:
    def __init__(self, c, slots, size, data, timeout_ms, per_source, reasons):
        self.c = c
        self.slots = slots
        self.size = size
        self.data = data  # where a slot's reassembled data starts
        self.timeout_ms = timeout_ms
        self.per_source = per_source  # reassemblies one source may have going
        self.views = [memoryview(bytearray(data + size)) for _ in range(slots)]
        self.state = bytearray(slots)
        self.deadline = [0] * slots
        self.total = [-1] * slots  # data length once the last fragment came
        self.nranges = [0] * slots
        self.rs = [[0] * MAX_RANGES for _ in range(slots)]
        self.re = [[0] * MAX_RANGES for _ in range(slots)]
        self.reasons = reasons
        self.reason = [reasons[_BAD]] * slots  # why a tombstone's datagram was killed
        self.first = bytearray(slots)  # the offset-0 fragment arrived
        self.timer_at = -1
        self.own_oldest = -1  # set by _count_own
        # test-only (negative control frag_accept_overlap, set by a family):
        # overlap_fault.store_overlapping, which keeps overlapping fragments
        self.accept_overlap = None

    # -- slots (the family supplies _same_source) -----------------------------------
    def _count_own(self, view, o):
        """How many reassemblies the sender of the IP header at view[o:] has going;
        the oldest of them is left in self.own_oldest (-1 if none)."""
        st = self.state
        mine = 0
        oldest = -1
        for i in range(self.slots):
            if st[i] == _ACTIVE and self._same_source(i, view, o):
                mine += 1
                if oldest < 0 or self.deadline[i] < self.deadline[oldest]:
                    oldest = i
        self.own_oldest = oldest
        return mine

    def _free_or_tombstone(self):
        """A free slot, else the oldest tombstone, else -1."""
        st = self.state
        for i in range(self.slots):
            if st[i] == _FREE:
                return i
        best = -1
        for i in range(self.slots):
            if st[i] == _DEAD and (best < 0 or self.deadline[i] < self.deadline[best]):
                best = i
        return best

    def _open(self, i, now):
        """Slot i starts a new datagram; True if that moved the table's timer earlier."""
        self.state[i] = _ACTIVE
        d = now + self.timeout_ms
        self.deadline[i] = d
        self.total[i] = -1
        self.nranges[i] = 0
        self.first[i] = 0
        if self.timer_at < 0 or d < self.timer_at:
            self.timer_at = d
            return True
        return False

    def _kill(self, i, reason):
        self.c[reason] += 1
        self.state[i] = _DEAD
        self.reason[i] = reason
        return 0

    # -- data ------------------------------------------------------------------------
    def _store(self, i, view, p, off, end, mf):
        """Keep the fragment data at view[p:] for [off, end) of slot i's datagram
        (mf: more fragments follow). Returns -1 when it was dropped (the datagram
        killed, or a duplicate), 1 when the datagram is now complete, else 0."""
        c = self.c
        t = self.total[i]
        nr = self.nranges[i]
        rs = self.rs[i]
        re = self.re[i]
        if not mf:
            if (t >= 0 and t != end) or (nr and re[nr - 1] > end):
                self._kill(i, self.reasons[_BAD])
                return -1
        elif t >= 0 and end > t:
            self._kill(i, self.reasons[_BAD])
            return -1
        n = end - off
        k = 0
        while k < nr:
            if rs[k] < end and off < re[k]:
                if rs[k] <= off and end <= re[k] and self._same(i, view, p, off, n):
                    c[self.reasons[_DUPLICATE]] += 1
                    return -1
                if self.accept_overlap is not None:  # test-only (negative control)
                    return self.accept_overlap(self, i, view, p, off, end, mf)
                self._kill(i, self.reasons[_OVERLAP])  # RFC 5722 for IPv6
                return -1
            if rs[k] >= end:
                break
            k += 1
        # k: the first range after the new one; merge with neighbours
        prev = k > 0 and re[k - 1] == off
        nxt = k < nr and rs[k] == end
        if prev and nxt:
            re[k - 1] = re[k]
            j = k
            while j < nr - 1:
                rs[j] = rs[j + 1]
                re[j] = re[j + 1]
                j += 1
            nr -= 1
        elif prev:
            re[k - 1] = end
        elif nxt:
            rs[k] = off
        else:
            if nr >= MAX_RANGES:
                self._kill(i, self.reasons[NO_MEMORY])
                return -1
            j = nr
            while j > k:
                rs[j] = rs[j - 1]
                re[j] = re[j - 1]
                j -= 1
            rs[k] = off
            re[k] = end
            nr += 1
        self.nranges[i] = nr
        if not mf:
            self.total[i] = t = end
        if off == 0:
            self.first[i] = 1
        q = self.data
        self.views[i][q + off:q + end] = view[p:p + n]
        return 1 if t >= 0 and nr == 1 and rs[0] == 0 and re[0] == t else 0

    def _same(self, i, view, p, off, n):
        v = self.views[i]
        q = self.data + off
        for k in range(n):
            if view[p + k] != v[q + k]:
                return False
        return True

    # -- timers (the family supplies _time_exceeded) ----------------------------------
    def poll(self, now):
        if self.timer_at < 0 or now < self.timer_at:
            return
        st = self.state
        due = -1
        for i in range(self.slots):
            if st[i] == _FREE:
                continue
            d = self.deadline[i]
            if now >= d:
                if st[i] == _ACTIVE:
                    self.c[self.reasons[_TIMEOUT]] += 1
                    if self.first[i]:
                        self._time_exceeded(i, now)
                st[i] = _FREE
            elif due < 0 or d < due:
                due = d
        self.timer_at = due

    def next_timeout(self, now):
        if self.timer_at < 0:
            return -1
        d = self.timer_at - now
        return d if d > 0 else 0

    def in_use(self):
        n = 0
        for i in range(self.slots):
            if self.state[i] != _FREE:
                n += 1
        return n
