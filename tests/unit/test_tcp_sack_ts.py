# SACK (RFC 2018, recovery per RFC 6675) and timestamps (RFC 7323) in
# simulated time: negotiation, the options on the wire, several losses in one
# window recovered without a timeout, SACK blocks the receiver reports, PAWS,
# RTT samples on every ACK, sequence wrap, the scoreboard itself.
import tcp_support as T
from tcp_support import ACK, R

from ethox_uk.stack.layer.tcp import sack
from ethox_uk.stack.layer.tcp.connection import ESTABLISHED
from ethox_uk.stack.wire import tcp as wtcp

M = 0x100000000


def _segments(end, keep):
    """Collect (and let through) every TCP segment `end` sends, as wire Reprs."""

    def f(view, length):
        if view[12] == 8 and view[13] == 0 and view[23] == 6:
            hl = (view[14] & 15) * 4
            total = (view[16] << 8) | view[17]
            seg = bytes(view[14 + hl:14 + total])
            keep.append(wtcp.Repr.parse(seg, bytes(view[26:30]), bytes(view[30:34])))
        return True

    end.filter = f


def _drop_first_sends(end, offsets, base):
    """Drop the first transmission of the data segments starting at stream
    offsets `offsets` (relative to the sequence number `base[0]`)."""
    dropped = []

    def f(view, length):
        if view[23] == 6 and length > 54 + 100:
            hl = (view[14] & 15) * 4
            t = 14 + hl
            seq = (view[t + 4] << 24) | (view[t + 5] << 16) | (view[t + 6] << 8) | view[t + 7]
            off = (seq - base[0]) & 0xFFFFFFFF
            if off in offsets and off not in dropped:
                dropped.append(off)
                return False
        return True

    end.filter = f
    return dropped


def test_both_stacks_negotiate_sack_and_timestamps():
    n, ab, ba, ok = T.bulk(1, 20000, both=False)
    assert ok and ab.h.digest() == T.stream_sha256(20000)
    n = T.Net(1)
    n.b.tcp.listen(80)
    ka = n.app_a.connect(0, T.B_IP, 80)
    n.run(lambda: n.a.tcp.state(ka) == ESTABLISHED and n.b.tcp.keys())
    ca = n.a.tcp.connection(ka)
    cb = n.b.tcp.connection(n.b.tcp.keys()[0])
    for c in (ca, cb):
        assert c.ts_ok and c.sack_ok
        assert c.mss == 1460 - 12  # every segment carries the 12-byte timestamp option
    # either side can leave them out
    n = T.Net(1, tcp_b={"timestamps": False, "sack_permitted": False})
    n.b.tcp.listen(80)
    ka = n.app_a.connect(0, T.B_IP, 80)
    n.run(lambda: n.a.tcp.state(ka) == ESTABLISHED)
    ca = n.a.tcp.connection(ka)
    assert not ca.ts_ok and not ca.sack_ok and ca.mss == 1460


def test_every_segment_carries_tsval_and_echoes_the_peers():
    n = T.Net(2)
    seen_a = []
    seen_b = []
    _segments(n.na, seen_a)
    _segments(n.nb, seen_b)
    t = T.Transfer(30000)
    n.app_a.setup = t.attach
    n.app_b.setup = lambda ca: setattr(ca, "sink", t.sink)
    n.b.tcp.listen(80)
    n.app_a.connect(0, T.B_IP, 80)
    assert n.run(lambda: t.got == 30000)
    assert seen_a and seen_b
    for r in seen_a + seen_b:
        assert r.timestamp is not None, r
    # what A echoes is a TSval B sent (and the reverse); A's clock never goes back
    b_vals = set([r.timestamp[0] for r in seen_b])
    for r in seen_a[1:]:
        assert r.timestamp[1] in b_vals
    vals = [r.timestamp[0] for r in seen_a]
    assert all([((vals[i + 1] - vals[i]) % M) < M // 2 for i in range(len(vals) - 1)])
    assert n.errors() == 0


def _lossy_window(sack_permitted):
    n = T.Net(3, tcp_a={"sack_permitted": sack_permitted},
              tcp_b={"sack_permitted": sack_permitted})
    size = 300000
    t = T.Transfer(size)
    n.app_a.setup = t.attach
    n.app_b.setup = lambda ca: setattr(ca, "sink", t.sink)
    n.b.tcp.listen(80)
    ka = n.app_a.connect(0, T.B_IP, 80)
    n.run(lambda: n.a.tcp.state(ka) == ESTABLISHED)
    ca = n.a.tcp.connection(ka)
    base = [(ca.snd_una + 0) & 0xFFFFFFFF]
    mss = ca.mss
    # four losses in one window, after slow start has opened it
    losses = [mss * k for k in (60, 63, 67, 70)]
    dropped = _drop_first_sends(n.na, losses, base)
    t0 = n.now
    ok = n.run(lambda: t.got == size)
    return n, t, dropped, n.now - t0, ok


def test_several_losses_in_one_window_recover_without_a_timeout():
    n, t, dropped, took, ok = _lossy_window(True)
    assert ok and len(dropped) == 4
    assert t.h.digest() == T.stream_sha256(300000)
    c = n.a.counters
    assert c["tcp_timeouts"] == 0
    assert c["tcp_fast_retrans_sent"] == 1  # one recovery episode for the four holes
    assert c["tcp_retrans_sent"] == 4  # each hole resent once, nothing else
    assert n.errors() == 0
    # NewReno (no SACK) needs a round trip per hole, or a timeout: slower
    n2, t2, dropped2, took2, ok2 = _lossy_window(False)
    assert ok2 and len(dropped2) == 4 and t2.h.digest() == T.stream_sha256(300000)
    assert took2 > took


def test_the_receiver_reports_sack_blocks_most_recent_first():
    lo = T.Lone()
    key, iss = lo.handshake(sack_perm=True)
    c = lo.s.tcp.connection(key)
    assert c.sack_ok and not c.ts_ok
    seq = 1001
    lo.send(R(40000, 80, seq + 1000, iss + 1, ACK, payload=bytes(100)))  # hole 0..1000
    a1 = lo.out()[-1]
    assert a1.ack == seq and a1.sack == [(seq + 1000, seq + 1100)]
    lo.send(R(40000, 80, seq + 3000, iss + 1, ACK, payload=bytes(100)))
    a2 = lo.out()[-1]
    assert a2.sack == [(seq + 3000, seq + 3100), (seq + 1000, seq + 1100)]
    lo.send(R(40000, 80, seq + 1100, iss + 1, ACK, payload=bytes(100)))  # grows block 1
    a3 = lo.out()[-1]
    assert a3.sack[0] == (seq + 1000, seq + 1200) and len(a3.sack) == 2
    lo.send(R(40000, 80, seq, iss + 1, ACK, payload=bytes(1000)), now=1)  # fills the hole
    lo.tick(200)
    a4 = lo.out()[-1]
    assert a4.ack == seq + 1200 and a4.sack == [(seq + 3000, seq + 3100)]
    assert lo.s.counters["internal_error"] == 0


def test_paws_drops_an_old_duplicate_and_answers_it():
    lo = T.Lone()
    key, iss = lo.handshake(ts=1000)
    c = lo.s.tcp.connection(key)
    assert c.ts_ok and c.ts_recent == 1000
    lo.send(R(40000, 80, 1001, iss + 1, ACK, payload=b"a" * 10, timestamp=(2000, 0)))
    assert c.ts_recent == 2000 and c.rcv_nxt == 1011
    lo.tick(100)
    lo.out()
    # the next byte, but with an older TSval: an old duplicate (wrapped sequence)
    lo.send(R(40000, 80, 1011, iss + 1, ACK, payload=b"b" * 10, timestamp=(1500, 0)), now=101)
    out = lo.out()
    assert c.rcv_nxt == 1011  # not taken
    assert lo.s.counters["tcp_paws_dropped"] == 1
    assert out and out[-1].flags == ACK and out[-1].ack == 1011 and out[-1].timestamp[1] == 2000
    # a RST is never dropped by PAWS
    lo.send(R(40000, 80, 1011, 0, wtcp.RST, timestamp=(1, 0)), now=102)
    assert lo.s.tcp.state(key) == 0


def test_timestamps_time_every_ack_even_after_a_retransmission():
    lo = T.Lone()
    key, iss = lo.handshake(ts=7)
    c = lo.s.tcp.connection(key)
    lo.app.push(key, b"x" * 100, 1000)
    seg = lo.out()[-1]
    tsval = seg.timestamp[0]
    t_re = 1000 + c.rto
    lo.tick(t_re)  # retransmitted: Karn would forbid a classic sample
    re = lo.out()[-1]
    assert re.payload == b"x" * 100 and re.timestamp[0] != tsval
    assert c.srtt8 == 0  # the handshake's sample: 0 ms in simulated time
    # the ACK echoes the retransmission's TSval: an unambiguous 37 ms sample
    lo.send(R(40000, 80, 1001, iss + 101, ACK, timestamp=(8, re.timestamp[0])), now=t_re + 37)
    assert c.srtt8 == 37  # srtt += (37 - 0) / 8


def test_sack_recovery_across_sequence_wrap():
    n = T.Net(5)
    n.a.tcp.ep.isn = lambda *args: (M - 20000) & 0xFFFFFFFF  # wraps during the transfer
    size = 200000
    t = T.Transfer(size)
    n.app_a.setup = t.attach
    n.app_b.setup = lambda ca: setattr(ca, "sink", t.sink)
    n.b.tcp.listen(80)
    ka = n.app_a.connect(0, T.B_IP, 80)
    n.run(lambda: n.a.tcp.state(ka) == ESTABLISHED)
    ca = n.a.tcp.connection(ka)
    base = [ca.snd_una]
    mss = ca.mss
    dropped = _drop_first_sends(n.na, [mss * 12, mss * 14, mss * 15], base)
    assert n.run(lambda: t.got == size)
    assert len(dropped) == 3 and t.h.digest() == T.stream_sha256(size)
    assert n.a.counters["tcp_timeouts"] == 0 and n.a.counters["tcp_retrans_sent"] == 3
    assert n.errors() == 0


class _C:
    """Just the fields sack.py uses."""

    def __init__(self, una, smax):
        self.snd_una = una
        self.snd_max = smax
        self.sacked = []
        self.sacked_bytes = 0
        self.high_rxt = una
        self.hole_len = 0


def test_scoreboard_merges_prunes_and_finds_holes():
    c = _C(M - 100, 5000)  # wraps: SND.UNA 100 bytes below 2**32
    assert sack.update(c, [100, 200, 300, 400], 2)
    assert c.sacked_bytes == 200 and sack.high_sacked(c) == 500
    assert sack.next_hole(c) == M - 100 and c.hole_len == 200
    # pipe: the tail above 400 (4600) + no retransmitted hole yet
    assert sack.pipe(c) == 5100 - 500
    c.high_rxt = (M - 100 + 200) & 0xFFFFFFFF  # the first hole was resent
    assert sack.pipe(c) == 5100 - 500 + 200
    assert sack.next_hole(c) == 200 and c.hole_len == 100
    assert sack.update(c, [150, 320], 1)  # overlaps both: one block
    assert len(c.sacked) == 1 and c.sacked == [[100, 400]] and c.sacked_bytes == 300
    assert not sack.update(c, [120, 300], 1)  # nothing new
    # forged blocks: beyond SND.MAX, below SND.UNA, inverted
    assert not sack.update(c, [4000, 6000, M - 200, M - 150, 900, 800], 3)
    c.snd_una = 150  # a cumulative ACK into the block
    sack.prune(c)
    assert c.sacked == [[150, 400]] and c.sacked_bytes == 250
    c.snd_una = 400
    sack.prune(c)
    assert c.sacked == [] and sack.next_hole(c) == -1
    assert sack.pipe(c) == 5000 - 400


def test_scoreboard_is_bounded():
    c = _C(0, 100000)
    for k in range(20):
        sack.update(c, [1000 * k + 500, 1000 * k + 600], 1)
    assert len(c.sacked) == sack.MAX_BLOCKS
    assert c.sacked[0] == [500, 600]  # the lowest blocks are the ones kept
    assert c.sacked_bytes == 100 * sack.MAX_BLOCKS
