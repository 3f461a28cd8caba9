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
#
# The package: bus.py (SimBus: memory, ports, MMIO windows, interrupts, clock),
# net.py (SimNet: the device model), mmio.py (SimMmio + mmio_machine), pci.py
# (SimPciHost, SimPci + pci_machine). Tests only: images leave virtio/sim/ out.
from .bus import BOOT_WORDS, PAGE, SimBus, SimExit  # noqa: F401
from .net import (DATA_VALID, DEFAULT_FEATURES, F_CSUM, F_EVENT_IDX, F_GUEST_CSUM,  # noqa: F401
                  F_GUEST_TSO4, F_HOST_TSO4, F_MAC, F_MRG_RXBUF, F_STATUS, F_VERSION_1,
                  GSO_TCPV4, HDR, MAX_PLAIN, NEEDS_CSUM, TAP_FEATURES, SimNet, SimQueue)
from .mmio import SimMmio, mmio_machine  # noqa: F401
from .pci import SimPci, SimPciHost, pci_machine  # noqa: F401
