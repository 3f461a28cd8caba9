"""The suite against the booted echo image, as CI runs it: the whole suite under KVM on
microvm over dgram sockets, and the smoke subset (registry.SMOKE, ~20 checks from every
group) under TCG on q35 and over the guest's real tap/bridge path (the whole suite under TCG
on microvm is test_ci_conformance.py: docs/ci.md's CI job)
(`--net bridge`: a private namespace, the peer relayed onto the bridge through a tap).
JUnit files go under build/; every run is bounded and must leave no socket or namespace.

KVM falls back to TCG only when /dev/kvm is unusable (qemu.kvm.probe says why). The time
scale is the command's default for images: 1 under KVM (RFC timer bounds unloosened), 2
under TCG."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from suite_env import cli_env

from ethox_uk.conformance.registry import GROUPS, SMOKE, all_checks
from ethox_uk.qemu import kvm

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
ECHO = str(ROOT / "images" / "echo")
SUMMARY_RE = re.compile(r"^conformance: (\d+) passed, (\d+) failed, (\d+) skipped$")
NS_RE = re.compile(r"network namespace (\S+) \(bridge")
# Checks the echo image legitimately reports as not applicable (features it does not offer).
# A check that newly turns n/a is a regression, hence a subset test, not a count.
KNOWN_NA = set()  # the echo image offers every optional feature the suite checks
FULL_BOUND = 240  # s: one run of the whole suite (about 40 s under KVM on a 2-core host)
SMOKE_BOUND = 120  # s: one smoke run (about 10-15 s even under TCG)
TIMES = {}


def _accel():
    return "kvm" if kvm.usable() else "tcg"


@pytest.fixture(scope="module")
def echo_image():
    from ethox_uk.build.image import build

    t0 = time.monotonic()
    path = build(ECHO, output=str(BUILD / "conformance-image" / "echo.elf"), quiet=True)
    TIMES["build"] = time.monotonic() - t0
    yield str(path)
    print("\nconformance image runtimes: " + ", ".join(
        "%s %.1f s" % kv for kv in TIMES.items()) + ", total %.1f s" % sum(TIMES.values()))


def _run(name, image, args, bound):
    """`ethox-uk conformance --image IMAGE ARGS --junit build/conformance-image-NAME.xml`;
    (CompletedProcess, junit path); the run must end within `bound` seconds."""
    junit = BUILD / ("conformance-image-%s.xml" % name)
    if junit.exists():
        junit.unlink()
    argv = [sys.executable, "-m", "ethox_uk.cli", "conformance", "--image", image] + args + [
        "--junit", str(junit)]
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=bound, env=cli_env(),
                       cwd=str(ROOT))
    TIMES[name] = time.monotonic() - t0
    return p, junit


def _check_results(p, junit, names):
    """Exit 0, the summary line and the JUnit file agree: every check in `names` ran, in
    registry order, none failed, only KNOWN_NA were skipped."""
    out = p.stdout.strip().splitlines()
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-3000:]
    m = SUMMARY_RE.match(out[-1])
    assert m, out[-3:]
    passed, failed, skipped = (int(g) for g in m.groups())
    suite = ET.parse(junit).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == names
    skipped_names = {c.get("name") for c in cases if c.find("skipped") is not None}
    assert skipped_names <= KNOWN_NA, skipped_names - KNOWN_NA
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == (
        str(len(names)), "0", "0")
    assert int(suite.get("skipped")) == len(skipped_names) == skipped
    assert (failed, passed + skipped) == (0, len(names))
    return passed, skipped


def test_smoke_list_spans_every_group():
    names = [c.name for c in all_checks()]
    assert len(set(SMOKE)) == len(SMOKE) and set(SMOKE) <= set(names), \
        set(SMOKE) - set(names)
    assert {n.split(".")[0] for n in SMOKE} == set(GROUPS)
    assert 15 <= len(SMOKE) <= 30


def test_full_suite_kvm_microvm_dgram(echo_image):
    """Every check against the image on microvm (KVM), with an explicit SPEC: the sockets
    are gone and QEMU has stopped afterwards."""
    d = tempfile.mkdtemp(prefix="exci", dir="/tmp")
    try:
        local, remote = os.path.join(d, "stack.sock"), os.path.join(d, "peer.sock")
        p, junit = _run("kvm", echo_image, ["--accel", _accel(), "--machine", "microvm",
                                            "--net", "dgram:%s,%s" % (local, remote)],
                        FULL_BOUND)
        names = [c.name for c in all_checks()]
        passed, _ = _check_results(p, junit, names)
        assert passed >= len(names) - len(KNOWN_NA)
        assert len(names) >= 100
        assert os.listdir(d) == []  # both sockets removed
    finally:
        shutil.rmtree(d, ignore_errors=True)
    assert TIMES["kvm"] < FULL_BOUND


# TCG on microvm runs the whole suite in test_ci_conformance.py (docs/ci.md's CI job)
@pytest.mark.parametrize("name,args", [
    ("tcg-q35", ["--accel", "tcg", "--machine", "q35"]),
])
def test_smoke_tcg(echo_image, name, args):
    p, junit = _run(name, echo_image, args + ["--smoke"], SMOKE_BOUND)
    _check_results(p, junit, [c.name for c in all_checks() if c.name in SMOKE])


def test_smoke_bridge(echo_image):
    """The smoke subset over the guest's tap and bridge: the namespace the target names on
    stderr exists only during the run."""
    p, junit = _run("bridge", echo_image, ["--accel", _accel(), "--net", "bridge", "--smoke"],
                    SMOKE_BOUND)
    _check_results(p, junit, [c.name for c in all_checks() if c.name in SMOKE])
    m = NS_RE.search(p.stderr + p.stdout)
    assert m, p.stderr[-2000:]
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            timeout=10).stdout
    assert m.group(1) not in listed.split(), listed
