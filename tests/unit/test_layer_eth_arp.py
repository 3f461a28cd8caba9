# EthLayer and ArpLayer over the in-memory NIC pair, on simulated time, with a
# stub IPv4 layer (support.EthArpStack). Every test checks the exact drop
# counters and that internal_error stayed 0.
import support
from support import BCAST_MAC, arp_body, eth_frame, ip4, mac

OUR_MAC = mac("52:54:00:12:34:56")
OUR_IP = ip4("10.0.2.15")
PEER_MAC = mac("52:55:0a:00:02:02")
PEER_IP = ip4("10.0.2.2")
NEW_MAC = mac("02:00:00:00:00:99")
OTHER_MAC = mac("02:00:00:00:00:07")
OTHER_IP = ip4("10.0.2.7")
ZERO_MAC = bytes(6)
ZERO_IP = bytes(4)
HDR_ARP = b"\x00\x01\x08\x00\x06\x04"


def setup():
    return support.eth_arp_setup()


def drops(st, expected):
    """The stack's drop counters are exactly `expected`; internal_error is 0."""
    assert st.counters.c["internal_error"] == 0, st.last_error
    got = st.counters.drops()
    assert got == expected, got


def arp_frame(op, sha, spa, tha, tpa, dst=BCAST_MAC, src=None, pad=b""):
    return eth_frame(dst, sha if src is None else src, 0x0806,
                     arp_body(op, sha, spa, tha, tpa) + pad)


def request_from_peer(tpa=OUR_IP, dst=BCAST_MAC, sha=PEER_MAC, spa=PEER_IP):
    return arp_frame(1, sha, spa, ZERO_MAC, tpa, dst)


def reply_from(sha, spa, tpa=OUR_IP, tha=OUR_MAC, dst=OUR_MAC):
    return arp_frame(2, sha, spa, tha, tpa, dst)


def expected_request(target, dst=BCAST_MAC):
    return (dst + OUR_MAC + b"\x08\x06" + HDR_ARP + b"\x00\x01" + OUR_MAC + OUR_IP
            + ZERO_MAC + target + bytes(18))


def send_ip(st, next_hop, now, payload=b"\x45\x00hello-ip"):
    """Frame an 'IPv4 packet' in a tx buffer and hand it to arp.output."""
    tx = st.nic.tx_buffer()
    assert tx is not None
    for i in range(14):
        tx[i] = 0xEE  # junk the header: output must fill it
    n = 14 + len(payload)
    for i in range(len(payload)):
        tx[14 + i] = payload[i]
    for i in range(n, 80):
        tx[i] = 0xDD  # junk past the end: padding must be zeroed
    return st.arp.output(tx, n, next_hop, now)


def expected_ip(dst_mac, payload=b"\x45\x00hello-ip"):
    f = dst_mac + OUR_MAC + b"\x08\x00" + payload
    return f + bytes(60 - len(f))


def learn_peer(st, now=0, sha=PEER_MAC, spa=PEER_IP):
    st.rx(reply_from(sha, spa), now)
    assert bytes(st.arp.lookup(spa, now)) == sha


def no_leak(st):
    assert support.tx_free(st.nic) == 16


# -- Ethernet ------------------------------------------------------------------
def test_eth_truncated():
    st, peer = setup()
    st.rx(OUR_MAC + PEER_MAC + b"\x08", 0)
    st.rx(b"", 0)
    drops(st, {"eth_truncated": 2})
    assert peer.frames() == []
    assert st.ip.got == []


def test_eth_not_for_us_unicast():
    st, peer = setup()
    st.rx(eth_frame(OTHER_MAC, PEER_MAC, 0x0800, b"x" * 46), 0)
    drops(st, {"eth_not_for_us": 1})
    assert st.ip.got == []


def test_eth_not_for_us_multicast():
    st, peer = setup()
    st.rx(eth_frame(mac("01:00:5e:00:00:01"), PEER_MAC, 0x0800, b"x" * 46), 0)
    st.rx(eth_frame(mac("33:33:00:00:00:01"), PEER_MAC, 0x86DD, b"x" * 46), 0)
    st.rx(eth_frame(mac("ff:ff:ff:ff:ff:fe"), PEER_MAC, 0x0806, b"x" * 46), 0)
    drops(st, {"eth_not_for_us": 3})
    assert st.ip.got == []


def test_eth_group_source_dropped():
    st, peer = setup()
    st.rx(eth_frame(OUR_MAC, BCAST_MAC, 0x0800, b"x" * 46), 0)
    st.rx(eth_frame(OUR_MAC, mac("01:00:5e:00:00:01"), 0x0800, b"x" * 46), 0)
    drops(st, {"eth_bad_source": 2})
    assert st.ip.got == []


def test_eth_unknown_type():
    st, peer = setup()
    for t in (0x86DD, 0x8100, 0x0001, 0x88CC):
        st.rx(eth_frame(OUR_MAC, PEER_MAC, t, b"x" * 46), 0)
    drops(st, {"eth_unknown_type": 4})
    assert peer.frames() == []


def test_eth_dispatches_ipv4_unicast_and_broadcast():
    st, peer = setup()
    f1 = eth_frame(OUR_MAC, PEER_MAC, 0x0800, b"\x45" + b"a" * 45)
    f2 = eth_frame(BCAST_MAC, PEER_MAC, 0x0800, b"\x45" + b"b" * 19)
    st.rx(f1, 0)
    st.rx(f2, 0)
    assert st.ip.got == [f1, f2]
    assert st.counters.c["rx_frames"] == 2
    drops(st, {})
    assert peer.frames() == []


def test_eth_in_place_reply_header_and_padding():
    st, peer = setup()

    def reply(view, length, now):
        for i in range(6):
            view[14 + i] = 0x60 + i
        return 20

    st.ip.reply = reply
    st.rx(eth_frame(OUR_MAC, PEER_MAC, 0x0800, b"\xaa" * 86), 0)
    out = peer.frames()
    assert out == [PEER_MAC + OUR_MAC + b"\x08\x00" + b"\x60\x61\x62\x63\x64\x65" + bytes(40)]
    assert st.counters.c["tx_frames"] == 1
    drops(st, {})


def test_eth_in_place_reply_keeps_type_set_by_upper_layer():
    st, peer = setup()

    def reply(view, length, now):
        view[12] = 0x88
        view[13] = 0xB5
        return 70

    st.ip.reply = reply
    st.rx(eth_frame(BCAST_MAC, PEER_MAC, 0x0800, b"\xaa" * 86), 0)
    out = peer.frames()
    assert out == [PEER_MAC + OUR_MAC + b"\x88\xb5" + b"\xaa" * 56]
    drops(st, {})


def test_eth_upper_layer_consumes():
    st, peer = setup()
    st.ip.reply = lambda view, length, now: 0
    st.rx(eth_frame(OUR_MAC, PEER_MAC, 0x0800, b"\x45" * 46), 0)
    assert peer.frames() == []
    assert st.counters.c["tx_frames"] == 0
    drops(st, {})


def test_eth_send_fills_header_and_pads():
    st, peer = setup()
    tx = st.nic.tx_buffer()
    for i in range(100):
        tx[i] = 0xEE
    for i in range(10):
        tx[14 + i] = i
    assert st.eth.send(tx, 24, PEER_MAC, 0x0800) == 60
    assert peer.frames() == [PEER_MAC + OUR_MAC + b"\x08\x00" + bytes(range(10)) + bytes(36)]
    assert st.counters.c["tx_frames"] == 1
    no_leak(st)
    drops(st, {})


def test_eth_send_long_frame_unpadded():
    st, peer = setup()
    tx = st.nic.tx_buffer()
    for i in range(200):
        tx[i] = 0x77
    assert st.eth.send(tx, 100, BCAST_MAC, 0x0806) == 100
    assert peer.frames() == [BCAST_MAC + OUR_MAC + b"\x08\x06" + b"\x77" * 86]


# -- ARP receive ---------------------------------------------------------------
def test_arp_request_for_us_reply_bytes():
    st, peer = setup()
    st.rx(request_from_peer() + b"\x5a" * 18, 5)  # padded like a real frame
    assert peer.frames() == [
        PEER_MAC + OUR_MAC + b"\x08\x06" + HDR_ARP + b"\x00\x02"
        + OUR_MAC + OUR_IP + PEER_MAC + PEER_IP + bytes(18)]
    c = st.counters.c
    assert c["arp_replies_sent"] == 1
    assert c["tx_frames"] == 1
    assert bytes(st.arp.lookup(PEER_IP, 5)) == PEER_MAC  # learned from the request
    drops(st, {})


def test_arp_unicast_request_answered():
    st, peer = setup()
    st.rx(request_from_peer(dst=OUR_MAC), 0)
    out = peer.frames()
    assert len(out) == 1 and out[0][0:6] == PEER_MAC and out[0][20:22] == b"\x00\x02"
    drops(st, {})


def test_arp_reply_goes_to_frame_source():
    # the Ethernet destination of the reply is the request's Ethernet source
    st, peer = setup()
    st.rx(arp_frame(1, PEER_MAC, PEER_IP, ZERO_MAC, OUR_IP, src=OTHER_MAC), 0)
    out = peer.frames()
    assert out[0][0:6] == OTHER_MAC
    assert out[0][32:38] == PEER_MAC  # target hw = the sender hw
    drops(st, {})


def test_arp_request_not_for_us():
    st, peer = setup()
    st.rx(request_from_peer(tpa=OTHER_IP), 0)
    assert peer.frames() == []
    assert st.arp.lookup(PEER_IP, 0) is None
    drops(st, {"arp_not_for_us": 1})


def test_arp_probe_answered_not_learned():
    st, peer = setup()
    st.rx(arp_frame(1, OTHER_MAC, ZERO_IP, ZERO_MAC, OUR_IP), 0)
    assert peer.frames() == [
        OTHER_MAC + OUR_MAC + b"\x08\x06" + HDR_ARP + b"\x00\x02"
        + OUR_MAC + OUR_IP + OTHER_MAC + ZERO_IP + bytes(18)]
    assert st.arp.entries() == []
    assert st.counters.c["arp_replies_sent"] == 1
    drops(st, {})


def test_arp_someone_elses_probe():
    st, peer = setup()
    st.rx(arp_frame(1, OTHER_MAC, ZERO_IP, ZERO_MAC, OTHER_IP), 0)
    assert peer.frames() == []
    assert st.arp.entries() == []
    drops(st, {"arp_not_for_us": 1})


def test_arp_truncated():
    st, peer = setup()
    st.rx(eth_frame(BCAST_MAC, PEER_MAC, 0x0806, arp_body(1, PEER_MAC, PEER_IP, ZERO_MAC, OUR_IP)[:27]), 0)
    st.rx(eth_frame(BCAST_MAC, PEER_MAC, 0x0806), 0)
    assert peer.frames() == []
    drops(st, {"arp_truncated": 2})


def test_arp_bad_format_each_field():
    st, peer = setup()
    bad = (
        arp_body(1, PEER_MAC, PEER_IP, ZERO_MAC, OUR_IP, htype=6),
        arp_body(1, PEER_MAC, PEER_IP, ZERO_MAC, OUR_IP, ptype=0x86DD),
        arp_body(1, PEER_MAC, PEER_IP, ZERO_MAC, OUR_IP, hlen=8),
        arp_body(1, PEER_MAC, PEER_IP, ZERO_MAC, OUR_IP, plen=16),
        arp_body(3, PEER_MAC, PEER_IP, ZERO_MAC, OUR_IP),
        arp_body(0x0101, PEER_MAC, PEER_IP, ZERO_MAC, OUR_IP),
    )
    for body in bad:
        st.rx(eth_frame(BCAST_MAC, PEER_MAC, 0x0806, body), 0)
    assert peer.frames() == []
    assert st.arp.entries() == []
    drops(st, {"arp_bad_format": 6})


def test_arp_bad_sender_never_learned_or_answered():
    st, peer = setup()
    st.rx(arp_frame(1, mac("01:00:5e:00:00:01"), PEER_IP, ZERO_MAC, OUR_IP, src=PEER_MAC), 0)
    st.rx(request_from_peer(sha=OTHER_MAC, spa=OUR_IP), 0)  # claims our address
    st.rx(request_from_peer(spa=ip4("224.0.0.1")), 0)  # multicast IP
    st.rx(request_from_peer(spa=ip4("255.255.255.255")), 0)
    st.rx(request_from_peer(spa=ip4("10.0.2.255")), 0)  # subnet broadcast
    st.rx(request_from_peer(sha=OUR_MAC, spa=OTHER_IP), 0)  # our own frame looped back
    st.rx(request_from_peer(spa=ip4("127.0.0.1")), 0)  # loopback
    st.rx(reply_from(PEER_MAC, ZERO_IP), 0)  # a reply from 0.0.0.0
    assert peer.frames() == []
    assert st.arp.entries() == []
    drops(st, {"arp_bad_source": 8})


def test_arp_reply_learns():
    st, peer = setup()
    st.rx(reply_from(PEER_MAC, PEER_IP), 100)
    assert bytes(st.arp.lookup(PEER_IP, 100)) == PEER_MAC
    assert st.arp.entries(100) == [(PEER_IP, PEER_MAC, "reachable")]
    assert peer.frames() == []
    drops(st, {})


def test_arp_reply_not_for_us_creates_nothing():
    st, peer = setup()
    st.rx(reply_from(PEER_MAC, PEER_IP, tpa=OTHER_IP, tha=OTHER_MAC, dst=BCAST_MAC), 0)
    assert st.arp.lookup(PEER_IP, 0) is None
    drops(st, {"arp_not_for_us": 1})


def test_arp_not_for_us_refreshes_existing_entry():
    # RFC 826 merge: a known sender's new MAC is taken from any ARP packet
    st, peer = setup()
    learn_peer(st, 0)
    st.rx(request_from_peer(tpa=OTHER_IP, sha=NEW_MAC), 10)
    assert bytes(st.arp.lookup(PEER_IP, 10)) == NEW_MAC
    drops(st, {"arp_not_for_us": 1})


def test_arp_entry_expires():
    st, peer = setup()
    learn_peer(st, 1000)
    assert bytes(st.arp.lookup(PEER_IP, 60999)) == PEER_MAC
    assert st.arp.lookup(PEER_IP, 61000) is None
    assert st.arp.entries(61000) == []
    assert st.arp.next_timeout(61000) == -1  # expiry is lazy: no timer
    drops(st, {})


def test_arp_expiry_is_configurable():
    st, peer = setup()
    st.arp.reachable_ms = 5000
    learn_peer(st, 0)
    assert st.arp.lookup(PEER_IP, 4999) is not None
    assert st.arp.lookup(PEER_IP, 5000) is None


def test_arp_relearning_extends_lifetime():
    st, peer = setup()
    learn_peer(st, 0)
    st.rx(reply_from(PEER_MAC, PEER_IP), 50000)
    assert st.arp.lookup(PEER_IP, 109999) is not None
    assert st.arp.lookup(PEER_IP, 110000) is None


def test_gratuitous_never_creates():
    st, peer = setup()
    st.rx(arp_frame(1, PEER_MAC, PEER_IP, ZERO_MAC, PEER_IP), 0)  # request form
    st.rx(arp_frame(2, PEER_MAC, PEER_IP, PEER_MAC, PEER_IP), 0)  # reply form
    assert st.arp.lookup(PEER_IP, 0) is None
    assert st.arp.entries() == []
    assert peer.frames() == []
    drops(st, {})


def test_gratuitous_updates_existing():
    st, peer = setup()
    learn_peer(st, 0)
    st.rx(arp_frame(1, NEW_MAC, PEER_IP, ZERO_MAC, PEER_IP), 10)
    assert bytes(st.arp.lookup(PEER_IP, 10)) == NEW_MAC
    st.rx(arp_frame(2, PEER_MAC, PEER_IP, BCAST_MAC, PEER_IP), 20)
    assert bytes(st.arp.lookup(PEER_IP, 20)) == PEER_MAC
    assert peer.frames() == []
    drops(st, {})


# -- ARP output ----------------------------------------------------------------
def test_output_cached():
    st, peer = setup()
    learn_peer(st, 0)
    assert send_ip(st, PEER_IP, 10) == 1
    assert peer.frames() == [expected_ip(PEER_MAC)]
    assert st.counters.c["tx_frames"] == 1
    no_leak(st)
    drops(st, {})


def test_output_takes_int_next_hop():
    st, peer = setup()
    learn_peer(st, 0)
    assert send_ip(st, 0x0A000202, 10) == 1
    assert peer.frames() == [expected_ip(PEER_MAC)]


def test_output_unresolved_sends_request():
    st, peer = setup()
    assert send_ip(st, PEER_IP, 0) == 0
    assert peer.frames() == [expected_request(PEER_IP)]
    assert st.counters.c["arp_requests_sent"] == 1
    assert st.arp.entries() == [(PEER_IP, None, "pending")]
    assert st.arp.next_timeout(0) == 1000
    assert st.arp.next_timeout(400) == 600
    no_leak(st)
    drops(st, {})


def test_queued_frame_flushed_on_reply():
    st, peer = setup()
    send_ip(st, PEER_IP, 0)
    peer.frames()
    st.rx(reply_from(PEER_MAC, PEER_IP), 30)
    assert peer.frames() == [expected_ip(PEER_MAC)]
    assert bytes(st.arp.lookup(PEER_IP, 30)) == PEER_MAC
    st.poll(1000)  # nothing left to retry
    assert peer.frames() == []
    assert st.arp.next_timeout(1000) == -1
    no_leak(st)
    drops(st, {})


def test_queued_frame_flushed_on_request_for_us():
    st, peer = setup()
    send_ip(st, PEER_IP, 0)
    peer.frames()
    st.rx(request_from_peer(), 30)
    out = peer.frames()
    assert out[0] == expected_ip(PEER_MAC)  # flushed while handling the request
    assert out[1][0:6] == PEER_MAC and out[1][20:22] == b"\x00\x02"  # then the reply
    assert len(out) == 2
    no_leak(st)
    drops(st, {})


def test_queued_frame_flushed_on_gratuitous():
    st, peer = setup()
    send_ip(st, PEER_IP, 0)
    peer.frames()
    st.rx(arp_frame(1, PEER_MAC, PEER_IP, ZERO_MAC, PEER_IP), 30)
    assert peer.frames() == [expected_ip(PEER_MAC)]
    drops(st, {})


def test_queue_newest_replaces_oldest():
    st, peer = setup()
    send_ip(st, PEER_IP, 0, b"\x45first")
    send_ip(st, PEER_IP, 100, b"\x45second")
    assert peer.frames() == [expected_request(PEER_IP)]  # one request only
    st.rx(reply_from(PEER_MAC, PEER_IP), 200)
    assert peer.frames() == [expected_ip(PEER_MAC, b"\x45second")]
    no_leak(st)
    drops(st, {"arp_queue_full": 1, "arp_rate_limited": 1})


def test_rate_limit_retries_and_give_up():
    st, peer = setup()
    req = expected_request(PEER_IP)
    send_ip(st, PEER_IP, 0)
    assert peer.frames() == [req]
    st.poll(999)
    assert peer.frames() == []
    send_ip(st, PEER_IP, 500)  # suppressed: replaces the queued frame
    assert peer.frames() == []
    st.poll(1000)
    assert peer.frames() == [req]
    assert st.arp.next_timeout(1000) == 1000
    send_ip(st, PEER_IP, 1500)
    st.poll(1999)
    assert peer.frames() == []
    st.poll(2000)
    assert peer.frames() == [req]
    assert st.counters.c["arp_requests_sent"] == 3
    st.poll(2999)
    assert st.counters.c["arp_unresolved"] == 0
    st.poll(3000)  # three requests unanswered: give up
    assert peer.frames() == []
    assert st.arp.entries(3000) == []
    assert st.arp.lookup(PEER_IP, 3000) is None
    assert st.arp.next_timeout(3000) == -1
    no_leak(st)
    drops(st, {"arp_unresolved": 1, "arp_rate_limited": 2, "arp_queue_full": 2})


def test_retry_interval_is_configurable():
    st, peer = setup()
    st.arp.retry_ms = 200
    st.arp.max_tries = 2
    send_ip(st, PEER_IP, 0)
    st.poll(200)
    st.poll(399)
    st.poll(400)
    assert len(peer.frames()) == 2
    drops(st, {"arp_unresolved": 1})


def test_output_after_interval_sends_request_itself():
    st, peer = setup()
    send_ip(st, PEER_IP, 0)
    send_ip(st, PEER_IP, 1000)  # before any poll: this output carries the retry
    assert peer.frames() == [expected_request(PEER_IP), expected_request(PEER_IP)]
    st.poll(1000)
    assert peer.frames() == []
    assert st.arp.next_timeout(1000) == 1000
    no_leak(st)
    drops(st, {"arp_queue_full": 1})


def test_new_resolution_after_give_up():
    st, peer = setup()
    send_ip(st, PEER_IP, 0)
    for t in (1000, 2000, 3000):
        st.poll(t)
    peer.frames()
    send_ip(st, PEER_IP, 3000)
    assert peer.frames() == [expected_request(PEER_IP)]
    st.rx(reply_from(PEER_MAC, PEER_IP), 3100)
    assert peer.frames() == [expected_ip(PEER_MAC)]
    drops(st, {"arp_unresolved": 1})


def test_expired_entry_resolved_again():
    st, peer = setup()
    learn_peer(st, 0)
    send_ip(st, PEER_IP, 60000)
    assert peer.frames() == [expected_request(PEER_IP)]
    st.rx(reply_from(PEER_MAC, PEER_IP), 60010)
    assert peer.frames() == [expected_ip(PEER_MAC)]
    drops(st, {})


def test_busy_entry_reconfirmed_by_unicast_before_expiry():
    st, peer = setup()
    learn_peer(st, 0)
    send_ip(st, PEER_IP, 56999)
    assert peer.frames() == [expected_ip(PEER_MAC)]
    send_ip(st, PEER_IP, 57000)  # last 3 s: re-confirm, sent straight to the MAC
    assert peer.frames() == [expected_ip(PEER_MAC), expected_request(PEER_IP, PEER_MAC)]
    send_ip(st, PEER_IP, 57500)  # at most one request per second
    assert peer.frames() == [expected_ip(PEER_MAC)]
    st.rx(reply_from(PEER_MAC, PEER_IP), 57600)
    assert bytes(st.arp.lookup(PEER_IP, 117599)) == PEER_MAC
    assert st.counters.c["arp_requests_sent"] == 1
    no_leak(st)
    drops(st, {})


def test_broadcast_next_hops_need_no_arp():
    st, peer = setup()
    assert send_ip(st, ip4("255.255.255.255"), 0) == 1
    assert send_ip(st, ip4("10.0.2.255"), 0) == 1
    assert peer.frames() == [expected_ip(BCAST_MAC), expected_ip(BCAST_MAC)]
    assert bytes(st.arp.lookup(ip4("10.0.2.255"))) == BCAST_MAC
    assert st.counters.c["arp_requests_sent"] == 0
    assert st.arp.entries() == []
    drops(st, {})


def test_multicast_next_hop_maps_to_group_mac():
    st, peer = setup()
    assert send_ip(st, ip4("224.0.0.251"), 0) == 1
    assert send_ip(st, ip4("239.129.2.3"), 0) == 1
    assert peer.frames() == [expected_ip(mac("01:00:5e:00:00:fb")),
                             expected_ip(mac("01:00:5e:01:02:03"))]
    drops(st, {})


def test_next_hop_zero_unresolved():
    st, peer = setup()
    assert send_ip(st, ZERO_IP, 0) == 0
    assert peer.frames() == []
    no_leak(st)
    drops(st, {"arp_unresolved": 1})


def _host(i):
    return bytes((10, 0, 2, 100 + i))


def test_table_bounded_lru_replaced():
    st, peer = setup()
    for i in range(16):
        st.rx(reply_from(PEER_MAC, _host(i)), i)
    assert len(st.arp.entries(20)) == 16
    assert send_ip(st, _host(0), 100) == 1  # host 100 is now in use
    st.rx(reply_from(PEER_MAC, bytes((10, 0, 2, 200))), 200)
    ips = [e[0] for e in st.arp.entries(200)]
    assert len(ips) == 16
    assert bytes((10, 0, 2, 200)) in ips
    assert _host(0) in ips
    assert _host(1) not in ips  # the oldest of those never used went
    drops(st, {})


def test_pending_entries_capped_at_half_the_table():
    st, peer = setup()
    for i in range(8):
        assert send_ip(st, _host(i), 0) == 0
    assert st.counters.c["arp_requests_sent"] == 8
    assert send_ip(st, _host(8), 0) == 0  # a ninth resolution is refused
    assert st.arp.send_request(_host(9), 0) is False
    assert st.counters.c["arp_requests_sent"] == 8
    assert len(st.arp.entries()) == 8
    # the gateway may always be resolved
    assert send_ip(st, PEER_IP, 0) == 0
    assert st.counters.c["arp_requests_sent"] == 9
    # the other half stays for resolved entries: a stranger's reply to us is learned
    st.rx(reply_from(NEW_MAC, bytes((10, 0, 2, 202))), 0)
    assert bytes(st.arp.lookup(bytes((10, 0, 2, 202)), 0)) == NEW_MAC
    # once the pending ones give up, new resolutions go through again
    for t in (1000, 2000, 3000):
        st.poll(t)
    assert send_ip(st, _host(8), 3000) == 0
    assert (_host(8), None, "pending") in st.arp.entries(3000)
    assert len(st.arp.entries(3000)) == 2  # and the stranger, still resolved
    no_leak(st)
    drops(st, {"arp_pending_limit": 2, "arp_unresolved": 9})


def test_pending_entries_are_never_replaced():
    st, peer = setup()
    st.arp.max_pending = 17  # no pending limit: the table itself refuses
    for i in range(16):
        send_ip(st, _host(i), 0)
    assert send_ip(st, bytes((10, 0, 2, 200)), 0) == 0
    assert st.arp.send_request(bytes((10, 0, 2, 201)), 0) is False
    # a reply from a stranger cannot push a pending resolution out either
    st.rx(reply_from(PEER_MAC, bytes((10, 0, 2, 202))), 0)
    assert st.arp.lookup(bytes((10, 0, 2, 202)), 0) is None
    assert [e[2] for e in st.arp.entries()] == ["pending"] * 16
    no_leak(st)
    drops(st, {"arp_table_full": 2})


def test_recently_used_entries_are_never_replaced():
    st, peer = setup()
    for i in range(16):
        st.rx(reply_from(PEER_MAC, _host(i)), 0)
    for i in range(16):
        assert send_ip(st, _host(i), 1000 + i) == 1
    peer.frames()
    # every entry was used within recent_ms (10 s): a new resolution finds no slot
    assert send_ip(st, bytes((10, 0, 2, 200)), 5000) == 0
    assert peer.frames() == []
    assert len([e for e in st.arp.entries(5000) if e[2] == "reachable"]) == 16
    drops(st, {"arp_table_full": 1})
    # ten seconds after its last use the least recently used one may go
    assert send_ip(st, bytes((10, 0, 2, 200)), 11000) == 0
    assert peer.frames() == [expected_request(bytes((10, 0, 2, 200)))]
    ips = [e[0] for e in st.arp.entries(11000)]
    assert _host(0) not in ips and _host(1) in ips
    no_leak(st)


def test_learned_strangers_go_before_entries_in_use():
    st, peer = setup()
    for i in range(8):
        st.rx(reply_from(PEER_MAC, _host(i)), 0)
        assert send_ip(st, _host(i), 1) == 1  # used, long ago by the end
    for i in range(8, 16):
        st.rx(reply_from(PEER_MAC, _host(i)), 50000)  # learned later, never used
    for k in range(8):
        st.rx(reply_from(PEER_MAC, bytes((10, 0, 2, 200 + k))), 50001)
    ips = [e[0] for e in st.arp.entries(50001)]
    for i in range(8):
        assert _host(i) in ips
    drops(st, {})


def test_gateway_pinned_while_it_answers():
    st, peer = setup()  # the gateway is 10.0.2.2 (PEER_IP)
    learn_peer(st, 0)  # learned, never used
    for i in range(15):
        st.rx(reply_from(PEER_MAC, _host(i)), 0)
    for k in range(40):  # strangers' replies churn the table
        st.rx(reply_from(NEW_MAC, bytes((10, 0, 2, 160 + k))), 100 + k)
    assert bytes(st.arp.lookup(PEER_IP, 200)) == PEER_MAC
    # a confirmation keeps it; unconfirmed for REACHABLE_MS it is an ordinary slot
    st.rx(reply_from(PEER_MAC, PEER_IP), 50000)
    st.rx(reply_from(NEW_MAC, bytes((10, 0, 2, 240))), 100000)
    assert bytes(st.arp.lookup(PEER_IP, 100000)) == PEER_MAC
    st.rx(reply_from(NEW_MAC, bytes((10, 0, 2, 241))), 110000)
    assert st.arp.lookup(PEER_IP, 110000) is None
    drops(st, {})


def test_send_request_rate_limited_and_gives_up_quietly():
    st, peer = setup()
    assert st.arp.send_request(PEER_IP, 0) is True
    assert st.arp.send_request(PEER_IP, 999) is False
    assert peer.frames() == [expected_request(PEER_IP)]
    for t in (1000, 2000, 3000):
        st.poll(t)
    assert len(peer.frames()) == 2
    assert st.arp.entries(3000) == []
    drops(st, {"arp_rate_limited": 1})  # no frame was queued: nothing unresolved


def test_announce_bytes():
    st, peer = setup()
    assert st.arp.announce(0) is True
    assert peer.frames() == [expected_request(OUR_IP)]
    assert st.counters.c["arp_requests_sent"] == 1
    no_leak(st)
    drops(st, {})


def test_no_tx_buffer():
    st, peer = setup()
    send_ip(st, PEER_IP, 0)  # pending, one frame queued
    held = []
    while True:
        b = st.nic.tx_buffer()
        if b is None:
            break
        held.append(b)
    assert st.arp.announce(0) is False
    st.poll(1000)  # the retry finds no buffer (still counts as a try)
    st.rx(reply_from(PEER_MAC, PEER_IP), 1100)  # the flush finds no buffer
    assert bytes(st.arp.lookup(PEER_IP, 1100)) == PEER_MAC
    assert st.counters.c["arp_requests_sent"] == 1
    drops(st, {"tx_no_buffer": 3})
    for b in held:
        st.nic.release(b)
    no_leak(st)


def test_arp_reply_in_place_through_padding_of_rx_buffer():
    # a second, shorter request reuses a receive slot dirty from a long frame
    st, peer = setup()
    for i in range(300):
        st.rx(eth_frame(OUR_MAC, PEER_MAC, 0x86DD, b"\x99" * 200), 0)
    st.rx(request_from_peer(), 0)
    out = peer.frames()
    assert out[-1][42:] == bytes(18)
    drops(st, {"eth_unknown_type": 300})
