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
from .reassembly import ReassemblyTable

SLOTS = const(4)
SLOT_DATA = const(8192)
TIMEOUT_MS = const(60000)  # RFC 8200 §4.5: 60 seconds
PER_SOURCE = const(2)

_IP = const(14)
_FH = const(54)
_DATA = const(62)

# reassembly.py's slot states (mpy-cross folds only a module's own consts)
_FREE = const(0)
_DEAD = const(2)


class Reassembler6(ReassemblyTable):
    def __init__(self, ip6, slots=SLOTS, size=SLOT_DATA, timeout_ms=TIMEOUT_MS,
                 per_source=PER_SOURCE):
        ReassemblyTable.__init__(
            self, ip6.c, slots, size, _DATA, timeout_ms, per_source,
            # ReassemblyTable's reasons: bad, overlap, duplicate, no memory, timeout
            ("ipv6_frag_bad", "ipv6_frag_overlap", "ipv6_frag_duplicate", "ipv6_frag_no_memory",
             "ipv6_frag_timeout"))
        self.ip6 = ip6
        self.ident = [0] * slots

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

    def _same_source(self, i, view, o):
        return _w.addr_eq(view, o + 8, self.views[i], _IP + 8)

    def _alloc(self, view, o, ident, now):
        """A slot for a new datagram from the source at view[o:], or -1 when that
        source is at its per_source limit; with none free or a tombstone, the
        oldest reassembly goes."""
        if self._count_own(view, o) >= self.per_source:
            self.c["ipv6_frag_source_limit"] += 1
            return -1
        i = self._free_or_tombstone()
        if i < 0:
            for k in range(self.slots):  # evict the oldest reassembly
                if i < 0 or self.deadline[k] < self.deadline[i]:
                    i = k
            self.c["ipv6_frag_no_memory"] += 1
        v = self.views[i]
        for k in range(14):
            v[k] = view[o - 14 + k]
        for k in range(40):
            v[_IP + k] = view[o + k]
        self.ident[i] = ident
        if self._open(i, now):
            self.ip6.arm(self.timer_at)
        return i

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
        if i >= 0 and self.state[i] == _DEAD:  # its other fragments go the same way
            self.c[self.reason[i]] += 1
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
        done = self._store(i, view, data, off, e, mf)
        if done < 0:
            return 0
        if off == 0:
            v = self.views[i]
            for k in range(8):
                v[_FH + k] = view[p + k]
        if done:
            return self._deliver(i, self.total[i], now)
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

    def _time_exceeded(self, i, now):
        # quote the offset-0 fragment as it came (RFC 8200 §4.5)
        v = self.views[i]
        self._header(v, self.re[i][0])
        self.ip6.icmp6.send_error(v, _IP, 3, 1, 0, now)
