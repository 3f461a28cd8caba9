"""docs/ci.md's jobs, run here: both the GitHub Actions workflow and the GitLab job run
`make deps toolchain` then `bash .ci/conformance` and publish build/conformance-ci/junit.xml;
this test checks the documents say exactly that and runs the same script (the echo image
under TCG, the whole suite). It replaces the TCG microvm smoke run of
test_conformance_image.py: the CI job is the full suite under TCG."""

import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from suite_env import cli_env

from ethox_uk.conformance.registry import all_checks

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ci.md"
OUT = ROOT / "build" / "conformance-ci"
BOUND = 480  # s: image build + the whole suite under TCG (about 2-3 min here)
# what the echo image legitimately does not offer (see test_conformance_image.py)
KNOWN_NA = set()  # the echo image offers timestamps and SACK


def _yaml_blocks():
    text = DOC.read_text()
    return re.findall(r"```yaml\n(.*?)```", text, re.S)


def test_ci_doc_jobs_run_the_tested_script():
    gh, gl = _yaml_blocks()
    for job in (gh, gl):
        assert "make deps toolchain" in job
        assert "bash .ci/conformance" in job
        assert "build/conformance-ci/junit.xml" in job
        assert "debian:bookworm" in job
    assert "GITHUB_STEP_SUMMARY" in gh and "summary.md" in gh
    assert "junit: build/conformance-ci/junit.xml" in gl
    script = (ROOT / ".ci" / "conformance").read_text()
    assert "--accel tcg" in script and '--junit "$OUT/junit.xml"' in script
    assert "OUT=${OUT:-build/conformance-ci}" in script


def test_ci_script_full_suite_under_tcg():
    env = cli_env(PYTHON=sys.executable, OUT=str(OUT))
    t0 = time.monotonic()
    p = subprocess.run(["bash", str(ROOT / ".ci" / "conformance")], capture_output=True,
                       text=True, timeout=BOUND, env=env, cwd=str(ROOT))
    took = time.monotonic() - t0
    print("\n.ci/conformance took %.0f s" % took)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-3000:]
    assert "under TCG" in p.stdout + p.stderr or "tcg" in p.stdout
    suite = ET.parse(OUT / "junit.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c.name for c in all_checks()]
    assert suite.get("failures") == "0"
    skipped = {c.get("name") for c in cases if c.find("skipped") is not None}
    assert skipped <= KNOWN_NA, skipped - KNOWN_NA
    doc = json.loads((OUT / "conformance.json").read_text())
    assert "-accel tcg" in doc["target"] or "--accel tcg" in doc["target"]
    assert doc["summary"]["verdicts"]["fail"] == 0
    # every MUST met on the image under TCG; the simultaneous open now runs there too
    verdict = {c["name"]: c["verdict"] for c in doc["checks"]}
    assert verdict["tcp_handshake.simultaneous_open"] == "pass"
    for name in ("summary.md", "conformance.html", "conformance.tap", "conformance.pcap"):
        assert (OUT / name).stat().st_size > 100, name
    assert took < BOUND
