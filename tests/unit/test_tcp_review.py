# Regression tests for issue 16 (a TCP review against RFC 9293, 5681, 1122):
# each test shows one finding in simulated time and fails on the code before
# its fix. Item numbers are the issue's.
import errno

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
            keep.append(wtcp.Repr.parse(bytes(view[14 + hl:14 + total]), bytes(view[26:30]),
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


# -- item 3: fast and partial-ACK retransmissions within SND.MAX and SND.WND ------------
def test_fast_retransmit_to_a_small_window_stays_within_what_was_sent():
    lo = T.Lone(tail_loss_probe=False)
    key, iss = lo.handshake(wnd=200)
    s0 = (iss + 1) & M
    lo.app.push(key, bytes(3000), 0)
    first = _data(lo.out())
    assert [len(r.payload) for r in first] == [200]
    for i in range(3):
        lo.send(R(40000, 80, 1001, s0, ACK, wnd=200), now=10 + i)
    re = _data(lo.out())
    assert len(re) == 1 and re[0].seq == s0 and len(re[0].payload) == 200, re
    c = lo.s.tcp.connection(key)
    assert c.snd_max == (s0 + 200) & M
    # its acknowledgment is an ordinary one (not an "ACK of unsent data")
    lo.send(R(40000, 80, 1001, s0 + 200, ACK, wnd=200), now=20)
    assert lo.s.counters["tcp_bad_ack"] == 0 and lo.s.counters["tcp_challenge_acks_sent"] == 0
    nxt = _data(lo.out())
    assert nxt and nxt[0].seq == (s0 + 200) & M and lo.s.counters["tcp_timeouts"] == 0


def test_partial_ack_retransmission_respects_a_shrunk_window():
    lo = T.Lone(iw10=False, tail_loss_probe=False)
    key, iss = lo.handshake(wnd=8760)
    s0 = (iss + 1) & M
    lo.app.push(key, bytes(1460 * 3), 0)
    assert len(_data(lo.out())) == 3
    for i in range(3):
        lo.send(R(40000, 80, 1001, s0, ACK, wnd=8760), now=10 + i)
    re = _data(lo.out())
    assert re[0].seq == s0 and len(re[0].payload) == 1460  # fast retransmit
    # a partial ACK with the window shrunk to 500 bytes: the next hole goes
    # out, but no further than the window reaches
    lo.send(R(40000, 80, 1001, s0 + 1460, ACK, wnd=500), now=20)
    re = _data(lo.out())
    assert re and re[0].seq == (s0 + 1460) & M and len(re[0].payload) == 500, re
    # a window shut entirely: nothing before the RTO (which probes it, item 1)
    lo.send(R(40000, 80, 1001, s0 + 1960, ACK, wnd=0), now=30)
    assert _data(lo.out()) == []
    assert lo.s.counters["internal_error"] == 0


def test_sack_recovery_retransmission_respects_a_shrunk_window():
    lo = T.Lone(tail_loss_probe=False)
    key, iss = lo.handshake(wnd=8760, sack_perm=True)
    s0 = (iss + 1) & M
    lo.app.push(key, bytes(1460 * 6), 0)
    assert len(_data(lo.out())) == 6
    # segments 0..3 lost, 4 and 5 arrived
    blk = [((s0 + 5840) & M, (s0 + 8760) & M)]
    for i in range(3):
        lo.send(R(40000, 80, 1001, s0, ACK, wnd=8760, sack=blk), now=10 + i)
    re = _data(lo.out())
    assert re and re[0].seq == s0 and lo.s.counters["tcp_fast_retrans_sent"] == 1
    # segment 0 acknowledged, the window shrunk to 500 bytes: the holes left
    # (one at 4380) lie beyond it
    lo.send(R(40000, 80, 1001, s0 + 1460, ACK, wnd=500, sack=blk), now=20)
    for r in _data(lo.out()):
        assert (r.seq + len(r.payload) - s0) & M <= 1960, r
    lo.send(R(40000, 80, 1001, s0 + 1460, ACK, wnd=500, sack=blk), now=21)
    for r in _data(lo.out()):
        assert (r.seq + len(r.payload) - s0) & M <= 1960, r
    assert lo.s.counters["internal_error"] == 0


# -- item 4: duplicate ACKs after a retransmission timeout -------------------------------
def test_duplicate_acks_after_an_rto_do_not_inflate_the_window():
    lo = T.Lone(tail_loss_probe=False)
    key, iss = lo.handshake()
    s0 = (iss + 1) & M
    lo.app.push(key, bytes(1460 * 20), 0)
    first = _data(lo.out())
    assert len(first) == 10  # RFC 6928's initial window
    top = (first[-1].seq + len(first[-1].payload)) & M
    lo.tick(1000)  # the RTO: one segment (the loss window, RFC 5681 §3.1)
    re = _data(lo.out())
    assert len(re) == 1 and re[0].seq == s0
    c = lo.s.tcp.connection(key)
    assert c.cwnd == c.mss
    extra = []
    for i in range(10):
        lo.send(R(40000, 80, 1001, s0, ACK), now=1010 + i)
        extra += _data(lo.out())
    # limited transmit (RFC 3042): two segments at most, and only new data;
    # each duplicate once added a segment (11 in flight on a 1-segment window)
    assert len(extra) <= 2, [(r.seq - s0) & M for r in extra]
    for r in extra:
        assert (r.seq - top) & M < 0x80000000, r  # at or beyond SND.MAX before the RTO
    assert lo.s.counters["internal_error"] == 0


# -- item 1: a window shut with data in flight ---------------------------------------------
def _shut_window_with_data_in_flight(**tcp_args):
    lo = T.Lone(**tcp_args)
    key, iss = lo.handshake()
    s0 = (iss + 1) & M
    lo.app.push(key, bytes(2920), 0)
    assert len(_data(lo.out())) == 2
    lo.send(R(40000, 80, 1001, s0 + 1460, ACK, wnd=0), now=10)  # 1460 of 2920, window 0
    assert lo.out() == []
    return lo, key, s0


def test_shut_window_with_data_in_flight_is_probed_while_the_peer_answers():
    lo, key, s0 = _shut_window_with_data_in_flight()
    probes = []
    t = 10
    while t < 900000:
        t += 100
        lo.tick(t)
        for r in lo.out():
            probes.append(t)
            # the peer answers every probe, its window still shut
            lo.send(R(40000, 80, 1001, s0 + 1460, ACK, wnd=0), now=t)
    # before: not one segment in 483 s, then the connection was aborted
    assert len(probes) >= 15, probes
    assert probes[0] <= 1200 and probes[1] - probes[0] >= 1000, probes
    gaps = [probes[i + 1] - probes[i] for i in range(len(probes) - 1)]
    assert max(gaps) <= 60000 + 200, gaps  # backed off up to the RTO's 60 s ceiling
    assert lo.s.tcp.state_name(key) == "ESTABLISHED"
    c = lo.s.counters
    assert c["tcp_aborted"] == 0 and c["tcp_fast_retrans_sent"] == 0 and c["tcp_probes_sent"] >= 15
    # the window opens: the 1460 bytes beyond the old edge go (again)
    lo.send(R(40000, 80, 1001, s0 + 1460, ACK, wnd=8000), now=t + 1)
    out = _data(lo.out())
    assert out and out[0].seq == (s0 + 1460) & M and len(out[0].payload) == 1460
    assert c["internal_error"] == 0


def test_shut_window_with_a_silent_peer_still_times_out():
    lo, key, s0 = _shut_window_with_data_in_flight(max_retries=4)
    probes = 0
    t = 10
    while t < 200000 and lo.s.tcp.state(key) != 0:
        t += 100
        lo.tick(t)
        probes += len(lo.out())
    assert lo.s.tcp.state(key) == 0 and lo.s.counters["tcp_aborted"] == 1
    assert probes == 4  # each RTO probed, no answer came


# -- item 9: RST in TIME-WAIT ---------------------------------------------------------------
def test_rst_does_not_end_time_wait():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.app.close(key, 0)
    lo.out()
    lo.send(R(40000, 80, 1001, iss + 2, ACK | T.FIN), now=10)
    assert lo.s.tcp.state_name(key) == "TIME-WAIT"
    lo.out()
    # an exact RST (SEG.SEQ = RCV.NXT) and an in-window one: both ignored
    # (RFC 1337), neither answered (no challenge ACK)
    lo.send(R(40000, 80, 1002, 0, T.RST, wnd=0), now=20)
    lo.send(R(40000, 80, 1500, 0, T.RST, wnd=0), now=30)
    lo.send(R(40000, 80, 1002, iss + 2, T.RST | ACK, wnd=0), now=40)
    assert lo.s.tcp.state_name(key) == "TIME-WAIT" and lo.out() == []
    assert lo.s.counters["tcp_time_wait_rst_ignored"] == 3
    # a retransmitted FIN is still acknowledged: the connection is there
    lo.send(R(40000, 80, 1001, iss + 2, ACK | T.FIN), now=50)
    out = lo.out()
    assert len(out) == 1 and out[0].flags == ACK and out[0].ack == 1002
    lo.tick(60050)  # 2 MSL after that FIN: over
    assert lo.s.tcp.state_name(key) == "CLOSED"
    assert lo.app.log[-1] == (T.io.CLOSED, key, "UserSignals()")


# -- item 6: unlisten + listen on the same port -----------------------------------------------
def test_unlisten_resets_half_open_connections():
    lo = T.Lone()
    tcp = lo.s.tcp
    tcp.listen(80)
    lo.send(R(40000, 80, 1000, 0, T.SYN, mss=1460))
    synack = lo.out()[-1]
    assert synack.flags == T.SYN | ACK and len(tcp.keys()) == 1
    tcp.unlisten(80)
    tcp.listen(80)
    rst = lo.out()
    assert len(rst) == 1 and rst[0].flags & T.RST and rst[0].seq == (synack.seq + 1) & M
    assert tcp.keys() == []  # no slot held
    # the peer's ACK finds no connection (RST), the new listener is not fooled
    lo.send(R(40000, 80, 1001, synack.seq + 1, ACK), now=10)
    assert lo.out()[-1].flags & T.RST and tcp.keys() == [] and tcp.accept(80) is None
    # a fresh handshake reaches the new listener's accept queue
    key, iss = lo.handshake(sport=40001)
    assert key is not None and lo.s.counters["internal_error"] == 0


def test_listen_twice_keeps_the_listener_and_its_half_open_connections():
    lo = T.Lone()
    tcp = lo.s.tcp
    tcp.listen(80, 4)
    lo.send(R(40000, 80, 1000, 0, T.SYN, mss=1460))
    synack = lo.out()[-1]
    tcp.listen(80, 8)
    lo.send(R(40000, 80, 1001, synack.seq + 1, ACK), now=10)
    assert tcp.accept(80) is not None and tcp.listeners[80].backlog == 8


def test_socket_relisten_does_not_strand_a_half_open_connection():
    import support
    from ethox_uk.stack import socket

    A, B, clock = T.sock_net()
    ls = T.sock_on(B)
    ls.bind(("", 5000))
    ls.listen(4)
    c = T.sock_on(A)
    c.setblocking(False)
    assert support.raises(OSError, c.connect, ("10.0.2.2", 5000)).args[0] == socket.EINPROGRESS
    for _ in range(20):  # ARP, then the SYN; stop once B's SYN-ACK left
        A.poll(clock.t)
        B.poll(clock.t)
        clock.t += 1
        if B.tcp.keys():
            break
    assert len(B.tcp.keys()) == 1
    ls.close()
    ls2 = T.sock_on(B)
    ls2.bind(("", 5000))
    ls2.listen(4)
    ls2.setblocking(False)
    T.run_both(A, B, clock, 3000)
    # before: the handshake completed onto the old listener, 128 KiB of rings
    # held by a connection no accept() would ever return
    assert B.tcp.keys() == []
    assert c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) in (socket.ECONNRESET,
                                                                  socket.ECONNREFUSED)
    assert support.raises(OSError, ls2.accept).args[0] == errno.EAGAIN
    c.close()
    ls2.close()
    assert A.counters["internal_error"] == 0 and B.counters["internal_error"] == 0


# -- item 7: the rings of closed sockets in TIME-WAIT --------------------------------------------
def test_closed_sockets_give_their_rings_back_at_time_wait():
    from ethox_uk.stack import socket

    A, B, clock = T.sock_net()
    ls = T.sock_on(B)
    ls.bind(("", 5000))
    ls.listen(8)
    clients = []
    for i in range(20):
        c = T.sock_on(A)
        c.connect(("10.0.2.2", 5000))
        s, _ = ls.accept()
        s.close()  # B closes first: its side goes through TIME-WAIT
        clients.append(c)
    T.run_both(A, B, clock, 500)
    for c in clients:
        assert c.recv(10) == b""  # B's FIN
        c.close()
    T.run_both(A, B, clock, 500)
    states = [B.tcp.state_name(k) for k in B.tcp.keys()]
    assert states == ["TIME-WAIT"] * 20, states
    mux = B.tcp_mux()
    held = [h for h in mux.conns.values() if getattr(h, "rb", None) is not None]
    # before: 20 x 128 KiB held for 2 MSL
    assert held == [] and mux.orphans == []
    from ethox_uk.stack.layer.tcp.mux import TCP_POOL

    assert len(mux._spare) <= TCP_POOL
    for k in B.tcp.keys():
        c = B.tcp.connection(k)
        assert c.sbuf is None and c.rbuf is None
    T.run_both(A, B, clock, 61000)  # TIME-WAIT ends quietly
    assert B.tcp.keys() == [] and mux.conns == {}
    ls.close()
    assert A.counters["internal_error"] == 0 and B.counters["internal_error"] == 0


# -- item 5: data after close() ---------------------------------------------------------------
def _closed_server_socket():
    return T.closed_server_socket()


def test_data_after_close_is_answered_with_a_reset():
    A, B, clock, c, ls, socket = _closed_server_socket()
    c.send(b"is anyone there?")  # the peer has not seen our FIN's meaning yet
    T.run_both(A, B, clock, 200)
    # before: acknowledged and thrown away, the sender none the wiser
    assert A.tcp.keys() == [] and A.counters["tcp_data_after_close"] == 1
    assert A.counters["tcp_aborts_sent"] == 1 and A.counters["tcp_rst_sent"] == 1
    assert c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == socket.ECONNRESET
    assert A.tcp_mux().orphans == [] or A.tcp_mux().orphans[0].gone
    c.close()
    ls.close()
    assert A.counters["internal_error"] == 0 and B.counters["internal_error"] == 0


def test_a_lingering_close_drops_late_data_without_cutting_the_response():
    # shutdown(SHUT_RD) then close() after an answer (an HTTP server refusing a request,
    # RFC 9112 §9.6): what the client still sends is dropped, not answered with a RST that
    # would throw away the answer before the client read it
    A, B, clock = T.sock_net(())
    ls = T.sock_on(A)
    ls.bind(("", 5000))
    ls.listen(2)
    c = T.sock_on(B)
    c.setblocking(False)
    try:
        c.connect(("10.0.2.15", 5000))
    except OSError:
        pass
    T.sock_on(A)
    s, _ = ls.accept()
    s.send(b"431 no thanks")
    s.shutdown(socket_mod().SHUT_RD)
    s.close()
    c.send(b"y" * 3000)  # the rest of a request the server will never read
    T.run_both(A, B, clock, 300)
    c.setblocking(True)
    assert c.recv(100) == b"431 no thanks"
    assert c.recv(100) == b""  # then the FIN, no reset
    assert A.counters["tcp_data_after_close"] == 0 and A.counters["tcp_aborts_sent"] == 0
    c.close()
    ls.close()


def socket_mod():
    from ethox_uk.stack import socket

    return socket


def test_a_fin_alone_after_close_ends_the_connection_cleanly():
    A, B, clock, c, ls, socket = _closed_server_socket()
    c.close()
    T.run_both(A, B, clock, 200)
    assert A.counters["tcp_data_after_close"] == 0 and A.counters["tcp_rst_sent"] == 0
    assert [A.tcp.state_name(k) for k in A.tcp.keys()] == ["TIME-WAIT"]
    ls.close()


# -- smaller findings ---------------------------------------------------------------------------
def test_abort_sends_its_rst_at_snd_max():
    lo = T.Lone(tail_loss_probe=False)
    key, iss = lo.handshake()
    s0 = (iss + 1) & M
    lo.app.push(key, bytes(1460 * 4), 0)
    assert len(_data(lo.out())) == 4
    lo.tick(1000)  # RTO: go back N, SND.NXT falls behind SND.MAX
    lo.out()
    c = lo.s.tcp.connection(key)
    assert c.snd_nxt != c.snd_max
    lo.s.tcp.abort(key, 1001)
    rst = lo.out()
    # the peer may hold everything up to SND.MAX: a RST at SND.NXT would lie
    # below its RCV.NXT and be dropped
    assert len(rst) == 1 and rst[0].flags & T.RST and rst[0].seq == (s0 + 4 * 1460) & M


def test_out_of_window_segments_do_not_keep_a_dead_peer_alive():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.s.tcp.set_keepalive(key, 10000, 1000, 3)
    t = 0
    probes = 0
    while t < 30000 and lo.s.tcp.state(key) != 0:
        t += 250
        # an off-path sender's junk: far outside the window, every 250 ms
        lo.send(R(40000, 80, 1001 + 200000, iss + 1, ACK, payload=b"junk"), now=t)
        lo.out()
        lo.tick(t)
        probes += len([r for r in lo.out() if r.seq == iss and not r.payload])
    # before: each junk segment reset the idle clock, so no probe ever went
    assert lo.s.tcp.state(key) == 0 and lo.s.counters["tcp_aborted"] == 1
    assert lo.s.counters["tcp_keepalives_sent"] == 3 and t <= 13500


def test_recv_of_nothing_never_waits():
    A, B, clock, c, ls, socket = T.closed_server_socket()
    c2 = T.sock_on(B)
    c2.connect(("10.0.2.15", 5000))
    s2, _ = ls.accept()
    s2.settimeout(5.0)
    t0 = clock.t
    assert s2.recv(0) == b"" and s2.recv_into(bytearray(0)) == 0
    assert clock.t - t0 < 10  # before: blocked until the 5 s timeout
    c2.send(b"x")
    T.run_both(A, B, clock, 50)
    assert s2.recv(0) == b"" and s2.recv(10) == b"x"
    c2.close()
    s2.close()
    ls.close()


def test_unknown_socket_options_are_refused():
    import support
    from ethox_uk.stack import socket

    A, B, clock = T.sock_net()
    s = T.sock_on(A)
    for level, opt in ((socket.SOL_SOCKET, 0x1001), (socket.IPPROTO_TCP, 2),
                       (socket.IPPROTO_IP, 1), (socket.SOL_SOCKET, socket.SO_ERROR)):
        e = support.raises(OSError, s.setsockopt, level, opt, 1)
        assert e.args[0] == socket.ENOPROTOOPT, (level, opt)
    assert support.raises(OSError, s.getsockopt, socket.SOL_SOCKET, 0x1001).args[0] == \
        socket.ENOPROTOOPT
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the known ones still work
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert support.raises(OSError, s.setsockopt, socket.SOL_SOCKET, socket.SO_LINGER,
                          b"\x01\x00").args[0] == errno.EINVAL
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    assert support.raises(OSError, u.setsockopt, socket.IPPROTO_TCP, socket.TCP_NODELAY,
                          1).args[0] == socket.ENOPROTOOPT
    u.close()
    s.close()


def test_so_linger_zero_closes_with_a_reset():
    from ethox_uk.stack import socket

    for value, reset in (((1, 0), True), (b"\x01\x00\x00\x00\x00\x00\x00\x00", True),
                         ((0, 0), False), ((1, 5), False)):
        A, B, clock = T.sock_net()
        ls = T.sock_on(A)
        ls.bind(("", 5000))
        ls.listen(2)
        c = T.sock_on(B)
        c.connect(("10.0.2.15", 5000))
        s, _ = ls.accept()
        s.send(b"unsent?")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, value)
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER)[0] == value[0]
        s.close()
        T.run_both(A, B, clock, 200)
        if reset:
            assert A.tcp.keys() == [] and A.counters["tcp_aborts_sent"] == 1
            assert c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == socket.ECONNRESET
        else:
            assert A.counters["tcp_aborts_sent"] == 0 and c.recv(20) == b"unsent?"
            assert c.recv(20) == b""  # the FIN after the data
        c.close()
        ls.close()
        assert A.counters["internal_error"] == 0


def test_a_tiny_mss_is_raised_and_counted():
    # a deliberate deviation from RFC 9293 MUST-16 (docs/TCP.md), now counted
    for mss, ts, want in ((1, None, 64), (63, None, 64), (64, None, 64), (70, 5, 64),
                          (536, None, 536)):
        lo = T.Lone()
        key, iss = lo.handshake(mss=mss, ts=ts)
        assert lo.s.tcp.connection(key).mss == want
        assert lo.s.counters["tcp_mss_raised"] == (1 if mss < 64 or mss - 12 * (ts is not None)
                                                   < 64 else 0), mss
        lo.app.push(key, bytes(200), 1)
        for r in lo.out():
            assert len(r.payload) <= want


def test_urgent_data_is_delivered_inline():
    # RFC 6093 §6: new applications should not use urgent data; we deliver it
    # inline, in sequence, and never signal the urgent pointer (docs/TCP.md)
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1001, iss + 1, ACK | wtcp.URG, payload=b"abc!def", urgent=4), now=1)
    lo.send(R(40000, 80, 1008, iss + 1, ACK | wtcp.URG, payload=b"gh", urgent=60000), now=2)
    lo.tick(100)
    assert bytes(lo.app.get(key).received) == b"abc!defgh"
    assert lo.out()[-1].ack == 1010
    assert lo.s.counters["internal_error"] == 0


# -- the SYN's window ------------------------------------------------------------------------------
def test_syn_ack_offers_the_receive_buffer_it_will_fill():
    win, sent, acked = T.syn_window_overrun()
    assert win == 4000 and sent == 4000 and acked == 4000
    # before (and under fault switch syn_window_default, test_faults.py): the
    # SYN-ACK offered 64 KiB and a peer sending 8000 bytes lost half of them


def test_services_offer_their_own_ring_in_the_syn_ack():
    from ethox_uk.stack import services

    for port, want in ((80, services.HTTP_RING), (7, 65535), (9, 65535), (19, 65535)):
        lo = T.Lone(app=None)
        lo.s.tcp = None
        services.serve_all(lo.s)
        lo.send(R(40000, port, 1000, 0, T.SYN, mss=1460))
        sa = lo.out()[-1]
        assert sa.flags == T.SYN | ACK and sa.window == want, (port, sa.window)


def test_no_tail_loss_probe_while_recovering_from_an_rto():
    # RFC 8985 §7.2: no PTO in loss recovery. After an RTO the loss window is
    # one segment; a probe 10 ms after the first ACK made it three (the
    # conformance check tcp_congestion.rto_loss_window saw them)
    lo = T.Lone()
    key, iss = lo.handshake()
    s0 = (iss + 1) & M
    lo.app.push(key, bytes(1460 * 20), 0)
    first = _data(lo.out())
    t = 0
    while lo.s.counters["tcp_timeouts"] == 0:
        t += 5
        lo.tick(t)
        lo.out()
    c = lo.s.tcp.connection(key)
    probes = lo.s.counters["tcp_tail_probes_sent"]
    lo.send(R(40000, 80, 1001, s0 + 1460, ACK), now=t + 1)  # the retransmission's ACK
    after = _data(lo.out())
    for dt in range(5, 400, 5):
        lo.tick(t + 1 + dt)
        after += _data(lo.out())
    assert len(after) <= 2, [((r.seq - s0) & M, len(r.payload)) for r in after]
    assert lo.s.counters["tcp_tail_probes_sent"] == probes and len(first) == 10
    assert c.cwnd <= 2 * c.mss
