# wire/ipv6.py and wire/icmp6.py: address text forms (RFC 4291 §2.2, RFC 5952),
# the header check, option actions (RFC 8200 §4.2), group and identifier
# helpers, the ICMPv6 checksum over the pseudo-header, Repr round trips.
from support import raises
from support6 import a6, ipv6_pkt, echo6, OUR_LL, PEER_LL

from ethox_uk.stack.config import Config, format_ip6, parse_ip6
from ethox_uk.stack.wire import icmp6 as m6
from ethox_uk.stack.wire import ipv6 as w6
from ethox_uk.stack.wire.model.ipv6 import Packet, Repr


def test_address_text_round_trip():
    for text, canon in (("::", "::"), ("::1", "::1"), ("2001:DB8::15", "2001:db8::15"),
                        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
                        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
                        ("2001:0:0:1::", "2001:0:0:1::"), ("fe80::1:0:0:0", "fe80::1:0:0:0"),
                        ("::ffff:1.2.3.4", "::ffff:102:304")):
        b = parse_ip6(text)
        assert len(b) == 16
        assert format_ip6(b) == canon, (text, format_ip6(b))
        assert parse_ip6(format_ip6(b)) == b


def test_bad_addresses_are_refused_with_the_text():
    for bad in ("1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", ":::", "g::", "1:2", "-1::",
                "1:2:3:4:5:6:7::8", "", "1.2.3.4", "::1.2.3"):
        e = raises(ValueError, parse_ip6, bad)
        assert "bad IPv6 address" in str(e)


def test_config_ip6_words():
    c = Config.from_words("ip=10.0.2.15/24")
    assert c.ip6_mode == "auto" and c.ip6 is None and c.gw6 is None
    c = Config.from_words("ip6=2001:db8::15/48 gw6=fe80::1")
    assert c.ip6_mode == "static" and c.ip6 == a6("2001:db8::15") and c.prefix6 == 48
    assert c.gw6 == a6("fe80::1")
    assert Config.from_words("ip6=off").ip6_mode == "off"
    assert Config.from_words("ip6=2001:db8::15").prefix6 == 64
    for words, part in (("ip6=2001:db8::/129", "1-128"), ("ip6=ff02::1/64", "unicast"),
                        ("ip6=nonsense", "ip6=auto"), ("gw6=ff02::2", "gw6="),
                        ("gw6=1::2::3", "gw6=1::2::3"), ("ip6=::/64", "unicast")):
        e = raises(ValueError, Config.from_words, words)
        assert part in str(e), (words, str(e))


def test_ready_line_carries_ip6_after_the_prefix():
    c = Config.from_words("")
    assert c.ready_line() == "ethox-uk: ready ip=10.0.2.15 mac=52:54:00:12:34:56"
    assert c.ready_line((OUR_LL, 64)) == ("ethox-uk: ready ip=10.0.2.15 mac=52:54:00:12:34:56 "
                                          "ip6=fe80::5054:ff:fe12:3456/64")


def test_header_check():
    p = ipv6_pkt(PEER_LL, OUR_LL, 59, b"12345678")
    assert w6.check(p, 0, len(p)) is None
    assert w6.check(p, 0, 39) == "ipv6_truncated"
    assert w6.check(p, 0, len(p) - 1) == "ipv6_bad_length"
    assert w6.check(ipv6_pkt(PEER_LL, OUR_LL, 59, b"", version=4), 0, 40) == "ipv6_bad_version"
    assert w6.check(ipv6_pkt(PEER_LL, OUR_LL, 59, b"", plen=1), 0, 40) == "ipv6_bad_length"


def test_option_actions():
    ok = bytes((0, 1, 2, 0, 0, 5, 2, 0, 0))  # Pad1, PadN(2), Router Alert
    assert w6.options(ok, 0, len(ok)) == 0
    assert w6.options(bytes((0x3e, 1, 0)), 0, 3) == 0  # 00: skip an unknown option
    for t, act in ((0x7e, w6.ACT_DISCARD), (0x9e, w6.ACT_ERROR), (0xde, w6.ACT_ERROR_UNICAST)):
        b = bytes((1, 0, t, 0))  # PadN(0) then the option at offset 2
        assert w6.options(b, 0, 4) == (act << 16) | 2
    assert w6.options(bytes((1, 5, 0, 0)), 0, 4) >> 16 == w6.ACT_MALFORMED
    assert w6.options(bytes((1,)), 0, 1) >> 16 == w6.ACT_MALFORMED


def test_groups_identifiers_and_prefixes():
    sn = w6.solicited_node(a6("2001:db8::aabb:ccdd"), bytearray(16))
    assert bytes(sn) == a6("ff02::1:ffbb:ccdd")
    assert w6.is_solicited_node(sn, 0) and not w6.is_solicited_node(a6("ff02::1"), 0)
    assert bytes(w6.mcast_mac(sn, 0, bytearray(6))) == b"\x33\x33\xff\xbb\xcc\xdd"
    ll = bytearray(a6("fe80::"))
    assert bytes(w6.eui64(b"\x52\x54\x00\x12\x34\x56", ll)) == OUR_LL
    assert w6.is_link_local(OUR_LL, 0) and not w6.is_link_local(a6("fec0::1"), 0)
    p = a6("2001:db8:1:2::")
    assert w6.prefix_match(a6("2001:db8:1:2::99"), 0, p, 0, 64)
    assert not w6.prefix_match(a6("2001:db8:1:3::99"), 0, p, 0, 64)
    assert w6.prefix_match(a6("2001:db8:1:3::"), 0, p, 0, 62)
    assert not w6.prefix_match(a6("2001:db8:1:7::"), 0, p, 0, 62)
    assert w6.addr_eq(b"xx" + OUR_LL, 2, OUR_LL) and not w6.addr_eq(OUR_LL, 0, PEER_LL)


def test_icmp6_checksum_covers_the_pseudo_header():
    m = echo6(PEER_LL, OUR_LL, 1, 2, b"abc")
    p = bytearray(ipv6_pkt(PEER_LL, OUR_LL, 58, m))
    assert m6.check(p, 0, 40, len(p)) is None
    q = bytearray(ipv6_pkt(PEER_LL, a6("fe80::99"), 58, m))  # another destination
    assert m6.check(q, 0, 40, len(q)) == "icmp6_bad_checksum"
    assert m6.check(p, 0, 40, 43) == "icmp6_truncated"
    m6.fill_checksum(q, 0, 40, len(q))
    assert m6.check(q, 0, 40, len(q)) is None


def test_nd_option_walk():
    good = bytes((1, 1)) + bytes(6) + bytes((5, 1)) + bytes(6)
    assert m6.nd_options(good, 0, len(good)) is None
    assert m6.find_option(good, 0, len(good), 5) == 8
    assert m6.find_option(good, 0, len(good), 3) == -1
    assert m6.nd_options(bytes((1, 0)) + bytes(6), 0, 8) == "nd_bad_message"  # length 0
    assert m6.nd_options(bytes((1, 2)) + bytes(6), 0, 8) == "nd_bad_message"  # past the end


def test_repr_round_trip():
    buf = bytearray(60)
    r = Repr(PEER_LL, OUR_LL, 17, 20, hop_limit=9)
    r.emit(Packet(buf, 0))
    assert Repr.parse(Packet(buf, 0)) == r
    assert buf[0] == 0x60 and buf[7] == 9
    e = raises(ValueError, Repr.parse, Packet(buf, 0), 30)
    assert str(e) == "ipv6_truncated"
