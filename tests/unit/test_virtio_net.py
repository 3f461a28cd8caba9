# VirtioNet's data path against the simulated device: RX/TX through the rings,
# in-place replies, EVENT_IDX suppression, batched kicks, ring and index
# wrap-around, no register access per packet, the idle path.
from support import raises

from virtio import mmio, sim
from virtio.net import VirtioNet

IRQ = 12


def machine(rx=256, tx=256, kick_tx_always=True, **kw):
    bus, dev = sim.mmio_machine(irq=IRQ, **kw)
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus, rx_size=rx, tx_size=tx,
                    kick_tx_always=kick_tx_always)
    return bus, dev, nic


def frame(i, n=60):
    return bytes([(i + k) & 255 for k in range(n)])


def collect(nic, budget=1 << 20):
    got = []

    def h(view, length):
        got.append(bytes(view[:length]))
        return 0

    nic.receive(h, budget)
    return got


def echo(view, length):
    view[0] ^= 0xFF  # "reply": change a byte, send the same length back
    return length


def test_receive_hands_frames_in_order_with_lengths():
    bus, dev, nic = machine()
    sizes = [60, 1514, 61, 200]
    for i in range(4):
        assert dev.deliver(frame(i, sizes[i]))
    got = collect(nic)
    assert got == [frame(i, sizes[i]) for i in range(4)]
    assert nic.rx_frames == 4
    assert collect(nic) == []


def test_the_view_is_a_full_buffer_and_receive_respects_the_budget():
    bus, dev, nic = machine()
    for i in range(10):
        dev.deliver(frame(i))
    seen = []

    def h(view, length):
        seen.append((len(view), view[0]))
        return 0

    assert nic.receive(h, 3) == 3
    assert nic.receive(h, 100) == 7
    assert seen[0][0] >= 2048
    assert [s[1] for s in seen] == list(range(10))


def test_no_register_access_per_packet():
    bus, dev, nic = machine()
    before = bus.accesses()
    for rnd in range(20):
        for i in range(8):
            dev.deliver(frame(i))
        nic.receive(echo, 32)
        nic.flush()
    # one transmit kick per round with output, nothing else
    assert bus.accesses() - before == 20
    assert nic.tx_kicks == 20 and dev.notifies[1] == 20
    assert len(dev.take_sent()) == 160
    assert nic.rx_kicks == 1  # only the one at start: buffers never ran out


def test_in_place_reply_goes_out_from_a_transmit_slot_and_the_ring_stays_full():
    bus, dev, nic = machine(rx_hdr_flags=0x02)  # the device marks RX headers DATA_VALID
    dev.auto_tx = False
    dev.deliver(frame(7, 100))
    seen = []

    def reply(view, length):
        seen.append(nic.rx_csum)
        view[0] = 0xAA
        return 64

    free = nic._nfree
    assert nic.receive(reply, 32) == 1
    assert seen == [2] and nic.rx_csum == 0  # the header's flags, only while handled
    assert nic._nfree == free - 1  # the reply took a transmit slot
    assert nic.rxq.avail_idx == 256 + 1  # ... and the receive buffer went straight back
    nic.flush()
    assert dev.process_tx() == 1
    out = dev.take_sent()
    assert out == [b"\xaa" + frame(7, 100)[1:64]]
    assert dev.bad_tx_headers == 0  # flags/gso cleared before transmit
    nic.flush()  # reclaim
    assert nic._nfree == free
    assert dev.rx_stalls == 0


def test_tx_buffers_batch_into_one_kick():
    bus, dev, nic = machine()
    for i in range(10):
        v = nic.tx_buffer()
        v[:60] = frame(i)
        nic.send(v, 60)
    assert dev.notifies[1] == 0  # nothing kicked before flush
    nic.flush()
    assert dev.notifies[1] == 1
    assert dev.take_sent() == [frame(i) for i in range(10)]
    nic.flush()  # nothing new: no kick
    assert dev.notifies[1] == 1
    assert nic._nfree == 256


def test_tx_pool_runs_dry_then_refills_after_completion():
    bus, dev, nic = machine(rx=8, tx=4)
    dev.auto_tx = False
    bufs = []
    while True:
        v = nic.tx_buffer()
        if v is None:
            break
        bufs.append(v)
    assert len(bufs) == 4
    for v in bufs:
        nic.send(v, 60)
    nic.flush()
    assert nic.tx_buffer() is None
    # an in-place reply finds no transmit room: dropped, counted, ring kept full
    dev.deliver(frame(1))
    assert nic.receive(echo, 32) == 1
    assert nic.tx_ring_full == 1
    assert dev.process_tx() == 4
    assert nic.tx_buffer() is not None  # reclaimed on demand


def test_release_gives_a_buffer_back_and_ignores_strangers():
    bus, dev, nic = machine(rx=8, tx=2)
    a = nic.tx_buffer()
    b = nic.tx_buffer()
    assert nic.tx_buffer() is None
    nic.release(a)
    nic.release(a)  # twice: no double free
    nic.release(memoryview(bytearray(2048)))
    assert nic._nfree == 1
    c = nic.tx_buffer()
    assert c is a
    nic.release(b)
    nic.release(c)
    assert nic._nfree == 2


def test_send_refuses_a_buffer_not_from_tx_buffer():
    bus, dev, nic = machine()
    v = nic.tx_buffer()
    nic.send(v, 60)
    raises(ValueError, nic.send, v, 60)  # already in flight


def test_event_idx_suppresses_interrupts_while_busy():
    bus, dev, nic = machine()
    for i in range(50):
        dev.deliver(frame(i))
        if i % 10 == 9:
            nic.receive(echo, 32)
            nic.flush()
    assert dev.interrupts == 0  # busy: polled, never interrupted
    assert bus.irq_pending() == 0
    # idle: arm, then one frame wakes us, exactly once
    assert nic.prepare_wait()
    acks = nic.irq_acks
    dev.deliver(frame(1))
    dev.deliver(frame(2))
    assert dev.interrupts == 1
    assert bus.irq_pending() == 1 << IRQ
    assert not nic.prepare_wait()  # frames are waiting: do not halt
    assert nic.irq_acks == acks + 1 and not dev.line  # the risen line is lowered
    assert len(collect(nic)) == 2
    for i in range(20):  # busy again: suppressed
        dev.deliver(frame(i))
        nic.receive(echo, 32)
        nic.flush()
    assert dev.interrupts == 1


def test_transmit_completions_never_interrupt():
    bus, dev, nic = machine()
    for i in range(600):  # more than two rings' worth
        v = nic.tx_buffer()
        nic.send(v, 60)
        if i % 50 == 49:
            nic.flush()
    nic.flush()
    assert dev.interrupts == 0
    assert len(dev.take_sent()) == 600


def test_the_line_is_acknowledged_before_the_next_wait():
    # (even when someone else consumed the runtime's pending bit: the ring moved)
    bus, dev, nic = machine()
    assert nic.prepare_wait()
    assert nic.irq_acks == 1  # the first wait lowers a line possibly left high
    dev.deliver(frame(1))
    assert dev.line and bus.pending
    collect(nic)
    assert nic.prepare_wait()  # sees the pending IRQ: acknowledges
    assert not dev.line and nic.irq_acks == 2
    dev.deliver(frame(2))  # a fresh edge: the next halt ends
    assert bus.irq_pending() == 1 << IRQ
    collect(nic)
    assert nic.prepare_wait()
    assert nic.irq_acks == 3
    assert nic.prepare_wait()  # nothing new: no register access
    assert nic.irq_acks == 3


def test_a_frame_racing_the_arming_is_seen():
    bus, dev, nic = machine()
    assert nic.prepare_wait()
    real = bus.mfence

    def racing_fence():
        real()
        dev.deliver(frame(9))  # arrives between arming and the re-check

    bus.mfence = racing_fence
    nic._mfence = racing_fence
    assert not nic.prepare_wait()
    bus.mfence = real
    nic._mfence = real
    assert collect(nic) == [frame(9)]


def test_receive_ring_wraps():
    bus, dev, nic = machine(rx=8, tx=8)
    n = 0
    for rnd in range(30):
        k = 1 + rnd % 7
        for i in range(k):
            assert dev.deliver(frame(n + i))
        got = collect(nic)
        assert got == [frame(n + i) for i in range(k)]
        n += k
    assert dev.rx_stalls == 0


def test_rx_kick_only_when_the_device_ran_out():
    bus, dev, nic = machine(rx=8, tx=8)
    for i in range(8):
        assert dev.deliver(frame(i))
    assert not dev.deliver(frame(8))  # ring empty: the device asks for a kick
    assert dev.rx_stalls == 1
    kicks = dev.notifies[0]
    assert len(collect(nic)) == 8
    assert dev.notifies[0] == kicks + 1
    assert dev.deliver(frame(9))
    collect(nic)
    assert dev.notifies[0] == kicks + 1  # not asked again: no kick


def jump_indexes(nic, dev, start):
    """Move every ring index (driver and device side) to `start` as if that many
    frames had passed: the 16-bit wrap then comes quickly. start is a multiple
    of the ring sizes, so the ring positions stay where they are."""
    rq, tq = nic.rxq, nic.txq
    dr, dt = dev.queues
    rq.avail_idx = (start + rq.size) & 0xFFFF
    rq.avail[1] = rq.avail_idx
    rq.notified_idx = rq.avail_idx
    rq.used[1] = start
    nic._rx_last = start
    dr.last_avail = start
    dr.used_idx = start
    tq.avail_idx = start
    tq.avail[1] = start
    tq.notified_idx = start
    tq.used[1] = start
    nic._tx_last = start
    dt.last_avail = start
    dt.used_idx = start
    rq.suppress(True)
    tq.suppress(True)


def test_16_bit_indexes_wrap_in_both_directions():
    bus, dev, nic = machine(rx=16, tx=16)
    jump_indexes(nic, dev, 0xFFF0)
    n = 0
    for rnd in range(12):
        for i in range(5):
            assert dev.deliver(frame(n + i))
        got = []

        def h(view, length):
            got.append(bytes(view[:length]))
            return length

        assert nic.receive(h, 32) == 5
        nic.flush()
        assert got == [frame(n + i) for i in range(5)]
        assert dev.take_sent() == got
        n += 5
    assert nic._rx_last < 0x100 and nic._tx_last < 0x100  # wrapped past 0xffff
    assert dev.interrupts == 0 and dev.rx_stalls == 0 and dev.errors == []
    assert nic._nfree == 16
    # the idle path across the wrap: arm, one interrupt
    assert nic.prepare_wait()
    dev.deliver(frame(1))
    assert dev.interrupts == 1


def test_kick_if_asked_mode_never_strands_a_frame():
    bus, dev, nic = machine(kick_tx_always=False)
    dev.auto_tx = False
    v = nic.tx_buffer()
    nic.send(v, 60)
    nic.flush()
    assert dev.notifies[1] == 1  # the device had asked (avail_event 0)
    v = nic.tx_buffer()
    nic.send(v, 60)
    nic.flush()
    assert dev.notifies[1] == 1  # busy device (it has not caught up): no second kick
    assert dev.process_tx() == 2  # ... it picks both up, then asks again
    v = nic.tx_buffer()
    nic.send(v, 60)
    nic.flush()
    assert dev.notifies[1] == 2
    assert dev.process_tx() == 1


def test_runt_used_entries_are_counted_not_handed_up():
    bus, dev, nic = machine()
    dev.deliver(b"")  # header only
    assert collect(nic) == []
    assert nic.rx_runts == 1


def test_wait_halts_through_the_bus_and_caps_without_irq():
    bus, dev, nic = machine()
    nic.wait(7)
    assert bus.halts == [7]
    dev.deliver(frame(1))
    nic.wait(7)  # a frame is waiting: no halt
    assert bus.halts == [7]
    bus, dev = sim.mmio_machine(words=False)  # scanned: no IRQ
    nic = VirtioNet(mmio.find(bus, ""), bus)
    assert nic.irq is None and nic.max_wait_ms == 10
    nic.wait(1000)
    nic.wait(-1)
    assert bus.halts == [10, 10]
    assert bus.enabled == 0


def test_stats_count_register_accesses():
    bus, dev, nic = machine()
    before = bus.accesses()
    for i in range(40):
        dev.deliver(frame(i))
    nic.receive(echo, 64)
    nic.flush()
    nic.prepare_wait()
    st = nic.stats()
    assert st["rx_frames"] == 40 and st["tx_frames"] == 40
    assert bus.accesses() - before == st["tx_kicks"] + st["irq_acks"] == 2


def test_a_handler_exception_loses_no_receive_buffer():
    bus, dev, nic = machine(rx=8, tx=8)
    for i in range(3):
        dev.deliver(frame(i))

    def boom(view, length):
        raise KeyboardInterrupt

    raises(KeyboardInterrupt, nic.receive, boom, 32)
    assert nic.rxq.avail_idx == (8 + 1) & 0xFFFF  # the frame's descriptor went back
    assert len(collect(nic)) == 2
    for rnd in range(5):  # the ring still holds all 8 buffers
        for i in range(8):
            assert dev.deliver(frame(i))
        assert len(collect(nic)) == 8


def test_without_event_idx_interrupts_are_off_while_busy_too():
    bus, dev, nic = machine(features=sim.F_VERSION_1 | sim.F_MAC)
    assert not nic.event_idx
    assert nic.prepare_wait()
    dev.deliver(frame(1))
    assert dev.interrupts == 1
    for i in range(20):
        nic.receive(echo, 32)
        nic.flush()
        dev.deliver(frame(i))
    assert dev.interrupts == 1  # after the wake-up, polled without interrupts
    assert len(collect(nic)) == 1
