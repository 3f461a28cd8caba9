# The simulated virtio-net device (transport-independent): feature negotiation,
# queues, receive into the driver's buffers, transmit with the host's side of the
# checksum and TSO offloads.
from ethox_uk.stack.wire.checksum import csum

from ..queue import need_event

HDR = 12

F_CSUM = 1 << 0
F_GUEST_CSUM = 1 << 1
F_MAC = 1 << 5
F_GUEST_TSO4 = 1 << 7
F_HOST_TSO4 = 1 << 11
F_MRG_RXBUF = 1 << 15
F_STATUS = 1 << 16
F_EVENT_IDX = 1 << 29
F_VERSION_1 = 1 << 32
DEFAULT_FEATURES = F_VERSION_1 | F_MAC | F_STATUS | F_EVENT_IDX | F_MRG_RXBUF
TAP_FEATURES = DEFAULT_FEATURES | F_CSUM | F_GUEST_CSUM | F_HOST_TSO4 | F_GUEST_TSO4
NEEDS_CSUM = 1
DATA_VALID = 2
GSO_TCPV4 = 1
MAX_PLAIN = 1514  # the largest frame without GUEST_TSO4

S_DRIVER_OK = 4
S_FEATURES_OK = 8


class SimQueue:
    def __init__(self, qmax):
        self.max = qmax
        self.reset()

    def reset(self):
        self.num = 0
        self.ready = 0
        self.desc = 0
        self.driver = 0
        self.device = 0
        self.last_avail = 0
        self.used_idx = 0


class SimNet:
    """The virtio-net device model (transport-independent)."""

    def __init__(self, bus, mac=b"\x52\x54\x00\x12\x34\x56", features=DEFAULT_FEATURES,
                 refuse=False, queue_max=256, link=True, irq=None, rx_hdr_flags=0):
        self.bus = bus
        self.features = features
        self.refuse = refuse
        self.irq = irq
        self.rx_hdr_flags = rx_hdr_flags  # what the device writes in RX headers
        self.config = bytearray(bytes(mac) + bytes([1 if link else 0, 0, 1, 0, 0xDC, 0x05]))
        self.queues = [SimQueue(queue_max), SimQueue(queue_max)]
        self.auto_tx = True  # process the transmit queue when notified (as QEMU does)
        self.sent = []  # frames the driver transmitted (as the wire carries them)
        self.sent_hdrs = []  # (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)
        self.notifies = [0, 0]
        self.interrupts = 0
        self.rx_stalls = 0
        self.bad_tx_headers = 0
        self.errors = []
        self.reset()

    def reset(self):
        self.status = 0
        self.drv_features = 0
        self.isr = 0
        self.line = False
        self.resets = getattr(self, "resets", 0) + 1
        for q in self.queues:
            q.reset()

    # -- registers (called by the transports) --------------------------------------------
    def set_status(self, v):
        if v == 0:
            self.reset()
            return
        if v & S_FEATURES_OK and not self.status & S_FEATURES_OK:
            f = self.drv_features
            if self.refuse or f & ~self.features or not f & F_VERSION_1:
                v &= ~S_FEATURES_OK
        self.status = v

    def feature_word(self, sel):
        return (self.features >> (32 * sel)) & 0xFFFFFFFF if sel < 2 else 0

    def set_driver_word(self, sel, v):
        if sel < 2:
            sh = 32 * sel
            self.drv_features = (self.drv_features & ~(0xFFFFFFFF << sh)) | (v << sh)

    @property
    def event_idx(self):
        return bool(self.drv_features & F_EVENT_IDX)

    def notify(self, q):
        if q > 1:
            self.errors.append("notify of queue %d" % q)
            return
        self.notifies[q] += 1
        if q == 1 and self.auto_tx:
            self.process_tx()

    def ack(self, bits):
        self.isr &= ~bits
        if not self.isr:
            self.line = False

    def read_isr(self):
        v = self.isr
        self.ack(v)
        return v

    def _raise(self):
        self.isr |= 1
        self.interrupts += 1
        if not self.line:
            self.line = True
            if self.irq is not None:
                self.bus.edge(self.irq)

    # -- ring access ---------------------------------------------------------------------
    def _rd16(self, a):
        return self.bus.mem_read(a, 2)

    def _wr16(self, a, v):
        self.bus.mem_write(a, 2, v & 0xFFFF)

    def _avail_idx(self, q):
        return self._rd16(q.driver + 2)

    def _chain(self, q, head):
        """[(addr, len, flags)] of the descriptor chain starting at head."""
        out = []
        d = head
        for _ in range(q.num):
            a = q.desc + 16 * d
            addr = self.bus.mem_read(a, 8)
            ln = self.bus.mem_read(a + 8, 4)
            fl = self.bus.mem_read(a + 12, 2)
            out.append((addr, ln, fl))
            if not fl & 1:
                return out
            d = self.bus.mem_read(a + 14, 2)
        self.errors.append("descriptor loop")
        return out

    def _push_used(self, q, head, length):
        i = q.used_idx % q.num
        self.bus.mem_write(q.device + 4 + 8 * i, 4, head)
        self.bus.mem_write(q.device + 8 + 8 * i, 4, length)
        old = q.used_idx
        q.used_idx = (q.used_idx + 1) & 0xFFFF
        self._wr16(q.device + 2, q.used_idx)
        return old

    def _maybe_interrupt(self, q, old, new):
        if old == new:
            return
        if self.event_idx:
            ev = self._rd16(q.driver + 4 + 2 * q.num)
            if need_event(ev, new, old):
                self._raise()
        elif not self._rd16(q.driver) & 1:
            self._raise()

    def _want_kick(self, q):
        """Like QEMU with notifications enabled: avail_event = what we have seen."""
        if self.event_idx:
            self._wr16(q.device + 4 + 8 * q.num, q.last_avail)

    def live(self, q):
        return self.status & S_DRIVER_OK and q.ready and q.num

    # -- the device's actions (test hooks) -------------------------------------------------
    def has(self, f):
        return bool(self.drv_features & f)

    def deliver(self, frame, flags=None):
        """Receive one frame from the wire (header flags: rx_hdr_flags unless
        given); False when there is no room (or not live). Frames above 1514
        bytes only once GUEST_TSO4 is negotiated (the host sends none else);
        with MRG_RXBUF a frame takes as many buffers as it needs."""
        q = self.queues[0]
        if not self.live(q):
            return False
        if len(frame) > MAX_PLAIN and not self.has(F_GUEST_TSO4):
            self.errors.append("a %d-byte frame without GUEST_TSO4" % len(frame))
            return False
        fl = self.rx_hdr_flags if flags is None else flags
        gso = GSO_TCPV4 if len(frame) > MAX_PLAIN else 0
        hdr = bytearray([fl, gso, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0])
        data = bytes(hdr) + bytes(frame)
        mrg = self.has(F_MRG_RXBUF)
        # the buffers it will take (QEMU checks there is room before popping)
        heads = []
        room = 0
        i = q.last_avail
        while room < len(data):
            if i == self._avail_idx(q) or (heads and not mrg):
                self._want_kick(q)
                self.rx_stalls += 1
                return False
            head = self._rd16(q.driver + 4 + 2 * (i % q.num))
            chain = self._chain(q, head)
            heads.append((head, chain))
            room += sum([c[1] for c in chain])
            i = (i + 1) & 0xFFFF
        if mrg and len(heads) > 1:
            data = data[:10] + bytes([len(heads) & 0xFF, len(heads) >> 8]) + data[12:]
        old = q.used_idx
        pos = 0
        for head, chain in heads:
            start = pos
            for addr, ln, fl in chain:
                if not fl & 2:
                    self.errors.append("RX descriptor %d not device-writable" % head)
                    break
                n = min(ln, len(data) - pos)
                if n > 0:
                    self.bus.mem_write_bytes(addr, data[pos:pos + n])
                    pos += n
            q.last_avail = (q.last_avail + 1) & 0xFFFF
            self._push_used(q, head, pos - start)
        self._maybe_interrupt(q, old, q.used_idx)
        return True

    def process_tx(self):
        """Transmit everything in the avail ring; returns the number of frames."""
        q = self.queues[1]
        if not self.live(q):
            return 0
        old = q.used_idx
        n = 0
        while q.last_avail != self._avail_idx(q):
            head = self._rd16(q.driver + 4 + 2 * (q.last_avail % q.num))
            q.last_avail = (q.last_avail + 1) & 0xFFFF
            data = b""
            for addr, ln, fl in self._chain(q, head):
                if fl & 2:
                    self.errors.append("TX descriptor %d is device-writable" % head)
                data += self.bus.mem_read_bytes(addr, ln)
            if len(data) < HDR:
                self.errors.append("TX buffer shorter than the header")
            else:
                self._host_side(data[:HDR], bytearray(data[HDR:]))
            self._push_used(q, head, 0)
            n += 1
        self._want_kick(q)
        self._maybe_interrupt(q, old, q.used_idx)
        return n

    def _host_side(self, h, frame):
        """What the host does with one transmitted frame: check the header
        against the features, complete the checksum, cut a TSO segment."""
        flags = h[0]
        gso = h[1]
        gso_size = h[4] | (h[5] << 8)
        cs = h[6] | (h[7] << 8)
        co = h[8] | (h[9] << 8)
        self.sent_hdrs.append((flags, gso, h[2] | (h[3] << 8), gso_size, cs, co))
        ok = flags in (0, NEEDS_CSUM) and gso in (0, GSO_TCPV4)
        if flags == NEEDS_CSUM and (not self.has(F_CSUM) or cs + co + 2 > len(frame)):
            ok = False
        if gso and (not self.has(F_HOST_TSO4) or flags != NEEDS_CSUM or gso_size == 0
                    or len(frame) < 54 or frame[23] != 6):
            ok = False
        if not ok:
            self.bad_tx_headers += 1
            self.sent.append(bytes(frame))
            return
        t = 14 + ((frame[14] & 15) << 2)
        if gso and len(frame) - t - ((frame[t + 12] >> 4) << 2) > gso_size:
            for seg in _tso_segments(frame, gso_size):
                self.sent.append(seg)
            return
        if flags == NEEDS_CSUM:
            s = ~csum(frame, cs, len(frame), 0) & 0xFFFF
            frame[cs + co] = s >> 8
            frame[cs + co + 1] = s & 0xFF
        self.sent.append(bytes(frame))

    def take_sent(self):
        out = self.sent
        self.sent = []
        return out


def _tso_segments(frame, mss):
    """Linux's TCPv4 GSO for one frame: each piece gets the headers with the
    IPv4 total length, an ID one up per piece, sequence numbers moved on, FIN
    and PSH only on the last piece, and both checksums."""
    ihl = (frame[14] & 15) << 2
    t = 14 + ihl
    thl = (frame[t + 12] >> 4) << 2
    d = t + thl
    data = frame[d:]
    ident = (frame[18] << 8) | frame[19]
    seq = (frame[t + 4] << 24) | (frame[t + 5] << 16) | (frame[t + 6] << 8) | frame[t + 7]
    flags = frame[t + 13]
    out = []
    pos = 0
    while pos < len(data):
        n = min(mss, len(data) - pos)
        seg = bytearray(frame[:d]) + data[pos:pos + n]
        last = pos + n >= len(data)
        total = ihl + thl + n
        seg[16] = total >> 8
        seg[17] = total & 255
        i = (ident + len(out)) & 0xFFFF
        seg[18] = i >> 8
        seg[19] = i & 255
        seg[24] = 0
        seg[25] = 0
        s = ~csum(seg, 14, 14 + ihl, 0) & 0xFFFF
        seg[24] = s >> 8
        seg[25] = s & 255
        q = (seq + pos) & 0xFFFFFFFF
        seg[t + 4] = q >> 24
        seg[t + 5] = (q >> 16) & 255
        seg[t + 6] = (q >> 8) & 255
        seg[t + 7] = q & 255
        seg[t + 13] = flags if last else flags & ~0x09  # FIN, PSH on the last piece only
        seg[t + 16] = 0
        seg[t + 17] = 0
        ps = ((seg[26] << 8) | seg[27]) + ((seg[28] << 8) | seg[29]) + ((seg[30] << 8) | seg[31]) \
            + ((seg[32] << 8) | seg[33]) + 6 + thl + n
        s = ~csum(seg, t, len(seg), ps) & 0xFFFF
        seg[t + 16] = s >> 8
        seg[t + 17] = s & 255
        out.append(bytes(seg))
        pos += n
    return out
