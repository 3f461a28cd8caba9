# IPv4 fragment reassembly (RFC 791 §3.2, RFC 815 holes) in bounded memory.
#
# SLOTS datagrams reassemble at once, each in a preallocated buffer laid out as
# a frame: [0:14] the Ethernet header of the first fragment that arrived,
# [14:34] a synthesized 20-byte IPv4 header (options are dropped), [34:] the
# payload, at most SLOT_DATA bytes. A completed datagram is handed to the
# upper layers as one contiguous datagram in that buffer (ip_off 14, ip_hlen
# 20); an in-place reply from it leaves through IpLayer (fragmented if large).
#
# Received pieces are kept as sorted, merged byte ranges (at most MAX_RANGES
# per datagram). Rules:
#   - any overlap with data already held kills the whole datagram
#     (ipv4_frag_overlap); an exact repeat of held bytes (a duplicated frame)
#     is ignored (ipv4_frag_duplicate)
#   - data past SLOT_DATA: ipv4_frag_too_big; a second, different end or data
#     past the end: ipv4_frag_bad; more than MAX_RANGES holes: ipv4_frag_no_memory
#   - a killed datagram stays as a tombstone until its deadline, so its
#     remaining fragments are dropped (counted under the same reason) instead
#     of starting a new reassembly
#   - TIMEOUT_MS after its first fragment an unfinished datagram is dropped
#     (ipv4_frag_timeout) and, if fragment zero arrived, an ICMP time exceeded
#     (code 1) goes to the sender (RFC 792; RFC 1122 3.3.2)
#   - a new datagram with no free slot takes a tombstone, else the oldest
#     reassembly of the source holding the most slots, if it holds more than
#     the newcomer's source (ipv4_frag_no_memory); a source with per_source
#     (half the slots) going, or with no smaller share than any other,
#     recycles its own oldest (ipv4_frag_source_limit): one sender -- a
#     flood of first fragments -- cannot evict everyone else's datagrams
from ..compat import const
from ..wire.ipv4 import fill_checksum

SLOTS = const(4)
SLOT_DATA = const(8192)
MAX_RANGES = const(16)
TIMEOUT_MS = const(30000)

_IP = const(14)
_DATA = const(34)

_FREE = const(0)
_ACTIVE = const(1)
_DEAD = const(2)


class Reassembler:
    def __init__(self, ip, slots=SLOTS, size=SLOT_DATA, timeout_ms=TIMEOUT_MS, per_source=-1):
        self.ip = ip
        # reassemblies one source address may have going at once (half the slots)
        self.per_source = per_source if per_source > 0 else max(1, slots // 2)
        self.c = ip.stack.counters.c
        self.slots = slots
        self.size = size
        self.timeout_ms = timeout_ms
        self.views = [memoryview(bytearray(_DATA + size)) for _ in range(slots)]
        self.state = bytearray(slots)
        self.deadline = [0] * slots
        self.total = [-1] * slots  # payload length once the last fragment came
        self.nranges = [0] * slots
        self.rs = [[0] * MAX_RANGES for _ in range(slots)]
        self.re = [[0] * MAX_RANGES for _ in range(slots)]
        self.reason = ["ipv4_frag_bad"] * slots
        self.first = bytearray(slots)  # fragment zero arrived
        self.timer_at = -1
        # test-only (negative control): reassemble overlapping fragments (the data
        # already held wins) instead of dropping the datagram
        self.accept_overlap = "frag_accept_overlap" in ip.stack.faults

    # -- slots -----------------------------------------------------------------
    def _find(self, view, o):
        st = self.state
        for i in range(self.slots):
            if st[i] == _FREE:
                continue
            v = self.views[i]
            # key: source, destination, identification, protocol (RFC 791)
            if (view[o + 4] == v[_IP + 4] and view[o + 5] == v[_IP + 5]
                    and view[o + 9] == v[_IP + 9]):
                k = 12
                while k < 20 and view[o + k] == v[_IP + k]:
                    k += 1
                if k == 20:
                    return i
        return -1

    def _same_source(self, i, view, o):
        v = self.views[i]
        return (view[o + 12] == v[_IP + 12] and view[o + 13] == v[_IP + 13]
                and view[o + 14] == v[_IP + 14] and view[o + 15] == v[_IP + 15])

    def _held_by(self, i):
        """How many reassemblies slot i's source has going (slot i included)."""
        st = self.state
        v = self.views[i]
        n = 0
        for j in range(self.slots):
            if st[j] == _ACTIVE and self._same_source(j, v, _IP):
                n += 1
        return n

    def _own_oldest(self, view, o):
        """(reassemblies the sender at view[o:] has going, the oldest of them)."""
        st = self.state
        mine = 0
        oldest = -1
        for i in range(self.slots):
            if st[i] == _ACTIVE and self._same_source(i, view, o):
                mine += 1
                if oldest < 0 or self.deadline[i] < self.deadline[oldest]:
                    oldest = i
        return mine, oldest

    def _fair_victim(self, mine):
        """The oldest reassembly of the sender holding the most slots, if that
        sender holds more than `mine` (the newcomer's share); else -1."""
        best = -1
        most = mine
        for i in range(self.slots):
            if self.state[i] != _ACTIVE:
                continue
            n = self._held_by(i)
            if n > most or (n == most and best >= 0 and self.deadline[i] < self.deadline[best]):
                best = i  # (n > mine whenever best is set)
                most = n
        return best

    def _pick_slot(self, view, o):
        """A slot for a new datagram from the sender at view[o:]: free, a
        tombstone, or one taken from the sender with the largest share -- a
        sender at its per_source limit (or no bigger than everyone else)
        recycles its own oldest, so one sender cannot evict everyone's
        datagrams."""
        st = self.state
        c = self.c
        mine, own = self._own_oldest(view, o)
        if mine >= self.per_source:
            c["ipv4_frag_source_limit"] += 1
            return own
        for i in range(self.slots):
            if st[i] == _FREE:
                return i
        best = -1
        for i in range(self.slots):  # a tombstone, the oldest first
            if st[i] == _DEAD and (best < 0 or self.deadline[i] < self.deadline[best]):
                best = i
        if best >= 0:
            return best
        best = self._fair_victim(mine)
        if best >= 0:
            c["ipv4_frag_no_memory"] += 1
            return best
        c["ipv4_frag_source_limit"] += 1
        return own

    def _alloc(self, view, o, now):
        i = self._pick_slot(view, o)
        v = self.views[i]
        for k in range(14):
            v[k] = view[o - 14 + k] if o >= 14 else 0
        for k in range(20):
            v[_IP + k] = view[o + k]
        v[_IP] = 0x45
        v[_IP + 6] = 0
        v[_IP + 7] = 0
        self.state[i] = _ACTIVE
        d = now + self.timeout_ms
        self.deadline[i] = d
        if self.timer_at < 0 or d < self.timer_at:
            self.timer_at = d
        self.total[i] = -1
        self.nranges[i] = 0
        self.first[i] = 0
        return i

    def _kill(self, i, reason):
        self.c[reason] += 1
        self.state[i] = _DEAD
        self.reason[i] = reason
        return 0

    def _same(self, i, view, p, off, n):
        v = self.views[i]
        q = _DATA + off
        for k in range(n):
            if view[p + k] != v[q + k]:
                return False
        return True

    # -- receive ---------------------------------------------------------------
    def receive(self, view, o, hl, total, now):
        """A fragment (IPv4 header at view[o:], checked): store it; deliver when complete."""
        c = self.c
        fo = (view[o + 6] << 8) | view[o + 7]
        mf = fo & 0x2000
        off = (fo & 0x1FFF) << 3
        n = total - hl
        end = off + n
        i = self._find(view, o)
        if i >= 0 and self.state[i] == _DEAD:
            c[self.reason[i]] += 1
            return 0
        if end > self.size:
            if i >= 0:
                return self._kill(i, "ipv4_frag_too_big")
            c["ipv4_frag_too_big"] += 1
            return 0
        if i < 0:
            i = self._alloc(view, o, now)
        t = self.total[i]
        nr = self.nranges[i]
        rs = self.rs[i]
        re = self.re[i]
        if not mf:
            if (t >= 0 and t != end) or (nr and re[nr - 1] > end):
                return self._kill(i, "ipv4_frag_bad")
        elif t >= 0 and end > t:
            return self._kill(i, "ipv4_frag_bad")
        # overlap with what we hold?
        k = 0
        while k < nr:
            if rs[k] < end and off < re[k]:
                if rs[k] <= off and end <= re[k] and self._same(i, view, o + hl, off, n):
                    c["ipv4_frag_duplicate"] += 1
                    return 0
                if self.accept_overlap:  # test-only (negative control)
                    return self._overlap(i, view, o + hl, off, end, mf, now)
                return self._kill(i, "ipv4_frag_overlap")
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
                return self._kill(i, "ipv4_frag_no_memory")
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
        v = self.views[i]
        v[_DATA + off:_DATA + end] = view[o + hl:o + hl + n]
        if t >= 0 and nr == 1 and rs[0] == 0 and re[0] == t:
            return self._deliver(i, t, now)
        return 0

    def _overlap(self, i, view, p, off, end, mf, now):
        """Test-only (negative control) frag_accept_overlap: store the fragment's
        data at view[p:] for [off, end) only where nothing is held yet, merge the
        ranges, deliver when complete. Allocates (it never runs in the image)."""
        nr = self.nranges[i]
        rs = self.rs[i]
        re = self.re[i]
        v = self.views[i]
        held = [(rs[k], re[k]) for k in range(nr)]
        pos = off
        for a, b in held:  # copy the gaps between held ranges
            if a > pos and pos < end:
                e = a if a < end else end
                v[_DATA + pos:_DATA + e] = view[p + pos - off:p + e - off]
            if b > pos:
                pos = b
        if pos < end:
            v[_DATA + pos:_DATA + end] = view[p + pos - off:p + end - off]
        held.append((off, end))
        held.sort()
        nr = 0
        for a, b in held:  # the union, as sorted disjoint ranges
            if nr and a <= re[nr - 1]:
                if b > re[nr - 1]:
                    re[nr - 1] = b
            else:
                if nr >= MAX_RANGES:
                    return self._kill(i, "ipv4_frag_no_memory")
                rs[nr] = a
                re[nr] = b
                nr += 1
        self.nranges[i] = nr
        t = self.total[i]
        if not mf:
            self.total[i] = t = end
        if off == 0:
            self.first[i] = 1
        if t >= 0 and nr == 1 and rs[0] == 0 and re[0] == t:
            return self._deliver(i, t, now)
        return 0

    def _deliver(self, i, t, now):
        v = self.views[i]
        tl = 20 + t
        v[_IP + 2] = tl >> 8
        v[_IP + 3] = tl & 255
        fill_checksum(v, _IP)
        self.c["ipv4_reassembled"] += 1
        ip = self.ip
        ip.reasm_view = v
        try:
            n = ip.dispatch(v, _IP, 20, _IP + tl, now)
            if n > 0:
                # an upper layer built a reply in the slot without reply_finish
                ip.output_datagram(v, _IP, now)
        finally:
            ip.reasm_view = None
            self.state[i] = _FREE
        return 0

    # -- timers ----------------------------------------------------------------
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
                    self.c["ipv4_frag_timeout"] += 1
                    if self.first[i]:
                        self._time_exceeded(i, now)
                st[i] = _FREE
            elif due < 0 or d < due:
                due = d
        self.timer_at = due

    def _time_exceeded(self, i, now):
        # Quote the synthesized header with the data held from offset 0.
        v = self.views[i]
        tl = 20 + self.re[i][0]
        v[_IP + 2] = tl >> 8
        v[_IP + 3] = tl & 255
        fill_checksum(v, _IP)
        self.ip.stack.icmp.send_time_exceeded(v, _IP, 1, now)

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
