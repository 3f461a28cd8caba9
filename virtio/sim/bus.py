# The simulated machine's bus: what the runtime's _ethox module offers the driver
# (memory through addressof(), MMIO windows, I/O ports, the interrupt line, the
# clock), with every device register access counted.

PAGE = 4096
BOOT_WORDS = "ip=10.0.2.15/24 gw=10.0.2.2"


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


def _get(b, off, size):
    v = 0
    for k in range(size):
        v |= b[off + k] << (8 * k)
    return v


def _put(b, off, size, v):
    for k in range(size):
        b[off + k] = (v >> (8 * k)) & 0xFF
