# Regression tests for issue 16 (a TCP review against RFC 9293, 5681, 1122):
# each test shows one finding in simulated time and fails on the code before
# its fix. Item numbers are the issue's.
import tcp_support as T
from tcp_support import R, ACK
from ethox_uk.stack.wire import tcp as wtcp

M = 0xFFFFFFFF


def _tap(end, keep):
    """Record (and let through) every TCP segment `end` sends, as TcpReprs."""

    def f(view, length):
        if view[12] == 8 and view[13] == 0 and view[23] == 6:
            hl = (view[14] & 15) * 4
            total = (view[16] << 8) | view[17]
            keep.append(wtcp.TcpRepr.parse(bytes(view[14 + hl:14 + total]), bytes(view[26:30]),
                                           bytes(view[30:34])))
        return True

    end.filter = f


def _data(out):
    return [r for r in out if r.payload]


# -- item 2: window updates with a large window scale ----------------------------------
def _slow_reader_transfer(wscale, rbuf, size, chunk):
    """A sends `size` bytes to B, whose application reads `chunk` bytes a
    millisecond and tells TCP once it freed min(rbuf/2, 2 MSS) (as the socket
    layer does). Returns (bytes read, B's segments)."""
    n = T.Net(seed=4, tcp_b={"wscale": wscale, "rcv_window": rbuf})
    seen = []
    _tap(n.nb, seen)
    n.app_b.rbuf_size = rbuf
    t = T.Transfer(size)
    n.app_a.setup = t.attach
    n.app_b.setup = lambda ca: setattr(ca, "consume", False)
    n.b.tcp.listen(80)
    n.app_a.connect(0, T.B_IP, 80)
    got = 0
    buf = bytearray(chunk)
    told = rbuf // 2 if rbuf // 2 < 2920 else 2920
    while got < size and n.now < 20000:
        n.a.poll(n.now)
        n.b.poll(n.now)
        for k in n.b.tcp.keys():
            ca = n.app_b.get(k)
            if ca.rb.readable():
                got += ca.rb.readinto(buf, chunk)
                if ca.rb.window() - n.b.tcp.connection(k).rcv_space >= told:
                    o = n.b.tcp.raw(n.now).attach(k)
                    o.read(ca.rb)
                    o.write(ca.sb)
        n.now += 1
    assert n.errors() == 0
    return got, seen


def test_window_updates_with_wscale_14_move_the_edge():
    # with shift 14 the field can only say multiples of 16 KiB: an update
    # judged on the raw free space repeated the last ACK (70 duplicate ACKs)
    got, seen = _slow_reader_transfer(14, 20000, 262144, 1000)
    assert got == 262144
    pure = [r for r in seen if not r.payload and not r.flags & (wtcp.SYN | wtcp.FIN)]
    repeats = 0
    for i in range(1, len(pure)):
        if pure[i].ack == pure[i - 1].ack and pure[i].window == pure[i - 1].window:
            repeats += 1
    assert repeats == 0, repeats
    assert len(seen) <= 60, len(seen)  # 36 here; 106 before
