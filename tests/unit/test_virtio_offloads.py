# VirtioNet's offload paths against the simulated device (as QEMU offers them
# over tap): frames merged over several receive buffers and handed up whole
# (also across the arena's end), the receive header's checksum flags, TSO
# transmit from big buffers cut by the "host", and device misbehaviour counted.
from virtio import mmio, sim
from virtio.net import CHUNK, VirtioNet

from ethox_uk.stack.wire.checksum import csum

IRQ = 12


def machine(rx=256, tx=64, features=sim.TAP_FEATURES, **kw):
    bus, dev = sim.mmio_machine(irq=IRQ, features=features)
    nic = VirtioNet(mmio.find(bus, bus.cmdline_text), bus, rx_size=rx, tx_size=tx, **kw)
    return bus, dev, nic


def pattern(n, seed=0):
    return bytes([(seed + 7 * k) & 255 for k in range(n)])


def collect(nic):
    got = []

    def h(view, length):
        got.append((bytes(view[:length]), nic.rx_csum))
        return 0

    nic.receive(h, 1 << 20)
    return got


def test_a_merged_frame_arrives_whole_and_contiguous():
    bus, dev, nic = machine()
    big = pattern(60000, 3)
    assert dev.deliver(big, flags=sim.NEEDS_CSUM)
    assert dev.deliver(pattern(60, 1), flags=sim.DATA_VALID)
    got = collect(nic)
    assert got == [(big, sim.NEEDS_CSUM), (pattern(60, 1), sim.DATA_VALID)]
    assert nic.rx_merged == 1 and nic.rx_csum == 0
    # every buffer went back: the ring takes another 256 buffers' worth
    assert nic.rxq.avail_idx == (256 + 30 + 1) & 0xFFFF
    assert dev.errors == [] and nic.rx_bad == 0


def test_a_merged_frame_running_past_the_arena_end_is_made_contiguous():
    bus, dev, nic = machine(rx=16)
    for rnd in range(6):  # walk the ring round several times, wrapping often
        frames = [pattern(5000 + 997 * rnd, rnd), pattern(70, rnd + 1),
                  pattern(9000, rnd + 2)]
        for f in frames:
            assert dev.deliver(f)
        assert [g[0] for g in collect(nic)] == frames
    assert nic.rx_wraps >= 2
    assert nic.rx_merged == 12 and dev.errors == [] and dev.rx_stalls == 0


def test_a_frame_that_does_not_fit_waits_for_buffers():
    bus, dev, nic = machine(rx=16)
    assert not dev.deliver(pattern(40000))  # 16 x 2 KiB is less than the frame
    assert dev.rx_stalls == 1
    assert collect(nic) == []
    assert dev.deliver(pattern(20000))
    assert [g[0] for g in collect(nic)] == [pattern(20000)]


def test_big_frames_need_guest_tso4():
    bus, dev, nic = machine(gro=False)
    assert not dev.deliver(pattern(3000))
    assert dev.errors  # the device would never send it: the driver did not ask
    bus, dev, nic = machine(features=sim.DEFAULT_FEATURES)
    assert nic.tso_max == 0
    assert dev.deliver(pattern(1514))
    assert [g[0] for g in collect(nic)] == [pattern(1514)]


def test_a_broken_merged_header_costs_one_buffer_and_a_count():
    bus, dev, nic = machine(rx=16)
    assert dev.deliver(pattern(100))
    nic._arena[10] = 40  # num_buffers beyond any frame's
    assert collect(nic) == []
    assert nic.rx_bad == 1 and nic.rxq.avail_idx == 17
    assert dev.deliver(pattern(100, 5))
    assert [g[0] for g in collect(nic)] == [pattern(100, 5)]


def _tcp_frame(payload, seq=1000, flags=0x18):
    """Ethernet + IPv4 + TCP headers (20 bytes each) + payload; checksums left
    as the stack leaves them for TSO (IPv4 filled, TCP = pseudo-header sum)."""
    n = len(payload)
    f = bytearray(54 + n)
    f[12] = 8
    ip = 14
    f[ip] = 0x45
    tot = 40 + n
    f[ip + 2] = tot >> 8
    f[ip + 3] = tot & 255
    f[ip + 4] = 0x12
    f[ip + 5] = 0x34
    f[ip + 8] = 64
    f[ip + 9] = 6
    f[ip + 12:ip + 16] = bytes([10, 0, 2, 15])
    f[ip + 16:ip + 20] = bytes([10, 0, 2, 2])
    s = ~csum(f, ip, ip + 20, 0) & 0xFFFF
    f[ip + 10] = s >> 8
    f[ip + 11] = s & 255
    t = 34
    f[t] = 0x1F
    f[t + 1] = 0x90
    f[t + 3] = 80
    for k in range(4):
        f[t + 4 + k] = (seq >> (24 - 8 * k)) & 255
    f[t + 12] = 0x50
    f[t + 13] = flags
    f[t + 14] = 0xFF
    f[54:] = payload
    ps = ((10 << 8) | 0) + ((2 << 8) | 15) + ((10 << 8) | 0) + ((2 << 8) | 2) + 6 + 20 + n
    while ps >> 16:
        ps = (ps & 0xFFFF) + (ps >> 16)
    f[t + 16] = ps >> 8
    f[t + 17] = ps & 255
    return bytes(f)


def _valid_tcp(seg):
    ihl = (seg[14] & 15) << 2
    t = 14 + ihl
    ps = ((seg[26] << 8) | seg[27]) + ((seg[28] << 8) | seg[29]) + ((seg[30] << 8) | seg[31]) \
        + ((seg[32] << 8) | seg[33]) + 6 + len(seg) - t
    return csum(seg, 14, t, 0) == 0xFFFF and csum(seg, t, len(seg), ps) == 0xFFFF


def test_tso_sends_a_big_segment_the_host_cuts_into_mss_pieces():
    bus, dev, nic = machine()
    payload = pattern(10000, 9)
    f = _tcp_frame(payload)
    v = nic.tx_buffer(len(f))
    assert v is not None and len(v) >= len(f)
    v[:len(f)] = f
    nic.tx_offload(v, 34, 16, 1460, 54)
    nic.send(v, len(f))
    nic.flush()
    assert dev.bad_tx_headers == 0
    assert dev.sent_hdrs == [(1, 1, 54, 1460, 34, 16)]
    segs = dev.take_sent()
    assert len(segs) == 7  # 6 x 1460 + 1240
    data = b""
    for k, seg in enumerate(segs):
        assert _valid_tcp(seg)
        seq = int.from_bytes(seg[38:42], "big")
        assert seq == 1000 + 1460 * k
        assert (seg[47] & 0x08) == (0x08 if k == 6 else 0)  # PSH on the last piece only
        data += seg[54:]
    assert data == payload
    assert nic.tx_tso == 1
    nic.flush()  # reclaim: the big buffer is free again
    assert nic._nbfree == 16


def test_checksum_only_offload_and_a_plain_frame_next_to_it():
    bus, dev, nic = machine()
    f = _tcp_frame(pattern(500))
    v = nic.tx_buffer()
    v[:len(f)] = f
    nic.tx_offload(v, 34, 16, 0, 54)  # complete the checksum, no segmentation
    nic.send(v, len(f))
    w = nic.tx_buffer()
    w[:60] = pattern(60)
    nic.send(w, 60)
    nic.flush()
    out = dev.take_sent()
    assert _valid_tcp(out[0]) and out[0][54:] == pattern(500)
    assert out[1] == pattern(60) and dev.sent_hdrs[1][:2] == (0, 0)
    assert dev.bad_tx_headers == 0


def test_big_buffers_run_out_and_come_back_and_small_ones_still_serve():
    bus, dev, nic = machine(big_tx=2)
    dev.auto_tx = False
    a = nic.tx_buffer(30000)
    b = nic.tx_buffer(30000)
    assert a is not None and b is not None and nic.tx_buffer(30000) is None
    assert nic.tx_buffer() is not None  # small ones are a separate pool
    nic.release(a)
    assert nic.tx_buffer(30000) is a
    # without HOST_TSO4 there are no big buffers at all
    bus, dev, nic = machine(features=sim.DEFAULT_FEATURES)
    assert nic.tx_buffer(30000) is None and nic.tx_buffer() is not None


def test_offload_marks_are_refused_by_a_device_that_did_not_agree():
    bus, dev, nic = machine(features=sim.DEFAULT_FEATURES)
    f = _tcp_frame(pattern(100))
    v = nic.tx_buffer()
    v[:len(f)] = f
    nic.tx_offload(v, 34, 16, 0, 54)  # the stack would never: the device says so
    nic.send(v, len(f))
    nic.flush()
    assert dev.bad_tx_headers == 1


def test_chunks_are_laid_out_back_to_back():
    bus, dev, nic = machine(rx=8)
    base = bus.addressof(nic._arena)
    for d in range(8):
        assert nic.rxq.desc[4 * d] == base + d * CHUNK
        assert nic.rxq.desc[4 * d + 2] == CHUNK
        assert nic.rxq.avail[2 + d] == d
