# The services (services.py, http.py) against hostile and careless peers
# (issue 11): UDP echo loops, request bodies, header dribble, idle timeouts.
# Stack A serves, stack B (or injected frames) plays the peer; simulated time.
import support
from support import (ip_stack, stack_rx, prime_arp, frame_in, ipv4_pkt, udp_dgram,
                     counters_are, two_stacks, run_both,
                     OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, SUBNET_BCAST, ALL_ONES, BCAST_MAC)
from ethox_uk.stack import services


# -- UDP echo ------------------------------------------------------------------------
def _dgram_to(dst, sport, payload=b"ping", src=PEER_IP, src_mac=PEER_MAC, dst_mac=None):
    if dst_mac is None:
        dst_mac = OUR_MAC if dst == OUR_IP else BCAST_MAC
    return frame_in(ipv4_pkt(src, dst, 17, udp_dgram(src, dst, sport, 7, payload)),
                    dst_mac=dst_mac, src_mac=src_mac)


def test_udp_echo_ignores_broadcasts_and_well_known_source_ports():
    s, peer = ip_stack()
    services.serve_udp_echo(s)
    prime_arp(s, peer)
    for dst in (SUBNET_BCAST, ALL_ONES):
        assert stack_rx(s, peer, _dgram_to(dst, 40000)) == []
    for sport in (7, 13, 19, 37, 1023):
        assert stack_rx(s, peer, _dgram_to(OUR_IP, sport)) == []
    out = stack_rx(s, peer, _dgram_to(OUR_IP, 1024, b"still served"))
    assert len(out) == 1 and support.ip_of(out[0]).endswith(b"still served")
    counters_are(s, udp_rx=8, udp_tx=1, udp_echo_refused=7)


def test_udp_echo_loop_between_two_servers_is_gone():
    # A spoofed datagram "from B:7" to A:7: before, A echoed it to B:7, B
    # echoed that back to A:7, and so on for ever.
    A, B = two_stacks()
    services.serve_udp_echo(A)
    services.serve_udp_echo(B)
    B.udp.send(A.ip_addr, 7, 7, b"bounce", 0)  # B's own echo port as the source
    run_both(A, B, 0, 2000)
    assert A.counters["udp_rx"] == 1 and A.counters["udp_tx"] == 0
    assert B.counters["udp_rx"] == 0
    counters_are(A, udp_rx=1, udp_echo_refused=1)
    # a client on an ordinary port is still answered
    got = []
    B.udp.bind(40000, lambda v, o, n, src, sp, now: got.append(bytes(v[o:o + n])))
    B.udp.send(A.ip_addr, 7, 40000, b"hello", 2000)
    run_both(A, B, 2000, 2100)
    assert got == [b"hello"]
    counters_are(A, udp_rx=2, udp_tx=1, udp_echo_refused=1)
