# ethox_uk.stack.socket, SOCK_DGRAM: MicroPython-style sockets over two
# stacks on a NIC pair, blocking calls driven by a simulated clock.
import errno

import support
from support import counters_are
from ethox_uk.stack import socket

B_ADDR = "10.0.2.2"
A_ADDR = "10.0.2.15"


def _net():
    return support.socket_net()


def _udp(stack):
    support.on(stack)
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def test_constants_and_getaddrinfo():
    assert socket.AF_INET == 2 and socket.SOCK_STREAM == 1 and socket.SOCK_DGRAM == 2
    assert socket.SOL_SOCKET == 1 and socket.SO_REUSEADDR == 4
    assert socket.IPPROTO_TCP == 6 and socket.TCP_NODELAY == 1
    ai = socket.getaddrinfo("10.0.2.2", 80)
    assert ai == [(socket.AF_INET, socket.SOCK_STREAM, 0, "", ("10.0.2.2", 80))]
    ai = socket.getaddrinfo("192.168.1.1", 53, 0, socket.SOCK_DGRAM)
    assert ai[0][1] == socket.SOCK_DGRAM and ai[0][4] == ("192.168.1.1", 53)
    for bad in ("1.2.3", "1.2.3.256", "", "10.0.2.15.", None, "1::2::3"):
        assert support.raises(OSError, socket.getaddrinfo, bad, 80).args[0] == -2


def test_unsupported_family_or_type():
    A, B, clock = _net()
    # AF_INET6 on a stack without IPv6 (these run with ip6=off)
    e = support.raises(OSError, socket.socket, socket.AF_INET6, socket.SOCK_DGRAM)
    assert e.args[0] == socket.EAFNOSUPPORT == 97
    assert support.raises(OSError, socket.socket, 99, socket.SOCK_DGRAM).args[0] == errno.EOPNOTSUPP
    assert support.raises(OSError, socket.socket, socket.AF_INET, 99).args[0] == errno.EOPNOTSUPP


def test_echo_between_two_stacks():
    A, B, clock = _net()
    sb = _udp(B)
    sb.bind(("", 7))
    sa = _udp(A)
    assert sa.sendto(b"hello", (B_ADDR, 7)) == 5
    data, addr = sb.recvfrom(1500)
    assert data == b"hello" and addr[0] == A_ADDR and 49152 <= addr[1] <= 65535
    assert addr == (A_ADDR, sa.getsockname()[1])
    assert sb.sendto(data.upper(), addr) == 5
    assert sa.recvfrom(1500) == (b"HELLO", (B_ADDR, 7))
    sa.close()
    sb.close()
    counters_are(A, udp_tx=1, udp_rx=1)
    counters_are(B, udp_tx=1, udp_rx=1)


def test_nonblocking_and_timeout():
    A, B, clock = _net()
    s = _udp(A)
    s.bind(("0.0.0.0", 5000))
    s.setblocking(False)
    assert support.raises(OSError, s.recvfrom, 100).args[0] == errno.EAGAIN
    assert support.raises(OSError, s.recv, 100).args[0] == errno.EAGAIN
    s.settimeout(0.5)
    assert s.gettimeout() == 0.5
    t0 = clock.t
    assert support.raises(OSError, s.recv, 100).args[0] == errno.ETIMEDOUT
    assert 500 <= clock.t - t0 <= 510
    s.settimeout(None)
    assert s.gettimeout() is None
    assert support.raises(OSError, s.settimeout, -1).args[0] == errno.EINVAL
    s.close()


def test_bind_errors_and_closed_socket():
    A, B, clock = _net()
    s1 = _udp(A)
    s1.bind(("", 6000))
    s2 = _udp(A)
    assert support.raises(OSError, s2.bind, ("", 6000)).args[0] == errno.EADDRINUSE
    assert support.raises(OSError, s1.bind, ("", 6001)).args[0] == errno.EINVAL  # bound already
    assert support.raises(OSError, s2.bind, ("10.9.9.9", 6001)).args[0] == errno.EINVAL
    assert support.raises(OSError, s2.bind, ("x", 6001)).args[0] == errno.EINVAL
    assert support.raises(OSError, s2.recv, 10).args[0] == errno.EINVAL  # never bound
    s2.bind((A_ADDR, 6001))
    s1.close()
    s1.close()  # twice is fine
    for call, args in ((s1.recvfrom, (10,)), (s1.sendto, (b"x", (B_ADDR, 7))),
                       (s1.bind, (("", 1),)), (s1.send, (b"x",))):
        assert support.raises(OSError, call, *args).args[0] == errno.EBADF
    s3 = _udp(A)
    s3.bind(("", 6000))  # the closed socket's port is free again
    s2.close()
    s3.close()


def test_connect_send_recv_and_peer_filter():
    A, B, clock = _net()
    sb = _udp(B)
    sb.bind(("", 9000))
    other = _udp(B)
    other.bind(("", 9001))
    sa = _udp(A)
    assert support.raises(OSError, sa.send, b"x").args[0] == errno.ENOTCONN
    sa.connect((B_ADDR, 9000))
    assert sa.send(b"ping") == 4
    data, addr = sb.recvfrom(100)
    assert data == b"ping"
    other.sendto(b"intruder", addr)  # from the right host, wrong port: filtered
    sb.sendto(b"pong", addr)
    assert sa.recv(100) == b"pong"
    sa.setblocking(False)
    assert support.raises(OSError, sa.recv, 100).args[0] == errno.EAGAIN
    counters_are(A, udp_rx=2, udp_tx=1, udp_no_listener=1)
    for s in (sa, sb, other):
        s.close()


def test_receive_ring_full_and_large_datagrams():
    A, B, clock = _net()
    sb = _udp(B)
    sb.bind(("", 7000))
    sa = _udp(A)
    for i in range(9):
        sa.sendto(bytes([i]) * 100, (B_ADDR, 7000))
        support.run_both(A, B, clock.t, clock.t + 3)
    counters_are(B, udp_rx=9, udp_socket_full=1)
    for i in range(8):
        assert sb.recv(1500) == bytes([i]) * 100
    # 3000 bytes take two slots: four of them fill the ring
    big = bytes([i & 255 for i in range(3000)])
    for i in range(5):
        sa.sendto(big, (B_ADDR, 7000))
        support.run_both(A, B, clock.t, clock.t + 3)
    counters_are(B, udp_rx=14, udp_socket_full=2, ipv4_reassembled=5)
    for i in range(4):
        assert sb.recvfrom(4000)[0] == big
    sa.sendto(big, (B_ADDR, 7000))
    assert sb.recv(10) == big[:10]  # truncated to the buffer: the rest is dropped
    sa.sendto(bytes(5000), (B_ADDR, 7000))
    assert sb.recv(8000) == bytes(5000)
    sa.close()
    sb.close()


def test_recv_into_and_stream_aliases():
    A, B, clock = _net()
    sb = _udp(B)
    sb.bind(("", 7001))
    sa = _udp(A)
    sa.connect((B_ADDR, 7001))
    sa.write(b"0123456789")
    buf = bytearray(20)
    assert sb.recv_into(buf) == 10 and bytes(buf[:10]) == b"0123456789"
    sa.send(b"abcdef")
    mv = memoryview(buf)
    assert sb.readinto(mv, 4) == 4 and bytes(buf[:4]) == b"abcd"
    sa.send(b"xyz")
    assert sb.read(100) == b"xyz"
    sa.close()
    sb.close()


def test_readiness_and_ioctl_poll():
    A, B, clock = _net()
    sb = _udp(B)
    sb.bind(("", 7002))
    rw = socket.POLLIN | socket.POLLOUT
    assert not sb.readable() and sb.writable()
    assert sb.ioctl(socket.MP_STREAM_POLL, rw) == socket.POLLOUT
    assert sb.ioctl(socket.MP_STREAM_POLL, socket.POLLIN) == 0
    sa = _udp(A)
    sa.sendto(b"x", (B_ADDR, 7002))
    support.run_both(A, B, clock.t, clock.t + 3)
    assert sb.readable()
    assert sb.ioctl(socket.MP_STREAM_POLL, rw) == rw
    assert sb.ioctl(99, 0) == -errno.EINVAL
    sb.recv(10)
    assert sb.ioctl(socket.MP_STREAM_POLL, rw) == socket.POLLOUT
    assert sb.ioctl(socket.MP_STREAM_CLOSE, 0) == 0
    assert sb.ioctl(socket.MP_STREAM_POLL, rw) == socket.POLLNVAL
    sa.close()


def test_select_poll_under_micropython():
    if not support.MICROPYTHON:
        return  # CPython's select needs a file descriptor: host mode adapts there
    import select

    A, B, clock = _net()
    sb = _udp(B)
    sb.bind(("", 7003))
    p = select.poll()
    p.register(sb, select.POLLIN)
    assert p.poll(0) == []
    sa = _udp(A)
    sa.sendto(b"x", (B_ADDR, 7003))
    support.run_both(A, B, clock.t, clock.t + 3)
    ev = p.poll(0)
    assert len(ev) == 1 and ev[0][0] is sb and ev[0][1] & select.POLLIN
    sa.close()
    sb.close()


def test_send_errors():
    A, B, clock = _net()
    sa = _udp(A)
    assert support.raises(OSError, sa.sendto, b"x", (B_ADDR, 0)).args[0] == errno.EINVAL
    assert support.raises(OSError, sa.sendto, b"x" * 9000, (B_ADDR, 9)).args[0] == errno.EINVAL
    assert support.raises(OSError, sa.sendto, b"x", ("127.0.0.1", 9)).args[0] == errno.EHOSTUNREACH
    assert support.raises(OSError, sa.sendto, b"x", ("10.0.2.2",)).args[0] == errno.EINVAL
    # B has no gateway: off-link is unreachable
    sb = _udp(B)
    assert support.raises(OSError, sb.sendto, b"x", ("8.8.8.8", 53)).args[0] == errno.EHOSTUNREACH
    # no transmit buffer: EAGAIN when non-blocking, ETIMEDOUT after the timeout
    taken = []
    while True:
        t = A.nic.tx_buffer()
        if t is None:
            break
        taken.append(t)
    sa.setblocking(False)
    assert support.raises(OSError, sa.sendto, b"x", (B_ADDR, 9)).args[0] == errno.EAGAIN
    sa.settimeout(0.05)
    assert support.raises(OSError, sa.sendto, b"x", (B_ADDR, 9)).args[0] == errno.ETIMEDOUT
    for t in taken:
        A.nic.release(t)
    sa.setblocking(True)
    assert sa.sendto(b"x", (B_ADDR, 9)) == 1
    assert A.counters["tx_no_buffer"] > 0
    sa.close()
    sb.close()


def test_options_and_context_manager():
    A, B, clock = _net()
    with _udp(A) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1
        s.bind(("", 7100))
        assert A.udp.is_bound(7100)
    assert not A.udp.is_bound(7100)
    e = support.raises(OSError, s.setsockopt, socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    assert e.args[0] == errno.EBADF
