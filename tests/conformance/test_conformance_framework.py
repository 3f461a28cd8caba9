"""The conformance framework on its own: registry, -k, frames in words, reports, and the
runner's verdicts and time bounds against a fake target (no ethox stack involved)."""

import json
import os
import signal
import time
import xml.etree.ElementTree as ET

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether

from ethox_uk.conformance import kexpr, registry, report, session
from ethox_uk.conformance.describe import describe
from ethox_uk.conformance.fragments import Reassembler, fragment_frames
from ethox_uk.conformance.registry import Check, check
from ethox_uk.conformance.target import TargetError

from fake_stack import FakeTarget

PEER, TARGET = "02:00:0a:00:02:02", "52:54:00:12:34:56"


# -- registry ---------------------------------------------------------------------------

def test_registry_rejects_bad_declarations():
    reg = {}
    bad = [dict(name="NoGroup", description="d", rfc="RFC 1", level="MUST"),
           dict(name="g.x", description="two\nlines", rfc="RFC 1", level="MUST"),
           dict(name="g.x", description="d", rfc="no clause", level="MUST"),
           dict(name="g.x", description="d", rfc="RFC 1", timeout=0, level="MUST"),
           dict(name="g.x", description="d", rfc="RFC 1", xfail=" ", level="MUST"),
           dict(name="g.x", description="d", rfc="RFC 1"),  # no level
           dict(name="g.x", description="d", rfc="RFC 1", level="must"),
           dict(name="g.x", description="d", rfc="RFC 1", level="MUST",
                variants={"v": "no clause named"}, negative=("f",)),
           dict(name="g.x", description="d", rfc="RFC 1", level="MUST",
                variants={"v": "allowed by RFC 2"})]  # variants without negative controls
    for kw in bad:
        with pytest.raises(ValueError):
            check(registry=reg, **kw)(lambda ctx: None)
    check("g.x", "d", rfc="RFC 1", level="MUST", registry=reg)(lambda ctx: None)
    with pytest.raises(ValueError, match="twice"):
        check("g.x", "d", rfc="RFC 1", level="MUST", registry=reg)(lambda ctx: None)


def test_all_checks_grouped_cited_and_unique():
    checks = registry.all_checks()
    names = [c.name for c in checks]
    assert len(names) == len(set(names))
    groups = [c.group for c in checks]
    assert groups == sorted(groups, key=registry.GROUPS.index)  # lower layers first
    per_group = {g: groups.count(g) for g in registry.GROUPS}
    assert per_group["arp"] >= 6 and per_group["ipv4"] >= 10
    assert per_group["icmp"] >= 8 and per_group["udp"] >= 8
    assert len(checks) >= 35
    for c in checks:
        assert c.rfc.startswith("RFC ") and c.description and c.timeout > 0
        assert c.func.__module__.endswith("checks." + c.group)
        assert c.level in registry.LEVELS
        if c.variants:
            assert c.negative and c.accepts, c.name
    xfails = [c for c in checks if c.xfail]
    assert len(xfails) <= 5


# -- -k ---------------------------------------------------------------------------------

def _names(expr):
    checks = [Check(n, None, "d", "RFC 1", tags=t) for n, t in
              (("arp.reply", ()), ("icmp.echo_reply", ("smoke",)), ("icmp.bad_checksum", ()),
               ("udp.echo", ("smoke",)))]
    return [c.name for c in kexpr.select(checks, expr)]


def test_kexpr_forms():
    assert _names(None) == _names("  ") == ["arp.reply", "icmp.echo_reply",
                                            "icmp.bad_checksum", "udp.echo"]
    assert _names("icmp") == ["icmp.echo_reply", "icmp.bad_checksum"]
    assert _names("ICMP and not echo") == ["icmp.bad_checksum"]
    assert _names("arp or udp.") == ["arp.reply", "udp.echo"]
    assert _names("not (icmp or arp)") == ["udp.echo"]
    assert _names("smoke") == ["icmp.echo_reply", "udp.echo"]
    assert _names("echo and not smoke") == []
    assert _names("reply and (arp or icmp) and not bad") == ["arp.reply", "icmp.echo_reply"]


@pytest.mark.parametrize("expr", ["arp and", "(arp", "arp)", "and arp", "not", "arp udp"])
def test_kexpr_errors(expr):
    with pytest.raises(ValueError, match="-k"):
        kexpr.compile_expr(expr)


# -- frames in words --------------------------------------------------------------------

def test_describe():
    ping = (Ether(dst=TARGET, src=PEER) / IP(src="10.0.2.2", dst="10.0.2.15", ttl=64)
            / ICMP(id=1, seq=1) / bytes(56))
    assert describe(bytes(ping)) == ("ICMP echo request id=0x1 seq=1 56B  "
                                     "10.0.2.2→10.0.2.15 ttl=64")
    raw = bytearray(bytes(ping))
    raw[24] ^= 1
    assert describe(bytes(raw)).endswith("[bad IP checksum]")
    arp = Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER) / ARP(psrc="10.0.2.2", pdst="10.0.2.15",
                                                         hwsrc=PEER)
    assert describe(bytes(arp)) == ("ARP request who-has 10.0.2.15 tell 10.0.2.2 (%s) "
                                    "[Ethernet broadcast]" % PEER)
    udp = Ether(dst=TARGET, src=PEER) / IP(src="10.0.2.2", dst="10.0.2.15") / UDP(
        sport=40000, dport=7, chksum=0x1234) / b"hello"
    assert describe(bytes(udp)) == ("UDP 10.0.2.2:40000→10.0.2.15:7 5B  ttl=64 "
                                    "[bad UDP checksum]")
    inner = bytes(IP(src="10.0.2.2", dst="10.0.2.15") / UDP(sport=40000, dport=9))
    unreach = Ether() / IP(src="10.0.2.15", dst="10.0.2.2") / ICMP(type=3, code=3) / inner
    assert describe(bytes(unreach)).startswith(
        "ICMP port unreachable about UDP 10.0.2.2:40000→10.0.2.15:9")
    frags = fragment_frames(ping, [32])
    assert "frag id=0x1 off=32" in describe(frags[1])
    assert describe(b"\x01\x02") == "runt frame of 2B"


def test_fragments_roundtrip():
    ping = (Ether(dst=TARGET, src=PEER) / IP(src="10.0.2.2", dst="10.0.2.15", id=9)
            / ICMP(id=1, seq=1) / bytes(range(200)))
    frags = fragment_frames(ping, [64, 128])
    assert len(frags) == 3
    ra = Reassembler()
    assert ra.feed(frags[2]) is None and ra.feed(frags[0]) is None
    whole = ra.feed(frags[1])
    assert whole[14:] == bytes(ping)[14:]


# -- reports ----------------------------------------------------------------------------

def _results():
    mk = lambda n, **kw: Check(n, None, "does %s" % n, "RFC 791 §3.1", **kw)  # noqa: E731
    should = lambda n: Check(n, None, "does %s" % n, "RFC 6298 §2.4", level="SHOULD")  # noqa
    return [session.Result(mk("arp.a"), "pass", "", 0.01),
            session.Result(mk("ipv4.b", accepts="either"), "fail", "no echo reply within 1.0 s",
                          1.0, [" 0.000s #1    → ICMP echo request id=0x1 seq=1 8B",
                                " 1.000s       ← nothing within 1.0 s"]),
            session.Result(mk("udp.c"), "n/a", "not offered", 0.0),
            session.Result(mk("udp.d", xfail="known"), "xfail", "expected failure", 0.2),
            session.Result(should("tcp.e"), "deviates", "SHOULD not met: 0.2 s", 0.3),
            session.Result(mk("tcp.f"), "variant", "variant: rate-limited", 0.1)]


def test_summary_junit_json(tmp_path):
    res = _results()
    assert session.summary_line(res) == "conformance: 3 passed, 1 failed, 2 skipped"
    assert session.summary_line(res, strict=True) == "conformance: 2 passed, 2 failed, " \
                                                    "2 skipped"
    assert session.verdict_line(res) == ("verdicts: 1 fail, 1 deviates, 1 variant, 1 pass, "
                                        "1 n/a, 1 xfail")
    j = tmp_path / "c.xml"
    report.write_junit(res, str(j), "host images/echo", 1.5)
    root = ET.parse(j).getroot()
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("6", "1", "2")
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("arp", "arp.a"), ("ipv4", "ipv4.b"), ("udp", "udp.c"), ("udp", "udp.d"),
        ("tcp", "tcp.e"), ("tcp", "tcp.f")]
    props = {p.get("name"): p.get("value") for p in cases[4].find("properties")}
    assert props == {"level": "SHOULD", "verdict": "deviates", "rfc": "RFC 6298 §2.4"}
    assert cases[4].find("failure") is None
    assert cases[4].find("system-out").text.startswith("deviates: SHOULD not met")
    report.write_junit(res, str(j), "host", 1.5, strict=True)
    suite = ET.parse(j).getroot().find("testsuite")
    assert suite.get("failures") == "2"
    assert suite.findall("testcase")[4].find("failure") is not None
    fail = cases[1].find("failure")
    assert fail.get("message") == "no echo reply within 1.0 s"
    assert "← nothing within 1.0 s" in fail.text and "accepts: either" in fail.text
    assert cases[2].find("skipped").get("type") == "n/a"
    assert cases[3].find("skipped").get("type") == "xfail"
    js = tmp_path / "c.json"
    report.write_json(res, str(js), "host", 1.5)
    doc = json.loads(js.read_text())
    assert doc["summary"]["line"] == session.summary_line(res)
    assert [c["verdict"] for c in doc["checks"]] == ["pass", "fail", "n/a", "xfail",
                                                     "deviates", "variant"]
    assert [c["level"] for c in doc["checks"]][4:] == ["SHOULD", "MUST"]
    assert doc["summary"]["verdicts"]["deviates"] == 1
    rows = {r["rfc"]: r for r in doc["rfcs"]}
    assert rows["RFC 6298"]["SHOULD"] == {"met": 0, "total": 1}
    assert rows["RFC 791"]["MUST"] == {"met": 2, "total": 3}  # pass, fail, variant
    assert rows["RFC 791"]["clauses"] == ["§3.1"]
    assert doc["checks"][1]["transcript"][1].endswith("nothing within 1.0 s")


# -- the runner -------------------------------------------------------------------------

def _fake_checks():
    reg = {}

    def add(name, **kw):
        kw.setdefault("level", "MUST")
        return check(name, "fake " + name, rfc="RFC 792 (Echo), RFC 5961 §7", registry=reg,
                     **kw)

    @add("fake.pass")
    def _(ctx):
        f, ident, seq, data = ctx.ping(20)
        ctx.require(f is not None, "no reply")

    @add("fake.fail")
    def _(ctx):
        ctx.expect(ctx.is_udp_from(7, 40000), "UDP echo", timeout=0.3)

    @add("fake.assert")
    def _(ctx):
        assert 1 + 1 == 3

    @add("fake.error")
    def _(ctx):
        {}["missing"]

    @add("fake.na", applies=lambda ctx: False)
    def _(ctx):
        raise AssertionError("must not run")

    @add("fake.na_inside")
    def _(ctx):
        ctx.not_applicable("no timestamps negotiated")

    @add("fake.xfail", xfail="a known gap")
    def _(ctx):
        ctx.fail("as expected")

    @add("fake.xpass", xfail="a known gap")
    def _(ctx):
        pass

    @add("fake.slow_wait", timeout=0.5)
    def _(ctx):
        ctx.peer.wait(lambda f: False, 30, "forever")

    @add("fake.slow_sleep", timeout=0.3)
    def _(ctx):
        time.sleep(10)

    @add("fake.should_violated", level="SHOULD")
    def _(ctx):
        ctx.require(False, "a SHOULD check's requirement not met")

    @add("fake.must_in_should", level="SHOULD")
    def _(ctx):
        ctx.must(False, "a MUST inside a SHOULD check")

    @add("fake.sub_should")
    def _(ctx):
        ctx.should(True, "met")
        ctx.should(False, "RTO below 1 s")

    @add("fake.variant", variants={"slow": "3 s, as RFC 1122 allows"}, negative=("x",))
    def _(ctx):
        ctx.variant("slow", "came after 3.1 s")

    @add("fake.undeclared_variant")
    def _(ctx):
        ctx.variant("nope", "not declared")

    @add("fake.variant_then_fail", variants={"slow": "3 s, as RFC 1122 allows"},
         negative=("x",))
    def _(ctx):
        ctx.variant("slow", "came after 3.1 s")
        ctx.fail("and then broke a MUST")

    @add("fake.silent_ok")
    def _(ctx):
        ctx.send(ctx.eth() / ctx.ip(dst="10.0.2.99") / ICMP(id=77) / b"x")
        ctx.silent(ctx.is_echo_reply(77), "an answer")

    return list(reg.values())


def test_runner_verdicts_and_bounds():
    t0 = time.monotonic()
    target = FakeTarget()
    with session.Session(target) as s:
        spec = target.spec
        results = {r.check.short: r for r in s.run(_fake_checks())}
    st = {k: r.status for k, r in results.items()}
    assert st == {"pass": "pass", "fail": "fail", "assert": "fail", "error": "fail",
                  "na": "n/a", "na_inside": "n/a", "xfail": "xfail", "xpass": "fail",
                  "slow_wait": "fail", "slow_sleep": "fail", "silent_ok": "pass",
                  "should_violated": "deviates", "must_in_should": "fail",
                  "sub_should": "deviates", "variant": "variant",
                  "undeclared_variant": "fail", "variant_then_fail": "fail"}
    assert results["sub_should"].message == "SHOULD not met: RTO below 1 s"
    assert results["variant"].message == "variant (3 s, as RFC 1122 allows): came after 3.1 s"
    assert "not declared" in results["undeclared_variant"].message
    assert results["variant_then_fail"].message.startswith("and then broke a MUST; variant")
    assert results["fail"].message == "no UDP echo within 0.3 s"
    assert results["fail"].transcript[-1].endswith("← nothing (UDP echo) within 0.3 s")
    assert "→ ICMP echo request" in results["pass"].transcript[0]
    assert "(test_conformance_framework.py:" in results["assert"].message
    assert "KeyError" in results["error"].message
    assert results["na_inside"].message == "no timestamps negotiated"
    assert "unexpectedly passed" in results["xpass"].message
    assert "a known gap" in results["xfail"].message
    assert "time bound" in results["slow_wait"].message
    assert results["slow_wait"].duration < 1.0
    assert "time bound" in results["slow_sleep"].message
    assert results["slow_sleep"].duration < 0.3 + session.HARD_GRACE + 0.5
    assert time.monotonic() - t0 < 10
    assert not os.path.exists(spec.local) and not os.path.exists(spec.remote)
    assert not os.path.exists(os.path.dirname(spec.local))


def test_unanswering_target_fails_fast_and_cleans_up():
    target = FakeTarget(mute=True)
    t0 = time.monotonic()
    with pytest.raises(TargetError, match="no ARP answer for 10.0.2.15"):
        with session.Session(target):
            pass
    assert time.monotonic() - t0 < session.RESOLVE_TRIES * 1.0 + 1.5
    assert not os.path.exists(os.path.dirname(target.spec.local))


def test_alarm_keeps_an_outer_timer():
    old = signal.signal(signal.SIGALRM, lambda *a: None)
    signal.setitimer(signal.ITIMER_REAL, 50)
    try:
        with session._Alarm(1):
            pass
        left = signal.getitimer(signal.ITIMER_REAL)[0]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert 45 < left <= 50


# -- per-RFC view, links ----------------------------------------------------------------

def test_rfc_citations_parse():
    from ethox_uk.conformance.rfcs import cites

    assert cites("RFC 6298 §5.4-5.5 (MUST retransmit), §2.4 (SHOULD); RFC 1122 §4.2.3.1") == [
        ("RFC 6298", ["§5.4-5.5", "§2.4"]), ("RFC 1122", ["§4.2.3.1"])]
    assert cites("RFC 826 (Packet Reception: merge), RFC 5227 §3") == [
        ("RFC 826", ["Packet Reception"]), ("RFC 5227", ["§3"])]
    assert cites("RFC 9293 §3.10.7.1-2, §3.5.2; RFC 9293 §3.1") == [
        ("RFC 9293", ["§3.10.7.1-2", "§3.5.2", "§3.1"])]
    assert cites("RFC 768, RFC 862") == [("RFC 768", []), ("RFC 862", [])]  # whole RFCs
    for c in registry.all_checks():  # every check names at least one RFC
        assert cites(c.rfc), (c.name, c.rfc)


def test_iface_spec_parsing():
    from ethox_uk.conformance.links import netns_path, parse_iface

    assert parse_iface("veth1") == ("veth1", None)
    assert parse_iface("tap0@exuk-1-2") == ("tap0", "exuk-1-2")
    assert parse_iface("eth0@/proc/1/ns/net") == ("eth0", "/proc/1/ns/net")
    assert netns_path("exuk-1-2") == "/run/netns/exuk-1-2"
    assert netns_path("/proc/1/ns/net") == "/proc/1/ns/net"
    for bad in ("", "a" * 16, "veth1@", "a/b"):
        with pytest.raises(ValueError, match="iface:IFNAME"):
            parse_iface(bad)


def test_tso_frames_are_cut_as_a_nic_would():
    """A VM on a tap hands over TCP segments up to 64 KiB with the checksum left undone:
    the packet-socket link finishes them as a NIC would (links.segment_tcp)."""
    from scapy.layers.inet import TCP

    from ethox_uk.conformance import wire
    from ethox_uk.conformance.links import complete_checksum, segment_tcp
    from ethox_uk.conformance.tcp_peer import tcp_checksum_ok

    data = bytes(range(256)) * 12
    big = bytes(Ether(dst=PEER, src=TARGET) / IP(src="10.0.2.15", dst="10.0.2.2", id=100)
                / TCP(sport=7, dport=4000, seq=1000, flags="FPAC", chksum=0x1234) / data)
    segs = segment_tcp(big, 1000)
    assert [len(s) - 54 for s in segs] == [1000, 1000, 1000, 72]
    got = [Ether(s) for s in segs]
    assert [g[IP].id for g in got] == [100, 101, 102, 103]
    assert [g[TCP].seq for g in got] == [1000, 2000, 3000, 4000]
    assert [str(g[TCP].flags) for g in got] == ["AC", "A", "A", "FPA"]
    assert all(tcp_checksum_ok(s) and wire.ip_header_ok(s) for s in segs)
    assert b"".join(bytes(g[TCP].payload) for g in got) == data
    small = bytes(Ether() / IP(src="10.0.2.15", dst="10.0.2.2") / UDP(sport=7, dport=9,
                                                                      chksum=0x1111) / b"x")
    fixed = complete_checksum(small)
    assert wire.udp_checksum_ok(fixed) and fixed[:40] == small[:40]
    assert segment_tcp(small, 1000) == [fixed]
    arp = bytes(Ether() / ARP())
    assert complete_checksum(arp) == arp
