# ethox_uk.stack.socket, SOCK_STREAM: MicroPython-style TCP sockets over two
# stacks on a NIC pair; blocking calls driven by a simulated clock whose idle
# hook polls both stacks.
import errno

import support
from support import counters_are
from ethox_uk.stack import socket
from ethox_uk.stack.layer.tcp import mux as tcp_mux
from ethox_uk.stack.layer.tcp.mux import RecvRing

A_ADDR = "10.0.2.15"
B_ADDR = "10.0.2.2"


def _net(**faults):
    return support.socket_net(**faults)


def _on(stack):
    """Make the next socket() on `stack` (same clock and idle hook)."""
    support.on(stack)


def _tcp(stack):
    _on(stack)
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def _pair(A, B, port=5000):
    """(client on A, server-side socket on B, listener on B), connected."""
    ls = _tcp(B)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("", port))
    ls.listen(2)
    c = _tcp(A)
    c.setblocking(False)
    e = support.raises(OSError, c.connect, (B_ADDR, port))
    assert e.args[0] == socket.EINPROGRESS
    s, addr = ls.accept()
    assert addr == (A_ADDR, c.getsockname()[1])
    c.setblocking(True)
    _settle(A, B)
    return c, s, ls


def _settle(A, B, ms=200):
    """Run both stacks for ms of simulated time (idle stretches are skipped)."""
    t = socket.current_stack().clock()
    end = t + ms
    while t < end:
        A.poll(t)
        B.poll(t)
        t += 1
        if not (A.nic.pending() or B.nic.pending()):
            w = -1
            for x in (A.next_timeout(t), B.next_timeout(t)):
                if x >= 0 and (w < 0 or x < w):
                    w = x
            t = end if w < 0 else min(end, t + w)
    socket.current_stack().clock.t = end


def _err(fn, *args):
    return support.raises(OSError, fn, *args).args[0]


def test_connect_accept_send_recv_close():
    A, B, clock = _net()
    c, s, ls = _pair(A, B)
    assert c.getpeername() == (B_ADDR, 5000) and s.getsockname() == (B_ADDR, 5000)
    assert s.getpeername() == c.getsockname()
    assert c.send(b"hello") == 5
    assert s.recv(100) == b"hello"
    s.sendall(b"world!")
    buf = bytearray(10)
    assert c.recv_into(buf) == 6 and buf[:6] == b"world!"
    c.close()
    assert s.recv(100) == b""  # the FIN: end of stream
    assert s.recv(100) == b""
    s.close()
    ls.close()
    _settle(A, B, 70000)  # TIME-WAIT (2 MSL = 60 s) ends
    assert not A.tcp.keys() and not B.tcp.keys()
    counters_are(A)
    counters_are(B)


def test_refused_and_unreachable():
    A, B, clock = _net()
    _tcp(B).close()  # B gets its TcpLayer: its RST answers
    c = _tcp(A)
    assert _err(c.connect, (B_ADDR, 81)) == socket.ECONNREFUSED
    assert _err(c.recv, 10) == socket.ECONNREFUSED
    c.close()
    c = _tcp(B)  # B has no gateway: off-link addresses are unreachable
    assert _err(c.connect, ("192.168.7.7", 80)) == errno.EHOSTUNREACH
    c.close()
    counters_are(B, tcp_no_listener=1)


def test_connect_timeout():
    A, B, clock = _net()
    c = _tcp(A)
    c.settimeout(2.0)
    t0 = clock.t
    assert _err(c.connect, ("10.0.2.99", 80)) == errno.ETIMEDOUT  # nobody answers ARP
    assert 2000 <= clock.t - t0 <= 2100
    assert not A.tcp.keys()  # the attempt was abandoned
    c.close()


def test_nonblocking_calls():
    A, B, clock = _net()
    c, s, ls = _pair(A, B)
    for x in (c, s, ls):
        x.setblocking(False)
    assert _err(s.recv, 10) == errno.EAGAIN
    assert _err(ls.accept) == errno.EAGAIN
    assert s.read() is None and s.readinto(bytearray(4)) is None and s.readline() is None
    # fill the path: B does not read, so A's ring fills and send gives EAGAIN
    sent = 0
    chunk = bytes(8192)
    for i in range(100):
        try:
            sent += c.send(chunk)
        except OSError as e:
            assert e.args[0] == errno.EAGAIN
            break
        _settle(A, B, 5)
    else:
        raise AssertionError("send never blocked")
    assert c.write(chunk) is None
    assert sent > 65536 + 60000  # A's ring and (nearly) B's
    got = 0
    while got < sent:
        try:
            got += len(s.recv(65536))
        except OSError as e:
            assert e.args[0] == errno.EAGAIN
            _settle(A, B, 5)
    assert got == sent
    counters_are(A, tcp_probes_sent=A.counters["tcp_probes_sent"])
    counters_are(B)


def test_recv_timeout_and_settimeout():
    A, B, clock = _net()
    c, s, ls = _pair(A, B)
    s.settimeout(0.3)
    assert s.gettimeout() == 0.3
    t0 = clock.t
    assert _err(s.recv, 10) == errno.ETIMEDOUT
    assert 300 <= clock.t - t0 <= 320
    ls.settimeout(0.1)
    assert _err(ls.accept) == errno.ETIMEDOUT
    assert _err(ls.settimeout, -1) == errno.EINVAL


def test_reset_gives_econnreset_then_epipe_free():
    A, B, clock = _net()
    c, s, ls = _pair(A, B)
    s.send(b"unread")
    _settle(A, B, 50)
    c.close()  # unread data: RST (as Linux does)
    assert _err(s.recv, 10) == socket.ECONNRESET
    assert _err(s.send, b"x") == socket.ECONNRESET
    assert s.ioctl(socket.MP_STREAM_POLL, socket.POLLIN) & (socket.POLLIN | socket.POLLERR |
                                                            socket.POLLHUP) == \
        socket.POLLIN | socket.POLLERR | socket.POLLHUP
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == socket.ECONNRESET
    s.close()
    counters_are(B, tcp_rst_rx=1)


def test_shutdown_write_half_close():
    A, B, clock = _net()
    c, s, ls = _pair(A, B)
    c.sendall(b"request")
    c.shutdown(socket.SHUT_WR)
    assert _err(c.send, b"more") == socket.EPIPE
    assert s.read() == b"request"  # blocking read(): to the end of the stream
    s.sendall(b"answer after the peer's FIN")
    s.close()
    assert c.read() == b"answer after the peer's FIN"
    c.close()
    assert _err(c.recv, 1) == errno.EBADF
    assert _err(c.shutdown, 9) == errno.EBADF


def test_socket_errors():
    A, B, clock = _net()
    s = _tcp(A)
    assert _err(s.send, b"x") == socket.ENOTCONN
    assert _err(s.recv, 1) == socket.ENOTCONN
    assert _err(s.getpeername) == socket.ENOTCONN
    assert _err(s.accept) == errno.EINVAL
    assert _err(s.shutdown, socket.SHUT_RD) == socket.ENOTCONN
    assert _err(s.bind, ("10.9.9.9", 80)) == errno.EINVAL  # not our address
    assert _err(s.bind, ("nonsense", 80)) == errno.EINVAL
    assert _err(s.connect, (B_ADDR, 0)) == errno.EINVAL
    s.bind(("", 6000))
    assert s.getsockname() == (A_ADDR, 6000)
    assert _err(s.bind, ("", 6001)) == errno.EINVAL  # bound already
    t = _tcp(A)
    assert _err(t.bind, ("", 6000)) == socket.EADDRINUSE
    s.listen()
    assert _err(s.connect, (B_ADDR, 80)) == socket.EISCONN
    s.close()
    t.bind(("", 6000))  # free again
    t.close()
    assert _err(t.send, b"x") == errno.EBADF
    assert t.ioctl(socket.MP_STREAM_POLL, socket.POLLIN) == socket.POLLNVAL
    c, srv, ls = _pair(A, B, 7000)
    assert _err(c.connect, (B_ADDR, 7000)) == socket.EISCONN
    assert _err(c.recv, -1) == errno.EINVAL
    assert _err(c.shutdown, 7) == errno.EINVAL


def test_connect_in_progress_then_already():
    A, B, clock = _net()
    ls = _tcp(B)
    ls.bind(("", 5001))
    ls.listen()
    c = _tcp(A)
    c.setblocking(False)
    assert _err(c.connect, (B_ADDR, 5001)) == socket.EINPROGRESS
    assert _err(c.connect, (B_ADDR, 5001)) == socket.EALREADY
    assert c.ioctl(socket.MP_STREAM_POLL, socket.POLLOUT) == 0
    _settle(A, B, 20)
    assert c.ioctl(socket.MP_STREAM_POLL, socket.POLLOUT | socket.POLLIN) == socket.POLLOUT
    assert ls.ioctl(socket.MP_STREAM_POLL, socket.POLLIN) == socket.POLLIN
    assert _err(c.connect, (B_ADDR, 5001)) == socket.EISCONN


def test_bulk_with_loss_and_slow_reader():
    A, B, clock = _net(loss=0.05, reorder=0.03)
    c, s, ls = _pair(A, B)
    data = bytes([(i * 7) & 255 for i in range(300000)])
    c.setblocking(False)
    got = bytearray()
    buf = bytearray(3000)
    off = 0
    s.setblocking(False)
    rounds = 0
    while len(got) < len(data):
        rounds += 1
        assert rounds < 200000
        if off < len(data):
            try:
                off += c.send(memoryview(data)[off:off + 20000])
            except OSError as e:
                assert e.args[0] == errno.EAGAIN
        if rounds % 3 == 0:  # a slow reader: the window closes and reopens
            n = s.readinto(buf)
            if n:
                got += buf[:n]
        _settle(A, B, 1)
    assert bytes(got) == data
    assert A.counters["internal_error"] == 0 and B.counters["internal_error"] == 0


def test_readline_and_makefile():
    A, B, clock = _net()
    c, s, ls = _pair(A, B)
    f = s.makefile("rwb")
    c.sendall(b"first line\nsecond")
    assert f.readline() == b"first line\n"
    c.sendall(b" half\nno newline at the end")
    assert f.readline() == b"second half\n"
    c.close()
    assert f.readline() == b"no newline at the end"
    assert f.readline() == b""


def test_nodelay_and_keepalive_options():
    A, B, clock = _net()
    c, s, ls = _pair(A, B)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    key = A.tcp.keys()[0]
    assert A.tcp.connection(key).nodelay
    c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    assert A.tcp.connection(key).ka_idle == socket.KEEPALIVE_IDLE_MS
    # accepted sockets inherit the listener's options
    ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c2 = _tcp(A)
    c2.setblocking(False)
    support.raises(OSError, c2.connect, (B_ADDR, 5000))
    s2, addr = ls.accept()
    assert s2.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    for k in B.tcp.keys():
        if B.tcp.four_tuple(k)[3] == addr[1]:
            assert B.tcp.connection(k).nodelay
    # Nagle off: small writes go out at once, one segment each
    before = A.counters["tcp_tx"]
    for i in range(5):
        c.send(b"x")
    assert A.counters["tcp_tx"] - before == 5


def test_closing_listener_resets_unaccepted():
    A, B, clock = _net()
    ls = _tcp(B)
    ls.bind(("", 5002))
    ls.listen(4)
    c = _tcp(A)
    c.setblocking(False)
    support.raises(OSError, c.connect, (B_ADDR, 5002))
    _settle(A, B, 20)
    c.send(b"data before accept")
    _settle(A, B, 20)
    ls.close()
    c.setblocking(True)
    assert _err(c.recv, 10) == socket.ECONNRESET
    c.close()
    c = _tcp(A)
    assert _err(c.connect, (B_ADDR, 5002)) == socket.ECONNREFUSED


def test_data_before_accept_is_kept():
    A, B, clock = _net()
    ls = _tcp(B)
    ls.bind(("", 5003))
    ls.listen()
    c = _tcp(A)
    c.setblocking(False)
    support.raises(OSError, c.connect, (B_ADDR, 5003))
    _settle(A, B, 20)
    c.send(b"early bytes")
    c.close()
    _settle(A, B, 50)
    s, addr = ls.accept()
    assert s.read() == b"early bytes"
    s.close()
    _settle(A, B, 100)
    assert not [k for k in B.tcp.keys() if B.tcp.state_name(k) != "TIME-WAIT"]


def test_backlog_is_bounded():
    A, B, clock = _net()
    ls = _tcp(B)
    ls.bind(("", 5004))
    ls.listen(1)
    cs = []
    for i in range(3):
        c = _tcp(A)
        c.setblocking(False)
        support.raises(OSError, c.connect, (B_ADDR, 5004))
        cs.append(c)
        _settle(A, B, 5)  # one at a time: ARP queues only a few frames
    _settle(A, B, 50)
    assert B.counters["tcp_backlog_full"] >= 1
    got = []
    ls.settimeout(10)
    for i in range(3):  # each accept makes room; retransmitted ACKs complete the rest
        s, addr = ls.accept()
        got.append(addr[1])
    assert sorted(got) == sorted([c.getsockname()[1] for c in cs])


def test_orphaned_connection_finishes_sending():
    A, B, clock = _net()
    c, s, ls = _pair(A, B)
    data = bytes(range(256)) * 600  # more than fits in flight at once
    c.setblocking(False)
    n = c.send(data)
    c.close()  # the rest of what was accepted still goes, then FIN
    got = s.read()
    assert got == data[:n]
    s.close()
    _settle(A, B, 70000)
    assert not A.tcp.keys()
    mux = A.tcp_mux()
    assert not mux.orphans and not mux.conns and len(mux._spare) >= 1


def test_orphan_times_out_when_the_peer_never_closes():
    A, B, clock = _net()
    c, s, ls = _pair(A, B)
    c.close()
    _settle(A, B, 100)
    key = A.tcp.keys()[0]
    assert A.tcp.state_name(key) == "FIN-WAIT-2"
    _settle(A, B, tcp_mux.TCP_ORPHAN_MS + 100)
    s.send(b"x")  # any segment lets the mux notice the deadline
    _settle(A, B, 100)
    assert not A.tcp.keys()
    # given up on by the socket layer (orphan deadline) or the TCP layer (FIN-WAIT-2
    # silence), whichever comes first: both are 60 s
    assert A.counters["tcp_aborted"] + A.counters["tcp_fin_wait2_timeouts"] == 1


def test_poll_readiness():
    A, B, clock = _net()
    c, s, ls = _pair(A, B)
    P = socket.MP_STREAM_POLL
    assert s.ioctl(P, socket.POLLIN | socket.POLLOUT) == socket.POLLOUT
    c.send(b"ping")
    _settle(A, B, 5)
    assert s.ioctl(P, socket.POLLIN | socket.POLLOUT) == socket.POLLIN | socket.POLLOUT
    assert s.readable() and s.writable()
    s.recv(10)
    c.close()
    _settle(A, B, 5)
    assert s.ioctl(P, socket.POLLIN) & socket.POLLIN  # the FIN is readable (b"")
    if support.MICROPYTHON:
        import select

        p = select.poll()
        p.register(s, select.POLLIN)
        r = p.poll(0)
        assert len(r) == 1 and r[0][1] & select.POLLIN


def test_many_connections_share_one_mux():
    A, B, clock = _net()
    ls = _tcp(B)
    ls.bind(("", 5005))
    ls.listen(8)
    cs = []
    for i in range(6):
        c = _tcp(A)
        c.setblocking(False)
        support.raises(OSError, c.connect, (B_ADDR, 5005))
        cs.append(c)
        _settle(A, B, 5)
    ss = [ls.accept()[0] for _ in range(6)]
    _settle(A, B, 20)
    for i in range(6):
        cs[i].send(b"%d" % i)
    _settle(A, B, 50)
    got = sorted([s.recv(10) for s in ss])
    assert got == [b"%d" % i for i in range(6)]
    for x in cs + ss:
        x.close()
    counters_are(A)
    counters_are(B)


def test_recv_ring_find_wraps():
    rb = RecvRing(16)
    rb.start(0)
    rb.receive(memoryview(b"abcdefghijkl"), 0, 12, 0)
    rb.skip(10)  # head at 10: "kl"
    rb.receive(memoryview(b"mn\nop"), 0, 5, 12)  # wraps around the end of the ring
    assert rb.count == 7 and rb.find(10) == 4 and rb.find(ord("k")) == 0
    assert rb.find(ord("p")) == 6 and rb.find(ord("z")) == -1
    assert rb.find(10, 3) == -1
    assert rb.read(5) == b"klmn\n"
