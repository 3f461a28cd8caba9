# The DHCPv4 client (ethox_uk/stack/dhcp.py) against a test playing the
# server, on simulated time: message formats (RFC 2131 table 5), the
# retransmission backoff (§4.1), the RFC 5227 check and DECLINE, T1/T2
# renewal and rebinding, expiry, NAK, malformed replies, options taken.
import support
from support import counters_are, PEER_IP, PEER_MAC, OUR_MAC, BCAST_MAC, ALL_ONES
from dhcp_support import (OFFERED, ZERO4, arp_frames, bind, deliver, dhcp_stack, messages,
                          reply, run, start, u32b)
from ethox_uk.stack import dhcp as D
from ethox_uk.stack.config import Config


def _types(frames):
    return [m[2].msg_type() for m in messages(frames)]


def test_config_words():
    c = Config.from_words("ip=dhcp dns=10.0.2.3,10.0.2.4 dhcp_timeout=0 acd=0 hostname=box-1")
    assert c.dhcp and c.ip == ZERO4 and c.prefix == 0
    assert c.dns == [b"\x0a\x00\x02\x03", b"\x0a\x00\x02\x04"] and c.static_dns
    assert c.dhcp_timeout == 0 and c.acd_ms == 0 and c.hostname == b"box-1"
    c = Config.from_words("ip=10.0.2.15/24")
    assert not c.dhcp and c.dns == [] and c.dhcp_timeout == 30 and c.acd_ms == 7000
    c = Config.from_words("ip=10.0.2.15/24", dns="1.2.3.4")
    assert c.dns == [b"\x01\x02\x03\x04"]
    for bad in ("dns=10.0.2", "dns=224.0.0.1", "dns=0.0.0.0", "dns=1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4",
                "dhcp_timeout=x", "dhcp_timeout=-1", "acd=99999999", "hostname=-x",
                "hostname=a_b", "hostname=" + "a" * 64):
        e = support.raises(ValueError, Config.from_words, "ip=dhcp " + bad)
        assert bad.split("=")[0] in str(e), (bad, str(e))


def test_discover_format():
    stack, peer = dhcp_stack("ip=dhcp hostname=ethox")
    start(stack, 0)
    ms = messages(peer.frames())
    assert len(ms) == 1
    f, ip, d = ms[0]
    assert f[0:6] == BCAST_MAC and f[6:12] == OUR_MAC
    assert ip[12:16] == ZERO4 and ip[16:20] == ALL_ONES and len(ip) == 576
    assert d.op == 1 and d.htype == 1 and d.hlen == 6 and d.chaddr == OUR_MAC
    assert d.msg_type() == 1 and d.flags == 0x8000 and d.ciaddr == ZERO4
    assert d.option(61) == b"\x01" + OUR_MAC
    assert d.option(12) == b"ethox"
    params = d.option(55)
    for code in (1, 3, 6, 26, 51, 58, 59):
        assert code in params, code
    assert d.option(50) is None and d.option(54) is None
    counters_are(stack, dhcp_tx=1, udp_tx=1)


def test_exchange_binds_and_takes_options():
    stack, peer = dhcp_stack()
    c = start(stack, 0)
    d = messages(peer.frames())[0][2]
    sent = deliver(stack, peer, reply(d, 2), 5)
    rs = messages(sent)
    assert len(rs) == 1
    f, ip, req = rs[0]
    assert req.msg_type() == 3 and req.xid == d.xid and req.ciaddr == ZERO4
    assert req.option(50) == OFFERED and req.option(54) == PEER_IP
    assert f[0:6] == BCAST_MAC and ip[12:16] == ZERO4 and ip[16:20] == ALL_ONES
    assert c.state_name() == "requesting"
    sent = deliver(stack, peer, reply(req, 5, dns=(b"\x0a\x00\x02\x03", b"\x0a\x00\x02\x04")), 10)
    assert c.state_name() == "checking" and stack.ip_addr == ZERO4
    out = run(stack, peer, 10, 2000)
    probes = [(t, f) for t, f in out if f[12:14] == b"\x08\x06"]
    # 3 probes (RFC 5227: from 0.0.0.0, target the offered address), then 2
    # announcements (sender and target our address); acd=700 scales them all by 0.1
    assert len(probes) == 5, len(probes)
    for t, f in probes[:3]:
        assert f[0:6] == BCAST_MAC and f[28:32] == ZERO4 and f[38:42] == OFFERED
    for t, f in probes[3:]:
        assert f[0:6] == BCAST_MAC and f[28:32] == OFFERED and f[38:42] == OFFERED
    assert 190 <= probes[4][0] - probes[3][0] <= 210
    assert c.state_name() == "bound"
    cfg = stack.config
    assert stack.ip_addr == OFFERED and cfg.ip == OFFERED and cfg.prefix == 24
    assert cfg.gw == PEER_IP and cfg.dns == [b"\x0a\x00\x02\x03", b"\x0a\x00\x02\x04"]
    assert cfg.ready_line() == "ethox-uk: ready ip=10.0.2.99 mac=52:54:00:12:34:56"
    # the stack now answers on the address: a ping from the server
    ping = support.frame_in(support.ipv4_pkt(PEER_IP, OFFERED, 1, support.echo_req(7, 1, b"hi")))
    got = deliver(stack, peer, ping, 3010)
    assert len(got) == 1 and support.ip_of(got[0])[12:16] == OFFERED
    counters_are(stack, dhcp_tx=2, dhcp_rx=2, udp_tx=2, udp_rx=2, icmp_echo_replies=1,
                 arp_requests_sent=5)


def test_probe_timings_follow_rfc5227_by_default():
    stack, peer = dhcp_stack("ip=dhcp")
    start(stack, 0)
    d = messages(peer.frames())[0][2]
    req = messages(deliver(stack, peer, reply(d, 2), 5))[0][2]
    deliver(stack, peer, reply(req, 5), 10)
    out = run(stack, peer, 10, 12000)
    arps = [t for t, f in out if f[12:14] == b"\x08\x06"]
    assert len(arps) == 5, arps
    p1, p2, p3, a1, a2 = arps
    assert 10 <= p1 <= 1020  # PROBE_WAIT: 0-1 s
    assert 1000 <= p2 - p1 <= 2010 and 1000 <= p3 - p2 <= 2010  # PROBE_MIN..PROBE_MAX
    assert 2000 <= a1 - p3 <= 2020  # ANNOUNCE_WAIT
    assert 2000 <= a2 - a1 <= 2020  # ANNOUNCE_INTERVAL
    assert stack.dhcp.state_name() == "bound"


def test_discover_backoff_and_give_up():
    stack, peer = dhcp_stack("ip=dhcp dhcp_timeout=70")
    c = start(stack, 0)
    out = [(0, f) for f in peer.frames()]
    out += run(stack, peer, 10, 69950, step=50)
    assert c.state_name() == "selecting"
    out += run(stack, peer, 70000, 80000, step=50)
    ds = [(t, m[2]) for t, f in out for m in messages([f])]
    times = [t for t, r in ds]
    assert len(ds) == 5, times
    gaps = [times[i + 1] - times[i] for i in range(4)]
    for g, base in zip(gaps, (4000, 8000, 16000, 32000)):
        assert base - 1000 <= g <= base + 1050, (gaps, base)
    assert len(set([r.xid for t, r in ds])) == 1  # retransmissions keep the xid
    assert [r.secs for t, r in ds][1] >= 3
    assert c.state_name() == "failed" and c.timer_at == -1 and stack.next_timeout(80000) < 0
    msg = D.failure_message(c)
    assert "5 DISCOVERs within 70 s" in msg and "52:54:00:12:34:56" in msg, msg
    assert "status 5" in msg and "ip=A.B.C.D/PFX" in msg
    counters_are(stack, dhcp_tx=5, udp_tx=5)


def test_timeout_zero_keeps_asking():
    stack, peer = dhcp_stack("ip=dhcp dhcp_timeout=0")
    c = start(stack, 0)
    out = run(stack, peer, 10, 400000, step=500)
    assert c.state_name() == "selecting" and len(messages([f for t, f in out])) >= 7


def test_conflict_sends_decline_and_waits():
    stack, peer = dhcp_stack()
    c = start(stack, 0)
    d = messages(peer.frames())[0][2]
    req = messages(deliver(stack, peer, reply(d, 2), 5))[0][2]
    deliver(stack, peer, reply(req, 5), 10)
    out = run(stack, peer, 10, 150)  # the first probe goes out within 100 ms (acd=700)
    assert len(arp_frames([f for t, f in out])) == 1
    other = b"\x02\x00\x00\x00\x00\x99"
    claim = support.eth_frame(BCAST_MAC, other, 0x0806,
                              support.arp_body(2, other, OFFERED, OUR_MAC, ZERO4))
    sent = deliver(stack, peer, claim, 200)
    ms = messages(sent)
    assert len(ms) == 1, sent
    f, ip, dec = ms[0]
    assert dec.msg_type() == 4 and dec.option(50) == OFFERED and dec.option(54) == PEER_IP
    assert dec.ciaddr == ZERO4 and dec.option(55) is None and dec.option(51) is None
    assert ip[16:20] == ALL_ONES and ip[12:16] == ZERO4
    assert stack.ip_addr == ZERO4 and c.state_name() == "init"
    out = run(stack, peer, 210, 12000)
    ds = [(t, m[2]) for t, f in out for m in messages([f])]
    assert ds and 10200 <= ds[0][0] <= 10220 and ds[0][1].msg_type() == 1
    assert ds[0][1].xid != d.xid
    assert len(arp_frames([f for t, f in out])) == 0  # no probe while waiting
    counters_are(stack, dhcp_tx=4, dhcp_rx=2, udp_tx=4, udp_rx=2, dhcp_conflicts=1,
                 arp_requests_sent=1, arp_not_for_us=1)


def test_probe_from_another_host_is_a_conflict():
    stack, peer = dhcp_stack()
    start(stack, 0)
    d = messages(peer.frames())[0][2]
    req = messages(deliver(stack, peer, reply(d, 2), 5))[0][2]
    deliver(stack, peer, reply(req, 5), 10)
    other = b"\x02\x00\x00\x00\x00\x98"
    probe = support.eth_frame(BCAST_MAC, other, 0x0806,
                              support.arp_body(1, other, ZERO4, b"\x00" * 6, OFFERED))
    sent = deliver(stack, peer, probe, 20)
    assert [m[2].msg_type() for m in messages(sent)] == [4]


def test_own_probe_looped_back_is_no_conflict():
    stack2, peer2 = dhcp_stack()
    start(stack2, 0)
    d = messages(peer2.frames())[0][2]
    req = messages(deliver(stack2, peer2, reply(d, 2), 5))[0][2]
    deliver(stack2, peer2, reply(req, 5), 10)
    mine = support.eth_frame(BCAST_MAC, OUR_MAC, 0x0806,
                             support.arp_body(1, OUR_MAC, ZERO4, b"\x00" * 6, OFFERED))
    assert messages(deliver(stack2, peer2, mine, 20)) == []
    assert stack2.dhcp.state_name() == "checking"


def test_renew_at_t1_unicast_then_extended():
    stack, peer = dhcp_stack()
    t, _ = bind(stack, peer, lease=100)
    c = stack.dhcp
    out = run(stack, peer, t, 49000, step=100)
    assert messages([f for x, f in out]) == []
    out = run(stack, peer, 49100, 50200, step=10)
    ms = [(x, m) for x, f in out for m in messages([f])]
    assert len(ms) == 1
    when, (f, ip, req) = ms[0]
    assert 50000 <= when <= 50020 and c.state_name() == "renewing"  # T1 = lease/2 from the REQUEST
    assert f[0:6] == PEER_MAC and ip[12:16] == OFFERED and ip[16:20] == PEER_IP
    assert req.msg_type() == 3 and req.ciaddr == OFFERED and req.flags == 0
    assert req.option(50) is None and req.option(54) is None
    ack = reply(req, 5, lease=100, dst_ip=OFFERED, dst_mac=OUR_MAC)
    sent = deliver(stack, peer, ack, when + 5)
    assert c.state_name() == "bound" and stack.ip_addr == OFFERED
    assert arp_frames(sent) == []  # the same address: no new check, no announcement
    out = run(stack, peer, when + 10, when + 49000, step=100)
    assert messages([f for x, f in out]) == []
    assert stack.next_timeout(when + 49000) <= 1000


def test_rebind_at_t2_then_expiry_drops_the_address():
    stack, peer = dhcp_stack()
    t, _ = bind(stack, peer, lease=200)
    c = stack.dhcp
    out = run(stack, peer, t, 202000, step=100)
    ms = [(x, m[2], m[0]) for x, f in out for m in messages([f])]
    kinds = [(x // 1000, r.msg_type(), f[0:6] == BCAST_MAC) for x, r, f in ms]
    # T1 = 100 s: unicast REQUEST, again after 60 s (half the time to T2, at
    # least 60 s: RFC 2131 §4.4.5); T2 = 175 s: broadcast REQUEST (ciaddr set)
    assert kinds[:3] == [(100, 3, False), (160, 3, False), (175, 3, True)], kinds
    assert ms[2][1].ciaddr == OFFERED and ms[2][1].xid != ms[0][1].xid
    assert ms[1][1].xid == ms[0][1].xid
    # at 200 s the lease is over: the address goes, DISCOVER again from 0.0.0.0
    assert stack.ip_addr == ZERO4 and stack.config.gw is None
    assert kinds[-1][1] == 1 and 200 <= kinds[-1][0] <= 202, kinds
    assert c.state_name() == "selecting"


def test_nak_in_requesting_restarts():
    stack, peer = dhcp_stack()
    c = start(stack, 0)
    d = messages(peer.frames())[0][2]
    req = messages(deliver(stack, peer, reply(d, 2), 5))[0][2]
    assert deliver(stack, peer, reply(req, 6), 10) == []
    assert c.state_name() == "init" and stack.ip_addr == ZERO4
    out = run(stack, peer, 20, 1100)
    ds = [(x, m[2]) for x, f in out for m in messages([f])]
    assert len(ds) == 1 and ds[0][1].msg_type() == 1 and 1000 <= ds[0][0] <= 1020


def test_nak_while_renewing_drops_the_address():
    stack, peer = dhcp_stack()
    t, _ = bind(stack, peer, lease=100)
    out = run(stack, peer, t, 51000, step=100)
    req = [m[2] for x, f in out for m in messages([f])][0]
    deliver(stack, peer, reply(req, 6, dst_ip=OFFERED, dst_mac=OUR_MAC), 50200)
    assert stack.ip_addr == ZERO4 and stack.dhcp.state_name() == "init"


def test_malformed_and_foreign_replies_are_counted_drops():
    stack, peer = dhcp_stack()
    c = start(stack, 0)
    d = messages(peer.frames())[0][2]
    from ethox_uk.stack.wire.model.dhcp import Repr

    def raw(body):
        udp = support.udp_dgram(PEER_IP, ALL_ONES, 67, 68, body)
        return support.frame_in(support.ipv4_pkt(PEER_IP, ALL_ONES, 17, udp), dst_mac=BCAST_MAC)

    good = bytearray(Repr.parse(reply(d, 2)[42:]).emit())
    bad = [
        (raw(bytes(good[:200])), "dhcp_truncated"),
        (raw(bytes(good[:236]) + b"\x63\x82\x53\x64" + bytes(good[240:])), "dhcp_bad_format"),
        (raw(b"\x01" + bytes(good[1:])), "dhcp_bad_format"),
        (reply(d, 2, xid=d.xid ^ 1), "dhcp_not_ours"),
        (reply(d, 2, chaddr=b"\x02\x00\x00\x00\x00\x01"), "dhcp_not_ours"),
        (reply(d, 2, mask=b"\xff\x00\xff\x00"), "dhcp_bad_option"),
        (reply(d, 2, extra=[(26, b"\x00")]), "dhcp_bad_option"),
        (reply(d, 2, extra=[(26, b"\x00\x20")]), "dhcp_bad_option"),
        (reply(d, 2, router=b"\x0a\x00\x02"), "dhcp_bad_option"),
        (reply(d, 2, options=[(53, b"\x02"), (54, PEER_IP), (51, b"\x00\x00")]),
         "dhcp_bad_option"),
        (reply(d, 2, options=[(54, PEER_IP)]), "dhcp_bad_option"),  # BOOTP: no type
        (reply(d, 2, options=[(53, b"\x09")]), "dhcp_bad_option"),
        (reply(d, 2, yiaddr=ZERO4), "dhcp_bad_reply"),
        (reply(d, 2, yiaddr=b"\xe0\x00\x00\x01"), "dhcp_bad_reply"),
        (reply(d, 2, yiaddr=b"\x7f\x00\x00\x01"), "dhcp_bad_reply"),
        (reply(d, 2, server=None), "dhcp_bad_reply"),
        (reply(d, 5), "dhcp_unexpected"),  # an ACK while selecting
    ]
    # an option whose length runs past the message
    cut = bytearray(good)
    cut[240:] = bytes(len(cut) - 240)
    cut[240:243] = b"\x35\x01\x02"
    cut[243] = 3
    cut[244] = 250
    bad.append((raw(bytes(cut)), "dhcp_bad_option"))
    expect = {}
    for frame, reason in bad:
        assert deliver(stack, peer, frame, 10) == [], reason
        expect[reason] = expect.get(reason, 0) + 1
        assert stack.counters[reason] == expect[reason], reason
        assert c.state_name() == "selecting", reason
    expect["dhcp_rx"] = 2  # the ACK and the bad-reply OFFERs pass the checks ...
    expect["dhcp_rx"] = stack.counters["dhcp_rx"]
    counters_are(stack, dhcp_tx=1, udp_tx=1, udp_rx=len(bad), **expect)
    # ... and a good OFFER still goes through afterwards
    assert _types(deliver(stack, peer, reply(d, 2), 20)) == [3]


def test_ack_checks_in_requesting():
    stack, peer = dhcp_stack("ip=dhcp acd=700 dhcp_timeout=0")
    c = start(stack, 0)
    d = messages(peer.frames())[0][2]
    req = messages(deliver(stack, peer, reply(d, 2), 5))[0][2]
    for frame in (reply(req, 5, yiaddr=b"\x0a\x00\x02\x64"),  # not what was offered
                  reply(req, 5, lease=None),  # no lease time
                  reply(req, 5, server=b"\x0a\x00\x02\x03"),  # another server's
                  reply(req, 6, server=b"\x0a\x00\x02\x03")):  # ... NAK: not ours either
        deliver(stack, peer, frame, 10)
        assert c.state_name() == "requesting"
    assert stack.counters["dhcp_bad_reply"] == 3 and stack.counters["dhcp_unexpected"] == 1
    # REQUEST retransmitted with backoff; after REQUEST_TRIES, back to DISCOVER
    out = run(stack, peer, 20, 70000, step=50)
    kinds = [(x, m[2].msg_type()) for x, f in out for m in messages([f])]
    assert [k for x, k in kinds][:4] == [3, 3, 3, 1], kinds


def test_options_in_file_field_and_defaults():
    stack, peer = dhcp_stack("ip=dhcp acd=0 gw=10.0.2.2")
    start(stack, 0)
    d = messages(peer.frames())[0][2]
    req = messages(deliver(stack, peer, reply(d, 2), 5))[0][2]
    from ethox_uk.stack.wire.model.dhcp import Repr

    # option 52 = 1: the lease time and mask sit in `file`; no router: gw= stands in
    r = Repr(op=2, xid=req.xid, chaddr=req.chaddr, yiaddr=OFFERED,
             options=[(53, b"\x05"), (54, PEER_IP), (52, b"\x01")])
    body = bytearray(r.emit())
    body[108:108 + 13] = b"\x33\x04" + u32b(600) + b"\x01\x04\xff\xff\x00\x00\xff"
    udp = support.udp_dgram(PEER_IP, ALL_ONES, 67, 68, bytes(body))
    deliver(stack, peer, support.frame_in(support.ipv4_pkt(PEER_IP, ALL_ONES, 17, udp),
                                          dst_mac=BCAST_MAC), 10)
    c = stack.dhcp
    assert c.state_name() == "bound" and c.lease == 600 and c.t1 == 300 and c.t2 == 525
    assert stack.config.prefix == 16 and stack.config.gw == PEER_IP  # the gw= word
    assert stack.config.dns == [] and stack.config.mtu == 1500


def test_off_link_router_ignored_and_classful_mask():
    stack, peer = dhcp_stack("ip=dhcp acd=0")
    t, _ = bind(stack, peer, mask=None, router=b"\xc0\xa8\x01\x01")
    assert stack.config.prefix == 8  # 10/8 without a subnet mask option
    assert stack.config.gw is None  # 192.168.1.1 is not on 10/8


def test_mtu_option_fragments_at_the_link_mtu():
    stack, peer = dhcp_stack("ip=dhcp acd=0")
    t, _ = bind(stack, peer, extra=[(26, b"\x05\x00")])  # 1280
    assert stack.config.mtu == 1280 and stack.ip.mtu == 1280
    from ethox_uk.stack import services

    services.serve_udp_echo(stack)
    support.prime_arp(stack, peer, t)
    data = bytes(range(256)) * 5 + b"x" * 100  # 1380 bytes: over 1280 - 28
    udp = support.udp_dgram(PEER_IP, OFFERED, 4000, 7, data)
    got = deliver(stack, peer, support.frame_in(support.ipv4_pkt(PEER_IP, OFFERED, 17, udp)),
                  t + 10)
    assert len(got) == 2 and max(len(f) for f in got) <= 14 + 1280
    hdr, payload = support.defrag(got)
    assert payload[8:] == data


def test_infinite_lease_and_idle_client_not_polled():
    stack, peer = dhcp_stack("ip=dhcp acd=0")
    t, _ = bind(stack, peer, lease=0xFFFFFFFF)
    c = stack.dhcp
    run(stack, peer, t, t + 3000)  # the second announcement
    assert c.timer_at == -1 and stack.next_timeout(t + 3000) == -1
    calls = []
    orig = c.poll

    def spy(now):
        calls.append(now)
        orig(now)

    c.poll = spy
    run(stack, peer, t + 3000, t + 60000, step=100)
    assert calls == []


def test_log_lines_and_bound_idle_timer():
    lines = []
    stack, peer = dhcp_stack("ip=dhcp acd=0")
    c = start(stack, 0, log=lines.append)
    d = messages(peer.frames())[0][2]
    req = messages(deliver(stack, peer, reply(d, 2), 5))[0][2]
    deliver(stack, peer, reply(req, 5, lease=1000), 10)
    assert lines == ["ethox-uk: dhcp: bound 10.0.2.99/24 gw 10.0.2.2 dns 10.0.2.2, lease "
                     "1000 s from 10.0.2.2"], lines
    run(stack, peer, 10, 3000)
    assert 496000 <= stack.next_timeout(3000) <= 497100  # nothing until T1 = 500 s


# -- the test-only fault switches (negative controls): each misbehaves as named ---------
def _fstack(fault, words="ip=dhcp acd=700"):
    from ethox_uk.stack import faults

    stack, peer = dhcp_stack(words)
    stack.faults = faults.parse(fault)
    return stack, peer


def test_fault_dhcp_no_probe_and_no_renew():
    stack, peer = _fstack("dhcp_no_probe,dhcp_no_renew")
    c = start(stack, 0)
    d = messages(peer.frames())[0][2]
    req = messages(deliver(stack, peer, reply(d, 2), 5))[0][2]
    deliver(stack, peer, reply(req, 5, lease=20), 10)
    assert c.state_name() == "bound"  # at the ACK: no probe
    out = run(stack, peer, 20, 40000, step=100)
    assert messages([f for t, f in out]) == [] and stack.ip_addr == OFFERED  # past the lease


def test_fault_dhcp_any_xid_fast_retry_ignore_nak():
    stack, peer = _fstack("dhcp_any_xid,dhcp_fast_retry,dhcp_ignore_nak")
    c = start(stack, 0)
    out = run(stack, peer, 10, 2500)
    assert len(messages([f for t, f in out])) == 3  # at 0, 1 and 2 s
    d = messages([out[0][1]])[0][2]
    sent = deliver(stack, peer, reply(d, 2, xid=d.xid ^ 7, chaddr=b"\x02" * 6), 2600)
    assert _types(sent) == [3]  # a foreign OFFER taken
    deliver(stack, peer, reply(messages(sent)[0][2], 6), 2610)
    assert c.state_name() == "requesting"  # the NAK ignored


def test_fault_dhcp_no_server_id_and_zero_chaddr():
    stack, peer = _fstack("dhcp_no_server_id,dhcp_zero_chaddr")
    start(stack, 0)
    d = messages(peer.frames())[0][2]
    assert d.chaddr == bytes(6)
    req = messages(deliver(stack, peer, reply(d, 2, chaddr=OUR_MAC), 5))[0][2]
    assert req.chaddr == bytes(6) and req.option(54) is None
    stack, peer = _fstack("dhcp_no_server_id")
    start(stack, 0)
    d = messages(peer.frames())[0][2]
    req = messages(deliver(stack, peer, reply(d, 2), 5))[0][2]
    assert req.msg_type() == 3 and req.option(54) is None and req.option(50) is None
