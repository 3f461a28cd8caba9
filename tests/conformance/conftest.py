"""Fixtures shared by the conformance tests."""

import shutil
import tempfile
from pathlib import Path

import pytest

from ethox_uk.conformance.registry import all_checks
from ethox_uk.conformance.session import Session
from ethox_uk.conformance.target import AttachTarget, HostTarget, Spec

from fault_relay import Relay, passthrough

ECHO = Path(__file__).resolve().parents[2] / "images" / "echo"


@pytest.fixture(scope="module")
def relayed():
    """(relay, outer): the host echo target behind a mutation relay; attach to `outer`.
    One host process and one relay serve a whole test module."""
    d = tempfile.mkdtemp(prefix="exr", dir="/tmp")
    inner = Spec(d + "/stack.sock", d + "/relay-in.sock")
    outer = Spec(d + "/relay-out.sock", d + "/peer.sock")
    relay = Relay(outer, inner)
    relay.start()
    host = HostTarget(ECHO, spec=inner)
    try:
        host.prepare()
        host.start(20)
        yield relay, outer
    finally:
        try:
            host.stop()
            host.cleanup()
            relay.stop()
        finally:
            shutil.rmtree(d, ignore_errors=True)


def run_checks(outer, names):
    """{name: result} of one --attach session over `outer` running the checks `names`."""
    checks = [c for c in all_checks() if c.name in names]
    assert len(checks) == len(names), set(names) - {c.name for c in checks}
    with Session(AttachTarget(outer)) as s:
        return {r.check.name: r for r in s.run(checks)}


def assert_mutation_fails_its_checks(relayed, name, mutations):
    """Under mutation `name` (mutations: {name: (factory, check names)}) the relay turns the
    correct target into a faulty one: every check it names must find a violation at some
    level -- "fail" (a MUST) or "deviates" (a SHOULD, also a SHOULD inside a MUST check,
    e.g. a reply TTL of 1: legal, but not the recommended default) -- with a message and a
    transcript."""
    relay, outer = relayed
    factory, targets = mutations[name]
    relay.mutation = factory()
    try:
        results = run_checks(outer, targets)
    finally:
        relay.mutation = passthrough
    assert relay.errors == []
    passed = {n: (r.status, r.message) for n, r in results.items()
              if r.status not in ("fail", "deviates")}
    assert passed == {}, "checks that did not fail under %s" % name
    for r in results.values():
        assert r.message and r.transcript, r.check.name
