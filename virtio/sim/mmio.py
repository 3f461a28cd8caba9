# virtio-mmio registers in front of a SimNet, and a microvm-like machine.
from .bus import BOOT_WORDS, SimBus
from .net import SimNet


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
