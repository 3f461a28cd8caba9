"""The whole suite against `ethox-uk host images/echo` over dgram sockets: every lower-layer
check passes, the JUnit/JSON/pcap outputs are right, and three runs give the same verdicts.
Also: bad input to the suite itself (unreachable target, no ready line, wrong SPEC) fails
clearly, quickly, and leaves no sockets behind."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from suite_env import cli_env

from ethox_uk.cli import conformance as command
from ethox_uk.conformance.registry import all_checks
from ethox_uk.conformance.session import Session
from ethox_uk.conformance.target import HostTarget, Spec, TargetError

ROOT = Path(__file__).resolve().parents[2]
ECHO = str(ROOT / "images" / "echo")
LOWER = ("arp", "ipv4", "icmp", "udp")
SUMMARY_RE = re.compile(r"^conformance: (\d+) passed, (\d+) failed, (\d+) skipped$")
EXPR = "(arp or ipv4 or icmp or udp) and not icmpv6"  # words are substrings: icmp matches icmpv6


def _cli():
    """argv prefix of the conformance command: `ethox-uk conformance` (cli/conformance.py)."""
    try:
        from ethox_uk.cli import main

        if "conformance" in main.commands:
            return [sys.executable, "-m", "ethox_uk.cli", "conformance"]
    except Exception:
        pass
    return [sys.executable, "-m", "ethox_uk.conformance"]


def _run_cli(*args, timeout=120):
    t0 = time.monotonic()
    p = subprocess.run(_cli() + list(args), capture_output=True, text=True, timeout=timeout,
                       env=cli_env(), cwd=str(ROOT))
    return p, time.monotonic() - t0


@pytest.fixture
def outdir():
    d = tempfile.mkdtemp(prefix="exct", dir="/tmp")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def _lower_names():
    return [c.name for c in all_checks() if c.group in LOWER]


def test_host_echo_passes_every_lower_check_three_times(outdir):
    from scapy.utils import rdpcap

    junit, js, pcap = outdir / "c.xml", outdir / "c.json", outdir / "c.pcap"
    p, took = _run_cli("--host", ECHO, "-k", EXPR, "--junit", str(junit), "--json", str(js),
                       "--pcap", str(pcap))
    out = p.stdout.strip().splitlines()
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    m = SUMMARY_RE.match(out[-1])
    assert m, out[-1]
    names = _lower_names()
    assert (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (len(names), 0, 0)

    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == (
        str(len(names)), "0", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == names
    assert all(c.get("classname") == c.get("name").split(".")[0] for c in cases)

    doc = json.loads(js.read_text())
    first = {c["name"]: c["status"] for c in doc["checks"]}
    assert doc["summary"]["line"] == out[-1]
    frames = rdpcap(str(pcap))
    assert len(frames) > 3 * len(names)  # every check exchanges frames; all are recorded

    # two more runs (Python API, same host recipe): the same verdicts
    for _ in range(2):
        rc = command.run(host=ECHO, kexpr=EXPR, json_path=str(js), out=open(os.devnull, "w"))
        again = {c["name"]: c["status"] for c in json.loads(js.read_text())["checks"]}
        assert rc == 0 and again == first


def test_list_and_selection(outdir):
    p, _ = _run_cli("--list", "-k", "udp and not echo")
    assert p.returncode == 0
    assert "udp.port_unreachable" in p.stdout and "udp.echo_identity" not in p.stdout
    p, _ = _run_cli("--host", ECHO, "-k", "arp and")
    assert p.returncode == 2 and "-k" in p.stdout + p.stderr
    p, _ = _run_cli("--host", ECHO, "-k", "no_such_check")
    assert p.returncode == 2 and "selects no check" in p.stdout


def test_usage_errors():
    for args in ([], ["--host", ECHO, "--attach", "dgram:/tmp/a.sock,/tmp/b.sock"],
                 ["--host", ECHO, "--net", "tap:tap0"],
                 ["--attach", "dgram:/nonexistent-dir/a,/tmp/b.sock"]):
        p, took = _run_cli(*args, timeout=30)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert took < 10
    p, _ = _run_cli("--host", ECHO, "--net", "tap:tap0", timeout=30)
    assert "dgram" in p.stdout + p.stderr


def test_attach_to_nothing_is_a_clear_error(outdir):
    spec = "dgram:%s,%s" % (outdir / "stack.sock", outdir / "peer.sock")
    p, took = _run_cli("--attach", spec, "--junit", str(outdir / "j.xml"), timeout=30)
    assert p.returncode == 2 and took < 10
    assert "nothing is bound at %s" % (outdir / "stack.sock") in p.stdout
    assert SUMMARY_RE.match(p.stdout.strip().splitlines()[-1])
    suite = ET.parse(outdir / "j.xml").getroot().find("testsuite")
    assert int(suite.get("failures")) == len(all_checks())  # CI sees why nothing ran
    assert not (outdir / "peer.sock").exists()


def test_attach_to_a_silent_socket_fails_within_bound(outdir):
    stale = outdir / "stack.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(stale))  # bound, never answers
    try:
        p, took = _run_cli("--attach", "dgram:%s,%s" % (stale, outdir / "peer.sock"),
                           "-k", "arp", timeout=30)
    finally:
        s.close()
    assert p.returncode == 2 and took < 10, p.stdout
    assert "no ARP answer for 10.0.2.15" in p.stdout
    assert not (outdir / "peer.sock").exists()
    p, took = _run_cli("--attach", "dgram:%s,%s" % (stale, outdir / "peer.sock"), timeout=30)
    assert p.returncode == 2 and "stale socket" in p.stdout


def test_wrong_spec_for_a_running_host(outdir):
    """The host started with dgram:A,B; attaching with B,A (reversed) is refused clearly."""
    a, b = str(outdir / "a.sock"), str(outdir / "b.sock")
    host = HostTarget(ECHO, spec=Spec(a, b))
    host.prepare()
    host.start(20)
    try:
        p, took = _run_cli("--attach", "dgram:%s,%s" % (b, a), timeout=30)
        assert p.returncode == 2 and took < 10
        assert "nothing is bound at %s" % b in p.stdout
        p, _ = _run_cli("--attach", "dgram:%s,%s" % (a, b), "-k", "arp.reply_to_request",
                        timeout=30)
        assert p.returncode == 0, p.stdout
        assert p.stdout.strip().splitlines()[-1] == "conformance: 1 passed, 0 failed, " \
                                                    "0 skipped"
    finally:
        host.stop()
        host.cleanup()
    assert not os.path.exists(a) and not os.path.exists(b)


def _recipe(tmp, body):
    (tmp / "recipe.toml").write_text('name = "bad"\napp = "app"\n')
    (tmp / "app.py").write_text(textwrap.dedent(body))
    return str(tmp)


def test_host_without_ready_line_is_stopped(outdir):
    rdir = outdir / "sleepy"
    rdir.mkdir()
    recipe = _recipe(rdir, """
        import time

        def main(net):
            time.sleep(600)
        """)
    target = HostTarget(recipe)
    target.ready_timeout = 3
    t0 = time.monotonic()
    with pytest.raises(TargetError, match="no ready line"):
        with Session(target):
            pass
    assert time.monotonic() - t0 < 3 + 6
    assert target.proc.poll() is not None  # stopped
    assert not os.path.exists(os.path.dirname(target.spec.local))


def test_host_that_crashes_reports_its_output(outdir):
    rdir = outdir / "crashy"
    rdir.mkdir()
    recipe = _recipe(rdir, """
        def main(net):
            raise RuntimeError("boom at start")
        """)
    p, took = _run_cli("--host", recipe, timeout=60)
    assert p.returncode == 2 and took < 20
    assert "exited with status 1 before its ready line" in p.stdout
    assert "boom at start" in p.stdout
