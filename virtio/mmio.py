# virtio-mmio transport, virtio 1.x (register layout version 2; QEMU needs
# `-global virtio-mmio.force-legacy=false`, which the canonical line has).
#
#   find(bus, cmdline, device_id=1) -> MmioTransport | None
#       Devices named by `virtio_mmio.device=SIZE@BASE:IRQ` boot words (QEMU
#       appends one per device on `-M microvm,acpi=off`), else the first one
#       found by scanning the microvm slots (24 at 0xfeb00000 + 0x200 * n with
#       ACPI, 8 without; a scanned device has no IRQ we can use: the driver
#       then polls on a timer of at most 10 ms).
#   MmioTransport: reset, status, feature negotiation, queue set-up, notify
#       address, interrupt acknowledge, device config space. Set-up only: the
#       data path never reads a register here (each access is a VM exit).
from . import VirtioError

MAGIC = 0x74726976  # "virt"
SLOT_BASE = 0xFEB00000
SLOT_STRIDE = 0x200
SLOTS = 24  # microvm with ACPI; with acpi=off the first 8 of them

# registers
R_MAGIC = 0x000
R_VERSION = 0x004
R_DEVICE_ID = 0x008
R_VENDOR_ID = 0x00C
R_DEVICE_FEATURES = 0x010
R_DEVICE_FEATURES_SEL = 0x014
R_DRIVER_FEATURES = 0x020
R_DRIVER_FEATURES_SEL = 0x024
R_QUEUE_SEL = 0x030
R_QUEUE_NUM_MAX = 0x034
R_QUEUE_NUM = 0x038
R_QUEUE_READY = 0x044
R_QUEUE_NOTIFY = 0x050
R_INTERRUPT_STATUS = 0x060
R_INTERRUPT_ACK = 0x064
R_STATUS = 0x070
R_QUEUE_DESC_LOW = 0x080
R_QUEUE_DESC_HIGH = 0x084
R_QUEUE_DRIVER_LOW = 0x090
R_QUEUE_DRIVER_HIGH = 0x094
R_QUEUE_DEVICE_LOW = 0x0A0
R_QUEUE_DEVICE_HIGH = 0x0A4
R_CONFIG_GENERATION = 0x0FC
R_CONFIG = 0x100


def _parse_num(text):
    t = text.lower()
    mul = 1
    if t and t[-1] in "kmg":
        mul = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[t[-1]]
        t = t[:-1]
    return int(t, 0) * mul


def boot_word_devices(cmdline):
    """[(base, size, irq)] from `virtio_mmio.device=SIZE@BASE:IRQ` words;
    malformed words are skipped (the slot scan still finds the device)."""
    out = []
    for w in cmdline.split():
        if not w.startswith("virtio_mmio.device="):
            continue
        v = w[len("virtio_mmio.device="):]
        try:
            size, rest = v.split("@", 1)
            if ":" in rest:
                base, irq = rest.split(":", 1)
                irq = int(irq.split(":", 1)[0], 0)
            else:
                base, irq = rest, None
            out.append((_parse_num(base), _parse_num(size), irq))
        except (ValueError, KeyError):
            continue
    return out


def probe(bus, base):
    """(version, device_id) of a virtio-mmio window, or None when none is there."""
    if bus.read32(base + R_MAGIC) != MAGIC:
        return None
    return bus.read32(base + R_VERSION), bus.read32(base + R_DEVICE_ID)


def _candidates(cmdline, slots):
    """(base, irq) of every place a device may be: the boot words' (with their IRQ), then
    the slots (their IRQ not known: None)."""
    for base, size, irq in boot_word_devices(cmdline):
        yield base, irq
    for n in range(slots):
        yield SLOT_BASE + SLOT_STRIDE * n, None


def find(bus, cmdline, device_id=1, slots=SLOTS):
    """The first virtio-mmio device of this type (boot words first, then the scan)."""
    legacy = None
    for base, irq in _candidates(cmdline, slots):
        p = probe(bus, base)
        if p is None or p[1] != device_id:
            continue
        if p[0] != 2:
            legacy = base
            continue
        return MmioTransport(bus, base, irq)
    if legacy is not None:
        raise VirtioError(
            "virtio-mmio device at 0x%x speaks only the legacy interface (version 1): start "
            "QEMU with -global virtio-mmio.force-legacy=false" % legacy)
    return None


class MmioTransport:
    kind = "mmio"

    def __init__(self, bus, base, irq):
        self.bus = bus
        self.base = base
        self.irq = irq
        self.notify_width = 32
        self._status = 0

    def __repr__(self):
        return "virtio-mmio@0x%x irq %s" % (self.base, self.irq)

    def _r(self, reg):
        return self.bus.read32(self.base + reg)

    def _w(self, reg, v):
        self.bus.write32(self.base + reg, v)

    # -- status -------------------------------------------------------------
    def reset(self):
        self._status = 0
        if self._r(R_STATUS) == 0:
            return  # already in reset (a fresh boot): QEMU's reset costs ~5 ms here
        self._w(R_STATUS, 0)
        for _ in range(1000):
            if self._r(R_STATUS) == 0:
                return
        raise VirtioError("%r did not reset" % self)

    def status(self):
        return self._r(R_STATUS)

    def add_status(self, bits):
        # the driver owns the status since the reset: no read-modify-write
        self._status |= bits
        self._w(R_STATUS, self._status)

    # -- features -------------------------------------------------------------
    def device_features(self):
        self._w(R_DEVICE_FEATURES_SEL, 0)
        lo = self._r(R_DEVICE_FEATURES)
        self._w(R_DEVICE_FEATURES_SEL, 1)
        hi = self._r(R_DEVICE_FEATURES)
        return lo | hi << 32

    def set_driver_features(self, f):
        self._w(R_DRIVER_FEATURES_SEL, 0)
        self._w(R_DRIVER_FEATURES, f & 0xFFFFFFFF)
        self._w(R_DRIVER_FEATURES_SEL, 1)
        self._w(R_DRIVER_FEATURES, (f >> 32) & 0xFFFFFFFF)

    # -- queues ---------------------------------------------------------------
    def queue_max(self, index):
        self._w(R_QUEUE_SEL, index)
        return self._r(R_QUEUE_NUM_MAX)

    def setup_queue(self, q):
        self._w(R_QUEUE_SEL, q.index)
        self._w(R_QUEUE_NUM, q.size)
        self._w(R_QUEUE_DESC_LOW, q.desc_addr & 0xFFFFFFFF)
        self._w(R_QUEUE_DESC_HIGH, q.desc_addr >> 32)
        self._w(R_QUEUE_DRIVER_LOW, q.avail_addr & 0xFFFFFFFF)
        self._w(R_QUEUE_DRIVER_HIGH, q.avail_addr >> 32)
        self._w(R_QUEUE_DEVICE_LOW, q.used_addr & 0xFFFFFFFF)
        self._w(R_QUEUE_DEVICE_HIGH, q.used_addr >> 32)
        self._w(R_QUEUE_READY, 1)

    def notify_address(self, index):
        """(address, value): writing value there notifies queue `index`."""
        return self.base + R_QUEUE_NOTIFY, index

    # -- interrupts and config -------------------------------------------------
    def ack_interrupt(self):
        """Lower the device's interrupt line (one register write, idle path only).
        Both causes are acknowledged blindly: reading the status first would
        cost another VM exit."""
        self._w(R_INTERRUPT_ACK, 3)

    def config8(self, off):
        return self.bus.read8(self.base + R_CONFIG + off)

    def config_generation(self):
        return self._r(R_CONFIG_GENERATION)
