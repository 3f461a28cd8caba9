# TCP features one by one: Nagle, window scaling, zero-window probing, silly
# window avoidance on both sides, RTO (RFC 6298) with Karn and backoff, fast
# retransmit and NewReno, keepalive, ISNs (RFC 6528), listen backlog, half-close.
import tcp_support as T
from tcp_support import R, SYN, ACK, PSH
from ethox_uk.stack.layer.tcp import io

M = 0xFFFFFFFF


def _data(out):
    return [r for r in out if r.payload]


def test_nagle_holds_small_segments_while_data_is_unacked():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.app.push(key, b"a", 0)
    assert [r.payload for r in lo.out()] == [b"a"]
    lo.app.push(key, b"b", 1)
    assert lo.out() == []  # Nagle: "a" is still unacknowledged
    lo.app.push(key, b"c" * 2000, 2)
    out = _data(lo.out())
    assert len(out) == 1 and len(out[0].payload) == 1460  # a full segment may go
    lo.send(R(40000, 80, 1001, iss + 1462, ACK), now=10)  # everything acknowledged
    out = _data(lo.out())
    assert len(out) == 1 and len(out[0].payload) == 541 and out[0].flags & PSH


def test_nodelay_sends_small_segments_at_once():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.s.tcp.set_nodelay(key, True)
    lo.app.push(key, b"a", 0)
    lo.app.push(key, b"b", 1)
    assert [r.payload for r in lo.out()] == [b"a", b"b"]


def test_window_scaling_both_ways():
    lo = T.Lone(app=T.App(rbuf_size=262140), rcv_window=262140)
    key, iss = lo.handshake(wscale=3, wnd=1000)
    c = lo.s.tcp.connection(key)
    assert c.snd_wscale == 3 and c.rcv_wscale == 2  # ours: 262140 >> 2 fits 16 bits
    # our windows are scaled by our shift
    lo.send(R(40000, 80, 1001, iss + 1, ACK, wnd=1000, payload=b"x"), now=1)
    lo.tick(100)
    ack = lo.out()[-1]
    assert ack.window << 2 >= 262136  # the whole 256 KiB (less the byte held)
    # the peer's window field 1000 means 8000 bytes
    assert c.snd_wnd == 8000
    lo.app.push(key, bytes(20000), 200)
    sent = sum([len(r.payload) for r in lo.out()])
    # the scaled send window (8000) is the limit now, not the initial window
    # (RFC 6928: 14600): five full segments; sender SWS avoidance holds the rest
    assert sent == 7300


def test_no_window_scaling_unless_both_offer():
    lo = T.Lone(rcv_window=262144)
    key, iss = lo.handshake(wscale=None)
    c = lo.s.tcp.connection(key)
    assert c.snd_wscale == 0 and c.rcv_wscale == 0
    lo.send(R(40000, 80, 1001, iss + 1, ACK | PSH, payload=b"x"))
    lo.tick(100)
    assert lo.out()[-1].window == 65534  # unscaled; 1 byte short: SWS keeps the edge


def test_zero_window_probes_with_backoff_until_the_window_opens():
    lo = T.Lone()
    key, iss = lo.handshake(wnd=0)
    lo.app.push(key, b"q" * 2920, 0)
    assert lo.out() == []
    probes = []
    for t in range(100, 16000, 100):
        lo.tick(t)
        for r in lo.out():
            assert not r.payload and r.seq == iss  # snd_una - 1: forces an answer
            probes.append(t)
            lo.send(R(40000, 80, 1001, iss + 1, ACK, wnd=0), now=t)  # still closed
    assert probes[:3] == [1000, 3000, 7000], probes
    lo.send(R(40000, 80, 1001, iss + 1, ACK, wnd=5000), now=16000)
    assert sum([len(r.payload) for r in lo.out()]) == 2920
    assert lo.s.counters["tcp_probes_sent"] >= 3


def test_zero_window_probing_gives_up_on_a_silent_peer_but_not_on_one_that_answers():
    # RFC 1122 §4.2.2.17: probing goes on while the peer acknowledges the probes; one that
    # went silent was probed for ever before (1,444 probes in 24 h)
    for answers in (False, True):
        lo = T.Lone()
        key, iss = lo.handshake(wnd=0)
        lo.app.push(key, b"q" * 2920, 0)
        probes = 0
        t = 0
        while t < 3600000 and key in lo.s.tcp.keys():
            t += 1000
            lo.tick(t)
            for r in lo.out():
                probes += 1
                if answers:
                    lo.send(R(40000, 80, 1001, iss + 1, ACK, wnd=0), now=t)
        c = lo.s.counters
        if answers:
            assert lo.s.tcp.state_name(key) == "ESTABLISHED" and probes >= 60, probes
            assert c["tcp_persist_timeouts"] == 0
        else:
            assert key not in lo.s.tcp.keys() and lo.app.get(key).closed
            assert probes == lo.s.tcp.max_retries, probes
            assert c["tcp_persist_timeouts"] == 1 and c["tcp_aborted"] == 1
            assert t < 900000, t  # within 15 min (backoff capped at the RTO's 60 s)


def test_receiver_zero_window_and_reopening_between_stacks():
    n = T.Net(tcp_b={"rcv_window": 16384})
    n.app_b.rbuf_size = 16384
    n.app_b.setup = lambda ca: setattr(ca, "consume", False)
    n.b.tcp.listen(80)
    ka = n.app_a.connect(0, T.B_IP, 80)
    assert n.run(lambda: n.a.tcp.state_name(ka) == "ESTABLISHED", 5000)
    n.app_a.push(ka, bytes(40000), n.now)
    n.run(None, 3000)
    kb = n.b.tcp.keys()[0]
    assert n.app_b.get(kb).rb.readable() == 16384  # the receive buffer is full
    assert n.a.tcp.connection(ka).snd_wnd == 0
    n.run(lambda: n.a.counters["tcp_probes_sent"] >= 2, 20000)
    got = bytearray()
    for _ in range(5):
        n.app_b.consume_now(kb, n.now)
        got += n.app_b.get(kb).received
        n.app_b.get(kb).received = bytearray()
        n.run(None, 2000)
    n.app_b.consume_now(kb, n.now)
    got += n.app_b.get(kb).received
    assert len(got) == 40000 and n.errors() == 0


def test_receiver_sws_avoidance_holds_small_window_updates():
    lo = T.Lone()
    lo.app.setup = lambda ca: setattr(ca, "consume", False)
    key, iss = lo.handshake()
    ca = lo.app.get(key)
    # fill 65536 - 100 bytes of the 64 KiB buffer
    seq = 1001
    left = 65436
    while left:
        k = 1460 if left > 1460 else left
        lo.send(R(40000, 80, seq, iss + 1, ACK, payload=bytes(k)), now=1)
        seq += k
        left -= k
    lo.tick(100)
    last = lo.out()[-1]
    assert last.ack == seq and last.window <= 100  # no scaling here: 100 bytes left
    ca.rb.skip(300)  # the application reads a little: too little to announce
    o = lo.s.tcp.raw(200).attach(key)
    o.read(ca.rb)
    o.write(ca.sb)
    assert lo.out() == []
    ca.rb.skip(5000)  # enough: a window update goes out
    o = lo.s.tcp.raw(300).attach(key)
    o.read(ca.rb)
    o.write(ca.sb)
    upd = lo.out()
    assert len(upd) == 1 and upd[0].window >= 5300


def test_sender_sws_avoidance_waits_then_override_timer_sends():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.send(R(40000, 80, 1001, iss + 1, ACK, wnd=300))
    lo.app.push(key, bytes(2000), 0)
    assert lo.out() == []  # 300 bytes is less than half the largest window seen
    got = []
    for t in range(100, 3000, 100):
        lo.tick(t)
        for r in lo.out():
            got.append((t, len(r.payload)))
    assert got and got[0] == (1000, 300), got


def test_rto_backoff_then_abort():
    lo = T.Lone(max_retries=5, tail_loss_probe=False)  # the RFC 6298 schedule alone
    key, iss = lo.handshake()
    lo.app.push(key, b"hello", 0)
    lo.out()
    times = []
    t = 0
    while t < 200000 and lo.s.tcp.state(key) != 0:
        t += 100
        lo.tick(t)
        for r in lo.out():
            assert r.payload == b"hello" and r.seq == iss + 1
            times.append(t)
    assert times == [1000, 3000, 7000, 15000, 31000], times
    assert lo.app.log[-1] == (io.CLOSED, key, "UserSignals(reset)")
    assert lo.s.counters["tcp_timeouts"] == 5 and lo.s.counters["tcp_aborted"] == 1


def test_rtt_estimate_and_karn():
    lo = T.Lone(rto_min=200)
    lo.s.tcp.listen(80)
    lo.send(R(40000, 80, 1000, 0, SYN, mss=1460))
    iss = lo.out()[0].seq
    lo.send(R(40000, 80, 1001, iss + 1, ACK), now=100)  # first sample: 100 ms
    key = lo.s.tcp.accept(80)
    c = lo.s.tcp.connection(key)
    assert c.srtt8 >> 3 == 100 and c.rto == 300  # 100 + 4 * 50
    lo.app.push(key, b"x", 1000)
    lo.out()
    lo.send(R(40000, 80, 1001, iss + 2, ACK), now=1300)  # second sample: 300 ms
    assert c.srtt8 >> 3 == 125 and c.rto == 125 + 350 // 1
    # a retransmitted segment gives no sample (Karn)
    lo.app.push(key, b"y", 2000)
    lo.out()
    lo.tick(2000 + c.rto)
    assert lo.out()[0].payload == b"y"
    srtt = c.srtt8
    lo.send(R(40000, 80, 1001, iss + 3, ACK), now=5000)
    assert c.srtt8 == srtt


def test_initial_window_is_rfc6928_or_rfc5681():
    for iw10, segs in ((True, 10), (False, 3)):
        lo = T.Lone(iw10=iw10)
        key, iss = lo.handshake()
        lo.app.push(key, bytes(1460 * 12), 0)
        out = _data(lo.out())
        # min(10 MSS, max(2 MSS, 14600)) / min(4 MSS, max(2 MSS, 4380)) with MSS 1460
        assert len(out) == segs and sum([len(r.payload) for r in out]) == 1460 * segs


def test_fast_retransmit_and_newreno_partial_ack():
    lo = T.Lone(iw10=False)
    key, iss = lo.handshake()
    lo.app.push(key, bytes(1460 * 3), 0)
    out = _data(lo.out())
    assert len(out) == 3  # initial window: 3 segments (RFC 5681)
    s0 = iss + 1
    # segment 1 is acked, 2 lost: the acks for 3.. repeat seq 2
    lo.send(R(40000, 80, 1001, s0 + 1460, ACK), now=10)
    lo.app.push(key, bytes(1460 * 4), 11)
    lo.out()
    for i in range(2):
        lo.send(R(40000, 80, 1001, s0 + 1460, ACK), now=20 + i)
    lt = _data(lo.out())
    assert len(lt) == 2 and lt[0].seq == s0 + 7300  # limited transmit (RFC 3042)
    lo.send(R(40000, 80, 1001, s0 + 1460, ACK), now=22)
    re = _data(lo.out())
    assert re and re[0].seq == s0 + 1460  # fast retransmit, no timeout
    assert lo.s.counters["tcp_timeouts"] == 0 and lo.s.counters["tcp_fast_retrans_sent"] == 1
    # a partial ACK (RFC 6582): the next hole goes out at once
    lo.send(R(40000, 80, 1001, s0 + 2920, ACK), now=30)
    re = _data(lo.out())
    assert re and re[0].seq == s0 + 2920


def test_keepalive_probes_and_abort():
    lo = T.Lone()
    key, iss = lo.handshake()
    lo.s.tcp.set_keepalive(key, 10000, 1000, 3)
    probes = []
    for t in range(500, 30000, 500):
        lo.tick(t)
        for r in lo.out():
            assert r.seq == iss and not r.payload and r.flags == ACK
            probes.append(t)
            if t < 12000:  # the peer answers the first probe
                lo.send(R(40000, 80, 1001, iss + 1, ACK), now=t)
    assert probes[0] == 10000 and probes[1] == 20000, probes
    assert probes[2:] == [21000, 22000]  # three unanswered probes, then the end
    assert lo.s.tcp.state_name(key) == "CLOSED"
    assert lo.app.log[-1] == (io.CLOSED, key, "UserSignals(reset)")
    assert lo.s.counters["tcp_keepalives_sent"] == 4


def test_isn_rfc6528():
    lo = T.Lone()
    tcp = lo.s.tcp
    ep = tcp.ep
    rip = 0x0A000202
    a = ep.isn(80, rip, 40000, 0)
    b = ep.isn(80, rip, 40001, 0)
    assert a != b
    assert (ep.isn(80, rip, 40000, 1000) - a) & M == 250000  # 4 µs clock
    other = T.Lone().s.tcp.ep  # same seed, same key: deterministic in tests
    assert other.isn(80, rip, 40000, 0) == a
    t2 = T.make_stack(T.make_pair(3)[0], T.A_IP, T.A_MAC, 99, None).tcp.ep
    assert t2.isn(80, rip, 40000, 0) != a


def test_listen_backlog_bounds_the_accept_queue():
    # a SYN the accept queue has no room for gets no SYN-ACK (whose ACK would
    # find no room either and draw an RST): the peer's retransmission gets in
    # once the application accepts
    lo = T.Lone()
    lo.s.tcp.listen(80, backlog=2)
    isns = {}
    for p in (40001, 40002):
        lo.send(R(p, 80, 1000, 0, SYN, mss=1460))
        isns[p] = lo.out()[0].seq
        lo.send(R(p, 80, 1001, isns[p] + 1, ACK))
    lo.send(R(40003, 80, 1000, 0, SYN, mss=1460))
    assert lo.out() == []
    st = [lo.s.tcp.state_name(k) for k in lo.s.tcp.keys()]
    assert st == ["ESTABLISHED", "ESTABLISHED"]
    assert lo.s.counters["tcp_backlog_full"] == 1
    assert lo.s.tcp.accept(80) is not None
    lo.send(R(40003, 80, 1000, 0, SYN, mss=1460))  # the peer's SYN again
    synack = lo.out()[0]
    lo.send(R(40003, 80, 1001, synack.seq + 1, ACK))
    st = [lo.s.tcp.state_name(k) for k in lo.s.tcp.keys()]
    assert st.count("ESTABLISHED") == 3


def test_half_close_data_keeps_flowing_the_other_way():
    n = T.Net()
    n.b.tcp.listen(80)
    ka = n.app_a.connect(0, T.B_IP, 80)
    assert n.run(lambda: n.b.tcp.accept(80) is not None, 5000)
    kb = n.b.tcp.keys()[0]
    n.app_a.close(ka, n.now)  # A is done sending
    assert n.run(lambda: n.app_b.get(kb).half_closed, 5000)
    data = bytes(range(256)) * 400
    ca = n.app_b.get(kb)
    pos = [0]

    def src(c):
        pos[0] += c.sb.write(data, pos[0])

    ca.source = src
    n.b.tcp.wake(kb)
    assert n.run(lambda: len(n.app_a.get(ka).received) == len(data), 20000)
    assert bytes(n.app_a.get(ka).received) == data
    assert n.a.tcp.state_name(ka) == "FIN-WAIT-2" and n.b.tcp.state_name(kb) == "CLOSE-WAIT"
    n.app_b.close(kb, n.now)
    assert n.run(lambda: not n.b.tcp.keys(), 5000) and n.errors() == 0


def test_time_wait_slots_are_recycled_when_the_table_is_full():
    n = T.Net(tcp_a={"slots": 4})
    n.b.tcp.listen(80)
    for i in range(10):
        ka = n.app_a.connect(n.now, T.B_IP, 80)
        assert n.run(lambda: n.b.tcp.accept(80) is not None, 5000), i
        n.app_a.close(ka, n.now)
        for kb in n.b.tcp.keys():
            n.app_b.close(kb, n.now)
        assert n.run(lambda: n.a.tcp.state_name(ka) == "TIME-WAIT", 5000), i
        n.run(None, 50)
    assert n.a.tcp.ep.count <= 4 and n.errors() == 0


def test_data_the_user_does_not_read_is_not_acknowledged():
    lo = T.Lone()
    key, iss = lo.handshake()

    class Deaf:
        def receive(self, pkt):
            pass

        def send(self, raw):
            pass

    lo.s.tcp.user = Deaf()
    lo.send(R(40000, 80, 1001, iss + 1, ACK, payload=b"ignored"))
    lo.tick(1000)
    assert all([r.ack == 1001 for r in lo.out()])
    assert lo.s.counters["tcp_unread"] == 1


def test_tail_loss_probe_resends_the_last_segment_before_the_rto():
    # RFC 8985 §7: 2 SRTT (at least 10 ms) after a flight nobody acknowledges,
    # the last segment goes again; the RTO then counts from the probe
    lo = T.Lone()
    key, iss = lo.handshake()
    c = lo.s.tcp.connection(key)
    lo.app.push(key, bytes(1460 * 3), 0)
    assert len(lo.out()) == 3
    t = 0
    probes = []
    while t < 500:
        t += 5
        lo.tick(t)
        for r in lo.out():
            probes.append((t, r.seq, len(r.payload)))
    assert probes == [(10, iss + 1 + 2920, 1460)]
    assert lo.s.counters["tcp_tail_probes_sent"] == 1 and lo.s.counters["tcp_timeouts"] == 0
    assert c.rto_at == 10 + c.rto
    # its ACK (the whole flight) ends the episode: the next flight may be probed again
    lo.send(R(40000, 80, 1001, iss + 1 + 4380, ACK), now=20)
    assert not c.tlp_sent and c.pto_at == -1
    # one segment out: the peer may be delaying its ACK, so 200 ms more
    lo.app.push(key, b"x", 30)
    lo.out()
    assert c.pto_at >= 30 + 200
