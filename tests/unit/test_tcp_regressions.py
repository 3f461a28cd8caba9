# Regression tests for TCP bugs found on the bench: the active opener's
# advertised window edge (rcv_adv) before the peer's ISN is known, endpoint
# table removal with hash collisions across local ports, and a receive buffer
# smaller than one MSS (receiver SWS avoidance must still open the window).
import tcp_support as T
from tcp_support import R, SYN, ACK
from ethox_uk.stack.layer.tcp.endpoint import Endpoint, tuple_hash

M = 0xFFFFFFFF


def test_active_open_rcv_adv_follows_the_peers_isn():
    lo = T.Lone()
    key = lo.app.connect(0, T.B_IP, 8080)
    syn = lo.out()[0]
    # an IRS 1e9 below the window edge the SYN set relative to RCV.NXT = 0
    irs = (syn.window - 1000000000 - 1) & M
    lo.send(R(8080, syn.src_port, irs, syn.seq + 1, SYN | ACK, mss=1460))
    assert lo.s.tcp.state_name(key) == "ESTABLISHED"
    c = lo.s.tcp.connection(key)
    assert ((c.rcv_adv - c.rcv_nxt) & M) <= 65535
    lo.out()
    # data 70000 bytes beyond RCV.NXT lies outside our (64 KiB) window
    lo.send(R(8080, syn.src_port, irs + 1 + 70000, syn.seq + 1, ACK, payload=b"far"))
    out = lo.out()
    assert len(out) == 1 and out[0].ack == (irs + 1) & M and out[0].window <= 65535
    assert lo.s.counters["tcp_out_of_window"] == 1


class _C:
    def __init__(self, rip_int, rport, lport):
        self.rip_int = rip_int
        self.rport = rport
        self.lport = lport
        self.key = None
        self.shadowed = False
        self.state = 4


def test_endpoint_remove_promotes_collision_on_another_local_port():
    ep = Endpoint(8, 4, 1)
    a = _C(0x0A000202, 5000, 0x1235)
    b = _C(0x0A000202 ^ (1 << 14), 5000, 0x1234)  # bit 30 of the key from either side
    assert tuple_hash(a.rip_int, a.rport, a.lport) == tuple_hash(b.rip_int, b.rport, b.lport)
    assert ep.add(a) and ep.add(b)
    assert ep.lookup(a.rip_int, a.rport, a.lport) is a
    assert ep.lookup(b.rip_int, b.rport, b.lport) is b
    ep.remove(a)
    assert ep.lookup(a.rip_int, a.rport, a.lport) is None
    assert ep.lookup(b.rip_int, b.rport, b.lport) is b
    assert ep.shadowed == 0 and not b.shadowed
    ep.remove(b)
    assert ep.lookup(b.rip_int, b.rport, b.lport) is None and ep.table == {}


def test_receive_buffer_smaller_than_one_mss_still_flows():
    # the layer offers 4000 bytes in its SYN-ACK, the user's buffer holds 1000:
    # once the edge is reached, min(RCV.BUFF/2, MSS) = 500 bytes free must
    # reopen the window (measured against 4000, 1460 never could)
    n = T.Net(seed=3, tcp_b={"rcv_window": 4000})
    n.app_b.rbuf_size = 1000
    size = 20000
    ab = T.Transfer(size)
    n.app_a.setup = lambda ca: setattr(ca, "source", ab.source)
    n.app_b.setup = lambda ca: setattr(ca, "sink", ab.sink)
    n.b.tcp.listen(80)
    n.app_a.connect(0, T.B_IP, 80)
    assert n.run(lambda: ab.got == size, 120000)
    assert ab.h.digest() == T.stream_sha256(size) and n.errors() == 0
