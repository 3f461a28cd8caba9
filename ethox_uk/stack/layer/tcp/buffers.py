# Ring-buffer implementations of the two buffer interfaces in io.py.
#
# RingSendBuf: the application appends with write() and ends the stream with
# close(); TCP reads with available()/fill() and discards with ack(). Bytes
# stay until acknowledged, so the buffer is also the retransmit buffer.
#
# RingRecvBuf: TCP stores segments with receive(), in or out of order; ack()
# is the next byte expected (everything before it is contiguous and readable),
# window() the free space. Out-of-order data is kept in the ring at its place
# and remembered as at most `max_ranges` byte ranges (absolute stream offsets);
# a segment that would need more ranges is not stored (the peer resends it).
# The application takes contiguous data with read()/readinto()/peek()/skip().
#
# Both allocate their ring once. Copies go through wire/copy.py's copy(dst,
# doff, src, soff, n): in the image the runtime's memmove, on the MicroPython
# unix port a viper loop -- both allocate nothing and never memmove the ring's
# tail (a slice assignment there costs 96 B per copy and, under the guest's
# memmove, a pass over the rest of the ring); under CPython a slice assignment
# between memoryviews (one memcpy), written inline below.
from ...compat import const, MICROPYTHON
from ...wire.copy import copy as _copy

_MASK = const(0xFFFFFFFF)
_HALF = const(0x80000000)
_VIPER = MICROPYTHON  # copy() allocates nothing there: use it for every copy


class RingSendBuf:
    def __init__(self, capacity=65536):
        self.cap = capacity
        self.mv = memoryview(bytearray(capacity))
        self.head = 0  # ring index of the oldest unacknowledged byte
        self.count = 0  # bytes held: sent-but-unacknowledged plus unsent
        self.begin = -1  # sequence number of the byte at head; -1 before TCP's first ack()
        self.fin = False  # the application ended the stream

    def reset(self):
        """Empty, as new (a pool reuses rings between connections)."""
        self.head = 0
        self.count = 0
        self.begin = -1
        self.fin = False

    # -- application side ------------------------------------------------------
    def free(self):
        return 0 if self.fin else self.cap - self.count

    def write(self, data, start=0, end=-1):
        """Append data[start:end]; returns how many bytes fitted (0 after close)."""
        if self.fin:
            return 0
        if end < 0:
            end = len(data)
        n = end - start
        room = self.cap - self.count
        if n > room:
            n = room
        if n <= 0:
            return 0
        src = data if _VIPER else memoryview(data)
        cap = self.cap
        p = self.head + self.count
        if p >= cap:
            p -= cap
        first = cap - p
        if first >= n:
            _copy(self.mv, p, src, start, n)
        else:
            _copy(self.mv, p, src, start, first)
            _copy(self.mv, 0, src, start + first, n - first)
        self.count += n
        return n

    def close(self):
        self.fin = True

    def unacked(self):
        return self.count

    # -- TCP side (io.SendBuf) --------------------------------------------------
    def available(self):
        return self.count

    def fill(self, dst, off, n, seq):
        d = (seq - self.begin) & _MASK
        cap = self.cap
        p = self.head + d
        while p >= cap:
            p -= cap
        first = cap - p
        if first >= n:
            if _VIPER:
                _copy(dst, off, self.mv, p, n)
            else:
                dst[off:off + n] = self.mv[p:p + n]
        else:
            _copy(dst, off, self.mv, p, first)
            _copy(dst, off + first, self.mv, 0, n - first)

    def ack(self, seq):
        if self.begin < 0:
            self.begin = seq
            return
        d = (seq - self.begin) & _MASK
        if d == 0 or d > self.count:
            return
        h = self.head + d
        if h >= self.cap:
            h -= self.cap
        self.head = h
        self.count -= d
        self.begin = seq


class OutOfOrder:
    """Bytes received beyond the next one expected: at most `limit` sorted,
    disjoint [start, end) ranges of stream offsets (offsets grow without
    bound, so no wrap arithmetic), and which range moved last (SACK reports it
    first, RFC 2018 §4). Each range is a 2-list; a new one allocates (a
    reordering event, not the in-order hot path)."""

    def __init__(self, limit=8):
        self.r = []
        self.limit = limit
        self.recent = None

    def clear(self):
        self.r = []
        self.recent = None

    def add(self, s, e):
        """Note [s, e); False when it would need more than `limit` ranges."""
        r = self.r
        i = 0
        while i < len(r) and r[i][1] < s:
            i += 1
        # r[i] is the first range that ends at or after s
        if i < len(r) and r[i][0] <= e:
            rg = r[i]
            if s < rg[0]:
                rg[0] = s
            if e > rg[1]:
                rg[1] = e
            while i + 1 < len(r) and r[i + 1][0] <= rg[1]:
                nx = r.pop(i + 1)
                if nx[1] > rg[1]:
                    rg[1] = nx[1]
            self.recent = rg
            return True
        if len(r) >= self.limit:
            return False
        rg = [s, e]
        r.insert(i, rg)
        self.recent = rg
        return True

    def take(self, end):
        """The in-order end moved to `end`: absorb the ranges it reached; the
        new end."""
        r = self.r
        while r and r[0][0] <= end:
            rg = r.pop(0)
            if rg is self.recent:
                self.recent = None
            if rg[1] > end:
                end = rg[1]
        return end

    def sack(self, out, end, nxt):
        """Write the ranges as (left, right) sequence numbers into out (a list
        of 2k ints), the one that moved last first; `end` is the stream offset
        of sequence number `nxt`. Returns the number of blocks written."""
        r = self.r
        k = len(out) >> 1
        n = 0
        rg = self.recent
        if rg is not None and k:
            out[0] = (nxt + rg[0] - end) & _MASK
            out[1] = (nxt + rg[1] - end) & _MASK
            n = 1
        i = len(r) - 1
        while i >= 0 and n < k:
            if r[i] is not rg:
                out[2 * n] = (nxt + r[i][0] - end) & _MASK
                out[2 * n + 1] = (nxt + r[i][1] - end) & _MASK
                n += 1
            i -= 1
        return n


class RingRecvBuf:
    def __init__(self, capacity=65536, max_ranges=8):
        self.cap = capacity
        self.mv = memoryview(bytearray(capacity))
        self.head = 0  # ring index of the first unread byte
        self.count = 0  # contiguous unread bytes
        self.base = 0  # stream offset of the byte at head (grows without bound)
        self.nxt = -1  # sequence number of the next byte expected; -1 before start()
        self.ooo = OutOfOrder(max_ranges)  # stream offsets held beyond base+count

    def reset(self):
        """Empty, as new (a pool reuses rings between connections)."""
        self.head = 0
        self.count = 0
        self.base = 0
        self.nxt = -1
        self.ooo.clear()

    # -- TCP side (io.RecvBuf) --------------------------------------------------
    def start(self, seq):
        self.nxt = seq
        self.ooo.clear()

    def receive(self, view, off, n, seq):
        if self.nxt < 0 or n <= 0:
            return
        d = (seq - self.nxt) & _MASK
        if d & _HALF:  # starts before nxt: drop what we already have
            d -= 0x100000000
            off -= d
            n += d
            d = 0
            if n <= 0:
                return
        room = self.cap - self.count
        if d >= room:
            return
        if d + n > room:
            n = room - d
        if d:
            start = self.base + self.count + d
            if not self.ooo.add(start, start + n):
                return
        cap = self.cap
        p = self.head + self.count + d
        while p >= cap:
            p -= cap
        first = cap - p
        if first >= n:
            if _VIPER:
                _copy(self.mv, p, view, off, n)
            else:
                self.mv[p:p + n] = view[off:off + n]
        else:
            _copy(self.mv, p, view, off, first)
            _copy(self.mv, 0, view, off + first, n - first)
        if d == 0:
            self.count += n
            self.nxt = (self.nxt + n) & _MASK
            if self.ooo.r:
                end = self.base + self.count
                grow = self.ooo.take(end) - end
                if grow:
                    self.count += grow
                    self.nxt = (self.nxt + grow) & _MASK

    def ack(self):
        return self.nxt

    def window(self):
        return self.cap - self.count

    def sack_blocks(self, out):
        """io.RecvBuf's optional SACK source: the out-of-order data held."""
        if not self.ooo.r:
            return 0
        return self.ooo.sack(out, self.base + self.count, self.nxt)

    # -- application side -------------------------------------------------------
    def readable(self):
        return self.count

    def peek(self, n=-1):
        """Up to n contiguous unread bytes as bytes, without consuming them."""
        if n < 0 or n > self.count:
            n = self.count
        out = bytearray(n)
        self._copy_out(out, 0, n)
        return bytes(out)

    def readinto(self, buf, n=-1):
        if n < 0 or n > len(buf):
            n = len(buf)
        if n > self.count:
            n = self.count
        if n:
            self._copy_out(buf if _VIPER else memoryview(buf), 0, n)
            self.skip(n)
        return n

    def read(self, n=-1):
        out = self.peek(n)
        self.skip(len(out))
        return out

    def skip(self, n):
        if n > self.count:
            n = self.count
        h = self.head + n
        if h >= self.cap:
            h -= self.cap
        self.head = h
        self.count -= n
        self.base += n
        return n

    def find(self, byte, limit=-1):
        """Offset of the first `byte` (an int) among the unread bytes, or -1."""
        n = self.count if limit < 0 or limit > self.count else limit
        cap = self.cap
        p = self.head
        mv = self.mv
        for i in range(n):
            if mv[p] == byte:
                return i
            p += 1
            if p == cap:
                p = 0
        return -1

    def _copy_out(self, dst, off, n):
        cap = self.cap
        p = self.head
        first = cap - p
        if first >= n:
            _copy(dst, off, self.mv, p, n)
        else:
            _copy(dst, off, self.mv, p, first)
            _copy(dst, off + first, self.mv, 0, n - first)
