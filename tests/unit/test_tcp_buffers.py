# The ring buffers behind io.SendBuf / io.RecvBuf, and sequence arithmetic.
from ethox_uk.stack.layer.tcp.buffers import RingSendBuf, RingRecvBuf
from ethox_uk.stack.layer.tcp import seq


def test_seq_arithmetic_wraps():
    assert seq.add(0xFFFFFFFF, 2) == 1
    assert seq.diff(1, 0xFFFFFFFF) == 2 and seq.diff(0xFFFFFFFF, 1) == -2
    assert seq.lt(0xFFFFFFF0, 5) and seq.gt(5, 0xFFFFFFF0)
    assert seq.le(7, 7) and seq.ge(7, 7) and not seq.lt(7, 7)
    assert seq.in_window(2, 0xFFFFFFFF, 4) and not seq.in_window(3, 0xFFFFFFFF, 4)
    assert not seq.in_window(5, 5, 0)


def test_send_buf_fill_ack_and_wrap():
    sb = RingSendBuf(16)
    assert sb.write(b"abcdefghij") == 10
    sb.ack(0xFFFFFFFE)  # the first ack names the stream's first sequence number
    out = bytearray(20)
    sb.fill(out, 2, 4, 0xFFFFFFFE)
    assert bytes(out[2:6]) == b"abcd"
    sb.fill(out, 0, 3, 1)  # across the sequence-number wrap
    assert bytes(out[0:3]) == b"def"
    sb.ack(4)  # "abcdef" acknowledged
    assert sb.available() == 4
    assert sb.write(b"0123456789ABCDEF") == 12  # only 12 free; the ring wraps
    sb.fill(out, 0, 16, 4)
    assert bytes(out[0:16]) == b"ghij0123456789AB"
    sb.ack(4 + 14)
    sb.fill(out, 0, 2, 18)
    assert bytes(out[0:2]) == b"AB" and sb.available() == 2
    sb.ack(3)  # an old ack changes nothing
    assert sb.available() == 2
    sb.close()
    assert sb.fin and sb.write(b"x") == 0 and sb.free() == 0


def test_send_buf_partial_write_slice():
    sb = RingSendBuf(8)
    assert sb.write(b"0123456789", 2, 6) == 4
    sb.ack(100)
    out = bytearray(4)
    sb.fill(out, 0, 4, 100)
    assert bytes(out) == b"2345"


def test_recv_buf_in_order_and_read():
    rb = RingRecvBuf(16)
    rb.start(0xFFFFFFFC)
    rb.receive(memoryview(b"hello"), 0, 5, 0xFFFFFFFC)
    assert rb.ack() == 1 and rb.readable() == 5 and rb.window() == 11
    assert rb.peek(2) == b"he" and rb.readable() == 5
    assert rb.read(3) == b"hel"
    assert rb.find(ord("o")) == 1 and rb.find(ord("z")) == -1
    buf = bytearray(8)
    assert rb.readinto(buf) == 2 and bytes(buf[:2]) == b"lo"
    assert rb.window() == 16


def test_recv_buf_out_of_order_reassembly():
    rb = RingRecvBuf(32)
    rb.start(100)
    data = b"abcdefghijklmnopqrstuvwxyz"
    mv = memoryview(data)
    rb.receive(mv, 10, 5, 110)  # klmno, a gap before it
    assert rb.ack() == 100 and rb.readable() == 0
    rb.receive(mv, 20, 6, 120)  # uvwxyz
    rb.receive(mv, 5, 5, 105)  # fghij
    assert rb.ack() == 100
    rb.receive(mv, 0, 5, 100)  # fills the first gap: a..o contiguous
    assert rb.ack() == 115 and rb.read() == data[:15]
    rb.receive(mv, 12, 10, 112)  # overlaps old data and the next gap
    assert rb.ack() == 126 and rb.read() == data[15:]


def test_recv_buf_duplicates_and_window_edge():
    rb = RingRecvBuf(8)
    rb.start(0)
    mv = memoryview(b"0123456789")
    rb.receive(mv, 0, 10, 0)  # only 8 fit
    assert rb.ack() == 8 and rb.window() == 0
    rb.receive(mv, 8, 2, 8)  # no room
    assert rb.ack() == 8
    assert rb.read(4) == b"0123"
    rb.receive(mv, 0, 10, 0)  # the first 8 bytes are old: only "89" is new
    assert rb.ack() == 10 and rb.read() == b"456789"
    rb.receive(mv, 0, 0, 10)  # empty: nothing
    assert rb.ack() == 10


def test_recv_buf_range_limit():
    rb = RingRecvBuf(64, max_ranges=2)
    rb.start(0)
    mv = memoryview(bytes(range(64)))
    rb.receive(mv, 10, 2, 10)
    rb.receive(mv, 20, 2, 20)
    rb.receive(mv, 30, 2, 30)  # a third hole-separated range is not kept
    rb.receive(mv, 12, 8, 12)  # joins the first two ranges: room again
    rb.receive(mv, 30, 2, 30)
    rb.receive(mv, 0, 10, 0)
    assert rb.ack() == 22
    rb.receive(mv, 22, 8, 22)
    assert rb.ack() == 32 and rb.read() == bytes(range(32))


def test_recv_buf_random_against_model():
    x = 99
    for trial in range(40):
        cap = (64, 100, 256)[trial % 3]
        rb = RingRecvBuf(cap, max_ranges=1 + trial % 4)
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        start = x
        rb.start(start)
        total = 600
        data = bytes([(i * 7 + trial) & 255 for i in range(total)])
        mv = memoryview(data)
        got = bytearray()
        steps = 0
        while len(got) < total and steps < 20000:
            steps += 1
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            nxt = (rb.ack() - start) & 0xFFFFFFFF
            s = nxt + (x % 90) - 30
            if s < 0:
                s = 0
            if s > total - 1:
                s = total - 1
            ln = 1 + (x >> 8) % 40
            if ln > total - s:
                ln = total - s
            rb.receive(mv, s, ln, (start + s) & 0xFFFFFFFF)
            if (x >> 16) % 3 == 0:
                got += rb.read((x >> 4) % 50)
            assert (rb.ack() - start) & 0xFFFFFFFF == len(got) + rb.readable()
        got += rb.read()
        assert bytes(got) == data
