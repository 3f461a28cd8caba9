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
from .reassembly import ReassemblyTable

SLOTS = const(4)
SLOT_DATA = const(8192)
TIMEOUT_MS = const(30000)

_IP = const(14)
_DATA = const(34)

# reassembly.py's slot states (mpy-cross folds only a module's own consts)
_FREE = const(0)
_ACTIVE = const(1)
_DEAD = const(2)


class Reassembler(ReassemblyTable):
    def __init__(self, ip, slots=SLOTS, size=SLOT_DATA, timeout_ms=TIMEOUT_MS, per_source=-1):
        ReassemblyTable.__init__(
            self, ip.stack.counters.c, slots, size, _DATA, timeout_ms,
            # reassemblies one source address may have going at once (half the slots)
            per_source if per_source > 0 else max(1, slots // 2),
            # ReassemblyTable's reasons: bad, overlap, duplicate, no memory, timeout
            ("ipv4_frag_bad", "ipv4_frag_overlap", "ipv4_frag_duplicate", "ipv4_frag_no_memory",
             "ipv4_frag_timeout"))
        self.ip = ip
        if "frag_accept_overlap" in ip.stack.faults:  # test-only (negative control)
            from .overlap_fault import store_overlapping
            self.accept_overlap = store_overlapping

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
        c = self.c
        mine = self._count_own(view, o)
        if mine >= self.per_source:
            c["ipv4_frag_source_limit"] += 1
            return self.own_oldest
        best = self._free_or_tombstone()
        if best >= 0:
            return best
        best = self._fair_victim(mine)
        if best >= 0:
            c["ipv4_frag_no_memory"] += 1
            return best
        c["ipv4_frag_source_limit"] += 1
        return self.own_oldest

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
        self._open(i, now)
        return i

    # -- receive ---------------------------------------------------------------
    def receive(self, view, o, hl, total, now):
        """A fragment (IPv4 header at view[o:], checked): store it; deliver when complete."""
        fo = (view[o + 6] << 8) | view[o + 7]
        off = (fo & 0x1FFF) << 3
        end = off + total - hl
        i = self._find(view, o)
        if i >= 0 and self.state[i] == _DEAD:  # its other fragments go the same way
            self.c[self.reason[i]] += 1
            return 0
        if end > self.size:
            if i >= 0:
                return self._kill(i, "ipv4_frag_too_big")
            self.c["ipv4_frag_too_big"] += 1
            return 0
        if i < 0:
            i = self._alloc(view, o, now)
        if self._store(i, view, o + hl, off, end, fo & 0x2000) > 0:
            return self._deliver(i, self.total[i], now)
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
    def _time_exceeded(self, i, now):
        # Quote the synthesized header with the data held from offset 0.
        v = self.views[i]
        tl = 20 + self.re[i][0]
        v[_IP + 2] = tl >> 8
        v[_IP + 3] = tl & 255
        fill_checksum(v, _IP)
        self.ip.stack.icmp.send_time_exceeded(v, _IP, 1, now)
