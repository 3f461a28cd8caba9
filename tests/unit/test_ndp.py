# layer/ndp.py and mld.py: start-up (MLD report, DAD, router solicitation),
# solicitations and advertisements (RFC 4861 §7), the neighbour cache's states
# and bounds, router advertisements and SLAAC (RFC 4862 §5.5), DAD conflicts,
# MLDv2 queries (RFC 3810).
from support import OUR_MAC, PEER_MAC, u16
from support6 import (ALL_NODES, ALL_ROUTERS, MLD_ROUTERS, OUR_GLOBAL, OUR_LL, OUR_SN, PEER_GLOBAL,
                      PEER_LL, PREFIX, UNSPEC, a6, echo6, frame6, icmp6, icmp6_of, ip6_of,
                      ipv6_pkt, is6, learn_peer, mcast_mac, na, ns, of_type, pio, ra, run, rx,
                      settled, sllao, stack6, u32)

from ethox_uk.stack.layer import ndp

OTHER_MAC = b"\x52\x54\x00\x00\x00\x09"


def _drops(s, **expect):
    c = s.counters
    assert c["internal_error"] == 0, s.last_error
    for k, v in expect.items():
        assert c[k] == v, "%s = %d, expected %d (drops %r)" % (k, c[k], v, c.drops())


def _hbh_icmp(f):
    """The ICMPv6 message behind a Hop-by-Hop header (MLD reports)."""
    p = ip6_of(f)
    assert p[6] == 0 and p[40] == 58
    hl = (p[41] + 1) * 8
    return p[40 + hl:]


def test_startup_reports_solicits_and_probes_in_order():
    s, peer = stack6()
    out = run(s, peer, 0, 13000)
    assert all(is6(f) for f in out)
    # MLDv2: CHANGE_TO_EXCLUDE for our solicited-node group, from ::, hop limit 1,
    # with a Router Alert; sent again once (robustness 2)
    reps = [f for f in out if ip6_of(f)[6] == 0]
    assert len(reps) == 2
    p = ip6_of(reps[0])
    assert p[7] == 1 and p[24:40] == MLD_ROUTERS and p[8:24] == UNSPEC
    assert reps[0][0:6] == mcast_mac(MLD_ROUTERS)
    assert p[42:44] == b"\x05\x02"  # Router Alert
    m = _hbh_icmp(reps[0])
    assert m[0] == 143 and m[6:8] == u16(1) and m[8] == 4 and m[12:28] == OUR_SN
    # DAD: one solicitation from ::, to the solicited-node group, no option
    dad = of_type(out, 135)
    assert len(dad) == 1
    p = ip6_of(dad[0])
    assert p[8:24] == UNSPEC and p[24:40] == OUR_SN and p[7] == 255 and len(p) == 40 + 24
    assert p[48:64] == OUR_LL
    # then three router solicitations from the link-local, 4 s apart, with our MAC
    rs = of_type(out, 133)
    assert len(rs) == 3
    p = ip6_of(rs[0])
    assert p[8:24] == OUR_LL and p[24:40] == ALL_ROUTERS and p[48:56] == sllao(1, OUR_MAC)
    assert out.index(dad[0]) < out.index(rs[0])
    assert s.ip6.link_local() == OUR_LL
    _drops(s, nd_rs_sent=3, nd_ns_sent=1, mld_reports_sent=2)


def test_solicitation_answered_with_a_solicited_override_advertisement():
    s, peer, _ = settled()
    f = frame6(ns(PEER_LL, OUR_SN, OUR_LL, sllao(1, PEER_MAC)), mcast_mac(OUR_SN))
    out = rx(s, peer, f, 2100)
    assert len(out) == 1
    p = ip6_of(out[0])
    assert out[0][0:6] == PEER_MAC and p[8:24] == OUR_LL and p[24:40] == PEER_LL and p[7] == 255
    t, code, m = icmp6_of(out[0])
    assert t == 136 and m[4] == 0x60 and m[8:24] == OUR_LL and m[24:32] == sllao(2, OUR_MAC)
    e = s.nd.entries(2100)
    assert e == [(PEER_LL, PEER_MAC, "stale", False)]
    _drops(s, nd_na_sent=1)


def test_dad_probe_for_our_address_is_answered_to_all_nodes():
    s, peer, _ = settled()
    out = rx(s, peer, frame6(ns(UNSPEC, OUR_SN, OUR_LL), mcast_mac(OUR_SN)), 2100)
    assert len(out) == 1
    p = ip6_of(out[0])
    assert p[24:40] == ALL_NODES and out[0][0:6] == mcast_mac(ALL_NODES)
    assert icmp6_of(out[0])[2][4] == 0x20  # override, not solicited
    assert s.nd.entries(2100) == []  # nothing learnt from ::


def test_invalid_solicitations_are_dropped():
    s, peer, _ = settled()
    bad = (
        ns(PEER_LL, OUR_SN, OUR_LL, sllao(1, PEER_MAC), hops=64),  # hop limit not 255
        ns(PEER_LL, OUR_SN, OUR_LL, sllao(1, PEER_MAC), code=1),
        ns(PEER_LL, OUR_SN, ALL_NODES),  # a group as target
        ns(PEER_LL, OUR_SN, OUR_LL, bytes((1, 0)) + bytes(6)),  # option of length 0
        ns(UNSPEC, OUR_LL, OUR_LL),  # from :: but not to the solicited-node group
        ns(UNSPEC, OUR_SN, OUR_LL, sllao(1, PEER_MAC)),  # from :: with a link-layer option
    )
    for p in bad:
        dst = p[24:40]
        assert rx(s, peer, frame6(p, mcast_mac(dst) if dst[0] == 0xFF else OUR_MAC), 2100) == []
    assert rx(s, peer, frame6(ns(PEER_LL, OUR_SN, a6("fe80::77")), mcast_mac(OUR_SN)), 2100) == []
    _drops(s, nd_bad_message=6, nd_not_for_us=1, nd_na_sent=0)


def _resolve_start(s, peer, now, dst=PEER_LL):
    """Send an echo request to dst: the stack solicits it; returns the frames."""
    s.icmp6.ping(dst, 1, 1, b"queued", now)
    s.nic.flush()
    return peer.frames()


def test_resolution_queues_one_packet_and_sends_it_on_the_advertisement():
    s, peer, _ = settled()
    out = _resolve_start(s, peer, 3000)
    assert len(out) == 1
    p = ip6_of(out[0])
    assert p[24:40] == a6("ff02::1:ff00:2") and icmp6_of(out[0])[0] == 135
    assert p[8:24] == OUR_LL and icmp6_of(out[0])[2][24:32] == sllao(1, OUR_MAC)
    assert s.nd.entries(3000)[0][2] == "incomplete"
    out = rx(s, peer, frame6(na(PEER_LL, OUR_LL, PEER_LL, 0x60, sllao(2, PEER_MAC))), 3100)
    assert len(out) == 1 and out[0][0:6] == PEER_MAC and icmp6_of(out[0])[0] == 128
    assert s.nd.entries(3100) == [(PEER_LL, PEER_MAC, "reachable", False)]


def test_unanswered_resolution_gives_up_after_three_solicitations():
    s, peer, _ = settled()
    out = _resolve_start(s, peer, 3000)
    out += run(s, peer, 3010, 7000, 100)
    assert len(of_type(out, 135)) == 3
    assert s.nd.entries(7000) == []
    _drops(s, nd_unresolved=1)


def test_stale_then_delay_then_unicast_probes_then_gone():
    s, peer, _ = settled()
    learn_peer(s, peer, 2100)  # STALE
    s.icmp6.ping(PEER_LL, 1, 1, b"x", 2200)  # sent at once, entry to DELAY
    s.nic.flush()
    out = peer.frames()
    assert len(out) == 1 and out[0][0:6] == PEER_MAC
    assert s.nd.entries(2200)[0][2] == "delay"
    out = run(s, peer, 2300, 7300, 100)
    assert s.nd.entries(7300)[0][2] == "probe"
    probes = of_type(out, 135)
    assert len(probes) == 1 and probes[0][0:6] == PEER_MAC  # unicast
    assert ip6_of(probes[0])[24:40] == PEER_LL
    out = run(s, peer, 7400, 11000, 100)
    assert len(of_type(out, 135)) == 2 and s.nd.entries(11000) == []


def test_advertisement_rules_of_7_2_5():
    s, peer, _ = settled()
    learn_peer(s, peer, 2100)
    # solicited: REACHABLE
    rx(s, peer, frame6(na(PEER_LL, OUR_LL, PEER_LL, 0x40)), 2200)
    assert s.nd.entries(2200) == [(PEER_LL, PEER_MAC, "reachable", False)]
    # no override, another MAC: the entry only goes STALE, the MAC stays
    rx(s, peer, frame6(na(PEER_LL, OUR_LL, PEER_LL, 0x40, sllao(2, OTHER_MAC))), 2300)
    assert s.nd.entries(2300) == [(PEER_LL, PEER_MAC, "stale", False)]
    # override: the new MAC wins; unsolicited: STALE; R flag noted
    rx(s, peer, frame6(na(PEER_LL, ALL_NODES, PEER_LL, 0xA0, sllao(2, OTHER_MAC)),
                       mcast_mac(ALL_NODES)), 2400)
    assert s.nd.entries(2400) == [(PEER_LL, OTHER_MAC, "stale", True)]
    # an advertisement to a group with S set is invalid; one for nobody we know is ignored
    rx(s, peer, frame6(na(PEER_LL, ALL_NODES, PEER_LL, 0x40), mcast_mac(ALL_NODES)), 2500)
    rx(s, peer, frame6(na(PEER_LL, OUR_LL, a6("fe80::88"), 0x60, sllao(2, PEER_MAC))), 2500)
    assert len(s.nd.entries(2500)) == 1
    _drops(s, nd_bad_message=1)


def test_pending_resolutions_are_capped():
    s, peer, _ = settled()
    for k in range(ndp.PENDING + 2):
        s.icmp6.ping(a6("fe80::%x" % (0x100 + k)), 1, 1, b"x", 3000)
    st = [e[2] for e in s.nd.entries(3000)]
    assert st.count("incomplete") == ndp.PENDING
    _drops(s, nd_pending_full=2)


def test_unasked_entries_never_evict_ones_in_use():
    s, peer, _ = settled()
    # fill the cache with neighbours we talk to
    for k in range(ndp.SIZE):
        addr = a6("fe80::%x" % (0x200 + k))
        learn_peer(s, peer, 3000, src=addr, mac=b"\x52\x54\x00\x00\x02" + bytes((k,)))
        s.icmp6.ping(addr, 1, 1, b"x", 3000)
    assert len(s.nd.entries(3000)) == ndp.SIZE
    s.nic.flush()
    peer.frames()
    # a flood of solicitations from new addresses: answered, but nothing is evicted
    for k in range(40):
        addr = a6("fe80::%x" % (0x900 + k))
        out = rx(s, peer, frame6(ns(addr, OUR_SN, OUR_LL, sllao(1, OTHER_MAC)),
                                 mcast_mac(OUR_SN), OTHER_MAC), 4000)
        assert len(out) == 1
    kept = [e[0] for e in s.nd.entries(4000)]
    assert kept == [a6("fe80::%x" % (0x200 + k)) for k in range(ndp.SIZE)]
    _drops(s, nd_table_full=40)
    # once they have not been used for PROTECT_MS, a newcomer may take the oldest
    learn_peer(s, peer, 3000 + ndp.PROTECT_MS + 1, src=a6("fe80::999"), mac=OTHER_MAC)
    assert a6("fe80::999") in [e[0] for e in s.nd.entries(40000)]


def test_dad_conflicts_give_the_address_up():
    # a solicitation from :: for our tentative address: someone else is claiming it
    s, peer = stack6()
    s.poll(0)
    peer.frames()
    rx(s, peer, frame6(ns(UNSPEC, OUR_SN, OUR_LL), mcast_mac(OUR_SN), OTHER_MAC), 5)
    assert s.ip6.astate[0] == 0 and s.nd.disabled
    out = run(s, peer, 10, 3000)
    assert of_type(out, 133) == []  # no router solicitation without a link-local
    _drops(s, nd_dad_failed=1)
    # an advertisement for it: the same
    s, peer = stack6(ip6="2001:db8::15/64")
    s.poll(0)
    rx(s, peer, frame6(na(PEER_LL, ALL_NODES, a6("2001:db8::15"), 0x20, sllao(2, OTHER_MAC)),
                       mcast_mac(ALL_NODES), OTHER_MAC), 5)
    assert s.ip6.find_addr(a6("2001:db8::15"), 0) < 0 and not s.nd.disabled
    _drops(s, nd_dad_failed=1)
    # our own solicitation handed back (a reflecting link) is not a conflict
    s, peer = stack6()
    s.poll(0)
    rx(s, peer, frame6(ns(UNSPEC, OUR_SN, OUR_LL), mcast_mac(OUR_SN), OUR_MAC), 5)
    run(s, peer, 10, 2100)
    assert s.ip6.link_local() == OUR_LL
    _drops(s, nd_dad_failed=0)


def _ra(opts=b"", **kw):
    return frame6(ra(PEER_LL, sllao(1, PEER_MAC) + opts, **kw), mcast_mac(ALL_NODES))


def test_router_advertisement_gives_router_mtu_prefix_and_an_address():
    s, peer, _ = settled()
    mtu = bytes((5, 1, 0, 0)) + u32(1400)
    rx(s, peer, _ra(mtu + pio(PREFIX), cur_hops=77, reachable=20000, retrans=500), 2100)
    assert s.ip6.default_router() == PEER_LL and s.ip6.mtu == 1400 and s.ip6.hops == 77
    assert s.nd.retrans_ms == 500 and 10000 <= s.nd.reachable_ms <= 30000
    assert s.nd.entries(2100) == [(PEER_LL, PEER_MAC, "stale", True)]
    assert s.ip6.on_link(PEER_GLOBAL) and not s.ip6.on_link(a6("2001:db8:2::1"))
    i = s.ip6.find_addr(OUR_GLOBAL, 0)
    assert i > 0 and s.ip6.astate[i] == 1  # tentative while DAD runs
    out = run(s, peer, 2200, 4200, 50)
    assert s.ip6.astate[i] == 2 and s.ip6.preferred_global() == OUR_GLOBAL
    assert [ip6_of(f)[48:64] for f in of_type(out, 135)] == [OUR_GLOBAL]  # its DAD probe
    assert of_type(out, 133) == []  # the router answered: no more solicitations
    # off-link destinations go to the router's MAC, from the global address
    s.icmp6.ping(a6("2001:db8:2::1"), 1, 1, b"far", 4300)
    s.nic.flush()
    out = peer.frames()
    assert out[0][0:6] == PEER_MAC and ip6_of(out[0])[8:24] == OUR_GLOBAL


def test_invalid_advertisements_and_prefixes_are_ignored():
    s, peer, _ = settled()
    rx(s, peer, frame6(ra(PEER_GLOBAL, pio(PREFIX)), mcast_mac(ALL_NODES)), 2100)  # not link-local
    rx(s, peer, _ra(pio(PREFIX), hops=64), 2100)
    for opt in (pio(a6("fe80::")), pio(PREFIX, plen=48), pio(PREFIX, valid=100, pref=200),
                pio(PREFIX, flags=0x80)):
        rx(s, peer, _ra(opt), 2100)
    assert s.ip6.preferred_global() is None and s.ip6.astate[1:] == b"\x00\x00\x00"
    _drops(s, nd_bad_message=2, nd_prefix_ignored=1)


def test_static_mode_takes_the_router_but_no_address():
    s, peer, _ = settled(ip6="2001:db8:9::15/64")
    rx(s, peer, _ra(pio(PREFIX)), 2100)
    assert s.ip6.default_router() == PEER_LL
    assert s.ip6.find_addr(OUR_GLOBAL, 0) < 0
    assert s.ip6.preferred_global() == a6("2001:db8:9::15")


def test_lifetimes_and_the_two_hour_rule():
    s, peer, _ = settled()
    rx(s, peer, _ra(pio(PREFIX, valid=10000, pref=20)), 2100)
    i = s.ip6.find_addr(OUR_GLOBAL, 0)
    run(s, peer, 2200, 4200, 100)
    # a forged short valid lifetime is raised to two hours
    rx(s, peer, _ra(pio(PREFIX, valid=30, pref=10)), 4300)
    assert s.ip6.avalid[i] == 4300 + 7200 * 1000
    # preferred lifetime over: deprecated, still ours, no longer the source
    s.poll(4300 + 10001)
    assert s.ip6.astate[i] == 3 and s.ip6.preferred_global() is None
    assert s.ip6.select_source(a6("2001:db8:2::1")) == OUR_GLOBAL  # deprecated beats none
    # valid lifetime over: gone, and so is its solicited-node group (same as the LL's: kept)
    s.poll(4300 + 7200 * 1000 + 1)
    assert s.ip6.find_addr(OUR_GLOBAL, 0) < 0
    assert s.ip6.is_member(OUR_SN, 0)


def test_mld_answers_queries_and_reports_leaves():
    s, peer, _ = settled()
    q = icmp6(PEER_LL, ALL_NODES, 130, 0, u16(1000) + u16(0) + bytes(16) + bytes(4))
    out = rx(s, peer, frame6(ipv6_pkt(PEER_LL, ALL_NODES, 58, q, hops=1), mcast_mac(ALL_NODES)),
             3000)
    assert out == []  # answered after a random delay below 1000 ms
    out = run(s, peer, 3010, 4010)
    reps = [f for f in out if ip6_of(f)[6] == 0]
    assert len(reps) == 1
    m = _hbh_icmp(reps[0])
    assert m[0] == 143 and m[8] == 2 and m[12:28] == OUR_SN  # MODE_IS_EXCLUDE
    assert ip6_of(reps[0])[8:24] == OUR_LL
    # queries from a global source or with another hop limit are invalid
    for src, hops in ((PEER_GLOBAL, 1), (PEER_LL, 64)):
        q = icmp6(src, ALL_NODES, 130, 0, u16(10) + u16(0) + bytes(16) + bytes(4))
        rx(s, peer, frame6(ipv6_pkt(src, ALL_NODES, 58, q, hops=hops), mcast_mac(ALL_NODES)), 5000)
    assert [f for f in run(s, peer, 5010, 6000) if ip6_of(f)[6] == 0] == []
    _drops(s, mld_bad_query=2)
    # an address whose group is its own: leaving it reports CHANGE_TO_INCLUDE
    i = s.ip6.add_address(a6("2001:db8::77"), 64, 7000)
    run(s, peer, 7000, 9000)
    s.ip6.remove_address(i, 9100)
    s.nic.flush()
    out = [f for f in peer.frames() if ip6_of(f)[6] == 0]
    assert len(out) == 1
    m = _hbh_icmp(out[0])
    assert m[8] == 3 and m[12:28] == a6("ff02::1:ff00:77")
