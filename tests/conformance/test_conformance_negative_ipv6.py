"""The IPv6 groups can fail: for each misbehaviour in mutations_ip6.py, a relay between the
suite and the correct host target (`ethox-uk host images/echo`, IPv6 on by default) makes
the target misbehave in that one way, and every check aimed at it must then fail. One host
process and one relay serve every case; each case is one short --attach session, so this is
also the suite's --attach path for an IPv6 target."""

import pytest

from ethox_uk.conformance.registry import IPV6_GROUPS, all_checks

from conftest import assert_mutation_fails_its_checks, run_checks
from mutations_ip6 import MUTATIONS6
from fault_relay import passthrough


def _ipv6_names():
    return [c.name for c in all_checks() if c.group in IPV6_GROUPS]


def test_every_ipv6_check_is_targeted_by_a_mutation():
    names = set(_ipv6_names())
    targeted = {n for _, targets in MUTATIONS6.values() for n in targets}
    assert targeted - names == set(), "mutations name unknown checks"
    assert names - targeted == set(), "checks no mutation shows failing"
    assert len(names) >= 30


def test_relay_alone_changes_nothing_and_attach_passes_all(relayed):
    """Runs first in this module (before any mutation touched the target)."""
    relay, outer = relayed
    relay.mutation = passthrough
    results = run_checks(outer, _ipv6_names())
    bad = {n: (r.status, r.message) for n, r in results.items() if r.status != "pass"}
    assert bad == {}
    assert relay.errors == []


@pytest.mark.parametrize("name", sorted(MUTATIONS6))
def test_mutation_makes_its_ipv6_checks_fail(relayed, name):
    assert_mutation_fails_its_checks(relayed, name, MUTATIONS6)


def test_ipv6_groups_pass_again_on_the_same_target(relayed):
    """Runs last: the target now holds what the cases above left (path MTUs learnt,
    fragments held against per-source caps, neighbours, SLAAC addresses); the checks still
    pass, so a second run against one target gives the same verdicts."""
    relay, outer = relayed
    relay.mutation = passthrough
    results = run_checks(outer, _ipv6_names())
    bad = {n: (r.status, r.message) for n, r in results.items() if r.status != "pass"}
    assert bad == {}
