# A simulated machine for the driver's tests (CPython and MicroPython):
#
#   bus = SimBus()                          # stands in for the runtime's _ethox
#   dev = SimNet(bus, irq=12)               # a virtio-net device (QEMU-like)
#   SimMmio(bus, dev, 0xfeb00e00)           # ... behind a virtio-mmio window
#   SimPci(bus, dev, slot=3)                # ... or behind virtio-pci (modern)
#
# SimBus has _ethox's surface: read8..read64/write8..write64 (MMIO windows, or
# the memory the driver registered through addressof()), inb..outl (port
# handlers), addressof, mfence, irq_enable/irq_pending/irq_count, idle,
# poll_hook, ticks_ms. It counts every device register access (mmio_reads,
# mmio_writes, port_reads, port_writes), so tests can prove the data path
# touches none. Memory: each object given to addressof() gets its own
# page-aligned fake address range; the device reads and writes the driver's
# arrays and bytearrays through it, element by element.
#
# SimNet behaves like QEMU's virtio-net where the driver can tell: feature
# negotiation (FEATURES_OK cleared when refused), queue set-up, RX into the
# avail ring's buffers with a 12-byte header, TX processed on notify (or by
# process_tx()), EVENT_IDX on both sides (used_event honoured for interrupts,
# avail_event written when it wants a kick), an interrupt line (ISR bits) that
# rises on edges the bus records. Test hooks: deliver(frame), process_tx(),
# `sent` (frames the driver transmitted), counters.
#
# Offloads as QEMU's device over tap offers them (TAP_FEATURES): mergeable
# receive buffers (a frame over several buffers, num_buffers in the first
# header), received frames up to 64 KiB once GUEST_TSO4 is negotiated,
# header flags per delivered frame, and on transmit the host's side of CSUM
# and HOST_TSO4 -- the checksum completed and a marked TCP segment cut into
# gso_size pieces the way Linux's GSO does it -- so `sent` holds what the
# wire would carry and `sent_hdrs` the headers that came with each frame.
# DEFAULT_FEATURES is what QEMU offers over a backend without a vnet header
# (dgram, stream, user): no checksum or segmentation offloads.
from ethox_uk.stack.wire.checksum import csum

from .queue import need_event

PAGE = 4096
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


class SimBus:
    def __init__(self):
        self._pages = {}
        self._ids = {}
        self._next = 0x1000000
        self._keep = []
        self.windows = []  # (base, size, device with read(off, size)/write(off, size, v))
        self.ports = {}  # port -> device with pin(port, size)/pout(port, size, v)
        self.mmio_reads = 0
        self.mmio_writes = 0
        self.port_reads = 0
        self.port_writes = 0
        self.unmapped = 0
        self.enabled = 0  # IRQ mask: bit n = irq_enable(n)
        self.pending = 0
        self.irqs = 0
        self.fences = 0
        self.halts = []  # the ms of each idle() that halted
        self.on_idle = None  # fn(ms) run in place of a halt (a test's "time passes")
        self.hook = None
        self.now = 0
        self.cmdline_text = ""
        self.exits = []

    def accesses(self):
        return self.mmio_reads + self.mmio_writes + self.port_reads + self.port_writes

    # -- memory ------------------------------------------------------------------
    def addressof(self, obj):
        k = id(obj)
        if k in self._ids:
            return self._ids[k]
        n = len(obj)
        size = len(bytes(obj)) if n else 0
        isz = size // n if n else 1
        base = self._next
        self._next += (size + PAGE - 1) // PAGE * PAGE + PAGE  # plus a guard page
        for p in range(base // PAGE, (base + max(size, 1) + PAGE - 1) // PAGE):
            self._pages[p] = (obj, base, isz)
        self._ids[k] = base
        self._keep.append(obj)
        return base

    def _mem(self, addr):
        e = self._pages.get(addr // PAGE)
        if e is None:
            raise ValueError("sim: DMA to unregistered address 0x%x" % addr)
        return e

    def _get_byte(self, obj, isz, o):
        if isz == 1:
            return obj[o]
        return (obj[o // isz] >> (8 * (o % isz))) & 0xFF

    def _set_byte(self, obj, isz, o, v):
        if isz == 1:
            obj[o] = v
            return
        i = o // isz
        sh = 8 * (o % isz)
        obj[i] = (obj[i] & ~(0xFF << sh)) | (v << sh)

    def mem_read(self, addr, size):
        obj, base, isz = self._mem(addr)
        o = addr - base
        if isz == size and o % size == 0:
            return obj[o // size]
        v = 0
        for k in range(size):
            v |= self._get_byte(obj, isz, o + k) << (8 * k)
        return v

    def mem_write(self, addr, size, v):
        obj, base, isz = self._mem(addr)
        o = addr - base
        if isz == size and o % size == 0:
            obj[o // size] = v
            return
        for k in range(size):
            self._set_byte(obj, isz, o + k, (v >> (8 * k)) & 0xFF)

    def mem_read_bytes(self, addr, n):
        obj, base, isz = self._mem(addr)
        o = addr - base
        if o + n > len(obj) * isz:
            raise ValueError("sim: DMA read past the end of a buffer")
        if isz == 1:
            return bytes(obj[o:o + n])
        return bytes([self._get_byte(obj, isz, o + k) for k in range(n)])

    def mem_write_bytes(self, addr, data):
        obj, base, isz = self._mem(addr)
        o = addr - base
        if o + len(data) > len(obj) * isz:
            raise ValueError("sim: DMA write past the end of a buffer")
        if isz == 1:
            obj[o:o + len(data)] = data
            return
        for k in range(len(data)):
            self._set_byte(obj, isz, o + k, data[k])

    # -- MMIO ----------------------------------------------------------------------
    def map(self, base, size, dev):
        self.windows.append((base, size, dev))

    def _window(self, addr):
        for base, size, dev in self.windows:
            if base <= addr < base + size:
                return dev, addr - base
        return None, 0

    def _read(self, addr, size):
        dev, off = self._window(addr)
        if dev is None:
            if addr // PAGE in self._pages:
                return self.mem_read(addr, size)
            self.unmapped += 1
            return 0  # QEMU reads unassigned memory as 0
        self.mmio_reads += 1
        return dev.read(off, size) & ((1 << (8 * size)) - 1)

    def _write(self, addr, size, v):
        dev, off = self._window(addr)
        if dev is None:
            if addr // PAGE in self._pages:
                self.mem_write(addr, size, v)
            else:
                self.unmapped += 1
            return
        self.mmio_writes += 1
        dev.write(off, size, v & ((1 << (8 * size)) - 1))

    def read8(self, a):
        return self._read(a, 1)

    def read16(self, a):
        return self._read(a, 2)

    def read32(self, a):
        return self._read(a, 4)

    def read64(self, a):
        return self._read(a, 8)

    def write8(self, a, v):
        self._write(a, 1, v)

    def write16(self, a, v):
        self._write(a, 2, v)

    def write32(self, a, v):
        self._write(a, 4, v)

    def write64(self, a, v):
        self._write(a, 8, v)

    # -- ports -----------------------------------------------------------------------
    def _pin(self, port, size):
        self.port_reads += 1
        dev = self.ports.get(port)
        if dev is None:
            return (1 << (8 * size)) - 1  # nothing there: all ones
        return dev.pin(port, size)

    def _pout(self, port, size, v):
        self.port_writes += 1
        dev = self.ports.get(port)
        if dev is not None:
            dev.pout(port, size, v & ((1 << (8 * size)) - 1))

    def inb(self, p):
        return self._pin(p, 1)

    def inw(self, p):
        return self._pin(p, 2)

    def inl(self, p):
        return self._pin(p, 4)

    def outb(self, p, v):
        self._pout(p, 1, v)

    def outw(self, p, v):
        self._pout(p, 2, v)

    def outl(self, p, v):
        self._pout(p, 4, v)

    # -- CPU and interrupts (the _ethox side) ------------------------------------------
    def mfence(self):
        self.fences += 1

    def irq_enable(self, n, on=True):
        if on:
            self.enabled |= 1 << n
        else:
            self.enabled &= ~(1 << n)

    def edge(self, n):
        """A rising edge on IRQ line n (from a device)."""
        if self.enabled & (1 << n):
            self.pending |= 1 << n
            self.irqs += 1

    def irq_pending(self):
        p = self.pending
        self.pending = 0
        return p

    def irq_count(self):
        return self.irqs

    def poll_hook(self, fn):
        self.hook = fn

    def idle(self, ms):
        """The runtime's idle: run the poll hook, then 'halt' (record it and let
        the test's on_idle run) unless the hook says not to."""
        if self.hook is not None:
            r = self.hook()
            if isinstance(r, int) and r >= 0 and (ms < 0 or r < ms):
                ms = r
        if ms == 0:
            return
        self.halts.append(ms)
        if self.on_idle is not None:
            self.on_idle(ms)
        elif ms > 0:
            self.now += ms

    def ticks_ms(self):
        return self.now

    def ticks_us(self):
        return self.now * 1000

    def cmdline(self):
        return self.cmdline_text

    def exit(self, n):
        """_ethox.exit: QEMU would end here; the simulation raises SimExit."""
        self.exits.append(n)
        raise SimExit(n)


class SimExit(BaseException):
    """Raised by SimBus.exit (like _ethox.exit, it must not be caught as an error)."""


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


class SimMmio:
    """virtio-mmio registers (layout version 2) in front of a SimNet (or an
    empty slot: device_id 0)."""

    def __init__(self, bus, dev, base, version=2, device_id=1):
        self.dev = dev
        self.version = version
        self.device_id = device_id
        self.dfsel = 0
        self.gfsel = 0
        self.qsel = 0
        bus.map(base, 0x200, self)

    def _q(self):
        qs = self.dev.queues if self.dev is not None else []
        return qs[self.qsel] if self.qsel < len(qs) else None

    def read(self, off, size):
        if off >= 0x100:
            c = self.dev.config if self.dev is not None else b""
            o = off - 0x100
            v = 0
            for k in range(size):
                v |= (c[o + k] if o + k < len(c) else 0) << (8 * k)
            return v
        if size != 4:
            raise ValueError("sim: virtio-mmio register 0x%x read with size %d" % (off, size))
        d = self.dev
        q = self._q()
        if off == 0x000:
            return 0x74726976
        if off == 0x004:
            return self.version
        if off == 0x008:
            return self.device_id
        if off == 0x00C:
            return 0x554D4551
        if d is None:
            return 0
        if off == 0x010:
            return d.feature_word(self.dfsel)
        if off == 0x034:
            return q.max if q else 0
        if off == 0x044:
            return q.ready if q else 0
        if off == 0x060:
            return d.isr
        if off == 0x070:
            return d.status
        if off == 0x0FC:
            return 0
        raise ValueError("sim: read of write-only virtio-mmio register 0x%x" % off)

    def write(self, off, size, v):
        d = self.dev
        if size != 4 or off >= 0x100 or d is None:
            raise ValueError("sim: bad virtio-mmio write 0x%x size %d" % (off, size))
        q = self._q()
        if off == 0x014:
            self.dfsel = v
        elif off == 0x020:
            d.set_driver_word(self.gfsel, v)
        elif off == 0x024:
            self.gfsel = v
        elif off == 0x030:
            self.qsel = v
        elif off == 0x038:
            q.num = v
        elif off == 0x044:
            q.ready = v
        elif off == 0x050:
            d.notify(v)
        elif off == 0x064:
            d.ack(v)
        elif off == 0x070:
            d.set_status(v)
        elif off in (0x080, 0x084, 0x090, 0x094, 0x0A0, 0x0A4):
            name = {0x80: "desc", 0x90: "driver", 0xA0: "device"}[off & ~4]
            cur = getattr(q, name)
            if off & 4:
                setattr(q, name, (cur & 0xFFFFFFFF) | v << 32)
            else:
                setattr(q, name, (cur & ~0xFFFFFFFF) | v)
        else:
            raise ValueError("sim: write of read-only virtio-mmio register 0x%x" % off)


class SimPciHost:
    """Configuration mechanism #1 (ports 0xcf8/0xcfc) and the ELCR (0x4d0/0x4d1)."""

    def __init__(self, bus):
        self.addr = 0
        self.functions = {}  # (bus, dev, fn) -> SimPci
        self.elcr = bytearray(2)
        for p in (0xCF8, 0xCFC, 0xCFD, 0xCFE, 0xCFF, 0x4D0, 0x4D1):
            bus.ports[p] = self

    def pin(self, port, size):
        if port == 0xCF8:
            return self.addr
        if port in (0x4D0, 0x4D1):
            return self.elcr[port - 0x4D0]
        f = self._fn()
        off = (self.addr & 0xFC) + (port - 0xCFC)
        if f is None or not self.addr & 0x80000000:
            return (1 << (8 * size)) - 1
        return f.cfg_read(off, size)

    def pout(self, port, size, v):
        if port == 0xCF8:
            self.addr = v
            return
        if port in (0x4D0, 0x4D1):
            self.elcr[port - 0x4D0] = v
            return
        f = self._fn()
        if f is not None and self.addr & 0x80000000:
            f.cfg_write((self.addr & 0xFC) + (port - 0xCFC), size, v)

    def _fn(self):
        a = self.addr
        return self.functions.get(((a >> 16) & 0xFF, (a >> 11) & 0x1F, (a >> 8) & 7))


class SimPci:
    """A modern virtio-pci function (vendor 0x1af4, device 0x1041) in front of a
    SimNet: capabilities like QEMU's (common 0x0, ISR 0x1000, device 0x2000,
    notify 0x3000 with multiplier 4, all in 64-bit BAR 4)."""

    def __init__(self, bus, dev, host, slot=3, bar_base=0xFE000000, irq_line=11,
                 device_id=0x1041, bar_assigned=True):
        self.dev = dev
        self.bar_base = bar_base
        c = bytearray(256)
        self.cfg = c
        _put(c, 0x00, 2, 0x1AF4)
        _put(c, 0x02, 2, device_id)
        _put(c, 0x06, 2, 0x10)  # capabilities list
        c[0x0B] = 0x02  # network controller
        _put(c, 0x2C, 2, 0x1AF4)
        _put(c, 0x2E, 2, 1)
        if bar_assigned:
            _put(c, 0x20, 4, (bar_base & 0xFFFFFFF0) | 0xC)  # BAR4: 64-bit, prefetchable
        c[0x34] = 0x40
        c[0x3C] = irq_line
        c[0x3D] = 1  # INTA
        # capabilities: vndr, next, len, cfg_type, bar, id, pad, pad, offset, length
        caps = [(0x40, 0x50, 1, 0x0000, 0x38), (0x50, 0x60, 3, 0x1000, 1),
                (0x60, 0x70, 4, 0x2000, len(dev.config)), (0x70, 0, 2, 0x3000, 0x1000)]
        for at, nxt, t, off, ln in caps:
            c[at] = 0x09
            c[at + 1] = nxt
            c[at + 2] = 20 if t == 2 else 16
            c[at + 3] = t
            c[at + 4] = 4
            _put(c, at + 8, 4, off)
            _put(c, at + 12, 4, ln)
            if t == 2:
                _put(c, at + 16, 4, 4)  # notify_off_multiplier
        host.functions[(0, slot, 0)] = self
        self.dfsel = 0
        self.gfsel = 0
        self.qsel = 0
        bus.map(bar_base, 0x4000, self)

    def cfg_read(self, off, size):
        return _get(self.cfg, off, size)

    def cfg_write(self, off, size, v):
        if off == 0x04 or off == 0x3C or 0x10 <= off < 0x28:
            _put(self.cfg, off, size, v)

    @property
    def command(self):
        return _get(self.cfg, 0x04, 2)

    # -- BAR 4 ------------------------------------------------------------------------
    def read(self, off, size):
        d = self.dev
        if not self.command & 2:
            raise ValueError("sim: BAR access with memory decoding off")
        if off >= 0x3000:
            return 0
        if off >= 0x2000:
            return _get(d.config, off - 0x2000, size) if off - 0x2000 < len(d.config) else 0
        if off >= 0x1000:
            return d.read_isr()
        q = d.queues[self.qsel] if self.qsel < 2 else None
        if off == 0x00:
            return self.dfsel
        if off == 0x04:
            return d.feature_word(self.dfsel)
        if off == 0x08:
            return self.gfsel
        if off == 0x0C:
            return (d.drv_features >> (32 * self.gfsel)) & 0xFFFFFFFF
        if off == 0x12:
            return 2
        if off == 0x14:
            return d.status
        if off == 0x15:
            return 0
        if off == 0x16:
            return self.qsel
        if off == 0x18:
            return (q.num or q.max) if q else 0
        if off == 0x1A:
            return 0xFFFF
        if off == 0x1C:
            return q.ready if q else 0
        if off == 0x1E:
            return self.qsel
        raise ValueError("sim: virtio-pci common read 0x%x" % off)

    def write(self, off, size, v):
        d = self.dev
        if not self.command & 2:
            raise ValueError("sim: BAR access with memory decoding off")
        if off >= 0x3000:
            d.notify(v)
            return
        if off >= 0x1000:
            raise ValueError("sim: write to virtio-pci ISR/device config 0x%x" % off)
        q = d.queues[self.qsel] if self.qsel < 2 else None
        if off == 0x00:
            self.dfsel = v
        elif off == 0x08:
            self.gfsel = v
        elif off == 0x0C:
            d.set_driver_word(self.gfsel, v)
        elif off == 0x14:
            d.set_status(v)
        elif off == 0x16:
            self.qsel = v
        elif off == 0x18:
            q.num = v
        elif off == 0x1A:
            pass
        elif off == 0x1C:
            if v and not self.command & 4:
                d.errors.append("queue enabled without bus mastering")
            q.ready = v
        elif 0x20 <= off < 0x38:
            name = ("desc", "driver", "device")[(off - 0x20) // 8]
            cur = getattr(q, name)
            if off & 4:
                setattr(q, name, (cur & 0xFFFFFFFF) | v << 32)
            else:
                setattr(q, name, (cur & ~0xFFFFFFFF) | v)
        else:
            raise ValueError("sim: virtio-pci common write 0x%x" % off)


def _get(b, off, size):
    v = 0
    for k in range(size):
        v |= b[off + k] << (8 * k)
    return v


def _put(b, off, size, v):
    for k in range(size):
        b[off + k] = (v >> (8 * k)) & 0xFF


BOOT_WORDS = "ip=10.0.2.15/24 gw=10.0.2.2"


def mmio_machine(slot=7, irq=12, words=True, slots=8, version=2, device_id=1, **dev_kw):
    """A microvm-like bus: `slots` virtio-mmio windows from 0xfeb00000, the net
    device in `slot` (the others empty), its boot word on the command line."""
    bus = SimBus()
    dev = SimNet(bus, irq=irq, **dev_kw)
    base = 0xFEB00000 + 0x200 * slot
    for n in range(slots):
        b = 0xFEB00000 + 0x200 * n
        if n == slot:
            SimMmio(bus, dev, b, version=version, device_id=device_id)
        else:
            SimMmio(bus, None, b, device_id=0)
    bus.cmdline_text = BOOT_WORDS
    if words:
        bus.cmdline_text += " virtio_mmio.device=512@0x%x:%d" % (base, irq)
    return bus, dev


def pci_machine(irq_line=11, slot=3, **kw):
    """A q35-like bus: PCI configuration ports with one modern virtio-net
    function; the ELCR marks its line level-triggered, as firmware leaves it."""
    bus = SimBus()
    dev_kw = {}
    for k in ("mac", "features", "refuse", "queue_max", "link", "rx_hdr_flags"):
        if k in kw:
            dev_kw[k] = kw.pop(k)
    dev = SimNet(bus, irq=irq_line, **dev_kw)
    host = SimPciHost(bus)
    host.elcr[irq_line >> 3] |= 1 << (irq_line & 7)
    fn = SimPci(bus, dev, host, slot=slot, irq_line=irq_line, **kw)
    bus.cmdline_text = BOOT_WORDS
    return bus, dev, host, fn
