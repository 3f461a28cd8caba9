"""Negative controls through the host stack's own test-only fault switches
(ETHOX_UK_FAULTS, see ethox_uk/conformance/negative.py): under each switch, the checks aimed at
that behaviour must fail. A switch the stack does not offer yet is skipped, with its name.
(test_conformance_negative_relay.py shows the same for every lower-layer check without the
stack's help.)"""

from pathlib import Path

import pytest

from ethox_uk.conformance.negative import FAULTS, stack_fault_names
from ethox_uk.conformance.registry import VIOLATION, all_checks
from ethox_uk.conformance.session import Session
from ethox_uk.conformance.target import HostTarget

ECHO = Path(__file__).resolve().parents[2] / "images" / "echo"


def test_fault_table_names_real_checks():
    names = {c.name for c in all_checks()}
    for fault, (what, targets) in FAULTS.items():
        assert what and targets, fault
        assert set(targets) <= names, (fault, set(targets) - names)


def test_every_variant_has_a_negative_control_aimed_at_it():
    """A check that accepts variants names the controls under which it must still fail, and
    each of them (a fault switch or a relay mutation) lists the check among its targets, so
    the negative-control tests run it and see it fail."""
    from mutations_ip import MUTATIONS
    from mutations_tcp import TCP_MUTATIONS

    controls = {}
    for table in (FAULTS, MUTATIONS, TCP_MUTATIONS):
        for name, (_, targets) in table.items():
            controls.setdefault(name, set()).update(targets)
    with_variants = [c for c in all_checks() if c.variants]
    assert len(with_variants) >= 4
    for c in with_variants:
        assert c.negative, c.name
        for n in c.negative:
            assert n in controls, (c.name, n)
            assert c.name in controls[n], "%s is not among %s's targets" % (c.name, n)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_makes_its_checks_fail(fault):
    if fault not in stack_fault_names():
        pytest.skip("the stack offers no fault switch %r yet (ethox_uk/stack/faults.py)"
                    % fault)
    _, targets = FAULTS[fault]
    checks = [c for c in all_checks() if c.name in targets]
    with Session(HostTarget(ECHO, faults=[fault])) as s:
        results = s.run(checks)
    # each fails at its own level: "fail" for a MUST, "deviates" for a SHOULD (or a MUST
    # inside a SHOULD check: "fail")
    assert {r.check.name: r.status in ("fail", VIOLATION[r.check.level])
            for r in results} == {n: True for n in targets}, \
        {r.check.name: (r.status, r.message) for r in results}
