# IPv6 fragment reassembly (RFC 8200 §4.5) in bounded memory, with the rules
# of RFC 5722 (overlaps), RFC 7112 (the first fragment holds the whole header
# chain) and a per-source cap.
#
# SLOTS datagrams at once, each in a preallocated buffer laid out as a frame:
# [0:14] the Ethernet header of the first fragment that arrived, [14:54] its
# IPv6 header (the unfragmentable extension headers are dropped: each
# fragment's were processed on arrival), [54:62] the offset-0 fragment's
# Fragment header, [62:] the fragmentable part, at most SLOT_DATA bytes. A
# complete datagram goes back through ip6.walk() from offset 62 (its in-place
# replies leave through Ip6Layer.output_datagram, fragmented if large).
#
# Rules (the drop counter in brackets):
#   - a fragment with M set whose length is not a multiple of 8: Parameter
#     Problem code 0 at the Payload Length [ipv6_frag_bad]; one reaching past
#     65535 bytes: Parameter Problem code 0 at the Fragment Offset [ipv6_frag_bad]
#   - any overlap kills the datagram [ipv6_frag_overlap]; an exact repeat of held
#     bytes is ignored [ipv6_frag_duplicate]; a killed datagram stays as a
#     tombstone until its deadline so its other fragments are dropped too
#   - data past SLOT_DATA [ipv6_frag_too_big]; a second, different end or data
#     past it [ipv6_frag_bad]; more than MAX_RANGES pieces [ipv6_frag_no_memory]
#   - an offset-0 fragment whose header chain does not reach the upper-layer
#     header inside it [ipv6_frag_bad]
#   - one source holds at most PER_SOURCE slots [ipv6_frag_source_limit]; with
#     no slot free a new datagram takes a tombstone, else evicts the oldest
#     reassembly of another source [ipv6_frag_no_memory]
#   - TIMEOUT_MS after its first fragment an unfinished datagram is dropped
#     [ipv6_frag_timeout], with a Time Exceeded code 1 to its source when the
#     offset-0 fragment came
from ..compat import const
from ..wire import ipv6 as _w

SLOTS = const(4)
SLOT_DATA = const(8192)
MAX_RANGES = const(16)
TIMEOUT_MS = const(60000)  # RFC 8200 §4.5: 60 seconds
PER_SOURCE = const(2)

_IP = const(14)
_FH = const(54)
_DATA = const(62)

_FREE = const(0)
_ACTIVE = const(1)
_DEAD = const(2)


class Reassembler6:
    def __init__(self, ip6, slots=SLOTS, size=SLOT_DATA, timeout_ms=TIMEOUT_MS,
                 per_source=PER_SOURCE):
        self.ip6 = ip6
        self.c = ip6.c
        self.slots = slots
        self.size = size
        self.timeout_ms = timeout_ms
        self.per_source = per_source
        self.views = [memoryview(bytearray(_DATA + size)) for _ in range(slots)]
        self.state = bytearray(slots)
        self.ident = [0] * slots
        self.deadline = [0] * slots
        self.total = [-1] * slots
        self.nranges = [0] * slots
        self.rs = [[0] * MAX_RANGES for _ in range(slots)]
        self.re = [[0] * MAX_RANGES for _ in range(slots)]
        self.reason = ["ipv6_frag_bad"] * slots
        self.first = bytearray(slots)
        self.timer_at = -1

    def _find(self, view, o, ident):
        for i in range(self.slots):
            if self.state[i] and self.ident[i] == ident:
                v = self.views[i]
                k = 8
                while k < 40 and view[o + k] == v[_IP + k]:
                    k += 1
                if k == 40:
                    return i
        return -1

    def _alloc(self, view, o, ident, now):
        st = self.state
        mine = 0
        for i in range(self.slots):
            if st[i] == _ACTIVE and _w.addr_eq(view, o + 8, self.views[i], _IP + 8):
                mine += 1
        if mine >= self.per_source:
            self.c["ipv6_frag_source_limit"] += 1
            return -1
        best = -1
        for i in range(self.slots):
            if st[i] == _FREE:
                best = i
                break
        if best < 0:
            for i in range(self.slots):  # a tombstone, the oldest first
                if st[i] == _DEAD and (best < 0 or self.deadline[i] < self.deadline[best]):
                    best = i
        if best < 0:
            for i in range(self.slots):  # evict the oldest reassembly
                if best < 0 or self.deadline[i] < self.deadline[best]:
                    best = i
            self.c["ipv6_frag_no_memory"] += 1
        i = best
        v = self.views[i]
        for k in range(14):
            v[k] = view[o - 14 + k]
        for k in range(40):
            v[_IP + k] = view[o + k]
        st[i] = _ACTIVE
        self.ident[i] = ident
        d = now + self.timeout_ms
        self.deadline[i] = d
        if self.timer_at < 0 or d < self.timer_at:
            self.timer_at = d
            self.ip6.arm(d)
        self.total[i] = -1
        self.nranges[i] = 0
        self.first[i] = 0
        return i

    def _kill(self, i, reason):
        self.c[reason] += 1
        self.state[i] = _DEAD
        self.reason[i] = reason
        return 0

    def _chain_ok(self, view, p, end):
        """RFC 7112: the offset-0 fragment holds every header up to and
        including the upper-layer one."""
        nh = view[p]
        q = p + 8
        while nh == 0 or nh == 43 or nh == 60:
            if q + 2 > end:
                return False
            n = (view[q + 1] + 1) << 3
            nh = view[q]
            q += n
        need = 20 if nh == 6 else 8 if nh == 17 or nh == 58 else 0
        return nh != 44 and q + need <= end

    def receive(self, view, o, p, end, now):
        """A fragment: the IPv6 header at o, its Fragment header at p."""
        c = self.c
        icmp6 = self.ip6.icmp6
        fo = (view[p + 2] << 8) | view[p + 3]
        off = fo & 0xFFF8
        mf = fo & 1
        data = p + 8
        n = end - data
        if mf and (n == 0 or n & 7):
            c["ipv6_frag_bad"] += 1
            icmp6.param_problem(view, o, 0, 4, now)
            return 0
        if off + n > 65535:
            c["ipv6_frag_bad"] += 1
            icmp6.param_problem(view, o, 0, p + 2 - o, now)
            return 0
        ident = (view[p + 4] << 24) | (view[p + 5] << 16) | (view[p + 6] << 8) | view[p + 7]
        i = self._find(view, o, ident)
        if i >= 0 and self.state[i] == _DEAD:
            c[self.reason[i]] += 1
            return 0
        e = off + n
        if e > self.size:
            if i >= 0:
                return self._kill(i, "ipv6_frag_too_big")
            c["ipv6_frag_too_big"] += 1
            return 0
        if off == 0 and not self._chain_ok(view, p, end):
            if i >= 0:
                return self._kill(i, "ipv6_frag_bad")
            c["ipv6_frag_bad"] += 1
            return 0
        if i < 0:
            i = self._alloc(view, o, ident, now)
            if i < 0:
                return 0
        t = self.total[i]
        nr = self.nranges[i]
        rs = self.rs[i]
        re = self.re[i]
        if not mf:
            if (t >= 0 and t != e) or (nr and re[nr - 1] > e):
                return self._kill(i, "ipv6_frag_bad")
        elif t >= 0 and e > t:
            return self._kill(i, "ipv6_frag_bad")
        v = self.views[i]
        k = 0
        while k < nr:
            if rs[k] < e and off < re[k]:
                if rs[k] <= off and e <= re[k] and _same(v, _DATA + off, view, data, n):
                    c["ipv6_frag_duplicate"] += 1
                    return 0
                return self._kill(i, "ipv6_frag_overlap")  # RFC 5722
            if rs[k] >= e:
                break
            k += 1
        prev = k > 0 and re[k - 1] == off
        nxt = k < nr and rs[k] == e
        if prev and nxt:
            re[k - 1] = re[k]
            j = k
            while j < nr - 1:
                rs[j] = rs[j + 1]
                re[j] = re[j + 1]
                j += 1
            nr -= 1
        elif prev:
            re[k - 1] = e
        elif nxt:
            rs[k] = off
        else:
            if nr >= MAX_RANGES:
                return self._kill(i, "ipv6_frag_no_memory")
            j = nr
            while j > k:
                rs[j] = rs[j - 1]
                re[j] = re[j - 1]
                j -= 1
            rs[k] = off
            re[k] = e
            nr += 1
        self.nranges[i] = nr
        if not mf:
            self.total[i] = t = e
        if off == 0:
            self.first[i] = 1
            for k in range(8):
                v[_FH + k] = view[p + k]
        v[_DATA + off:_DATA + e] = view[data:end]
        if t >= 0 and nr == 1 and rs[0] == 0 and re[0] == t:
            return self._deliver(i, t, now)
        return 0

    def _header(self, v, n):
        pl = 8 + n
        v[_IP + 4] = pl >> 8
        v[_IP + 5] = pl & 255
        v[_IP + 6] = 44

    def _deliver(self, i, t, now):
        v = self.views[i]
        self._header(v, t)
        self.c["ipv6_reassembled"] += 1
        ip6 = self.ip6
        ip6.reasm_view = v
        try:
            ip6.walk(v, _IP, _DATA, v[_FH], _FH, _DATA + t, now)
        finally:
            ip6.reasm_view = None
            self.state[i] = _FREE
        return 0

    def poll(self, now):
        if self.timer_at < 0 or now < self.timer_at:
            return
        due = -1
        for i in range(self.slots):
            s = self.state[i]
            if s == _FREE:
                continue
            d = self.deadline[i]
            if now >= d:
                if s == _ACTIVE:
                    self.c["ipv6_frag_timeout"] += 1
                    if self.first[i]:
                        # quote the offset-0 fragment as it came (RFC 8200 §4.5)
                        v = self.views[i]
                        self._header(v, self.re[i][0])
                        self.ip6.icmp6.send_error(v, _IP, 3, 1, 0, now)
                self.state[i] = _FREE
            elif due < 0 or d < due:
                due = d
        self.timer_at = due

    def in_use(self):
        n = 0
        for i in range(self.slots):
            if self.state[i]:
                n += 1
        return n


def _same(a, ao, b, bo, n):
    for k in range(n):
        if a[ao + k] != b[bo + k]:
            return False
    return True
