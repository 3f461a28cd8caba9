"""`ethox-uk demo` and `ethox-uk bench --host` run to completion with status 0."""

import json

from hostutil import ECHO, run_cli


def test_demo_answers_everything():
    r = run_cli("demo", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "every request was answered" in r.stdout
    assert r.stdout.count("reply 56 B") == 5 and "is-at 52:54:00:12:34:56" in r.stdout
    assert "'hello ethox-uk'" in r.stdout and "no answer" not in r.stdout


def test_bench_reports_both_interpreters(tmp_path):
    out = tmp_path / "bench.json"
    r = run_cli("bench", "--host", ECHO, "--count", "200", "--json", str(out), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(out.read_text())
    assert doc["recipe"] == "echo" and doc["errors"] == []
    rtt = {(x["interp"], x["nic"], x["proto"]): x for x in doc["results"] if x["kind"] == "rtt"}
    for interp in ("cpython", "micropython"):
        for nic in ("pair", "dgram"):
            for proto in ("icmp", "udp"):
                row = rtt[(interp, nic, proto)]
                assert row["answered"] == row["count"] and row["per_s"] > 100
                assert row["internal_error"] == 0
    alloc = {x["proto"]: x for x in doc["results"] if x["kind"] == "alloc"}
    assert set(alloc) == {"icmp", "udp", "udp_closed_port"}
    for row in alloc.values():
        assert row["interp"] == "micropython" and row["probe_bytes"] > 0
        assert row["frames"] > 0 and row["bytes_per_packet"] >= 0
    assert alloc["icmp"]["answered"] == alloc["icmp"]["frames"]
    assert "RTT/s" in r.stdout and "micropython" in r.stdout


def test_bench_bad_recipe_is_one_line(tmp_path):
    r = run_cli("bench", "--host", str(tmp_path / "none"))
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "no such recipe" in lines[0]
