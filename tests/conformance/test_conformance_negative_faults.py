"""Negative controls through the host stack's own test-only fault switches
(ETHOX_UK_FAULTS, see ethox_uk/conformance/faults.py): under each switch, the checks aimed at
that behaviour must fail. A switch the stack does not offer yet is skipped, with its name.
(test_conformance_negative_relay.py shows the same for every lower-layer check without the
stack's help.)"""

from pathlib import Path

import pytest

from ethox_uk.conformance.faults import FAULTS, stack_fault_names
from ethox_uk.conformance.registry import all_checks
from ethox_uk.conformance.runner import Session
from ethox_uk.conformance.target import HostTarget

ECHO = Path(__file__).resolve().parents[2] / "images" / "echo"


def test_fault_table_names_real_checks():
    names = {c.name for c in all_checks()}
    for fault, (what, targets) in FAULTS.items():
        assert what and targets, fault
        assert set(targets) <= names, (fault, set(targets) - names)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_makes_its_checks_fail(fault):
    if fault not in stack_fault_names():
        pytest.skip("the stack offers no fault switch %r yet (ethox_uk/stack/faults.py)"
                    % fault)
    _, targets = FAULTS[fault]
    checks = [c for c in all_checks() if c.name in targets]
    with Session(HostTarget(ECHO, faults=[fault])) as s:
        results = s.run(checks)
    assert {r.check.name: r.status for r in results} == {n: "fail" for n in targets}
