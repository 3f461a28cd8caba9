# virtio/: the guest's virtio-net driver (MicroPython; the same code runs under
# CPython against the simulated machine in virtio/sim/).
#
#   mmio.py   virtio-mmio transport (virtio 1.x, register layout version 2):
#             devices from `virtio_mmio.device=SIZE@BASE:IRQ` boot words, else
#             by scanning the microvm slots
#   pci.py    virtio-pci (modern) transport for -M q35: configuration space
#             through ports 0xcf8/0xcfc, the vendor capabilities, BAR mapping
#   queue.py  split virtqueue in preallocated arrays (descriptor table
#             array('I'), rings array('H')), EVENT_IDX helpers
#   net.py    VirtioNet: the stack's NIC interface (ethox_uk/stack/nic/base.py)
#   sim/      a simulated bus + virtio-net device (mmio and pci) for tests
#
# Everything talks to hardware through one accessor object, `bus`: in the image
# it is the runtime's `_ethox` module (read8..read32/write8..write32 for MMIO,
# inb..outl for ports, addressof, mfence, irq_enable/irq_pending, idle); in
# tests it is virtio.sim.SimBus. Only set-up code and the idle path touch
# device registers: the per-packet path reads and writes the rings in memory.


class VirtioError(Exception):
    """A device that is missing or cannot be used. `status` is the guest's exit
    status for it (ethox_uk/guest.py documents them); str() says what to do."""

    def __init__(self, message, status=4):
        super().__init__(message)
        self.status = status


# device status bits (virtio 1.x §2.1)
S_ACKNOWLEDGE = 1
S_DRIVER = 2
S_DRIVER_OK = 4
S_FEATURES_OK = 8
S_NEEDS_RESET = 64
S_FAILED = 128

F_VERSION_1 = 1 << 32


def negotiate(t, wanted, required, depends=()):
    """Reset the device behind transport t and agree on features (§3.1.1):
    ACKNOWLEDGE, DRIVER, features = offered & wanted less those whose
    prerequisite is missing (depends: (feature, needs) pairs), FEATURES_OK
    (read back). Returns the accepted features; VirtioError (status 4) when a
    required one is not offered or the device refuses the set."""
    t.reset()
    t.add_status(S_ACKNOWLEDGE)
    t.add_status(S_DRIVER)
    offered = t.device_features()
    missing = required & ~offered
    if missing:
        t.add_status(S_FAILED)
        raise VirtioError("%r does not offer required features 0x%x (offers 0x%x)%s"
                          % (t, missing, offered,
                             ": it is a legacy device; use a modern one (virtio 1.x)"
                             if missing & F_VERSION_1 else ""))
    accepted = offered & wanted
    for feature, needs in depends:
        if accepted & feature and not accepted & needs:
            accepted &= ~feature
    t.set_driver_features(accepted)
    t.add_status(S_FEATURES_OK)
    if not t.status() & S_FEATURES_OK:
        t.add_status(S_FAILED)
        raise VirtioError("%r refused features 0x%x" % (t, accepted))
    return accepted
