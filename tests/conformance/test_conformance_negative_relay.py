"""The suite can fail: for each misbehaviour in mutations_ip.py, a relay between the suite and
the correct host target (`ethox-uk host images/echo`) makes the target misbehave in that one
way, and every check aimed at that behaviour must then fail. One host process and one relay
serve every case; each case is one short --attach session."""


import pytest

from ethox_uk.conformance.registry import all_checks

from mutations_ip import MUTATIONS
from conftest import assert_mutation_fails_its_checks, run_checks
from fault_relay import passthrough

LOWER = ("arp", "ipv4", "icmp", "udp")


def test_every_lower_check_is_targeted_by_a_mutation():
    lower = {c.name for c in all_checks() if c.group in LOWER}
    targeted = {n for _, names in MUTATIONS.values() for n in names}
    assert targeted - lower == set(), "mutations name unknown checks"
    assert lower - targeted == set(), "checks no mutation shows failing"


def test_relay_alone_changes_nothing(relayed):
    relay, outer = relayed
    relay.mutation = passthrough
    names = [c.name for c in all_checks() if c.group in LOWER]
    results = run_checks(outer, names)
    bad = {n: (r.status, r.message) for n, r in results.items() if r.status != "pass"}
    assert bad == {}
    assert relay.errors == []


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutation_makes_its_checks_fail(relayed, name):
    assert_mutation_fails_its_checks(relayed, name, MUTATIONS)
