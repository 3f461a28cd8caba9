"""`ethox-uk bench --host RECIPE [--json F]`: runs bench/rtt.py and bench/tcp.py under CPython
and under the MicroPython unix port (ethox_uk.build.toolchain.micropython_unix()), collects
their JSON lines, prints rich tables and optionally writes JSON:

    {"recipe": ..., "count": N, "results": [
        {"kind": "rtt", "interp": "cpython"|"micropython", "nic": "pair"|"dgram",
         "proto": "icmp"|"udp", "count", "answered", "per_s", "us_per_rtt", "internal_error"},
        {"kind": "alloc", "interp": "micropython", "proto": "icmp"|"udp"|"udp_closed_port",
         "frames", "answered", "bytes_per_packet", "probe_bytes", "internal_error"}],
        {"kind": "tcp_bulk", "interp", "nic": "pair"|"dgram", "dir": "a->b"|"b->a", "bytes",
         "want", "seconds", "mbit_s", "runs_mbit_s", "cpu_seconds", "mbit_per_cpu_s",
         "segments", "us_per_segment", "retrans", "window", "internal_error", ...},
        {"kind": "tcp_conn", "interp", "nic": "pair", "count", "completed", "stalled",
         "per_s", "us_per_conn", "internal_error"},
        {"kind": "tcp_alloc", "interp": "micropython", "nic": "pair", "dir", "segments",
         "acks", "bytes_per_segment", "probe_bytes", "internal_error"}],
    (rtt: per_s and us_per_rtt are the median of rtt.REPEATS timed runs, listed in runs_us;
    probe_bytes: what the same measurement saw for one bytearray(100), so 0 B/packet is real;
    tcp_bulk: TCP_MIB[interp] MiB one way between two stacks in one process, MSS 1460, the
    median of tcp.py's 3 runs; a->b: the opener sends, b->a: the listener sends)
     "errors": [...]}

Exit status 0 when every run finished, every request was answered and internal_error stayed
0; 1 otherwise (the table and JSON are written either way).
"""

import json
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..build import recipe as recipe_mod

RTT_SCRIPT = Path(__file__).resolve().parent / "rtt.py"
TCP_SCRIPT = Path(__file__).resolve().parent / "tcp.py"
TCP_MIB = {"cpython": 32, "micropython": 16}  # bulk volume per run (3 runs per figure)
MP_HEAP = "64M"
RUN_TIMEOUT = 600


def _run(argv, label):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return [], ["%s: no result within %d s" % (label, RUN_TIMEOUT)]
    rows, errors = [], []
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except ValueError:
                errors.append("%s: bad output line %r" % (label, line))
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-6:]
        errors.append("%s exited with status %d: %s" % (label, r.returncode, " | ".join(tail)))
    return rows, errors


def collect(recipe, count, micropython=True, quick=False):
    """(rows, errors) from rtt.py and tcp.py under CPython and, if asked, MicroPython;
    quick: 1 MiB bulk runs, once each, and a short loss table and connection run."""
    sockdir = tempfile.mkdtemp(prefix="exb", dir="/tmp")
    args = [str(RTT_SCRIPT), str(recipe.dir), recipe.app, str(count), sockdir, recipe.cmdline]
    rows, errors = [], []

    def tcp_args(interp):
        if quick:
            return [str(TCP_SCRIPT), sockdir, "1", "", "1", "quick"]
        return [str(TCP_SCRIPT), sockdir, str(TCP_MIB[interp])]

    try:
        for script_args, label in ((args, "cpython"), (tcp_args("cpython"), "cpython tcp")):
            r, e = _run([sys.executable] + script_args, label)
            rows += r
            errors += e
        if micropython:
            from ..build import toolchain

            try:
                mp = toolchain.micropython_unix()
            except Exception as exc:  # a toolchain failure is reported, not fatal
                errors.append("micropython unix port unavailable: %s" % exc)
            else:
                for script_args, label in ((args, "micropython"),
                                           (tcp_args("micropython"), "micropython tcp")):
                    r, e = _run([str(mp), "-X", "heapsize=" + MP_HEAP] + script_args, label)
                    rows += r
                    errors += e
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)
    for row in rows:
        if row["kind"].startswith("tcp_"):
            errors += _tcp_errors(row)
            continue
        want = row.get("count", row.get("frames"))
        if row.get("internal_error"):
            errors.append("%s %s %s: internal_error=%d" % (
                row["interp"], row.get("nic", "alloc"), row["proto"], row["internal_error"]))
        if row["kind"] == "alloc" and not row.get("probe_bytes"):
            errors.append("%s alloc %s: gc.mem_alloc() did not see a known allocation"
                          % (row["interp"], row["proto"]))
        if row["kind"] == "rtt" and row["answered"] < want:
            errors.append("%s %s %s: %d of %d requests answered" % (
                row["interp"], row["nic"], row["proto"], row["answered"], want))
    return rows, errors


def _tcp_errors(row):
    what = "%s %s %s %s" % (row["interp"], row["kind"], row.get("nic", ""), row.get("dir", ""))
    out = []
    if row.get("internal_error"):
        out.append("%s: internal_error=%d" % (what, row["internal_error"]))
    if row["kind"] == "tcp_bulk" and row["bytes"] < row["want"]:
        out.append("%s: %d of %d bytes arrived within the time limit" % (
            what, row["bytes"], row["want"]))
    if row["kind"] == "tcp_conn" and (not row["completed"] or row.get("stalled")):
        out.append("%s: %d of %d connections completed" % (what, row["completed"], row["count"]))
    if row["kind"] == "tcp_alloc" and not row.get("probe_bytes"):
        out.append("%s: gc.mem_alloc() did not see a known allocation" % what)
    return out


def tcp_table(rows):
    from rich.table import Table

    t = Table(title="ethox-uk bench: TCP, two stacks in one process, MSS 1460",
              caption="A opens, B listens. Bulk: %s MiB per run, median of 3; per CPU-s: "
                      "per second of the process's CPU time; alloc: MicroPython gc, both "
                      "stacks and the ACKs." % (
                          " / ".join("%d (%s)" % (TCP_MIB[k], k) for k in sorted(TCP_MIB))))
    for col, right in (("interpreter", False), ("NIC", False), ("traffic", False),
                       ("result", True), ("per CPU-s", True), ("µs/seg", True)):
        t.add_column(col, justify="right" if right else "left")
    for r in rows:
        if r["kind"] == "tcp_bulk":
            t.add_row(r["interp"], r["nic"], "bulk " + _arrow(r), "%.0f Mbit/s" % r["mbit_s"],
                      "%.0f Mbit/s" % r["mbit_per_cpu_s"], "%.1f" % r["us_per_segment"])
    for r in rows:
        if r["kind"] == "tcp_conn":
            t.add_row(r["interp"], r["nic"], "connect/1 B/close",
                      "%.0f conn/s" % r["per_s"], "", "")
    for r in rows:
        if r["kind"] == "tcp_alloc":
            t.add_row(r["interp"], r["nic"], "alloc, bulk " + _arrow(r),
                      "%.1f B/seg" % r["bytes_per_segment"], "", "")
    return t


def loss_table(rows):
    from rich.table import Table

    t = Table(title="ethox-uk bench: TCP over the pair with random loss each way",
              caption="%d KiB A→B per run, wall clock: every retransmission timeout (1 s at "
                      "least, RFC 6298) shows in full." % (rows[0]["want"] // 1024 if rows else 0))
    for col, right in (("interpreter", False), ("loss", True), ("SACK", False),
                       ("Mbit/s", True), ("retransmissions", True), ("RTOs", True)):
        t.add_column(col, justify="right" if right else "left")
    for r in rows:
        t.add_row(r["interp"], "%.1f %%" % (100 * r["loss"]), "yes" if r["sack"] else "no",
                  "%.1f" % r["mbit_s"] + ("" if r["bytes"] >= r["want"] else
                                          " (%d KiB in the time limit)" % (r["bytes"] // 1024)),
                  str(r["retrans"]), str(r.get("timeouts", "")))
    return t


def _arrow(r):
    return "A→B" if r["dir"] == "a->b" else "B→A"


def table(rows):
    from rich.table import Table

    t = Table(title="ethox-uk bench: host mode, stack + raw peer in one process")
    for col, right in (("interpreter", False), ("NIC", False), ("traffic", False),
                       ("RTT/s", True), ("µs/RTT", True), ("alloc B/pkt", True)):
        t.add_column(col, justify="right" if right else "left")
    for r in rows:
        if r["kind"] == "rtt":
            t.add_row(r["interp"], r["nic"], r["proto"] + " echo", "%.0f" % r["per_s"],
                      "%.1f" % r["us_per_rtt"], "")
    for r in rows:
        if r["kind"] == "alloc":
            what = "udp, closed port" if r["proto"] == "udp_closed_port" else r["proto"] + " echo"
            t.add_row(r["interp"], "rx path", what, "", "", "%.1f" % r["bytes_per_packet"])
    return t


def run_bench(recipe_arg, json_path, count, micropython=True, quick=False):
    from rich.console import Console

    console = Console()
    try:
        recipe = recipe_mod.load(recipe_arg)
    except recipe_mod.RecipeError as e:
        print("ethox-uk: error: %s" % e, file=sys.stderr)
        return 2
    rows, errors = collect(recipe, count, micropython, quick)
    console.print(table(rows))
    if any(r["kind"].startswith("tcp_") for r in rows):
        console.print(tcp_table(rows))
    loss = [r for r in rows if r["kind"] == "tcp_loss"]
    if loss:
        console.print(loss_table(loss))
    for e in errors:
        print("ethox-uk bench: " + e, file=sys.stderr)
    if json_path:
        doc = {"recipe": recipe.name, "count": count, "quick": quick, "machine": platform.machine(),
               "python": platform.python_version(), "results": rows, "errors": errors}
        Path(json_path).write_text(json.dumps(doc, indent=2) + "\n")
    return 1 if errors or not rows else 0
