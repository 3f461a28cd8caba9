# virtio-pci (modern) transport against the simulated q35-like bus: enumeration
# through the configuration ports, capabilities, BARs, the INTx line, and the
# same queue code moving frames.
from support import raises

from virtio import S_DRIVER_OK, VirtioError, pci, sim
from virtio.net import VirtioNet


def frame(i, n=60):
    return bytes([(i + k) & 255 for k in range(n)])


def echo(view, length):
    return length


def test_find_walks_bus_0_and_maps_the_capabilities():
    bus, dev, host, fn = sim.pci_machine(slot=4)
    t = pci.find(bus)
    assert t.where == "00:04.0"
    assert t.common == 0xFE000000 and t.isr == 0xFE001000
    assert t.device == 0xFE002000 and t.notify_base == 0xFE003000 and t.notify_mult == 4
    assert fn.command & 0x6 == 0x6  # memory decoding and bus mastering on
    assert t.irq == 11
    assert not host.elcr[1] & (1 << 3)  # its line is edge-triggered now
    assert bus.mmio_reads == 0  # everything so far through configuration ports


def test_find_returns_none_on_an_empty_bus_and_without_pci():
    bus = sim.SimBus()
    sim.SimPciHost(bus)
    assert pci.find(bus) is None
    assert pci.find(sim.SimBus()) is None  # no host bridge: every read is all ones


def test_a_transitional_device_is_refused_with_a_hint():
    bus, dev, host, fn = sim.pci_machine(device_id=0x1000)
    e = raises(VirtioError, pci.find, bus)
    assert "disable-legacy=on" in str(e) and e.status == 4


def test_an_unassigned_bar_is_an_error():
    bus, dev, host, fn = sim.pci_machine(bar_assigned=False)
    e = raises(VirtioError, pci.find, bus)
    assert "BAR 4" in str(e)


def test_negotiation_queues_and_mac_over_pci():
    bus, dev, host, fn = sim.pci_machine(mac=b"\x52\x54\x00\x00\x00\x99")
    nic = VirtioNet(pci.find(bus), bus)
    assert dev.status & S_DRIVER_OK
    assert nic.hw_mac == b"\x52\x54\x00\x00\x00\x99"
    assert dev.queues[0].ready and dev.queues[1].ready
    assert nic._rx_kick == (0xFE003000, 0) and nic._tx_kick == (0xFE003004, 1)
    assert dev.errors == []


def test_frames_flow_through_the_same_rings_over_pci():
    bus, dev, host, fn = sim.pci_machine()
    nic = VirtioNet(pci.find(bus), bus)
    before = bus.accesses()
    for rnd in range(5):
        for i in range(6):
            dev.deliver(frame(i))
        assert nic.receive(echo, 32) == 6
        nic.flush()
    assert dev.take_sent() == [frame(i) for i in range(6)] * 5
    assert bus.accesses() - before == 5  # one notify per round
    assert dev.notifies == [1, 5]


def test_idle_wake_up_over_pci_reads_the_isr():
    bus, dev, host, fn = sim.pci_machine()
    nic = VirtioNet(pci.find(bus), bus)
    assert nic.prepare_wait()
    reads = bus.mmio_reads
    dev.deliver(frame(1))
    assert bus.irq_pending() == 1 << 11
    assert dev.line
    assert not nic.prepare_wait()
    assert not dev.line and bus.mmio_reads == reads + 1  # one ISR read lowered it
