# virtio-pci (modern, virtio 1.x §4.1) transport for -M q35 (QEMU's
# `-device virtio-net-pci,disable-legacy=on`).
#
#   find(bus, device_id=1) -> PciTransport | None
#       Enumerates PCI bus 0 through the configuration ports 0xcf8/0xcfc
#       (mechanism #1), takes the first virtio device (vendor 0x1af4, device
#       0x1040 + type), walks its vendor capabilities (common, notify, ISR,
#       device config), maps their BARs (as the firmware assigned them) and
#       enables memory decoding and bus mastering.
#   PciTransport: the same surface as mmio.MmioTransport, so net.py and the
#       queue code do not care which transport they run on.
#
# Interrupts: the legacy INTx line the firmware routed (configuration byte
# 0x3c) through the 8259. The runtime's 8259 expects edges; PCI lines are
# level, which the firmware marks in the ELCR (ports 0x4d0/0x4d1) -- a level
# line still high after the EOI would re-interrupt forever, since only Python
# can lower it. So the driver switches its line to edge in the ELCR and lowers
# it by reading the ISR before each wait, exactly as it acknowledges
# virtio-mmio. Configuration-port accesses happen only at start (each is a
# trapped port access, ~100 us under this machine's KVM).
from . import VirtioError

CONFIG_ADDRESS = 0xCF8
CONFIG_DATA = 0xCFC
ELCR = 0x4D0
VENDOR_VIRTIO = 0x1AF4

CAP_VENDOR = 0x09
CFG_COMMON = 1
CFG_NOTIFY = 2
CFG_ISR = 3
CFG_DEVICE = 4

# struct virtio_pci_common_cfg
C_DFSELECT = 0x00
C_DF = 0x04
C_GFSELECT = 0x08
C_GF = 0x0C
C_NUM_QUEUES = 0x12
C_STATUS = 0x14
C_CONFIG_GENERATION = 0x15
C_Q_SELECT = 0x16
C_Q_SIZE = 0x18
C_Q_MSIX = 0x1A
C_Q_ENABLE = 0x1C
C_Q_NOFF = 0x1E
C_Q_DESCLO = 0x20
C_Q_DESCHI = 0x24
C_Q_AVAILLO = 0x28
C_Q_AVAILHI = 0x2C
C_Q_USEDLO = 0x30
C_Q_USEDHI = 0x34


class ConfigSpace:
    """PCI configuration mechanism #1 for one function."""

    def __init__(self, bus, b, d, f):
        self.bus = bus
        self.tag = 0x80000000 | b << 16 | d << 11 | f << 8

    def read32(self, off):
        self.bus.outl(CONFIG_ADDRESS, self.tag | (off & 0xFC))
        return self.bus.inl(CONFIG_DATA)

    def read16(self, off):
        return (self.read32(off) >> ((off & 2) * 8)) & 0xFFFF

    def read8(self, off):
        return (self.read32(off) >> ((off & 3) * 8)) & 0xFF

    def write32(self, off, v):
        self.bus.outl(CONFIG_ADDRESS, self.tag | (off & 0xFC))
        self.bus.outl(CONFIG_DATA, v)

    def write16(self, off, v):
        w = self.read32(off)
        sh = (off & 2) * 8
        self.write32(off, (w & ~(0xFFFF << sh)) | (v & 0xFFFF) << sh)


def bar_address(cfg, bar):
    lo = cfg.read32(0x10 + 4 * bar)
    if lo & 1:
        return None  # an I/O BAR: virtio's structures live in memory BARs
    addr = lo & 0xFFFFFFF0
    if (lo >> 1) & 3 == 2 and bar < 5:
        addr |= cfg.read32(0x14 + 4 * bar) << 32
    return addr


def find(bus, device_id=1, devices=32):
    """The first modern virtio device of this type on bus 0, or None."""
    want = 0x1040 + device_id
    for d in range(devices):
        cfg = ConfigSpace(bus, 0, d, 0)
        ident = cfg.read32(0)
        if ident & 0xFFFF == 0xFFFF:
            continue
        nfunc = 8 if cfg.read8(0x0E) & 0x80 else 1
        for f in range(nfunc):
            if f:
                cfg = ConfigSpace(bus, 0, d, f)
                ident = cfg.read32(0)
            if ident & 0xFFFF != VENDOR_VIRTIO:
                continue
            dev = ident >> 16
            if dev == want:
                return PciTransport(bus, cfg, "00:%02x.%d" % (d, f))
            if dev == 0x0FFF + device_id:  # the transitional (legacy-capable) id
                raise VirtioError(
                    "virtio-net-pci at 00:%02x.%d is a transitional device: start QEMU with "
                    "-device virtio-net-pci,disable-legacy=on,..." % (d, f))
    return None


class PciTransport:
    kind = "pci"

    def __init__(self, bus, cfg, where):
        self.bus = bus
        self.cfg = cfg
        self.where = where
        self.notify_width = 16
        self._status = 0
        caps = {}
        self.notify_mult = 0
        if cfg.read16(0x06) & 0x10:  # capabilities list
            p = cfg.read8(0x34) & 0xFC
            guard = 0
            while p and guard < 48:
                guard += 1
                if cfg.read8(p) == CAP_VENDOR:
                    t = cfg.read8(p + 3)
                    if t not in caps and CFG_COMMON <= t <= CFG_DEVICE:
                        bar = cfg.read8(p + 4)
                        off = cfg.read32(p + 8)
                        if bar <= 5:
                            caps[t] = (bar, off)
                            if t == CFG_NOTIFY:
                                self.notify_mult = cfg.read32(p + 16)
                p = cfg.read8(p + 1) & 0xFC
        for t in (CFG_COMMON, CFG_NOTIFY, CFG_ISR, CFG_DEVICE):
            if t not in caps:
                raise VirtioError("virtio-pci %s lacks capability %d (not a modern device?)"
                                  % (where, t))
        bars = {}
        addr = {}
        for t in caps:
            bar, off = caps[t]
            if bar not in bars:
                bars[bar] = bar_address(cfg, bar)
                if not bars[bar] or bars[bar] + off >= 1 << 32:
                    raise VirtioError("virtio-pci %s: BAR %d is not mapped below 4 GiB (0x%x)"
                                      % (where, bar, bars[bar] or 0))
            addr[t] = bars[bar] + off
        self.common = addr[CFG_COMMON]
        self.notify_base = addr[CFG_NOTIFY]
        self.isr = addr[CFG_ISR]
        self.device = addr[CFG_DEVICE]
        # memory space + bus master, INTx enabled
        cmd = cfg.read16(0x04)
        cfg.write16(0x04, (cmd | 0x6) & ~0x400)
        line = cfg.read8(0x3C)
        pin = cfg.read8(0x3D)
        self.irq = line if pin and 0 < line < 16 and line != 2 else None
        if self.irq is not None:
            # edge-triggered in the 8259 (see the header)
            port = ELCR + (self.irq >> 3)
            bus.outb(port, bus.inb(port) & ~(1 << (self.irq & 7)))

    def __repr__(self):
        return "virtio-pci %s irq %s" % (self.where, self.irq)

    # -- status ---------------------------------------------------------------
    def reset(self):
        b = self.bus
        self._status = 0
        if b.read8(self.common + C_STATUS) == 0:
            return  # already in reset (a fresh boot)
        b.write8(self.common + C_STATUS, 0)
        for _ in range(1000):
            if b.read8(self.common + C_STATUS) == 0:
                return
        raise VirtioError("%r did not reset" % self)

    def status(self):
        return self.bus.read8(self.common + C_STATUS)

    def add_status(self, bits):
        # the driver owns the status since the reset: no read-modify-write
        self._status |= bits
        self.bus.write8(self.common + C_STATUS, self._status)

    # -- features ---------------------------------------------------------------
    def device_features(self):
        b = self.bus
        c = self.common
        b.write32(c + C_DFSELECT, 0)
        lo = b.read32(c + C_DF)
        b.write32(c + C_DFSELECT, 1)
        return lo | b.read32(c + C_DF) << 32

    def set_driver_features(self, f):
        b = self.bus
        c = self.common
        b.write32(c + C_GFSELECT, 0)
        b.write32(c + C_GF, f & 0xFFFFFFFF)
        b.write32(c + C_GFSELECT, 1)
        b.write32(c + C_GF, (f >> 32) & 0xFFFFFFFF)

    # -- queues -----------------------------------------------------------------
    def queue_max(self, index):
        b = self.bus
        c = self.common
        if index >= b.read16(c + C_NUM_QUEUES):
            return 0
        b.write16(c + C_Q_SELECT, index)
        if b.read16(c + C_Q_ENABLE):
            raise VirtioError("%r: queue %d is already in use" % (self, index))
        return b.read16(c + C_Q_SIZE)

    def setup_queue(self, q):
        b = self.bus
        c = self.common
        b.write16(c + C_Q_SELECT, q.index)
        b.write16(c + C_Q_SIZE, q.size)
        b.write16(c + C_Q_MSIX, 0xFFFF)  # no MSI-X: INTx
        b.write32(c + C_Q_DESCLO, q.desc_addr & 0xFFFFFFFF)
        b.write32(c + C_Q_DESCHI, q.desc_addr >> 32)
        b.write32(c + C_Q_AVAILLO, q.avail_addr & 0xFFFFFFFF)
        b.write32(c + C_Q_AVAILHI, q.avail_addr >> 32)
        b.write32(c + C_Q_USEDLO, q.used_addr & 0xFFFFFFFF)
        b.write32(c + C_Q_USEDHI, q.used_addr >> 32)
        b.write16(c + C_Q_ENABLE, 1)

    def notify_address(self, index):
        b = self.bus
        b.write16(self.common + C_Q_SELECT, index)
        off = b.read16(self.common + C_Q_NOFF)
        return self.notify_base + off * self.notify_mult, index

    # -- interrupts and config ----------------------------------------------------
    def ack_interrupt(self):
        """Reading the ISR clears it and lowers INTx (idle path only)."""
        self.bus.read8(self.isr)

    def config8(self, off):
        return self.bus.read8(self.device + off)

    def config_generation(self):
        return self.bus.read8(self.common + C_CONFIG_GENERATION)
