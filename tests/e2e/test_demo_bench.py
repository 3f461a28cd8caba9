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
    r = run_cli("bench", "--host", ECHO, "--count", "200", "--quick", "--json", str(out),
                timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(out.read_text())
    assert doc["recipe"] == "echo" and doc["errors"] == [] and doc["quick"] is True
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
    # TCP: every figure, once and small (--quick), both interpreters
    bulk = {(x["interp"], x["nic"], x["dir"]): x for x in doc["results"]
            if x["kind"] == "tcp_bulk"}
    for interp in ("cpython", "micropython"):
        for nic in ("pair", "pair+offloads", "dgram"):
            for d in ("a->b", "b->a"):
                row = bulk[(interp, nic, d)]
                assert row["bytes"] == row["want"] >= 1 << 20 and row["mbit_s"] > 0
        conn = [x for x in doc["results"] if x["kind"] == "tcp_conn" and x["interp"] == interp]
        assert len(conn) == 1 and conn[0]["completed"] > 0
        loss = {x["sack"]: x for x in doc["results"]
                if x["kind"] == "tcp_loss" and x["interp"] == interp}
        assert set(loss) == {True, False} and {x["loss"] for x in loss.values()} == {0.01}
    talloc = [x for x in doc["results"] if x["kind"] == "tcp_alloc"]
    assert talloc and all(x["segments"] > 0 and x["bytes_per_segment"] >= 0 for x in talloc)
    assert "Mbit/s" in r.stdout and "SACK" in r.stdout


def test_bench_quick_is_for_host_mode():
    r = run_cli("bench", "--image", "build/echo.elf", "--quick")
    assert r.returncode == 2 and "--quick is for host mode" in r.stderr


def test_bench_bad_recipe_is_one_line(tmp_path):
    r = run_cli("bench", "--host", str(tmp_path / "none"))
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "no such recipe" in lines[0]
