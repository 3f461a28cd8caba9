# RFC 9293 state transitions, one test per transition (or pair), driven with
# hand-made segments against one stack (Lone) or between two stacks (Net), on
# simulated time.
import tcp_support as T
from tcp_support import R, SYN, ACK, FIN, RST, PSH
from ethox_uk.stack.layer.tcp import io

M = 0xFFFFFFFF


def _st(lone, key):
    return lone.s.tcp.state_name(key)


def test_syn_to_closed_port_gets_rst_ack():
    lo = T.Lone()
    lo.send(R(40000, 81, 5000, 0, SYN, mss=1460))
    out = lo.out()
    assert len(out) == 1
    r = out[0]
    assert r.flags == RST | ACK and r.seq == 0 and r.ack == 5001
    assert (r.src_port, r.dst_port) == (81, 40000)
    assert lo.s.counters["tcp_no_listener"] == 1 and lo.s.counters["tcp_rst_sent"] == 1
    assert lo.app.kinds() == [io.STRAY]


def test_ack_to_closed_port_gets_rst_with_its_ack():
    lo = T.Lone()
    lo.send(R(40000, 81, 5000, 777, ACK, payload=b"xyz"))
    r = lo.out()[0]
    assert r.flags == RST and r.seq == 777
    lo.send(R(40000, 81, 5000, 0, FIN, payload=b"ab"))  # no ACK: ack = seq + len + FIN
    r = lo.out()[0]
    assert r.flags == RST | ACK and r.ack == 5003


def test_rst_to_closed_port_is_not_answered():
    lo = T.Lone()
    lo.send(R(40000, 81, 5000, 0, RST))
    assert lo.out() == []
    assert lo.s.counters["tcp_stray_rst"] == 1


def test_listen_syn_gets_synack_with_our_options_only():
    lo = T.Lone()
    lo.s.tcp.listen(80)
    lo.send(R(40000, 80, 9000, 0, SYN, mss=1200, wscale=3, sack_perm=True,
              timestamp=(1, 0)))
    out = lo.out()
    assert len(out) == 1
    sa = out[0]
    assert sa.flags == SYN | ACK and sa.ack == 9001
    assert sa.mss == 1460 and sa.wscale is not None
    # SACK and timestamps (RFC 2018, 7323) answered: TSecr echoes the SYN's TSval
    assert sa.sack_perm and sa.timestamp is not None and sa.timestamp[1] == 1
    # a layer without them never echoes what it lacks
    lo = T.Lone(timestamps=False, sack_permitted=False)
    lo.s.tcp.listen(80)
    lo.send(R(40000, 80, 9000, 0, SYN, mss=1200, wscale=3, sack_perm=True,
              timestamp=(1, 0)))
    sa = lo.out()[0]
    assert not sa.sack_perm and sa.timestamp is None


def test_syn_without_options_means_mss_536_and_no_window_scale():
    lo = T.Lone()
    key, iss = lo.handshake(mss=None, wscale=None)
    c = lo.s.tcp.connection(key)
    assert c.mss == 536 and c.snd_wscale == 0 and c.rcv_wscale == 0
    # data goes out in 536-byte segments
    lo.app.push(key, bytes(2000), 0)
    out = lo.out()
    assert out and max([len(r.payload) for r in out]) == 536


def test_synack_without_window_scale_when_syn_had_none():
    lo = T.Lone()
    lo.s.tcp.listen(80)
    lo.send(R(40000, 80, 9000, 0, SYN, mss=1460))
    assert lo.out()[0].wscale is None


def test_syn_received_to_established_on_ack():
    lo = T.Lone()
    key, iss = lo.handshake(port=80)
    assert _st(lo, key) == "ESTABLISHED"
    assert lo.app.log[-1] == (io.OPEN, key, "UserSignals(established)")
    assert lo.s.tcp.accept(80) is None  # accepted once


def test_duplicate_syn_in_syn_received_resends_synack():
    lo = T.Lone()
    lo.s.tcp.listen(80)
    lo.send(R(40000, 80, 9000, 0, SYN, mss=1460))
    first = lo.out()[0]
    lo.send(R(40000, 80, 9000, 0, SYN, mss=1460), now=50)
    again = lo.out()
    assert len(again) == 1 and again[0].flags == SYN | ACK and again[0].seq == first.seq


def test_syn_received_bad_ack_gets_rst_and_stays():
    lo = T.Lone()
    lo.s.tcp.listen(80)
    lo.send(R(40000, 80, 9000, 0, SYN, mss=1460))
    sa = lo.out()[0]
    key = lo.app.log[-1][1]
    lo.send(R(40000, 80, 9001, sa.seq + 50, ACK))
    r = lo.out()[0]
    assert r.flags == RST and r.seq == (sa.seq + 50) & M
    assert _st(lo, key) == "SYN-RECEIVED"
    lo.send(R(40000, 80, 9001, sa.seq + 1, ACK))
    assert _st(lo, key) == "ESTABLISHED"


def test_syn_received_rst_returns_to_listen_with_relisten():
    lo = T.Lone()
    lo.s.tcp.listen(80)
    lo.send(R(40000, 80, 9000, 0, SYN, mss=1460))
    lo.out()
    key = lo.app.log[-1][1]
    lo.send(R(40000, 80, 9001, 0, RST))
    assert _st(lo, key) == "CLOSED"
    assert lo.app.log[-1] == (io.CLOSED, key, "UserSignals(relisten)")
    # the listener still answers
    lo.send(R(40001, 80, 1, 0, SYN, mss=1460))
    assert lo.out()[0].flags == SYN | ACK


def test_synack_retransmission_backoff_then_relisten():
    lo = T.Lone()
    lo.s.tcp.listen(80)
    lo.send(R(40000, 80, 9000, 0, SYN, mss=1460))
    lo.out()
    key = lo.app.log[-1][1]
    times = []
    now = 0
    while now < 200000 and _st(lo, key) != "CLOSED":
        now += 100
        lo.tick(now)
        for r in lo.out():
            assert r.flags == SYN | ACK
            times.append(now)
    # RFC 6298: 1 s, then doubling
    assert times[:4] == [1000, 3000, 7000, 15000], times
    assert _st(lo, key) == "CLOSED"
    assert lo.app.log[-1] == (io.CLOSED, key, "UserSignals(relisten)")
    assert lo.s.counters["tcp_aborted"] == 1


def test_active_open_and_established():
    lo = T.Lone()
    key = lo.app.connect(0, T.B_IP, 8080)
    syn = lo.out()[0]
    assert syn.flags == SYN and syn.dst_port == 8080 and syn.mss == 1460
    assert syn.wscale is not None and 49152 <= syn.src_port <= 65535
    assert _st(lo, key) == "SYN-SENT"
    lo.send(R(8080, syn.src_port, 70000, syn.seq + 1, SYN | ACK, mss=1000, wscale=2))
    out = lo.out()
    assert _st(lo, key) == "ESTABLISHED"
    assert out[-1].flags == ACK and out[-1].ack == 70001 and out[-1].seq == syn.seq + 1
    c = lo.s.tcp.connection(key)
    assert c.mss == 1000 and c.snd_wscale == 2
    assert lo.app.log[-1] == (io.OPEN, key, "UserSignals(established)")


def test_active_open_refused_by_rst():
    lo = T.Lone()
    key = lo.app.connect(0, T.B_IP, 8080)
    syn = lo.out()[0]
    lo.send(R(8080, syn.src_port, 0, syn.seq + 1, RST | ACK))
    assert _st(lo, key) == "CLOSED"
    assert lo.app.log[-1] == (io.CLOSED, key, "UserSignals(reset)")
    assert lo.s.counters["tcp_rst_rx"] == 1


def test_syn_sent_ignores_rst_without_acceptable_ack():
    lo = T.Lone()
    key = lo.app.connect(0, T.B_IP, 8080)
    syn = lo.out()[0]
    lo.send(R(8080, syn.src_port, 0, 0, RST))
    lo.send(R(8080, syn.src_port, 0, syn.seq + 9, RST | ACK))
    assert _st(lo, key) == "SYN-SENT" and lo.out() == []
    assert lo.s.counters["tcp_rst_ignored"] == 2


def test_syn_sent_bad_ack_gets_rst():
    lo = T.Lone()
    key = lo.app.connect(0, T.B_IP, 8080)
    syn = lo.out()[0]
    lo.send(R(8080, syn.src_port, 70000, syn.seq + 5, SYN | ACK))
    r = lo.out()[0]
    assert r.flags == RST and r.seq == (syn.seq + 5) & M
    assert _st(lo, key) == "SYN-SENT"


def test_syn_retransmitted_then_timeout_resets():
    lo = T.Lone()
    key = lo.app.connect(0, T.B_IP, 8080)
    lo.out()
    sent = []
    now = 0
    while now < 400000 and _st(lo, key) != "CLOSED":
        now += 250
        lo.tick(now)
        sent += [now for r in lo.out() if r.flags == SYN]
    assert sent[:3] == [1000, 3000, 7000]
    assert lo.app.log[-1] == (io.CLOSED, key, "UserSignals(reset)")


def test_simultaneous_open():
    lo = T.Lone()
    key = lo.app.connect(0, T.B_IP, 5555, local_port=6666)
    syn = lo.out()[0]
    # the peer's own SYN crosses ours
    lo.send(R(5555, 6666, 300, 0, SYN, mss=1460, wscale=1))
    sa = lo.out()[0]
    assert _st(lo, key) == "SYN-RECEIVED"
    assert sa.flags == SYN | ACK and sa.seq == syn.seq and sa.ack == 301 and sa.wscale is not None
    # then the peer's SYN-ACK (answering our SYN) arrives
    lo.send(R(5555, 6666, 300, syn.seq + 1, SYN | ACK, mss=1460, wscale=1))
    assert _st(lo, key) == "ESTABLISHED"


def test_simultaneous_open_between_two_stacks():
    n = T.Net()
    ka = n.app_a.connect(0, T.B_IP, 7001, local_port=7000)
    kb = n.app_b.connect(0, T.A_IP, 7000, local_port=7001)
    assert n.run(lambda: n.a.tcp.state_name(ka) == "ESTABLISHED"
                 and n.b.tcp.state_name(kb) == "ESTABLISHED", 20000)
    n.app_a.push(ka, b"ping", n.now)
    assert n.run(lambda: bytes(n.app_b.get(kb).received) == b"ping", 5000)
    assert n.errors() == 0


def test_data_delayed_ack_and_every_second_segment():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1001, iss + 1, ACK | PSH, payload=b"a" * 100))
    assert lo.out() == []  # delayed
    lo.tick(39)
    assert lo.out() == []
    lo.tick(40)
    out = lo.out()
    assert len(out) == 1 and out[0].ack == 1101
    lo.send(R(40000, 80, 1101, iss + 1, ACK, payload=b"b" * 100), now=100)
    lo.send(R(40000, 80, 1201, iss + 1, ACK, payload=b"c" * 100), now=100)
    out = lo.out()
    assert len(out) == 1 and out[0].ack == 1301  # every second segment at once
    assert bytes(lo.app.get(key).received) == b"a" * 100 + b"b" * 100 + b"c" * 100


def test_out_of_order_data_is_reassembled_with_immediate_dup_acks():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1101, iss + 1, ACK, payload=b"B" * 100))
    out = lo.out()
    assert len(out) == 1 and out[0].ack == 1001  # duplicate ACK at once
    lo.send(R(40000, 80, 1001, iss + 1, ACK, payload=b"A" * 100))
    out = lo.out()
    assert len(out) == 1 and out[0].ack == 1201  # the hole filled: ACK at once
    assert bytes(lo.app.get(key).received) == b"A" * 100 + b"B" * 100


def test_peer_fin_half_close_then_we_close():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1001, iss + 1, ACK | FIN, payload=b"bye"))
    out = lo.out()
    assert out[-1].ack == 1005  # data and FIN acknowledged at once
    assert _st(lo, key) == "CLOSE-WAIT"
    assert lo.app.get(key).half_closed and bytes(lo.app.get(key).received) == b"bye"
    assert "half_closed" in lo.app.log[-1][2]
    # we may still send
    lo.app.push(key, b"more", 10)
    d = lo.out()[-1]
    assert d.payload == b"more" and d.seq == iss + 1
    lo.app.close(key, 20)
    f = lo.out()[-1]
    assert f.flags & FIN and f.seq == iss + 5
    assert _st(lo, key) == "LAST-ACK"
    lo.send(R(40000, 80, 1005, iss + 6, ACK), now=30)
    assert _st(lo, key) == "CLOSED"
    assert lo.app.log[-1][0] == io.CLOSED


def test_active_close_fin_wait_time_wait():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.app.close(key, 0)
    f = lo.out()[-1]
    assert f.flags == FIN | ACK and _st(lo, key) == "FIN-WAIT-1"
    lo.send(R(40000, 80, 1001, iss + 2, ACK), now=10)
    assert _st(lo, key) == "FIN-WAIT-2"
    lo.send(R(40000, 80, 1001, iss + 2, ACK | FIN), now=20)
    out = lo.out()
    assert out[-1].ack == 1002 and _st(lo, key) == "TIME-WAIT"
    # a retransmitted FIN is acknowledged again and restarts 2 MSL
    lo.send(R(40000, 80, 1001, iss + 2, ACK | FIN), now=30000)
    out = lo.out()
    assert len(out) == 1 and out[0].ack == 1002
    lo.tick(89999)
    assert _st(lo, key) == "TIME-WAIT"
    lo.tick(90000)
    assert _st(lo, key) == "CLOSED"
    assert lo.app.log[-1] == (io.CLOSED, key, "UserSignals()")


def test_fin_wait_1_to_time_wait_when_fin_and_ack_arrive_together():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.app.close(key, 0)
    lo.out()
    lo.send(R(40000, 80, 1001, iss + 2, ACK | FIN))
    assert _st(lo, key) == "TIME-WAIT"


def test_simultaneous_close_goes_through_closing():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.app.close(key, 0)
    lo.out()
    lo.send(R(40000, 80, 1001, iss + 1, ACK | FIN))  # the peer's FIN, ours not yet acked
    assert _st(lo, key) == "CLOSING"
    assert lo.out()[-1].ack == 1002
    lo.send(R(40000, 80, 1002, iss + 2, ACK))
    assert _st(lo, key) == "TIME-WAIT"


def test_simultaneous_close_between_two_stacks():
    n = T.Net()
    n.b.tcp.listen(80)
    ka = n.app_a.connect(0, T.B_IP, 80)
    assert n.run(lambda: n.b.tcp.accept(80) is not None, 5000)
    kb = n.b.tcp.keys()[0]
    n.run(None, 200)
    n.app_a.close(ka, n.now)  # both FINs leave before either arrives
    n.app_b.close(kb, n.now)
    assert n.a.tcp.state_name(ka) == "FIN-WAIT-1" and n.b.tcp.state_name(kb) == "FIN-WAIT-1"
    n.step()
    assert n.a.tcp.state_name(ka) == "CLOSING" or n.b.tcp.state_name(kb) == "CLOSING"
    assert n.run(lambda: n.a.tcp.state_name(ka) == "TIME-WAIT"
                 and n.b.tcp.state_name(kb) == "TIME-WAIT", 5000)
    assert n.run(lambda: not n.a.tcp.keys() and not n.b.tcp.keys(), 200000)


def test_fin_out_of_order_waits_for_the_data():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1011, iss + 1, ACK | FIN, payload=b"0123456789"))
    assert _st(lo, key) == "ESTABLISHED"
    assert lo.out()[-1].ack == 1001
    lo.send(R(40000, 80, 1001, iss + 1, ACK, payload=b"abcdefghij"))
    assert _st(lo, key) == "CLOSE-WAIT"
    assert lo.out()[-1].ack == 1022
    assert bytes(lo.app.get(key).received) == b"abcdefghij0123456789"


def test_time_wait_gives_way_to_a_new_syn():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.app.close(key, 0)
    lo.out()
    lo.send(R(40000, 80, 1001, iss + 2, ACK | FIN))
    assert _st(lo, key) == "TIME-WAIT"
    lo.out()
    lo.send(R(40000, 80, 50000, 0, SYN, mss=1460), now=100)
    sa = lo.out()
    assert sa[-1].flags == SYN | ACK and sa[-1].ack == 50001
    assert _st(lo, key) == "CLOSED"  # the old incarnation is gone


def test_established_reset_by_exact_rst():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1001, 0, RST))
    assert _st(lo, key) == "CLOSED"
    assert lo.app.log[-1] == (io.CLOSED, key, "UserSignals(reset)")


def test_established_rst_in_window_gets_challenge_ack():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1500, 0, RST))
    out = lo.out()
    assert len(out) == 1 and out[0].flags == ACK and out[0].ack == 1001
    assert _st(lo, key) == "ESTABLISHED"
    assert lo.s.counters["tcp_challenge_acks_sent"] == 1


def test_established_rst_outside_window_is_ignored():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1001 + 200000, 0, RST))
    lo.send(R(40000, 80, 900, 0, RST))
    assert lo.out() == [] and _st(lo, key) == "ESTABLISHED"
    assert lo.s.counters["tcp_rst_ignored"] == 2


def test_syn_in_established_gets_challenge_ack():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1001, 0, SYN, mss=1460))
    out = lo.out()
    assert len(out) == 1 and out[0].flags == ACK and out[0].ack == 1001
    assert _st(lo, key) == "ESTABLISHED"


def test_ack_of_unsent_data_gets_challenge_ack_and_is_dropped():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1001, iss + 1000, ACK, payload=b"zzz"))
    out = lo.out()
    assert len(out) == 1 and out[0].ack == 1001  # the data was not taken
    assert lo.app.get(key).received == b""
    assert lo.s.counters["tcp_bad_ack"] == 1


def test_segment_outside_window_is_acked_and_dropped():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1001 + 70000, iss + 1, ACK, payload=b"far"))
    out = lo.out()
    assert len(out) == 1 and out[0].ack == 1001
    assert lo.s.counters["tcp_out_of_window"] == 1
    lo.send(R(40000, 80, 500, iss + 1, ACK, payload=b"old"))
    assert lo.out()[0].ack == 1001 and lo.s.counters["tcp_duplicate"] == 1


def test_segment_without_ack_flag_is_dropped():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1001, 0, PSH, payload=b"data"))
    assert lo.out() == [] and lo.app.get(key).received == b""
    assert lo.s.counters["tcp_no_ack"] == 1


def test_abort_sends_rst():
    lo = T.Lone()
    key, iss = lo.handshake()
    assert lo.s.tcp.abort(key, 5)
    r = lo.out()[0]
    assert r.flags == RST and r.seq == iss + 1
    assert _st(lo, key) == "CLOSED" and not lo.s.tcp.abort(key, 6)


def test_full_lifecycle_between_two_stacks():
    n = T.Net()
    n.b.tcp.listen(80)
    ka = n.app_a.connect(0, T.B_IP, 80)
    assert n.run(lambda: n.a.tcp.state_name(ka) == "ESTABLISHED", 5000)
    assert n.run(lambda: n.b.tcp.accept(80) is not None, 5000)
    kb = n.b.tcp.keys()[0]
    n.app_a.push(ka, b"hello", n.now)
    assert n.run(lambda: bytes(n.app_b.get(kb).received) == b"hello", 5000)
    n.app_b.push(kb, b"world", n.now)
    assert n.run(lambda: bytes(n.app_a.get(ka).received) == b"world", 5000)
    n.app_a.close(ka, n.now)
    assert n.run(lambda: n.app_b.get(kb).half_closed and n.a.tcp.state_name(ka) == "FIN-WAIT-2",
                 5000)
    assert n.b.tcp.state_name(kb) == "CLOSE-WAIT"
    n.app_b.close(kb, n.now)
    assert n.run(lambda: n.b.tcp.state_name(kb) == "CLOSED", 5000)
    assert n.a.tcp.state_name(ka) == "TIME-WAIT"
    assert n.run(lambda: n.a.tcp.state_name(ka) == "CLOSED", 100000)
    assert n.errors() == 0


def test_user_abort_from_an_open_packet_gives_closing():
    lo = T.Lone()
    key, iss = lo.handshake()
    seen = []

    class Aborter:
        def receive(self, pkt):
            if pkt.kind == io.OPEN:
                seen.append(pkt.abort().kind)

        def send(self, raw):
            pass

    lo.s.tcp.user = Aborter()
    lo.send(R(40000, 80, 1001, iss + 1, ACK, payload=b"x"))
    assert seen == [io.CLOSING]
    out = lo.out()
    assert out[-1].flags == RST and _st(lo, key) == "CLOSED"
    assert lo.s.counters["internal_error"] == 0


def test_buffers_offered_before_the_handshake_completes_work():
    n = T.Net()
    n.b.tcp.listen(80)
    ka = n.app_a.connect(0, T.B_IP, 80)
    ca = n.app_a.get(ka)
    o = n.a.tcp.raw(0).attach(ka)  # read/write in SYN-SENT: nothing to do yet
    o.read(ca.rb)
    assert o.write(ca.sb) == 0
    ca.sb.write(b"early")
    assert n.run(lambda: n.b.tcp.accept(80) is not None, 5000)
    kb = n.b.tcp.keys()[0]
    n.app_b.push(kb, b"reply", n.now)
    assert n.run(lambda: bytes(ca.received) == b"reply"
                 and bytes(n.app_b.get(kb).received) == b"early", 5000)
