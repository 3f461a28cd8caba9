"""The TCP groups (tcp_handshake, tcp_options, tcp_data, tcp_close, tcp_rst, tcp_timers,
tcp_congestion, tcp_review) against `ethox-uk host images/echo` over dgram sockets: every
check passes (the optional-feature ones say "not applicable"), three runs give the same
verdicts within the time budget, and every check can fail: under each misbehaviour in
TCP_MUTATIONS (a relay between the suite and the correct target) the checks it names fail,
and the rest (issue 16's tcp_review) fail under a stack fault switch."""

import time
from pathlib import Path

import pytest

from ethox_uk.conformance import negative
from ethox_uk.conformance.registry import load_groups
from ethox_uk.conformance.session import Session
from ethox_uk.conformance.target import HostTarget
from ethox_uk.conformance.registry import TCP_GROUPS

from mutations_tcp import TCP_MUTATIONS
from conftest import assert_mutation_fails_its_checks, run_checks
from fault_relay import passthrough

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "images" / "echo"
BUDGET = 60.0  # seconds for the whole TCP part against the host target
# checks the echo target cannot show (optional features it does not negotiate): none since
# it offers timestamps and SACK; everything must pass (simultaneous open too: GET
# /connect/PORT is its trigger)
NOT_APPLICABLE = set()
# checks the echo target meets by a declared variant: its tail loss probe (RFC 8985 §7)
# comes before the RTO
VARIANTS = {"tcp_timers.rto_doubles", "tcp_close.fin_retransmitted_in_last_ack"}


def expected(name):
    return "n/a" if name in NOT_APPLICABLE else "variant" if name in VARIANTS else "pass"
# checks no mutation can show failing against this target, with the reason
UNTARGETED = {}


def tcp_checks():
    return load_groups(TCP_GROUPS)


def test_tcp_checks_registered():
    checks = tcp_checks()
    assert len(checks) >= 40
    assert [c.group for c in checks] == sorted((c.group for c in checks),
                                               key=TCP_GROUPS.index)
    for c in checks:
        assert c.description and c.rfc.startswith("RFC "), c.name
        assert c.timeout <= 10, c.name
        # `-k "arp or ipv4 or icmp or udp"` selects the lower layers only
        assert not any(w in c.name for w in ("arp", "ipv4", "icmp", "udp")), c.name
    counts = {g: sum(1 for c in checks if c.group == g) for g in TCP_GROUPS}
    assert all(n >= 4 for n in counts.values()), counts


def test_every_tcp_check_can_fail():
    names = {c.name for c in tcp_checks()}
    targeted = {n for _, ns in TCP_MUTATIONS.values() for n in ns}
    assert targeted - names == set(), "mutations name unknown checks"
    # a stack fault switch shows the others failing (test_conformance_negative_faults.py)
    targeted |= {n for _, ns in negative.FAULTS.values() for n in ns}
    assert names - targeted - set(UNTARGETED) == set(), "checks no mutation shows failing"
    for fault, (what, targets) in negative.FAULTS.items():
        if any(t.startswith("tcp_") for t in targets):
            assert set(targets) <= names, (fault, set(targets) - names)


def test_host_echo_passes_every_tcp_check_twice_alike():
    # twice, the same verdicts: the TCP checks do not depend on luck (a third run cost
    # ~27 s of every make test; the lower checks still run three times)
    checks = tcp_checks()
    first = None
    for run in range(2):
        t0 = time.monotonic()
        with Session(HostTarget(ECHO)) as s:
            results = s.run(checks)
        took = time.monotonic() - t0
        verdicts = {r.check.name: r.status for r in results}
        bad = {r.check.name: r.message for r in results
               if r.status != expected(r.check.name)}
        assert bad == {}, "run %d" % (run + 1)
        assert took < BUDGET, "run %d took %.1f s" % (run + 1, took)
        if first is None:
            first = verdicts
        assert verdicts == first


def test_relay_alone_changes_nothing(relayed):
    relay, outer = relayed
    relay.mutation = passthrough
    results = run_checks(outer, [c.name for c in tcp_checks()])
    bad = {n: (r.status, r.message) for n, r in results.items()
           if r.status != expected(n)}
    assert bad == {}
    assert relay.errors == []


@pytest.mark.parametrize("name", sorted(TCP_MUTATIONS))
def test_tcp_mutation_makes_its_checks_fail(relayed, name):
    assert_mutation_fails_its_checks(relayed, name, TCP_MUTATIONS)
