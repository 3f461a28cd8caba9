# virtio-mmio transport against the simulated device (virtio/sim/):
# discovery, reset, feature negotiation (also refused), queue set-up, config.
from support import raises

from virtio import S_ACKNOWLEDGE, S_DRIVER, S_DRIVER_OK, S_FAILED, S_FEATURES_OK, VirtioError
from virtio import mmio, sim
from virtio.net import (F_CSUM, F_EVENT_IDX, F_GUEST_CSUM, F_GUEST_TSO4, F_HOST_TSO4, F_MAC,
                        F_MRG_RXBUF, F_STATUS, VirtioNet)

BASE7 = 0xFEB00E00


def test_boot_words_parse_size_base_irq():
    words = ("ip=10.0.2.15/24 virtio_mmio.device=512@0xfeb00e00:12 "
             "virtio_mmio.device=4K@0xfeb00c00:11 virtio_mmio.device=bad "
             "virtio_mmio.device=0x200@0xfeb00a00")
    assert mmio.boot_word_devices(words) == [
        (0xFEB00E00, 512, 12), (0xFEB00C00, 4096, 11), (0xFEB00A00, 512, None)]
    assert mmio.boot_word_devices("ip=1.2.3.4/24 gw=1.2.3.1") == []


def test_find_from_boot_words_takes_base_and_irq():
    bus, dev = sim.mmio_machine(slot=7, irq=12)
    t = mmio.find(bus, bus.cmdline_text)
    assert t.base == BASE7 and t.irq == 12
    assert bus.mmio_reads == 3  # magic, version, device id: no scan


def test_find_scans_the_slots_without_boot_words():
    bus, dev = sim.mmio_machine(slot=5, words=False)
    t = mmio.find(bus, bus.cmdline_text)
    assert t.base == 0xFEB00000 + 0x200 * 5
    assert t.irq is None  # a scanned slot: no interrupt we can use


def test_find_scans_24_slots_with_acpi():
    bus, dev = sim.mmio_machine(slot=23, slots=24, words=False)
    assert mmio.find(bus, "").base == 0xFEB02E00


def test_find_returns_none_without_a_net_device():
    bus, dev = sim.mmio_machine(words=False, device_id=2)  # a block device only
    assert mmio.find(bus, "") is None
    bus = sim.SimBus()  # nothing mapped at all (reads as 0)
    assert mmio.find(bus, "") is None


def test_find_refuses_the_legacy_interface_with_a_hint():
    bus, dev = sim.mmio_machine(version=1)
    e = raises(VirtioError, mmio.find, bus, bus.cmdline_text)
    assert "force-legacy=false" in str(e)
    assert e.status == 4


def test_negotiation_without_a_vnet_header_takes_no_offloads():
    bus, dev = sim.mmio_machine()  # what QEMU offers over dgram/stream/user
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus)
    assert nic.features == sim.F_VERSION_1 | F_MAC | F_STATUS | F_EVENT_IDX | F_MRG_RXBUF
    assert dev.drv_features == nic.features
    assert dev.status == S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK
    assert nic.event_idx
    assert not nic.tx_csum and nic.tso_max == 0
    assert dev.errors == []


def test_negotiation_over_tap_takes_checksum_and_segmentation_offloads():
    bus, dev = sim.mmio_machine(features=sim.TAP_FEATURES)
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus)
    assert nic.features == sim.TAP_FEATURES
    assert nic.tx_csum and nic.tso_max == 65535
    assert nic.offloads() == ["csum", "guest_csum", "host_tso4", "guest_tso4", "mrg_rxbuf",
                              "event_idx"]
    # the offloads can be declined, and GRO alone
    bus, dev = sim.mmio_machine(features=sim.TAP_FEATURES)
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus, offloads=False)
    assert not nic.features & (F_CSUM | F_GUEST_CSUM | F_HOST_TSO4 | F_GUEST_TSO4)
    bus, dev = sim.mmio_machine(features=sim.TAP_FEATURES)
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus, gro=False)
    assert nic.features & F_HOST_TSO4 and not nic.features & F_GUEST_TSO4


def test_offloads_whose_prerequisite_is_missing_are_not_taken():
    # checksum offload only: no segmentation without it either way
    bus, dev = sim.mmio_machine(features=sim.DEFAULT_FEATURES | F_CSUM | F_GUEST_CSUM)
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus)
    assert nic.tx_csum and nic.tso_max == 0
    # TSO offered without its checksum offloads (against the spec): refused
    bus, dev = sim.mmio_machine(features=sim.DEFAULT_FEATURES | F_HOST_TSO4 | F_GUEST_TSO4)
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus)
    assert not nic.features & (F_HOST_TSO4 | F_GUEST_TSO4) and nic.tso_max == 0
    # GRO without mergeable buffers would need 64 KiB receive buffers: refused
    bus, dev = sim.mmio_machine(features=sim.TAP_FEATURES & ~F_MRG_RXBUF)
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus)
    assert not nic.features & F_GUEST_TSO4 and nic.features & F_HOST_TSO4
    assert dev.status & S_DRIVER_OK and dev.errors == []


def test_a_fresh_device_is_not_reset_again_but_a_used_one_is():
    bus, dev = sim.mmio_machine()
    t = mmio.find(bus, bus.cmdline_text)
    VirtioNet(t, bus)
    assert dev.resets == 1  # the device's own power-on reset
    VirtioNet(t, bus)  # a second start (soft reboot): the device is reset first
    assert dev.resets == 2
    assert dev.status & S_DRIVER_OK


def test_refused_features_fail_with_status_4():
    bus, dev = sim.mmio_machine(refuse=True)
    t = mmio.find(bus, bus.cmdline_text)
    e = raises(VirtioError, VirtioNet, t, bus)
    assert e.status == 4 and "refused" in str(e)
    assert dev.status & S_FAILED
    assert not dev.status & S_DRIVER_OK


def test_a_device_without_version_1_is_refused():
    bus, dev = sim.mmio_machine(features=F_MAC | F_STATUS)
    t = mmio.find(bus, bus.cmdline_text)
    e = raises(VirtioError, VirtioNet, t, bus)
    assert "legacy" in str(e)
    assert dev.status & S_FAILED


def test_without_event_idx_the_ring_flags_are_used():
    bus, dev = sim.mmio_machine(features=sim.F_VERSION_1 | F_MAC)
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus)
    assert not nic.event_idx
    assert nic.rxq.avail[0] == 1 and nic.txq.avail[0] == 1  # NO_INTERRUPT
    assert nic.link_up  # no STATUS feature: assumed up


def test_queue_setup_registers_the_rings():
    bus, dev = sim.mmio_machine()
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus)
    for i, q, size in ((0, nic.rxq, 256), (1, nic.txq, 128)):
        sq = dev.queues[i]
        assert sq.ready == 1 and sq.num == size
        assert sq.desc == q.desc_addr and sq.driver == q.avail_addr
        assert sq.device == q.used_addr
    assert nic.rxq.avail[1] == 256  # every receive descriptor is posted
    assert dev.notifies == [1, 0]  # ... and announced once


def test_queue_size_follows_the_device_maximum():
    bus, dev = sim.mmio_machine(queue_max=64)
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus)
    assert nic.rxq.size == 64 and nic.txq.size == 64
    bus, dev = sim.mmio_machine(queue_max=0)
    e = raises(VirtioError, VirtioNet, mmio.find(bus, bus.cmdline_text), bus)
    assert "not available" in str(e)
    assert dev.status & S_FAILED


def test_mac_and_link_come_from_config_space():
    bus, dev = sim.mmio_machine(mac=b"\x02\x00\x00\xaa\xbb\xcc", link=False)
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus)
    assert nic.hw_mac == b"\x02\x00\x00\xaa\xbb\xcc"
    assert not nic.link_up


def test_close_resets_the_device():
    bus, dev = sim.mmio_machine()
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus)
    nic.close()
    assert dev.status == 0
    assert not bus.enabled & (1 << 12)
