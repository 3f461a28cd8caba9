# virtio-pci (modern) in front of a SimNet, the PCI configuration ports, and a
# q35-like machine.
from .bus import BOOT_WORDS, SimBus, _get, _put
from .net import SimNet


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
