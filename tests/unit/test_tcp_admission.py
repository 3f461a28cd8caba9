# Who gets a connection under pressure: SYN cookies once the half-open queue is
# full (options carried in the ISN and TSval), a per-source cap, FIN-WAIT-2
# given up after a silence, challenge ACKs that leak nothing across connections
# (CVE-2016-5696), and a connection whose buffers do not fit refused cleanly.
import tcp_support as T
from tcp_support import ACK, PSH, R, RST, SYN

from ethox_uk.stack.layer.tcp import cookie


def _fill_half_open(lo, n, base=1024):
    for i in range(n):
        lo.send(R(base + i, 80, i * 7919, 0, SYN, mss=1460), now=1)
        lo.out()


def test_a_cookie_carries_mss_window_scale_sack_and_timestamps():
    lo = T.Lone(syn_max=2)
    lo.s.tcp.listen(80)
    _fill_half_open(lo, 2)
    assert len(lo.s.tcp.ep.half_open) == 2
    lo.send(R(50000, 80, 7000, 0, SYN, mss=1400, wscale=6, sack_perm=True,
              timestamp=(123, 0)), now=5)
    sa = lo.out()[0]
    assert sa.flags == SYN | ACK and sa.ack == 7001
    assert sa.wscale is not None and sa.sack_perm and sa.timestamp[1] == 123
    assert lo.s.counters["tcp_syncookies_sent"] == 1
    assert len(lo.s.tcp.ep.half_open) == 2 and lo.s.tcp.ep.count == 2  # nothing kept
    # the ACK brings the connection back, with what the SYN said
    lo.send(R(50000, 80, 7001, sa.seq + 1, ACK, wnd=100, timestamp=(124, sa.timestamp[0])),
            now=6)
    key = lo.s.tcp.accept(80)
    c = lo.s.tcp.connection(key)
    assert c is not None and lo.s.tcp.state_name(key) == "ESTABLISHED"
    assert c.mss == 1380 - 12  # the table's 1380 (<= 1400), less the timestamp option
    assert c.snd_wscale == 6 and c.snd_wnd == 100 << 6
    assert c.sack_ok and c.ts_ok and c.ts_recent == 124
    # and it carries data both ways
    lo.send(R(50000, 80, 7001, sa.seq + 1, ACK | PSH, payload=b"hello",
              timestamp=(125, sa.timestamp[0])), now=7)
    assert bytes(lo.app.get(key).received) == b"hello"
    assert lo.s.counters["tcp_syncookies_rx"] == 1 and lo.s.counters["internal_error"] == 0


def test_without_timestamps_a_cookie_connection_does_without_options():
    lo = T.Lone(syn_max=1)
    lo.s.tcp.listen(80)
    _fill_half_open(lo, 1)
    lo.send(R(50001, 80, 9000, 0, SYN, mss=536, wscale=3, sack_perm=True), now=5)
    sa = lo.out()[0]
    assert sa.wscale is None and not sa.sack_perm and sa.timestamp is None
    lo.send(R(50001, 80, 9001, sa.seq + 1, ACK), now=6)
    c = lo.s.tcp.connection(lo.s.tcp.accept(80))
    assert c.mss == 536 and c.snd_wscale == 0 and not c.sack_ok and not c.ts_ok


def test_forged_stale_or_altered_cookies_meet_an_rst():
    lo = T.Lone(syn_max=1)
    lo.s.tcp.listen(80)
    _fill_half_open(lo, 1)
    lo.send(R(50002, 80, 100, 0, SYN, mss=1460, wscale=7, timestamp=(5, 0)), now=5)
    sa = lo.out()[0]
    # a guessed ISN
    lo.send(R(50002, 80, 101, sa.seq + 2, ACK, timestamp=(6, sa.timestamp[0])), now=6)
    # the option bits altered (window scale 7 -> 14)
    lo.send(R(50002, 80, 101, sa.seq + 1, ACK, timestamp=(6, sa.timestamp[0] ^ 9)), now=7)
    # another peer port
    lo.send(R(50003, 80, 101, sa.seq + 1, ACK, timestamp=(6, sa.timestamp[0])), now=8)
    out = lo.out()
    assert len(out) == 3 and all([r.flags & RST for r in out])
    assert lo.s.counters["tcp_syncookies_failed"] == 3 and lo.s.tcp.accept(80) is None
    # too late: the cookie's clock moved on twice (64 s each)
    lo.send(R(50002, 80, 101, sa.seq + 1, ACK, timestamp=(6, sa.timestamp[0])), now=5 + 130000)
    assert lo.s.tcp.accept(80) is None
    # in time, as sent: accepted
    lo.send(R(50002, 80, 101, sa.seq + 1, ACK, timestamp=(6, sa.timestamp[0])), now=60000)
    assert lo.s.tcp.accept(80) is not None


def test_cookie_mss_table_rounds_down():
    assert cookie.MSS_TABLE[cookie.mss_index(1460)] == 1460
    assert cookie.MSS_TABLE[cookie.mss_index(1459)] == 1452
    assert cookie.MSS_TABLE[cookie.mss_index(100)] == 536  # the smallest there is


def test_one_source_cannot_take_every_slot():
    lo = T.Lone(per_source=4)
    lo.s.tcp.listen(80)
    for p in range(40000, 40010):
        lo.send(R(p, 80, 1000, 0, SYN, mss=1460))
    out = lo.out()
    assert len(out) == 4 and lo.s.counters["tcp_source_limit"] == 6
    # another address still gets in
    lo.send(R(40000, 80, 1000, 0, SYN, mss=1460), ip_src=b"\x0a\x00\x02\x03")
    assert len(lo.out()) == 1


def test_fin_wait_2_gives_up_on_a_silent_peer():
    lo = T.Lone(fin_wait2=60000)
    key, iss = lo.handshake()
    lo.app.close(key, 10)
    fin = lo.out()[-1]
    lo.send(R(40000, 80, 1001, fin.seq + 1, ACK), now=20)  # our FIN acknowledged
    assert lo.s.tcp.state_name(key) == "FIN-WAIT-2"
    lo.send(R(40000, 80, 1001, fin.seq + 1, ACK | PSH, payload=b"late"), now=50000)
    lo.tick(50000 + 59000)  # the peer spoke at 50 s: its silence counts from there
    assert lo.s.tcp.state_name(key) == "FIN-WAIT-2"
    lo.tick(50000 + 60000)
    assert lo.s.tcp.state_name(key) == "CLOSED"
    assert lo.s.counters["tcp_fin_wait2_timeouts"] == 1


def _challenges_seen_by_attacker(spoof_hits):
    """The CVE-2016-5696 probe: the attacker (its own connection, port 40001)
    spoofs a SYN at the victim connection's four-tuple (port 40000) when
    spoof_hits, at a port nobody uses otherwise, then sends 20 in-window RSTs on
    its own connection and counts the challenge ACKs it gets back."""
    lo = T.Lone()
    kv, iss_v = lo.handshake(sport=40000)
    ka, iss_a = lo.handshake(sport=40001, iss=5000)
    lo.out()
    for i in range(20):
        lo.send(R(40000 if spoof_hits else 40009, 80, 1001, 0, SYN, mss=1460), now=100)
    lo.out()
    for i in range(20):
        lo.send(R(40001, 80, 5002 + i, 0, RST), now=100)
    return len([r for r in lo.out() if r.dst_port == 40001])


def test_challenge_acks_leak_nothing_about_other_connections():
    assert _challenges_seen_by_attacker(True) == _challenges_seen_by_attacker(False) > 0


def test_a_connection_whose_buffers_do_not_fit_is_refused_cleanly():
    # the socket layer's mux makes the rings at accept time: make that fail
    from ethox_uk.stack.layer.tcp.mux import TcpMux

    class Greedy:
        def tcp_accept(self, key):
            raise MemoryError

    lo = T.Lone()
    mux = TcpMux(lo.s)
    mux.layer = lo.s.tcp
    lo.s.tcp.user = mux
    mux.listen(80, Greedy())
    lo.send(R(40000, 80, 1000, 0, SYN, mss=1460))
    sa = lo.out()[0]
    lo.send(R(40000, 80, 1001, sa.seq + 1, ACK))
    out = lo.out()
    assert out and out[-1].flags & RST
    assert lo.s.counters["tcp_no_memory"] == 1 and lo.s.counters["internal_error"] == 0
    assert lo.s.tcp.keys() == []
