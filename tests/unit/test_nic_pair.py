# The in-memory NIC pair (ethox_uk/stack/nic/pair.py): delivery, in-place
# replies, buffer pools, overflow and seeded fault injection. Shared test:
# plain functions, runs under CPython (pytest) and MicroPython (tests/mprun.py).
from support import raises

from ethox_uk.stack.nic.base import BUF_SIZE
from ethox_uk.stack.nic.pair import XorShift, make_pair


def frame(i, n=60):
    f = bytearray(n)
    f[0] = 2  # a unicast destination
    f[12] = 0x08
    f[14] = i & 255
    f[15] = (i >> 8) & 255
    return bytes(f)


def send(nic, data):
    buf = nic.tx_buffer()
    assert buf is not None
    buf[0:len(data)] = data
    nic.send(buf, len(data))


def ids(frames):
    return [f[14] | f[15] << 8 for f in frames]


def test_frames_cross_in_order_with_their_lengths():
    a, b = make_pair()
    sent = [frame(i, 60 + i) for i in range(20)]
    for f in sent:
        send(a, f)
    assert b.pending() == 20
    assert b.frames() == sent
    assert b.pending() == 0 and a.sent == 20 and b.received == 20
    send(b, frame(7))
    assert a.frames() == [frame(7)]


def test_receive_lends_buffers_and_sends_in_place_replies():
    a, b = make_pair()
    b.inject(frame(1))
    b.inject(frame(2))
    seen = []

    def handler(view, length):
        assert len(view) >= BUF_SIZE
        seen.append(length)
        view[14] = 0xEE  # answer in place, shorter
        return 40 if view[15] == 0 else 0

    assert b.receive(handler, 8) == 2
    assert seen == [60, 60]
    got = a.frames()
    assert len(got) == 2 and [len(g) for g in got] == [40, 40]
    assert got[0][14] == 0xEE


def test_receive_respects_the_budget():
    a, b = make_pair()
    for i in range(5):
        send(a, frame(i))
    n = []
    assert b.receive(lambda v, length: n.append(v[14]) or 0, 2) == 2
    assert b.receive(lambda v, length: n.append(v[14]) or 0, 2) == 2
    assert b.receive(lambda v, length: n.append(v[14]) or 0, 2) == 1
    assert b.receive(lambda v, length: n.append(v[14]) or 0, 2) == 0
    assert n == [0, 1, 2, 3, 4]


def test_tx_buffers_are_a_fixed_pool():
    a, b = make_pair()
    bufs = []
    while True:
        x = a.tx_buffer()
        if x is None:
            break
        bufs.append(x)
    assert len(bufs) == 16
    a.send(bufs[0], 60)
    again = a.tx_buffer()
    assert again is bufs[0]
    assert a.tx_buffer() is None


def test_full_receive_ring_counts_overflow():
    a, b = make_pair(rx_slots=4)
    for i in range(7):
        send(a, frame(i))
    assert b.overflow == 3
    assert ids(b.frames()) == [0, 1, 2, 3]
    send(a, frame(9))  # slots are free again
    assert ids(b.frames()) == [9]


def test_xorshift_is_deterministic_and_nonzero():
    r = XorShift(1)
    first = [r.next() for _ in range(4)]
    r2 = XorShift(1)
    assert [r2.next() for _ in range(4)] == first
    assert XorShift(2).next() != first[0]
    for v in first:
        assert 0 < v <= 0xFFFFFFFF
    r3 = XorShift(0)
    for _ in range(100):
        assert 0 <= r3.below(10) < 10


def test_fault_rates_are_validated():
    raises(ValueError, make_pair, 1, 1.5)
    raises(ValueError, make_pair, 1, 0, -0.1)


def test_loss_all_and_about_half():
    a, b = make_pair(loss=1)
    for i in range(10):
        send(a, frame(i))
    assert b.frames() == []
    a, b = make_pair(seed=3, loss=0.5)
    n = 0
    for i in range(1000):
        send(a, frame(i))
        if i % 100 == 99:  # drain before the 256-slot ring fills
            n += len(b.frames())
    assert 400 < n < 600, n


def test_duplicate_delivers_twice():
    a, b = make_pair(duplicate=1)
    send(a, frame(1))
    send(a, frame(2))
    assert ids(b.frames()) == [1, 1, 2, 2]


def test_corrupt_flips_exactly_one_bit():
    a, b = make_pair(seed=5, corrupt=1)
    for i in range(20):
        f = frame(i)
        send(a, f)
        g = b.frames()[0]
        diff = 0
        for k in range(len(f)):
            x = f[k] ^ g[k]
            while x:
                diff += x & 1
                x >>= 1
        assert diff == 1


def test_reorder_swaps_and_flush_releases_the_held_frame():
    a, b = make_pair(reorder=1)
    for i in range(5):
        send(a, frame(i))
    assert ids(b.frames()) == [1, 0, 3, 2]  # frame 4 is held back
    a.flush()
    assert ids(b.frames()) == [4]


def test_same_seed_same_faults():
    outs = []
    for seed in (7, 7, 8):
        a, b = make_pair(seed=seed, loss=0.2, reorder=0.2, duplicate=0.2, corrupt=0.2)
        for i in range(200):
            send(a, frame(i))
        a.flush()
        outs.append(b.frames())
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]
