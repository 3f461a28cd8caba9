"""tests/unit must pass under MicroPython too, test for test.

Builds (or finds) the MicroPython unix port from the pinned source, runs tests/mprun.py
over every tests/unit/test_*.py and compares each file's passed count with the number of
tests pytest collects in that file. A file that runs fewer tests under MicroPython (or
none, or fails to import there) fails this test; so does a test file with no tests.
Never skipped: a missing binary is built (ethox_uk.build.toolchain).
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ethox_uk.build import toolchain

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "tests" / "unit"
MPRUN = ROOT / "tests" / "mprun.py"
# The unix port's default heap (2 MB on 64-bit) is small for stack tests with buffer pools.
MP_HEAP = "32M"
MP_TIMEOUT = 1200  # seconds for the whole MicroPython run

FILE_LINE = re.compile(r"^(\S+\.py): (\d+) passed, (\d+) failed$", re.M)
TOTAL_LINE = re.compile(r"^(\d+) passed, (\d+) failed$", re.M)


def unit_files():
    return sorted(p.relative_to(ROOT).as_posix() for p in UNIT.glob("test_*.py"))


def pytest_counts(files):
    """{file: number of tests pytest collects in it}, by `pytest --collect-only`."""
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         *files],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, "pytest could not collect tests/unit:\n" + r.stdout + r.stderr
    counts = dict.fromkeys(files, 0)
    for line in r.stdout.splitlines():
        if "::" in line:
            f = line.split("::", 1)[0]
            counts[f] = counts.get(f, 0) + 1
    return counts


def micropython_run(files):
    binary = toolchain.micropython_unix()
    return subprocess.run(
        [str(binary), "-X", "heapsize=" + MP_HEAP, str(MPRUN), *files],
        cwd=ROOT, capture_output=True, text=True, timeout=MP_TIMEOUT,
    )


@pytest.mark.timeout(MP_TIMEOUT + 600)  # a first run builds the toolchain
def test_unit_tests_pass_under_micropython_with_pytest_counts():
    files = unit_files()
    assert files, "no tests/unit/test_*.py files"
    expected = pytest_counts(files)
    r = micropython_run(files)
    out = r.stdout + r.stderr
    got = {m[1]: (int(m[2]), int(m[3])) for m in FILE_LINE.finditer(r.stdout)}
    total = TOTAL_LINE.findall(r.stdout)

    problems = []
    for f in files:
        want = expected.get(f, 0)
        if want == 0:
            problems.append(f"{f}: pytest collects no tests in it")
        if f not in got:
            problems.append(f"{f}: no result line from mprun")
            continue
        passed, failed = got[f]
        if failed or passed != want:
            problems.append(
                f"{f}: MicroPython {passed} passed, {failed} failed; pytest collects {want}"
            )
    if r.returncode != 0:
        problems.append(f"mprun exited {r.returncode}")
    if not total or total[-1][1] != "0":
        problems.append("mprun's closing line missing or reports failures")
    assert not problems, "\n".join(problems) + "\n--- mprun output ---\n" + out[-20000:]
